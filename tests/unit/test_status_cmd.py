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
"""cloudsync-status: backlog, lag and failures from the daemon's progress
files and the container databases, without contacting the remote."""

import io
import json
import os
import struct
import zlib

import pytest
from swift.common import utils as swift_utils
from swift.container import backend

from cloudsync.cmd import status as status_cmd
from cloudsync import conf as conf_mod
from cloudsync.ops import status_plot
from cloudsync.ops import status_report
from cloudsync.sync import status as status_mod

ACCOUNT = 'AUTH_test'
CONTAINER = 'photos'
NOW = 1700000000.0
DB_ID = 'abc123'


class Node:
    """A container database, the daemon's progress file and a config."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.status_dir = str(tmp_path / 'status')
        self.conf_path = tmp_path / 'cloudsync.conf'
        self.conf_path.write_text(
            '[DEFAULT]\nstatus_dir = %s\nswift_dir = %s\n\n'
            '[remote:aws]\nprovider = s3\naccess_key = a\nsecret_key = s\n\n'
            '[mapping:photos]\naccount = %s\ncontainer = %s\nremote = aws\n'
            'bucket = b\n\n'
            '[mapping:idle]\naccount = %s\ncontainer = idle\nremote = aws\n'
            'bucket = b\n' % (self.status_dir, tmp_path / 'no-swift',
                              ACCOUNT, CONTAINER, ACCOUNT))
        self.config = conf_mod.load_file(str(self.conf_path))
        self.mapping = self.config.mappings[1]
        assert self.mapping.name == 'photos'
        self.db_path = str(tmp_path / 'db' / (DB_ID + '.db'))
        os.makedirs(os.path.dirname(self.db_path))
        self.broker = backend.ContainerBroker(
            self.db_path, account=ACCOUNT, container=CONTAINER)
        self.broker.initialize(swift_utils.Timestamp(NOW - 1000).internal,
                               0)
        self.status = status_mod.SyncStatus(
            status_mod.status_path(self.status_dir, 'photos', ACCOUNT,
                                   CONTAINER, DB_ID),
            self.mapping.fingerprint(),
            info={'mapping': 'photos', 'account': ACCOUNT,
                  'container': CONTAINER, 'db_path': self.db_path,
                  'db_id': DB_ID, 'node_index': 0, 'replicas': 3,
                  'shard': False},
            clock=lambda: NOW)

    def put(self, name, when, commit=True):
        self.broker.put_object(name, swift_utils.Timestamp(when).internal,
                               3, 'text/plain', 'etag')
        if commit:
            self.broker._commit_puts()
        return self.broker.get_max_row()

    def save(self, rows_behind=0, lag=0.0, **extra):
        self.status.start_pass()
        self.status.end_pass(rows_behind, lag, start=NOW - 5, handled=0,
                             failed=0, **extra)
        self.status.save()

    def run(self, *args, clock=lambda: NOW, sleep=None):
        out = io.StringIO()
        code = status_cmd.run(
            ['--config-file', str(self.conf_path)] + list(args), stdout=out,
            clock=clock, sleep=sleep or (lambda s: None))
        return code, out.getvalue()

    def collect(self):
        return {m.name: m for m in status_report.collect(self.config,
                                                         now=NOW)}


@pytest.fixture
def node(tmp_path):
    return Node(tmp_path)


def test_a_container_synced_to_its_last_row_is_in_sync(node):
    node.put('a', NOW - 100)
    node.status.last_row = node.put('b', NOW - 50)
    node.save()

    code, out = node.run()

    assert code == 0
    header, idle, photos = out.splitlines()[:3]
    assert header.split()[:3] == ['MAPPING', 'CONTAINER', 'STATE']
    assert idle.split()[:3] == ['idle', 'AUTH_test/idle', 'not-started']
    assert photos.split() == ['photos', 'AUTH_test/photos', 'in-sync',
                              '2/2', '0', '0s', '0', '0s', 'ago']


def test_rows_after_the_pointer_are_behind_with_their_age_as_lag(node):
    node.status.last_row = node.put('a', NOW - 100)
    node.put('b', NOW - 60)
    node.put('c', NOW - 10)
    node.save()

    c, = node.collect()['photos'].containers

    assert (c.state, c.rows_done, c.rows_total, c.rows_behind) == (
        'behind', 1, 3, 2)
    assert c.lag == pytest.approx(60, abs=0.01)


def test_rows_not_yet_merged_into_the_database_are_behind_too(node):
    node.status.last_row = node.put('a', NOW - 100)
    node.save()
    node.put('b', NOW - 30, commit=False)
    assert os.path.getsize(node.db_path + '.pending') > 0

    c, = node.collect()['photos'].containers

    assert (c.rows_total, c.rows_behind, c.state) == (2, 1, 'behind')
    assert c.lag == pytest.approx(30, abs=0.01)


def test_failed_rows_make_the_mapping_fail_with_their_last_error(node):
    node.put('ok', NOW - 100)
    row = node.put('bad', NOW - 90)
    node.status.last_row = row
    node.status.record_failure('bad', row, 'PUT bkt/bad: 403 AccessDenied',
                               timestamp=NOW - 90)
    node.save()

    code, out = node.run()

    assert code == 1
    assert 'photos AUTH_test/photos: 1 failed rows; latest:' in out
    assert 'bad (row 2, 1 attempts, next try in 1m0s): PUT bkt/bad: 403 ' \
        'AccessDenied' in out
    c, = node.collect()['photos'].containers
    assert (c.state, c.rows_done, c.rows_behind) == ('failing', 1, 1)
    assert c.lag == pytest.approx(90, abs=0.01)


def test_rows_waiting_for_copy_after_are_behind_not_failing(node):
    row = node.put('young', NOW - 10)
    node.status.last_row = row
    node.status.postpone('young', row, 50, 'younger than copy_after',
                         timestamp=NOW - 10)
    node.save()

    code, _out = node.run()

    assert code == 0
    c, = node.collect()['photos'].containers
    assert (c.state, c.rows_behind, c.failed) == ('behind', 1, [])


def test_a_pass_that_could_not_reach_the_remote_is_failing(node):
    node.put('a', NOW - 100)
    node.save(rows_behind=1, lag=100, error='connection refused')

    code, out = node.run()

    assert code == 1
    assert 'photos AUTH_test/photos: last pass: connection refused' in out


def test_a_changed_mapping_restarts_from_row_zero(node):
    node.status.last_row = node.put('a', NOW - 100)
    node.status.fingerprint = dict(node.status.fingerprint, bucket='old')
    node.status.data['fingerprint'] = node.status.fingerprint
    node.save()

    c, = node.collect()['photos'].containers

    assert (c.rows_done, c.rows_behind) == (0, 1)
    assert 'restarts it from row 0' in c.databases[0].notes[0]


def test_a_mapping_without_progress_is_not_started(node):
    code, out = node.run('--mapping', 'idle')

    assert code == 0
    assert out.splitlines()[1].split()[:3] == [
        'idle', 'AUTH_test/idle', 'not-started']


def test_json_has_every_figure_per_mapping_container_and_database(node):
    node.status.last_row = node.put('a', NOW - 100)
    node.put('b', NOW - 20)
    node.save(rows_behind=1, lag=20)

    code, out = node.run('--format', 'json', '--mapping', 'photos')

    assert code == 0
    data = json.loads(out)
    mapping, = data['mappings']
    assert mapping['mapping'] == 'photos'
    assert (mapping['state'], mapping['rows_total'], mapping['rows_done'],
            mapping['rows_behind'], mapping['failed_rows']) == (
        'behind', 2, 1, 1, 0)
    container, = mapping['containers']
    db, = container['databases']
    assert db['db_id'] == DB_ID
    assert db['history'][-1]['rows_behind'] == 1


def test_an_unknown_mapping_is_a_usage_error(node, capsys):
    code, _out = node.run('--mapping', 'nope')

    assert code == 2
    assert 'no enabled mapping named nope' in capsys.readouterr().err


def test_the_status_command_never_writes_the_database(node):
    node.status.last_row = node.put('a', NOW - 100)
    node.put('b', NOW - 20, commit=False)
    node.save()
    before = {p: os.stat(p).st_mtime_ns for p in (
        node.db_path, node.db_path + '.pending')}

    node.run()

    assert before == {p: os.stat(p).st_mtime_ns for p in before}


def test_watch_reports_progress_rate_and_time_left(node):
    rows = [node.put('o%d' % i, NOW - 100 + i) for i in range(10)]
    node.status.last_row = rows[1]
    node.save()
    clock = [NOW]

    def sleep(_seconds):
        clock[0] += 10
        node.status.last_row = rows[5]
        node.save()

    code, out = node.run('--mapping', 'photos', '--watch', '--count', '2',
                         '--interval', '10', clock=lambda: clock[0],
                         sleep=sleep)

    first, second = out.splitlines()
    assert 'photos AUTH_test/photos: 2/10 rows (20.0%)' in first
    assert 'photos AUTH_test/photos: 6/10 rows (60.0%), 0.4 rows/s, ' \
        'ETA 10s' in second
    assert code == 0


def read_png(data):
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    pos, chunks = 8, {}
    while pos < len(data):
        length, = struct.unpack('>I', data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        chunks.setdefault(kind, b'')
        chunks[kind] += data[pos + 8:pos + 8 + length]
        crc, = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + data[pos + 8:pos + 8 + length])
        pos += 12 + length
    width, height = struct.unpack('>II', chunks[b'IHDR'][:8])
    pixels = zlib.decompress(chunks[b'IDAT'])
    assert len(pixels) == height * (1 + 3 * width)
    return width, height, pixels


def test_plot_writes_a_png_of_the_recorded_passes(node, tmp_path):
    node.put('a', NOW - 100)
    for n in range(5):
        node.status.end_pass(5 - n, 100.0 - n * 20, start=NOW - 10)
    node.save()
    target = tmp_path / 'lag.png'

    code, _out = node.run('--plot', str(target))

    assert code == 0
    width, height, pixels = read_png(target.read_bytes())
    assert (width, height) == (status_plot.WIDTH, status_plot.HEIGHT)
    first_color = bytes(status_plot.PALETTE[0])
    assert first_color in pixels


def test_history_adds_up_databases_at_each_pass():
    def db(entries):
        return status_report.DatabaseStatus('m', 'a', 'c', 'x',
                                            history=entries)

    mapping = status_report.MappingStatus('m', 'a', '*', 'r', 'b', [
        status_report.ContainerStatus('m', 'a', 'c1', [db([
            {'end': 10, 'rows_behind': 5, 'lag': 3},
            {'end': 30, 'rows_behind': 1, 'lag': 1}])]),
        status_report.ContainerStatus('m', 'a', 'c2', [db([
            {'end': 20, 'rows_behind': 7, 'lag': 9}])]),
    ])

    assert status_report.history(mapping) == [
        (10.0, 5, 3.0), (20.0, 12, 9.0), (30.0, 8, 9.0)]


def test_an_empty_history_still_plots():
    width, height, _pixels = read_png(status_plot.render([], now=NOW))

    assert (width, height) == (status_plot.WIDTH, status_plot.HEIGHT)


def test_ctrl_c_before_the_first_watch_report_exits_130(node, monkeypatch):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt()

    monkeypatch.setattr(status_report, 'collect', interrupted)

    code, out = node.run('--watch')

    assert (code, out) == (status_cmd.EXIT_INTERRUPTED, '')
    assert status_cmd.EXIT_INTERRUPTED == 130


def test_ctrl_c_after_a_watch_report_exits_with_its_status(node):
    node.status.last_row = node.put('a', NOW - 100)
    node.save()

    def sleep(_seconds):
        raise KeyboardInterrupt()

    code, out = node.run('--mapping', 'photos', '--watch', sleep=sleep)

    assert code == 0
    assert 'photos AUTH_test/photos: 1/1 rows' in out


def _unreadable_database_with_a_failed_row(node):
    row = node.put('bad', NOW - 90)
    node.status.last_row = row
    node.status.record_failure('bad', row, 'PUT bkt/bad: 503',
                               timestamp=NOW - 90)
    node.save()
    with open(node.db_path, 'wb') as f:
        f.write(b'not a database' * 100)


def test_lag_is_unknown_in_the_table_when_the_database_is_unreadable(node):
    _unreadable_database_with_a_failed_row(node)

    code, out = node.run('--mapping', 'photos')

    assert code == 1
    photos = out.splitlines()[1].split()
    assert photos[:7] == ['photos', 'AUTH_test/photos', 'failing', '0/?',
                          '?', '?', '1']
    assert 'cannot read the database' in out


def test_lag_is_null_in_json_when_the_database_is_unreadable(node):
    _unreadable_database_with_a_failed_row(node)

    _code, out = node.run('--format', 'json', '--mapping', 'photos')

    mapping, = json.loads(out)['mappings']
    container, = mapping['containers']
    db, = container['databases']
    assert (mapping['rows_behind'], container['rows_behind'],
            db['rows_behind']) == (None, None, None)
    assert (mapping['lag'], container['lag'], db['lag']) == (
        None, None, None)
    assert mapping['failed_rows'] == 1


def test_progress_of_another_database_counts_as_none(node):
    node.put('a', NOW - 100)
    row = node.put('b', NOW - 60)
    node.status.check_database('id-of-the-deleted-container')
    node.status.last_row = row
    node.status.record_failure('b', row, 'PUT bkt/b: 503',
                               timestamp=NOW - 60)
    node.save()

    code, out = node.run('--mapping', 'photos')

    c, = node.collect()['photos'].containers
    assert (c.state, c.rows_done, c.rows_total, c.rows_behind,
            c.failed) == ('behind', 0, 2, 2, [])
    assert c.lag == pytest.approx(100, abs=0.01)
    note = ('the progress file is that of another database '
            '(id-of-the-deleted-container, now %s'
            % node.broker.get_info()['id'])
    assert note in c.databases[0].notes[0]
    assert 'the daemon restarts it from row 0' in out
    assert code == 0


def test_progress_of_this_database_counts(node):
    node.put('a', NOW - 100)
    row = node.put('b', NOW - 60)
    node.status.check_database(node.broker.get_info()['id'])
    node.status.last_row = row
    node.save()

    c, = node.collect()['photos'].containers

    assert (c.state, c.rows_done, c.rows_behind) == ('in-sync', 2, 0)
    assert c.databases[0].notes == []


# -- --check, for monitoring -------------------------------------------------

def test_the_table_says_which_configuration_it_read(node):
    node.status.last_row = node.put('a', NOW - 100)
    node.save()

    _code, out = node.run()

    assert out.splitlines()[-1] == (
        'Configuration: %s; progress files: %s' % (node.conf_path,
                                                   node.status_dir))


def test_check_of_a_container_in_sync_is_ok(node):
    node.status.last_row = node.put('a', NOW - 100)
    node.save()

    code, out = node.run('--check', '--mapping', 'photos')

    assert code == 0
    first, = out.splitlines()
    assert first.startswith('CLOUDSYNC OK - 1 mapping, 1 container: no '
                            'problem (%s) | rows_behind=0 failed_rows=0;'
                            '1;10 lag=0s;3600;21600' % node.conf_path)


def test_check_warns_of_failed_rows_then_is_critical(node):
    rows = [node.put('bad%d' % n, NOW - 90) for n in range(3)]
    node.status.last_row = rows[-1]
    for n, row in enumerate(rows):
        node.status.record_failure('bad%d' % n, row, '403 AccessDenied',
                                   timestamp=NOW - 90)
    node.save()

    warning = node.run('--check', '--mapping', 'photos')
    critical = node.run('--check', '--mapping', 'photos',
                        '--failed-critical', '3')

    assert warning[0] == 1
    assert warning[1].splitlines()[0].startswith('CLOUDSYNC WARNING - 1 '
                                                 'problem in 1 mapping')
    assert warning[1].splitlines()[1] == (
        'WARNING: photos AUTH_test/photos: 3 failed rows (warning at 1, '
        'critical at 10); latest error: 403 AccessDenied')
    assert critical[0] == 2
    assert critical[1].startswith('CLOUDSYNC CRITICAL - ')


def test_check_is_critical_when_the_last_pass_could_not_reach_the_remote(
        node):
    node.put('a', NOW - 100)
    node.save(rows_behind=1, lag=100, error='connection refused')

    code, out = node.run('--check', '--mapping', 'photos')

    assert code == 2
    assert 'CRITICAL: photos AUTH_test/photos: last pass: connection ' \
           'refused' in out.splitlines()


def test_check_measures_lag_beyond_copy_after(node):
    node.put('a', NOW - 100)
    node.status.last_row = node.put('b', NOW - 7200)
    node.put('c', NOW - 5000)
    node.save()

    code, out = node.run('--check', '--mapping', 'photos',
                         '--lag-warning', '4000', '--lag-critical', '9000')

    assert code == 1
    assert ('WARNING: photos AUTH_test/photos: lag 1h23m, 1 rows behind '
            '(warning at 1h6m, critical at 2h30m)') in out.splitlines()


def test_check_warns_then_is_critical_when_progress_is_stale(node):
    node.status.last_row = node.put('a', NOW - 100)
    node.save()

    later = node.run('--check', '--mapping', 'photos',
                     clock=lambda: NOW + 1900)
    much_later = node.run('--check', '--mapping', 'photos',
                          clock=lambda: NOW + 7300)

    assert later[0] == 1
    assert ('WARNING: photos AUTH_test/photos: no progress recorded for '
            '31m40s (warning at 30m0s, critical at 2h0m): is cloudsync-sync '
            'running on this node?') in later[1].splitlines()
    assert much_later[0] == 2


def test_check_warns_of_a_mapping_never_synced(node):
    code, out = node.run('--check', '--mapping', 'idle')

    assert code == 1
    assert out.splitlines()[1] == (
        'WARNING: idle AUTH_test/idle: no pass recorded yet: is '
        'cloudsync-sync running on this node?')
