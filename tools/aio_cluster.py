# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""The all-in-one cluster: its layout, state and lifecycle (see
``tools/aio.py``)."""

import json
import os
import shutil
import time

import aio_clients
import aio_common as common
import aio_config
import aio_processes


class AllInOne(aio_config.AioConfig, aio_processes.AioProcesses,
               aio_clients.AioClients):
    """A 3-node Swift all-in-one plus a moto S3 server on 127.0.0.1.

    :param base_dir: where configs, data, logs and the state file live
        (default ``$CLOUDSYNC_AIO_DIR`` or ``/tmp/cloudsync-aio``)
    :param base_port: first port (default 16000), see the module doc
    :param nodes: number of storage nodes (default 3)
    :param replicas: ring replicas (default 3)
    :param part_power: ring partition power (default 10)
    :param memcache: start Debian's memcached and use it in the proxies
    :param extra_filters: filters inserted in the proxy pipeline after
        tempauth and before copy/slo/dlo, as ``[(name, {'use': ...,
        option: value}), ...]``
    :param proxy_workers: proxy ``workers`` (0: one process, no fork)
    :param log_level: log level of every Swift server
    :param profile: ``plain`` (default), or ``production``: at-rest
        encryption (a keymaster whose root secret is in
        ``etc/keymaster.conf``, and the encryption middleware, in the proxy
        and in ``internal-client.conf``), an erasure-coded policy ``ec``
        (2 data + 1 parity fragments), and an ``[object-expirer]`` section
        in the object servers' configuration for :meth:`run_expirer`.
        Object versioning and symlinks are on in both profiles.
    :param auth: ``tempauth`` (default) or ``keystone``: a Keystone of
        the cluster's own (see the module doc) authenticates the proxy.
    """

    def __init__(self, base_dir=None, base_port=None, nodes=3, replicas=3,
                 part_power=10, memcache=False, extra_filters=None,
                 proxy_workers=0, log_level='INFO', profile='plain',
                 auth='tempauth'):
        if auth not in common.AUTHS:
            raise common.AioError('auth must be one of %s, not %r'
                                  % (', '.join(common.AUTHS), auth))
        self.auth = auth
        if profile not in common.PROFILES:
            raise common.AioError('profile must be one of %s, not %r'
                                  % (', '.join(common.PROFILES), profile))
        self.profile = profile
        if base_dir is None:
            base_dir = os.environ.get('CLOUDSYNC_AIO_DIR',
                                      common.DEFAULT_BASE_DIR)
        self.base_dir = os.path.abspath(base_dir)
        self.base_port = int(base_port or common.DEFAULT_BASE_PORT)
        if not 1 <= nodes <= 9:
            raise common.AioError('nodes must be between 1 and 9')
        self.nodes = nodes
        self.replicas = replicas
        self.part_power = part_power
        self.memcache = bool(memcache)
        self.extra_filters = common._normalize_filters(extra_filters)
        self.proxy_workers = int(proxy_workers)
        self.log_level = log_level
        self.swift_dir = os.path.join(self.base_dir, 'etc')
        self.log_dir = os.path.join(self.base_dir, 'log')
        self.state_path = os.path.join(self.base_dir, common.STATE_FILE)
        self._children = {}  # name -> Popen, for processes we spawned
        self._state = None

    @classmethod
    def from_state(cls, base_dir_or_state_file):
        """An AllInOne for an existing cluster, configured from its state."""
        path = base_dir_or_state_file
        if os.path.isdir(path):
            path = os.path.join(path, common.STATE_FILE)
        with open(path) as f:
            state = json.load(f)
        opts = state.get('options', {})
        aio = cls(state['base_dir'], state['base_port'],
                  nodes=opts.get('nodes', 3),
                  replicas=opts.get('replicas', 3),
                  part_power=opts.get('part_power', 10),
                  memcache=opts.get('memcache', False),
                  extra_filters=opts.get('extra_filters'),
                  proxy_workers=opts.get('proxy_workers', 0),
                  log_level=opts.get('log_level', 'INFO'),
                  profile=opts.get('profile', 'plain'),
                  auth=opts.get('auth', 'tempauth'))
        aio._state = state
        return aio

    @property
    def state(self):
        """The state dict (as in ``aio.json``); {} when never started."""
        if self._state is None:
            self._state = common.load_state(self.base_dir)
        return self._state or {}

    def _save_state(self):
        common._write_json(self.state_path, self._state)

    def _options(self):
        return {'nodes': self.nodes, 'replicas': self.replicas,
                'part_power': self.part_power, 'memcache': self.memcache,
                'extra_filters': self.extra_filters,
                'proxy_workers': self.proxy_workers,
                'log_level': self.log_level, 'profile': self.profile,
                'auth': self.auth}

    def url(self, port):
        return 'http://%s:%d' % (common.IP, port)

    @property
    def production(self):
        """True for the production profile."""
        return self.profile == 'production'

    @property
    def keymaster_conf_path(self):
        """The keymaster's configuration (production profile): the file
        ``keymaster_config_path`` names in the proxy and internal client,
        with the root secret in its ``[keymaster]`` section.
        """
        return os.path.join(self.swift_dir, 'keymaster.conf')

    def policies(self):
        """The storage policies, as dicts (the EC one with its options)."""
        policies = [dict(p, policy_type='replication')
                    for p in common.POLICIES]
        if self.production:
            policies.append(dict(common.EC_POLICY, ec_type=common.ec_type()))
        return policies

    def ring_name(self, policy):
        return 'object' if policy['index'] == 0 else \
            'object-%d' % policy['index']

    def ring_replicas(self, policy):
        if policy['policy_type'] == 'erasure_coding':
            return policy['ec_num_data_fragments'] + \
                policy['ec_num_parity_fragments']
        return self.replicas

    def port(self, what, node=None):
        if what == 'proxy':
            return self.base_port
        if what == 'moto':
            return self.base_port + 1
        if what == 'memcache':
            return self.base_port + 2
        if what == 'keystone':
            return self.base_port + common.KEYSTONE_PORT_OFFSET
        return self.base_port + 10 * node + common.PORT_OFFSETS[what]

    def node_info(self, index):
        devices = os.path.join(self.base_dir, 'srv', 'node%d' % index)
        info = {
            'index': index,
            'ip': common.IP,
            'device': 'sdb%d' % index,
            'devices': devices,
        }
        for kind in common.SERVER_TYPES:
            info['%s_port' % kind] = self.port(kind, index)
            info['%s_server_conf' % kind] = os.path.join(
                self.swift_dir, 'node%d' % index, '%s-server.conf' % kind)
        return info

    def all_ports(self):
        ports = [self.port('proxy'), self.port('moto')]
        if self.memcache:
            ports.append(self.port('memcache'))
        if self.auth == 'keystone':
            ports.append(self.port('keystone'))
        for i in range(1, self.nodes + 1):
            ports.extend(self.port(k, i) for k in common.SERVER_TYPES)
        return ports

    def busy_ports(self):
        """Ports this cluster needs that something else listens on."""
        return [p for p in self.all_ports() if common._port_in_use(p)]

    def processes(self):
        """name -> True/False (running) for every recorded process."""
        result = {}
        for name, info in self.state.get('processes', {}).items():
            child = self._children.get(name)
            result[name] = common._is_alive(info) or (
                child is not None and child.poll() is None)
        return result

    def is_running(self):
        """True if every process of the cluster is running."""
        procs = self.processes()
        return bool(procs) and all(procs.values())

    def start(self, fresh=False, timeout=common.START_TIMEOUT):
        """Start the cluster and wait until everything answers.

        If the cluster in base_dir is already running with the same ports
        and options, it is reused as it is. If it is partly running, or was
        started with other options, it is stopped and started again (its
        data is kept). With fresh=True, it is stopped and every file of it
        (data, configs, logs) is removed first.

        :returns: the state dict
        """
        t0 = time.time()
        self._state = None
        old = self.state
        if fresh:
            self.stop()
            self.wipe()
        elif old:
            if (old.get('base_port') == self.base_port and
                    old.get('options') == self._options() and
                    old.get('status') == 'running' and self.is_running()):
                old['reused'] = True
                return old
            self.stop()
        busy = self.busy_ports()
        if busy:
            raise common.PortsInUse(busy)
        os.makedirs(self.base_dir, exist_ok=True)
        os.makedirs(self.swift_dir, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)
        self._write_configs()
        self._build_rings()
        if self.auth == 'keystone':
            try:
                self.keystone().prepare()
            except common.keystone_tool().KeystoneError as exc:
                raise common.AioError(str(exc))
        specs = self._process_specs()
        self._state = self._initial_state()
        try:
            for name in sorted(specs, key=lambda n: n == 'proxy'):
                self._spawn(name, specs[name])
            self._save_state()
            self._wait_ready(specs, timeout)
            if self.auth == 'keystone':
                self._state['keystone'] = self._setup_keystone()
        except BaseException:
            self.stop()
            raise
        self._state['status'] = 'running'
        self._state['started_at'] = time.time()
        self._state['start_seconds'] = round(time.time() - t0, 2)
        self._save_state()
        return self._state

    def _initial_state(self):
        proxy_port = self.port('proxy')
        proxy_url = self.url(proxy_port)
        return {
            'version': common.STATE_VERSION,
            'status': 'starting',
            'base_dir': self.base_dir,
            'base_port': self.base_port,
            'options': self._options(),
            'state_file': self.state_path,
            'swift_dir': self.swift_dir,
            'log_dir': self.log_dir,
            'ip': common.IP,
            'proxy_port': proxy_port,
            'proxy_url': proxy_url,
            'proxy_conf': self.proxy_conf_path(),
            'auth_url': proxy_url + '/auth/v1.0',
            's3api_endpoint': proxy_url,
            's3api_region': common.REGION,
            'moto_port': self.port('moto'),
            'moto_endpoint': self.url(self.port('moto')),
            'moto_region': common.REGION,
            'moto_access_key': common.MOTO_ACCESS_KEY,
            'moto_secret_key': common.MOTO_SECRET_KEY,
            'memcache_servers': ('%s:%d' % (common.IP, self.port('memcache'))
                                 if self.memcache else None),
            'internal_client_conf': os.path.join(self.swift_dir,
                                                 'internal-client.conf'),
            'users': [{
                'name': '%s:%s' % (account, user),
                'account': 'AUTH_%s' % account,
                'key': key,
                'admin': '.admin' in groups,
                'reseller_admin': '.reseller_admin' in groups,
            } for account, user, key, groups in common.USERS],
            'policies': self.policies(),
            'profile': self.profile,
            'encryption': self.production,
            'keymaster_conf': (self.keymaster_conf_path if self.production
                               else None),
            'ec_policy': common.EC_POLICY['name'] if self.production else None,
            'replicas': self.replicas,
            'part_power': self.part_power,
            'nodes': [self.node_info(i) for i in range(1, self.nodes + 1)],
            'proxies': {'proxy': {
                'port': proxy_port, 'url': proxy_url,
                'conf': self.proxy_conf_path(),
                'extra_filters': self.extra_filters}},
            'pids': {},
            'processes': {},
        }

    def _setup_keystone(self):
        """Users, projects and the catalog in the cluster's Keystone."""
        ks = self.keystone()
        accounts = ks.setup_swift_users()
        ks.add_object_store(self.url(self.port('proxy')))
        tool = common.keystone_tool()
        return {'url': ks.url, 'region': tool.REGION,
                'admin_password': tool.ADMIN_PASSWORD,
                'accounts': accounts,
                'users': [{'project': project, 'name': user,
                           'password': pw, 'roles': list(roles),
                           'account': accounts[project]}
                          for project, user, pw, roles in tool.USERS]}

    def stop(self, timeout=common.STOP_TIMEOUT):
        """Stop every process this cluster started. Safe to call twice."""
        self._state = None
        state = self.state
        if not state:
            return
        self._terminate(list(state.get('processes', {})), timeout)
        state['status'] = 'stopped'
        state['pids'] = {}
        self._save_state()

    def wipe(self):
        """Remove the cluster's files (it must be stopped)."""
        for sub in ('etc', 'srv', 'log', 'cache', 'keystone'):
            shutil.rmtree(os.path.join(self.base_dir, sub),
                          ignore_errors=True)
        try:
            os.unlink(self.state_path)
        except FileNotFoundError:
            pass
        self._state = None

    def _require_state(self):
        if not self.state:
            raise common.AioError('no all-in-one in %s' % self.base_dir)
        return self._state
