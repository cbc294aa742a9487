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
"""cloudsync-verify: a mapping's remote is proven step by step, and a
container is compared with its remote copy without changing anything."""

import io
import json

import pytest
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync.cmd import verify as verify_cmd
from cloudsync import exceptions
from cloudsync import lifecycle
from cloudsync.ops import verify
from cloudsync import registry
from cloudsync.sync import propagate
from tests.unit import fakes

ACCOUNT = 'AUTH_test'
CONTAINER = 'photos'
BUCKET = 'bkt'
SECRET = 'very-secret-key'


def make_mapping(**options):
    return fakes.make_mapping(name='photos', account=ACCOUNT,
                              container=CONTAINER, bucket=BUCKET,
                              **options)


class World:
    """A local cluster, a remote, and the daemon's way of copying."""

    def __init__(self, **options):
        self.swift = fakes.FakeSwift()
        self.ic = fakes.FakeInternalClient(self.swift)
        self.provider = fakes.FakeProvider()
        self.provider.buckets[BUCKET] = {}
        self.mapping = make_mapping(**options)
        self.swift.create_container(ACCOUNT, CONTAINER)
        self.layout = self.mapping.remote_layout(CONTAINER)

    def put(self, name, body=b'data', headers=None, **kwargs):
        return self.swift.put(ACCOUNT, CONTAINER, name, body, headers,
                              **kwargs)

    def sync(self, name):
        """Copy ``name`` the way the daemon does."""
        record = self.swift.objects[(ACCOUNT, CONTAINER, name)]
        row = lifecycle.Row(
            name=name, row_id=1, timestamp=record.data_timestamp,
            meta_timestamp=record.meta_timestamp, size=len(record.body),
            etag=record.etag, content_type=record.content_type)
        propagate.RowPropagator(
            self.mapping, ACCOUNT, CONTAINER, self.provider, self.ic,
        ).handle(row, lifecycle.Decision(lifecycle.Action.COPY))

    def remote(self, name):
        return self.provider.buckets[BUCKET][self.layout.object_key(name)]

    def compare(self, **kwargs):
        kwargs.setdefault('details', True)
        self.provider.reset_calls()
        return verify.compare_container(self.mapping, CONTAINER,
                                        self.provider, self.ic, **kwargs)

    def check(self, **kwargs):
        return verify.check_mapping(self.mapping, provider=self.provider,
                                    **kwargs)


@pytest.fixture
def world():
    return World()


def lines(results):
    return [r.line() for r in results]


# -- checking a remote ------------------------------------------------------

def test_a_working_remote_passes_every_step_and_keeps_nothing(world):
    results = world.check()

    assert [(r.step, r.ok) for r in results] == [
        ('target', True), ('list', True), ('write', True), ('read', True),
        ('metadata', True), ('delete', True)]
    assert world.provider.buckets[BUCKET] == {}


def test_the_probe_is_written_under_the_mappings_key_prefix(world):
    world.check()

    put_key = next(key for op, key in world.provider.calls
                   if op == 'put_object')
    assert put_key.startswith(world.layout.listing_prefix() +
                              verify.PROBE_PREFIX)


def test_a_missing_bucket_fails_at_target_with_the_remotes_answer(world):
    del world.provider.buckets[BUCKET]

    results = world.check()

    assert lines(results) == [
        'mapping photos: target: FAILED: remote fake bucket bkt: '
        'remote fake: bucket bkt does not exist (404)']


def test_refused_writes_fail_at_write_and_nothing_else_runs(world):
    world.provider.fail('put_object', exceptions.AuthError(
        'PUT bkt/key: 403 AccessDenied', status=403, code='AccessDenied'))

    results = world.check()

    assert [(r.step, r.ok) for r in results][-1] == ('write', False)
    assert results[-1].line().endswith('PUT bkt/key: 403 AccessDenied')
    assert world.provider.count('delete_object') == 0


def test_a_failed_metadata_update_still_deletes_the_probe(world):
    world.provider.fail('update_metadata', exceptions.NotSupported(
        'POST not implemented', status=501))

    results = world.check()

    assert [(r.step, r.ok) for r in results][-2:] == [
        ('metadata', False), ('delete', True)]
    assert world.provider.buckets[BUCKET] == {}


def test_read_only_reads_an_existing_object_and_writes_nothing(world):
    world.put('a', b'abc')
    world.sync('a')
    world.provider.reset_calls()

    results = world.check(read_only=True)

    assert [(r.step, r.ok) for r in results] == [
        ('target', True), ('list', True), ('head', True), ('read', True)]
    assert not {'put_object', 'delete_object', 'update_metadata'} & set(
        world.provider.counts())


def test_read_only_on_an_empty_prefix_says_what_is_not_proven(world):
    results = world.check(read_only=True)

    assert [(r.step, r.ok) for r in results][2:] == [
        ('head', None), ('read', None)]
    assert 'HEAD and GET are not proven' in results[2].line()


def test_an_unreachable_remote_fails_with_one_line(world):
    world.provider.fail('check_target', exceptions.Unavailable(
        'HEAD bkt: connection refused'))

    results = world.check()

    assert lines(results) == [
        'mapping photos: target: FAILED: remote fake bucket bkt: HEAD bkt: '
        'connection refused']


# -- comparing --------------------------------------------------------------

def test_a_synced_container_compares_clean_from_listings_alone(world):
    for name in ('a', 'b/c', 'unicodé ✓'):
        world.put(name, name.encode('utf-8'))
        world.sync(name)

    result = world.compare()

    assert (result.local, result.remote, result.in_sync) == (3, 3, 3)
    assert result.clean
    assert world.provider.count('head_object') == 0
    assert result.details == []


def test_missing_differing_and_remote_only_objects_are_listed(world):
    for name in ('same', 'changed', 'gone-locally'):
        world.put(name, b'v1')
        world.sync(name)
    world.put('changed', b'v2 longer')
    world.put('new', b'n')
    world.swift.delete(ACCOUNT, CONTAINER, 'gone-locally')

    result = world.compare()

    assert (result.in_sync, result.missing, result.differing,
            result.only_remote) == (1, 1, 1, 1)
    assert not result.clean
    assert [(d.kind, d.name) for d in result.details] == [
        ('differing', 'changed'), ('only_remote', 'gone-locally'),
        ('missing', 'new')]
    assert 'size 9 locally, 2 remotely' in result.details[0].reason


def test_same_size_other_bytes_differ_by_etag(world):
    world.put('x', b'aaaa')
    world.sync('x')
    world.put('x', b'bbbb')

    result = world.compare()

    diff, = result.details
    assert diff.kind == 'differing'
    assert diff.reason.startswith('ETag ')


def test_an_slo_is_compared_with_its_swift_etag_not_the_multipart_one(
        world):
    world.provider.MIN_PART_SIZE = 4
    world.put('seg/1', b'1111')
    world.put('seg/2', b'22')
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big',
                        ['%s/seg/1' % CONTAINER, '%s/seg/2' % CONTAINER])
    for name in ('seg/1', 'seg/2', 'big'):
        world.sync(name)
    assert world.remote('big').etag.endswith('-2')

    result = world.compare()

    assert result.clean
    assert result.in_sync == 3


def test_an_slo_whose_remote_copy_is_another_version_differs(world):
    world.provider.MIN_PART_SIZE = 4
    world.put('seg/1', b'1111')
    world.put('seg/2', b'22')
    world.put('seg/3', b'33')
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big',
                        ['%s/seg/1' % CONTAINER, '%s/seg/2' % CONTAINER])
    for name in ('seg/1', 'seg/2', 'seg/3', 'big'):
        world.sync(name)
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big',
                        ['%s/seg/1' % CONTAINER, '%s/seg/3' % CONTAINER])

    result = world.compare()

    diff, = result.details
    assert (diff.kind, diff.name) == ('differing', 'big')
    assert diff.reason.startswith('SLO ETag ')


def test_deep_compares_metadata_and_content_type(world):
    world.put('m', b'x', {'X-Object-Meta-Color': 'blue'})
    world.put('t', b'y', content_type='text/plain')
    world.sync('m')
    world.sync('t')
    world.swift.post(ACCOUNT, CONTAINER, 'm', {'X-Object-Meta-Color': 'red'})
    world.swift.post(ACCOUNT, CONTAINER, 't', {'Content-Type': 'text/html'})

    shallow = world.compare()
    deep = world.compare(deep=True)

    assert shallow.clean
    assert {(d.name, d.reason) for d in deep.details} == {
        ('m', 'user metadata differs'),
        ('t', "content type 'text/html' locally, 'text/plain' remotely")}


def answer_head(world, name, headers=None):
    """Swift's proxy answers 404 to a HEAD of ``name`` (with ``headers``).

    As when the replicas that hold it cannot be reached.
    """
    def hook(req):
        if req.method == 'HEAD' and req.obj == name:
            return swob.HTTPNotFound(headers=headers or {})
    world.swift.hooks.append(hook)


def test_deep_reports_an_object_swift_cannot_read_as_unreadable(world):
    world.put('x', b'x')
    world.sync('x')
    answer_head(world, 'x')

    result = world.compare(deep=True)

    assert (result.in_sync, result.unreadable) == (0, 1)
    assert not result.clean
    diff, = result.details
    assert (diff.kind, diff.name) == ('unreadable', 'x')
    assert diff.reason.startswith('could not be read locally')
    assert result.summary().endswith(', 1 could not be read locally')


def test_a_tombstone_older_than_the_listed_version_is_not_a_delete(world):
    world.put('x', b'x', timestamp=swift_utils.Timestamp(1700000100))
    world.sync('x')
    answer_head(world, 'x', {'X-Backend-Timestamp': swift_utils.Timestamp(
        1700000050).internal})

    result = world.compare(deep=True)

    assert result.unreadable == 1


def test_an_object_deleted_since_the_listing_is_gone(world):
    world.put('x', b'x', timestamp=swift_utils.Timestamp(1700000100))
    world.sync('x')
    answer_head(world, 'x', {'X-Backend-Timestamp': swift_utils.Timestamp(
        1700000200).internal})

    result = world.compare(deep=True)

    assert (result.in_sync, result.unreadable) == (1, 0)
    assert result.clean


def test_selection_cannot_be_applied_to_an_unreadable_object(world):
    world.mapping = make_mapping(
        selection_criteria={'x-object-meta-sync': 'yes'})
    world.put('x', b'x', {'X-Object-Meta-Sync': 'no'})
    answer_head(world, 'x')

    result = world.compare()

    assert (result.missing, result.excluded, result.unreadable) == (0, 0, 1)
    assert not result.clean


def test_excluded_objects_are_not_missing(world):
    world.mapping = make_mapping(exclude_pattern='^tmp/')
    world.put('tmp/x')

    result = world.compare()

    assert (result.missing, result.excluded) == (0, 1)
    assert result.clean


def test_archived_objects_show_as_only_remote(world):
    world.mapping = make_mapping(archive=True)
    world.put('old')
    world.sync('old')
    world.swift.delete(ACCOUNT, CONTAINER, 'old')

    result = world.compare()

    assert result.only_remote == 1
    assert result.clean
    assert result.summary().endswith('1 only remotely (archived)')


def test_manifests_kept_beside_objects_are_not_objects(world):
    world.mapping = make_mapping(layout='native')
    world.layout = world.mapping.remote_layout(CONTAINER)
    world.provider.MIN_PART_SIZE = 4
    world.put('seg/1', b'1111')
    world.put('seg/2', b'22')
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big',
                        ['%s/seg/1' % CONTAINER, '%s/seg/2' % CONTAINER])
    for name in ('seg/1', 'seg/2', 'big'):
        world.sync(name)

    result = world.compare()

    assert (result.remote, result.only_remote) == (3, 0)


def test_comparing_a_missing_container_says_so(world):
    with pytest.raises(exceptions.NotFound):
        verify.compare_container(world.mapping, 'nope', world.provider,
                                 world.ic)


def test_nothing_is_changed_by_a_comparison(world):
    world.put('a')
    world.put('b')
    world.sync('a')
    before = len(world.swift.requests)

    world.compare(deep=True)

    assert {op for op, _ in world.provider.calls} <= {
        'list_objects', 'head_object'}
    assert {r.method for r in world.swift.requests[before:]} <= {
        'GET', 'HEAD'}


# -- the command ------------------------------------------------------------

class SharedFake(fakes.FakeProvider):
    """A fake remote whose instances share one store (per test)."""

    store = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buckets = SharedFake.store


@pytest.fixture
def cli(tmp_path):
    ns = registry._namespace(registry.PROVIDERS)
    ns.plugins['shared-fake'] = SharedFake
    SharedFake.store = {BUCKET: {}}
    path = tmp_path / 'cloudsync.conf'
    path.write_text(
        '[DEFAULT]\nstatus_dir = %s\n\n'
        '[remote:fake]\nprovider = shared-fake\naccess_key = me\n'
        'secret_key = %s\n\n'
        '[mapping:photos]\naccount = %s\ncontainer = %s\nremote = fake\n'
        'bucket = %s\n\n'
        '[mapping:other]\naccount = %s\ncontainer = other\nremote = fake\n'
        'bucket = missing-bucket\n' % (
            tmp_path, SECRET, ACCOUNT, CONTAINER, BUCKET, ACCOUNT))
    swift = fakes.FakeSwift()
    swift.create_container(ACCOUNT, CONTAINER)

    def run(*args):
        out = io.StringIO()
        code = verify_cmd.run(['--config-file', str(path)] + list(args),
                              stdout=out,
                              internal_client=fakes.FakeInternalClient(
                                  swift))
        return code, out.getvalue()

    run.swift = swift
    yield run
    ns.plugins.pop('shared-fake', None)


def test_cli_checks_each_mapping_and_fails_on_the_broken_one(cli):
    code, out = cli()

    assert code == 1
    assert 'mapping photos: delete: ok' in out
    assert ('mapping other: target: FAILED: remote fake bucket '
            'missing-bucket: remote fake: bucket missing-bucket does not '
            'exist (404)') in out
    assert SECRET not in out


def test_cli_selects_a_mapping(cli):
    code, out = cli('--mapping', 'photos')

    assert code == 0
    assert 'mapping other' not in out


def test_cli_unknown_mapping_is_a_usage_error(cli, capsys):
    code, _out = cli('--mapping', 'nope')

    assert code == 2
    err = capsys.readouterr().err
    assert 'no enabled mapping named nope in ' in err
    assert 'cloudsync.conf; mappings: other, photos' in err


def test_cli_compare_lists_what_is_not_in_sync(cli):
    cli.swift.put(ACCOUNT, CONTAINER, 'only-here', b'x')

    code, out = cli('--mapping', 'photos', '--compare', '--list')

    assert code == 1
    assert '0 in sync, 1 missing remotely, 0 differing' in out
    assert '  missing     only-here' in out


def test_cli_compare_as_json(cli):
    code, out = cli('--mapping', 'photos', '--compare', '--format', 'json')

    assert code == 0
    report = json.loads(out)
    assert report['ok'] is True
    assert report['comparisons'][0]['container'] == CONTAINER
