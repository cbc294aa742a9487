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
"""

import binascii
import contextlib
import datetime
import email.utils
import hashlib
import io
import json
import re
import threading
import time
import urllib.parse
import uuid

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1.identity import v3 as ks_v3
from keystoneauth1 import session as ks_session
from oslo_config import cfg
from oslo_log import log as logging
import requests
from swiftclient import client as swift_client
from swiftclient import exceptions as swift_exc
from urllib3 import exceptions as urllib3_exc

from cloudsync import exceptions
from cloudsync import layout as layout_mod
from cloudsync import metadata as metadata_mod
from cloudsync import providers

LOG = logging.getLogger(__name__)

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
CHUNK_SIZE = 64 * KiB
#: parts of one large object sent at once (also bounded by the pool)
MAX_PART_WORKERS = 4
#: Swift's default limit on object names, in UTF-8 bytes
MAX_OBJECT_NAME_LENGTH = 1024
OBJECT_META = 'x-object-meta-'
DLO_KEY = metadata_mod.DLO_KEY
#: reads answer for a symlink itself, never for its target
SYMLINK_GET = 'symlink=get'
CONTAINER_META = 'x-container-meta-'
ACL_HEADERS = ('x-container-read', 'x-container-write')

# NOTE: swiftclient's debug log shows the first characters of tokens and
# keys by default; cloudsync shows none of a secret.
swift_client.logger_settings['reveal_sensitive_prefix'] = 0

OPTIONS = [
    cfg.StrOpt('auth_version', default='1',
               choices=[('1', 'tempauth, swauth or any v1 auth: endpoint is '
                              'the auth URL (.../auth/v1.0), access_key '
                              'the user (account:user)'),
                        ('3', 'Keystone v3: endpoint is the identity URL '
                              '(.../v3), access_key the user name')],
               help='How cloudsync authenticates to the remote cluster.'),
    cfg.StrOpt('project_name',
               help='Keystone v3: the project to scope the token to.'),
    cfg.StrOpt('project_id',
               help='Keystone v3: the project ID, instead of project_name.'),
    cfg.StrOpt('project_domain_name', default='Default',
               help='Keystone v3: the domain of the project.'),
    cfg.StrOpt('user_domain_name', default='Default',
               help='Keystone v3: the domain of the user.'),
    cfg.StrOpt('region_name',
               help='Keystone v3: the region whose object-store endpoint is '
                    'used (unset: the only one in the catalog).'),
    cfg.StrOpt('interface', default='public',
               choices=['public', 'internal', 'admin'],
               help='Keystone v3: which object-store endpoint of the '
                    'catalog is used.'),
    cfg.StrOpt('remote_account',
               help='Write into this account (e.g. AUTH_backup) instead of '
                    'the one the user authenticates to. The user needs '
                    'access to it.'),
    cfg.StrOpt('storage_policy',
               help='The storage policy of the containers cloudsync creates '
                    'on the remote cluster (a mapping\'s storage_policy '
                    'wins). Unset: the remote\'s default policy.'),
    cfg.BoolOpt('create_containers', default=True,
                help='Create a missing remote container (with '
                     'storage_policy) when an object is written to it, as '
                     'with container = "*", where each local container gets '
                     'its own, and at the start of a pass of a mapping '
                     'with storage_policy or sync_container_metadata. When '
                     'false, writes to a missing container fail.'),
    cfg.StrOpt('segments_suffix', default='_segments',
               help='The segments of a large object copied into container '
                    'C are stored in container C + this suffix.'),
    cfg.IntOpt('max_retries', default=3, min=0,
               help='How many times a request that failed for a reason '
                    'that may pass (5xx, 429, lost connection) is sent '
                    'again before giving up.'),
    cfg.FloatOpt('retry_backoff', default=0.5, min=0,
                 help='Seconds before the first retry; doubled for each '
                      'further one.'),
    cfg.FloatOpt('retry_backoff_max', default=20.0, min=0,
                 help='The longest wait before one retry, in seconds.'),
    cfg.FloatOpt('timeout', default=60.0, min=0,
                 help='Seconds to wait for a connection or for the remote '
                      'to answer or send the next bytes of a body.'),
    cfg.BoolOpt('verify_ssl', default=True,
                help='Verify the TLS certificate of https endpoints.'),
    cfg.StrOpt('ca_bundle',
               help='A file of CA certificates to verify endpoints with, '
                    'instead of the system\'s.'),
]


# -- metadata values ---------------------------------------------------------

_SURROGATES = re.compile('[\ud800-\udfff]')
_HEX_MD5 = re.compile(r'^[0-9a-fA-F]{32}$')
_MULTIPART_ETAG = re.compile(r'[0-9a-fA-F]{32}-\d+')


def _raw_safe(value):
    """Whether HTTP carries ``value`` to Swift and back unchanged."""
    if value != value.strip(' \t') or _SURROGATES.search(value):
        return False
    return not any(ord(ch) < 0x20 and ch != '\t' or ord(ch) == 0x7f
                   for ch in value)


def to_swift_value(value):
    """The header value that stores cloudsync metadata ``value`` on Swift.

    An RFC 2047-encoded value is stored decoded, so that the remote holds
    what the user wrote, unless the decoded value is not safe in an HTTP
    header.
    """
    decoded = metadata_mod.decode_value(value)
    if decoded != value and _raw_safe(decoded):
        return decoded
    return value


def from_swift_value(value):
    """The inverse of :func:`to_swift_value`.

    An encoded value whose decoded form is not safe in an HTTP header was
    stored encoded: it is returned as stored. Any other value is what the
    user wrote, encoded for cloudsync.
    """
    decoded = metadata_mod.decode_value(value)
    if decoded != value and not _raw_safe(decoded):
        return value
    return metadata_mod.encode_value(value)


def multipart_etag(md5_hex_list):
    """``md5(the binary MD5s)-N``: S3's ETag of a multipart object."""
    digest = hashlib.md5(usedforsecurity=False)
    for md5_hex in md5_hex_list:
        digest.update(binascii.unhexlify(md5_hex.strip('"')))
    return '%s-%d' % (digest.hexdigest(), len(md5_hex_list))


def slo_etag(md5_hex_list):
    """Swift's ETag of a static large object: md5 of the hex MD5s."""
    digest = hashlib.md5(usedforsecurity=False)
    for md5_hex in md5_hex_list:
        digest.update(md5_hex.strip('"').encode('ascii'))
    return digest.hexdigest()


def _http_date(value):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        value = value.timestamp()
    return email.utils.formatdate(float(value), usegmt=True)


def _listing_time(value):
    for fmt in ('%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%dT%H:%M:%S'):
        try:
            return datetime.datetime.strptime(value or '', fmt).replace(
                tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            continue
    return 0.0


def _with_account(storage_url, account):
    """``storage_url`` with its last path segment replaced by ``account``."""
    parts = urllib.parse.urlsplit(storage_url)
    base = parts.path.rstrip('/').rsplit('/', 1)[0]
    path = '%s/%s' % (base, urllib.parse.quote(account, safe=''))
    return urllib.parse.urlunsplit(parts._replace(path=path))


def _true(value):
    return str(value or '').lower() in ('true', '1', 'yes', 'on')


# -- requests ----------------------------------------------------------------

def _raw_request(url, token, container, name, http_conn=None, method='HEAD',
                 headers=None, query_string=None, service_token=None,
                 response_dict=None, stream=False):
    """One request, answering the response headers exactly as sent.

    swiftclient's own HEAD and GET URL-unquote header values (so a
    metadata value ``100%41`` comes back as ``100A``) and its DELETE
    drops the body, where a large object's delete says what it did.
    Used through ``Connection._retry`` like swiftclient's functions.

    :returns: ``(headers, body)``: lower-case header names, values decoded
        from UTF-8; the body as bytes, or with ``stream`` the response to
        read from.
    """
    parsed, conn = http_conn
    path = parsed.path.rstrip('/')
    if container:
        path += '/' + swift_client.quote(container)
    if name is not None:
        path += '/' + swift_client.quote(name)
    if query_string:
        path += '?' + query_string
    request_headers = dict(headers or {})
    request_headers['X-Auth-Token'] = token
    if service_token:
        request_headers['X-Service-Token'] = service_token
    conn.request(method, path, '', request_headers)
    resp = conn.getresponse()
    swift_client.store_response(resp, response_dict)
    if resp.status < 200 or resp.status >= 300:
        body = resp.read()
        raise swift_exc.ClientException.from_response(
            resp, '%s failed' % method, body)
    raw = {}
    for key, value in resp.getheaders():
        raw[key.lower()] = value
    if stream:
        return raw, resp
    return raw, resp.read()


class _BodyError(Exception):
    """The caller's stream did not yield the bytes it promised."""


class _NotRewindable(Exception):
    """A body that failed part-way cannot be sent again."""


class _ManifestChanged(Exception):
    """The large object was replaced while it was being read."""


class _Body:
    """A request body of exactly ``size`` bytes, re-sent when possible.

    swiftclient calls :meth:`reset` before it sends a body again. The MD5
    of what was sent is kept, to check the stored ETag.
    """

    def __init__(self, size, source=None, opener=None):
        self.size = size
        self._opener = opener
        self._opened = []
        if isinstance(source, (bytes, bytearray, memoryview)):
            if len(source) != size:
                raise exceptions.InvalidObject(
                    'the body is %d bytes, not the %d announced'
                    % (len(source), size))
            source = bytes(source)
        self._source = source
        self._start = None
        if source is not None and not isinstance(source, bytes):
            try:
                if source.seekable():
                    self._start = source.tell()
            except (AttributeError, OSError, ValueError):
                pass
        self._begin(first=True)

    def _begin(self, first=False):
        if isinstance(self._source, bytes):
            self._stream = io.BytesIO(self._source)
        elif self._opener is not None:
            self._stream = self._opener()
            self._opened.append(self._stream)
        elif first:
            self._stream = self._source
        elif self._start is not None:
            self._source.seek(self._start)
            self._stream = self._source
        else:
            raise _NotRewindable('the body stream cannot be rewound to '
                                 'send it again')
        self._remaining = self.size
        self.md5 = hashlib.md5(usedforsecurity=False)

    def reset(self, *args, **kwargs):
        self._begin()

    def __len__(self):
        return self.size

    def read(self, n=-1):
        if self._remaining <= 0:
            return b''
        want = self._remaining if n is None or n < 0 else min(
            n, self._remaining)
        data = self._stream.read(want)
        if not data:
            raise _BodyError('the body ended after %d of %d bytes'
                             % (self.size - self._remaining, self.size))
        if len(data) > want:
            raise _BodyError('the body stream returned %d bytes when asked '
                             'for %d' % (len(data), want))
        data = bytes(data)
        self._remaining -= len(data)
        self.md5.update(data)
        if self._remaining == 0 and self._stream.read(1):
            raise _BodyError('the body holds more than the %d bytes '
                             'announced' % self.size)
        return data

    def close(self):
        while self._opened:
            stream = self._opened.pop()
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - best effort
                LOG.debug('Closing a part stream failed', exc_info=True)


class _SharedAuth:
    """One token for every connection of a provider.

    A connection that gets a 401 asks for a new token; the others then use
    that one instead of authenticating again.
    """

    def __init__(self, remote_account=None):
        self._lock = threading.Lock()
        self._remote_account = remote_account
        self.url = self.token = None

    def get(self, conn, stale_token):
        with self._lock:
            if self.token is None or self.token == stale_token:
                url, token = swift_client.Connection.get_auth(conn)
                if self._remote_account:
                    url = _with_account(url, self._remote_account)
                self.url, self.token = url, token
            return self.url, self.token


class _Connection(swift_client.Connection):
    """A swiftclient connection that shares its provider's token."""

    def __init__(self, shared_auth, **kwargs):
        super().__init__(**kwargs)
        self._shared_auth = shared_auth
        self._used_token = None

    def get_auth(self):
        url, token = self._shared_auth.get(self, self._used_token)
        self._used_token = token
        self.url, self.token = url, token
        return url, token

    def raw(self, method, container, name=None, **kwargs):
        """:func:`_raw_request` with swiftclient's auth and retries."""
        return self._retry(None, _raw_request, container, name,
                           method=method, **kwargs)


class SwiftProvider(providers.Provider):
    """Another Swift cluster (or account), through the Swift API.

    :param connection_class: the connection class (tests); it is built
        with the shared auth and swiftclient ``Connection`` arguments.
    """

    OPTIONS = OPTIONS
    #: with ``container = *`` each container gets its own remote container
    BUCKET_PER_CONTAINER = True
    #: objects keep their names in the remote container, as swift-s3-sync
    #: and Swift's container-sync wrote them
    DEFAULT_LAYOUT = 'native'
    #: dynamic large objects are copied as dynamic large objects
    KEEPS_DLO = True
    #: symlinks are copied as symlinks
    KEEPS_SYMLINKS = True
    MAX_SINGLE_PUT = 5 * GiB
    MIN_PART_SIZE = 1
    MAX_PART_SIZE = 5 * GiB
    #: Swift's default ``max_manifest_segments``
    MAX_PARTS = 1000
    #: seconds a segments container found missing is believed missing
    SEGMENTS_RECHECK = 60.0

    def __init__(self, name, conf, max_connections=10,
                 connection_class=_Connection):
        super().__init__(name, conf, max_connections=max_connections)
        self._connection_class = connection_class
        self._auth = _SharedAuth(conf.remote_account)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, max_connections))
        self._idle = []
        self._session = None
        self._segments_seen = {}
        self._expirations = {}

    # -- configuration -----------------------------------------------------

    @classmethod
    def validate_conf(cls, conf):
        problems = []

        def get(name):
            try:
                return getattr(conf, name)
            except (cfg.Error, ValueError, AttributeError):
                return None

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
        backoff, backoff_max = get('retry_backoff'), get('retry_backoff_max')
        if (backoff is not None and backoff_max is not None and
                backoff_max < backoff):
            problems.append('retry_backoff_max: %s is less than '
                            'retry_backoff (%s)' % (backoff_max, backoff))
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

    # -- connections -------------------------------------------------------

    def _keystone_session(self):
        with self._lock:
            if self._session is None:
                conf = self.conf
                auth = ks_v3.Password(
                    auth_url=conf.endpoint, username=conf.access_key,
                    password=conf.secret_key,
                    user_domain_name=conf.user_domain_name,
                    project_name=conf.project_name,
                    project_id=conf.project_id,
                    project_domain_name=conf.project_domain_name)
                self._session = ks_session.Session(
                    auth=auth, verify=conf.ca_bundle or conf.verify_ssl,
                    timeout=conf.timeout or None)
            return self._session

    def connection_kwargs(self):
        """swiftclient ``Connection`` arguments from the configuration."""
        conf = self.conf
        kwargs = dict(
            retries=conf.max_retries, starting_backoff=conf.retry_backoff,
            max_backoff=conf.retry_backoff_max, timeout=conf.timeout or None,
            insecure=not conf.verify_ssl, cacert=conf.ca_bundle or None)
        if conf.auth_version == '3':
            kwargs.update(
                session=self._keystone_session(), auth_version='3',
                os_options={'service_type': 'object-store',
                            'endpoint_type': conf.interface,
                            'region_name': conf.region_name})
        else:
            kwargs.update(authurl=conf.endpoint, user=conf.access_key,
                          key=conf.secret_key, auth_version='1')
        return kwargs

    def _take(self, block=True):
        """A connection; with ``block`` False, one beyond the pool size."""
        if block:
            self._slots.acquire()
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            return self._connection_class(self._auth,
                                          **self.connection_kwargs())
        except BaseException:
            if block:
                self._slots.release()
            raise

    def _give(self, conn, block=True, broken=False):
        keep = False
        if not broken:
            with self._lock:
                if len(self._idle) < self.max_connections:
                    self._idle.append(conn)
                    keep = True
        if not keep:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - best effort
                pass
        if block:
            self._slots.release()

    @contextlib.contextmanager
    def _connection(self, what, container_level=False, block=True):
        """A pooled connection; errors in the block are translated."""
        conn = self._take(block)
        broken = False
        try:
            yield conn
        except (exceptions.RemoteError, _ManifestChanged):
            raise
        except swift_exc.ClientException as exc:
            raise self._translate(exc, what, container_level) from exc
        except Exception as exc:
            broken = True
            raise self._translate(exc, what, container_level) from exc
        except BaseException:
            broken = True
            raise
        finally:
            self._give(conn, block=block, broken=broken)

    def close(self):
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - best effort
                pass

    # -- errors ------------------------------------------------------------

    def _scrub(self, text):
        text = str(text)
        for secret in (self.conf.secret_key, self._auth.token):
            if secret:
                text = text.replace(secret, '***')
        return text

    def _what(self, method, container, key=None):
        where = container if key is None else '%s/%s' % (container, key)
        return 'remote %s: %s %s' % (self.name, method, where)

    def _translate(self, exc, what, container_level=False):
        """The cloudsync exception for a swiftclient or transport error."""
        if isinstance(exc, exceptions.RemoteError):
            return exc
        if isinstance(exc, _BodyError):
            return exceptions.ChecksumMismatch('%s: %s' % (what, exc))
        if isinstance(exc, _NotRewindable):
            return exceptions.Unavailable('%s: %s after a failure'
                                          % (what, exc))
        if isinstance(exc, swift_exc.ClientException):
            return self._translate_status(exc, what, container_level)
        if isinstance(exc, ks_exc.http.HttpError):
            status = exc.http_status
            if status in (401, 403):
                return exceptions.AuthError(
                    '%s: Keystone refused the credentials' % what,
                    status=status)
            cls = (exceptions.Unavailable if (status or 0) >= 500
                   else exceptions.RemoteError)
            return cls('%s: Keystone answered %s' % (what, status),
                       status=status)
        if isinstance(exc, (ks_exc.EndpointNotFound, ks_exc.EmptyCatalog)):
            return exceptions.RemoteError(
                '%s: the Keystone catalog has no object-store endpoint for '
                'region %s and interface %s' % (
                    what, self.conf.region_name or '(any)',
                    self.conf.interface))
        if isinstance(exc, (ks_exc.ConnectionError,
                            requests.exceptions.RequestException, OSError)):
            return exceptions.Unavailable(self._scrub(
                '%s: no answer: %s' % (what, exc)))
        if isinstance(exc, ks_exc.ClientException):
            return exceptions.AuthError(self._scrub(
                '%s: Keystone authentication failed: %s' % (what, exc)))
        return exceptions.RemoteError(self._scrub(
            '%s failed: %s: %s' % (what, type(exc).__name__, exc)))

    def _translate_status(self, exc, what, container_level):
        status = exc.http_status
        if status is None:
            # NOTE: swiftclient raises without a status when v1 auth gave
            # no storage URL or when it could not re-send a body.
            text = self._scrub('%s: %s' % (what, exc.msg))
            if 'auth' in exc.msg.lower():
                return exceptions.AuthError(text)
            return exceptions.Unavailable(text)
        if status == 401:
            return exceptions.AuthError(
                '%s: the remote refused the credentials (401)' % what,
                status=status)
        if status == 403:
            return exceptions.AuthError(
                '%s: the remote denied access (403)' % what, status=status)
        content = exc.http_response_content or b''
        if isinstance(content, bytes):
            content = content.decode('utf-8', 'replace')
        detail = ''
        if content and status < 500 and not content.lstrip().startswith(
                '<'):
            detail = ': ' + ' '.join(content.split())[:200]
        text = self._scrub('%s: %s %s%s' % (
            what, status, exc.http_reason or '', detail))
        cls = {304: exceptions.NotModified,
               412: exceptions.PreconditionFailed,
               416: exceptions.RangeNotSatisfiable,
               422: exceptions.ChecksumMismatch,
               400: exceptions.InvalidObject,
               411: exceptions.InvalidObject,
               413: exceptions.InvalidObject,
               414: exceptions.InvalidObject,
               405: exceptions.NotSupported,
               501: exceptions.NotSupported}.get(status)
        if status == 404:
            cls = (exceptions.TargetNotFound if container_level
                   else exceptions.NotFound)
        elif cls is None:
            retry = status in (408, 429, 498) or status >= 500
            cls = exceptions.Unavailable if retry else exceptions.RemoteError
        return cls(text, status=status)

    # -- objects: reading --------------------------------------------------

    @staticmethod
    def _object_headers(content_type, metadata, expires_at=None,
                        dlo_manifest=None):
        """Request headers; with ``dlo_manifest`` (unquoted) the object is
        a dynamic large object: ``x-object-manifest`` in ``metadata`` (or
        else ``dlo_manifest``) is sent as its ``X-Object-Manifest``.
        """
        headers = {'Content-Type': content_type or 'application/octet-stream'}
        for key, value in (metadata or {}).items():
            if dlo_manifest is not None and key == DLO_KEY:
                dlo_manifest = metadata_mod.decode_value(value)
                continue
            headers['X-Object-Meta-' + key] = to_swift_value(value)
        if dlo_manifest is not None:
            headers['X-Object-Manifest'] = urllib.parse.quote(
                dlo_manifest, safe='/')
        if expires_at is not None:
            headers['X-Delete-At'] = '%d' % int(expires_at)
        return headers

    def _info(self, conn, bucket, key, headers):
        """The :class:`ObjectInfo` of HEAD or GET response headers.

        For a static large object its manifest is read on ``conn`` (which
        must be free) to give the multipart ETag.
        """
        size = int(headers.get('content-length') or 0)
        total = (headers.get('content-range') or '').rpartition('/')[2]
        if total.strip().isdigit():
            size = int(total)
        etag = (headers.get('etag') or '').strip('"')
        parts_count = None
        if _true(headers.get('x-static-large-object')):
            segments = self._manifest(conn, bucket, key,
                                      headers.get('x-manifest-etag'))
            parts_count = len(segments)
            # NOTE: a manifest someone else wrote may use byte ranges or
            # nested manifests; its parts then have no MD5 of their own.
            if segments and not any('range' in s or s.get('sub_slo')
                                    for s in segments):
                etag = multipart_etag([s['hash'] for s in segments])
        if headers.get('x-timestamp'):
            last_modified = float(headers['x-timestamp'])
        elif headers.get('last-modified'):
            last_modified = email.utils.parsedate_to_datetime(
                headers['last-modified']).timestamp()
        else:
            last_modified = 0.0
        expires_at = headers.get('x-delete-at')
        metadata = {k[len(OBJECT_META):]: from_swift_value(v)
                    for k, v in headers.items() if k.startswith(OBJECT_META)}
        dlo_manifest = None
        if headers.get('x-object-manifest'):
            # NOTE: the header wins over an X-Object-Meta-X-Object-Manifest,
            # which is how copies of DLOs were kept before they stayed DLOs.
            dlo_manifest = urllib.parse.unquote(headers['x-object-manifest'])
            metadata[DLO_KEY] = dlo_manifest
        return providers.ObjectInfo(
            key=key, size=size, etag=etag, last_modified=last_modified,
            content_type=(headers.get('content-type') or
                          'application/octet-stream'),
            metadata=metadata, parts_count=parts_count,
            expires_at=float(expires_at) if expires_at else None,
            dlo_manifest=dlo_manifest)

    def _manifest(self, conn, bucket, key, manifest_etag=None):
        """The segments of a static large object, as Swift keeps them.

        :raises _ManifestChanged: the object was replaced or removed since
            ``manifest_etag`` was read.
        """
        headers = {'If-Match': manifest_etag} if manifest_etag else None
        try:
            _, body = conn.raw('GET', bucket, key, headers=headers,
                               query_string='multipart-manifest=get')
        except swift_exc.ClientException as exc:
            if exc.http_status in (404, 412):
                raise _ManifestChanged() from exc
            raise
        try:
            segments = json.loads(body)
        except ValueError:
            raise exceptions.RemoteError(
                '%s: the large object\'s manifest is not JSON'
                % self._what('GET', bucket, key))
        return segments if isinstance(segments, list) else []

    def head_object(self, bucket, key):
        what = self._what('HEAD', bucket, key)
        for _attempt in (1, 2, 3):
            try:
                with self._connection(what) as conn:
                    headers, _ = conn.raw('HEAD', bucket, key,
                                          query_string=SYMLINK_GET)
                    return self._info(conn, bucket, key, headers)
            except _ManifestChanged:
                continue
        raise exceptions.Unavailable('%s: the object keeps changing' % what)

    def get_object(self, bucket, key, range=None, if_match=None,
                   if_none_match=None, if_modified_since=None,
                   if_unmodified_since=None):
        """Stream an object; see :meth:`Provider.get_object`.

        On the wire a large object's ETag is Swift's own (the MD5 of its
        segments' MD5s): If-Match and If-None-Match values naming its
        multipart ETag are translated, so conditions hold as on S3.
        """
        what = self._what('GET', bucket, key)
        headers = {}
        if range:
            headers['Range'] = range
        if if_match or if_none_match:
            translate = self._etag_translator(bucket, key, if_match,
                                              if_none_match)
            if if_match:
                headers['If-Match'] = translate(if_match)
            if if_none_match:
                headers['If-None-Match'] = translate(if_none_match)
        if if_modified_since:
            headers['If-Modified-Since'] = _http_date(if_modified_since)
        if if_unmodified_since:
            headers['If-Unmodified-Since'] = _http_date(if_unmodified_since)
        for _attempt in (1, 2, 3):
            response = {}
            conn = self._take()
            try:
                resp_headers, resp = conn.raw(
                    'GET', bucket, key, headers=headers, stream=True,
                    response_dict=response, query_string=SYMLINK_GET)
            except BaseException as exc:
                self._give(conn, broken=not isinstance(
                    exc, swift_exc.ClientException))
                if isinstance(exc, Exception):
                    raise self._translate(exc, what) from exc
                raise
            try:
                info = self._body_info(bucket, key, resp_headers)
            except BaseException as exc:
                resp.close()
                self._give(conn, broken=True)
                if isinstance(exc, _ManifestChanged):
                    continue
                raise
            return self._object_body(conn, resp, info, response,
                                     resp_headers, what)
        raise exceptions.Unavailable('%s: the object keeps changing' % what)

    def _body_info(self, bucket, key, resp_headers):
        if not _true(resp_headers.get('x-static-large-object')):
            return self._info(None, bucket, key, resp_headers)
        # NOTE: the connection streaming the body is busy; the manifest is
        # read on another one, even beyond the pool size, so that bodies
        # held open cannot starve it.
        with self._connection(self._what('GET', bucket, key),
                              block=False) as other:
            return self._info(other, bucket, key, resp_headers)

    def _object_body(self, conn, resp, info, response, resp_headers, what):
        state = {'released': False, 'finished': False}

        def close():
            if not state['released']:
                state['released'] = True
                try:
                    resp.close()
                finally:
                    # NOTE: a connection whose body was not read to the
                    # end cannot serve another request.
                    self._give(conn, broken=not state['finished'])

        def chunks():
            try:
                while True:
                    chunk = resp.read(CHUNK_SIZE)
                    if not chunk:
                        break
                    yield chunk
                state['finished'] = True
            except (requests.exceptions.RequestException, OSError,
                    urllib3_exc.HTTPError) as exc:
                close()
                raise exceptions.Unavailable(self._scrub(
                    '%s: the body was cut short: %s' % (what, exc))) from exc
            close()

        length = resp_headers.get('content-length')
        return providers.ObjectBody(
            info, chunks(), status=response.get('status', 200),
            content_range=resp_headers.get('content-range'),
            content_length=int(length) if length is not None else None,
            close=close)

    def _etag_translator(self, bucket, key, *values):
        """Maps a large object's multipart ETag to Swift's own."""
        if not any(_MULTIPART_ETAG.search(v or '') for v in values):
            return lambda value: value
        try:
            with self._connection(self._what('HEAD', bucket, key)) as conn:
                headers, _ = conn.raw('HEAD', bucket, key)
                if not _true(headers.get('x-static-large-object')):
                    return lambda value: value
                segments = self._manifest(conn, bucket, key,
                                          headers.get('x-manifest-etag'))
        except (exceptions.NotFound, _ManifestChanged):
            # NOTE: the GET that follows gives the answer (404).
            return lambda value: value
        hashes = [s.get('hash', '') for s in segments]
        ours, swifts = multipart_etag(hashes), slo_etag(hashes)

        def translate(value):
            return ', '.join(
                '"%s"' % swifts if v.strip().strip('"') == ours else v
                for v in value.split(','))
        return translate

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
                last_modified=_listing_time(item.get('last_modified'))))
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

    # -- objects: writing --------------------------------------------------

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
            except _NotRewindable as exc:
                raise self._translate(exc, what) from exc

    def put_object(self, bucket, key, body, size, content_type=None,
                   metadata=None, md5=None, expires_at=None):
        """One PUT; the remote cluster checks ``md5`` (sent as ETag).

        Without ``md5`` the MD5 of the bytes sent is compared with the
        stored ETag. Replacing a large object cloudsync wrote removes its
        segments afterwards.
        """
        if md5 is not None and not _HEX_MD5.match(md5):
            raise exceptions.InvalidObject('%r is not a hex MD5' % (md5,))
        what = self._what('PUT', bucket, key)
        if size > self.MAX_SINGLE_PUT:
            raise exceptions.InvalidObject(
                '%s: %d bytes is more than one PUT may carry' % (what, size))
        expires_at = self._expiry(bucket, key, metadata, expires_at)
        old_segments = self._our_segments(bucket, key)
        data = _Body(size, source=body)
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

    def put_symlink(self, bucket, key, target, target_etag=None,
                    content_type=None, metadata=None, expires_at=None):
        """A Swift symlink to ``target`` (``<container>/<object>`` of the
        remote account); see :meth:`Provider.put_symlink`.
        """
        what = self._what('PUT', bucket, key)
        expires_at = self._expiry(bucket, key, metadata, expires_at)
        old_segments = self._our_segments(bucket, key)
        headers = self._object_headers(content_type, metadata, expires_at)
        headers['X-Symlink-Target'] = urllib.parse.quote(target, safe='/')
        if target_etag:
            headers['X-Symlink-Target-Etag'] = target_etag
        etag = self._put(what, bucket, key, io.BytesIO(b''),
                         content_length=0, headers=headers)
        self._delete_segments(old_segments)
        return etag

    def put_multipart(self, bucket, key, parts, content_type=None,
                      metadata=None, expires_at=None):
        """Store a static large object: its segments, then its manifest.

        :returns: ``md5(binary part MD5s)-N``, as S3 would.
        """
        parts = sorted(parts, key=lambda p: p.number)
        what = self._what('PUT', bucket, key)
        self._check_parts(what, parts)
        seg_container = self.segments_container(bucket)
        seg_prefix = self._segment_prefix(key)
        expires_at = self._expiry(bucket, key, metadata, expires_at)
        old_segments = self._our_segments(bucket, key)
        uploaded = []

        def upload(part):
            name = '%s%08d' % (seg_prefix, part.number)
            etag = self._put_segment(bucket, name, part, expires_at)
            uploaded.append((seg_container, name))
            return {'path': '/%s/%s' % (seg_container, name),
                    'etag': etag, 'size_bytes': part.size}

        try:
            manifest = self._run_parts(parts, upload)
            body = json.dumps(manifest).encode('utf-8')
            self._put(what, bucket, key, io.BytesIO(body),
                      content_length=len(body),
                      query_string='multipart-manifest=put',
                      headers=self._object_headers(content_type, metadata,
                                                   expires_at))
        except BaseException:
            self._delete_segments(uploaded)
            raise
        self._delete_segments(s for s in old_segments if s not in uploaded)
        return multipart_etag([segment['etag'] for segment in manifest])

    def dlo_manifest(self, bucket, prefix):
        """``<segments container>/<prefix>``."""
        return '%s/%s' % (self.segments_container(bucket), prefix)

    def put_dlo(self, bucket, key, prefix, segments, content_type=None,
                metadata=None, expires_at=None):
        """Store a dynamic large object; see :meth:`Provider.put_dlo`.

        ``prefix`` must be in cloudsync's DLO namespace
        (:func:`cloudsync.layout.in_dlo_namespace`). The segments
        container is listed under ``prefix`` once: a segment listed with
        its size and MD5 is not sent again; when its expiry is not the
        manifest's, it gets the manifest's (or none) with a POST. Segments
        are stored before the manifest; objects under ``prefix`` that are
        not segments are removed after it. Replacing a static large object
        cloudsync wrote removes its segments, as :meth:`put_object` does.
        """
        what = self._what('PUT', bucket, key)
        seg_container = self.segments_container(bucket)
        if not layout_mod.in_dlo_namespace(prefix):
            raise exceptions.InvalidObject(
                '%s: the segment prefix %s is not in the DLO namespace'
                % (what, prefix))
        segments = sorted(segments, key=lambda s: s.name)
        for segment in segments:
            if not segment.name.startswith(prefix):
                raise exceptions.InvalidObject(
                    '%s: segment %s is not under the prefix %s'
                    % (what, segment.name, prefix))
            if not _HEX_MD5.match(segment.md5 or ''):
                raise exceptions.InvalidObject(
                    '%s: segment %s: %r is not a hex MD5'
                    % (what, segment.name, segment.md5))
        expires_at = self._expiry(bucket, key, metadata, expires_at)
        old_segments = self._our_segments(bucket, key)
        try:
            listed = {e.key: (e.size, e.etag) for e in self.list_all(
                seg_container, prefix=prefix) if not e.is_prefix}
        except exceptions.TargetNotFound:
            listed = {}
        todo = []
        for number, segment in enumerate(segments, 1):
            reused = listed.get(segment.name) == (segment.size,
                                                  segment.md5.lower())
            todo.append((segment.name, reused, providers.Part(
                number, segment.size, segment.open, md5=segment.md5)))

        def store(item):
            name, reused, part = item
            if not reused or not self._expire_segment(
                    seg_container, name, expires_at):
                self._put_segment(bucket, name, part, expires_at)

        self._run_parts(todo, store)
        # NOTE: metadata's x-object-manifest is replaced by dlo_manifest.
        metadata = {k: v for k, v in (metadata or {}).items()
                    if k != DLO_KEY}
        headers = self._object_headers(
            content_type, metadata, expires_at,
            dlo_manifest=self.dlo_manifest(bucket, prefix))
        self._put(what, bucket, key, io.BytesIO(b''), content_length=0,
                  headers=headers)
        names = set(s.name for s in segments)
        self._delete_segments((seg_container, name) for name in listed
                              if name not in names)
        self._delete_segments(old_segments)
        # NOTE: a DLO's ETag is computed as an SLO's is.
        return slo_etag([s.md5.lower() for s in segments])

    def _dlo_segments(self, bucket, manifest):
        """(container, name) of the segments of a DLO whose manifest
        names ``bucket``'s segments container and a prefix in cloudsync's
        DLO namespace; none otherwise.
        """
        seg_container, _, prefix = (manifest or '').partition('/')
        if seg_container != self.segments_container(bucket) or \
                not layout_mod.in_dlo_namespace(prefix):
            return []
        try:
            return [(seg_container, e.key) for e in self.list_all(
                seg_container, prefix=prefix) if not e.is_prefix]
        except exceptions.TargetNotFound:
            return []

    def delete_dlo_segments(self, bucket, manifest):
        """Delete the objects under ``manifest``'s prefix, when it names
        ``bucket``'s segments container and a prefix in cloudsync's DLO
        namespace; see :meth:`Provider.delete_dlo_segments`.
        """
        segments = self._dlo_segments(bucket, manifest)
        for container, name in segments:
            self._delete_if_there(container, name)
        return len(segments)

    def _post_expiry(self, container, name, expires_at):
        """Give a segment the expiry ``expires_at`` (None: none)."""
        headers = {'Content-Type': 'application/octet-stream'}
        if expires_at is not None:
            headers['X-Delete-At'] = '%d' % int(expires_at)
        with self._connection(self._what('POST', container, name)) as conn:
            conn.post_object(container, name, headers)

    def _expire_segment(self, container, name, expires_at):
        """Give a segment that is there the expiry ``expires_at`` (None:
        none) unless it has it already.

        :returns: False when the segment is not there.
        """
        what = self._what('HEAD', container, name)
        try:
            with self._connection(what) as conn:
                headers, _ = conn.raw('HEAD', container, name)
        except exceptions.NotFound:
            return False
        current = headers.get('x-delete-at')
        if _expiry_changed(float(current) if current else None, expires_at):
            self._post_expiry(container, name, expires_at)
        return True

    def _check_parts(self, what, parts):
        if not parts:
            raise exceptions.InvalidObject('%s: no parts' % what)
        if len(parts) > self.MAX_PARTS:
            raise exceptions.InvalidObject(
                '%s: %d parts, more than the %d segments Swift takes in '
                'one manifest' % (what, len(parts), self.MAX_PARTS))
        for index, part in enumerate(parts, 1):
            if part.number != index:
                raise exceptions.InvalidObject(
                    '%s: parts must be numbered 1 to %d without gaps'
                    % (what, len(parts)))
            if part.md5 is not None and not _HEX_MD5.match(part.md5):
                raise exceptions.InvalidObject(
                    '%s: part %d: %r is not a hex MD5'
                    % (what, part.number, part.md5))
            if part.size > self.MAX_PART_SIZE:
                raise exceptions.InvalidObject(
                    '%s: part %d is %d bytes, more than 5 GiB'
                    % (what, part.number, part.size))

    @staticmethod
    def _segment_prefix(key):
        """Where one upload's segments go: ``<key>/<upload>/``."""
        upload = '%.6f-%s' % (time.time(), uuid.uuid4().hex[:8])
        prefix = '%s/%s/' % (key, upload)
        if len(prefix.encode('utf-8')) + 8 > MAX_OBJECT_NAME_LENGTH:
            # NOTE: keeps the segment names of very long keys within
            # Swift's limit; they stay unique to the key.
            prefix = '%s/%s/' % (_key_hash(key), upload)
        return prefix

    def _put_segment(self, bucket, name, part, expires_at):
        seg_container = self.segments_container(bucket)
        what = self._what('PUT', seg_container, name)
        headers = {'Content-Type': 'application/octet-stream'}
        if expires_at is not None:
            headers['X-Delete-At'] = '%d' % int(expires_at)
        data = _Body(part.size, opener=part.open)
        try:
            etag = self._put(what, seg_container, name, data,
                             content_length=part.size, etag=part.md5,
                             headers=headers)
        finally:
            data.close()
        with self._lock:
            self._segments_seen[seg_container] = (True, time.time())
        if etag != data.md5.hexdigest():
            raise exceptions.ChecksumMismatch(
                '%s: part %d was stored with ETag %s, not the MD5 of the '
                'bytes sent (%s)' % (what, part.number, etag,
                                     data.md5.hexdigest()))
        return etag

    def _run_parts(self, items, fn):
        """``fn(item)`` for every item, a few at once, results in order."""
        return providers.run_parts(
            items, fn, min(self.max_connections, MAX_PART_WORKERS),
            name='cloudsync-swift-part')

    def _may_have_segments(self, bucket):
        """Whether ``bucket``'s segments container exists (or may)."""
        seg_container = self.segments_container(bucket)
        with self._lock:
            seen = self._segments_seen.get(seg_container)
        if seen and (seen[0] or time.time() - seen[1] < self.SEGMENTS_RECHECK):
            return seen[0]
        try:
            self._head_container(seg_container)
            exists = True
        except exceptions.TargetNotFound:
            exists = False
        with self._lock:
            self._segments_seen[seg_container] = (exists, time.time())
        return exists

    def _our_segments(self, bucket, key):
        """The segments cloudsync wrote for the object now at ``key``.

        Only segments in the container's segments container, below the
        object's name (or its hash), count: others may be someone else's.
        """
        if not self._may_have_segments(bucket):
            return []
        what = self._what('HEAD', bucket, key)
        try:
            with self._connection(what) as conn:
                headers, _ = conn.raw('HEAD', bucket, key,
                                      query_string=SYMLINK_GET)
                if not _true(headers.get('x-static-large-object')):
                    return []
                segments = self._manifest(conn, bucket, key)
        except (exceptions.NotFound, _ManifestChanged):
            return []
        seg_container = self.segments_container(bucket)
        prefixes = (key + '/', _key_hash(key) + '/')
        ours = []
        for segment in segments:
            container, _, name = segment.get('name', '').lstrip(
                '/').partition('/')
            if container == seg_container and name.startswith(prefixes):
                ours.append((container, name))
        return ours

    def _delete_segments(self, segments):
        for container, name in segments:
            self._delete_quietly(container, name)

    def _delete_if_there(self, container, name):
        """DELETE an object; one already gone is not an error."""
        what = self._what('DELETE', container, name)
        try:
            with self._connection(what) as conn:
                conn.raw('DELETE', container, name)
        except exceptions.NotFound:
            pass

    def _delete_quietly(self, container, name):
        try:
            self._delete_if_there(container, name)
        except exceptions.RemoteError as exc:
            LOG.warning('%s: could not remove it: %s',
                        self._what('DELETE', container, name), exc)

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
        if info.parts_count and _expiry_changed(info.expires_at, expiry):
            self._expire_segments(bucket, key, expiry)
        if info.dlo_manifest and _expiry_changed(info.expires_at, expiry):
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

    def _expire_segments(self, bucket, key, expires_at):
        """Give the segments cloudsync wrote for ``key`` a new expiry."""
        for container, name in self._our_segments(bucket, key):
            self._post_expiry(container, name, expires_at)

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

    def _is_link(self, bucket, key):
        """Whether the object at ``key`` is a symlink.

        NOTE: Swift's SLO middleware reads the manifest of a
        ``?multipart-manifest=delete`` through the symlink middleware: a
        link to a large object would lose its target's segments.
        """
        what = self._what('HEAD', bucket, key)
        try:
            with self._connection(what) as conn:
                headers, _ = conn.raw('HEAD', bucket, key,
                                      query_string=SYMLINK_GET)
        except exceptions.NotFound:
            return False
        return 'x-symlink-target' in headers

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

    # -- expiry ------------------------------------------------------------

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

    # -- containers --------------------------------------------------------

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
                    if k.lower().startswith(CONTAINER_META) or
                    (acl and k.lower() in ACL_HEADERS)}

        wanted = selected(headers.items())
        have = selected(self._head_container(bucket).items())
        post = {key.title(): value for key, value in wanted.items()
                if have.get(key) != value}
        for key in set(have) - set(wanted):
            if key.startswith(CONTAINER_META):
                post['X-Remove-Container-Meta-' +
                     key[len(CONTAINER_META):].title()] = 'x'
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


def _expiry_changed(old, new):
    """Whether two ``X-Delete-At`` values (or None) differ."""
    if old is None or new is None:
        return old is not new
    return int(old) != int(new)


def _key_hash(key):
    return hashlib.sha256(key.encode('utf-8')).hexdigest()
