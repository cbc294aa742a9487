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
"""Running ``cloudsync-sync`` on the all-in-one's container nodes.

:class:`DaemonNodes` writes one complete ``cloudsync.conf`` per container
node (its devices, its container server's port, its own status directory,
statsd metrics to a listener of the test) and runs the real command, with
``--once`` or in the background. :class:`StatsdListener` counts what the
daemons report (``copied_objects``, ``bytes``, ...), per node: the moto
server keeps no request log, so this is how a test counts remote PUTs.
:func:`swift_command` runs one of Swift's own commands
(``swift-manage-shard-ranges``, the sharder through :func:`run_sharder`)
on the all-in-one.
"""

import configparser
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

from cloudsync import conf as conf_mod

TOOLS_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'tools')
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

import aio_cloudsync  # noqa: E402

# NOTE(cloudsync): Swift's commands read the storage policies and the hash
# path prefix and suffix from /etc/swift/swift.conf; as "aio.py serve"
# does for the servers, this loads the all-in-one's first.
SWIFT_COMMAND = """\
import importlib
import sys
sys.path.insert(0, sys.argv[1])
import aio
aio.use_swift_dir(sys.argv[2])
main = importlib.import_module(sys.argv[3]).main
sys.argv = sys.argv[4:]
sys.exit(main())
"""


@contextlib.contextmanager
def scratch_account(aio):
    """A Swift account of its own, for a test whose wildcard mapping must
    see only the test's containers: yields ``(account, client)`` (the
    reseller admin's client on that account) and, at the end, deletes
    every object and container the test left in it.
    """
    admin = aio.swift_client('admin:admin', 'admin')
    account = 'AUTH_cs%s' % uuid.uuid4().hex[:8]
    url = admin.get_auth()[0].rsplit('/', 1)[0] + '/' + account
    client = aio.swift_client('admin:admin', 'admin', preauthurl=url)
    try:
        yield account, client
    finally:
        try:
            containers = client.get_account(full_listing=True)[1]
        except Exception:  # noqa: BLE001 - clean-up
            containers = []
        for cont in containers:
            try:
                for obj in client.get_container(cont['name'],
                                                full_listing=True)[1]:
                    client.delete_object(cont['name'], obj['name'])
                client.delete_container(cont['name'])
            except Exception:  # noqa: BLE001 - clean-up
                pass
        client.close()
        admin.close()


def bin_path(name):
    here = os.path.join(os.path.dirname(sys.executable), name)
    return here if os.path.exists(here) else shutil.which(name)


def write_archive_conf(aio, path, bucket, container, copy_after=0,
                       archive_as='stub'):
    """A cloudsync.conf that archives ``AUTH_test/container`` to the
    all-in-one's moto ``bucket`` (mapping ``archive``), for
    :func:`run_daemon` and a proxy with the cloud shunt.
    """
    aio_cloudsync.write_conf(path, aio.state, {'archive': {
        'container': container, 'bucket': bucket, 'lifecycle': 'archive',
        'copy_after': copy_after, 'archive_as': archive_as}})


def daemon_passes(aio, conf, work_dir):
    """``cloudsync-sync --once`` with ``conf`` on every container node of
    ``aio``, one after the other; each node's own options (devices, port,
    status directory) go in a second configuration file in ``work_dir``.
    Yields ``(exit code, output)`` of each node, once it is done.
    """
    for node in aio.state['nodes']:
        node_conf = aio_cloudsync.write_node_conf(node, work_dir)
        proc = subprocess.run(
            [bin_path('cloudsync-sync'), '--config-file', conf,
             '--config-file', node_conf, '--once'],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=300)
        yield proc.returncode, proc.stdout.decode('utf-8', 'replace')


def run_daemon(aio, conf, work_dir):
    """:func:`daemon_passes`, each of which must succeed."""
    for code, output in daemon_passes(aio, conf, work_dir):
        assert code == 0, output


class StatsdListener(object):
    """A UDP statsd server on loopback that sums counters by name."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lines = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.lines.extend(data.decode('utf-8', 'replace').split('\n'))

    def counter(self, metric, prefix=''):
        """Sum of counter ``metric`` over metrics named ``prefix*metric``."""
        total = 0
        with self._lock:
            lines = list(self.lines)
        for line in lines:
            name, _sep, rest = line.partition(':')
            value, _sep, kind = rest.partition('|')
            if kind.startswith('c') and name.endswith('.' + metric) and \
                    name.startswith(prefix):
                total += int(float(value))
        return total

    def settle(self, seconds=0.3):
        """Give datagrams already sent a moment to arrive."""
        time.sleep(seconds)

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()


class DaemonNodes(object):
    """One cloudsync-sync configuration (and process) per container node.

    :param mappings: the ``[mapping:...]`` sections, as
        :func:`aio_cloudsync.sections` takes them (``{name: options}``), or
        the text of the ``[remote:...]`` and ``[mapping:...]`` sections.
    :param options: extra ``[DEFAULT]`` options for every node.
    :param remotes: the ``[remote:...]`` sections of dict ``mappings``
        (default: the moto server as ``moto``).
    """

    def __init__(self, aio, work_dir, mappings, options=None, statsd=None,
                 remotes=None):
        self.aio = aio
        self.work_dir = str(work_dir)
        self.statsd = statsd
        self.procs = {}
        self.confs = {}
        if not isinstance(mappings, str):
            mappings = aio_cloudsync.sections(aio.state, mappings, remotes)
        self.mappings = mappings
        self.reconfigure(**(options or {}))

    def reconfigure(self, **options):
        """Write every node's configuration again with ``options``."""
        for node in self.aio.state['nodes']:
            self.confs[node['index']] = self.write_conf(node, self.mappings,
                                                        options)

    def status_dir(self, index):
        return os.path.join(self.work_dir, 'status%d' % index)

    def write_conf(self, node, mappings, options):
        defaults = aio_cloudsync.defaults(self.aio.state)
        defaults.update(aio_cloudsync.node_options(node, self.work_dir))
        defaults.update({
            'poll_interval': 0.5,
            'workers': 4,
            'verification_slack': 3600,
            'retry_interval': 0,
            'retry_interval_max': 0,
            'debug': 'true',
            'log_file': os.path.join(self.work_dir,
                                     'sync%d.log' % node['index']),
        })
        if self.statsd is not None:
            defaults.update(statsd_host='127.0.0.1',
                            statsd_port=self.statsd.port,
                            statsd_prefix='node%d' % node['index'])
        defaults.update(options)
        path = os.path.join(self.work_dir, 'sync%d.conf' % node['index'])
        with open(path, 'w') as f:
            f.write(aio_cloudsync.section('DEFAULT', defaults))
            f.write('\n' + mappings)
        return path

    def config(self, index=1):
        return conf_mod.load_file(self.confs[index])

    def log(self, index):
        try:
            with open(os.path.join(self.work_dir, 'sync%d.log' % index),
                      errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def _popen(self, index, once):
        args = [bin_path('cloudsync-sync'), '--config-file',
                self.confs[index]]
        if once:
            args.append('--once')
        return subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)

    def run_once(self, indexes=None, timeout=300):
        """``--once`` on the given nodes at the same time; exit codes."""
        indexes = indexes or sorted(self.confs)
        procs = {i: self._popen(i, True) for i in indexes}
        codes = {}
        for i, proc in procs.items():
            try:
                out, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out, _ = proc.communicate()
                codes[i] = 'timeout'
                continue
            codes[i] = proc.returncode
            if proc.returncode != 0:
                sys.stderr.write('node %d exited %s:\n%s\n%s\n' % (
                    i, proc.returncode, out.decode('utf-8', 'replace'),
                    self.log(i)[-5000:]))
        return codes

    def start(self, index):
        """Start node ``index``'s daemon in the background."""
        self.procs[index] = self._popen(index, False)
        return self.procs[index]

    def kill(self, index, sig=signal.SIGKILL, timeout=60):
        proc = self.procs.pop(index, None)
        if proc is None:
            return None
        if proc.poll() is None:
            os.kill(proc.pid, sig)
        try:
            proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        return proc.returncode

    def stop_all(self):
        for index in list(self.procs):
            self.kill(index, signal.SIGKILL, timeout=10)

    def statuses(self, index):
        """Every progress file of node ``index``, as dicts."""
        found = []
        for dirpath, _dirs, files in os.walk(self.status_dir(index)):
            for name in files:
                if name.endswith('.json'):
                    path = os.path.join(dirpath, name)
                    with open(path) as f:
                        found.append(json.load(f))
        return found


def replicate_container(aio, account, container):
    """Give every replica of a container's database every row, as Swift's
    container replicator would; returns {DB path: names it lacked}.

    NOTE(cloudsync): the all-in-one runs no replicators nor updaters, so a
    container update that timed out under load (the object server then
    keeps an async pending) leaves one replica without the row for good.
    A test that needs every daemon to see every row says so with this.
    """
    from swift.container import backend

    aio.ensure_container_replicas(account, container)
    brokers = [backend.ContainerBroker(path, account=account,
                                       container=container)
               for path in aio.container_db_paths(account, container)]
    rows = {}
    for broker in brokers:
        for row in broker.get_items_since(-1, 10 ** 6):
            rows.setdefault(row['name'], []).append(row)
    lacked = {}
    for broker in brokers:
        have = {row['name'] for row in broker.get_items_since(-1, 10 ** 6)}
        missing = sorted(set(rows) - have)
        if missing:
            lacked[broker.db_file] = missing
            sys.stderr.write('replica %s lacked %s\n'
                             % (broker.db_file, missing))
        broker.merge_items([r for name in missing for r in rows[name]])
    return lacked


def swift_command(aio, module, name, *args, timeout=300):
    """Run Swift's command ``name`` (``module.main``) on the all-in-one;
    its output. Fails the test if it exits non-zero.
    """
    proc = subprocess.run(
        [sys.executable, '-c', SWIFT_COMMAND, TOOLS_DIR, aio.swift_dir,
         module, name] + list(args),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=timeout)
    out = proc.stdout.decode('utf-8', 'replace')
    if proc.returncode != 0:
        raise AssertionError('%s %s exited %s:\n%s' % (
            name, ' '.join(args), proc.returncode, out))
    return out


def run_sharder(aio, work_dir, node, partitions, **options):
    """One pass of Swift's container sharder (``--once``) on ``node``'s
    device, limited to ``partitions``; its output.

    Its configuration is the node's container server's, with the
    ``[container-sharder]`` ``options`` and the all-in-one's internal
    client.
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(node['container_server_conf'])
    options['internal_client_conf_path'] = aio.state['internal_client_conf']
    for key, value in options.items():
        parser.set('container-sharder', key, str(value))
    path = os.path.join(str(work_dir), 'sharder%d.conf' % node['index'])
    with open(path, 'w') as f:
        parser.write(f)
    return swift_command(
        aio, 'swift.container.sharder', 'swift-container-sharder', path,
        '--once', '--verbose', '--devices', node['device'],
        '--partitions', ','.join(str(p) for p in partitions))


def wait_for(predicate, timeout=60, interval=0.1, what='condition'):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError('timed out waiting for %s' % what)
