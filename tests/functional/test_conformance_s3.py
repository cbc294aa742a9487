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
"""The ``s3`` provider against moto's S3 server and Swift's s3api.

Both run the whole provider conformance kit (:mod:`cloudsync.conformance`),
plus the S3-specific paths: the part-by-part metadata copy of objects too
large for CopyObject, lifecycle rules, ListObjects v1, Signature v2, and
the clean-up of failed multipart uploads.

The all-in-one's moto accepts any credentials; the bad-credentials check
runs against a second moto server of this module that enforces
authentication (``INITIAL_NO_AUTH_ACTION_COUNT=0``: it knows no keys), and
against s3api.
"""

import hashlib
import io
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from cloudsync import conformance
from cloudsync import exceptions
from cloudsync import providers
from cloudsync_providers import s3

MiB = 1024 * 1024


def _md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class _S3Store(conformance.ProviderConformance):
    """Builds ``s3`` providers for the endpoint the fixture found."""

    bucket = 'cloudsync-conformance'
    endpoint = access_key = secret_key = None
    #: the store keeps lifecycle rules
    lifecycle = True

    def make_provider(self, **options):
        settings = dict(endpoint=self.endpoint, access_key=self.access_key,
                        secret_key=self.secret_key, addressing_style='path',
                        max_retries=2, retry_backoff=0.1)
        settings.update(options)
        return conformance.build_provider('s3', **settings)

    # -- S3-specific checks ------------------------------------------------

    def _parts(self, datas, md5s=None):
        md5s = md5s or [_md5(d) for d in datas]
        return [providers.Part(number=n, size=len(d), md5=md5,
                               open=lambda d=d: io.BytesIO(d))
                for n, (d, md5) in enumerate(zip(datas, md5s), 1)]

    def test_provider_class(self, provider):
        assert isinstance(provider, s3.S3Provider)

    def test_large_object_metadata_copy_keeps_etag(self, provider, prefix):
        # NOTE: objects over 5 GiB are copied part by part; lowering the
        # threshold runs that path with a small object.
        datas = [os.urandom(5 * MiB), os.urandom(5 * MiB), b'tail']
        key = prefix + 'large \u00e9%41+'
        etag = provider.put_multipart(self.bucket, key, self._parts(datas),
                                      content_type='a/b',
                                      metadata={'a': '1'})
        assert etag == s3.multipart_etag([_md5(d) for d in datas])
        copier = self.make_provider()
        copier.MAX_COPY_SIZE = 0
        try:
            assert copier.update_metadata(
                self.bucket, key, metadata={'b': '2'}) == etag
            info = copier.head_object(self.bucket, key)
            assert info.etag == etag
            assert info.metadata == {'b': '2'}
            assert info.content_type == 'a/b'
            assert copier.get_object(self.bucket, key).read_all() == \
                b''.join(datas)
            # a single-PUT object becomes a one-part multipart object
            single = prefix + 'single'
            self.put(provider, single, b'single')
            copier.update_metadata(self.bucket, single, 'text/plain',
                                   {'c': '3'})
            info = copier.head_object(self.bucket, single)
            assert info.etag == s3.multipart_etag([_md5(b'single')])
            assert info.metadata == {'c': '3'}
            assert copier.get_object(self.bucket, single).read_all() == \
                b'single'
        finally:
            copier.close()

    def test_failed_multipart_is_aborted(self, provider, prefix):
        datas = [os.urandom(5 * MiB), os.urandom(5 * MiB), b'tail']
        md5s = [_md5(datas[0]), _md5(b'wrong'), _md5(datas[2])]
        key = prefix + 'aborted'
        with pytest.raises(exceptions.ChecksumMismatch):
            provider.put_multipart(self.bucket, key,
                                   self._parts(datas, md5s))
        uploads = provider.client.list_multipart_uploads(
            Bucket=self.bucket, Prefix=key).get('Uploads') or []
        assert [u for u in uploads if u['Key'] == key] == []
        self.assert_missing(provider, key)

    def test_interrupted_multipart_is_aborted(self, provider, prefix):
        key = prefix + 'interrupted'

        def interrupt():
            raise KeyboardInterrupt()

        parts = self._parts([os.urandom(5 * MiB), b'tail'])
        parts[1].open = interrupt
        with pytest.raises(KeyboardInterrupt):
            provider.put_multipart(self.bucket, key, parts)
        uploads = provider.client.list_multipart_uploads(
            Bucket=self.bucket, Prefix=key).get('Uploads') or []
        assert [u for u in uploads if u['Key'] == key] == []

    def test_list_version_1(self, provider, prefix):
        names = ['a%41', 'b+c', 'd e/f', '\U0001F600', 'g/h']
        for name in names:
            self.put(provider, prefix + name, b'x')
        v1 = self.make_provider(list_version=1)
        try:
            keys = [e.key for e in v1.list_all(self.bucket, prefix=prefix)]
            assert keys == sorted(prefix + n for n in names)
            page = v1.list_objects(self.bucket, prefix=prefix,
                                   delimiter='/', limit=2)
            assert [(e.key, e.is_prefix) for e in page.entries] == [
                (prefix + 'a%41', False), (prefix + 'b+c', False)]
            assert page.truncated
            rest = list(v1.list_all(self.bucket, prefix=prefix,
                                    delimiter='/', marker=page.next_marker))
            assert [(e.key, e.is_prefix) for e in rest] == [
                (prefix + 'd e/', True), (prefix + 'g/', True),
                (prefix + '\U0001F600', False)]
        finally:
            v1.close()

    def test_expiration_rules(self, provider):
        if not self.lifecycle:
            with pytest.raises(exceptions.NotSupported):
                provider.set_expiration(self.bucket, 'x/', 86400)
            return
        buckets = ['cloudsync-lifecycle-%s' % uuid.uuid4().hex[:12]
                   for _ in range(2)]
        client = provider.client
        try:
            self._check_rules(provider, *buckets)
        finally:
            for bucket in buckets:
                try:
                    client.delete_bucket_lifecycle(Bucket=bucket)
                    client.delete_bucket(Bucket=bucket)
                except Exception:  # noqa: BLE001 - best effort
                    pass

    def _check_rules(self, provider, bucket, fresh):
        client = provider.client
        provider.check_target(bucket, create=True)
        other = {'ID': 'theirs', 'Filter': {'Prefix': 'other/'},
                 'Expiration': {'Days': 9}, 'Status': 'Enabled'}
        client.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={'Rules': [other]})

        def rules():
            return {r['ID']: (r['Filter'].get('Prefix'),
                              r['Expiration']['Days'], r['Status'])
                    for r in client.get_bucket_lifecycle_configuration(
                        Bucket=bucket)['Rules']}

        assert provider.set_expiration(bucket, 'ours/', 2.4 * 86400)
        assert rules() == {'theirs': ('other/', 9, 'Enabled'),
                           'ours/': ('ours/', 2, 'Enabled')}
        assert provider.set_expiration(bucket, 'ours/', 2 * 86400) is False
        assert provider.set_expiration(bucket, 'ours/', 3600) is True
        assert rules() == {'theirs': ('other/', 9, 'Enabled'),
                           'ours/': ('ours/', 1, 'Enabled')}
        assert provider.set_expiration(bucket, 'more/', 86400) is True
        assert set(rules()) == {'theirs', 'ours/', 'more/'}

        provider.check_target(fresh, create=True)
        assert provider.set_expiration(fresh, 'p/', 86400) is True
        assert provider.set_expiration(fresh, 'p/', 86400) is False


@pytest.fixture(scope='module')
def aio_state(aio):
    return aio.state


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def strict_moto():
    """A moto S3 server that refuses every access key; its endpoint."""
    port = _free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT='0')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'moto.server', '-H', '127.0.0.1', '-p',
         str(port)], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(('127.0.0.1', port), 0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail('moto with authentication did not start')
                time.sleep(0.1)
        yield 'http://127.0.0.1:%d' % port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class TestS3ConformanceMoto(_S3Store):
    """moto's S3 server."""

    @pytest.fixture(scope='class', autouse=True)
    @classmethod
    def _moto(cls, aio_state, strict_moto):
        cls.endpoint = aio_state['moto_endpoint']
        cls.access_key = aio_state['moto_access_key']
        cls.secret_key = aio_state['moto_secret_key']
        cls.strict_endpoint = strict_moto

    def make_bad_provider(self, secret_key):
        # NOTE: the all-in-one's moto accepts any credentials.
        return self.make_provider(endpoint=self.strict_endpoint,
                                  access_key='AKIDCLOUDSYNCWRONG',
                                  secret_key=secret_key, max_retries=0)

    def test_refused_access_key_message(self):
        bad = self.make_bad_provider('cloudsync-WRONG-secret')
        try:
            with pytest.raises(exceptions.AuthError) as info:
                bad.put_object(self.bucket, 'k', b'x', 1)
            assert str(info.value) == (
                'remote conformance: PutObject cloudsync-conformance/k: the '
                'remote refused the credentials (403 InvalidAccessKeyId)')
        finally:
            bad.close()


class TestS3ConformanceS3api(_S3Store):
    """Swift's s3api, a real S3 clone (path-style, account:user keys)."""

    lifecycle = False

    @pytest.fixture(scope='class', autouse=True)
    @classmethod
    def _s3api(cls, aio_state):
        cls.endpoint = aio_state['s3api_endpoint']
        cls.access_key = 'test:tester'
        cls.secret_key = 'testing'

    def make_bad_provider(self, secret_key):
        return self.make_provider(secret_key=secret_key, max_retries=0)

    def test_unknown_access_key(self):
        bad = self.make_provider(access_key='nobody:nobody',
                                 secret_key='cloudsync-WRONG-secret')
        try:
            with pytest.raises(exceptions.AuthError) as info:
                bad.check_target(self.bucket)
            assert 'cloudsync-WRONG-secret' not in str(info.value)
            assert 'refused the credentials' in str(info.value)
        finally:
            bad.close()

    def test_signature_v2(self, prefix):
        v2 = self.make_provider(signature_version='s3')
        try:
            key = prefix + 'sig v2 \u00e9'
            assert v2.put_object(self.bucket, key, b'v2', 2,
                                 md5=_md5(b'v2')) == _md5(b'v2')
            assert v2.get_object(self.bucket, key).read_all() == b'v2'
            assert [e.key for e in v2.list_all(
                self.bucket, prefix=prefix)] == [key]
        finally:
            v2.close()
