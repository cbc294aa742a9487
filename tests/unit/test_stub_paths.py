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
"""Archive stubs end to end on fakes: the daemon writes a stub
(:meth:`~cloudsync.sync.remove.Archiver.replace_with_stub`) and carries
what changes on it (:class:`~cloudsync.sync.remove.StubCarrier`); the
shunt serves it (:class:`~cloudsync.shunt.objects.StubAnswer`)."""

import dataclasses
import json
import logging
import time

import pytest
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import lifecycle
from cloudsync.shunt import objects as shunt_object
from cloudsync import stubs
from cloudsync.sync import propagate
from tests.unit import fakes
from tests.unit import shunt_fakes
from tests.unit.shunt_fakes import ACCOUNT
from tests.unit.shunt_fakes import BUCKET
from tests.unit.shunt_fakes import CONTAINER
from tests.unit import test_stubs

BODY = b'hello archived world'
OBJECT_HEADERS = ('content-type', 'content-length', 'etag', 'x-timestamp',
                  'last-modified', 'accept-ranges', 'x-delete-at',
                  'content-disposition')
COPY = lifecycle.Decision(lifecycle.Action.COPY)


def object_headers(resp):
    return {k.lower(): v for k, v in resp.headers.items()
            if k.lower() in OBJECT_HEADERS or
            k.lower().startswith('x-object-meta-')}


@pytest.fixture
def world(tmp_path):
    return shunt_fakes.ShuntWorld(tmp_path, archive_as='stub')


def put(world, name='obj', body=BODY, **headers):
    headers.setdefault('X-Object-Meta-Color', 'blue')
    world.put(name, body, headers, content_type='text/plain')
    return world.obj(name)


def local(world, name='obj'):
    return world.swift.get(ACCOUNT, CONTAINER, name)


def handle(world, name='obj', decision=shunt_fakes.ARCHIVE):
    return world.propagator.handle(world.row(name), decision)


def listing(world):
    return json.loads(world.listing(format='json').body)


# -- the daemon writes the stub -------------------------------------------

def test_archiving_replaces_the_object_with_a_zero_byte_stub(world):
    put(world, **{'Content-Disposition': 'inline'})
    original = local(world)

    assert handle(world) is propagate.Outcome.ARCHIVED

    stub = local(world)
    assert stub.body == b''
    assert stub.content_type == stubs.STUB_CONTENT_TYPE
    assert stub.data_timestamp == stubs.stub_timestamp(
        original.data_timestamp)
    assert stub.headers['X-Object-Meta-Color'] == 'blue'
    assert stub.headers['Content-Disposition'] == 'inline'
    found = stubs.ArchiveStub.from_headers(stub.headers)
    assert (found.bucket, found.key, found.size, found.etag, found.kind,
            found.content_type) == (BUCKET, world.key('obj'), len(BODY),
                                    original.etag, 'plain', 'text/plain')
    assert found.timestamp == original.data_timestamp
    assert world.remote('obj').data == BODY


def test_the_stub_of_an_object_encrypted_at_rest_leaves_its_etags_out(
        world):
    # NOTE: the row's ETag is encrypted (at-rest encryption); the record
    # is sysmeta, which Swift's encrypter does not encrypt.
    original = put(world)
    row = dataclasses.replace(world.row('obj'), etag=(
        'ciphertext; swift_meta=%7B%22iv%22%3A%22x%22%7D'))

    assert world.propagator.handle(row, shunt_fakes.ARCHIVE) is \
        propagate.Outcome.ARCHIVED

    stub = local(world)
    found = stubs.ArchiveStub.from_headers(stub.headers)
    assert (found.etag, found.remote_etag) == ('', '')
    assert original.etag not in stub.headers[stubs.RECORD.title()]
    # Swift's encrypter encrypts the override on its way to the disk
    assert stub.headers[stubs.OVERRIDE_ETAG] == original.etag
    head = world.obj('obj', method='HEAD')
    assert (head.status_int, head.headers['Etag']) == (200, original.etag)
    get = world.obj('obj')
    assert (get.body, get.headers['Etag']) == (BODY, original.etag)


def test_swifts_listing_is_what_it_was_before_archiving(world):
    put(world, 'a')
    put(world, 'b', b'')
    before = listing(world)

    world.archive('a', 'b')

    assert listing(world) == before


def test_a_stub_is_never_written_over_a_newer_object(world, caplog):
    caplog.set_level(logging.INFO)
    put(world)

    def overwrite(req):
        if req.method == 'PUT' and req.headers.get('content-type') == \
                stubs.STUB_CONTENT_TYPE:
            world.swift.hooks.remove(overwrite)
            world.swift.put(ACCOUNT, CONTAINER, 'obj', b'newer')
    world.swift.hooks.append(overwrite)

    assert handle(world) is propagate.Outcome.UNCHANGED

    assert local(world).body == b'newer'
    assert 'newer object is kept' in caplog.text


def test_the_proxys_202_for_a_refused_stub_keeps_the_newer_object(world):
    # NOTE: Swift's proxy answers 202 when its object servers refused the
    # PUT (409) because a newer object or tombstone is there.
    put(world)
    world.swift.hooks.append(
        lambda req: fakes.error_response(202)
        if req.method == 'PUT' else None)

    assert handle(world) is propagate.Outcome.UNCHANGED

    assert local(world).body == BODY


def test_a_stub_is_never_archived_or_copied_again(world):
    put(world)
    world.archive('obj')
    world.provider.calls.clear()

    for decision in (shunt_fakes.ARCHIVE, COPY):
        assert handle(world, decision=decision) is \
            propagate.Outcome.UNCHANGED

    assert world.remote('obj').data == BODY
    assert not [c for c in world.provider.calls
                if c[0] in ('put_object', 'put_multipart')]


@pytest.mark.parametrize('form', ['earlier build', 'in parts'])
def test_the_shunt_serves_every_form_of_the_record(world, form):
    name = 'ö' * 700 if form == 'in parts' else 'obj'
    put(world, name)
    before = {m: object_headers(world.obj(name, method=m))
              for m in ('GET', 'HEAD')}
    world.archive(name)
    record = world.swift.objects[(ACCOUNT, CONTAINER, name)]
    stub = stubs.ArchiveStub.from_headers(record.headers)
    sysmeta = stub.sysmeta()
    if form == 'earlier build':
        sysmeta = test_stubs.legacy_sysmeta(stub)
    else:
        assert len(sysmeta) > 1
    record.headers = {k: v for k, v in record.headers.items()
                      if not k.lower().startswith(stubs.PREFIX)}
    record.headers.update(sysmeta)
    world.provider.calls.clear()

    head = world.obj(name, method='HEAD')
    assert object_headers(head) == before['HEAD']
    assert not world.provider.calls
    got = world.obj(name)
    assert got.body == BODY
    assert object_headers(got) == before['GET']
    assert handle(world, name, decision=COPY) is \
        propagate.Outcome.UNCHANGED
    assert world.remote(name).data == BODY


# -- the daemon carries what changes on a stub ----------------------------

def test_a_post_on_a_stub_reaches_the_remote_copys_metadata(world):
    put(world)
    world.archive('obj')
    world.swift.post(ACCOUNT, CONTAINER, 'obj',
                     {'X-Object-Meta-Color': 'red',
                      'Content-Type': 'text/posted'})

    assert handle(world) is propagate.Outcome.METADATA_UPDATED

    remote = world.remote('obj')
    assert remote.data == BODY
    assert remote.content_type == 'text/posted'
    assert remote.metadata['color'] == 'red'
    assert handle(world) is propagate.Outcome.UNCHANGED


def test_a_stub_whose_remote_copy_is_gone_is_reported_not_copied(
        world, caplog):
    put(world)
    world.archive('obj')
    world.swift.post(ACCOUNT, CONTAINER, 'obj',
                     {'X-Object-Meta-Color': 'red'})
    del world.provider.buckets[BUCKET][world.key('obj')]

    assert handle(world) is propagate.Outcome.UNCHANGED

    assert world.remote('obj') is None
    assert 'holds no copy of it' in caplog.text


def test_a_stub_pointing_elsewhere_is_left_alone(world, caplog):
    put(world)
    world.archive('obj')
    record = local(world)
    elsewhere = dataclasses.replace(
        stubs.ArchiveStub.from_headers(record.headers), key='elsewhere/obj')
    record.headers.update(elsewhere.sysmeta())
    record.meta_timestamp = world.swift.timestamp()

    assert handle(world) is propagate.Outcome.UNCHANGED

    assert 'left alone' in caplog.text


def test_a_deleted_stub_deletes_the_remote_copy(world):
    put(world)
    world.archive('obj')
    world.swift.delete(ACCOUNT, CONTAINER, 'obj')
    tombstone = world.swift.objects[(ACCOUNT, CONTAINER, 'obj')].timestamp
    row = lifecycle.Row(name='obj', row_id=2, timestamp=tombstone,
                        meta_timestamp=tombstone, deleted=True)

    world.propagator.handle(row, lifecycle.Decision(
        lifecycle.Action.REMOVE_REMOTE))

    assert world.remote('obj') is None


# -- the shunt serves it ----------------------------------------------------

def test_the_shunt_answers_a_stub_with_the_originals_headers_and_bytes(
        world):
    before = put(world, **{'Content-Disposition': 'inline'})
    world.archive('obj')

    get = world.obj('obj')
    head = world.obj('obj', method='HEAD')

    assert (get.status_int, get.body) == (200, BODY)
    assert object_headers(get) == object_headers(before)
    assert head.status_int == 200
    assert object_headers(head) == object_headers(before)


def test_a_head_of_a_stub_asks_the_remote_nothing(world):
    put(world)
    world.archive('obj')
    world.provider.calls.clear()

    assert world.obj('obj', method='HEAD').status_int == 200

    assert world.provider.calls == []


def test_ranges_and_conditions_of_a_stub_use_the_original(world):
    before = put(world)
    world.archive('obj')
    etag = before.headers['Etag']

    ranged = world.obj('obj', headers={'Range': 'bytes=6-13'})
    matched = world.obj('obj', headers={'If-None-Match': etag})
    refused = world.obj('obj', headers={'If-Match': '"other"'})

    assert (ranged.status_int, ranged.body) == (206, BODY[6:14])
    assert matched.status_int == 304
    assert refused.status_int == 412


def test_a_stub_whose_remote_copy_is_gone_is_not_found(world):
    put(world)
    world.archive('obj')
    del world.provider.buckets[BUCKET][world.key('obj')]

    resp = world.obj('obj')

    assert resp.status_int == 404
    assert resp.body != b''
    assert 'remote copy' in world.logger.text('error')


def test_a_post_on_a_stub_is_served_at_once(world):
    put(world)
    world.archive('obj')

    assert world.obj('obj', 'POST', headers={
        'X-Object-Meta-Color': 'green',
        'Content-Type': 'text/new'}).status_int == 202

    resp = world.obj('obj')
    assert resp.body == BODY
    assert resp.headers['X-Object-Meta-Color'] == 'green'
    assert resp.headers['Content-Type'] == 'text/new'


def test_without_serve_deleted_archives_a_404_is_swifts_alone(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, archive_as='stub',
                                   serve_deleted_archives=False)
    world.remote_only('gone', b'only on the remote')

    assert world.obj('gone').status_int == 404
    assert world.provider.calls == []


def test_a_restore_on_read_is_written_over_the_stub(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, archive_as='stub',
                                   restore_object=True)
    before = put(world)
    world.archive('obj')
    stub_ts = local(world).data_timestamp

    assert world.obj('obj').body == BODY

    restored = local(world)
    assert restored.body == BODY
    assert not stubs.is_stub(restored.headers)
    assert restored.data_timestamp > stub_ts
    assert object_headers(world.obj('obj')) == object_headers(before)


# -- StubAnswer -------------------------------------------------------------

def stub_answer(**headers):
    stub = stubs.ArchiveStub(
        remote='r', bucket='b', key='k', remote_etag='e', size=3,
        etag='d' * 32, kind='plain',
        timestamp=swift_utils.Timestamp(1700000000.5),
        content_type='text/original')
    all_headers = dict(stub.sysmeta())
    all_headers.update(headers)
    return shunt_object.StubAnswer(stub, all_headers)


def test_the_stubs_own_headers_win_over_the_remotes():
    answer = stub_answer(**{'Content-Type': stubs.STUB_CONTENT_TYPE,
                            'X-Object-Meta-Color': 'local',
                            'Content-Disposition': 'inline'})
    headers = swob.HeaderKeyDict({'X-Object-Meta-Color': 'remote',
                                  'X-Object-Meta-Gone': 'x',
                                  'Content-Type': 'text/remote'})

    answer.overlay(headers)

    assert headers['X-Object-Meta-Color'] == 'local'
    assert 'X-Object-Meta-Gone' not in headers
    assert headers['Content-Disposition'] == 'inline'
    assert headers['Content-Type'] == 'text/original'


def test_a_stub_tells_what_the_remote_holds_without_asking():
    info = stub_answer().remote_info()

    assert (info.key, info.size, info.etag, info.content_type) == (
        'k', 3, 'e', 'text/original')


def test_a_stub_without_etags_tells_its_listing_etag():
    stub = stubs.ArchiveStub(
        remote='r', bucket='b', key='k', remote_etag='', size=3, etag='',
        kind='plain', timestamp=swift_utils.Timestamp(1700000000.5),
        content_type='text/original')
    answer = shunt_object.StubAnswer(stub, dict(stub.sysmeta(), **{
        stubs.OVERRIDE_ETAG: 'f' * 32 + '; extra=1'}))

    info = answer.remote_info()

    assert info.etag == 'f' * 32
    assert shunt_object.RemoteObject(info).etag == 'f' * 32


# -- cloudsync-restore ------------------------------------------------------

def restorer(world):
    from cloudsync.cmd import restore as restore_cmd
    return restore_cmd.Restorer(world.config,
                                fakes.FakeInternalClient(world.swift),
                                world.logger)


def test_an_explicit_restore_puts_the_data_back_over_the_stub(world):
    before = put(world)
    world.archive('obj')
    world.obj('obj', 'POST', headers={'X-Object-Meta-Color': 'posted'})
    stub_ts = local(world).meta_timestamp

    ok, message = restorer(world).restore(ACCOUNT, CONTAINER, 'obj')

    assert (ok, message) == (True, 'restored')
    restored = local(world)
    assert restored.body == BODY
    assert not stubs.is_stub(restored.headers)
    assert restored.data_timestamp > stub_ts
    assert restored.headers['X-Object-Meta-Color'] == 'posted'
    assert world.obj('obj').headers['Etag'] == before.headers['Etag']


def test_an_explicit_restore_never_replaces_a_newer_object(world):
    put(world)
    world.archive('obj')

    def overwrite(req):
        if req.method == 'PUT':
            world.swift.hooks.remove(overwrite)
            world.swift.put(ACCOUNT, CONTAINER, 'obj', b'newer',
                            timestamp=world.swift.timestamp())
    world.swift.hooks.append(overwrite)

    restorer(world).restore(ACCOUNT, CONTAINER, 'obj')

    assert local(world).body == b'newer'


def test_an_object_archived_by_deleting_it_is_restored_too(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, archive_as='delete')
    put(world)
    world.archive('obj')

    ok, message = restorer(world).restore(ACCOUNT, CONTAINER, 'obj')

    assert (ok, message) == (True, 'restored')
    assert local(world).body == BODY


def test_restoring_an_object_swift_has_changes_nothing(world):
    put(world)

    ok, message = restorer(world).restore(ACCOUNT, CONTAINER, 'obj')

    assert ok and 'not archived' in message
    assert world.swift.requests_for('PUT') == []


def test_a_restore_without_a_remote_copy_fails(world):
    put(world)
    world.archive('obj')
    del world.provider.buckets[BUCKET][world.key('obj')]

    ok, message = restorer(world).restore(ACCOUNT, CONTAINER, 'obj')

    assert not ok and '404' in message
    assert stubs.is_stub(local(world).headers)


def test_the_restore_command_names_objects_account_container_object():
    from cloudsync.cmd import restore as restore_cmd

    assert restore_cmd.split('AUTH_a/c/dir/ob j') == ('AUTH_a', 'c',
                                                      'dir/ob j')
    assert restore_cmd.split('AUTH_a/c') is None
    assert restore_cmd.split('AUTH_a//o') is None


def test_a_posted_content_type_reaches_swifts_listing(world):
    put(world, 'obj')
    world.archive('obj')
    world.obj('obj', 'POST', headers={'Content-Type': 'text/posted',
                                      'X-Object-Meta-Color': 'red'})
    assert listing(world)[0]['content_type'] == 'text/plain'
    posted = local(world).meta_timestamp

    assert handle(world) is propagate.Outcome.METADATA_UPDATED

    entry, = listing(world)
    assert entry['content_type'] == 'text/posted'
    assert (entry['bytes'], entry['hash']) == (len(BODY), fakes.md5_hex(BODY))
    stub = local(world)
    assert stub.content_type == stubs.STUB_CONTENT_TYPE
    assert stub.data_timestamp == stubs.stub_timestamp(posted)
    resp = world.obj('obj')
    assert (resp.body, resp.headers['Content-Type']) == (BODY, 'text/posted')
    assert resp.headers['X-Object-Meta-Color'] == 'red'
    assert world.remote('obj').content_type == 'text/posted'
    puts = len(world.swift.requests_for('PUT', 'obj'))
    assert handle(world) is propagate.Outcome.UNCHANGED
    assert len(world.swift.requests_for('PUT', 'obj')) == puts


def test_a_post_without_a_content_type_leaves_the_stub_as_it_is(world):
    put(world, 'obj')
    world.archive('obj')
    world.obj('obj', 'POST', headers={'X-Object-Meta-Color': 'red'})
    puts = len(world.swift.requests_for('PUT', 'obj'))

    assert handle(world) is propagate.Outcome.METADATA_UPDATED

    assert len(world.swift.requests_for('PUT', 'obj')) == puts


def test_a_remote_body_is_sent_in_pieces_of_the_write_size():
    chunks = [b'ab', b'cd', b'ef', b'g']
    body = shunt_object.GuardedBody(iter(chunks), None, coalesce=4)

    assert list(body) == [b'abcd', b'efg']


def test_a_whole_get_sends_the_remote_body_in_large_pieces(world):
    put(world, body=BODY * 100)
    world.archive('obj')
    req = swob.Request.blank('/v1/%s/%s/obj' % (ACCOUNT, CONTAINER))

    resp = req.get_response(world.shunt)
    pieces = list(resp.app_iter)

    assert b''.join(pieces) == BODY * 100
    assert len(pieces) == 1  # the fake remote sends 4-byte chunks


# -- pending cold restores, recorded in Swift --------------------------------

def cold_world(tmp_path, **options):
    from tests.unit import test_cold_restore as cold
    shunt_object._COLD_CLAIMS.clear()
    stubs._MARKERS_GONE.clear()
    return cold.archived(tmp_path, **options)


def marker(world, name='obj'):
    return world.swift.get(stubs.RESTORES_ACCOUNT, ACCOUNT,
                           '%s/%s' % (CONTAINER, name))


def marker_requests(world, method=None):
    return [r for r in world.swift.requests
            if r.account == stubs.RESTORES_ACCOUNT and
            (method is None or r.method == method)]


def test_a_cold_restore_is_recorded_once_for_concurrent_readers(tmp_path):
    world = cold_world(tmp_path, cold_restore_days=3,
                       cold_restore_tier='Bulk')

    answers = [world.obj('obj').status_int for _ in range(4)]
    record = marker(world)
    shunt_object._COLD_CLAIMS.clear()  # another proxy, once memcache forgot
    assert world.obj('obj').status_int == 503

    assert answers == [503] * 4
    assert record is not None and marker(world) is record
    assert [r.method for r in marker_requests(world)] == [
        'PUT', 'PUT', 'PUT', 'PUT']  # object 404, container, object, 412
    assert all(r.headers.get('if-none-match') == '*'
               for r in marker_requests(world, 'PUT') if r.obj)
    asked = int(record.headers['X-Object-Meta-Cloudsync-Asked-At'])
    assert int(record.headers['X-Delete-At']) == \
        asked + 3 * 86400 + stubs.RESTORE_MARKER_MARGIN
    assert record.content_type.startswith(
        stubs.RESTORE_MARKER_CONTENT_TYPE + ';asked_at=%d;tier=Bulk;days=3'
        % asked)
    assert record.headers['X-Object-Meta-Cloudsync-Key'] == world.key('obj')
    assert record.headers['X-Object-Meta-Cloudsync-Bucket'] == BUCKET


def test_the_marker_requests_are_the_shunts_own(tmp_path):
    world = cold_world(tmp_path)
    seen = []

    def hook(request):
        if request.account == stubs.RESTORES_ACCOUNT:
            seen.append(request.headers.get('user-agent', ''))
    world.swift.hooks.append(hook)

    world.obj('obj')

    assert seen and all('CloudShuntRestoreMarker' in ua for ua in seen)


def test_a_failure_to_record_never_fails_the_read(tmp_path):
    world = cold_world(tmp_path)
    world.swift.hooks.append(
        lambda r: fakes.error_response(503)
        if r.account == stubs.RESTORES_ACCOUNT else None)

    resp = world.obj('obj')

    assert resp.status_int == 503
    assert resp.headers['X-Cloudsync-Restore'] == 'in-progress'
    assert 'Retry-After' in resp.headers
    assert 'could not record the restore' in world.logger.text('warning')
    assert marker(world) is None


def test_an_error_while_recording_never_fails_the_read(tmp_path):
    world = cold_world(tmp_path)

    def boom(request):
        if request.account == stubs.RESTORES_ACCOUNT:
            raise RuntimeError('the cluster is on fire')
    world.swift.hooks.append(boom)

    resp = world.obj('obj')

    assert resp.status_int == 503
    assert resp.headers['X-Cloudsync-Restore'] == 'in-progress'
    assert 'could not record the restore' in world.logger.text('error')


def test_the_marker_goes_once_a_read_finds_the_copy_readable(tmp_path):
    world = cold_world(tmp_path)
    world.obj('obj')
    assert marker(world) is not None
    world.provider.finish(world.key('obj'))
    before = len(marker_requests(world))

    first = world.obj('obj')
    second = world.obj('obj')

    assert (first.status_int, first.body) == (200, cold_body())
    assert second.status_int == 200
    assert marker(world) is None
    # NOTE: looked for once (HEAD, DELETE), then remembered as gone
    assert [r.method for r in marker_requests(world)[before:]] == [
        'HEAD', 'DELETE']


def cold_body():
    from tests.unit import test_cold_restore as cold
    return cold.BODY


def test_a_head_that_finds_the_restore_done_removes_the_marker(tmp_path):
    world = cold_world(tmp_path)
    world.obj('obj')
    world.provider.finish(world.key('obj'))

    resp = world.obj('obj', method='HEAD')

    assert resp.headers['X-Cloudsync-Restore'].startswith('done')
    assert marker(world) is None


def test_a_head_before_the_restore_is_done_keeps_the_marker(tmp_path):
    world = cold_world(tmp_path)
    world.obj('obj')

    resp = world.obj('obj', method='HEAD')

    assert resp.headers['X-Cloudsync-Restore'] == 'in-progress'
    assert marker(world) is not None


def test_restore_object_writes_the_data_back_and_the_marker_goes(tmp_path):
    world = cold_world(tmp_path, restore_object=True)
    world.obj('obj')
    world.provider.finish(world.key('obj'))

    assert world.obj('obj').status_int == 200

    assert not stubs.is_stub(local(world).headers)
    assert marker(world) is None


def test_memcache_tells_every_proxy_the_marker_is_gone(tmp_path):
    world = cold_world(tmp_path)

    class Cache(object):
        def __init__(self):
            self.values = {}

        def incr(self, key, delta=1, time=0):
            self.values[key] = self.values.get(key, 0) + delta
            return self.values[key]

        def get(self, key):
            return self.values.get(key)

        def set(self, key, value, time=0):
            self.values[key] = value

        def delete(self, key):
            self.values.pop(key, None)
    cache = Cache()
    world.obj('obj', environ={'swift.cache': cache})
    world.provider.finish(world.key('obj'))
    world.obj('obj', environ={'swift.cache': cache})
    before = len(marker_requests(world))

    world.obj('obj', environ={'swift.cache': cache})

    assert marker(world) is None
    assert len(marker_requests(world)) == before


def test_the_recorded_restores_are_listed_from_swift(tmp_path):
    world = cold_world(tmp_path, cold_restore_tier='Expedited')
    world.put('other', b'x')
    world.obj('obj')
    client = fakes.FakeInternalClient(world.swift)

    pending = stubs.pending_restores(client, now=time.time())
    expired = stubs.pending_restores(client, now=4e9)

    assert [(p.name, p.tier, p.days) for p in pending] == [
        ('%s/%s/obj' % (ACCOUNT, CONTAINER), 'Expedited', 1)]
    assert pending[0].asked_at is not None
    assert expired == []


def test_nothing_is_listed_before_any_restore_was_asked_for(tmp_path):
    world = cold_world(tmp_path)

    assert stubs.pending_restores(
        fakes.FakeInternalClient(world.swift)) == []


def test_a_marker_name_never_exceeds_what_swift_takes():
    container, name = stubs.restore_marker(ACCOUNT, 'c' * 256, 'ö' * 1000)

    assert container == ACCOUNT
    assert len(name.encode('utf-8')) <= stubs.MAX_MARKER_NAME
    assert name.startswith('c' * 256 + '/ö')
    assert stubs.restore_marker(ACCOUNT, 'c', 'o/p') == (ACCOUNT, 'c/o/p')


# -- a stub damaged by hand ------------------------------------------------

@pytest.mark.parametrize('damage', ['unreadable', 'stripped'])
def test_a_damaged_stub_is_never_copied_over_the_remote_copy(world, damage):
    put(world)
    assert handle(world) is propagate.Outcome.ARCHIVED
    remote = world.remote('obj')
    record = world.swift.objects[(ACCOUNT, CONTAINER, 'obj')]
    if damage == 'stripped':
        record.headers = {k: v for k, v in record.headers.items()
                          if not k.lower().startswith(stubs.PREFIX)}
    else:
        record.headers = {
            k: (v.replace(';', ';;', 1) if k.lower() == stubs.RECORD else v)
            for k, v in record.headers.items()}
    assert not stubs.is_stub(local(world).headers)

    with pytest.raises(propagate.RowFailed) as caught:
        handle(world, decision=COPY)

    assert caught.value.permanent
    assert 'archive stub' in str(caught.value)
    assert world.remote('obj') == remote
    assert world.remote('obj').data == BODY


def test_unreadable_stub_leaves_ordinary_objects_alone():
    assert stubs.unreadable_stub({'Content-Length': '0',
                                  'Content-Type': 'text/plain'}) is None
    assert stubs.unreadable_stub({'Content-Length': '5',
                                  'Content-Type': stubs.STUB_CONTENT_TYPE}
                                 ) is None
    assert stubs.unreadable_stub({'Content-Length': '0',
                                  'Content-Type': stubs.STUB_CONTENT_TYPE})
