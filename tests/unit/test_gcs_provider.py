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
"""The ``gcs`` provider against recorded answers of GCS's XML API.

The answers below are shaped as GCS sends them (``x-goog-*`` headers,
``x-goog-meta-*`` metadata, composite-object ETags, GCS's listing XML
with ``Generation`` elements and millisecond times). They are served at
botocore's ``before-send`` event, so botocore builds, signs and parses
every request for real; botocore's Stubber checks the request
parameters where that is the point.
"""

import base64
import hashlib
import io
import urllib.parse

from botocore import awsrequest
from botocore import stub
from oslo_config import cfg
import pytest

from cloudsync.conf import opts
from cloudsync import exceptions
from cloudsync import providers
from cloudsync_providers import gcs

SECRET = 'gcs-hmac-SECRET-0123456789'
MiB = 1024 * 1024


def md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def b64md5(data):
    return base64.b64encode(hashlib.md5(
        data, usedforsecurity=False).digest()).decode()


class Raw(io.BytesIO):
    def stream(self, *args, **kwargs):
        yield self.getvalue()


class RecordedGCS:
    """Serves recorded GCS answers, in order, and records the requests."""

    def __init__(self):
        self.script = []
        self.sent = []

    def reply(self, status=200, body=b'', headers=None):
        self.script.append((status, body, headers or {}))

    def __call__(self, request, **kwargs):
        body = request.body
        if hasattr(body, 'read'):
            chunks = []
            while True:
                chunk = body.read(8192)
                if not chunk:
                    break
                chunks.append(chunk)
            body = b''.join(chunks)
        parts = urllib.parse.urlsplit(request.url)
        self.sent.append({
            'method': request.method,
            'path': urllib.parse.unquote(parts.path),
            'query': urllib.parse.parse_qs(parts.query,
                                           keep_blank_values=True),
            'headers': {k.lower(): v.decode('latin-1') if isinstance(
                v, bytes) else v for k, v in request.headers.items()},
            'body': body or b''})
        status, data, headers = self.script.pop(0)
        headers = dict(headers)
        headers.setdefault('content-length', str(len(data)))
        return awsrequest.AWSResponse(request.url, status, headers,
                                      Raw(data))


def make_conf(**options):
    conf = cfg.ConfigOpts()
    conf([], default_config_files=[])
    group = 'remote:gcs'
    conf.register_opts(opts.remote_opts, group=group)
    conf.register_opts(gcs.OPTIONS, group=group)
    values = dict(provider='gcs', access_key='GOOG1EXAMPLE',
                  secret_key=SECRET, max_retries=0)
    values.update(options)
    for key, value in values.items():
        conf.set_override(key, value, group=group)
    return conf[group]


@pytest.fixture
def recorded():
    return RecordedGCS()


@pytest.fixture
def provider(recorded):
    provider = gcs.GCSProvider('gcs', make_conf(), sleep=lambda s: None)
    provider.client.meta.events.register('before-send.s3', recorded)
    yield provider
    provider.close()


def object_headers(data, **extra):
    headers = {
        'etag': '"%s"' % md5(data),
        'last-modified': 'Tue, 24 Nov 2026 08:19:24 GMT',
        'content-type': 'text/plain',
        'content-length': str(len(data)),
        'x-goog-generation': '1795508364065770',
        'x-goog-metageneration': '1',
        'x-goog-stored-content-encoding': 'identity',
        'x-goog-stored-content-length': str(len(data)),
        'x-goog-hash': 'crc32c=n03x6A==, md5=%s' % b64md5(data),
        'x-goog-storage-class': 'STANDARD',
    }
    headers.update(extra)
    return headers


# -- configuration -----------------------------------------------------------

def test_the_endpoint_defaults_to_gcs(provider):
    assert provider.client.meta.endpoint_url == gcs.GCS_ENDPOINT
    assert provider.location('b') == 'Google Cloud Storage;b'


def test_encryption_options_do_not_exist():
    names = {opt.dest for opt in gcs.OPTIONS}
    assert 'server_side_encryption' not in names
    assert 'session_token' not in names


# -- reading -----------------------------------------------------------------

def test_x_goog_meta_headers_are_metadata(provider, recorded):
    recorded.reply(200, b'', object_headers(b'hello', **{
        'x-goog-meta-color': 'Blue', 'x-goog-meta-cloudsync-timestamp':
        '1795508364.06577'}))
    info = provider.head_object('b', 'k')
    assert info.metadata == {'color': 'Blue',
                             'cloudsync-timestamp': '1795508364.06577'}
    assert info.etag == md5(b'hello')
    # HEAD answers are to the second
    assert info.last_modified == 1795508364.0


def test_a_composite_object_gives_its_md5_when_gcs_has_one(provider,
                                                           recorded):
    headers = object_headers(b'hello', etag='"CKih16GjycICEAE="')
    recorded.reply(200, b'', headers)
    assert provider.head_object('b', 'k').etag == md5(b'hello')
    headers['x-goog-hash'] = 'crc32c=n03x6A=='
    headers['x-goog-component-count'] = '3'
    recorded.reply(200, b'', headers)
    info = provider.head_object('b', 'k')
    assert info.etag == 'CKih16GjycICEAE='
    assert not info.is_multipart


LISTING = '''<?xml version='1.0' encoding='UTF-8'?>
<ListBucketResult xmlns="http://doc.s3.amazonaws.com/2006-03-01">
<Name>b</Name><Prefix>p/</Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys>
<IsTruncated>false</IsTruncated>
<Contents><Key>p/100%41 +plus</Key><Generation>1795508364065770</Generation>
<MetaGeneration>1</MetaGeneration>
<LastModified>2026-11-24T08:19:24.065Z</LastModified>
<ETag>"{md5}"</ETag><Size>5</Size></Contents>
<Contents><Key>p/composite</Key><Generation>1795508364065771</Generation>
<MetaGeneration>1</MetaGeneration>
<LastModified>2026-11-24T08:19:25.001Z</LastModified>
<ETag>"CKih16GjycICEAE="</ETag><Size>15</Size></Contents>
<CommonPrefixes><Prefix>p/dir/</Prefix></CommonPrefixes>
</ListBucketResult>'''.replace('{md5}', md5(b'hello')).encode()


def test_listings_ask_for_no_encoding_and_decode_nothing(provider,
                                                         recorded):
    recorded.reply(200, LISTING, {'content-type': 'application/xml'})
    page = provider.list_objects('b', prefix='p/', delimiter='/')
    assert 'encoding-type' not in recorded.sent[0]['query']
    assert [(e.key, e.etag, e.is_prefix) for e in page.entries] == [
        ('p/100%41 +plus', md5(b'hello'), False),
        ('p/composite', '', False),
        ('p/dir/', '', True)]
    # listings carry milliseconds
    assert page.entries[0].last_modified == pytest.approx(
        1795508364.065, abs=1e-3)


def test_no_encoding_type_parameter_reaches_botocore(provider):
    with stub.Stubber(provider.client) as stubber:
        stubber.add_response(
            'list_objects_v2', {'Contents': [{'Key': 'a%2Fb', 'Size': 1}],
                                'IsTruncated': False},
            {'Bucket': 'b', 'Prefix': '', 'MaxKeys': 1000})
        page = provider.list_objects('b')
        stubber.assert_no_pending_responses()
    assert [e.key for e in page.entries] == ['a%2Fb']


# -- writing -----------------------------------------------------------------

def parts_of(datas, md5s=None):
    md5s = md5s or [md5(d) for d in datas]
    return [providers.Part(number=n, size=len(d), md5=m,
                           open=lambda d=d: io.BytesIO(d))
            for n, (d, m) in enumerate(zip(datas, md5s), 1)]


def test_a_large_object_is_one_put(provider, recorded):
    datas = [b'a' * 100, b'b' * 100, b'end']
    whole = b''.join(datas)
    recorded.reply(200, b'', {'etag': '"%s"' % md5(whole),
                              'x-goog-generation': '1'})
    etag = provider.put_multipart('b', 'big', parts_of(datas),
                                  content_type='video/x',
                                  metadata={'swift-slo-etag': 'abc'})
    assert etag == md5(whole)
    put, = recorded.sent
    assert (put['method'], put['path'], put['body']) == ('PUT', '/b/big',
                                                         whole)
    assert 'uploads' not in put['query']
    assert put['headers']['x-amz-meta-swift-slo-etag'] == 'abc'


def test_a_wrong_part_stops_the_put_before_it_completes(
        provider, recorded):
    recorded.reply(200, b'', {'etag': '"whatever"'})
    datas = [b'a' * 100, b'b' * 100]
    with pytest.raises(exceptions.ChecksumMismatch) as info:
        provider.put_multipart('b', 'big', parts_of(
            datas, [md5(datas[0]), md5(b'other')]))
    assert 'part 2' in str(info.value)


def test_metadata_is_replaced_by_one_copy(provider, recorded):
    recorded.reply(200, b'', object_headers(b'hello'))
    recorded.reply(200, (
        b'<?xml version="1.0" encoding="UTF-8"?><CopyObjectResult>'
        b'<LastModified>2026-11-24T08:19:25.000Z</LastModified><ETag>"'
        + md5(b'hello').encode() + b'"</ETag></CopyObjectResult>'))
    assert provider.update_metadata('b', 'k', 'text/new', {'a': 'b'}) == \
        md5(b'hello')
    head, copy = recorded.sent
    assert copy['method'] == 'PUT'
    assert copy['headers']['x-amz-copy-source'] == 'b/k'
    assert copy['headers']['x-amz-metadata-directive'] == 'REPLACE'
    assert 'partNumber' not in copy['query']


def test_an_object_too_large_to_copy_is_uploaded_again(recorded):
    provider = gcs.GCSProvider('gcs', make_conf(), sleep=lambda s: None)
    provider.client.meta.events.register('before-send.s3', recorded)
    provider.MAX_COPY_SIZE = 3
    data = b'hello'
    recorded.reply(200, b'', object_headers(data))
    recorded.reply(200, data, object_headers(data))
    recorded.reply(200, b'', {'etag': '"%s"' % md5(data)})
    assert provider.update_metadata('b', 'k', 'a/b', {'x': 'y'}) == md5(data)
    head, get, put = recorded.sent
    assert get['method'] == 'GET'
    assert get['headers']['if-match'] == '"%s"' % md5(data)
    assert (put['method'], put['body']) == ('PUT', data)
    assert put['headers']['x-amz-meta-x'] == 'y'
    assert 'x-amz-copy-source' not in put['headers']


def test_expiry_rules_are_not_set_through_this_api(provider):
    with pytest.raises(exceptions.NotSupported) as info:
        provider.set_expiration('b', 'p/', 2 * 86400)
    assert 'age 2 days' in str(info.value)
    assert 'matchesPrefix p/' in str(info.value)


def test_delete_is_one_request(provider, recorded):
    recorded.reply(204)
    assert provider.delete_object('b', 'k') is True
    assert [s['method'] for s in recorded.sent] == ['DELETE']
    assert 'delete' not in recorded.sent[0]['query']


def test_goog_hash_md5():
    assert gcs.goog_hash_md5('crc32c=n03x6A==, md5=%s' % b64md5(b'x')) == \
        md5(b'x')
    assert gcs.goog_hash_md5('crc32c=n03x6A==') is None


def test_gcs_keeps_the_head_before_a_metadata_change_and_a_delete():
    # NOTE: GCS's XML API has neither If-Match on writes nor DeleteObjects.
    assert not providers.puts_if_match(gcs.GCSProvider)
    assert not providers.deletes_in_one_request(gcs.GCSProvider)
    assert not providers.creates_only(gcs.GCSProvider)
    assert not providers.deletes_if_match(gcs.GCSProvider)
