#!/usr/bin/env python3
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

"""A real all-in-one Swift cluster and a moto S3 server on loopback.

Everything is built from nothing under one base directory (default
``$CLOUDSYNC_AIO_DIR`` or ``/tmp/cloudsync-aio``):

* ``etc/``: ``swift.conf`` (policies ``gold``, the default, and ``silver``),
  the rings, one account, container and object server configuration per
  node, ``proxy-server.conf`` and ``internal-client.conf``;
* ``srv/nodeN/sdbN``: the devices of node N (N = 1, 2, 3);
* ``log/``: one log file per process;
* ``aio.json``: the state file, with every pid, port, path and endpoint.

Ports, relative to the base port B (default 16000)::

    B        proxy (Swift API, tempauth at /auth/v1.0, s3api)
    B+1      moto S3 server
    B+2      memcached (only with --memcache)
    B+3..9   additional proxies (AllInOne.start_proxy(name=...))
    B+90     Keystone (only with --auth keystone)
    B+10*N   object server of node N
    B+10*N+1 container server of node N
    B+10*N+2 account server of node N

Command line::

    python tools/aio.py start [--base-dir DIR] [--base-port N] [--fresh]
                              [--profile plain|production]
                              [--auth tempauth|keystone]
    python tools/aio.py status [--json]
    python tools/aio.py stop
    python tools/aio.py env     # shell exports for swift/aws clients

Python::

    cluster = AllInOne(base_dir, base_port)
    cluster.start()
    conn = cluster.swift_client()
    cluster.stop()

No system package is needed: tempauth issues encrypted (fernet) tokens, so
no memcached is required (the proxy then runs without the ``cache`` filter:
every request also HEADs the account and container, and tempauth logs
"swift.cache could not be found" once per token request). With
``memcache=True`` (``--memcache``) Debian's ``memcached`` (not installed
by this tool: ``apt-get install memcached``) is started as well and the
proxies and the internal client use it.

The Swift servers are run as ``aio.py serve KIND CONF``: Swift's servers
read the hash path prefix/suffix from their ``swift_dir`` but storage
policies and constraints only from ``/etc/swift/swift.conf``, so this
loads them from ``swift_dir`` first (see ``use_swift_dir``, which any
other process using the cluster's rings or policies must call too).
Nothing is ever written to ``/etc/swift``.

With ``--auth keystone`` (``AllInOne(..., auth='keystone')``) the proxy
authenticates with a real Keystone instead of tempauth: ``tools/keystone.py``
sets one up under ``keystone/`` (SQLite, fernet tokens, bootstrapped with
``keystone-manage bootstrap``) and serves it on B+90; the proxy's pipeline
has ``s3token authtoken keystoneauth`` where tempauth was, and the users of
``keystone.USERS`` (``tester``/``testing`` in project ``test``, ...) are
created, with Swift registered in the catalog as ``object-store`` in
``RegionOne``. Their accounts are ``AUTH_<project id>`` (``aio.py status``
prints them). An additional proxy can use a Keystone too, whatever the
main one does: ``start_proxy(name, auth='keystone', keystone_url=...)``.

The production profile (``--profile production``, ``AllInOne(...,
profile='production')``) is the same cluster as a production one is set
up, on the features cloudsync must work with:

* at-rest encryption: ``keymaster`` and ``encryption`` in the proxy
  pipeline just before the last ``proxy-logging`` (after ``slo``, ``dlo``,
  ``versioned_writes`` and ``symlink``, as Swift documents it), the
  keymaster reading its root secret from ``etc/keymaster.conf``
  (``keymaster_config_path``); ``internal-client.conf`` has both filters
  too, as Swift's documentation asks of every internal client that reads
  objects;
* a third storage policy ``ec``, erasure-coded with 2 data and 1 parity
  fragments (``isa_l_rs_vand`` when pyeclib can load it, else
  ``liberasurecode_rs_vand``), one fragment per node;
* object versioning (``allow_object_versioning``) and symlinks, which the
  plain profile has as well;
* object expiry: the object servers' configuration has an
  ``[object-expirer]`` section, and :meth:`AllInOne.run_expirer` runs
  ``swift-object-expirer`` once.
"""

import argparse
import base64
import http.client
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time


IP = '127.0.0.1'
DEFAULT_BASE_DIR = '/tmp/cloudsync-aio'
DEFAULT_BASE_PORT = 16000
STATE_FILE = 'aio.json'
STATE_VERSION = 1
REGION = 'us-east-1'
MOTO_ACCESS_KEY = 'testing'
MOTO_SECRET_KEY = 'testing'

# (account, user, key, groups)
USERS = (
    ('test', 'tester', 'testing', ('.admin',)),
    ('test2', 'tester2', 'testing2', ('.admin',)),
    ('test', 'reader', 'reading', ()),
    # the user without admin rights that Swift's functional tests need
    ('test', 'tester3', 'testing3', ()),
    # a service user: what its token adds opens SERVICE_ accounts
    ('test5', 'tester5', 'testing5', ('.service',)),
    ('admin', 'admin', 'admin', ('.admin', '.reseller_admin')),
)

POLICIES = (
    {'index': 0, 'name': 'gold', 'default': True},
    {'index': 1, 'name': 'silver', 'default': False},
)

PROFILES = ('plain', 'production')
AUTHS = ('tempauth', 'keystone')
KEYSTONE_PORT_OFFSET = 90
#: the roles keystoneauth gives Swift access to
KEYSTONE_OPERATOR_ROLES = 'admin, member'
KEYSTONE_READER_ROLES = 'reader'
#: the production profile's erasure-coded policy: 2 data + 1 parity
#: fragments, one per node
EC_POLICY = {'index': 2, 'name': 'ec', 'default': False,
             'policy_type': 'erasure_coding', 'ec_num_data_fragments': 2,
             'ec_num_parity_fragments': 1,
             'ec_object_segment_size': 1048576}
#: erasure code backends, best first; the first pyeclib can load is used
EC_TYPES = ('isa_l_rs_vand', 'liberasurecode_rs_vand')

SERVER_TYPES = ('object', 'container', 'account')
PORT_OFFSETS = {'object': 0, 'container': 1, 'account': 2}

PIPELINE_HEAD = ('catch_errors', 'gatekeeper', 'healthcheck', 'proxy-logging',
                 'cache', 'listing_formats', 'bulk', 'tempurl', 's3api',
                 'tempauth')
# extra filters (e.g. cloud_shunt) go here: after auth, before slo/dlo
PIPELINE_TAIL = ('copy', 'container-quotas', 'account-quotas', 'slo', 'dlo',
                 'versioned_writes', 'symlink', 'proxy-logging',
                 'proxy-server')
# the production profile's at-rest encryption, where Swift's documentation
# puts it: after every middleware that splits or copies objects, just
# before the last proxy-logging
ENCRYPTION_FILTERS = ('keymaster', 'encryption')

STOP_TIMEOUT = 10.0
START_TIMEOUT = 60.0


class AioError(Exception):
    pass


class PortsInUse(AioError):
    def __init__(self, ports):
        self.ports = ports
        super(PortsInUse, self).__init__(
            'ports already in use on %s: %s (choose another base port)' % (
                IP, ', '.join(map(str, ports))))


# -- helpers for in-process users -------------------------------------------

def keystone_tool():
    """``tools/keystone.py``, imported under a name of its own.

    The file is named like the ``keystone`` package it starts.
    """
    import importlib.util
    name = 'cloudsync_aio_keystone'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(
            os.path.dirname(os.path.abspath(__file__)), 'keystone.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def use_swift_dir(swift_dir):
    """Make this process use the cluster's swift.conf, rings and policies.

    Swift reads ``/etc/swift/swift.conf`` from a hard-coded path in several
    places (hash path prefix/suffix, storage policies, constraints). Call
    this in any process that is not a Swift server (tests, the daemon run
    in-process, InternalClient or ContainerBroker users) before touching
    rings or policies. Nothing is written to /etc/swift.
    """
    from swift.common import constraints
    from swift.common import storage_policy
    from swift.common import utils

    if not utils.set_swift_dir(swift_dir):
        # same directory as before: re-read it anyway, swift.conf may have
        # been rewritten (a fresh cluster in the same base dir)
        utils.HASH_PATH_PREFIX = b''
        utils.HASH_PATH_SUFFIX = b''
        utils.validate_configuration()
    storage_policy.reload_storage_policies()
    constraints.reload_constraints()


def ec_type():
    """The first erasure code backend of :data:`EC_TYPES` that pyeclib
    can load here.
    """
    from pyeclib import ec_iface

    errors = []
    for name in EC_TYPES:
        try:
            driver = ec_iface.ECDriver(
                k=EC_POLICY['ec_num_data_fragments'],
                m=EC_POLICY['ec_num_parity_fragments'], ec_type=name)
            driver.encode(b'probe')
            return name
        except Exception as e:  # noqa: BLE001 - next backend
            errors.append('%s: %s' % (name, e))
    raise AioError('no erasure code backend works here (%s)'
                   % '; '.join(errors))


def load_state(base_dir):
    """Return the state dict of the all-in-one in base_dir, or None."""
    path = os.path.join(base_dir, STATE_FILE)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError:
        return None


def _write_json(path, data):
    tmp = '%s.%d.tmp' % (path, os.getpid())
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write('\n')
    os.replace(tmp, path)


def _proc_stat(pid):
    """Return (state, starttime) of pid from /proc, or None."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            data = f.read()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses
    fields = data[data.rindex(')') + 2:].split()
    return fields[0], int(fields[19])


def _proc_cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            data = f.read()
    except OSError:
        return None
    return [a.decode('utf-8', 'surrogateescape')
            for a in data.split(b'\0')[:-1]]


def _is_alive(info):
    """True if the process described by info is running and is ours."""
    pid = info.get('pid')
    if not pid:
        return False
    stat = _proc_stat(pid)
    if stat is None or stat[0] in ('Z', 'X'):
        return False
    if info.get('starttime') is not None and stat[1] != info['starttime']:
        return False
    return _proc_cmdline(pid) == info['cmd']


def _http_status(port, path, method='GET', timeout=2.0):
    conn = http.client.HTTPConnection(IP, port, timeout=timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _memcache_ok(port, timeout=1.0):
    try:
        with socket.create_connection((IP, port), timeout=timeout) as sock:
            sock.sendall(b'version\r\n')
            return sock.recv(64).startswith(b'VERSION')
    except OSError:
        return False


def _port_in_use(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # as the servers do: a port whose old connections linger in TIME_WAIT
    # can be bound again
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((IP, port))
    except OSError:
        return True
    finally:
        sock.close()
    # NOTE: servers that bound with SO_REUSEPORT let us bind too; one that
    # answers a connection is in use all the same.
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.2)
    try:
        return probe.connect_ex((IP, port)) == 0
    finally:
        probe.close()


def _ini(sections):
    """Render [(section, [(key, value), ...]), ...] as an INI file."""
    out = []
    for section, items in sections:
        out.append('[%s]' % section)
        for key, value in items:
            if key.startswith('#'):
                out.append(key)
            else:
                out.append('%s = %s' % (key, value))
        out.append('')
    return '\n'.join(out)


def _current_user():
    return pwd.getpwuid(os.getuid()).pw_name


def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _normalize_filters(extra_filters):
    """Return extra filters as [[name, {option: value}], ...]."""
    result = []
    for entry in extra_filters or ():
        if isinstance(entry, dict):
            opts = dict(entry)
            name = opts.pop('name')
        else:
            name, opts = entry
            opts = dict(opts)
        if not ('use' in opts or 'paste.filter_factory' in opts):
            raise AioError('extra filter %r needs "use" or '
                           '"paste.filter_factory"' % name)
        if name in PIPELINE_HEAD + PIPELINE_TAIL + ENCRYPTION_FILTERS:
            raise AioError('extra filter name %r is taken' % name)
        result.append([name, {str(k): str(v) for k, v in opts.items()}])
    return result


# -- the cluster --------------------------------------------------------------

class AllInOne(object):
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
        if auth not in AUTHS:
            raise AioError('auth must be one of %s, not %r'
                           % (', '.join(AUTHS), auth))
        self.auth = auth
        if profile not in PROFILES:
            raise AioError('profile must be one of %s, not %r'
                           % (', '.join(PROFILES), profile))
        self.profile = profile
        if base_dir is None:
            base_dir = os.environ.get('CLOUDSYNC_AIO_DIR', DEFAULT_BASE_DIR)
        self.base_dir = os.path.abspath(base_dir)
        self.base_port = int(base_port or DEFAULT_BASE_PORT)
        if not 1 <= nodes <= 9:
            raise AioError('nodes must be between 1 and 9')
        self.nodes = nodes
        self.replicas = replicas
        self.part_power = part_power
        self.memcache = bool(memcache)
        self.extra_filters = _normalize_filters(extra_filters)
        self.proxy_workers = int(proxy_workers)
        self.log_level = log_level
        self.swift_dir = os.path.join(self.base_dir, 'etc')
        self.log_dir = os.path.join(self.base_dir, 'log')
        self.state_path = os.path.join(self.base_dir, STATE_FILE)
        self._children = {}  # name -> Popen, for processes we spawned
        self._state = None

    @classmethod
    def from_state(cls, base_dir_or_state_file):
        """An AllInOne for an existing cluster, configured from its state."""
        path = base_dir_or_state_file
        if os.path.isdir(path):
            path = os.path.join(path, STATE_FILE)
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

    # -- state ---------------------------------------------------------------

    @property
    def state(self):
        """The state dict (as in ``aio.json``); {} when never started."""
        if self._state is None:
            self._state = load_state(self.base_dir)
        return self._state or {}

    def _save_state(self):
        _write_json(self.state_path, self._state)

    def _options(self):
        return {'nodes': self.nodes, 'replicas': self.replicas,
                'part_power': self.part_power, 'memcache': self.memcache,
                'extra_filters': self.extra_filters,
                'proxy_workers': self.proxy_workers,
                'log_level': self.log_level, 'profile': self.profile,
                'auth': self.auth}

    def url(self, port):
        return 'http://%s:%d' % (IP, port)

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
        policies = [dict(p, policy_type='replication') for p in POLICIES]
        if self.production:
            policies.append(dict(EC_POLICY, ec_type=ec_type()))
        return policies

    def ring_name(self, policy):
        return 'object' if policy['index'] == 0 else \
            'object-%d' % policy['index']

    def ring_replicas(self, policy):
        if policy['policy_type'] == 'erasure_coding':
            return policy['ec_num_data_fragments'] + \
                policy['ec_num_parity_fragments']
        return self.replicas

    # -- layout --------------------------------------------------------------

    def port(self, what, node=None):
        if what == 'proxy':
            return self.base_port
        if what == 'moto':
            return self.base_port + 1
        if what == 'memcache':
            return self.base_port + 2
        if what == 'keystone':
            return self.base_port + KEYSTONE_PORT_OFFSET
        return self.base_port + 10 * node + PORT_OFFSETS[what]

    def node_info(self, index):
        devices = os.path.join(self.base_dir, 'srv', 'node%d' % index)
        info = {
            'index': index,
            'ip': IP,
            'device': 'sdb%d' % index,
            'devices': devices,
        }
        for kind in SERVER_TYPES:
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
            ports.extend(self.port(k, i) for k in SERVER_TYPES)
        return ports

    def busy_ports(self):
        """Ports this cluster needs that something else listens on."""
        return [p for p in self.all_ports() if _port_in_use(p)]

    # -- configuration -------------------------------------------------------

    def _secrets(self):
        path = os.path.join(self.swift_dir, 'aio-secrets.json')
        try:
            with open(path) as f:
                data = json.load(f)
        except FileNotFoundError:
            data = None
        if data and 'encryption_root_secret' not in data:
            # written by an older version of this tool
            data['encryption_root_secret'] = base64.b64encode(
                secrets.token_bytes(32)).decode('ascii')
            _write_json(path, data)
        if data:
            return data
        data = {
            'hash_path_prefix': secrets.token_hex(8),
            'hash_path_suffix': secrets.token_hex(8),
            'fernet_key': base64.urlsafe_b64encode(
                secrets.token_bytes(32)).decode('ascii'),
            'encryption_root_secret': base64.b64encode(
                secrets.token_bytes(32)).decode('ascii'),
        }
        _write_json(path, data)
        return data

    def _common_defaults(self, log_name):
        return [
            ('swift_dir', self.swift_dir),
            ('user', _current_user()),
            ('log_name', log_name),
            ('log_level', self.log_level),
        ]

    def _write(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)

    def _write_configs(self):
        sec = self._secrets()
        policies = [('swift-hash', [
            ('swift_hash_path_prefix', sec['hash_path_prefix']),
            ('swift_hash_path_suffix', sec['hash_path_suffix']),
        ])]
        for pol in self.policies():
            items = [(k, pol[k]) for k in (
                'name', 'policy_type', 'ec_type', 'ec_num_data_fragments',
                'ec_num_parity_fragments', 'ec_object_segment_size')
                if k in pol]
            if pol['default']:
                items.append(('default', 'yes'))
            policies.append(('storage-policy:%d' % pol['index'], items))
        self._write(os.path.join(self.swift_dir, 'swift.conf'),
                    _ini(policies))
        if self.production:
            self._write(self.keymaster_conf_path, _ini([('keymaster', [
                ('encryption_root_secret', sec['encryption_root_secret']),
            ])]))
            os.chmod(self.keymaster_conf_path, 0o600)

        for i in range(1, self.nodes + 1):
            node = self.node_info(i)
            recon = os.path.join(self.base_dir, 'cache', 'node%d' % i)
            os.makedirs(os.path.join(node['devices'], node['device']),
                        exist_ok=True)
            os.makedirs(recon, exist_ok=True)
            for kind in SERVER_TYPES:
                app = [('use', 'egg:swift#%s' % kind)]
                if kind == 'object':
                    app.append(('allowed_headers', ', '.join((
                        'Content-Disposition', 'Content-Encoding',
                        'X-Delete-At', 'X-Object-Manifest',
                        'X-Static-Large-Object', 'Cache-Control',
                        'Content-Language', 'Expires', 'X-Robots-Tag'))))
                if kind == 'container':
                    app.append(('allow_versions', 'true'))
                sections = [
                    ('DEFAULT', [
                        ('devices', node['devices']),
                        ('mount_check', 'false'),
                        ('disable_fallocate', 'true'),
                        ('bind_ip', IP),
                        ('bind_port', node['%s_port' % kind]),
                        ('workers', 0),
                    ] + self._common_defaults('%s-server-%d' % (kind, i)) + [
                        ('recon_cache_path', recon),
                    ]),
                    ('pipeline:main', [
                        ('pipeline', 'healthcheck recon %s-server' % kind)]),
                    ('app:%s-server' % kind, app),
                    ('filter:healthcheck', [('use', 'egg:swift#healthcheck')]),
                    ('filter:recon', [('use', 'egg:swift#recon')]),
                    ('%s-replicator' % kind, []),
                    ('%s-auditor' % kind, []),
                ]
                if kind != 'account':
                    sections.append(('%s-updater' % kind, []))
                if kind == 'container':
                    sections.append(('container-sharder', [
                        ('auto_shard', 'false')]))
                if kind == 'object' and self.production:
                    sections.append(('object-expirer', [
                        ('internal_client_conf_path', os.path.join(
                            self.swift_dir, 'internal-client.conf')),
                        # the object servers queue expiring objects in
                        # the .expiring_objects account (the "legacy"
                        # queue, still the only one)
                        ('dequeue_from_legacy', 'true'),
                        ('log_name', 'object-expirer'),
                    ]))
                self._write(node['%s_server_conf' % kind], _ini(sections))

        self._write(os.path.join(self.swift_dir, 'internal-client.conf'),
                    self._internal_client_conf())
        self._write_proxy_conf('proxy', self.port('proxy'),
                               self.extra_filters)

    def _cache_filter(self):
        return ('filter:cache', [
            ('use', 'egg:swift#memcache'),
            ('memcache_servers', '%s:%d' % (IP, self.port('memcache'))),
        ])

    def _encryption_sections(self):
        return [
            ('filter:keymaster', [
                ('use', 'egg:swift#keymaster'),
                ('keymaster_config_path', self.keymaster_conf_path),
            ]),
            ('filter:encryption', [('use', 'egg:swift#encryption')]),
        ]

    def _internal_client_conf(self):
        pipeline = ['catch_errors', 'proxy-logging', 'cache', 'proxy-server']
        if not self.memcache:
            pipeline.remove('cache')
        if self.production:
            # as Swift's documentation has it for container-sync: anything
            # that reads objects outside the proxy decrypts them too
            pipeline[-1:-1] = ENCRYPTION_FILTERS
        sections = [
            ('DEFAULT', self._common_defaults('internal-client')),
            ('pipeline:main', [('pipeline', ' '.join(pipeline))]),
            ('app:proxy-server', [
                ('use', 'egg:swift#proxy'),
                ('account_autocreate', 'true'),
            ]),
            ('filter:catch_errors', [('use', 'egg:swift#catch_errors')]),
            ('filter:proxy-logging', [('use', 'egg:swift#proxy_logging')]),
        ]
        if self.memcache:
            sections.append(self._cache_filter())
        if self.production:
            sections += self._encryption_sections()
        return _ini(sections)

    def proxy_conf_path(self, name='proxy'):
        if name == 'proxy':
            return os.path.join(self.swift_dir, 'proxy-server.conf')
        return os.path.join(self.swift_dir, 'proxy-server-%s.conf' % name)

    def _write_proxy_conf(self, name, port, extra_filters, auth=None,
                          keystone_url=None):
        sec = self._secrets()
        auth = auth or self.auth
        pipeline = list(PIPELINE_HEAD)
        if not self.memcache:
            pipeline.remove('cache')
        if auth == 'keystone':
            where = pipeline.index('tempauth')
            pipeline[where:where + 1] = ['s3token', 'authtoken',
                                         'keystoneauth']
        pipeline += [f[0] for f in extra_filters] + list(PIPELINE_TAIL)
        if self.production:
            pipeline[-2:-2] = ENCRYPTION_FILTERS
        tempauth = [
            ('use', 'egg:swift#tempauth'),
            ('fernet_key_aio', sec['fernet_key']),
            ('active_fernet_key_id', 'aio'),
            # SERVICE_<project> accounts need a service token as well
            ('reseller_prefix', 'AUTH, SERVICE'),
            ('SERVICE_require_group', '.service'),
        ]
        for account, user, key, groups in USERS:
            tempauth.append(('user_%s_%s' % (account, user),
                             ' '.join((key,) + groups)))
        sections = [
            ('DEFAULT', [
                ('bind_ip', IP),
                ('bind_port', port),
                ('workers', self.proxy_workers),
            ] + self._common_defaults(
                'proxy-server' if name == 'proxy' else 'proxy-%s' % name)),
            ('pipeline:main', [('pipeline', ' '.join(pipeline))]),
            ('app:proxy-server', [
                ('use', 'egg:swift#proxy'),
                ('allow_account_management', 'true'),
                ('account_autocreate', 'true'),
                # a stopped node is tried again soon after it comes back
                ('error_suppression_interval', '5'),
            ]),
            ('filter:catch_errors', [('use', 'egg:swift#catch_errors')]),
            ('filter:gatekeeper', [('use', 'egg:swift#gatekeeper')]),
            ('filter:healthcheck', [('use', 'egg:swift#healthcheck')]),
            ('filter:proxy-logging', [('use', 'egg:swift#proxy_logging')]),
            ('filter:listing_formats',
             [('use', 'egg:swift#listing_formats')]),
            ('filter:bulk', [('use', 'egg:swift#bulk')]),
            ('filter:tempurl', [('use', 'egg:swift#tempurl')]),
            ('filter:s3api', [
                ('use', 'egg:swift#s3api'),
                ('location', REGION),
            ]),
            ('filter:tempauth', tempauth),
            ('filter:copy', [('use', 'egg:swift#copy')]),
            ('filter:container-quotas',
             [('use', 'egg:swift#container_quotas')]),
            ('filter:account-quotas', [('use', 'egg:swift#account_quotas')]),
            ('filter:slo', [('use', 'egg:swift#slo')]),
            ('filter:dlo', [('use', 'egg:swift#dlo')]),
            ('filter:versioned_writes', [
                ('use', 'egg:swift#versioned_writes'),
                ('allow_versioned_writes', 'true'),
                ('allow_object_versioning', 'true'),
            ]),
            ('filter:symlink', [('use', 'egg:swift#symlink')]),
        ]
        if self.memcache:
            sections.append(self._cache_filter())
        if self.production:
            sections += self._encryption_sections()
        if auth == 'keystone':
            sections += self._keystone_sections(
                keystone_url or self.keystone_url)
        for fname, opts in extra_filters:
            sections.append(('filter:%s' % fname, sorted(opts.items())))
        path = self.proxy_conf_path(name)
        self._write(path, _ini(sections))
        return path

    @property
    def keystone_url(self):
        """The identity v3 URL of the cluster's own Keystone."""
        return 'http://%s:%d/v3' % (IP, self.port('keystone'))

    def keystone(self):
        """The cluster's own Keystone (``tools/keystone.py``)."""
        return keystone_tool().Keystone(
            os.path.join(self.base_dir, 'keystone'), self.port('keystone'))

    @staticmethod
    def _keystone_sections(url):
        """The auth filters for the Keystone at ``url``.

        authtoken validates tokens as the ``swift`` service user.
        """
        ks = keystone_tool()
        project, user, password, _roles = ks.USERS[0]
        return [
            ('filter:s3token', [('use', 'egg:swift#s3token'),
                                ('auth_uri', url)]),
            ('filter:authtoken', [
                ('paste.filter_factory',
                 'keystonemiddleware.auth_token:filter_factory'),
                ('www_authenticate_uri', url),
                ('auth_url', url),
                ('auth_type', 'password'),
                ('interface', 'public'),
                ('username', user),
                ('password', password),
                ('project_name', project),
                ('user_domain_id', 'default'),
                ('project_domain_id', 'default'),
                ('delay_auth_decision', 'true'),
            ]),
            ('filter:keystoneauth', [
                ('use', 'egg:swift#keystoneauth'),
                ('operator_roles', KEYSTONE_OPERATOR_ROLES),
                ('project_reader_roles', KEYSTONE_READER_ROLES),
                ('reseller_admin_role', 'ResellerAdmin'),
            ]),
        ]

    def _build_rings(self):
        """Build the rings, unless they exist for the same layout."""
        from swift.common.ring import RingBuilder

        policies = self.policies()
        replicas = {'account': self.replicas, 'container': self.replicas}
        for policy in policies:
            replicas[self.ring_name(policy)] = self.ring_replicas(policy)
        layout = {'nodes': self.nodes, 'replicas': self.replicas,
                  'part_power': self.part_power,
                  'base_port': self.base_port,
                  'policies': [p['index'] for p in policies],
                  'ring_replicas': replicas}
        layout_path = os.path.join(self.swift_dir, 'rings.json')
        rings = sorted(replicas)
        try:
            with open(layout_path) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
        if old == layout and all(
                os.path.exists(os.path.join(self.swift_dir, r + '.ring.gz'))
                for r in rings):
            return
        for ring in rings:
            kind = ring.split('-')[0]
            builder = RingBuilder(self.part_power, replicas[ring], 1)
            for i in range(1, self.nodes + 1):
                builder.add_dev({
                    'id': i - 1, 'region': 1, 'zone': i, 'ip': IP,
                    'port': self.port(kind, i),
                    'replication_ip': IP,
                    'replication_port': self.port(kind, i),
                    'device': 'sdb%d' % i, 'weight': 100.0, 'meta': ''})
            builder.rebalance(seed=1)
            builder.validate()
            builder.save(os.path.join(self.swift_dir, ring + '.builder'))
            builder.get_ring().save(
                os.path.join(self.swift_dir, ring + '.ring.gz'))
        _write_json(layout_path, layout)

    # -- processes -----------------------------------------------------------

    def _server_cmd(self, kind, conf):
        # through "aio.py serve": see _serve()
        return [sys.executable, os.path.abspath(__file__), 'serve', kind,
                conf, '-v']

    def _memcached_bin(self):
        exe = shutil.which('memcached') or (
            '/usr/bin/memcached' if os.path.exists('/usr/bin/memcached')
            else None)
        if not exe:
            raise AioError(
                'memcache=True needs Debian\'s memcached '
                '(apt-get install memcached); run without --memcache to use '
                'tempauth\'s fernet tokens instead')
        return exe

    def _process_specs(self):
        """name -> spec dict (cmd, port, check, env) for every process."""
        specs = {}
        for i in range(1, self.nodes + 1):
            node = self.node_info(i)
            for kind in SERVER_TYPES:
                specs['node%d-%s' % (i, kind)] = {
                    'cmd': self._server_cmd(kind,
                                            node['%s_server_conf' % kind]),
                    'port': node['%s_port' % kind],
                    'check': 'healthcheck',
                    'node': i,
                }
        specs['moto'] = {
            'cmd': [sys.executable, '-m', 'moto.server', '-H', IP,
                    '-p', str(self.port('moto'))],
            'port': self.port('moto'),
            'check': 'http',
        }
        if self.memcache:
            cmd = [self._memcached_bin(), '-l', IP,
                   '-p', str(self.port('memcache')), '-U', '0', '-m', '64']
            if os.getuid() == 0:
                cmd += ['-u', 'root']
            specs['memcache'] = {'cmd': cmd, 'port': self.port('memcache'),
                                 'check': 'memcache'}
        if self.auth == 'keystone':
            ks = self.keystone()
            specs['keystone'] = {
                'cmd': [sys.executable, os.path.join(
                    os.path.dirname(os.path.abspath(__file__)),
                    'keystone.py'), 'serve', ks.conf, str(ks.port)],
                'port': ks.port, 'check': 'http'}
        specs['proxy'] = self._proxy_spec('proxy', self.port('proxy'))
        return specs

    def _proxy_spec(self, name, port):
        env = dict(os.environ)
        # lets a pipeline use "paste.filter_factory = cloudsync..." from a
        # checkout that is not installed
        env['PYTHONPATH'] = os.pathsep.join(
            [_repo_root()] + [p for p in env.get('PYTHONPATH', '').split(
                os.pathsep) if p])
        return {
            'cmd': self._server_cmd('proxy', self.proxy_conf_path(name)),
            'port': port,
            'check': 'healthcheck',
            'env': env,
        }

    def _spawn(self, name, spec):
        os.makedirs(self.log_dir, exist_ok=True)
        log_path = os.path.join(self.log_dir, '%s.log' % name)
        with open(log_path, 'ab') as log:
            log.write(('--- %s starting: %s\n' % (
                time.strftime('%Y-%m-%d %H:%M:%S'),
                ' '.join(spec['cmd']))).encode('utf-8'))
            log.flush()
            proc = subprocess.Popen(
                spec['cmd'], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                close_fds=True, env=spec.get('env'), cwd=self.base_dir)
        self._children[name] = proc
        stat = _proc_stat(proc.pid)
        info = {
            'pid': proc.pid,
            'starttime': stat[1] if stat else None,
            'cmd': spec['cmd'],
            'log': log_path,
            'port': spec['port'],
        }
        self._state['processes'][name] = info
        self._state['pids'][name] = proc.pid
        return info

    def _check(self, spec):
        if spec['check'] == 'healthcheck':
            return _http_status(spec['port'], '/healthcheck') == 200
        if spec['check'] == 'memcache':
            return _memcache_ok(spec['port'])
        return _http_status(spec['port'], '/') is not None

    def _child_exited(self, name):
        proc = self._children.get(name)
        if proc is not None:
            return proc.poll() is not None
        info = self._state['processes'].get(name)
        return not (info and _is_alive(info))

    def _wait_ready(self, specs, timeout=START_TIMEOUT):
        pending = dict(specs)
        deadline = time.time() + timeout
        while pending:
            for name in list(pending):
                if self._check(pending[name]):
                    del pending[name]
                elif self._child_exited(name):
                    raise AioError('%s exited while starting:\n%s' % (
                        name, self.log_tail(name)))
            if not pending:
                break
            if time.time() > deadline:
                raise AioError('timed out after %ds waiting for %s:\n%s' % (
                    timeout, ', '.join(sorted(pending)),
                    '\n'.join(self.log_tail(n) for n in sorted(pending))))
            time.sleep(0.05)

    def log_path(self, name):
        return os.path.join(self.log_dir, '%s.log' % name)

    def log_tail(self, name, lines=20):
        try:
            with open(self.log_path(name), errors='replace') as f:
                tail = f.readlines()[-lines:]
        except OSError:
            return '(no log for %s)' % name
        return '== %s ==\n%s' % (self.log_path(name), ''.join(tail))

    def _terminate(self, names, timeout=STOP_TIMEOUT):
        """SIGTERM, then SIGKILL after timeout, the named processes.

        Only processes whose pid, start time and command line still match
        what was recorded when they were started are signalled.
        """
        procs = self.state.get('processes', {})
        targets = {}
        for name in names:
            info = procs.get(name)
            if not info:
                continue
            child = self._children.get(name)
            if child is not None and child.poll() is None:
                targets[name] = info
            elif _is_alive(info):
                targets[name] = info

        def signal_all(sig):
            for name, info in list(targets.items()):
                child = self._children.get(name)
                if child is not None and child.poll() is not None:
                    del targets[name]
                    continue
                if child is None and not _is_alive(info):
                    del targets[name]
                    continue
                try:
                    # each process leads its own process group: this also
                    # reaches proxy workers forked by a parent
                    os.killpg(info['pid'], sig)
                except ProcessLookupError:
                    del targets[name]
                except PermissionError:
                    os.kill(info['pid'], sig)

        signal_all(signal.SIGTERM)
        deadline = time.time() + timeout
        while targets and time.time() < deadline:
            time.sleep(0.05)
            for name, info in list(targets.items()):
                child = self._children.get(name)
                gone = (child.poll() is not None if child is not None
                        else not _is_alive(info))
                if gone:
                    del targets[name]
        if targets:
            signal_all(signal.SIGKILL)
            for name in list(targets):
                child = self._children.get(name)
                if child is not None:
                    child.wait(5)
        for name in names:
            child = self._children.pop(name, None)
            if child is not None:
                try:
                    child.wait(5)
                except subprocess.TimeoutExpired:
                    pass

    # -- lifecycle -----------------------------------------------------------

    def processes(self):
        """name -> True/False (running) for every recorded process."""
        result = {}
        for name, info in self.state.get('processes', {}).items():
            child = self._children.get(name)
            result[name] = _is_alive(info) or (
                child is not None and child.poll() is None)
        return result

    def is_running(self):
        """True if every process of the cluster is running."""
        procs = self.processes()
        return bool(procs) and all(procs.values())

    def start(self, fresh=False, timeout=START_TIMEOUT):
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
            raise PortsInUse(busy)
        os.makedirs(self.base_dir, exist_ok=True)
        os.makedirs(self.swift_dir, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)
        self._write_configs()
        self._build_rings()
        if self.auth == 'keystone':
            try:
                self.keystone().prepare()
            except keystone_tool().KeystoneError as exc:
                raise AioError(str(exc))
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
            'version': STATE_VERSION,
            'status': 'starting',
            'base_dir': self.base_dir,
            'base_port': self.base_port,
            'options': self._options(),
            'state_file': self.state_path,
            'swift_dir': self.swift_dir,
            'log_dir': self.log_dir,
            'ip': IP,
            'proxy_port': proxy_port,
            'proxy_url': proxy_url,
            'proxy_conf': self.proxy_conf_path(),
            'auth_url': proxy_url + '/auth/v1.0',
            's3api_endpoint': proxy_url,
            's3api_region': REGION,
            'moto_port': self.port('moto'),
            'moto_endpoint': self.url(self.port('moto')),
            'moto_region': REGION,
            'moto_access_key': MOTO_ACCESS_KEY,
            'moto_secret_key': MOTO_SECRET_KEY,
            'memcache_servers': ('%s:%d' % (IP, self.port('memcache'))
                                 if self.memcache else None),
            'internal_client_conf': os.path.join(self.swift_dir,
                                                 'internal-client.conf'),
            'users': [{
                'name': '%s:%s' % (account, user),
                'account': 'AUTH_%s' % account,
                'key': key,
                'admin': '.admin' in groups,
                'reseller_admin': '.reseller_admin' in groups,
            } for account, user, key, groups in USERS],
            'policies': self.policies(),
            'profile': self.profile,
            'encryption': self.production,
            'keymaster_conf': (self.keymaster_conf_path if self.production
                               else None),
            'ec_policy': EC_POLICY['name'] if self.production else None,
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
        tool = keystone_tool()
        return {'url': ks.url, 'region': tool.REGION,
                'admin_password': tool.ADMIN_PASSWORD,
                'accounts': accounts,
                'users': [{'project': project, 'name': user,
                           'password': pw, 'roles': list(roles),
                           'account': accounts[project]}
                          for project, user, pw, roles in tool.USERS]}

    def stop(self, timeout=STOP_TIMEOUT):
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
            raise AioError('no all-in-one in %s' % self.base_dir)
        return self._state

    def _stop_some(self, names, timeout=STOP_TIMEOUT):
        state = self._require_state()
        self._terminate(names, timeout)
        for name in names:
            state['pids'].pop(name, None)
        self._save_state()

    def _start_some(self, specs, timeout=START_TIMEOUT):
        state = self._require_state()
        busy = [s['port'] for n, s in specs.items()
                if not self._alive(n) and _port_in_use(s['port'])]
        if busy:
            raise PortsInUse(busy)
        started = {}
        for name, spec in specs.items():
            if not self._alive(name):
                self._spawn(name, spec)
                started[name] = spec
        self._save_state()
        try:
            self._wait_ready(started, timeout)
        except BaseException:
            self._stop_some(list(started))
            raise
        state['status'] = 'running'
        self._save_state()

    def _alive(self, name):
        return bool(self.processes().get(name))

    def stop_moto(self):
        """Stop moto. It keeps its data in memory: a restart loses it."""
        self._stop_some(['moto'])

    def start_moto(self):
        """Start moto again on the same port (with no buckets)."""
        self._start_some({'moto': self._process_specs()['moto']})

    def _node_names(self, index):
        if not 1 <= index <= self.nodes:
            raise AioError('no node %r (nodes are 1..%d)' % (
                index, self.nodes))
        return ['node%d-%s' % (index, kind) for kind in SERVER_TYPES]

    def stop_node(self, index):
        """Stop the account, container and object servers of node index.

        Nodes are numbered from 1, as in ``state['nodes'][i]['index']``.
        """
        self._stop_some(self._node_names(index))

    def start_node(self, index):
        """Start the servers of node index again."""
        specs = self._process_specs()
        self._start_some({n: specs[n] for n in self._node_names(index)})

    def stop_proxy(self, name='proxy'):
        """Stop a proxy; an additional one is forgotten as well."""
        self._stop_some([name])
        if name != 'proxy':
            self._state['proxies'].pop(name, None)
            self._state['processes'].pop(name, None)
            self._save_state()

    def start_proxy(self, name='proxy', extra_filters=None, port=None,
                    auth=None, keystone_url=None):
        """Start (or restart) a proxy with extra filters in its pipeline.

        ``name='proxy'`` is the main proxy (base port); any other name
        starts an additional proxy on a port from base+3 to base+9, with
        its own config file ``etc/proxy-server-NAME.conf``. Extra filters
        go after tempauth, before copy/slo/dlo, e.g.::

            aio.start_proxy('shunt', [('cloud_shunt', {
                'use': 'egg:cloudsync#cloud_shunt',
                'conf_file': '/path/to/cloudsync.conf'})])

        ``auth='keystone'`` authenticates it with the Keystone at
        ``keystone_url`` (default: the cluster's own) instead of tempauth.

        :returns: the proxy's URL
        """
        state = self._require_state()
        filters = _normalize_filters(extra_filters)
        if name == 'proxy':
            port = self.port('proxy')
        elif port is None:
            old = state['proxies'].get(name)
            if old:
                port = old['port']
            else:
                taken = {p['port'] for p in state['proxies'].values()}
                for candidate in range(self.base_port + 3,
                                       self.base_port + 10):
                    if candidate not in taken and \
                            not _port_in_use(candidate):
                        port = candidate
                        break
                else:
                    raise AioError('no free port for another proxy')
        if name in state['processes']:
            self._terminate([name])
        conf = self._write_proxy_conf(name, port, filters, auth,
                                      keystone_url)
        state['proxies'][name] = {'port': port, 'url': self.url(port),
                                  'conf': conf, 'extra_filters': filters,
                                  'auth': auth or self.auth}
        if name == 'proxy':
            self.extra_filters = filters
            state['options'] = self._options()
        self._start_some({name: self._proxy_spec(name, port)})
        return self.url(port)

    def restart_proxy(self, extra_filters=None):
        """Restart the main proxy with the given extra filters."""
        return self.start_proxy('proxy', extra_filters)

    def run_expirer(self, timeout=120):
        """Run ``swift-object-expirer`` once (production profile): every
        object whose ``X-Delete-At`` has passed is deleted, and its
        container rows say so.

        The object servers queue an expiring object in a container of the
        ``.expiring_objects`` account that its account learns of from the
        container updater only: ``swift-container-updater`` is run once on
        every node first, as it runs all the time in a real cluster.

        :returns: the expirer's output
        """
        state = self._require_state()
        if state.get('profile') != 'production':
            raise AioError('the object expirer runs on the production '
                           'profile only')
        for node in state['nodes']:
            self._run_once('container-updater',
                           node['container_server_conf'], timeout)
        return self._run_once('object-expirer',
                              state['nodes'][0]['object_server_conf'],
                              timeout)

    def _run_once(self, kind, conf, timeout):
        """Run one of Swift's daemons once; its output (also logged)."""
        cmd = [sys.executable, os.path.abspath(__file__), 'serve', kind,
               conf, '--once', '-v']
        try:
            proc = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, timeout=timeout,
                cwd=self.base_dir)
        except subprocess.TimeoutExpired:
            raise AioError('%s did not finish within %ss' % (kind, timeout))
        out = proc.stdout.decode('utf-8', 'replace')
        with open(self.log_path(kind), 'a') as log:
            log.write(out)
        if proc.returncode != 0:
            raise AioError('%s exited %s:\n%s'
                           % (kind, proc.returncode, out[-4000:]))
        return out

    # -- clients -------------------------------------------------------------

    def swift_client(self, user='test:tester', key='testing', **kwargs):
        """A swiftclient Connection to the proxy, with tempauth (v1)."""
        from swiftclient import client as swiftclient
        kwargs.setdefault('retries', 2)
        kwargs.setdefault('timeout', 30)
        return swiftclient.Connection(
            authurl=self.state['auth_url'], user=user, key=key,
            auth_version='1', **kwargs)

    def _boto3_client(self, endpoint, access_key, secret_key):
        import boto3
        from botocore.config import Config
        config = Config(
            region_name=REGION,
            signature_version='s3v4',
            s3={'addressing_style': 'path'},
            request_checksum_calculation='when_required',
            response_checksum_validation='when_required',
            retries={'max_attempts': 2, 'mode': 'standard'},
            connect_timeout=5, read_timeout=60)
        return boto3.session.Session().client(
            's3', endpoint_url=endpoint, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key, config=config)

    def s3_client(self):
        """A boto3 S3 client for the moto server."""
        return self._boto3_client(self.state['moto_endpoint'],
                                  MOTO_ACCESS_KEY, MOTO_SECRET_KEY)

    def s3api_client(self, user='test:tester', key='testing', endpoint=None):
        """A boto3 S3 client for Swift's s3api (access key account:user).

        It talks to the main proxy, or to the proxy at ``endpoint``.
        """
        return self._boto3_client(endpoint or self.state['s3api_endpoint'],
                                  user, key)

    def internal_client(self, user_agent='cloudsync-aio', request_tries=3):
        """A Swift InternalClient using ``internal-client.conf``."""
        use_swift_dir(self.swift_dir)
        from swift.common.internal_client import InternalClient
        return InternalClient(self.state['internal_client_conf'],
                              user_agent, request_tries)

    def node_by_port(self, port, kind='container'):
        for node in self.state['nodes']:
            if node['%s_port' % kind] == port:
                return node
        raise AioError('no node with %s port %s' % (kind, port))

    def container_nodes(self, account, container):
        """[(node state dict, DB path)] of a container, in ring order."""
        use_swift_dir(self.swift_dir)
        from swift.common.ring import Ring
        from swift.common.utils import hash_path
        from swift.common.utils import storage_directory

        ring = Ring(self.swift_dir, ring_name='container')
        part, devs = ring.get_nodes(account, container)
        name_hash = hash_path(account, container)
        result = []
        for dev in devs:
            node = self.node_by_port(dev['port'])
            result.append((node, os.path.join(
                node['devices'], dev['device'],
                storage_directory('containers', part, name_hash),
                name_hash + '.db')))
        return result

    def container_db_paths(self, account, container):
        """The container's DB paths on every node (one per replica)."""
        return [path for _node, path in
                self.container_nodes(account, container)]

    def ensure_container_replicas(self, account, container):
        """Ensure every replica of the container's database exists.

        A container PUT succeeds once a quorum of container servers has
        the database; Swift's replicators create it on the others later.
        The all-in-one runs no replicators, so a server that was slow to
        answer the PUT would never get it: this does the replicator's
        part, with the PUT timestamp and policy of a replica that has it.

        :returns: the paths created.
        """
        from swift.container import backend
        brokers = [backend.ContainerBroker(path, account=account,
                                           container=container)
                   for path in self.container_db_paths(account, container)]
        have = [b for b in brokers if os.path.exists(b.db_file)]
        if not have:
            raise AioError('no replica of %s/%s exists' % (account,
                                                           container))
        info = have[0].get_info()
        created = []
        for broker in brokers:
            if not os.path.exists(broker.db_file):
                broker.initialize(info['put_timestamp'],
                                  info['storage_policy_index'])
                created.append(broker.db_file)
        return created


# -- command line -------------------------------------------------------------

SERVER_MODULES = {
    'proxy': 'swift.proxy.server',
    'object': 'swift.obj.server',
    'container': 'swift.container.server',
    'account': 'swift.account.server',
    'object-expirer': 'swift.obj.expirer',
    'container-updater': 'swift.container.updater',
}


def _serve(argv):
    """Run a Swift server: ``aio.py serve KIND CONF [-v]``, or one of
    Swift's daemons (``object-expirer``, ``container-updater``, with
    ``--once``).

    The Swift servers read the hash path prefix and suffix from their
    ``swift_dir``, but their storage policies and constraints only from
    ``/etc/swift/swift.conf``. This loads all of them from the config's
    ``swift_dir`` first, then runs the server as ``swift-KIND-server``
    (a daemon as ``swift-KIND``).
    """
    import configparser
    import importlib

    kind, conf = argv[0], argv[1]
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(conf)
    use_swift_dir(parser.get('DEFAULT', 'swift_dir'))
    module = importlib.import_module(SERVER_MODULES[kind])
    sys.argv = ['swift-%s' % kind if '-' in kind
                else 'swift-%s-server' % kind] + list(argv[1:])
    return module.main()


def _print_endpoints(state):
    print('profile:         %s' % state.get('profile', 'plain'))
    print('swift_dir:       %s' % state['swift_dir'])
    print('proxy:           %s' % state['proxy_url'])
    if not state.get('keystone'):
        print('auth (v1):       %s  users test:tester/testing, '
              'test2:tester2/testing2, test:reader/reading'
              % state['auth_url'])
        print('s3api:           %s  (access key test:tester, secret '
              'testing)' % state['s3api_endpoint'])
    print('moto S3:         %s  (any key, region %s)'
          % (state['moto_endpoint'], state['moto_region']))
    print('internal client: %s' % state['internal_client_conf'])
    if state.get('keymaster_conf'):
        print('keymaster:       %s  (encryption at rest)'
              % state['keymaster_conf'])
    if state.get('keystone'):
        ks = state['keystone']
        print('keystone:        %s  (admin/%s; the proxy authenticates '
              'with it)' % (ks['url'], ks['admin_password']))
        for user in ks['users']:
            print('                 %s/%s in project %s (%s): %s' % (
                user['name'], user['password'], user['project'],
                user['account'], ', '.join(user['roles'])))
    print('policies:        %s' % ', '.join(
        '%s (%s)' % (p['name'], p.get('ec_type') or p.get(
            'policy_type', 'replication')) for p in state['policies']))
    for node in state['nodes']:
        print('node %d:          object %d container %d account %d  %s'
              % (node['index'], node['object_port'], node['container_port'],
                 node['account_port'], node['container_server_conf']))
    print('logs:            %s' % state['log_dir'])
    print('state:           %s' % state['state_file'])


def _parse_filter_args(args):
    filters = []
    for item in args.extra_filter or ():
        name, sep, use = item.partition('=')
        if not sep:
            raise AioError('--extra-filter takes NAME=USE')
        filters.append([name, {'use': use}])
    by_name = {f[0]: f[1] for f in filters}
    for item in args.filter_option or ():
        key, sep, value = item.partition('=')
        name, dot, opt = key.partition('.')
        if not (sep and dot) or name not in by_name:
            raise AioError('--filter-option takes NAME.OPTION=VALUE for a '
                           'filter given with --extra-filter')
        by_name[name][opt] = value
    return filters


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == 'serve':
        return _serve(argv[1:])
    parser = argparse.ArgumentParser(
        description='A real all-in-one Swift cluster and a moto S3 server '
                    'on 127.0.0.1.')
    parser.add_argument(
        '--base-dir',
        default=os.environ.get('CLOUDSYNC_AIO_DIR', DEFAULT_BASE_DIR),
        help='where configs, data, logs and aio.json live '
             '(default: $CLOUDSYNC_AIO_DIR or %s)' % DEFAULT_BASE_DIR)
    sub = parser.add_subparsers(dest='command', required=True)
    p_start = sub.add_parser('start', help='start (or reuse) the cluster')
    p_start.add_argument('--base-port', type=int,
                         default=int(os.environ.get('CLOUDSYNC_AIO_PORT',
                                                    DEFAULT_BASE_PORT)),
                         help='first port (default: $CLOUDSYNC_AIO_PORT or '
                              '%d)' % DEFAULT_BASE_PORT)
    p_start.add_argument('--fresh', action='store_true',
                         help='stop and wipe all data first')
    p_start.add_argument('--memcache', action='store_true',
                         help='also run memcached (needs Debian\'s '
                              'memcached package)')
    p_start.add_argument('--proxy-workers', type=int, default=0)
    p_start.add_argument('--part-power', type=int, default=10)
    p_start.add_argument('--log-level', default='INFO')
    p_start.add_argument('--profile', choices=PROFILES, default='plain',
                         help='production: at-rest encryption, an '
                              'erasure-coded policy "ec" and the object '
                              'expirer (default: plain)')
    p_start.add_argument('--auth', choices=AUTHS, default='tempauth',
                         help='keystone: start a Keystone too, and '
                              'authenticate the proxy with it instead of '
                              'tempauth (default: tempauth)')
    p_start.add_argument('--extra-filter', action='append',
                         metavar='NAME=USE',
                         help='add a filter to the proxy pipeline after '
                              'tempauth, e.g. '
                              'cloud_shunt=egg:cloudsync#cloud_shunt')
    p_start.add_argument('--filter-option', action='append',
                         metavar='NAME.OPTION=VALUE',
                         help='an option of an --extra-filter, e.g. '
                              'cloud_shunt.conf_file=/etc/cloudsync/c.conf')
    p_start.add_argument('--timeout', type=float, default=START_TIMEOUT)
    sub.add_parser('stop', help='stop every process the cluster started')
    p_status = sub.add_parser('status', help='show processes and endpoints')
    p_status.add_argument('--json', action='store_true',
                          help='print the state file')
    sub.add_parser('env', help='print shell exports for the swift and aws '
                               'command line clients')
    args = parser.parse_args(argv)

    try:
        if args.command == 'start':
            aio = AllInOne(args.base_dir, args.base_port,
                           part_power=args.part_power,
                           memcache=args.memcache,
                           extra_filters=_parse_filter_args(args),
                           proxy_workers=args.proxy_workers,
                           log_level=args.log_level,
                           profile=args.profile, auth=args.auth)
            state = aio.start(fresh=args.fresh, timeout=args.timeout)
            if state.get('reused'):
                print('already running in %s' % aio.base_dir)
            else:
                print('started in %.1fs' % state['start_seconds'])
            _print_endpoints(state)
            return 0
        state = load_state(args.base_dir)
        if not state:
            print('no all-in-one in %s' % args.base_dir)
            return 0 if args.command == 'stop' else 3
        aio = AllInOne.from_state(args.base_dir)
        if args.command == 'stop':
            aio.stop()
            print('stopped')
            return 0
        if args.command == 'env':
            print('export ST_AUTH=%s ST_USER=test:tester ST_KEY=testing'
                  % state['auth_url'])
            print('export AWS_ENDPOINT_URL=%s AWS_ACCESS_KEY_ID=%s '
                  'AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s'
                  % (state['moto_endpoint'], MOTO_ACCESS_KEY,
                     MOTO_SECRET_KEY, REGION))
            print('export CLOUDSYNC_AIO_STATE=%s' % state['state_file'])
            return 0
        procs = aio.processes()
        if args.json:
            print(json.dumps(aio.state, indent=2, sort_keys=True))
        else:
            for name in sorted(procs):
                info = aio.state['processes'][name]
                print('%-16s %-8s pid %-8s port %s' % (
                    name, 'running' if procs[name] else 'stopped',
                    info['pid'], info['port']))
            _print_endpoints(aio.state)
        if procs and all(procs.values()):
            return 0
        return 1 if any(procs.values()) else 3
    except AioError as e:
        print('error: %s' % e, file=sys.stderr)
        return 1


if __name__ == '__main__':
    try:
        rc = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # output piped into e.g. head: what was asked is done
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        rc = 0
    sys.exit(rc)
