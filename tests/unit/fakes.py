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
"""In-memory stand-ins for a remote store and for the local Swift cluster.

:class:`FakeProvider` implements the whole :class:`cloudsync.providers.
Provider` contract the way S3 behaves: Content-MD5 checks, multipart
uploads with part-size rules and ``md5(part md5s)-N`` ETags, ranges,
conditional GETs, listings with prefix, delimiter, marker and pages, and
header-safe metadata under S3's 2 KiB limit. Every call is recorded in
:attr:`FakeProvider.calls`, and failures can be injected per operation.

:class:`FakeSwift` is a WSGI app behaving like a Swift proxy with its
object servers and *without* the SLO and DLO middlewares (what the
daemon's internal client sees): raw SLO manifests, ``swift_bytes`` in
content types, ``X-Backend-Timestamp``, DELETEs refused (409) when the
object is newer than the request's X-Timestamp, storage policies per
container. :class:`FakeInternalClient` is Swift's own ``InternalClient``
around it, so requests are built exactly as in production.
"""

import base64
import collections
import dataclasses
import hashlib
import io
import json
import time
import typing

from swift.common import internal_client
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import conf
from cloudsync import exceptions
from cloudsync import large_objects
from cloudsync import layout
from cloudsync import lifecycle
from cloudsync import metadata as md
from cloudsync import providers

MiB = 1024 * 1024


def md5_hex(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


# -- the remote -------------------------------------------------------------

def make_mapping(name='photos', account='AUTH_test', container='photos',
                 bucket='bkt', provider_cls=None, **options):
    """A mapping to a fake remote; ``archive=True`` for lifecycle archive."""
    remote = conf.Remote(name='fake', section='remote:fake',
                         provider_name='fake',
                         provider_cls=provider_cls or FakeProvider,
                         conf=FakeConf())
    archive = options.pop('archive', False)
    values = dict(name=name, section='mapping:' + name,
                  account=account, container=container, remote=remote,
                  bucket=bucket, lifecycle='archive' if archive else 'sync',
                  listing='merge',
                  # NOTE: the archive tests written for archiving by
                  # deleting pin it; tests of stubs ask for 'stub'.
                  archive_as='delete',
                  lifecycle_cls=(lifecycle.ArchivePolicy if archive
                                 else lifecycle.SyncPolicy))
    values.update(options)
    return conf.Mapping(**values)


@dataclasses.dataclass
class StoredObject:
    data: bytes
    etag: str
    content_type: str
    metadata: dict
    last_modified: float
    part_sizes: typing.Optional[list] = None
    expires_at: typing.Optional[float] = None
    #: a DLO manifest (FakeDLOProvider): ``<container>/<prefix>``
    dlo_manifest: typing.Optional[str] = None


class FakeConf:
    """What a provider's configuration group offers."""

    def __init__(self, **kwargs):
        self.endpoint = None
        self.access_key = 'fake-access'
        self.secret_key = 'fake-secret'
        self.__dict__.update(kwargs)


class FakeProvider(providers.Provider):
    """An in-memory S3-like remote.

    Limits (``MIN_PART_SIZE`` ...) may be lowered on an instance so that
    tests exercise multipart uploads with small data. ``reopen_bodies``
    makes every upload read its body once partly, then again from the
    start (as a client retrying after a failure does).
    """

    def __init__(self, name='fake', conf=None, max_connections=10):
        super().__init__(name, conf or FakeConf(), max_connections)
        self.buckets = {}
        self.calls = []
        self.failures = collections.defaultdict(list)
        self.rules = {}
        self.supports_expiration = True
        self.reopen_bodies = False
        self.metadata_limit = 2048
        self.clock = time.time

    # -- test helpers --------------------------------------------------------

    def fail(self, op, exc, times=1, key=None):
        """Make the next ``times`` calls of ``op`` (on ``key``) raise."""
        for _ in range(times):
            self.failures[op].append((key, exc))

    def count(self, op=None):
        if op is None:
            return len(self.calls)
        return sum(1 for c in self.calls if c[0] == op)

    def counts(self):
        return collections.Counter(c[0] for c in self.calls)

    def reset_calls(self):
        del self.calls[:]

    def objects(self, bucket):
        return self.buckets[bucket]

    def put_raw(self, bucket, key, data, content_type=None, metadata=None,
                etag=None):
        """Store an object directly (as another writer would)."""
        self.buckets.setdefault(bucket, {})[key] = StoredObject(
            data, etag or md5_hex(data),
            content_type or 'application/octet-stream',
            dict(metadata or {}), self.clock())

    # -- internals -----------------------------------------------------------

    def _call(self, op, bucket, key=None):
        self.calls.append((op, key))
        pending = self.failures.get(op)
        if pending:
            for index, (want, exc) in enumerate(pending):
                if want is None or want == key:
                    del pending[index]
                    raise exc
        if op != 'check_target' and bucket not in self.buckets:
            raise exceptions.TargetNotFound(
                'remote %s: bucket %s does not exist' % (self.name, bucket),
                status=404, code='NoSuchBucket')
        return self.buckets.get(bucket)

    def _get(self, objects, bucket, key):
        if key not in objects:
            raise exceptions.NotFound('remote %s: %s/%s: not found'
                                      % (self.name, bucket, key),
                                      status=404, code='NoSuchKey')
        return objects[key]

    def _check_metadata(self, metadata):
        total = 0
        for key, value in (metadata or {}).items():
            if key != key.lower():
                raise exceptions.InvalidObject('metadata key %r is not '
                                               'lower case' % key)
            for text in (key, value):
                if not isinstance(text, str) or any(
                        not 0x20 <= ord(c) <= 0x7e for c in text):
                    raise exceptions.InvalidObject(
                        'metadata %r: %r is not header-safe' % (key, value))
            total += len(key) + len(value)
        if total > self.metadata_limit:
            raise exceptions.InvalidObject(
                'metadata of %d bytes is over the %d bytes limit'
                % (total, self.metadata_limit), status=400,
                code='MetadataTooLarge')

    @staticmethod
    def _read(stream, size):
        if isinstance(stream, (bytes, bytearray)):
            data = bytes(stream)
        else:
            chunks, have = [], 0
            while have < size:
                chunk = stream.read(min(65536, size - have))
                if not chunk:
                    break
                chunks.append(chunk)
                have += len(chunk)
            if have == size and stream.read(1):
                raise exceptions.ChecksumMismatch(
                    'the body holds more than %d bytes' % size)
            data = b''.join(chunks)
        if len(data) != size:
            raise exceptions.ChecksumMismatch(
                'the body is %d bytes, not %d' % (len(data), size))
        return data

    def _read_body(self, body, size):
        if self.reopen_bodies and not isinstance(body, (bytes, bytearray)):
            body.read(max(1, size // 2))
            body.seek(0)
        return self._read(body, size)

    def _read_part(self, part):
        if self.reopen_bodies:
            first = part.open()
            first.read(max(1, part.size // 2))
            close = getattr(first, 'close', None)
            if close:
                close()
        stream = part.open()
        try:
            return self._read(stream, part.size)
        finally:
            close = getattr(stream, 'close', None)
            if close:
                close()

    # -- the provider interface ----------------------------------------------

    def check_target(self, bucket, create=False):
        self._call('check_target', bucket)
        if bucket not in self.buckets:
            if not create:
                raise exceptions.TargetNotFound(
                    'remote %s: bucket %s does not exist' % (self.name,
                                                             bucket),
                    status=404)
            self.buckets[bucket] = {}

    def put_object(self, bucket, key, body, size, content_type=None,
                   metadata=None, md5=None, expires_at=None):
        objects = self._call('put_object', bucket, key)
        self._check_metadata(metadata)
        if size > self.MAX_SINGLE_PUT:
            raise exceptions.InvalidObject('too large for one PUT')
        data = self._read_body(body, size)
        etag = md5_hex(data)
        if md5 is not None and md5.lower() != etag:
            raise exceptions.ChecksumMismatch(
                'remote %s: PutObject %s/%s: the Content-MD5 did not match'
                % (self.name, bucket, key), status=400, code='BadDigest')
        objects[key] = StoredObject(
            data, etag, content_type or 'application/octet-stream',
            dict(metadata or {}), self.clock(), expires_at=expires_at)
        return etag

    def put_multipart(self, bucket, key, parts, content_type=None,
                      metadata=None, expires_at=None):
        objects = self._call('put_multipart', bucket, key)
        self._check_metadata(metadata)
        parts = sorted(parts, key=lambda p: p.number)
        if not parts or len(parts) > self.MAX_PARTS:
            raise exceptions.InvalidObject('%d parts' % len(parts))
        datas = []
        for index, part in enumerate(parts, 1):
            if part.number != index:
                raise exceptions.InvalidObject('parts must be numbered '
                                               'without gaps')
            if part.size > self.MAX_PART_SIZE or (
                    index < len(parts) and part.size < self.MIN_PART_SIZE):
                raise exceptions.InvalidObject(
                    'part %d is %d bytes: EntityTooSmall' % (index,
                                                             part.size),
                    status=400, code='EntityTooSmall')
            self.calls.append(('upload_part', key))
            data = self._read_part(part)
            if part.md5 is not None and part.md5.lower() != md5_hex(data):
                raise exceptions.ChecksumMismatch(
                    'remote %s: UploadPart %s/%s: part %d: the Content-MD5 '
                    'did not match' % (self.name, bucket, key, index),
                    status=400, code='BadDigest')
            datas.append(data)
        etag = large_objects.multipart_etag([md5_hex(d) for d in datas])
        objects[key] = StoredObject(
            b''.join(datas), etag, content_type or 'application/octet-stream',
            dict(metadata or {}), self.clock(),
            part_sizes=[len(d) for d in datas], expires_at=expires_at)
        return etag

    def update_metadata(self, bucket, key, content_type=None, metadata=None):
        objects = self._call('update_metadata', bucket, key)
        obj = self._get(objects, bucket, key)
        self._check_metadata(metadata)
        obj.metadata = dict(metadata or {})
        if content_type is not None:
            obj.content_type = content_type
        obj.last_modified = self.clock()

    def delete_object(self, bucket, key):
        objects = self._call('delete_object', bucket, key)
        return objects.pop(key, None) is not None

    def _info(self, key, obj):
        return providers.ObjectInfo(
            key=key, size=len(obj.data), etag=obj.etag,
            last_modified=obj.last_modified, content_type=obj.content_type,
            metadata=dict(obj.metadata),
            parts_count=len(obj.part_sizes) if obj.part_sizes else None,
            expires_at=obj.expires_at)

    def head_object(self, bucket, key):
        objects = self._call('head_object', bucket, key)
        return self._info(key, self._get(objects, bucket, key))

    def get_object(self, bucket, key, range=None, if_match=None,
                   if_none_match=None, if_modified_since=None,
                   if_unmodified_since=None):
        objects = self._call('get_object', bucket, key)
        obj = self._get(objects, bucket, key)
        quoted = '"%s"' % obj.etag
        if if_match and if_match not in ('*', quoted, obj.etag):
            raise exceptions.PreconditionFailed('precondition failed',
                                                status=412)
        if if_none_match and if_none_match in ('*', quoted, obj.etag):
            raise exceptions.NotModified('not modified', status=304)
        info = self._info(key, obj)
        if not range:
            return providers.ObjectBody(info, [obj.data])
        ranges = swob.Range(range).ranges_for_length(len(obj.data))
        if not ranges:
            raise exceptions.RangeNotSatisfiable('bad range', status=416)
        start, end = ranges[0]
        return providers.ObjectBody(
            info, [obj.data[start:end]], status=206,
            content_range='bytes %d-%d/%d' % (start, end - 1,
                                              len(obj.data)),
            content_length=end - start)

    def list_objects(self, bucket, prefix='', delimiter=None, marker=None,
                     limit=1000):
        objects = self._call('list_objects', bucket, prefix or None)
        limit = min(int(limit), 1000)
        prefix = prefix or ''
        entries = []
        seen_prefixes = set()
        truncated = False
        for key in sorted(objects):
            if not key.startswith(prefix):
                continue
            if delimiter:
                at = key.find(delimiter, len(prefix))
                if at >= 0:
                    common = key[:at + len(delimiter)]
                    if (marker and common <= marker) or \
                            common in seen_prefixes:
                        continue
                    if len(entries) >= limit:
                        truncated = True
                        break
                    seen_prefixes.add(common)
                    entries.append(providers.ListingEntry(
                        key=common, is_prefix=True))
                    continue
            if marker and key <= marker:
                continue
            if len(entries) >= limit:
                truncated = True
                break
            obj = objects[key]
            entries.append(providers.ListingEntry(
                key=key, size=len(obj.data), etag=obj.etag,
                last_modified=obj.last_modified))
        return providers.ListingPage(
            entries=entries, truncated=truncated,
            next_marker=entries[-1].key if truncated and entries else None)

    def set_expiration(self, bucket, prefix, seconds):
        self._call('set_expiration', bucket, prefix)
        if not self.supports_expiration:
            raise exceptions.NotSupported('remote %s cannot expire objects'
                                          % self.name)
        days = max(1, int(seconds / 86400.0 + 0.5))
        changed = self.rules.get((bucket, prefix)) != days
        self.rules[(bucket, prefix)] = days
        return changed


class FakeDLOProvider(FakeProvider):
    """A remote that keeps DLOs, as Swift does: segments in the bucket's
    ``_segments`` bucket; a manifest's size, ETag and bytes are those of
    the segments listed under its prefix when it is read.
    """

    KEEPS_DLO = True

    def segments_bucket(self, bucket):
        return bucket + '_segments'

    def dlo_manifest(self, bucket, prefix):
        return '%s/%s' % (self.segments_bucket(bucket), prefix)

    def _dlo_segments(self, manifest):
        container, _, prefix = manifest.partition('/')
        objects = self.buckets.get(container, {})
        return [(key, objects[key]) for key in sorted(objects)
                if key.startswith(prefix)]

    def put_dlo(self, bucket, key, prefix, segments, content_type=None,
                metadata=None, expires_at=None):
        objects = self._call('put_dlo', bucket, key)
        self._check_metadata(metadata)
        if not layout.in_dlo_namespace(prefix):
            raise exceptions.InvalidObject('%s is not in the DLO namespace'
                                           % prefix)
        seg_bucket = self.buckets.setdefault(self.segments_bucket(bucket),
                                             {})
        names = set()
        for segment in segments:
            assert segment.name.startswith(prefix)
            names.add(segment.name)
            have = seg_bucket.get(segment.name)
            if have is not None and have.etag == segment.md5 and \
                    len(have.data) == segment.size:
                have.expires_at = expires_at
                continue
            self.calls.append(('put_segment', segment.name))
            data = self._read_part(segment)
            if md5_hex(data) != segment.md5:
                raise exceptions.ChecksumMismatch('segment %s' %
                                                  segment.name)
            seg_bucket[segment.name] = StoredObject(
                data, segment.md5, 'application/octet-stream', {},
                self.clock(), expires_at=expires_at)
        for name in [n for n in seg_bucket
                     if n.startswith(prefix) and n not in names]:
            del seg_bucket[name]
        meta = {k: v for k, v in (metadata or {}).items()
                if k != md.DLO_KEY}
        objects[key] = StoredObject(
            b'', md5_hex(b''), content_type or 'application/octet-stream',
            meta, self.clock(), expires_at=expires_at,
            dlo_manifest=self.dlo_manifest(bucket, prefix))
        return large_objects.dlo_etag([s.md5 for s in segments])

    def delete_dlo_segments(self, bucket, manifest):
        self._call('delete_dlo_segments', bucket, manifest)
        container, _, prefix = manifest.partition('/')
        if container != self.segments_bucket(bucket) or \
                not layout.in_dlo_namespace(prefix):
            return 0
        found = self._dlo_segments(manifest)
        for key, _ in found:
            del self.buckets[container][key]
        return len(found)

    def update_metadata(self, bucket, key, content_type=None, metadata=None):
        super().update_metadata(bucket, key, content_type, metadata)
        obj = self.buckets[bucket][key]
        if obj.dlo_manifest:
            obj.metadata.pop(md.DLO_KEY, None)

    def _info(self, key, obj):
        info = super()._info(key, obj)
        if obj.dlo_manifest:
            found = self._dlo_segments(obj.dlo_manifest)
            info.size = sum(len(o.data) for _, o in found)
            info.etag = large_objects.dlo_etag([o.etag for _, o in found])
            info.dlo_manifest = obj.dlo_manifest
            info.metadata[md.DLO_KEY] = obj.dlo_manifest
        return info

    def get_object(self, bucket, key, **kwargs):
        body = super().get_object(bucket, key, **kwargs)
        obj = self.buckets[bucket][key]
        if not obj.dlo_manifest or kwargs.get('range'):
            return body
        body.close()
        data = b''.join(o.data for _, o in self._dlo_segments(
            obj.dlo_manifest))
        return providers.ObjectBody(self._info(key, obj), [data])


class ExpiringProvider(FakeProvider):
    """A remote with per-object expiry, as a Swift remote has.

    Its ``update_metadata`` takes ``expires_at``.
    """

    UPDATE_METADATA_TAKES_EXPIRY = True

    def update_metadata(self, bucket, key, content_type=None, metadata=None,
                        expires_at=providers.KEEP_EXPIRY):
        super().update_metadata(bucket, key, content_type, metadata)
        if expires_at is not providers.KEEP_EXPIRY:
            self.buckets[bucket][key].expires_at = expires_at


# -- the local cluster ------------------------------------------------------

@dataclasses.dataclass
class SwiftObject:
    body: bytes
    data_timestamp: swift_utils.Timestamp
    meta_timestamp: swift_utils.Timestamp
    content_type: str
    etag: str
    #: title-case header name -> str value (user metadata, SLO/DLO
    #: headers, X-Delete-At, sysmeta)
    headers: dict
    policy: int = 0


@dataclasses.dataclass
class Tombstone:
    timestamp: swift_utils.Timestamp
    policy: int = 0


@dataclasses.dataclass
class Request:
    method: str
    account: str
    container: typing.Optional[str]
    obj: typing.Optional[str]
    headers: dict
    params: dict


_KEPT_HEADERS = ('x-object-meta-', 'x-object-sysmeta-')
_KEPT_NAMES = ('x-static-large-object', 'x-object-manifest', 'x-delete-at',
               'content-disposition', 'content-encoding')


class FakeSwift:
    """An in-memory Swift cluster behind a proxy without SLO/DLO middleware.

    ``hooks`` are called with every :class:`Request` before it is served;
    a hook may return a ``swob.Response`` to answer instead (failure
    injection) or change the store (a concurrent writer).
    """

    def __init__(self, start=1700000000.0):
        self.objects = {}
        self.containers = {}
        self.requests = []
        self.hooks = []
        self._now = start

    # -- helpers for tests ---------------------------------------------------

    def timestamp(self):
        """A new timestamp, later than every earlier one."""
        self._now += 1.0
        return swift_utils.Timestamp(self._now)

    def create_container(self, account, container, policy=0):
        self.containers.setdefault((account, container), {'policy': policy})

    def put(self, account, container, obj, body=b'', headers=None,
            timestamp=None, content_type='application/octet-stream'):
        """Store an object as a PUT would; returns it."""
        self.create_container(account, container)
        policy = self.containers[(account, container)]['policy']
        ts = timestamp or self.timestamp()
        kept = {}
        for key, value in (headers or {}).items():
            if key.lower().startswith(_KEPT_HEADERS) or \
                    key.lower() in _KEPT_NAMES:
                kept[key.title()] = value
            elif key.lower() == 'content-type':
                content_type = value
        record = SwiftObject(body, ts, ts, content_type, md5_hex(body),
                             kept, policy)
        self.objects[(account, container, obj)] = record
        return record

    def post(self, account, container, obj, headers, timestamp=None):
        record = self.objects[(account, container, obj)]
        record.meta_timestamp = timestamp or self.timestamp()
        record.headers = {k: v for k, v in record.headers.items()
                          if not k.lower().startswith('x-object-meta-') and
                          k.lower() != 'x-delete-at'}
        for key, value in headers.items():
            if key.lower() == 'content-type':
                record.content_type = value
            elif key.lower().startswith('x-object-meta-') or \
                    key.lower() == 'x-delete-at':
                record.headers[key.title()] = value
        return record

    def delete(self, account, container, obj, timestamp=None):
        key = (account, container, obj)
        record = self.objects.get(key)
        policy = record.policy if record else 0
        self.objects[key] = Tombstone(timestamp or self.timestamp(), policy)

    def get(self, account, container, obj):
        record = self.objects.get((account, container, obj))
        return record if isinstance(record, SwiftObject) else None

    def _segment_info(self, account, path):
        container, obj = path.lstrip('/').split('/', 1)
        record = self.get(account, container, obj)
        if record is None:
            raise ValueError('no segment %s' % path)
        if swift_utils.config_true_value(
                record.headers.get('X-Static-Large-Object')):
            return (container, obj, int(record.headers[
                'X-Object-Sysmeta-Slo-Size']),
                record.headers['X-Object-Sysmeta-Slo-Etag'], record, True)
        return container, obj, len(record.body), record.etag, record, False

    def put_slo(self, account, container, obj, segments, headers=None,
                timestamp=None, content_type='application/octet-stream'):
        """Store an SLO manifest as Swift's SLO middleware would.

        ``segments``: ``'container/object'`` paths, or dicts with ``path``
        and optional ``range``, or ``{'data': bytes}``.
        """
        stored = []
        for seg in segments:
            if isinstance(seg, str):
                seg = {'path': seg}
            if 'data' in seg:
                stored.append({'data': base64.b64encode(
                    seg['data']).decode('ascii')})
                continue
            c, o, size, etag, record, sub = self._segment_info(
                account, seg['path'])
            entry = {'name': '/%s/%s' % (c, o), 'bytes': size,
                     'hash': etag, 'content_type': record.content_type,
                     'last_modified': swift_utils.Timestamp(
                         record.data_timestamp).isoformat}
            if seg.get('range'):
                entry['range'] = seg['range']
            if sub:
                entry['sub_slo'] = True
            stored.append(entry)
        pieces = large_objects.manifest_pieces(
            stored, lambda c, o: json.loads(self.get(account, c, o).body))
        size = large_objects.total_size(pieces)
        headers = dict(headers or {})
        headers.update({
            'X-Static-Large-Object': 'True',
            'X-Object-Sysmeta-Slo-Etag': large_objects.slo_etag(stored),
            'X-Object-Sysmeta-Slo-Size': str(size)})
        return self.put(account, container, obj,
                        json.dumps(stored).encode('ascii'), headers,
                        timestamp,
                        '%s;swift_bytes=%d' % (content_type, size))

    def put_dlo(self, account, container, obj, manifest, headers=None,
                timestamp=None, body=b''):
        headers = dict(headers or {})
        headers['X-Object-Manifest'] = manifest
        return self.put(account, container, obj, body, headers, timestamp)

    def requests_for(self, method=None, obj=None):
        return [r for r in self.requests
                if (method is None or r.method == method) and
                (obj is None or r.obj == obj)]

    # -- WSGI ----------------------------------------------------------------

    def __call__(self, env, start_response):
        req = swob.Request(env)
        try:
            version, account, container, obj = req.split_path(2, 4, True)
        except ValueError:
            return swob.HTTPNotFound()(env, start_response)
        account = swob.wsgi_to_str(account)
        container = swob.wsgi_to_str(container) if container else None
        obj = swob.wsgi_to_str(obj) if obj else None
        # NOTE: as swob does: the query string holds WSGI strings.
        params = {k: swob.wsgi_to_str(v) for k, v in req.params.items()}
        record = Request(req.method, account, container, obj,
                         {k.lower(): v for k, v in req.headers.items()},
                         params)
        self.requests.append(record)
        for hook in list(self.hooks):
            resp = hook(record)
            if resp is not None:
                return resp(env, start_response)
        if obj:
            handler = getattr(self, '_object_' + req.method, None)
        elif container:
            handler = getattr(self, '_container_' + req.method, None)
        else:
            handler = None
        if handler is None:
            return swob.HTTPMethodNotAllowed()(env, start_response)
        resp = handler(req, account, container, obj, params)
        return resp(env, start_response)

    def _request_timestamp(self, req):
        if 'X-Timestamp' in req.headers:
            return swift_utils.Timestamp(req.headers['X-Timestamp'])
        return self.timestamp()

    def _policy_mismatch(self, req, policy):
        want = req.headers.get('X-Backend-Storage-Policy-Index')
        return want is not None and int(want) != policy

    def _object_HEAD(self, req, account, container, obj, params):
        return self._object_GET(req, account, container, obj, params)

    def _object_GET(self, req, account, container, obj, params):
        record = self.objects.get((account, container, obj))
        if record is None or self._policy_mismatch(req, record.policy):
            return swob.HTTPNotFound(request=req)
        if isinstance(record, Tombstone):
            return swob.HTTPNotFound(request=req, headers={
                'X-Backend-Timestamp': record.timestamp.internal})
        headers = {k: swob.str_to_wsgi(v) for k, v in record.headers.items()}
        headers.update({
            'Content-Type': swob.str_to_wsgi(record.content_type),
            'X-Timestamp': record.meta_timestamp.normal,
            'X-Backend-Timestamp': record.meta_timestamp.internal,
            'X-Backend-Data-Timestamp': record.data_timestamp.internal,
            'Accept-Ranges': 'bytes',
        })
        resp = swob.Response(request=req, headers=headers,
                             body=record.body, conditional_response=True)
        resp.etag = record.etag
        resp.last_modified = float(record.meta_timestamp)
        return resp

    def _object_PUT(self, req, account, container, obj, params):
        ts = self._request_timestamp(req)
        old = self.objects.get((account, container, obj))
        if old is not None and (old.data_timestamp if isinstance(
                old, SwiftObject) else old.timestamp) >= ts:
            return swob.HTTPConflict(request=req)
        body = req.body_file.read() if req.body_file else b''
        etag = req.headers.get('Etag')
        if etag and swob.normalize_etag(etag) != md5_hex(body):
            return swob.HTTPUnprocessableEntity(request=req)
        headers = {k: swob.wsgi_to_str(v) for k, v in req.headers.items()}
        self.put(account, container, obj, body, headers, ts)
        return swob.HTTPCreated(request=req, etag=md5_hex(body))

    def _object_POST(self, req, account, container, obj, params):
        record = self.get(account, container, obj)
        if record is None:
            return swob.HTTPNotFound(request=req)
        ts = self._request_timestamp(req)
        if 'X-Timestamp' in req.headers and ts <= record.meta_timestamp:
            # as Swift's object server: an older POST than the metadata
            return swob.HTTPConflict(request=req)
        headers = {k: swob.wsgi_to_str(v) for k, v in req.headers.items()}
        if 'X-Remove-Delete-At' in req.headers:
            headers.pop('X-Remove-Delete-At', None)
        self.post(account, container, obj, headers, ts)
        return swob.HTTPAccepted(request=req)

    def _object_DELETE(self, req, account, container, obj, params):
        ts = self._request_timestamp(req)
        record = self.objects.get((account, container, obj))
        if isinstance(record, SwiftObject):
            if self._policy_mismatch(req, record.policy):
                return swob.HTTPNotFound(request=req)
            if record.data_timestamp >= ts:
                return swob.HTTPConflict(request=req, headers={
                    'X-Backend-Timestamp': record.data_timestamp.internal})
            if 'X-If-Delete-At' in req.headers and int(
                    req.headers['X-If-Delete-At']) != int(
                    record.headers.get('X-Delete-At') or 0):
                return swob.HTTPPreconditionFailed(request=req)
            self.delete(account, container, obj, ts)
            return swob.HTTPNoContent(request=req)
        if record is None or record.timestamp < ts:
            self.delete(account, container, obj, ts)
        return swob.HTTPNotFound(request=req)

    def _listing(self, account, container):
        for (a, c, o), record in sorted(self.objects.items()):
            if a == account and c == container and \
                    isinstance(record, SwiftObject):
                yield o, record

    def _container_GET(self, req, account, container, obj, params):
        if (account, container) not in self.containers:
            return swob.HTTPNotFound(request=req)
        prefix = params.get('prefix', '')
        marker = params.get('marker', '')
        end_marker = params.get('end_marker', '')
        delimiter = params.get('delimiter', '')
        limit = int(params.get('limit') or 10000)
        items = []
        for name, record in self._listing(account, container):
            if not name.startswith(prefix) or (marker and name <= marker) \
                    or (end_marker and name >= end_marker):
                continue
            if delimiter and delimiter in name[len(prefix):]:
                sub = name[:name.index(delimiter, len(prefix)) + 1]
                if not items or items[-1].get('subdir') != sub:
                    if sub > marker:
                        items.append({'subdir': sub})
                continue
            content_type, swift_bytes = swift_utils.extract_swift_bytes(
                record.content_type)
            item = {'name': name, 'hash': record.etag,
                    'bytes': (int(swift_bytes) if swift_bytes is not None
                              else len(record.body)),
                    'content_type': content_type,
                    'last_modified': record.data_timestamp.isoformat}
            slo_etag = record.headers.get('X-Object-Sysmeta-Slo-Etag')
            if slo_etag:
                item['slo_etag'] = '"%s"' % slo_etag
            items.append(item)
            if len(items) >= limit:
                break
        return swob.Response(request=req, body=json.dumps(items),
                             content_type='application/json')

    def _container_HEAD(self, req, account, container, obj, params):
        info = self.containers.get((account, container))
        if info is None:
            return swob.HTTPNotFound(request=req)
        count = sum(1 for _ in self._listing(account, container))
        headers = dict(info.get('headers', {}))
        headers.update({
            'X-Container-Object-Count': str(count),
            'X-Backend-Storage-Policy-Index': str(info['policy'])})
        return swob.HTTPNoContent(request=req, headers=headers)

    def _container_PUT(self, req, account, container, obj, params):
        policy = int(req.headers.get('X-Backend-Storage-Policy-Index', 0))
        self.create_container(account, container, policy)
        return swob.HTTPCreated(request=req)


class FakeInternalClient(internal_client.InternalClient):
    """Swift's InternalClient talking to a :class:`FakeSwift`.

    Only the construction differs from the real one: every request goes
    through the real ``make_request`` (paths, quoting, acceptable statuses,
    retries on 5xx, UnexpectedResponse).
    """

    def __init__(self, swift=None, request_tries=1,
                 user_agent='cloudsync-test'):
        self.app = swift if swift is not None else FakeSwift()
        self.swift = self.app
        self.user_agent = user_agent
        self.request_tries = request_tries
        self.use_replication_network = False

    def put(self, account, container, obj, body=b'', **kwargs):
        return self.swift.put(account, container, obj, body, **kwargs)


def error_response(status):
    """A hook answer: ``lambda req: error_response(503)``."""
    return swob.Response(status=status, body=b'injected')


def reader(data):
    return io.BytesIO(data)
