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
"""Checking the rows other replicas handle.

:class:`ReplicaCheck` compares rows of a container database that another
replica owns with pages of the remote listing (and a HEAD where the
listing cannot tell) and returns those whose remote copy is missing or
not current, for the propagator to handle.
"""

from swift.common import utils as swift_utils

from cloudsync import local
from cloudsync import metadata as md
from cloudsync import symlinks
from cloudsync.sync import current
from cloudsync.sync import part


#: verify: listing pages that may be read for every 10 rows
ROWS_PER_PAGE = 10
LIST_LIMIT = 1000
#: seconds a remote's Last-Modified may lag behind (whole seconds, clocks)
LAST_MODIFIED_SLACK = 2.0


class ReplicaCheck(part.Part):
    """Finds the rows of other replicas that need handling."""

    def check(self, rows):
        """The ``rows`` (in name order) that need handling."""
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
                if self.needs_handle(row, keys[index],
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
            if self.needs_handle(row, key, self.compare.head_remote(key),
                                 headed=True):
                need.append(row)
        return need

    def needs_handle(self, row, key, entry, headed=False):
        """Whether ``row`` needs handling, given the remote listing
        ``entry`` (or HEAD answer) of its key (None when absent).
        """
        if row.deleted:
            if entry is None or self.mapping.propagate_delete:
                return entry is not None
            if not headed:
                entry = self.compare.head_remote(key)
            return entry is not None and self.remover.to_mark(row, entry)
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
        plain_match = (not is_slo and
                       current.listed_copy_matches(entry, size, row_etag))
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
            entry = self.compare.head_remote(key)
            if entry is None:
                return True
        remote_ts = current.remote_timestamp(entry)
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
        if entry.size == row.size and \
                current.kept_etag_matches(entry, md.ETAG_KEY, row.etag):
            return False
        if local.is_encrypted_etag(row.etag) and entry.size == row.size:
            # NOTE(cloudsync): encrypted at rest, the row's ETag is not the
            # object's: a copy of the row's version (or a newer one) and of
            # its size is current.
            return False
        # NOTE(cloudsync): a DLO's remote copy is its concatenation, which
        # neither the row's size nor its ETag describe.
        return md.DLO_KEY not in entry.metadata
