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
"""cloudsync-status and cloudsync-verify against the real all-in-one.

Four mappings, each in one state, after one ``cloudsync-sync --once`` pass
of the daemon of every container node (3 nodes, each with its own
configuration file, as an all-in-one needs):

``healthy``
    every object (a small SLO among them) copied to moto;
``behind``
    objects added after the pass;
``badcreds``
    Swift's own S3 API with a wrong secret key: every copy is refused;
``unreachable``
    an endpoint where nothing listens.

The commands run as an operator runs them: as separate processes.
"""

import json
import os
import socket
import subprocess
import sys

import pytest

from cloudsync.sync import crawler
from tests.functional.conftest import unique_name
from tests.functional.daemon_helpers import aio_cloudsync

NODE_COUNT = 3


def _names_covering_every_replica(prefix, replicas=NODE_COUNT):
    names, owners, n = [], set(), 0
    while len(owners) < replicas:
        name = '%s-%d' % (prefix, n)
        owner = crawler.row_owner(name, replicas)
        if owner not in owners:
            owners.add(owner)
            names.append(name)
        n += 1
    return names


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_command(module, *args, timeout=300):
    return subprocess.run(
        [sys.executable, '-m', module] + list(args), capture_output=True,
        text=True, timeout=timeout)


class Ops:
    """The all-in-one with four mappings and one daemon per node."""

    def __init__(self, aio, tmp, swift, s3):
        self.aio = aio
        self.tmp = tmp
        self.swift = swift
        self.state = aio.state
        self.containers = {kind: unique_name(kind) for kind in (
            'healthy', 'behind', 'badcreds', 'unreachable')}
        self.bucket = unique_name('ops')
        s3.create_bucket(Bucket=self.bucket)
        self.s3api_bucket = unique_name('s3api-target')
        swift.put_container(self.s3api_bucket)
        self.names = _names_covering_every_replica('obj')
        for kind, container in self.containers.items():
            swift.put_container(container)
            for name in self.names:
                swift.put_object(container, name, b'data of ' +
                                 name.encode('ascii'))
        self.put_slo(self.containers['healthy'], 'big')
        self.configs = [self.write_config(node)
                        for node in self.state['nodes']]

    def put_slo(self, container, name):
        segments = []
        for n, data in enumerate((b'a' * 3000, b'b' * 1000)):
            seg = '%s/seg/%d' % (name, n)
            etag = self.swift.put_object(container, seg, data)
            segments.append({'path': '/%s/%s' % (container, seg),
                             'etag': etag, 'size_bytes': len(data)})
        self.swift.put_object(container, name, json.dumps(segments),
                              query_string='multipart-manifest=put')

    def write_config(self, node):
        state = self.state
        remotes = {
            'moto': aio_cloudsync.remote(
                state, addressing_style='path', max_retries=1,
                retry_backoff=0.1),
            's3api-badkey': aio_cloudsync.remote(
                state, 's3api', access_key='test:tester',
                secret_key='not-the-key', addressing_style='path',
                max_retries=0),
            'nowhere': {
                'provider': 's3',
                'endpoint': 'http://127.0.0.1:%d' % self.dead_port,
                'access_key': 'a', 'secret_key': 'not-a-real-secret',
                'addressing_style': 'path', 'max_retries': 0,
                'connect_timeout': 2},
        }
        targets = {'healthy': ('moto', self.bucket),
                   'behind': ('moto', self.bucket),
                   'badcreds': ('s3api-badkey', self.s3api_bucket),
                   'unreachable': ('nowhere', 'bucket')}
        mappings = {}
        for kind, container in self.containers.items():
            remote, bucket = targets[kind]
            mappings[kind] = {'container': container, 'remote': remote,
                              'bucket': bucket}
        options = aio_cloudsync.node_options(node, self.tmp)
        options.update(workers=4, retry_interval=600, poll_interval=None)
        return aio_cloudsync.write_conf(
            os.path.join(self.tmp, 'node%d.conf' % node['index']), state,
            mappings, remotes, **options)

    dead_port = _free_port()

    def sync_once(self):
        results = [run_command('cloudsync.cmd.sync', '--config-file', conf,
                               '--once') for conf in self.configs]
        return results

    def status(self, conf, *args):
        result = run_command('cloudsync.cmd.status', '--config-file', conf,
                             *args)
        return result

    def status_json(self, conf, *args):
        result = self.status(conf, '--format', 'json', *args)
        assert result.stdout, result.stderr
        return result.returncode, json.loads(result.stdout)

    def verify(self, *args, conf=None):
        return run_command('cloudsync.cmd.verify', '--config-file',
                           conf or self.configs[0], *args)


@pytest.fixture(scope='module')
def ops(aio, tmp_path_factory):
    swift = aio.swift_client('test:tester', 'testing')
    try:
        world = Ops(aio, str(tmp_path_factory.mktemp('ops')), swift,
                    aio.s3_client())
        world.pass_results = world.sync_once()
        # objects that arrive after the pass: the "behind" mapping
        world.late = ['late-%s' % n for n in world.names]
        for name in world.late:
            swift.put_object(world.containers['behind'], name, b'late')
        yield world
    finally:
        swift.close()


def mapping_of(report, name):
    return next(m for m in report['mappings'] if m['mapping'] == name)


def test_the_daemon_pass_failed_only_for_the_broken_mappings(ops):
    for result in ops.pass_results:
        # rows of badcreds and unreachable failed on every node
        assert result.returncode == 1, result.stderr[-2000:]


def test_status_shows_each_mapping_in_its_state_on_every_node(ops):
    for conf in ops.configs:
        code, report = ops.status_json(conf)

        assert code == 1
        assert report['ok'] is False
        healthy = mapping_of(report, 'healthy')
        assert healthy['state'] == 'in-sync'
        assert healthy['rows_behind'] == 0
        assert healthy['rows_total'] == healthy['rows_done'] >= 6
        behind = mapping_of(report, 'behind')
        assert behind['state'] == 'behind'
        assert behind['rows_behind'] == len(ops.late)
        assert behind['lag'] > 0
        for broken in ('badcreds', 'unreachable'):
            mapping = mapping_of(report, broken)
            assert mapping['state'] == 'failing'
            assert mapping['failed_rows'] >= 1


def test_status_names_the_remotes_answer_for_failed_rows(ops):
    result = ops.status(ops.configs[0], '--mapping', 'badcreds')

    assert result.returncode == 1
    assert 'badcreds AUTH_test/%s: 1 failed rows; latest:' % (
        ops.containers['badcreds']) in result.stdout
    assert '403' in result.stdout
    assert 'not-the-key' not in result.stdout


def test_status_of_healthy_mappings_exits_zero(ops):
    result = ops.status(ops.configs[0], '--mapping', 'healthy',
                        '--mapping', 'behind')

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ['MAPPING', 'CONTAINER', 'STATE']
    states = {line.split()[0]: line.split()[2] for line in lines[1:3]}
    assert states == {'healthy': 'in-sync', 'behind': 'behind'}


def test_status_watch_and_plot(ops, tmp_path):
    plot = tmp_path / 'lag.png'

    watch = ops.status(ops.configs[0], '--mapping', 'behind', '--watch',
                       '--count', '1')
    drawn = ops.status(ops.configs[0], '--plot', str(plot))

    assert 'behind AUTH_test/%s: ' % ops.containers['behind'] in \
        watch.stdout
    assert 'rows (' in watch.stdout
    assert drawn.returncode == 1
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_verify_proves_the_healthy_remote(ops):
    result = ops.verify('--mapping', 'healthy')

    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line.split(': ')[1] for line in result.stdout.splitlines()]
    assert steps == ['target', 'list', 'write', 'read', 'metadata',
                     'delete']


def test_verify_read_only_reads_an_object_the_daemon_wrote(ops):
    result = ops.verify('--mapping', 'healthy', '--read-only')

    assert result.returncode == 0, result.stdout + result.stderr
    assert 'mapping healthy: read: ok' in result.stdout


def test_verify_names_the_failing_step_and_answer(ops):
    result = ops.verify('--mapping', 'badcreds', '--mapping', 'unreachable')

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    bad, dead = lines
    assert bad.startswith('mapping badcreds: target: FAILED: remote '
                          's3api-badkey bucket %s: ' % ops.s3api_bucket)
    assert '403' in bad
    assert dead.startswith('mapping unreachable: target: FAILED: remote '
                           'nowhere bucket bucket: ')
    assert 'not-the-key' not in result.stdout
    assert 'not-a-real-secret' not in result.stdout


def test_compare_finds_the_healthy_container_in_sync(ops):
    result = ops.verify('--mapping', 'healthy', '--compare', '--deep')

    assert result.returncode == 0, result.stdout + result.stderr
    assert ', 0 missing remotely, 0 differing, 0 only remotely' in \
        result.stdout
    assert '%d in sync' % (len(ops.names) + 3) in result.stdout


def test_compare_lists_what_the_behind_container_misses(ops):
    result = ops.verify('--mapping', 'behind', '--compare', '--list')

    assert result.returncode == 1
    missing = sorted(line.split()[1] for line in result.stdout.splitlines()
                     if line.startswith('  missing'))
    assert missing == sorted(ops.late)


def test_compare_on_an_unreachable_remote_fails_in_one_line(ops):
    result = ops.verify('--mapping', 'unreachable', '--compare')

    assert result.returncode == 1
    assert result.stdout.startswith('mapping unreachable: compare '
                                    'AUTH_test/%s: FAILED: ' % (
                                        ops.containers['unreachable']))


def test_a_converted_swift_s3_sync_configuration_works(
        aio, tmp_path, bucket):
    state = aio.state
    old = {
        'containers': [{
            'account': 'AUTH_test', 'container': 'converted',
            'aws_bucket': bucket, 'aws_endpoint': state['moto_endpoint'],
            'aws_identity': state['moto_access_key'],
            'aws_secret': state['moto_secret_key'],
            'custom_prefix': 'from-sync',
        }],
        'devices': state['nodes'][0]['devices'],
        'status_dir': str(tmp_path / 'status'),
        'swift_dir': state['swift_dir'],
        'items_chunk': 100,
        'verification_slack': 1,
    }
    source = tmp_path / 'sync.json'
    source.write_text(json.dumps(old))
    target = tmp_path / 'cloudsync.conf'

    converted = run_command('cloudsync.cmd.config_convert', str(source),
                            '-o', str(target))
    verified = run_command('cloudsync.cmd.verify', '--config-file',
                           str(target))

    assert converted.returncode == 0, converted.stderr
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert 'mapping AUTH_test-converted: list: ok: prefix \'from-sync/\'' \
        in verified.stdout


# -- the truth, to people and to monitoring ----------------------------------

def test_commands_without_a_configuration_file_exit_2_naming_it(
        tmp_path):
    missing = str(tmp_path / 'cloudsync.conf')

    results = {module: run_command(module, '--config-file', missing)
               for module in ('cloudsync.cmd.status', 'cloudsync.cmd.verify',
                              'cloudsync.cmd.sync')}

    for module, result in results.items():
        assert result.returncode == 2, (module, result.stderr)
        assert result.stdout == ''
        assert 'configuration file %s does not exist' % missing in \
            result.stderr


def test_status_check_is_ok_for_the_healthy_mapping(ops):
    result = ops.status(ops.configs[0], '--check', '--mapping', 'healthy')

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith('CLOUDSYNC OK - 1 mapping, 1 container: '
                                    'no problem (%s) | ' % ops.configs[0])


def test_status_check_names_the_broken_mappings(ops):
    result = ops.status(ops.configs[0], '--check')

    assert result.returncode in (1, 2), result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith('CLOUDSYNC %s - ' % (
        'WARNING' if result.returncode == 1 else 'CRITICAL'))
    problems = ' '.join(lines[1:])
    assert 'badcreds AUTH_test/%s: ' % ops.containers['badcreds'] in \
        problems
    assert 'unreachable AUTH_test/%s: ' % ops.containers['unreachable'] in \
        problems
    assert 'healthy AUTH_test' not in problems
    assert 'not-the-key' not in result.stdout


def test_status_check_is_critical_when_the_daemon_stopped_long_ago(ops):
    result = ops.status(ops.configs[0], '--check', '--mapping', 'healthy',
                        '--stale-warning', '0', '--stale-critical', '0')

    assert result.returncode == 2
    assert 'is cloudsync-sync running on this node?' in result.stdout


def _run_in_a_terminal(args, timeout=300):
    """Run ``args`` with standard error on a pseudo-terminal; (exit
    status, what the terminal showed).
    """
    import pty
    import select
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        slave = None
        shown = b''
        while True:
            ready, _w, _x = select.select([master], [], [], timeout)
            if not ready:
                proc.kill()
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            shown += data
        return proc.wait(timeout), shown.decode('utf-8', 'replace')
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)


def test_sync_once_in_a_terminal_shows_progress_and_a_summary(
        aio, tmp_path, swift, bucket):
    container = unique_name('progress')
    swift.put_container(container)
    aio.ensure_container_replicas('AUTH_test', container)
    for n in range(5):
        swift.put_object(container, 'obj-%d' % n, b'x' * 1000)
    node = aio.state['nodes'][0]
    conf = tmp_path / 'node.conf'
    log = tmp_path / 'sync.log'
    options = aio_cloudsync.node_options(node, tmp_path)
    options.update(status_dir=tmp_path / 'status', log_file=log,
                   poll_interval=None)
    aio_cloudsync.write_conf(
        conf, aio.state,
        {'progress': {'container': container, 'bucket': bucket}},
        {'moto': aio_cloudsync.remote(aio.state, addressing_style='path')},
        **options)
    args = [sys.executable, '-m', 'cloudsync.cmd.sync', '--config-file',
            str(conf), '--once']

    code, shown = _run_in_a_terminal(args)
    quiet = subprocess.run(args, capture_output=True, text=True,
                           timeout=300)

    assert code == 0, shown
    lines = shown.splitlines()
    assert 'progress AUTH_test/%s: starting at row 0 of 5' % container in \
        lines
    done = [line for line in lines if line.startswith(
        'progress AUTH_test/%s: done in ' % container)]
    assert len(done) == 1, shown
    assert ', 5/5 rows (100%), ' in done[0]
    assert lines[-1].startswith('cloudsync-sync: pass done in ')
    assert ': 1 container, 5/5 rows, ' in lines[-1]
    assert lines[-1].endswith(' rows failed')
    assert quiet.returncode == 0
    assert quiet.stderr == ''
    assert log.exists()
