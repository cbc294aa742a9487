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

The package: :mod:`~cloudsync_providers.s3.client` (botocore, errors,
retries), :mod:`~cloudsync_providers.s3.body` (bodies sent again on a
retry), :mod:`~cloudsync_providers.s3.multipart` (multipart uploads and
copies), :mod:`~cloudsync_providers.s3.listing` (listings, expiration
rules) and :mod:`~cloudsync_providers.s3.provider`.
"""

import os
import random
import threading

from botocore import exceptions as boto_exc
from oslo_log import log as logging

from cloudsync import exceptions
from cloudsync import providers
from cloudsync_providers import common
from cloudsync_providers.s3 import body as s3_body
from cloudsync_providers.s3 import client as s3_client
from cloudsync_providers.s3 import cold as s3_cold
from cloudsync_providers.s3 import conditions as s3_conditions
from cloudsync_providers.s3 import listing as s3_listing
from cloudsync_providers.s3 import multipart as s3_multipart

LOG = logging.getLogger(__name__)

#: the response fields of :data:`cloudsync.providers.CONTENT_HEADERS`
_CONTENT_FIELDS = (('content-disposition', 'ContentDisposition'),
                   ('content-encoding', 'ContentEncoding'),
                   ('content-language', 'ContentLanguage'),
                   ('cache-control', 'CacheControl'),
                   ('expires', 'ExpiresString'))


def _content_headers(resp):
    """The content headers of a HEAD or GET answer, as sent (botocore
    parses ``Expires`` into a date).
    """
    sent = (resp.get('ResponseMetadata') or {}).get('HTTPHeaders') or {}
    found = {}
    for name, field in _CONTENT_FIELDS:
        value = sent.get(name) or resp.get(field)
        if value and isinstance(value, str):
            found[name] = value
    return found


class S3Provider(s3_client.S3Client, s3_multipart.S3Multipart,
                 s3_listing.S3Listing, s3_cold.S3ColdRestore,
                 s3_conditions.S3Conditions, providers.Provider):
    """Amazon S3, and any store that speaks the S3 API.

    :param sleep: the function that waits between retries (``time.sleep``,
        looked up at call time so that eventlet's green version is used in
        a monkey-patched process); tests pass their own.
    :param client: a ready botocore S3 client (tests); normally it is made
        from the configuration on first use.
    """

    OPTIONS = s3_client.OPTIONS
    #: ask listings for URL-encoded names (and decode them once); a
    #: subclass for a store that mishandles ``encoding-type=url`` sets it
    #: False, and then botocore does not ask either
    LIST_URL_ENCODING = True
    #: whether the store's ETag of a single PUT (or part) is the MD5 of its
    #: bytes; with SSE-KMS or SSE-C it is not, whatever this says
    ETAG_IS_MD5 = True
    #: the largest source of one CopyObject; larger objects are copied
    #: part by part (tests lower it to exercise that path)
    MAX_COPY_SIZE = s3_client.MAX_COPY_SIZE
    #: the longest key the store takes, in bytes of UTF-8 (S3 and GCS:
    #: 1,024), key prefix included
    MAX_KEY_BYTES = 1024
    #: the argument is taken (and ignored: S3 has no per-object expiry)
    UPDATE_METADATA_TAKES_EXPIRY = True
    #: S3 honours If-None-Match on PUT; clones and GCS say for themselves
    PUT_CREATE_ONLY = True
    #: S3 honours If-Match on PUT (moto too); clones and GCS say for
    #: themselves
    PUT_IF_MATCH = True
    #: S3's DeleteObjects; clones and GCS say for themselves
    BULK_DELETE = True
    #: S3 honours If-Match on DeleteObject (since 2024; moto too); clones
    #: and GCS say for themselves
    DELETE_IF_MATCH = True
    UPDATE_METADATA_TAKES_INFO = True

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

        get = common.conf_getter(conf)
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
        low, high = s3_client.MIN_PART_SIZE, s3_client.MAX_PART_SIZE
        if part_size is not None and not low <= part_size <= high:
            problems.append(
                'part_size: %d is outside what S3 accepts, 5 MiB (%d) to '
                '5 GiB (%d)' % (part_size, low, high))
        problems += common.check_retry_options(get)
        ca_bundle = get('ca_bundle')
        if ca_bundle and not os.path.isfile(ca_bundle):
            problems.append('ca_bundle: %s is not a file' % ca_bundle)
        if get('sse_kms_key_id') and get('server_side_encryption') != \
                'aws:kms':
            problems.append('sse_kms_key_id: only used with '
                            'server_side_encryption = aws:kms')
        return problems

    def location(self, bucket):
        return '%s;%s' % (self.conf.endpoint or s3_client.AWS_LOCATION, bucket)

    # -- shared pieces -----------------------------------------------------

    def _write_params(self):
        """Parameters every object write carries (encryption, class).

        GCS and the clones have no server-side encryption options: their
        configurations answer None for them.
        """
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
                self.conf.server_side_encryption not in
                s3_client.NON_MD5_ENCRYPTION)

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
        if (sse in s3_client.NON_MD5_ENCRYPTION or
                resp.get('SSECustomerAlgorithm')):
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
        total = s3_client._range_total(resp.get('ContentRange'))
        if total is not None:
            size = total
        etag = common.unquote_etag(resp.get('ETag'))
        parts_count = resp.get('PartsCount')
        if parts_count is None and '-' in etag:
            suffix = etag.rsplit('-', 1)[1]
            parts_count = int(suffix) if suffix.isdigit() else None
        return providers.ObjectInfo(
            key=key, size=size, etag=etag,
            last_modified=s3_client._timestamp(resp.get('LastModified')),
            content_type=(resp.get('ContentType') or
                          'application/octet-stream'),
            metadata={k.lower(): v for k, v in
                      (resp.get('Metadata') or {}).items()},
            storage_class=resp.get('StorageClass'), parts_count=parts_count,
            expires_at=s3_client._parse_expiration(resp.get('Expiration')),
            content_headers=_content_headers(resp))

    @staticmethod
    def _check_md5(md5):
        if md5 is not None and not common.HEX_MD5.match(md5):
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
        region = self.conf.region or s3_client.AWS_REGION
        if region != s3_client.AWS_REGION:
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
        self._refuse_name(bucket, key)

    def _refuse_name(self, bucket, key):
        """Raise InvalidObject for a key the store refuses; S3 refuses
        none but too long ones (S3 clones may).
        """

    @property
    def etag_is_md5(self):
        """:attr:`_etag_is_md5`, what this remote knows now."""
        return self._etag_is_md5

    def put_object(self, bucket, key, body, size, content_type=None,
                   metadata=None, md5=None, expires_at=None,
                   create_only=False, if_match=None):
        """Store one object; see :meth:`Provider.put_object`.

        With ``create_only`` the PUT carries ``If-None-Match: *``: S3 (and
        moto) refuse it with 412 when the key holds an object
        (:class:`~cloudsync.exceptions.PreconditionFailed`). With
        ``if_match`` it carries ``If-Match``: S3 (and moto) refuse it with
        412 when the key holds an object of another ETag, and with 404
        (:class:`~cloudsync.exceptions.NotFound`) when it holds none.

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
            params['ContentMD5'] = common.content_md5(md5)
        if create_only:
            params['IfNoneMatch'] = '*'
        if if_match:
            params['IfMatch'] = '"%s"' % common.unquote_etag(if_match)
        try:
            resp = self._call('put_object', bucket, key,
                              body=s3_body._Body(size, source=body), **params)
        except exceptions.NotSupported as exc:
            if not (create_only or if_match):
                raise
            self._refuses_conditions(bucket, key, exc)
        etag = common.unquote_etag(resp.get('ETag'))
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
        return common.unquote_etag(
            (resp.get('CopyObjectResult') or {}).get('ETag')) or info.etag

    def delete_object(self, bucket, key, if_match=None):
        """Delete an object; see :meth:`Provider.delete_object`.

        S3 answers 204 whether or not the key existed, and a HEAD first
        would double the requests of every delete. So this returns True
        unless the store said there was no such object (some S3 clones
        answer 404): True means "deleted, or not known to be missing".

        With ``if_match`` the DELETE carries ``If-Match``: S3 (and moto)
        refuse it with 412 when the key holds an object of another ETag
        (:class:`~cloudsync.exceptions.PreconditionFailed`), and answer
        404 when it holds none (False). A store that answers the
        condition with 501 NotImplemented gets the DELETE again without
        it (what cloudsync did before it had the condition) and is not
        asked for the condition again (see :meth:`_refuses_delete_if`).

        :raises TargetNotFound: the bucket does not exist.
        """
        params = {}
        if if_match and self.DELETE_IF_MATCH:
            params['IfMatch'] = '"%s"' % common.unquote_etag(if_match)
        try:
            self._call('delete_object', bucket, key, **params)
        except exceptions.TargetNotFound:
            raise
        except exceptions.NotFound:
            return False
        except exceptions.NotSupported as exc:
            if not params:
                raise
            self._refuses_delete_if(exc)
            return self.delete_object(bucket, key)
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
            params['IfModifiedSince'] = s3_client._http_date(if_modified_since)
        if if_unmodified_since:
            params['IfUnmodifiedSince'] = s3_client._http_date(
                if_unmodified_since)
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
            for chunk in body.iter_chunks(s3_client.CHUNK_SIZE):
                if chunk:
                    yield chunk
        except (boto_exc.BotoCoreError, OSError) as exc:
            body.close()
            raise exceptions.Unavailable(self._scrub(
                '%s: the body was cut short: %s' % (what, exc))) from exc
