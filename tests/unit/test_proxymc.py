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
"""proxymc: the Swift API served from a remote bucket (in-memory remote)."""

import email.utils
import hashlib
import io
import json
import logging
import os
import textwrap
import time

import pytest
from swift.common.middleware import listing_formats
from swift.common.middleware import tempauth
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync.cmd import proxymc as cmd_proxymc
from cloudsync import conf as cs_conf
from cloudsync import exceptions
from cloudsync import layout as layout_mod
from cloudsync import metadata as md
from cloudsync.proxymc import app as proxymc
from tests.unit import fakes

ACCOUNT = 'AUTH_test'
BUCKET = 'bucket'
OWNER = 'test,test:tester,AUTH_test'
READER = 'test,test:reader'
OTHER = 'test2,test2:tester2,AUTH_test2'


def md5_hex(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class Recorder:
    """tempauth's real authorize, recording what it was asked.

    tempauth reads the account's ACLs with a HEAD through the app it
    wraps, as it does in a pipeline.
    """

    def __init__(self, app=None):
        self.auth = tempauth.filter_factory({})(app)
        self.calls = []

    def __call__(self, req):
        self.calls.append((req.method, req.path, getattr(req, 'acl', None)))
        return self.auth.authorize(req)


@pytest.fixture
def remote():
    provider = fakes.FakeProvider()
    provider.MIN_PART_SIZE = 5
    provider.buckets[BUCKET] = {}
    return provider


def write_conf(tmp_path, mappings):
    text = textwrap.dedent('''
        [remote:cloud]
        provider = s3
        endpoint = http://127.0.0.1:1
        access_key = k
        secret_key = s
    ''')
    for name, options in mappings.items():
        text += '\n[mapping:%s]\nremote = cloud\nbucket = %s\n' % (
            name, BUCKET)
        for key, value in options.items():
            text += '%s = %s\n' % (key, value)
    path = tmp_path / 'cloudsync.conf'
    path.write_text(text)
    return str(path)


DEFAULT_MAPPINGS = {
    'photos': {'account': ACCOUNT, 'container': 'photos'},
    'docs': {'account': ACCOUNT, 'container': 'docs',
             'read_acl': 'test:reader', 'write_acl': 'test:writer'},
}


@pytest.fixture
def make_app(tmp_path, remote):
    def make(mappings=None, **app_conf):
        path = write_conf(tmp_path, mappings or DEFAULT_MAPPINGS)
        app_conf.setdefault('spool_dir', str(tmp_path))
        app = proxymc.ProxyMC(app_conf, config=cs_conf.load_file(path),
                              logger=swift_utils.get_logger(
                                  {}, log_route='test'))
        app.provider_for = lambda mapping: remote
        return app
    return make


@pytest.fixture
def app(make_app):
    return make_app()


def call(app, path, method='GET', user=OWNER, headers=None, body=None,
         auth=True, environ=None):
    env = {'REQUEST_METHOD': method}
    if auth:
        recorder = auth if isinstance(auth, Recorder) else Recorder(app)
        env['swift.authorize'] = recorder
        if user:
            env['REMOTE_USER'] = user
    env.update(environ or {})
    req = swob.Request.blank(path, environ=env, headers=headers or {},
                             body=body)
    # NOTE: as in a pipeline: listing_formats formats the JSON listings
    return req.get_response(listing_formats.ListingFilter(app, {}))


def key(name, container='photos'):
    return layout_mod.RemoteLayout(ACCOUNT, container).object_key(name)


def daemon_put(remote, name, data, container='photos', headers=None,
               content_type='text/plain', timestamp='1700000000.12345'):
    """Store an object the way the sync daemon does."""
    meta = md.swift_to_remote(headers or {})
    meta[md.TIMESTAMP_KEY] = timestamp
    remote.put_raw(BUCKET, key(name, container), data,
                   content_type=content_type, metadata=meta)


# -- containers ---------------------------------------------------------------

def test_container_listing_shows_objects_in_the_daemon_layout(app, remote):
    daemon_put(remote, 'a.txt', b'aaa')
    daemon_put(remote, 'b/c.txt', b'bb')
    remote.put_raw(BUCKET, layout_mod.RemoteLayout(
        ACCOUNT, 'photos').manifest_key('b/c.txt'), b'[]')
    daemon_put(remote, 'other', b'x', container='docs')

    resp = call(app, '/v1/AUTH_test/photos?format=json')

    assert resp.status_int == 200
    assert resp.content_type == 'application/json'
    listing = json.loads(resp.body)
    assert [e['name'] for e in listing] == ['a.txt', 'b/c.txt']
    assert listing[0]['hash'] == md5_hex(b'aaa')
    assert listing[0]['bytes'] == 3
    assert listing[0]['content_type'] == 'application/octet-stream'
    assert set(listing[0]) == {'name', 'hash', 'bytes', 'content_type',
                               'last_modified'}


@pytest.fixture
def names(remote):
    all_names = ['a', 'b/1', 'b/2', 'c', 'c/1', 'd', 'é']
    for name in all_names:
        daemon_put(remote, name, b'x')
    return all_names


@pytest.mark.parametrize('query,expected', [
    ('', ['a', 'b/1', 'b/2', 'c', 'c/1', 'd', 'é']),
    ('prefix=b/', ['b/1', 'b/2']),
    ('delimiter=/', ['a', 'b/', 'c', 'c/', 'd', 'é']),
    ('delimiter=/&marker=b/', ['c', 'c/', 'd', 'é']),
    ('marker=b/1&end_marker=c/1', ['b/2', 'c']),
    ('limit=2', ['a', 'b/1']),
    ('limit=0', []),
    ('reverse=true', ['é', 'd', 'c/1', 'c', 'b/2', 'b/1', 'a']),
    ('reverse=true&marker=c&end_marker=a', ['b/2', 'b/1']),
    ('reverse=true&limit=2&delimiter=/', ['é', 'd']),
    ('path=b', ['b/1', 'b/2']),
    ('path=', ['a', 'c', 'd', 'é']),
])
def test_container_listing_parameters_behave_as_in_swift(app, names, query,
                                                         expected):
    resp = call(app, '/v1/AUTH_test/photos?format=json&' + query)

    assert resp.status_int == 200
    got = [e.get('name', e.get('subdir')) for e in json.loads(resp.body)]
    assert got == expected


def test_container_listing_in_plain_text_and_xml(app, names):
    plain = call(app, '/v1/AUTH_test/photos?delimiter=/')
    xml = call(app, '/v1/AUTH_test/photos?format=xml&prefix=b')

    assert plain.content_type == 'text/plain'
    assert plain.body.decode('utf-8') == 'a\nb/\nc\nc/\nd\né\n'
    assert xml.content_type == 'application/xml'
    assert xml.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert b'<container name="photos"><object><name>b/1</name>' in xml.body


def test_the_app_answers_listings_in_json_as_swifts_proxy_app_does(
        app, names):
    # what s3api, behind listing_formats, gets for its listings
    req = swob.Request.blank('/v1/AUTH_test/photos?prefix=b/', environ={
        'swift.authorize': Recorder(app), 'REMOTE_USER': OWNER})

    resp = req.get_response(app)

    assert resp.content_type == 'application/json'
    assert [e['name'] for e in json.loads(resp.body)] == ['b/1', 'b/2']


def test_empty_plain_listing_is_204_and_json_is_an_empty_list(app):
    assert call(app, '/v1/AUTH_test/photos').status_int == 204
    resp = call(app, '/v1/AUTH_test/photos?format=json')
    assert (resp.status_int, resp.body) == (200, b'[]')


@pytest.mark.parametrize('query,status', [
    ('limit=10001', 412), ('delimiter=ab', 412), ('marker=%FF', 400)])
def test_invalid_listing_parameters_are_refused(app, query, status):
    assert call(app, '/v1/AUTH_test/photos?' + query).status_int == status


def test_container_head_counts_objects_only_when_asked(make_app, remote):
    daemon_put(remote, 'a', b'12345')
    daemon_put(remote, 'b', b'1')

    cheap = call(make_app(), '/v1/AUTH_test/photos', 'HEAD')
    counted = call(make_app(count_objects='true'), '/v1/AUTH_test/photos',
                   'HEAD')

    assert cheap.status_int == 204
    assert 'X-Container-Object-Count' not in cheap.headers
    assert counted.headers['X-Container-Object-Count'] == '2'
    assert counted.headers['X-Container-Bytes-Used'] == '6'


def test_unmapped_containers_and_accounts_are_not_found(app):
    assert call(app, '/v1/AUTH_test/unmapped').status_int == 404
    assert call(app, '/v1/AUTH_test/unmapped/obj').status_int == 404
    assert call(app, '/v1/AUTH_test/unmapped', 'PUT').status_int == 403
    assert call(app, '/v1/AUTH_test2', user=OTHER).status_int == 404


def test_container_put_of_a_mapped_container_says_it_exists(app):
    assert call(app, '/v1/AUTH_test/photos', 'PUT').status_int == 202


def test_container_delete_only_of_an_empty_container(app, remote):
    assert call(app, '/v1/AUTH_test/photos', 'DELETE').status_int == 204
    daemon_put(remote, 'a', b'1')
    assert call(app, '/v1/AUTH_test/photos', 'DELETE').status_int == 409
    assert call(app, '/v1/AUTH_test/photos', 'POST').status_int == 405


def test_s3api_segments_container_is_mapped_with_its_container(app, remote):
    resp = call(app, '/v1/AUTH_test/photos+segments/k/upload', 'PUT',
                body=b'')

    assert resp.status_int == 201
    assert key('k/upload', 'photos+segments') in remote.objects(BUCKET)


# -- accounts -----------------------------------------------------------------

def test_account_listing_shows_the_mapped_containers(app):
    resp = call(app, '/v1/AUTH_test?format=json')

    assert resp.status_int == 200
    assert [e['name'] for e in json.loads(resp.body)] == ['docs', 'photos']
    assert resp.headers['X-Account-Container-Count'] == '2'
    assert call(app, '/v1/AUTH_test', 'HEAD').status_int == 204


def test_wildcard_mapping_lists_containers_found_in_the_bucket(make_app,
                                                               remote):
    app = make_app({'all': {'account': ACCOUNT, 'container': '*'},
                    'other': {'account': 'AUTH_x', 'container': '*'}})
    daemon_put(remote, 'o', b'1', container='alpha')
    daemon_put(remote, 'o', b'1', container='beta')
    remote.put_raw(BUCKET, layout_mod.RemoteLayout(
        'AUTH_x', 'gamma').object_key('o'), b'1')

    resp = call(app, '/v1/AUTH_test?format=json')

    assert [e['name'] for e in json.loads(resp.body)] == ['alpha', 'beta']
    # every container of the account is mapped, so it exists
    assert call(app, '/v1/AUTH_test/new', 'HEAD').status_int == 204


def test_wildcard_mapping_with_a_prefix_layout(make_app, remote):
    app = make_app({'all': {'account': ACCOUNT, 'container': '*',
                            'layout': 'prefix',
                            'key_prefix': 'data/{container}'}})
    remote.put_raw(BUCKET, 'data/one/x', b'1')
    remote.put_raw(BUCKET, 'data/two/y/z', b'1')

    resp = call(app, '/v1/AUTH_test?format=json')
    listing = call(app, '/v1/AUTH_test/two?format=json')

    assert [e['name'] for e in json.loads(resp.body)] == ['one', 'two']
    assert [e['name'] for e in json.loads(listing.body)] == ['y/z']


# -- object reads -------------------------------------------------------------

def test_object_written_by_the_daemon_comes_back_with_its_swift_headers(
        app, remote):
    daemon_put(remote, 'a.txt', b'hello', headers={
        'X-Object-Meta-Color': 'blue', 'X-Object-Meta-Name': 'unicodé'},
        timestamp='1700000000.12345')

    resp = call(app, '/v1/AUTH_test/photos/a.txt')

    assert resp.status_int == 200
    assert resp.body == b'hello'
    assert resp.headers['Etag'] == md5_hex(b'hello')
    assert resp.headers['Content-Type'] == 'text/plain'
    assert resp.headers['Content-Length'] == '5'
    assert resp.headers['X-Object-Meta-Color'] == 'blue'
    assert swob.wsgi_to_str(resp.headers['X-Object-Meta-Name']) == 'unicodé'
    assert resp.headers['X-Timestamp'] == '1700000000.12345'
    assert resp.headers['Last-Modified'] == email.utils.formatdate(
        1700000001, usegmt=True)
    assert not any(k.lower().startswith('x-object-meta-cloudsync')
                   for k in resp.headers)


def test_a_dlo_kept_as_a_dlo_by_the_remote_shows_the_local_manifest(
        make_app):
    remote = fakes.FakeDLOProvider()
    remote.buckets[BUCKET] = {}
    app = make_app()
    app.provider_for = lambda mapping: remote
    prefix = layout_mod.RemoteLayout(ACCOUNT, 'photos').dlo_key(
        'photos_segments', 'movie/')
    for number in range(2):
        remote.put_raw(remote.segments_bucket(BUCKET),
                       '%s%03d' % (prefix, number), b'part')
    remote.put_raw(BUCKET, key('movie'), b'', metadata={
        md.TIMESTAMP_KEY: '1700000000.12345',
        md.DLO_SOURCE_KEY: 'photos_segments/movie/'})
    remote.buckets[BUCKET][key('movie')].dlo_manifest = \
        remote.dlo_manifest(BUCKET, prefix)

    resp = call(app, '/v1/AUTH_test/photos/movie')
    head = call(app, '/v1/AUTH_test/photos/movie', 'HEAD')

    assert resp.status_int == 200
    assert resp.body == b'partpart'
    assert resp.headers['X-Object-Manifest'] == 'photos_segments/movie/'
    assert head.headers['X-Object-Manifest'] == 'photos_segments/movie/'


def test_head_answers_headers_without_reading_the_object(app, remote):
    daemon_put(remote, 'a', b'hello')
    remote.reset_calls()

    resp = call(app, '/v1/AUTH_test/photos/a', 'HEAD')

    assert resp.status_int == 200
    assert resp.headers['Content-Length'] == '5'
    assert remote.count('get_object') == 0


def test_large_object_written_by_the_daemon_reads_back_as_an_slo(app,
                                                                 remote):
    seg_etags = [md5_hex(b'aaaaa'), md5_hex(b'bb')]
    slo_etag = md5_hex(''.join(seg_etags).encode('ascii'))
    manifest = [{'name': '/segs/1', 'hash': seg_etags[0], 'bytes': 5},
                {'name': '/segs/2', 'hash': seg_etags[1], 'bytes': 2}]
    meta = md.swift_to_remote({'X-Static-Large-Object': 'True',
                               'X-Object-Meta-K': 'v'})
    meta.update({md.SLO_ETAG_KEY: slo_etag, md.TIMESTAMP_KEY: '1700000000'})
    remote.put_raw(BUCKET, key('big'), b'aaaaabb', metadata=meta,
                   etag='%s-2' % md5_hex(b'x'))
    remote.put_raw(BUCKET, layout_mod.RemoteLayout(
        ACCOUNT, 'photos').manifest_key('big'),
        json.dumps(manifest).encode('ascii'))

    resp = call(app, '/v1/AUTH_test/photos/big')
    raw = call(app, '/v1/AUTH_test/photos/big?multipart-manifest=get')

    assert resp.body == b'aaaaabb'
    assert resp.headers['X-Static-Large-Object'] == 'True'
    assert resp.headers['Etag'] == '"%s"' % slo_etag
    assert json.loads(raw.body) == manifest
    assert raw.headers['X-Static-Large-Object'] == 'True'


def test_single_and_multiple_ranges(app, remote):
    daemon_put(remote, 'a', b'0123456789')

    one = call(app, '/v1/AUTH_test/photos/a', headers={'Range': 'bytes=2-4'})
    last = call(app, '/v1/AUTH_test/photos/a', headers={'Range': 'bytes=-3'})
    two = call(app, '/v1/AUTH_test/photos/a',
               headers={'Range': 'bytes=0-1,8-9'})
    bad = call(app, '/v1/AUTH_test/photos/a',
               headers={'Range': 'bytes=20-30'})

    assert (one.status_int, one.body) == (206, b'234')
    assert one.headers['Content-Range'] == 'bytes 2-4/10'
    assert (last.status_int, last.body) == (206, b'789')
    assert two.status_int == 206
    assert two.content_type == 'multipart/byteranges'
    assert b'Content-Range: bytes 0-1/10\r\n\r\n01' in two.body
    assert b'Content-Range: bytes 8-9/10\r\n\r\n89' in two.body
    assert bad.status_int == 416


def test_conditional_requests_are_answered_without_reading_the_body(
        app, remote):
    daemon_put(remote, 'a', b'hello', timestamp='1700000000.00000')
    etag = md5_hex(b'hello')
    later = email.utils.formatdate(1700000100, usegmt=True)
    earlier = email.utils.formatdate(1600000000, usegmt=True)
    remote.reset_calls()

    cases = [({'If-None-Match': '"%s"' % etag}, 304),
             ({'If-Match': '"nope"'}, 412),
             ({'If-Modified-Since': later}, 304),
             ({'If-Unmodified-Since': earlier}, 412)]
    got = [call(app, '/v1/AUTH_test/photos/a', headers=h).status_int
           for h, _ in cases]

    assert got == [status for _, status in cases]
    assert remote.count('get_object') == 0
    match = call(app, '/v1/AUTH_test/photos/a',
                 headers={'If-Match': etag})
    assert (match.status_int, match.body) == (200, b'hello')


def test_missing_and_expired_objects_are_not_found(app, remote):
    remote.put_raw(BUCKET, key('old'), b'x', metadata={
        md.DELETE_AT_KEY: '1000'})
    assert call(app, '/v1/AUTH_test/photos/none').status_int == 404
    assert call(app, '/v1/AUTH_test/photos/old').status_int == 404
    assert call(app, '/v1/AUTH_test/photos/old', 'HEAD').status_int == 404


# -- object writes ------------------------------------------------------------

def test_put_writes_the_daemon_layout(app, remote):
    resp = call(app, '/v1/AUTH_test/photos/new.txt', 'PUT', body=b'data',
                headers={'Content-Type': 'text/x-thing',
                         'X-Object-Meta-Color': 'Blue',
                         'ETag': md5_hex(b'data')})

    assert resp.status_int == 201
    assert resp.headers['Etag'] == md5_hex(b'data')
    stored = remote.objects(BUCKET)[key('new.txt')]
    assert stored.data == b'data'
    assert stored.content_type == 'text/x-thing'
    assert md.remote_to_swift(stored.metadata) == {
        'X-Object-Meta-Color': 'Blue'}
    ts = md.internal_values(stored.metadata)[md.TIMESTAMP_KEY]
    assert swift_utils.Timestamp(ts) > swift_utils.Timestamp(1700000000)
    back = call(app, '/v1/AUTH_test/photos/new.txt')
    assert back.headers['X-Timestamp'] == swift_utils.Timestamp(ts).normal


def test_put_with_a_wrong_etag_is_refused_and_stores_nothing(app, remote):
    resp = call(app, '/v1/AUTH_test/photos/x', 'PUT', body=b'data',
                headers={'ETag': md5_hex(b'other')})

    assert resp.status_int == 422
    assert key('x') not in remote.objects(BUCKET)


def _chunked(data):
    env = {'wsgi.input': io.BytesIO(data),
           'HTTP_TRANSFER_ENCODING': 'chunked'}
    return env


def test_chunked_put_of_unknown_length_is_spooled(make_app, remote):
    app = make_app(part_size='5')
    data = b'0123456789ab'

    resp = call(app, '/v1/AUTH_test/photos/c', 'PUT', environ=_chunked(data),
                headers={'Content-Type': 'a/b'})

    assert resp.status_int == 201
    assert resp.headers['Etag'] == md5_hex(data)
    stored = remote.objects(BUCKET)[key('c')]
    assert stored.data == data
    assert stored.etag.endswith('-3')
    got = call(app, '/v1/AUTH_test/photos/c')
    assert got.headers['Etag'] == md5_hex(data)


def test_small_chunked_put_is_one_object(make_app, remote):
    resp = call(make_app(), '/v1/AUTH_test/photos/c', 'PUT',
                environ=_chunked(b'abc'))

    assert resp.status_int == 201
    assert remote.objects(BUCKET)[key('c')].etag == md5_hex(b'abc')


def test_put_of_a_dlo_manifest_is_refused(app):
    resp = call(app, '/v1/AUTH_test/photos/d', 'PUT', body=b'',
                headers={'X-Object-Manifest': 'photos/seg'})
    assert resp.status_int == 400


def test_post_replaces_user_metadata_and_keeps_the_rest(app, remote):
    meta = md.swift_to_remote({'X-Object-Meta-Old': '1',
                               'X-Static-Large-Object': 'True'})
    meta.update({md.SLO_ETAG_KEY: 'abc', md.TIMESTAMP_KEY: '1.00000'})
    remote.put_raw(BUCKET, key('a'), b'x', metadata=meta,
                   content_type='text/plain')

    resp = call(app, '/v1/AUTH_test/photos/a', 'POST',
                headers={'X-Object-Meta-New': '2'})

    assert resp.status_int == 202
    stored = remote.objects(BUCKET)[key('a')]
    assert md.remote_to_swift(stored.metadata) == {
        'X-Object-Meta-New': '2', 'X-Static-Large-Object': 'True'}
    assert stored.metadata[md.SLO_ETAG_KEY] == 'abc'
    assert stored.content_type == 'text/plain'
    assert call(app, '/v1/AUTH_test/photos/nope', 'POST').status_int == 404


def test_post_without_an_expiry_removes_it_as_swift_would(app, remote):
    when = str(int(time.time()) + 3600)
    assert call(app, '/v1/AUTH_test/photos/a', 'PUT', body=b'x', headers={
        'X-Delete-At': when}).status_int == 201
    assert call(app, '/v1/AUTH_test/photos/a',
                'HEAD').headers['X-Delete-At'] == when

    resp = call(app, '/v1/AUTH_test/photos/a', 'POST',
                headers={'X-Object-Meta-New': '2'})

    assert resp.status_int == 202
    assert 'X-Delete-At' not in call(app, '/v1/AUTH_test/photos/a',
                                     'HEAD').headers
    assert md.DELETE_AT_KEY not in remote.objects(BUCKET)[key('a')].metadata


def test_post_with_x_delete_after_sets_the_expiry(app, remote):
    daemon_put(remote, 'a', b'x')
    now = int(time.time())

    resp = call(app, '/v1/AUTH_test/photos/a', 'POST',
                headers={'X-Delete-After': '3600'})

    assert resp.status_int == 202
    when = int(call(app, '/v1/AUTH_test/photos/a',
                    'HEAD').headers['X-Delete-At'])
    assert now + 3600 <= when <= int(time.time()) + 3600
    # NOTE: the fake remote, as S3, has no per-object expiry
    assert remote.objects(BUCKET)[key('a')].expires_at is None


@pytest.fixture
def expiring(make_app):
    """An app in front of a remote with per-object expiry (Swift)."""
    provider = fakes.ExpiringProvider()
    provider.buckets[BUCKET] = {}
    app = make_app()
    app.provider_for = lambda mapping: provider
    return app, provider


def test_put_and_post_set_the_remote_expiry_where_it_has_one(expiring):
    app, provider = expiring
    when = int(time.time()) + 3600

    assert call(app, '/v1/AUTH_test/photos/a', 'PUT', body=b'x', headers={
        'X-Delete-At': str(when)}).status_int == 201
    assert provider.objects(BUCKET)[key('a')].expires_at == when

    assert call(app, '/v1/AUTH_test/photos/a', 'POST', headers={
        'X-Delete-At': str(when + 10)}).status_int == 202
    assert provider.objects(BUCKET)[key('a')].expires_at == when + 10

    assert call(app, '/v1/AUTH_test/photos/a', 'POST', headers={
        'X-Object-Meta-Color': 'red'}).status_int == 202
    assert provider.objects(BUCKET)[key('a')].expires_at is None
    assert 'X-Delete-At' not in call(app, '/v1/AUTH_test/photos/a',
                                     'HEAD').headers


def test_delete_removes_the_object_and_its_manifest(app, remote):
    layout = layout_mod.RemoteLayout(ACCOUNT, 'photos')
    remote.put_raw(BUCKET, key('big'), b'x', metadata={
        md.SLO_KEY: 'True'})
    remote.put_raw(BUCKET, layout.manifest_key('big'), b'[]')

    resp = call(app, '/v1/AUTH_test/photos/big', 'DELETE')

    assert resp.status_int == 204
    assert remote.objects(BUCKET) == {}
    assert call(app, '/v1/AUTH_test/photos/big', 'DELETE').status_int == 404


def _put_segments(app, container='photos'):
    etags = []
    for i, data in enumerate([b'aaaaa', b'bbbbb', b'cc']):
        resp = call(app, '/v1/AUTH_test/%s/seg/%d' % (container, i), 'PUT',
                    body=data)
        assert resp.status_int == 201
        etags.append(md5_hex(data))
    return etags


def test_slo_manifest_put_stores_a_multipart_object_like_the_daemon(
        app, remote):
    etags = _put_segments(app)
    manifest = [{'path': '/photos/seg/%d' % i, 'etag': e}
                for i, e in enumerate(etags)]

    resp = call(app, '/v1/AUTH_test/photos/big?multipart-manifest=put',
                'PUT', body=json.dumps(manifest).encode('ascii'),
                headers={'X-Object-Meta-K': 'v'})

    slo_etag = md5_hex(''.join(etags).encode('ascii'))
    assert resp.status_int == 201
    assert resp.headers['Etag'] == '"%s"' % slo_etag
    stored = remote.objects(BUCKET)[key('big')]
    assert stored.data == b'aaaaabbbbbcc'
    assert stored.etag.endswith('-3')
    assert md.internal_values(stored.metadata)[md.SLO_ETAG_KEY] == slo_etag
    side = json.loads(remote.objects(BUCKET)[layout_mod.RemoteLayout(
        ACCOUNT, 'photos').manifest_key('big')].data)
    assert [(s['name'], s['hash'], s['bytes']) for s in side] == [
        ('/photos/seg/0', etags[0], 5), ('/photos/seg/1', etags[1], 5),
        ('/photos/seg/2', etags[2], 2)]
    got = call(app, '/v1/AUTH_test/photos/big')
    assert got.body == b'aaaaabbbbbcc'
    assert got.headers['X-Static-Large-Object'] == 'True'
    assert got.headers['Etag'] == '"%s"' % slo_etag
    assert got.headers['X-Object-Meta-K'] == 'v'
    # Swift clients' segments stay, as in Swift
    assert key('seg/0') in remote.objects(BUCKET)


def test_slo_manifest_put_reports_bad_segments_as_swift_does(app):
    etags = _put_segments(app)
    manifest = [{'path': '/photos/seg/0', 'etag': etags[1]},
                {'path': '/photos/missing'},
                {'path': '/photos/seg/2', 'size_bytes': 99}]

    resp = call(app, '/v1/AUTH_test/photos/big?multipart-manifest=put',
                'PUT', body=json.dumps(manifest).encode('ascii'))

    assert resp.status_int == 400
    assert b'/photos/seg/0, Etag Mismatch' in resp.body
    assert b'/photos/missing, 404 Not Found' in resp.body
    assert b'/photos/seg/2, Size Mismatch' in resp.body


def test_s3api_upload_completion_heartbeats_and_removes_its_parts(app,
                                                                  remote):
    etags = _put_segments(app, 'photos+segments')
    manifest = [{'path': '/photos+segments/seg/%d' % i, 'etag': e}
                for i, e in enumerate(etags)]

    resp = call(app, '/v1/AUTH_test/photos/up?multipart-manifest=put&'
                'heartbeat=on', 'PUT',
                body=json.dumps(manifest).encode('ascii'))

    assert resp.status_int == 202
    result = json.loads(resp.body)
    assert result['Response Status'] == '201 Created'
    assert remote.objects(BUCKET)[key('up')].data == b'aaaaabbbbbcc'
    assert not any('photos+segments' in k for k in remote.objects(BUCKET))


def test_multipart_manifest_delete_removes_the_segments(app, remote):
    etags = _put_segments(app)
    manifest = [{'path': '/photos/seg/%d' % i, 'etag': e}
                for i, e in enumerate(etags)]
    call(app, '/v1/AUTH_test/photos/big?multipart-manifest=put', 'PUT',
         body=json.dumps(manifest).encode('ascii'))

    resp = call(app, '/v1/AUTH_test/photos/big?multipart-manifest=delete',
                'DELETE', headers={'Accept': 'application/json'})

    assert resp.status_int == 200
    assert json.loads(resp.body)['Number Deleted'] == 4
    assert remote.objects(BUCKET) == {}


# -- authorization ------------------------------------------------------------

def test_requests_without_a_token_are_unauthorized(app, remote):
    daemon_put(remote, 'a', b'x')
    for path in ('/v1/AUTH_test', '/v1/AUTH_test/photos',
                 '/v1/AUTH_test/photos/a'):
        assert call(app, path, user=None).status_int == 401


def test_other_accounts_users_are_forbidden(app, remote):
    daemon_put(remote, 'a', b'x')
    assert call(app, '/v1/AUTH_test/photos/a', user=OTHER).status_int == 403
    assert call(app, '/v1/AUTH_test/photos', user=OTHER).status_int == 403
    assert call(app, '/v1/AUTH_test/photos/b', 'PUT', user=OTHER,
                body=b'x').status_int == 403
    assert key('b') not in remote.objects(BUCKET)


def test_non_owners_get_only_what_the_mapping_acls_grant(app, remote):
    daemon_put(remote, 'a', b'x', container='docs')
    daemon_put(remote, 'a', b'x')
    writer = 'test,test:writer'

    assert call(app, '/v1/AUTH_test/docs/a', user=READER).status_int == 200
    assert call(app, '/v1/AUTH_test/docs', user=READER).status_int == 200
    assert call(app, '/v1/AUTH_test/docs/b', 'PUT', user=READER,
                body=b'x').status_int == 403
    assert call(app, '/v1/AUTH_test/docs/b', 'PUT', user=writer,
                body=b'x').status_int == 201
    # no ACL on photos: only the owners
    assert call(app, '/v1/AUTH_test/photos/a', user=READER).status_int == 403


def test_authorize_is_asked_with_the_containers_acl(app, remote):
    daemon_put(remote, 'a', b'x', container='docs')
    recorder = Recorder(app)

    call(app, '/v1/AUTH_test/docs/a', auth=recorder, user=READER)
    call(app, '/v1/AUTH_test/docs/a', 'DELETE', auth=recorder, user=READER)

    assert recorder.calls == [
        ('GET', '/v1/AUTH_test/docs/a', 'test:reader'),
        ('DELETE', '/v1/AUTH_test/docs/a', 'test:writer')]


def test_owners_see_the_acls_others_do_not(app):
    owner = call(app, '/v1/AUTH_test/docs', 'HEAD')
    reader = call(app, '/v1/AUTH_test/docs', 'HEAD', user=READER)

    assert owner.headers['X-Container-Read'] == 'test:reader'
    assert reader.status_int == 204
    assert 'X-Container-Read' not in reader.headers


def test_without_an_auth_middleware_nothing_is_served(make_app, remote):
    daemon_put(remote, 'a', b'x')
    closed = make_app()
    opened = make_app(allow_anonymous='true')

    assert call(closed, '/v1/AUTH_test/photos/a', auth=False).status_int \
        == 401
    assert call(opened, '/v1/AUTH_test/photos/a', auth=False).status_int \
        == 200


def test_info_and_unknown_methods(app):
    info = call(app, '/info', auth=False)
    assert info.status_int == 200
    assert isinstance(json.loads(info.body), dict)
    assert call(app, '/v1/AUTH_test/photos/a', 'TEST').status_int == 405


# -- the paste side -----------------------------------------------------------

def test_app_factory_reads_conf_file(tmp_path):
    path = write_conf(tmp_path, DEFAULT_MAPPINGS)
    app = proxymc.app_factory({}, conf_file=path)
    assert isinstance(app, proxymc.ProxyMC)
    assert [m.name for m in app.config.mappings] == ['docs', 'photos']


def test_slo_stand_in_passes_requests_through():
    def inner(env, start_response):
        return []
    assert proxymc.slo_filter_factory({})(inner) is inner


def _sample_app(tmp_path, pipeline=None):
    from swift.common import wsgi
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    with open(os.path.join(root, 'etc', 'proxymc.conf-sample')) as f:
        text = f.read()
    text = text.replace('/etc/cloudsync/cloudsync.conf',
                        write_conf(tmp_path, DEFAULT_MAPPINGS))
    if pipeline:
        text = text.replace(
            'pipeline = catch_errors gatekeeper healthcheck proxy-logging '
            'cache listing_formats s3api tempauth copy slo proxy-logging '
            'proxy-server', 'pipeline = ' + pipeline)
    path = tmp_path / 'proxymc.conf'
    path.write_text(text)
    return wsgi.loadapp(str(path)), str(path)


def _pipeline_names(app):
    return [type(a).__name__ for a in app._pipeline]


def test_the_sample_paste_config_loads_with_multipart_uploads_on(tmp_path):
    app, path = _sample_app(tmp_path)

    names = _pipeline_names(app)
    assert isinstance(app._pipeline_final_app, proxymc.ProxyMC)
    s3api = app._pipeline[names.index('S3ApiMiddleware')]
    assert s3api.conf.allow_multipart_uploads
    assert cmd_proxymc.app_section(path) == 'proxy-server'


def test_missing_required_filters_are_added_as_swift_does(tmp_path):
    app, _path = _sample_app(tmp_path, 'healthcheck tempauth proxy-server')

    assert _pipeline_names(app) == [
        'CatchErrorMiddleware', 'GatekeeperMiddleware', 'ListingFilter',
        'HealthCheckMiddleware', 'TempAuth', 'ServerSideCopyMiddleware',
        'ProxyMC']


def test_proxymc_log_lines_mask_the_remotes_secrets(tmp_path):
    secret = 'proxymc-SECRET-key-0123'
    path = tmp_path / 'cloudsync.conf'
    path.write_text(textwrap.dedent('''
        [remote:cloud]
        provider = s3
        endpoint = http://127.0.0.1:1
        access_key = k
        secret_key = %s

        [mapping:photos]
        account = AUTH_test
        container = photos
        remote = cloud
        bucket = bucket
    ''' % secret))
    # NOTE: Swift's logger does not propagate to the root logger, whose
    # handlers cloudsync's setup filters.
    logger = swift_utils.get_logger({}, log_route='proxymc-secrets')
    assert not logger.logger.propagate
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger.logger.addHandler(handler)
    try:
        app = proxymc.ProxyMC({'spool_dir': str(tmp_path)},
                              config=cs_conf.load_file(str(path)),
                              logger=logger)
        app.logger.error('the remote said: bad key %s', secret)
    finally:
        logger.logger.removeHandler(handler)
    assert 'the remote said: bad key ***' in out.getvalue()
    assert secret not in out.getvalue()


# -- ETags and conditions, as Swift's object server answers them -------------

def _daemon_slo(remote, name='big', s3_etag=None):
    """An SLO copied by the daemon: small segments grouped in one part."""
    seg_etags = [md5_hex(b'aaaaa'), md5_hex(b'bb')]
    slo_etag = md5_hex(''.join(seg_etags).encode('ascii'))
    manifest = json.dumps([
        {'name': '/segs/1', 'hash': seg_etags[0], 'bytes': 5},
        {'name': '/segs/2', 'hash': seg_etags[1], 'bytes': 2}]).encode()
    meta = md.swift_to_remote({'X-Static-Large-Object': 'True'})
    meta.update({md.SLO_ETAG_KEY: slo_etag, md.TIMESTAMP_KEY: '1700000000',
                 md.MANIFEST_ETAG_KEY: md5_hex(manifest)})
    if s3_etag:
        meta[md.S3API_ETAG_KEY] = s3_etag
    remote.put_raw(BUCKET, key(name), b'aaaaabb', metadata=meta,
                   etag='%s-1' % md5_hex(b'grouped'))
    remote.put_raw(BUCKET, layout_mod.RemoteLayout(
        ACCOUNT, 'photos').manifest_key(name), manifest)
    return slo_etag, md5_hex(manifest)


S3_ETAG_AT = {'X-Backend-Etag-Is-At': 'X-Object-Sysmeta-S3Api-Etag'}


def test_an_slo_shows_s3api_no_etag_of_the_remotes_own_parts(app, remote):
    slo_etag, manifest_etag = _daemon_slo(remote)

    resp = call(app, '/v1/AUTH_test/photos/big', 'HEAD')

    assert resp.headers['Etag'] == '"%s"' % slo_etag
    assert 'X-Object-Sysmeta-S3Api-Etag' not in resp.headers
    assert resp.headers['X-Manifest-Etag'] == manifest_etag


def test_an_slo_shows_the_s3api_etag_kept_with_it(app, remote):
    _daemon_slo(remote, s3_etag='%s-2' % md5_hex(b's3'))

    resp = call(app, '/v1/AUTH_test/photos/big', 'HEAD')

    assert resp.headers['X-Object-Sysmeta-S3Api-Etag'] == \
        '%s-2' % md5_hex(b's3')


def test_conditions_compare_the_etag_named_by_etag_is_at(app, remote):
    s3_etag = '%s-2' % md5_hex(b's3')
    slo_etag, _ = _daemon_slo(remote, s3_etag=s3_etag)
    path = '/v1/AUTH_test/photos/big'

    match = call(app, path, headers=dict(S3_ETAG_AT, **{
        'If-Match': '"%s"' % s3_etag, 'Range': 'bytes=0-2'}))
    none_match = call(app, path, headers=dict(S3_ETAG_AT, **{
        'If-None-Match': '"%s"' % s3_etag}))
    swift_etag = call(app, path, headers=dict(S3_ETAG_AT, **{
        'If-Match': slo_etag}))
    head = call(app, path, 'HEAD', headers=dict(S3_ETAG_AT, **{
        'If-None-Match': s3_etag}))

    assert (match.status_int, match.body) == (206, b'aaa')
    assert none_match.status_int == 304
    assert swift_etag.status_int == 412
    assert head.status_int == 304


def test_without_the_named_etag_conditions_compare_the_swift_etag(
        app, remote):
    slo_etag, _ = _daemon_slo(remote)
    path = '/v1/AUTH_test/photos/big'
    etag_is_at = {'X-Backend-Etag-Is-At':
                  'X-Object-Sysmeta-S3Api-Etag,X-Object-Sysmeta-Slo-Etag'}

    # s3api sends both the "-N" ETag it showed and the Swift ETag
    match = call(app, path, headers=dict(etag_is_at, **{
        'If-Match': '"%s-N", %s' % (slo_etag, slo_etag)}))
    grouped = call(app, path, headers=dict(etag_is_at, **{
        'If-Match': md5_hex(b'grouped') + '-1'}))

    assert (match.status_int, match.body) == (200, b'aaaaabb')
    assert grouped.status_int == 412


def test_a_range_is_ignored_when_the_named_metadata_is_present(app, remote):
    _daemon_slo(remote)

    resp = call(app, '/v1/AUTH_test/photos/big', headers={
        'Range': 'bytes=0-1', 'X-Backend-Ignore-Range-If-Metadata-Present':
        'X-Static-Large-Object'})

    assert (resp.status_int, resp.body) == (200, b'aaaaabb')


def test_if_match_any_of_a_missing_object_is_412(app):
    path = '/v1/AUTH_test/photos/none'
    assert call(app, path, headers={'If-Match': '*'}).status_int == 412
    assert call(app, path, 'HEAD',
                headers={'If-Match': '*'}).status_int == 412
    assert call(app, path, headers={'If-None-Match': '*'}).status_int == 404


def test_the_manifest_is_served_as_stored_with_the_manifest_etag(
        app, remote):
    _, manifest_etag = _daemon_slo(remote)

    resp = call(app, '/v1/AUTH_test/photos/big?multipart-manifest=get')
    raw = call(app, '/v1/AUTH_test/photos/big?multipart-manifest=get&'
               'format=raw')

    assert resp.headers['Etag'] == manifest_etag
    assert resp.headers['Content-Type'] == 'application/json; charset=utf-8'
    assert raw.headers['Content-Type'] == 'application/octet-stream'
    assert raw.body == json.dumps([
        {'etag': md5_hex(b'aaaaa'), 'path': '/segs/1', 'size_bytes': 5},
        {'etag': md5_hex(b'bb'), 'path': '/segs/2', 'size_bytes': 2}],
        sort_keys=True).encode('ascii')


# -- ACLs checked as Swift checks them ---------------------------------------

@pytest.mark.parametrize('option,value', [
    ('write_acl', '.r:*'), ('read_acl', '.r:'), ('read_acl', '.bogus:x')])
def test_an_acl_swift_would_refuse_stops_proxymc(make_app, option, value):
    mappings = dict(DEFAULT_MAPPINGS, open={
        'account': ACCOUNT, 'container': 'open', option: value})

    with pytest.raises(exceptions.ConfigError) as refused:
        make_app(mappings)

    assert '[mapping:open] %s: ' % option in str(refused.value)
    assert value in str(refused.value)


def test_the_paste_app_refuses_to_start_with_an_invalid_acl(tmp_path):
    from swift.common import wsgi
    path = write_conf(tmp_path, {'open': {
        'account': ACCOUNT, 'container': 'open', 'write_acl': '.r:*'}})

    with pytest.raises(wsgi.ConfigFileError) as refused:
        proxymc.app_factory({}, conf_file=path)

    assert '[mapping:open] write_acl: Referrers not allowed in write ACL' \
        in str(refused.value)


def test_acls_are_used_as_swift_cleans_them(make_app, remote):
    app = make_app({'docs': {'account': ACCOUNT, 'container': 'docs',
                             'read_acl': ' test:reader , , .r:* '}})
    daemon_put(remote, 'o', b'x', container='docs')

    head = call(app, '/v1/AUTH_test/docs', 'HEAD')
    anonymous = call(app, '/v1/AUTH_test/docs/o', user=None)

    assert head.headers['X-Container-Read'] == 'test:reader,.r:*'
    assert (anonymous.status_int, anonymous.body) == (200, b'x')


# -- many ranges --------------------------------------------------------------

def _ranges_body(resp, data, ranges):
    for start, end in ranges:
        part = b'Content-Range: bytes %d-%d/%d\r\n\r\n%s\r\n' % (
            start, end, len(data), data[start:end + 1])
        assert part in resp.body, (start, end)


def test_near_ranges_are_read_with_one_remote_get(app, remote):
    data = os.urandom(10000)
    daemon_put(remote, 'a', data)
    ranges = [(i * 200, i * 200 + 9) for i in range(45)]
    remote.reset_calls()

    resp = call(app, '/v1/AUTH_test/photos/a', headers={
        'Range': 'bytes=' + ','.join('%d-%d' % r for r in ranges)})

    assert resp.status_int == 206
    _ranges_body(resp, data, ranges)
    assert remote.counts() == {'head_object': 1, 'get_object': 1}


def test_far_apart_overlapping_and_backward_ranges(app, remote):
    data = os.urandom(3 * 1024 * 1024)
    daemon_put(remote, 'a', data)
    ranges = [(0, 9), (5, 20), (3 * 1024 * 1024 - 10, 3 * 1024 * 1024 - 1),
              (100, 199)]
    remote.reset_calls()

    resp = call(app, '/v1/AUTH_test/photos/a', headers={
        'Range': 'bytes=' + ','.join('%d-%d' % r for r in ranges)})

    assert resp.status_int == 206
    _ranges_body(resp, data, ranges)
    assert remote.counts() == {'head_object': 1, 'get_object': 4}


@pytest.mark.parametrize('spec', [
    ','.join('%d-%d' % (i * 2, i * 2) for i in range(51)),
    '0-9,1-9,2-9,3-9',
    ','.join('%d-%d' % (i, i) for i in range(9, 0, -1))])
def test_ranges_swift_would_not_serve_are_416(app, remote, spec):
    daemon_put(remote, 'a', b'x' * 200)
    remote.reset_calls()

    resp = call(app, '/v1/AUTH_test/photos/a',
                headers={'Range': 'bytes=' + spec})

    assert resp.status_int == 416
    assert resp.headers['Content-Range'] == 'bytes */200'
    assert remote.counts() == {'head_object': 1}


# -- mappings nothing but the sync daemons writes -----------------------------

@pytest.mark.parametrize('method', ['PUT', 'POST', 'DELETE'])
def test_a_mapping_without_remote_writers_is_served_read_only(
        make_app, remote, method):
    app = make_app({'photos': {'account': ACCOUNT, 'container': 'photos',
                               'remote_writers': 'false'}})
    daemon_put(remote, 'a.txt', b'aaa')

    resp = call(app, '/v1/AUTH_test/photos/a.txt', method=method,
                body=b'new' if method == 'PUT' else None)

    assert resp.status_int == 403
    assert b'remote_writers = false' in resp.body
    assert b'[mapping:photos]' in resp.body
    assert remote.objects(BUCKET)[key('a.txt')].data == b'aaa'
    assert call(app, '/v1/AUTH_test/photos/a.txt').body == b'aaa'


def test_a_mapping_without_remote_writers_still_asks_auth_first(
        make_app, remote):
    app = make_app({'photos': {'account': ACCOUNT, 'container': 'photos',
                               'remote_writers': 'false'}})

    resp = call(app, '/v1/AUTH_test/photos/a.txt', method='PUT',
                user=OTHER, body=b'new')

    assert resp.status_int == 403
    assert b'remote_writers' not in resp.body
