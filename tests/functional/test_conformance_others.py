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
"""The ``swift``, ``s3-clone`` and ``gcs`` providers on live endpoints.

Each runs the whole provider conformance kit (:mod:`cloudsync.conformance`)
and the checks particular to its store:

* ``swift`` against the all-in-one's second account (``test2:tester2``):
  large objects are static large objects with their segments in
  ``<container>_segments``, metadata keeps its case and bytes, expiry is
  ``X-Delete-At``, container metadata and ACLs are mirrored;
* ``s3-clone`` against Swift's s3api, a real S3 clone;
* ``gcs`` through the GCS-behaving proxy (``gcs_proxy.py``) in front of
  moto.
"""

import hashlib
import http.client
import io
import json
import os
import time
import urllib.parse
import uuid

from botocore import auth
from botocore import awsrequest
from botocore import credentials
import pytest

from cloudsync import conformance
from cloudsync import exceptions
from cloudsync import metadata as metadata_mod
from cloudsync import providers
from cloudsync_providers import swift as swift_provider
from tests.functional import gcs_checks
from tests.functional import gcs_proxy

KiB = 1024


def _md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _parts(datas):
    return [providers.Part(number=n, size=len(d), md5=_md5(d),
                           open=lambda d=d: io.BytesIO(d))
            for n, d in enumerate(datas, 1)]


@pytest.fixture(scope='module')
def aio_state(aio):
    return aio.state


class TestSwiftConformance(conformance.ProviderConformance):
    """The ``swift`` provider on the all-in-one, as test2:tester2."""

    bucket = 'cloudsync-conformance'
    # NOTE: Swift takes segments of any size; small parts keep this fast.
    part_size = 256 * KiB
    endpoint = None

    @pytest.fixture(scope='class', autouse=True)
    @classmethod
    def _swift(cls, aio_state):
        cls.endpoint = aio_state['auth_url']

    def make_provider(self, **options):
        settings = dict(endpoint=self.endpoint, access_key='test2:tester2',
                        secret_key='testing2', max_retries=1,
                        retry_backoff=0.1)
        settings.update(options)
        return conformance.build_provider('swift', **settings)

    def make_bad_provider(self, secret_key):
        return self.make_provider(secret_key=secret_key, max_retries=0)

    @pytest.fixture
    def swift2(self, aio):
        conn = aio.swift_client('test2:tester2', 'testing2')
        yield conn
        conn.close()

    def test_provider_class(self, provider):
        assert isinstance(provider, swift_provider.SwiftProvider)

    def test_large_object_is_a_static_large_object(self, provider, prefix,
                                                   swift2):
        datas = [os.urandom(100 * KiB), os.urandom(100 * KiB), b'tail']
        key = prefix + 'large \u00e9'
        provider.put_multipart(self.bucket, key, _parts(datas),
                               content_type='video/x-Test',
                               metadata={'color': 'Blue'})
        headers, body = swift2.get_object(self.bucket, key)
        assert body == b''.join(datas)
        assert headers['x-static-large-object'] == 'True'
        assert headers['etag'] == '"%s"' % swift_provider.slo_etag(
            [_md5(d) for d in datas])
        assert headers['x-object-meta-color'] == 'Blue'
        assert headers['content-type'] == 'video/x-Test'
        _, manifest = swift2.get_object(
            self.bucket, key, query_string='multipart-manifest=get')
        names = [s['name'] for s in json.loads(manifest)]
        assert len(names) == 3
        assert all(n.startswith('/%s_segments/%s/' % (self.bucket, key))
                   for n in names)
        # overwriting it removes the old segments; deleting the new one
        # removes its own
        provider.put_multipart(self.bucket, key, _parts([b'new', b'one']))
        listed = [o['name'] for o in swift2.get_container(
            self.bucket + '_segments', prefix=key + '/')[1]]
        assert len(listed) == 2
        assert provider.delete_object(self.bucket, key) is True
        assert swift2.get_container(self.bucket + '_segments',
                                    prefix=key + '/')[1] == []
        assert provider.delete_object(self.bucket, key) is False

    def test_plain_object_replacing_a_large_one_removes_segments(
            self, provider, prefix, swift2):
        key = prefix + 'was-large'
        provider.put_multipart(self.bucket, key, _parts([b'a', b'b']))
        self.put(provider, key, b'plain now')
        assert swift2.get_container(self.bucket + '_segments',
                                    prefix=key + '/')[1] == []
        assert self.get(provider, key) == b'plain now'

    def test_metadata_is_stored_as_written(self, provider, prefix, swift2):
        key = prefix + 'meta'
        local = {'X-Object-Meta-Mixed': 'MiXeD Case Value',
                 'X-Object-Meta-Unicode': 'h\u00e9llo \U0001F600',
                 'X-Object-Meta-Spaces': '  edge spaces  '}
        self.put(provider, key, b'x',
                 metadata=metadata_mod.swift_to_remote(local))
        headers = swift2.head_object(self.bucket, key)
        assert headers['x-object-meta-mixed'] == 'MiXeD Case Value'
        assert headers['x-object-meta-unicode'] == 'h\u00e9llo \U0001F600'
        # NOTE: HTTP cannot carry white space at either end of a value.
        assert headers['x-object-meta-spaces'] == metadata_mod.encode_value(
            '  edge spaces  ')
        info = provider.head_object(self.bucket, key)
        assert metadata_mod.remote_to_swift(info.metadata) == local

    def test_expiry_is_x_delete_at(self, provider, prefix, swift2):
        key = prefix + 'expiring'
        at = int(time.time()) + 86400
        provider.put_object(self.bucket, key, b'x', 1, expires_at=at)
        assert swift2.head_object(self.bucket, key)['x-delete-at'] == str(at)
        assert provider.head_object(self.bucket, key).expires_at == at
        # a metadata update keeps it
        provider.update_metadata(self.bucket, key, metadata={'a': 'b'})
        assert swift2.head_object(self.bucket, key)['x-delete-at'] == str(at)

    def test_container_created_with_storage_policy(self, swift2):
        name = 'cloudsync-policy-%s' % uuid.uuid4().hex[:8]
        provider = self.make_provider(storage_policy='silver')
        try:
            provider.check_target(name, create=True)
            assert swift2.head_container(name)['x-storage-policy'] == \
                'silver'
            provider.put_multipart(name, 'o', _parts([b'a', b'b']))
            assert swift2.head_container(
                name + '_segments')['x-storage-policy'] == 'silver'
            provider.delete_object(name, 'o')
        finally:
            provider.close()
            for cont in (name + '_segments', name):
                try:
                    swift2.delete_container(cont)
                except Exception:  # noqa: BLE001 - clean-up
                    pass

    def test_container_metadata_mirrored(self, provider, swift2):
        name = 'cloudsync-meta-%s' % uuid.uuid4().hex[:8]
        provider.check_target(name, create=True)
        try:
            swift2.post_container(name, {'X-Container-Meta-Stale': 'x'})
            local = {'X-Container-Meta-Color': 'Blue \u00e9',
                     'X-Container-Read': '.r:*', 'X-Object-Count': '3'}
            assert provider.update_container_metadata(name, local) is True
            headers = swift2.head_container(name)
            assert headers['x-container-meta-color'] == 'Blue \u00e9'
            assert 'x-container-meta-stale' not in headers
            assert 'x-container-read' not in headers
            assert provider.update_container_metadata(name, local) is False
            assert provider.update_container_metadata(name, local,
                                                      acl=True) is True
            assert swift2.head_container(name)['x-container-read'] == '.r:*'
        finally:
            swift2.delete_container(name)

    def test_remote_account(self, swift2):
        # NOTE: the reseller admin may write into any account.
        provider = self.make_provider(access_key='admin:admin',
                                      secret_key='admin',
                                      remote_account='AUTH_test2')
        name = 'cloudsync-account-%s' % uuid.uuid4().hex[:8]
        try:
            provider.check_target(name, create=True)
            provider.put_object(name, 'o', b'data', 4, md5=_md5(b'data'))
            assert swift2.get_object(name, 'o')[1] == b'data'
            provider.delete_object(name, 'o')
        finally:
            provider.close()
            swift2.delete_container(name)

    def test_location_names_user_not_key(self, provider):
        assert provider.location('c') == '%s;test2:tester2;c' % self.endpoint


class TestS3CloneConformance(conformance.ProviderConformance):
    """The ``s3-clone`` provider on Swift's s3api, a real S3 clone."""

    bucket = 'cloudsync-conformance-clone'
    endpoint = None

    @pytest.fixture(scope='class', autouse=True)
    @classmethod
    def _s3api(cls, aio_state):
        cls.endpoint = aio_state['s3api_endpoint']

    def make_provider(self, **options):
        settings = dict(endpoint=self.endpoint, access_key='test:tester',
                        secret_key='testing', max_retries=1,
                        retry_backoff=0.1)
        settings.update(options)
        return conformance.build_provider('s3-clone', **settings)

    def make_bad_provider(self, secret_key):
        return self.make_provider(secret_key=secret_key, max_retries=0)

    def test_no_encryption_header_and_path_style(self, provider, prefix):
        sent = []
        provider.client.meta.events.register(
            'before-send.s3', lambda request, **kw: sent.append(request))
        self.put(provider, prefix + 'x', b'x')
        request, = sent
        assert not any(h.lower().startswith('x-amz-server-side-encryption')
                       for h in request.headers)
        assert request.url.startswith('%s/%s/' % (self.endpoint,
                                                  self.bucket))

    def test_signature_version_2(self, prefix):
        v2 = self.make_provider(signature_version='s3')
        try:
            key = prefix + 'v2 \u00e9'
            self.put(v2, key, b'v2')
            assert self.get(v2, key) == b'v2'
        finally:
            v2.close()

    def test_four_byte_names_refused_one_by_one(self, provider, prefix):
        strict = self.make_provider(allow_4byte_utf8=False)
        try:
            key = prefix + 'smile-\U0001F600'
            with pytest.raises(exceptions.InvalidObject) as info:
                strict.put_object(self.bucket, key, b'x', 1)
            assert 'U+1F600' in str(info.value)
            assert key in str(info.value)
            with pytest.raises(exceptions.InvalidObject):
                strict.put_multipart(self.bucket, key, _parts([b'x']))
            self.assert_missing(provider, key)
            # other names go on as usual
            self.put(strict, prefix + 'plain \u00e9', b'ok')
        finally:
            strict.close()

    def test_metadata_update_without_part_copy(self, provider, prefix):
        datas = [os.urandom(5 * 1024 * 1024), b'tail']
        key = prefix + 'no-part-copy'
        etag = provider.put_multipart(self.bucket, key, _parts(datas),
                                      metadata={'a': '1'})
        plain = self.make_provider(multipart_copy=False)
        copies = []
        plain.client.meta.events.register(
            'before-call.s3.UploadPartCopy',
            lambda **kw: copies.append(kw))
        try:
            assert plain.update_metadata(self.bucket, key, 'text/x-new',
                                         {'b': '2'}) == etag
            info = plain.head_object(self.bucket, key)
            assert (info.etag, info.metadata, info.content_type) == (
                etag, {'b': '2'}, 'text/x-new')
            assert self.get(plain, key) == b''.join(datas)
            assert copies == []
        finally:
            plain.close()


class TestGCSConformance(gcs_checks.GCSSemantics,
                         conformance.ProviderConformance):
    """The ``gcs`` provider on moto behind the GCS-behaving proxy."""

    bucket = 'cloudsync-conformance-gcs'
    proxy = None

    @pytest.fixture(scope='class', autouse=True)
    @classmethod
    def _gcs(cls, aio_state):
        with gcs_proxy.GCSProxy(aio_state['moto_endpoint']) as proxy:
            cls.proxy = proxy
            yield

    def make_provider(self, **options):
        settings = dict(endpoint=self.proxy.url, access_key='GOOG1ETEST',
                        secret_key='gcs-secret', max_retries=1,
                        retry_backoff=0.1)
        settings.update(options)
        return conformance.build_provider('gcs', **settings)

    def _signed(self, conn, method, path):
        request = awsrequest.AWSRequest(method=method,
                                        url=self.proxy.url + path)
        auth.S3SigV4Auth(credentials.Credentials('GOOG1ETEST', 'gcs-secret'),
                         's3', 'us-east-1').add_auth(request)
        conn.request(method, path, headers=dict(request.headers.items()))
        resp = conn.getresponse()
        return resp, resp.read()

    def test_the_proxy_keeps_connections_it_does_not_close(self, provider,
                                                           prefix):
        # A client reuses its connection after a bodiless answer (204 to
        # a DELETE): the proxy must not close it under the client, or the
        # next request, a one-way stream included, meets a closed socket.
        key = prefix + 'deleted'
        self.put(provider, key, b'x')
        conn = http.client.HTTPConnection('127.0.0.1', self.proxy.port,
                                          timeout=30)
        try:
            resp, _ = self._signed(conn, 'DELETE',
                                   '/%s/%s' % (self.bucket, key))
            assert resp.status == 204
            assert resp.getheader('Connection') != 'close'
            resp, _ = self._signed(conn, 'HEAD',
                                   '/%s/%s' % (self.bucket, key))
            assert resp.status == 404
            resp, body = self._signed(conn, 'GET', '/%s?prefix=%s' % (
                self.bucket, urllib.parse.quote(prefix, safe='')))
            assert resp.status == 200
            assert b'ListBucketResult' in body
        finally:
            conn.close()

    def test_quirks_seen_on_the_wire(self, provider, prefix):
        before = len(self.proxy.requests)
        key = prefix + 'quirks %41+'
        self.put(provider, key, b'q', metadata={'color': 'Blue'})
        # metadata answered as x-goog-meta-* is read
        assert provider.head_object(self.bucket, key).metadata == {
            'color': 'Blue'}
        # listed names are neither encoded nor decoded twice
        assert [e.key for e in provider.list_all(
            self.bucket, prefix=prefix)] == [key]
        provider.put_multipart(self.bucket, prefix + 'big',
                               _parts([b'a' * 10, b'b']))
        provider.delete_object(self.bucket, key)
        sent = self.proxy.requests[before:]
        assert not any('encoding-type' in path for _, path, _ in sent)
        assert not any('uploads' in path or 'partNumber' in path or
                       '?delete' in path for _, path, _ in sent)
        assert all(status != 501 for _, _, status in sent)

    def test_large_metadata_update_is_a_reupload(self, provider, prefix):
        key = prefix + 'large'
        data = os.urandom(64 * KiB)
        self.put(provider, key, data)
        small = self.make_provider()
        small.MAX_COPY_SIZE = 1024
        try:
            assert small.update_metadata(self.bucket, key, 'a/b',
                                         {'x': 'y'}) == _md5(data)
            info = small.head_object(self.bucket, key)
            assert (info.metadata, info.content_type) == ({'x': 'y'}, 'a/b')
            assert self.get(small, key) == data
        finally:
            small.close()

    def test_location(self, provider):
        assert provider.location(self.bucket) == '%s;%s' % (
            self.proxy.url, self.bucket)
