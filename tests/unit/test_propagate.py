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
"""How one container row becomes operations on the remote."""

import dataclasses
import hashlib
import json
import logging
import time

import pytest
from swift.common import exceptions as swift_exceptions
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import exceptions
from cloudsync import large_objects
from cloudsync import layout
from cloudsync import lifecycle
from cloudsync import metadata as md
from cloudsync import providers
from cloudsync.shunt import objects as shunt_object
from cloudsync.sync import propagate
from cloudsync.sync import remove
from cloudsync.sync import source as source_mod
from cloudsync.sync import stats as stats_mod
from tests.unit import fakes

ACCOUNT = 'AUTH_test'
CONTAINER = 'photos'
BUCKET = 'bkt'
COPY = lifecycle.Decision(lifecycle.Action.COPY)
ARCHIVE = lifecycle.Decision(lifecycle.Action.ARCHIVE)
REMOVE = lifecycle.Decision(lifecycle.Action.REMOVE_REMOTE)
Outcome = propagate.Outcome
KiB = 1024


def md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def make_mapping(**options):
    return fakes.make_mapping(name='photos-to-fake', account=ACCOUNT,
                              container=CONTAINER, bucket=BUCKET,
                              **options)


class World:
    """A local cluster, a remote and a propagator between them."""

    def __init__(self, provider_cls=fakes.FakeProvider, **options):
        self.swift = fakes.FakeSwift()
        self.ic = fakes.FakeInternalClient(self.swift)
        self.provider = provider_cls()
        self.provider.buckets[BUCKET] = {}
        self.stats = stats_mod.NullStats()
        self.mapping = make_mapping(**options)
        self.swift.create_container(ACCOUNT, CONTAINER)
        self.propagator = propagate.RowPropagator(
            self.mapping, ACCOUNT, CONTAINER, self.provider, self.ic,
            stats=self.stats)
        self.layout = self.mapping.remote_layout(CONTAINER)

    def put(self, name, body=b'data', headers=None, container=CONTAINER,
            **kwargs):
        return self.swift.put(ACCOUNT, container, name, body, headers,
                              **kwargs)

    def row(self, name, deleted=False, timestamp=None, container=CONTAINER):
        record = self.swift.objects[(ACCOUNT, container, name)]
        if isinstance(record, fakes.Tombstone):
            return lifecycle.Row(name=name, row_id=1,
                                 timestamp=record.timestamp,
                                 meta_timestamp=record.timestamp,
                                 deleted=True)
        content_type = record.content_type
        return lifecycle.Row(
            name=name, row_id=1,
            timestamp=timestamp or record.data_timestamp,
            meta_timestamp=timestamp or record.meta_timestamp,
            deleted=deleted, size=len(record.body), etag=record.etag,
            content_type=content_type,
            storage_policy_index=record.policy)

    def handle(self, name, decision=COPY):
        return self.propagator.handle(self.row(name), decision)

    def key(self, name):
        return self.layout.object_key(name)

    def remote(self, name):
        return self.provider.buckets[BUCKET].get(self.key(name))

    def remote_headers(self, name):
        return md.remote_to_swift(self.remote(name).metadata)

    def internal(self, name):
        return md.internal_values(self.remote(name).metadata)

    def small_parts(self, min_part=1 * KiB, max_part=None):
        self.provider.MIN_PART_SIZE = min_part
        if max_part:
            self.provider.MAX_PART_SIZE = max_part


@pytest.fixture
def world():
    return World()


@pytest.fixture
def streamed(monkeypatch):
    """Every object is read as a large one: a HEAD, then a GET."""
    monkeypatch.setattr(source_mod, 'SMALL_OBJECT_SIZE', -1)


# -- plain objects ----------------------------------------------------------

def test_a_new_object_costs_one_remote_put(world):
    world.put('a.jpg', b'jpeg bytes', {'X-Object-Meta-Color': 'Blue'},
              content_type='image/jpeg')
    assert world.handle('a.jpg') is Outcome.COPIED
    assert world.provider.counts() == {'head_object': 1, 'put_object': 1}
    stored = world.remote('a.jpg')
    assert stored.data == b'jpeg bytes'
    assert stored.etag == md5(b'jpeg bytes')
    assert stored.content_type == 'image/jpeg'
    assert world.remote_headers('a.jpg') == {'X-Object-Meta-Color': 'Blue'}
    record = world.swift.get(ACCOUNT, CONTAINER, 'a.jpg')
    assert world.internal('a.jpg') == {
        md.TIMESTAMP_KEY: record.meta_timestamp.internal,
        md.ETAG_KEY: md5(b'jpeg bytes')}
    assert world.stats.totals['copied_objects'] == 1
    assert world.stats.totals['bytes'] == len(b'jpeg bytes')


def test_every_local_request_bypasses_the_shunt_with_the_rows_policy(world):
    world.swift.create_container(ACCOUNT, 'gold', policy=1)
    world.swift.containers[(ACCOUNT, CONTAINER)]['policy'] = 1
    world.put('a')
    row = world.row('a')
    assert row.storage_policy_index == 1
    world.propagator.handle(row, COPY)
    requests = world.swift.requests_for(obj='a')
    assert [r.method for r in requests] == ['GET']
    for request in requests:
        assert request.headers['x-cloudsync-shunt-bypass'] == 'true'
        assert request.headers['x-backend-storage-policy-index'] == '1'


def test_one_replica_is_asked_when_it_has_the_rows_version(world, streamed):
    world.put('a')
    world.handle('a')
    requests = world.swift.requests_for(obj='a')
    assert [r.method for r in requests] == ['HEAD', 'GET']
    assert not any('x-newest' in r.headers for r in requests)
    assert requests[1].headers['if-match'] == '"%s"' % md5(b'data')


def test_every_replica_is_asked_when_one_answers_with_an_older_version(
        world, streamed):
    world.put('a', b'new')
    row = world.row('a')
    stale = swob.HTTPOk(headers={
        'X-Timestamp': swift_utils.Timestamp(1000).internal,
        'Etag': md5(b'old'), 'Content-Length': '3'})

    def stale_replica(request):
        if request.method == 'HEAD' and 'x-newest' not in request.headers:
            return stale
    world.swift.hooks.append(stale_replica)

    assert world.propagator.handle(row, COPY) is propagate.Outcome.COPIED
    heads = [r for r in world.swift.requests_for(obj='a')
             if r.method == 'HEAD']
    assert [r.headers.get('x-newest') for r in heads] == [None, 'true']
    assert world.remote('a').data == b'new'


def test_an_unchanged_object_sends_no_data(world):
    world.put('a', b'x' * 100, {'X-Object-Meta-K': 'v'})
    world.handle('a')
    world.provider.reset_calls()
    del world.swift.requests[:]
    assert world.handle('a') is Outcome.UNCHANGED
    assert world.provider.counts() == {'head_object': 1}
    assert [r.method for r in world.swift.requests] == ['GET']


def test_a_different_object_is_uploaded_again(world):
    world.put('a', b'old')
    world.handle('a')
    world.put('a', b'new')
    assert world.handle('a') is Outcome.COPIED
    assert world.remote('a').data == b'new'


def test_a_post_updates_remote_metadata_without_data(world):
    world.put('a', b'data', {'X-Object-Meta-K': 'old'})
    world.handle('a')
    world.swift.post(ACCOUNT, CONTAINER, 'a', {'X-Object-Meta-K': 'new',
                                               'X-Object-Meta-Two': '2'})
    row = world.row('a')
    assert row.meta_timestamp > row.timestamp
    world.provider.reset_calls()
    del world.swift.requests[:]
    assert world.propagator.handle(row, COPY) is Outcome.METADATA_UPDATED
    assert world.provider.counts() == {'head_object': 1,
                                       'update_metadata': 1}
    # the one GET that stands for the HEAD; its body is dropped
    assert [r.method for r in world.swift.requests] == ['GET']
    assert world.remote_headers('a') == {'X-Object-Meta-K': 'new',
                                         'X-Object-Meta-Two': '2'}
    assert world.internal('a')[md.TIMESTAMP_KEY] == \
        row.meta_timestamp.internal
    assert world.stats.totals['metadata_updates'] == 1


def test_a_post_to_an_object_in_glacier_sends_it_again(world):
    world.put('a', b'data', {'X-Object-Meta-K': 'old'})
    world.handle('a')
    real = world.provider.head_object

    def head(bucket, key):
        info = real(bucket, key)
        info.storage_class = 'GLACIER'
        return info

    world.provider.head_object = head
    world.swift.post(ACCOUNT, CONTAINER, 'a', {'X-Object-Meta-K': 'new'})
    assert world.handle('a') is Outcome.COPIED
    assert world.provider.count('update_metadata') == 0
    assert world.remote_headers('a') == {'X-Object-Meta-K': 'new'}


def test_a_content_type_change_is_a_metadata_update(world):
    world.put('a', b'data', content_type='text/plain')
    world.handle('a')
    world.swift.post(ACCOUNT, CONTAINER, 'a',
                     {'Content-Type': 'text/html; charset=utf-8'})
    assert world.handle('a') is Outcome.METADATA_UPDATED
    assert world.remote('a').content_type == 'text/html; charset=utf-8'


def test_a_stale_replica_is_retried_not_uploaded(world):
    record = world.put('a', b'old data')
    row = world.row('a', timestamp=swift_utils.Timestamp(
        float(record.data_timestamp) + 10))
    with pytest.raises(propagate.RetryLater) as caught:
        world.propagator.handle(row, COPY)
    assert 'stale' in caught.value.reason
    assert world.provider.count('put_object') == 0
    assert world.remote('a') is None


def test_a_gone_local_object_waits_for_its_delete_row(world):
    # NOTE: the 404 carries the tombstone of a delete after the row.
    world.put('a')
    row = world.row('a')
    world.swift.delete(ACCOUNT, CONTAINER, 'a')
    assert world.propagator.handle(row, COPY) is Outcome.LOCAL_GONE
    assert world.provider.calls == []
    heads = world.swift.requests_for('HEAD', 'a')
    assert heads[-1].headers['x-newest'] == 'true'


def unreachable(world, name, tombstone=None):
    """A hook: the replicas holding ``name`` are unreachable, so the
    proxy answers 404 (with the tombstone a reachable replica has, if
    any).
    """
    def hook(request):
        if request.obj == name and request.method in ('HEAD', 'GET'):
            headers = {}
            if tombstone is not None:
                headers['X-Backend-Timestamp'] = tombstone.internal
            return swob.HTTPNotFound(headers=headers)
    world.swift.hooks.append(hook)
    return hook


def test_a_local_404_without_a_tombstone_is_retried_not_dropped(world):
    world.put('a', b'only on unreachable replicas')
    row = world.row('a')
    hook = unreachable(world, 'a')
    with pytest.raises(propagate.RetryLater) as caught:
        world.propagator.handle(row, COPY)
    assert 'unreachable' in caught.value.reason
    assert caught.value.retry_after is None
    assert world.provider.calls == []

    world.swift.hooks.remove(hook)
    assert world.propagator.handle(row, COPY) is Outcome.COPIED
    assert world.remote('a').data == b'only on unreachable replicas'


def test_a_local_404_with_a_tombstone_older_than_the_row_is_retried(world):
    # NOTE: a replica kept the tombstone of a delete before this PUT;
    # those that took the PUT do not answer.
    before = world.swift.timestamp()
    world.put('a')
    row = world.row('a')
    unreachable(world, 'a', tombstone=before)
    with pytest.raises(propagate.RetryLater):
        world.propagator.handle(row, COPY)
    assert world.provider.calls == []


def test_a_local_404_with_the_tombstone_of_a_later_delete_is_gone(world):
    world.put('a')
    row = world.row('a')
    unreachable(world, 'a', tombstone=world.swift.timestamp())
    assert world.propagator.handle(row, COPY) is Outcome.LOCAL_GONE


def test_a_local_404_older_than_a_post_in_the_row_is_retried(world):
    # NOTE: the row is of the POST; a tombstone between the PUT and the
    # POST cannot be a delete of the row's version.
    world.put('a')
    between = world.swift.timestamp()
    world.swift.post(ACCOUNT, CONTAINER, 'a', {'X-Object-Meta-K': 'v'})
    row = world.row('a')
    unreachable(world, 'a', tombstone=between)
    with pytest.raises(propagate.RetryLater):
        world.propagator.handle(row, COPY)


def test_excluded_and_unselected_objects_are_skipped():
    world = World(exclude_pattern=r'tmp/',
                  selection_criteria={'x-object-meta-sync': 'yes'})
    world.put('tmp/a', headers={'X-Object-Meta-Sync': 'yes'})
    world.put('b', headers={'X-Object-Meta-Sync': 'no'})
    world.put('c', headers={'X-Object-Meta-Sync': 'YES'})
    assert world.handle('tmp/a') is Outcome.SKIPPED
    assert world.handle('b') is Outcome.SKIPPED
    assert world.handle('c') is Outcome.COPIED
    assert world.provider.count('put_object') == 1


def test_a_newer_remote_copy_is_never_overwritten(world):
    record = world.put('a', b'old')
    newer = swift_utils.Timestamp(float(record.data_timestamp) + 100)
    world.provider.put_raw(BUCKET, world.key('a'), b'newer',
                           metadata={md.TIMESTAMP_KEY: newer.internal})
    assert world.handle('a') is Outcome.UNCHANGED
    assert world.remote('a').data == b'newer'
    assert world.provider.count('put_object') == 0


def test_same_bytes_from_an_older_version_refresh_the_timestamp(world):
    world.put('a', b'same')
    world.handle('a')
    world.put('a', b'same')
    assert world.handle('a') is Outcome.METADATA_UPDATED
    record = world.swift.get(ACCOUNT, CONTAINER, 'a')
    assert world.internal('a')[md.TIMESTAMP_KEY] == \
        record.data_timestamp.internal


def test_a_zero_byte_object(world):
    world.put('empty', b'')
    assert world.handle('empty') is Outcome.COPIED
    assert world.remote('empty').data == b''
    assert world.handle('empty') is Outcome.UNCHANGED


@pytest.mark.parametrize('name', [
    'caf\u00e9/\U0001f600 smile',
    '100% sure',
    'a%2Fb/c%20d',
    '/leading/and//double/slashes/',
    '\u65e5\u672c\u8a9e?x=1#frag',
])
def test_unicode_and_odd_names_round_trip(world, name):
    world.put(name, name.encode('utf-8'),
              {'X-Object-Meta-Name': name, 'X-Object-Meta-Emoji':
               '\U0001f680 r\u00e9sum\u00e9 100%'})
    assert world.handle(name) is Outcome.COPIED
    stored = world.remote(name)
    assert stored.data == name.encode('utf-8')
    assert world.remote_headers(name) == {
        'X-Object-Meta-Name': name,
        'X-Object-Meta-Emoji': '\U0001f680 r\u00e9sum\u00e9 100%'}
    assert world.handle(name) is Outcome.UNCHANGED


def test_ninety_metadata_headers(world):
    # NOTE: small values: the local store keeps metadata in ext4 xattrs
    # (about 4 KiB) and S3 allows 2 KiB of user metadata.
    headers = {'X-Object-Meta-K%02d' % i: 'v%d' % i for i in range(90)}
    world.put('many', b'x', headers)
    assert world.handle('many') is Outcome.COPIED
    assert world.remote_headers('many') == {
        k.title(): v for k, v in headers.items()}
    assert world.handle('many') is Outcome.UNCHANGED


def test_expiry_is_propagated_with_its_offset():
    world = World(propagate_expiration=True,
                  propagate_expiration_offset=60)
    world.put('a', headers={'X-Delete-At': '1900000000'})
    world.handle('a')
    assert world.internal('a')[md.DELETE_AT_KEY] == '1900000060'
    assert world.remote('a').expires_at == 1900000060
    assert world.handle('a') is Outcome.UNCHANGED


def test_expiry_is_not_propagated_by_default(world):
    world.put('a', headers={'X-Delete-At': '1900000000'})
    world.handle('a')
    assert md.DELETE_AT_KEY not in world.internal('a')


class ExpiringProvider(fakes.FakeProvider):
    """A remote with per-object expiry, kept by metadata updates unless
    they give a new one (as Swift's provider does).
    """

    UPDATE_METADATA_TAKES_EXPIRY = True

    def update_metadata(self, bucket, key, content_type=None, metadata=None,
                        expires_at=providers.KEEP_EXPIRY):
        super().update_metadata(bucket, key, content_type, metadata)
        if expires_at is not providers.KEEP_EXPIRY:
            self.buckets[bucket][key].expires_at = expires_at


def expiring_world(provider_cls=ExpiringProvider):
    world = World(propagate_expiration=True,
                  propagate_expiration_offset=60)
    world.provider = provider_cls()
    world.provider.buckets[BUCKET] = {}
    world.propagator = propagate.RowPropagator(
        world.mapping, ACCOUNT, CONTAINER, world.provider, world.ic)
    world.put('a', headers={'X-Delete-At': '1900000000',
                            'X-Object-Meta-K': 'v'})
    assert world.handle('a') is Outcome.COPIED
    assert world.remote('a').expires_at == 1900000060
    return world


def test_a_post_changing_the_expiry_changes_the_remote_one():
    world = expiring_world()
    world.swift.post(ACCOUNT, CONTAINER, 'a', {'X-Delete-At': '1900000500',
                                               'X-Object-Meta-K': 'v'})
    assert world.handle('a') is Outcome.METADATA_UPDATED
    assert world.provider.count('put_object') == 1
    assert world.remote('a').expires_at == 1900000560
    assert world.internal('a')[md.DELETE_AT_KEY] == '1900000560'
    assert world.handle('a') is Outcome.UNCHANGED


def test_a_post_removing_the_expiry_removes_the_remote_one():
    world = expiring_world()
    world.swift.post(ACCOUNT, CONTAINER, 'a', {'X-Object-Meta-K': 'v'})
    assert world.handle('a') is Outcome.METADATA_UPDATED
    assert world.remote('a').expires_at is None
    assert md.DELETE_AT_KEY not in world.internal('a')


def test_a_post_keeps_the_expiry_when_it_is_not_propagated(world):
    world.provider = ExpiringProvider()
    world.provider.buckets[BUCKET] = {}
    world.propagator = propagate.RowPropagator(
        world.mapping, ACCOUNT, CONTAINER, world.provider, world.ic)
    world.put('a', headers={'X-Object-Meta-K': 'v'})
    world.handle('a')
    world.remote('a').expires_at = 1900000000
    world.swift.post(ACCOUNT, CONTAINER, 'a', {'X-Object-Meta-K': 'new'})
    assert world.handle('a') is Outcome.METADATA_UPDATED
    assert world.remote('a').expires_at == 1900000000


def test_a_provider_without_expiry_updates_still_gets_metadata_updates():
    # NOTE: fakes.FakeProvider.update_metadata has the signature providers
    # had before expires_at.
    world = expiring_world(fakes.FakeProvider)
    world.swift.post(ACCOUNT, CONTAINER, 'a', {'X-Delete-At': '1900000500'})
    assert world.handle('a') is Outcome.METADATA_UPDATED
    assert world.internal('a')[md.DELETE_AT_KEY] == '1900000560'


def test_which_providers_take_an_expiry_with_metadata_updates():
    assert providers.takes_expiry(ExpiringProvider())
    assert not providers.takes_expiry(fakes.FakeProvider())

    class Open(fakes.FakeProvider):
        UPDATE_METADATA_TAKES_EXPIRY = True

        def update_metadata(self, bucket, key, **kwargs):
            pass
    assert providers.takes_expiry(Open())


def test_an_upload_can_be_sent_again_after_a_failure(world, streamed):
    world.provider.reopen_bodies = True
    world.put('a', b'0123456789' * 1000)
    assert world.handle('a') is Outcome.COPIED
    assert world.remote('a').data == b'0123456789' * 1000
    # one GET for the first try, one more for the second
    assert len(world.swift.requests_for('GET', 'a')) == 2


def test_a_small_object_is_sent_again_from_memory(world):
    world.provider.reopen_bodies = True
    world.put('a', b'0123456789' * 1000)
    assert world.handle('a') is Outcome.COPIED
    assert world.remote('a').data == b'0123456789' * 1000
    assert [r.method for r in world.swift.requests_for(obj='a')] == ['GET']


def test_an_object_larger_than_one_put_goes_in_parts(world):
    world.small_parts(min_part=100, max_part=400)
    world.provider.MAX_SINGLE_PUT = 1000
    body = bytes(range(256)) * 5
    world.put('big', body)
    assert world.handle('big') is Outcome.COPIED
    stored = world.remote('big')
    assert stored.data == body
    assert stored.part_sizes == [400, 400, 400, 80]
    assert world.internal('big')[md.ETAG_KEY] == md5(body)
    world.provider.reset_calls()
    assert world.handle('big') is Outcome.UNCHANGED
    assert world.provider.counts() == {'head_object': 1}


def test_an_object_changed_while_read_is_retried(world, streamed):
    world.put('a', b'first')

    def overwrite(request):
        if request.method == 'GET' and request.obj == 'a':
            world.swift.hooks.remove(overwrite)
            world.put('a', b'second')

    world.swift.hooks.append(overwrite)
    with pytest.raises(propagate.RetryLater) as caught:
        world.handle('a')
    assert '412' in caught.value.reason
    assert world.remote('a') is None


# -- failures ---------------------------------------------------------------

@pytest.mark.parametrize('small', [True, False])
def test_a_read_timeout_in_the_middle_of_an_object_is_retried(
        world, monkeypatch, small):
    # NOTE: with X-Newest, Swift's proxy does not resume a GET on another
    # node after a ChunkReadTimeout: it raises it out of the body, and it
    # is an eventlet Timeout, not an Exception.
    if not small:
        monkeypatch.setattr(source_mod, 'SMALL_OBJECT_SIZE', -1)
    world.put('a', b'x' * 100)
    real_get = world.swift._object_GET

    def stalling_get(req, *args):
        resp = real_get(req, *args)
        if req.method == 'GET':
            def stall():
                yield b'x' * 10
                # NOTE: None: the timeout is raised here, not timed
                raise swift_exceptions.ChunkReadTimeout(None)
            resp.app_iter = stall()
            resp.content_length = 100
        return resp

    world.swift._object_GET = stalling_get
    with pytest.raises(propagate.RetryLater) as caught:
        world.handle('a')
    assert 'reading the local cluster failed' in caught.value.reason
    assert 'ChunkReadTimeout' in caught.value.reason
    assert world.remote('a') is None


def test_a_retryable_remote_error_means_retry_later(world):
    world.put('a')
    world.provider.fail('put_object', exceptions.Unavailable(
        'remote fake: PutObject: no answer', status=503))
    with pytest.raises(propagate.RetryLater) as caught:
        world.handle('a')
    assert 'photos-to-fake' in caught.value.reason
    assert world.stats.totals['errors'] == 1


def test_a_refused_request_fails_the_row_naming_everything(world):
    world.put('caf\u00e9')
    world.provider.fail('head_object', exceptions.AuthError(
        'remote fake: HeadObject bkt/x: the remote refused the '
        'credentials', status=403, code='InvalidAccessKeyId'))
    with pytest.raises(propagate.RowFailed) as caught:
        world.handle('caf\u00e9')
    message = str(caught.value)
    assert 'mapping photos-to-fake' in message
    assert 'AUTH_test/photos/caf\u00e9' in message
    assert 'InvalidAccessKeyId' in message
    assert 'fake-secret' not in message


def test_a_missing_bucket_fails_the_row(world):
    del world.provider.buckets[BUCKET]
    world.put('a')
    with pytest.raises(propagate.RowFailed) as caught:
        world.handle('a')
    assert 'bucket bkt' in str(caught.value)


@pytest.mark.parametrize('status,expected', [
    (503, propagate.RetryLater),
    (507, propagate.RetryLater),
    (403, propagate.RowFailed),
])
def test_local_errors(world, status, expected):
    world.put('a')
    world.swift.hooks.append(lambda r: fakes.error_response(status))
    with pytest.raises(expected) as caught:
        world.handle('a')
    assert str(status) in str(caught.value)


# -- deletes ----------------------------------------------------------------

def test_a_delete_removes_the_remote_copy(world):
    world.put('a')
    world.handle('a')
    world.swift.delete(ACCOUNT, CONTAINER, 'a')
    world.provider.reset_calls()
    assert world.handle('a', REMOVE) is Outcome.DELETED
    assert world.remote('a') is None
    assert world.provider.counts() == {'head_object': 1, 'delete_object': 1}
    assert world.stats.totals['deleted_objects'] == 1


def test_a_delete_never_removes_a_newer_remote_copy(world):
    world.put('a', b'old')
    delete_row = lifecycle.Row(name='a', row_id=2,
                               timestamp=world.swift.timestamp(),
                               meta_timestamp=None, deleted=True)
    delete_row.meta_timestamp = delete_row.timestamp
    world.put('a', b'newer')
    world.handle('a')
    assert world.propagator.handle(delete_row, REMOVE) is Outcome.UNCHANGED
    assert world.remote('a').data == b'newer'
    assert world.provider.count('delete_object') == 0


@pytest.mark.parametrize('stored', [60, -60, -0.5, 0.5])
def test_a_delete_never_acts_on_an_object_cloudsync_did_not_write(
        world, stored):
    # NOTE: objects written by another writer (swift-s3-sync, an
    # application using the bucket) carry no cloudsync-timestamp; the
    # remote's Last-Modified (whole seconds, its own clock) says nothing
    # about their order with the delete.
    world.put('a')
    world.swift.delete(ACCOUNT, CONTAINER, 'a')
    delete_row = world.row('a')
    world.provider.clock = lambda: float(delete_row.timestamp) + stored
    world.provider.put_raw(BUCKET, world.key('a'), b'another writer')

    assert world.propagator.handle(delete_row, REMOVE) is Outcome.UNCHANGED
    assert world.remote('a').data == b'another writer'
    assert world.provider.count('delete_object') == 0


def test_a_delete_compares_cloudsyncs_timestamp_not_last_modified(world):
    world.put('a')
    world.handle('a')
    world.swift.delete(ACCOUNT, CONTAINER, 'a')
    delete_row = world.row('a')
    # the remote's clock is a minute ahead: its Last-Modified is after
    # the delete, the copy it holds is not
    world.provider.clock = lambda: float(delete_row.timestamp) + 60
    world.handle('a', REMOVE)
    assert world.remote('a') is None


def test_a_delete_of_nothing(world):
    world.put('a')
    world.swift.delete(ACCOUNT, CONTAINER, 'a')
    assert world.handle('a', REMOVE) is Outcome.NOT_FOUND_REMOTE


def test_a_delete_of_an_slo_removes_its_manifest(world):
    world.put('seg/1', b'a' * 10)
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big', ['%s/seg/1' % CONTAINER])
    world.handle('big')
    manifest_key = world.layout.manifest_key('big')
    assert manifest_key in world.provider.buckets[BUCKET]
    world.swift.delete(ACCOUNT, CONTAINER, 'big')
    assert world.handle('big', REMOVE) is Outcome.DELETED
    assert world.provider.buckets[BUCKET] == {}


# -- deletes kept on the remote (propagate_delete = false) -----------------

@pytest.fixture
def keeping():
    """An archive mapping that keeps remote copies of deleted objects."""
    return World(archive=True, propagate_delete=False)


def served(world, name):
    """Whether the shunt would serve the remote copy, tombstone gone."""
    info = world.provider.head_object(BUCKET, world.key(name))
    return not shunt_object.RemoteObject(info).deleted_by(None)


def decide(world, name):
    return world.mapping.policy.decide(world.row(name), 1e9)


def test_a_kept_delete_marks_the_remote_copy_deleted(keeping):
    keeping.put('a', b'cold data', {'X-Object-Meta-K': 'v'},
                content_type='text/plain')
    assert keeping.handle('a', ARCHIVE) is Outcome.ARCHIVED
    assert keeping.handle('a', decide(keeping, 'a')) is Outcome.UNCHANGED
    assert served(keeping, 'a')
    before = keeping.remote('a')
    stamp = keeping.internal('a')[md.TIMESTAMP_KEY]
    keeping.swift.delete(ACCOUNT, CONTAINER, 'a')
    row = keeping.row('a')
    assert keeping.mapping.policy.decide(row, 1e9).action is \
        lifecycle.Action.REMOVE_REMOTE
    keeping.provider.reset_calls()

    assert keeping.propagator.handle(row, REMOVE) is \
        Outcome.METADATA_UPDATED

    assert keeping.provider.counts() == {'head_object': 1,
                                         'update_metadata': 1}
    after = keeping.remote('a')
    assert after.data == before.data == b'cold data'
    assert after.content_type == 'text/plain'
    assert keeping.remote_headers('a') == {'X-Object-Meta-K': 'v'}
    assert keeping.internal('a')[md.DELETED_AT_KEY] == row.timestamp.internal
    assert keeping.internal('a')[md.TIMESTAMP_KEY] == stamp
    assert not served(keeping, 'a')
    # NOTE: later passes leave the marked copy alone
    keeping.provider.reset_calls()
    assert keeping.propagator.handle(row, REMOVE) is Outcome.UNCHANGED
    assert keeping.propagator.verify([row]) == []
    assert keeping.provider.count('update_metadata') == 0


def test_a_kept_delete_never_marks_a_newer_remote_copy(keeping):
    keeping.put('a', b'old')
    delete_row = lifecycle.Row(name='a', row_id=2,
                               timestamp=keeping.swift.timestamp(),
                               meta_timestamp=None, deleted=True)
    delete_row.meta_timestamp = delete_row.timestamp
    # NOTE: written after the delete (through proxymc, say)
    keeping.put('a', b'newer')
    keeping.handle('a')

    assert keeping.propagator.handle(delete_row, REMOVE) is \
        Outcome.UNCHANGED
    assert keeping.propagator.verify([delete_row]) == []
    assert keeping.provider.count('update_metadata') == 0
    assert md.DELETED_AT_KEY not in keeping.internal('a')
    assert served(keeping, 'a')


@pytest.mark.parametrize('stored', [60, -60])
def test_a_kept_delete_leaves_another_writers_object_unmarked(stored):
    # NOTE: only copies cloudsync wrote (with cloudsync-timestamp) are
    # marked; the remote's Last-Modified cannot order another writer's
    # object with the delete.
    world = World(merge_namespaces=True, propagate_delete=False)
    world.put('a')
    world.swift.delete(ACCOUNT, CONTAINER, 'a')
    delete_row = world.row('a')
    assert world.mapping.policy.decide(delete_row, 1e9).action is \
        lifecycle.Action.REMOVE_REMOTE
    world.provider.clock = lambda: float(delete_row.timestamp) + stored
    world.provider.put_raw(BUCKET, world.key('a'), b'another writer')

    assert world.propagator.verify([delete_row]) == []
    assert world.propagator.handle(delete_row, REMOVE) is Outcome.UNCHANGED
    assert world.remote('a').data == b'another writer'
    assert served(world, 'a')


def test_a_local_write_after_a_kept_delete_drops_the_marker(keeping):
    keeping.put('a', b'same', content_type='text/plain')
    keeping.handle('a')
    keeping.swift.delete(ACCOUNT, CONTAINER, 'a')
    assert keeping.handle('a', REMOVE) is Outcome.METADATA_UPDATED
    assert not served(keeping, 'a')

    keeping.put('a', b'same', content_type='text/plain')

    assert keeping.handle('a') is Outcome.METADATA_UPDATED
    assert md.DELETED_AT_KEY not in keeping.internal('a')
    assert served(keeping, 'a')


def test_a_kept_delete_leaves_a_copy_in_glacier_unmarked(keeping):
    keeping.put('a')
    keeping.handle('a')
    keeping.swift.delete(ACCOUNT, CONTAINER, 'a')
    real = keeping.provider.head_object

    def head(bucket, key):
        info = real(bucket, key)
        info.storage_class = 'GLACIER'
        return info

    keeping.provider.head_object = head

    assert keeping.handle('a', REMOVE) is Outcome.UNCHANGED
    assert keeping.propagator.verify([keeping.row('a')]) == []
    assert keeping.provider.count('update_metadata') == 0


def test_verify_finds_kept_deletes_left_unmarked():
    world = World(merge_namespaces=True, propagate_delete=False)
    copy_all(world, ['a', 'b', 'c'])
    for name in ('a', 'b'):
        world.swift.delete(ACCOUNT, CONTAINER, name)
    world.handle('b', REMOVE)
    rows = [world.row('a'), world.row('b')]

    assert [r.name for r in world.propagator.verify(rows)] == ['a']


# -- static large objects ---------------------------------------------------

def put_segments(world, sizes, container='segs', prefix='big/'):
    paths = []
    for number, size in enumerate(sizes):
        name = '%s%03d' % (prefix, number)
        world.swift.put(ACCOUNT, container, name,
                        bytes([65 + number % 26]) * size)
        paths.append('%s/%s' % (container, name))
    return paths


def content_of(world, paths):
    return b''.join(world.swift.get(ACCOUNT, *p.split('/', 1)).body
                    for p in paths)


def test_an_slo_becomes_one_part_per_segment(world):
    world.small_parts()
    paths = put_segments(world, [2 * KiB, 2 * KiB, 100])
    record = world.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths,
                                 {'X-Object-Meta-K': 'v'},
                                 content_type='video/mp4')
    assert world.handle('big') is Outcome.COPIED
    stored = world.remote('big')
    assert stored.data == content_of(world, paths)
    hashes = [world.swift.get(ACCOUNT, *p.split('/', 1)).etag
              for p in paths]
    assert stored.etag == large_objects.multipart_etag(hashes)
    assert stored.part_sizes == [2 * KiB, 2 * KiB, 100]
    assert stored.content_type == 'video/mp4'
    assert world.remote_headers('big') == {
        'X-Object-Meta-K': 'v', 'X-Static-Large-Object': 'True'}
    assert world.internal('big')[md.SLO_ETAG_KEY] == md5(
        ''.join(hashes).encode('ascii'))
    manifest = world.provider.buckets[BUCKET][world.layout.manifest_key(
        'big')]
    assert manifest.data == record.body
    assert manifest.content_type == 'application/json'
    assert [e['name'] for e in json.loads(manifest.data)] == [
        '/' + p for p in paths]
    assert world.stats.totals['bytes'] == len(stored.data)

    world.provider.reset_calls()
    assert world.handle('big') is Outcome.UNCHANGED
    assert world.provider.counts() == {'head_object': 1}


def test_slo_parts_with_an_md5_from_the_manifest_are_not_hashed_again(
        world, monkeypatch):
    readers = []

    class Recording(large_objects.PieceReader):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            readers.append(self)

    monkeypatch.setattr(large_objects, 'PieceReader', Recording)
    world.small_parts()
    paths = put_segments(world, [2 * KiB, 2 * KiB, 100])
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)
    assert world.handle('big') is Outcome.COPIED
    assert world.remote('big').data == content_of(world, paths)
    assert len(readers) == 3
    assert [r.tell() for r in readers] == [2 * KiB, 2 * KiB, 100]
    # NOTE: each part went with its segment's ETag as Content-MD5
    assert [r.md5 for r in readers] == [None, None, None]


def test_an_slo_head_from_a_stale_replica_is_read_again_from_every_one(
        world):
    # NOTE: one replica still has the manifest of the row; the others, and
    # so the manifest GET (X-Newest), a newer one. The row is read again
    # asking every replica, not left for later.
    world.small_parts()
    key = (ACCOUNT, CONTAINER, 'big')
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big',
                        put_segments(world, [2 * KiB, 10]))
    row = world.row('big')
    old = world.swift.objects[key]
    paths = put_segments(world, [2 * KiB, 20], prefix='new/')
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)

    def stale_replica(request):
        if request.obj == 'big' and request.method == 'HEAD' and \
                'x-newest' not in request.headers:
            current = world.swift.objects[key]
            world.swift.objects[key] = old
            try:
                return world.swift._object_GET(
                    swob.Request.blank('/v1/%s/%s/big' % (
                        ACCOUNT, CONTAINER),
                        environ={'REQUEST_METHOD': 'HEAD'}),
                    ACCOUNT, CONTAINER, 'big', {})
            finally:
                world.swift.objects[key] = current
    world.swift.hooks.append(stale_replica)

    assert world.propagator.handle(row, COPY) is Outcome.COPIED
    assert world.remote('big').data == content_of(world, paths)
    assert [(r.method, r.headers.get('x-newest'))
            for r in world.swift.requests_for('HEAD', 'big')] == [
        ('HEAD', None), ('HEAD', 'true')]


def test_an_slo_deleted_since_a_replica_answered_is_gone_not_retried(
        world):
    # NOTE: the replica asked first still has the manifest; the others,
    # asked for it with X-Newest, have the newer delete (an archive of the
    # object by another node, for instance).
    world.small_parts()
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big',
                        put_segments(world, [2 * KiB, 10]))
    row = world.row('big')
    tombstone = world.swift.timestamp()

    def deleted_since(request):
        if request.obj == 'big' and 'x-newest' in request.headers:
            return swob.HTTPNotFound(headers={
                'X-Backend-Timestamp': tombstone.internal})
    world.swift.hooks.append(deleted_since)

    assert world.propagator.handle(row, COPY) is Outcome.LOCAL_GONE
    assert world.provider.count('put_object') == 0
    assert world.provider.count('put_multipart') == 0


def test_an_slo_post_updates_metadata_only(world):
    world.small_parts()
    paths = put_segments(world, [2 * KiB, 10])
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)
    world.handle('big')
    world.swift.post(ACCOUNT, CONTAINER, 'big', {'X-Object-Meta-New': '1'})
    world.provider.reset_calls()
    assert world.handle('big') is Outcome.METADATA_UPDATED
    assert world.provider.counts() == {'head_object': 1,
                                       'update_metadata': 1}
    assert world.remote_headers('big') == {
        'X-Object-Meta-New': '1', 'X-Static-Large-Object': 'True'}


def test_an_slo_of_small_segments_is_byte_identical(world):
    paths = put_segments(world, [100, 200, 300])
    world.swift.put_slo(ACCOUNT, CONTAINER, 'small', paths)
    assert world.handle('small') is Outcome.COPIED
    assert world.provider.count('put_multipart') == 0
    assert world.remote('small').data == content_of(world, paths)
    assert world.handle('small') is Outcome.UNCHANGED


def test_small_segments_are_cut_again_into_valid_parts(world):
    world.small_parts(min_part=1 * KiB, max_part=1 * KiB)
    world.provider.reopen_bodies = True
    paths = put_segments(world, [300] * 10)
    world.swift.put_slo(ACCOUNT, CONTAINER, 'cut', paths)
    assert world.handle('cut') is Outcome.COPIED
    stored = world.remote('cut')
    assert stored.data == content_of(world, paths)
    assert stored.part_sizes == [1024, 1024, 952]
    world.provider.reset_calls()
    assert world.handle('cut') is Outcome.UNCHANGED
    assert world.provider.counts() == {'head_object': 1}


def test_a_cut_upload_with_a_wrong_etag_is_removed(world):
    world.small_parts(min_part=1 * KiB, max_part=1 * KiB)
    paths = put_segments(world, [300] * 10)
    world.swift.put_slo(ACCOUNT, CONTAINER, 'cut', paths)
    real = world.provider.put_multipart

    def corrupt(*args, **kwargs):
        real(*args, **kwargs)
        return 'f' * 32 + '-3'

    world.provider.put_multipart = corrupt
    with pytest.raises(propagate.RetryLater):
        world.handle('cut')
    assert world.remote('cut') is None


def test_slo_ranges_and_inline_data(world):
    world.small_parts()
    paths = put_segments(world, [3 * KiB, 3 * KiB])
    world.swift.put_slo(ACCOUNT, CONTAINER, 'ranged', [
        {'path': paths[0], 'range': '1-2047'},
        {'data': b'inline!'},
        {'path': paths[1], 'range': '-1500'},
    ])
    assert world.handle('ranged') is Outcome.COPIED
    first = world.swift.get(ACCOUNT, *paths[0].split('/', 1)).body
    second = world.swift.get(ACCOUNT, *paths[1].split('/', 1)).body
    assert world.remote('ranged').data == \
        first[1:2048] + b'inline!' + second[-1500:]
    assert world.handle('ranged') is Outcome.UNCHANGED


def test_a_nested_slo_is_expanded(world):
    paths = put_segments(world, [10, 20])
    world.swift.put_slo(ACCOUNT, 'segs', 'inner', paths)
    more = put_segments(world, [30], prefix='more/')
    world.swift.put_slo(ACCOUNT, CONTAINER, 'outer', [
        {'path': 'segs/inner', 'range': '5-24'}, more[0]])
    assert world.handle('outer') is Outcome.COPIED
    inner = content_of(world, paths)
    assert world.remote('outer').data == inner[5:25] + content_of(world,
                                                                  more)


def test_a_missing_segment_fails_the_row(world):
    paths = put_segments(world, [10, 20])
    world.swift.put_slo(ACCOUNT, CONTAINER, 'broken', paths)
    world.swift.delete(ACCOUNT, *paths[1].split('/', 1))
    with pytest.raises(propagate.RowFailed) as caught:
        world.handle('broken')
    assert 'segment segs/big/001 is missing' in str(caught.value)
    assert world.remote('broken') is None


def test_a_segment_read_failure_is_retried(world):
    world.small_parts()
    paths = put_segments(world, [2 * KiB, 2 * KiB])
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)
    world.swift.hooks.append(
        lambda r: fakes.error_response(503)
        if r.method == 'GET' and r.obj == 'big/001' else None)
    with pytest.raises(propagate.RetryLater) as caught:
        world.handle('big')
    assert '503' in caught.value.reason
    assert world.remote('big') is None


def test_a_local_error_wrapped_by_the_provider_is_told_as_local(world):
    world.put('a')
    real = world.provider.put_object

    def wrapping(bucket, key, body, *args, **kwargs):
        try:
            raise large_objects.LocalReadError('GET a: 503', status=503)
        except large_objects.LocalReadError as exc:
            raise exceptions.RemoteError('upload failed') from exc

    world.provider.put_object = wrapping
    with pytest.raises(propagate.RetryLater) as caught:
        world.handle('a')
    assert 'reading the local cluster failed' in caught.value.reason
    world.provider.put_object = real


def test_an_invalid_manifest_fails_the_row(world):
    world.put('bad', b'not json', {'X-Static-Large-Object': 'True'})
    with pytest.raises(propagate.RowFailed) as caught:
        world.handle('bad')
    assert 'manifest' in str(caught.value)


# -- dynamic large objects --------------------------------------------------

def test_a_dlo_is_uploaded_as_its_concatenation(world):
    paths = put_segments(world, [100, 200, 50], prefix='parts/')
    world.put('unrelated', container='segs')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/parts/',
                        {'X-Object-Meta-K': 'v'})
    assert world.handle('dlo') is Outcome.COPIED
    assert world.remote('dlo').data == content_of(world, paths)
    assert world.remote_headers('dlo') == {
        'X-Object-Meta-K': 'v', 'X-Object-Manifest': 'segs/parts/'}
    hashes = [world.swift.get(ACCOUNT, *p.split('/', 1)).etag
              for p in paths]
    assert world.internal('dlo')[md.ETAG_KEY] == md5(
        ''.join(hashes).encode('ascii'))
    assert world.layout.manifest_key('dlo') not in \
        world.provider.buckets[BUCKET]
    world.provider.reset_calls()
    assert world.handle('dlo') is Outcome.UNCHANGED
    assert world.provider.counts() == {'head_object': 1}


def test_a_dlo_with_a_quoted_manifest_header(world):
    paths = put_segments(world, [10], container='seg s', prefix='caf\u00e9/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'seg%20s/caf%C3%A9/')
    assert world.handle('dlo') is Outcome.COPIED
    assert world.remote('dlo').data == content_of(world, paths)


def test_a_dlo_can_be_converted_to_an_slo():
    world = World(convert_dlo=True)
    world.small_parts()
    paths = put_segments(world, [2 * KiB, 1 * KiB], prefix='p/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/p/')
    assert world.handle('dlo') is Outcome.COPIED
    stored = world.remote('dlo')
    assert stored.data == content_of(world, paths)
    hashes = [world.swift.get(ACCOUNT, *p.split('/', 1)).etag
              for p in paths]
    assert stored.etag == large_objects.multipart_etag(hashes)
    assert world.remote_headers('dlo') == {'X-Static-Large-Object': 'True'}
    manifest = json.loads(world.provider.buckets[BUCKET][
        world.layout.manifest_key('dlo')].data)
    assert [(e['name'], e['bytes'], e['hash']) for e in manifest] == [
        ('/' + p, len(world.swift.get(ACCOUNT, *p.split('/', 1)).body), h)
        for p, h in zip(paths, hashes)]
    assert world.handle('dlo') is Outcome.UNCHANGED


# -- DLOs on a remote that keeps them --------------------------------------

@pytest.fixture
def dlo_world():
    return World(provider_cls=fakes.FakeDLOProvider, layout='native')


def remote_segments(world):
    return {k: o.data for k, o in world.provider.buckets.get(
        BUCKET + '_segments', {}).items()}


def test_a_dlo_stays_a_dlo_on_a_remote_that_keeps_them(dlo_world):
    world = dlo_world
    paths = put_segments(world, [100, 200, 50], prefix='parts/')
    world.put('unrelated', container='segs')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/parts/',
                        {'X-Object-Meta-K': 'v'})
    assert world.handle('dlo') is Outcome.COPIED
    stored = world.remote('dlo')
    assert stored.data == b''
    assert stored.dlo_manifest == BUCKET + '_segments/.dlo/segs/parts/'
    assert remote_segments(world) == {
        '.dlo/' + p: world.swift.get(ACCOUNT, *p.split('/', 1)).body
        for p in paths}
    assert world.remote_headers('dlo') == {'X-Object-Meta-K': 'v'}
    assert world.internal('dlo')[source_mod.DLO_SOURCE_KEY] == 'segs/parts/'
    assert md.ETAG_KEY not in world.internal('dlo')
    body = world.provider.get_object(BUCKET, world.key('dlo'))
    assert body.read_all() == content_of(world, paths)
    world.provider.reset_calls()
    assert world.handle('dlo') is Outcome.UNCHANGED
    assert world.provider.counts() == {'head_object': 1}
    assert world.propagator.verify([world.row('dlo')]) == []


def test_a_changed_dlo_sends_only_its_new_segments(dlo_world):
    world = dlo_world
    paths = put_segments(world, [10, 20], prefix='p/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/p/')
    world.handle('dlo')
    world.swift.put(ACCOUNT, 'segs', 'p/002', b'appended')
    world.swift.delete(ACCOUNT, 'segs', 'p/000')
    world.provider.reset_calls()
    assert world.handle('dlo') is Outcome.COPIED
    assert world.provider.count('put_segment') == 1
    assert sorted(remote_segments(world)) == ['.dlo/segs/p/001',
                                              '.dlo/segs/p/002']
    body = world.provider.get_object(BUCKET, world.key('dlo'))
    assert body.read_all() == content_of(world, paths[1:]) + b'appended'
    assert world.handle('dlo') is Outcome.UNCHANGED


def test_a_dlo_whose_remote_segments_changed_is_copied_again(dlo_world):
    world = dlo_world
    put_segments(world, [10, 20], prefix='p/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/p/')
    world.handle('dlo')
    world.provider.put_raw(BUCKET + '_segments', '.dlo/segs/p/extra', b'x')
    assert world.handle('dlo') is Outcome.COPIED
    assert sorted(remote_segments(world)) == ['.dlo/segs/p/000',
                                              '.dlo/segs/p/001']


def test_a_concatenated_copy_of_a_dlo_becomes_a_dlo(dlo_world):
    world = dlo_world
    put_segments(world, [10, 20], prefix='p/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/p/')
    old = World(layout='native')
    old.swift, old.ic = world.swift, world.ic
    old.propagator.ic = world.ic
    old.provider.buckets = world.provider.buckets
    old.propagator.provider = old.provider
    assert old.handle('dlo') is Outcome.COPIED
    assert world.remote('dlo').dlo_manifest is None
    assert world.handle('dlo') is Outcome.COPIED
    assert world.remote('dlo').dlo_manifest == \
        BUCKET + '_segments/.dlo/segs/p/'


def test_a_post_to_a_dlo_updates_the_manifests_metadata(dlo_world):
    world = dlo_world
    put_segments(world, [10], prefix='p/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/p/')
    world.handle('dlo')
    world.swift.post(ACCOUNT, CONTAINER, 'dlo', {
        'X-Object-Meta-New': 'yes', 'X-Object-Manifest': 'segs/p/'})
    world.provider.reset_calls()
    assert world.handle('dlo') is Outcome.METADATA_UPDATED
    assert world.provider.count('put_dlo') == 0
    assert world.remote_headers('dlo') == {'X-Object-Meta-New': 'yes'}
    assert world.remote('dlo').dlo_manifest == \
        BUCKET + '_segments/.dlo/segs/p/'
    assert world.handle('dlo') is Outcome.UNCHANGED


def test_a_dlo_in_the_hashed_layout_keeps_its_segments_in_it():
    world = World(provider_cls=fakes.FakeDLOProvider)
    put_segments(world, [10], prefix='p/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/p/')
    assert world.handle('dlo') is Outcome.COPIED
    assert list(remote_segments(world)) == [
        world.layout.dlo_key('segs', 'p/000')]
    assert world.layout.dlo_key('segs', 'p/000').startswith(
        layout.hashed_prefix(ACCOUNT, CONTAINER) + '/.dlo/')
    assert world.remote('dlo').dlo_manifest == \
        BUCKET + '_segments/' + world.layout.dlo_key('segs', 'p/')
    assert world.handle('dlo') is Outcome.UNCHANGED


def test_deleting_a_dlo_takes_its_remote_segments_once_gone_locally(
        dlo_world):
    world = dlo_world
    paths = put_segments(world, [10, 20], prefix='p/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/p/')
    world.handle('dlo')
    world.swift.delete(ACCOUNT, CONTAINER, 'dlo')
    assert world.handle('dlo', REMOVE) is Outcome.DELETED
    assert world.remote('dlo') is None
    # NOTE: the local segments are still there (another manifest may
    # read them): so are the remote ones.
    assert sorted(remote_segments(world)) == ['.dlo/segs/p/000',
                                              '.dlo/segs/p/001']

    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/p/')
    world.handle('dlo')
    world.swift.delete(ACCOUNT, CONTAINER, 'dlo')
    for path in paths:
        world.swift.delete(ACCOUNT, *path.split('/', 1))
    assert world.handle('dlo', REMOVE) is Outcome.DELETED
    assert world.remote('dlo') is None
    assert remote_segments(world) == {}


def test_a_dlo_leaves_the_segments_of_slos_alone(dlo_world):
    world = dlo_world
    # NOTE: where the remote keeps the segments of an SLO videos/big.mp4
    slo_segment = 'videos/big.mp4/1764600000.000000-0a1b2c3d/00000001'
    world.provider.put_raw(BUCKET + '_segments', slo_segment, b'slo')
    put_segments(world, [10, 20], prefix='videos')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/videos')
    assert world.handle('dlo') is Outcome.COPIED
    # a DLO of every object of a container: an empty prefix
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'all', 'segs/')
    assert world.handle('all') is Outcome.COPIED
    assert sorted(remote_segments(world)) == [
        '.dlo/segs/videos000', '.dlo/segs/videos001', slo_segment]
    world.swift.delete(ACCOUNT, CONTAINER, 'all')
    world.swift.delete(ACCOUNT, 'segs', 'videos000')
    world.swift.delete(ACCOUNT, 'segs', 'videos001')
    assert world.handle('all', REMOVE) is Outcome.DELETED
    assert sorted(remote_segments(world)) == [slo_segment]


def test_dlos_of_two_segments_containers_keep_their_own_segments(
        dlo_world):
    world = dlo_world
    put_segments(world, [10], container='one', prefix='p/')
    world.swift.put(ACCOUNT, 'two', 'p/000', b'other bytes')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'a', 'one/p/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'b', 'two/p/')
    assert world.handle('a') is Outcome.COPIED
    assert world.handle('b') is Outcome.COPIED
    assert world.handle('a') is Outcome.UNCHANGED
    assert world.provider.get_object(
        BUCKET, world.key('a')).read_all() == b'A' * 10
    assert world.provider.get_object(
        BUCKET, world.key('b')).read_all() == b'other bytes'


def test_a_delete_leaves_the_segments_of_a_dlo_copy_named_elsewhere(
        dlo_world):
    world = dlo_world
    put_segments(world, [10], prefix='p/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/p/')
    world.handle('dlo')
    # NOTE: a copy whose X-Object-Manifest is not where cloudsync puts
    # the segments of segs/p/ (another writer's, or an older layout's)
    stored = world.remote('dlo')
    stored.dlo_manifest = BUCKET + '_segments/.dlo/segs/'
    world.provider.put_raw(BUCKET + '_segments', '.dlo/segs/q', b'q')
    world.swift.delete(ACCOUNT, CONTAINER, 'dlo')
    world.swift.delete(ACCOUNT, 'segs', 'p/000')
    world.provider.reset_calls()
    assert world.handle('dlo', REMOVE) is Outcome.DELETED
    assert world.provider.count('delete_dlo_segments') == 0
    assert sorted(remote_segments(world)) == ['.dlo/segs/p/000',
                                              '.dlo/segs/q']


def test_archive_of_a_dlo_to_a_remote_that_keeps_it():
    world = World(provider_cls=fakes.FakeDLOProvider, layout='native',
                  archive=True)
    paths = put_segments(world, [10, 20], prefix='d/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/d/')
    expected = content_of(world, paths)
    assert world.handle('dlo', ARCHIVE) is Outcome.ARCHIVED
    assert world.swift.get(ACCOUNT, CONTAINER, 'dlo') is None
    for path in paths:
        assert world.swift.get(ACCOUNT, *path.split('/', 1)) is None
    body = world.provider.get_object(BUCKET, world.key('dlo'))
    assert body.read_all() == expected


def test_archive_of_a_dlo_keeps_its_segments_when_asked():
    world = World(provider_cls=fakes.FakeDLOProvider, layout='native',
                  archive=True, retain_local_segments=True)
    paths = put_segments(world, [10], prefix='d/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/d/')
    assert world.handle('dlo', ARCHIVE) is Outcome.ARCHIVED
    assert world.swift.get(ACCOUNT, *paths[0].split('/', 1)) is not None


def test_convert_dlo_wins_over_a_remote_that_keeps_dlos():
    world = World(provider_cls=fakes.FakeDLOProvider, convert_dlo=True)
    put_segments(world, [10, 20], prefix='p/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/p/')
    assert world.handle('dlo') is Outcome.COPIED
    assert world.remote('dlo').dlo_manifest is None
    assert world.remote_headers('dlo') == {'X-Static-Large-Object': 'True'}
    assert remote_segments(world) == {}


# -- archive ----------------------------------------------------------------

@pytest.fixture
def archive():
    return World(archive=True)


def test_archive_copies_verifies_then_deletes_locally(archive):
    archive.put('a', b'cold data')
    row = archive.row('a')
    assert archive.propagator.handle(row, ARCHIVE) is Outcome.ARCHIVED
    assert archive.swift.get(ACCOUNT, CONTAINER, 'a') is None
    assert archive.remote('a').data == b'cold data'
    delete, = archive.swift.requests_for('DELETE', 'a')
    assert delete.headers['x-timestamp'] == swift_utils.Timestamp(
        row.meta_timestamp, offset=1).internal
    # conditional on the fence POSTed just before, with the same metadata
    fence, = archive.swift.requests_for('POST', 'a')
    assert fence.headers['x-timestamp'] == delete.headers['x-timestamp']
    assert fence.headers['x-delete-at'] == str(remove.ARCHIVE_FENCE)
    assert delete.headers['x-if-delete-at'] == str(remove.ARCHIVE_FENCE)
    assert archive.stats.totals['archived_objects'] == 1
    # the remote copy was read back before the local one went
    assert archive.provider.count('head_object') == 2


def test_the_tombstone_archiving_leaves_never_deletes_the_remote(archive):
    archive.put('a', b'cold data')
    assert archive.handle('a', ARCHIVE) is Outcome.ARCHIVED
    tombstone = archive.row('a')
    assert tombstone.deleted
    assert archive.mapping.policy.decide(tombstone, 1e9).action is \
        lifecycle.Action.REMOVE_REMOTE
    assert archive.propagator.handle(tombstone, REMOVE) is \
        Outcome.UNCHANGED
    assert archive.remote('a').data == b'cold data'
    # a user's delete afterwards does remove it
    archive.swift.delete(ACCOUNT, CONTAINER, 'a')
    assert archive.handle('a', REMOVE) is Outcome.DELETED
    assert archive.remote('a') is None


def test_archive_of_an_object_already_remote(archive):
    archive.put('a')
    archive.handle('a', COPY)
    archive.provider.reset_calls()
    assert archive.handle('a', ARCHIVE) is Outcome.ARCHIVED
    assert archive.provider.counts() == {'head_object': 1}


def test_archive_keeps_an_object_overwritten_before_the_delete(archive):
    archive.put('a', b'old')
    row = archive.row('a')

    def overwrite(request):
        if request.method == 'DELETE':
            archive.swift.hooks.remove(overwrite)
            archive.put('a', b'newer')

    archive.swift.hooks.append(overwrite)
    assert archive.propagator.handle(row, ARCHIVE) is Outcome.UNCHANGED
    assert archive.swift.get(ACCOUNT, CONTAINER, 'a').body == b'newer'
    assert archive.remote('a').data == b'old'
    assert 'archived_objects' not in archive.stats.totals


def test_archive_keeps_an_object_posted_to_since_the_row(archive):
    archive.put('a', b'data')
    row = archive.row('a')
    heads = []

    def post_before_second_head(request):
        # the HEAD of every replica just before the DELETE
        if request.method == 'HEAD' and request.obj == 'a' and \
                'x-newest' in request.headers:
            heads.append(request)
            if len(heads) == 1:
                archive.swift.post(ACCOUNT, CONTAINER, 'a',
                                   {'X-Object-Meta-New': 'yes'})

    archive.swift.hooks.append(post_before_second_head)
    assert archive.propagator.handle(row, ARCHIVE) is Outcome.UNCHANGED
    assert archive.swift.get(ACCOUNT, CONTAINER, 'a') is not None
    assert not archive.swift.requests_for('DELETE', 'a')


def test_archive_asks_every_replica_before_deleting(archive):
    # a POST since the row reached some replicas; the one asked first
    # still has the row's version
    record = archive.put('a', b'data', {'X-Object-Meta-Color': 'old'})
    row = archive.row('a')
    archive.swift.post(ACCOUNT, CONTAINER, 'a',
                       {'X-Object-Meta-Color': 'new'})

    def stale_replica(request):
        if request.method in ('HEAD', 'GET') and \
                'x-newest' not in request.headers:
            return swob.HTTPOk(body=b'data', headers={
                'X-Backend-Timestamp': record.meta_timestamp.internal,
                'Etag': record.etag, 'Content-Length': '4',
                'Content-Type': record.content_type,
                'X-Object-Meta-Color': 'old'})
    archive.swift.hooks.append(stale_replica)

    assert archive.propagator.handle(row, ARCHIVE) is Outcome.UNCHANGED
    kept = archive.swift.get(ACCOUNT, CONTAINER, 'a')
    assert kept.headers['X-Object-Meta-Color'] == 'new'
    assert not archive.swift.requests_for('DELETE', 'a')


def test_archive_never_deletes_after_a_stale_read(archive):
    record = archive.put('a')
    row = archive.row('a', timestamp=swift_utils.Timestamp(
        float(record.data_timestamp) + 5))
    with pytest.raises(propagate.RetryLater):
        archive.propagator.handle(row, ARCHIVE)
    assert archive.swift.get(ACCOUNT, CONTAINER, 'a') is not None


def test_archive_retries_when_the_replicas_before_the_delete_404(archive):
    archive.put('a', b'cold data')
    row = archive.row('a')
    heads = []

    def unreachable_second_head(request):
        # the HEAD of every replica just before the DELETE
        if request.method == 'HEAD' and request.obj == 'a' and \
                'x-newest' in request.headers:
            heads.append(request)
            if len(heads) == 1:
                return swob.HTTPNotFound()

    archive.swift.hooks.append(unreachable_second_head)
    with pytest.raises(propagate.RetryLater):
        archive.propagator.handle(row, ARCHIVE)
    assert not archive.swift.requests_for('DELETE', 'a')
    assert archive.remote('a').data == b'cold data'

    archive.swift.hooks.remove(unreachable_second_head)
    assert archive.propagator.handle(row, ARCHIVE) is Outcome.ARCHIVED
    assert archive.swift.get(ACCOUNT, CONTAINER, 'a') is None


def test_archive_of_a_newer_local_version_waits_for_its_row(archive):
    archive.put('a', b'v1')
    row = archive.row('a')
    archive.put('a', b'v2')
    assert archive.propagator.handle(row, ARCHIVE) is Outcome.UNCHANGED
    assert archive.swift.get(ACCOUNT, CONTAINER, 'a').body == b'v2'


def test_archive_does_not_delete_an_unverified_copy(archive):
    archive.put('a', b'data')
    real = archive.provider.head_object
    calls = []

    def head(bucket, key):
        calls.append(key)
        info = real(bucket, key)
        if len(calls) == 2:
            info.size += 1
        return info

    archive.provider.head_object = head
    with pytest.raises(propagate.RetryLater) as caught:
        archive.handle('a', ARCHIVE)
    assert 'did not verify' in caught.value.reason
    assert archive.swift.get(ACCOUNT, CONTAINER, 'a') is not None


def test_archive_of_an_slo_deletes_the_manifest_then_segments(archive):
    paths = put_segments(archive, [10, 20, 30])
    archive.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)
    assert archive.handle('big', ARCHIVE) is Outcome.ARCHIVED
    for path in paths:
        assert archive.swift.get(ACCOUNT, *path.split('/', 1)) is None
    assert archive.swift.get(ACCOUNT, CONTAINER, 'big') is None
    deletes = [r.obj for r in archive.swift.requests_for('DELETE')]
    assert deletes[0] == 'big'
    assert sorted(deletes[1:]) == sorted(p.split('/', 1)[1]
                                         for p in paths)


def test_archive_never_removes_the_segments_of_an_overwritten_slo(archive):
    # NOTE: ``swift upload`` of an unchanged large object PUTs its manifest
    # again over the same segments: they belong to the newer object.
    paths = put_segments(archive, [10, 20, 30])
    archive.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)
    row = archive.row('big')

    def upload_again(request):
        if request.method == 'DELETE':
            archive.swift.hooks.remove(upload_again)
            archive.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)

    archive.swift.hooks.append(upload_again)
    assert archive.propagator.handle(row, ARCHIVE) is Outcome.UNCHANGED
    assert archive.swift.get(ACCOUNT, CONTAINER, 'big') is not None
    assert content_of(archive, paths) == b'A' * 10 + b'B' * 20 + b'C' * 30


def test_archive_keeps_the_segments_of_an_slo_deleted_meanwhile(archive):
    paths = put_segments(archive, [10, 20])
    archive.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)
    row = archive.row('big')

    def user_delete(request):
        if request.method == 'DELETE':
            archive.swift.hooks.remove(user_delete)
            archive.swift.delete(ACCOUNT, CONTAINER, 'big')

    archive.swift.hooks.append(user_delete)
    assert archive.propagator.handle(row, ARCHIVE) is Outcome.LOCAL_GONE
    for path in paths:
        assert archive.swift.get(ACCOUNT, *path.split('/', 1)) is not None


def test_archive_can_keep_the_segments():
    world = World(archive=True, retain_local_segments=True)
    paths = put_segments(world, [10, 20])
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)
    assert world.handle('big', ARCHIVE) is Outcome.ARCHIVED
    for path in paths:
        assert world.swift.get(ACCOUNT, *path.split('/', 1)) is not None


def test_a_segment_that_cannot_be_deleted_is_left_and_named(
        archive, caplog):
    paths = put_segments(archive, [10, 20, 30])
    archive.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)

    def refuse(request):
        if request.method == 'DELETE' and request.obj == 'big/001':
            return fakes.error_response(503)

    archive.swift.hooks.append(refuse)
    assert archive.handle('big', ARCHIVE) is Outcome.ARCHIVED
    assert archive.swift.get(ACCOUNT, CONTAINER, 'big') is None
    assert archive.remote('big').data == b'A' * 10 + b'B' * 20 + b'C' * 30
    assert archive.swift.get(ACCOUNT, 'segs', 'big/001') is not None
    assert archive.swift.get(ACCOUNT, 'segs', 'big/000') is None
    errors = [r.getMessage() for r in caplog.records
              if r.levelname == 'ERROR']
    assert len(errors) == 1
    assert '1 of 3 segments' in errors[0]
    assert 'segs/big/001' in errors[0] and 'big/000' not in errors[0]
    assert archive.stats.totals['errors'] == 1


def test_archive_of_a_dlo_deletes_its_segments(archive):
    paths = put_segments(archive, [10, 20], prefix='d/')
    archive.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/d/')
    assert archive.handle('dlo', ARCHIVE) is Outcome.ARCHIVED
    for path in paths:
        assert archive.swift.get(ACCOUNT, *path.split('/', 1)) is None


# -- verification -----------------------------------------------------------

def copy_all(world, names):
    for name in names:
        world.put(name, name.encode('utf-8'))
        world.handle(name)
    world.provider.reset_calls()


def test_verify_reads_listing_pages_not_heads(world):
    names = ['obj-%04d' % i for i in range(100)]
    copy_all(world, names)
    rows = [world.row(n) for n in reversed(names)]
    assert world.propagator.verify(rows) == []
    assert world.provider.counts() == {'list_objects': 1}


def test_verify_finds_missing_and_different_objects(world):
    names = ['obj-%04d' % i for i in range(2500)]
    copy_all(world, names)
    del world.provider.buckets[BUCKET][world.key('obj-0007')]
    world.put('obj-2100', b'changed locally')
    rows = [world.row(n) for n in names]
    world.provider.reset_calls()
    need = world.propagator.verify(rows)
    assert [r.name for r in need] == ['obj-0007', 'obj-2100']
    # three pages for 2,500 rows; one HEAD for the row whose ETag differs
    # (it could be a large object, whose listed ETag is not the row's)
    assert world.provider.counts() == {'list_objects': 3, 'head_object': 1}


def test_verify_heads_sparse_names(world):
    copy_all(world, ['obj-%05d' % i for i in range(3000)])
    wanted = ['obj-00010', 'obj-01500', 'obj-02999']
    rows = [world.row(n) for n in wanted]
    assert world.propagator.verify(rows) == []
    counts = world.provider.counts()
    assert counts['list_objects'] == 1
    assert counts['list_objects'] + counts['head_object'] <= 3


def test_verify_heads_rows_whose_metadata_changed(world):
    copy_all(world, ['a', 'b'])
    world.swift.post(ACCOUNT, CONTAINER, 'b', {'X-Object-Meta-X': '1'})
    rows = [world.row('a'), world.row('b')]
    assert [r.name for r in world.propagator.verify(rows)] == ['b']
    assert world.provider.counts() == {'list_objects': 1, 'head_object': 1}
    world.handle('b')
    world.provider.reset_calls()
    assert world.propagator.verify(rows) == []


def test_verify_finds_the_same_bytes_put_again_with_other_metadata(world):
    # the listing shows the same size and ETag; only the copy's age tells
    world.provider.clock = lambda: world.swift._now + 0.5
    world.put('a', b'same', {'X-Object-Meta-Color': 'red'})
    world.put('b', b'kept')
    world.handle('a')
    world.handle('b')
    world.swift._now += 60
    world.put('a', b'same', {'X-Object-Meta-Color': 'blue'})
    world.provider.reset_calls()
    rows = [world.row('a'), world.row('b')]
    assert [r.name for r in world.propagator.verify(rows)] == ['a']
    assert world.provider.counts() == {'list_objects': 1, 'head_object': 1}
    world.handle('a')
    assert world.remote_headers('a') == {'X-Object-Meta-Color': 'blue'}
    assert world.propagator.verify(rows) == []


def test_verify_deleted_rows(world):
    copy_all(world, ['a', 'b'])
    world.swift.delete(ACCOUNT, CONTAINER, 'a')
    world.swift.delete(ACCOUNT, CONTAINER, 'c')
    rows = [world.row('a'), world.row('c')]
    assert [r.name for r in world.propagator.verify(rows)] == ['a']


def test_verify_ignores_deletes_when_they_are_not_propagated():
    world = World(propagate_delete=False)
    copy_all(world, ['a'])
    world.swift.delete(ACCOUNT, CONTAINER, 'a')
    assert world.propagator.verify([world.row('a')]) == []
    assert world.provider.calls == []


def test_verify_large_objects(world):
    world.small_parts()
    paths = put_segments(world, [2 * KiB, 10])
    world.swift.put_slo(ACCOUNT, CONTAINER, 'slo', paths)
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/big/')
    world.handle('slo')
    world.handle('dlo')
    rows = [world.row('slo'), world.row('dlo')]
    rows[0].content_type += ';swift_bytes=%d' % (2 * KiB + 10)
    world.provider.reset_calls()
    assert world.propagator.verify(rows) == []
    assert world.provider.counts() == {'list_objects': 1, 'head_object': 2}


def test_verify_unicode_names(world):
    names = ['\U0001f600', 'caf\u00e9', 'z', '\u00e9t\u00e9', 'a b']
    copy_all(world, names)
    rows = [world.row(n) for n in names]
    assert world.propagator.verify(rows) == []
    assert world.provider.counts() == {'list_objects': 1}


def test_verify_with_a_failing_remote(world):
    copy_all(world, ['a'])
    world.provider.fail('list_objects', exceptions.Unavailable('down'))
    with pytest.raises(propagate.RetryLater):
        world.propagator.verify([world.row('a')])


# -- prepare ----------------------------------------------------------------

@pytest.fixture
def fresh_expirations(monkeypatch):
    monkeypatch.setattr(propagate.RowPropagator, '_expirations', {})
    monkeypatch.setattr(propagate.RowPropagator,
                        '_expiration_unsupported', set())


def test_prepare_sets_the_remote_expiry_once(fresh_expirations):
    world = World(remote_delete_after=86400 * 7)
    world.propagator.prepare()
    world.propagator.prepare()
    again = propagate.RowPropagator(world.mapping, ACCOUNT, CONTAINER,
                                    world.provider, world.ic)
    again.prepare()
    assert world.provider.count('set_expiration') == 1
    assert world.provider.rules == {
        (BUCKET, world.layout.listing_prefix()): 7}


def test_prepare_without_remote_delete_after(world, fresh_expirations):
    world.propagator.prepare()
    assert world.provider.calls == []


def test_prepare_logs_an_unsupported_expiry_once(fresh_expirations):
    world = World(remote_delete_after=3600)
    world.provider.supports_expiration = False
    world.propagator.prepare()
    world.propagator.prepare()
    assert world.provider.count('set_expiration') == 1


def test_prepare_tries_again_after_a_failure(fresh_expirations):
    world = World(remote_delete_after=3600)
    world.provider.fail('set_expiration', exceptions.Unavailable('down'))
    world.propagator.prepare()
    world.propagator.prepare()
    assert world.provider.count('set_expiration') == 2


# -- the fakes themselves ---------------------------------------------------

def test_fake_provider_lists_like_s3():
    provider = fakes.FakeProvider()
    provider.buckets['b'] = {}
    for key in ['a/1', 'a/2', 'b', 'c/1', 'd']:
        provider.put_raw('b', key, b'x')
    page = provider.list_objects('b', delimiter='/', limit=2)
    assert [(e.key, e.is_prefix) for e in page.entries] == [
        ('a/', True), ('b', False)]
    assert page.truncated and page.next_marker == 'b'
    page = provider.list_objects('b', delimiter='/', marker='b')
    assert [e.key for e in page.entries] == ['c/', 'd']
    assert not page.truncated
    assert [e.key for e in provider.list_all('b', prefix='a/')] == [
        'a/1', 'a/2']


def test_fake_provider_checks_md5_and_part_sizes():
    provider = fakes.FakeProvider()
    provider.buckets['b'] = {}
    with pytest.raises(exceptions.ChecksumMismatch):
        provider.put_object('b', 'k', b'abc', 3, md5=md5(b'abd'))
    provider.MIN_PART_SIZE = 4
    parts = [provider_part(1, b'ab'), provider_part(2, b'cd')]
    with pytest.raises(exceptions.InvalidObject):
        provider.put_multipart('b', 'k', parts)
    parts = [provider_part(1, b'abcd'), provider_part(2, b'e')]
    etag = provider.put_multipart('b', 'k', parts)
    assert etag == large_objects.multipart_etag([md5(b'abcd'), md5(b'e')])
    body = provider.get_object('b', 'k', range='bytes=3-')
    assert body.status == 206 and body.read_all() == b'de'
    assert body.content_range == 'bytes 3-4/5'


def provider_part(number, data):
    return providers.Part(number, len(data), lambda: fakes.reader(data),
                          md5(data))


def test_fake_swift_serves_ranges_and_conditions(world):
    world.put('a', b'0123456789')
    status, headers, body = world.ic.get_object(
        ACCOUNT, CONTAINER, 'a', headers={'Range': 'bytes=2-4'})
    assert status == 206 and b''.join(body) == b'234'
    with pytest.raises(Exception) as caught:
        world.ic.get_object(ACCOUNT, CONTAINER, 'a',
                            headers={'If-Match': '"nope"'})
    assert '412' in str(caught.value)
    meta = world.ic.get_object_metadata(ACCOUNT, CONTAINER, 'a')
    assert swob.normalize_etag(meta['etag']) == md5(b'0123456789')
    assert [o['name'] for o in world.ic.iter_objects(ACCOUNT,
                                                     CONTAINER)] == ['a']


# -- large object helpers ---------------------------------------------------

def test_piece_slicing_and_ranges():
    pieces = [large_objects.Piece('c', 'a', 0, 10, 10),
              large_objects.Piece(data=b'xyz', length=3, size=3),
              large_objects.Piece('c', 'b', 5, 5, 20)]
    sliced = large_objects.slice_pieces(pieces, 8, 6)
    assert [(p.obj, p.offset, p.length, p.data) for p in sliced] == [
        ('a', 8, 2, None), (None, 0, 3, b'xyz'), ('b', 5, 1, None)]
    assert large_objects.parse_range('1-4', 10) == (1, 4)
    assert large_objects.parse_range('-3', 10) == (7, 3)
    assert large_objects.parse_range('8-', 10) == (8, 2)
    with pytest.raises(large_objects.InvalidLargeObject):
        large_objects.parse_range('20-30', 10)


def test_part_plans_stay_within_the_limits():
    plan = large_objects.plan_parts(10 * KiB, 1 * KiB, 4 * KiB, 10000,
                                    part_size=3 * KiB)
    assert [length for _, length in plan] == [3 * KiB] * 3 + [KiB]
    plan = large_objects.plan_parts(100 * KiB, 1 * KiB, 1024 * KiB, 4,
                                    part_size=1 * KiB)
    assert len(plan) <= 4
    assert sum(length for _, length in plan) == 100 * KiB
    assert large_objects.plan_parts(0, 1, 2, 3) == [(0, 0)]


def test_a_piece_reader_seeks_by_fetching_again():
    store = {'a': b'0123456789', 'b': b'abcdefghij'}
    fetched = []

    def fetch(piece):
        fetched.append((piece.obj, piece.offset, piece.length))
        data = store[piece.obj]
        return [data[piece.offset:piece.offset + piece.length]]

    pieces = [large_objects.Piece('c', 'a', 0, 10, 10),
              large_objects.Piece('c', 'b', 0, 10, 10)]
    reader = large_objects.PieceReader(fetch, pieces, start=5, length=10)
    assert reader.read(3) == b'567'
    assert reader.read() == b'89abcde'
    assert reader.md5 == md5(b'56789abcde')
    reader.seek(4)
    assert reader.tell() == 4
    assert reader.read() == b'9abcde'
    assert fetched[-2:] == [('a', 9, 1), ('b', 0, 5)]


def test_a_piece_reader_may_skip_the_md5():
    pieces = [large_objects.Piece('c', 'a', 0, 10, 10)]
    reader = large_objects.PieceReader(lambda p: [b'01234', b'56789'],
                                       pieces, digest=False)
    assert reader.read(3) == b'012'
    assert reader.read() == b'3456789'
    assert reader.md5 is None
    reader.seek(0)
    assert reader.read_all() == b'0123456789'
    assert reader.md5 is None
    reader = large_objects.PieceReader(lambda p: [b'01234', b'56789'],
                                       pieces)
    assert reader.read_all() == b'0123456789'
    assert reader.md5 == md5(b'0123456789')


def test_a_short_segment_is_an_error():
    pieces = [large_objects.Piece('c', 'a', 0, 10, 10)]
    reader = large_objects.PieceReader(lambda p: [b'short'], pieces)
    with pytest.raises(large_objects.LocalReadError):
        reader.read_all()


class ContainerKeepingProvider(fakes.FakeProvider):
    """A remote whose buckets are Swift containers."""

    BUCKET_PER_CONTAINER = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.targets = []
        self.container_metadata = []

    def check_target(self, bucket, create=False, storage_policy=None):
        self.targets.append((bucket, create, storage_policy))

    def update_container_metadata(self, bucket, headers, acl=False):
        self.container_metadata.append((bucket, headers, acl))
        return True


@pytest.fixture
def container_world(monkeypatch):
    monkeypatch.setattr(propagate.RowPropagator, '_containers_checked',
                        set())
    monkeypatch.setattr(propagate.RowPropagator, '_container_metadata', {})
    world = World(storage_policy='silver', sync_container_metadata=True,
                  sync_container_acl=True)
    world.provider = ContainerKeepingProvider()
    world.propagator = propagate.RowPropagator(
        world.mapping, ACCOUNT, CONTAINER, world.provider, world.ic)
    world.swift.containers[(ACCOUNT, CONTAINER)]['headers'] = {
        'X-Container-Meta-Color': 'blue', 'X-Container-Read': '.r:*',
        'X-Container-Sysmeta-Secret': 'not copied'}
    return world


def test_prepare_creates_the_remote_container_with_the_policy_once(
        container_world):
    container_world.propagator.prepare()
    container_world.propagator.prepare()
    assert container_world.provider.targets == [(BUCKET, True, 'silver')]


def test_prepare_mirrors_container_metadata_only_when_it_changes(
        container_world):
    world = container_world
    world.propagator.prepare()
    world.propagator.prepare()
    assert world.provider.container_metadata == [
        (BUCKET, {'x-container-meta-color': 'blue',
                  'x-container-read': '.r:*'}, True)]
    world.swift.containers[(ACCOUNT, CONTAINER)]['headers'][
        'X-Container-Meta-Color'] = 'red'
    world.propagator.prepare()
    assert world.provider.container_metadata[-1][1][
        'x-container-meta-color'] == 'red'
    assert len(world.provider.container_metadata) == 2


class SwiftLikeProvider(fakes.FakeProvider):
    """Buckets are Swift containers; container metadata of a missing
    container cannot be set (Swift's POST answers 404).
    """

    BUCKET_PER_CONTAINER = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.container_headers = {}
        self.policies = {}

    def check_target(self, bucket, create=False, storage_policy=None):
        super().check_target(bucket, create=create)
        self.policies.setdefault(bucket, storage_policy)

    def update_container_metadata(self, bucket, headers, acl=False):
        self._call('update_container_metadata', bucket)
        self.container_headers[bucket] = dict(headers)
        return True


@pytest.fixture
def swift_like(monkeypatch):
    monkeypatch.setattr(propagate.RowPropagator, '_containers_checked',
                        set())
    monkeypatch.setattr(propagate.RowPropagator, '_container_metadata', {})

    def make(**conf):
        world = World(sync_container_metadata=True)
        world.provider = SwiftLikeProvider(conf=fakes.FakeConf(**conf))
        world.propagator = propagate.RowPropagator(
            world.mapping, ACCOUNT, CONTAINER, world.provider, world.ic)
        world.swift.containers[(ACCOUNT, CONTAINER)]['headers'] = {
            'X-Container-Meta-Color': 'blue'}
        return world
    return make


def test_prepare_creates_a_missing_container_to_mirror_its_metadata(
        swift_like):
    world = swift_like()
    world.propagator.prepare()
    assert world.provider.policies == {BUCKET: None}
    assert world.provider.container_headers[BUCKET] == {
        'x-container-meta-color': 'blue'}
    world.swift.put(ACCOUNT, CONTAINER, 'a', b'data')
    assert world.handle('a') is Outcome.COPIED
    world.propagator.prepare()
    assert world.provider.count('check_target') == 1


def test_prepare_creates_a_container_removed_on_the_remote_again(
        swift_like):
    world = swift_like()
    world.propagator.prepare()
    del world.provider.buckets[BUCKET]
    world.swift.containers[(ACCOUNT, CONTAINER)]['headers'][
        'X-Container-Meta-Color'] = 'red'
    world.propagator.prepare()
    assert BUCKET in world.provider.buckets
    assert world.provider.container_headers[BUCKET] == {
        'x-container-meta-color': 'red'}


def test_prepare_creates_no_container_when_the_remote_must_not(
        swift_like):
    world = swift_like(create_containers=False)
    with pytest.raises(exceptions.TargetNotFound):
        world.propagator.prepare()
    assert BUCKET not in world.provider.buckets
    assert world.provider.count('update_container_metadata') == 0


def test_prepare_leaves_s3_buckets_alone():
    world = World()
    world.propagator.prepare()
    assert world.provider.count() == 0


def test_the_archive_delete_is_just_after_a_version_with_an_offset():
    version = swift_utils.Timestamp(1700000000.5, offset=3)
    delete = remove.archive_timestamp(version)
    assert delete.offset == 4
    assert delete > version
    assert delete < swift_utils.Timestamp(1700000000.50001)


# -- remotes whose ETag is not the MD5 (SSE-KMS) -----------------------------

class KmsProvider(fakes.FakeProvider):
    """Stores as S3 with SSE-KMS does: the ETag is not the bytes' MD5."""

    def put_object(self, bucket, key, body, size, content_type=None,
                   metadata=None, md5=None, expires_at=None):
        super().put_object(bucket, key, body, size, content_type=content_type,
                           metadata=metadata, md5=md5, expires_at=expires_at)
        stored = self.buckets[bucket][key]
        stored.etag = hashlib.sha256(stored.data).hexdigest()[:32]
        return stored.etag


@pytest.mark.parametrize('options', [{}, {'archive': True}])
def test_a_copy_under_sse_kms_is_recognised_by_its_swift_etag(options):
    world = World(**options)
    world.provider = KmsProvider()
    world.provider.buckets[BUCKET] = {}
    world.propagator.provider = world.provider
    world.put('k', b'secret bytes')
    decision = ARCHIVE if options else COPY
    # NOTE: an archive verifies the copy before it deletes the local object
    assert world.handle('k', decision) is (
        Outcome.ARCHIVED if options else Outcome.COPIED)
    assert world.remote('k').etag != md5(b'secret bytes')
    assert world.internal('k')[md.ETAG_KEY] == md5(b'secret bytes')
    if not options:
        world.provider.reset_calls()
        assert world.handle('k') is Outcome.UNCHANGED
        assert world.provider.counts() == {'head_object': 1}


def test_a_copy_made_before_copies_kept_their_swift_etag_is_current():
    world = World()
    world.put('k', b'some bytes')
    assert world.handle('k') is Outcome.COPIED
    remote = world.remote('k')
    for key in [k for k in remote.metadata if k.lower() == md.ETAG_KEY]:
        del remote.metadata[key]
    assert md.ETAG_KEY not in world.internal('k')
    world.provider.reset_calls()
    assert world.handle('k') is Outcome.UNCHANGED
    assert world.provider.counts() == {'head_object': 1}


def test_a_copy_without_the_swift_etag_whose_etag_differs_is_updated():
    world = World()
    world.provider = KmsProvider()
    world.provider.buckets[BUCKET] = {}
    world.propagator.provider = world.provider
    world.put('k', b'secret bytes')
    assert world.handle('k') is Outcome.COPIED
    remote = world.remote('k')
    for key in [k for k in remote.metadata if k.lower() == md.ETAG_KEY]:
        del remote.metadata[key]
    assert world.handle('k') is not Outcome.UNCHANGED
    assert world.internal('k')[md.ETAG_KEY] == md5(b'secret bytes')


# -- small objects: one GET -------------------------------------------------

def local_requests(world, name):
    return [(r.method, r.headers.get('x-newest'), r.headers.get('if-match'))
            for r in world.swift.requests_for(obj=name)]


def test_a_small_object_is_copied_with_one_local_request(world):
    world.put('a', b'small bytes', {'X-Object-Meta-K': 'v'},
              content_type='text/plain')
    assert world.handle('a') is Outcome.COPIED
    assert len(world.swift.requests) == 1
    get, = world.swift.requests
    assert (get.method, get.obj) == ('GET', 'a')
    assert 'x-newest' not in get.headers
    assert get.params == {'multipart-manifest': 'get'}
    stored = world.remote('a')
    assert stored.data == b'small bytes'
    assert stored.content_type == 'text/plain'
    assert world.remote_headers('a') == {'X-Object-Meta-K': 'v'}
    assert world.provider.counts() == {'head_object': 1, 'put_object': 1}


def test_a_stale_replica_answering_the_get_falls_back_to_every_replica(
        world):
    world.put('a', b'new')
    row = world.row('a')

    def stale_replica(request):
        if request.method == 'GET' and 'if-match' not in request.headers \
                and 'x-newest' not in request.headers:
            return swob.HTTPOk(body=b'old', headers={
                'X-Timestamp': swift_utils.Timestamp(1000).internal,
                'Etag': md5(b'old')})
    world.swift.hooks.append(stale_replica)

    assert world.propagator.handle(row, COPY) is Outcome.COPIED
    assert local_requests(world, 'a') == [
        ('GET', None, None), ('HEAD', 'true', None),
        ('GET', None, '"%s"' % md5(b'new'))]
    assert world.remote('a').data == b'new'


def test_a_small_objects_404_asks_every_replica_for_a_tombstone(world):
    world.put('a')
    row = world.row('a')
    hook = unreachable(world, 'a')
    with pytest.raises(propagate.RetryLater) as caught:
        world.propagator.handle(row, COPY)
    assert 'unreachable' in caught.value.reason
    assert local_requests(world, 'a') == [('GET', None, None),
                                          ('HEAD', 'true', None)]
    world.swift.hooks.remove(hook)

    del world.swift.requests[:]
    unreachable(world, 'a', tombstone=world.swift.timestamp())
    assert world.propagator.handle(row, COPY) is Outcome.LOCAL_GONE
    assert local_requests(world, 'a') == [('GET', None, None),
                                          ('HEAD', 'true', None)]
    assert world.provider.calls == []


def test_an_slo_whose_row_looks_plain_still_takes_its_path(world):
    world.small_parts()
    paths = put_segments(world, [2 * KiB, 100])
    record = world.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)
    # NOTE: the GET of the manifest answers its raw JSON with
    # X-Static-Large-Object, which sends the row down the SLO path.
    row = dataclasses.replace(world.row('big'),
                              content_type='application/octet-stream')
    assert world.propagator.handle(row, COPY) is Outcome.COPIED
    assert world.remote('big').data == content_of(world, paths)
    assert world.remote('big').part_sizes == [2 * KiB, 100]
    manifest = world.provider.buckets[BUCKET][world.layout.manifest_key(
        'big')]
    assert manifest.data == record.body
    first = world.swift.requests_for(obj='big')[0]
    assert first.method == 'GET'
    assert first.params == {'multipart-manifest': 'get'}


def test_an_slo_row_is_headed_first(world):
    world.small_parts()
    paths = put_segments(world, [2 * KiB, 100])
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)
    assert world.handle('big') is Outcome.COPIED
    assert world.remote('big').data == content_of(world, paths)
    assert local_requests(world, 'big')[0] == ('HEAD', None, None)


def test_a_dlo_read_with_one_get_still_takes_its_path(world):
    paths = put_segments(world, [100, 200], prefix='parts/')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/parts/',
                        body=b'manifest body Swift never serves')
    assert world.handle('dlo') is Outcome.COPIED
    assert world.remote('dlo').data == content_of(world, paths)
    assert world.remote_headers('dlo') == {
        'X-Object-Manifest': 'segs/parts/'}
    assert local_requests(world, 'dlo') == [('GET', None, None)]


def test_a_body_not_matching_its_etag_is_retried_never_uploaded(world):
    record = world.put('a', b'good')

    def corrupt(request):
        if request.method == 'GET':
            return swob.HTTPOk(body=b'evil', headers={
                'Etag': record.etag, 'Content-Length': '4',
                'X-Backend-Timestamp': record.meta_timestamp.internal})
    world.swift.hooks.append(corrupt)
    with pytest.raises(propagate.RetryLater) as caught:
        world.handle('a')
    assert 'reading the local cluster failed' in caught.value.reason
    assert 'ETag %s' % record.etag in caught.value.reason
    assert world.provider.count('put_object') == 0
    assert world.remote('a') is None

    world.swift.hooks.remove(corrupt)
    assert world.handle('a') is Outcome.COPIED
    assert world.remote('a').data == b'good'


def test_a_large_object_is_headed_then_streamed(world, monkeypatch):
    monkeypatch.setattr(source_mod, 'SMALL_OBJECT_SIZE', 100)
    world.put('small', b's' * 100)
    world.put('large', b'l' * 101)
    assert world.handle('small') is Outcome.COPIED
    assert world.handle('large') is Outcome.COPIED
    assert local_requests(world, 'small') == [('GET', None, None)]
    assert local_requests(world, 'large') == [
        ('HEAD', None, None), ('GET', None, '"%s"' % md5(b'l' * 101))]
    assert world.remote('large').data == b'l' * 101


def test_an_object_larger_than_its_row_says_is_streamed(world, monkeypatch):
    monkeypatch.setattr(source_mod, 'SMALL_OBJECT_SIZE', 100)
    world.put('a', b'x' * 10)
    row = world.row('a')
    world.put('a', b'y' * 1000)
    assert world.propagator.handle(row, COPY) is Outcome.COPIED
    assert local_requests(world, 'a') == [
        ('GET', None, None), ('GET', None, '"%s"' % md5(b'y' * 1000))]
    assert world.remote('a').data == b'y' * 1000


def test_a_body_longer_than_its_content_length_is_streamed(world,
                                                           monkeypatch):
    monkeypatch.setattr(source_mod, 'SMALL_OBJECT_SIZE', 100)
    record = world.put('a', b'x' * 50)

    def too_long(request):
        if request.method == 'GET' and 'if-match' not in request.headers:
            resp = swob.HTTPOk(headers={
                'Etag': record.etag,
                'X-Backend-Timestamp': record.meta_timestamp.internal})
            resp.app_iter = iter([b'z' * 60, b'z' * 60])
            resp.content_length = 50
            return resp
    world.swift.hooks.append(too_long)
    assert world.handle('a') is Outcome.COPIED
    assert local_requests(world, 'a') == [
        ('GET', None, None), ('GET', None, '"%s"' % record.etag)]
    assert world.remote('a').data == b'x' * 50


def test_an_slo_keeps_the_etag_s3api_shows_for_it(world):
    world.small_parts()
    paths = put_segments(world, [2 * KiB, 100])
    s3_etag = large_objects.multipart_etag(
        [world.swift.get(ACCOUNT, *p.split('/', 1)).etag for p in paths])
    world.swift.put_slo(ACCOUNT, CONTAINER, 'up', paths,
                        {'X-Object-Sysmeta-S3Api-Etag': s3_etag})
    world.swift.put_slo(ACCOUNT, CONTAINER, 'swift', paths)

    assert world.handle('up') is Outcome.COPIED
    assert world.handle('swift') is Outcome.COPIED

    assert world.internal('up')[md.S3API_ETAG_KEY] == s3_etag
    assert md.S3API_ETAG_KEY not in world.internal('swift')
    assert world.handle('up') is Outcome.UNCHANGED


def _set_write_acl(world, container, acl):
    world.swift.create_container(ACCOUNT, container)
    world.swift.containers[(ACCOUNT, container)]['headers'] = {
        'X-Container-Write': acl}


def test_archive_keeps_segments_its_writers_could_not_delete(
        archive, caplog):
    # NOTE: Swift's SLO lets a user who may only read "segs" name its
    # objects as segments; archiving the manifest must not delete them.
    paths = put_segments(archive, [10, 20])
    _set_write_acl(archive, CONTAINER, 'test:reader-writer')
    archive.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)
    assert archive.handle('big', ARCHIVE) is Outcome.ARCHIVED
    assert archive.swift.get(ACCOUNT, CONTAINER, 'big') is None
    for path in paths:
        assert archive.swift.get(ACCOUNT, *path.split('/', 1)) is not None
    assert any('segments in segs are kept' in r.getMessage()
               for r in caplog.records)


def test_archive_deletes_segments_that_grant_as_much_as_the_manifest(
        archive):
    paths = put_segments(archive, [10, 20])
    _set_write_acl(archive, CONTAINER, 'test:writer')
    _set_write_acl(archive, 'segs', 'test:writer, test:other')
    archive.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)
    assert archive.handle('big', ARCHIVE) is Outcome.ARCHIVED
    for path in paths:
        assert archive.swift.get(ACCOUNT, *path.split('/', 1)) is None


def test_archive_deletes_segments_when_only_admins_write_the_manifest(
        archive):
    paths = put_segments(archive, [10, 20])
    _set_write_acl(archive, 'segs', '')
    archive.swift.put_slo(ACCOUNT, CONTAINER, 'big', paths)
    assert archive.handle('big', ARCHIVE) is Outcome.ARCHIVED
    for path in paths:
        assert archive.swift.get(ACCOUNT, *path.split('/', 1)) is None


# -- names the remote cannot hold ---------------------------------------------


def test_a_name_the_remote_cannot_hold_fails_before_anything_is_read(world):
    def check_key(bucket, key):
        if len(key.encode('utf-8')) > 20:
            raise exceptions.InvalidObject(
                'remote fake: %s/%s: the key is %d bytes long' % (
                    bucket, key, len(key.encode('utf-8'))))
    world.provider.check_key = check_key
    world.put('a-name-much-too-long-for-it')
    before = len(world.swift.requests)

    with pytest.raises(propagate.RowFailed) as caught:
        world.handle('a-name-much-too-long-for-it')

    assert caught.value.permanent
    assert 'AUTH_test/photos/a-name-much-too-long-for-it' in str(caught.value)
    assert 'bytes long' in str(caught.value)
    assert len(world.swift.requests) == before
    assert world.provider.calls == []
    world.swift.delete(ACCOUNT, CONTAINER, 'a-name-much-too-long-for-it')
    assert world.handle('a-name-much-too-long-for-it', REMOVE) is \
        Outcome.NOT_FOUND_REMOTE
    assert world.provider.calls == []


# -- garbage in remote metadata ---------------------------------------------

@pytest.mark.parametrize('value', ['inf', '1e400', 'nan', '-1', 'soon',
                                   '1e20'])
def test_a_garbage_remote_timestamp_is_overwritten_by_a_copy(world, value):
    world.put('a', b'data')
    world.handle('a')
    key = world.key('a')
    world.provider.buckets[BUCKET][key].metadata[md.TIMESTAMP_KEY] = value

    assert world.handle('a') is Outcome.METADATA_UPDATED

    swift_utils.Timestamp(world.internal('a')[md.TIMESTAMP_KEY])
    assert world.handle('a') is Outcome.UNCHANGED


@pytest.mark.parametrize('value', ['inf', '1e400', 'nan'])
def test_a_delete_leaves_a_copy_with_a_garbage_timestamp_saying_why(
        world, value, caplog):
    world.put('a', b'data')
    world.handle('a')
    key = world.key('a')
    world.provider.buckets[BUCKET][key].metadata[md.TIMESTAMP_KEY] = value
    world.swift.delete(ACCOUNT, CONTAINER, 'a')

    with caplog.at_level(logging.WARNING):
        assert world.handle('a', REMOVE) is Outcome.UNCHANGED

    assert world.remote('a') is not None
    assert any(md.TIMESTAMP_KEY in r.getMessage() and
               repr(value) in r.getMessage() and
               'not a Swift timestamp' in r.getMessage()
               for r in caplog.records)


def test_a_garbage_deleted_marker_is_marked_again():
    world = World(merge_namespaces=True, propagate_delete=False)
    world.put('a', b'data')
    world.handle('a')
    world.swift.delete(ACCOUNT, CONTAINER, 'a')
    assert world.handle('a', REMOVE) is Outcome.METADATA_UPDATED
    key = world.key('a')
    world.provider.buckets[BUCKET][key].metadata[md.DELETED_AT_KEY] = '1e400'

    assert world.handle('a', REMOVE) is Outcome.METADATA_UPDATED
    assert world.handle('a', REMOVE) is Outcome.UNCHANGED


@pytest.mark.parametrize('etag', ['', None])
def test_a_copy_the_remote_gives_no_etag_for_is_not_sent_again(world, etag):
    world.put('a', b'data')
    world.handle('a')
    world.provider.buckets[BUCKET][world.key('a')].etag = etag

    assert world.handle('a') is Outcome.UNCHANGED
    assert world.provider.count('put_object') == 1
    # another version is sent, of course
    world.put('a', b'other')
    assert world.handle('a') is Outcome.COPIED


# -- a POST while an object is archived ---------------------------------------

def _post_before(world, name, method, headers):
    """A user's POST, sent just before the propagator's ``method``."""
    real = world.propagator.reader.request
    sent = []

    def request(m, container, obj=None, **kwargs):
        if m == method and obj == name and not sent:
            world.swift.post(ACCOUNT, CONTAINER, name, headers)
            sent.append(m)
        return real(m, container, obj, **kwargs)
    world.propagator.reader.request = request
    return sent


@pytest.mark.parametrize('method', ['POST', 'DELETE'])
def test_a_post_while_archiving_keeps_the_object(archive, method):
    archive.put('a', b'cold data', {'X-Object-Meta-Color': 'blue',
                                    'X-Delete-At': '2000000000'})
    row = archive.row('a')
    sent = _post_before(archive, 'a', method, {'X-Object-Meta-Color': 'red'})

    assert archive.propagator.handle(row, ARCHIVE) is Outcome.UNCHANGED

    assert sent == [method]
    local = archive.swift.get(ACCOUNT, CONTAINER, 'a')
    assert local.headers['X-Object-Meta-Color'] == 'red'
    assert archive.stats.totals.get('archived_objects', 0) == 0


def test_the_fence_keeps_the_objects_metadata(archive):
    archive.put('a', b'cold data', {'X-Object-Meta-Color': 'Blue',
                                    'X-Object-Meta-Caf\u00e9': 'cr\u00e8me',
                                    'X-Delete-At': '2000000000'})
    archive.swift.hooks.append(
        lambda r: swob.HTTPServiceUnavailable()
        if r.method == 'DELETE' else None)

    with pytest.raises(propagate.RetryLater):
        archive.handle('a', ARCHIVE)

    fence, unfence = archive.swift.requests_for('POST', 'a')
    assert fence.headers['x-object-meta-color'] == 'Blue'
    assert [swob.wsgi_to_str(v) for k, v in fence.headers.items()
            if k.startswith('x-object-meta-caf')] == ['cr\u00e8me']
    # the DELETE failed: the object's own X-Delete-At is given back
    assert unfence.headers['x-delete-at'] == '2000000000'
    local = archive.swift.get(ACCOUNT, CONTAINER, 'a')
    assert local.headers['X-Delete-At'] == '2000000000'
    assert local.headers['X-Object-Meta-Color'] == 'Blue'


# -- rows seen for the first time: one remote request per change ------------

class ConditionalProvider(fakes.FakeProvider):
    """An S3-like remote with conditional PUTs and one-request deletes."""

    PUT_CREATE_ONLY = True
    PUT_IF_MATCH = True
    BULK_DELETE = True

    def put_object(self, bucket, key, body, size, content_type=None,
                   metadata=None, md5=None, expires_at=None,
                   create_only=False, if_match=None):
        objects = self.buckets.get(bucket, {})
        held = objects.get(key)
        if create_only and held is not None:
            self.calls.append(('put_object', key))
            raise exceptions.PreconditionFailed('key taken', status=412)
        if if_match is not None and held is None:
            self.calls.append(('put_object', key))
            raise exceptions.NotFound('no such key', status=404)
        if if_match is not None and held.etag != if_match:
            self.calls.append(('put_object', key))
            raise exceptions.PreconditionFailed('other bytes', status=412)
        return super().put_object(bucket, key, body, size,
                                  content_type=content_type,
                                  metadata=metadata, md5=md5,
                                  expires_at=expires_at)

    def delete_objects(self, bucket, keys):
        objects = self._call('delete_objects', bucket, tuple(keys))
        for key in keys:
            objects.pop(key, None)

    DELETE_IF_MATCH = True

    def delete_object(self, bucket, key, if_match=None):
        self.delete_conditions = getattr(self, 'delete_conditions', [])
        self.delete_conditions.append(if_match)
        held = self.buckets.get(bucket, {}).get(key)
        if if_match is not None and held is not None and \
                held.etag != if_match:
            self.calls.append(('delete_object', key))
            raise exceptions.PreconditionFailed('other bytes', status=412)
        return super().delete_object(bucket, key)


def fresh(world, name, decision=COPY, row=None):
    """Handle a row first met, changed since the progress began."""
    return world.propagator.handle(row or world.row(name), decision,
                                   fresh=True, new=True)


def first_met(world, name, decision=COPY):
    """Handle a row first met, of a change older than the progress."""
    return world.propagator.handle(world.row(name), decision, fresh=True)


@pytest.fixture
def alone():
    """A sync mapping whose objects nothing else writes."""
    return World(provider_cls=ConditionalProvider, remote_writers=False)


@pytest.fixture
def shared():
    """The same, where something else writes too (proxymc, say)."""
    return World(provider_cls=ConditionalProvider, remote_writers=True)


def test_remote_writers_unless_the_mapping_says_none_and_is_not_shunted():
    assert make_mapping().has_remote_writers
    assert not make_mapping(remote_writers=False).has_remote_writers
    assert make_mapping(merge_namespaces=True,
                        remote_writers=False).has_remote_writers
    assert make_mapping(archive=True,
                        remote_writers=False).has_remote_writers


def test_alone_a_new_object_is_one_put(alone):
    alone.put('a', b'new')
    assert fresh(alone, 'a') is Outcome.COPIED
    assert alone.provider.counts() == {'put_object': 1}
    assert alone.remote('a').data == b'new'


def test_alone_an_overwrite_is_one_put(alone):
    alone.put('a', b'old')
    fresh(alone, 'a')
    alone.put('a', b'new', {'X-Object-Meta-K': 'v'})
    alone.provider.reset_calls()
    assert fresh(alone, 'a') is Outcome.COPIED
    assert alone.provider.counts() == {'put_object': 1}
    assert alone.remote('a').data == b'new'
    assert alone.remote_headers('a') == {'X-Object-Meta-K': 'v'}


def test_alone_a_metadata_change_is_one_put_if_the_bytes_match(alone):
    alone.put('a', b'data')
    fresh(alone, 'a')
    alone.swift.post(ACCOUNT, CONTAINER, 'a', {'X-Object-Meta-Color': 'red'})
    alone.provider.reset_calls()
    assert fresh(alone, 'a') is Outcome.METADATA_UPDATED
    assert alone.provider.counts() == {'put_object': 1}
    assert alone.remote_headers('a') == {'X-Object-Meta-Color': 'red'}
    record = alone.swift.get(ACCOUNT, CONTAINER, 'a')
    assert alone.internal('a')[md.TIMESTAMP_KEY] == \
        record.meta_timestamp.internal


def test_alone_a_metadata_change_never_replaces_other_bytes(alone):
    # NOTE: someone wrote the key although the mapping says nobody does:
    # the conditional write is refused and the copy compared as usual.
    alone.put('a', b'data')
    alone.swift.post(ACCOUNT, CONTAINER, 'a', {'X-Object-Meta-Color': 'red'})
    newer = swift_utils.Timestamp(time.time() + 3600).internal
    alone.provider.put_raw(BUCKET, alone.key('a'), b'another writer',
                           metadata={md.TIMESTAMP_KEY: newer})
    assert fresh(alone, 'a') is Outcome.UNCHANGED
    assert alone.remote('a').data == b'another writer'
    assert alone.provider.counts() == {'put_object': 1, 'head_object': 1}


def test_alone_a_metadata_change_of_a_missing_copy_sends_it(alone):
    alone.put('a', b'data')
    alone.swift.post(ACCOUNT, CONTAINER, 'a', {'X-Object-Meta-Color': 'red'})
    assert fresh(alone, 'a') is Outcome.COPIED
    assert alone.provider.counts() == {'put_object': 2}
    assert alone.remote('a').data == b'data'
    assert alone.remote_headers('a') == {'X-Object-Meta-Color': 'red'}


def test_alone_a_metadata_change_without_if_match_reads_the_copy(alone):
    alone.provider.PUT_IF_MATCH = False
    alone.put('a', b'data')
    fresh(alone, 'a')
    alone.swift.post(ACCOUNT, CONTAINER, 'a', {'X-Object-Meta-Color': 'red'})
    alone.provider.reset_calls()
    assert fresh(alone, 'a') is Outcome.METADATA_UPDATED
    assert alone.provider.counts() == {'head_object': 1,
                                       'update_metadata': 1}


def test_alone_a_delete_is_one_request_for_object_and_side_object(alone):
    alone.put('seg/1', b'a' * 10)
    alone.swift.put_slo(ACCOUNT, CONTAINER, 'big', ['%s/seg/1' % CONTAINER])
    alone.handle('big')
    assert alone.layout.manifest_key('big') in alone.provider.buckets[BUCKET]
    alone.swift.delete(ACCOUNT, CONTAINER, 'big')
    alone.provider.reset_calls()
    assert fresh(alone, 'big', REMOVE) is Outcome.DELETED
    assert alone.provider.counts() == {'delete_objects': 1}
    assert alone.key('big') not in alone.provider.buckets[BUCKET]
    assert alone.layout.manifest_key('big') not in \
        alone.provider.buckets[BUCKET]


def test_a_delete_row_handled_again_reads_the_copy_first(alone):
    alone.put('a')
    alone.handle('a')
    alone.swift.delete(ACCOUNT, CONTAINER, 'a')
    alone.provider.reset_calls()
    assert alone.handle('a', REMOVE) is Outcome.DELETED
    assert alone.provider.counts() == {'head_object': 1, 'delete_object': 1}


def test_a_delete_is_conditional_on_the_copy_it_read(shared):
    shared.put('a', b'old')
    shared.handle('a')
    etag = shared.remote('a').etag
    shared.swift.delete(ACCOUNT, CONTAINER, 'a')
    shared.provider.reset_calls()
    assert fresh(shared, 'a', REMOVE) is Outcome.DELETED
    assert shared.provider.counts() == {'head_object': 1,
                                        'delete_object': 1}
    assert shared.provider.delete_conditions == [etag]
    assert shared.remote('a') is None


def test_a_delete_never_removes_what_another_wrote_after_the_head(shared):
    # NOTE: another writer (proxymc, say) stores a newer object between
    # the HEAD and the DELETE: the DELETE, conditional on the ETag read,
    # is refused; the row is tried again, reads the newer object and
    # leaves it.
    shared.put('a', b'old')
    shared.handle('a')
    shared.swift.delete(ACCOUNT, CONTAINER, 'a')
    delete_row = shared.row('a')
    newer = swift_utils.Timestamp(float(delete_row.timestamp) + 60)
    head = shared.provider.head_object

    def head_then_another_writes(bucket, key):
        info = head(bucket, key)
        shared.provider.head_object = head
        shared.provider.put_raw(bucket, key, b'newer, another writer',
                                metadata={md.TIMESTAMP_KEY: newer.internal})
        return info
    shared.provider.head_object = head_then_another_writes
    with pytest.raises(propagate.RetryLater) as caught:
        fresh(shared, 'a', REMOVE, row=delete_row)
    assert 'changed since it was read' in str(caught.value)
    assert shared.remote('a').data == b'newer, another writer'
    assert shared.propagator.handle(delete_row, REMOVE) is \
        Outcome.UNCHANGED
    assert shared.remote('a').data == b'newer, another writer'


def synced_slo_deleted(world):
    """An SLO ``big``, copied, then deleted in Swift: its delete row."""
    world.put('seg/1', b'a' * 10)
    world.swift.put_slo(ACCOUNT, CONTAINER, 'big', ['%s/seg/1' % CONTAINER])
    world.handle('big')
    world.swift.delete(ACCOUNT, CONTAINER, 'big')
    return world.row('big')


def test_a_delete_never_removes_the_manifest_of_another_writers_slo(
        shared):
    # NOTE: another writer stores a newer SLO (its own manifest side
    # object too) between the HEAD and the DELETE: both stay.
    delete_row = synced_slo_deleted(shared)
    manifest_key = shared.layout.manifest_key('big')
    newer = swift_utils.Timestamp(float(delete_row.timestamp) + 60)
    head = shared.provider.head_object

    def head_then_another_writes(bucket, key):
        info = head(bucket, key)
        shared.provider.head_object = head
        shared.provider.put_raw(bucket, key, b'newer SLO', metadata={
            md.TIMESTAMP_KEY: newer.internal})
        shared.provider.put_raw(bucket, manifest_key, b'its manifest')
        return info
    shared.provider.head_object = head_then_another_writes
    with pytest.raises(propagate.RetryLater):
        fresh(shared, 'big', REMOVE, row=delete_row)
    assert shared.remote('big').data == b'newer SLO'
    assert shared.provider.buckets[BUCKET][manifest_key].data == \
        b'its manifest'


def test_a_conditional_delete_of_an_slo_removes_its_manifest_after(shared):
    synced_slo_deleted(shared)
    shared.provider.reset_calls()
    assert fresh(shared, 'big', REMOVE) is Outcome.DELETED
    deletes = [c for c in shared.provider.calls if c[0] == 'delete_object']
    assert [c[1] for c in deletes] == [
        shared.key('big'), shared.layout.manifest_key('big')]
    assert shared.remote('big') is None
    assert shared.layout.manifest_key('big') not in \
        shared.provider.buckets[BUCKET]


def test_a_delete_without_the_condition_is_plain(world):
    # NOTE: a provider that does not declare DELETE_IF_MATCH (a third
    # party's, written before it existed) is never passed if_match.
    assert not providers.deletes_if_match(world.provider)
    world.put('a')
    world.handle('a')
    world.swift.delete(ACCOUNT, CONTAINER, 'a')
    assert world.handle('a', REMOVE) is Outcome.DELETED
    assert world.remote('a') is None


def test_alone_an_archive_tombstone_never_deletes_the_copy(alone):
    # NOTE: archiving deletes the local object one offset after the copied
    # version; such a delete is never carried out without reading the copy.
    alone.put('a')
    alone.handle('a')
    copied = alone.swift.get(ACCOUNT, CONTAINER, 'a').meta_timestamp
    tombstone = lifecycle.Row(name='a', row_id=2,
                              timestamp=md.archive_timestamp(copied),
                              meta_timestamp=md.archive_timestamp(copied),
                              deleted=True)
    alone.provider.reset_calls()
    assert fresh(alone, 'a', REMOVE, row=tombstone) is Outcome.UNCHANGED
    assert alone.remote('a') is not None
    assert alone.provider.count('delete_objects') == 0


def test_alone_a_delete_of_an_excluded_object_is_skipped():
    world = World(provider_cls=ConditionalProvider, exclude_pattern='tmp/')
    world.put('tmp/a')
    world.swift.delete(ACCOUNT, CONTAINER, 'tmp/a')
    assert fresh(world, 'tmp/a', REMOVE) is Outcome.SKIPPED
    assert world.provider.calls == []


@pytest.mark.parametrize('options', [dict(archive=True),
                                     dict(merge_namespaces=True),
                                     dict(propagate_delete=False,
                                          merge_namespaces=True)])
def test_shunted_mappings_read_the_copy_before_a_delete(options):
    world = World(provider_cls=ConditionalProvider, **options)
    world.put('a')
    world.handle('a')
    world.swift.delete(ACCOUNT, CONTAINER, 'a')
    world.provider.reset_calls()
    fresh(world, 'a', REMOVE)
    assert world.provider.count('head_object') == 1
    assert world.provider.count('delete_objects') == 0


def test_shared_a_delete_never_removes_another_writers_newer_object(shared):
    shared.put('a')
    shared.swift.delete(ACCOUNT, CONTAINER, 'a')
    newer = swift_utils.Timestamp(time.time() + 3600).internal
    shared.provider.put_raw(BUCKET, shared.key('a'), b'proxymc',
                            metadata={md.TIMESTAMP_KEY: newer})
    assert fresh(shared, 'a', REMOVE) is Outcome.UNCHANGED
    assert shared.remote('a').data == b'proxymc'


def test_shared_an_overwrite_never_replaces_another_writers_newer_object(
        shared):
    shared.put('a', b'local')
    newer = swift_utils.Timestamp(time.time() + 3600).internal
    shared.provider.put_raw(BUCKET, shared.key('a'), b'proxymc',
                            metadata={md.TIMESTAMP_KEY: newer})
    assert fresh(shared, 'a') is Outcome.UNCHANGED
    assert shared.remote('a').data == b'proxymc'
    # the write that only creates was refused, then the copy was read
    assert shared.provider.counts() == {'put_object': 1, 'head_object': 1}


def test_shared_a_metadata_change_reads_the_copy_first(shared):
    shared.put('a', b'data')
    fresh(shared, 'a')
    shared.swift.post(ACCOUNT, CONTAINER, 'a', {'X-Object-Meta-C': 'red'})
    shared.provider.reset_calls()
    assert fresh(shared, 'a') is Outcome.METADATA_UPDATED
    assert shared.provider.counts() == {'head_object': 1,
                                        'update_metadata': 1}


def test_alone_rows_older_than_the_progress_are_read_first(alone):
    # NOTE: after a restart from row 0 (a lost status file) the copies of
    # older changes are likely there: nothing is sent again blindly.
    alone.put('a', b'data')
    fresh(alone, 'a')
    alone.provider.reset_calls()
    assert first_met(alone, 'a') is Outcome.UNCHANGED
    assert alone.provider.counts() == {'put_object': 1, 'head_object': 1}
    alone.swift.delete(ACCOUNT, CONTAINER, 'a')
    alone.provider.reset_calls()
    assert first_met(alone, 'a', REMOVE) is Outcome.DELETED
    assert alone.provider.counts() == {'head_object': 1, 'delete_object': 1}
