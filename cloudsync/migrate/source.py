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
(:meth:`~cloudsync.providers.Provider.get_object`). A few things the
provider interface does not offer are read here where the shipped
providers allow it, and left out (with the reason logged) elsewhere:

* the buckets of the credentials (``bucket = *``): S3-like providers
  (their boto3 client) and Swift (the account listing);
* a Swift container's metadata and ACLs, a static large object's
  manifest and a symlink's target: the ``swift`` provider;
* the part layout of an S3 multipart object (copied as a static large
  object with the same parts): the ``s3`` provider and those built on it;
  elsewhere such an object is copied in parts of the provider's part size.
"""

import logging
import urllib.parse

from cloudsync import exceptions

# NOTE(cloudsync): the provider interface has no call for the buckets of
# the credentials, a container's metadata, a large object's manifest or a
# multipart object's parts. Until it has, this module uses what the
# shipped providers have for their own use, asking for it and taking an
# AttributeError as "this provider cannot"; a third-party provider is a
# source of single buckets, its multipart objects copied whole.

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
            if self.is_swift:
                with provider._connection(provider._what('GET', ''),
                                          container_level=True) as conn:
                    _, items = conn.get_account(full_listing=True)
                return [item['name'] for item in items]
            list_buckets = provider.client.list_buckets
        except AttributeError:
            raise exceptions.NotSupported(
                'remote %s: provider %s cannot list its buckets; name one in '
                'bucket' % (provider.name,
                            self.migration.remote.provider_name))
        try:
            resp = list_buckets()
        except Exception as exc:  # noqa: BLE001 - boto's many errors
            raise exceptions.RemoteError(
                'remote %s: cannot list the buckets: %s' % (
                    provider.name, type(exc).__name__)) from exc
        return [b['Name'] for b in resp.get('Buckets') or []]

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
            head = self.provider._head_container
        except AttributeError:
            return {}
        try:
            headers = head(bucket)
        except exceptions.TargetNotFound:
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
        try:
            read = self.provider._manifest
            connection = self.provider._connection
        except AttributeError:
            raise exceptions.NotSupported(
                'remote %s cannot give the manifest of %s/%s' % (
                    self.provider.name, bucket, key))
        with connection(self.provider._what('GET', bucket, key)) as conn:
            return read(conn, bucket, key)

    def symlink(self, bucket, key):
        """A Swift source's symlink: ``(target, target account or None)``
        (``<container>/<object>``, unquoted), or None for any other
        object.
        """
        if not self.is_swift:
            return None
        try:
            connection = self.provider._connection
        except AttributeError:
            return None
        with connection(self.provider._what('HEAD', bucket, key)) as conn:
            headers, _ = conn.raw('HEAD', bucket, key,
                                  query_string='symlink=get')
        target = headers.get('x-symlink-target')
        if not target:
            return None
        return (urllib.parse.unquote(target),
                headers.get('x-symlink-target-account'))

    def part_ranges(self, bucket, key, info):
        """``[(offset, length)]`` of a multipart object's own parts, or
        None when the provider cannot tell (or the object is one part).
        """
        if not info.parts_count or info.parts_count < 2:
            return None
        try:
            ranges = self.provider._part_ranges
        except AttributeError:
            return None
        found = ranges(bucket, key, info)
        if len(found) != info.parts_count:
            return None
        return found
