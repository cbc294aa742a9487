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
"""``cloudsync-sync --once`` in a terminal: progress per container."""

import io
import types

from swift.common import utils as swift_utils
from swift.container import backend

from cloudsync.cmd import sync as sync_cmd
from cloudsync.sync import crawler


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def a_pass(tmp_path, rows=10, last_row=0):
    path = str(tmp_path / 'c.db')
    broker = backend.ContainerBroker(path, account='AUTH_a', container='c')
    broker.initialize(swift_utils.Timestamp(1).internal, 0)
    for n in range(rows):
        broker.put_object('o%d' % n, swift_utils.Timestamp(2 + n).internal,
                          3, 'text/plain', 'etag')
    broker._commit_puts()
    mapping = types.SimpleNamespace(name='photos')
    db = types.SimpleNamespace(mapping=mapping, account='AUTH_a',
                               container='c', is_shard=False, path=path)
    return types.SimpleNamespace(
        db=db, result=crawler.PassResult(label='x'),
        status=types.SimpleNamespace(last_row=last_row))


def test_a_line_per_container_with_rows_objects_bytes_rate_and_eta(
        tmp_path):
    clock = Clock()
    out = io.StringIO()
    progress = sync_cmd.TerminalProgress(out, interval=5, clock=clock)
    container_pass = a_pass(tmp_path, rows=10, last_row=2)

    progress.started(container_pass)
    clock.now += 10
    container_pass.result.scanned = 4
    container_pass.result.copied = 3
    container_pass.result.bytes_copied = 3 * 1024 * 1024
    progress.tick()
    clock.now += 5
    container_pass.result.scanned = 8
    container_pass.result.copied = 7
    container_pass.result.failed = 1
    container_pass.result.bytes_copied = 7 * 1024 * 1024
    progress.finished(container_pass)
    progress.summary(1)

    assert out.getvalue().splitlines() == [
        'photos AUTH_a/c: starting at row 2 of 10',
        'photos AUTH_a/c: 6/10 rows (60%), 3 objects, 3.0 MiB copied, '
        '0.4 rows/s, 307.2 KiB/s, ETA 10s',
        'photos AUTH_a/c: done in 15s, 10/10 rows (100%), 7 objects, '
        '7.0 MiB copied, 1 failed',
        'cloudsync-sync: pass done in 15s: 1 container, 10/10 rows, '
        '7 objects, 7.0 MiB copied, 1 rows failed (exit status 1: '
        'cloudsync-status shows the failed rows)',
    ]


def test_nothing_is_shown_for_a_container_that_did_not_move(tmp_path):
    clock = Clock()
    out = io.StringIO()
    progress = sync_cmd.TerminalProgress(out, interval=5, clock=clock)
    container_pass = a_pass(tmp_path)
    progress.started(container_pass)

    clock.now += 2
    container_pass.result.scanned = 1
    progress.tick()
    clock.now += 10
    progress.tick()
    progress.tick()

    assert len(out.getvalue().splitlines()) == 2
