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

What happens, per decision:

copy
    The local object is read through Swift's internal client (every
    request carries ``X-Cloudsync-Shunt-Bypass`` and the row's storage
    policy), from one replica first, then with ``X-Newest`` when that one
    answers with an older version than the row or not at all. An object
    whose row is at most :data:`SMALL_OBJECT_SIZE` is read with one GET
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
    one is left alone.

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
    to :data:`ARCHIVE_FENCE` (Swift refuses that POST when any POST landed
    since the copied version), and the DELETE carries ``X-If-Delete-At``
    (Swift refuses it, 412, when a POST landed in between). The object
    then stays, and the row of that POST archives it with its metadata.
    When the DELETE fails otherwise, the object gets its own
    ``X-Delete-At`` back. Unless
    ``retain_local_segments`` is set, a large object's segments are deleted
    once its manifest is: never when the manifest was overwritten (409) or
    deleted by someone else meanwhile. Segments that cannot be deleted are
    left in place and named in an ERROR line.

remove-remote
    Delete the remote copy (and an SLO's manifest side object; and a
    remote DLO's segments, first, when none are left under the local
    segments container and prefix it was copied from), unless the
    remote copy is newer than the delete (by its ``cloudsync-timestamp``,
    the Swift timestamp of the version copied, never by the remote's
    Last-Modified, which has whole seconds and the remote's clock), or the
    delete is the tombstone that archiving this very copy left (its
    timestamp is the copy's with the offset increased by one, see
    :func:`archive_timestamp`). A remote object without
    ``cloudsync-timestamp`` is not a copy cloudsync wrote (another
    writer's, or one swift-s3-sync archived): a delete leaves it.

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

import dataclasses
import enum
import functools
import hashlib
import json
import threading

from oslo_log import log as logging
from swift.common import internal_client
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import concurrency
from cloudsync import exceptions
from cloudsync import large_objects as lo
from cloudsync import lifecycle
from cloudsync import local
from cloudsync import metadata as md
from cloudsync import providers
from cloudsync import stats as stats_mod
from cloudsync import symlinks

LOG = logging.getLogger(__name__)

POLICY_HEADER = 'X-Backend-Storage-Policy-Index'
#: what a request to the local cluster, or reading its answer, may raise
_LOCAL_ERRORS = (Exception, concurrency.Timeout)
#: the ETag of the manifest side object of an SLO (or converted DLO)
MANIFEST_ETAG_KEY = md.RESERVED_PREFIX + 'manifest-etag'
#: the local X-Object-Manifest of a DLO the remote keeps as a DLO
DLO_SOURCE_KEY = md.DLO_SOURCE_KEY
#: cloudsync's keys compared to decide whether remote metadata is current
COMPARED_KEYS = (md.DELETE_AT_KEY, md.SLO_ETAG_KEY, md.ETAG_KEY,
                 MANIFEST_ETAG_KEY, DLO_SOURCE_KEY, md.S3API_ETAG_KEY,
                 md.SYMLINK_TARGET_KEY, md.SYMLINK_ACCOUNT_KEY,
                 md.SYMLINK_ETAG_KEY, md.SYMLINK_BYTES_KEY)
#: remote storage classes whose objects cannot be copied in place
COLD_CLASSES = frozenset(['GLACIER', 'DEEP_ARCHIVE'])
SEGMENT_DELETE_WORKERS = 10
#: verify: listing pages that may be read for every 10 rows
ROWS_PER_PAGE = 10
LIST_LIMIT = 1000
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
#: seconds a remote's Last-Modified may lag behind (whole seconds, clocks)
LAST_MODIFIED_SLACK = 2.0
#: objects whose row says they are at most this large are read with one
#: GET, their bytes held in memory, instead of a HEAD and then a GET
SMALL_OBJECT_SIZE = 1 * lo.MiB
# NOTE(cloudsync): on a small object an object server spends about as much
# on a HEAD as on a GET, so HEAD + GET costs it twice what one GET does, and
# on a busy node the object servers are what limits the copy rate. The
# bound caps the memory this takes: each of the ``workers`` rows in flight
# holds at most one such body, so at most workers x SMALL_OBJECT_SIZE bytes
# in all. Larger objects are streamed from a second GET, as before.


class Outcome(enum.Enum):
    #: the object's data was sent to the remote
    COPIED = 'copied'
    #: only the remote's metadata was replaced
    METADATA_UPDATED = 'metadata-updated'
    #: the remote was already right (or newer); nothing was sent
    UNCHANGED = 'unchanged'
    #: the remote copy was deleted
    DELETED = 'deleted'
    #: a delete found nothing on the remote
    NOT_FOUND_REMOTE = 'not-found-remote'
    #: copied, verified, and removed locally
    ARCHIVED = 'archived'
    #: excluded by the mapping (exclude_pattern, selection_criteria)
    SKIPPED = 'skipped'
    #: the local object was deleted (or expired) at or after the row: the
    #: row of that change follows
    LOCAL_GONE = 'local-gone'


class RetryLater(Exception):
    """The row is not ready, or a passing failure; try it again later.

    :param reason: why, for the log.
    :param retry_after: seconds after which trying again makes sense, or
        None to use the daemon's backoff.
    """

    def __init__(self, reason, retry_after=None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class RowFailed(Exception):
    """The row failed; the message names the object, the mapping and the
    remote's (or Swift's) answer.
    """

    #: trying again cannot help until the object or the mapping changes
    #: (a name the remote cannot hold): the daemon waits its longest
    #: backoff before it does
    permanent = False


@dataclasses.dataclass
class _Source:
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


@dataclasses.dataclass
class _CopyResult:
    outcome: Outcome
    source: _Source = None
    remote: providers.ObjectInfo = None
    #: the remote holds a newer version than the local one
    remote_newer: bool = False


def archive_timestamp(timestamp):
    """The X-Timestamp of the DELETE that archives the object version of
    ``timestamp``: just after it, so that Swift refuses the DELETE (409)
    when a newer version was written since, and so that its tombstone is
    recognisably archiving's, not a user's delete.
    """
    # NOTE(cloudsync): Timestamp adds ``offset`` to the one it is given.
    return swift_utils.Timestamp(timestamp, offset=1)


def _timestamp(value):
    """A Swift timestamp, or None for none or garbage (``inf``,
    ``1e400``, ``nan``, out of range, not a number).
    """
    try:
        return swift_utils.Timestamp(value) if value else None
    except (ValueError, OverflowError, TypeError):
        return None


def _local_headers(resp):
    """Response headers, lower-case names, values as ``str``."""
    return {swob.wsgi_to_str(k).lower(): swob.wsgi_to_str(v)
            for k, v in resp.headers.items()}


def write_acl_entries(value):
    """The entries of a container's X-Container-Write, as a set."""
    return frozenset(
        item.strip() for item in (value or '').split(',') if item.strip())


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

    def __init__(self, mapping, account, container, provider,
                 internal_client, stats=None, logger=None):
        self.mapping = mapping
        self.account = account
        self.container = container
        self.provider = provider
        self.ic = internal_client
        self.stats = stats if stats is not None else stats_mod.NullStats()
        self.logger = logger or LOG
        self.bucket = mapping.remote_bucket(container)
        self.layout = mapping.remote_layout(container)

    # -- the interface ------------------------------------------------------

    def handle(self, row, decision):
        """Carry out ``decision`` (COPY, ARCHIVE, REMOVE_REMOTE) for ``row``.

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
                outcome = self._copy(row).outcome
            elif action is lifecycle.Action.ARCHIVE:
                outcome = self._archive(row)
            elif action is lifecycle.Action.REMOVE_REMOTE:
                outcome = self._remove_remote(row)
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
            return self._verify(todo)
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
        headers = _local_headers(resp)
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

    # -- messages and errors ------------------------------------------------

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

    # -- the local cluster --------------------------------------------------

    def _request(self, method, container, obj=None, headers=None,
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
        except _LOCAL_ERRORS as exc:
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

    def _head_local(self, row, newest_only=False):
        """The local object's headers, or None when it was deleted (or
        expired) at or after the row's version.

        :raises RetryLater: on a 404 that shows no such delete.
        """
        return self._read_local(row, newest_only)[0]

    def _read_local(self, row, newest_only=False, small=False):
        """``(headers, body)`` of the local object; headers None when it
        was deleted (or expired) at or after the row's version.

        With ``small``, the replica asked first is asked with a GET instead
        of a HEAD, and ``body`` is its bytes when they are those of a plain
        object of at most :data:`SMALL_OBJECT_SIZE` bytes whose MD5 is its
        ETag (see :meth:`_small_body`); otherwise ``body`` is None and the
        bytes are read with :meth:`_fetch`.

        :raises RetryLater: on a 404 that shows no such delete.
        """
        # NOTE(cloudsync): X-Newest makes the proxy ask every replica, which
        # costs the object servers three times as much. One replica is
        # asked first; only when it answers with an older version than the
        # row (or not at all) are all of them asked, with a HEAD.
        body = None
        for newest in ((True,) if newest_only else (False, True)):
            get = small and not newest
            resp = self._request(
                'GET' if get else 'HEAD', self.container, row.name,
                policy=row.storage_policy_index, acceptable=(2, 404),
                newest=newest,
                params={'multipart-manifest': 'get'} if get else None)
            if resp.status_int == 404:
                swift_utils.close_if_possible(resp.app_iter)
                headers = None
                continue
            headers = _local_headers(resp)
            timestamp = self._local_timestamp(headers)
            if timestamp is not None and timestamp >= row.meta_timestamp:
                if get:
                    body = self._small_body(row, resp, headers)
                break
            swift_utils.close_if_possible(resp.app_iter)
        if headers is None:
            # NOTE(cloudsync): the proxy answers 404 too when the replicas
            # that hold the object cannot be reached (a node down, a
            # handoff without it). Only a tombstone (its timestamp is the
            # 404's X-Backend-Timestamp) at or after the row says the
            # object is gone; the row of that delete or overwrite follows.
            tombstone = _timestamp(swob.wsgi_to_str(
                resp.headers.get('X-Backend-Timestamp') or ''))
            if tombstone is None or tombstone < row.meta_timestamp:
                raise RetryLater(
                    'not found locally, and no replica has a delete at or '
                    'after the row (%s; tombstone answered: %s): a replica '
                    'that holds it may be unreachable' % (
                        row.meta_timestamp.internal,
                        tombstone.internal if tombstone else None))
        return headers, body

    def _read_version(self, row, link_headers, data_path):
        """``(headers, body)`` of the current version of a versioned
        object, whose link (object versioning's, see
        :func:`cloudsync.symlinks.version_target`) has ``link_headers``:
        the version's headers, with the link's timestamp, user metadata
        and expiry (the link is the row's object; object versioning gives
        both the same metadata, and the expiry to the link only); ``body``
        as :meth:`_read_local` gives it.

        :raises RetryLater: the version is not found (yet).
        """
        container, obj = data_path
        size = link_headers.get(symlinks.SYSMETA_BYTES) or ''
        get = size.isdigit() and int(size) <= SMALL_OBJECT_SIZE
        resp = self._request(
            'GET' if get else 'HEAD', container, obj,
            policy=row.storage_policy_index, acceptable=(2, 404),
            params={'multipart-manifest': 'get'} if get else None)
        if resp.status_int == 404:
            swift_utils.close_if_possible(resp.app_iter)
            raise RetryLater('the current version of the object (%r) is '
                             'not found' % obj)
        headers = _local_headers(resp)
        body = None
        if get:
            body = self._small_body(row, resp, headers)
        else:
            swift_utils.close_if_possible(resp.app_iter)
        own = ('x-delete-at', 'x-timestamp', 'x-backend-timestamp')
        merged = {k: v for k, v in headers.items()
                  if k not in own and not k.startswith(md.OBJECT_META_PREFIX)}
        merged.update((k, v) for k, v in link_headers.items()
                      if k in own or k.startswith(md.OBJECT_META_PREFIX))
        return merged, body

    def _small_body(self, row, resp, headers):
        """The bytes of the GET ``resp`` of a plain object of at most
        :data:`SMALL_OBJECT_SIZE` bytes, or None (the response closed
        unread, or read no further) for a large object's manifest or a
        larger object: its bytes are then read as usual.

        :raises LocalReadError: when the bytes are not those the ETag and
            Content-Length describe.
        """
        what = 'GET %s/%s' % (self.container, row.name)
        body = _Closing(resp.app_iter if resp.app_iter is not None
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

    @staticmethod
    def _local_timestamp(headers):
        return (_timestamp(headers.get('x-backend-timestamp')) or
                _timestamp(headers.get('x-timestamp')))

    def _fetch(self, piece):
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
            resp = self._request('GET', piece.container, piece.obj,
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
        return _Closing(resp.app_iter, 'GET %s' % piece.path)

    def _reader(self, pieces, start=0, length=None, digest=True):
        return lo.PieceReader(self._fetch, pieces, start, length,
                              digest=digest)

    def _get_manifest(self, container, obj, policy=None):
        # NOTE(cloudsync): no If-Match: the caller compares timestamps
        # instead, which also catches a POST since the HEAD.
        resp = self._request('GET', container, obj,
                             policy=policy, newest=True,
                             params={'multipart-manifest': 'get'})
        raw = _read_body(resp, 'GET %s/%s' % (container, obj))
        return _local_headers(resp), raw

    def _list_segments(self, container, prefix):
        marker = ''
        while True:
            resp = self._request('GET', container, acceptable=(2, 404),
                                 params={'format': 'json',
                                         'prefix': swob.str_to_wsgi(prefix),
                                         'marker': swob.str_to_wsgi(marker)})
            if resp.status_int == 404:
                return
            page = json.loads(_read_body(resp, 'GET %s' % container))
            if not page:
                return
            for entry in page:
                yield entry
            marker = page[-1]['name']

    # -- what the remote copy must be ---------------------------------------

    def _source(self, row, headers, timestamp, body=None, data_path=None):
        content_type = lo.strip_swift_bytes(
            headers.get('content-type') or 'application/octet-stream')
        want = {k: v for k, v in headers.items()
                if k.startswith(md.OBJECT_META_PREFIX)}
        internal = {md.TIMESTAMP_KEY: timestamp.internal}
        expires_at = None
        if self.mapping.propagate_expiration and headers.get('x-delete-at'):
            try:
                expires_at = int(float(headers['x-delete-at']) +
                                 self.mapping.propagate_expiration_offset)
                internal[md.DELETE_AT_KEY] = str(expires_at)
            except ValueError:
                pass
        etag = lo.normalize_etag(headers.get('etag'))
        source = _Source(
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
            self._slo_source(row, headers, source)
        elif headers.get('x-object-manifest'):
            self._dlo_source(headers, source)
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

    def _load_sub_manifest(self, container, obj):
        headers, raw = self._get_manifest(container, obj)
        if not swift_utils.config_true_value(
                headers.get('x-static-large-object')):
            return None
        return lo.load_manifest(raw)

    def _set_segments(self, source, entries):
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

    def _slo_source(self, row, headers, source):
        source.kind = 'slo'
        container, obj = source.data_path or (self.container, row.name)
        get_headers, raw = self._get_manifest(
            container, obj, policy=row.storage_policy_index)
        got = self._local_timestamp(get_headers)
        # NOTE(cloudsync): a version is never overwritten; its timestamp
        # is not the link's.
        if source.data_path is None and got is not None and \
                got != source.timestamp:
            raise RetryLater('the manifest changed while it was read (%s, '
                             'then %s)' % (source.timestamp.internal,
                                           got.internal))
        entries = lo.load_manifest(raw)
        source.pieces = lo.manifest_pieces(entries, self._load_sub_manifest)
        source.manifest = raw
        source.swift_etag = lo.normalize_etag(
            headers.get('x-object-sysmeta-slo-etag')) or lo.slo_etag(entries)
        if headers.get('x-object-sysmeta-s3api-etag'):
            # NOTE(cloudsync): what s3api shows S3 clients for its uploads,
            # so that every endpoint shows them the same ETag.
            source.internal[md.S3API_ETAG_KEY] = headers[
                'x-object-sysmeta-s3api-etag']
        source.segments = _unique_objects(
            source.pieces, [(container, obj)])
        for entry in entries:
            if entry.get('sub_slo'):
                source.segments.append(
                    lo.split_segment_name(entry['name']))
        self._set_segments(source, entries)

    def _dlo_source(self, headers, source):
        value = headers['x-object-manifest']
        source.headers[md.DLO_KEY] = value
        target = swob.wsgi_to_str(swob.wsgi_unquote(swob.str_to_wsgi(
            value)))
        if '/' not in target:
            raise lo.InvalidLargeObject(
                'X-Object-Manifest %r names no container/prefix' % value)
        seg_container, prefix = target.split('/', 1)
        entries = []
        for entry in self._list_segments(seg_container, prefix):
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
        if self.provider.KEEPS_DLO and not self.mapping.convert_dlo:
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
            self._set_segments(source, manifest)
        else:
            source.etag_key = md.ETAG_KEY
            source.internal[md.ETAG_KEY] = source.swift_etag

    # -- comparing with the remote ------------------------------------------

    def _head_remote(self, key):
        try:
            return self.provider.head_object(self.bucket, key)
        except exceptions.TargetNotFound:
            raise
        except exceptions.NotFound:
            return None

    @staticmethod
    def _remote_timestamp(info):
        return _timestamp(md.internal_values(info.metadata).get(
            md.TIMESTAMP_KEY))

    def _same_content(self, source, info):
        if info.size != source.size:
            return False
        if source.link != symlinks.Link.from_metadata(
                md.internal_values(info.metadata)):
            # NOTE(cloudsync): another link, or an empty object that is
            # not one: the copy is made again, not only its metadata.
            return False
        if source.dlo_manifest is not None:
            return (info.dlo_manifest == source.dlo_manifest and
                    lo.normalize_etag(info.etag) == source.expected_etag)
        if source.expected_etag and \
                lo.normalize_etag(info.etag) == source.expected_etag:
            return True
        if source.etag_key:
            have = md.internal_values(info.metadata).get(source.etag_key)
            return lo.normalize_etag(have) == source.swift_etag
        return False

    def _same_metadata(self, source, info):
        if info.content_type != source.content_type:
            return False
        if not md.same_metadata(source.headers, info.metadata):
            return False
        have = md.internal_values(info.metadata)
        for key in COMPARED_KEYS:
            if have.get(key) == source.internal.get(key):
                continue
            # NOTE(cloudsync): copies made before every plain copy kept its
            # Swift ETag lack the key; where their own ETag is that MD5
            # they are current, and are not copied onto themselves (or,
            # in a cold storage class, sent again) just to gain it.
            if key == md.ETAG_KEY and key not in have and \
                    lo.normalize_etag(info.etag) == source.swift_etag:
                continue
            return False
        return self._remote_timestamp(info) == source.timestamp

    # -- copy ---------------------------------------------------------------

    def _check_key(self, key):
        """Whether the remote can hold ``key``; raises
        :class:`~cloudsync.exceptions.InvalidObject` (the provider's
        ``check_key``, without any request) when it cannot.
        """
        self.provider.check_key(self.bucket, key)

    def _copy(self, row):
        if self.mapping.excludes(row.name):
            return _CopyResult(Outcome.SKIPPED)
        # NOTE(cloudsync): before anything is read: a name the remote
        # cannot hold fails at no cost, however often it is tried.
        self._check_key(self.layout.object_key(row.name))
        # NOTE(cloudsync): an SLO manifest's row says so (swift_bytes); its
        # manifest is read by _slo_source, so it is only HEADed here.
        small = (row.size or 0) <= SMALL_OBJECT_SIZE and \
            'swift_bytes=' not in (row.content_type or '')
        headers, body = self._read_local(row, small=small)
        if headers is None:
            return _CopyResult(Outcome.LOCAL_GONE)
        data_path = symlinks.version_target(headers)
        if data_path is not None:
            headers, body = self._read_version(row, headers, data_path)
        timestamp = self._local_timestamp(headers)
        if timestamp is None or timestamp < row.meta_timestamp:
            raise RetryLater('the local copy (%s) is older than the row '
                             '(%s): a stale replica answered' % (
                                 timestamp.internal if timestamp else None,
                                 row.meta_timestamp.internal))
        if not self.mapping.selects(headers):
            return _CopyResult(Outcome.SKIPPED)
        source = self._source(row, headers, timestamp, body, data_path)
        key = self.layout.object_key(row.name)
        info = self._head_remote(key)
        if info is not None:
            remote_ts = self._remote_timestamp(info)
            if remote_ts is not None and remote_ts > timestamp:
                self.logger.debug(
                    '%s: the remote copy (%s) is newer than the local one '
                    '(%s); leaving it', self._what(row), remote_ts.internal,
                    timestamp.internal)
                return _CopyResult(Outcome.UNCHANGED, source, info, True)
            if self._same_content(source, info):
                if self._same_metadata(source, info):
                    return _CopyResult(Outcome.UNCHANGED, source, info)
                # NOTE(cloudsync): an object in a cold storage class cannot
                # be copied onto itself; it is sent again instead.
                if (info.storage_class or '').upper() not in COLD_CLASSES:
                    self._update_metadata(source, info)
                    return _CopyResult(Outcome.METADATA_UPDATED, source)
        self._upload(source)
        return _CopyResult(Outcome.COPIED, source)

    def _put_manifest(self, source):
        self.provider.put_object(
            self.bucket, self.layout.manifest_key(source.name),
            source.manifest, len(source.manifest),
            content_type='application/json',
            metadata={md.TIMESTAMP_KEY: source.timestamp.internal},
            md5=source.internal[MANIFEST_ETAG_KEY])

    def _update_metadata(self, source, info):
        if source.manifest is not None and md.internal_values(
                info.metadata).get(MANIFEST_ETAG_KEY) != \
                source.internal[MANIFEST_ETAG_KEY]:
            self._put_manifest(source)
        kwargs = {}
        if self.mapping.propagate_expiration and \
                providers.takes_expiry(self.provider):
            # NOTE(cloudsync): the local X-Delete-At may have been changed
            # or removed by the POST; None removes the propagated one.
            kwargs['expires_at'] = source.expires_at
        self.provider.update_metadata(
            self.bucket, self.layout.object_key(source.name),
            content_type=source.content_type,
            metadata=source.remote_metadata(), **kwargs)
        self.stats.increment('metadata_updates')

    def _upload(self, source):
        provider = self.provider
        key = self.layout.object_key(source.name)
        meta = source.remote_metadata()
        common = dict(content_type=source.content_type, metadata=meta,
                      expires_at=source.expires_at)
        link_target = self._remote_link_target(source)
        if source.manifest is not None:
            # NOTE(cloudsync): the manifest goes first: a remote SLO whose
            # metadata names this manifest's ETag always has its manifest.
            self._put_manifest(source)
        if link_target is not None:
            provider.put_symlink(self.bucket, key, '%s/%s' % (
                self.bucket, link_target[0]), target_etag=link_target[1],
                **common)
        elif source.dlo_manifest is not None:
            segments = [providers.Segment(
                self.layout.dlo_key(piece.container, piece.obj),
                piece.length,
                functools.partial(self._reader, [piece]), piece.etag)
                for piece in source.pieces]
            provider.put_dlo(self.bucket, key, source.dlo_prefix, segments,
                             **common)
        elif source.part_per_segment:
            # NOTE(cloudsync): each part's MD5 is its segment's ETag from
            # the manifest, sent as Content-MD5 (and the segment is read
            # with If-Match on it): the parts are not hashed here again.
            parts = [providers.Part(
                number, piece.length,
                functools.partial(self._reader, [piece], digest=False),
                md5=piece.etag)
                for number, piece in enumerate(source.pieces, 1)]
            etag = provider.put_multipart(self.bucket, key, parts, **common)
            self._check_etag(source, key, etag, source.expected_etag)
        elif source.expected_etag is not None:
            with self._reader(source.pieces, digest=False) as body:
                provider.put_object(self.bucket, key, body, source.size,
                                    md5=source.expected_etag, **common)
        elif source.size < provider.MIN_PART_SIZE:
            data = self._reader(source.pieces).read_all()
            provider.put_object(
                self.bucket, key, data, len(data),
                md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                **common)
        else:
            self._upload_cut(source, key, common)
        self.stats.increment('copied_objects')
        self.stats.increment('bytes', source.size)

    def _remote_link_target(self, source):
        """``(key, etag)`` of the remote copy of a symlink's target, for a
        remote that keeps symlinks (``etag`` None: a dynamic link), or
        None when the link is copied as an empty object carrying it: the
        remote keeps no symlinks, or the target is not an object of this
        mapped container, or is excluded.

        A static link stays static when the remote copy of its target has
        the link's ETag; otherwise (a large object, whose copy is another
        manifest) the link is kept dynamic, with its ETag in its metadata
        (the shunt and proxymc check it).

        :raises RetryLater: the target of a static link is in Swift but
            not copied yet (its row comes first).
        """
        link = source.link
        if link is None or not self.provider.KEEPS_SYMLINKS:
            return None
        container, obj = link.container_object()
        key = self.layout.key_of(link.target_account(self.account),
                                 container, obj)
        if key is None or not obj or self.mapping.excludes(obj):
            return None
        if not link.is_static:
            return key, None
        info = self._head_remote(key)
        if info is None:
            resp = self._request('HEAD', container, obj, acceptable=(2, 404))
            swift_utils.close_if_possible(resp.app_iter)
            if resp.is_success:
                raise RetryLater('the target of static link %s is not on '
                                 'the remote yet' % source.name)
        elif lo.normalize_etag(info.etag) == lo.normalize_etag(link.etag):
            return key, link.etag
        self.logger.info(
            'mapping %s: the remote copy of %s, the target of static link '
            '%s, is %s: the link is copied as a dynamic one',
            self.mapping.name, obj, source.name,
            'missing' if info is None else 'another object')
        return key, None

    def _plan(self, size):
        return self.provider.plan_parts(size)

    def _upload_cut(self, source, key, common):
        """Upload bytes cut into new parts; their MD5s are computed while
        they are read and the remote ETag is checked against them.
        """
        md5s = {}

        def opener(number, offset, length):
            reader = self._reader(source.pieces, offset, length)
            md5s[number] = reader
            return reader

        parts = [providers.Part(number, length,
                                functools.partial(opener, number, offset,
                                                  length))
                 for number, (offset, length) in enumerate(
                     self._plan(source.size), 1)]
        etag = self.provider.put_multipart(self.bucket, key, parts,
                                           **common)
        digests = [md5s[p.number].md5 if p.number in md5s else None
                   for p in parts]
        if all(digests):
            self._check_etag(source, key, etag, lo.multipart_etag(digests))

    def _etag_is_md5(self):
        return bool(self.provider.etag_is_md5)

    def _check_etag(self, source, key, etag, expected):
        etag = lo.normalize_etag(etag)
        if not lo.is_multipart_etag(etag) or not self._etag_is_md5() or \
                etag == expected:
            return
        # NOTE(cloudsync): the remote copy claims (in its metadata) to be
        # the local object but holds other bytes: never leave it behind.
        try:
            self.provider.delete_object(self.bucket, key)
        except exceptions.RemoteError as exc:
            self.logger.warning('could not remove the bad copy %s/%s: %s',
                                self.bucket, key, exc)
        raise exceptions.ChecksumMismatch(
            'the remote stored %s with ETag %s, not the expected %s'
            % (key, etag, expected))

    # -- archive ------------------------------------------------------------

    def _archive(self, row):
        result = self._copy(row)
        if result.outcome in (Outcome.SKIPPED, Outcome.LOCAL_GONE):
            return result.outcome
        source = result.source
        if result.remote_newer or source.timestamp > row.meta_timestamp:
            self.logger.info(
                '%s: changed since its row (%s, now %s); its newer row will '
                'archive it', self._what(row), row.meta_timestamp.internal,
                source.timestamp.internal)
            return Outcome.UNCHANGED
        key = self.layout.object_key(row.name)
        info = result.remote
        if result.outcome is not Outcome.UNCHANGED:
            info = self._head_remote(key)
        if info is None or not self._same_content(source, info) or \
                not self._same_metadata(source, info):
            raise RetryLater('the remote copy %s did not verify after the '
                             'copy' % key)
        # NOTE(cloudsync): every replica is asked: a POST that reached only
        # some of them must keep the object, since the DELETE below is
        # refused only by a newer PUT.
        headers = self._head_local(row, newest_only=True)
        if headers is None:
            return Outcome.LOCAL_GONE
        now = self._local_timestamp(headers)
        if now != source.timestamp:
            self.logger.info('%s: changed while it was archived (%s, now '
                             '%s); keeping it', self._what(row),
                             source.timestamp.internal,
                             now.internal if now else None)
            return Outcome.UNCHANGED
        delete_ts = archive_timestamp(row.meta_timestamp)
        kept = self._fence(row, headers, delete_ts)
        if kept is not None:
            return kept
        try:
            resp = self._request(
                'DELETE', self.container, row.name,
                headers={'X-Timestamp': delete_ts.internal,
                         'X-If-Delete-At': str(ARCHIVE_FENCE)},
                policy=row.storage_policy_index,
                acceptable=(2, 404, 409, 412))
        except lo.LocalReadError:
            self._unfence(row, headers)
            raise
        swift_utils.close_if_possible(resp.app_iter)
        if resp.status_int == 412:
            self.logger.info('%s: its metadata changed (a POST) while it '
                             'was archived; kept, the newer row archives '
                             'it', self._what(row))
            return Outcome.UNCHANGED
        if resp.status_int == 409:
            self.logger.info('%s: overwritten since its row (%s); the newer '
                             'object is kept', self._what(row),
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
            self._delete_segments(row, source.segments)
        self.stats.increment('archived_objects')
        return Outcome.ARCHIVED

    def _write_acl(self, container):
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
        except _LOCAL_ERRORS as exc:
            raise lo.LocalReadError('HEAD %s/%s: %s: %s' % (
                self.account, container, type(exc).__name__, exc))
        swift_utils.close_if_possible(resp.app_iter)
        if not resp.is_success:
            raise lo.LocalReadError('HEAD %s/%s: %s' % (
                self.account, container, resp.status),
                status=resp.status_int)
        return write_acl_entries(resp.headers.get('X-Container-Write'))

    def _deletable_segments(self, row, segments):
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
                            acls[self.container] = self._write_acl(
                                self.container)
                        acls[container] = \
                            acls[self.container] <= self._write_acl(
                                container)
                    except lo.LocalReadError as exc:
                        self.logger.warning(
                            '%s: keeping its segments in %s: %s',
                            self._what(row), container, exc)
                        acls[container] = False
                if not acls[container]:
                    kept.add(container)
                    continue
            deletable.append((container, obj))
        return deletable, kept

    def _fence_headers(self, headers):
        """What a POST must send again to keep the object's metadata."""
        post = {}
        for key, value in headers.items():
            if key.startswith('x-object-meta-') or key in POST_KEPT or (
                    key.startswith('x-object-transient-sysmeta-') and
                    not key.startswith(
                        'x-object-transient-sysmeta-crypto-')):
                post[swob.str_to_wsgi(key)] = swob.str_to_wsgi(value)
        return post

    def _fence(self, row, headers, fence_ts):
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
        post = self._fence_headers(headers)
        post.update({'X-Timestamp': fence_ts.internal,
                     'X-Delete-At': str(ARCHIVE_FENCE)})
        resp = self._request('POST', self.container, row.name, headers=post,
                             policy=row.storage_policy_index,
                             acceptable=(2, 404, 409))
        swift_utils.close_if_possible(resp.app_iter)
        if resp.status_int == 409:
            self.logger.info('%s: changed (a POST or PUT) while it was '
                             'archived; kept, the newer row archives it',
                             self._what(row))
            return Outcome.UNCHANGED
        if resp.status_int == 404:
            return Outcome.LOCAL_GONE
        return None

    def _unfence(self, row, headers):
        """After a DELETE that failed: give the object its own
        ``X-Delete-At`` (or none) back, just after the fence (the row of
        that POST archives the object on a later pass).
        """
        post = self._fence_headers(headers)
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
            resp = self._request('POST', self.container, row.name,
                                 headers=post,
                                 policy=row.storage_policy_index,
                                 acceptable=(2, 404, 409))
            swift_utils.close_if_possible(resp.app_iter)
        except lo.LocalReadError as exc:
            self.logger.error(
                '%s: the archive could not delete it, nor restore its '
                'X-Delete-At (%s) after marking it %d for the delete: %s',
                self._what(row), headers.get('x-delete-at') or 'none',
                ARCHIVE_FENCE, exc)

    def _delete_segments(self, row, segments):
        segments, kept = self._deletable_segments(row, segments)
        if kept:
            self.logger.warning(
                '%s: archived; its segments in %s are kept: that container '
                'grants writes to fewer users than %s', self._what(row),
                ', '.join(sorted(kept)), self.container)

        def delete(segment):
            container, obj = segment
            try:
                resp = self._request('DELETE', container, obj,
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
                'and are left in the cluster: %s', self._what(row),
                len(failures), len(segments), '; '.join(failures))

    # -- delete -------------------------------------------------------------

    def _remove_remote(self, row):
        if self.mapping.excludes(row.name):
            return Outcome.SKIPPED
        key = self.layout.object_key(row.name)
        try:
            self._check_key(key)
        except exceptions.InvalidObject:
            # NOTE(cloudsync): never copied, so there is nothing to delete.
            return Outcome.NOT_FOUND_REMOTE
        info = self._head_remote(key)
        if info is None:
            return Outcome.NOT_FOUND_REMOTE
        if not self._delete_applies(row, info):
            return Outcome.UNCHANGED
        if not self.mapping.propagate_delete:
            return self._mark_deleted(row, key, info)
        if info.dlo_manifest and self.provider.KEEPS_DLO:
            self._remove_dlo_segments(row, info)
        if swift_utils.config_true_value(md.decode_value(
                info.metadata.get(md.SLO_KEY, ''))):
            # NOTE(cloudsync): the side object first, so that a failure in
            # between leaves an object whose next delete removes both.
            self.provider.delete_object(self.bucket,
                                        self.layout.manifest_key(row.name))
        self.provider.delete_object(self.bucket, key)
        self.stats.increment('deleted_objects')
        return Outcome.DELETED

    def _delete_applies(self, row, info):
        """Whether the delete ``row`` is about the remote copy ``info``:
        the copy is not newer than the delete, nor the one whose archiving
        left this tombstone.
        """
        remote_ts = self._remote_timestamp(info)
        stored = md.internal_values(info.metadata).get(md.TIMESTAMP_KEY)
        if remote_ts is None and stored:
            self.logger.warning(
                '%s: the remote object\'s %s is %r, not a Swift timestamp: '
                'cloudsync cannot tell whether it is older than the delete '
                '(%s); it is left alone. A copy of the object (any local '
                'write of it) replaces it', self._what(row),
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
                             self._what(row), md.TIMESTAMP_KEY,
                             row.timestamp.internal)
            return False
        if remote_ts > row.timestamp:
            self.logger.debug('%s: the remote copy (%s) is newer than the '
                              'delete (%s); leaving it', self._what(row),
                              remote_ts.internal, row.timestamp.internal)
            return False
        if row.timestamp == archive_timestamp(remote_ts):
            # NOTE(cloudsync): this tombstone is the one archiving left
            # when it removed the local copy of exactly this remote copy:
            # the remote copy is now the object, never delete it.
            self.logger.debug('%s: archived; the remote copy stays',
                              self._what(row))
            return False
        return True

    @staticmethod
    def _marked(row, info):
        """Whether the remote copy is marked deleted by ``row`` or later."""
        marked = _timestamp(md.internal_values(info.metadata).get(
            md.DELETED_AT_KEY))
        return marked is not None and marked >= row.timestamp

    def _to_mark(self, row, info):
        """Whether the delete ``row`` has yet to mark the remote copy."""
        return (self._delete_applies(row, info) and
                not self._marked(row, info) and
                (info.storage_class or '').upper() not in COLD_CLASSES)

    def _mark_deleted(self, row, key, info):
        """Keep the remote copy (``propagate_delete`` off) but mark it
        deleted, so that the shunt does not serve it once Swift's
        tombstone is reclaimed. Only for a copy older than the delete (the
        caller checked).
        """
        if self._marked(row, info):
            return Outcome.UNCHANGED
        if (info.storage_class or '').upper() in COLD_CLASSES:
            self.logger.warning(
                '%s: the remote copy is in storage class %s and cannot be '
                'marked deleted; the cloud shunt serves it again once Swift '
                'forgets the delete', self._what(row), info.storage_class)
            return Outcome.UNCHANGED
        meta = {k.lower(): v for k, v in (info.metadata or {}).items()}
        meta[md.DELETED_AT_KEY] = row.timestamp.internal
        self.provider.update_metadata(self.bucket, key,
                                      content_type=info.content_type,
                                      metadata=meta)
        self.stats.increment('metadata_updates')
        self.logger.debug('%s: the remote copy is kept, marked deleted',
                          self._what(row))
        return Outcome.METADATA_UPDATED

    def _remove_dlo_segments(self, row, info):
        """Before its manifest: delete the remote segments of a DLO copy
        when the local ones it was copied from are gone too (see
        :func:`cloudsync.large_objects.remove_dlo_segments`).
        """
        def local_segments_left(container, prefix):
            if next(iter(self._list_segments(container, prefix)), None):
                self.logger.info(
                    '%s: the local segments under %s/%s are still there; '
                    'the remote copy keeps its segments too',
                    self._what(row), container, prefix)
                return True
            return False

        deleted = lo.remove_dlo_segments(self.provider, self.bucket,
                                         self.layout, info,
                                         local_segments_left)
        if deleted:
            self.logger.debug('%s: deleted %d remote DLO segments under %s',
                              self._what(row), deleted, info.dlo_manifest)

    # -- verify -------------------------------------------------------------

    def _verify(self, rows):
        need = []
        keys = [self.layout.object_key(r.name) for r in rows]
        budget = max(1, -(-len(rows) // ROWS_PER_PAGE))
        prefix = self.layout.listing_prefix()
        marker = keys[0][:-1]
        if len(marker) < len(prefix):
            marker = None
        index = 0
        pages = 0
        while index < len(rows) and pages < budget:
            page = self.provider.list_objects(self.bucket, prefix=prefix,
                                              marker=marker,
                                              limit=LIST_LIMIT)
            pages += 1
            listed = {e.key: e for e in page.entries if not e.is_prefix}
            last = page.entries[-1].key if page.entries else None
            done = not page.truncated or last is None
            while index < len(rows) and (done or keys[index] <= last):
                row = rows[index]
                if self._needs_handle(row, keys[index],
                                      listed.get(keys[index])):
                    need.append(row)
                index += 1
            if done:
                break
            marker = page.next_marker or last
            # NOTE(cloudsync): jump over keys no row asks about.
            if index < len(rows) and keys[index][:-1] > marker:
                marker = keys[index][:-1]
        for row, key in zip(rows[index:], keys[index:]):
            if self._needs_handle(row, key, self._head_remote(key),
                                  headed=True):
                need.append(row)
        return need

    def _needs_handle(self, row, key, entry, headed=False):
        """Whether ``row`` needs handling, given the remote listing
        ``entry`` (or HEAD answer) of its key (None when absent).
        """
        if row.deleted:
            if entry is None or self.mapping.propagate_delete:
                return entry is not None
            if not headed:
                entry = self._head_remote(key)
            return entry is not None and self._to_mark(row, entry)
        if entry is None:
            return True
        row_ct = row.content_type or ''
        is_slo = 'swift_bytes=' in row_ct or 'slo_etag=' in (row.etag or '')
        size = row.size
        row_etag = row.etag
        version = symlinks.listed_version(row.etag)
        if version is not None:
            # NOTE(cloudsync): object versioning's link; the copy is of
            # the version it names.
            row_etag, size = version
        if is_slo:
            _, swift_bytes = swift_utils.extract_swift_bytes(row_ct)
            if swift_bytes is not None:
                size = int(swift_bytes)
        plain_match = (not is_slo and entry.size == size and
                       lo.normalize_etag(entry.etag) ==
                       lo.normalize_etag(row_etag))
        # NOTE(cloudsync): the same bytes PUT again with other metadata
        # list the same; a copy stored before the row was written cannot
        # be of the row's version. Remotes give whole seconds.
        older = bool(entry.last_modified) and \
            entry.last_modified + LAST_MODIFIED_SLACK < float(row.timestamp)
        if plain_match and row.meta_timestamp == row.timestamp and \
                not older:
            return False
        if is_slo and entry.size != size:
            return True
        if not headed:
            entry = self._head_remote(key)
            if entry is None:
                return True
        remote_ts = self._remote_timestamp(entry)
        if remote_ts is None or remote_ts < row.meta_timestamp:
            return True
        if plain_match or is_slo:
            return False
        if 'symlink_target=' in (row.etag or ''):
            # NOTE(cloudsync): the row describes a link, not its copy,
            # which is as new as the row: the current version's bytes
            # (object versioning's link), or a copy carrying the link.
            if version is not None:
                return entry.size != size
            return md.SYMLINK_TARGET_KEY not in md.internal_values(
                entry.metadata)
        have = md.internal_values(entry.metadata).get(md.ETAG_KEY)
        if have and entry.size == row.size and \
                lo.normalize_etag(have) == lo.normalize_etag(row.etag):
            return False
        if local.is_encrypted_etag(row.etag) and entry.size == row.size:
            # NOTE(cloudsync): encrypted at rest, the row's ETag is not the
            # object's: a copy of the row's version (or a newer one) and of
            # its size is current.
            return False
        # NOTE(cloudsync): a DLO's remote copy is its concatenation, which
        # neither the row's size nor its ETag describe.
        return md.DLO_KEY not in entry.metadata


def _read_body(resp, what):
    """A local response's whole body."""
    if resp.app_iter is None:
        return resp.body
    try:
        return b''.join(_Closing(resp.app_iter, what))
    finally:
        swift_utils.close_if_possible(resp.app_iter)


class _Closing:
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
        except _LOCAL_ERRORS as exc:
            raise lo.LocalReadError('%s: %s: %s' % (
                self._what, type(exc).__name__, exc))

    def close(self):
        swift_utils.close_if_possible(self._app_iter)


def _cause(exc, cls):
    """The first exception of class ``cls`` in ``exc``'s chain."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, cls):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _unique_objects(pieces, exclude=()):
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
