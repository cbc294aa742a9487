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
"""Copying a row's object to the remote.

:class:`Uploader` reads the local source (:mod:`cloudsync.sync.source`),
leaves a current remote copy alone (:mod:`cloudsync.sync.current`),
replaces only the metadata when only that changed, and otherwise sends
the object: in one request, as a multipart upload (one part per segment
of a large object when the segments allow it), as a DLO or as a symlink,
with its manifest side object first.
"""

import dataclasses
import functools
import hashlib

from swift.common import utils as swift_utils

from cloudsync import exceptions
from cloudsync import large_objects as lo
from cloudsync import metadata as md
from cloudsync import providers
from cloudsync import stubs
from cloudsync import symlinks
from cloudsync.sync import current
from cloudsync.sync.outcomes import Outcome
from cloudsync.sync.outcomes import RetryLater
from cloudsync.sync.outcomes import RowFailed
from cloudsync.sync.outcomes import StaleAnswer
from cloudsync.sync import part
from cloudsync.sync import remove
from cloudsync.sync import source as source_mod


@dataclasses.dataclass
class CopyResult:
    outcome: Outcome
    source: source_mod.Source = None
    remote: providers.ObjectInfo = None
    #: the remote holds a newer version than the local one
    remote_newer: bool = False
    #: the local object is an archive stub (:class:`cloudsync.stubs.
    #: ArchiveStub`): never copied, its metadata carried to the remote
    stub: object = None


class Uploader(part.Part):
    """Copies a row's object version to the remote."""

    @property
    def stub_carrier(self):
        """Carries a POST on an archive stub to its remote copy."""
        return remove.StubCarrier(self.propagator)

    def check_key(self, key):
        """Whether the remote can hold ``key``; raises
        :class:`~cloudsync.exceptions.InvalidObject` (the provider's
        ``check_key``, without any request) when it cannot.
        """
        self.provider.check_key(self.bucket, key)

    def copy(self, row, fresh=False, new=False):
        """Copy ``row``'s object; ``fresh`` and ``new`` as for
        :meth:`cloudsync.sync.propagate.RowPropagator.handle`.

        :returns: a :class:`CopyResult`.
        """
        if self.mapping.excludes(row.name):
            return CopyResult(Outcome.SKIPPED)
        # NOTE(cloudsync): before anything is read: a name the remote
        # cannot hold fails at no cost, however often it is tried.
        self.check_key(self.layout.object_key(row.name))
        # NOTE(cloudsync): an SLO manifest's row says so (swift_bytes); its
        # manifest is read by _slo_source, so it is only HEADed here.
        small = (row.size or 0) <= source_mod.SMALL_OBJECT_SIZE and \
            'swift_bytes=' not in (row.content_type or '')
        try:
            read = self.read(row, small)
        except StaleAnswer:
            read = self.read(row, small, newest_only=True)
        if not isinstance(read, source_mod.Source):
            return read
        source = read
        timestamp = source.timestamp
        key = self.layout.object_key(row.name)
        if new and self.sends_alone(source):
            outcome = self.send_alone(row, source)
            if outcome is not None:
                return CopyResult(outcome, source)
        elif fresh and self.create_first(row, source):
            try:
                self.upload(source, create_only=True)
                return CopyResult(Outcome.COPIED, source)
            except exceptions.PreconditionFailed:
                # NOTE(cloudsync): the remote holds an object under that
                # key, maybe a newer one: it is compared as usual.
                pass
        info = self.compare.head_remote(key)
        if info is not None:
            remote_ts = current.remote_timestamp(info)
            if remote_ts is not None and remote_ts > timestamp:
                self.logger.debug(
                    '%s: the remote copy (%s) is newer than the local one '
                    '(%s); leaving it', self.what(row), remote_ts.internal,
                    timestamp.internal)
                return CopyResult(Outcome.UNCHANGED, source, info, True)
            if self.compare.same_content(source, info):
                if self.compare.same_metadata(source, info):
                    return CopyResult(Outcome.UNCHANGED, source, info)
                # NOTE(cloudsync): an object in a cold storage class cannot
                # be copied onto itself; it is sent again instead.
                cold = (info.storage_class or '').upper() in \
                    current.COLD_CLASSES
                if not cold:
                    self.update_metadata(source, info, known=True)
                    return CopyResult(Outcome.METADATA_UPDATED, source)
        self.upload(source)
        return CopyResult(Outcome.COPIED, source)

    def read(self, row, small, newest_only=False):
        """The row's :class:`~cloudsync.sync.source.Source`, or the
        :class:`CopyResult` of a row with nothing to copy.

        :raises StaleAnswer: the replica asked first answered with an older
            version than the others; read again with ``newest_only``.
        """
        headers, body = self.reader.read_local(row, newest_only=newest_only,
                                               small=small)
        if headers is None:
            return CopyResult(Outcome.LOCAL_GONE)
        data_path = symlinks.version_target(headers)
        if data_path is not None:
            headers, body = self.reader.read_version(row, headers, data_path)
        timestamp = source_mod.local_timestamp(headers)
        if timestamp is None or timestamp < row.meta_timestamp:
            raise RetryLater('the local copy (%s) is older than the row '
                             '(%s): a stale replica answered' % (
                                 timestamp.internal if timestamp else None,
                                 row.meta_timestamp.internal))
        stub = stubs.ArchiveStub.from_headers(headers)
        if stub is not None:
            return CopyResult(self.stub_carrier.carry(row, headers, stub),
                              stub=stub)
        problem = stubs.unreadable_stub(headers)
        if problem is not None:
            failed = RowFailed('%s is %s: not copied, so that its zero '
                               'bytes never replace the remote copy' % (
                                   row.name, problem))
            failed.permanent = True
            raise failed
        if not self.mapping.selects(headers):
            return CopyResult(Outcome.SKIPPED)
        try:
            return self.reader.source(row, headers, timestamp, body,
                                      data_path)
        except lo.LocalReadError as exc:
            if exc.status != 404 or newest_only:
                raise
            # NOTE(cloudsync): a manifest or segment read with X-Newest is
            # gone although the replica asked first had the object: it
            # was deleted (or archived) since. Every replica is asked.
            raise StaleAnswer(str(exc))

    def in_one_request(self, source):
        """Whether ``source`` is a small object the remote takes in one
        request: no manifest, link, DLO nor part per segment.
        """
        return (source.size <= source_mod.SMALL_OBJECT_SIZE and
                source.size < self.provider.MIN_PART_SIZE and
                source.manifest is None and source.link is None and
                source.dlo_manifest is None and
                not source.part_per_segment)

    def sends_alone(self, source):
        """Whether ``source``, of a new row (see :meth:`cloudsync.sync.
        propagate.RowPropagator.handle`), is sent
        without reading the remote copy first: a small object (see
        :meth:`in_one_request`) of a mapping whose objects nothing but the
        sync daemons writes (``remote_writers`` false, see
        :attr:`cloudsync.conf.Mapping.has_remote_writers`).
        """
        return (not self.mapping.has_remote_writers and
                self.in_one_request(source))

    def send_alone(self, row, source):
        """Send ``source`` (see :meth:`sends_alone`) with one request.

        New data (a PUT, new object or overwrite) is written as it is:
        nothing but the daemons writes these keys, and a copy older than
        the local object is what any remote copy is; an interrupted pass
        at worst sends it again. A metadata change (a POST) is written
        with the same bytes, conditional on the remote holding them
        (``If-Match`` on their MD5, on remotes with
        :attr:`~cloudsync.providers.Provider.PUT_IF_MATCH` whose ETags are
        MD5s): so that even a writer nobody declared cannot lose other
        bytes to it. Refused, the copy is read and compared as usual; not
        there, the object is sent.

        :returns: the :class:`Outcome`, or None when the remote copy is
            to be read and compared first.
        """
        if row.meta_timestamp == row.timestamp:
            self.upload(source)
            return Outcome.COPIED
        if not providers.puts_if_match(self.provider) or \
                not self.etag_is_md5():
            return None
        try:
            self.upload(source, same_bytes=True)
        except exceptions.PreconditionFailed:
            # NOTE(cloudsync): other bytes under the key, maybe newer.
            return None
        except exceptions.TargetNotFound:
            raise
        except exceptions.NotFound:
            self.upload(source)
            return Outcome.COPIED
        return Outcome.METADATA_UPDATED

    def create_first(self, row, source):
        """Whether ``source`` is sent with a write that only creates, before
        any HEAD: a small object written in one request, whose row is new
        data (not a metadata change, whose data the remote most likely has
        already), to a remote whose writes can be conditional on the key
        being free (:attr:`~cloudsync.providers.Provider.PUT_CREATE_ONLY`).

        Such a write changes nothing when the key holds any object, newer
        or not, another writer's or not: then the remote copy is HEADed and
        compared as for every other object. A new object thus costs one
        remote request instead of a HEAD and a PUT.
        """
        return (providers.creates_only(self.provider) and
                row.meta_timestamp == row.timestamp and
                self.in_one_request(source))

    def put_manifest(self, source):
        self.provider.put_object(
            self.bucket, self.layout.manifest_key(source.name),
            source.manifest, len(source.manifest),
            content_type='application/json',
            metadata={md.TIMESTAMP_KEY: source.timestamp.internal},
            md5=source.internal[source_mod.MANIFEST_ETAG_KEY])

    def update_metadata(self, source, info, known=False):
        """Replace the remote copy's metadata with the source's.

        :param known: ``info`` was just read from the remote (a HEAD): a
            provider that takes it does not read it again.
        """
        if source.manifest is not None and md.internal_values(
                info.metadata).get(source_mod.MANIFEST_ETAG_KEY) != \
                source.internal[source_mod.MANIFEST_ETAG_KEY]:
            self.put_manifest(source)
        kwargs = {}
        if self.mapping.propagate_expiration and \
                providers.takes_expiry(self.provider):
            # NOTE(cloudsync): the local X-Delete-At may have been changed
            # or removed by the POST; None removes the propagated one.
            kwargs['expires_at'] = source.expires_at
        if known and providers.takes_info(self.provider):
            kwargs['info'] = info
        self.provider.update_metadata(
            self.bucket, self.layout.object_key(source.name),
            content_type=source.content_type,
            metadata=source.remote_metadata(), **kwargs)
        self.stats.increment('metadata_updates')

    def upload(self, source, create_only=False, same_bytes=False):
        """Send ``source``; with ``create_only`` (see :meth:`create_first`)
        in a write that fails with
        :class:`~cloudsync.exceptions.PreconditionFailed` when the key
        holds an object; with ``same_bytes`` (see :meth:`send_alone`,
        only for a small object sent in one request) in a write that
        fails with ``PreconditionFailed`` when the key holds other bytes,
        and with :class:`~cloudsync.exceptions.NotFound` when it holds
        none; it then counts as a metadata update.
        """
        provider = self.provider
        key = self.layout.object_key(source.name)
        meta = source.remote_metadata()
        common = dict(content_type=source.content_type, metadata=meta,
                      expires_at=source.expires_at)
        single = dict(common, create_only=True) if create_only else common

        def condition(md5):
            return dict(single, if_match=md5) if same_bytes else single
        link_target = self.remote_link_target(source)
        if source.manifest is not None:
            # NOTE(cloudsync): the manifest goes first: a remote SLO whose
            # metadata names this manifest's ETag always has its manifest.
            self.put_manifest(source)
        if link_target is not None:
            provider.put_symlink(self.bucket, key, '%s/%s' % (
                self.bucket, link_target[0]), target_etag=link_target[1],
                **common)
        elif source.dlo_manifest is not None:
            segments = [providers.Segment(
                self.layout.dlo_key(piece.container, piece.obj),
                piece.length,
                functools.partial(self.reader.pieces_reader, [piece]),
                piece.etag)
                for piece in source.pieces]
            provider.put_dlo(self.bucket, key, source.dlo_prefix, segments,
                             **common)
        elif source.part_per_segment:
            # NOTE(cloudsync): each part's MD5 is its segment's ETag from
            # the manifest, sent as Content-MD5 (and the segment is read
            # with If-Match on it): the parts are not hashed here again.
            parts = [providers.Part(
                number, piece.length,
                functools.partial(self.reader.pieces_reader, [piece],
                                  digest=False),
                md5=piece.etag)
                for number, piece in enumerate(source.pieces, 1)]
            etag = provider.put_multipart(self.bucket, key, parts, **common)
            self.check_etag(source, key, etag, source.expected_etag)
        elif source.expected_etag is not None:
            reader = self.reader.pieces_reader(source.pieces, digest=False)
            with reader as body:
                provider.put_object(self.bucket, key, body, source.size,
                                    md5=source.expected_etag,
                                    **condition(source.expected_etag))
        elif source.size < provider.MIN_PART_SIZE:
            data = self.reader.pieces_reader(source.pieces).read_all()
            md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
            provider.put_object(self.bucket, key, data, len(data), md5=md5,
                                **condition(md5))
        else:
            self.upload_cut(source, key, common)
        if same_bytes:
            self.stats.increment('metadata_updates')
            return
        self.stats.increment('copied_objects')
        self.stats.increment('bytes', source.size)

    def remote_link_target(self, source):
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
        info = self.compare.head_remote(key)
        if info is None:
            resp = self.reader.request('HEAD', container, obj,
                                       acceptable=(2, 404))
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

    def plan(self, size):
        return self.provider.plan_parts(size)

    def upload_cut(self, source, key, common):
        """Upload bytes cut into new parts; their MD5s are computed while
        they are read and the remote ETag is checked against them.
        """
        md5s = {}

        def opener(number, offset, length):
            reader = self.reader.pieces_reader(source.pieces, offset, length)
            md5s[number] = reader
            return reader

        parts = [providers.Part(number, length,
                                functools.partial(opener, number, offset,
                                                  length))
                 for number, (offset, length) in enumerate(
                     self.plan(source.size), 1)]
        etag = self.provider.put_multipart(self.bucket, key, parts,
                                           **common)
        digests = [md5s[p.number].md5 if p.number in md5s else None
                   for p in parts]
        if all(digests):
            self.check_etag(source, key, etag, lo.multipart_etag(digests))

    def etag_is_md5(self):
        return bool(self.provider.etag_is_md5)

    def check_etag(self, source, key, etag, expected):
        etag = lo.normalize_etag(etag)
        if not lo.is_multipart_etag(etag) or not self.etag_is_md5() or \
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
