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
"""The ``swift`` provider against an in-memory Swift.

``FakeSwift`` answers swiftclient's HTTP requests (a ``requests`` transport
adapter, so swiftclient runs unchanged) with the behaviour of Swift's
proxy that the provider relies on, records every request, and fails the
requests a test asks it to.
"""

import hashlib
import io
import json
import time
import urllib.parse

from oslo_config import cfg
import pytest
import requests
from requests import adapters
from requests import structures
import urllib3

from cloudsync.conf import opts
from cloudsync import exceptions
from cloudsync import metadata as metadata_mod
from cloudsync import providers
from cloudsync_providers import swift

ACCOUNT_URL = 'http://swift.example.com/v1/AUTH_test2'
TOKEN = 'AUTH_tk-very-secret-token'
KEY = 'the-secret-key'


def md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _text(value):
    if isinstance(value, bytes):
        return value.decode('utf-8')
    return value


def _wire(value):
    """A header value as a server's response carries it (latin-1)."""
    return value.encode('utf-8').decode('latin-1')


def respond(request, status, headers=None, body=b''):
    resp = requests.Response()
    resp.status_code = status
    resp.reason = {200: 'OK', 201: 'Created', 202: 'Accepted',
                   204: 'No Content', 206: 'Partial Content',
                   404: 'Not Found'}.get(status, 'Status')
    headers = {k: _wire(str(v)) for k, v in (headers or {}).items()}
    headers.setdefault('Content-Length', str(len(body)))
    resp.headers = structures.CaseInsensitiveDict(headers)
    resp.raw = urllib3.HTTPResponse(body=io.BytesIO(body), headers=headers,
                                    status=status, preload_content=False)
    resp.url = request.url
    resp.request = request
    return resp


class FakeSwift(adapters.BaseAdapter):
    """One Swift account in memory, behind swiftclient's HTTP."""

    def __init__(self):
        super().__init__()
        self.containers = {}
        self.objects = {}
        #: (method, container, object, query, headers) of every request
        self.calls = []
        self._failures = []

    def fail(self, method, status, times=1, body=b'', where=None):
        """Answer the next ``times`` ``method`` requests with ``status``."""
        self._failures.append([method, status, times, body, where])

    def close(self):
        pass

    def send(self, request, **kwargs):
        parsed = urllib.parse.urlsplit(request.url)
        path = urllib.parse.unquote(parsed.path)
        parts = path.split('/', 4)[3:]
        container = parts[0] if parts else None
        name = parts[1] if len(parts) > 1 else None
        query = dict(urllib.parse.parse_qsl(parsed.query,
                                            keep_blank_values=True))
        headers = {_text(k).lower(): _text(v)
                   for k, v in request.headers.items()}
        body = request.body
        if hasattr(body, 'read'):
            chunks = []
            while True:
                chunk = body.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            body = b''.join(chunks)
        body = body.encode() if isinstance(body, str) else (body or b'')
        self.calls.append((request.method, container, name, query, headers))
        for failure in self._failures:
            method, status, times, fbody, where = failure
            if times and method == request.method and (
                    where is None or where in (name or container or '')):
                failure[2] -= 1
                return respond(request, status, body=fbody)
        handler = getattr(self, '%s_%s' % (
            'object' if name is not None else 'container',
            request.method.lower()))
        return handler(request, container, name, query, headers, body)

    # -- containers --------------------------------------------------------

    def container_head(self, request, container, name, query, headers,
                       body):
        if container not in self.containers:
            return respond(request, 404)
        return respond(request, 204, self.containers[container])

    def container_put(self, request, container, name, query, headers, body):
        if container in self.containers:
            return respond(request, 202)
        meta = {'X-Storage-Policy': headers.get('x-storage-policy', 'gold')}
        self.containers[container] = meta
        return respond(request, 201)

    def container_post(self, request, container, name, query, headers,
                       body):
        meta = self.containers[container]
        for key, value in headers.items():
            if key.startswith('x-remove-container-meta-'):
                meta.pop('X-Container-Meta-' + key[24:].title(), None)
            elif key.startswith(('x-container-meta-', 'x-container-read',
                                 'x-container-write')):
                if value:
                    meta[key.title()] = value
                else:
                    meta.pop(key.title(), None)
        return respond(request, 204)

    def container_get(self, request, container, name, query, headers, body):
        if container not in self.containers:
            return respond(request, 404)
        prefix = query.get('prefix', '')
        marker = query.get('marker', '')
        delimiter = query.get('delimiter')
        limit = int(query.get('limit', 10000))
        items, seen = [], set()
        for (cont, obj), stored in sorted(self.objects.items()):
            if cont != container or not obj.startswith(prefix) or \
                    obj <= marker:
                continue
            if delimiter and delimiter in obj[len(prefix):]:
                sub = obj[:obj.index(delimiter, len(prefix)) + 1]
                if sub not in seen and sub > marker:
                    seen.add(sub)
                    items.append({'subdir': sub})
                continue
            item = {'name': obj, 'bytes': len(stored['body']),
                    'hash': md5(stored['body']),
                    'last_modified': '2026-11-24T08:19:24.065770',
                    'content_type': stored['headers']['Content-Type']}
            if 'manifest' in stored:
                item['slo_etag'] = '"%s"' % stored['etag']
            items.append(item)
        body = json.dumps(items[:limit]).encode()
        return respond(request, 200, {'Content-Type': 'application/json'},
                       body)

    # -- objects -----------------------------------------------------------

    def object_put(self, request, container, name, query, headers, body):
        if container not in self.containers:
            return respond(request, 404)
        stored = {'headers': self._meta(headers)}
        if query.get('multipart-manifest') == 'put':
            manifest = json.loads(body)
            data = b''
            for seg in manifest:
                cont, _, obj = seg['path'].lstrip('/').partition('/')
                data += self.objects[(cont, obj)]['body']
            stored['manifest'] = [
                {'name': seg['path'], 'hash': seg['etag'],
                 'bytes': seg['size_bytes']} for seg in manifest]
            stored['etag'] = swift.slo_etag([s['etag'] for s in manifest])
            body = data
        else:
            stored['etag'] = md5(body)
            if headers.get('etag') and headers['etag'] != md5(body):
                return respond(request, 422)
        stored['body'] = body
        stored['timestamp'] = '%.5f' % time.time()
        self.objects[(container, name)] = stored
        return respond(request, 201, {'Etag': '"%s"' % stored['etag']})

    @staticmethod
    def _meta(headers):
        meta = {'Content-Type': headers.get('content-type',
                                            'application/octet-stream')}
        for key, value in headers.items():
            if key.startswith('x-object-meta-') or key in (
                    'x-delete-at', 'x-object-manifest', 'x-symlink-target'):
                meta[key.title()] = value
        return meta

    def _dlo(self, stored):
        """A DLO's (ETag, body), as Swift's dlo middleware gives them."""
        container, _, prefix = urllib.parse.unquote(
            stored['headers']['X-Object-Manifest']).partition('/')
        segments = [body['body'] for (cont, obj), body in sorted(
            self.objects.items()) if cont == container and
            obj.startswith(prefix)]
        return (swift.slo_etag([md5(b) for b in segments]),
                b''.join(segments))

    def _headers(self, stored):
        headers = dict(stored['headers'])
        etag, body = stored['etag'], stored['body']
        if 'X-Object-Manifest' in headers:
            etag, body = self._dlo(stored)
        headers.update({'Etag': '"%s"' % etag,
                        'X-Timestamp': stored['timestamp'],
                        'Content-Length': str(len(body))})
        if 'manifest' in stored:
            headers['X-Static-Large-Object'] = 'True'
            headers['X-Manifest-Etag'] = md5(json.dumps(
                stored['manifest']).encode())
        return headers

    def object_head(self, request, container, name, query, headers, body):
        stored = self.objects.get((container, name))
        if stored is None:
            return respond(request, 404)
        return respond(request, 200, self._headers(stored))

    def object_get(self, request, container, name, query, headers, body):
        stored = self.objects.get((container, name))
        if stored is None:
            return respond(request, 404)
        resp_headers = self._headers(stored)
        if query.get('multipart-manifest') == 'get' and 'manifest' in stored:
            manifest = json.dumps(stored['manifest']).encode()
            if headers.get('if-match') not in (None, md5(manifest)):
                return respond(request, 412)
            resp_headers['Content-Length'] = str(len(manifest))
            return respond(request, 200, resp_headers, manifest)
        data = stored['body']
        if 'X-Object-Manifest' in stored['headers']:
            data = self._dlo(stored)[1]
        if 'range' in headers:
            first, last = headers['range'][6:].split('-')
            data = data[int(first):int(last) + 1]
            resp_headers['Content-Range'] = 'bytes %s-%s/%d' % (
                first, last, len(stored['body']))
            resp_headers['Content-Length'] = str(len(data))
            return respond(request, 206, resp_headers, data)
        return respond(request, 200, resp_headers, data)

    def object_post(self, request, container, name, query, headers, body):
        stored = self.objects.get((container, name))
        if stored is None:
            return respond(request, 404)
        stored['headers'] = self._meta(headers)
        return respond(request, 202)

    def object_delete(self, request, container, name, query, headers,
                      body):
        stored = self.objects.get((container, name))
        if query.get('multipart-manifest') != 'delete':
            if stored is None:
                return respond(request, 404)
            del self.objects[(container, name)]
            return respond(request, 204)
        result = {'Number Deleted': 0, 'Number Not Found': 0,
                  'Errors': [], 'Response Status': '200 OK'}
        if stored is None:
            result['Number Not Found'] = 1
        elif 'manifest' not in stored:
            result['Errors'] = [['/%s/%s' % (container, name),
                                 'Not an SLO manifest']]
            result['Response Status'] = '400 Bad Request'
        else:
            for seg in stored['manifest']:
                cont, _, obj = seg['name'].lstrip('/').partition('/')
                self.objects.pop((cont, obj), None)
            del self.objects[(container, name)]
            result['Number Deleted'] = 1 + len(stored['manifest'])
        return respond(request, 200, {'Content-Type': 'application/json'},
                       json.dumps(result).encode())


@pytest.fixture
def server():
    return FakeSwift()


def make_conf(**options):
    conf = cfg.ConfigOpts()
    conf([], project='test', default_config_files=[])
    group = 'remote:dr'
    conf.register_opts(opts.remote_opts, group=group)
    conf.register_opts(swift.OPTIONS, group=group)
    settings = dict(provider='swift',
                    endpoint='http://swift.example.com/auth/v1.0',
                    access_key='test2:tester2', secret_key=KEY,
                    retry_backoff=0, retry_backoff_max=0)
    settings.update(options)
    for key, value in settings.items():
        conf.set_override(key, value, group=group)
    return conf[group]


@pytest.fixture
def make_provider(server, monkeypatch):
    monkeypatch.setattr(swift_client_module(), 'sleep', lambda s: None)

    class Connection(swift._Connection):
        def http_connection(self, url=None):
            parsed, conn = super().http_connection(url)
            conn.request_session.mount('http://', server)
            return parsed, conn

    made = []

    def make(**options):
        provider = swift.SwiftProvider('dr', make_conf(**options),
                                       max_connections=4,
                                       connection_class=Connection)
        provider._auth.url, provider._auth.token = ACCOUNT_URL, TOKEN
        made.append(provider)
        return provider
    yield make
    for provider in made:
        provider.close()


def swift_client_module():
    from swiftclient import client
    return client


@pytest.fixture
def provider(make_provider, server):
    server.containers['c'] = {'X-Storage-Policy': 'gold'}
    return make_provider()


def parts_of(datas):
    return [providers.Part(number=n, size=len(d), md5=md5(d),
                           open=lambda d=d: io.BytesIO(d))
            for n, d in enumerate(datas, 1)]


def methods(server):
    return [(c[0], c[1], c[2]) for c in server.calls]


# -- configuration -----------------------------------------------------------

def test_configuration_problems_name_the_option():
    conf = make_conf(endpoint=None, secret_key=None, auth_version='3',
                     segments_suffix='a/b')
    problems = swift.SwiftProvider.validate_conf(conf)
    assert any(p.startswith('endpoint: missing') for p in problems)
    assert any(p.startswith('secret_key: missing') for p in problems)
    assert any(p.startswith('project_name: missing') for p in problems)
    assert any(p.startswith('segments_suffix:') for p in problems)
    assert swift.SwiftProvider.validate_conf(
        make_conf(project_name='p')) == [
            'project_name: only used with auth_version = 3']
    assert swift.SwiftProvider.validate_conf(make_conf()) == []


def test_location_names_the_user_and_never_the_key(make_provider):
    location = make_provider().location('bucket')
    assert location == 'http://swift.example.com/auth/v1.0;test2:tester2;' \
        'bucket'
    assert KEY not in location


def test_remote_account_replaces_the_account_of_the_storage_url():
    assert swift._with_account('https://h:8080/v1/AUTH_me',
                               'AUTH_other \u00e9') == \
        'https://h:8080/v1/AUTH_other%20%C3%A9'
    assert swift._with_account('https://h/swift/v1/AUTH_me/',
                               'AUTH_x') == 'https://h/swift/v1/AUTH_x'


# -- metadata ----------------------------------------------------------------

VALUES = ['plain', 'MiXeD Case', 'h\u00e9llo \U0001F600', '  spaces  ',
          '\x04w', '100% %41', '=?UTF-8?B?Zm9v?=', '', 'tab\there',
          'line\nbreak']


@pytest.mark.parametrize('value', VALUES)
def test_metadata_values_round_trip_exactly(value):
    encoded = metadata_mod.encode_value(value)
    stored = swift.to_swift_value(encoded)
    assert swift.from_swift_value(stored) == encoded


def test_metadata_is_stored_as_the_user_wrote_it_where_http_allows():
    stored = {v: swift.to_swift_value(metadata_mod.encode_value(v))
              for v in VALUES}
    assert stored['MiXeD Case'] == 'MiXeD Case'
    assert stored['h\u00e9llo \U0001F600'] == 'h\u00e9llo \U0001F600'
    assert stored['=?UTF-8?B?Zm9v?='] == '=?UTF-8?B?Zm9v?='
    assert stored['100% %41'] == '100% %41'
    # white space at the ends and control characters stay encoded
    for value in ('  spaces  ', '\x04w', 'line\nbreak'):
        assert stored[value] == metadata_mod.encode_value(value)
    # swift-s3-sync's quoted-printable words are stored decoded too
    assert swift.to_swift_value('=?UTF-8?Q?h=C3=A9?=') == 'h\u00e9'


def test_put_object_sends_etag_metadata_and_expiry(provider, server):
    meta = metadata_mod.swift_to_remote({
        'X-Object-Meta-Color': 'Blue \u00e9', 'X-Object-Meta-Pct': '%41'})
    etag = provider.put_object('c', 'k \u2603', b'data', 4,
                               content_type='text/x-Plain', metadata=meta,
                               md5=md5(b'data'), expires_at=1900000000.7)
    assert etag == md5(b'data')
    put = [c for c in server.calls if c[0] == 'PUT'][-1]
    headers = put[4]
    assert headers['etag'] == md5(b'data')
    assert headers['x-object-meta-color'] == 'Blue \u00e9'
    assert headers['x-object-meta-pct'] == '%41'
    assert headers['x-delete-at'] == '1900000000'
    assert headers['content-type'] == 'text/x-Plain'
    info = provider.head_object('c', 'k \u2603')
    assert info.metadata == meta
    assert info.etag == md5(b'data')
    assert info.expires_at == 1900000000
    assert info.content_type == 'text/x-Plain'


def test_a_body_that_does_not_match_its_md5_is_refused(provider, server):
    with pytest.raises(exceptions.ChecksumMismatch):
        provider.put_object('c', 'k', b'data', 4, md5=md5(b'other'))
    assert ('c', 'k') not in server.objects


def test_a_short_body_is_refused(provider, server):
    class Short:
        def read(self, n=-1):
            return b'' if getattr(self, 'done', False) else \
                setattr(self, 'done', True) or b'abc'
    with pytest.raises(exceptions.ChecksumMismatch):
        provider.put_object('c', 'k', Short(), 10)
    assert ('c', 'k') not in server.objects


# -- large objects -----------------------------------------------------------

def test_put_multipart_makes_a_static_large_object(provider, server):
    datas = [b'a' * 10, b'b' * 10, b'c']
    etag = provider.put_multipart('c', 'big', parts_of(datas),
                                  content_type='video/x', metadata={'a': 'B'})
    digest = hashlib.md5(b''.join(bytes.fromhex(md5(d)) for d in datas),
                         usedforsecurity=False).hexdigest()
    assert etag == '%s-3' % digest
    segs = sorted(n for (c, n) in server.objects if c == 'c_segments')
    assert len(segs) == 3
    assert all(n.startswith('big/') for n in segs)
    assert [n.rsplit('/', 1)[1] for n in segs] == [
        '00000001', '00000002', '00000003']
    assert server.containers['c_segments']['X-Storage-Policy'] == 'gold'
    info = provider.head_object('c', 'big')
    assert (info.etag, info.parts_count, info.size, info.metadata) == (
        etag, 3, 21, {'a': 'B'})
    body = provider.get_object('c', 'big')
    assert body.read_all() == b''.join(datas)
    assert body.info.etag == etag


def test_a_failed_part_leaves_no_segment_and_no_object(provider, server):
    server.containers['c_segments'] = {}
    server.fail('PUT', 422, where='00000002')
    with pytest.raises(exceptions.ChecksumMismatch):
        provider.put_multipart('c', 'big', parts_of([b'a', b'b', b'c']))
    assert [k for k in server.objects] == []


def test_replacing_a_large_object_removes_its_old_segments(
        provider, server):
    provider.put_multipart('c', 'big', parts_of([b'a', b'b']))
    provider.put_multipart('c', 'big', parts_of([b'x', b'y', b'z']))
    assert len([k for k in server.objects if k[0] == 'c_segments']) == 3
    provider.put_object('c', 'big', b'plain', 5)
    assert [k for k in server.objects if k[0] == 'c_segments'] == []


def test_if_match_on_a_multipart_etag_is_translated(provider, server):
    etag = provider.put_multipart('c', 'big', parts_of([b'a', b'b']))
    provider.get_object('c', 'big', if_match='"%s"' % etag).read_all()
    get = [c for c in server.calls if c[0] == 'GET' and
           not c[3].get('multipart-manifest')][-1]
    assert get[4]['if-match'] == '"%s"' % swift.slo_etag(
        [md5(b'a'), md5(b'b')])


# -- updates and deletes -----------------------------------------------------

def test_update_metadata_is_a_post_that_keeps_the_expiry(provider, server):
    provider.put_object('c', 'k', b'x', 1, content_type='a/b',
                        metadata={'old': '1'}, expires_at=1900000000)
    provider.update_metadata('c', 'k', metadata={'new': 'Value'})
    post = [c for c in server.calls if c[0] == 'POST'][-1]
    assert post[4]['x-delete-at'] == '1900000000'
    assert post[4]['content-type'] == 'a/b'
    info = provider.head_object('c', 'k')
    assert info.metadata == {'new': 'Value'}


def test_update_metadata_sets_a_new_expiry(provider, server):
    provider.put_object('c', 'k', b'x', 1, expires_at=1900000000)
    provider.update_metadata('c', 'k', metadata={'new': 'Value'},
                             expires_at=1900000500)
    assert server.objects[('c', 'k')]['headers']['X-Delete-At'] == \
        '1900000500'
    assert provider.head_object('c', 'k').expires_at == 1900000500


def test_update_metadata_removes_a_propagated_expiry(provider, server):
    provider.put_object('c', 'k', b'x', 1, expires_at=1900000000,
                        metadata={metadata_mod.DELETE_AT_KEY: '1900000000'})
    provider.update_metadata('c', 'k', metadata={'new': 'Value'},
                             expires_at=None)
    assert 'X-Delete-At' not in server.objects[('c', 'k')]['headers']
    assert provider.head_object('c', 'k').expires_at is None


def test_update_metadata_without_an_own_expiry_keeps_a_rules(
        provider, server):
    # NOTE: an expiry not propagated (remote_delete_after's) never slides.
    provider.put_object('c', 'k', b'x', 1, expires_at=1900000000)
    provider.update_metadata('c', 'k', metadata={'new': 'Value'},
                             expires_at=None)
    assert server.objects[('c', 'k')]['headers']['X-Delete-At'] == \
        '1900000000'


def test_update_metadata_gives_a_large_objects_segments_its_new_expiry(
        provider, server):
    provider.put_multipart('c', 'big', parts_of([b'a', b'b']),
                           expires_at=1900000000)
    segments = [k for k in server.objects if k[0] == 'c_segments']
    provider.update_metadata('c', 'big', expires_at=1900000500)
    for key in segments + [('c', 'big')]:
        assert server.objects[key]['headers']['X-Delete-At'] == \
            '1900000500', key
    provider.update_metadata('c', 'big', metadata={'a': 'b'})
    posts = [c for c in server.calls if c[0] == 'POST']
    assert len(posts) == 4


def test_delete_without_segments_is_one_plain_delete(provider, server):
    provider.put_object('c', 'k', b'x', 1)
    server.calls.clear()
    assert provider.delete_object('c', 'k') is True
    assert provider.delete_object('c', 'k') is False
    deletes = [c for c in server.calls if c[0] == 'DELETE']
    assert [c[3] for c in deletes] == [{}, {}]


def test_delete_of_a_large_object_takes_its_segments(provider, server):
    provider.put_multipart('c', 'big', parts_of([b'a', b'b']))
    provider.put_object('c', 'plain', b'x', 1)
    assert provider.delete_object('c', 'big') is True
    assert list(server.objects) == [('c', 'plain')]
    # a plain object where segments exist: Swift says it is no manifest
    assert provider.delete_object('c', 'plain') is True
    assert provider.delete_object('c', 'plain') is False
    assert server.objects == {}


# -- dynamic large objects ---------------------------------------------------

#: where cloudsync puts the segments of a DLO of local segments container
#: segs (native layout)
P = '.dlo/segs/'


def segments_of(datas, prefix=P + 'obj/v1/'):
    return [providers.Segment('%s%08d' % (prefix, n), len(d),
                              lambda d=d: io.BytesIO(d), md5(d))
            for n, d in enumerate(datas, 1)]


def segment_names(server):
    return sorted(n for (c, n) in server.objects if c == 'c_segments')


def test_put_dlo_stores_the_segments_then_a_manifest(provider, server):
    datas = [b'a' * 10, b'b' * 10, b'c']
    prefix = P + 'obj/v1/'
    etag = provider.put_dlo('c', 'big', prefix, segments_of(datas),
                            content_type='video/x',
                            metadata={'a': 'B', 'x-object-manifest': 'x/y'})
    assert etag == swift.slo_etag([md5(d) for d in datas])
    assert segment_names(server) == [
        prefix + '00000001', prefix + '00000002', prefix + '00000003']
    puts = [c for c in server.calls if c[0] == 'PUT' and c[2]]
    assert puts[-1][2] == 'big'
    assert puts[-1][4]['x-object-manifest'] == 'c_segments/' + prefix
    assert 'x-object-meta-x-object-manifest' not in puts[-1][4]
    info = provider.head_object('c', 'big')
    assert (info.etag, info.size, info.dlo_manifest, info.metadata) == (
        etag, 21, 'c_segments/' + prefix,
        {'a': 'B', 'x-object-manifest': 'c_segments/' + prefix})
    assert provider.get_object('c', 'big').read_all() == b''.join(datas)
    assert provider.dlo_manifest('c', prefix) == 'c_segments/' + prefix


def test_put_dlo_sends_only_new_segments_and_removes_stale_ones(
        provider, server):
    prefix = P + 'obj/v1/'
    provider.put_dlo('c', 'big', prefix, segments_of([b'a', b'b', b'c']))
    server.calls.clear()
    datas = [b'a', b'B', b'c', b'd']
    etag = provider.put_dlo('c', 'big', prefix, segments_of(datas))
    sent = [c[2] for c in server.calls if c[0] == 'PUT']
    assert sent == [prefix + '00000002', prefix + '00000004', 'big']
    # NOTE: the segments reused have the expiry wanted (none): no POST
    assert [c for c in server.calls if c[0] == 'POST'] == []
    assert provider.head_object('c', 'big').etag == etag
    provider.put_dlo('c', 'big', prefix, segments_of([b'a']))
    assert segment_names(server) == [prefix + '00000001']
    assert provider.get_object('c', 'big').read_all() == b'a'


def test_put_dlo_gives_reused_segments_the_manifests_expiry(provider,
                                                            server):
    prefix = P + 'p/'
    provider.put_dlo('c', 'big', prefix, segments_of([b'a', b'b'], prefix),
                     expires_at=1900000000)
    provider.put_dlo('c', 'big', prefix, segments_of([b'a', b'b'], prefix),
                     expires_at=1900000500)
    assert {n: o['headers'].get('X-Delete-At')
            for (c, n), o in server.objects.items()} == {
        prefix + '00000001': '1900000500', prefix + '00000002': '1900000500',
        'big': '1900000500'}
    # NOTE: without an expiry now, the segments must not keep the old one
    provider.put_dlo('c', 'big', prefix, segments_of([b'a', b'b'], prefix))
    assert [o['headers'].get('X-Delete-At')
            for o in server.objects.values()] == [None, None, None]
    assert provider.get_object('c', 'big').read_all() == b'ab'


def test_put_dlo_sends_a_segment_gone_since_it_was_listed(provider, server):
    prefix = P + 'p/'
    provider.put_dlo('c', 'big', prefix, segments_of([b'a'], prefix))
    real_head = server.object_head

    def head(request, container, name, *args):
        server.objects.pop((container, name), None)
        return real_head(request, container, name, *args)

    server.object_head = head
    provider.put_dlo('c', 'big', prefix, segments_of([b'a'], prefix),
                     expires_at=1900000000)
    assert provider.get_object('c', 'big').read_all() == b'a'


def test_put_dlo_names_encoded_in_the_manifest(provider, server):
    prefix = P + 'caf\u00e9 au lait/'
    provider.put_dlo('c', 'big', prefix, segments_of([b'a'], prefix))
    put = [c for c in server.calls if c[0] == 'PUT' and c[2] == 'big'][0]
    assert put[4]['x-object-manifest'] == \
        'c_segments/.dlo/segs/caf%C3%A9%20au%20lait/'
    info = provider.head_object('c', 'big')
    assert info.dlo_manifest == 'c_segments/' + prefix
    assert provider.get_object('c', 'big').read_all() == b'a'


def test_put_dlo_refuses_a_segment_outside_the_prefix(provider, server):
    with pytest.raises(exceptions.InvalidObject):
        provider.put_dlo('c', 'big', P + 'obj/v1/',
                         segments_of([b'a'], P + 'other/'))
    assert server.objects == {}


@pytest.mark.parametrize('prefix', ['', 'videos', 'obj/v1/', '.dlo/',
                                    'x.dlo/segs/'])
def test_put_dlo_only_writes_in_the_dlo_namespace(provider, server, prefix):
    # NOTE: the segments of SLOs live in the same segments container
    server.objects[('c_segments', 'videos/big.mp4/1.0-a/00000001')] = {
        'headers': {'Content-Type': 'a/b'}, 'body': b'x', 'etag': md5(b'x'),
        'timestamp': '1.00000'}
    server.containers['c_segments'] = {}
    with pytest.raises(exceptions.InvalidObject):
        provider.put_dlo('c', 'big', prefix, segments_of([b'a'], prefix))
    assert list(server.objects) == [
        ('c_segments', 'videos/big.mp4/1.0-a/00000001')]


def test_update_metadata_of_a_dlo_keeps_its_manifest_and_expiry(
        provider, server):
    prefix = P + 'p/'
    provider.put_dlo('c', 'big', prefix, segments_of([b'a', b'b'], prefix),
                     expires_at=1900000000)
    provider.update_metadata('c', 'big', metadata={'new': 'v'})
    info = provider.head_object('c', 'big')
    assert info.dlo_manifest == 'c_segments/' + prefix
    assert info.metadata == {'new': 'v',
                             'x-object-manifest': 'c_segments/' + prefix}
    assert provider.get_object('c', 'big').read_all() == b'ab'
    provider.update_metadata('c', 'big', expires_at=1900000500)
    for key in [('c_segments', prefix + '00000001'),
                ('c_segments', prefix + '00000002'), ('c', 'big')]:
        assert server.objects[key]['headers']['X-Delete-At'] == \
            '1900000500', key


def test_update_metadata_of_another_writers_dlo_leaves_its_segments(
        provider, server):
    provider.put_object('c_segments', 'p/1', b'a', 1)
    provider.put_object('c', 'big', b'', 0)
    server.objects[('c', 'big')]['headers']['X-Object-Manifest'] = \
        'c_segments/p/'
    server.calls.clear()
    provider.update_metadata('c', 'big', expires_at=1900000500)
    assert [c[1:3] for c in server.calls if c[0] == 'POST'] == [('c', 'big')]
    assert 'X-Delete-At' not in server.objects[('c_segments', 'p/1')][
        'headers']


def test_a_concatenated_copy_is_no_dlo(provider, server):
    # NOTE: how DLOs were copied before: x-object-manifest as metadata.
    provider.put_object('c', 'k', b'ab', 2,
                        metadata={'x-object-manifest': 'segs/p/'})
    info = provider.head_object('c', 'k')
    assert info.dlo_manifest is None
    assert info.metadata == {'x-object-manifest': 'segs/p/'}
    assert provider.get_object('c', 'k').read_all() == b'ab'


def test_deleting_a_dlo_leaves_its_segments_until_asked(provider, server):
    prefix = P + 'p/'
    provider.put_dlo('c', 'big', prefix, segments_of([b'a', b'b'], prefix))
    server.objects[('c_segments', P + 'q/1')] = dict(
        server.objects[('c_segments', prefix + '00000001')])
    assert provider.delete_object('c', 'big') is True
    assert len(segment_names(server)) == 3
    assert provider.delete_dlo_segments('c', 'c_segments/' + prefix) == 2
    assert list(server.objects) == [('c_segments', P + 'q/1')]
    # a manifest naming another container: none of cloudsync's segments
    assert provider.delete_dlo_segments('c', 'other/' + P + 'q/') == 0
    # nor does one outside cloudsync's DLO namespace
    server.objects[('c_segments', 'q/2')] = dict(
        server.objects[('c_segments', P + 'q/1')])
    assert provider.delete_dlo_segments('c', 'c_segments/q/') == 0
    assert provider.delete_dlo_segments('c', 'c_segments/') == 0
    assert segment_names(server) == [P + 'q/1', 'q/2']


# -- errors ------------------------------------------------------------------

def test_refused_credentials_are_an_auth_error_without_secrets(provider,
                                                               server):
    server.fail('HEAD', 401, times=10)
    provider._auth.get = lambda conn, stale: (ACCOUNT_URL, TOKEN)
    with pytest.raises(exceptions.AuthError) as info:
        provider.head_object('c', 'k')
    assert KEY not in str(info.value) and TOKEN not in str(info.value)


def test_overload_is_retried_then_unavailable(make_provider, server):
    server.containers['c'] = {}
    provider = make_provider(max_retries=2)
    server.fail('PUT', 503, times=2)
    assert provider.put_object('c', 'k', b'x', 1) == md5(b'x')
    server.fail('PUT', 503, times=3)
    with pytest.raises(exceptions.Unavailable) as info:
        provider.put_object('c', 'k', b'x', 1)
    assert info.value.retryable


@pytest.mark.parametrize('status,error', [
    (400, exceptions.InvalidObject), (413, exceptions.InvalidObject),
    (403, exceptions.AuthError), (412, exceptions.PreconditionFailed),
    (416, exceptions.RangeNotSatisfiable), (304, exceptions.NotModified),
    (507, exceptions.Unavailable), (409, exceptions.RemoteError)])
def test_statuses_become_cloudsync_errors(make_provider, server, status,
                                          error):
    server.containers['c'] = {}
    provider = make_provider(max_retries=0)
    server.fail('GET', status, body=b'Metadata value too long')
    with pytest.raises(error) as info:
        provider.get_object('c', 'k')
    assert info.value.status == status


def test_a_missing_container_is_target_not_found(make_provider, server):
    provider = make_provider(create_containers=False)
    with pytest.raises(exceptions.TargetNotFound):
        provider.list_objects('nope')
    with pytest.raises(exceptions.TargetNotFound):
        provider.check_target('nope')
    with pytest.raises(exceptions.TargetNotFound):
        provider.put_object('nope', 'k', b'x', 1)


def test_missing_containers_are_created_with_the_policy(make_provider,
                                                        server):
    provider = make_provider(storage_policy='silver')
    provider.put_object('new', 'k', b'x', 1)
    assert server.containers['new']['X-Storage-Policy'] == 'silver'
    provider.check_target('other', create=True, storage_policy='bronze')
    assert server.containers['other']['X-Storage-Policy'] == 'bronze'


# -- listings and containers -------------------------------------------------

def test_listing_entries(provider, server):
    provider.put_object('c', 'a', b'x', 1)
    provider.put_object('c', 'd/1', b'y', 1)
    provider.put_multipart('c', 'big', parts_of([b'a', b'b']))
    page = provider.list_objects('c', delimiter='/', limit=2)
    assert [(e.key, e.is_prefix, e.etag) for e in page.entries] == [
        ('a', False, md5(b'x')), ('big', False, '')]
    assert page.truncated and page.next_marker == 'big'
    rest = provider.list_objects('c', delimiter='/', marker='big')
    assert [(e.key, e.is_prefix) for e in rest.entries] == [('d/', True)]
    assert not rest.truncated


def test_container_metadata_is_mirrored(provider, server):
    server.containers['c'].update({'X-Container-Meta-Stale': '1',
                                   'X-Container-Read': '.r:*'})
    local = {'X-Container-Meta-Color': 'Blue', 'X-Object-Count': '3'}
    assert provider.update_container_metadata('c', local) is True
    assert server.containers['c'] == {
        'X-Storage-Policy': 'gold', 'X-Container-Meta-Color': 'Blue',
        'X-Container-Read': '.r:*'}
    assert provider.update_container_metadata('c', local) is False
    assert provider.update_container_metadata('c', local, acl=True) is True
    assert 'X-Container-Read' not in server.containers['c']


# -- Keystone ----------------------------------------------------------------

class FakeKeystone(adapters.BaseAdapter):
    def __init__(self):
        super().__init__()
        self.bodies = []

    def close(self):
        pass

    def send(self, request, **kwargs):
        self.bodies.append(json.loads(request.body))
        endpoints = []
        for region in ('R1', 'R2'):
            for interface, url in (
                    ('public', 'https://%s.example.com/v1/AUTH_p'),
                    ('internal', 'http://%s.internal/v1/AUTH_p')):
                endpoints.append({
                    'id': region + interface, 'interface': interface,
                    'region': region, 'region_id': region,
                    'url': url % region.lower()})
        token = {'token': {
            'methods': ['password'],
            'expires_at': '2099-01-01T00:00:00.000000Z',
            'issued_at': '2026-01-01T00:00:00.000000Z',
            'user': {'id': 'u', 'name': 'test2:tester2',
                     'domain': {'id': 'default', 'name': 'Default'}},
            'project': {'id': 'p', 'name': 'proj',
                        'domain': {'id': 'default', 'name': 'Default'}},
            'catalog': [{'id': 's', 'type': 'object-store',
                         'name': 'swift', 'endpoints': endpoints}]}}
        return respond(request, 201, {'X-Subject-Token': 'ks-token',
                                      'Content-Type': 'application/json'},
                       json.dumps(token).encode())


def test_keystone_v3_picks_the_region_and_interface(make_provider):
    provider = make_provider(
        endpoint='http://keystone.example.com/v3', auth_version='3',
        project_name='proj', region_name='R2', interface='internal',
        remote_account='AUTH_backup')
    keystone = FakeKeystone()
    provider._keystone_session().session.mount('http://', keystone)
    provider._auth.url = provider._auth.token = None
    conn = provider._take()
    try:
        url, token = conn.get_auth()
    finally:
        provider._give(conn)
    assert (url, token) == ('http://r2.internal/v1/AUTH_backup', 'ks-token')
    auth = keystone.bodies[0]['auth']
    user = auth['identity']['password']['user']
    assert (user['name'], user['password'], user['domain']['name']) == (
        'test2:tester2', KEY, 'Default')
    assert auth['scope']['project']['name'] == 'proj'


def test_remote_delete_after_is_x_delete_at_from_the_swift_time(
        provider, server):
    assert provider.set_expiration('c', 'p/', 86400) is True
    assert provider.set_expiration('c', 'p/', 86400) is False
    stamp = time.time() - 3600
    meta = {metadata_mod.TIMESTAMP_KEY: '%.5f' % stamp}
    provider.put_object('c', 'p/x', b'x', 1, metadata=meta)
    provider.put_object('c', 'other', b'x', 1, metadata=meta)
    assert provider.head_object('c', 'p/x').expires_at == int(stamp + 86400)
    assert provider.head_object('c', 'other').expires_at is None
    # an object older than the rule still gets a time in the future
    old = {metadata_mod.TIMESTAMP_KEY: '%.5f' % (time.time() - 2 * 86400)}
    provider.put_multipart('c', 'p/old', parts_of([b'a', b'b']),
                           metadata=old)
    assert provider.head_object('c', 'p/old').expires_at > time.time()


# -- symlinks ----------------------------------------------------------------

def test_put_symlink_makes_a_swift_symlink(provider, server):
    meta = {metadata_mod.SYMLINK_TARGET_KEY: 'photos/t%C3%A4rget'}
    provider.put_object('c', 'pre/t\u00e4rget', b'data', 4, md5=md5(b'data'))
    etag = provider.put_symlink('c', 'pre/link', 'c/pre/t\u00e4rget',
                                target_etag=md5(b'data'),
                                content_type='text/plain', metadata=meta)
    assert etag == md5(b'')
    put = [c for c in server.calls if c[0] == 'PUT'][-1]
    assert put[2] == 'pre/link'
    assert put[4]['x-symlink-target'] == 'c/pre/t%C3%A4rget'
    assert put[4]['x-symlink-target-etag'] == md5(b'data')
    assert put[4]['x-object-meta-' + metadata_mod.SYMLINK_TARGET_KEY] == \
        'photos/t%C3%A4rget'
    assert put[4]['content-length'] == '0'


def test_reads_answer_for_a_link_itself(provider, server):
    provider.put_object('c', 'k', b'data', 4)
    provider.head_object('c', 'k')
    provider.get_object('c', 'k').close()
    reads = [c for c in server.calls
             if c[0] in ('HEAD', 'GET') and c[2] is not None]
    assert reads and all(c[3].get('symlink') == 'get' for c in reads)


def test_a_post_to_a_link_answered_with_307_succeeds(provider, server):
    provider.put_object('c', 'k', b'', 0)
    server.fail('POST', 307)
    provider.update_metadata('c', 'k', metadata={'new': 'Value'})
    server.fail('POST', 409)
    with pytest.raises(exceptions.RemoteError):
        provider.update_metadata('c', 'k', metadata={'new': 'Value'})


def test_a_link_is_deleted_without_multipart_manifest_delete(provider,
                                                             server):
    provider.put_multipart('c', 'big', parts_of([b'a' * 10, b'b']))
    provider.put_symlink('c', 'link', 'c/big')
    del server.calls[:]
    provider.delete_object('c', 'link')
    deletes = [c for c in server.calls if c[0] == 'DELETE']
    assert [(c[2], c[3]) for c in deletes] == [('link', {})]
    assert ('c', 'big') in server.objects
