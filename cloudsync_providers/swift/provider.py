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
"""The ``swift`` provider: another Swift cluster, or another account.

Configuration with tempauth (or any v1 auth)::

    [remote:dr-site]
    provider = swift
    endpoint = https://swift.example.com/auth/v1.0
    access_key = backup:cloudsync
    secret_key = ...

and with Keystone v3::

    [remote:dr-site]
    provider = swift
    endpoint = https://keystone.example.com/v3
    access_key = cloudsync
    secret_key = ...
    auth_version = 3
    project_name = backup
    project_domain_name = Default
    user_domain_name = Default
    region_name = RegionTwo
    interface = internal

A mapping's ``bucket`` is the remote container; with ``container = *``
each local container ``C`` goes to the remote container ``<bucket>C``.
Objects keep their names there (the mapping's ``layout`` defaults to
``native`` on Swift remotes), as swift-s3-sync and container-sync wrote
them; ``layout = hashed`` keeps the hash-prefixed keys instead.
``remote_account`` makes cloudsync write into another account than the
user's own (the user needs access to it, e.g. as a reseller admin).

How Swift objects are written:

* A plain object is one PUT; its MD5 is sent as ``ETag`` so that the
  remote cluster refuses a body that does not match it.
* A large object (an upload in parts) becomes a static large object: each
  part is stored, with its MD5 verified, as
  ``<key>/<upload>/<part number>`` in the segments container (the remote
  container's name followed by ``segments_suffix``, ``_segments`` by
  default), then the manifest is PUT with ``?multipart-manifest=put``.
  Segments of a failed upload are removed; so are the segments of an
  object cloudsync overwrites or deletes. cloudsync only ever removes
  segments in its own segments container, below the object's name.
* A dynamic large object (``KEEPS_DLO``) stays one: its segments are
  stored in the segments container under a prefix in cloudsync's DLO
  namespace (see :meth:`cloudsync.layout.RemoteLayout.dlo_key`: a ``.dlo``
  directory, then the local segments container and the manifest's
  prefix), an identical segment already there is not sent again (it gets
  the manifest's expiry, or none), objects under that prefix that are not
  its segments are removed, then the manifest is PUT with
  ``X-Object-Manifest: <segments container>/<prefix>``. A POST sends
  ``X-Object-Manifest`` again (Swift drops it otherwise). Deleting the
  manifest leaves its segments, as in Swift;
  :meth:`SwiftProvider.delete_dlo_segments` removes them. cloudsync only
  ever writes, expires or removes DLO segments in that namespace.
* A symlink (``KEEPS_SYMLINKS``) stays one: :meth:`SwiftProvider.
  put_symlink` PUTs it with ``X-Symlink-Target`` (and, for a static link,
  ``X-Symlink-Target-Etag``). Objects are read with ``?symlink=get``, so
  that a link is answered for itself (its metadata carries its local
  target), never as its target; a POST to a link, which Swift answers
  with 307 after applying it, succeeds. A link is deleted with a plain
  DELETE (Swift's ``?multipart-manifest=delete`` would remove the
  segments of a large object it points to), which costs a HEAD first
  where the container has a segments container.
* Metadata is stored as ``X-Object-Meta-*`` with its case and its bytes:
  a user of the remote cluster reads exactly the values written to the
  local one. A value HTTP cannot carry as it is (white space at either
  end, line breaks, control characters) is stored RFC 2047-encoded, as
  cloudsync stores it on S3.
* Metadata updates are POSTs, which Swift applies without copying data.
  A POST would drop ``X-Delete-At``, so one is always sent: the new
  expiry cloudsync asks for (a local ``X-Delete-At`` that was changed),
  none when a propagated one was removed, otherwise the remote's current
  one. A large object's segments get its new expiry too.
* ``X-Delete-At`` is set when cloudsync asks for an expiry: a propagated
  one, or, with a mapping's ``remote_delete_after``, the object's Swift
  timestamp plus that many seconds (it does not slide when the object's
  metadata changes).
* ETags: a plain object's is its MD5. A static large object's is, as for
  S3 multipart uploads, ``md5(the binary MD5s of its segments)-N``, read
  from its manifest; so a large object copied to S3 and to Swift has the
  same ETag in cloudsync. Swift's own listing ETag of a large object is
  different, so listings give none for them (``''``).
* Where a container has a segments container, deletes use
  ``?multipart-manifest=delete``, which removes a large object with its
  segments (a plain object then takes a second, plain DELETE), and
  writes first HEAD the object to find the segments they replace.
  Elsewhere a delete is one DELETE and a write one PUT.

Container metadata and ACLs: :meth:`SwiftProvider.update_container_metadata`
mirrors a local container's ``X-Container-Meta-*`` (and, when asked,
``X-Container-Read``/``X-Container-Write``) onto the remote container.

Errors become :mod:`cloudsync.exceptions`; their messages name the
operation, the container and object, the status and Swift's explanation,
and never the key or a token.

The package: :mod:`~cloudsync_providers.swift.connection` (auth, the
connection pool, errors), :mod:`~cloudsync_providers.swift.body` (bodies
sent again on a retry), :mod:`~cloudsync_providers.swift.reads` (HEAD,
GET), :mod:`~cloudsync_providers.swift.containers` (listings, containers),
:mod:`~cloudsync_providers.swift.segments` (SLO segments, DLOs),
:mod:`~cloudsync_providers.swift.symlinks` and
:mod:`~cloudsync_providers.swift.provider`.
"""

import json
import threading
import time
import urllib.parse

from swiftclient import exceptions as swift_exc

from cloudsync import exceptions
from cloudsync import metadata as metadata_mod
from cloudsync import providers
from cloudsync_providers import common
from cloudsync_providers.swift import body as swift_body
from cloudsync_providers.swift import connection as swift_conn
from cloudsync_providers.swift import containers as swift_containers
from cloudsync_providers.swift import reads as swift_reads
from cloudsync_providers.swift import segments as swift_segments
from cloudsync_providers.swift import symlinks as swift_symlinks


class SwiftProvider(swift_conn.SwiftConnection, swift_reads.SwiftReads,
                    swift_containers.SwiftContainers,
                    swift_segments.SwiftSegments,
                    swift_symlinks.SwiftSymlinks, providers.Provider):
    """Another Swift cluster (or account), through the Swift API.

    :param connection_class: the connection class (tests); it is built
        with the shared auth and swiftclient ``Connection`` arguments.
    """

    OPTIONS = swift_conn.OPTIONS
    #: with ``container = *`` each container gets its own remote container
    BUCKET_PER_CONTAINER = True
    #: objects keep their names in the remote container, as swift-s3-sync
    #: and Swift's container-sync wrote them
    DEFAULT_LAYOUT = 'native'
    #: dynamic large objects are copied as dynamic large objects
    KEEPS_DLO = True
    #: symlinks are copied as symlinks
    KEEPS_SYMLINKS = True
    MAX_SINGLE_PUT = 5 * swift_conn.GiB
    MIN_PART_SIZE = 1
    MAX_PART_SIZE = 5 * swift_conn.GiB
    #: Swift's default ``max_manifest_segments``
    MAX_PARTS = 1000
    #: seconds a segments container found missing is believed missing
    SEGMENTS_RECHECK = 60.0
    #: X-Delete-At is per object: :meth:`update_metadata` sets it
    UPDATE_METADATA_TAKES_EXPIRY = True

    def __init__(self, name, conf, max_connections=10,
                 connection_class=swift_conn._Connection):
        super().__init__(name, conf, max_connections=max_connections)
        self._connection_class = connection_class
        self._auth = swift_conn._SharedAuth(conf.remote_account)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, max_connections))
        self._idle = []
        self._session = None
        self._segments_seen = {}
        self._expirations = {}

    def check_parts(self, bucket, key, parts):
        """Refuse parts that cannot be the segments of one SLO."""
        self._check_parts(self._what('PUT', bucket, key), parts)

    @classmethod
    def validate_conf(cls, conf):
        problems = []

        get = common.conf_getter(conf)
        if not get('endpoint'):
            problems.append('endpoint: missing; the auth URL of the remote '
                            'cluster (e.g. https://host/auth/v1.0, or the '
                            'Keystone URL with auth_version = 3)')
        if not get('access_key'):
            problems.append('access_key: missing; the remote user, e.g. '
                            'account:user')
        if not get('secret_key'):
            problems.append('secret_key: missing; the remote user\'s key')
        if get('auth_version') == '3':
            if not (get('project_name') or get('project_id')):
                problems.append('project_name: missing; Keystone v3 '
                                '(auth_version = 3) needs project_name or '
                                'project_id')
        else:
            for opt in ('project_name', 'project_id', 'region_name'):
                if get(opt):
                    problems.append('%s: only used with auth_version = 3'
                                    % opt)
        suffix = get('segments_suffix')
        if suffix is not None and (not suffix or '/' in suffix):
            problems.append('segments_suffix: %r must be non-empty and '
                            'must not contain "/"' % suffix)
        problems += common.check_retry_options(get)
        account = get('remote_account')
        if account is not None and ('/' in account or not account.strip()):
            problems.append('remote_account: %r is not an account name'
                            % account)
        return problems

    def location(self, bucket):
        """``<auth URL>;<user>;<container>``; never the key."""
        return '%s;%s;%s' % (self.conf.endpoint, self.conf.access_key,
                             bucket)

    def segments_container(self, bucket):
        """Where the segments of ``bucket``'s large objects are kept."""
        return bucket + self.conf.segments_suffix

    @staticmethod
    def _object_headers(content_type, metadata, expires_at=None,
                        dlo_manifest=None):
        """Request headers; with ``dlo_manifest`` (unquoted) the object is
        a dynamic large object: ``x-object-manifest`` in ``metadata`` (or
        else ``dlo_manifest``) is sent as its ``X-Object-Manifest``.
        """
        headers = {'Content-Type': content_type or 'application/octet-stream'}
        for key, value in (metadata or {}).items():
            if dlo_manifest is not None and key == swift_conn.DLO_KEY:
                dlo_manifest = metadata_mod.decode_value(value)
                continue
            headers['X-Object-Meta-' + key] = swift_conn.to_swift_value(value)
        if dlo_manifest is not None:
            headers['X-Object-Manifest'] = urllib.parse.quote(
                dlo_manifest, safe='/')
        if expires_at is not None:
            headers['X-Delete-At'] = '%d' % int(expires_at)
        return headers

    def _put(self, what, bucket, key, data, create=True, **kwargs):
        """PUT, creating the container first when it is missing.

        swift-s3-sync created the remote containers it needed, with the
        configured storage policy; so does this, unless ``create`` is
        False or ``create_containers`` is off.
        """
        for attempt in (1, 2):
            try:
                with self._connection(what) as conn:
                    etag = conn.put_object(bucket, key, data, **kwargs)
                return (etag or '').strip('"')
            except exceptions.NotFound as exc:
                if attempt == 2 or not create or \
                        not self.conf.create_containers:
                    raise exceptions.TargetNotFound(
                        '%s: the container does not exist' % what,
                        status=exc.status) from exc
            self._create_container(bucket, self._policy_for(bucket))
            try:
                if hasattr(data, 'reset'):
                    data.reset()
                else:
                    data.seek(0)
            except swift_body._NotRewindable as exc:
                raise self._translate(exc, what) from exc

    def put_object(self, bucket, key, body, size, content_type=None,
                   metadata=None, md5=None, expires_at=None):
        """One PUT; the remote cluster checks ``md5`` (sent as ETag).

        Without ``md5`` the MD5 of the bytes sent is compared with the
        stored ETag. Replacing a large object cloudsync wrote removes its
        segments afterwards.
        """
        if md5 is not None and not common.HEX_MD5.match(md5):
            raise exceptions.InvalidObject('%r is not a hex MD5' % (md5,))
        what = self._what('PUT', bucket, key)
        if size > self.MAX_SINGLE_PUT:
            raise exceptions.InvalidObject(
                '%s: %d bytes is more than one PUT may carry' % (what, size))
        expires_at = self._expiry(bucket, key, metadata, expires_at)
        old_segments = self._our_segments(bucket, key)
        data = swift_body._Body(size, source=body)
        try:
            etag = self._put(what, bucket, key, data, content_length=size,
                             etag=md5, headers=self._object_headers(
                                 content_type, metadata, expires_at))
        finally:
            data.close()
        if etag != data.md5.hexdigest():
            self._delete_quietly(bucket, key)
            raise exceptions.ChecksumMismatch(
                '%s: the remote stored ETag %s, not the MD5 of the bytes '
                'sent (%s)' % (what, etag, data.md5.hexdigest()))
        self._delete_segments(old_segments)
        return etag

    def update_metadata(self, bucket, key, content_type=None, metadata=None,
                        expires_at=providers.KEEP_EXPIRY, info=None):
        """Replace metadata with a POST; no data is copied.

        A POST drops ``X-Delete-At``, so one is always sent:

        * ``expires_at`` a time: that one (a changed propagated expiry);
        * ``expires_at`` None: the object has no expiry of its own any
          more. An expiry cloudsync propagated (the object's metadata
          holds ``cloudsync-delete-at``) is removed, or replaced by the
          one of a :meth:`set_expiration` rule; any other (a rule's, which
          never slides) is kept;
        * :data:`~cloudsync.providers.KEEP_EXPIRY`: the remote's current
          one.

        The remote object is read with a HEAD unless the caller passes the
        :class:`ObjectInfo` it has as ``info``. When the expiry of a large
        object changes, the segments cloudsync wrote for it are given the
        new one too, so that they never go before their manifest. Without
        ``content_type`` the current one is kept. A dynamic large object
        keeps its ``X-Object-Manifest`` (``metadata``'s
        ``x-object-manifest``, or else its current one), and its segments
        get its new expiry too.

        :returns: the object's ETag.
        """
        if info is None:
            info = self.head_object(bucket, key)
        expiry = info.expires_at
        if expires_at is None:
            if metadata_mod.DELETE_AT_KEY in metadata_mod.internal_values(
                    info.metadata):
                expiry = self._expiry(bucket, key, metadata, None)
        elif expires_at is not providers.KEEP_EXPIRY:
            expiry = expires_at
        changed = swift_segments._expiry_changed(info.expires_at, expiry)
        if info.parts_count and changed:
            self._expire_segments(bucket, key, expiry)
        if info.dlo_manifest and changed:
            for container, name in self._dlo_segments(bucket,
                                                      info.dlo_manifest):
                self._post_expiry(container, name, expiry)
        headers = self._object_headers(content_type or info.content_type,
                                       metadata, expiry,
                                       dlo_manifest=info.dlo_manifest)
        with self._connection(self._what('POST', bucket, key)) as conn:
            try:
                conn.post_object(bucket, key, headers)
            except swift_exc.ClientException as exc:
                # NOTE: Swift applies a POST to a symlink, then answers
                # 307 to point at its target.
                if exc.http_status != 307:
                    raise
        return info.etag

    def delete_object(self, bucket, key):
        """Delete an object; a large one with its segments.

        One request: ``?multipart-manifest=delete`` where a segments
        container exists, a plain DELETE elsewhere.

        :returns: False when there was no such object.
        """
        what = self._what('DELETE', bucket, key)
        if self._may_have_segments(bucket) and \
                not self._is_link(bucket, key):
            with self._connection(what) as conn:
                _, body = conn.raw(
                    'DELETE', bucket, key, headers={
                        'Accept': 'application/json'},
                    query_string='multipart-manifest=delete')
            try:
                result = json.loads(body or b'{}')
            except ValueError:
                result = {}
            errors = result.get('Errors') or []
            if not any('Not an SLO manifest' in str(e) for e in errors):
                return self._deleted(what, result)
        try:
            with self._connection(what) as conn:
                conn.raw('DELETE', bucket, key)
        except exceptions.NotFound:
            return False
        return True

    @staticmethod
    def _deleted(what, result):
        """Whether a large object's delete deleted; raise if it failed."""
        status = str(result.get('Response Status') or '200 OK')
        errors = [e for e in result.get('Errors') or []
                  if isinstance(e, (list, tuple)) and len(e) == 2]
        if status.startswith('2') and not errors:
            return bool(result.get('Number Deleted', 1))
        if status.startswith('404') or (
                not result.get('Number Deleted') and
                result.get('Number Not Found')):
            return False
        code = int(status[:3]) if status[:3].isdigit() else None
        message = '%s: %s%s' % (what, status, ''.join(
            '; %s: %s' % (name, reason) for name, reason in errors[:5]))
        if code and code >= 500:
            raise exceptions.Unavailable(message, status=code)
        raise exceptions.RemoteError(message, status=code)

    def _expiry(self, bucket, key, metadata, expires_at):
        if expires_at is not None:
            return expires_at
        with self._lock:
            rules = [(p, s) for (b, p), s in self._expirations.items()
                     if b == bucket and key.startswith(p)]
        if not rules:
            return None
        _, seconds = max(rules, key=lambda rule: len(rule[0]))
        stamp = metadata_mod.internal_values(metadata or {}).get(
            metadata_mod.TIMESTAMP_KEY)
        try:
            base = float(stamp)
        except (TypeError, ValueError):
            base = time.time()
        # NOTE: Swift refuses an X-Delete-At in the past; an object older
        # than the rule goes soon, as an S3 lifecycle rule would have it.
        return max(base + seconds, time.time() + 60)
