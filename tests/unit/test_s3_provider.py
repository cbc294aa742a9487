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
"""The ``s3`` provider, with a fake S3 behind a real botocore client.

The fake answers at botocore's ``before-send`` event: botocore builds,
signs and parses every request as it would for a store, but nothing
leaves the process. The fake reads request bodies the way the HTTP layer
would, so retries really re-send them.
"""

import base64
import hashlib
import io
import threading
import urllib.parse

from botocore import awsrequest
from botocore import exceptions as boto_exc
import hypothesis
from hypothesis import strategies as st
from oslo_config import cfg
import pytest

from cloudsync.conf import opts
from cloudsync import exceptions
from cloudsync import providers
from cloudsync_providers import s3

SECRET = 'sEcReT/kEy+0123456789abcdefGHIJ'
TOKEN = 'session-TOKEN-abcdef0123456789'
ENDPOINT = 'http://s3.test:8080'
MiB = 1024 * 1024
GiB = 1024 * MiB
TiB = 1024 * GiB


def md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def error_xml(code, message='An error.', extra=''):
    return ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code>'
            '<Message>%s</Message>%s<RequestId>tx1</RequestId></Error>'
            % (code, message, extra)).encode('utf-8')


class Raw(io.BytesIO):
    def stream(self, *args, **kwargs):
        yield self.getvalue()


class Sent:
    def __init__(self, request, body):
        parts = urllib.parse.urlsplit(request.url)
        self.method = request.method
        self.url = request.url
        self.path = urllib.parse.unquote(parts.path)
        self.query = urllib.parse.parse_qs(parts.query,
                                           keep_blank_values=True)
        self.headers = {k.lower(): (v.decode('latin-1')
                                    if isinstance(v, bytes) else v)
                        for k, v in request.headers.items()}
        self.body = body

    @property
    def operation(self):
        return '%s %s' % (self.method, self.path)


class FakeS3:
    """Scripted answers to the requests botocore sends."""

    def __init__(self):
        self.sent = []
        self.script = []
        self.default = None
        self.lock = threading.Lock()

    def reply(self, status=200, body=b'', headers=None):
        self.script.append((status, body, headers or {}))
        return self

    def error(self, status, code, message='An error.', headers=None,
              extra=''):
        return self.reply(status, error_xml(code, message, extra), headers)

    def fail(self, exc):
        self.script.append(exc)
        return self

    def then(self, func):
        """``func(sent)`` returns (status, body, headers) or raises."""
        self.script.append(func)
        return self

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
        elif isinstance(body, str):
            body = body.encode('utf-8')
        sent = Sent(request, body or b'')
        with self.lock:
            self.sent.append(sent)
            item = self.script.pop(0) if self.script else self.default
        if item is None:
            raise AssertionError('unexpected request %s' % sent.operation)
        if callable(item) and not isinstance(item, tuple):
            item = item(sent)
        if isinstance(item, BaseException):
            raise item
        status, data, headers = item
        headers = dict(headers)
        headers.setdefault('content-length', str(len(data)))
        return awsrequest.AWSResponse(request.url, status, headers,
                                      Raw(data))

    def ops(self):
        return [s.operation for s in self.sent]


def make_conf(**options):
    conf = cfg.ConfigOpts()
    conf([], default_config_files=[])
    group = 'remote:unit'
    conf.register_opts(opts.remote_opts, group=group)
    conf.register_opts(s3.OPTIONS, group=group)
    values = dict(provider='s3', endpoint=ENDPOINT, access_key='AKIDUNIT',
                  secret_key=SECRET, addressing_style='path')
    values.update(options)
    for key, value in values.items():
        conf.set_override(key, value, group=group)
    return conf[group]


class Harness:
    def __init__(self, max_connections=4, **options):
        self.sleeps = []
        self.fake = FakeS3()
        self.provider = s3.S3Provider('unit', make_conf(**options),
                                      max_connections=max_connections,
                                      sleep=self.sleeps.append)
        self.provider.client.meta.events.register(
            'before-send.s3', self.fake)


@pytest.fixture
def h():
    harness = Harness()
    yield harness
    harness.provider.close()


class OneWay:
    """A stream that can only be read forward."""

    def __init__(self, data):
        self.stream = io.BytesIO(data)

    def read(self, n=-1):
        return self.stream.read(n)


def put_ok(etag):
    return (200, b'', {'etag': '"%s"' % etag})


# -- helpers ------------------------------------------------------------------


class TestPlanParts:
    def check(self, size, part_size):
        plan = s3.plan_parts(size, part_size)
        assert 1 <= len(plan) <= s3.MAX_PARTS
        offset = 0
        for index, (start, length) in enumerate(plan):
            assert start == offset
            assert length <= s3.MAX_PART_SIZE
            if index < len(plan) - 1:
                assert length >= s3.MIN_PART_SIZE
            offset += length
        assert offset == size
        return plan

    def test_small(self):
        assert s3.plan_parts(0) == [(0, 0)]
        assert s3.plan_parts(1) == [(0, 1)]
        assert s3.plan_parts(10 * MiB, 5 * MiB) == [(0, 5 * MiB),
                                                    (5 * MiB, 5 * MiB)]
        assert s3.plan_parts(11 * MiB, 5 * MiB) == [
            (0, 5 * MiB), (5 * MiB, 5 * MiB), (10 * MiB, MiB)]

    def test_part_size_clamped(self):
        assert s3.plan_parts(12 * MiB, 1024) == [(0, 5 * MiB),
                                                 (5 * MiB, 5 * MiB),
                                                 (10 * MiB, 2 * MiB)]
        plan = s3.plan_parts(12 * GiB, 100 * GiB)
        assert [length for _, length in plan] == [5 * GiB, 5 * GiB, 2 * GiB]

    def test_five_tib(self):
        plan = self.check(5 * TiB, s3.DEFAULT_PART_SIZE)
        assert len(plan) <= 10000
        # 64 MiB parts would be 81,920 parts: the size grew to whole MiB
        assert plan[0][1] % MiB == 0
        assert plan[0][1] > s3.DEFAULT_PART_SIZE

    def test_exactly_ten_thousand(self):
        plan = self.check(10000 * 5 * MiB, 5 * MiB)
        assert len(plan) == 10000
        plan = self.check(10000 * 5 * MiB + 1, 5 * MiB)
        assert len(plan) <= 10000

    def test_too_large(self):
        self.check(10000 * 5 * GiB, 5 * GiB)
        with pytest.raises(exceptions.InvalidObject):
            s3.plan_parts(10000 * 5 * GiB + 1)
        with pytest.raises(ValueError):
            s3.plan_parts(-1)

    @hypothesis.given(size=st.integers(0, 10000 * 5 * GiB),
                      part_size=st.integers(1, 6 * GiB))
    @hypothesis.settings(max_examples=300, deadline=None)
    def test_always_within_limits(self, size, part_size):
        hypothesis.assume(size // max(part_size, s3.MIN_PART_SIZE) < 200000)
        self.check(size, part_size)

    def test_provider_uses_its_part_size(self):
        provider = s3.S3Provider('unit', make_conf(part_size=8 * MiB))
        assert provider.plan_parts(20 * MiB) == [
            (0, 8 * MiB), (8 * MiB, 8 * MiB), (16 * MiB, 4 * MiB)]


class TestEtags:
    def test_multipart_etag(self):
        parts = [b'a' * 10, b'b' * 20, b'c']
        md5s = [md5(p) for p in parts]
        expected = hashlib.md5(b''.join(
            hashlib.md5(p).digest() for p in parts)).hexdigest() + '-3'
        assert s3.multipart_etag(md5s) == expected
        assert s3.multipart_etag(['"%s"' % m for m in md5s]) == expected

    def test_known_value(self):
        # the ETag S3 gives two parts whose MD5s are these
        assert s3.multipart_etag([
            'd41d8cd98f00b204e9800998ecf8427e',
            'd41d8cd98f00b204e9800998ecf8427e']) == \
            '%s-2' % md5(bytes.fromhex('d41d8cd98f00b204e9800998ecf8427e' * 2))

    def test_unquote(self):
        assert s3.unquote_etag('"abc"') == 'abc'
        assert s3.unquote_etag('abc') == 'abc'
        assert s3.unquote_etag('W/"abc-2"') == 'abc-2'
        assert s3.unquote_etag(' "abc" ') == 'abc'
        assert s3.unquote_etag(None) == ''

    def test_content_md5(self):
        assert s3.content_md5(md5(b'x')) == base64.b64encode(
            hashlib.md5(b'x').digest()).decode('ascii')


# -- configuration ------------------------------------------------------------


class TestConf:
    def test_defaults(self):
        conf = make_conf()
        assert conf.region == 'us-east-1'
        assert conf.signature_version == 's3v4'
        assert conf.server_side_encryption is None
        assert conf.max_retries == 5
        assert conf.part_size == 64 * MiB
        assert s3.S3Provider.validate_conf(conf) == []

    def test_secret_options(self):
        secret = {o.name for o in s3.OPTIONS if o.secret}
        assert secret == {'session_token'}

    def test_problems(self):
        problems = s3.S3Provider.validate_conf(make_conf(secret_key=None))
        assert any(p.startswith('secret_key:') for p in problems)
        problems = s3.S3Provider.validate_conf(make_conf(access_key=None))
        assert any(p.startswith('access_key:') for p in problems)
        for size in (MiB, 6 * GiB):
            problems = s3.S3Provider.validate_conf(make_conf(part_size=size))
            assert len(problems) == 1
            assert problems[0].startswith('part_size:')
        problems = s3.S3Provider.validate_conf(make_conf(
            ca_bundle='/nonexistent/ca.pem'))
        assert problems[0].startswith('ca_bundle:')
        problems = s3.S3Provider.validate_conf(make_conf(
            retry_backoff=5, retry_backoff_max=1))
        assert problems[0].startswith('retry_backoff_max:')

    @pytest.mark.parametrize('max_connections,parts,pool', [
        (1, 1, 1), (4, 4, 16), (10, 8, 80), (0, 1, 1)])
    def test_the_pool_holds_every_part_of_every_upload_at_once(
            self, max_connections, parts, pool):
        provider = s3.S3Provider('unit', make_conf(),
                                 max_connections=max_connections)
        assert provider.part_workers() == parts
        assert provider.pool_size() == pool
        assert provider.client.meta.config.max_pool_connections == pool
        provider.close()

    def test_location(self):
        provider = s3.S3Provider('unit', make_conf(endpoint=None))
        assert provider.location('b') == 'AWS S3;b'
        provider = s3.S3Provider('unit', make_conf())
        assert provider.location('b') == ENDPOINT + ';b'

    def test_client_config(self):
        provider = s3.S3Provider('unit', make_conf(connect_timeout=3,
                                                   read_timeout=7),
                                 max_connections=17)
        config = provider.client.meta.config
        # NOTE: 17 rows at once, each with up to 8 parts in flight
        assert config.max_pool_connections == 17 * 8
        assert config.retries['total_max_attempts'] == 1
        assert config.request_checksum_calculation == 'when_required'
        assert config.response_checksum_validation == 'when_required'
        assert config.connect_timeout == 3
        assert config.read_timeout == 7
        assert config.s3['addressing_style'] == 'path'
        assert provider.client.meta.endpoint_url == ENDPOINT
        provider.close()


# -- retries ------------------------------------------------------------------


class TestRetries:
    @pytest.mark.parametrize('status,code', [
        (503, 'SlowDown'), (500, 'InternalError'), (429, 'TooManyRequests'),
        (400, 'RequestTimeout'), (503, 'ServiceUnavailable'),
        (400, 'Throttling'), (502, 'BadGateway')])
    def test_retried_then_success(self, h, status, code):
        data = b'hello'
        h.fake.error(status, code).error(status, code).reply(
            *put_ok(md5(data)))
        etag = h.provider.put_object('b', 'k', data, len(data),
                                     md5=md5(data))
        assert etag == md5(data)
        assert len(h.fake.sent) == 3
        # the whole body was sent every time
        assert [s.body for s in h.fake.sent] == [data] * 3
        assert len(h.sleeps) == 2
        assert 0 <= h.sleeps[0] <= 0.5
        assert 0 <= h.sleeps[1] <= 1.0

    @pytest.mark.parametrize('exc', [
        boto_exc.EndpointConnectionError(endpoint_url=ENDPOINT),
        boto_exc.ConnectTimeoutError(endpoint_url=ENDPOINT),
        boto_exc.ReadTimeoutError(endpoint_url=ENDPOINT),
        boto_exc.ConnectionClosedError(endpoint_url=ENDPOINT)])
    def test_connection_errors_retried(self, h, exc):
        h.fake.fail(exc).reply(200, b'', {'content-length': '3',
                                          'etag': '"e"'})
        info = h.provider.head_object('b', 'k')
        assert info.etag == 'e'
        assert len(h.sleeps) == 1

    def test_bounded(self, h):
        h.fake.default = (503, error_xml('SlowDown', 'Reduce your rate.'),
                          {})
        with pytest.raises(exceptions.Unavailable) as info:
            h.provider.put_object('bucket', 'some/key', b'abc', 3)
        assert len(h.fake.sent) == 6            # 1 + max_retries
        assert len(h.sleeps) == 5
        caps = [min(20.0, 0.5 * 2 ** n) for n in range(5)]
        assert all(0 <= s <= cap for s, cap in zip(h.sleeps, caps))
        exc = info.value
        assert exc.status == 503 and exc.code == 'SlowDown'
        assert exc.retryable
        text = str(exc)
        assert 'PutObject' in text and 'bucket/some/key' in text
        assert '503 SlowDown' in text and 'Reduce your rate.' in text

    def test_backoff_capped(self):
        harness = Harness(retry_backoff=1, retry_backoff_max=3,
                          max_retries=6)
        harness.fake.default = (500, error_xml('InternalError'), {})
        with pytest.raises(exceptions.Unavailable):
            harness.provider.head_object('b', 'k')
        assert len(harness.sleeps) == 6
        assert max(harness.sleeps) <= 3

    def test_retry_after_honoured(self, h):
        h.fake.error(503, 'SlowDown', headers={'retry-after': '4'})
        h.fake.reply(200, b'', {'etag': '"e"'})
        h.provider.head_object('b', 'k')
        assert h.sleeps[0] >= 4

    def test_no_retries(self):
        harness = Harness(max_retries=0)
        harness.fake.error(503, 'SlowDown')
        with pytest.raises(exceptions.Unavailable):
            harness.provider.head_object('b', 'k')
        assert harness.sleeps == []

    @pytest.mark.parametrize('status,code', [
        (403, 'AccessDenied'), (403, 'InvalidAccessKeyId'),
        (403, 'SignatureDoesNotMatch'), (400, 'InvalidArgument'),
        (404, 'NoSuchKey'), (400, 'BadDigest'), (412, 'PreconditionFailed'),
        (501, 'NotImplemented')])
    def test_not_retried(self, h, status, code):
        h.fake.error(status, code)
        with pytest.raises(exceptions.RemoteError):
            h.provider.put_object('b', 'k', b'abc', 3)
        assert len(h.fake.sent) == 1
        assert h.sleeps == []

    def test_seekable_stream_rewound(self, h):
        stream = io.BytesIO(b'XXXpayload')
        stream.seek(3)
        h.fake.error(500, 'InternalError').reply(*put_ok(md5(b'payload')))
        h.provider.put_object('b', 'k', stream, 7)
        assert [s.body for s in h.fake.sent] == [b'payload', b'payload']

    def test_one_way_stream_not_resent(self, h):
        h.fake.error(503, 'SlowDown')
        with pytest.raises(exceptions.Unavailable) as info:
            h.provider.put_object('b', 'k', OneWay(b'payload'), 7)
        assert len(h.fake.sent) == 1
        assert 'cannot be rewound' in str(info.value)
        assert '503 SlowDown' in str(info.value)

    def test_one_way_stream_unread_is_retried(self, h):
        calls = []

        def refuse_first(request, **kwargs):
            # NOTE: the connection fails before any byte was read
            calls.append(request)
            if len(calls) == 1:
                raise boto_exc.EndpointConnectionError(endpoint_url=ENDPOINT)

        h.provider.client.meta.events.register_first('before-send.s3',
                                                     refuse_first)
        h.fake.reply(*put_ok(md5(b'payload')))
        assert h.provider.put_object('b', 'k', OneWay(b'payload'), 7) == \
            md5(b'payload')
        assert len(calls) == 2
        assert h.fake.sent[-1].body == b'payload'

    def test_parts_reopened(self, h):
        opened = []

        def opener():
            opened.append(1)
            return io.BytesIO(b'part')

        h.fake.reply(200, b'<InitiateMultipartUploadResult><UploadId>u1'
                     b'</UploadId></InitiateMultipartUploadResult>')
        h.fake.error(500, 'InternalError')
        h.fake.reply(*put_ok(md5(b'part')))
        h.fake.reply(200, b'<CompleteMultipartUploadResult><ETag>'
                     b'"x-1"</ETag></CompleteMultipartUploadResult>')
        etag = h.provider.put_multipart('b', 'k', [providers.Part(
            1, 4, opener, md5(b'part'))])
        assert etag == 'x-1'
        assert len(opened) == 2


# -- errors -------------------------------------------------------------------


class TestErrors:
    @pytest.mark.parametrize('status,code,cls', [
        (403, 'InvalidAccessKeyId', exceptions.AuthError),
        (403, 'SignatureDoesNotMatch', exceptions.AuthError),
        (403, 'AccessDenied', exceptions.AuthError),
        (400, 'AuthorizationHeaderMalformed', exceptions.AuthError),
        (403, 'RequestTimeTooSkewed', exceptions.AuthError),
        (404, 'NoSuchKey', exceptions.NotFound),
        (404, 'NoSuchBucket', exceptions.TargetNotFound),
        (400, 'BadDigest', exceptions.ChecksumMismatch),
        (400, 'InvalidDigest', exceptions.InvalidObject),
        (400, 'EntityTooLarge', exceptions.InvalidObject),
        (400, 'KeyTooLongError', exceptions.InvalidObject),
        (501, 'NotImplemented', exceptions.NotSupported),
        (409, 'BucketNotEmpty', exceptions.RemoteError),
    ])
    def test_mapping(self, h, status, code, cls):
        h.fake.error(status, code)
        with pytest.raises(cls) as info:
            h.provider.put_object('b', 'k', b'abc', 3)
        assert type(info.value) is cls
        assert info.value.status == status
        assert info.value.code == code
        assert code in str(info.value)

    def test_auth_message(self, h):
        # NOTE: the answer to a HEAD has no body, so no error code
        h.fake.reply(403, b'')
        with pytest.raises(exceptions.AuthError) as info:
            h.provider.check_target('bucket')
        assert str(info.value) == (
            'remote unit: HeadBucket bucket: the remote refused the '
            'credentials or the access (403)')
        h.fake.error(403, 'InvalidAccessKeyId',
                     'The AWS Access Key Id you provided does not exist.')
        with pytest.raises(exceptions.AuthError) as info:
            h.provider.put_object('bucket', 'k', b'', 0)
        assert str(info.value) == (
            'remote unit: PutObject bucket/k: the remote refused the '
            'credentials (403 InvalidAccessKeyId)')

    def test_secret_never_shown(self, h):
        echo = 'your secret %s and token %s' % (SECRET, TOKEN)
        h.provider._secrets.append(TOKEN)
        # S3 echoes the string to sign and the signature on a mismatch
        h.fake.error(403, 'SignatureDoesNotMatch', echo,
                     extra='<StringToSign>%s</StringToSign>'
                           '<SignatureProvided>abc</SignatureProvided>'
                     % SECRET)
        h.fake.error(500, 'InternalError', echo)
        h.fake.default = (500, error_xml('InternalError', echo), {})
        errors = []
        for call in (lambda: h.provider.head_object('b', 'k'),
                     lambda: h.provider.get_object('b', 'k'),
                     lambda: h.provider.list_objects('b')):
            with pytest.raises(exceptions.RemoteError) as info:
                call()
            errors.append(info.value)
        for exc in errors:
            for text in (str(exc), repr(exc), exc.message):
                assert SECRET not in text
                assert TOKEN not in text
                assert 'abc' not in text.split('(')[0][-4:]

    def test_secret_in_connection_error(self, h):
        h.fake.default = boto_exc.EndpointConnectionError(
            endpoint_url='http://x/?%s' % SECRET)
        with pytest.raises(exceptions.Unavailable) as info:
            h.provider.head_object('b', 'k')
        assert SECRET not in str(info.value)
        assert '***' in str(info.value)

    def test_no_credentials(self):
        harness = Harness(access_key=None, secret_key=None)

        def refuse(*args, **kwargs):
            raise boto_exc.NoCredentialsError()
        harness.provider.client._request_signer.sign = refuse
        with pytest.raises(exceptions.AuthError):
            harness.provider.head_object('b', 'k')

    def test_head_errors(self, h):
        h.fake.reply(404, b'')
        with pytest.raises(exceptions.NotFound) as info:
            h.provider.head_object('b', 'k')
        assert type(info.value) is exceptions.NotFound
        assert info.value.status == 404 and info.value.code is None
        h.fake.reply(403, b'')
        with pytest.raises(exceptions.AuthError):
            h.provider.head_object('b', 'k')

    def test_source_errors_pass_through(self, h):
        class Broken:
            def read(self, n=-1):
                raise IOError('the local disk failed')

        h.fake.default = put_ok('x')
        with pytest.raises(IOError):
            h.provider.put_object('b', 'k', Broken(), 3)

    def test_short_body(self, h):
        h.fake.default = put_ok('x')
        with pytest.raises(exceptions.ChecksumMismatch) as info:
            h.provider.put_object('b', 'k', io.BytesIO(b'ab'), 3)
        assert 'ended after 2 of 3 bytes' in str(info.value)
        assert h.sleeps == []

    def test_long_body(self, h):
        h.fake.default = put_ok('x')
        with pytest.raises(exceptions.ChecksumMismatch) as info:
            h.provider.put_object('b', 'k', io.BytesIO(b'abcd'), 3)
        assert 'more than the 3 bytes' in str(info.value)

    def test_bytes_of_wrong_size(self, h):
        with pytest.raises(exceptions.InvalidObject):
            h.provider.put_object('b', 'k', b'abcd', 3)
        assert h.fake.sent == []

    def test_bad_md5(self, h):
        with pytest.raises(exceptions.InvalidObject):
            h.provider.put_object('b', 'k', b'abc', 3, md5='nothex')


# -- objects ------------------------------------------------------------------


class TestPut:
    def test_request(self, h):
        data = b'some data'
        meta = {'color': 'blue', 'enc': '=?UTF-8?B?w6k=?='}
        h.fake.reply(*put_ok(md5(data)))
        etag = h.provider.put_object('bucket', 'a/k\u00e9y %+', data,
                                     len(data), content_type='text/plain',
                                     metadata=meta, md5=md5(data))
        assert etag == md5(data)
        sent, = h.fake.sent
        assert sent.method == 'PUT'
        assert sent.path == '/bucket/a/k\u00e9y %+'
        assert sent.headers['content-md5'] == s3.content_md5(md5(data))
        assert sent.headers['content-length'] == str(len(data))
        assert sent.headers['content-type'] == 'text/plain'
        assert sent.headers['x-amz-meta-color'] == 'blue'
        assert sent.headers['x-amz-meta-enc'] == '=?UTF-8?B?w6k=?='
        assert sent.headers['x-amz-content-sha256'] == 'UNSIGNED-PAYLOAD'
        assert not [k for k in sent.headers if 'checksum' in k]
        assert 'x-amz-server-side-encryption' not in sent.headers
        assert sent.body == data

    def test_if_match_makes_the_write_conditional_on_the_bytes(self, h):
        h.fake.reply(*put_ok(md5(b'x')))
        h.provider.put_object('b', 'k', b'x', 1, md5=md5(b'x'),
                              if_match=md5(b'x'))
        assert h.fake.sent[0].headers['if-match'] == '"%s"' % md5(b'x')

    def test_if_match_refused_or_missing(self, h):
        h.fake.error(412, 'PreconditionFailed')
        with pytest.raises(exceptions.PreconditionFailed):
            h.provider.put_object('b', 'k', b'x', 1, if_match=md5(b'y'))
        h.fake.error(404, 'NoSuchKey')
        with pytest.raises(exceptions.NotFound):
            h.provider.put_object('b', 'k', b'x', 1, if_match=md5(b'y'))

    def test_a_conditional_write_raced_by_another_is_refused(self, h):
        # NOTE: S3 answers 409 when another write of the key raced a
        # conditional one; the copy is then read and compared.
        h.fake.error(409, 'ConditionalRequestConflict')
        with pytest.raises(exceptions.PreconditionFailed):
            h.provider.put_object('b', 'k', b'x', 1, if_match=md5(b'y'))
        h.fake.error(409, 'ConditionalRequestConflict')
        with pytest.raises(exceptions.PreconditionFailed):
            h.provider.put_object('b', 'k', b'x', 1, create_only=True)

    def test_a_store_refusing_conditions_is_asked_no_more(self, h):
        # NOTE: Swift's s3api answers a PUT with If-Match 501
        # NotImplemented: the write counts as refused (the caller reads
        # the copy and compares), and the provider stops declaring
        # conditional writes, so the daemon HEADs first from then on.
        assert h.provider.PUT_IF_MATCH and h.provider.PUT_CREATE_ONLY
        h.fake.error(501, 'NotImplemented')
        with pytest.raises(exceptions.PreconditionFailed):
            h.provider.put_object('b', 'k', b'x', 1, if_match=md5(b'x'))
        assert not providers.puts_if_match(h.provider)
        assert not providers.creates_only(h.provider)
        assert type(h.provider).PUT_IF_MATCH
        h.fake.error(501, 'NotImplemented')
        with pytest.raises(exceptions.NotSupported):
            h.provider.put_object('b', 'k', b'x', 1)

    def test_bulk_delete_refused_deletes_one_by_one(self, h):
        h.fake.error(501, 'NotImplemented')
        h.fake.reply(204, b'', {})
        h.fake.reply(204, b'', {})
        h.provider.delete_objects('b', ['k1', 'k2'])
        assert [(s.method, s.path) for s in h.fake.sent] == [
            ('POST', '/b'), ('DELETE', '/b/k1'), ('DELETE', '/b/k2')]
        assert not providers.deletes_in_one_request(h.provider)

    def test_a_delete_if_match_is_conditional_on_the_copy(self, h):
        assert providers.deletes_if_match(h.provider)
        h.fake.reply(204, b'', {})
        assert h.provider.delete_object('b', 'k', if_match=md5(b'x'))
        sent, = h.fake.sent
        assert (sent.method, sent.path) == ('DELETE', '/b/k')
        assert sent.headers['if-match'] == '"%s"' % md5(b'x')

    def test_a_delete_if_match_refused_or_missing(self, h):
        h.fake.error(412, 'PreconditionFailed')
        with pytest.raises(exceptions.PreconditionFailed):
            h.provider.delete_object('b', 'k', if_match=md5(b'y'))
        h.fake.error(404, 'NoSuchKey')
        assert h.provider.delete_object('b', 'k', if_match=md5(b'y')) is \
            False
        assert providers.deletes_if_match(h.provider)

    def test_a_store_refusing_conditional_deletes_deletes_plainly(self, h):
        # NOTE: a 501 to the condition: the DELETE is sent again without
        # it (as before the condition existed), and never with it again.
        h.fake.error(501, 'NotImplemented')
        h.fake.reply(204, b'', {})
        assert h.provider.delete_object('b', 'k', if_match=md5(b'x'))
        first, second = h.fake.sent
        assert 'if-match' in first.headers
        assert 'if-match' not in second.headers
        assert not providers.deletes_if_match(h.provider)
        assert type(h.provider).DELETE_IF_MATCH
        h.fake.reply(204, b'', {})
        h.provider.delete_object('b', 'k', if_match=md5(b'x'))
        assert 'if-match' not in h.fake.sent[-1].headers

    def test_a_plain_delete_has_no_condition(self, h):
        h.fake.reply(204, b'', {})
        h.provider.delete_object('b', 'k')
        assert 'if-match' not in h.fake.sent[0].headers

    def test_no_condition_unless_asked(self, h):
        h.fake.reply(*put_ok(md5(b'x')))
        h.provider.put_object('b', 'k', b'x', 1)
        headers = h.fake.sent[0].headers
        assert 'if-match' not in headers and 'if-none-match' not in headers

    def test_sse_and_storage_class(self):
        harness = Harness(server_side_encryption='aws:kms',
                          sse_kms_key_id='key-1', storage_class='STANDARD_IA')
        # NOTE: with SSE-KMS the ETag is not the MD5
        harness.fake.reply(*put_ok('not-the-md5'))
        assert harness.provider.put_object('b', 'k', b'x', 1,
                                           md5=md5(b'x')) == 'not-the-md5'
        headers = harness.fake.sent[0].headers
        assert headers['x-amz-server-side-encryption'] == 'aws:kms'
        assert headers['x-amz-server-side-encryption-aws-kms-key-id'] == \
            'key-1'
        assert headers['x-amz-storage-class'] == 'STANDARD_IA'

    def test_streamed_not_buffered(self, h):
        reads = []

        class Recording:
            def __init__(self, data):
                self.stream = io.BytesIO(data)

            def read(self, n=-1):
                reads.append(n)
                return self.stream.read(n)

        data = b'x' * (3 * MiB)
        h.fake.reply(*put_ok(md5(data)))
        h.provider.put_object('b', 'k', Recording(data), len(data),
                              md5=md5(data))
        # never asked for everything at once, and read exactly once
        assert all(0 < n <= 65536 for n in reads if n != 1)
        assert h.fake.sent[0].body == data
        assert sum(n for n in reads if n != 1) >= len(data)

    @pytest.mark.parametrize('etag', ['"%s"', '%s'])
    def test_quoted_or_not(self, h, etag):
        h.fake.reply(200, b'', {'etag': etag % md5(b'x')})
        assert h.provider.put_object('b', 'k', b'x', 1,
                                     md5=md5(b'x')) == md5(b'x')

    def test_etag_mismatch_removes_copy(self, h):
        h.fake.reply(*put_ok(md5(b'other'))).reply(204, b'')
        with pytest.raises(exceptions.ChecksumMismatch):
            h.provider.put_object('b', 'k', b'x', 1, md5=md5(b'x'))
        assert h.fake.ops() == ['PUT /b/k', 'DELETE /b/k']

    @pytest.mark.parametrize('headers', [
        {'x-amz-server-side-encryption': 'aws:kms'},
        {'x-amz-server-side-encryption': 'aws:kms:dsse'},
        {'x-amz-server-side-encryption-customer-algorithm': 'AES256'},
    ])
    def test_bucket_default_kms_etag_is_not_a_mismatch(self, h, headers):
        # NOTE: no server_side_encryption configured: the bucket's default
        # encryption is KMS, which only the answer tells.
        answer = dict(headers, etag='"%s"' % ('e' * 32))
        h.fake.reply(200, b'', answer)
        assert h.provider.put_object('b', 'k', b'x', 1,
                                     md5=md5(b'x')) == 'e' * 32
        assert h.fake.ops() == ['PUT /b/k']
        assert h.fake.sent[0].headers['content-md5'] == s3.content_md5(
            md5(b'x'))
        # the multipart ETag check of the caller now knows it too
        assert not h.provider._etag_is_md5

    def test_sse_s3_etag_mismatch_is_still_a_mismatch(self, h):
        h.fake.reply(200, b'', {'x-amz-server-side-encryption': 'AES256',
                                'etag': '"%s"' % md5(b'other')})
        h.fake.reply(204, b'')
        with pytest.raises(exceptions.ChecksumMismatch):
            h.provider.put_object('b', 'k', b'x', 1, md5=md5(b'x'))
        assert h.fake.ops() == ['PUT /b/k', 'DELETE /b/k']
        assert h.provider._etag_is_md5

    def test_kms_object_keeps_the_swift_etag_in_its_metadata(self, h):
        h.fake.reply(200, b'', {'x-amz-server-side-encryption': 'aws:kms',
                                'etag': '"%s"' % ('e' * 32),
                                'x-amz-meta-cloudsync-etag': md5(b'x'),
                                'content-length': '1'})
        info = h.provider.head_object('b', 'k')
        assert info.etag == 'e' * 32
        assert info.metadata['cloudsync-etag'] == md5(b'x')

    def test_too_large(self, h):
        with pytest.raises(exceptions.InvalidObject):
            h.provider.put_object('b', 'k', io.BytesIO(), 5 * GiB + 1)
        assert h.fake.sent == []


INITIATE = (b'<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>'
            b'<UploadId>up-1</UploadId></InitiateMultipartUploadResult>')


def complete_xml(etag):
    return ('<CompleteMultipartUploadResult><ETag>"%s"</ETag>'
            '</CompleteMultipartUploadResult>' % etag).encode('ascii')


class TestMultipart:
    def parts(self, datas, md5s=None):
        md5s = md5s or [md5(d) for d in datas]
        return [providers.Part(n, len(d), lambda d=d: io.BytesIO(d), m)
                for n, (d, m) in enumerate(zip(datas, md5s), 1)]

    def answer_parts(self, h, bad_part=None, fail_part=None):
        def answer(sent):
            if sent.method == 'POST' and 'uploads' in sent.query:
                return (200, INITIATE, {})
            if sent.method == 'PUT' and 'partNumber' in sent.query:
                number = int(sent.query['partNumber'][0])
                if number == fail_part:
                    return (500, error_xml('InternalError'), {})
                etag = md5(sent.body)
                if number == bad_part:
                    etag = md5(b'garbage')
                return (200, b'', {'etag': '"%s"' % etag})
            if sent.method == 'POST' and 'uploadId' in sent.query:
                return (200, complete_xml('c-%d' % 3), {})
            if sent.method == 'DELETE':
                return (204, b'', {})
            raise AssertionError(sent.operation)
        h.fake.default = answer

    def test_success(self, h):
        datas = [b'a' * (5 * MiB), b'b' * (5 * MiB), b'tail']
        self.answer_parts(h)
        etag = h.provider.put_multipart('b', 'k', self.parts(datas),
                                        content_type='x/y',
                                        metadata={'m': 'v'})
        assert etag == 'c-3'
        create = h.fake.sent[0]
        assert create.headers['content-type'] == 'x/y'
        assert create.headers['x-amz-meta-m'] == 'v'
        uploads = [s for s in h.fake.sent if 'partNumber' in s.query]
        assert sorted(int(s.query['partNumber'][0]) for s in uploads) == [
            1, 2, 3]
        for sent in uploads:
            number = int(sent.query['partNumber'][0])
            assert sent.body == datas[number - 1]
            assert sent.headers['content-md5'] == s3.content_md5(
                md5(datas[number - 1]))
        complete = h.fake.sent[-1]
        assert complete.query['uploadId'] == ['up-1']
        body = complete.body.decode('utf-8')
        for number, data in enumerate(datas, 1):
            assert ('<PartNumber>%d</PartNumber>' % number) in body
            assert '&quot;%s&quot;' % md5(data) in body or \
                '"%s"' % md5(data) in body

    def test_bad_part_etag_aborts(self, h):
        datas = [b'a' * (5 * MiB), b'b' * (5 * MiB), b'tail']
        self.answer_parts(h, bad_part=2)
        with pytest.raises(exceptions.ChecksumMismatch):
            h.provider.put_multipart('b', 'k', self.parts(datas))
        ops = h.fake.ops()
        assert ops[-1] == 'DELETE /b/k'
        assert h.fake.sent[-1].query['uploadId'] == ['up-1']
        assert not [s for s in h.fake.sent
                    if s.method == 'POST' and 'uploadId' in s.query]

    def test_bucket_default_kms_parts_are_not_mismatches(self, h):
        datas = [b'a' * (5 * MiB), b'tail']

        def answer(sent):
            kms = {'x-amz-server-side-encryption': 'aws:kms'}
            if sent.method == 'POST' and 'uploads' in sent.query:
                return (200, INITIATE, kms)
            if sent.method == 'PUT' and 'partNumber' in sent.query:
                return (200, b'', dict(kms, etag='"%s"' % (
                    'e' * 31 + sent.query['partNumber'][0])))
            if sent.method == 'POST' and 'uploadId' in sent.query:
                return (200, complete_xml('f' * 32 + '-2'), kms)
            raise AssertionError(sent.operation)
        h.fake.default = answer
        assert h.provider.put_multipart('b', 'k', self.parts(datas)) == \
            'f' * 32 + '-2'
        assert not [s for s in h.fake.sent if s.method == 'DELETE']
        assert not h.provider._etag_is_md5

    def test_failed_part_aborts(self):
        harness = Harness(max_retries=1)
        self.answer_parts(harness, fail_part=1)
        datas = [b'a' * (5 * MiB), b'tail']
        with pytest.raises(exceptions.Unavailable):
            harness.provider.put_multipart('b', 'k', self.parts(datas))
        assert harness.fake.ops()[-1] == 'DELETE /b/k'

    @pytest.mark.parametrize('exc_class', [KeyboardInterrupt, SystemExit])
    def test_interrupt_aborts(self, h, exc_class):
        self.answer_parts(h)

        def interrupted():
            raise exc_class()

        parts = self.parts([b'a' * (5 * MiB), b'tail'])
        parts[1].open = interrupted
        with pytest.raises(exc_class):
            h.provider.put_multipart('b', 'k', parts)
        assert h.fake.ops()[-1] == 'DELETE /b/k'

    def test_invalid_parts(self, h):
        with pytest.raises(exceptions.InvalidObject):
            h.provider.put_multipart('b', 'k', [])
        with pytest.raises(exceptions.InvalidObject):
            h.provider.put_multipart('b', 'k', self.parts([b'small', b'x']))
        parts = self.parts([b'a' * (5 * MiB), b'x'])
        parts[1].number = 3
        with pytest.raises(exceptions.InvalidObject):
            h.provider.put_multipart('b', 'k', parts)
        assert h.fake.sent == []

    def test_completed_on_retry(self, h):
        # the first Complete went through but its answer was lost
        datas = [b'a' * (5 * MiB), b'tail']
        expected = s3.multipart_etag([md5(d) for d in datas])
        h.fake.reply(200, INITIATE)
        for data in datas:
            h.fake.reply(*put_ok(md5(data)))
        h.fake.fail(boto_exc.ConnectionClosedError(endpoint_url=ENDPOINT))
        h.fake.error(404, 'NoSuchUpload')
        h.fake.reply(200, b'', {'etag': '"%s"' % expected,
                                'content-length': '5242884'})
        h.provider.max_connections = 1
        assert h.provider.put_multipart('b', 'k', self.parts(datas)) == \
            expected


# -- reading ------------------------------------------------------------------


class TestRead:
    def test_head(self, h):
        h.fake.reply(200, b'', {
            'etag': '"abc-3"', 'content-length': '123',
            'content-type': 'x/y', 'last-modified':
            'Wed, 21 Oct 2015 07:28:00 GMT', 'x-amz-meta-Key': 'v',
            'x-amz-storage-class': 'STANDARD_IA',
            'x-amz-expiration': 'expiry-date="Fri, 23 Dec 2012 00:00:00 '
                                'GMT", rule-id="p/"'})
        info = h.provider.head_object('b', 'k')
        assert info.etag == 'abc-3'
        assert info.size == 123
        assert info.content_type == 'x/y'
        assert info.last_modified == 1445412480.0
        assert info.metadata == {'key': 'v'}
        assert info.storage_class == 'STANDARD_IA'
        assert info.parts_count == 3
        assert info.expires_at == 1356220800.0

    def test_get_range(self, h):
        data = b'0123456789' * 300000
        h.fake.reply(206, data[5:2500005], {
            'etag': '"e"', 'content-range': 'bytes 5-2500004/3000000'})
        body = h.provider.get_object('b', 'k', range='bytes=5-2500004')
        assert body.status == 206
        assert body.content_range == 'bytes 5-2500004/3000000'
        assert body.content_length == 2500000
        assert body.info.size == 3000000
        chunks = list(body)
        # NOTE: read in pieces of 1 MiB
        assert max(len(c) for c in chunks) == 1024 * 1024
        assert b''.join(chunks) == data[5:2500005]
        assert h.fake.sent[0].headers['range'] == 'bytes=5-2500004'

    def test_conditional_headers(self, h):
        h.fake.reply(200, b'x', {'etag': '"e"'})
        h.provider.get_object(
            'b', 'k', if_match='"e"', if_none_match='"f"',
            if_modified_since='Wed, 21 Oct 2015 07:28:00 GMT',
            if_unmodified_since=1445412480.0).read_all()
        headers = h.fake.sent[0].headers
        assert headers['if-match'] == '"e"'
        assert headers['if-none-match'] == '"f"'
        assert headers['if-modified-since'] == \
            'Wed, 21 Oct 2015 07:28:00 GMT'
        assert headers['if-unmodified-since'] == \
            'Wed, 21 Oct 2015 07:28:00 GMT'

    @pytest.mark.parametrize('status,body,cls', [
        (304, b'', exceptions.NotModified),
        (412, error_xml('PreconditionFailed'), exceptions.PreconditionFailed),
        (416, error_xml('InvalidRange'), exceptions.RangeNotSatisfiable),
        (404, error_xml('NoSuchKey'), exceptions.NotFound),
        (404, error_xml('NoSuchBucket'), exceptions.TargetNotFound),
    ])
    def test_get_errors(self, h, status, body, cls):
        h.fake.reply(status, body)
        with pytest.raises(cls):
            h.provider.get_object('b', 'k', range='bytes=0-1')

    def test_close_early(self, h):
        h.fake.reply(200, b'x' * 200000, {'etag': '"e"'})
        body = h.provider.get_object('b', 'k')
        next(body)
        body.close()
        body.close()


def listing_xml(keys=(), prefixes=(), truncated=False, encoding=True,
                version=2):
    items = ''.join(
        '<Contents><Key>%s</Key><LastModified>2015-10-21T07:28:00.000Z'
        '</LastModified><ETag>"%s"</ETag><Size>%d</Size>'
        '<StorageClass>STANDARD</StorageClass></Contents>'
        % (k, md5(k.encode()), len(k)) for k in keys)
    items += ''.join('<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>'
                     % p for p in prefixes)
    return ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>'
            '<Name>b</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys>'
            '%s<IsTruncated>%s</IsTruncated>%s</ListBucketResult>' % (
                '<EncodingType>url</EncodingType>' if encoding else '',
                'true' if truncated else 'false', items)).encode('utf-8')


class TestListing:
    def test_decoded_exactly_once(self, h):
        # as S3 sends them with encoding-type=url
        h.fake.reply(200, listing_xml(
            keys=['a%2541', 'b%2Bc', 'd+e', '%C3%A9', '%F0%9F%98%80',
                  'f%252Fg'],
            prefixes=['dir%25/']))
        page = h.provider.list_objects('b', delimiter='/')
        assert [(e.key, e.is_prefix) for e in page.entries] == [
            ('a%41', False), ('b+c', False), ('d e', False),
            ('dir%/', True), ('f%2Fg', False), ('\u00e9', False),
            ('\U0001F600', False)]
        sent = h.fake.sent[0]
        assert sent.query['encoding-type'] == ['url']
        assert sent.query['list-type'] == ['2']
        assert sent.query['delimiter'] == ['/']

    def test_store_ignoring_encoding(self, h):
        # a clone that ignores encoding-type sends the names as they are
        h.fake.reply(200, listing_xml(keys=['a%41', 'b+c'], encoding=False))
        page = h.provider.list_objects('b')
        assert [e.key for e in page.entries] == ['a%41', 'b+c']

    def test_entries(self, h):
        h.fake.reply(200, listing_xml(keys=['p/a', 'p/c'],
                                      prefixes=['p/b/'], truncated=True))
        page = h.provider.list_objects('b', prefix='p/', delimiter='/',
                                       limit=3)
        assert [(e.key, e.is_prefix) for e in page.entries] == [
            ('p/a', False), ('p/b/', True), ('p/c', False)]
        assert page.truncated
        assert page.next_marker == 'p/c'
        entry = page.entries[0]
        assert entry.size == 3
        assert entry.etag == md5(b'p/a')
        assert entry.last_modified == 1445412480.0
        sent = h.fake.sent[0]
        assert sent.query['max-keys'] == ['3']
        assert sent.query['prefix'] == ['p/']

    def test_marker(self, h):
        h.fake.reply(200, listing_xml(keys=['p/c']))
        h.provider.list_objects('b', prefix='p/', marker='p/b')
        assert h.fake.sent[0].query['start-after'] == ['p/b']

    def test_prefix_marker_skips_its_keys(self, h):
        # the marker is a common prefix: continue after all its keys, and
        # never list that prefix again
        h.fake.reply(200, listing_xml(keys=['p/c'], prefixes=['p/b/']))
        page = h.provider.list_objects('b', prefix='p/', delimiter='/',
                                       marker='p/b/')
        assert h.fake.sent[0].query['start-after'] == ['p/b/\U0010ffff']
        assert [e.key for e in page.entries] == ['p/c']

    def test_v1(self):
        harness = Harness(list_version=1)
        harness.fake.reply(200, listing_xml(keys=['a%2541'],
                                            truncated=True))
        page = harness.provider.list_objects('b', marker='a', limit=1)
        sent = harness.fake.sent[0]
        assert 'list-type' not in sent.query
        assert sent.query['marker'] == ['a']
        assert [e.key for e in page.entries] == ['a%41']
        assert page.truncated and page.next_marker == 'a%41'

    def test_list_all_pages(self, h):
        h.fake.reply(200, listing_xml(keys=['a', 'b'], truncated=True))
        h.fake.reply(200, listing_xml(keys=['c']))
        assert [e.key for e in h.provider.list_all('b')] == ['a', 'b', 'c']
        assert h.fake.sent[1].query['start-after'] == ['b']

    def test_limit_zero(self, h):
        assert h.provider.list_objects('b', limit=0).entries == []
        assert h.fake.sent == []

    def test_missing_bucket(self, h):
        h.fake.error(404, 'NoSuchBucket')
        with pytest.raises(exceptions.TargetNotFound):
            h.provider.list_objects('b')


# -- bucket, metadata, delete, lifecycle --------------------------------------


class TestBucket:
    def test_exists(self, h):
        h.fake.reply(200, b'')
        h.provider.check_target('b')
        assert h.fake.ops() == ['HEAD /b']

    def test_missing(self, h):
        h.fake.reply(404, b'')
        with pytest.raises(exceptions.TargetNotFound):
            h.provider.check_target('b')

    def test_create(self, h):
        h.fake.reply(404, b'').reply(200, b'')
        h.provider.check_target('b', create=True)
        assert h.fake.ops() == ['HEAD /b', 'PUT /b']
        assert b'LocationConstraint' not in h.fake.sent[1].body

    def test_create_in_region(self):
        harness = Harness(region='eu-west-1')
        harness.fake.reply(404, b'').reply(200, b'')
        harness.provider.check_target('b', create=True)
        assert b'<LocationConstraint>eu-west-1</LocationConstraint>' in \
            harness.fake.sent[1].body

    def test_already_owned(self, h):
        h.fake.reply(404, b'').error(409, 'BucketAlreadyOwnedByYou')
        h.provider.check_target('b', create=True)

    def test_forbidden(self, h):
        h.fake.reply(403, b'')
        with pytest.raises(exceptions.AuthError):
            h.provider.check_target('b', create=True)


class TestUpdateMetadata:
    def test_copy_in_place(self, h):
        h.fake.reply(200, b'', {'etag': '"e1"', 'content-length': '10',
                                'content-type': 'old/type'})
        h.fake.reply(200, b'<CopyObjectResult><ETag>"e1"</ETag>'
                     b'</CopyObjectResult>')
        assert h.provider.update_metadata('b', 'k\u00e9 %', None,
                                          {'n': 'v'}) == 'e1'
        head, copy = h.fake.sent
        assert head.method == 'HEAD'
        assert copy.method == 'PUT' and copy.path == '/b/k\u00e9 %'
        assert copy.headers['x-amz-metadata-directive'] == 'REPLACE'
        assert urllib.parse.unquote(copy.headers['x-amz-copy-source']) == \
            'b/k\u00e9 %'
        assert copy.headers['x-amz-copy-source-if-match'] == '"e1"'
        assert copy.headers['content-type'] == 'old/type'
        assert copy.headers['x-amz-meta-n'] == 'v'
        assert copy.body == b''

    def test_given_info_skips_head(self, h):
        h.fake.reply(200, b'<CopyObjectResult><ETag>"e1"</ETag>'
                     b'</CopyObjectResult>')
        info = providers.ObjectInfo(key='k', size=1, etag='e1',
                                    last_modified=0)
        h.provider.update_metadata('b', 'k', 'a/b', {}, info=info)
        assert h.fake.ops() == ['PUT /b/k']

    def test_multipart_copy_keeps_parts(self, h):
        sizes = [5 * MiB, 5 * MiB, 7]
        total = sum(sizes)
        h.fake.reply(200, b'', {'etag': '"mp-3"',
                                'content-length': str(total)})

        def answer(sent):
            if sent.method == 'HEAD':
                number = int(sent.query['partNumber'][0])
                return (206, b'', {
                    'etag': '"mp-3"', 'x-amz-mp-parts-count': '3',
                    'content-length': str(sizes[number - 1]),
                    'content-range': 'bytes 0-1/%d' % total})
            if 'uploads' in sent.query:
                return (200, INITIATE, {})
            if 'partNumber' in sent.query:
                return (200, ('<CopyPartResult><ETag>"p%s"</ETag>'
                              '</CopyPartResult>' % sent.query[
                                  'partNumber'][0]).encode(), {})
            if 'uploadId' in sent.query:
                return (200, complete_xml('mp-3'), {})
            raise AssertionError(sent.operation)
        h.fake.default = answer
        assert h.provider.update_metadata('b', 'k', 'c/t', {'a': 'b'}) == \
            'mp-3'
        copies = sorted((s for s in h.fake.sent
                         if 'x-amz-copy-source-range' in s.headers),
                        key=lambda s: int(s.query['partNumber'][0]))
        assert [s.headers['x-amz-copy-source-range'] for s in copies] == [
            'bytes=0-5242879', 'bytes=5242880-10485759',
            'bytes=10485760-10485766']
        assert all(s.headers['x-amz-copy-source-if-match'] == '"mp-3"'
                   for s in copies)
        create = [s for s in h.fake.sent if 'uploads' in s.query][0]
        assert create.headers['content-type'] == 'c/t'
        assert create.headers['x-amz-meta-a'] == 'b'

    def test_large_single_object(self, h):
        size = 6 * GiB
        h.fake.reply(200, b'', {'etag': '"e"', 'content-length': str(size)})

        def answer(sent):
            if 'uploads' in sent.query:
                return (200, INITIATE, {})
            if 'partNumber' in sent.query:
                return (200, b'<CopyPartResult><ETag>"p"</ETag>'
                        b'</CopyPartResult>', {})
            if 'uploadId' in sent.query:
                return (200, complete_xml('n-%d' % 96), {})
            raise AssertionError(sent.operation)
        h.fake.default = answer
        h.provider.update_metadata('b', 'k', 'c/t', {})
        ranges = [s for s in h.fake.sent
                  if 'x-amz-copy-source-range' in s.headers]
        assert len(ranges) == 96        # 6 GiB in 64 MiB parts

    def test_copy_failure_aborts(self, h):
        h.fake.reply(200, b'', {'etag': '"mp-2"',
                                'content-length': str(5 * MiB + 1)})

        def answer(sent):
            if sent.method == 'HEAD':
                number = int(sent.query['partNumber'][0])
                return (206, b'', {'content-length': str(
                    5 * MiB if number == 1 else 1)})
            if 'uploads' in sent.query:
                return (200, INITIATE, {})
            if 'partNumber' in sent.query:
                return (412, error_xml('PreconditionFailed'), {})
            if sent.method == 'DELETE':
                return (204, b'', {})
            raise AssertionError(sent.operation)
        h.fake.default = answer
        with pytest.raises(exceptions.PreconditionFailed):
            h.provider.update_metadata('b', 'k', 'c/t', {})
        assert h.fake.ops()[-1] == 'DELETE /b/k'

    def test_missing(self, h):
        h.fake.reply(404, b'')
        with pytest.raises(exceptions.NotFound):
            h.provider.update_metadata('b', 'k', 'a/b', {})


class TestDelete:
    def test_deleted(self, h):
        h.fake.reply(204, b'')
        assert h.provider.delete_object('b', 'k') is True

    def test_clone_says_missing(self, h):
        h.fake.error(404, 'NoSuchKey')
        assert h.provider.delete_object('b', 'k') is False

    def test_missing_bucket(self, h):
        h.fake.error(404, 'NoSuchBucket')
        with pytest.raises(exceptions.TargetNotFound):
            h.provider.delete_object('b', 'k')

    def test_several_keys_in_one_request(self, h):
        h.fake.reply(200, b'<DeleteResult></DeleteResult>')
        h.provider.delete_objects('b', ['k1', 'side/k\u00e9'])
        sent, = h.fake.sent
        assert sent.method == 'POST'
        assert sent.path == '/b'
        assert 'delete' in sent.query
        assert b'<Key>k1</Key>' in sent.body
        assert '<Key>side/k\u00e9</Key>'.encode('utf-8') in sent.body
        assert b'<Quiet>true</Quiet>' in sent.body

    def test_missing_keys_are_not_an_error(self, h):
        h.fake.reply(200, b'<DeleteResult><Error><Key>k1</Key><Code>'
                     b'NoSuchKey</Code><Message>m</Message></Error>'
                     b'</DeleteResult>')
        h.provider.delete_objects('b', ['k1'])

    def test_a_key_refused_is_an_error_that_names_it(self, h):
        h.fake.reply(200, b'<DeleteResult><Error><Key>k2</Key><Code>'
                     b'AccessDenied</Code><Message>no</Message></Error>'
                     b'</DeleteResult>')
        with pytest.raises(exceptions.RemoteError) as caught:
            h.provider.delete_objects('b', ['k1', 'k2'])
        assert 'k2' in str(caught.value)
        assert not caught.value.retryable

    def test_a_key_throttled_is_retryable(self, h):
        h.fake.reply(200, b'<DeleteResult><Error><Key>k2</Key><Code>'
                     b'SlowDown</Code><Message>m</Message></Error>'
                     b'</DeleteResult>')
        with pytest.raises(exceptions.Unavailable):
            h.provider.delete_objects('b', ['k2'])

    def test_no_keys_no_request(self, h):
        h.provider.delete_objects('b', [])
        assert h.fake.sent == []


def lifecycle_xml(*rules):
    return ('<LifecycleConfiguration>%s</LifecycleConfiguration>' % ''.join(
        '<Rule><ID>%s</ID><Filter><Prefix>%s</Prefix></Filter>'
        '<Status>%s</Status><Expiration><Days>%d</Days></Expiration></Rule>'
        % rule for rule in rules)).encode('utf-8')


class TestExpiration:
    def test_first_rule(self, h):
        h.fake.error(404, 'NoSuchLifecycleConfiguration').reply(200, b'')
        assert h.provider.set_expiration('b', 'h/a/c/', 86400 * 2.6) is True
        put = h.fake.sent[1]
        assert put.method == 'PUT' and 'lifecycle' in put.query
        body = put.body.decode('utf-8')
        assert '<ID>h/a/c/</ID>' in body
        assert '<Prefix>h/a/c/</Prefix>' in body
        assert '<Days>3</Days>' in body
        assert '<Status>Enabled</Status>' in body

    def test_unchanged(self, h):
        h.fake.reply(200, lifecycle_xml(('p/', 'p/', 'Enabled', 1)))
        assert h.provider.set_expiration('b', 'p/', 3600) is False
        assert len(h.fake.sent) == 1

    def test_replaces_ours_keeps_others(self, h):
        h.fake.reply(200, lifecycle_xml(('p/', 'p/', 'Enabled', 5),
                                        ('other', 'o/', 'Enabled', 9),
                                        ('wide', '', 'Enabled', 30)))
        h.fake.reply(200, b'')
        assert h.provider.set_expiration('b', 'p/', 86400) is True
        body = h.fake.sent[1].body.decode('utf-8')
        assert body.count('<Rule>') == 3
        assert '<ID>other</ID>' in body and '<ID>wide</ID>' in body
        assert '<Days>5</Days>' not in body
        assert '<Days>1</Days>' in body

    def test_not_supported(self, h):
        # Swift's s3api answers ?lifecycle with a bucket listing
        h.fake.reply(200, listing_xml(keys=['a']))
        with pytest.raises(exceptions.NotSupported):
            h.provider.set_expiration('b', 'p/', 86400)
        h.fake.error(404, 'NoSuchLifecycleConfiguration')
        h.fake.error(400, 'MalformedXML')
        with pytest.raises(exceptions.NotSupported):
            h.provider.set_expiration('b', 'p/', 86400)


@pytest.mark.parametrize('value', [
    '2026-11-24T09:00:00.000Z', '2026-11-24T09:00:00Z',
    '2026-11-24T09:00:00.123456+00:00', 'Tue, 24 Nov 2026 09:00:00 GMT',
    '1795510800',
])
def test_timestamps_parse_as_botocore_parses_them(value):
    from botocore import utils as botocore_utils
    assert s3._parse_timestamp(value).timestamp() == \
        botocore_utils.parse_timestamp(value).timestamp()


# -- names the store cannot hold ------------------------------------------

def test_a_key_longer_than_the_store_takes_is_refused_without_a_request(h):
    fits = 'p/' + 'k' * 1022
    h.provider.check_key('bkt', fits)
    too_long = 'p/' + '\u00e9' * 512     # 1,026 bytes of UTF-8
    with pytest.raises(exceptions.InvalidObject) as info:
        h.provider.check_key('bkt', too_long)
    message = str(info.value)
    assert 'bucket bkt' in message
    assert '1026 bytes' in message
    assert '1024 bytes' in message
    assert h.fake.sent == []
