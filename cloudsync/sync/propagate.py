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
"""From one container row to the right operations on the remote.

The sync daemon hands every row it handles to a :class:`RowPropagator`
with the lifecycle policy's decision, and gets an :class:`Outcome` back,
or :class:`RetryLater` (not ready yet, or a passing failure: the row is
tried again on a later pass) or :class:`RowFailed` (the message names the
object, the mapping and the remote's answer).

:class:`RowPropagator` is the dispatcher: it prepares the remote target
once per container pass, hands each row to the collaborator whose job it
is, and turns what goes wrong into the row's outcome. The collaborators,
one job each:

* :mod:`cloudsync.sync.source`: reading the local source (object, SLO,
  DLO, symlink, current version of a versioned object);
* :mod:`cloudsync.sync.current`: whether the remote copy is current;
* :mod:`cloudsync.sync.upload`: copying to the remote;
* :mod:`cloudsync.sync.remove`: archiving (the archive fence, segment
  deletion) and removing remote copies;
* :mod:`cloudsync.sync.replicas`: checking the rows of other replicas.

What happens, per decision:

copy
    The local object is read through Swift's internal client (every
    request carries ``X-Cloudsync-Shunt-Bypass`` and the row's storage
    policy), from one replica first, then with ``X-Newest`` when that one
    answers with an older version than the row or not at all. An object
    whose row is at most
    :data:`~cloudsync.sync.source.SMALL_OBJECT_SIZE` is read with one GET
    whose headers stand for the HEAD's and whose bytes, once their MD5
    matches the ETag, are what is uploaded; a larger one is HEADed, then
    streamed from a GET with ``If-Match``. A local copy older than the row
    is a stale replica: the row is retried later, stale data is never
    uploaded. A local 404 means the object is gone only when it carries a
    tombstone (``X-Backend-Timestamp``) at or after the row, whose own row
    follows; any other 404 (the replicas holding the object unreachable) is
    retried later, so the row is never dropped. When the remote already
    holds the same bytes, metadata and content type, nothing is sent; when
    only the metadata differs (a POST), the remote's metadata is replaced
    without sending the data; otherwise the object is sent to the remote.
    A remote copy made from a newer version of the object than the local
    one is left alone. A small object of a row met for the first time is
    sent without reading the remote copy first: with one write that only
    creates, or, on a mapping nothing else writes (``remote_writers``
    false) and for a change made since the progress began, with one write
    (a metadata change: of the same bytes, conditional on the remote
    holding them); see :meth:`cloudsync.sync.upload.Uploader.send_alone`.

    A Swift symlink is copied as a link (see :mod:`cloudsync.symlinks`):
    on a remote with :attr:`~cloudsync.providers.Provider.KEEPS_SYMLINKS`
    (Swift), a link to an object of the same mapped container becomes a
    link to that object's remote copy (:meth:`~cloudsync.providers.
    Provider.put_symlink`); otherwise an empty object whose metadata
    carries the link. An object of a container with object versioning
    (object versioning's link to its current version) is copied from that
    version: its bytes, with the link's timestamp, user metadata and
    expiry. Older versions are not copied.

    The remote copy carries the Swift user metadata, the content type and
    cloudsync's own keys: ``cloudsync-timestamp`` (the X-Timestamp of the
    copied version, so that an older DELETE never removes a newer copy),
    ``cloudsync-delete-at`` (with ``propagate_expiration``),
    ``swift-slo-etag`` (an SLO's ETag as Swift clients see it),
    ``cloudsync-etag`` (a DLO's or a very large object's Swift ETag, when
    the remote's ETag cannot be compared with it) and
    ``cloudsync-manifest-etag`` (the ETag of the manifest side object).

    SLOs become a multipart upload, one part per segment, when the
    segments allow it, so the remote ETag is ``md5(segment md5s)-N``;
    otherwise (segments under the remote's minimum part size, ranges,
    inline data, nested SLOs) the SLO's bytes are cut again into parts of a
    valid size, or sent in one request when small. Its raw manifest is
    stored beside it (see :meth:`cloudsync.layout.RemoteLayout.
    manifest_key`) so that it can be restored as an SLO.

    DLOs stay DLOs on remotes that keep them (providers with
    :attr:`~cloudsync.providers.Provider.KEEPS_DLO`, such as Swift): the
    segments listed under the manifest's container and prefix at copy
    time are stored in the remote's segments container, in the layout's
    DLO namespace (:meth:`~cloudsync.layout.RemoteLayout.dlo_key`, which
    names the local segments container, so that nothing else is ever
    stored there; segments already there with the same size and MD5 are
    not sent again, other objects under that prefix are removed),
    then the manifest, whose ``X-Object-Manifest`` names them; the local
    ``X-Object-Manifest`` is kept as ``cloudsync-dlo-source``. The copy is
    current when the remote's ``X-Object-Manifest`` and its ETag (which
    Swift computes from the listing of the remote segments) match. The
    manifest's own body, which Swift never serves, is not copied. To
    other remotes DLOs are uploaded as the concatenation of their
    segments, keeping ``x-object-manifest`` in the metadata; no manifest
    side object is written (the header is the whole manifest). With the
    mapping's ``convert_dlo`` a DLO is uploaded like an SLO made of its
    segments, with ``x-static-large-object`` and a generated SLO manifest
    side object, so that it is restored as an SLO.

archive
    Copy as above, verify the remote copy, then remove the local object
    with a DELETE whose timestamp is just after the row's, so that Swift
    refuses it (409) when the object was overwritten since the row. A
    metadata change (POST) since the row also keeps the object: Swift
    refuses a DELETE only for a newer PUT, so the object's own metadata is
    first POSTed again at the DELETE's timestamp with ``X-Delete-At`` set
    to :data:`~cloudsync.sync.remove.ARCHIVE_FENCE` (Swift refuses that
    POST when any POST landed since the copied version), and the DELETE
    carries ``X-If-Delete-At`` (Swift refuses it, 412, when a POST landed
    in between). The object
    then stays, and the row of that POST archives it with its metadata.
    When the DELETE fails otherwise, the object gets its own
    ``X-Delete-At`` back. Unless
    ``retain_local_segments`` is set, a large object's segments are deleted
    once its manifest is: never when the manifest was overwritten (409) or
    deleted by someone else meanwhile. Segments that cannot be deleted are
    left in place and named in an ERROR line.

remove-remote
    On a mapping nothing else writes, a delete made since the progress
    began is one request (:meth:`RowPropagator.remove_at_once`).
    Otherwise: delete the remote copy (and an SLO's manifest side object; and a
    remote DLO's segments, first, when none are left under the local
    segments container and prefix it was copied from), unless the
    remote copy is newer than the delete (by its ``cloudsync-timestamp``,
    the Swift timestamp of the version copied, never by the remote's
    Last-Modified, which has whole seconds and the remote's clock), or the
    delete is the tombstone that archiving this very copy left (its
    timestamp is the copy's with the offset increased by one, see
    :func:`~cloudsync.sync.remove.archive_timestamp`). On a remote with
    :attr:`~cloudsync.providers.Provider.DELETE_IF_MATCH` the DELETE is
    conditional on the ETag of the copy read: an object stored since by
    another writer is left alone, and the row is tried again. A remote
    object without ``cloudsync-timestamp`` is not a copy cloudsync wrote
    (another writer's, or one swift-s3-sync archived): a delete leaves it.

    With ``propagate_delete = false`` on a mapping the cloud shunt serves
    (``lifecycle = archive`` or ``merge_namespaces``) the remote copy is
    kept but marked deleted, under the same conditions: its metadata is
    replaced in place (no data is sent) with the same metadata plus
    ``cloudsync-deleted-at``, the delete's timestamp. The shunt never
    serves a copy marked at or after its own timestamp, also once Swift
    has reclaimed the tombstone. A copy marked
    already is left alone; a later local write of the object is copied as
    usual, and its copy no longer has the marker. A copy in a cold
    storage class (``GLACIER``, ``DEEP_ARCHIVE``) cannot be changed in
    place: it is left unmarked, with a warning.

:meth:`RowPropagator.verify` checks rows handled by other replicas
against pages of the remote listing, and returns those that need
:meth:`RowPropagator.handle`.

The internal client's pipeline must not contain the ``slo`` and ``dlo``
middlewares (Swift's ``internal-client.conf`` and cloudsync's built-in
pipeline do not): cloudsync reads manifests raw and the segments itself.
On a cluster that encrypts objects at rest it must decrypt them (see
:mod:`cloudsync.local`): an object, manifest, segment or segment listing
Swift answers with still encrypted fails its row (:class:`RowFailed`,
naming the object and the setting), before anything is sent to the
remote or deleted locally.
"""

import threading

from oslo_log import log as logging

from cloudsync import exceptions
from cloudsync import large_objects as lo
from cloudsync import lifecycle
from cloudsync import local
from cloudsync import providers
from cloudsync.sync import current
from cloudsync.sync import outcomes
from cloudsync.sync import remove
from cloudsync.sync import replicas
from cloudsync.sync import source as source_mod
from cloudsync.sync import stats as stats_mod
from cloudsync.sync import upload

Outcome = outcomes.Outcome
RetryLater = outcomes.RetryLater
RowFailed = outcomes.RowFailed

#: the logger keeps the name it has always had, for operators' filters
LOG = logging.getLogger('cloudsync.propagate')


class RowPropagator:
    """Turns rows of one container into remote operations.

    :param mapping: the :class:`cloudsync.conf.Mapping`.
    :param account: the Swift account.
    :param container: the root container's name (for a shard database,
        the root's).
    :param provider: the mapping's :class:`cloudsync.providers.Provider`.
    :param internal_client: a Swift ``InternalClient`` of the local
        cluster.
    """

    #: remote expirations already set in this process:
    #: (remote, bucket, prefix) -> seconds
    _expirations = {}
    _expiration_unsupported = set()
    _containers_checked = set()
    _container_metadata = {}
    _class_lock = threading.Lock()
    #: :meth:`handle` takes ``fresh``
    TAKES_FRESH = True
    #: :meth:`handle` takes ``new``
    TAKES_NEW = True

    def __init__(self, mapping, account, container, provider,
                 internal_client, stats=None, logger=None):
        self.mapping = mapping
        self.account = account
        self.container = container
        self.provider = provider
        self.ic = internal_client
        self.stats = stats if stats is not None else stats_mod.NullStats()
        self.logger = logger or LOG
        where = mapping.target(container)
        self.bucket, self.layout = where.bucket, where.layout
        #: the collaborators, one job each
        self.reader = source_mod.LocalSource(self)
        self.compare = current.RemoteComparison(self)
        self.uploader = upload.Uploader(self)
        self.archiver = remove.Archiver(self)
        self.remover = remove.Remover(self)
        self.replicas = replicas.ReplicaCheck(self)

    def handle(self, row, decision, fresh=False, new=False):
        """Carry out ``decision`` (COPY, ARCHIVE, REMOVE_REMOTE) for ``row``.

        :param fresh: a row of this node's seen for the first time: a
            small new object is then sent with a write that only creates
            (see :meth:`cloudsync.sync.upload.Uploader.create_first`)
            before any HEAD. Retries and verification HEAD first.
        :param new: besides, the row changed after the progress of its
            database began (see :meth:`cloudsync.sync.container_pass.
            ContainerPass.is_new`): on a mapping nothing else writes, a
            small object is then sent with one write (see
            :meth:`cloudsync.sync.upload.Uploader.send_alone`) and a
            delete is one request (:meth:`remove_at_once`).

        :returns: an :class:`Outcome`.
        :raises RetryLater, RowFailed:
        """
        action = decision.action
        if self.layout.name_problem(row.name):
            # NOTE(cloudsync): its key may be a side object; a delete has
            # nothing of the user's to remove there.
            if action is lifecycle.Action.REMOVE_REMOTE:
                return Outcome.SKIPPED
            self.stats.increment('errors')
            raise RowFailed('%s: %s' % (self._what(row),
                                        self.layout.name_problem(row.name)))
        try:
            if action is lifecycle.Action.COPY:
                outcome = self.uploader.copy(row, fresh=fresh,
                                             new=new).outcome
            elif action is lifecycle.Action.ARCHIVE:
                outcome = self.archiver.archive(row)
            elif action is lifecycle.Action.REMOVE_REMOTE:
                outcome = self.remove_at_once(row) if new else None
                if outcome is None:
                    outcome = self.remover.remove_remote(row)
            else:
                raise ValueError('%s is not an action to carry out' % action)
        except RetryLater as exc:
            self.logger.debug('%s: retry later: %s', self._what(row),
                              exc.reason)
            raise
        except RowFailed:
            self.stats.increment('errors')
            raise
        except local.EncryptedObject as exc:
            self.stats.increment('errors')
            raise RowFailed('%s: %s; nothing was sent to the remote'
                            % (self._what(row), exc))
        except (exceptions.RemoteError, lo.LocalReadError,
                lo.InvalidLargeObject) as exc:
            # NOTE(cloudsync): a provider may wrap an error raised while it
            # read the local object; the local error is the one that tells.
            cause = _cause(exc, (lo.InvalidLargeObject, lo.LocalReadError,
                                 local.EncryptedObject))
            if isinstance(cause, (lo.InvalidLargeObject,
                                  local.EncryptedObject)):
                self.stats.increment('errors')
                raise RowFailed('%s: %s' % (self._what(row), cause))
            if cause is not None:
                raise self._local_failure(row, cause)
            failure = self._remote_failure(row, exc)
            if isinstance(exc, exceptions.InvalidObject):
                # NOTE(cloudsync): trying again changes nothing until the
                # object (or the mapping) does: its new row replaces this.
                failure.permanent = True
            raise failure
        self.logger.debug('%s: %s', self._what(row), outcome.value)
        return outcome

    def remove_at_once(self, row):
        """Carry out the delete ``row``, new (see :meth:`handle`), with one
        remote request when nothing but the sync daemons writes this
        mapping's objects (``remote_writers`` false): the object and its
        manifest side object are deleted together (a provider with
        :attr:`~cloudsync.providers.Provider.BULK_DELETE`), without
        reading the copy first.

        Without another writer, the remote copy is one the daemons made
        from an older version than the delete: a newer local version has
        a newer row, which follows and is copied. Not for mappings that
        remove local data (archiving leaves tombstones whose remote copy
        stays), nor for a delete whose timestamp has an offset (such as
        the tombstone an archive left), nor with ``propagate_delete``
        off, nor for stores that keep DLOs (their segments are removed
        with the copy): those read the copy first
        (:meth:`cloudsync.sync.remove.Remover.remove_remote`).

        :returns: the :class:`Outcome`, or None when the copy is to be
            read first.
        """
        mapping = self.mapping
        if (mapping.has_remote_writers or not mapping.propagate_delete or
                mapping.removes_local_data or self.provider.KEEPS_DLO or
                not providers.deletes_in_one_request(self.provider) or
                row.timestamp.offset):
            return None
        key = self.remover.remote_key(row)
        if isinstance(key, Outcome):
            return key
        keys = [key]
        manifest = self.layout.manifest_key(row.name)
        try:
            self.uploader.check_key(manifest)
            keys.insert(0, manifest)
        except exceptions.InvalidObject:
            pass
        # NOTE(cloudsync): S3 answers the same whether or not a key was
        # there: the outcome is "deleted, or not there".
        self.provider.delete_objects(self.bucket, keys)
        self.stats.increment('deleted_objects')
        return Outcome.DELETED

    def verify(self, rows):
        """The rows (handled by other replicas) that need :meth:`handle`.

        Live rows are compared with the remote listing (presence, size and
        ETag); a row whose metadata changed after its data, whose remote
        copy was stored before the row was written, or a large object, is
        checked with a HEAD (the listing has no metadata).
        Deleted rows need handling when their object is still listed (with
        ``propagate_delete`` off, when its remote copy, HEADed, is older
        than the delete and not marked deleted yet).
        Names too sparse for listing pages to pay off are HEADed.
        On a cluster that encrypts objects at rest, rows carry encrypted
        ETags: such a row is current when its remote copy (HEADed) was made
        from the row's version or a newer one and has the row's size.
        """
        todo = []
        for row in rows:
            if self.mapping.excludes(row.name):
                continue
            if row.deleted and not self.mapping.propagate_delete and \
                    not self.mapping.shunted:
                continue
            todo.append(row)
        if not todo:
            return []
        todo.sort(key=lambda r: r.name)
        try:
            return self.replicas.check(todo)
        except exceptions.RemoteError as exc:
            what = 'mapping %s: verifying %d rows of %s/%s in %s' % (
                self.mapping.name, len(todo), self.account, self.container,
                self._remote_label())
            if exc.retryable:
                raise RetryLater('%s: %s' % (what, exc))
            self.stats.increment('errors')
            raise RowFailed('%s: %s' % (what, exc))

    def prepare(self):
        """Once per container pass, before its rows.

        For remotes that keep Swift containers, with the mapping's
        ``storage_policy`` or ``sync_container_metadata``: create the remote
        container when it is missing (with ``storage_policy``; unless the
        remote's ``create_containers`` is false), and mirror the
        container's metadata (``sync_container_metadata``,
        ``sync_container_acl``).
        Then set the remote expiry of ``remote_delete_after`` (once per
        process; an unchanged rule is not sent again, so the expiry never
        slides).
        """
        if self.provider.BUCKET_PER_CONTAINER:
            self._prepare_container()
        self._prepare_expiration()

    def _prepare_container(self):
        key = (getattr(self.mapping.remote, 'name', None), self.bucket)
        if self.mapping.storage_policy or \
                self.mapping.sync_container_metadata:
            self._ensure_container(key)
        if not self.mapping.sync_container_metadata:
            return
        resp = self.ic.make_request(
            'HEAD', self.ic.make_path(self.account, self.container),
            {local.SHUNT_BYPASS_HEADER: 'true'}, (2, 404))
        if resp.status_int == 404:
            return
        headers = source_mod.local_headers(resp)
        wanted = sorted((k, v) for k, v in headers.items()
                        if k.startswith('x-container-meta-') or
                        (self.mapping.sync_container_acl and
                         k in ('x-container-read', 'x-container-write')))
        with self._class_lock:
            if self._container_metadata.get(key) == wanted:
                return
        try:
            changed = self.provider.update_container_metadata(
                self.bucket, dict(wanted),
                acl=self.mapping.sync_container_acl)
        except exceptions.TargetNotFound:
            # NOTE(cloudsync): removed on the remote since it was checked.
            with self._class_lock:
                self._containers_checked.discard(key)
            self._ensure_container(key)
            changed = self.provider.update_container_metadata(
                self.bucket, dict(wanted),
                acl=self.mapping.sync_container_acl)
        if changed:
            self.logger.info('mapping %s: container metadata of %s/%s '
                             'copied to %s', self.mapping.name, self.account,
                             self.container, self._remote_label())
        with self._class_lock:
            self._container_metadata[key] = wanted

    def _ensure_container(self, key):
        """Create the remote container when it is missing (once per
        process), with the mapping's ``storage_policy``, unless the
        remote's ``create_containers`` is false: a missing container then
        raises :class:`TargetNotFound`, as a write to it would.
        """
        with self._class_lock:
            if key in self._containers_checked:
                return
        self.provider.check_target(
            self.bucket, create=self.provider.creates_containers,
            storage_policy=self.mapping.storage_policy)
        with self._class_lock:
            self._containers_checked.add(key)

    def _prepare_expiration(self):
        seconds = self.mapping.remote_delete_after
        if not seconds or seconds <= 0:
            return
        prefix = self.layout.listing_prefix()
        key = (self.mapping.remote.name if self.mapping.remote else None,
               self.bucket, prefix)
        with self._class_lock:
            if self._expirations.get(key) == seconds or \
                    key in self._expiration_unsupported:
                return
        try:
            self.provider.set_expiration(self.bucket, prefix, seconds)
        except exceptions.NotSupported as exc:
            with self._class_lock:
                self._expiration_unsupported.add(key)
            self.logger.warning(
                'mapping %s: remote_delete_after is set, but the remote '
                'cannot expire objects: %s', self.mapping.name, exc)
            return
        except exceptions.RemoteError as exc:
            # NOTE(cloudsync): copies go on; the rule is tried again on the
            # next pass, and it applies to objects copied meanwhile too.
            self.logger.error(
                'mapping %s: could not set the remote expiry of %s in %s: '
                '%s', self.mapping.name, prefix, self._remote_label(), exc)
            return
        with self._class_lock:
            self._expirations[key] = seconds
        self.logger.info('mapping %s: the remote expires objects under %s '
                         'after %d seconds', self.mapping.name, prefix,
                         seconds)

    def _remote_label(self):
        remote = getattr(self.mapping.remote, 'name', None) or \
            self.provider.name
        return 'remote %s bucket %s' % (remote, self.bucket)

    def _what(self, row):
        return 'mapping %s: %s/%s/%s' % (self.mapping.name, self.account,
                                         self.container, row.name)

    def _remote_failure(self, row, exc):
        message = '%s -> %s: %s' % (self._what(row), self._remote_label(),
                                    exc)
        self.stats.increment('errors')
        if exc.retryable:
            return RetryLater(message)
        return RowFailed(message)

    def _local_failure(self, row, exc):
        message = '%s: reading the local cluster failed: %s' % (
            self._what(row), exc)
        self.stats.increment('errors')
        # NOTE(cloudsync): a 404 or 412 here means the object (or a segment)
        # changed while it was being read: its new row follows.
        if exc.status is None or exc.status >= 500 or \
                exc.status in (404, 409, 412, 416, 429):
            return RetryLater(message)
        return RowFailed(message)


def _cause(exc, cls):
    """The first exception of class ``cls`` in ``exc``'s chain."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, cls):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
