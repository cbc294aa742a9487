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
"""cloudsync-status reports the progress of migrations."""

import io
import json

from cloudsync.cmd import status as status_cmd
from cloudsync import conf as conf_mod
from cloudsync.migrate import objects
from cloudsync.migrate import state as state_mod

NOW = 1700000000.0


class Node(object):
    def __init__(self, tmp_path, mapping=False):
        self.status_dir = str(tmp_path / 'status')
        text = ('[DEFAULT]\nstatus_dir = %s\n\n'
                '[remote:aws]\nprovider = s3\naccess_key = a\n'
                'secret_key = s\n\n'
                '[migration:photos]\nremote = aws\nbucket = team-photos\n'
                'account = AUTH_test\ncontainer = photos\n' % self.status_dir)
        if mapping:
            text += ('\n[mapping:out]\naccount = AUTH_test\ncontainer = o\n'
                     'remote = aws\nbucket = b\n')
        self.conf_path = tmp_path / 'cloudsync.conf'
        self.conf_path.write_text(text)
        self.config = conf_mod.load_file(str(self.conf_path))
        self.migration = self.config.migrations[0]

    def progress(self, passes=1, copied=3, failed=0, current=None):
        state = state_mod.MigrationState.load(
            state_mod.state_path(self.status_dir, 'photos'), 'photos',
            self.migration.fingerprint(), now=NOW - 100)
        state.start('team-photos', 'photos', NOW - 100)
        for n in range(copied):
            state.record('team-photos', objects.Result(
                objects.COPIED, bytes=1024), 1024)
        for n in range(failed):
            state.record('team-photos', objects.Result(
                objects.FAILED, error='boom'), 10)
            state.fail('team-photos', 'bad-%d' % n, 'boom', NOW - 5)
        if passes:
            state.pass_done('team-photos', NOW - 50)
        if current is not None:
            state.start('team-photos', 'photos', NOW - 10)
            for n in range(current):
                state.record('team-photos', objects.Result(
                    objects.UNCHANGED), 1024)
            state.save(NOW)
        return state

    def run(self, *args):
        out = io.StringIO()
        code = status_cmd.run(['--config-file', str(self.conf_path)] +
                              list(args), stdout=out, clock=lambda: NOW)
        return code, out.getvalue()


def test_a_configuration_with_only_migrations_is_reported(tmp_path):
    node = Node(tmp_path)
    node.progress()
    code, out = node.run()
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ['MIGRATION', 'SOURCE', 'TARGET',
                                    'STATE']
    assert lines[1].split()[:6] == ['photos', 'aws:team-photos',
                                    'AUTH_test/photos', 'passed', '3/3',
                                    '0']


def test_a_pass_under_way_shows_left_rate_and_eta(tmp_path):
    node = Node(tmp_path)
    node.progress(copied=10, current=4)
    code, out = node.run('--format', 'json')
    assert code == 0
    bucket, = json.loads(out)['migrations'][0]['buckets']
    assert (bucket['state'], bucket['objects_done'], bucket['objects_total'],
            bucket['objects_left']) == ('migrating', 4, 10, 6)
    assert bucket['rate'] == 0.4 and bucket['eta'] == 15.0
    code, out = node.run()
    assert 'migrating' in out and '0.4/s' in out and '15s' in out


def test_failed_objects_are_listed_and_fail_the_exit_status(tmp_path):
    node = Node(tmp_path)
    node.progress(failed=2)
    code, out = node.run()
    assert code == status_cmd.EXIT_FAILING
    assert 'photos: 2 failed objects; latest:' in out
    assert 'team-photos/bad-1 (5s ago): boom' in out


def test_a_migration_not_started_says_so(tmp_path):
    node = Node(tmp_path, mapping=True)
    code, out = node.run()
    assert 'not-started' in out.split('MIGRATION')[1]


def test_watch_shows_a_progress_bar(tmp_path):
    node = Node(tmp_path)
    node.progress(copied=10, current=5)
    code, out = node.run('--watch', '--count', '1')
    assert '[##########..........]  50% 5/10 objects' in out
    assert 'ETA' in out


def test_the_progress_bar():
    assert status_cmd.progress_bar(1, 4, width=8) == '[##......]  25%'
    assert status_cmd.progress_bar(3, None, width=4) == '[????]'
    assert status_cmd.progress_bar(0, 0, width=4) == '[####] 100%'
