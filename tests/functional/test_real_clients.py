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
"""Real clients read the same objects before and after archiving.

One set of objects (plain, unicode, spaces and ``%``, zero bytes, nested
names, non-ASCII metadata, a static large object whose small segments the
daemon groups into fewer remote parts, and an S3 multipart upload) is
written to a container of the all-in-one and read through its proxy with
python-swiftclient and boto3 (through s3api): listings, HEADs, GETs,
ranges, several ranges, conditional requests and boto3's transfer manager
(which sends ``If-Match`` with every ranged GET, as ``aws s3 cp`` does).
Then ``cloudsync-sync --once`` archives the container to moto and the same
clients read everything again through a proxy with the cloud shunt (Swift
API and s3api) and through ``cloudsync-proxymc`` (Swift API, and s3api
with tempauth in front of it): every answer is compared with the one
before archiving. The differences that are by design (see
``doc/source/proxymc.rst``, "Clients tried") are asserted as such.
"""

import email.utils
import hashlib
import json
import os
import shutil
import tempfile
import urllib.parse

import pytest
from swiftclient import client as swiftclient

from tests.functional.conftest import unique_name
from tests.functional import test_proxymc
from tests.functional import test_shunt

MIB = 1024 * 1024
USER, KEY = 'test:tester', 'testing'
#: the headers that describe an object through the Swift API
SWIFT_OBJECT_HEADERS = ('etag', 'content-type', 'content-length',
                        'x-timestamp', 'last-modified',
                        'x-static-large-object', 'x-manifest-etag',
                        'accept-ranges')
#: more ranges than Swift serves in one request
TOO_MANY_RANGES = 'bytes=' + ','.join('%d-%d' % (i * 3, i * 3)
                                      for i in range(51))
ENDPOINTS = ('shunt', 'proxymc')


def md5_hex(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def make_objects(aio, swift, container):
    """The objects; returns ``{name: bytes}``."""
    swift.put_container(container)
    objects = {
        'plain': b'plain object',
        'ünïcødé ☃': 'välue ☃'.encode('utf-8') * 20,
        'spaces and 100% sure': b'spaces and a percent sign',
        'empty': b'',
        'a/b/c/nested.txt': os.urandom(3000),
        'meta': b'metadata that is not ASCII',
    }
    for name, data in objects.items():
        headers = {'X-Object-Meta-Color': 'blue'}
        if name == 'meta':
            headers = {'X-Object-Meta-Greeting': 'välue ☃ 100%',
                       'X-Object-Meta-Emoji': '\U0001f600'}
        swift.put_object(container, name, data, headers=headers,
                         content_type='text/x-%d' % len(name))
    segments = container + '_segments'
    swift.put_container(segments)
    # NOTE: segments under S3's 5 MiB minimum part size: the daemon groups
    # them into fewer remote parts than the SLO has segments.
    parts = [os.urandom(3 * MIB), os.urandom(3 * MIB), os.urandom(1000)]
    for index, data in enumerate(parts):
        swift.put_object(segments, 'slo/%d' % index, data)
    swift.put_object(container, 'slo', json.dumps([
        {'path': '/%s/slo/%d' % (segments, i)} for i in range(len(parts))]),
        query_string='multipart-manifest=put',
        headers={'X-Object-Meta-Kind': 'large'}, content_type='video/mp4')
    objects['slo'] = b''.join(parts)
    # an S3 multipart upload through the cluster's s3api
    s3 = aio.s3api_client()
    mpu = [os.urandom(5 * MIB), os.urandom(1000)]
    upload = s3.create_multipart_upload(
        Bucket=container, Key='mpu', ContentType='application/x-mpu',
        Metadata={'kind': 'mpu'})
    done = []
    for number, data in enumerate(mpu, 1):
        part = s3.upload_part(Bucket=container, Key='mpu', PartNumber=number,
                              UploadId=upload['UploadId'], Body=data)
        done.append({'PartNumber': number, 'ETag': part['ETag']})
    s3.complete_multipart_upload(Bucket=container, Key='mpu',
                                 UploadId=upload['UploadId'],
                                 MultipartUpload={'Parts': done})
    objects['mpu'] = b''.join(mpu)
    return objects


# -----------------------------------------------------------------------------

def _status(call):
    """The HTTP status of a swiftclient call (which raises for >= 300)."""
    try:
        call()
    except swiftclient.ClientException as exc:
        return exc.http_status
    return 200


def swift_object_view(headers):
    return {k: v for k, v in headers.items()
            if k in SWIFT_OBJECT_HEADERS or k.startswith('x-object-meta-')}


def multipart_parts(headers, body):
    """The parts of a multipart/byteranges body, without the boundary."""
    boundary = headers.get('content-type', '').partition('boundary=')[2]
    if not boundary:
        return body
    return body.replace(boundary.encode('ascii'), b'BOUNDARY')


def swift_listings(conn, container):
    seen = {}
    for label, params in (('all', {}), ('delimiter', {'delimiter': '/'}),
                          ('prefix', {'prefix': 'a/b/'}),
                          ('marker', {'marker': 'm', 'limit': 2}),
                          ('reverse', {'query_string': 'reverse=true'})):
        _, listing = conn.get_container(container, **params)
        seen['listing ' + label] = listing
    return seen


def swift_objects(conn, container, objects):
    """What python-swiftclient gets for every object."""
    seen = {}
    for name, data in objects.items():
        headers = conn.head_object(container, name)
        seen['head ' + name] = swift_object_view(headers)
        etag = headers['etag'].strip('"')
        got_headers, body = conn.get_object(container, name)
        assert body == data, name
        seen['get ' + name] = swift_object_view(got_headers)
        last_modified = headers['last-modified']
        before = email.utils.formatdate(
            email.utils.mktime_tz(email.utils.parsedate_tz(last_modified))
            - 3600, usegmt=True)
        for label, extra in (
                ('range', {'Range': 'bytes=1-3'}),
                ('suffix range', {'Range': 'bytes=-5'}),
                ('ranges', {'Range': 'bytes=0-1,5-9,-2'}),
                ('too many ranges', {'Range': TOO_MANY_RANGES}),
                ('if-match', {'If-Match': etag}),
                ('if-match range', {'If-Match': '"%s"' % etag,
                                    'Range': 'bytes=0-9'}),
                ('if-match other', {'If-Match': 'other'}),
                ('if-none-match', {'If-None-Match': etag}),
                ('if-modified-since', {'If-Modified-Since': last_modified}),
                ('if-unmodified-since', {'If-Unmodified-Since': before})):
            try:
                got_headers, body = conn.get_object(container, name,
                                                    headers=extra)
            except swiftclient.ClientException as exc:
                seen['%s %s' % (label, name)] = exc.http_status
                continue
            seen['%s %s' % (label, name)] = (
                got_headers.get('content-range'),
                multipart_parts(got_headers, body))
        for label, query in (('manifest', 'multipart-manifest=get'),
                             ('raw manifest',
                              'multipart-manifest=get&format=raw')):
            got_headers, body = conn.get_object(container, name,
                                                query_string=query)
            seen['%s %s' % (label, name)] = (
                got_headers['etag'], got_headers['content-type'],
                got_headers.get('x-static-large-object'), md5_hex(body))
        seen['head if-none-match ' + name] = _status(
            lambda: conn.head_object(container, name,
                                     headers={'If-None-Match': etag}))
        seen['if-match any missing ' + name] = _status(
            lambda: conn.head_object(container, name + '.missing',
                                     headers={'If-Match': '*'}))
    return seen


def s3_listings(s3, bucket):
    seen = {}
    for label, params in (('v2', {}), ('v2 delimiter', {'Delimiter': '/'}),
                          ('v2 prefix', {'Prefix': 'a/b/'}),
                          ('v2 page', {'MaxKeys': 2})):
        page = s3.list_objects_v2(Bucket=bucket, **params)
        seen['list ' + label] = (
            [(o['Key'], o['Size'], o['ETag'], o['LastModified'])
             for o in page.get('Contents', [])],
            [p['Prefix'] for p in page.get('CommonPrefixes', [])],
            page['IsTruncated'])
    page = s3.list_objects(Bucket=bucket)
    seen['list v1'] = [(o['Key'], o['Size'], o['ETag'], o['LastModified'])
                       for o in page.get('Contents', [])]
    return seen


def _s3_error(call):
    from botocore import exceptions as boto_exceptions
    try:
        resp = call()
    except boto_exceptions.ClientError as exc:
        return int(exc.response['ResponseMetadata']['HTTPStatusCode'])
    return resp


def s3_objects(s3, bucket, objects, work_dir):
    """What boto3 gets for every object, through s3api."""
    from boto3.s3 import transfer
    seen = {}
    for name, data in objects.items():
        head = s3.head_object(Bucket=bucket, Key=name)
        etag = head['ETag']
        seen['head ' + name] = {k: head.get(k) for k in (
            'ETag', 'ContentLength', 'ContentType', 'Metadata',
            'LastModified', 'AcceptRanges')}
        got = s3.get_object(Bucket=bucket, Key=name)
        assert got['Body'].read() == data, name
        seen['get ' + name] = {k: got.get(k) for k in (
            'ETag', 'ContentLength', 'ContentType', 'Metadata',
            'LastModified')}
        for label, extra in (
                ('range', {'Range': 'bytes=1-3'}),
                ('if-match range', {'Range': 'bytes=0-9', 'IfMatch': etag}),
                ('if-match', {'IfMatch': etag}),
                ('if-none-match', {'IfNoneMatch': etag}),
                ('if-match other', {'IfMatch': '"other"'}),
                ('if-modified-since', {
                    'IfModifiedSince': head['LastModified']})):
            got = _s3_error(lambda: s3.get_object(Bucket=bucket, Key=name,
                                                  **extra))
            if isinstance(got, dict):
                got = (got.get('ContentRange'), got['ETag'],
                       md5_hex(got['Body'].read()))
            seen['%s %s' % (label, name)] = got
        path = os.path.join(work_dir, 'download')
        s3.download_file(bucket, name, path, Config=transfer.TransferConfig(
            multipart_threshold=MIB, multipart_chunksize=MIB,
            max_concurrency=4))
        with open(path, 'rb') as f:
            assert f.read() == data, name
        os.unlink(path)
        seen['download ' + name] = 'same bytes'
    return seen


def capture(swift, s3, container, objects, work_dir):
    seen = {'swift listings': swift_listings(swift, container),
            'swift objects': swift_objects(swift, container, objects),
            's3 listings': s3_listings(s3, container),
            's3 objects': s3_objects(s3, container, objects, work_dir)}
    return seen


@pytest.fixture(scope='module')
def env(aio):
    """The views before archiving, and the endpoints that serve after."""
    work_dir = tempfile.mkdtemp(prefix='real-clients-')
    bucket = unique_name('real')
    container = unique_name('clients')
    aio.s3_client().create_bucket(Bucket=bucket)
    conf = os.path.join(work_dir, 'cloudsync.conf')
    test_shunt.write_conf(aio, conf, {'archive': {
        'container': container, 'bucket': bucket, 'lifecycle': 'archive',
        'copy_after': 0, 'archive_as': 'delete'}})
    swift = aio.swift_client()
    objects = make_objects(aio, swift, container)
    before = capture(swift, aio.s3api_client(), container, objects,
                     work_dir)
    test_shunt.run_daemon(aio, conf, work_dir)
    server = None
    try:
        shunt_url = aio.start_proxy('realclients', [('cloud_shunt', {
            'use': 'egg:swift-cloudsync#cloud_shunt', 'conf_file': conf})])
        server = test_proxymc.ProxyMCServer(work_dir, conf)
        server.start()
        url, token = swift.get_auth()
        account_path = urllib.parse.urlparse(url).path
        clients = {
            'shunt': (
                swiftclient.Connection(
                    preauthurl=shunt_url + account_path, preauthtoken=token,
                    retries=1, timeout=60),
                aio._boto3_client(shunt_url, USER, KEY)),
            'proxymc': (server.client(USER, KEY),
                        aio._boto3_client(server.url, USER, KEY)),
        }
        yield {'aio': aio, 'container': container, 'objects': objects,
               'before': before, 'clients': clients, 'work_dir': work_dir,
               'plain': swift, 'bucket': bucket}
    finally:
        if server is not None:
            server.stop()
        aio.stop_proxy('realclients')
        if not os.environ.get('CLOUDSYNC_AIO_KEEP'):
            shutil.rmtree(work_dir, ignore_errors=True)


# -----------------------------------------------------------------------------

#: objects whose remote copy is a multipart upload
MULTIPART = ('slo', 'mpu')


def compare_swift_listing(want, got):
    """A container listing after archiving, from the one before.

    By design (doc/source/proxymc.rst and shunt.rst): the entries are
    what the bucket's listing tells, which keeps no content type and no
    Swift ETag of a multipart copy: ``content_type`` is
    ``application/octet-stream``, ``hash`` the remote's ETag (the same MD5
    for a plain object, ``<hex>-<parts>`` for a multipart copy) and
    ``last_modified`` when the remote stored the copy; the shunt adds the
    remote's ``content_location``. Names, order, sizes and subdirs are
    Swift's.
    """
    assert [e.get('name', e.get('subdir')) for e in got] == \
        [e.get('name', e.get('subdir')) for e in want]
    for mine, theirs in zip(got, want):
        if 'subdir' in theirs:
            mine.pop('content_location', None)
            assert mine == theirs
            continue
        assert mine['content_type'] == 'application/octet-stream'
        assert mine['bytes'] == theirs['bytes']
        if theirs['name'] in MULTIPART:
            assert mine['hash'].rsplit('-', 1)[1].isdigit(), mine
        else:
            assert mine['hash'] == theirs['hash']
        assert set(mine) - set(theirs) <= {'content_location'}


def compare_s3_listing(want, got):
    """An S3 listing after archiving, from the one before.

    By design, as for Swift listings: the ETag of a multipart copy is the
    remote's (``"<hex>-<parts>"``, where s3api showed ``"<swift etag>-N"``
    or its own upload's ETag) and LastModified when the remote stored
    the copy.
    """
    def strip(entries):
        return [(key, size, None if key in MULTIPART else etag)
                for key, size, etag, _when in entries]
    if isinstance(want, tuple):
        assert (strip(got[0]),) + got[1:] == (strip(want[0]),) + want[1:]
    else:
        assert strip(got) == strip(want)


# -----------------------------------------------------------------------------

def test_the_objects_are_archived(env):
    for name in env['objects']:
        with pytest.raises(swiftclient.ClientException) as gone:
            env['plain'].head_object(env['container'], name)
        assert gone.value.http_status == 404


@pytest.mark.parametrize('endpoint', ENDPOINTS)
def test_swift_objects_read_back_as_before(env, endpoint):
    swift, _ = env['clients'][endpoint]
    got = swift_objects(swift, env['container'], env['objects'])
    want = env['before']['swift objects']
    assert sorted(got) == sorted(want)
    for key in sorted(want):
        assert got[key] == want[key], key


@pytest.mark.parametrize('endpoint', ENDPOINTS)
def test_swift_listings_read_back_as_before(env, endpoint):
    swift, _ = env['clients'][endpoint]
    got = swift_listings(swift, env['container'])
    for key, want in env['before']['swift listings'].items():
        compare_swift_listing(want, got[key])


@pytest.mark.parametrize('endpoint', ENDPOINTS)
def test_s3_objects_read_back_as_before(env, endpoint):
    _, s3 = env['clients'][endpoint]
    got = s3_objects(s3, env['container'], env['objects'], env['work_dir'])
    want = env['before']['s3 objects']
    assert sorted(got) == sorted(want)
    for key in sorted(want):
        assert got[key] == want[key], key


@pytest.mark.parametrize('endpoint', [
    'shunt', 'proxymc'])
def test_s3_listings_read_back_as_before(env, endpoint):
    _, s3 = env['clients'][endpoint]
    got = s3_listings(s3, env['container'])
    for key, want in env['before']['s3 listings'].items():
        compare_s3_listing(want, got[key])
