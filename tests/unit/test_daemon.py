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

import json
import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from cloudsync import concurrency
from cloudsync.sync import daemon as daemon_mod
from cloudsync.sync import stats as stats_mod
from tests.unit import crawler_fakes as fakes


@pytest.fixture
def restore_signals():
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def make_daemon(node, stop=None):
    stop = stop if stop is not None else concurrency.StopFlag()
    node.crawler = node.make_crawler(stop=stop)
    return daemon_mod.SyncDaemon(node.config, crawler=node.crawler,
                                 stop=stop, clock=node.clock)


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_ask_the_daemon_to_stop(restore_signals, sig):
    stop = concurrency.StopFlag()
    daemon_mod.install_signal_handlers(stop)
    os.kill(os.getpid(), sig)
    assert stop.is_set() and stop.reason == signal.Signals(sig).name


def test_sigterm_lets_rows_in_flight_finish_then_saves_and_exits_0(
        tmp_path, restore_signals):
    node = fakes.Node(tmp_path, options={'items_chunk': 10, 'workers': 3})
    for i in range(10):
        node.put('o%d' % i)
    stop = concurrency.StopFlag()
    daemon = make_daemon(node, stop)
    daemon_mod.install_signal_handlers(stop)
    finished = []

    def slow(row):
        if len(node.handled) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        concurrency.sleep(0.05)   # the copy takes a while
        finished.append(row.name)
    node.on_handle = slow

    assert daemon_mod.run(daemon, once=False) == daemon_mod.EXIT_OK
    assert sorted(finished) == sorted(node.handled_names())
    assert 2 <= len(finished) < 10
    assert node.status().last_row == len(finished)


def test_the_wait_for_rows_in_flight_is_bounded(tmp_path):
    node = fakes.Node(tmp_path)
    node.put('stuck')
    stop = concurrency.StopFlag()
    daemon = make_daemon(node, stop)

    def hang(row):
        stop.set('SIGTERM')
        concurrency.sleep(3600)
    node.on_handle = hang
    assert daemon_mod.run(daemon, once=False, grace=0.3) == \
        daemon_mod.EXIT_OK
    assert node.status().last_row == 0


def test_once_exits_0_when_every_row_synced(tmp_path):
    node = fakes.Node(tmp_path)
    for i in range(7):
        node.put('o%d' % i)
    assert make_daemon(node).run_once() == daemon_mod.EXIT_OK
    assert len(node.handled) == 7


def test_once_covers_every_chunk_despite_container_pass_time(tmp_path):
    node = fakes.Node(tmp_path, options={'items_chunk': 1,
                                         'container_pass_time': 1})

    def tick(row):
        node.clock.now += 5
    node.on_handle = tick
    for i in range(5):
        node.put('o%d' % i)
    make_daemon(node).run_once()
    assert len(node.handled) == 5


def test_once_exits_non_zero_when_a_row_failed(tmp_path):
    node = fakes.Node(tmp_path)
    node.put('ok')
    node.put('bad')
    node.script['bad'] = fakes.RowFailed('403 AccessDenied')
    assert make_daemon(node).run_once() == daemon_mod.EXIT_FAILED_ROWS


def test_once_retries_earlier_failures_without_waiting_for_backoff(
        tmp_path):
    node = fakes.Node(tmp_path)   # retry_interval = 10
    node.put('bad')
    node.script['bad'] = [fakes.RowFailed('403 AccessDenied'),
                          fakes.RowFailed('403 AccessDenied'),
                          fakes.Outcome.COPIED]
    assert make_daemon(node).run_once() == daemon_mod.EXIT_FAILED_ROWS
    # run again at once (from cron, after fixing the bucket policy)
    assert make_daemon(node).run_once() == daemon_mod.EXIT_FAILED_ROWS
    assert make_daemon(node).run_once() == daemon_mod.EXIT_OK
    assert node.handled_names() == ['bad', 'bad', 'bad']
    assert node.status().failed == {}


def test_once_exits_0_when_rows_only_wait_for_copy_after(tmp_path):
    node = fakes.Node(tmp_path, mapping_options={'copy_after': 3600})
    node.put('young', when=node.clock.now - 1)
    assert make_daemon(node).run_once() == daemon_mod.EXIT_OK
    assert node.handled == []


def test_each_pass_reports_rows_behind_and_lag_per_mapping(tmp_path):
    node = fakes.Node(tmp_path, mapping_options={'copy_after': 600})
    node.put('old', when=node.clock.now - 3600)
    node.put('young', when=node.clock.now - 100)
    daemon = make_daemon(node)
    daemon.run_pass()
    totals = node.crawler.stats(node.mapping).totals
    assert totals['rows_behind'] == 1
    assert totals['lag_seconds'] == 100


class ListingClient(fakes.NoCluster):
    """Lists the account's containers, for a wildcard mapping."""

    def __init__(self, containers):
        self.containers = containers

    def make_request(self, method, path, headers, acceptable_statuses):
        class Resp:
            status_int = 200
        resp = Resp()
        first_page = path.endswith('marker=')
        resp.body = json.dumps([{'name': c} for c in self.containers]
                               if first_page else []).encode()
        return resp


def test_a_long_row_does_not_hold_back_the_other_containers(tmp_path):
    node = fakes.Node(tmp_path, options={'container_pass_time': 0.2},
                      mapping_options={'container': '*'})
    stop = concurrency.StopFlag()
    node.crawler = node.make_crawler(
        internal_client=ListingClient(['big', 'small']), stop=stop)
    daemon = daemon_mod.SyncDaemon(node.config, crawler=node.crawler,
                                   stop=stop, clock=node.clock)
    node.put('huge', broker=node.broker(container='big'))
    node.put('s1', broker=node.broker(container='small'))
    copied = concurrency.Event()

    def slow(row):
        if row.name == 'huge':
            copied.wait()      # a copy of hours
    node.on_handle = slow

    def only_big_left():
        # NOTE(cloudsync): the pass returned after container_pass_time of
        # real time; on a loaded machine the small container's crawl may
        # still be finishing then, and a pass skips a busy database.
        while len(daemon._crawling) > 1:
            concurrency.sleep(0.01)

    with concurrency.Timeout(10):
        daemon.run_pass()
        only_big_left()
        node.put('s2', broker=node.broker(container='small'))
        daemon.run_pass()
        only_big_left()
    assert sorted(node.handled_names()) == ['huge', 's1', 's2']

    copied.send()
    daemon.wait_for_crawls()
    node.put('h2', broker=node.broker(container='big'))
    daemon.run_pass()
    assert node.handled_names()[-1] == 'h2'


def test_the_daemon_loop_polls_until_stopped(tmp_path):
    node = fakes.Node(tmp_path, options={'poll_interval': 0.01})
    stop = concurrency.StopFlag()
    daemon = make_daemon(node, stop)
    passes = []
    real = daemon.run_pass

    def counting_pass(once=False):
        passes.append(1)
        if len(passes) == 3:
            stop.set()
        return real(once)
    daemon.run_pass = counting_pass
    assert daemon.run_forever() == daemon_mod.EXIT_OK
    assert len(passes) == 3


def test_a_failing_mapping_does_not_stop_the_others(tmp_path):
    node = fakes.Node(tmp_path)
    node.put('o')
    daemon = make_daemon(node)
    real = node.crawler.find_dbs
    calls = []

    def flaky(mapping):
        calls.append(mapping.name)
        if len(calls) == 1:
            raise RuntimeError('ring unreadable')
        return real(mapping)
    node.crawler.find_dbs = flaky
    assert daemon.run_once() == daemon_mod.EXIT_FAILED_ROWS
    assert daemon.run_once() == daemon_mod.EXIT_OK
    assert node.handled_names() == ['o']


# -- the command ------------------------------------------------------------

BAD_CONFIG = """
[DEFAULT]
workers = many

[remote:r]
provider = s3
endpoint = ftp://nowhere

[mapping:m]
account = AUTH_test
remote = missing
bucket = b
"""


def test_a_bad_configuration_exits_2_listing_every_problem(tmp_path,
                                                           capsys):
    path = tmp_path / 'bad.conf'
    path.write_text(BAD_CONFIG)
    code = daemon_mod.main(['--config-file', str(path)])
    err = capsys.readouterr().err
    assert code == daemon_mod.EXIT_CONFIG
    assert '[DEFAULT] workers' in err
    assert '[remote:r] endpoint' in err
    assert '[mapping:m] container: missing' in err
    assert '[mapping:m] remote' in err


def test_a_missing_configuration_file_exits_2(tmp_path, capsys):
    code = daemon_mod.main(['--config-file', str(tmp_path / 'nope.conf')])
    assert code == daemon_mod.EXIT_CONFIG
    assert 'nope.conf' in capsys.readouterr().err


def test_the_command_exits_2_on_a_bad_configuration(tmp_path):
    path = tmp_path / 'bad.conf'
    path.write_text(BAD_CONFIG)
    # NOTE: next to the interpreter running the tests first (a virtualenv
    # used without activating it), then on PATH.
    command = os.path.join(os.path.dirname(sys.executable), 'cloudsync-sync')
    if not os.path.exists(command):
        command = shutil.which('cloudsync-sync')
    assert command, 'the cloudsync-sync console script is not installed'
    proc = subprocess.run(
        [command, '--config-file', str(path),
         '--once'], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert '[DEFAULT] workers' in proc.stderr


NODE_CONFIG = """
[DEFAULT]
swift_dir = %(swift_dir)s
devices = %(devices)s
status_dir = %(status_dir)s

[remote:r]
provider = s3
endpoint = http://127.0.0.1:1
access_key = a
secret_key = s

[mapping:m]
account = AUTH_test
container = c
remote = r
bucket = b
"""


def node_config(tmp_path, swift_files=('swift.conf', 'container.ring.gz'),
                devices=True, status_dir=None):
    swift_dir = tmp_path / 'swift'
    swift_dir.mkdir()
    for name in swift_files:
        (swift_dir / name).write_bytes(b'')
    if devices:
        (tmp_path / 'node').mkdir()
    path = tmp_path / 'cloudsync.conf'
    path.write_text(NODE_CONFIG % {
        'swift_dir': swift_dir, 'devices': tmp_path / 'node',
        'status_dir': status_dir or tmp_path / 'status' / 'sub'})
    return str(path)


def test_a_node_without_its_swift_files_exits_2_before_starting(
        tmp_path, capsys, monkeypatch):
    started = []
    monkeypatch.setattr(daemon_mod, 'run',
                        lambda *args, **kwargs: started.append(args))
    path = node_config(tmp_path, swift_files=(), devices=False)
    code = daemon_mod.main(['--config-file', path, '--once'])
    err = capsys.readouterr().err
    assert code == daemon_mod.EXIT_CONFIG
    assert not started
    assert 'the configuration has errors' in err
    assert '[DEFAULT] swift_dir: %s has no swift.conf' % (
        tmp_path / 'swift') in err
    assert '[DEFAULT] swift_dir: %s has no container.ring.gz' % (
        tmp_path / 'swift') in err
    assert '[DEFAULT] devices: %s is not a directory' % (
        tmp_path / 'node') in err


def test_a_missing_container_ring_alone_exits_2(tmp_path, capsys,
                                                monkeypatch):
    monkeypatch.setattr(daemon_mod, 'run', lambda *args, **kwargs: 0)
    path = node_config(tmp_path, swift_files=('swift.conf',))
    assert daemon_mod.main(['--config-file', path, '--once']) == \
        daemon_mod.EXIT_CONFIG
    err = capsys.readouterr().err
    assert 'container.ring.gz' in err and 'swift.conf' not in err


def test_a_status_dir_that_cannot_be_created_exits_2(tmp_path, capsys,
                                                     monkeypatch):
    monkeypatch.setattr(daemon_mod, 'run', lambda *args, **kwargs: 0)
    blocker = tmp_path / 'a-file'
    blocker.write_text('')
    path = node_config(tmp_path, status_dir=blocker / 'status')
    assert daemon_mod.main(['--config-file', path, '--once']) == \
        daemon_mod.EXIT_CONFIG
    assert '[DEFAULT] status_dir: cannot create %s' % (
        blocker / 'status') in capsys.readouterr().err


def test_a_status_dir_that_cannot_be_written_is_a_problem(tmp_path,
                                                          monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, 'Permission denied')
    monkeypatch.setattr(daemon_mod.tempfile, 'TemporaryFile', refuse)
    (tmp_path / 'status').mkdir()
    assert daemon_mod._writable_dir(str(tmp_path / 'status')) == \
        'cannot write in %s: Permission denied' % (tmp_path / 'status')


def test_a_ready_node_starts_and_its_status_dir_is_created(
        tmp_path, capsys, monkeypatch):
    started = []
    monkeypatch.setattr(daemon_mod, 'install_signal_handlers',
                        lambda stop: None)
    monkeypatch.setattr(daemon_mod.local, 'use_swift_dir', lambda d: None)
    monkeypatch.setattr(daemon_mod, 'run',
                        lambda daemon, once: started.append(once) or 0)
    monkeypatch.setattr(daemon_mod, 'SyncDaemon',
                        lambda config, stop: object())
    path = node_config(tmp_path)
    assert daemon_mod.main(['--config-file', path, '--once']) == 0
    assert started == [True]
    assert (tmp_path / 'status' / 'sub').is_dir()
    assert list((tmp_path / 'status' / 'sub').iterdir()) == []


def test_the_module_entry_point_is_the_command():
    proc = subprocess.run(
        [sys.executable, '-m', 'cloudsync.cmd.sync', '--help'],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert '--once' in proc.stdout and '--config-file' in proc.stdout


# -- metrics ------------------------------------------------------------------

class Conf:
    statsd_host = '127.0.0.1'
    statsd_prefix = 'cloudsync'

    def __init__(self, port):
        self.statsd_port = port


def test_metrics_follow_swift_statsd_conventions_per_mapping():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('127.0.0.1', 0))
    sock.settimeout(5)
    try:
        stats = stats_mod.make_stats(Conf(sock.getsockname()[1]),
                                     'team.photos')
        stats.increment('copied_objects')
        stats.increment('bytes', 1024)
        stats.gauge('rows_behind', 12)
        stats.timing('pass', 1.5)
        lines = [sock.recv(1024).decode() for _ in range(4)]
    finally:
        sock.close()
    assert lines == ['cloudsync.team_photos.copied_objects:1|c',
                     'cloudsync.team_photos.bytes:1024|c',
                     'cloudsync.team_photos.rows_behind:12|g',
                     'cloudsync.team_photos.pass:1.5|ms']
    assert stats.totals == {'copied_objects': 1, 'bytes': 1024,
                            'rows_behind': 12}


def test_no_statsd_host_means_no_metrics_sent():
    class NoHost(Conf):
        statsd_host = None
    stats = stats_mod.make_stats(NoHost(8125), 'm')
    assert isinstance(stats, stats_mod.NullStats)
    stats.increment('copied_objects')
    assert stats.totals == {'copied_objects': 1}


# -- looks between passes (change_check_interval) ---------------------------

def watching_daemon(tmp_path, options=None, clock=None):
    options = dict({'poll_interval': 300}, **(options or {}))
    node = fakes.Node(tmp_path, options=options)
    stop = concurrency.StopFlag()
    node.crawler = node.make_crawler(stop=stop)
    daemon = daemon_mod.SyncDaemon(node.config, crawler=node.crawler,
                                   stop=stop, clock=clock or node.clock)
    return node, daemon


@pytest.mark.parametrize('merged', [False, True],
                         ids=['pending', 'merged'])
def test_a_changed_database_is_crawled_before_the_next_pass(
        tmp_path, merged):
    node, daemon = watching_daemon(tmp_path)
    node.put('first')
    daemon.run_pass()
    node.put('late')          # appended to the .pending file
    if merged:
        node.broker().get_info()  # the container server merges .pending
        assert os.path.getsize(node.dbs()[0].path + '.pending') == 0
    assert daemon.check_changes() == 1
    daemon.wait_for_crawls()
    assert node.handled_names() == ['first', 'late']


def test_an_unchanged_database_is_not_crawled(tmp_path):
    node, daemon = watching_daemon(tmp_path)
    node.put('o')
    daemon.run_pass()
    # NOTE: the pass merged .pending itself: that is no change
    made = len(node.made)
    assert daemon.check_changes() == 0
    assert daemon.check_changes() == 0
    assert len(node.made) == made
    assert node.handled_names() == ['o']


def test_a_database_that_keeps_changing_is_crawled_again(tmp_path):
    node, daemon = watching_daemon(tmp_path)
    node.put('first')
    daemon.run_pass()
    node.put('a')

    def more(row):
        if row.name == 'a':
            node.put('b')     # arrives while 'a' is being copied
    node.on_handle = more
    assert daemon.check_changes() == 1
    assert daemon.check_changes() == 0      # still being crawled
    daemon.wait_for_crawls()
    # 'b' came in while 'a' was copied: crawled again once the database
    # stands still (or BUSY_INTERVAL after the last crawl began)
    assert daemon.check_changes() == 0
    assert daemon.check_changes() == 1
    daemon.wait_for_crawls()
    assert node.handled_names() == ['first', 'a', 'b']
    assert daemon.check_changes() == 0


def test_a_steady_stream_of_writes_is_crawled_in_batches(tmp_path,
                                                         monkeypatch):
    node, daemon = watching_daemon(tmp_path)
    node.put('first')
    daemon.run_pass()
    node.put('a')
    assert daemon.check_changes() == 1      # quiet until now: at once

    def more(row):
        if row.name == 'a':
            node.put('b')     # rows keep coming while 'a' is copied
    node.on_handle = more
    daemon.wait_for_crawls()
    monkeypatch.setattr(daemon_mod, 'BUSY_INTERVAL', 3600)
    node.put('c')
    assert daemon.check_changes() == 0      # still changing: wait
    node.put('d')
    assert daemon.check_changes() == 0
    assert daemon.check_changes() == 0      # stood still for one look
    assert daemon.check_changes() == 1      # and another: crawl
    daemon.wait_for_crawls()
    assert node.handled_names() == ['first', 'a', 'b', 'c', 'd']

    def again(row):
        if row.name == 'e':
            node.put('f')
    node.on_handle = again
    node.put('e')
    assert daemon.check_changes() == 1      # quiet again until now
    daemon.wait_for_crawls()
    monkeypatch.setattr(daemon_mod, 'BUSY_INTERVAL', 0)
    node.put('g')
    assert daemon.check_changes() == 1      # BUSY_INTERVAL is over
    daemon.wait_for_crawls()
    assert node.handled_names()[-3:] == ['e', 'f', 'g']


def test_a_deleted_database_is_crawled_once_and_then_left(tmp_path):
    node, daemon = watching_daemon(tmp_path)
    node.put('o')
    daemon.run_pass()
    path = node.dbs()[0].path
    os.unlink(path)
    os.unlink(path + '.pending')
    assert daemon.check_changes() == 1
    daemon.wait_for_crawls()
    assert daemon.check_changes() == 0
    assert node.handled_names() == ['o']


def test_the_looks_wait_for_a_pass_to_find_the_databases(tmp_path):
    node, daemon = watching_daemon(tmp_path)
    node.put('o')
    assert daemon.check_changes() == 0
    assert node.handled == []


def test_a_change_check_interval_of_0_only_waits(tmp_path):
    import time
    node, daemon = watching_daemon(
        tmp_path, options={'change_check_interval': 0}, clock=time.time)
    looks = []
    daemon.check_changes = lambda: looks.append(1)
    daemon.wait_for_next_pass(time.time() + 0.3)
    assert looks == []
    node, daemon = watching_daemon(
        tmp_path / 'on', options={'change_check_interval': 0.05},
        clock=time.time)
    daemon.check_changes = lambda: looks.append(1)
    daemon.wait_for_next_pass(time.time() + 0.3)
    assert 2 <= len(looks) <= 6


def test_a_running_daemon_copies_a_change_long_before_poll_interval(
        tmp_path):
    node, daemon = watching_daemon(
        tmp_path, options={'change_check_interval': 0.01})
    node.put('first')
    thread = concurrency.spawn(daemon.run_forever)
    try:
        with concurrency.Timeout(10):
            while node.handled_names() != ['first']:
                concurrency.sleep(0.01)
            node.put('second')
            while node.handled_names() != ['first', 'second']:
                concurrency.sleep(0.01)
    finally:
        daemon.stop.set()
        assert thread.wait() == daemon_mod.EXIT_OK


def test_a_failed_look_does_not_stop_the_daemon(tmp_path):
    import time
    node, daemon = watching_daemon(
        tmp_path, options={'change_check_interval': 0.01}, clock=time.time)
    looks = []

    def broken():
        looks.append(1)
        raise OSError('stat failed')
    daemon.check_changes = broken
    daemon.wait_for_next_pass(time.time() + 0.2)
    assert len(looks) >= 2
