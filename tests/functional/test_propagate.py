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
"""Row propagation between the real all-in-one Swift cluster and moto.

Rows are read from a real container database of the all-in-one, objects
through Swift's real InternalClient, and written with the real ``s3``
provider to moto, exactly as the daemon does, one row at a time.
"""

import hashlib
import json
import os

import pytest
from swift.common import direct_client
from swift.common.ring import Ring
from swift.common import utils as swift_utils
from swiftclient import client as swiftclient

from cloudsync import conf
from cloudsync import large_objects
from cloudsync import lifecycle
from cloudsync import local
from cloudsync import metadata as md
from cloudsync.sync import crawler
from cloudsync.sync import propagate
from cloudsync.sync import stats as stats_mod
from tests.functional.daemon_helpers import aio_cloudsync

ACCOUNT = 'AUTH_test'
MiB = 1024 * 1024
KiB = 1024
COPY = lifecycle.Decision(lifecycle.Action.COPY)
ARCHIVE = lifecycle.Decision(lifecycle.Action.ARCHIVE)
REMOVE = lifecycle.Decision(lifecycle.Action.REMOVE_REMOTE)
Outcome = propagate.Outcome


def md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


#: provider methods that send no request (checks made before one)
LOCAL_CHECKS = frozenset(['check_key'])


class CountingProvider:
    """The real provider, counting the calls made to it."""

    def __init__(self, provider):
        self._provider = provider
        self.calls = []
        self.after = {}

    def __getattr__(self, name):
        attr = getattr(self._provider, name)
        if not callable(attr) or name.startswith('_') or \
                name in LOCAL_CHECKS:
            return attr

        def call(*args, **kwargs):
            self.calls.append(name)
            result = attr(*args, **kwargs)
            hook = self.after.get(name)
            if hook:
                hook()
            return result
        return call

    def count(self, name):
        return self.calls.count(name)


class Env:
    """A mapping of one new container to one new moto bucket."""

    def __init__(self, aio, tmp_path, swift, s3, container, bucket,
                 **options):
        self.aio = aio
        self.swift = swift
        self.s3 = s3
        self.container = container
        self.bucket = bucket
        path = tmp_path / 'cloudsync.conf'
        aio_cloudsync.write_conf(
            path, aio.state,
            {'fn': dict(options, account=ACCOUNT, container=container,
                        bucket=bucket)},
            {'moto': aio_cloudsync.remote(
                aio.state, addressing_style='path', max_retries=2,
                retry_backoff=0.1)},
            devices=aio.state['nodes'][0]['devices'],
            status_dir=tmp_path / 'status')
        self.config = conf.load_file(str(path))
        self.mapping = self.config.mapping_for(ACCOUNT, container)
        self.ic = local.make_internal_client(self.config.conf)
        self.provider = CountingProvider(
            self.mapping.remote.provider(max_connections=4))
        self.stats = stats_mod.NullStats()
        self.propagator = propagate.RowPropagator(
            self.mapping, ACCOUNT, container, self.provider, self.ic,
            stats=self.stats)
        self.layout = self.mapping.remote_layout(container)

    # -- the local side ------------------------------------------------------

    def rows(self, container=None):
        """The newest row of every name, from the container's databases."""
        container = container or self.container
        local.use_swift_dir(self.aio.swift_dir)
        newest = {}
        from swift.container.backend import ContainerBroker
        for path in self.aio.container_db_paths(ACCOUNT, container):
            if not os.path.exists(path):
                continue
            broker = ContainerBroker(path, account=ACCOUNT,
                                     container=container)
            for raw in broker.get_items_since(0, 100000):
                row = crawler.row_from_db(raw)
                have = newest.get(row.name)
                if have is None or have.meta_timestamp < row.meta_timestamp:
                    newest[row.name] = row
        return newest

    def row(self, name):
        return self.rows()[name]

    def handle(self, name, decision=COPY):
        return self.propagator.handle(self.row(name), decision)

    def put(self, name, data, headers=None, container=None, **kwargs):
        return self.swift.put_object(container or self.container, name,
                                     data, headers=headers, **kwargs)

    def local_head(self, name):
        try:
            return self.swift.head_object(self.container, name)
        except swiftclient.ClientException as exc:
            if exc.http_status == 404:
                return None
            raise

    # -- the remote side -----------------------------------------------------

    def key(self, name):
        return self.layout.object_key(name)

    def remote(self, name):
        resp = self.s3.get_object(Bucket=self.bucket, Key=self.key(name))
        return resp, resp['Body'].read()

    def remote_exists(self, name):
        listing = self.s3.list_objects_v2(Bucket=self.bucket,
                                          Prefix=self.key(name))
        return any(o['Key'] == self.key(name)
                   for o in listing.get('Contents', ()))


@pytest.fixture
def env(aio, tmp_path, swift, s3, container, bucket):
    return Env(aio, tmp_path, swift, s3, container, bucket)


def make_env(aio, tmp_path, swift, s3, container, bucket, **options):
    return Env(aio, tmp_path, swift, s3, container, bucket, **options)


def upload_segments(env, sizes, prefix='seg/'):
    env.swift.put_container(env.container + '-segs')
    segments = []
    for number, size in enumerate(sizes):
        data = os.urandom(size)
        name = '%s%04d' % (prefix, number)
        etag = env.put(name, data, container=env.container + '-segs')
        segments.append((name, data, etag))
    return segments


def put_slo(env, name, segments, ranges=None, headers=None):
    manifest = []
    for index, (seg, _data, etag) in enumerate(segments):
        entry = {'path': '/%s-segs/%s' % (env.container, seg),
                 'etag': etag}
        if ranges and ranges.get(index):
            entry['range'] = ranges[index]
        manifest.append(entry)
    env.swift.put_object(env.container, name, json.dumps(manifest),
                         headers=headers,
                         query_string='multipart-manifest=put')


def test_an_object_with_unicode_name_and_metadata(env):
    name = '\U0001f600 caf\u00e9/100% sure?.txt'
    data = os.urandom(64 * KiB)
    meta = {'X-Object-Meta-Title': 'r\u00e9sum\u00e9 \U0001f680',
            'X-Object-Meta-Plain': 'Mixed Case Value'}
    env.put(name, data, meta, content_type='text/plain; charset=utf-8')
    assert env.handle(name) is Outcome.COPIED
    resp, body = env.remote(name)
    assert body == data
    assert resp['ETag'].strip('"') == md5(data)
    assert resp['ContentType'] == 'text/plain; charset=utf-8'
    assert md.remote_to_swift(resp['Metadata']) == meta
    local_ts = env.local_head(name)['x-timestamp']
    assert swift_utils.Timestamp(md.internal_values(resp['Metadata'])[
        md.TIMESTAMP_KEY]) == swift_utils.Timestamp(local_ts)
    assert env.stats.totals['bytes'] == len(data)

    env.provider.calls.clear()
    assert env.handle(name) is Outcome.UNCHANGED
    assert env.provider.calls == ['head_object']


def test_a_zero_byte_object_and_many_headers(env):
    # NOTE: 60, not 90: the all-in-one keeps object metadata in ext4
    # xattrs (about 4 KiB per inode), where Swift's pickled metadata of 90
    # headers (about 6 KiB) does not fit: the object servers answer 507.
    # The unit tests carry 90 headers through the propagator.
    meta = {'X-Object-Meta-H%02d' % i: str(i) for i in range(60)}
    env.put('empty', b'', meta)
    assert env.handle('empty') is Outcome.COPIED
    resp, body = env.remote('empty')
    assert body == b''
    assert md.remote_to_swift(resp['Metadata']) == meta
    assert env.handle('empty') is Outcome.UNCHANGED


def test_a_post_sends_metadata_only(env):
    env.put('doc', b'contents', {'X-Object-Meta-State': 'draft'})
    env.handle('doc')
    env.swift.post_object(env.container, 'doc',
                          {'X-Object-Meta-State': 'final'})
    row = env.row('doc')
    assert row.meta_timestamp > row.timestamp
    env.provider.calls.clear()
    assert env.propagator.handle(row, COPY) is Outcome.METADATA_UPDATED
    assert 'put_object' not in env.provider.calls
    assert 'put_multipart' not in env.provider.calls
    resp, body = env.remote('doc')
    assert body == b'contents'
    assert md.remote_to_swift(resp['Metadata']) == {
        'X-Object-Meta-State': 'final'}


def test_an_slo_of_5_mib_segments_is_a_multipart_upload(env):
    segments = upload_segments(env, [5 * MiB, 5 * MiB, 100 * KiB])
    put_slo(env, 'movie', segments, headers={'X-Object-Meta-K': 'v'})
    assert env.handle('movie') is Outcome.COPIED
    expected = large_objects.multipart_etag([s[2] for s in segments])
    head = env.s3.head_object(Bucket=env.bucket, Key=env.key('movie'))
    assert head['ETag'].strip('"') == expected
    assert md.remote_to_swift(head['Metadata']) == {
        'X-Object-Meta-K': 'v', 'X-Static-Large-Object': 'True'}
    _, body = env.remote('movie')
    assert md5(body) == md5(b''.join(s[1] for s in segments))
    local_etag = env.swift.head_object(env.container, 'movie')['etag']
    assert md.internal_values(head['Metadata'])[md.SLO_ETAG_KEY] == \
        local_etag.strip('"')
    manifest = env.s3.get_object(Bucket=env.bucket,
                                 Key=env.layout.manifest_key('movie'))
    assert manifest['ContentType'] == 'application/json'
    assert [e['name'] for e in json.loads(manifest['Body'].read())] == [
        '/%s-segs/%s' % (env.container, s[0]) for s in segments]
    env.provider.calls.clear()
    assert env.handle('movie') is Outcome.UNCHANGED
    assert env.provider.calls == ['head_object']


def test_an_slo_of_small_segments_and_ranges_is_byte_identical(env):
    segments = upload_segments(env, [100 * KiB, 200 * KiB, 50 * KiB])
    put_slo(env, 'small', segments, ranges={1: '10-150000'})
    assert env.handle('small') is Outcome.COPIED
    _, body = env.remote('small')
    swift_body = env.swift.get_object(env.container, 'small')[1]
    assert body == swift_body
    assert env.handle('small') is Outcome.UNCHANGED


def test_an_slo_of_small_segments_over_the_part_size(env):
    # 12 segments of 512 KiB: too small to be parts, cut again into parts
    segments = upload_segments(env, [512 * KiB] * 12)
    put_slo(env, 'cut', segments)
    assert env.handle('cut') is Outcome.COPIED
    _, body = env.remote('cut')
    assert md5(body) == md5(env.swift.get_object(env.container, 'cut')[1])
    assert env.handle('cut') is Outcome.UNCHANGED


def test_a_dlo_is_its_concatenation(env):
    segments = upload_segments(env, [30 * KiB, 10 * KiB], prefix='d/')
    env.put('dlo', b'', {'X-Object-Manifest': '%s-segs/d/' % env.container})
    assert env.handle('dlo') is Outcome.COPIED
    resp, body = env.remote('dlo')
    assert body == b''.join(s[1] for s in segments)
    assert md.remote_to_swift(resp['Metadata']) == {
        'X-Object-Manifest': '%s-segs/d/' % env.container}
    assert env.handle('dlo') is Outcome.UNCHANGED


def test_a_delete_removes_the_remote_copy(env):
    env.put('gone', b'soon gone')
    env.handle('gone')
    env.swift.delete_object(env.container, 'gone')
    row = env.row('gone')
    assert row.deleted
    assert env.propagator.handle(row, REMOVE) is Outcome.DELETED
    assert not env.remote_exists('gone')
    assert env.propagator.handle(row, REMOVE) is Outcome.NOT_FOUND_REMOTE


def test_a_stale_delete_leaves_a_newer_remote_copy(env):
    env.put('again', b'v1')
    env.swift.delete_object(env.container, 'again')
    delete_row = env.row('again')
    env.put('again', b'v2')
    env.handle('again')
    assert env.propagator.handle(delete_row, REMOVE) is Outcome.UNCHANGED
    assert env.remote('again')[1] == b'v2'


def test_a_delete_never_removes_what_another_stored_after_the_head(env):
    # NOTE: another writer (proxymc, say) stores a newer object in moto
    # between the daemon's HEAD and its DELETE: the DELETE carries the
    # ETag read (If-Match), moto refuses it, and the row, tried again,
    # reads the newer object and leaves it.
    env.put('raced', b'older, from Swift')
    env.handle('raced')
    env.swift.delete_object(env.container, 'raced')
    row = env.row('raced')
    newer = swift_utils.Timestamp(float(row.timestamp) + 60).internal

    def another_writes():
        env.provider.after.clear()
        env.s3.put_object(Bucket=env.bucket, Key=env.key('raced'),
                          Body=b'newer, from the cloud',
                          Metadata={md.TIMESTAMP_KEY: newer})
    env.provider.after['head_object'] = another_writes
    with pytest.raises(propagate.RetryLater):
        env.propagator.handle(row, REMOVE)
    assert env.remote('raced')[1] == b'newer, from the cloud'
    assert env.propagator.handle(row, REMOVE) is Outcome.UNCHANGED
    assert env.remote('raced')[1] == b'newer, from the cloud'
    assert env.provider.count('delete_object') == 1


def test_verify_finds_what_is_missing(env):
    for number in range(12):
        env.put('v%02d' % number, b'%d' % number)
    segments = upload_segments(env, [10 * KiB, 5 * KiB])
    put_slo(env, 'v-slo', segments)
    rows = env.rows()
    for row in rows.values():
        env.propagator.handle(row, COPY)
    env.s3.delete_object(Bucket=env.bucket, Key=env.key('v07'))
    env.provider.calls.clear()
    need = env.propagator.verify(list(rows.values()))
    assert [r.name for r in need] == ['v07']
    # one listing page for all of them, one HEAD for the SLO's metadata
    assert sorted(env.provider.calls) == ['head_object', 'list_objects']


@pytest.fixture
def archive_env(aio, tmp_path, swift, s3, container, bucket):
    return make_env(aio, tmp_path, swift, s3, container, bucket,
                    lifecycle='archive', archive_as='delete')


def direct_head(env, name):
    """HEAD every object server replica: 404 everywhere once deleted."""
    ring = Ring(env.aio.swift_dir, ring_name='object')
    part, nodes = ring.get_nodes(ACCOUNT, env.container, name)
    statuses = []
    for node in nodes:
        try:
            direct_client.direct_head_object(node, part, ACCOUNT,
                                             env.container, name)
            statuses.append(200)
        except direct_client.DirectClientException as exc:
            statuses.append(exc.http_status)
    return statuses


def test_archive_removes_the_local_copy_and_keeps_the_remote(archive_env):
    env = archive_env
    data = os.urandom(10 * KiB)
    env.put('cold', data, {'X-Object-Meta-K': 'v'})
    assert env.handle('cold', ARCHIVE) is Outcome.ARCHIVED
    assert env.local_head('cold') is None
    assert direct_head(env, 'cold') == [404, 404, 404]
    resp, body = env.remote('cold')
    assert body == data
    assert md.remote_to_swift(resp['Metadata']) == {'X-Object-Meta-K': 'v'}
    # the DELETE row archiving left behind keeps the remote copy
    tombstone = env.row('cold')
    assert tombstone.deleted
    assert env.propagator.handle(tombstone, REMOVE) is Outcome.UNCHANGED
    assert env.remote('cold')[1] == data


def test_archive_of_an_slo_removes_its_segments(archive_env):
    env = archive_env
    segments = upload_segments(env, [20 * KiB, 10 * KiB])
    put_slo(env, 'cold-slo', segments)
    assert env.handle('cold-slo', ARCHIVE) is Outcome.ARCHIVED
    assert env.local_head('cold-slo') is None
    for name, _, _ in segments:
        with pytest.raises(swiftclient.ClientException):
            env.swift.head_object(env.container + '-segs', name)
    assert env.remote('cold-slo')[1] == b''.join(s[1] for s in segments)


def test_archive_never_removes_an_object_overwritten_meanwhile(archive_env):
    env = archive_env
    real_request = env.ic.make_request
    refused = []

    for attempt in range(20):
        name = 'race-%02d' % attempt
        env.put(name, b'old %d' % attempt)
        row = env.row(name)

        def overwrite(name=name, attempt=attempt):
            env.put(name, b'new %d' % attempt)

        if attempt % 2:
            # after the upload: the second local HEAD sees the change
            env.provider.after = {'put_object': overwrite}
        else:
            # just before the DELETE: the object servers refuse it (409)
            env.provider.after = {}

            def make_request(method, path, headers, *args, **kwargs):
                if method != 'DELETE' or 'X-Timestamp' not in headers:
                    return real_request(method, path, headers, *args,
                                        **kwargs)
                overwrite()
                resp = real_request(method, path, headers, *args, **kwargs)
                refused.append(resp.status_int)
                return resp
            env.ic.make_request = make_request
        try:
            assert env.propagator.handle(row, ARCHIVE) is Outcome.UNCHANGED
        finally:
            env.ic.make_request = real_request
            env.provider.after = {}
        assert env.swift.get_object(env.container, name)[1] == \
            b'new %d' % attempt
    assert refused == [409] * 10
    assert 'archived_objects' not in env.stats.totals
