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
"""The all-in-one's processes: how servers are spawned, checked, stopped
and started again one by one."""

import os
import shutil
import signal
import subprocess
import sys
import time

import aio_common as common


class AioProcesses(object):
    """How an :class:`~aio_cluster.AllInOne` runs its processes."""

    def _server_cmd(self, kind, conf):
        # through "aio.py serve": see _serve()
        return [sys.executable, common.AIO_COMMAND, 'serve', kind,
                conf, '-v']

    def _memcached_bin(self):
        exe = shutil.which('memcached') or (
            '/usr/bin/memcached' if os.path.exists('/usr/bin/memcached')
            else None)
        if not exe:
            raise common.AioError(
                'memcache=True needs Debian\'s memcached '
                '(apt-get install memcached); run without --memcache to use '
                'tempauth\'s fernet tokens instead')
        return exe

    def _process_specs(self):
        """name -> spec dict (cmd, port, check, env) for every process."""
        specs = {}
        for i in range(1, self.nodes + 1):
            node = self.node_info(i)
            for kind in common.SERVER_TYPES:
                specs['node%d-%s' % (i, kind)] = {
                    'cmd': self._server_cmd(kind,
                                            node['%s_server_conf' % kind]),
                    'port': node['%s_port' % kind],
                    'check': 'healthcheck',
                    'node': i,
                }
        specs['moto'] = {
            'cmd': [sys.executable, '-m', 'moto.server', '-H', common.IP,
                    '-p', str(self.port('moto'))],
            'port': self.port('moto'),
            'check': 'http',
        }
        if self.memcache:
            cmd = [self._memcached_bin(), '-l', common.IP,
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
            [common._repo_root()] + [
                p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
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
        stat = common._proc_stat(proc.pid)
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
            return common._http_status(spec['port'], '/healthcheck') == 200
        if spec['check'] == 'memcache':
            return common._memcache_ok(spec['port'])
        return common._http_status(spec['port'], '/') is not None

    def _child_exited(self, name):
        proc = self._children.get(name)
        if proc is not None:
            return proc.poll() is not None
        info = self._state['processes'].get(name)
        return not (info and common._is_alive(info))

    def _wait_ready(self, specs, timeout=common.START_TIMEOUT):
        pending = dict(specs)
        deadline = time.time() + timeout
        while pending:
            for name in list(pending):
                if self._check(pending[name]):
                    del pending[name]
                elif self._child_exited(name):
                    raise common.AioError('%s exited while starting:\n%s' % (
                        name, self.log_tail(name)))
            if not pending:
                break
            if time.time() > deadline:
                raise common.AioError(
                    'timed out after %ds waiting for %s:\n%s' % (
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

    def _terminate(self, names, timeout=common.STOP_TIMEOUT):
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
            elif common._is_alive(info):
                targets[name] = info

        def signal_all(sig):
            for name, info in list(targets.items()):
                child = self._children.get(name)
                if child is not None and child.poll() is not None:
                    del targets[name]
                    continue
                if child is None and not common._is_alive(info):
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
                        else not common._is_alive(info))
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

    def _stop_some(self, names, timeout=common.STOP_TIMEOUT):
        state = self._require_state()
        self._terminate(names, timeout)
        for name in names:
            state['pids'].pop(name, None)
        self._save_state()

    def _start_some(self, specs, timeout=common.START_TIMEOUT):
        state = self._require_state()
        busy = [s['port'] for n, s in specs.items()
                if not self._alive(n) and common._port_in_use(s['port'])]
        if busy:
            raise common.PortsInUse(busy)
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
            raise common.AioError('no node %r (nodes are 1..%d)' % (
                index, self.nodes))
        return ['node%d-%s' % (index, kind) for kind in common.SERVER_TYPES]

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
                'use': 'egg:swift-cloudsync#cloud_shunt',
                'conf_file': '/path/to/cloudsync.conf'})])

        ``auth='keystone'`` authenticates it with the Keystone at
        ``keystone_url`` (default: the cluster's own) instead of tempauth.

        :returns: the proxy's URL
        """
        state = self._require_state()
        filters = common._normalize_filters(extra_filters)
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
                            not common._port_in_use(candidate):
                        port = candidate
                        break
                else:
                    raise common.AioError('no free port for another proxy')
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
            raise common.AioError('the object expirer runs on the '
                                  'production profile only')
        for node in state['nodes']:
            self._run_once('container-updater',
                           node['container_server_conf'], timeout)
        return self._run_once('object-expirer',
                              state['nodes'][0]['object_server_conf'],
                              timeout)

    def _run_once(self, kind, conf, timeout):
        """Run one of Swift's daemons once; its output (also logged)."""
        cmd = [sys.executable, common.AIO_COMMAND, 'serve', kind,
               conf, '--once', '-v']
        try:
            proc = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, timeout=timeout,
                cwd=self.base_dir)
        except subprocess.TimeoutExpired:
            raise common.AioError('%s did not finish within %ss'
                                  % (kind, timeout))
        out = proc.stdout.decode('utf-8', 'replace')
        with open(self.log_path(kind), 'a') as log:
            log.write(out)
        if proc.returncode != 0:
            raise common.AioError('%s exited %s:\n%s'
                                  % (kind, proc.returncode, out[-4000:]))
        return out
