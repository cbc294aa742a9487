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
"""Archived objects as Swift showed them, for the cloud shunt.

:class:`RemoteObject` turns what the remote knows of an object (its
metadata, as :mod:`cloudsync.metadata` stored it) back into the headers
Swift gave the object; :class:`RangedBody` lets swob answer single and
multiple ``Range`` requests by fetching only the bytes asked for.
:class:`StubAnswer` is an archive stub Swift answered with;
:func:`cold_answer` the answer to a read of a remote copy that a cold
storage class keeps out of reach until it is restored.
"""

import email.utils
import hashlib
import json
import math
import time

from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import exceptions
from cloudsync import headers as headers_mod
from cloudsync import large_objects
from cloudsync import metadata
from cloudsync import providers
from cloudsync.shunt import answers
from cloudsync import stubs
from cloudsync import symlinks

#: the size of the pieces a whole remote body is sent to the client in
WRITE_SIZE = 1024 * 1024

#: the MD5 of an SLO's manifest (Swift's X-Manifest-Etag), as the daemon
#: stores it (see :mod:`cloudsync.sync.propagate`)
MANIFEST_ETAG_KEY = metadata.RESERVED_PREFIX + 'manifest-etag'


class RemoteObject(object):
    """An object on the remote, described with Swift's headers.

    :param info: the remote's :class:`~cloudsync.providers.ObjectInfo`.
    """

    def __init__(self, info):
        self.info = info
        meta = info.metadata or {}
        self.internal = metadata.internal_values(meta)
        #: X-Object-Meta-*, X-Static-Large-Object, X-Object-Manifest (the
        #: local one, for a DLO the remote keeps as a DLO)
        swift_headers = metadata.remote_to_swift(meta)
        local_manifest = metadata.local_dlo_manifest(meta)
        if local_manifest is not None:
            # NOTE(cloudsync): a DLO the remote keeps as a DLO: its own
            # X-Object-Manifest names the remote segments; Swift gave the
            # one the daemon copied from.
            swift_headers['X-Object-Manifest'] = local_manifest
        # NOTE(cloudsync): whoever writes to the bucket decides what these
        # say; what could not be sent as a header is left out (see
        # :mod:`cloudsync.headers`), and the caller logs it.
        self.swift_headers, self.dropped = headers_mod.safe_headers(
            swift_headers)
        self.is_slo = swift_utils.config_true_value(
            self.swift_headers.get('X-Static-Large-Object'))
        self.is_dlo = 'X-Object-Manifest' in self.swift_headers
        #: the Swift symlink this copy keeps (a :class:`cloudsync.symlinks.
        #: Link`), or None
        self.link = symlinks.Link.from_metadata(self.internal)
        self.timestamp = headers_mod.timestamp(
            self.internal.get(metadata.TIMESTAMP_KEY))
        if self.timestamp is None:
            self.timestamp = headers_mod.timestamp(
                max(0.0, info.last_modified or 0.0)) or \
                swift_utils.Timestamp(0)
        slo_etag = headers_mod.safe_etag(swob.normalize_etag(
            self.internal.get(metadata.SLO_ETAG_KEY) or ''))
        swift_etag = headers_mod.safe_etag(swob.normalize_etag(
            self.internal.get(metadata.ETAG_KEY) or ''))
        if self.is_slo and slo_etag:
            self.etag = slo_etag
        elif swift_etag:
            self.etag = swift_etag
        else:
            #: None when the remote gave none that can be sent
            self.etag = headers_mod.safe_etag(
                swob.normalize_etag(info.etag or ''))
        #: the delete the daemon marked the copy with (``propagate_delete``
        #: off), if any
        self.deleted_at = headers_mod.timestamp(
            self.internal.get(metadata.DELETED_AT_KEY))
        #: Swift quotes the ETag of large objects
        self.quoted = self.is_slo or self.is_dlo
        self.delete_at = headers_mod.whole_seconds(
            self.internal.get(metadata.DELETE_AT_KEY))
        self.manifest_etag = headers_mod.safe_etag(
            self.internal.get(MANIFEST_ETAG_KEY))

    @property
    def size(self):
        return self.info.size

    @property
    def content_type(self):
        return headers_mod.safe_content_type(swift_utils.clean_content_type(
            self.info.content_type or 'application/octet-stream'))

    def expired(self, now=None):
        return self.delete_at is not None and \
            self.delete_at <= (now or time.time())

    def deleted_by(self, tombstone):
        """Whether Swift's tombstone is a delete of a newer version.

        A tombstone newer than the remote copy's Swift timestamp is a
        delete made after the version the remote holds was written (a
        user's delete, maybe of a version written over the archived
        one): the object is deleted. The one exception is the tombstone
        archiving left: the archive DELETE of a version is one offset step
        after it (see :func:`cloudsync.metadata.archive_timestamp`), and
        the remote copy is then the object.

        A copy that the daemon marked deleted (``cloudsync-deleted-at``, at
        or after the copy's timestamp: ``propagate_delete = false`` keeps
        the copy) is deleted whatever the tombstone, so that the delete
        holds once Swift has reclaimed its tombstone.

        :param tombstone: the ``X-Backend-Timestamp`` of Swift's 404, or
            None.
        """
        if self.deleted_at is not None and \
                self.deleted_at >= self.timestamp:
            return True
        if tombstone is None or tombstone <= self.timestamp:
            return False
        return tombstone != metadata.archive_timestamp(self.timestamp)

    def etag_is_md5(self):
        return bool(self.etag) and len(self.etag) == 32 and \
            '-' not in self.etag

    def metadata_headers(self):
        """User metadata and large-object headers, as native strings."""
        headers = dict(self.swift_headers)
        if self.delete_at is not None:
            headers['X-Delete-At'] = str(self.delete_at)
        return headers

    def headers(self):
        """The headers Swift gave the object (WSGI strings)."""
        headers = {'Content-Type': swob.str_to_wsgi(self.content_type),
                   'Content-Length': str(self.size)}
        if self.etag:
            headers['ETag'] = ('"%s"' % self.etag) if self.quoted \
                else self.etag
        headers['X-Timestamp'] = self.timestamp.normal
        headers['Accept-Ranges'] = 'bytes'
        if self.is_slo and self.manifest_etag:
            headers['X-Manifest-Etag'] = self.manifest_etag
        s3api_etag = headers_mod.safe_etag(
            self.internal.get(metadata.S3API_ETAG_KEY))
        if self.is_slo and s3api_etag:
            # NOTE(cloudsync): for s3api: the ETag it showed for its upload
            headers['X-Object-Sysmeta-S3Api-Etag'] = s3api_etag
        for key, value in self.metadata_headers().items():
            headers[swob.str_to_wsgi(key)] = swob.str_to_wsgi(value)
        return answers.add_headers(swob.HeaderKeyDict(), headers)

    @property
    def last_modified(self):
        # NOTE(cloudsync): as Swift's object server rounds it.
        return math.ceil(float(self.timestamp))


def link_response(shunt, req, account, remote, trans_headers):
    """The answer for an archived symlink ``remote``: its target, read
    through ``shunt`` (the cloud shunt, so that the target is read where
    it is: in Swift or on the remote), or, with ``?symlink=get``, the
    link itself, as Swift's ``symlink`` middleware answers.

    :returns: a WSGI app.
    """
    if req.params.get('symlink') != 'get':
        return symlinks.follow(shunt, req, remote.link, account,
                               extra_headers=trans_headers)
    headers = remote.headers()
    headers.update(trans_headers)
    headers.update(remote.link.headers())
    resp = swob.Response(status=200, headers=headers, body=b'',
                         request=req, conditional_response=True,
                         conditional_etag=remote.etag)
    resp.last_modified = remote.last_modified
    return resp


def link_post_response(req, account, link, trans_headers):
    """Swift's answer to a POST to a symlink, which it applies to the
    link itself: ``307 Temporary Redirect`` to the target.
    """
    version = req.split_path(1, 4, True)[0]
    headers = dict(trans_headers, Location=link.location(version, account))
    if link.etag:
        headers['X-Symlink-Target-Etag'] = link.etag
    req.environ['swift.leave_relative_location'] = True
    return swob.HTTPTemporaryRedirect(
        request=req, headers=headers, content_type='text/plain',
        body='The requested POST was applied to a symlink. POST directly '
        'to the target to apply requested metadata.')


def follow_local_link(shunt, req, location, trans_headers):
    """For Swift's 404 to a GET or HEAD that followed a link (not
    archived) to a target Swift does not have (``location``, Swift's
    ``Content-Location``): the target read through ``shunt``, so that an
    archived target is served from the remote; or None (Swift's 404
    stands) when the requested object is not itself the link to it.

    :returns: a WSGI app, or None.
    """
    is_link, etag = symlinks.local_link_target(shunt.app, req, location)
    if not is_link:
        return None
    return symlinks.follow_location(shunt, req, location, etag,
                                    extra_headers=trans_headers)


class RangedBody(object):
    """An object body that swob can range: only the bytes asked for are
    fetched from the remote, one GET per range (near ranges of a
    multi-range request share one).

    :param fetch: ``fetch(range_header) -> ObjectBody``.
    """

    def __init__(self, fetch, size, on_error):
        self.fetch = fetch
        self.size = size
        self.on_error = on_error
        self._body = None

    def _range(self, start, stop):
        if stop <= start:
            return
        try:
            self._body = self.fetch('bytes=%d-%d' % (start, stop - 1))
            for chunk in self._body:
                yield chunk
        except exceptions.RemoteError as exc:
            self.on_error(exc)
            raise
        finally:
            self.close()

    def __iter__(self):
        return self._range(0, self.size)

    def app_iter_range(self, start, stop):
        return self._range(start, stop)

    def app_iter_ranges(self, ranges, content_type, boundary, size):
        # NOTE(cloudsync): swob has capped the ranges as Swift does; near
        # ones share one remote GET.
        return large_objects.multi_range_body(
            self._span, ranges, content_type, boundary, size)

    def _span(self, start, stop):
        try:
            body = self.fetch('bytes=%d-%d' % (start, stop - 1))
        except exceptions.RemoteError as exc:
            self.on_error(exc)
            raise
        return GuardedBody(body, self.on_error)

    def close(self):
        body, self._body = self._body, None
        if body is not None:
            body.close()


class GuardedBody(object):
    """A remote body whose failure is logged before it propagates.

    It is closed (its connection released) when the response is closed,
    whether or not it was read: swob closes the body of a 304 or 412
    without reading it.
    """

    def __init__(self, body, on_error, coalesce=0):
        self.body = body
        self.on_error = on_error
        #: chunks of the remote body are joined into pieces of this many
        #: bytes (the last one shorter): fewer, larger writes to the client
        self.coalesce = coalesce

    def __iter__(self):
        return self

    def __next__(self):
        try:
            chunk = next(self.body)
            if len(chunk) >= self.coalesce:
                return chunk
            pieces, size = [chunk], len(chunk)
            while size < self.coalesce:
                try:
                    chunk = next(self.body)
                except StopIteration:
                    break
                pieces.append(chunk)
                size += len(chunk)
            return b''.join(pieces)
        except exceptions.RemoteError as exc:
            self.on_error(exc)
            self.close()
            raise

    def close(self):
        self.body.close()


def manifest_raw(raw):
    """A stored SLO manifest in the format it was PUT in.

    As Swift's SLO middleware returns it for
    ``?multipart-manifest=get&format=raw``.
    """
    segments = json.loads(raw)
    for seg in segments:
        if 'data' in seg:
            continue
        seg.pop('content_type', None)
        seg.pop('last_modified', None)
        seg.pop('sub_slo', None)
        seg['path'] = seg.pop('name', None)
        seg['size_bytes'] = seg.pop('bytes', None)
        seg['etag'] = seg.pop('hash', None)
    return json.dumps(segments, sort_keys=True).encode('utf-8')


#: headers of a stub that are the object's (a POST sets them), given to
#: clients instead of the remote copy's
STUB_OWN_HEADERS = frozenset([
    'content-disposition', 'content-encoding', 'cache-control',
    'content-language', 'expires', 'x-robots-tag', 'x-delete-at',
    'x-timestamp', 'last-modified'])


def _stubs_own(name):
    lname = name.lower()
    return lname.startswith(metadata.OBJECT_META_PREFIX) or \
        lname in STUB_OWN_HEADERS


class StubAnswer(object):
    """An archive stub Swift answered with (see :mod:`cloudsync.stubs`).

    :param stub: the :class:`~cloudsync.stubs.ArchiveStub`.
    :param headers: the stub's response headers (WSGI strings).
    """

    def __init__(self, stub, headers):
        self.stub = stub
        self.headers = headers if isinstance(headers, swob.HeaderKeyDict) \
            else swob.HeaderKeyDict(headers)

    @classmethod
    def of(cls, local):
        """The stub in Swift's answer ``local`` (a
        :class:`~cloudsync.shunt.answers.LocalAnswer`), or None.
        """
        # NOTE(cloudsync): on every GET and HEAD of an archiving
        # container: the record (ASCII, the same as a WSGI string) is
        # looked up, nothing else of the answer is copied or decoded.
        headers = local.headers
        record = headers.get(stubs.RECORD)
        if record is not None and \
                (stubs.RECORD_PART + '2') not in headers:
            found = stubs.ArchiveStub.from_record(record)
        elif record is None and stubs.KEY not in headers:
            return None
        else:
            # NOTE(cloudsync): a record in parts, or the headers of a stub
            # written by an earlier build
            found = stubs.ArchiveStub.from_headers(
                {swob.wsgi_to_str(k): swob.wsgi_to_str(v)
                 for k, v in headers.items()
                 if k.lower().startswith(stubs.PREFIX)})
        return None if found is None else cls(found, headers)

    @property
    def timestamp(self):
        """The stub's current timestamp (a POST on it is newer)."""
        value = self.headers.get('X-Backend-Timestamp') or \
            self.headers.get('X-Timestamp')
        try:
            return swift_utils.Timestamp(value)
        except (TypeError, ValueError):
            return stubs.stub_timestamp(self.stub.timestamp)

    def remote_info(self):
        """What the remote holds, as the stub says (a plain object's copy:
        other kinds are HEADed on the remote).
        """
        stub = self.stub
        meta = {metadata.TIMESTAMP_KEY: stub.timestamp.internal}
        etag = stub.etag or self.listing_etag()
        if etag:
            meta[metadata.ETAG_KEY] = etag
        return providers.ObjectInfo(
            key=stub.key, size=stub.size, etag=stub.remote_etag or etag,
            last_modified=float(stub.timestamp),
            content_type=stub.content_type, metadata=meta,
            storage_class=stub.storage_class)

    def listing_etag(self):
        """The ETag the stub's listing entry shows (decrypted by Swift's
        decrypter when the object was encrypted at rest), without its
        parameters: a plain object's ETag, for a stub whose record leaves
        it out (see :meth:`cloudsync.sync.remove.Archiver.stub_headers`).
        """
        value = self.headers.get(stubs.OVERRIDE_ETAG) or ''
        return swob.normalize_etag(value.partition(';')[0].strip()) or None

    def content_type(self):
        return swob.str_to_wsgi(stubs.served_content_type(
            self.stub, swob.wsgi_to_str(self.headers.get(
                'Content-Type', ''))))

    def metadata_headers(self):
        """The stub's user metadata and expiry (native strings): the
        object's, a POST on the stub included.
        """
        headers = {}
        for key, value in self.headers.items():
            lkey = key.lower()
            if lkey.startswith(metadata.OBJECT_META_PREFIX) or \
                    lkey == 'x-delete-at':
                headers[swob.wsgi_to_str(key)] = swob.wsgi_to_str(value)
        return headers

    def overlay(self, headers):
        """Give ``headers`` (the remote copy's, as Swift showed them) the
        stub's content type, user metadata, expiry and timestamps: local
        truth, until the daemon carries a POST on the stub to the remote.
        """
        # NOTE(cloudsync): both are HeaderKeyDicts (their names already
        # in its form): no name is converted again.
        for key in [k for k in headers if _stubs_own(k)]:
            dict.__delitem__(headers, key)
        for key, value in self.headers.items():
            if _stubs_own(key):
                dict.__setitem__(headers, key, value)
        headers['Content-Type'] = self.content_type()
        return headers


#: the response header that says where the restore of a remote copy in a
#: cold storage class stands: ``needed``, ``in-progress`` or ``done`` (with
#: ``expiry-date``, when the restored copy goes cold again)
RESTORE_STATE_HEADER = 'X-Cloudsync-Restore'
#: the storage classes whose objects must be restored before a read
COLD_CLASSES = frozenset(['GLACIER', 'DEEP_ARCHIVE'])
#: the Retry-After of a read waiting for a restore, by retrieval tier
#: (about what S3 announces for GLACIER; DEEP_ARCHIVE takes longer)
RETRY_AFTER = {'Expedited': 300, 'Standard': 4 * 3600, 'Bulk': 12 * 3600}
#: seconds in which one request asks the remote for an object's restore
#: and the other readers only wait
COLD_CLAIM_TTL = 300

#: path -> until when this process asked for its restore
_COLD_CLAIMS = {}


def is_cold(storage_class):
    return (storage_class or '').upper() in COLD_CLASSES


def cold_refused(exc):
    """Whether a remote error is a GET refused until a restore."""
    return getattr(exc, 'code', None) == 'InvalidObjectState'


def claim_cold(env, path, ttl=COLD_CLAIM_TTL, clock=time.time):
    """Whether this request asks the remote to restore the object at
    ``path``: only the first in ``ttl`` seconds does, in this process and,
    through memcache (``swift.cache``), in every proxy.
    """
    now = clock()
    if _COLD_CLAIMS.get(path, 0) > now:
        return False
    if len(_COLD_CLAIMS) > 10000:
        for old in [p for p, until in _COLD_CLAIMS.items() if until <= now]:
            del _COLD_CLAIMS[old]
    _COLD_CLAIMS[path] = now + ttl
    cache = env.get('swift.cache')
    if cache is not None:
        key = 'cloudsync/cold-restore/%s' % hashlib.sha256(
            path.encode('utf-8', 'surrogateescape')).hexdigest()
        try:
            if cache.incr(key, delta=1, time=int(ttl)) != 1:
                return False
        except Exception:  # noqa: BLE001 - memcache down: this process only
            pass
    return True


def restore_state(state):
    """The :data:`RESTORE_STATE_HEADER` of a
    :class:`~cloudsync.providers.ColdState`.
    """
    if state.state == providers.COLD_RESTORING:
        return 'in-progress'
    if state.state == providers.COLD_ARCHIVED:
        return 'needed'
    if state.expires_at is None:
        return 'done'
    return 'done; expiry-date="%s"' % email.utils.formatdate(
        state.expires_at, usegmt=True)


def cold_answer(req, target, provider, logger, headers, app=None):
    """The answer to a GET of an object whose remote copy must be
    restored first: the restore is asked for (by one request of all the
    concurrent readers, :func:`claim_cold`), and the client is told to
    come back later (503, ``Retry-After``).

    :param headers: headers every answer carries (the transaction id).
    :param app: the pipeline below the shunt, where the restore asked
        for is recorded (:func:`cloudsync.stubs.record_restore`).
    """
    mapping = target.mapping
    tier = mapping.cold_restore_tier
    state = None
    if claim_cold(req.environ, req.path_info):
        try:
            state = provider.restore_cold(target.bucket, target.key,
                                          mapping.cold_restore_days, tier)
        except exceptions.RemoteError as exc:
            _COLD_CLAIMS.pop(req.path_info, None)
            logger.error('cloud_shunt: asking for the restore of %s '
                         '(%s/%s) failed: %s', target.name, target.bucket,
                         target.key, exc)
            return swob.HTTPServiceUnavailable(request=req, headers=headers)
        logger.info('cloud_shunt: %s is in a cold storage class; asked '
                    'for its restore (%s, %d days)', target.name, tier,
                    mapping.cold_restore_days)
        if app is not None and not state.readable:
            stubs.record_restore(app, req.environ, target, logger)
    readable = state is not None and state.readable
    retry_after = 1 if readable else RETRY_AFTER.get(tier, 3600)
    headers = dict(headers)
    headers['Retry-After'] = str(retry_after)
    headers[RESTORE_STATE_HEADER] = restore_state(
        state or providers.ColdState(providers.COLD_RESTORING))
    body = ('The object is archived in a storage class that must be '
            'restored before it is read. Its restore is %s; retry after '
            '%d seconds.\n' % (
                'done' if readable else 'in progress', retry_after))
    return swob.HTTPServiceUnavailable(
        request=req, headers=headers, body=body.encode('ascii'),
        content_type='text/plain')
