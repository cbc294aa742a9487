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
"""Reading the source of a migration through its provider.

Any provider can be a source of one bucket: the migrator lists it
(:meth:`~cloudsync.providers.Provider.list_objects`) and reads it
(:meth:`~cloudsync.providers.Provider.get_object`). What a store may keep
besides comes from the provider interface's optional reads, and is left
out where a provider raises :class:`~cloudsync.exceptions.NotSupported`:

* the buckets of the credentials (``bucket = *``):
  :meth:`~cloudsync.providers.Provider.list_buckets`;
* a Swift container's metadata and ACLs, a static large object's
  manifest and a symlink's target:
  :meth:`~cloudsync.providers.Provider.container_metadata`,
  :meth:`~cloudsync.providers.Provider.slo_manifest` and
  :meth:`~cloudsync.providers.Provider.symlink_target`;
* the part layout of a multipart object (copied as a static large object
  with the same parts):
  :meth:`~cloudsync.providers.Provider.part_ranges`; without it such an
  object is copied whole.
"""

import logging

from cloudsync import exceptions

LOG = logging.getLogger('cloudsync.migrate')

#: listing page size
PAGE_SIZE = 1000
#: container headers copied from a Swift source when the migrator creates
#: the container
CONTAINER_META_PREFIX = 'x-container-meta-'
CONTAINER_ACLS = ('x-container-read', 'x-container-write')


class MigrationSource(object):
    """The source of a :class:`~cloudsync.conf.migration.Migration`."""

    def __init__(self, migration, provider):
        self.migration = migration
        self.provider = provider

    @property
    def is_swift(self):
        return self.migration.source_is_swift

    def buckets(self):
        """The source buckets of this pass, in order."""
        if not self.migration.every_bucket:
            return [self.migration.bucket]
        return sorted(self._all_buckets())

    def _all_buckets(self):
        provider = self.provider
        try:
            return provider.list_buckets()
        except exceptions.NotSupported:
            raise exceptions.NotSupported(
                'remote %s: provider %s cannot list its buckets; name one in '
                'bucket' % (provider.name,
                            self.migration.remote.provider_name)) from None

    def page(self, bucket, marker=None, limit=PAGE_SIZE):
        """One :class:`~cloudsync.providers.ListingPage` of objects (common
        prefixes left out) after ``marker``.
        """
        page = self.provider.list_objects(bucket,
                                          prefix=self.migration.prefix,
                                          marker=marker or None, limit=limit)
        page.entries = [e for e in page.entries if not e.is_prefix]
        return page

    def list_segments(self, bucket, prefix):
        """Every object of ``bucket`` under ``prefix`` (a DLO's
        segments), in order.
        """
        return [e for e in self.provider.list_all(bucket, prefix=prefix)
                if not e.is_prefix]

    def head(self, bucket, key):
        return self.provider.head_object(bucket, key)

    def get(self, bucket, key, range=None):
        return self.provider.get_object(bucket, key, range=range)

    def delete(self, bucket, key):
        return self.provider.delete_object(bucket, key)

    def container_headers(self, bucket):
        """A Swift source container's metadata and ACLs, to give the
        container the migrator creates; {} for other sources.
        """
        if not self.is_swift:
            return {}
        try:
            headers = self.provider.container_metadata(bucket)
        except (exceptions.TargetNotFound, exceptions.NotSupported):
            return {}
        found = {}
        for key, value in headers.items():
            lower = key.lower()
            if lower.startswith(CONTAINER_META_PREFIX) or \
                    lower in CONTAINER_ACLS:
                found[key.title()] = value
        return found

    def slo_segments(self, bucket, key):
        """The segments of a Swift source's static large object, as its
        manifest lists them (``name``, ``hash``, ``bytes``, ``range``).
        """
        return self.provider.slo_manifest(bucket, key)

    def symlink(self, bucket, key):
        """A Swift source's symlink: ``(target, target account or None)``
        (``<container>/<object>``, unquoted), or None for any other
        object.
        """
        if not self.is_swift:
            return None
        try:
            return self.provider.symlink_target(bucket, key)
        except exceptions.NotSupported:
            return None

    def part_ranges(self, bucket, key, info, guess=False):
        """``[(offset, length)]`` of a multipart object's own parts, or
        None when the provider cannot tell (or the object is one part).

        With ``guess``, the provider may answer with a likely layout from
        fewer requests (``guess_part_ranges``), which the caller checks
        against the object's multipart ETag.
        """
        if not info.parts_count or info.parts_count < 2:
            return None
        method = (self.provider.guess_part_ranges if guess
                  else self.provider.part_ranges)
        try:
            found = method(bucket, key, info)
        except exceptions.NotSupported:
            return None
        if not found or len(found) != info.parts_count:
            return None
        return found
