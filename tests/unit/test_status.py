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

import pytest

from cloudsync import log as log_mod
from cloudsync.sync import status as status_mod

FINGERPRINT = {'remote': 'aws', 'bucket': 'b', 'lifecycle': 'sync'}


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def path(tmp_path):
    return status_mod.status_path(str(tmp_path), 'photos', 'AUTH_test',
                                  'pics', 'abc123')


def load(path, clock, fingerprint=FINGERPRINT, **kwargs):
    return status_mod.SyncStatus.load(path, fingerprint, clock=clock,
                                      **kwargs)


def test_status_path_is_per_mapping_account_container_and_db(tmp_path):
    path = status_mod.status_path(str(tmp_path), 'photos', 'AUTH_test',
                                  'pics', 'abc123')
    assert path == os.path.join(str(tmp_path), 'photos', 'AUTH_test', 'pics',
                                'abc123.json')


@pytest.mark.parametrize('name', ['.', '..', '', 'x' * 300, 'a\x00b'])
def test_unusable_path_components_are_hashed(name):
    component = status_mod.path_component(name)
    assert component.startswith('_') and len(component) == 33


def test_unicode_names_are_kept_as_they_are():
    assert status_mod.path_component('caf\u00e9 \U0001f600') == \
        'caf\u00e9 \U0001f600'


def test_a_missing_file_starts_from_row_zero(path, clock):
    status = load(path, clock)
    assert (status.last_row, status.last_verified_row, status.failed) == \
        (0, 0, {})
    assert status.reset_reason is None


def test_progress_survives_a_reload(path, clock):
    status = load(path, clock)
    status.last_row = 42
    status.last_verified_row = 7
    status.record_failure('obj', 40, 'remote said 503')
    status.count('copied', 3)
    status.save()

    again = load(path, clock)
    assert (again.last_row, again.last_verified_row) == (42, 7)
    assert again.failed['obj']['row_id'] == 40
    assert again.failed['obj']['last_error'] == 'remote said 503'
    assert again.counters['copied'] == 3


def test_save_replaces_the_file_atomically(path, clock, monkeypatch):
    status = load(path, clock)
    status.last_row = 5
    status.save()
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((src, dst))
        with open(src) as f:
            assert json.load(f)['last_row'] == 6
        real_replace(src, dst)

    monkeypatch.setattr(os, 'replace', spy)
    status.last_row = 6
    status.save()
    assert len(replaced) == 1 and replaced[0][1] == path
    assert os.path.dirname(replaced[0][0]) == os.path.dirname(path)
    assert sorted(os.listdir(os.path.dirname(path))) == ['abc123.json']


def test_a_crash_while_writing_keeps_the_old_progress(path, clock,
                                                      monkeypatch):
    status = load(path, clock)
    status.last_row = 5
    status.save()

    def crash(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', crash)
    status.last_row = 6
    with pytest.raises(OSError):
        status.save()
    monkeypatch.undo()
    assert load(path, clock).last_row == 5


@pytest.mark.parametrize('content', [
    '{"last_row": 12', 'null', '[]', '{"last_row": "x", '
    '"last_verified_row": 0}', '{"last_row": 3, "last_verified_row": 0, '
    '"failed": {"o": 1}}'])
def test_a_corrupt_file_is_moved_aside_and_progress_restarts(
        path, clock, content):
    os.makedirs(os.path.dirname(path))
    with open(path, 'w') as f:
        f.write(content)

    status = load(path, clock)
    assert status.last_row == 0
    assert status.reset_reason == 'corrupt status file'
    assert not os.path.exists(path)
    with open(path + '.corrupt.1000') as f:
        assert f.read() == content


def test_a_changed_mapping_restarts_from_row_zero(path, clock):
    status = load(path, clock)
    status.last_row = 100
    status.last_verified_row = 80
    status.record_failure('obj', 50, 'boom')
    status.save()

    changed = dict(FINGERPRINT, bucket='other-bucket')
    status = load(path, clock, fingerprint=changed)
    assert (status.last_row, status.last_verified_row, status.failed) == \
        (0, 0, {})
    assert status.reset_reason == 'mapping changed'
    status.save()
    assert load(path, clock, fingerprint=changed).reset_reason is None


def test_failed_rows_back_off_exponentially_up_to_the_maximum(path, clock):
    status = load(path, clock, retry_interval=10, retry_interval_max=60)
    waits = []
    for _ in range(5):
        status.record_failure('obj', 3, 'boom')
        waits.append(status.failed['obj']['next_try'] - clock.now)
    assert waits == [10, 20, 40, 60, 60]
    assert status.failed['obj']['attempts'] == 5


def test_a_retry_after_from_the_failure_wins_over_the_backoff(path, clock):
    status = load(path, clock, retry_interval=10)
    status.record_failure('obj', 3, 'slow down', retry_after=2)
    assert status.failed['obj']['next_try'] == clock.now + 2


def test_only_rows_whose_time_has_come_are_due(path, clock):
    status = load(path, clock, retry_interval=10)
    status.record_failure('late', 1, 'x')
    status.record_failure('early', 2, 'x', retry_after=0)
    assert [n for n, _e in status.due_failures()] == ['early']
    clock.now += 10
    assert [n for n, _e in status.due_failures()] == ['early', 'late']


def test_the_failed_set_is_bounded_and_says_so(path, clock):
    status = load(path, clock, max_failed=2)
    assert status.record_failure('a', 1, 'x')
    assert status.record_failure('b', 2, 'x')
    assert status.failed_full
    assert not status.record_failure('c', 3, 'x')
    assert sorted(status.failed) == ['a', 'b']
    # a row already in the set is still updated
    assert status.record_failure('a', 4, 'y')
    assert status.failed['a']['row_id'] == 4


def test_postponing_does_not_count_an_attempt(path, clock):
    status = load(path, clock)
    status.postpone('obj', 3, 30, 'younger than copy_after')
    assert status.failed['obj']['attempts'] == 0
    assert status.failed['obj']['next_try'] == clock.now + 30


def test_history_is_bounded(path, clock):
    status = load(path, clock, history_size=3)
    for n in range(5):
        status.start_pass()
        status.end_pass(rows_behind=n, lag=float(n))
    assert [h['rows_behind'] for h in status.data['history']] == [2, 3, 4]
    assert status.data['last_pass_end'] == clock.now


def test_the_error_text_is_bounded(path, clock):
    status = load(path, clock)
    status.record_failure('obj', 1, 'x' * 10000)
    assert len(status.failed['obj']['last_error']) == \
        status_mod.MAX_ERROR_LENGTH


def test_a_secret_in_an_error_never_reaches_the_file(path, clock):
    # NOTE: the daemon's log hides the remotes' secrets; the status file,
    # shown by cloudsync-status, must too.
    log_mod.add_secrets(['s3cr3t-in-a-status-test'])
    status = load(path, clock)
    status.record_failure('o', 1, 'auth failed: s3cr3t-in-a-status-test')
    status.end_pass(1, 0.0, error='remote said s3cr3t-in-a-status-test')
    status.save()
    with open(path) as f:
        text = f.read()
    assert 's3cr3t' not in text
    assert load(path, clock).failed['o']['last_error'] == 'auth failed: ***'


def test_a_long_error_keeps_its_beginning_and_what_is_wrong(path, clock):
    status = load(path, clock)
    status.record_failure('l' * 1000, 1, 'mapping m: AUTH_test/c/%s: the '
                          'key is 1032 bytes long' % ('l' * 1000))
    error = status.failed['l' * 1000]['last_error']
    assert len(error) == status_mod.MAX_ERROR_LENGTH
    assert error.startswith('mapping m: AUTH_test/c/lll')
    assert error.endswith('the key is 1032 bytes long')


# -- one write per short pass -----------------------------------------------

def count_writes(monkeypatch):
    writes = []
    real = status_mod.write_atomically

    def counting(path, data):
        writes.append(data['last_row'])
        return real(path, data)
    monkeypatch.setattr(status_mod, 'write_atomically', counting)
    return writes


def test_a_pass_with_nothing_to_retry_writes_its_progress_once(
        tmp_path, monkeypatch):
    from tests.unit import crawler_fakes as fakes
    node = fakes.Node(tmp_path)   # items_chunk = 3; the clock stands still
    for i in range(30):
        node.put('o%02d' % i)
    writes = count_writes(monkeypatch)
    node.crawl()
    assert len(node.handled) == 30
    assert writes == [30]
    node.put('one more')
    node.crawl()
    assert writes == [30, 31]
    assert node.status().last_row == 31


def test_a_pass_with_rows_to_retry_writes_at_every_save(tmp_path,
                                                        monkeypatch):
    from tests.unit import crawler_fakes as fakes
    node = fakes.Node(tmp_path)
    for i in range(9):
        node.put('o%d' % i)
    node.script['o1'] = fakes.RowFailed('503 SlowDown')
    writes = count_writes(monkeypatch)
    node.crawl()
    assert len(writes) > 1
    assert writes[-1] == 9
    assert list(node.status().failed) == ['o1']


def test_a_long_pass_writes_its_progress_every_second(tmp_path,
                                                      monkeypatch):
    from tests.unit import crawler_fakes as fakes
    node = fakes.Node(tmp_path)

    def tick(row):
        node.clock.now += 0.4
    node.on_handle = tick
    for i in range(30):
        node.put('o%02d' % i)
    writes = count_writes(monkeypatch)
    node.crawl()
    # a crash repeats at most a second of work
    assert 5 <= len(writes) <= 15
    assert writes == sorted(writes) and writes[-1] == 30


def test_saves_during_a_pass_wait_for_its_end(tmp_path):
    clock = Clock()
    path = str(tmp_path / 's.json')
    status = status_mod.SyncStatus(path, 'fp', clock=clock)
    assert status.save() is True        # not in a pass: written
    status.start_pass()
    status.last_row = 5
    assert status.save() is False
    assert status.unsaved
    assert status_mod.SyncStatus.load(path, 'fp').last_row == 0
    assert status.save(force=True) is True
    status.last_row = 6
    clock.now += status_mod.SAVE_INTERVAL
    assert status.save() is True        # a second later
    status.last_row = 7
    status.record_failure('x', 7, 'boom')
    assert status.save() is True        # a row to retry: every save
    status.clear_failure('x')
    status.end_pass(0, 0.0)
    assert status.save() is True
    assert status_mod.SyncStatus.load(path, 'fp').last_row == 7
