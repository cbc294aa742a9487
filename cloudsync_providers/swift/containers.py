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
"""Remote containers: listings, creation, expiration and container
metadata."""

from oslo_log import log as logging

from cloudsync import exceptions
from cloudsync import providers
from cloudsync_providers.swift import connection as swift_conn

LOG = logging.getLogger(__name__)


class SwiftContainers:
    """The containers of a :class:`SwiftProvider`: listings, creation,
    expiration and metadata.
    """

    def list_objects(self, bucket, prefix='', delimiter=None, marker=None,
                     limit=1000):
        """One page of a container listing.

        A large object is listed without an ETag: Swift's listing ETag of
        it is not the one :meth:`head_object` gives.
        """
        limit = min(int(limit), 1000)
        if limit <= 0:
            return providers.ListingPage(entries=[], truncated=False)
        with self._connection(self._what('GET', bucket),
                              container_level=True) as conn:
            _, items = conn.get_container(
                bucket, marker=marker or None, limit=limit,
                prefix=prefix or None, delimiter=delimiter or None)
        entries = []
        for item in items:
            if 'subdir' in item:
                entries.append(providers.ListingEntry(
                    key=item['subdir'], is_prefix=True))
                continue
            etag = '' if 'slo_etag' in item else item.get('hash', '')
            entries.append(providers.ListingEntry(
                key=item['name'], size=int(item.get('bytes') or 0),
                etag=etag.strip('"'),
                last_modified=swift_conn._listing_time(
                    item.get('last_modified'))))
        truncated = len(items) >= limit
        return providers.ListingPage(
            entries=entries, truncated=truncated,
            next_marker=entries[-1].key if truncated and entries else None)

    def list_all(self, bucket, prefix='', delimiter=None, marker=None):
        while True:
            page = self.list_objects(bucket, prefix=prefix,
                                     delimiter=delimiter, marker=marker)
            yield from page.entries
            if not page.truncated or not page.next_marker:
                return
            marker = page.next_marker

    def check_target(self, bucket, create=False, storage_policy=None):
        """Check (or create) the remote container.

        :param storage_policy: the policy of a container created here (a
            mapping's ``storage_policy``); the remote's option otherwise.
        """
        try:
            self._head_container(bucket)
            return
        except exceptions.TargetNotFound:
            if not create:
                raise exceptions.TargetNotFound(
                    'remote %s: container %s does not exist' % (
                        self.name, bucket), status=404)
        self._create_container(bucket, storage_policy)

    def list_buckets(self):
        """The account's containers, in name order; see
        :meth:`Provider.list_buckets`.
        """
        with self._connection(self._what('GET', ''),
                              container_level=True) as conn:
            _, items = conn.get_account(full_listing=True)
        return sorted(item['name'] for item in items)

    def container_metadata(self, bucket):
        """The container's ``X-Container-Meta-*`` and ACLs; see
        :meth:`Provider.container_metadata`.
        """
        return {key.lower(): value
                for key, value in self._head_container(bucket).items()
                if key.lower().startswith(swift_conn.CONTAINER_META) or
                key.lower() in swift_conn.ACL_HEADERS}

    def _head_container(self, bucket):
        with self._connection(self._what('HEAD', bucket),
                              container_level=True) as conn:
            return conn.raw('HEAD', bucket)[0]

    def _policy_for(self, container):
        """The storage policy of a container created on first use.

        A segments container gets the policy of the container it serves.
        """
        suffix = self.conf.segments_suffix
        if container.endswith(suffix) and len(container) > len(suffix):
            try:
                served = self._head_container(container[:-len(suffix)])
                return served.get('x-storage-policy')
            except exceptions.TargetNotFound:
                pass
        return self.conf.storage_policy

    def _create_container(self, bucket, storage_policy=None):
        headers = {}
        policy = storage_policy or self.conf.storage_policy
        if policy:
            headers['X-Storage-Policy'] = policy
        try:
            with self._connection(self._what('PUT', bucket),
                                  container_level=True) as conn:
                conn.put_container(bucket, headers=headers)
        except exceptions.RemoteError as exc:
            # NOTE: 409: it exists already, with another policy.
            if exc.status != 409:
                raise
            return
        LOG.info('remote %s: created container %s%s', self.name, bucket,
                 ' (storage policy %s)' % policy if policy else '')

    def set_expiration(self, bucket, prefix, seconds):
        """Expire the objects written under ``prefix`` from now on.

        Swift has no rules by prefix: each object this provider writes
        under ``prefix`` gets an ``X-Delete-At`` of its Swift timestamp
        (cloudsync's ``cloudsync-timestamp``, or the time of the copy)
        plus ``seconds``. It does not slide: a later metadata update
        keeps it. Objects already on the remote are not changed, and an
        expiry the object was given (``expires_at``) wins.

        :returns: True when the rule is new or changed.
        """
        with self._lock:
            changed = self._expirations.get((bucket, prefix)) != seconds
            self._expirations[(bucket, prefix)] = seconds
        return changed

    def update_container_metadata(self, bucket, headers, acl=False):
        """Mirror a local container's metadata onto the remote container.

        Every ``X-Container-Meta-*`` of ``headers`` (the local container's
        headers) is set on the remote container and every other
        ``X-Container-Meta-*`` there is removed; with ``acl`` the same is
        done for ``X-Container-Read`` and ``X-Container-Write``. Nothing
        is sent when the remote already matches, so calling it on every
        pass costs one HEAD.

        ACLs name accounts and users of the local cluster; they mean the
        same on the remote only if it has the same ones.

        :returns: True when the remote container was changed.
        :raises TargetNotFound: the remote container does not exist.
        """
        def selected(items):
            return {k.lower(): v for k, v in items
                    if k.lower().startswith(swift_conn.CONTAINER_META) or
                    (acl and k.lower() in swift_conn.ACL_HEADERS)}

        wanted = selected(headers.items())
        have = selected(self._head_container(bucket).items())
        post = {key.title(): value for key, value in wanted.items()
                if have.get(key) != value}
        for key in set(have) - set(wanted):
            if key.startswith(swift_conn.CONTAINER_META):
                post['X-Remove-Container-Meta-' +
                     key[len(swift_conn.CONTAINER_META):].title()] = 'x'
            else:
                post[key.title()] = ''
        if not post:
            return False
        with self._connection(self._what('POST', bucket),
                              container_level=True) as conn:
            conn.post_container(bucket, post)
        LOG.info('remote %s: updated %s of container %s', self.name,
                 ', '.join(sorted(post)), bucket)
        return True
