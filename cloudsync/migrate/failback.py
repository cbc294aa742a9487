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
"""Fail-back after an outage: bringing back into Swift what was written
through proxymc while the cluster was out of reach.

proxymc writes into a mapping's bucket in the sync daemon's layout, with
the Swift timestamp of the write in the object's ``cloudsync-timestamp``
(:data:`cloudsync.metadata.TIMESTAMP_KEY`). For each object of a mapped
container in the bucket, :class:`FailBack` compares that timestamp with
the local object's:

* the remote object has no ``cloudsync-timestamp`` (cloudsync did not
  write it), or one older than ``since``: skipped;
* the local object is as new or newer (the daemon's own copy, or a later
  write or POST in Swift), or was deleted in Swift after the remote write:
  skipped;
* else the remote object is copied into Swift with its bytes, content
  type, user metadata, its s3api sysmeta and its expiry, and its
  ``cloudsync-timestamp`` as ``X-Timestamp``: Swift's own ordering decides,
  so a Swift write or delete newer than it (even one racing the copy) wins
  and the copy is refused. The bytes' MD5 is checked against the ETag
  Swift stored. A container Swift lacks is created first, with the
  mapping's ``storage_policy``.

A static large object is brought back as one: its manifest (the one kept
beside it in the bucket, used only when the object names it, see
:mod:`cloudsync.remote_manifest`) is written into Swift once its segments
are there; segments that are objects of the mapping's containers are
brought back first, as any object. Dynamic large objects (which proxymc
does not accept) newer than the local copy are reported as failed.

Deletes through proxymc are not brought back: proxymc leaves no record of
them in the bucket (see the documentation for doing it by hand).
"""

import dataclasses
import logging
import re
import time
import typing

from swift.common import utils as swift_utils

from cloudsync import exceptions
from cloudsync import headers as headers_mod
from cloudsync import metadata as md
from cloudsync.migrate import objects as objects_mod
from cloudsync.migrate import target as target_mod
from cloudsync import remote_manifest

LOG = logging.getLogger('cloudsync.migrate.failback')

COPIED = 'copied'
#: what ``--dry-run`` reports instead of :data:`COPIED`
WOULD_COPY = 'would copy'
SKIPPED = 'skipped'
FAILED = 'failed'

#: remote metadata keys of the object system metadata proxymc keeps
#: (s3api's upload records), as ``X-Object-Sysmeta-<rest>``
SYSMETA_PREFIX = 'cloudsync-sysmeta-'
_MD5 = re.compile(r'^[0-9a-f]{32}$')
#: seconds by which a remote's clock may lag the writer's: an object the
#: bucket listing shows as stored this long before ``since`` was written
#: before it, and is skipped without a HEAD
CLOCK_SLACK = 3600.0


@dataclasses.dataclass
class Outcome:
    """What fail-back did with one remote object."""

    container: str
    name: str
    outcome: str
    #: why it was skipped or failed
    reason: str = ''
    bytes: int = 0
    #: the remote object's Swift timestamp, when it has one
    timestamp: typing.Optional[str] = None

    def line(self):
        text = '%s/%s: %s' % (self.container, self.name, self.outcome)
        if self.outcome in (COPIED, WOULD_COPY):
            text += ' (%d bytes, %s)' % (self.bytes, self.timestamp)
        if self.reason:
            text += ': %s' % self.reason
        return text


@dataclasses.dataclass
class Summary:
    copied: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0

    def add(self, outcome):
        if outcome.outcome in (COPIED, WOULD_COPY):
            self.copied += 1
            self.bytes += outcome.bytes
        elif outcome.outcome == SKIPPED:
            self.skipped += 1
        else:
            self.failed += 1


def _timestamp(value):
    stamp = headers_mod.timestamp(value)
    return stamp if stamp is not None and stamp.timestamp > 0 else None


class FailBack(object):
    """Pulls back one mapping's newer remote objects into Swift.

    :param mapping: the :class:`~cloudsync.conf.Mapping`.
    :param provider: its remote's provider.
    :param target: a :class:`~cloudsync.migrate.target.SwiftTarget` of the
        mapping's account.
    :param dry_run: report what would be copied, copy nothing.
    :param since: seconds since the epoch: remote objects written before
        it are skipped (the outage's start).
    """

    def __init__(self, mapping, provider, target, dry_run=False, since=None,
                 clock=time.time):
        self.mapping = mapping
        self.provider = provider
        self.target = target
        self.dry_run = dry_run
        self.since = since
        self.clock = clock
        self._containers = set()

    def containers(self, named=()):
        """The local containers to look at: the mapping's container, or
        for a mapping of every container, the account's containers and
        those ``named``.
        """
        if not self.mapping.is_wildcard:
            return [self.mapping.container]
        found = set(named)
        for item in self.target.client.iter_containers(self.target.account):
            found.add(item['name'])
        return sorted(found)

    def run(self, containers):
        """Every :class:`Outcome`, container by container."""
        for container in containers:
            for outcome in self.container(container):
                yield outcome

    def container(self, container):
        """The :class:`Outcome` of each remote object of ``container``."""
        where = self.mapping.target(container)
        layout, bucket = where.layout, where.bucket
        try:
            entries = self.provider.list_all(
                bucket, prefix=layout.listing_prefix())
            for entry in entries:
                if entry.is_prefix or layout.is_internal_key(entry.key):
                    continue
                try:
                    name = layout.object_name(entry.key)
                except ValueError:
                    continue
                if self.since is not None and entry.last_modified and \
                        entry.last_modified < self.since - CLOCK_SLACK:
                    yield Outcome(container, name, SKIPPED,
                                  'written before --since')
                    continue
                yield self.pull(container, bucket, entry.key, name)
        except exceptions.NotFound:
            return

    def pull(self, container, bucket, key, name):
        """Bring remote object ``key`` back as ``container/name`` when it
        is newer than Swift's; failures are returned, not raised.
        """
        try:
            return self._pull(container, bucket, key, name)
        except target_mod.Refused:
            return Outcome(container, name, SKIPPED,
                           'Swift has a newer write or delete')
        except Exception as exc:  # noqa: BLE001 - one object must not
            # stop the others; the error is reported with the object
            return Outcome(container, name, FAILED,
                           '%s: %s' % (type(exc).__name__, exc))

    def _pull(self, container, bucket, key, name):
        try:
            info = self.provider.head_object(bucket, key)
        except exceptions.NotFound:
            return Outcome(container, name, SKIPPED,
                           'deleted from the remote meanwhile')
        internal = md.internal_values(info.metadata)
        stamp = _timestamp(internal.get(md.TIMESTAMP_KEY))
        if stamp is None:
            return Outcome(container, name, SKIPPED,
                           'not written by cloudsync (no %s)'
                           % md.TIMESTAMP_KEY)
        skipped = Outcome(container, name, SKIPPED, timestamp=stamp.internal)
        if self.since is not None and stamp.timestamp < self.since:
            skipped.reason = 'written before --since'
            return skipped
        head, tombstone = self.target.lookup(container, name)
        if head is not None:
            local = _timestamp(head.get('x-timestamp'))
            if local is not None and local >= stamp:
                skipped.reason = ('the local copy is as new or newer (%s)'
                                  % local.internal)
                return skipped
        elif tombstone is not None:
            deleted = _timestamp(tombstone)
            if deleted is not None and deleted >= stamp:
                skipped.reason = 'deleted in Swift later (%s)' % (
                    deleted.internal)
                return skipped
        delete_at = headers_mod.whole_seconds(internal.get(md.DELETE_AT_KEY))
        if delete_at is not None and delete_at <= self.clock():
            skipped.reason = 'expired (X-Delete-At %d)' % delete_at
            return skipped
        if swift_utils.config_true_value(md.decode_value(
                info.metadata.get(md.SLO_KEY, ''))):
            return self._pull_slo(container, bucket, name, info, stamp,
                                  delete_at, create_only=head is None)
        if md.DLO_KEY in {k.lower() for k in info.metadata}:
            return Outcome(container, name, FAILED,
                           'a dynamic large object is not pulled back',
                           timestamp=stamp.internal)
        if self.dry_run:
            return Outcome(container, name, WOULD_COPY, bytes=info.size,
                           timestamp=stamp.internal)
        self._ensure_container(container)
        size = self._copy(container, bucket, key, name, stamp, delete_at,
                          create_only=head is None)
        return Outcome(container, name, COPIED, bytes=size,
                       timestamp=stamp.internal)

    # -- static large objects ------------------------------------------------

    def _pull_slo(self, container, bucket, name, info, stamp, delete_at,
                  create_only):
        """Bring back a static large object written through proxymc: its
        manifest (kept beside it in the bucket, used only when the object
        names it), its segments first when they are objects of this
        mapping's containers that Swift lacks, then the manifest, which
        Swift's ``slo`` checks against every segment.
        """
        failed = Outcome(container, name, FAILED, timestamp=stamp.internal)
        layout = self.mapping.target(container).layout
        try:
            with self.provider.get_object(
                    bucket, layout.manifest_key(name)) as body:
                raw = body.read_all()
            entries = remote_manifest.trusted_entries(raw, info, container,
                                                      name)
        except exceptions.NotFound:
            failed.reason = 'a static large object whose manifest is ' \
                'not in the bucket'
            return failed
        except remote_manifest.UntrustedManifest as exc:
            failed.reason = 'its manifest in the bucket is not used: %s' % (
                exc,)
            return failed
        manifest = []
        for entry in entries:
            if entry.get('sub_slo') or 'data' in entry:
                failed.reason = ('a static large object with nested '
                                 'manifests or inline data is not pulled '
                                 'back')
                return failed
            problem = self._segment(entry['name'], entry['hash'],
                                    int(entry['bytes']))
            if problem:
                failed.reason = problem
                return failed
            item = {'path': entry['name'], 'etag': entry['hash'],
                    'size_bytes': int(entry['bytes'])}
            if entry.get('range'):
                item['range'] = entry['range']
            manifest.append(item)
        if self.dry_run:
            return Outcome(container, name, WOULD_COPY, bytes=info.size,
                           timestamp=stamp.internal)
        self._ensure_container(container)
        self.target.put_slo(container, name,
                            self.headers(info, stamp, delete_at), manifest,
                            create_only=create_only)
        head = self.target.head(container, name, newest=False) or {}
        size = int(head.get('x-object-sysmeta-slo-size') or -1)
        if head.get('x-timestamp') is None or _timestamp(
                head['x-timestamp']) != stamp or size != info.size:
            raise exceptions.ChecksumMismatch(
                'Swift has %d bytes at %s after the manifest of %d bytes at '
                '%s was written' % (size, head.get('x-timestamp'),
                                    info.size, stamp.internal))
        return Outcome(container, name, COPIED, bytes=info.size,
                       timestamp=stamp.internal)

    def _segment(self, path, etag, size):
        """Make sure segment ``path`` (``/<container>/<object>``) is in
        Swift with ``etag`` and ``size``: pulled first when it is an
        object of this mapping's containers.

        :returns: None, or why the segment is missing.
        """
        seg_container, _, seg_name = path.lstrip('/').partition('/')
        if self._has_segment(seg_container, seg_name, etag, size):
            return None
        if self.mapping.is_wildcard or \
                seg_container == self.mapping.container:
            where = self.mapping.target(seg_container)
            pulled = self.pull(seg_container, where.bucket,
                               where.layout.object_key(seg_name), seg_name)
            if pulled.outcome == WOULD_COPY or self._has_segment(
                    seg_container, seg_name, etag, size):
                return None
            return 'segment %s: %s%s' % (path, pulled.outcome, (
                ' (%s)' % pulled.reason) if pulled.reason else '')
        return ('segment %s is not in Swift (its container is not in this '
                'mapping: bring it back first)' % path)

    def _has_segment(self, container, name, etag, size):
        head = self.target.head(container, name, newest=False)
        return head is not None and \
            (head.get('etag') or '').strip('"') == etag and \
            int(head.get('content-length') or -1) == size

    def _ensure_container(self, container):
        """Create ``container`` when Swift lacks it (one created through
        proxymc during the outage), with the mapping's storage policy.
        """
        if container in self._containers:
            return
        headers = {}
        if self.mapping.storage_policy:
            headers['X-Storage-Policy'] = self.mapping.storage_policy
        self.target.create_container(container, headers)
        self._containers.add(container)

    @staticmethod
    def headers(info, stamp, delete_at=None):
        """The Swift headers of the copy of remote object ``info``."""
        headers = {}
        for key, value in md.remote_to_swift(info.metadata).items():
            if key.lower() not in (md.SLO_KEY, md.DLO_KEY):
                headers[key] = value
        for key, value in info.metadata.items():
            if key.lower().startswith(SYSMETA_PREFIX):
                headers['X-Object-Sysmeta-' +
                        key[len(SYSMETA_PREFIX):].title()] = \
                    md.decode_value(value)
        headers, dropped = headers_mod.safe_headers(headers)
        if dropped:
            LOG.warning('%s: metadata that cannot be sent as a header, left '
                        'out: %s', headers_mod.printable(info.key),
                        headers_mod.describe_dropped(dropped))
        if delete_at is not None:
            headers['X-Delete-At'] = str(delete_at)
        headers['Content-Type'] = headers_mod.safe_content_type(
            info.content_type)
        headers['X-Timestamp'] = stamp.internal
        return headers

    def _copy(self, container, bucket, key, name, stamp, delete_at,
              create_only):
        body = self.provider.get_object(bucket, key)
        info = body.info
        headers = self.headers(info, stamp, delete_at)
        headers['Content-Length'] = str(body.content_length)
        etag = md.internal_values(info.metadata).get(md.ETAG_KEY) or \
            info.etag
        if _MD5.match((etag or '').strip('"')):
            headers['ETag'] = etag.strip('"')
        reader = objects_mod._HashingReader(body)
        try:
            resp = self.target.put(container, name, headers, reader,
                                   create_only=create_only)
        finally:
            body.close()
        stored = (resp.get('etag') or '').strip('"')
        if reader.bytes != body.content_length or \
                (stored and stored != reader.md5):
            raise exceptions.ChecksumMismatch(
                'Swift stored ETag %s after %d bytes with MD5 %s were sent '
                '(%d expected)' % (stored, reader.bytes, reader.md5,
                                   body.content_length))
        return reader.bytes
