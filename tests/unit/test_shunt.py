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
"""The cloud shunt: archived objects read, written and deleted through
Swift as if they had never moved (listings: test_shunt_listing.py)."""

import email.utils
import json
import logging
import os
import time

import eventlet
import pytest
from swift.common import registry as swift_registry
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import exceptions
from cloudsync import large_objects
from cloudsync import lifecycle
from cloudsync import metadata as md
from cloudsync.shunt import answers
from cloudsync.shunt import config as shunt_config
from cloudsync.shunt import middleware as shunt
from cloudsync.shunt import objects as shunt_object
from cloudsync.shunt import restore
from cloudsync.sync import propagate
from tests.unit import fakes
from tests.unit import shunt_fakes
from tests.unit.shunt_fakes import ACCOUNT
from tests.unit.shunt_fakes import BUCKET
from tests.unit.shunt_fakes import CONTAINER

#: headers that describe the object (the rest describe the response)
OBJECT_HEADERS = ('content-type', 'content-length', 'etag', 'x-timestamp',
                  'last-modified', 'accept-ranges', 'x-delete-at',
                  'x-static-large-object', 'x-object-manifest')


def object_headers(resp):
    return {k.lower(): v for k, v in resp.headers.items()
            if k.lower() in OBJECT_HEADERS or
            k.lower().startswith('x-object-meta-')}


@pytest.fixture
def world(tmp_path):
    return shunt_fakes.ShuntWorld(tmp_path)


def archived(world, name='obj', body=b'hello archived world', headers=None,
             content_type='text/plain'):
    """Put an object, read it through Swift, archive it.

    :returns: Swift's answer before the object was archived.
    """
    world.put(name, body, headers or {'X-Object-Meta-Color': 'blue'},
              content_type=content_type)
    before = world.obj(name)
    assert before.status_int == 200
    world.archive(name)
    return before


# -- object GET and HEAD ---------------------------------------------------

def test_archived_object_reads_back_with_swifts_bytes_and_headers(world):
    before = archived(world)

    after = world.obj('obj')

    assert after.status_int == 200
    assert after.body == before.body
    assert object_headers(after) == object_headers(before)


def test_unicode_names_and_metadata_read_back_exactly(world):
    name = 'dir/ünïcødé ☃ %41 +x'
    headers = {'X-Object-Meta-Uni': 'välue ☃', 'X-Object-Meta-Plain': 'v',
               'X-Object-Meta-Spaces': '  padded  '}
    before = archived(world, name, 'ü'.encode() * 3, headers,
                      content_type='text/plain; charset=utf-8')

    after = world.obj(name)

    assert after.status_int == 200
    assert after.body == before.body
    assert object_headers(after) == object_headers(before)
    assert swob.wsgi_to_str(after.headers['X-Object-Meta-Uni']) == \
        'välue ☃'


def test_zero_byte_object_reads_back(world):
    before = archived(world, 'empty', b'')

    after = world.obj('empty')

    assert (after.status_int, after.body) == (200, b'')
    assert object_headers(after) == object_headers(before)
    assert after.headers['Etag'] == 'd41d8cd98f00b204e9800998ecf8427e'


def test_head_answers_headers_without_fetching_the_body(world):
    before = archived(world)
    world.provider.reset_calls()

    after = world.obj('obj', method='HEAD')

    assert after.status_int == 200
    assert after.body == b''
    assert object_headers(after) == object_headers(before)
    assert world.provider.counts() == {'head_object': 1}


def test_last_modified_and_x_timestamp_come_from_the_swift_timestamp(world):
    world.put('obj', b'x', timestamp=swift_utils.Timestamp(1700000000.5))
    world.archive('obj')

    resp = world.obj('obj')

    assert resp.headers['X-Timestamp'] == '1700000000.50000'
    # NOTE: rounded up, as Swift's object server does
    assert resp.headers['Last-Modified'] == email.utils.formatdate(
        1700000001, usegmt=True)


def test_local_objects_are_served_by_swift_alone(world):
    world.put('obj', b'local')

    resp = world.obj('obj')

    assert resp.body == b'local'
    assert world.provider.calls == []


def test_an_object_on_neither_side_gets_swifts_own_404(world):
    local_only = world.swift(  # what Swift answers without the shunt
        swob.Request.blank('/v1/%s/%s/nope' % (ACCOUNT, CONTAINER)).environ,
        lambda *a: None)

    resp = world.obj('nope')

    assert resp.status_int == 404
    assert resp.body == b''.join(local_only)
    assert world.provider.count('get_object') == 1


def test_an_object_deleted_on_the_remote_too_gets_swifts_404(world):
    archived(world)
    del world.provider.buckets[BUCKET][world.key('obj')]

    assert world.obj('obj').status_int == 404
    assert world.obj('obj', method='HEAD').status_int == 404


def tombstone_of(world, name):
    return world.swift.objects[(ACCOUNT, CONTAINER, name)].timestamp


@pytest.mark.parametrize('timestamp', [
    swift_utils.Timestamp(1700000000.5),
    swift_utils.Timestamp(1700000000.5, offset=3)])
def test_the_archives_own_tombstone_keeps_the_object_readable(world,
                                                              timestamp):
    world.put('obj', b'archived', timestamp=timestamp)
    world.archive('obj')
    # NOTE: the archive DELETE is one offset step after the version
    assert tombstone_of(world, 'obj') == swift_utils.Timestamp(
        timestamp, offset=1)

    assert world.obj('obj').body == b'archived'
    assert world.obj('obj', method='HEAD').status_int == 200
    assert world.obj('obj', headers={'Range': 'bytes=0-1'}).body == b'ar'


def test_a_delete_newer_than_the_remote_copy_hides_it(world):
    archived(world)
    world.swift.delete(ACCOUNT, CONTAINER, 'obj')

    assert world.obj('obj').status_int == 404
    assert world.obj('obj', method='HEAD').status_int == 404
    assert world.obj('obj', headers={'Range': 'bytes=0-1'}).status_int == \
        404
    assert world.obj('obj', headers={'If-Match': '*'}).status_int == 412
    assert world.remote('obj') is not None


@pytest.mark.parametrize('options', [
    {}, {'propagate_delete': False},
    {'lifecycle': 'sync', 'merge_namespaces': True}])
def test_an_archived_object_overwritten_then_deleted_stays_deleted(
        tmp_path, options):
    world = shunt_fakes.ShuntWorld(tmp_path, **options)
    world.put('obj', b'old')
    world.archive('obj')
    world.put('obj', b'new')

    assert world.obj('obj', method='DELETE').status_int == 204

    assert world.obj('obj').status_int == 404
    assert world.obj('obj', method='HEAD').status_int == 404
    # NOTE: until the daemon propagates the delete, or for good
    assert world.remote('obj') is not None


def test_a_delete_older_than_the_remote_copy_does_not_hide_it(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, merge_namespaces=True)
    world.swift.delete(ACCOUNT, CONTAINER, 'obj',
                       swift_utils.Timestamp(1600000000.0))
    world.provider.clock = lambda: 1600000001.0
    world.remote_only('obj', b'written later')

    assert world.obj('obj').body == b'written later'


def test_a_newer_delete_hides_an_object_another_writer_put(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, merge_namespaces=True)
    world.provider.clock = lambda: 1600000000.0
    world.remote_only('obj', b'written earlier')
    world.swift.delete(ACCOUNT, CONTAINER, 'obj',
                       swift_utils.Timestamp(1600000001.0))

    assert world.obj('obj').status_int == 404


def test_other_containers_are_not_shunted(world):
    world.swift.create_container(ACCOUNT, 'other')

    resp = world.request('/v1/%s/other/obj' % ACCOUNT)

    assert resp.status_int == 404
    assert world.provider.calls == []


def test_account_requests_pass_through(world):
    resp = world.request('/v1/%s' % ACCOUNT)

    assert resp.status_int == 405  # what the fake cluster answers
    assert world.provider.calls == []


def test_a_sync_mapping_is_not_shunted(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, lifecycle='sync')
    world.remote_only('obj')

    assert world.obj('obj').status_int == 404
    assert world.provider.calls == []


def test_a_sync_mapping_merging_namespaces_is_shunted(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, lifecycle='sync',
                                   merge_namespaces=True)
    world.remote_only('obj', b'written elsewhere', content_type='text/x')

    resp = world.obj('obj')

    assert (resp.status_int, resp.body) == (200, b'written elsewhere')
    assert resp.headers['Content-Type'] == 'text/x'
    assert resp.headers['Etag'] == shunt_fakes.md5(b'written elsewhere')


@pytest.mark.parametrize('value', ['true', 'True', 'yes', '1'])
def test_the_bypass_header_gets_swifts_own_answer(world, value):
    archived(world)
    world.provider.reset_calls()

    resp = world.obj('obj', headers={shunt.BYPASS_HEADER: value})

    assert resp.status_int == 404
    assert world.provider.calls == []


def test_the_bypass_header_set_to_false_is_ignored(world):
    archived(world)

    resp = world.obj('obj', headers={shunt.BYPASS_HEADER: 'false'})

    assert resp.status_int == 200


@pytest.mark.parametrize('status', [401, 403])
def test_a_client_swift_refuses_never_reaches_the_remote(world, status):
    archived(world)
    world.provider.reset_calls()
    world.swift.refuse = {'GET': status, 'HEAD': status, 'POST': status,
                          'DELETE': status}

    for method in ('GET', 'HEAD', 'POST', 'DELETE'):
        assert world.obj('obj', method=method).status_int == status
    assert world.provider.calls == []


@pytest.mark.parametrize('status', [500, 503, 507])
def test_swift_errors_are_passed_on(world, status):
    archived(world)
    world.provider.reset_calls()
    world.swift.refuse = {'GET': status}

    assert world.obj('obj').status_int == status
    assert world.provider.calls == []


@pytest.mark.parametrize('error', [
    exceptions.Unavailable('remote fake: GetObject https://secret-host/b/k: '
                           'no answer: key=AKIDSECRET', status=None),
    exceptions.AuthError('remote fake: the remote refused the credentials '
                         'AKIDSECRET', status=403),
    exceptions.RemoteError('remote fake: failed: internal error at '
                           'https://secret-host', status=500),
])
def test_a_failing_remote_gives_a_clean_503(world, error):
    archived(world)
    world.provider.fail('get_object', error)

    resp = world.obj('obj')

    assert resp.status_int == 503
    assert b'secret' not in resp.body.lower()
    assert b'AKID' not in resp.body
    assert b'Service Unavailable' in resp.body
    assert 'failed' in world.logger.text('error')


def test_an_unexpected_provider_error_gives_a_503(world):
    archived(world)
    world.provider.fail('head_object', ValueError('boom'))

    resp = world.obj('obj', method='HEAD')

    assert resp.status_int == 503
    assert 'boom' in world.logger.text('error')


def test_the_transaction_id_of_swifts_answer_is_kept(world):
    archived(world)
    world.swift.hooks.append(lambda req: swob.HTTPNotFound(
        headers={'X-Trans-Id': 'tx123', 'X-Openstack-Request-Id': 'tx123'})
        if req.method in ('GET', 'HEAD') and req.obj == 'obj' else None)

    resp = world.obj('obj')

    assert resp.status_int == 200
    assert resp.headers['X-Trans-Id'] == 'tx123'
    assert resp.headers['X-Openstack-Request-Id'] == 'tx123'


def test_an_object_past_its_delete_at_is_not_found(world):
    archived(world)
    remote = world.remote('obj')
    remote.metadata[md.DELETE_AT_KEY] = str(int(time.time()) - 10)

    assert world.obj('obj').status_int == 404


def test_a_future_delete_at_is_shown(world):
    archived(world)
    when = str(int(time.time()) + 3600)
    world.remote('obj').metadata[md.DELETE_AT_KEY] = when

    assert world.obj('obj').headers['X-Delete-At'] == when


def test_objects_without_cloudsync_metadata_use_the_remotes_time(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, merge_namespaces=True)
    world.provider.clock = lambda: 1600000000.25
    world.remote_only('obj', b'abc')

    resp = world.obj('obj')

    assert resp.headers['X-Timestamp'] == '1600000000.25000'
    assert resp.headers['Content-Type'] == 'application/octet-stream'


# -- ranges ----------------------------------------------------------------

@pytest.mark.parametrize('spec', [
    'bytes=0-0', 'bytes=3-7', 'bytes=-4', 'bytes=10-', 'bytes=0-1000',
    'bytes=19-19', 'bytes=1-2,5-6', 'bytes=0-0,-1', 'bytes=0-3,2-5',
    'bytes=100-200', 'bytes=-0', 'bytes=5-2', 'bytes=garbage',
    'bytes=1-2,100-200',
])
def test_ranges_are_answered_as_swift_answers_them(world, spec):
    world.put('obj', b'hello archived world', content_type='text/plain')
    local = world.obj('obj', headers={'Range': spec})
    world.archive('obj')

    resp = world.obj('obj', headers={'Range': spec})

    assert resp.status_int == local.status_int
    assert resp.headers.get('Content-Range') == \
        local.headers.get('Content-Range')
    boundary = local.headers['Content-Type'].partition('boundary=')[2]
    if boundary:
        mine = resp.headers['Content-Type'].partition('boundary=')[2]
        assert resp.body.replace(mine.encode(), b'B') == \
            local.body.replace(boundary.encode(), b'B')
    elif local.status_int != 416:
        assert resp.body == local.body


def test_a_range_fetches_only_the_bytes_asked_for(world):
    archived(world, body=b'0123456789' * 100)
    world.provider.reset_calls()

    resp = world.obj('obj', headers={'Range': 'bytes=10-19'})

    assert resp.body == b'0123456789'
    assert world.provider.counts() == {'head_object': 1, 'get_object': 1}


def test_near_ranges_are_read_with_one_remote_get(world):
    data = bytes(range(256)) * 40
    archived(world, body=data)
    spec = ','.join('%d-%d' % (i * 200, i * 200 + 9) for i in range(40))
    world.provider.reset_calls()

    resp = world.obj('obj', headers={'Range': 'bytes=' + spec})

    assert resp.status_int == 206
    for i in range(40):
        assert b'Content-Range: bytes %d-%d/%d\r\n\r\n%s\r\n' % (
            i * 200, i * 200 + 9, len(data),
            data[i * 200:i * 200 + 10]) in resp.body
    assert world.provider.counts() == {'head_object': 1, 'get_object': 1}


def test_more_ranges_than_swift_serves_are_416_as_in_swift(world):
    world.put('obj', b'x' * 200, content_type='text/plain')
    spec = 'bytes=' + ','.join('%d-%d' % (i * 2, i * 2) for i in range(51))
    local = world.obj('obj', headers={'Range': spec})
    world.archive('obj')
    world.provider.reset_calls()

    resp = world.obj('obj', headers={'Range': spec})

    assert local.status_int == resp.status_int == 416
    assert world.provider.counts() == {'head_object': 1}


def test_an_unsatisfiable_range_does_not_fetch_the_body(world):
    archived(world)
    world.provider.reset_calls()

    resp = world.obj('obj', headers={'Range': 'bytes=999-'})

    assert resp.status_int == 416
    assert resp.headers['Content-Range'] == 'bytes */20'
    assert world.provider.counts() == {'head_object': 1}


# -- conditional requests --------------------------------------------------

def _condition_cases(etag):
    past = email.utils.formatdate(1000, usegmt=True)
    future = email.utils.formatdate(4000000000, usegmt=True)
    return [
        ({'If-Match': etag}, 200),
        ({'If-Match': '"%s"' % etag}, 200),
        ({'If-Match': '"other"'}, 412),
        ({'If-Match': '*'}, 200),
        ({'If-None-Match': etag}, 304),
        ({'If-None-Match': '"%s"' % etag}, 304),
        ({'If-None-Match': '*'}, 304),
        ({'If-None-Match': 'other'}, 200),
        ({'If-Modified-Since': past}, 200),
        ({'If-Modified-Since': future}, 304),
        ({'If-Unmodified-Since': past}, 412),
        ({'If-Unmodified-Since': future}, 200),
        ({'If-Match': etag, 'Range': 'bytes=0-1'}, 206),
        ({'If-None-Match': etag, 'Range': 'bytes=0-1'}, 304),
    ]


@pytest.mark.parametrize('case', range(14))
@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_conditional_requests_are_answered_as_swift_answers_them(
        world, case, method):
    before = archived(world)
    headers, expected = _condition_cases(before.headers['Etag'])[case]
    if method == 'HEAD' and expected == 206:
        expected = 200
    world.put('obj', before.body)
    local = world.obj('obj', method=method, headers=headers)
    world.archive('obj')

    resp = world.obj('obj', method=method, headers=headers)

    assert resp.status_int == local.status_int == expected
    assert resp.body == local.body


def test_a_failed_condition_does_not_read_the_remote_body(world):
    before = archived(world, body=b'x' * 100)
    world.provider.closed_bodies = 0

    resp = world.obj('obj', headers={'If-None-Match': before.headers['Etag']})

    assert resp.status_int == 304
    assert world.provider.closed_bodies == 1


def test_if_match_star_on_a_local_object_is_swifts_answer(world):
    world.put('obj', b'local')

    resp = world.obj('obj', headers={'If-Match': '*'})

    assert (resp.status_int, resp.body) == (200, b'local')
    assert world.provider.calls == []


def test_if_match_star_on_no_object_at_all_is_412(world):
    resp = world.obj('nope', headers={'If-Match': '*'})

    assert resp.status_int == 412


# -- static large objects --------------------------------------------------

PARTS = [b'a' * 5, b'b' * 5, b'c' * 3]


def archived_slo(world, name='slo', headers=None):
    record = world.put_slo(name, PARTS, headers=headers or {
        'X-Object-Meta-Kind': 'large'}, content_type='video/mp4')
    world.archive(name)
    return record


def test_an_archived_slo_reads_back_whole_with_swifts_headers(world):
    record = archived_slo(world)
    slo_etag = record.headers['X-Object-Sysmeta-Slo-Etag']

    resp = world.obj('slo')

    assert resp.status_int == 200
    assert resp.body == b''.join(PARTS)
    assert resp.headers['Etag'] == '"%s"' % slo_etag
    assert resp.headers['Content-Length'] == '13'
    assert resp.headers['Content-Type'] == 'video/mp4'
    assert resp.headers['X-Static-Large-Object'] == 'True'
    assert resp.headers['X-Object-Meta-Kind'] == 'large'
    assert resp.headers['X-Manifest-Etag'] == record.etag
    assert world.remote('slo').etag == shunt_fakes.multipart_etag(PARTS)


def test_an_archived_slo_reads_back_by_range(world):
    archived_slo(world)

    resp = world.obj('slo', headers={'Range': 'bytes=3-11'})

    assert resp.status_int == 206
    assert resp.body == b''.join(PARTS)[3:12]
    assert resp.headers['Content-Range'] == 'bytes 3-11/13'


def test_slo_conditions_use_the_slo_etag_not_the_remotes(world):
    record = archived_slo(world)
    slo_etag = record.headers['X-Object-Sysmeta-Slo-Etag']
    remote_etag = world.remote('slo').etag

    assert world.obj('slo', headers={'If-Match': slo_etag}).status_int == 200
    assert world.obj('slo', headers={
        'If-Match': remote_etag}).status_int == 412
    assert world.obj('slo', headers={
        'If-None-Match': '"%s"' % slo_etag}).status_int == 304


def test_an_slo_s3api_uploaded_keeps_its_s3_etag_and_conditions(world):
    archived_slo(world)
    s3_etag = '%s-3' % ('e' * 32)
    world.remote('slo').metadata[md.S3API_ETAG_KEY] = s3_etag
    etag_is_at = {'X-Backend-Etag-Is-At': 'X-Object-Sysmeta-S3Api-Etag'}

    head = world.obj('slo', 'HEAD')
    match = world.obj('slo', headers=dict(etag_is_at, **{
        'If-Match': '"%s"' % s3_etag, 'Range': 'bytes=0-1'}))
    none_match = world.obj('slo', headers=dict(etag_is_at, **{
        'If-None-Match': s3_etag}))

    assert head.headers['X-Object-Sysmeta-S3Api-Etag'] == s3_etag
    assert (match.status_int, match.body) == (206, b''.join(PARTS)[:2])
    assert none_match.status_int == 304


def test_an_slo_manifest_is_returned_for_multipart_manifest_get(world):
    record = archived_slo(world)

    resp = world.obj('slo', query_string='multipart-manifest=get')
    raw = world.obj('slo', query_string='multipart-manifest=get&format=raw')

    assert resp.status_int == 200
    assert resp.body == record.body
    assert resp.headers['Content-Type'] == 'application/json; charset=utf-8'
    assert resp.headers['Etag'] == record.etag
    assert [s['path'] for s in json.loads(raw.body)] == [
        '/archive_segments/slo/%08d' % i for i in range(3)]
    assert raw.headers['Content-Type'] == 'video/mp4'


def test_a_dlo_is_served_with_its_manifest_header(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, merge_namespaces=True)
    world.remote_only('dlo', b'concatenated', metadata={
        md.DLO_KEY: 'segs/dlo/', md.ETAG_KEY: 'f' * 32})

    resp = world.obj('dlo')

    assert resp.body == b'concatenated'
    assert resp.headers['X-Object-Manifest'] == 'segs/dlo/'
    assert resp.headers['Etag'] == '"%s"' % ('f' * 32)


# -- restore ---------------------------------------------------------------

@pytest.fixture
def restoring(tmp_path):
    return shunt_fakes.ShuntWorld(tmp_path, restore_object=True)


def test_a_whole_get_restores_the_object_as_it_was(restoring):
    world = restoring
    before = archived(world, headers={'X-Object-Meta-Color': 'blue',
                                      'X-Object-Meta-Uni': 'ç'})

    resp = world.obj('obj')

    assert resp.body == before.body
    record = world.swift.get(ACCOUNT, CONTAINER, 'obj')
    assert record is not None
    assert record.body == before.body
    again = world.obj('obj')
    assert object_headers(again) == object_headers(before)
    assert 'Restored' in world.logger.text('info')


def test_the_restore_is_written_after_the_archives_tombstone(restoring):
    world = restoring
    archived(world)
    tombstone = world.swift.objects[(ACCOUNT, CONTAINER, 'obj')].timestamp

    world.obj('obj')

    record = world.swift.get(ACCOUNT, CONTAINER, 'obj')
    assert record.data_timestamp > tombstone
    assert record.data_timestamp.normal == tombstone.normal


def test_the_restore_put_carries_etag_and_length(restoring):
    world = restoring
    archived(world)

    world.obj('obj')

    put, = world.swift.requests_for('PUT', 'obj')
    assert put.headers['etag'] == shunt_fakes.md5(b'hello archived world')
    assert put.headers['content-length'] == '20'
    assert put.headers[shunt.BYPASS_HEADER.lower()] == 'true'


@pytest.mark.parametrize('headers', [
    {'Range': 'bytes=0-3'}, {'Range': 'bytes=0-'},
    {'If-None-Match': '*'}])
def test_partial_or_conditional_reads_do_not_restore(restoring, headers):
    world = restoring
    archived(world)

    world.obj('obj', headers=headers)
    world.obj('obj', method='HEAD')

    assert world.swift.get(ACCOUNT, CONTAINER, 'obj') is None
    assert world.swift.requests_for('PUT') == []


def test_a_client_that_disconnects_leaves_no_partial_object(
        restoring, monkeypatch):
    world = restoring
    world.provider.chunk_size = 2
    monkeypatch.setattr(shunt_object, 'WRITE_SIZE', 2)
    archived(world)
    req = swob.Request.blank('/v1/%s/%s/obj' % (ACCOUNT, CONTAINER))
    resp = req.get_response(world.shunt)
    body = iter(resp.app_iter)

    first = next(body)
    next(body)
    resp.app_iter.close()

    assert first == b'he'
    assert world.swift.get(ACCOUNT, CONTAINER, 'obj') is None
    assert resp.app_iter.restore.thread is None
    assert not resp.app_iter.restore.succeeded
    assert 'client disconnected' in world.logger.text('info')


def test_a_disconnect_before_the_first_byte_starts_no_restore(restoring):
    world = restoring
    archived(world)
    req = swob.Request.blank('/v1/%s/%s/obj' % (ACCOUNT, CONTAINER))
    resp = req.get_response(world.shunt)

    resp.app_iter.close()

    assert world.swift.requests_for('PUT') == []


def test_a_remote_that_fails_mid_stream_leaves_no_partial_object(restoring):
    world = restoring
    archived(world)
    real_get = world.provider.get_object

    def broken_get(*args, **kwargs):
        body = real_get(*args, **kwargs)

        def chunks():
            yield b'hello'
            raise exceptions.Unavailable('remote fake: cut short')
        body._chunks = chunks()
        return body
    world.provider.get_object = broken_get

    with pytest.raises(exceptions.Unavailable):
        world.obj('obj')

    assert world.swift.get(ACCOUNT, CONTAINER, 'obj') is None
    assert 'cut short' in world.logger.text('error')


def test_a_restore_swift_refuses_is_logged_and_the_client_served(restoring):
    world = restoring
    archived(world)
    world.swift.hooks.append(lambda req: swob.Response(status=507)
                             if req.method == 'PUT' else None)

    resp = world.obj('obj')

    assert resp.body == b'hello archived world'
    assert world.swift.get(ACCOUNT, CONTAINER, 'obj') is None
    assert '507' in world.logger.text('warning')


def test_an_slo_is_restored_segment_by_segment(restoring):
    world = restoring
    record = archived_slo(world)
    assert world.swift.get(ACCOUNT, CONTAINER + '_segments',
                           'slo/00000000') is None

    resp = world.obj('slo')

    assert resp.body == b''.join(PARTS)
    restored = world.swift.get(ACCOUNT, CONTAINER, 'slo')
    assert restored is not None
    assert restored.headers['X-Object-Sysmeta-Slo-Etag'] == \
        record.headers['X-Object-Sysmeta-Slo-Etag']
    assert restored.headers['X-Object-Meta-Kind'] == 'large'
    for index, data in enumerate(PARTS):
        seg = world.swift.get(ACCOUNT, CONTAINER + '_segments',
                              'slo/%08d' % index)
        assert seg.body == data


def test_slo_segments_still_in_swift_are_kept(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, restore_object=True,
                                   retain_local_segments=True)
    archived_slo(world)
    segment = world.swift.get(ACCOUNT, CONTAINER + '_segments',
                              'slo/00000001')

    world.obj('slo')

    assert world.swift.get(ACCOUNT, CONTAINER, 'slo') is not None
    assert world.swift.get(ACCOUNT, CONTAINER + '_segments',
                           'slo/00000001') is segment


def test_an_slo_without_its_manifest_is_only_streamed(restoring):
    world = restoring
    archived_slo(world)
    del world.provider.buckets[BUCKET][world.layout.manifest_key('slo')]

    resp = world.obj('slo')

    assert resp.body == b''.join(PARTS)
    assert world.swift.get(ACCOUNT, CONTAINER, 'slo') is None
    assert 'manifest is not on the remote' in world.logger.text('warning')


def test_a_restore_that_hangs_is_stopped(restoring):
    world = restoring
    world.shunt.restore_timeout = 0.05
    archived(world)
    world.swift.hooks.append(
        lambda req: eventlet.sleep(10) if req.method == 'PUT' else None)

    resp = world.obj('obj')

    assert resp.body == b'hello archived world'
    assert 'did not end' in world.logger.text('error')


def test_restore_timestamp_keeps_the_original_time():
    original = swift_utils.Timestamp(1700000000.5)
    tombstone = swift_utils.Timestamp(original, offset=1)

    assert restore.restore_timestamp(original) == original
    assert restore.restore_timestamp(original, tombstone) > tombstone
    assert restore.restore_timestamp(original, tombstone).normal == \
        original.normal
    older = swift_utils.Timestamp(1600000000)
    assert restore.restore_timestamp(original, older) == original


# -- DELETE and POST -------------------------------------------------------

def test_delete_removes_the_remote_copy_when_deletes_propagate(world):
    archived(world)

    resp = world.obj('obj', method='DELETE')

    assert resp.status_int == 204
    assert world.remote('obj') is None
    assert world.obj('obj').status_int == 404


def test_delete_of_an_archived_slo_removes_its_manifest_too(world):
    archived_slo(world)
    manifest = world.layout.manifest_key('slo')
    assert manifest in world.provider.buckets[BUCKET]

    assert world.obj('slo', method='DELETE').status_int == 204

    assert world.remote('slo') is None
    assert manifest not in world.provider.buckets[BUCKET]


def archived_dlo(tmp_path, **options):
    world = shunt_fakes.ShuntWorld(
        tmp_path, provider_cls=fakes.FakeDLOProvider, **options)
    world.swift.create_container(ACCOUNT, 'segs')
    for number in range(2):
        world.swift.put(ACCOUNT, 'segs', 'p/%03d' % number, b'part')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/p/')
    world.archive('dlo')
    assert len(world.provider.buckets[BUCKET + '_segments']) == 2
    return world


def test_delete_of_an_archived_dlo_removes_its_remote_segments(tmp_path):
    world = archived_dlo(tmp_path)

    assert world.obj('dlo', method='DELETE').status_int == 204

    assert world.remote('dlo') is None
    assert world.provider.buckets[BUCKET + '_segments'] == {}


def test_delete_of_an_archived_dlo_keeps_segments_still_in_swift(tmp_path):
    world = archived_dlo(tmp_path, retain_local_segments=True)

    assert world.obj('dlo', method='DELETE').status_int == 204

    assert world.remote('dlo') is None
    assert len(world.provider.buckets[BUCKET + '_segments']) == 2


@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_an_archived_dlo_shows_the_local_manifest_not_the_remote_one(
        tmp_path, method):
    world = archived_dlo(tmp_path)
    remote_manifest = world.provider.dlo_manifest(
        BUCKET, world.layout.dlo_key('segs', 'p/'))
    assert world.remote('dlo').dlo_manifest == remote_manifest

    resp = world.obj('dlo', method=method)

    assert resp.status_int == 200
    assert resp.headers['X-Object-Manifest'] == 'segs/p/'
    assert resp.headers['Etag'] == '"%s"' % large_objects.dlo_etag(
        [shunt_fakes.md5(b'part')] * 2)
    if method == 'GET':
        assert resp.body == b'partpart'


def test_an_archived_dlo_keeps_its_local_manifest_after_a_post(tmp_path):
    world = archived_dlo(tmp_path)

    assert world.obj('dlo', method='POST', headers={
        'X-Object-Meta-Color': 'Blue'}).status_int == 202
    resp = world.obj('dlo', method='HEAD')

    assert resp.headers['X-Object-Manifest'] == 'segs/p/'
    assert resp.headers['X-Object-Meta-Color'] == 'Blue'


def test_an_archived_dlo_shows_its_local_manifest_percent_encoded(
        tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path,
                                   provider_cls=fakes.FakeDLOProvider)
    world.swift.create_container(ACCOUNT, 'segs')
    world.swift.put(ACCOUNT, 'segs', 'vidéo 1/000', b'part')
    world.swift.put_dlo(ACCOUNT, CONTAINER, 'dlo', 'segs/vid%C3%A9o%201/')
    world.archive('dlo')

    resp = world.obj('dlo', method='HEAD')

    assert resp.headers['X-Object-Manifest'] == 'segs/vid%C3%A9o%201/'


def test_a_whole_get_of_an_archived_dlo_serves_it_and_writes_nothing(
        tmp_path):
    world = archived_dlo(tmp_path, restore_object=True)
    puts = len(world.swift.requests_for('PUT'))

    resp = world.obj('dlo')

    assert resp.body == b'partpart'
    assert resp.headers['X-Object-Manifest'] == 'segs/p/'
    assert len(world.swift.requests_for('PUT')) == puts
    assert world.swift.get(ACCOUNT, CONTAINER, 'dlo') is None
    assert 'served, not restored' in world.logger.text('info')


def test_a_manifest_delete_of_an_archived_slo_deletes_it_as_swift_would(
        world):
    archived_slo(world)

    resp = world.obj('slo', method='DELETE',
                     query_string='multipart-manifest=delete',
                     headers={'Accept': 'application/json'})

    assert resp.status_int == 200
    result = json.loads(resp.body)
    assert result['Response Status'] == '200 OK'
    assert result['Number Deleted'] == 1
    assert result['Number Not Found'] == 3  # the archive removed them
    assert world.remote('slo') is None
    assert world.layout.manifest_key('slo') not in \
        world.provider.buckets[BUCKET]


def test_a_manifest_delete_removes_segments_still_in_swift(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, retain_local_segments=True)
    archived_slo(world)

    resp = world.obj('slo', method='DELETE',
                     query_string='multipart-manifest=delete')

    assert b'Number Deleted: 4' in resp.body
    assert world.swift.get(ACCOUNT, CONTAINER + '_segments',
                           'slo/00000000') is None
    assert world.remote('slo') is None


def test_a_manifest_delete_of_a_local_slo_is_swifts(world):
    world.put_slo('slo', PARTS)

    world.obj('slo', method='DELETE',
              query_string='multipart-manifest=delete')

    assert world.provider.count('delete_object') == 0
    assert world.swift.requests_for('DELETE', 'slo')


def test_delete_keeps_the_remote_copy_without_propagate_delete(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, propagate_delete=False)
    archived(world)

    resp = world.obj('obj', method='DELETE')

    # NOTE: as Swift answers for an object it had
    assert resp.status_int == 204
    assert world.remote('obj') is not None
    # NOTE: Swift recorded the delete: the object is deleted for Swift's
    # clients, and the remote keeps its copy
    assert world.obj('obj').status_int == 404
    assert world.obj('obj', method='DELETE').status_int == 404


def test_a_kept_delete_holds_once_swift_forgets_it(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, propagate_delete=False)
    archived(world)
    assert world.obj('obj', method='DELETE').status_int == 204
    row = lifecycle.Row(
        name='obj', row_id=2, deleted=True,
        timestamp=world.swift.objects[(ACCOUNT, CONTAINER, 'obj')].timestamp,
        meta_timestamp=None)
    row.meta_timestamp = row.timestamp
    decision = world.mapping.policy.decide(row, 1e9)

    # NOTE: the daemon's pass over the delete
    assert world.propagator.handle(row, decision) is \
        propagate.Outcome.METADATA_UPDATED

    assert world.remote('obj') is not None
    assert md.DELETED_AT_KEY in world.remote('obj').metadata
    assert world.obj('obj').status_int == 404
    # NOTE: reclaim_age passed: Swift's 404 has no tombstone any more
    del world.swift.objects[(ACCOUNT, CONTAINER, 'obj')]
    assert 'X-Backend-Timestamp' not in world.obj('obj').headers
    assert world.obj('obj').status_int == 404
    assert world.obj('obj', method='HEAD').status_int == 404
    assert world.obj('obj', method='POST').status_int == 404
    assert world.obj('obj', method='DELETE').status_int == 404
    assert world.remote('obj') is not None


def test_a_copy_written_after_its_deleted_marker_is_served(world):
    archived(world)
    stamp = shunt_object.RemoteObject(
        world.provider.head_object(BUCKET, world.key('obj'))).timestamp
    world.remote('obj').metadata[md.DELETED_AT_KEY] = swift_utils.Timestamp(
        float(stamp) - 1).internal

    assert world.obj('obj').status_int == 200

    world.remote('obj').metadata[md.DELETED_AT_KEY] = stamp.internal
    assert world.obj('obj').status_int == 404


@pytest.mark.parametrize('propagate_delete', [True, False])
def test_delete_of_an_object_an_earlier_delete_hides_is_404(
        tmp_path, propagate_delete):
    world = shunt_fakes.ShuntWorld(tmp_path,
                                   propagate_delete=propagate_delete)
    archived(world)
    world.swift.delete(ACCOUNT, CONTAINER, 'obj')
    world.provider.reset_calls()

    resp = world.obj('obj', method='DELETE')

    assert resp.status_int == 404
    assert world.provider.count('delete_object') == 0
    # NOTE: the daemon propagates the earlier delete
    assert world.remote('obj') is not None


@pytest.mark.parametrize('propagate_delete', [True, False])
def test_a_client_that_may_delete_but_not_read_deletes_archived_objects(
        tmp_path, propagate_delete):
    world = shunt_fakes.ShuntWorld(tmp_path,
                                   propagate_delete=propagate_delete)
    archived(world)
    world.swift.refuse = {'GET': 403, 'HEAD': 403}

    assert world.obj('obj', method='DELETE').status_int == 204

    assert (world.remote('obj') is None) == propagate_delete
    world.swift.refuse = {}
    assert world.obj('obj').status_int == 404


def test_delete_of_an_expired_archived_object_is_404(world):
    archived(world)
    world.remote('obj').metadata[md.DELETE_AT_KEY] = str(
        int(time.time()) - 10)

    assert world.obj('obj', method='DELETE').status_int == 404


def test_delete_of_a_local_object_is_swifts_alone(world):
    world.put('obj', b'local')

    assert world.obj('obj', method='DELETE').status_int == 204
    assert world.provider.calls == []


def test_delete_of_nothing_is_swifts_404(world):
    assert world.obj('nope', method='DELETE').status_int == 404


def test_delete_with_the_remote_down_is_a_503(world):
    archived(world)
    world.provider.fail('delete_object', exceptions.Unavailable('down'))

    assert world.obj('obj', method='DELETE').status_int == 503
    assert world.remote('obj') is not None


def test_post_replaces_the_remote_metadata_as_swift_would(world):
    archived(world, headers={'X-Object-Meta-Color': 'blue',
                             'X-Object-Meta-Size': 'big'})
    before = world.obj('obj')

    resp = world.obj('obj', method='POST', headers={
        'X-Object-Meta-Color': swob.str_to_wsgi('réd'),
        'Content-Type': 'text/x-new'})

    assert resp.status_int == 202
    after = world.obj('obj')
    assert swob.wsgi_to_str(after.headers['X-Object-Meta-Color']) == 'réd'
    assert 'X-Object-Meta-Size' not in after.headers
    assert after.headers['Content-Type'] == 'text/x-new'
    assert after.headers['Etag'] == before.headers['Etag']
    assert after.body == before.body
    assert float(after.headers['X-Timestamp']) > \
        float(before.headers['X-Timestamp'])


def test_post_keeps_the_content_type_when_none_is_sent(world):
    archived(world)

    world.obj('obj', method='POST', headers={'X-Object-Meta-New': '1'})

    assert world.obj('obj').headers['Content-Type'] == 'text/plain'


def test_post_keeps_an_slos_large_object_keys(world):
    record = archived_slo(world)

    world.obj('slo', method='POST', headers={'X-Object-Meta-New': '1'})

    resp = world.obj('slo')
    assert resp.headers['X-Static-Large-Object'] == 'True'
    assert resp.headers['Etag'] == '"%s"' % record.headers[
        'X-Object-Sysmeta-Slo-Etag']


def expiring_world(tmp_path, **options):
    return shunt_fakes.ShuntWorld(
        tmp_path, provider_cls=shunt_fakes.ExpiringProvider, **options)


@pytest.mark.parametrize('header', ['X-Delete-At', 'X-Delete-After'])
def test_post_sets_the_expiry_of_the_object_and_its_remote_copy(
        tmp_path, header):
    world = expiring_world(tmp_path)
    archived(world)
    now = int(time.time())
    value = now + 3600 if header == 'X-Delete-At' else 3600

    resp = world.obj('obj', method='POST', headers={header: str(value)})

    assert resp.status_int == 202
    delete_at = int(world.obj('obj', method='HEAD').headers['X-Delete-At'])
    assert now + 3600 <= delete_at <= int(time.time()) + 3600
    assert world.remote('obj').expires_at == delete_at


def test_post_without_an_expiry_removes_it_as_swift_would(tmp_path):
    world = expiring_world(tmp_path, propagate_expiration=True)
    when = int(time.time()) + 3600
    archived(world, headers={'X-Delete-At': str(when)})
    assert world.obj('obj').headers['X-Delete-At'] == str(when)
    assert world.remote('obj').expires_at == when

    resp = world.obj('obj', method='POST',
                     headers={'X-Object-Meta-Color': 'red'})

    assert resp.status_int == 202
    after = world.obj('obj')
    assert 'X-Delete-At' not in after.headers
    assert after.headers['X-Object-Meta-Color'] == 'red'
    assert world.remote('obj').expires_at is None


def test_post_to_a_remote_without_per_object_expiry_keeps_it_in_metadata(
        world):
    # NOTE: the world's remote is S3-like: update_metadata takes no
    # expires_at; the shunt enforces the expiry itself
    archived(world)
    when = int(time.time()) + 3600

    assert world.obj('obj', method='POST', headers={
        'X-Delete-At': str(when)}).status_int == 202

    assert world.obj('obj').headers['X-Delete-At'] == str(when)
    assert world.remote('obj').metadata[md.DELETE_AT_KEY] == str(when)
    world.remote('obj').metadata[md.DELETE_AT_KEY] = str(int(time.time()) - 1)
    assert world.obj('obj').status_int == 404


@pytest.mark.parametrize('headers', [
    {'X-Delete-At': 'soon'}, {'X-Delete-At': '1000'},
    {'X-Delete-After': '-5'}])
def test_post_with_an_expiry_swift_would_refuse_is_a_400(world, headers):
    archived(world)

    resp = world.obj('obj', method='POST', headers=headers)

    assert resp.status_int == 400
    assert world.provider.count('update_metadata') == 0


def test_post_to_nothing_is_swifts_404(world):
    assert world.obj('nope', method='POST').status_int == 404


def test_post_to_an_object_deleted_since_it_was_archived_is_404(world):
    archived(world)
    world.put('obj', b'new')
    world.obj('obj', method='DELETE')
    world.provider.reset_calls()

    resp = world.obj('obj', method='POST',
                     headers={'X-Object-Meta-Color': 'red'})

    assert resp.status_int == 404
    assert world.provider.count('update_metadata') == 0
    assert world.obj('obj').status_int == 404


def test_a_manifest_delete_of_a_deleted_archived_slo_keeps_segments(
        tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, retain_local_segments=True)
    archived_slo(world)
    world.put('slo', b'new')
    world.obj('slo', method='DELETE')

    resp = world.obj('slo', method='DELETE',
                     query_string='multipart-manifest=delete')

    # NOTE: Swift's own answer: the deleted SLO is not the archived one
    assert b'Number Deleted' not in resp.body
    assert world.swift.get(ACCOUNT, CONTAINER + '_segments',
                           'slo/00000000') is not None


def test_a_client_that_may_write_but_not_read_posts_to_archived_objects(
        world):
    archived(world)
    world.swift.refuse = {'GET': 403, 'HEAD': 403}

    resp = world.obj('obj', method='POST',
                     headers={'X-Object-Meta-Color': 'red'})

    assert resp.status_int == 202
    world.swift.refuse = {}
    assert world.obj('obj').headers['X-Object-Meta-Color'] == 'red'


def test_a_client_that_may_not_read_cannot_bring_a_deleted_object_back(
        world):
    archived(world)
    world.swift.delete(ACCOUNT, CONTAINER, 'obj')
    world.swift.refuse = {'GET': 403, 'HEAD': 403}
    world.provider.reset_calls()

    resp = world.obj('obj', method='POST',
                     headers={'X-Object-Meta-Color': 'red'})

    assert resp.status_int == 404
    assert world.provider.count('update_metadata') == 0
    world.swift.refuse = {}
    assert world.obj('obj').status_int == 404


def test_post_when_swift_cannot_say_whether_the_object_was_deleted_is_503(
        world):
    archived(world)
    world.swift.delete(ACCOUNT, CONTAINER, 'obj')
    world.swift.hooks.append(
        lambda r: fakes.error_response(503) if r.method == 'HEAD' else None)
    world.provider.reset_calls()

    resp = world.obj('obj', method='POST',
                     headers={'X-Object-Meta-Color': 'red'})

    assert resp.status_int == 503
    assert world.provider.calls == []
    world.swift.hooks = []
    assert world.obj('obj').status_int == 404


def test_post_to_an_object_written_while_it_was_looked_up_is_swifts(world):
    archived(world)

    def appear(record):
        if record.method == 'HEAD':
            world.swift.hooks = []
            world.put('obj', b'new')

    world.swift.hooks.append(appear)

    resp = world.obj('obj', method='POST',
                     headers={'X-Object-Meta-Color': 'red'})

    assert resp.status_int == 404
    assert world.provider.count('update_metadata') == 0


def test_post_with_the_remote_down_is_a_503(world):
    archived(world)
    world.provider.fail('update_metadata', exceptions.Unavailable('down'))

    assert world.obj('obj', method='POST').status_int == 503


@pytest.mark.parametrize('version', ['1700000000.00000', 'null'])
@pytest.mark.parametrize('method', ['GET', 'HEAD', 'DELETE', 'POST'])
def test_requests_for_a_version_swift_does_not_have_leave_the_remote_alone(
        world, method, version):
    archived(world)
    world.provider.reset_calls()

    resp = world.obj('obj', method=method,
                     query_string='version-id=%s' % version)

    assert resp.status_int == 404
    assert world.provider.calls == []
    assert world.swift.requests[-1].params == {'version-id': version}
    assert world.remote('obj') is not None


def test_put_passes_through(world):
    archived(world)

    resp = world.obj('obj', method='PUT', body=b'new')

    assert resp.status_int == 201
    assert world.obj('obj').body == b'new'


# -- configuration ---------------------------------------------------------

CONF = """
[remote:moto]
provider = s3
endpoint = http://127.0.0.1:1
access_key = a
secret_key = topsecret

[mapping:archive]
account = AUTH_test
container = %s
remote = moto
bucket = b
lifecycle = archive
"""


def test_filter_factory_loads_the_file_and_registers_swift_info(tmp_path):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(CONF % 'c')

    factory = shunt.filter_factory({}, conf_file=str(path))
    app = factory(shunt_fakes.LocalSwift(tmp_path))

    assert isinstance(app, shunt.CloudShuntMiddleware)
    assert app.config.get().mapping_for('AUTH_test', 'c').shunted
    info = swift_registry.get_swift_info()
    assert info['cloud_shunt']['bypass_header'] == shunt.BYPASS_HEADER


def test_filter_factory_refuses_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match='does not exist'):
        shunt.filter_factory({}, conf_file=str(tmp_path / 'nope.conf'))


def test_filter_factory_refuses_an_invalid_file_naming_the_problem(
        tmp_path):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(CONF.replace('bucket = b\n', '') % 'c')

    with pytest.raises(ValueError, match=r'\[mapping:archive\] bucket'):
        shunt.filter_factory({}, conf_file=str(path))


def test_filter_factory_refuses_bad_options(tmp_path):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(CONF % 'c')

    with pytest.raises(ValueError, match='max_connections'):
        shunt.filter_factory({}, conf_file=str(path), max_connections='x')


def test_the_configuration_is_reloaded_when_the_file_changes(tmp_path):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(CONF % 'c1')
    clock = [1000.0]
    logger = shunt_fakes.ListLogger()
    config = shunt_config.ShuntConfig(str(path), logger,
                                      clock=lambda: clock[0])
    path.write_text(CONF % 'c2')
    os.utime(str(path), (2000, 2000))

    clock[0] += 14
    unchanged = config.get()
    clock[0] += 2
    changed = config.get()

    assert unchanged.mapping_for('AUTH_test', 'c1') is not None
    assert changed.mapping_for('AUTH_test', 'c2') is not None
    assert changed.mapping_for('AUTH_test', 'c1') is None
    assert config.version == 1


def test_an_invalid_new_file_keeps_the_previous_configuration(tmp_path):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(CONF % 'c1')
    clock = [1000.0]
    logger = shunt_fakes.ListLogger()
    config = shunt_config.ShuntConfig(str(path), logger,
                                      clock=lambda: clock[0])
    path.write_text('[mapping:x]\naccount = AUTH_test\n')
    os.utime(str(path), (2000, 2000))
    clock[0] += 20

    kept = config.get()

    assert kept.mapping_for('AUTH_test', 'c1') is not None
    assert 'keeping the previous configuration' in logger.text('error')
    assert 'topsecret' not in logger.text()


def test_the_shunt_limits_remote_retries_and_timeouts(tmp_path):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(CONF % 'c')
    app = shunt.filter_factory(
        {}, conf_file=str(path), remote_max_retries='0',
        remote_connect_timeout='2.5', max_connections='3')(
        shunt_fakes.LocalSwift(tmp_path))
    mapping = app.config.get().mapping_for('AUTH_test', 'c')

    provider = app.provider(mapping)

    assert provider.conf.max_retries == 0
    assert provider.conf.connect_timeout == 2.5
    assert provider.conf.read_timeout == 60.0
    assert provider.conf.secret_key == 'topsecret'
    assert provider.max_connections == 3
    assert app.provider(mapping) is provider


class LogLines(logging.Handler):
    """A handler that keeps the lines it would write."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


def test_secrets_never_reach_the_shunts_log(tmp_path):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(CONF % 'c')
    clock = [1000.0]
    config = shunt_config.ShuntConfig(str(path), shunt_fakes.ListLogger(),
                                      clock=lambda: clock[0])
    # NOTE: like what Swift's get_logger gives: an adapter of a logger that
    # does not propagate to the root, with handlers of its own
    std = logging.getLogger('test-cloud-shunt-secrets')
    std.propagate = False
    handler = LogLines()
    std.addHandler(handler)
    app = shunt.CloudShuntMiddleware(
        shunt_fakes.LocalSwift(tmp_path), {}, config,
        logger=logging.LoggerAdapter(std, {}))

    app.logger.error('failed with topsecret')
    path.write_text((CONF % 'c').replace('topsecret', 'newsecret'))
    os.utime(str(path), (2000, 2000))
    clock[0] += 20
    app.provider(config.get().mapping_for('AUTH_test', 'c'))
    app.logger.error('failed with newsecret')

    failed = [line for line in handler.lines if 'failed with' in line]
    assert len(failed) == 2
    assert all(line.endswith('failed with ***') for line in failed)
    assert not any('topsecret' in line or 'newsecret' in line
                   for line in handler.lines)


def test_remote_object_headers_of_a_plain_object():
    remote = shunt_object.RemoteObject(shunt_fakes.providers.ObjectInfo(
        key='k', size=3, etag='abc', last_modified=5.0,
        content_type='text/plain;swift_bytes=3',
        metadata={'color': 'blue', md.TIMESTAMP_KEY: '1700000000.00000'}))

    headers = remote.headers()

    assert headers['Content-Type'] == 'text/plain'
    assert headers['X-Object-Meta-Color'] == 'blue'
    assert headers['X-Timestamp'] == '1700000000.00000'
    assert headers['Etag'] == 'abc'


def test_the_shunts_header_dicts_are_swobs():
    pairs = [('content-type', 'a'), ('ETag', '"x"'),
             ('x-object-meta-\xff', 'v'), ('X-ETAG', 'y'),
             ('Content-Length', 5), ('X-Gone', None), ('x-gone', 'back'),
             ('X-Bytes', b'\xc3\xbc')]
    for _ in range(2):
        built = answers.header_dict(pairs)
        assert built == swob.HeaderKeyDict(pairs)
        assert list(built.items()) == list(swob.HeaderKeyDict(pairs).items())
    more = {'content-type': 'b', 'x-trans-id': 'tx', 'Size': 3}
    want = swob.HeaderKeyDict(pairs)
    want.update(more)
    assert answers.add_headers(answers.header_dict(pairs), more) == want


@pytest.mark.parametrize('conditions', [
    {}, {'If-None-Match': '"x"'}, {'If-Match': '"y"'},
    {'If-Unmodified-Since': 'Mon, 13 Nov 2023 22:13:21 GMT'},
    {'If-Modified-Since': 'Tue, 14 Nov 2023 22:13:21 GMT'}])
@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_the_shunts_answer_is_the_one_swob_would_give(conditions, method):
    headers = {'Content-Type': 'text/plain', 'Content-Length': '3',
               'ETag': '"x"', 'Last-Modified': 'Tue, 14 Nov 2023 22:13:21 '
               'GMT', 'X-Object-Meta-Color': 'blue'}

    def run(make):
        req = swob.Request.blank('/v1/a/c/o', method=method,
                                 headers=conditions)
        out = {}
        resp = make(req, swob.HeaderKeyDict(headers), iter([b'abc']))
        body = b''.join(resp(req.environ, lambda s, h, e=None: out.update(
            status=s, headers=sorted(h))))
        return out, body

    want = run(lambda req, h, app_iter: swob.Response(
        status=200, headers=h, app_iter=app_iter, request=req,
        conditional_response=True, conditional_etag='x'))
    got = run(lambda req, h, app_iter: answers.response(
        req, h, app_iter, 'x'))
    assert got == want
