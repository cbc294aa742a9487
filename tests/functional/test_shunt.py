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
"""The cloud shunt in a real proxy, with objects archived by the daemon.

A set of objects (plain, unicode, zero-byte, 90 metadata headers, an SLO
whose remote copy is a multipart upload) is written to a container of the
all-in-one and read, listed and HEADed through Swift. Then
``cloudsync-sync --once`` runs on every container node with a mapping
that archives the container to a moto bucket (``copy_after = 0``): the
objects are copied, verified and removed from Swift. The tests check that
they are gone from Swift (through the all-in-one's own proxy, which has no
shunt) and that a second proxy with the shunt in its pipeline serves
exactly what Swift served before: bytes, headers, listings in every format
and paging pattern, ranges, conditional requests; restores; refuses users
without access; and answers a clean 503 when the remote is down.
"""

import email.utils
import hashlib
import http.client
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.parse
from xml.etree import ElementTree

import pytest
from swift.common import utils as swift_utils

from cloudsync import layout as layout_mod
from tests.functional.conftest import unique_name
from tests.functional.daemon_helpers import aio_cloudsync
from tests.functional.daemon_helpers import run_daemon

MIB = 1024 * 1024
MANY_HEADERS = 80
#: the response headers that describe an object
OBJECT_HEADERS = ('etag', 'content-type', 'content-length', 'x-timestamp',
                  'last-modified', 'x-static-large-object',
                  'x-manifest-etag', 'accept-ranges')
#: listing parameters checked before and after archiving
LISTING_PATTERNS = [
    {}, {'limit': '2'}, {'limit': '2', 'marker': 'b/1'},
    {'marker': 'b/1'}, {'end_marker': 'dir'}, {'prefix': 'b/'},
    {'prefix': 'dir/'}, {'delimiter': '/'}, {'prefix': 'b', 'delimiter': '/'},
    {'marker': 'b/1', 'delimiter': '/'}, {'end_marker': 'b/2',
                                          'delimiter': '/'},
    {'reverse': 'true'}, {'reverse': 'true', 'limit': '3'},
    {'reverse': 'true', 'marker': 'dir', 'end_marker': 'a'},
    {'reverse': 'true', 'delimiter': '/'}, {'limit': '0'},
    {'prefix': 'nothing'},
]
FORMATS = ('json', 'xml', 'plain')


def md5_hex(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def bin_path(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def object_view(headers):
    return {k: v for k, v in headers.items()
            if k in OBJECT_HEADERS or k.startswith('x-object-meta-')}


class Client(object):
    """Raw HTTP requests to one proxy with one user's token.

    Paths are relative to ``base`` (``/v1/AUTH_test/<container>``);
    ``../other/obj`` reaches another container.
    """

    def __init__(self, url, base, token):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.base = base
        self.token = token

    def request(self, method, path='', headers=None, query=None):
        full = self.base
        if path.startswith('../'):
            full, path = full.rsplit('/', 1)[0], path[3:]
        if path:
            full += '/' + urllib.parse.quote(path)
        if query:
            full += '?' + urllib.parse.urlencode(query)
        headers = dict(headers or {})
        if self.token:
            headers['X-Auth-Token'] = self.token
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, full, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, {k.lower(): v for k, v in
                                 resp.getheaders()}, body
        finally:
            conn.close()


def shunt_mappings(bucket, container, restoring, kept):
    archive = {'bucket': bucket, 'lifecycle': 'archive', 'copy_after': 0,
               'archive_as': 'delete'}
    return {
        'archive': dict(archive, container=container),
        'restore': dict(archive, container=restoring,
                        restore_object='true'),
        'kept': dict(archive, container=kept, propagate_delete='false'),
    }


def write_conf(aio, path, mappings):
    aio_cloudsync.write_conf(path, aio.state, mappings, {
        'moto': aio_cloudsync.remote(aio.state, part_size=5242880)})


def make_objects(swift, container):
    """The objects archived; returns ``{name: bytes}``."""
    swift.put_container(container)
    objects = {
        'a': b'first object',
        'b/1': os.urandom(3000),
        'b/2': b'second in b',
        'dir/ünïcødé ☃': 'välue ☃'.encode('utf-8') * 10,
        'empty': b'',
        'meta90': b'ninety headers',
        'z': b'last',
    }
    for name, data in objects.items():
        headers = {'X-Object-Meta-Color': 'Blue'}
        if name.startswith('dir/'):
            headers['X-Object-Meta-Unicode'] = 'välue ☃'
        if name == 'meta90':
            # NOTE: small values: ext4 keeps about 4 KiB of xattrs per
            # object and S3 2 KiB of user metadata. 80 rather than 90:
            # moto's HTTP server (Python's http.server) refuses a request
            # of more than 100 header lines with 431, and the daemon's PUT
            # adds about a dozen of its own.
            headers = {'X-Object-Meta-%d' % i: 'v'
                       for i in range(MANY_HEADERS)}
        swift.put_object(container, name, data, headers=headers,
                         content_type='text/x-%s' % name[0])
    segments = container + '_segments'
    swift.put_container(segments)
    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    for index, data in enumerate(parts):
        swift.put_object(segments, 'slo/%d' % index, data)
    swift.put_object(container, 'slo', json.dumps([
        {'path': '/%s/slo/%d' % (segments, i)} for i in range(2)]),
        query_string='multipart-manifest=put',
        headers={'X-Object-Meta-Kind': 'large'},
        content_type='video/mp4')
    objects['slo'] = b''.join(parts)
    return objects


def capture(client, objects):
    """What Swift answers for every object and listing."""
    seen = {'objects': {}, 'heads': {}, 'listings': {}}
    for name in objects:
        status, headers, body = client.request('GET', name)
        assert status == 200
        assert body == objects[name]
        seen['objects'][name] = object_view(headers)
        status, headers, _ = client.request('HEAD', name)
        seen['heads'][name] = object_view(headers)
    for index, params in enumerate(LISTING_PATTERNS):
        for fmt in FORMATS:
            status, headers, body = client.request(
                'GET', query=dict(params, format=fmt))
            seen['listings'][(index, fmt)] = (status, body)
    return seen


@pytest.fixture(scope='module')
def env(aio):
    """Objects archived by the daemon and a proxy with the shunt."""
    work_dir = tempfile.mkdtemp(prefix='shunt-test-')
    try:
        bucket = unique_name('shunt')
        container = unique_name('archived')
        restoring = unique_name('restored')
        kept = unique_name('kept')
        aio.s3_client().create_bucket(Bucket=bucket)
        conf = os.path.join(work_dir, 'cloudsync.conf')
        write_conf(aio, conf,
                   shunt_mappings(bucket, container, restoring, kept))
        swift = aio.swift_client()
        url, token = swift.get_auth()
        storage_path = urllib.parse.urlparse(url).path + '/' + container
        plain = Client(url, storage_path, token)
        objects = make_objects(swift, container)
        swift.put_container(restoring)
        swift.put_object(restoring, 'restored', b'bring me back',
                         headers={'X-Object-Meta-Color': 'Green'},
                         content_type='text/plain')
        swift.put_container(restoring + '_segments')
        slo_parts = [os.urandom(5 * MIB), b'tail']
        for index, data in enumerate(slo_parts):
            swift.put_object(restoring + '_segments', 'slo/%d' % index, data)
        swift.put_object(restoring, 'restored-slo', json.dumps([
            {'path': '/%s_segments/slo/%d' % (restoring, i)}
            for i in range(2)]), query_string='multipart-manifest=put',
            headers={'X-Object-Meta-Kind': 'large'}, content_type='video/mp4')
        swift.put_container(kept)
        swift.put_object(kept, 'kept', b'deleted, never deleted remotely')
        before = capture(plain, objects)
        restore_before = {
            name: plain.request('HEAD', '../%s/%s' % (restoring, name))
            for name in ('restored', 'restored-slo')}
        run_daemon(aio, conf, work_dir)
        shunt_url = aio.start_proxy('shunt', [('cloud_shunt', {
            'use': 'egg:swift-cloudsync#cloud_shunt', 'conf_file': conf})])
        try:
            yield {
                'aio': aio, 'bucket': bucket, 'container': container,
                'restoring': restoring, 'kept': kept, 'objects': objects,
                'before': before, 'slo_parts': slo_parts,
                'restore_before': restore_before, 'plain': plain,
                'shunt': Client(shunt_url, storage_path, token),
                'shunt_url': shunt_url, 'conf': conf,
                'work_dir': work_dir, 'storage_path': storage_path,
                'token': token,
            }
        finally:
            aio.stop_proxy('shunt')
    finally:
        if not os.environ.get('CLOUDSYNC_AIO_KEEP'):
            shutil.rmtree(work_dir, ignore_errors=True)


def test_archived_objects_are_gone_from_swift(env):
    for name in env['objects']:
        status, _, _ = env['plain'].request('GET', name)
        assert status == 404, name
    status, _, body = env['plain'].request('GET', query={'format': 'json'})
    assert json.loads(body) == []


def test_the_remote_holds_them_in_the_daemons_layout(env):
    layout = layout_mod.RemoteLayout('AUTH_test', env['container'])
    s3 = env['aio'].s3_client()
    slo = s3.head_object(Bucket=env['bucket'],
                         Key=layout.object_key('slo'))
    assert slo['ETag'].strip('"').endswith('-2')
    s3.head_object(Bucket=env['bucket'], Key=layout.manifest_key('slo'))


def test_archived_objects_read_back_with_identical_bytes_and_headers(env):
    for name, data in env['objects'].items():
        status, headers, body = env['shunt'].request('GET', name)
        assert status == 200, name
        assert body == data, name
        assert object_view(headers) == env['before']['objects'][name], name


def test_head_answers_identical_headers(env):
    for name in env['objects']:
        status, headers, body = env['shunt'].request('HEAD', name)
        assert (status, body) == (200, b''), name
        assert object_view(headers) == env['before']['heads'][name], name


def _names(fmt, body):
    if fmt == 'json':
        return [e.get('name', e.get('subdir')) for e in json.loads(body)]
    if fmt == 'plain':
        return body.decode('utf-8').splitlines()
    return body


@pytest.mark.parametrize('index', range(len(LISTING_PATTERNS)))
def test_listings_are_what_swift_listed_before(env, index):
    for fmt in FORMATS:
        want_status, want = env['before']['listings'][(index, fmt)]
        status, headers, body = env['shunt'].request(
            'GET', query=dict(LISTING_PATTERNS[index], format=fmt))
        assert status == want_status, (fmt, body)
        if fmt == 'plain':
            assert body == want
        elif fmt == 'json':
            got, was = json.loads(body), json.loads(want)
            assert [e.get('name', e.get('subdir')) for e in got] == \
                [e.get('name', e.get('subdir')) for e in was]
            for new, old in zip(got, was):
                if 'subdir' in old:
                    continue
                assert new['bytes'] == old['bytes'], old
                if old['name'] != 'slo':
                    assert new['hash'] == old['hash'], old
                assert new['content_location'], new
        else:
            assert xml_entries(body) == xml_entries(want)


def xml_entries(body):
    """(tag, name, bytes) of an XML listing's entries."""
    root = ElementTree.fromstring(body)
    return [(e.tag, e.get('name') or e.findtext('name'),
             e.findtext('bytes')) for e in root]


def test_paging_walks_the_same_listing(env):
    full = json.loads(env['before']['listings'][(0, 'json')][1])
    walked, marker = [], ''
    while True:
        status, _, body = env['shunt'].request('GET', query={
            'format': 'json', 'limit': '2', 'marker': marker})
        page = json.loads(body) if status == 200 else []
        if not page:
            break
        walked.extend(e['name'] for e in page)
        marker = page[-1]['name']
    assert walked == [e['name'] for e in full]


@pytest.mark.parametrize('spec', ['bytes=0-4', 'bytes=-3', 'bytes=2-',
                                  'bytes=5000000-5243000'])
def test_single_ranges_read_back(env, spec):
    name = 'slo' if spec.startswith('bytes=5000000') else 'b/1'
    data = env['objects'][name]
    start, _, end = spec[len('bytes='):].partition('-')
    if not start:
        want = data[-int(end):]
    else:
        want = data[int(start):int(end) + 1 if end else None]

    status, headers, body = env['shunt'].request(
        'GET', name, headers={'Range': spec})

    assert status == 206
    assert body == want
    assert headers['content-range'].endswith('/%d' % len(data))


def test_multiple_ranges_are_multipart_byteranges(env):
    data = env['objects']['b/1']

    status, headers, body = env['shunt'].request(
        'GET', 'b/1', headers={'Range': 'bytes=0-9,100-109'})

    assert status == 206
    assert headers['content-type'].startswith('multipart/byteranges')
    assert data[0:10] in body and data[100:110] in body
    assert b'Content-Range: bytes 100-109/3000' in body


def test_unsatisfiable_ranges_are_416(env):
    status, headers, _ = env['shunt'].request(
        'GET', 'a', headers={'Range': 'bytes=1000-'})

    assert status == 416
    assert headers['content-range'] == 'bytes */%d' % len(
        env['objects']['a'])


def test_conditional_requests_use_swifts_etag_and_time(env):
    before = env['before']['objects']
    for name in ('a', 'slo'):
        etag = before[name]['etag']
        modified = email.utils.parsedate_to_datetime(
            before[name]['last-modified']).timestamp()
        later = email.utils.formatdate(modified + 10, usegmt=True)
        earlier = email.utils.formatdate(modified - 10, usegmt=True)
        cases = [({'If-Match': etag}, 200), ({'If-Match': '"x"'}, 412),
                 ({'If-None-Match': etag}, 304),
                 ({'If-None-Match': '"x"'}, 200),
                 ({'If-Modified-Since': later}, 304),
                 ({'If-Modified-Since': earlier}, 200),
                 ({'If-Unmodified-Since': earlier}, 412),
                 ({'If-Unmodified-Since': later}, 200)]
        for headers, expected in cases:
            status, _, _ = env['shunt'].request('GET', name,
                                                headers=headers)
            assert status == expected, (name, headers)


def wait_for_local(client, path, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        status, headers, _ = client.request('HEAD', path)
        if status == 200 or time.monotonic() > deadline:
            return status, headers
        time.sleep(0.2)


def test_a_whole_read_restores_the_object(env):
    plain, shunt = env['plain'], env['shunt']
    path = '../%s/restored' % env['restoring']
    assert plain.request('HEAD', path)[0] == 404

    status, headers, body = shunt.request('GET', path)

    assert (status, body) == (200, b'bring me back')
    status, local_headers = wait_for_local(plain, path)
    assert status == 200
    assert object_view(local_headers) == \
        object_view(env['restore_before']['restored'][1])


def test_a_whole_read_restores_an_slo_segment_by_segment(env):
    plain, shunt = env['plain'], env['shunt']
    path = '../%s/restored-slo' % env['restoring']
    assert plain.request('HEAD', path)[0] == 404

    status, _, body = shunt.request('GET', path)

    assert (status, body) == (200, b''.join(env['slo_parts']))
    status, local_headers = wait_for_local(plain, path)
    assert status == 200
    want = object_view(env['restore_before']['restored-slo'][1])
    got = object_view(local_headers)
    # NOTE: the manifest lists the segments' new timestamps, so its own
    # MD5 (X-Manifest-Etag) is new; the SLO's ETag is not.
    want.pop('x-manifest-etag')
    got.pop('x-manifest-etag')
    assert got == want
    status, _, local_body = plain.request('GET', path)
    assert local_body == b''.join(env['slo_parts'])


def test_a_user_without_read_access_is_refused(env):
    aio = env['aio']
    for user, key in (('test:reader', 'reading'),
                      ('test2:tester2', 'testing2')):
        _, token = aio.swift_client(user, key).get_auth()
        other = Client(env['shunt_url'], env['storage_path'], token)
        assert other.request('GET', 'a')[0] == 403, user
        assert other.request('HEAD', 'a')[0] == 403, user
        assert other.request('GET', query={'format': 'json'})[0] == 403
        assert other.request('DELETE', 'a')[0] == 403, user
        assert other.request('POST', 'a', headers={
            'X-Object-Meta-X': 'y'})[0] == 403, user
    anonymous = Client(env['shunt_url'], env['storage_path'], None)
    assert anonymous.request('GET', 'a')[0] == 401
    assert anonymous.request('HEAD', 'a')[0] == 401
    status, _, body = anonymous.request('GET', query={'format': 'json'})
    assert status == 401
    assert b'"a"' not in body


def test_post_and_delete_reach_the_remote_copy(env):
    shunt = env['shunt']
    status, _, _ = shunt.request('POST', 'z', headers={
        'X-Object-Meta-Color': 'Red', 'Content-Type': 'text/x-new'})
    assert status == 202
    status, headers, body = shunt.request('GET', 'z')
    assert headers['x-object-meta-color'] == 'Red'
    assert headers['content-type'] == 'text/x-new'
    assert body == env['objects']['z']

    assert shunt.request('DELETE', 'z')[0] == 204
    assert shunt.request('GET', 'z')[0] == 404

    # as "swift delete" removes an SLO: segments, then the manifest
    status, _, body = shunt.request(
        'DELETE', 'slo', query={'multipart-manifest': 'delete'},
        headers={'Accept': 'application/json'})
    assert status == 200
    assert json.loads(body)['Response Status'] == '200 OK'
    assert shunt.request('GET', 'slo')[0] == 404
    layout = layout_mod.RemoteLayout('AUTH_test', env['container'])
    keys = [o['Key'] for o in env['aio'].s3_client().list_objects_v2(
        Bucket=env['bucket']).get('Contents', ())]
    assert layout.object_key('slo') not in keys
    assert layout.manifest_key('slo') not in keys


def test_an_archived_object_overwritten_then_deleted_stays_deleted(env):
    # NOTE: before the daemon sees the delete: the remote still has the
    # archived version, and Swift's tombstone is newer than it.
    shunt = env['shunt']
    assert shunt.request('GET', 'b/2')[2] == env['objects']['b/2']
    swift = env['aio'].swift_client()
    swift.put_object(env['container'], 'b/2', b'written over')
    assert shunt.request('GET', 'b/2')[2] == b'written over'

    swift.delete_object(env['container'], 'b/2')

    assert shunt.request('GET', 'b/2')[0] == 404
    assert shunt.request('HEAD', 'b/2')[0] == 404
    assert shunt.request('GET', 'b/2', headers={
        'Range': 'bytes=0-1'})[0] == 404
    layout = layout_mod.RemoteLayout('AUTH_test', env['container'])
    env['aio'].s3_client().head_object(Bucket=env['bucket'],
                                       Key=layout.object_key('b/2'))


def test_a_kept_delete_marks_the_remote_copy_deleted(env):
    """``propagate_delete = false``: the daemon marks the copy it keeps,
    so that the delete outlives Swift's tombstone.
    """
    shunt = env['shunt']
    path = '../%s/kept' % env['kept']
    assert shunt.request('GET', path)[2] == \
        b'deleted, never deleted remotely'
    assert shunt.request('DELETE', path)[0] == 204
    assert shunt.request('GET', path)[0] == 404
    # NOTE: the daemon's pass over the delete, for this mapping only
    work_dir = os.path.join(env['work_dir'], 'kept')
    os.mkdir(work_dir)
    conf = os.path.join(work_dir, 'cloudsync.conf')
    mappings = shunt_mappings(env['bucket'], env['container'],
                              env['restoring'], env['kept'])
    write_conf(env['aio'], conf, {'kept': mappings['kept']})

    run_daemon(env['aio'], conf, work_dir)

    layout = layout_mod.RemoteLayout('AUTH_test', env['kept'])
    remote = env['aio'].s3_client().head_object(
        Bucket=env['bucket'], Key=layout.object_key('kept'))
    marker = swift_utils.Timestamp(
        remote['Metadata']['cloudsync-deleted-at'])
    assert marker > swift_utils.Timestamp(
        remote['Metadata']['cloudsync-timestamp'])
    assert shunt.request('GET', path)[0] == 404
    assert shunt.request('HEAD', path)[0] == 404


def test_a_remote_that_is_down_gives_a_clean_503(env):
    """Last: moto keeps its data in memory; restarting it loses it."""
    aio = env['aio']
    aio.stop_moto()
    try:
        status, headers, body = env['shunt'].request('GET', 'a')
        assert status == 503
        assert b'Service Unavailable' in body
        moto = urllib.parse.urlparse(aio.state['moto_endpoint'])
        assert str(moto.port).encode() not in body
        assert b'testing' not in body and b'Traceback' not in body
        assert env['shunt'].request('HEAD', 'a')[0] == 503
        status, _, body = env['shunt'].request('GET', query={
            'format': 'json'})
        assert (status, json.loads(body)) == (200, [])
    finally:
        aio.start_moto()
