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
"""The ``s3-clone`` provider, against scripted S3-clone answers.

As in ``test_gcs_provider.py``, answers are served at botocore's
``before-send`` event, so botocore builds, signs and parses every request.
"""

import hashlib

from oslo_config import cfg
import pytest

from cloudsync.conf import opts
from cloudsync import exceptions
from cloudsync import providers
from cloudsync_providers import s3
from cloudsync_providers.s3 import client as s3_client
from cloudsync_providers import s3_clone
from tests.unit import test_gcs_provider as recorded_s3

MiB = 1024 * 1024
ENDPOINT = 'http://clone.test:8080'


def md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def make_conf(**options):
    conf = cfg.ConfigOpts()
    conf([], default_config_files=[])
    group = 'remote:clone'
    conf.register_opts(opts.remote_opts, group=group)
    conf.register_opts(s3_clone.OPTIONS, group=group)
    values = dict(provider='s3-clone', endpoint=ENDPOINT,
                  access_key='test:tester', secret_key='testing',
                  max_retries=0)
    values.update(options)
    for key, value in values.items():
        conf.set_override(key, value, group=group)
    return conf[group]


@pytest.fixture
def store():
    return recorded_s3.RecordedGCS()


@pytest.fixture
def make(store):
    made = []

    def make(**options):
        provider = s3_clone.S3CloneProvider('clone', make_conf(**options),
                                            sleep=lambda s: None)
        provider.client.meta.events.register('before-send.s3', store)
        made.append(provider)
        return provider
    yield make
    for provider in made:
        provider.close()


def test_options_for_clones():
    names = {opt.dest: opt for opt in s3_clone.OPTIONS}
    assert 'server_side_encryption' not in names
    assert names['addressing_style'].default == 'path'
    assert {'multipart_copy', 'allow_4byte_utf8',
            'signature_version'} <= set(names)
    # the s3 provider's own defaults are untouched
    assert {o.dest: o for o in s3.OPTIONS}['addressing_style'].default == \
        'auto'


@pytest.mark.parametrize('version', ['s3', 's3v4'])
def test_path_style_no_encryption_and_the_chosen_signature(make, store,
                                                           version):
    provider = make(signature_version=version)
    store.reply(200, b'', {'etag': '"%s"' % md5(b'x')})
    provider.put_object('bucket', 'k', b'x', 1, md5=md5(b'x'))
    put, = store.sent
    assert put['path'] == '/bucket/k'
    assert not any(h.startswith('x-amz-server-side-encryption')
                   for h in put['headers'])
    auth = put['headers']['authorization']
    assert auth.startswith('AWS4-HMAC-SHA256' if version == 's3v4'
                           else 'AWS test:tester:')


def test_four_byte_names_are_refused_before_sending(make, store):
    provider = make(allow_4byte_utf8=False)
    with pytest.raises(exceptions.InvalidObject) as info:
        provider.put_object('bucket', 'a/\U0001F600\U0001F4A9', b'x', 1)
    message = str(info.value)
    assert 'U+1F600, U+1F4A9' in message
    assert 'bucket/a/\U0001F600' in message
    assert store.sent == []
    # a 3-byte character is fine
    store.reply(200, b'', {'etag': '"%s"' % md5(b'x')})
    provider.put_object('bucket', '\u2603', b'x', 1)


def test_a_store_refusing_a_four_byte_name_is_explained(make, store):
    provider = make()
    store.reply(400, (b'<?xml version="1.0"?><Error><Code>InvalidArgument'
                      b'</Code><Message>Invalid name</Message></Error>'))
    with pytest.raises(exceptions.InvalidObject) as info:
        provider.put_object('bucket', 'smile \U0001F600', b'x', 1)
    assert 'U+1F600' in str(info.value)
    assert 'allow_4byte_utf8' in str(info.value)


def test_without_part_copy_a_metadata_update_uploads_again(make, store):
    provider = make(multipart_copy=False)
    datas = [b'a' * (5 * MiB), b'tail']
    digests = [md5(d) for d in datas]
    etag = s3.multipart_etag(digests)
    whole = b''.join(datas)
    head = {'etag': '"%s"' % etag, 'content-length': str(len(whole)),
            'content-type': 'a/b', 'last-modified':
            'Tue, 24 Nov 2026 08:19:24 GMT'}
    store.reply(200, b'', head)                           # HEAD
    store.reply(200, b'', dict(head, **{                  # HEAD part 1
        'content-length': str(len(datas[0])), 'x-amz-mp-parts-count': '2'}))
    store.reply(200, b'', dict(head, **{                  # HEAD part 2
        'content-length': str(len(datas[1])), 'x-amz-mp-parts-count': '2'}))
    store.reply(200, (b'<?xml version="1.0"?><InitiateMultipartUploadResult>'
                      b'<Bucket>bucket</Bucket><Key>k</Key><UploadId>up1'
                      b'</UploadId></InitiateMultipartUploadResult>'))
    for data in datas:
        store.reply(206, data, dict(head, **{
            'content-length': str(len(data)), 'content-range':
            'bytes %d-%d/%d' % (whole.index(data), whole.index(data) +
                                len(data) - 1, len(whole))}))
        store.reply(200, b'', {'etag': '"%s"' % md5(data)})
    store.reply(200, (b'<?xml version="1.0"?><CompleteMultipartUploadResult>'
                      b'<ETag>"' + etag.encode() + b'"</ETag>'
                      b'</CompleteMultipartUploadResult>'))
    with _one_part_at_a_time():
        assert provider.update_metadata('bucket', 'k', 'text/new',
                                        {'b': '2'}) == etag
    methods = [(s['method'], sorted(s['query'])) for s in store.sent]
    assert methods == [
        ('HEAD', []), ('HEAD', ['partNumber']), ('HEAD', ['partNumber']),
        ('POST', ['uploads']),
        ('GET', []), ('PUT', ['partNumber', 'uploadId']),
        ('GET', []), ('PUT', ['partNumber', 'uploadId']),
        ('POST', ['uploadId'])]
    gets = [s for s in store.sent if s['method'] == 'GET']
    assert [g['headers']['if-match'] for g in gets] == ['"%s"' % etag] * 2
    assert [g['headers']['range'] for g in gets] == [
        'bytes=0-%d' % (5 * MiB - 1), 'bytes=%d-%d' % (5 * MiB, 5 * MiB + 3)]
    assert not any('x-amz-copy-source' in s['headers'] for s in store.sent)


class _one_part_at_a_time:
    """The scripted answers come in order: send parts one by one."""

    def __enter__(self):
        self.saved = s3_client.MAX_PART_WORKERS
        s3_client.MAX_PART_WORKERS = 1

    def __exit__(self, *exc):
        s3_client.MAX_PART_WORKERS = self.saved


def test_ranged_stream_reads_in_any_size():
    body = providers.ObjectBody(
        providers.ObjectInfo(key='k', size=6, etag='', last_modified=0),
        iter([b'abc', b'def']))
    stream = s3_clone.RangeReader(body)
    assert stream.read(2) == b'ab'
    assert stream.read(3) == b'cde'
    assert stream.read() == b'f'
    assert stream.read(1) == b''
    stream.close()


def test_four_byte_characters():
    assert s3_clone.four_byte_characters('a\u2603\U0001F600') == [
        '\U0001F600']


def test_a_name_the_clone_refuses_is_found_before_any_request(make, store):
    provider = make(allow_4byte_utf8=False)
    with pytest.raises(exceptions.InvalidObject) as info:
        provider.check_key('bucket', 'a/\U0001F600')
    assert 'U+1F600' in str(info.value)
    assert store.sent == []
    provider.check_key('bucket', 'a/\u2603')


def test_clones_keep_the_head_before_a_metadata_change_and_a_delete():
    # NOTE: Swift's s3api ignores If-Match on PUT; not every clone has
    # DeleteObjects.
    assert not providers.puts_if_match(s3_clone.S3CloneProvider)
    assert not providers.deletes_in_one_request(s3_clone.S3CloneProvider)
    assert providers.puts_if_match(s3.S3Provider)
    assert providers.deletes_in_one_request(s3.S3Provider)
    assert not providers.deletes_if_match(s3_clone.S3CloneProvider)
    assert providers.deletes_if_match(s3.S3Provider)
