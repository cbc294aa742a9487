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
"""The remote provider interface: what a backend for cloudsync implements.

A provider moves bytes and metadata between cloudsync and one kind of
remote store. cloudsync ships ``s3``, ``gcs``, ``s3-clone`` and ``swift``;
a third party adds another by publishing a package with an entry point in
the ``cloudsync.providers`` namespace that names a subclass of
:class:`Provider`::

    [entry_points]
    cloudsync.providers =
        mystore = mystore_cloudsync.provider:MyStoreProvider

Nothing in cloudsync changes for that. The operator then writes::

    [remote:archive]
    provider = mystore
    endpoint = https://mystore.example.com
    access_key = ...
    secret_key = ...

The contract, which :mod:`cloudsync.conformance` checks against a live
endpoint:

* Names are ``str`` (unicode) everywhere; providers encode them for the
  wire. Keys are the full remote keys that :mod:`cloudsync.layout` chose;
  a provider never adds or strips a prefix of its own.
* Metadata passed in and returned is a ``dict`` of ``str`` to ``str`` with
  lower-case keys, already encoded by :mod:`cloudsync.metadata` so that it
  is safe in an HTTP header. A provider stores and returns it unchanged.
* ETags are returned without quotes. A multipart object's ETag keeps its
  ``-N`` suffix.
* Errors are instances of :class:`cloudsync.exceptions.RemoteError`
  subclasses, never a library's own exception; their messages never contain
  a secret.
* A provider instance is shared by many green threads at once: it must be
  safe to call concurrently, and it should size its connection pool to
  ``max_connections``.
"""

# NOTE(cloudsync): over 600 lines on purpose: this is the whole contract a
# provider implements (the data types it returns, the Provider base with
# its declared capabilities, and the part helpers every provider shares),
# read by third parties as one page. The Provider class is over 400 lines
# for the same reason: its capabilities and methods are documented where
# they are declared.

import abc
import concurrent.futures
import dataclasses
import threading
import typing

from oslo_config import cfg

from cloudsync import exceptions
from cloudsync import large_objects


class _KeepExpiry:
    def __repr__(self):
        return 'KEEP_EXPIRY'


#: ``update_metadata(expires_at=KEEP_EXPIRY)``: the object's expiry stays
KEEP_EXPIRY = _KeepExpiry()


def creates_only(provider):
    """Whether ``provider.put_object`` takes ``create_only``: its declared
    :attr:`Provider.PUT_CREATE_ONLY`.
    """
    return bool(provider.PUT_CREATE_ONLY)


def puts_if_match(provider):
    """Whether ``provider.put_object`` takes ``if_match``: its declared
    :attr:`Provider.PUT_IF_MATCH`.
    """
    return bool(provider.PUT_IF_MATCH)


def deletes_in_one_request(provider):
    """Whether ``provider.delete_objects`` deletes all its keys with one
    request: its declared :attr:`Provider.BULK_DELETE`.
    """
    return bool(provider.BULK_DELETE)


def deletes_if_match(provider):
    """Whether ``provider.delete_object`` takes ``if_match``: its declared
    :attr:`Provider.DELETE_IF_MATCH`.
    """
    return bool(provider.DELETE_IF_MATCH)


def takes_info(provider):
    """Whether ``provider.update_metadata`` takes ``info``: its declared
    :attr:`Provider.UPDATE_METADATA_TAKES_INFO`.
    """
    return bool(provider.UPDATE_METADATA_TAKES_INFO)


def takes_expiry(provider):
    """Whether ``provider.update_metadata`` takes ``expires_at``: its
    declared :attr:`Provider.UPDATE_METADATA_TAKES_EXPIRY`.
    """
    return bool(provider.UPDATE_METADATA_TAKES_EXPIRY)


def restores_cold(provider):
    """Whether ``provider`` implements :meth:`Provider.cold_state` and
    :meth:`Provider.restore_cold`: its declared
    :attr:`Provider.RESTORES_COLD`.
    """
    return bool(provider.RESTORES_COLD)


#: :attr:`ColdState.state`: the copy must be restored before it is read
COLD_ARCHIVED = 'archived'
#: a restore was asked for and is not done yet
COLD_RESTORING = 'restoring'
#: the copy can be read (restored, or in no cold class at all)
COLD_READABLE = 'readable'


@dataclasses.dataclass
class ColdState:
    """Whether an object in a cold storage class can be read now."""

    #: :data:`COLD_ARCHIVED`, :data:`COLD_RESTORING` or
    #: :data:`COLD_READABLE`
    state: str
    #: the remote's storage class, when it has one
    storage_class: typing.Optional[str] = None
    #: when a restored copy goes cold again, seconds since the epoch
    expires_at: typing.Optional[float] = None

    @property
    def readable(self):
        return self.state == COLD_READABLE


#: the headers of an object besides its type that a store may keep with
#: it (Swift's object server keeps them all by default, S3 all but
#: ``x-robots-tag``); see :attr:`ObjectInfo.content_headers`
CONTENT_HEADERS = ('content-disposition', 'content-encoding',
                   'content-language', 'cache-control', 'expires',
                   'x-robots-tag')


@dataclasses.dataclass
class ObjectInfo:
    """What the remote knows of one object (the answer to a HEAD)."""

    #: the full remote key
    key: str
    #: size in bytes
    size: int
    #: the remote's ETag without quotes (``hex`` or ``hex-N``)
    etag: str
    #: last modification on the remote, seconds since the epoch
    last_modified: float
    #: the object's Content-Type
    content_type: str = 'application/octet-stream'
    #: the user metadata, lower-case keys, values as stored
    metadata: typing.Dict[str, str] = dataclasses.field(default_factory=dict)
    #: the remote's storage class, when it has one (``GLACIER``, ...)
    storage_class: typing.Optional[str] = None
    #: number of parts for a multipart object, else None
    parts_count: typing.Optional[int] = None
    #: when the remote will expire the object, seconds since the epoch
    expires_at: typing.Optional[float] = None
    #: for a dynamic large object the store keeps as one (providers with
    #: :attr:`Provider.KEEPS_DLO`): its ``X-Object-Manifest``, unquoted
    #: (``<segments container>/<prefix>``); the same value is in
    #: ``metadata['x-object-manifest']``. None for any other object.
    dlo_manifest: typing.Optional[str] = None
    #: the object's other content headers the store keeps, lower-case
    #: names of :data:`CONTENT_HEADERS` (``content-disposition``, ...)
    #: with their values; stores without them leave it empty
    content_headers: typing.Dict[str, str] = dataclasses.field(
        default_factory=dict)
    #: for a symlink a store keeps as one (a Swift source read with
    #: ``?symlink=get``): its target ``<container>/<object>``, unquoted;
    #: None for any other object
    symlink_target: typing.Optional[str] = None
    #: the symlink target's account, when the link names one
    symlink_target_account: typing.Optional[str] = None
    #: a static symlink's target ETag (``X-Symlink-Target-Etag``)
    symlink_target_etag: typing.Optional[str] = None

    @property
    def is_multipart(self):
        return '-' in self.etag


class ObjectBody:
    """A streamed object body with the response that came with it.

    Iterating yields ``bytes`` chunks. The body must be closed (or
    exhausted) to give its connection back to the pool; it is also a
    context manager.
    """

    def __init__(self, info, chunks, status=200, content_range=None,
                 content_length=None, close=None):
        #: the object's :class:`ObjectInfo` (its size is the whole size)
        self.info = info
        #: 200 for a whole object, 206 for a range
        self.status = status
        #: the Content-Range header for a 206, e.g. ``bytes 0-9/100``
        self.content_range = content_range
        #: the number of bytes this body yields
        self.content_length = (info.size if content_length is None
                               else content_length)
        self._chunks = iter(chunks)
        self._close = close
        self._closed = False

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._chunks)
        except StopIteration:
            self.close()
            raise

    def read_all(self):
        """Read the rest of the body and close it."""
        try:
            return b''.join(self)
        finally:
            self.close()

    def close(self):
        if not self._closed:
            self._closed = True
            if self._close:
                self._close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclasses.dataclass
class ListingEntry:
    """One entry of a remote listing: an object, or a common prefix."""

    #: the full remote key (or, for a common prefix, the prefix)
    key: str
    size: int = 0
    etag: str = ''
    last_modified: float = 0.0
    #: True for a common prefix produced by a delimiter
    is_prefix: bool = False


@dataclasses.dataclass
class ListingPage:
    """One page of a remote listing, in ascending key order."""

    #: objects and common prefixes, merged and sorted by key
    entries: typing.List[ListingEntry]
    #: True when more entries follow; pass ``next_marker`` to get them
    truncated: bool = False
    #: the marker that continues this listing
    next_marker: typing.Optional[str] = None


@dataclasses.dataclass
class Part:
    """One part of a multipart upload.

    ``open`` is a callable that returns a fresh readable stream (an object
    with ``read(size)``) of exactly ``size`` bytes, so that a part can be
    sent again after a failure. ``md5`` is its hex MD5 when known: the
    provider must then make the store verify it.
    """

    number: int
    size: int
    open: typing.Callable[[], typing.Any]
    md5: typing.Optional[str] = None


@dataclasses.dataclass
class Segment:
    """One segment of a dynamic large object (see :meth:`Provider.put_dlo`).

    ``name`` is its full name in the store's segments container; ``open``
    returns a fresh readable stream of exactly ``size`` bytes, and ``md5``
    is their hex MD5, which the store must verify.
    """

    name: str
    size: int
    open: typing.Callable[[], typing.Any]
    md5: str


class Provider(abc.ABC):
    """A remote store.

    :param name: the remote's name, from its ``[remote:NAME]`` section.
    :param conf: that section's options (an oslo.config group): the common
        ``endpoint``, ``access_key``, ``secret_key`` and the provider's own
        :attr:`OPTIONS`.
    :param max_connections: how many requests may be in flight at once; size
        the connection pool to it.
    """

    # NOTE(cloudsync): over 400 lines: the one page a backend author
    # reads; every capability and method says its contract here.

    #: oslo.config options of this provider, in addition to the common ones
    #: (``provider``, ``endpoint``, ``access_key``, ``secret_key``). They are
    #: registered in the remote's section and appear in the generated sample.
    OPTIONS = []

    #: True when the store's buckets are Swift containers: a mapping of
    #: every container (``container = *``) then gets one bucket per
    #: container, and the mapping options ``storage_policy``,
    #: ``sync_container_metadata`` and ``sync_container_acl`` apply; such a
    #: provider's :meth:`check_target` takes ``storage_policy`` and it
    #: implements :meth:`update_container_metadata`. With either of the
    #: first two, the daemon creates a missing container with
    #: :meth:`check_target` at the start of a pass, unless the remote's
    #: ``create_containers`` option is false.
    BUCKET_PER_CONTAINER = False

    #: True when the store keeps Swift dynamic large objects (DLOs) as
    #: such: the daemon then copies a DLO (unless the mapping's
    #: ``convert_dlo`` is set) with :meth:`put_dlo`, its segments into the
    #: store's segments container under :meth:`dlo_manifest`'s prefix, and
    #: the provider implements :meth:`dlo_manifest`, :meth:`put_dlo` and
    #: :meth:`delete_dlo_segments` and fills
    #: :attr:`ObjectInfo.dlo_manifest`. Other stores get the concatenation
    #: of the segments, with ``x-object-manifest`` kept as metadata.
    KEEPS_DLO = False

    #: True when the store keeps Swift symlinks as such: the daemon then
    #: copies a symlink whose target is in the same mapped container (and
    #: not excluded) with :meth:`put_symlink`, and the provider's
    #: :meth:`head_object` and :meth:`get_object` answer for a link itself,
    #: never for its target. Other stores (and other links) get an empty
    #: object whose metadata carries the link (see
    #: :mod:`cloudsync.symlinks`).
    KEEPS_SYMLINKS = False

    #: the largest object a single :meth:`put_object` may carry; larger
    #: streams go through :meth:`put_multipart`
    MAX_SINGLE_PUT = 5 * 1024 ** 3
    #: the smallest part a multipart upload accepts, the last part excepted
    MIN_PART_SIZE = 5 * 1024 ** 2
    #: the largest part a multipart upload accepts
    MAX_PART_SIZE = 5 * 1024 ** 3
    #: the most parts a multipart upload may have
    MAX_PARTS = 10000

    #: the key layout (see :mod:`cloudsync.layout`) of a mapping of this
    #: remote that sets none: ``native`` keeps the local names (Swift
    #: remotes); None means cloudsync's default, ``hashed``
    DEFAULT_LAYOUT = None

    #: True when the ETag the store gives an object written in one request
    #: (and each part of a multipart upload) is the MD5 of its bytes, so
    #: that the daemon may check a multipart ETag against the part MD5s.
    #: A provider that learns otherwise at run time (S3 with SSE-KMS)
    #: answers through :attr:`etag_is_md5` instead.
    ETAG_IS_MD5 = True

    #: True when :meth:`update_metadata` takes ``expires_at``; cloudsync
    #: passes it only then, so that a provider written before the
    #: parameter existed keeps working
    UPDATE_METADATA_TAKES_EXPIRY = False

    #: True when :meth:`put_object` takes ``create_only``: with
    #: ``create_only=True`` the store writes the object only when the key
    #: holds none, in the same request (S3's ``If-None-Match: *``), and
    #: the call raises :class:`~cloudsync.exceptions.PreconditionFailed`
    #: otherwise, having changed nothing. The daemon then sends a small
    #: object without asking the remote first whether it holds a copy
    #: (and asks only when the write is refused). A store that might ignore
    #: the condition, and overwrite, must leave this False.
    PUT_CREATE_ONLY = False

    #: True when :meth:`put_object` takes ``if_match``: with
    #: ``if_match=ETAG`` the store writes the object only when the key
    #: holds an object of that ETag, in the same request (S3's
    #: ``If-Match`` on PUT), and the call raises
    #: :class:`~cloudsync.exceptions.PreconditionFailed` when it holds
    #: another, :class:`~cloudsync.exceptions.NotFound` when it holds
    #: none, having changed nothing. The daemon then carries a metadata
    #: change of a small object with one request that cannot replace
    #: other bytes (see the mapping option ``remote_writers``). A store
    #: that might ignore the condition must leave this False.
    PUT_IF_MATCH = False

    #: True when :meth:`delete_objects` deletes all its keys (at most
    #: 1,000) with one request (S3's DeleteObjects). The daemon then
    #: deletes an object and its manifest side object with one request,
    #: without reading the copy first, on mappings whose objects nothing
    #: else writes (see the mapping option ``remote_writers``).
    BULK_DELETE = False

    #: True when :meth:`delete_object` takes ``if_match``: with
    #: ``if_match=ETAG`` the store deletes the object only when the key
    #: holds an object of that ETag, in the same request (S3's
    #: ``If-Match`` on DeleteObject), and the call raises
    #: :class:`~cloudsync.exceptions.PreconditionFailed` when it holds
    #: another, having changed nothing. The daemon then deletes the copy
    #: it read (a HEAD) and found older than the delete, never an object
    #: another writer stored in between. A store that might ignore the
    #: condition must leave this False.
    DELETE_IF_MATCH = False

    #: True when :meth:`update_metadata` takes ``info``, the
    #: :class:`ObjectInfo` of the object the caller just read (a HEAD),
    #: so that the provider need not read it again.
    UPDATE_METADATA_TAKES_INFO = False

    #: True when the store has storage classes whose objects must be
    #: restored before they are read (S3's GLACIER and DEEP_ARCHIVE: a
    #: GET answers 403 ``InvalidObjectState``, raised as
    #: :class:`~cloudsync.exceptions.InvalidObject` with that ``code``),
    #: and the provider implements :meth:`cold_state` and
    #: :meth:`restore_cold`. The cloud shunt then restores such an object
    #: when a client reads it.
    RESTORES_COLD = False

    def __init__(self, name, conf, max_connections=10):
        self.name = name
        self.conf = conf
        self.max_connections = max_connections

    @classmethod
    def validate_conf(cls, conf):
        """Check a remote section before anything starts.

        :returns: a list of problems, each a sentence naming the option.
        """
        return []

    @property
    def etag_is_md5(self):
        """Whether the ETags of this remote's writes are MD5s now.

        :attr:`ETAG_IS_MD5` unless the provider knows better (an S3 bucket
        found to encrypt with KMS).
        """
        return self.ETAG_IS_MD5

    @property
    def creates_containers(self):
        """Whether :meth:`check_target` may create a missing container at
        the start of a pass (providers with :attr:`BUCKET_PER_CONTAINER`).

        The default: the remote's ``create_containers`` option when the
        provider has one (the ``swift`` provider does), else True.
        """
        try:
            value = self.conf.create_containers
        except (AttributeError, cfg.NoSuchOptError):
            # NOTE(cloudsync): oslo's NoSuchOptError is an AttributeError
            # too; a provider without the option creates.
            return True
        return value is not False

    def check_key(self, bucket, key):
        """Raise :class:`~cloudsync.exceptions.InvalidObject` when the store
        cannot hold an object under ``key`` (too long, a name it refuses).

        Sends no request: the daemon asks before it reads anything. The
        default accepts every key.
        """

    def plan_parts(self, size):
        """Split ``size`` bytes into parts this store accepts.

        The default cuts parts of cloudsync's default part size, kept
        within :attr:`MIN_PART_SIZE` and :attr:`MAX_PART_SIZE`, larger
        when the object would need more than :attr:`MAX_PARTS` of them.

        :returns: a list of ``(offset, length)``, part 1 first; an empty
            object is one empty part.
        :raises InvalidObject: the object needs more than
            :attr:`MAX_PARTS` parts (the default raises
            :class:`~cloudsync.large_objects.InvalidLargeObject`).
        """
        return large_objects.plan_parts(size, self.MIN_PART_SIZE,
                                        self.MAX_PART_SIZE, self.MAX_PARTS)

    def check_parts(self, bucket, key, parts):
        """Raise :class:`~cloudsync.exceptions.InvalidObject` unless
        ``parts`` (sorted :class:`Part`) can make one multipart object:
        numbered 1 to N, N at most :attr:`MAX_PARTS`, each within
        :attr:`MIN_PART_SIZE` (the last excepted) and :attr:`MAX_PART_SIZE`.
        """
        what = 'remote %s: %s/%s' % (self.name, bucket, key)
        check_part_numbers(what, parts, self.MAX_PARTS,
                           '%(count)d parts, more than %(max)d')
        for index, part in enumerate(parts, 1):
            if part.size > self.MAX_PART_SIZE or (
                    index < len(parts) and part.size < self.MIN_PART_SIZE):
                raise exceptions.InvalidObject(
                    '%s: part %d is %d bytes, outside %d to %d (the last '
                    'part may be smaller)' % (
                        what, part.number, part.size, self.MIN_PART_SIZE,
                        self.MAX_PART_SIZE))

    def location(self, bucket):
        """A label of the remote for people: where a copy lives.

        The shunt shows it as ``content_location`` in merged listings. It
        must never contain a secret.
        """
        return '%s;%s' % (self.conf.endpoint or self.name, bucket)

    @abc.abstractmethod
    def check_target(self, bucket, create=False):
        """Make sure ``bucket`` exists and the credentials may use it.

        :param create: create the bucket when it does not exist.
        :raises TargetNotFound: it does not exist and ``create`` is False.
        :raises AuthError: the credentials are refused.
        """

    @abc.abstractmethod
    def put_object(self, bucket, key, body, size, content_type=None,
                   metadata=None, md5=None, expires_at=None):
        """Store one object from a stream in a single request.

        :param body: an object with ``read(size)`` yielding exactly ``size``
            bytes, or ``bytes``.
        :param md5: the hex MD5 of the body when known; the store must then
            verify it (Content-MD5) and refuse a body that does not match.
        :param expires_at: when the remote should expire the object, seconds
            since the epoch, if the store supports per-object expiry.
        :returns: the stored object's ETag, unquoted.
        :raises ChecksumMismatch: the stored bytes do not match ``md5``.

        Providers with :attr:`PUT_CREATE_ONLY` also take
        ``create_only=True``, and providers with :attr:`PUT_IF_MATCH`
        ``if_match=ETAG``: the write is then conditional (see there);
        cloudsync passes neither to other providers.
        """

    @abc.abstractmethod
    def put_multipart(self, bucket, key, parts, content_type=None,
                      metadata=None, expires_at=None):
        """Store one object from :class:`Part` streams, one part each.

        Parts may be uploaded concurrently. On any failure the upload is
        aborted so that no partial object and no orphaned parts remain.

        :param parts: a list of :class:`Part`, numbered from 1, each within
            :attr:`MIN_PART_SIZE` (the last excepted) and
            :attr:`MAX_PART_SIZE`.
        :returns: the multipart ETag, ``hex-N``, unquoted.
        """

    @abc.abstractmethod
    def update_metadata(self, bucket, key, content_type=None, metadata=None,
                        expires_at=KEEP_EXPIRY):
        """Replace an object's metadata and content type in place.

        The object's bytes are not sent again (S3: a copy onto itself with
        the REPLACE directive; Swift: a POST).

        :param expires_at: for stores with per-object expiry (as for
            :meth:`put_object`): the object's new expiry, seconds since
            the epoch; None when it no longer has one of its own (an
            expiry the store gives it by rule, such as
            :meth:`set_expiration`'s, applies); :data:`KEEP_EXPIRY`, the
            default, to leave it as it is. Stores without per-object
            expiry ignore it (cloudsync keeps the Swift ``X-Delete-At`` in
            the metadata). cloudsync passes it only to providers that
            declare :attr:`UPDATE_METADATA_TAKES_EXPIRY`, so a provider
            written before it existed still works.
        :raises NotFound: the object does not exist.
        """

    @abc.abstractmethod
    def delete_object(self, bucket, key):
        """Delete an object.

        A missing object is not an error.

        :returns: False when the store said there was no such object, True
            otherwise. Stores whose DELETE answers the same whether or not
            the object existed (S3) return True: "deleted, or not known to
            be missing". Callers needing certainty HEAD first.

        Providers with :attr:`DELETE_IF_MATCH` also take ``if_match=ETAG``
        (see there); cloudsync passes it to no other provider.
        """

    def delete_objects(self, bucket, keys):
        """Delete the objects under ``keys`` (at most 1,000); missing ones
        are not an error.

        The default deletes them one by one with :meth:`delete_object`;
        a provider with :attr:`BULK_DELETE` deletes them with one request.

        :raises RemoteError: a key could not be deleted (the first
            failure; the other keys may be deleted or not).
        """
        for key in keys:
            self.delete_object(bucket, key)

    @abc.abstractmethod
    def head_object(self, bucket, key):
        """:returns: the :class:`ObjectInfo` of an object.

        :raises NotFound: the object does not exist.
        """

    @abc.abstractmethod
    def get_object(self, bucket, key, range=None, if_match=None,
                   if_none_match=None, if_modified_since=None,
                   if_unmodified_since=None):
        """Stream an object, or a range of it.

        :param range: a ``Range`` header value (``bytes=0-99``) or None.
        :param if_match: an ETag condition, as a header value.
        :param if_none_match: an ETag condition, as a header value.
        :param if_modified_since: an HTTP date, as a header value.
        :param if_unmodified_since: an HTTP date, as a header value.
        :returns: an :class:`ObjectBody`; status 206 with ``content_range``
            for a range.
        :raises: NotFound, PreconditionFailed, NotModified or
            RangeNotSatisfiable, as HTTP would answer.
        """

    @abc.abstractmethod
    def list_objects(self, bucket, prefix='', delimiter=None, marker=None,
                     limit=1000):
        """List one page of keys in ascending order.

        :param prefix: only keys that start with it.
        :param delimiter: roll up keys that have it after the prefix into
            common prefixes (entries with ``is_prefix`` True).
        :param marker: only keys (and prefixes) after it.
        :param limit: at most this many entries (objects and prefixes
            together), at most 1000.
        :returns: a :class:`ListingPage`.
        """

    def list_all(self, bucket, prefix='', delimiter=None, marker=None):
        """Iterate over every entry from ``marker`` on, page by page."""
        while True:
            page = self.list_objects(bucket, prefix=prefix,
                                     delimiter=delimiter, marker=marker)
            for entry in page.entries:
                yield entry
            if not page.truncated or not page.entries:
                return
            marker = page.next_marker or page.entries[-1].key

    def dlo_manifest(self, bucket, prefix):
        """The ``X-Object-Manifest`` (unquoted) of a DLO whose segments
        :meth:`put_dlo` stores under ``prefix`` for objects of ``bucket``.

        Only for providers with :attr:`KEEPS_DLO`.
        """
        raise exceptions.NotSupported(
            'provider %s keeps no dynamic large objects' % self.name)

    def put_dlo(self, bucket, key, prefix, segments, content_type=None,
                metadata=None, expires_at=None):
        """Store a dynamic large object: its segments, then its manifest.

        Only for providers with :attr:`KEEPS_DLO`. ``prefix`` is in
        cloudsync's DLO namespace (see
        :meth:`cloudsync.layout.RemoteLayout.dlo_key` and
        :func:`cloudsync.layout.in_dlo_namespace`), where nothing but DLO
        segments is stored; a prefix outside it is refused
        (:class:`~cloudsync.exceptions.InvalidObject`). Each
        :class:`Segment` is stored under its name, which starts with
        ``prefix``, in the store's segments container, unless an object of
        that name, size and MD5 is there already (it then gets
        ``expires_at``, or no expiry, as a new segment would); objects
        under ``prefix`` there that are not among ``segments`` are
        removed, so that the manifest (PUT
        last, pointing at :meth:`dlo_manifest`) reads exactly these
        segments, in name order. ``metadata`` is as for
        :meth:`put_object`; its ``x-object-manifest`` is replaced by the
        manifest's own.

        :returns: the DLO's ETag as Swift gives it (the MD5 of its
            segments' MD5s), unquoted.
        """
        raise exceptions.NotSupported(
            'provider %s keeps no dynamic large objects' % self.name)

    def put_symlink(self, bucket, key, target, target_etag=None,
                    content_type=None, metadata=None, expires_at=None):
        """Store a symlink to ``target``, the name (unquoted) of an object
        of the store, as ``<bucket>/<key>``.

        Only for providers with :attr:`KEEPS_SYMLINKS`. With
        ``target_etag`` the link is static: the store refuses it when the
        target does not have that ETag (the daemon checks first).
        ``content_type``, ``metadata`` (which carries cloudsync's link
        keys, kept as for :meth:`put_object`) and ``expires_at`` are as
        for :meth:`put_object`.

        :returns: the link's own ETag (the MD5 of no bytes), unquoted.
        """
        raise exceptions.NotSupported(
            'provider %s keeps no symlinks' % self.name)

    def delete_dlo_segments(self, bucket, manifest):
        """Delete the segments a DLO of ``bucket`` stored with
        :meth:`put_dlo` reads: the objects under ``manifest``'s prefix,
        when ``manifest`` (an :attr:`ObjectInfo.dlo_manifest`) names the
        store's segments container and a prefix in cloudsync's DLO
        namespace; nothing otherwise. Deleting a DLO with
        :meth:`delete_object` deletes only its manifest, as in Swift.

        Only for providers with :attr:`KEEPS_DLO`.

        :returns: how many segments were deleted.
        """
        raise exceptions.NotSupported(
            'provider %s keeps no dynamic large objects' % self.name)

    def set_expiration(self, bucket, prefix, seconds):
        """Have the remote expire objects under ``prefix`` after ``seconds``.

        Used for a mapping's ``remote_delete_after``. Calling it again with
        the same values must change nothing (the expiry must not slide).

        :raises NotSupported: the store has no such feature.
        """
        raise exceptions.NotSupported(
            'provider %s cannot expire objects' % self.name)

    def cold_state(self, bucket, key):
        """Whether the object at ``key`` can be read now, or must be
        restored first (only for providers with :attr:`RESTORES_COLD`).

        :returns: a :class:`ColdState`; an object in no cold storage class
            is :data:`COLD_READABLE`.
        :raises NotFound: no such object.
        :raises NotSupported: the store has no cold storage classes.
        """
        raise exceptions.NotSupported(
            'provider %s has no cold storage classes' % self.name)

    def restore_cold(self, bucket, key, days, tier):
        """Ask the store to make the object at ``key``, in a cold storage
        class, readable for ``days`` days, with retrieval ``tier``
        (``Expedited``, ``Standard`` or ``Bulk``). Asking again while a
        restore is in progress, or once it is done, is no error.

        :returns: the :class:`ColdState` after the request:
            :data:`COLD_RESTORING`, or :data:`COLD_READABLE` when the
            object is readable already.
        :raises NotFound: no such object.
        :raises NotSupported: the store has no cold storage classes.
        """
        raise exceptions.NotSupported(
            'provider %s has no cold storage classes' % self.name)

    def update_container_metadata(self, bucket, headers, acl=False):
        """Mirror a local container's metadata onto the remote bucket.

        Only for providers with :attr:`BUCKET_PER_CONTAINER`.

        :param headers: the local container's headers; every
            ``X-Container-Meta-*`` is copied, and with ``acl`` also
            ``X-Container-Read`` and ``X-Container-Write``.
        :returns: True when the remote was changed.
        :raises NotSupported: the store has no container metadata.
        """
        raise exceptions.NotSupported(
            'provider %s keeps no container metadata' % self.name)

    # -- optional reads for migrations into Swift -----------------------------
    #
    # A migration (see cloudsync.migrate) needs only list_objects and
    # get_object of its source. These add what a store may keep besides;
    # a provider without them raises NotSupported, and the migrator does
    # without (a named bucket instead of every bucket, no container
    # metadata, a multipart object copied in the provider's part size).

    def list_buckets(self):
        """The names of the buckets the credentials reach (for a provider
        with :attr:`BUCKET_PER_CONTAINER`: the account's containers), in
        name order. Optional: a migration of every bucket needs it.

        :raises NotSupported: the store cannot list them.
        """
        raise exceptions.NotSupported(
            'provider %s cannot list its buckets' % self.name)

    def container_metadata(self, bucket):
        """The container metadata and ACLs of ``bucket``: its
        ``X-Container-Meta-*``, ``X-Container-Read`` and
        ``X-Container-Write``, lower-case names. Optional, for providers
        with :attr:`BUCKET_PER_CONTAINER`.

        :raises TargetNotFound: no such bucket.
        :raises NotSupported: the store keeps no container metadata.
        """
        raise exceptions.NotSupported(
            'provider %s keeps no container metadata' % self.name)

    def slo_manifest(self, bucket, key):
        """The segments of a static large object the store keeps as one
        (its :attr:`ObjectInfo.parts_count` is set), as Swift's
        ``?multipart-manifest=get`` lists them: dicts with ``name``
        (``/<container>/<object>``), ``hash``, ``bytes``, and ``range``
        or ``sub_slo`` when set. Optional.

        :raises NotFound: no such object.
        :raises NotSupported: the store keeps no static large objects.
        """
        raise exceptions.NotSupported(
            'provider %s keeps no static large objects' % self.name)

    def symlink_target(self, bucket, key):
        """Of a symlink the store keeps (providers with
        :attr:`KEEPS_SYMLINKS`): ``(target, target account or None)``,
        the target as ``<container>/<object>``, unquoted; None for any
        other object. Optional.

        :raises NotFound: no such object.
        :raises NotSupported: the store keeps no symlinks.
        """
        raise exceptions.NotSupported(
            'provider %s keeps no symlinks' % self.name)

    def part_ranges(self, bucket, key, info):
        """``[(offset, length)]`` of the parts a multipart object was
        uploaded in (``info`` is its :class:`ObjectInfo`), in order, or
        None when the object is not in parts or the parts do not add up
        to its size. Optional.

        :raises NotSupported: the store cannot tell an object's parts.
        """
        raise exceptions.NotSupported(
            'provider %s cannot tell an object\'s parts' % self.name)

    def guess_part_ranges(self, bucket, key, info):
        """:meth:`part_ranges`, or a likely layout that costs fewer
        requests (e.g. parts of the first part's size): the caller checks
        it (the MD5s of the parts read this way must make the object's
        multipart ETag) and asks :meth:`part_ranges` when it does not
        hold. Optional; by default, :meth:`part_ranges`.

        :raises NotSupported: the store cannot tell an object's parts.
        """
        return self.part_ranges(bucket, key, info)

    def close(self):
        """Release connections. The provider is not used afterwards."""


def check_part_numbers(what, parts, max_parts, too_many):
    """A helper for :meth:`Provider.check_parts`: raise
    :class:`~cloudsync.exceptions.InvalidObject` unless ``parts`` (sorted)
    are numbered 1 to N, N at most ``max_parts``.

    :param too_many: the message for more than ``max_parts`` parts, with
        ``%(count)d`` and ``%(max)d``.
    """
    if not parts:
        raise exceptions.InvalidObject('%s: no parts' % what)
    if len(parts) > max_parts:
        raise exceptions.InvalidObject('%s: %s' % (what, too_many % dict(
            count=len(parts), max=max_parts)))
    for index, part in enumerate(parts, 1):
        if part.number != index:
            raise exceptions.InvalidObject(
                '%s: parts must be numbered 1 to %d without gaps'
                % (what, len(parts)))


class _Cancelled(Exception):
    """A part not started because another part failed."""


def run_parts(items, fn, max_workers, name='cloudsync-part'):
    """Run ``fn(item)`` for every item, up to ``max_workers`` at once.

    A helper for :meth:`Provider.put_multipart` implementations. Under the
    daemon's eventlet monkey-patching the threads are green threads.

    :returns: the results, in the order of ``items``.
    :raises: the first failure, after the calls in flight ended and the
        ones not started were dropped. On KeyboardInterrupt or GreenletExit
        nothing is waited for.
    """
    workers = max(1, min(max_workers, len(items)))
    if workers == 1:
        return [fn(item) for item in items]
    stop = threading.Event()

    def run(item):
        if stop.is_set():
            raise _Cancelled()
        return fn(item)

    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix=name)
    futures = [pool.submit(run, item) for item in items]
    try:
        for future in concurrent.futures.as_completed(futures):
            future.result()
    except Exception:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    except BaseException:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [future.result() for future in futures]
