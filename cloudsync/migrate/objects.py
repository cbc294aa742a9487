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
"""Migrating one object: decide, copy, verify.

For each object of the source listing the migrator compares the source
version (listing ETag and last modification) with what Swift holds:

* nothing: the object is copied, written only if Swift still has nothing
  (``If-None-Match: *``), with the source's time as its ``X-Timestamp``,
  so that anything a Swift user wrote or deleted since (which has a newer
  timestamp) wins: Swift refuses the copy with 409;
* the migrator's copy of that version (its marks, see
  :mod:`cloudsync.migrate.marks`): nothing to do;
* the migrator's copy of an older version, not changed in Swift since:
  the new version is copied over it, again with the source's (newer)
  time, so that a Swift write racing it still wins;
* anything else, an object a Swift user wrote or changed, or deleted
  since the migration started: left alone.

A copy keeps the bytes, the content type and the user metadata; a Swift
source's static large objects become static large objects (their segments
copied under the same names first), its dynamic large objects dynamic
ones, its symlinks symlinks (to the same names), and an S3 multipart
object becomes a static large object with the same parts, in the
container's ``_segments`` container, whose ETags are checked against the
source's multipart ETag. Every copy is verified (the
bytes' MD5 against Swift's ETag, then a HEAD) before it counts, and, with
``remove_after_verify``, before the source's object is deleted.
"""

import binascii
import dataclasses
import datetime
import hashlib
import time
import typing
import urllib.parse

from cloudsync import concurrency
from cloudsync import exceptions
from cloudsync import metadata as metadata_mod
from cloudsync.migrate import links
from cloudsync.migrate import marks
from cloudsync.migrate import multipart
from cloudsync.migrate import target as target_mod

COPIED = 'copied'
UNCHANGED = 'unchanged'
#: a Swift user's object (written or changed through Swift): left alone
SKIPPED = 'skipped'
DELETED = 'deleted'
FAILED = 'failed'

#: the container that holds the segments of objects copied in parts is
#: the target container's name followed by this
SEGMENTS_SUFFIX = '_segments'

#: headers never copied as they are: the migrator writes a large object's
#: or a symlink's itself, and a Swift source's expiry only while it is to
#: come
_DROPPED_HEADERS = ('x-object-manifest', 'x-static-large-object',
                    'x-delete-at', 'x-symlink-target',
                    'x-symlink-target-account', 'x-symlink-target-etag')
#: the ETag of no bytes (a symlink's)
EMPTY_MD5 = hashlib.md5(b'', usedforsecurity=False).hexdigest()


class MigrationError(Exception):
    """An object that cannot be migrated as it is (its message says why)."""


@dataclasses.dataclass
class Result:
    """What migrating one object did."""

    outcome: str
    bytes: int = 0
    error: typing.Optional[str] = None
    removed_from_source: bool = False


def _is_md5(etag):
    return len(etag or '') == 32 and all(
        c in '0123456789abcdef' for c in etag.lower())


def multipart_etag(md5s):
    """S3's ETag of an object uploaded in parts with these MD5s."""
    digest = hashlib.md5(b''.join(binascii.unhexlify(m) for m in md5s),
                         usedforsecurity=False).hexdigest()
    return '%s-%d' % (digest, len(md5s))


def listing_time(value):
    """Seconds since the epoch of a Swift listing's ``last_modified``."""
    if not value:
        return 0.0
    text = value.rstrip('Z')
    for fmt in ('%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%dT%H:%M:%S'):
        try:
            return datetime.datetime.strptime(text, fmt).replace(
                tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            continue
    return 0.0


class _HashingReader(object):
    """``read(size)`` over a body's chunks, hashing what it gives."""

    def __init__(self, chunks, hashing=True):
        self._chunks = iter(chunks)
        self._buffer = b''
        self._md5 = hashlib.md5(usedforsecurity=False) if hashing else None
        self.bytes = 0

    @property
    def md5(self):
        return self._md5.hexdigest()

    def read(self, size=-1):
        while size is None or size < 0 or len(self._buffer) < size:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                break
            self._buffer += chunk
        if size is None or size < 0:
            data, self._buffer = self._buffer, b''
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        if self._md5 is not None:
            self._md5.update(data)
        self.bytes += len(data)
        return data


class ObjectMigrator(object):
    """Migrates the objects of one migration.

    :param source: the :class:`~cloudsync.migrate.source.MigrationSource`.
    :param target: the :class:`~cloudsync.migrate.target.SwiftTarget`.
    """

    def __init__(self, migration, source, target, clock=time.time,
                 since=0.0):
        self.migration = migration
        #: when the migration started: a deletion through Swift after it
        #: is a Swift user's, and wins
        self.since = since
        self.source = source
        self.target = target
        self.clock = clock
        self._containers = set()

    # -- the decision ------------------------------------------------------

    @staticmethod
    def listed_same(entry, listed):
        """Whether Swift's listing entry ``listed`` shows the migrator's
        copy of source ``entry`` already (same size, the source's time):
        no request needed.
        """
        if listed is None:
            return False
        return (int(listed.get('bytes') or 0) == entry.size and
                abs(listing_time(listed.get('last_modified')) -
                    entry.last_modified) < 1.0)

    def migrate(self, bucket, container, entry, listed=None):
        """Migrate source object ``entry`` (a
        :class:`~cloudsync.providers.ListingEntry`) of ``bucket`` into
        ``container``; ``listed`` is Swift's listing entry of the same
        name, when there is one.

        :returns: a :class:`Result`; failures are returned, not raised.
        """
        try:
            return self._migrate(bucket, container, entry, listed)
        except target_mod.Refused:
            return Result(SKIPPED)
        except (exceptions.RemoteError, target_mod.TargetError,
                MigrationError, exceptions.NotSupported) as exc:
            return Result(FAILED, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - one object must not
            # stop the pass; the error is recorded with the object
            return Result(FAILED, error='%s: %s' % (type(exc).__name__, exc))

    def _migrate(self, bucket, container, entry, listed):
        remove = self.migration.remove_after_verify
        if not remove and self.listed_same(entry, listed):
            return Result(UNCHANGED)
        head, tombstone = self.target.lookup(container, entry.key)
        if marks.deleted_in_swift(tombstone, self.since):
            return Result(SKIPPED)
        create_only = True
        replaced = None
        if head is not None:
            replaced = marks.SwiftCopy.of(head)
            if replaced.changed_in_swift:
                return Result(SKIPPED)
            if replaced.is_copy_of(entry.etag, entry.last_modified):
                return self._removed(bucket, entry, Result(UNCHANGED))
            create_only = False
        self.ensure_container(bucket, container)
        size, stamp, checked = self._copy(bucket, container, entry,
                                          create_only)
        if not checked:
            self._verify(container, entry.key, stamp, size)
        if replaced is not None and replaced.source_etag != entry.etag:
            self._drop_parts(container, entry.key, replaced.source_etag)
        return self._removed(bucket, entry, Result(COPIED, bytes=size))

    def _removed(self, bucket, entry, result):
        if self.migration.remove_after_verify:
            self.source.delete(bucket, entry.key)
            result.removed_from_source = True
        return result

    def remove_if_gone(self, container, name):
        """The source no longer has ``name``: delete the migrator's copy
        unless a Swift user wrote or changed it since.

        :returns: True when deleted.
        """
        head = self.target.head(container, name)
        if head is None:
            return False
        copy = marks.SwiftCopy.of(head)
        if copy.changed_in_swift:
            return False
        if not self.target.delete_if_unchanged(container, name, copy):
            return False
        self._drop_parts(container, name, copy.source_etag)
        return True

    def _drop_parts(self, container, name, source_etag):
        """Delete the segments the migrator wrote for the parts of an S3
        multipart object (``source_etag``) that is no longer in Swift.
        """
        if self.source.is_swift or '-' not in (source_etag or ''):
            return
        segments = container + SEGMENTS_SUFFIX
        for item in list(self.target.listing(
                segments, prefix='%s/%s/' % (name, source_etag))):
            self.target.delete(segments, item['name'])

    # -- containers --------------------------------------------------------

    def ensure_container(self, bucket, container, copy_metadata=True):
        """Create ``container`` when missing: with the migration's storage
        policy and, from a Swift source's ``bucket``, its metadata and ACLs.
        """
        if container in self._containers:
            return
        headers = {}
        if self.migration.storage_policy:
            headers['X-Storage-Policy'] = self.migration.storage_policy
        if copy_metadata and bucket is not None:
            headers.update(self.source.container_headers(bucket))
        self.target.create_container(container, headers)
        self._containers.add(container)

    # -- copies ------------------------------------------------------------

    def _stamp(self, entry, info):
        """The Swift timestamp of the copy: the source's time."""
        when = info.last_modified or entry.last_modified or self.clock()
        if not self.source.is_swift and entry.last_modified and \
                int(entry.last_modified) == int(when):
            # NOTE: S3 listings give milliseconds, HEAD and GET seconds.
            when = entry.last_modified
        return marks.timestamp(when)

    def _headers(self, entry, info, stamp):
        """The headers of the copy of source object ``info`` (see
        :func:`_content_headers`), its user metadata and the marks.
        """
        headers = {'Content-Type': info.content_type or
                   'application/octet-stream',
                   'X-Timestamp': stamp}
        headers.update(_content_headers(info, self.source.is_swift,
                                        self.clock()))
        for key, value in metadata_mod.remote_to_swift(
                info.metadata or {}).items():
            if key.lower() not in _DROPPED_HEADERS:
                headers[key] = value
        headers.update(marks.headers(self.migration.name, entry.etag,
                                     entry.last_modified, stamp))
        return headers

    def _copy(self, bucket, container, entry, create_only):
        """Copy one object.

        :returns: ``(size, the copy's timestamp, checked)``; ``checked``
            when Swift's answer to the write verified it already (a plain
            object: Swift stored the MD5 of the bytes sent, with the marks
            of the same request), else the copy is read back.
        """
        if self.source.is_swift:
            info = self.source.head(bucket, entry.key)
            if info.size == 0 and info.etag == EMPTY_MD5 and \
                    not info.dlo_manifest:
                link = self.source.symlink(bucket, entry.key)
                if link is not None:
                    return self._copy_symlink(bucket, container, entry,
                                              info, link, create_only) + (
                        False,)
            if info.dlo_manifest:
                return self._copy_dlo(bucket, container, entry, info,
                                      create_only) + (False,)
            if info.parts_count is not None:
                return self._copy_swift_slo(bucket, container, entry, info,
                                            create_only) + (False,)
        elif '-' in (entry.etag or ''):
            copied = self._copy_parts(bucket, container, entry, create_only)
            if copied is not None:
                return copied + (False,)
        return self._copy_plain(bucket, container, entry, create_only) + (
            True,)

    def _put_body(self, container, name, headers, body, md5=None,
                  create_only=False):
        """PUT ``body`` (an :class:`~cloudsync.providers.ObjectBody`);
        Swift checks ``md5`` when given, and the bytes' MD5 is checked
        against the ETag Swift stored.

        :returns: the bytes written.
        """
        headers = dict(headers)
        headers['Content-Length'] = str(body.content_length)
        if md5:
            headers['ETag'] = md5
        reader = _HashingReader(body)
        try:
            resp = self.target.put(container, name, headers, reader,
                                   create_only=create_only)
        finally:
            body.close()
        stored = (resp.get('etag') or '').strip('"')
        if reader.bytes != body.content_length or \
                (stored and stored != reader.md5):
            raise exceptions.ChecksumMismatch(
                'PUT %s/%s: Swift stored ETag %s, %d bytes; the source gave '
                '%s, %d bytes' % (container, name, stored, body.content_length,
                                  reader.md5, reader.bytes))
        return reader.bytes

    def _copy_plain(self, bucket, container, entry, create_only):
        body = self.source.get(bucket, entry.key)
        info = body.info
        stamp = self._stamp(entry, info)
        headers = self._headers(entry, info, stamp)
        md5 = info.etag if _is_md5(info.etag) else None
        size = self._put_body(container, entry.key, headers, body, md5=md5,
                              create_only=create_only)
        return size, stamp

    def _copy_parts(self, bucket, container, entry, create_only):
        """An S3 multipart object as a static large object, part for
        segment (see :mod:`cloudsync.migrate.multipart`).

        :returns: ``(size, stamp)``, or None when the source cannot tell
            the object's parts.
        """
        segments = container + SEGMENTS_SUFFIX
        copier = multipart.PartsCopy(self, bucket, container, entry,
                                     segments)
        # NOTE(cloudsync): the segments container is made ready while the
        # GET is on its way when the listing tells the object is in parts.
        early = None
        if (multipart.listed_info(entry).parts_count or 0) > 1:
            early = concurrency.spawn(self.ensure_container, None, segments)
        try:
            body, ranges, confirm = copier.begin()
        except BaseException:
            if early is not None:
                multipart.wait_quietly(early)
            raise
        info = body.info
        try:
            if early is not None:
                early.wait()
            if ranges:
                self.ensure_container(None, segments)
        except BaseException:
            copier.abandon(body, confirm)
            raise
        if not ranges:
            body.close()
            return None
        try:
            manifest = copier.copy(info, ranges, body, confirm=confirm)
        except multipart.Relayout:
            # NOTE: the source cannot tell the parts after all.
            return None
        stamp = self._stamp(entry, info)
        self.target.put_slo(container, entry.key,
                            self._headers(entry, info, stamp), manifest,
                            create_only=create_only)
        return info.size, stamp

    def _ensure_segment(self, container, name, etag, size):
        """A Swift source's segment ``container/name`` in Swift under the
        same name, copied unless an identical one is there.
        """
        self.ensure_container(container, container)
        head = self.target.head(container, name, manifest=False)
        create_only = True
        if head is not None:
            copy = marks.SwiftCopy.of(head)
            if copy.etag == etag and copy.size == size:
                return
            if copy.changed_in_swift:
                raise MigrationError(
                    'segment %s/%s was written in Swift and differs from '
                    'the source\'s' % (container, name))
            create_only = False
        body = self.source.get(container, name)
        stamp = self._stamp(body.info, body.info)
        headers = self._headers(body.info, body.info, stamp)
        try:
            self._put_body(container, name, headers, body,
                           md5=etag if _is_md5(etag) else None,
                           create_only=create_only)
        except target_mod.Refused as exc:
            raise MigrationError('segment %s' % exc)

    def _copy_swift_slo(self, bucket, container, entry, info, create_only):
        segments = self.source.slo_segments(bucket, entry.key)
        manifest = []
        for segment in segments:
            if segment.get('sub_slo'):
                raise MigrationError(
                    '%s/%s: nested static large objects are not migrated'
                    % (bucket, entry.key))
            seg_container, _, seg_name = segment['name'].lstrip(
                '/').partition('/')
            self._ensure_segment(seg_container, seg_name, segment['hash'],
                                 int(segment['bytes']))
            item = {'path': '/%s/%s' % (seg_container, seg_name),
                    'etag': segment['hash'],
                    'size_bytes': int(segment['bytes'])}
            if segment.get('range'):
                item['range'] = segment['range']
            manifest.append(item)
        stamp = self._stamp(entry, info)
        self.target.put_slo(container, entry.key,
                            self._headers(entry, info, stamp), manifest,
                            create_only=create_only)
        return info.size, stamp

    def _copy_dlo(self, bucket, container, entry, info, create_only):
        seg_container, _, prefix = info.dlo_manifest.partition('/')
        for segment in self.source.list_segments(seg_container, prefix):
            self._ensure_segment(seg_container, segment.key, segment.etag,
                                 segment.size)
        stamp = self._stamp(entry, info)
        headers = self._headers(entry, info, stamp)
        headers['X-Object-Manifest'] = urllib.parse.quote(
            info.dlo_manifest, safe='/')
        headers['Content-Length'] = '0'
        self.target.put(container, entry.key, headers,
                        target_mod._Bytes(b''), create_only=create_only)
        return info.size, stamp

    def _copy_symlink(self, bucket, container, entry, info, link,
                      create_only):
        """A Swift source's symlink as a symlink: to the same object name,
        in the container its source container goes into; a static one
        stays static (see :mod:`cloudsync.migrate.links`).
        """
        target, target_account = link
        if target_account and target_account != self._source_account():
            raise MigrationError(
                '%s/%s: a symlink to another account (%s) is not migrated'
                % (bucket, entry.key, target_account))
        source_container, _, target_name = target.partition('/')
        target_container = (container if source_container == bucket
                            else source_container)
        stamp = self._stamp(entry, info)
        headers = self._headers(entry, info, stamp)
        headers['X-Symlink-Target'] = urllib.parse.quote(
            '%s/%s' % (target_container, target_name), safe='/')
        if info.symlink_target_etag:
            try:
                headers.update(links.static_link_headers(
                    self.source, self.target, '%s/%s' % (bucket, entry.key),
                    source_container, target_container, target_name,
                    info.symlink_target_etag))
            except links.StaticLinkError as exc:
                raise MigrationError(str(exc))
        headers['Content-Length'] = '0'
        self.target.put(container, entry.key, headers,
                        target_mod._Bytes(b''), create_only=create_only)
        return 0, stamp

    def _source_account(self):
        try:
            return self.migration.remote.conf.remote_account
        except AttributeError:
            return None

    def _verify(self, container, name, stamp, size):
        """The copy is in Swift, as written: its timestamp, its marks and
        its size (a static large object's whole size; a dynamic large
        object's size is its segments' and is not checked here).
        """
        # NOTE(cloudsync): the replicas that took the write answer first;
        # asking them all (X-Newest) would triple the cost of a copy.
        head = self.target.head(container, name, newest=False)
        if head is None:
            raise MigrationError('%s/%s: not found in Swift after the copy'
                                 % (container, name))
        copy = marks.SwiftCopy.of(head)
        if 'x-object-manifest' in head:
            have = size
        elif 'x-object-sysmeta-slo-size' in head:
            have = int(head['x-object-sysmeta-slo-size'])
        else:
            have = copy.size
        if copy.migrated_timestamp != stamp or have != size:
            raise MigrationError(
                '%s/%s: Swift has %d bytes at %s (marks %s) after copying '
                '%d bytes at %s' % (container, name, have, copy.timestamp,
                                    copy.migrated_timestamp, size, stamp))


class ExpiredAtSource(target_mod.Refused):
    """A Swift source's object whose ``X-Delete-At`` has passed: it is
    gone at the source (Swift no longer serves it, its expirer deletes
    it) and is not copied; counted as skipped.
    """

    def __init__(self, name, expires_at):
        Exception.__init__(self, '%s: expired at the source at %d' % (
            name, int(expires_at)))
        self.status = None


def _content_headers(info, is_swift, now):
    """The content headers of the copy of source object ``info`` and, from
    a Swift source, its ``X-Delete-At``.

    :raises ExpiredAtSource: a Swift source's object whose ``X-Delete-At``
        has passed (Swift refuses such a write).
    """
    headers = {key.title(): value
               for key, value in (info.content_headers or {}).items()
               if key.lower() not in _DROPPED_HEADERS}
    if is_swift and info.expires_at:
        if info.expires_at <= now:
            raise ExpiredAtSource(info.key, info.expires_at)
        headers['X-Delete-At'] = str(int(info.expires_at))
    return headers
