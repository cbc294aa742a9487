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
"""Connections to the remote Swift cluster: authentication, the connection
pool, raw requests and the translation of errors."""

import contextlib
import datetime
import email.utils
import re
import threading
import urllib.parse

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1.identity import v3 as ks_v3
from keystoneauth1 import session as ks_session
from oslo_config import cfg
import requests
from swiftclient import client as swift_client
from swiftclient import exceptions as swift_exc

from cloudsync import exceptions
from cloudsync import metadata as metadata_mod
from cloudsync_providers import common
from cloudsync_providers.swift import body as swift_body


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


class SwiftConnection:
    """The connections of a :class:`SwiftProvider` and how their errors
    become :mod:`cloudsync.exceptions`.
    """

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
        except (exceptions.RemoteError, swift_body._ManifestChanged):
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

    def _scrub(self, text):
        return common.scrub(text, (self.conf.secret_key, self._auth.token))

    def _what(self, method, container, key=None):
        where = container if key is None else '%s/%s' % (container, key)
        return 'remote %s: %s %s' % (self.name, method, where)

    def _translate(self, exc, what, container_level=False):
        """The cloudsync exception for a swiftclient or transport error."""
        if isinstance(exc, exceptions.RemoteError):
            return exc
        if isinstance(exc, swift_body._BodyError):
            return exceptions.ChecksumMismatch('%s: %s' % (what, exc))
        if isinstance(exc, swift_body._NotRewindable):
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
