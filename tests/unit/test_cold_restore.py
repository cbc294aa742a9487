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
"""Archived objects in a cold storage class (S3 GLACIER, DEEP_ARCHIVE):
a read through the shunt has the remote restore them, once for every
reader, and is answered "come back later" until they can be read."""

import calendar

import pytest

from cloudsync import exceptions
from cloudsync import providers
from cloudsync.shunt import objects as shunt_object
from cloudsync import stubs
from cloudsync_providers.s3 import cold as s3_cold
from tests.unit import shunt_fakes
from tests.unit.shunt_fakes import ACCOUNT
from tests.unit.shunt_fakes import CONTAINER

BODY = b'cold archived bytes'


class ColdProvider(shunt_fakes.ChunkedProvider):
    """A remote whose copies are all GLACIER: read only once restored."""

    RESTORES_COLD = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: key -> 'restoring' or 'readable'
        self.restores = {}
        self.restore_requests = []

    def _info(self, key, obj):
        info = super()._info(key, obj)
        info.storage_class = 'GLACIER'
        return info

    def get_object(self, bucket, key, **kwargs):
        self._call('get_object', bucket, key)
        if self.restores.get(key) != providers.COLD_READABLE:
            raise exceptions.InvalidObject(
                'remote: GetObject %s: the object is archived' % key,
                status=403, code='InvalidObjectState')
        return super().get_object(bucket, key, **kwargs)

    def cold_state(self, bucket, key):
        self.head_object(bucket, key)
        return providers.ColdState(
            self.restores.get(key, providers.COLD_ARCHIVED), 'GLACIER',
            expires_at=1800000000.0 if self.restores.get(key) ==
            providers.COLD_READABLE else None)

    def restore_cold(self, bucket, key, days, tier):
        self.head_object(bucket, key)
        self.restore_requests.append((key, days, tier))
        self.restores.setdefault(key, providers.COLD_RESTORING)
        return providers.ColdState(self.restores[key], 'GLACIER')

    def finish(self, key):
        self.restores[key] = providers.COLD_READABLE


@pytest.fixture(autouse=True)
def no_claims():
    shunt_object._COLD_CLAIMS.clear()
    yield
    shunt_object._COLD_CLAIMS.clear()


def archived(tmp_path, **options):
    options.setdefault('archive_as', 'stub')
    world = shunt_fakes.ShuntWorld(tmp_path, provider_cls=ColdProvider,
                                   **options)
    world.put('obj', BODY, {'X-Object-Meta-Color': 'blue'},
              content_type='text/plain')
    world.archive('obj')
    return world


def test_the_stub_records_the_cold_storage_class(tmp_path):
    world = archived(tmp_path)

    record = world.swift.get(ACCOUNT, CONTAINER, 'obj')

    assert stubs.ArchiveStub.from_headers(
        record.headers).storage_class == 'GLACIER'


def test_a_read_asks_for_the_restore_and_says_come_back_later(tmp_path):
    world = archived(tmp_path, cold_restore_days=3,
                     cold_restore_tier='Bulk')

    resp = world.obj('obj')

    assert resp.status_int == 503
    assert resp.headers['Retry-After'] == str(
        shunt_object.RETRY_AFTER['Bulk'])
    assert resp.headers['X-Cloudsync-Restore'] == 'in-progress'
    assert b'restored before it is read' in resp.body
    assert world.provider.restore_requests == [(world.key('obj'), 3,
                                                'Bulk')]


def test_the_restore_is_asked_for_once_for_all_readers(tmp_path):
    world = archived(tmp_path)

    answers = [world.obj('obj').status_int for _ in range(5)]
    ranged = world.obj('obj', headers={'Range': 'bytes=0-3'})

    assert answers == [503] * 5
    assert ranged.status_int == 503
    assert len(world.provider.restore_requests) == 1


def test_memcache_tells_other_proxies_the_restore_was_asked_for(tmp_path):
    world = archived(tmp_path)

    class Cache(object):
        def __init__(self):
            self.counts = {}

        def incr(self, key, delta=1, time=0):
            self.counts[key] = self.counts.get(key, 0) + delta
            return self.counts[key]
    cache = Cache()
    world.obj('obj', environ={'swift.cache': cache})
    shunt_object._COLD_CLAIMS.clear()  # another proxy process

    assert world.obj('obj', environ={'swift.cache': cache}).status_int == \
        503
    assert len(world.provider.restore_requests) == 1


def test_a_head_shows_where_the_restore_stands(tmp_path):
    world = archived(tmp_path)

    before = world.obj('obj', method='HEAD')
    world.obj('obj')
    during = world.obj('obj', method='HEAD')
    world.provider.finish(world.key('obj'))
    after = world.obj('obj', method='HEAD')

    assert before.status_int == during.status_int == 200
    assert before.headers['Content-Length'] == str(len(BODY))
    assert before.headers['X-Cloudsync-Restore'] == 'needed'
    assert during.headers['X-Cloudsync-Restore'] == 'in-progress'
    assert after.headers['X-Cloudsync-Restore'].startswith('done; expiry')


def test_once_restored_the_object_is_read(tmp_path):
    world = archived(tmp_path)
    world.obj('obj')
    world.provider.finish(world.key('obj'))

    resp = world.obj('obj')
    ranged = world.obj('obj', headers={'Range': 'bytes=0-3'})

    assert (resp.status_int, resp.body) == (200, BODY)
    assert resp.headers['X-Object-Meta-Color'] == 'blue'
    assert (ranged.status_int, ranged.body) == (206, BODY[:4])


def test_with_restore_object_it_comes_back_into_swift_once_readable(
        tmp_path):
    world = archived(tmp_path, restore_object=True)
    assert world.obj('obj').status_int == 503
    assert stubs.is_stub(world.swift.get(ACCOUNT, CONTAINER, 'obj').headers)
    world.provider.finish(world.key('obj'))

    assert world.obj('obj').body == BODY

    record = world.swift.get(ACCOUNT, CONTAINER, 'obj')
    assert record.body == BODY and not stubs.is_stub(record.headers)


def test_objects_archived_by_deleting_them_are_restored_the_same_way(
        tmp_path):
    world = archived(tmp_path, archive_as='delete')

    resp = world.obj('obj')

    assert resp.status_int == 503
    assert resp.headers['X-Cloudsync-Restore'] == 'in-progress'
    assert len(world.provider.restore_requests) == 1


def test_a_failed_restore_request_is_asked_again_by_the_next_reader(
        tmp_path):
    world = archived(tmp_path)
    world.provider.failures['head_object'] = [
        (None, exceptions.Unavailable('remote: down', status=503))]

    first = world.obj('obj')
    second = world.obj('obj')

    assert first.status_int == 503 and 'Retry-After' not in first.headers
    assert second.headers['X-Cloudsync-Restore'] == 'in-progress'
    assert len(world.provider.restore_requests) == 1


# -- the S3 provider ----------------------------------------------------------

@pytest.mark.parametrize('head, state', [
    ({'StorageClass': 'GLACIER'}, providers.COLD_ARCHIVED),
    ({'StorageClass': 'DEEP_ARCHIVE',
      'Restore': 'ongoing-request="true"'}, providers.COLD_RESTORING),
    ({'StorageClass': 'GLACIER',
      'Restore': 'ongoing-request="false", expiry-date="Fri, 23 Dec 2033 '
                 '00:00:00 GMT"'}, providers.COLD_READABLE),
    ({}, providers.COLD_READABLE),
    ({'StorageClass': 'STANDARD_IA'}, providers.COLD_READABLE),
])
def test_s3_says_where_a_restore_stands(head, state):
    assert s3_cold.cold_state(head).state == state


def test_s3_reads_the_expiry_of_a_restored_copy():
    found = s3_cold.cold_state({
        'StorageClass': 'GLACIER', 'Restore': 'ongoing-request="false", '
        'expiry-date="Fri, 23 Dec 2033 00:00:00 GMT"'})

    assert found.expires_at == calendar.timegm((2033, 12, 23, 0, 0, 0))


class FakeS3(s3_cold.S3ColdRestore):
    def __init__(self, answers):
        self.answers = list(answers)
        self.sent = []

    def _call(self, op, bucket, key=None, **params):
        self.sent.append((op, key, params))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_s3_restores_with_the_days_and_tier_asked_for():
    s3 = FakeS3([{'ResponseMetadata': {'HTTPStatusCode': 202}}])

    state = s3.restore_cold('b', 'k', 2, 'Expedited')

    assert state.state == providers.COLD_RESTORING
    assert s3.sent == [('restore_object', 'k', {'RestoreRequest': {
        'Days': 2, 'GlacierJobParameters': {'Tier': 'Expedited'}}})]


def test_s3_takes_a_restore_in_progress_or_done_as_no_error():
    busy = FakeS3([exceptions.RemoteError(
        'remote: RestoreObject: 409', status=409,
        code='RestoreAlreadyInProgress')])
    done = FakeS3([{'ResponseMetadata': {'HTTPStatusCode': 200}},
                   {'StorageClass': 'GLACIER',
                    'Restore': 'ongoing-request="false"'}])

    assert busy.restore_cold('b', 'k', 1, 'Standard').state == \
        providers.COLD_RESTORING
    assert done.restore_cold('b', 'k', 1, 'Standard').readable


def test_the_restore_command_lists_pending_cold_restores(tmp_path):
    from cloudsync.cmd import restore as restore_cmd
    from tests.unit import fakes
    world = archived(tmp_path)
    world.put('hot', b'in swift')
    world.obj('obj')
    restorer = restore_cmd.Restorer(
        world.config, fakes.FakeInternalClient(world.swift), world.logger)

    pending = list(restorer.pending(ACCOUNT, CONTAINER))

    assert pending == [('obj', 'in-progress (GLACIER)')]
