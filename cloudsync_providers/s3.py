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
"""The ``s3`` provider: Amazon S3, and any store that speaks its API.

Configuration::

    [remote:aws]
    provider = s3
    # endpoint = https://s3.example.com    # unset for AWS S3
    access_key = AKIA...
    secret_key = ...
    region = eu-west-1
    server_side_encryption = AES256

How it talks to the store:

* One botocore client per provider instance. ``max_connections`` requests
  may be in flight at once (the daemon's ``workers`` rows), and each may be
  a multipart upload or copy sending up to ``min(max_connections, 8)``
  parts at once, so the connection pool holds ``max_connections`` times
  that many connections (opened only when needed). botocore's own
  retries are off; this module retries throttling (``SlowDown``, 429,
  ...), 5xx answers and lost connections itself, at most
  ``max_retries`` times, with exponential back-off and full jitter
  (``retry_backoff`` doubling up to ``retry_backoff_max``). A retried
  upload re-sends its body from the start: bytes and seekable streams are
  rewound, a :class:`~cloudsync.providers.Part` is re-opened; a stream
  that can do neither is not retried once any of it was sent.
* Bodies are streamed. Content-MD5 (from the caller's MD5) makes the store
  verify what it received, and the payload is not SHA-256 signed
  (``UNSIGNED-PAYLOAD``), so a body is read exactly once and never held in
  memory. botocore's newer default checksums are only sent when an
  operation requires one, which is what S3 clones understand.
* Listings ask for URL-encoded names and decode them exactly once, so keys
  with ``%xx``, ``+``, spaces and any unicode come back as they were
  written (swift-s3-sync decoded them twice).
* Metadata is replaced by copying an object onto itself. A multipart
  object is copied part by part along its own part boundaries, so that
  its ``hex-N`` ETag stays the same (one CopyObject would give it the MD5
  of its whole data); so is an object larger than 5 GiB, which one
  CopyObject cannot copy (see :meth:`S3Provider.update_metadata`).
* A write whose answer says the object is encrypted with KMS
  (``aws:kms``, ``aws:kms:dsse``) or a customer key has an ETag that is
  not its MD5: the store verified Content-MD5, and the ETag is not taken
  for a checksum mismatch, also when the encryption is the bucket's
  default rather than ``server_side_encryption``.
* Errors become :mod:`cloudsync.exceptions`; their messages name the
  operation, the bucket and key, the status and the S3 error code, and
  never a secret.
"""

import base64
import binascii
import datetime
import email.utils
import hashlib
import io
import os
import random
import re
import threading
import time
import urllib.parse

import boto3
from botocore import config as boto_config
from botocore import exceptions as boto_exc
from botocore import handlers as boto_handlers
from botocore import utils as botocore_utils
from oslo_config import cfg
from oslo_log import log as logging

from cloudsync import exceptions
from cloudsync import providers

LOG = logging.getLogger(__name__)

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

#: S3's multipart limits
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10000
#: the part size used when a stream is split and none is configured
DEFAULT_PART_SIZE = 64 * MiB
#: the largest object a single CopyObject may copy
MAX_COPY_SIZE = 5 * GiB
#: the size of the chunks a GET yields
CHUNK_SIZE = 64 * KiB
#: parts of one multipart upload sent at once (also bounded by the pool)
MAX_PART_WORKERS = 8

AWS_REGION = 'us-east-1'
AWS_LOCATION = 'AWS S3'

#: S3 error codes that mean "slow down" or "try again"
RETRYABLE_CODES = frozenset([
    'SlowDown', 'Throttling', 'ThrottlingException', 'ThrottledException',
    'RequestThrottled', 'RequestThrottledException', 'TooManyRequests',
    'TooManyRequestsException', 'RequestLimitExceeded',
    'BandwidthLimitExceeded', 'RequestTimeout', 'InternalError',
    'ServiceUnavailable', 'OperationAborted', 'PriorRequestNotComplete',
])
RETRYABLE_STATUS = frozenset([429, 500, 502, 503, 504])
#: error codes of refused credentials (any status)
CREDENTIAL_CODES = frozenset([
    'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken',
    'ExpiredToken', 'TokenRefreshRequired', 'InvalidSecurity',
    'AuthorizationHeaderMalformed', 'InvalidClientTokenId',
    'MissingSecurityHeader', 'NotSignedUp', 'AccountProblem',
    'InvalidArgument.AccessKey',
])
#: error codes of refused access with valid credentials
ACCESS_CODES = frozenset(['AccessDenied', 'AllAccessDisabled'])
#: error codes of a body the store cannot take
INVALID_OBJECT_CODES = frozenset([
    'EntityTooLarge', 'EntityTooSmall', 'KeyTooLongError',
    'MetadataTooLarge', 'InvalidDigest', 'InvalidObjectState',
    'InvalidPart', 'InvalidPartOrder', 'IncompleteBody',
    'MissingContentLength', 'InvalidStorageClass',
])
CHECKSUM_CODES = frozenset(['BadDigest', 'XAmzContentSHA256Mismatch',
                            'InvalidChecksum'])
NOT_SUPPORTED_CODES = frozenset(['NotImplemented', 'MethodNotAllowed'])
#: botocore errors of a connection lost, refused or timed out
CONNECTION_ERRORS = (
    boto_exc.EndpointConnectionError, boto_exc.ConnectTimeoutError,
    boto_exc.ReadTimeoutError, boto_exc.ConnectionClosedError,
    boto_exc.ProxyConnectionError, boto_exc.ResponseStreamingError,
    boto_exc.IncompleteReadError, boto_exc.HTTPClientError,
    boto_exc.ConnectionError,
)
CREDENTIAL_ERRORS = (boto_exc.NoCredentialsError,
                     boto_exc.PartialCredentialsError,
                     boto_exc.CredentialRetrievalError)

_EXPIRY_DATE = re.compile(r'expiry-date="([^"]+)"')
_HEX_MD5 = re.compile(r'^[0-9a-fA-F]{32}$')
#: ``x-amz-server-side-encryption`` values whose objects' ETags are not the
#: MD5 of their bytes (SSE-KMS, DSSE-KMS)
NON_MD5_ENCRYPTION = frozenset(['aws:kms', 'aws:kms:dsse'])
#: the largest code point; no key under a prefix sorts after prefix + it
_MAX_CHAR = '\U0010ffff'


OPTIONS = [
    cfg.StrOpt('region', default=AWS_REGION,
               help='The region of the bucket. For S3 clones, the region '
                    'the clone expects in signatures (usually us-east-1).'),
    cfg.StrOpt('addressing_style', default='auto',
               choices=[('auto', 'virtual-hosted when the bucket name '
                                 'allows it, else path'),
                        ('path', 'https://endpoint/bucket/key, what most '
                                 'S3 clones need'),
                        ('virtual', 'https://bucket.endpoint/key')],
               help='How the bucket appears in request URLs.'),
    cfg.StrOpt('signature_version', default='s3v4',
               choices=[('s3v4', 'AWS Signature Version 4'),
                        ('s3', 'AWS Signature Version 2, for old S3 '
                               'clones')],
               help='How requests are signed.'),
    cfg.StrOpt('server_side_encryption',
               choices=[('AES256', 'keys managed by S3 (SSE-S3)'),
                        ('aws:kms', 'keys managed by AWS KMS (SSE-KMS); '
                                    'the ETag is then not the MD5 of the '
                                    'data, so only Content-MD5 verifies '
                                    'uploads')],
               help='Have the store encrypt every object cloudsync writes. '
                    'Unset: no encryption is asked for (the bucket\'s '
                    'default applies).'),
    cfg.StrOpt('sse_kms_key_id',
               help='With server_side_encryption = aws:kms: the KMS key to '
                    'use, instead of the account\'s default S3 key.'),
    cfg.StrOpt('storage_class',
               help='The storage class of the objects cloudsync writes '
                    '(STANDARD, STANDARD_IA, INTELLIGENT_TIERING, ...). '
                    'Unset: the store\'s default. It is also given when '
                    'metadata is updated in place, which would otherwise '
                    'reset it.'),
    cfg.StrOpt('session_token', secret=True,
               help='A session token for temporary credentials (AWS STS). '
                    'Never logged.'),
    cfg.IntOpt('max_retries', default=5, min=0,
               help='How many times a request that failed for a reason '
                    'that may pass (throttling, 5xx, lost connection) is '
                    'sent again before giving up.'),
    cfg.FloatOpt('retry_backoff', default=0.5, min=0,
                 help='Seconds of the first back-off before a retry; it '
                      'doubles on each retry, and each wait is a random '
                      'time up to that ("full jitter").'),
    cfg.FloatOpt('retry_backoff_max', default=20.0, min=0,
                 help='The longest back-off before one retry, in seconds.'),
    cfg.FloatOpt('connect_timeout', default=10.0, min=0,
                 help='Seconds to wait for a connection to the store.'),
    cfg.FloatOpt('read_timeout', default=60.0, min=0,
                 help='Seconds to wait for the store to answer or to send '
                      'the next bytes of a body.'),
    cfg.IntOpt('part_size', default=DEFAULT_PART_SIZE,
               help='Bytes per part when an object too large for one PUT '
                    'is split into a multipart upload: from 5 MiB '
                    '(5242880) to 5 GiB (5368709120). It grows by itself '
                    'when an object would need more than 10,000 parts.'),
    cfg.BoolOpt('verify_ssl', default=True,
                help='Verify the TLS certificate of an https endpoint.'),
    cfg.StrOpt('ca_bundle',
               help='A file of CA certificates to verify the endpoint '
                    'with, instead of the system\'s.'),
    cfg.IntOpt('list_version', default=2, choices=[1, 2],
               help='The ListObjects API version: 2, or 1 for old S3 '
                    'clones that do not implement ListObjectsV2.'),
]


_session_lock = threading.Lock()
_session = None


def _new_client(*args, **kwargs):
    """A botocore client from one shared session.

    Making a session loads botocore's data files; sharing one makes new
    providers cheap. Sessions are not thread-safe, hence the lock; the
    clients they make are.
    """
    global _session
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
            # NOTE: botocore parses every listing timestamp with dateutil,
            # which takes about half the time of a listing page.
            _session._session.get_component(
                'response_parser_factory').set_parser_defaults(
                    timestamp_parser=_parse_timestamp)
        return _session.client(*args, **kwargs)


def _parse_timestamp(value):
    """botocore's timestamp parser, with a fast path for ISO 8601."""
    if isinstance(value, str) and value[:4].isdigit() and 'T' in value:
        try:
            parsed = datetime.datetime.fromisoformat(
                value.replace('Z', '+00:00'))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.timezone.utc)
            return parsed
    return botocore_utils.parse_timestamp(value)


def plan_parts(size, part_size=DEFAULT_PART_SIZE):
    """Split ``size`` bytes into S3 multipart parts.

    Each part is within 5 MiB (the last excepted) and 5 GiB, and there are
    at most 10,000 of them: when ``size / part_size`` would need more parts,
    the part size grows (to a whole number of MiB).

    :returns: a list of ``(offset, length)``, part 1 first. An empty object
        is one empty part.
    :raises InvalidObject: the object is larger than 10,000 parts of 5 GiB.
    """
    if size < 0:
        raise ValueError('size must not be negative, not %r' % size)
    part_size = max(MIN_PART_SIZE, min(int(part_size), MAX_PART_SIZE))
    if size > part_size * MAX_PARTS:
        part_size = -(-size // MAX_PARTS)
        part_size = -(-part_size // MiB) * MiB
        if part_size > MAX_PART_SIZE:
            raise exceptions.InvalidObject(
                'an object of %d bytes needs more than %d parts of 5 GiB'
                % (size, MAX_PARTS))
    if size == 0:
        return [(0, 0)]
    return [(offset, min(part_size, size - offset))
            for offset in range(0, size, part_size)]


def multipart_etag(md5_hex_list):
    """The ETag S3 gives a multipart object made of parts with these MD5s.

    ``md5(concatenation of the binary MD5s)`` in hex, ``-`` and the number
    of parts.
    """
    digest = hashlib.md5(usedforsecurity=False)
    for md5_hex in md5_hex_list:
        digest.update(binascii.unhexlify(unquote_etag(md5_hex)))
    return '%s-%d' % (digest.hexdigest(), len(md5_hex_list))


def unquote_etag(etag):
    """An ETag without its quotes (and without a weak ``W/`` marker)."""
    if not etag:
        return ''
    etag = etag.strip()
    if etag.startswith('W/'):
        etag = etag[2:]
    return etag.strip('"')


def content_md5(md5_hex):
    """The Content-MD5 header value (base64 of the binary MD5)."""
    return base64.b64encode(binascii.unhexlify(md5_hex)).decode('ascii')


def _api_name(op):
    return ''.join(word.title() for word in op.split('_'))


def _timestamp(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    if value is None:
        return 0.0
    return float(value)


def _http_date(value):
    """A datetime for botocore from an HTTP date, epoch or datetime."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise exceptions.InvalidObject('%r is not an HTTP date' % (value,))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


def _parse_expiration(value):
    """``expires_at`` from an ``x-amz-expiration`` header value."""
    if not value:
        return None
    match = _EXPIRY_DATE.search(value)
    if not match:
        return None
    try:
        return email.utils.parsedate_to_datetime(match.group(1)).timestamp()
    except (TypeError, ValueError):
        return None


def _range_total(content_range):
    """The total size from ``bytes 0-9/100``, or None."""
    if not content_range or '/' not in content_range:
        return None
    total = content_range.rsplit('/', 1)[1].strip()
    return int(total) if total.isdigit() else None


class _BodyError(Exception):
    """The caller's stream did not yield the bytes it promised."""


class _SizedReader:
    """Feeds exactly ``size`` bytes of a stream to botocore, read by read.

    It never reads ahead, so a body is never held in memory; it fails the
    request when the stream ends early or holds more than ``size`` bytes.
    """

    def __init__(self, stream, size):
        self._stream = stream
        self._size = size
        self._remaining = size
        self.consumed = 0
        self._checked_end = False

    def read(self, n=-1):
        if self._remaining <= 0:
            if not self._checked_end:
                self._checked_end = True
                if self._stream.read(1):
                    raise _BodyError('the body holds more than the %d '
                                     'bytes announced' % self._size)
            return b''
        want = self._remaining if n is None or n < 0 else min(
            n, self._remaining)
        data = self._stream.read(want)
        if not data:
            raise _BodyError('the body ended after %d of %d bytes'
                             % (self.consumed, self._size))
        if len(data) > want:
            raise _BodyError('the body stream returned %d bytes when asked '
                             'for %d' % (len(data), want))
        if not isinstance(data, bytes):
            data = bytes(data)
        self.consumed += len(data)
        self._remaining -= len(data)
        return data


class _Body:
    """A request body that can be sent again on a retry.

    ``source`` is ``bytes``, or a stream with ``read(n)``; ``opener`` is a
    callable that returns a fresh stream (a :class:`Part`'s ``open``).
    """

    def __init__(self, size, source=None, opener=None):
        self.size = size
        self._opener = opener
        self._opened = []
        self._reader = None
        self._start = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            if len(source) != size:
                raise exceptions.InvalidObject(
                    'the body is %d bytes, not the %d announced'
                    % (len(source), size))
            self._bytes = source
            self._stream = None
        else:
            self._bytes = None
            self._stream = source
            if source is not None and self._seekable(source):
                self._start = source.tell()

    @staticmethod
    def _seekable(stream):
        try:
            return bool(stream.seekable())
        except AttributeError:
            return hasattr(stream, 'seek') and hasattr(stream, 'tell')
        except (OSError, ValueError):
            return False

    def open(self):
        """A reader for the next attempt.

        :raises _BodyError: the stream was partly sent and cannot be sent
            again.
        """
        if self._bytes is not None:
            stream = io.BytesIO(self._bytes)
        elif self._opener is not None:
            stream = self._opener()
            self._opened.append(stream)
        elif self._reader is None or self._reader.consumed == 0:
            stream = self._stream
        elif self._start is not None:
            self._stream.seek(self._start)
            stream = self._stream
        else:
            raise _BodyError('the body stream cannot be rewound to send it '
                             'again')
        self._reader = _SizedReader(stream, self.size)
        return self._reader

    def close(self):
        """Close the streams this body opened (never the caller's)."""
        while self._opened:
            stream = self._opened.pop()
            close = getattr(stream, 'close', None)
            if close:
                try:
                    close()
                except Exception:  # noqa: BLE001 - best effort
                    LOG.debug('Closing a part stream failed', exc_info=True)


class S3Provider(providers.Provider):
    """Amazon S3, and any store that speaks the S3 API.

    :param sleep: the function that waits between retries (``time.sleep``,
        looked up at call time so that eventlet's green version is used in
        a monkey-patched process); tests pass their own.
    :param client: a ready botocore S3 client (tests); normally it is made
        from the configuration on first use.
    """

    OPTIONS = OPTIONS
    #: ask listings for URL-encoded names (and decode them once); a
    #: subclass for a store that mishandles ``encoding-type=url`` sets it
    #: False, and then botocore does not ask either
    LIST_URL_ENCODING = True
    #: whether the store's ETag of a single PUT (or part) is the MD5 of its
    #: bytes; with SSE-KMS or SSE-C it is not, whatever this says
    ETAG_IS_MD5 = True
    #: the largest source of one CopyObject; larger objects are copied
    #: part by part (tests lower it to exercise that path)
    MAX_COPY_SIZE = MAX_COPY_SIZE
    #: the longest key the store takes, in bytes of UTF-8 (S3 and GCS:
    #: 1,024), key prefix included
    MAX_KEY_BYTES = 1024

    def __init__(self, name, conf, max_connections=10, sleep=None,
                 client=None):
        super().__init__(name, conf, max_connections=max_connections)
        self._sleep = sleep
        self._client = client
        self._lock = threading.Lock()
        self._random = random.Random()
        #: set once a write answer said its ETag is not an MD5 (the
        #: bucket's default encryption is SSE-KMS, or SSE-C)
        self._etag_not_md5_seen = False
        self._secrets = [s for s in (getattr(conf, 'secret_key', None),
                                     getattr(conf, 'session_token', None))
                         if s]

    # -- configuration -----------------------------------------------------

    @classmethod
    def validate_conf(cls, conf):
        problems = []

        def get(name):
            try:
                return getattr(conf, name)
            except (cfg.Error, ValueError, AttributeError):
                # NOTE: an unparsable value is reported by the loader.
                return None

        access_key, secret_key = get('access_key'), get('secret_key')
        if access_key and not secret_key:
            problems.append('secret_key: missing; access_key is set, so '
                            'the secret key that goes with it is needed')
        if secret_key and not access_key:
            problems.append('access_key: missing; secret_key is set, so '
                            'the access key that goes with it is needed')
        if get('session_token') and not access_key:
            problems.append('session_token: needs access_key and '
                            'secret_key')
        part_size = get('part_size')
        if part_size is not None and not (
                MIN_PART_SIZE <= part_size <= MAX_PART_SIZE):
            problems.append(
                'part_size: %d is outside what S3 accepts, 5 MiB (%d) to '
                '5 GiB (%d)' % (part_size, MIN_PART_SIZE, MAX_PART_SIZE))
        backoff, backoff_max = get('retry_backoff'), get('retry_backoff_max')
        if (backoff is not None and backoff_max is not None and
                backoff_max < backoff):
            problems.append('retry_backoff_max: %s is less than '
                            'retry_backoff (%s)' % (backoff_max, backoff))
        ca_bundle = get('ca_bundle')
        if ca_bundle and not os.path.isfile(ca_bundle):
            problems.append('ca_bundle: %s is not a file' % ca_bundle)
        if get('sse_kms_key_id') and get('server_side_encryption') != \
                'aws:kms':
            problems.append('sse_kms_key_id: only used with '
                            'server_side_encryption = aws:kms')
        return problems

    def location(self, bucket):
        return '%s;%s' % (self.conf.endpoint or AWS_LOCATION, bucket)

    def part_workers(self):
        """How many parts of one multipart upload or copy go at once."""
        return max(1, min(self.max_connections, MAX_PART_WORKERS))

    def pool_size(self):
        """The connections the client's pool keeps.

        ``max_connections`` requests at once, each of which may be a
        multipart upload (or copy) with :meth:`part_workers` parts in
        flight: a smaller pool would open and drop connections ("Connection
        pool is full") whenever several large objects are copied at once.
        """
        return max(1, self.max_connections) * self.part_workers()

    def _config_kwargs(self):
        """botocore ``Config`` arguments; subclasses may adjust them."""
        conf = self.conf
        return dict(
            region_name=conf.region or AWS_REGION,
            signature_version=conf.signature_version,
            s3={'addressing_style': conf.addressing_style,
                # NOTE: Content-MD5 protects the body; signing its SHA-256
                # would read every body twice (and need a seekable one).
                'payload_signing_enabled': False},
            # NOTE: this module retries, with its own limits and back-off.
            retries={'total_max_attempts': 1, 'mode': 'standard'},
            max_pool_connections=self.pool_size(),
            connect_timeout=conf.connect_timeout,
            read_timeout=conf.read_timeout,
            # NOTE: S3 clones refuse the CRC checksums botocore would add.
            request_checksum_calculation='when_required',
            response_checksum_validation='when_required',
            # NOTE: the endpoint is what the configuration says, never an
            # AWS_ENDPOINT_URL from the environment.
            ignore_configured_endpoint_urls=True,
            user_agent_extra='cloudsync',
        )

    def _make_client(self):
        conf = self.conf
        # NOTE: None lets botocore use AWS_CA_BUNDLE or its own bundle.
        verify = conf.ca_bundle or (None if conf.verify_ssl else False)
        client = _new_client(
            's3',
            endpoint_url=conf.endpoint or None,
            aws_access_key_id=conf.access_key or None,
            aws_secret_access_key=conf.secret_key or None,
            aws_session_token=conf.session_token or None,
            verify=verify,
            config=boto_config.Config(**self._config_kwargs()))
        if conf.signature_version == 's3':
            client.meta.events.register('before-sign.s3',
                                        _sigv2_bucket_slash)
        if not self.LIST_URL_ENCODING:
            for op in ('ListObjects', 'ListObjectsV2'):
                client.meta.events.unregister(
                    'before-parameter-build.s3.%s' % op,
                    boto_handlers.set_list_objects_encoding_type_url)
        return client

    @property
    def client(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def close(self):
        with self._lock:
            client, self._client = self._client, None
        if client is not None and hasattr(client, 'close'):
            client.close()

    # -- requests, retries and errors -------------------------------------

    def _scrub(self, text):
        text = str(text)
        for secret in self._secrets:
            text = text.replace(secret, '***')
        return text

    def _what(self, op, bucket, key):
        where = bucket if key is None else '%s/%s' % (bucket, key)
        return 'remote %s: %s %s' % (self.name, _api_name(op), where)

    def _translate(self, exc, op, bucket, key=None):
        """The cloudsync exception for a botocore exception."""
        what = self._what(op, bucket, key)
        if isinstance(exc, boto_exc.ClientError):
            return self._translate_client_error(exc, op, what, key is None)
        if isinstance(exc, boto_exc.SSLError):
            return exceptions.Unavailable(self._scrub(
                '%s: TLS failed: %s' % (what, exc)))
        if isinstance(exc, CONNECTION_ERRORS):
            return exceptions.Unavailable(self._scrub(
                '%s: no answer: %s' % (what, exc)))
        if isinstance(exc, CREDENTIAL_ERRORS):
            return exceptions.AuthError(self._scrub(
                '%s: no usable credentials: %s' % (what, exc)))
        if isinstance(exc, boto_exc.ParamValidationError):
            return exceptions.InvalidObject(self._scrub(
                '%s: invalid request: %s' % (what, exc)))
        if isinstance(exc, _BodyError):
            return exceptions.ChecksumMismatch('%s: %s' % (what, exc))
        return exceptions.RemoteError(self._scrub(
            '%s failed: %s: %s' % (what, type(exc).__name__, exc)))

    def _translate_client_error(self, exc, op, what, bucket_level):
        error = exc.response.get('Error', {}) or {}
        meta = exc.response.get('ResponseMetadata', {}) or {}
        code = error.get('Code') or None
        status = meta.get('HTTPStatusCode')
        if status is None and code and code.isdigit():
            status = int(code)
        if code and code.isdigit():
            # NOTE: a HEAD error has no body; botocore uses the status.
            code = None
        message = self._scrub(error.get('Message') or '')[:300]

        def make(cls, text):
            return cls('%s: %s' % (what, text), status=status, code=code)

        detail = message or 'failed'
        if code in CREDENTIAL_CODES or status == 401:
            return make(exceptions.AuthError,
                        'the remote refused the credentials')
        if code == 'RequestTimeTooSkewed':
            return make(exceptions.AuthError,
                        'the remote refused the request time; check this '
                        'host\'s clock')
        if code in ACCESS_CODES:
            return make(exceptions.AuthError, 'the remote denied access')
        if status == 403:
            if code is None:
                return make(exceptions.AuthError,
                            'the remote refused the credentials or the '
                            'access')
            if code == 'InvalidObjectState':
                return make(exceptions.InvalidObject, detail)
            return make(exceptions.AuthError, detail)
        if code == 'NoSuchBucket' or (status == 404 and bucket_level and
                                      code is None):
            return make(exceptions.TargetNotFound,
                        'the bucket does not exist')
        if status == 404 or code in ('NoSuchKey', 'NoSuchUpload'):
            return make(exceptions.NotFound, detail if code else
                        'not found')
        if status == 304:
            return make(exceptions.NotModified, 'not modified')
        if status == 412 or code == 'PreconditionFailed':
            return make(exceptions.PreconditionFailed,
                        'a precondition failed')
        if status == 416 or code == 'InvalidRange':
            return make(exceptions.RangeNotSatisfiable,
                        'the range is not satisfiable')
        if code in CHECKSUM_CODES:
            return make(exceptions.ChecksumMismatch, detail)
        if code in NOT_SUPPORTED_CODES or status in (405, 501):
            return make(exceptions.NotSupported, detail)
        if code in INVALID_OBJECT_CODES:
            return make(exceptions.InvalidObject, detail)
        if code in RETRYABLE_CODES or (status or 0) >= 500 or status == 429:
            return make(exceptions.Unavailable, detail)
        return make(exceptions.RemoteError, detail)

    @staticmethod
    def _should_retry(exc):
        if isinstance(exc, boto_exc.ClientError):
            code = (exc.response.get('Error') or {}).get('Code')
            status = (exc.response.get('ResponseMetadata') or {}).get(
                'HTTPStatusCode')
            return code in RETRYABLE_CODES or status in RETRYABLE_STATUS
        if isinstance(exc, boto_exc.SSLError):
            return False
        return isinstance(exc, CONNECTION_ERRORS)

    def _backoff(self, attempt, exc):
        """Seconds to wait before retry number ``attempt + 1``."""
        cap = min(self.conf.retry_backoff_max,
                  self.conf.retry_backoff * (2 ** attempt))
        delay = self._random.uniform(0, cap)
        if isinstance(exc, boto_exc.ClientError):
            headers = (exc.response.get('ResponseMetadata') or {}).get(
                'HTTPHeaders') or {}
            retry_after = headers.get('retry-after', '')
            if retry_after.isdigit():
                delay = max(delay, min(float(retry_after),
                                       self.conf.retry_backoff_max))
        return delay

    def sleep(self, seconds):
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            # NOTE: looked up now, so that eventlet's green sleep is used
            # when the process is monkey-patched.
            time.sleep(seconds)

    def _call(self, op, bucket, key=None, body=None, **params):
        """Send one S3 request, retrying what may pass.

        :param body: a :class:`_Body`, re-opened for every attempt.
        :returns: botocore's parsed response.
        :raises RemoteError: the translated error of the last attempt.
        """
        method = getattr(self.client, op)
        if key is not None:
            params['Key'] = key
        attempt, failure = 0, None
        while True:
            if body is not None:
                try:
                    params['Body'] = body.open()
                except _BodyError as exc:
                    raise exceptions.Unavailable('%s: %s after: %s' % (
                        self._what(op, bucket, key), exc, failure)) from None
            try:
                return method(Bucket=bucket, **params)
            except (boto_exc.BotoCoreError, boto_exc.ClientError,
                    _BodyError) as exc:
                error = self._translate(exc, op, bucket, key)
                retry = (self._should_retry(exc) and
                         attempt < self.conf.max_retries)
                if not retry:
                    raise error from exc
                delay = self._backoff(attempt, exc)
                failure = error
            attempt += 1
            LOG.info('%s; retry %d of %d in %.2fs', failure, attempt,
                     self.conf.max_retries, delay)
            self.sleep(delay)

    # -- shared pieces -----------------------------------------------------

    def _write_params(self):
        """Parameters every object write carries (encryption, class)."""
        params = {}
        sse = self.conf.server_side_encryption
        if sse:
            params['ServerSideEncryption'] = sse
            if sse == 'aws:kms' and self.conf.sse_kms_key_id:
                params['SSEKMSKeyId'] = self.conf.sse_kms_key_id
        if self.conf.storage_class:
            params['StorageClass'] = self.conf.storage_class
        return params

    @property
    def _etag_is_md5(self):
        """Whether the ETags of this remote's writes are MD5s.

        False with ``server_side_encryption = aws:kms``, and once an answer
        showed that the store encrypts with KMS or a customer key anyway
        (a bucket's default encryption), see :meth:`_response_etag_is_md5`.
        """
        return (self.ETAG_IS_MD5 and not self._etag_not_md5_seen and
                self.conf.server_side_encryption not in NON_MD5_ENCRYPTION)

    def _response_etag_is_md5(self, resp):
        """Whether the ETag of this write answer is the MD5 of the bytes.

        Not when the answer says the object is encrypted with KMS
        (``aws:kms``, ``aws:kms:dsse``) or a customer key (SSE-C): the
        store verified the bytes with Content-MD5, and its ETag is then
        something else. Such an answer is remembered, so that callers
        asking :attr:`_etag_is_md5` afterwards (the multipart ETag check)
        know it too.
        """
        sse = (resp.get('ServerSideEncryption') or '').lower()
        if sse in NON_MD5_ENCRYPTION or resp.get('SSECustomerAlgorithm'):
            if not self._etag_not_md5_seen:
                self._etag_not_md5_seen = True
                LOG.info('remote %s: the store encrypts with %s; its ETags '
                         'are not MD5s, uploads are verified with '
                         'Content-MD5 only', self.name,
                         sse or 'a customer key')
            return False
        return self._etag_is_md5

    def _info(self, key, resp):
        size = resp.get('ContentLength', 0)
        total = _range_total(resp.get('ContentRange'))
        if total is not None:
            size = total
        etag = unquote_etag(resp.get('ETag'))
        parts_count = resp.get('PartsCount')
        if parts_count is None and '-' in etag:
            suffix = etag.rsplit('-', 1)[1]
            parts_count = int(suffix) if suffix.isdigit() else None
        return providers.ObjectInfo(
            key=key, size=size, etag=etag,
            last_modified=_timestamp(resp.get('LastModified')),
            content_type=(resp.get('ContentType') or
                          'application/octet-stream'),
            metadata={k.lower(): v for k, v in
                      (resp.get('Metadata') or {}).items()},
            storage_class=resp.get('StorageClass'),
            parts_count=parts_count,
            expires_at=_parse_expiration(resp.get('Expiration')))

    @staticmethod
    def _check_md5(md5):
        if md5 is not None and not _HEX_MD5.match(md5):
            raise exceptions.InvalidObject(
                '%r is not a hex MD5' % (md5,))

    # -- the provider interface --------------------------------------------

    def check_target(self, bucket, create=False):
        try:
            self._call('head_bucket', bucket)
            return
        except exceptions.NotFound:
            if not create:
                raise exceptions.TargetNotFound(
                    'remote %s: bucket %s does not exist' % (
                        self.name, bucket), status=404)
        params = {}
        region = self.conf.region or AWS_REGION
        if region != AWS_REGION:
            params['CreateBucketConfiguration'] = {
                'LocationConstraint': region}
        try:
            self._call('create_bucket', bucket, **params)
        except exceptions.RemoteError as exc:
            if exc.code != 'BucketAlreadyOwnedByYou':
                raise
        LOG.info('remote %s: created bucket %s', self.name, bucket)

    def check_key(self, bucket, key):
        """Raise :class:`~cloudsync.exceptions.InvalidObject` when the
        store cannot hold an object under ``key``: longer than
        :attr:`MAX_KEY_BYTES` bytes of UTF-8, or (on clones that say so)
        a name it refuses. Costs no request: the daemon asks before it
        reads anything.
        """
        size = len(key.encode('utf-8', 'surrogatepass'))
        if size > self.MAX_KEY_BYTES:
            # NOTE(cloudsync): the key is not repeated: the caller names
            # the object, and a key this long would fill the message.
            raise exceptions.InvalidObject(
                'remote %s: bucket %s: the key is %d bytes long (UTF-8), '
                'more than the %d bytes this store takes (the key prefix '
                'of the layout included); the object is not copied' % (
                    self.name, bucket, size, self.MAX_KEY_BYTES))
        refuse = getattr(self, '_refuse_name', None)
        if refuse is not None:
            refuse(bucket, key)

    def put_object(self, bucket, key, body, size, content_type=None,
                   metadata=None, md5=None, expires_at=None):
        """Store one object; see :meth:`Provider.put_object`.

        The body is streamed once per attempt and verified by the store
        with Content-MD5 when ``md5`` is given. S3 has no per-object
        expiry: ``expires_at`` is ignored (cloudsync keeps the Swift
        ``X-Delete-At`` in the metadata).
        """
        self._check_md5(md5)
        if size > self.MAX_SINGLE_PUT:
            raise exceptions.InvalidObject(
                'remote %s: %s/%s: %d bytes is more than one PUT may carry; '
                'use a multipart upload' % (self.name, bucket, key, size))
        params = dict(ContentLength=size, Metadata=dict(metadata or {}))
        params.update(self._write_params())
        if content_type:
            params['ContentType'] = content_type
        if md5:
            params['ContentMD5'] = content_md5(md5)
        resp = self._call('put_object', bucket, key,
                          body=_Body(size, source=body), **params)
        etag = unquote_etag(resp.get('ETag'))
        if md5 and etag and etag != md5.lower() and \
                self._response_etag_is_md5(resp):
            # NOTE: a store that does not check Content-MD5 (moto, some
            # clones) kept bytes that are not the object's: remove them
            # rather than leave a corrupt copy behind.
            try:
                self._call('delete_object', bucket, key)
            except exceptions.RemoteError as exc:
                LOG.warning('remote %s: could not remove the corrupt copy '
                            'of %s/%s: %s', self.name, bucket, key, exc)
            raise exceptions.ChecksumMismatch(
                '%s: the remote stored ETag %s, not the MD5 sent (%s)' % (
                    self._what('put_object', bucket, key), etag, md5))
        return etag or (md5 or '').lower()

    def plan_parts(self, size):
        """:func:`plan_parts` with this remote's ``part_size``."""
        return plan_parts(size, self.conf.part_size)

    def _run_parts(self, items, fn):
        """``fn(item)`` for every item, a few at once, results in order."""
        return providers.run_parts(items, fn, self.part_workers(),
                                   name='cloudsync-s3-part')

    def _abort(self, bucket, key, upload_id):
        try:
            self._call('abort_multipart_upload', bucket, key,
                       UploadId=upload_id)
        except exceptions.NotFound:
            pass
        except Exception as exc:  # noqa: BLE001 - the first error matters
            LOG.warning('remote %s: could not abort the multipart upload %s '
                        'of %s/%s: %s', self.name, upload_id, bucket, key,
                        exc)

    def _complete(self, bucket, key, upload_id, etags):
        try:
            resp = self._call(
                'complete_multipart_upload', bucket, key, UploadId=upload_id,
                MultipartUpload={'Parts': [
                    {'PartNumber': number, 'ETag': '"%s"' % etag}
                    for number, etag in enumerate(etags, 1)]})
        except exceptions.NotFound as exc:
            # NOTE: a retried Complete whose first try succeeded finds no
            # upload any more; the object is there.
            if exc.code != 'NoSuchUpload' or not all(
                    _HEX_MD5.match(etag) for etag in etags):
                raise
            info = self.head_object(bucket, key)
            if info.etag != multipart_etag(etags):
                raise
            return info.etag
        self._response_etag_is_md5(resp)
        etag = unquote_etag(resp.get('ETag'))
        if not etag and all(_HEX_MD5.match(e) for e in etags):
            etag = multipart_etag(etags)
        return etag

    def put_multipart(self, bucket, key, parts, content_type=None,
                      metadata=None, expires_at=None):
        """Store one object as a multipart upload; see
        :meth:`Provider.put_multipart`.

        Up to :meth:`part_workers` (``min(max_connections, 8)``) parts are
        sent at once, over a pool sized for that (:meth:`pool_size`); a part
        with an MD5 is verified by the store (Content-MD5) and its ETag
        checked. Any failure, including an interruption, aborts the upload.
        ``expires_at`` is ignored, as in :meth:`put_object`.
        """
        parts = sorted(parts, key=lambda p: p.number)
        self._check_parts(bucket, key, parts)
        params = dict(Metadata=dict(metadata or {}))
        params.update(self._write_params())
        if content_type:
            params['ContentType'] = content_type
        resp = self._call('create_multipart_upload', bucket, key, **params)
        upload_id = resp['UploadId']
        try:
            etags = self._run_parts(
                parts, lambda part: self._put_part(bucket, key, upload_id,
                                                   part))
            return self._complete(bucket, key, upload_id, etags)
        except BaseException:
            self._abort(bucket, key, upload_id)
            raise

    def _check_parts(self, bucket, key, parts):
        what = 'remote %s: %s/%s' % (self.name, bucket, key)
        if not parts:
            raise exceptions.InvalidObject('%s: no parts' % what)
        if len(parts) > MAX_PARTS:
            raise exceptions.InvalidObject('%s: %d parts, more than %d'
                                           % (what, len(parts), MAX_PARTS))
        for index, part in enumerate(parts, 1):
            self._check_md5(part.md5)
            if part.number != index:
                raise exceptions.InvalidObject(
                    '%s: parts must be numbered 1 to %d without gaps'
                    % (what, len(parts)))
            if part.size > MAX_PART_SIZE or (
                    index < len(parts) and part.size < MIN_PART_SIZE):
                raise exceptions.InvalidObject(
                    '%s: part %d is %d bytes; parts must be 5 MiB to '
                    '5 GiB, the last one excepted' % (
                        what, part.number, part.size))

    def _put_part(self, bucket, key, upload_id, part):
        params = dict(UploadId=upload_id, PartNumber=part.number,
                      ContentLength=part.size)
        if part.md5:
            params['ContentMD5'] = content_md5(part.md5)
        body = _Body(part.size, opener=part.open)
        try:
            resp = self._call('upload_part', bucket, key, body=body,
                              **params)
        finally:
            body.close()
        etag = unquote_etag(resp.get('ETag'))
        if part.md5 and etag != part.md5.lower() and \
                self._response_etag_is_md5(resp):
            raise exceptions.ChecksumMismatch(
                '%s: part %d was stored with ETag %s, not the MD5 sent '
                '(%s)' % (self._what('upload_part', bucket, key),
                          part.number, etag, part.md5))
        return etag

    def update_metadata(self, bucket, key, content_type=None, metadata=None,
                        expires_at=providers.KEEP_EXPIRY, info=None):
        """Replace metadata with a copy onto itself; see
        :meth:`Provider.update_metadata`.

        No data leaves the store. The object is read with a HEAD first
        (skipped when the caller passes the :class:`ObjectInfo` it has as
        ``info``), because how it is copied depends on it:

        * a single-PUT object of at most 5 GiB: one CopyObject with the
          REPLACE directive, conditional on its ETag;
        * a multipart object, or one larger than 5 GiB: a multipart copy
          along its own part boundaries (:meth:`_copy_multipart`). A plain
          CopyObject would give a multipart object the MD5 of its whole
          data as ETag, and cloudsync recognises a copied SLO by its
          ``hex-N`` ETag.

        Without ``content_type`` the object's current one is kept. The
        configured encryption and storage class are given again, since a
        copy would otherwise drop them. S3 has no per-object expiry:
        ``expires_at`` is ignored, as in :meth:`put_object` (the Swift
        ``X-Delete-At`` travels in the metadata).

        :returns: the object's ETag after the copy.
        :raises NotFound: the object does not exist.
        :raises PreconditionFailed: it was overwritten meanwhile.
        """
        if info is None:
            info = self.head_object(bucket, key)
        if content_type is None:
            content_type = info.content_type
        if info.is_multipart or info.size > self.MAX_COPY_SIZE:
            return self._copy_multipart(bucket, key, info, content_type,
                                        metadata)
        params = dict(CopySource={'Bucket': bucket, 'Key': key},
                      MetadataDirective='REPLACE',
                      Metadata=dict(metadata or {}),
                      ContentType=content_type)
        if info.etag:
            params['CopySourceIfMatch'] = '"%s"' % info.etag
        params.update(self._write_params())
        resp = self._call('copy_object', bucket, key, **params)
        return unquote_etag(
            (resp.get('CopyObjectResult') or {}).get('ETag')) or info.etag

    def _part_ranges(self, bucket, key, info):
        """The byte ranges of the parts of ``info``'s object.

        For a multipart object, its own parts (one HEAD with
        ``partNumber`` each), so that a copy keeps its ETag; otherwise the
        configured part size.
        """
        if info.parts_count and info.parts_count > 1:
            ranges, offset = [], 0
            for number in range(1, info.parts_count + 1):
                # NOTE: no If-Match here: moto compares it with the part's
                # ETag. The part copies below are conditional instead.
                resp = self._call('head_object', bucket, key,
                                  PartNumber=number)
                length = resp.get('ContentLength', 0)
                ranges.append((offset, length))
                offset += length
            if offset == info.size:
                return ranges
            LOG.warning('remote %s: the parts of %s/%s do not add up to '
                        'its size; copying it in parts of %d bytes',
                        self.name, bucket, key, self.conf.part_size)
        return self.plan_parts(info.size)

    def _copy_multipart(self, bucket, key, info, content_type, metadata):
        """Replace the metadata of an object too large for CopyObject.

        A multipart upload whose parts are copied from the object itself
        (UploadPartCopy, by byte range, conditional on the ETag so that a
        concurrent overwrite fails the copy). When the object was a
        multipart upload, its part boundaries are kept, so the copy has
        the same ETag; an object that was one PUT gets a ``hex-N`` ETag.
        """
        ranges = self._part_ranges(bucket, key, info)
        params = dict(Metadata=dict(metadata or {}))
        params.update(self._write_params())
        if content_type:
            params['ContentType'] = content_type
        resp = self._call('create_multipart_upload', bucket, key, **params)
        upload_id = resp['UploadId']

        def copy(item):
            number, (offset, length) = item
            params = dict(UploadId=upload_id, PartNumber=number,
                          CopySource={'Bucket': bucket, 'Key': key})
            if info.etag:
                params['CopySourceIfMatch'] = '"%s"' % info.etag
            if length:
                params['CopySourceRange'] = 'bytes=%d-%d' % (
                    offset, offset + length - 1)
            resp = self._call('upload_part_copy', bucket, key, **params)
            return unquote_etag(resp['CopyPartResult']['ETag'])

        try:
            etags = self._run_parts(list(enumerate(ranges, 1)), copy)
            etag = self._complete(bucket, key, upload_id, etags)
        except BaseException:
            self._abort(bucket, key, upload_id)
            raise
        if info.is_multipart and etag != info.etag:
            LOG.warning('remote %s: %s/%s changed ETag from %s to %s when '
                        'its metadata was replaced', self.name, bucket, key,
                        info.etag, etag)
        return etag

    def delete_object(self, bucket, key):
        """Delete an object; see :meth:`Provider.delete_object`.

        S3 answers 204 whether or not the key existed, and a HEAD first
        would double the requests of every delete. So this returns True
        unless the store said there was no such object (some S3 clones
        answer 404): True means "deleted, or not known to be missing".

        :raises TargetNotFound: the bucket does not exist.
        """
        try:
            self._call('delete_object', bucket, key)
        except exceptions.TargetNotFound:
            raise
        except exceptions.NotFound:
            return False
        return True

    def head_object(self, bucket, key):
        """See :meth:`Provider.head_object`.

        ``parts_count`` comes from the ``-N`` of a multipart ETag (S3's
        ETag always carries the number of parts), so no ``partNumber``
        request is needed; ``expires_at`` from ``x-amz-expiration`` when a
        lifecycle rule applies.
        """
        return self._info(key, self._call('head_object', bucket, key))

    def get_object(self, bucket, key, range=None, if_match=None,
                   if_none_match=None, if_modified_since=None,
                   if_unmodified_since=None):
        params = {}
        if range:
            params['Range'] = range
        if if_match:
            params['IfMatch'] = if_match
        if if_none_match:
            params['IfNoneMatch'] = if_none_match
        if if_modified_since:
            params['IfModifiedSince'] = _http_date(if_modified_since)
        if if_unmodified_since:
            params['IfUnmodifiedSince'] = _http_date(if_unmodified_since)
        resp = self._call('get_object', bucket, key, **params)
        status = (resp.get('ResponseMetadata') or {}).get(
            'HTTPStatusCode', 200)
        body = resp['Body']
        return providers.ObjectBody(
            self._info(key, resp),
            self._chunks(body, self._what('get_object', bucket, key)),
            status=status, content_range=resp.get('ContentRange'),
            content_length=resp.get('ContentLength'), close=body.close)

    def _chunks(self, body, what):
        try:
            for chunk in body.iter_chunks(CHUNK_SIZE):
                if chunk:
                    yield chunk
        except (boto_exc.BotoCoreError, OSError) as exc:
            body.close()
            raise exceptions.Unavailable(self._scrub(
                '%s: the body was cut short: %s' % (what, exc))) from exc

    def list_objects(self, bucket, prefix='', delimiter=None, marker=None,
                     limit=1000):
        """One page of keys; see :meth:`Provider.list_objects`.

        A ``marker`` that is a common prefix (as the last entry of a
        delimited page is) continues after every key under it, so no
        prefix is listed twice.
        """
        limit = min(int(limit), 1000)
        if limit <= 0:
            return providers.ListingPage(entries=[], truncated=False)
        prefix = prefix or ''
        start = marker or None
        if delimiter and marker and marker.startswith(prefix):
            rest = marker[len(prefix):]
            at = rest.find(delimiter)
            if at >= 0 and at + len(delimiter) == len(rest):
                start = marker + _MAX_CHAR
        params = dict(Prefix=prefix, MaxKeys=limit)
        if self.LIST_URL_ENCODING:
            params['EncodingType'] = 'url'
        if delimiter:
            params['Delimiter'] = delimiter
        if self.conf.list_version == 1:
            op = 'list_objects'
            if start:
                params['Marker'] = start
        else:
            op = 'list_objects_v2'
            if start:
                params['StartAfter'] = start
        resp = self._call(op, bucket, **params)
        decode = self._decoder(resp)
        entries = []
        for item in resp.get('Contents') or ():
            entries.append(providers.ListingEntry(
                key=decode(item['Key']), size=item.get('Size', 0),
                etag=unquote_etag(item.get('ETag')),
                last_modified=_timestamp(item.get('LastModified'))))
        for item in resp.get('CommonPrefixes') or ():
            entries.append(providers.ListingEntry(
                key=decode(item['Prefix']), is_prefix=True))
        entries.sort(key=lambda e: e.key)
        if marker:
            entries = [e for e in entries if e.key > marker]
        truncated = bool(resp.get('IsTruncated'))
        if len(entries) > limit:
            entries, truncated = entries[:limit], True
        next_marker = None
        if truncated:
            if entries:
                next_marker = entries[-1].key
            elif resp.get('NextMarker'):
                next_marker = decode(resp['NextMarker'])
            else:
                truncated = False
        return providers.ListingPage(entries=entries, truncated=truncated,
                                     next_marker=next_marker)

    @staticmethod
    def _decoder(resp):
        # NOTE: decoded exactly once, and only when the store says that it
        # encoded (some clones ignore encoding-type and send raw names).
        if resp.get('EncodingType') == 'url':
            return urllib.parse.unquote_plus
        return lambda name: name

    def list_all(self, bucket, prefix='', delimiter=None, marker=None):
        while True:
            page = self.list_objects(bucket, prefix=prefix,
                                     delimiter=delimiter, marker=marker)
            for entry in page.entries:
                yield entry
            if not page.truncated or not page.next_marker:
                return
            marker = page.next_marker

    def set_expiration(self, bucket, prefix, seconds):
        """Expire objects under ``prefix`` with a bucket lifecycle rule.

        The rule's ID is the prefix (as swift-s3-sync named it; a prefix
        longer than S3's 255-character IDs gets a hashed ID) and it expires
        after ``max(1, round(seconds / 86400))`` days. Other rules are
        never changed. When our rule is already there with those days,
        nothing is written; when it has other days it is replaced.

        :returns: True when the bucket's rules were changed.
        """
        days = max(1, int(seconds / 86400.0 + 0.5))
        rule_id = prefix if len(prefix) <= 255 else 'cloudsync-%s' % (
            hashlib.sha256(prefix.encode('utf-8')).hexdigest())
        try:
            resp = self._call('get_bucket_lifecycle_configuration', bucket)
        except exceptions.RemoteError as exc:
            if exc.code != 'NoSuchLifecycleConfiguration':
                raise
            rules = []
        else:
            rules = list(resp.get('Rules') or [])
            if not rules:
                # NOTE: S3 answers NoSuchLifecycleConfiguration when there
                # are no rules. A 200 without rules comes from a store that
                # ignores ?lifecycle (Swift's s3api lists the bucket).
                raise exceptions.NotSupported(
                    'remote %s: bucket %s: the store does not keep '
                    'lifecycle rules' % (self.name, bucket))
        wanted = {'ID': rule_id, 'Filter': {'Prefix': prefix},
                  'Expiration': {'Days': days}, 'Status': 'Enabled'}
        ours = [r for r in rules if r.get('ID') == rule_id]
        if len(ours) == 1 and _rule_prefix(ours[0]) == prefix and \
                ours[0].get('Status') == 'Enabled' and \
                (ours[0].get('Expiration') or {}).get('Days') == days:
            return False
        for rule in rules:
            if (rule.get('ID') != rule_id and
                    rule.get('Status') == 'Enabled' and
                    rule.get('Expiration') and
                    _rule_prefix(rule) is not None and
                    prefix.startswith(_rule_prefix(rule))):
                LOG.warning('remote %s: lifecycle rule %r of bucket %s '
                            'also expires objects under %s (%s); the '
                            'earliest expiry wins', self.name,
                            rule.get('ID'), bucket, prefix,
                            rule.get('Expiration'))
        rules = [r for r in rules if r.get('ID') != rule_id] + [wanted]
        try:
            self._call('put_bucket_lifecycle_configuration', bucket,
                       LifecycleConfiguration={'Rules': rules})
        except exceptions.RemoteError as exc:
            if exc.code == 'MalformedXML':
                # NOTE: what a store answers that takes the PUT for
                # something else (Swift's s3api: a bucket creation).
                raise exceptions.NotSupported(
                    'remote %s: bucket %s: the store does not take '
                    'lifecycle rules (%s)' % (self.name, bucket, exc),
                    status=exc.status, code=exc.code) from exc
            raise
        LOG.info('remote %s: bucket %s expires %s after %d days',
                 self.name, bucket, prefix, days)
        return True


def _sigv2_bucket_slash(request, **kwargs):
    """End the path of a path-style bucket request with a slash.

    Signature Version 2 signs a bucket request as ``/bucket/`` whatever
    the URL; Swift's s3api (and other clones) sign the path as sent,
    ``/bucket``, and refuse the signature. With the slash both agree, and
    S3 takes either URL.
    """
    params = request.context.get('input_params') or {}
    bucket = params.get('Bucket')
    if not bucket or 'Key' in params:
        return
    parts = urllib.parse.urlsplit(request.url)
    if parts.path.endswith('/' + bucket):
        request.url = urllib.parse.urlunsplit(
            parts._replace(path=parts.path + '/'))


def _rule_prefix(rule):
    """The key prefix a lifecycle rule applies to.

    None for a rule that filters on something else (tags, sizes).
    """
    filt = rule.get('Filter')
    if filt is not None:
        if 'Prefix' in filt:
            return filt['Prefix']
        if filt.get('And'):
            if set(filt['And']) - {'Prefix'}:
                return None
            return filt['And'].get('Prefix', '')
        return '' if not filt else None
    return rule.get('Prefix', '')
