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
"""Archiving local objects and removing remote copies.

:class:`Archiver` removes the local object once its remote copy is
verified: behind the archive fence (the object's own metadata POSTed
again with ``X-Delete-At`` set to :data:`ARCHIVE_FENCE`, and a DELETE
conditional on it), then its segments, where whoever could write the
manifest could have deleted them. :class:`Remover` carries out a delete
row on the remote: it deletes the remote copy (and its side objects and
DLO segments), or with ``propagate_delete`` off marks it deleted.
:class:`StubCarrier` carries what changes on an archive stub.
"""

# NOTE(cloudsync): over 600 lines: the three parts that act on archived
# objects share the headers a POST keeps and the conditional stub PUT;
# the stub carrier would be a module of its own but for the import of it
# by the uploader.

import dataclasses

from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import concurrency
from cloudsync import exceptions
from cloudsync import large_objects as lo
from cloudsync import local
from cloudsync import metadata as md
from cloudsync import providers
from cloudsync import stubs
from cloudsync.sync import current
from cloudsync.sync.outcomes import Outcome
from cloudsync.sync.outcomes import RetryLater
from cloudsync.sync import part
from cloudsync.sync import source as source_mod


SEGMENT_DELETE_WORKERS = 10
#: the X-Delete-At archiving gives an object (POSTing its own metadata
#: again) just before its DELETE, which is conditional on it: a POST that
#: lands in between replaces it, and Swift refuses the DELETE (412)
ARCHIVE_FENCE = 9999999999
#: seconds after the copied version at which a failed archive gives the
#: object its X-Delete-At back (Swift's timestamp resolution)
RESTORE_TICK = 0.00001
#: headers a POST replaces, which the archive's fence sends again (the
#: object server's default allowed_headers, but X-Delete-At)
POST_KEPT = ('content-disposition', 'content-encoding', 'x-object-manifest',
             'cache-control', 'content-language', 'expires', 'x-robots-tag')


#: see :func:`cloudsync.metadata.archive_timestamp`
archive_timestamp = md.archive_timestamp


def write_acl_entries(value):
    """The entries of a container's X-Container-Write, as a set."""
    return frozenset(
        item.strip() for item in (value or '').split(',') if item.strip())


def post_kept_headers(headers):
    """What a POST replaces of ``headers`` (lower-case), as WSGI strings."""
    post = {}
    for key, value in headers.items():
        if key.startswith('x-object-meta-') or key in POST_KEPT or (
                key.startswith('x-object-transient-sysmeta-') and
                not key.startswith('x-object-transient-sysmeta-crypto-')):
            post[swob.str_to_wsgi(key)] = swob.str_to_wsgi(value)
    return post


def stub_kept_headers(headers):
    """What a stub keeps: what a POST sets, and X-Delete-At."""
    kept = post_kept_headers(headers)
    if headers.get('x-delete-at'):
        kept['X-Delete-At'] = headers['x-delete-at']
    return kept


def put_stub(part_, row, put):
    """PUT the stub of ``row`` (``put``: :func:`cloudsync.stubs.
    put_headers`); False when Swift refused it for a newer object or
    delete, which is kept.
    """
    resp = part_.reader.request('PUT', part_.container, row.name,
                                headers=put, policy=row.storage_policy_index,
                                acceptable=(2, 409))
    swift_utils.close_if_possible(resp.app_iter)
    # NOTE(cloudsync): Swift's proxy answers 202, not 409, to a PUT that
    # its object servers refused for a newer object or delete.
    if resp.status_int in (202, 409):
        part_.logger.info('%s: written or deleted since %s; the newer '
                          'object is kept', part_.what(row),
                          row.meta_timestamp.internal)
        return False
    return True


def marked(row, info):
    """Whether the remote copy is marked deleted by ``row`` or later."""
    marked = source_mod.parse_timestamp(md.internal_values(info.metadata).get(
        md.DELETED_AT_KEY))
    return marked is not None and marked >= row.timestamp


class Archiver(part.Part):
    """Removes the local copy of an object once the remote holds it."""

    def archive(self, row):
        result = self.uploader.copy(row)
        if result.outcome in (Outcome.SKIPPED, Outcome.LOCAL_GONE) or \
                result.stub is not None:
            # NOTE(cloudsync): a stub is archived already; its row only
            # carried its metadata to the remote copy.
            return result.outcome
        source = result.source
        if result.remote_newer or source.timestamp > row.meta_timestamp:
            self.logger.info(
                '%s: changed since its row (%s, now %s); its newer row will '
                'archive it', self.what(row), row.meta_timestamp.internal,
                source.timestamp.internal)
            return Outcome.UNCHANGED
        key = self.layout.object_key(row.name)
        info = result.remote
        if result.outcome is not Outcome.UNCHANGED:
            info = self.compare.head_remote(key)
        if info is None or not self.compare.same_content(source, info) or \
                not self.compare.same_metadata(source, info):
            raise RetryLater('the remote copy %s did not verify after the '
                             'copy' % key)
        # NOTE(cloudsync): every replica is asked: a POST that reached only
        # some of them must keep the object, since the DELETE below is
        # refused only by a newer PUT.
        headers = self.reader.head_local(row, newest_only=True)
        if headers is None:
            return Outcome.LOCAL_GONE
        now = source_mod.local_timestamp(headers)
        if now != source.timestamp:
            self.logger.info('%s: changed while it was archived (%s, now '
                             '%s); keeping it', self.what(row),
                             source.timestamp.internal,
                             now.internal if now else None)
            return Outcome.UNCHANGED
        if self.mapping.archives_as_stubs and source.data_path is None:
            return self.replace_with_stub(row, headers, source, info)
        delete_ts = archive_timestamp(row.meta_timestamp)
        kept = self.fence(row, headers, delete_ts)
        if kept is not None:
            return kept
        try:
            resp = self.reader.request(
                'DELETE', self.container, row.name,
                headers={'X-Timestamp': delete_ts.internal,
                         'X-If-Delete-At': str(ARCHIVE_FENCE)},
                policy=row.storage_policy_index,
                acceptable=(2, 404, 409, 412))
        except lo.LocalReadError:
            self.unfence(row, headers)
            raise
        swift_utils.close_if_possible(resp.app_iter)
        if resp.status_int == 412:
            self.logger.info('%s: its metadata changed (a POST) while it '
                             'was archived; kept, the newer row archives '
                             'it', self.what(row))
            return Outcome.UNCHANGED
        if resp.status_int == 409:
            self.logger.info('%s: overwritten since its row (%s); the newer '
                             'object is kept', self.what(row),
                             row.meta_timestamp.internal)
            return Outcome.UNCHANGED
        if resp.status_int == 404:
            # NOTE(cloudsync): deleted (or expired) by someone else since
            # the HEAD; a user's plain DELETE of a manifest keeps its
            # segments, and so does this.
            return Outcome.LOCAL_GONE
        if source.segments and not self.mapping.retain_local_segments:
            # NOTE(cloudsync): only once the manifest is gone: a manifest
            # PUT again over the same segments meanwhile (as ``swift
            # upload`` does) made the DELETE above fail with 409, and
            # those segments are the newer object's.
            self.delete_segments(row, source.segments)
        self.stats.increment('archived_objects')
        return Outcome.ARCHIVED

    def stub_headers(self, row, headers, source, info):
        """The headers of the PUT that replaces the object of ``row``
        (whose local ``headers`` and :class:`~cloudsync.sync.source.
        Source` were verified against the remote copy ``info``) with its
        stub; see :mod:`cloudsync.stubs`.
        """
        listing_etag = row.etag
        encrypted = local.is_encrypted_etag(listing_etag)
        if not listing_etag or encrypted:
            # NOTE(cloudsync): at-rest encryption: the row's ETag is
            # encrypted; the internal client's pipeline decrypts the
            # object's, and its encrypter encrypts the override again.
            listing_etag = headers.get(
                stubs.OVERRIDE_ETAG.lower()) or lo.normalize_etag(
                headers.get('etag'))
        if source.link is not None:
            kind = 'link'
        else:
            kind = source.kind
        # NOTE(cloudsync): encrypted at rest, the object's ETags are kept
        # encrypted on disk; the record is sysmeta, which is not: it
        # leaves them out, and the shunt serves the listing override's
        # (which the encrypter encrypts, and the decrypter gives back).
        remote_etag = lo.normalize_etag(info.etag) or ''
        swift_etag = source.swift_etag or ''
        if encrypted:
            remote_etag = swift_etag = ''
        stub = stubs.ArchiveStub(
            remote=self.mapping.remote.name,
            bucket=self.bucket, key=self.layout.object_key(row.name),
            remote_etag=remote_etag, size=source.size, etag=swift_etag,
            kind=kind,
            timestamp=source.timestamp, content_type=source.content_type,
            manifest_key=(self.layout.manifest_key(row.name)
                          if source.manifest is not None else None),
            storage_class=info.storage_class)
        data_ts = source_mod.parse_timestamp(
            headers.get('x-backend-data-timestamp')) or row.timestamp
        return stubs.put_headers(
            stub, stub_kept_headers(headers), listing_etag, row.size,
            row.content_type, stubs.stub_timestamp(data_ts))

    def replace_with_stub(self, row, headers, source, info):
        """``archive_as = stub``: PUT the stub over the verified object,
        one offset step after its data (Swift refuses it, 409, when the
        object was overwritten or deleted since; a POST since stays on
        top of it, and its row carries its metadata to the remote copy),
        then delete the segments of a large object as a delete would.
        """
        put = self.stub_headers(row, headers, source, info)
        if not put_stub(self, row, put):
            return Outcome.UNCHANGED
        if source.segments and not self.mapping.retain_local_segments:
            self.delete_segments(row, source.segments)
        self.stats.increment('archived_objects')
        return Outcome.ARCHIVED

    def write_acl(self, container):
        """The entries of ``container``'s X-Container-Write, a set.

        :raises LocalReadError: when Swift does not answer 2xx.
        """
        # NOTE(cloudsync): Swift's proxy shows a container's ACLs only to
        # its owner (``swift_owner``), which the internal client's requests
        # are not; this request never leaves the daemon's own pipeline.
        path = self.ic.make_path(self.account, container)
        req = swob.Request.blank(path, environ={
            'REQUEST_METHOD': 'HEAD', 'swift_owner': True},
            headers={'User-Agent': self.ic.user_agent,
                     local.SHUNT_BYPASS_HEADER: 'true'})
        try:
            resp = req.get_response(self.ic.app)
        except source_mod.LOCAL_ERRORS as exc:
            raise lo.LocalReadError('HEAD %s/%s: %s: %s' % (
                self.account, container, type(exc).__name__, exc))
        swift_utils.close_if_possible(resp.app_iter)
        if not resp.is_success:
            raise lo.LocalReadError('HEAD %s/%s: %s' % (
                self.account, container, resp.status),
                status=resp.status_int)
        return write_acl_entries(resp.headers.get('X-Container-Write'))

    def deletable_segments(self, row, segments):
        """The ``segments`` whoever could write the manifest could also
        have deleted: those in its own container, and those in containers
        whose write ACL grants at least what the manifest's container
        grants. The daemon deletes with the operator's rights; a manifest
        written by a user who may only read a segments container (as
        Swift's SLO allows) must not make the daemon delete in it.

        :returns: ``(deletable, kept containers)``.
        """
        acls = {}
        deletable, kept = [], set()
        for container, obj in segments:
            if container != self.container:
                if container not in acls:
                    try:
                        if self.container not in acls:
                            acls[self.container] = self.write_acl(
                                self.container)
                        acls[container] = \
                            acls[self.container] <= self.write_acl(
                                container)
                    except lo.LocalReadError as exc:
                        self.logger.warning(
                            '%s: keeping its segments in %s: %s',
                            self.what(row), container, exc)
                        acls[container] = False
                if not acls[container]:
                    kept.add(container)
                    continue
            deletable.append((container, obj))
        return deletable, kept

    def fence_headers(self, headers):
        """What a POST must send again to keep the object's metadata."""
        return post_kept_headers(headers)

    def fence(self, row, headers, fence_ts):
        """Make the archive's DELETE conditional on the metadata.

        Swift refuses a DELETE only for a newer PUT, never for a newer
        POST, and a POST's metadata dies with the object. So the object's
        own metadata is POSTed again, unchanged but for ``X-Delete-At``,
        set to :data:`ARCHIVE_FENCE`, at ``fence_ts`` (just after the
        copied version): Swift refuses that POST (409) when any POST or
        PUT landed since the copied version, and a POST that lands after
        it replaces (or removes) ``X-Delete-At``, so that the DELETE with
        ``X-If-Delete-At`` is refused (412). Either way the object stays,
        and the row of that POST archives it with its metadata.

        :returns: None, or the :class:`Outcome` when the object is kept
            or gone.
        """
        post = self.fence_headers(headers)
        post.update({'X-Timestamp': fence_ts.internal,
                     'X-Delete-At': str(ARCHIVE_FENCE)})
        resp = self.reader.request('POST', self.container, row.name,
                                   headers=post,
                                   policy=row.storage_policy_index,
                                   acceptable=(2, 404, 409))
        swift_utils.close_if_possible(resp.app_iter)
        if resp.status_int == 409:
            self.logger.info('%s: changed (a POST or PUT) while it was '
                             'archived; kept, the newer row archives it',
                             self.what(row))
            return Outcome.UNCHANGED
        if resp.status_int == 404:
            return Outcome.LOCAL_GONE
        return None

    def unfence(self, row, headers):
        """After a DELETE that failed: give the object its own
        ``X-Delete-At`` (or none) back, just after the fence (the row of
        that POST archives the object on a later pass).
        """
        post = self.fence_headers(headers)
        if headers.get('x-delete-at'):
            post['X-Delete-At'] = headers['x-delete-at']
        else:
            post['X-Remove-Delete-At'] = 'x'
        # NOTE(cloudsync): one tick after the copied version, not an
        # offset: container rows keep no offset in a metadata timestamp,
        # and the object needs a newer row to be archived again. A POST
        # that landed since is newer still, and Swift refuses this one.
        post['X-Timestamp'] = swift_utils.Timestamp(
            float(row.meta_timestamp) + RESTORE_TICK).internal
        try:
            resp = self.reader.request('POST', self.container, row.name,
                                       headers=post,
                                       policy=row.storage_policy_index,
                                       acceptable=(2, 404, 409))
            swift_utils.close_if_possible(resp.app_iter)
        except lo.LocalReadError as exc:
            self.logger.error(
                '%s: the archive could not delete it, nor restore its '
                'X-Delete-At (%s) after marking it %d for the delete: %s',
                self.what(row), headers.get('x-delete-at') or 'none',
                ARCHIVE_FENCE, exc)

    def delete_segments(self, row, segments):
        segments, kept = self.deletable_segments(row, segments)
        if kept:
            self.logger.warning(
                '%s: archived; its segments in %s are kept: that container '
                'grants writes to fewer users than %s', self.what(row),
                ', '.join(sorted(kept)), self.container)

        def delete(segment):
            container, obj = segment
            try:
                resp = self.reader.request('DELETE', container, obj,
                                           acceptable=(2, 404))
                swift_utils.close_if_possible(resp.app_iter)
                return None
            except lo.LocalReadError as exc:
                return '%s/%s: %s' % (container, obj, exc)

        pool = concurrency.GreenPool(SEGMENT_DELETE_WORKERS)
        failures = [f for f in pool.imap(delete, segments) if f]
        if failures:
            # NOTE(cloudsync): the object is archived (its manifest is
            # gone); what is left takes space but loses nothing. Name it
            # all, so that an operator can remove it.
            self.stats.increment('errors')
            self.logger.error(
                '%s: archived, but %d of %d segments could not be deleted '
                'and are left in the cluster: %s', self.what(row),
                len(failures), len(segments), '; '.join(failures))


class Remover(part.Part):
    """Carries out a delete row on the remote copy."""

    def remote_key(self, row):
        """The remote key of the delete ``row``, or the :class:`Outcome`
        that ends it without a remote request: skipped (excluded), or
        not found (a name the remote refuses was never copied).
        """
        if self.mapping.excludes(row.name):
            return Outcome.SKIPPED
        key = self.layout.object_key(row.name)
        try:
            self.uploader.check_key(key)
        except exceptions.InvalidObject:
            # NOTE(cloudsync): never copied, so there is nothing to delete.
            return Outcome.NOT_FOUND_REMOTE
        return key

    def remove_remote(self, row):
        key = self.remote_key(row)
        if isinstance(key, Outcome):
            return key
        info = self.compare.head_remote(key)
        if info is None:
            return Outcome.NOT_FOUND_REMOTE
        if not self.delete_applies(row, info):
            return Outcome.UNCHANGED
        if not self.mapping.propagate_delete:
            return self.mark_deleted(row, key, info)
        if info.dlo_manifest and self.provider.KEEPS_DLO:
            self.remove_dlo_segments(row, info)
        is_slo = swift_utils.config_true_value(md.decode_value(
            info.metadata.get(md.SLO_KEY, '')))
        if is_slo and not self.deletes_conditionally(info):
            # NOTE(cloudsync): the side object first, so that a failure in
            # between leaves an object whose next delete removes both.
            self.provider.delete_object(self.bucket,
                                        self.layout.manifest_key(row.name))
            is_slo = False
        self.delete_read_copy(key, info)
        if is_slo:
            # NOTE(cloudsync): after the conditional delete of the object:
            # a newer SLO another writer stored since the HEAD keeps its
            # manifest. A failure in between leaves a side object without
            # its object, which nothing reads.
            self.provider.delete_object(self.bucket,
                                        self.layout.manifest_key(row.name))
        self.stats.increment('deleted_objects')
        return Outcome.DELETED

    def deletes_conditionally(self, info):
        """Whether :meth:`delete_read_copy` deletes the copy ``info`` only
        while the key holds it.
        """
        return bool(info.etag) and providers.deletes_if_match(self.provider)

    def delete_read_copy(self, key, info):
        """Delete the remote copy ``info`` just read under ``key``: on a
        remote with :attr:`~cloudsync.providers.Provider.DELETE_IF_MATCH`,
        only while the key holds that copy (``If-Match`` on its ETag), so
        that an object another writer stored since the HEAD is never
        deleted; the row is then tried again, and reads the copy again.

        :raises RetryLater: the key holds another object now.
        """
        if not self.deletes_conditionally(info):
            self.provider.delete_object(self.bucket, key)
            return
        try:
            self.provider.delete_object(self.bucket, key,
                                        if_match=info.etag)
        except exceptions.PreconditionFailed:
            raise RetryLater('the remote copy %s changed since it was read '
                             '(another object is there now); left alone, '
                             'read again on the next try' % key)

    def delete_applies(self, row, info):
        """Whether the delete ``row`` is about the remote copy ``info``:
        the copy is not newer than the delete, nor the one whose archiving
        left this tombstone.
        """
        remote_ts = current.remote_timestamp(info)
        stored = md.internal_values(info.metadata).get(md.TIMESTAMP_KEY)
        if remote_ts is None and stored:
            self.logger.warning(
                '%s: the remote object\'s %s is %r, not a Swift timestamp: '
                'cloudsync cannot tell whether it is older than the delete '
                '(%s); it is left alone. A copy of the object (any local '
                'write of it) replaces it', self.what(row),
                md.TIMESTAMP_KEY, stored[:64], row.timestamp.internal)
            return False
        if remote_ts is None:
            # NOTE(cloudsync): not a copy cloudsync wrote (every copy and
            # every metadata update of one carries cloudsync-timestamp):
            # another writer's object, or one swift-s3-sync archived. The
            # remote's Last-Modified (whole seconds, the remote's clock)
            # cannot say whether it is older than the delete.
            self.logger.info('%s: the remote object has no %s: not a copy '
                             'cloudsync wrote; the delete (%s) leaves it',
                             self.what(row), md.TIMESTAMP_KEY,
                             row.timestamp.internal)
            return False
        if remote_ts > row.timestamp:
            self.logger.debug('%s: the remote copy (%s) is newer than the '
                              'delete (%s); leaving it', self.what(row),
                              remote_ts.internal, row.timestamp.internal)
            return False
        if row.timestamp == archive_timestamp(remote_ts):
            # NOTE(cloudsync): this tombstone is the one archiving left
            # when it removed the local copy of exactly this remote copy:
            # the remote copy is now the object, never delete it.
            self.logger.debug('%s: archived; the remote copy stays',
                              self.what(row))
            return False
        return True

    def to_mark(self, row, info):
        """Whether the delete ``row`` has yet to mark the remote copy."""
        return (self.delete_applies(row, info) and
                not marked(row, info) and
                (info.storage_class or '').upper() not in current.COLD_CLASSES)

    def mark_deleted(self, row, key, info):
        """Keep the remote copy (``propagate_delete`` off) but mark it
        deleted, so that the shunt does not serve it once Swift's
        tombstone is reclaimed. Only for a copy older than the delete (the
        caller checked).
        """
        if marked(row, info):
            return Outcome.UNCHANGED
        if (info.storage_class or '').upper() in current.COLD_CLASSES:
            self.logger.warning(
                '%s: the remote copy is in storage class %s and cannot be '
                'marked deleted; the cloud shunt serves it again once Swift '
                'forgets the delete', self.what(row), info.storage_class)
            return Outcome.UNCHANGED
        meta = {k.lower(): v for k, v in (info.metadata or {}).items()}
        meta[md.DELETED_AT_KEY] = row.timestamp.internal
        kwargs = {'info': info} if providers.takes_info(self.provider) \
            else {}
        self.provider.update_metadata(self.bucket, key,
                                      content_type=info.content_type,
                                      metadata=meta, **kwargs)
        self.stats.increment('metadata_updates')
        self.logger.debug('%s: the remote copy is kept, marked deleted',
                          self.what(row))
        return Outcome.METADATA_UPDATED

    def remove_dlo_segments(self, row, info):
        """Before its manifest: delete the remote segments of a DLO copy
        when the local ones it was copied from are gone too (see
        :func:`cloudsync.large_objects.remove_dlo_segments`).
        """
        def local_segments_left(container, prefix):
            if next(iter(self.reader.list_segments(container, prefix)), None):
                self.logger.info(
                    '%s: the local segments under %s/%s are still there; '
                    'the remote copy keeps its segments too',
                    self.what(row), container, prefix)
                return True
            return False

        deleted = lo.remove_dlo_segments(self.provider, self.bucket,
                                         self.layout, info,
                                         local_segments_left)
        if deleted:
            self.logger.debug('%s: deleted %d remote DLO segments under %s',
                              self.what(row), deleted, info.dlo_manifest)


class StubCarrier(part.Part):
    """The row of an archive stub: its data is on the remote already.

    A stub is never copied (its zero bytes would replace the remote
    copy) nor archived again. What a POST changed on it (user metadata,
    content type, expiry) is carried to the remote copy, whose metadata
    is replaced in place, as for a POST on any object. A POST that
    changed the stub's content type also has the stub written again
    (:meth:`relabel`), so that Swift's listing shows the new type.
    """

    def carry(self, row, headers, stub):
        key = self.layout.object_key(row.name)
        if (stub.bucket, stub.key) != (self.bucket, key):
            self.logger.warning(
                '%s: an archive stub whose data is in %s/%s, not where the '
                'mapping puts it (%s/%s); left alone', self.what(row),
                stub.bucket, stub.key, self.bucket, key)
            return Outcome.UNCHANGED
        info = self.compare.head_remote(key)
        if info is None:
            self.stats.increment('errors')
            self.logger.error(
                '%s: an archive stub, but %s holds no copy of it (%s): '
                'the object cannot be read any more', self.what(row),
                self.remote_label(), key)
            return Outcome.UNCHANGED
        local_ts = source_mod.local_timestamp(headers)
        remote_ts = current.remote_timestamp(info)
        if remote_ts is not None and local_ts is not None and \
                remote_ts > local_ts:
            return Outcome.UNCHANGED
        user = {k: v for k, v in headers.items()
                if k.startswith(md.OBJECT_META_PREFIX)}
        md.check_for_remote(user)
        meta = md.swift_to_remote(user)
        for mkey, value in (info.metadata or {}).items():
            lkey = mkey.lower()
            if lkey in md.RESERVED_KEYS or (
                    lkey.startswith(md.RESERVED_PREFIX) and
                    not lkey.startswith((md.ESCAPE_PREFIX,
                                         md.KEY_ESCAPE_PREFIX))):
                meta[lkey] = value
        meta.pop(md.DELETE_AT_KEY, None)
        expires_at = source_mod.propagated_expiry(self.mapping, headers)
        if expires_at is not None:
            meta[md.DELETE_AT_KEY] = str(expires_at)
        content_type = stubs.served_content_type(
            stub, headers.get('content-type'))
        have = {k.lower(): v for k, v in (info.metadata or {}).items()}
        if info.content_type == content_type and \
                md.remote_to_swift(meta) == md.remote_to_swift(have) and \
                meta.get(md.DELETE_AT_KEY) == have.get(md.DELETE_AT_KEY):
            self.relabel(row, headers, stub, content_type)
            return Outcome.UNCHANGED
        if (info.storage_class or '').upper() in current.COLD_CLASSES:
            self.logger.warning(
                '%s: the metadata of an archive stub changed, but its '
                'remote copy is in storage class %s and cannot be changed '
                'in place', self.what(row), info.storage_class)
            self.relabel(row, headers, stub, content_type)
            return Outcome.UNCHANGED
        if local_ts is not None:
            meta[md.TIMESTAMP_KEY] = local_ts.internal
        kwargs = {'info': info} if providers.takes_info(self.provider) \
            else {}
        if self.mapping.propagate_expiration and \
                providers.takes_expiry(self.provider):
            kwargs['expires_at'] = expires_at
        self.provider.update_metadata(self.bucket, key,
                                      content_type=content_type,
                                      metadata=meta, **kwargs)
        self.stats.increment('metadata_updates')
        self.relabel(row, headers, stub, content_type)
        return Outcome.METADATA_UPDATED

    def relabel(self, row, headers, stub, content_type):
        """Write the stub again, one offset step after the POST that
        changed its content type, so that Swift's listing shows it (the
        object server applies the overrides of the stub's PUT to a POST's
        container update too, and a POST cannot change them); a PUT or
        DELETE written since wins, a POST since stays on top.
        """
        posted_ts = source_mod.local_timestamp(headers)
        if posted_ts is None or not stubs.posted_content_type(
                headers.get('content-type')):
            return
        if put_stub(self, row, stubs.put_headers(
                dataclasses.replace(stub, content_type=content_type),
                stub_kept_headers(headers),
                headers.get(stubs.OVERRIDE_ETAG.lower()) or row.etag,
                headers.get(stubs.OVERRIDE_SIZE.lower()) or row.size,
                stubs.listing_content_type(content_type, row.content_type),
                stubs.stub_timestamp(posted_ts))):
            self.logger.debug('%s: its stub now lists content type %s',
                              self.what(row), content_type)
