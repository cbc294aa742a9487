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
"""A migration over fakes: an in-memory source provider and an in-memory
Swift cluster behind Swift's real ``slo`` middleware and InternalClient.
"""

import types

from swift.common import swob

from cloudsync import concurrency
from cloudsync.conf import migration as migration_mod
from cloudsync.migrate import bucket_pass
from cloudsync.migrate import objects
from cloudsync.migrate import source as source_mod
from cloudsync.migrate import state as state_mod
from cloudsync.migrate import target as target_mod
from cloudsync.sync import container_pass
from cloudsync.sync import stats as stats_mod
from tests.unit import fakes

ACCOUNT = 'AUTH_test'


#: the object headers Swift's object server keeps besides those FakeSwift
#: keeps (its default ``allowed_headers``)
MORE_KEPT = ('content-language', 'cache-control', 'expires', 'x-robots-tag')


class MigrationSwift(fakes.FakeSwift):
    """FakeSwift with what the migrator relies on besides: ``If-None-Match:
    *`` on PUT, container metadata and ACLs kept on PUT, every header of
    the object server's default ``allowed_headers`` kept, and an
    ``X-Delete-At`` in the past refused, as Swift's proxy does.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: what the proxy takes as now, for X-Delete-At
        self.now = 1700002000.0

    def _object_PUT(self, req, account, container, obj, params):
        if req.headers.get('If-None-Match') == '*' and \
                self.get(account, container, obj) is not None:
            return swob.HTTPPreconditionFailed(request=req)
        if 'X-Delete-At' in req.headers and \
                int(req.headers['X-Delete-At']) <= self.now:
            return swob.HTTPBadRequest(request=req,
                                       body=b'X-Delete-At in past')
        resp = super()._object_PUT(req, account, container, obj, params)
        record = self.get(account, container, obj)
        if record is not None and resp.status_int // 100 == 2:
            for key, value in req.headers.items():
                if key.lower() in MORE_KEPT:
                    record.headers[key.title()] = swob.wsgi_to_str(value)
        return resp

    def _object_HEAD(self, req, account, container, obj, params):
        # NOTE: Swift's proxy gives an object's ETag unquoted, which its
        # symlink middleware compares with a static link's as it is.
        resp = super()._object_HEAD(req, account, container, obj, params)
        if resp.headers.get('Etag'):
            resp.headers['Etag'] = resp.headers['Etag'].strip('"')
        return resp

    def _container_PUT(self, req, account, container, obj, params):
        resp = super()._container_PUT(req, account, container, obj, params)
        self.containers[(account, container)]['headers'] = {
            k: v for k, v in req.headers.items()
            if k.lower().startswith('x-container-') or
            k.lower() == 'x-storage-policy'}
        return resp


class SwiftLikeSource(fakes.FakeProvider):
    """A source that keeps Swift containers (metadata and ACLs) and
    symlinks.
    """

    BUCKET_PER_CONTAINER = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.container_headers = {}
        self.links = {}

    def container_metadata(self, bucket):
        return dict(self.container_headers.get(bucket, {}))

    def symlink_target(self, bucket, key):
        self.head_object(bucket, key)
        target = self.links.get((bucket, key))
        return (target, None) if target else None

    def link(self, bucket, key, target, target_etag=None):
        self.put_raw(bucket, key, b'', content_type='application/symlink')
        self.links[(bucket, key)] = target
        stored = self.buckets[bucket][key]
        stored.symlink_target = target
        stored.symlink_target_etag = target_etag

    def _info(self, key, obj):
        info = super()._info(key, obj)
        info.symlink_target = getattr(obj, 'symlink_target', None)
        info.symlink_target_etag = getattr(obj, 'symlink_target_etag', None)
        info.content_headers = dict(getattr(obj, 'content_headers', {}))
        return info


class HeadersSource(fakes.FakeProvider):
    """An S3-like source that keeps content headers
    (:meth:`with_headers`).
    """

    def _info(self, key, obj):
        info = super()._info(key, obj)
        info.content_headers = dict(getattr(obj, 'content_headers', {}))
        return info


def with_headers(provider, bucket, key, expires_at=None, **headers):
    """Give a source object content headers (``content_disposition=``
    for ``content-disposition``) and an expiry.
    """
    stored = provider.buckets[bucket][key]
    stored.content_headers = {k.replace('_', '-'): v
                              for k, v in headers.items()}
    stored.expires_at = expires_at


class MultipartSource(fakes.FakeProvider):
    """An S3-like source that tells a multipart object's parts."""

    def put_parts(self, bucket, key, parts):
        data = b''.join(parts)
        md5s = [fakes.md5_hex(p) for p in parts]
        self.put_raw(bucket, key, data, etag=objects.multipart_etag(md5s))
        self.buckets[bucket][key].part_sizes = [len(p) for p in parts]

    def part_ranges(self, bucket, key, info):
        ranges, offset = [], 0
        for size in self.buckets[bucket][key].part_sizes:
            ranges.append((offset, size))
            offset += size
        return ranges


class Clock(object):
    def __init__(self, now=1700001000.0):
        self.now = now

    def __call__(self):
        return self.now


def migration(provider, bucket='src', container='dest', **options):
    remote = types.SimpleNamespace(
        name='old', provider_name='fake', endpoint=None,
        provider_cls=type(provider))
    values = dict(name='m', section='migration:m', remote=remote,
                  bucket=bucket, account=ACCOUNT, container=container)
    values.update(options)
    return migration_mod.Migration(**values)


class Setup(object):
    """One migration, its source, Swift, progress and statsd counters."""

    def __init__(self, tmp_path, provider=None, **options):
        self.provider = provider or fakes.FakeProvider()
        self.provider.clock = Clock(1700000000.0)
        self.provider.buckets.setdefault('src', {})
        self.swift = MigrationSwift(start=1700005000.0)
        client = fakes.FakeInternalClient(self.swift)
        client.app = target_mod.wrap(self.swift)
        self.client = client
        self.migration = migration(self.provider, **options)
        self.source = source_mod.MigrationSource(self.migration,
                                                 self.provider)
        self.target = target_mod.SwiftTarget(client, ACCOUNT)
        self.path = str(tmp_path / 'm.json')
        self.clock = Clock(1700002000.0)
        self.stats = stats_mod.NullStats('m')
        self.stop = concurrency.StopFlag()

    def state(self):
        return state_mod.MigrationState.load(
            self.path, 'm', self.migration.fingerprint(), now=self.clock())

    def run(self, share=None, page_size=1000, slack=3600.0):
        state = self.state()
        migrator = objects.ObjectMigrator(
            self.migration, self.source, self.target, clock=self.clock,
            since=state.started)
        one = bucket_pass.BucketPass(
            self.migration, 'src', migrator, state,
            share or bucket_pass.NodeShare(), self.stats, self.stop,
            workers=2, slack=slack, page_size=page_size, clock=self.clock)
        finished = one.run()
        return finished, state

    def put_source(self, key, data, **kwargs):
        self.provider.clock.now += 1
        self.provider.put_raw('src', key, data, **kwargs)

    def swift_object(self, name, container='dest'):
        return self.swift.get(ACCOUNT, container, name)

    def object_requests(self, method):
        return [r for r in self.swift.requests_for(method)
                if r.obj is not None]


def owner(name, count):
    return container_pass.row_owner(name, count)
