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
"""The S3 client: botocore set-up, error translation and retries."""

import datetime
import email.utils
import re
import threading
import time
import urllib.parse

from botocore import exceptions as boto_exc
from oslo_config import cfg
from oslo_log import log as logging

from cloudsync import exceptions
from cloudsync_providers import common
from cloudsync_providers.s3 import body as s3_body

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
CHUNK_SIZE = 1 * MiB
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
#: error codes of a conditional write refused: S3 answers 409
#: ConditionalRequestConflict when another write of the key raced it
PRECONDITION_CODES = frozenset(['PreconditionFailed',
                                'ConditionalRequestConflict'])
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

    NOTE: botocore (most of it: its configuration, handlers, session) is
    imported here, when the first client is made, not with this module:
    a daemon whose pass sends nothing to S3 never pays for it. boto3 is
    not used: its session only adds resources and transfer methods that
    cloudsync does not use, and the import of s3transfer.
    """
    global _session
    with _session_lock:
        if _session is None:
            from botocore import session as boto_session
            session = boto_session.Session()
            # NOTE: botocore parses every listing timestamp with dateutil,
            # which takes about half the time of a listing page.
            session.get_component(
                'response_parser_factory').set_parser_defaults(
                    timestamp_parser=_parse_timestamp)
            _session = session
        return _session.create_client(*args, **kwargs)


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
    from botocore import utils as botocore_utils
    return botocore_utils.parse_timestamp(value)


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


def _api_name(op):
    return ''.join(word.title() for word in op.split('_'))


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


class S3Client:
    """The botocore client of an :class:`S3Provider`, and how its requests
    are sent, retried and their errors translated.
    """

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
        from botocore import config as boto_config
        from botocore import handlers as boto_handlers
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
        return common.scrub(text, self._secrets)

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
        if isinstance(exc, s3_body._BodyError):
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
        if status == 412 or code in PRECONDITION_CODES:
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
                except s3_body._BodyError as exc:
                    raise exceptions.Unavailable('%s: %s after: %s' % (
                        self._what(op, bucket, key), exc, failure)) from None
            try:
                return method(Bucket=bucket, **params)
            except (boto_exc.BotoCoreError, boto_exc.ClientError,
                    s3_body._BodyError) as exc:
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
