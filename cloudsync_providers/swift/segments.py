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
"""Large objects on the remote Swift cluster: the segments of static large
objects, dynamic large objects (DLO) and their expiry."""

import hashlib
import io
import json
import time
import uuid

from oslo_log import log as logging

from cloudsync import exceptions
from cloudsync import layout as layout_mod
from cloudsync import providers
from cloudsync_providers import common
from cloudsync_providers.swift import body as swift_body
from cloudsync_providers.swift import connection as swift_conn

LOG = logging.getLogger(__name__)


def _expiry_changed(old, new):
    """Whether two ``X-Delete-At`` values (or None) differ."""
    if old is None or new is None:
        return old is not new
    return int(old) != int(new)


def _key_hash(key):
    return hashlib.sha256(key.encode('utf-8')).hexdigest()


class SwiftSegments:
    """How a :class:`SwiftProvider` writes, expires and deletes the segments
    of large objects (SLO and DLO).
    """

    def put_multipart(self, bucket, key, parts, content_type=None,
                      metadata=None, expires_at=None):
        """Store a static large object: its segments, then its manifest.

        :returns: ``md5(binary part MD5s)-N``, as S3 would.
        """
        parts = sorted(parts, key=lambda p: p.number)
        what = self._what('PUT', bucket, key)
        self._check_parts(what, parts)
        seg_container = self.segments_container(bucket)
        seg_prefix = self._segment_prefix(key)
        expires_at = self._expiry(bucket, key, metadata, expires_at)
        old_segments = self._our_segments(bucket, key)
        uploaded = []

        def upload(part):
            name = '%s%08d' % (seg_prefix, part.number)
            etag = self._put_segment(bucket, name, part, expires_at)
            uploaded.append((seg_container, name))
            return {'path': '/%s/%s' % (seg_container, name),
                    'etag': etag, 'size_bytes': part.size}

        try:
            manifest = self._run_parts(parts, upload)
            body = json.dumps(manifest).encode('utf-8')
            self._put(what, bucket, key, io.BytesIO(body),
                      content_length=len(body),
                      query_string='multipart-manifest=put',
                      headers=self._object_headers(content_type, metadata,
                                                   expires_at))
        except BaseException:
            self._delete_segments(uploaded)
            raise
        self._delete_segments(s for s in old_segments if s not in uploaded)
        return common.multipart_etag([segment['etag'] for segment in manifest])

    def dlo_manifest(self, bucket, prefix):
        """``<segments container>/<prefix>``."""
        return '%s/%s' % (self.segments_container(bucket), prefix)

    def put_dlo(self, bucket, key, prefix, segments, content_type=None,
                metadata=None, expires_at=None):
        """Store a dynamic large object; see :meth:`Provider.put_dlo`.

        ``prefix`` must be in cloudsync's DLO namespace
        (:func:`cloudsync.layout.in_dlo_namespace`). The segments
        container is listed under ``prefix`` once: a segment listed with
        its size and MD5 is not sent again; when its expiry is not the
        manifest's, it gets the manifest's (or none) with a POST. Segments
        are stored before the manifest; objects under ``prefix`` that are
        not segments are removed after it. Replacing a static large object
        cloudsync wrote removes its segments, as :meth:`put_object` does.
        """
        what = self._what('PUT', bucket, key)
        seg_container = self.segments_container(bucket)
        if not layout_mod.in_dlo_namespace(prefix):
            raise exceptions.InvalidObject(
                '%s: the segment prefix %s is not in the DLO namespace'
                % (what, prefix))
        segments = sorted(segments, key=lambda s: s.name)
        for segment in segments:
            if not segment.name.startswith(prefix):
                raise exceptions.InvalidObject(
                    '%s: segment %s is not under the prefix %s'
                    % (what, segment.name, prefix))
            if not common.HEX_MD5.match(segment.md5 or ''):
                raise exceptions.InvalidObject(
                    '%s: segment %s: %r is not a hex MD5'
                    % (what, segment.name, segment.md5))
        expires_at = self._expiry(bucket, key, metadata, expires_at)
        old_segments = self._our_segments(bucket, key)
        try:
            listed = {e.key: (e.size, e.etag) for e in self.list_all(
                seg_container, prefix=prefix) if not e.is_prefix}
        except exceptions.TargetNotFound:
            listed = {}
        todo = []
        for number, segment in enumerate(segments, 1):
            reused = listed.get(segment.name) == (segment.size,
                                                  segment.md5.lower())
            todo.append((segment.name, reused, providers.Part(
                number, segment.size, segment.open, md5=segment.md5)))

        def store(item):
            name, reused, part = item
            if not reused or not self._expire_segment(
                    seg_container, name, expires_at):
                self._put_segment(bucket, name, part, expires_at)

        self._run_parts(todo, store)
        # NOTE: metadata's x-object-manifest is replaced by dlo_manifest.
        metadata = {k: v for k, v in (metadata or {}).items()
                    if k != swift_conn.DLO_KEY}
        headers = self._object_headers(
            content_type, metadata, expires_at,
            dlo_manifest=self.dlo_manifest(bucket, prefix))
        self._put(what, bucket, key, io.BytesIO(b''), content_length=0,
                  headers=headers)
        names = set(s.name for s in segments)
        self._delete_segments((seg_container, name) for name in listed
                              if name not in names)
        self._delete_segments(old_segments)
        # NOTE: a DLO's ETag is computed as an SLO's is.
        return common.slo_etag([s.md5.lower() for s in segments])

    def _dlo_segments(self, bucket, manifest):
        """(container, name) of the segments of a DLO whose manifest
        names ``bucket``'s segments container and a prefix in cloudsync's
        DLO namespace; none otherwise.
        """
        seg_container, _, prefix = (manifest or '').partition('/')
        if seg_container != self.segments_container(bucket) or \
                not layout_mod.in_dlo_namespace(prefix):
            return []
        try:
            return [(seg_container, e.key) for e in self.list_all(
                seg_container, prefix=prefix) if not e.is_prefix]
        except exceptions.TargetNotFound:
            return []

    def delete_dlo_segments(self, bucket, manifest):
        """Delete the objects under ``manifest``'s prefix, when it names
        ``bucket``'s segments container and a prefix in cloudsync's DLO
        namespace; see :meth:`Provider.delete_dlo_segments`.
        """
        segments = self._dlo_segments(bucket, manifest)
        for container, name in segments:
            self._delete_if_there(container, name)
        return len(segments)

    def _post_expiry(self, container, name, expires_at):
        """Give a segment the expiry ``expires_at`` (None: none)."""
        headers = {'Content-Type': 'application/octet-stream'}
        if expires_at is not None:
            headers['X-Delete-At'] = '%d' % int(expires_at)
        with self._connection(self._what('POST', container, name)) as conn:
            conn.post_object(container, name, headers)

    def _expire_segment(self, container, name, expires_at):
        """Give a segment that is there the expiry ``expires_at`` (None:
        none) unless it has it already.

        :returns: False when the segment is not there.
        """
        what = self._what('HEAD', container, name)
        try:
            with self._connection(what) as conn:
                headers, _ = conn.raw('HEAD', container, name)
        except exceptions.NotFound:
            return False
        current = headers.get('x-delete-at')
        if _expiry_changed(float(current) if current else None, expires_at):
            self._post_expiry(container, name, expires_at)
        return True

    def _check_parts(self, what, parts):
        common.check_part_numbers(
            what, parts, self.MAX_PARTS, '%(count)d parts, more than the '
            '%(max)d segments Swift takes in one manifest')
        for part in parts:
            if part.md5 is not None and not common.HEX_MD5.match(part.md5):
                raise exceptions.InvalidObject(
                    '%s: part %d: %r is not a hex MD5'
                    % (what, part.number, part.md5))
            if part.size > self.MAX_PART_SIZE:
                raise exceptions.InvalidObject(
                    '%s: part %d is %d bytes, more than 5 GiB'
                    % (what, part.number, part.size))

    @staticmethod
    def _segment_prefix(key):
        """Where one upload's segments go: ``<key>/<upload>/``."""
        upload = '%.6f-%s' % (time.time(), uuid.uuid4().hex[:8])
        prefix = '%s/%s/' % (key, upload)
        if len(prefix.encode('utf-8')) + 8 > swift_conn.MAX_OBJECT_NAME_LENGTH:
            # NOTE: keeps the segment names of very long keys within
            # Swift's limit; they stay unique to the key.
            prefix = '%s/%s/' % (_key_hash(key), upload)
        return prefix

    def _put_segment(self, bucket, name, part, expires_at):
        seg_container = self.segments_container(bucket)
        what = self._what('PUT', seg_container, name)
        headers = {'Content-Type': 'application/octet-stream'}
        if expires_at is not None:
            headers['X-Delete-At'] = '%d' % int(expires_at)
        data = swift_body._Body(part.size, opener=part.open)
        try:
            etag = self._put(what, seg_container, name, data,
                             content_length=part.size, etag=part.md5,
                             headers=headers)
        finally:
            data.close()
        with self._lock:
            self._segments_seen[seg_container] = (True, time.time())
        if etag != data.md5.hexdigest():
            raise exceptions.ChecksumMismatch(
                '%s: part %d was stored with ETag %s, not the MD5 of the '
                'bytes sent (%s)' % (what, part.number, etag,
                                     data.md5.hexdigest()))
        return etag

    def _run_parts(self, items, fn):
        """``fn(item)`` for every item, a few at once, results in order."""
        return providers.run_parts(
            items, fn, min(self.max_connections, swift_conn.MAX_PART_WORKERS),
            name='cloudsync-swift-part')

    def _may_have_segments(self, bucket):
        """Whether ``bucket``'s segments container exists (or may)."""
        seg_container = self.segments_container(bucket)
        with self._lock:
            seen = self._segments_seen.get(seg_container)
        if seen and (seen[0] or time.time() - seen[1] < self.SEGMENTS_RECHECK):
            return seen[0]
        try:
            self._head_container(seg_container)
            exists = True
        except exceptions.TargetNotFound:
            exists = False
        with self._lock:
            self._segments_seen[seg_container] = (exists, time.time())
        return exists

    def _our_segments(self, bucket, key):
        """The segments cloudsync wrote for the object now at ``key``.

        Only segments in the container's segments container, below the
        object's name (or its hash), count: others may be someone else's.
        """
        if not self._may_have_segments(bucket):
            return []
        what = self._what('HEAD', bucket, key)
        try:
            with self._connection(what) as conn:
                headers, _ = conn.raw('HEAD', bucket, key,
                                      query_string=swift_conn.SYMLINK_GET)
                if not swift_conn._true(headers.get('x-static-large-object')):
                    return []
                segments = self._manifest(conn, bucket, key)
        except (exceptions.NotFound, swift_body._ManifestChanged):
            return []
        seg_container = self.segments_container(bucket)
        prefixes = (key + '/', _key_hash(key) + '/')
        ours = []
        for segment in segments:
            container, _, name = segment.get('name', '').lstrip(
                '/').partition('/')
            if container == seg_container and name.startswith(prefixes):
                ours.append((container, name))
        return ours

    def _delete_segments(self, segments):
        for container, name in segments:
            self._delete_quietly(container, name)

    def _delete_if_there(self, container, name):
        """DELETE an object; one already gone is not an error."""
        what = self._what('DELETE', container, name)
        try:
            with self._connection(what) as conn:
                conn.raw('DELETE', container, name)
        except exceptions.NotFound:
            pass

    def _delete_quietly(self, container, name):
        try:
            self._delete_if_there(container, name)
        except exceptions.RemoteError as exc:
            LOG.warning('%s: could not remove it: %s',
                        self._what('DELETE', container, name), exc)

    def _expire_segments(self, bucket, key, expires_at):
        """Give the segments cloudsync wrote for ``key`` a new expiry."""
        for container, name in self._our_segments(bucket, key):
            self._post_expiry(container, name, expires_at)
