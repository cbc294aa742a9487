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
"""``cloudsync-status`` lists the cold restores the shunt asked for, from
the markers it records in Swift, never asking the remote."""

import io
import json

import pytest

from cloudsync.cmd import status as status_cmd
from cloudsync import stubs
from tests.unit import fakes

ACCOUNT = 'AUTH_test'
NOW = 1700000000.0


class Node:
    """A configuration with a mapping the shunt serves, and a Swift
    holding restore markers.
    """

    def __init__(self, tmp_path):
        self.conf_path = tmp_path / 'cloudsync.conf'
        self.conf_path.write_text(
            '[DEFAULT]\nstatus_dir = %s\nswift_dir = %s\n\n'
            '[remote:aws]\nprovider = s3\naccess_key = a\nsecret_key = s\n'
            'storage_class = GLACIER\n\n'
            '[mapping:cold]\naccount = %s\ncontainer = cold\nremote = aws\n'
            'bucket = b\nlifecycle = archive\narchive_as = stub\n\n'
            '[mapping:other]\naccount = %s\ncontainer = other\n'
            'remote = aws\nbucket = b\nlifecycle = archive\n'
            'archive_as = stub\n' % (
                tmp_path / 'status', tmp_path / 'no-swift', ACCOUNT,
                ACCOUNT))
        self.swift = fakes.FakeSwift()
        self.built = []

    def mark(self, container, obj, asked_at, tier='Standard', days=1):
        c, name = stubs.restore_marker(ACCOUNT, container, obj)
        headers = stubs.restore_marker_headers(
            'aws', 'b', 'key/' + obj, tier, days, asked_at)
        self.swift.put(stubs.RESTORES_ACCOUNT, c, name, b'', headers,
                       content_type=headers['Content-Type'])

    def client(self, config):
        self.built.append(config)
        return fakes.FakeInternalClient(self.swift)

    def run(self, *args, make_client=None):
        out = io.StringIO()
        code = status_cmd.run(
            ['--config-file', str(self.conf_path)] + list(args), stdout=out,
            clock=lambda: NOW, sleep=lambda s: None,
            make_client=make_client or self.client)
        return code, out.getvalue()


@pytest.fixture
def node(tmp_path):
    node = Node(tmp_path)
    # NOTE: FakeSwift lists no account: list the hidden one as Swift would.
    node.swift.__class__ = AccountListingSwift
    return node


class AccountListingSwift(fakes.FakeSwift):
    def __call__(self, env, start_response):
        from swift.common import swob
        req = swob.Request(env)
        if req.path_info.rstrip('/').count('/') == 2:
            account = swob.wsgi_to_str(req.path_info.rstrip('/')
                                       .split('/')[2])
            marker = swob.wsgi_to_str(req.params.get('marker', ''))
            names = sorted(c for a, c in self.containers
                           if a == account and c > marker)
            return swob.Response(request=req, body=json.dumps(
                [{'name': n} for n in names]).encode(),
                content_type='application/json')(env, start_response)
        return super().__call__(env, start_response)


def test_pending_restores_are_listed_with_when_age_and_tier(node):
    node.mark('cold', 'photo.jpg', NOW - 3600, tier='Bulk')
    node.mark('cold', 'dir/ünï ☃', NOW - 120)

    code, out = node.run()

    assert code == 0
    lines = out.splitlines()
    start = lines.index('Pending cold restores (2):')
    assert lines[start + 1].split() == ['OBJECT', 'ASKED', 'AT', 'AGE',
                                        'TIER']
    assert lines[start + 2].split() == [
        'AUTH_test/cold/photo.jpg', '2023-11-14', '21:13:20', 'UTC',
        '1h0m', 'Bulk']
    assert lines[start + 3].split()[-2:] == ['2m0s', 'Standard']
    assert lines[start + 3].startswith('AUTH_test/cold/dir/ünï ☃')


def test_pending_restores_in_json(node):
    node.mark('cold', 'photo.jpg', NOW - 60, days=2)

    code, out = node.run('--format', 'json')

    data = json.loads(out)
    assert data['pending_restores'] == [{
        'object': 'AUTH_test/cold/photo.jpg', 'asked_at': NOW - 60,
        'age': 60.0, 'tier': 'Standard', 'days': 2,
        'expires_at': NOW - 60 + 2 * 86400 + stubs.RESTORE_MARKER_MARGIN}]
    assert 'pending_restores_error' not in data


def test_nothing_is_printed_when_no_restore_is_pending(node):
    code, out = node.run()

    assert code == 0
    assert 'cold restores' not in out.lower()
    assert json.loads(node.run('--format', 'json')[1])[
        'pending_restores'] == []


def test_markers_past_their_expiry_are_not_listed(node):
    node.mark('cold', 'old', NOW - 10 * 86400)

    assert 'cold restores' not in node.run()[1].lower()


def test_only_the_mappings_asked_for(node):
    node.mark('cold', 'a', NOW - 60)
    node.mark('other', 'b', NOW - 60)

    _code, out = node.run('--mapping', 'other', '--format', 'json')

    assert [p['object'] for p in json.loads(out)['pending_restores']] == [
        'AUTH_test/other/b']


def test_status_works_without_the_internal_client(node):
    def cannot(config):
        raise OSError('no such file: /etc/swift/internal-client.conf')

    code, out = node.run(make_client=cannot)
    _code, js = node.run('--format', 'json', make_client=cannot)

    assert code == 0
    assert 'MAPPING' in out and 'Configuration:' in out
    assert 'Pending cold restores: not listed: the internal client to the ' \
        'local Swift cannot be built: no such file' in out
    data = json.loads(js)
    assert data['pending_restores'] == []
    assert 'cannot be built' in data['pending_restores_error']


def test_a_failed_listing_is_said_too(node):
    node.swift.hooks.append(lambda r: fakes.error_response(503))
    node.mark('cold', 'a', NOW - 60)

    code, out = node.run()

    assert code == 0
    assert 'Pending cold restores: not listed: cannot list the account ' \
        '.cloudsync_restores' in out


def test_no_client_is_built_without_a_mapping_the_shunt_serves(tmp_path):
    node = Node(tmp_path)
    node.conf_path.write_text(node.conf_path.read_text().replace(
        'lifecycle = archive\narchive_as = stub\n', 'lifecycle = sync\n'))

    code, out = node.run()

    assert node.built == []
    assert 'cold restores' not in out.lower()
