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
"""Reading the local source of a row: what its remote copy must be.

:class:`LocalSource` reads one object version from the local cluster
through Swift's internal client (every request bypasses the cloud shunt
and names the row's storage policy) and describes its remote copy as a
:class:`Source`: a plain object, a static or dynamic large object (its
segments as :class:`cloudsync.large_objects.Piece`), a Swift symlink, or
the current version of a versioned object. It also gives the bytes, piece
by piece, to the uploader.
"""

import dataclasses
import hashlib
import json

from swift.common import internal_client
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import concurrency
from cloudsync import large_objects as lo
from cloudsync import local
from cloudsync import metadata as md
from cloudsync import symlinks
from cloudsync.sync.outcomes import RetryLater
from cloudsync.sync.outcomes import StaleAnswer
from cloudsync.sync import part


POLICY_HEADER = 'X-Backend-Storage-Policy-Index'
#: what a request to the local cluster, or reading its answer, may raise
LOCAL_ERRORS = (Exception, concurrency.Timeout)
#: the ETag of the manifest side object of an SLO (or converted DLO)
MANIFEST_ETAG_KEY = md.RESERVED_PREFIX + 'manifest-etag'
#: the local X-Object-Manifest of a DLO the remote keeps as a DLO
DLO_SOURCE_KEY = md.DLO_SOURCE_KEY
#: objects whose row says they are at most this large are read with one
#: GET, their bytes held in memory, instead of a HEAD and then a GET
SMALL_OBJECT_SIZE = 1 * lo.MiB
# NOTE(cloudsync): on a small object an object server spends about as much
# on a HEAD as on a GET, so HEAD + GET costs it twice what one GET does, and
# on a busy node the object servers are what limits the copy rate. The
# bound caps the memory this takes: each of the ``workers`` rows in flight
# holds at most one such body, so at most workers x SMALL_OBJECT_SIZE bytes
# in all. Larger objects are streamed from a second GET, as before.


@dataclasses.dataclass
class Source:
    """What the remote copy of one local object version must be."""

    name: str
    kind: str                      # 'plain', 'slo' or 'dlo'
    timestamp: swift_utils.Timestamp
    size: int
    content_type: str
    #: Swift headers whose metadata the remote copy carries
    headers: dict
    #: cloudsync's own keys, decoded
    internal: dict
    pieces: list
    #: the Swift ETag clients see (unquoted)
    swift_etag: str
    #: the remote ETag the upload will give, when predictable
    expected_etag: str = None
    #: the internal key holding ``swift_etag`` on the remote, if any
    etag_key: str = None
    #: upload one part per segment (SLO / converted DLO)
    part_per_segment: bool = False
    #: raw manifest bytes for the side object
    manifest: bytes = None
    expires_at: float = None
    #: local objects to delete when archiving, besides the object itself
    segments: list = dataclasses.field(default_factory=list)
    #: a DLO the remote keeps as a DLO: the remote prefix of its segments
    #: and the remote X-Object-Manifest (unquoted)
    dlo_prefix: str = None
    dlo_manifest: str = None
    #: a Swift symlink: the :class:`cloudsync.symlinks.Link`
    link: symlinks.Link = None
    #: (container, object) holding the bytes, when they are not the
    #: object's own: the current version of a versioned object
    data_path: tuple = None

    def remote_metadata(self):
        md.check_for_remote(self.headers)
        meta = md.swift_to_remote(self.headers)
        for key, value in self.internal.items():
            meta[key] = md.encode_value(value)
        return meta


def parse_timestamp(value):
    """A Swift timestamp, or None for none or garbage (``inf``,
    ``1e400``, ``nan``, out of range, not a number).
    """
    try:
        return swift_utils.Timestamp(value) if value else None
    except (ValueError, OverflowError, TypeError):
        return None


def local_headers(resp):
    """Response headers, lower-case names, values as ``str``."""
    return {swob.wsgi_to_str(k).lower(): swob.wsgi_to_str(v)
            for k, v in resp.headers.items()}


def read_body(resp, what):
    """A local response's whole body."""
    if resp.app_iter is None:
        return resp.body
    try:
        return b''.join(Closing(resp.app_iter, what))
    finally:
        swift_utils.close_if_possible(resp.app_iter)


class Closing:
    """An app_iter with a close() (InternalClient bodies may lack one).

    A failure while reading it is a :class:`LocalReadError`: Swift's proxy
    raises a ``ChunkReadTimeout`` (an eventlet ``Timeout``, not an
    ``Exception``) out of a body that an object server stopped sending,
    and it must not pass through the provider's client.
    """

    def __init__(self, app_iter, what='GET'):
        self._app_iter = app_iter
        self._what = what

    def __iter__(self):
        try:
            for chunk in self._app_iter:
                yield chunk
        except LOCAL_ERRORS as exc:
            raise lo.LocalReadError('%s: %s: %s' % (
                self._what, type(exc).__name__, exc))

    def close(self):
        swift_utils.close_if_possible(self._app_iter)


def unique_objects(pieces, exclude=()):
    seen = set(exclude)
    result = []
    for piece in pieces:
        if piece.data is not None:
            continue
        item = (piece.container, piece.obj)
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


def propagated_expiry(mapping, headers):
    """The remote expiry (seconds) of an object with local ``headers``
    under ``mapping`` (``propagate_expiration``, offset included), or
    None.
    """
    if not mapping.propagate_expiration or not headers.get('x-delete-at'):
        return None
    try:
        return int(float(headers['x-delete-at']) +
                   mapping.propagate_expiration_offset)
    except ValueError:
        return None


def local_timestamp(headers):
    return (parse_timestamp(headers.get('x-backend-timestamp')) or
            parse_timestamp(headers.get('x-timestamp')))


class LocalSource(part.Part):
    """Reads a row's object from the local cluster."""

    def request(self, method, container, obj=None, headers=None,
                policy=None, acceptable=(2,), params=None, newest=False):
        req_headers = {local.SHUNT_BYPASS_HEADER: 'true'}
        if policy is not None:
            req_headers[POLICY_HEADER] = str(policy)
        if newest:
            req_headers['X-Newest'] = 'true'
        if container.startswith(symlinks.RESERVED):
            # NOTE(cloudsync): object versioning's hidden containers.
            req_headers['X-Backend-Allow-Reserved-Names'] = 'true'
        req_headers.update(headers or {})
        path = self.ic.make_path(self.account, container, obj)
        what = '%s %s/%s%s' % (method, self.account, container,
                               '/' + obj if obj else '')
        try:
            resp = self.ic.make_request(method, path, req_headers,
                                        acceptable, params=params)
        except internal_client.UnexpectedResponse as exc:
            raise lo.LocalReadError('%s: %s' % (what, exc.resp.status),
                                    status=exc.resp.status_int)
        except LOCAL_ERRORS as exc:
            raise lo.LocalReadError('%s: %s: %s' % (
                what, type(exc).__name__, exc))
        if obj is not None and method in ('GET', 'HEAD'):
            # NOTE(cloudsync): ciphertext and no user metadata; never to be
            # copied as the object (nor the object archived after it).
            try:
                local.check_not_encrypted(resp.headers, what)
            except local.EncryptedObject:
                swift_utils.close_if_possible(resp.app_iter)
                raise
        return resp

    def head_local(self, row, newest_only=False):
        """The local object's headers, or None when it was deleted (or
        expired) at or after the row's version.

        :raises RetryLater: on a 404 that shows no such delete.
        """
        return self.read_local(row, newest_only)[0]

    def read_local(self, row, newest_only=False, small=False):
        """``(headers, body)`` of the local object; headers None when it
        was deleted (or expired) at or after the row's version.

        With ``small``, the replica asked first is asked with a GET instead
        of a HEAD, and ``body`` is its bytes when they are those of a plain
        object of at most :data:`SMALL_OBJECT_SIZE` bytes whose MD5 is its
        ETag (see :meth:`small_body`); otherwise ``body`` is None and the
        bytes are read with :meth:`fetch`.

        :raises RetryLater: on a 404 that shows no such delete.
        """
        # NOTE(cloudsync): X-Newest makes the proxy ask every replica, which
        # costs the object servers three times as much. One replica is
        # asked first; only when it answers with an older version than the
        # row (or not at all) are all of them asked, with a HEAD.
        body = None
        for newest in ((True,) if newest_only else (False, True)):
            get = small and not newest
            resp = self.request(
                'GET' if get else 'HEAD', self.container, row.name,
                policy=row.storage_policy_index, acceptable=(2, 404),
                newest=newest,
                params={'multipart-manifest': 'get'} if get else None)
            if resp.status_int == 404:
                swift_utils.close_if_possible(resp.app_iter)
                headers = None
                continue
            headers = local_headers(resp)
            timestamp = local_timestamp(headers)
            if timestamp is not None and timestamp >= row.meta_timestamp:
                if get:
                    body = self.small_body(row, resp, headers)
                break
            swift_utils.close_if_possible(resp.app_iter)
        if headers is None:
            # NOTE(cloudsync): the proxy answers 404 too when the replicas
            # that hold the object cannot be reached (a node down, a
            # handoff without it). Only a tombstone (its timestamp is the
            # 404's X-Backend-Timestamp) at or after the row says the
            # object is gone; the row of that delete or overwrite follows.
            tombstone = parse_timestamp(swob.wsgi_to_str(
                resp.headers.get('X-Backend-Timestamp') or ''))
            if tombstone is None or tombstone < row.meta_timestamp:
                raise RetryLater(
                    'not found locally, and no replica has a delete at or '
                    'after the row (%s; tombstone answered: %s): a replica '
                    'that holds it may be unreachable' % (
                        row.meta_timestamp.internal,
                        tombstone.internal if tombstone else None))
        return headers, body

    def read_version(self, row, link_headers, data_path):
        """``(headers, body)`` of the current version of a versioned
        object, whose link (object versioning's, see
        :func:`cloudsync.symlinks.version_target`) has ``link_headers``:
        the version's headers, with the link's timestamp, user metadata
        and expiry (the link is the row's object; object versioning gives
        both the same metadata, and the expiry to the link only); ``body``
        as :meth:`read_local` gives it.

        :raises RetryLater: the version is not found (yet).
        """
        container, obj = data_path
        size = link_headers.get(symlinks.SYSMETA_BYTES) or ''
        get = size.isdigit() and int(size) <= SMALL_OBJECT_SIZE
        resp = self.request(
            'GET' if get else 'HEAD', container, obj,
            policy=row.storage_policy_index, acceptable=(2, 404),
            params={'multipart-manifest': 'get'} if get else None)
        if resp.status_int == 404:
            swift_utils.close_if_possible(resp.app_iter)
            raise RetryLater('the current version of the object (%r) is '
                             'not found' % obj)
        headers = local_headers(resp)
        body = None
        if get:
            body = self.small_body(row, resp, headers)
        else:
            swift_utils.close_if_possible(resp.app_iter)
        own = ('x-delete-at', 'x-timestamp', 'x-backend-timestamp')
        merged = {k: v for k, v in headers.items()
                  if k not in own and not k.startswith(md.OBJECT_META_PREFIX)}
        merged.update((k, v) for k, v in link_headers.items()
                      if k in own or k.startswith(md.OBJECT_META_PREFIX))
        return merged, body

    def small_body(self, row, resp, headers):
        """The bytes of the GET ``resp`` of a plain object of at most
        :data:`SMALL_OBJECT_SIZE` bytes, or None (the response closed
        unread, or read no further) for a large object's manifest or a
        larger object: its bytes are then read as usual.

        :raises LocalReadError: when the bytes are not those the ETag and
            Content-Length describe.
        """
        what = 'GET %s/%s' % (self.container, row.name)
        body = Closing(resp.app_iter if resp.app_iter is not None
                       else [resp.body], what)
        try:
            size = headers.get('content-length') or ''
            if 'x-static-large-object' in headers or \
                    'x-object-manifest' in headers or \
                    not size.isdigit() or int(size) > SMALL_OBJECT_SIZE:
                return None
            chunks = []
            got = 0
            for chunk in body:
                got += len(chunk)
                if got > SMALL_OBJECT_SIZE:
                    return None
                chunks.append(chunk)
        finally:
            body.close()
        data = b''.join(chunks)
        etag = lo.normalize_etag(headers.get('etag'))
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if digest != etag or len(data) != int(size):
            raise lo.LocalReadError(
                '%s: got %d bytes with MD5 %s, not the %s bytes of ETag %s'
                % (what, len(data), digest, size, etag))
        return data

    def fetch(self, piece):
        """GET one piece's bytes; the :class:`PieceReader` fetcher."""
        headers = {}
        if not piece.whole:
            headers['Range'] = 'bytes=%d-%d' % (
                piece.offset, piece.offset + piece.length - 1)
        if piece.etag:
            headers['If-Match'] = '"%s"' % piece.etag
        try:
            # NOTE(cloudsync): with If-Match, any replica that has the
            # version wanted serves it: no need to ask every replica.
            resp = self.request('GET', piece.container, piece.obj,
                                headers=headers, policy=piece.policy,
                                newest=not piece.etag)
        except lo.LocalReadError as exc:
            if piece.policy is None and exc.status in (404, 412):
                # NOTE(cloudsync): Swift itself could not serve this large
                # object either; say so rather than retry quietly forever.
                raise lo.InvalidLargeObject(
                    'segment %s is %s' % (piece.path, 'missing' if
                                          exc.status == 404 else
                                          'not the one the manifest names'))
            raise
        if 'Range' in headers and resp.status_int != 206:
            swift_utils.close_if_possible(resp.app_iter)
            raise lo.LocalReadError('GET %s: asked for a range, got %s'
                                    % (piece.path, resp.status))
        return Closing(resp.app_iter, 'GET %s' % piece.path)

    def pieces_reader(self, pieces, start=0, length=None, digest=True):
        return lo.PieceReader(self.fetch, pieces, start, length,
                              digest=digest)

    def get_manifest(self, container, obj, policy=None):
        # NOTE(cloudsync): no If-Match: the caller compares timestamps
        # instead, which also catches a POST since the HEAD.
        resp = self.request('GET', container, obj,
                            policy=policy, newest=True,
                            params={'multipart-manifest': 'get'})
        raw = read_body(resp, 'GET %s/%s' % (container, obj))
        return local_headers(resp), raw

    def list_segments(self, container, prefix):
        marker = ''
        while True:
            resp = self.request('GET', container, acceptable=(2, 404),
                                params={'format': 'json',
                                        'prefix': swob.str_to_wsgi(prefix),
                                        'marker': swob.str_to_wsgi(marker)})
            if resp.status_int == 404:
                return
            page = json.loads(read_body(resp, 'GET %s' % container))
            if not page:
                return
            for entry in page:
                yield entry
            marker = page[-1]['name']

    def source(self, row, headers, timestamp, body=None, data_path=None):
        content_type = lo.strip_swift_bytes(
            headers.get('content-type') or 'application/octet-stream')
        want = {k: v for k, v in headers.items()
                if k.startswith(md.OBJECT_META_PREFIX)}
        internal = {md.TIMESTAMP_KEY: timestamp.internal}
        expires_at = propagated_expiry(self.mapping, headers)
        if expires_at is not None:
            internal[md.DELETE_AT_KEY] = str(expires_at)
        etag = lo.normalize_etag(headers.get('etag'))
        source = Source(
            name=row.name, kind='plain', timestamp=timestamp,
            size=int(headers.get('content-length') or 0),
            content_type=content_type, headers=want, internal=internal,
            pieces=[], swift_etag=etag, expires_at=expires_at,
            link=symlinks.Link.from_headers(headers), data_path=data_path)
        if source.link is not None:
            # NOTE(cloudsync): a zero-byte object; its copy carries the
            # link (see cloudsync.symlinks).
            internal.update(source.link.metadata())
        container, obj = data_path or (self.container, row.name)
        if swift_utils.config_true_value(
                headers.get('x-static-large-object')):
            self.slo_source(row, headers, source)
        elif headers.get('x-object-manifest'):
            self.dlo_source(headers, source)
        else:
            source.pieces = [lo.Piece(
                container=container, obj=obj, length=source.size,
                size=source.size, etag=etag, data=body,
                policy=row.storage_policy_index)]
            if source.size <= self.provider.MAX_SINGLE_PUT:
                source.expected_etag = etag
            # NOTE(cloudsync): kept also when the remote ETag should be the
            # MD5: with SSE-KMS (a bucket's default encryption) it is not.
            source.etag_key = md.ETAG_KEY
            internal[md.ETAG_KEY] = etag
        if data_path is not None:
            # NOTE(cloudsync): the version's segments are older versions'
            # too: archiving removes the link only.
            source.segments = []
        return source

    def load_sub_manifest(self, container, obj):
        headers, raw = self.get_manifest(container, obj)
        if not swift_utils.config_true_value(
                headers.get('x-static-large-object')):
            return None
        return lo.load_manifest(raw)

    def set_segments(self, source, entries):
        """Upload plan of an SLO-like source made of manifest ``entries``."""
        provider = self.provider
        source.size = lo.total_size(source.pieces)
        if lo.one_part_per_segment(entries, provider.MIN_PART_SIZE,
                                   provider.MAX_PART_SIZE,
                                   provider.MAX_PARTS):
            source.part_per_segment = True
            source.expected_etag = lo.multipart_etag(
                [p.etag for p in source.pieces])
        source.etag_key = md.SLO_ETAG_KEY
        source.internal[md.SLO_ETAG_KEY] = source.swift_etag
        source.internal[MANIFEST_ETAG_KEY] = hashlib.md5(
            source.manifest, usedforsecurity=False).hexdigest()
        source.headers[md.SLO_KEY] = 'True'

    def slo_source(self, row, headers, source):
        source.kind = 'slo'
        container, obj = source.data_path or (self.container, row.name)
        get_headers, raw = self.get_manifest(
            container, obj, policy=row.storage_policy_index)
        got = local_timestamp(get_headers)
        # NOTE(cloudsync): a version is never overwritten; its timestamp
        # is not the link's.
        if source.data_path is None and got is not None and \
                got != source.timestamp:
            # NOTE(cloudsync): a newer manifest than the HEAD's is, more
            # often than not, a HEAD that one stale replica answered.
            error = StaleAnswer if got > source.timestamp else RetryLater
            raise error('the manifest changed while it was read (%s, '
                        'then %s)' % (source.timestamp.internal,
                                      got.internal))
        entries = lo.load_manifest(raw)
        source.pieces = lo.manifest_pieces(entries, self.load_sub_manifest)
        source.manifest = raw
        source.swift_etag = lo.normalize_etag(
            headers.get('x-object-sysmeta-slo-etag')) or lo.slo_etag(entries)
        if headers.get('x-object-sysmeta-s3api-etag'):
            # NOTE(cloudsync): what s3api shows S3 clients for its uploads,
            # so that every endpoint shows them the same ETag.
            source.internal[md.S3API_ETAG_KEY] = headers[
                'x-object-sysmeta-s3api-etag']
        source.segments = unique_objects(
            source.pieces, [(container, obj)])
        for entry in entries:
            if entry.get('sub_slo'):
                source.segments.append(
                    lo.split_segment_name(entry['name']))
        self.set_segments(source, entries)

    def dlo_source(self, headers, source):
        value = headers['x-object-manifest']
        source.headers[md.DLO_KEY] = value
        target = swob.wsgi_to_str(swob.wsgi_unquote(swob.str_to_wsgi(
            value)))
        if '/' not in target:
            raise lo.InvalidLargeObject(
                'X-Object-Manifest %r names no container/prefix' % value)
        seg_container, prefix = target.split('/', 1)
        entries = []
        for entry in self.list_segments(seg_container, prefix):
            if local.is_encrypted_etag(entry.get('hash')):
                raise local.EncryptedObject(
                    'GET %s/%s?prefix=%s' % (self.account, seg_container,
                                             prefix))
            if 'slo_etag' in entry or 'swift_bytes=' in (
                    entry.get('content_type') or ''):
                raise lo.InvalidLargeObject(
                    'segment %s/%s of the DLO is an SLO, which cloudsync '
                    'cannot copy as a DLO segment'
                    % (seg_container, entry['name']))
            entries.append(entry)
        source.kind = 'dlo'
        source.pieces = [lo.Piece(
            container=seg_container, obj=e['name'], length=e['bytes'],
            size=e['bytes'], etag=lo.normalize_etag(e['hash']))
            for e in entries]
        source.size = lo.total_size(source.pieces)
        source.swift_etag = lo.dlo_etag([e['hash'] for e in entries])
        source.segments = [(seg_container, e['name']) for e in entries
                           if (seg_container, e['name']) !=
                           (self.container, source.name)]
        if self.provider.KEEPS_DLO and \
                not self.mapping.convert_dlo:
            # NOTE(cloudsync): the remote keeps DLOs: the segments go to its
            # segments container, in the layout's DLO namespace of their
            # local container and prefix, which holds nothing else; the
            # manifest points there. Swift gives the remote DLO's ETag from
            # the listing of its segments, so the HEAD of the copy compares
            # the manifest and the segments in one request.
            source.dlo_prefix = self.layout.dlo_key(seg_container, prefix)
            source.dlo_manifest = self.provider.dlo_manifest(
                self.bucket, source.dlo_prefix)
            source.headers[md.DLO_KEY] = source.dlo_manifest
            source.internal[DLO_SOURCE_KEY] = target
            source.expected_etag = source.swift_etag
        elif self.mapping.convert_dlo:
            # NOTE(cloudsync): the remote copy is then an SLO in every
            # respect: multipart by segment, x-static-large-object and an
            # SLO manifest side object that restores it as an SLO.
            del source.headers[md.DLO_KEY]
            manifest = [{'name': '/%s/%s' % (seg_container, e['name']),
                         'bytes': e['bytes'], 'hash': e['hash'],
                         'content_type': e.get('content_type'),
                         'last_modified': e.get('last_modified')}
                        for e in entries]
            source.manifest = json.dumps(manifest).encode(
                'utf-8')
            self.set_segments(source, manifest)
        else:
            source.etag_key = md.ETAG_KEY
            source.internal[md.ETAG_KEY] = source.swift_etag
