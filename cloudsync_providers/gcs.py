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
"""The ``gcs`` provider: Google Cloud Storage through its XML API.

Configuration, with an HMAC key of a service account (Cloud Storage,
Settings, Interoperability)::

    [remote:gcs]
    provider = gcs
    # endpoint = https://storage.googleapis.com     # the default
    access_key = GOOG1E...
    secret_key = ...

GCS's interoperability API speaks S3's protocol, with differences this
provider follows:

* **Every object is one object.** GCS has no UploadPartCopy, and objects
  it assembles from parts (XML multipart uploads, compose) are
  "composite": their ETag is not an MD5 and they have no MD5 at all. So
  a large object (an SLO, or anything cloudsync would send in parts) is
  streamed to GCS in a single PUT of up to 5 TiB, its parts one after
  the other, each part's MD5 checked as it is read; GCS's ETag is then
  the MD5 of the whole object, which cloudsync compares with the MD5 it
  computed while sending. :meth:`GCSProvider.put_multipart` returns that
  MD5, not S3's ``md5-of-md5s-N``: cloudsync recognises an SLO already on
  GCS by the ``swift-slo-etag`` it stores with it, as swift-s3-sync did.
* **Metadata updates** are a copy onto the object itself with the
  REPLACE directive (``x-goog-copy-source`` and
  ``x-goog-metadata-directive``, which GCS takes in their ``x-amz-``
  spelling). GCS rewrites objects of up to 5 GiB in one copy request;
  for a larger object cloudsync reads it back and uploads it again in
  one PUT (conditional on its ETag, verified by its MD5), which keeps its
  ETag.
* **Metadata** is sent as ``x-amz-meta-*``, which GCS accepts; GCS may
  answer with ``x-goog-meta-*``, which is read as well.
* **Listings** are sent without ``encoding-type`` (GCS does not
  implement it) and names are not decoded at all. Listing ETags that
  are not MD5s (composite objects written by other tools) are reported
  as unknown (``''``). The ``x-goog-hash`` MD5 is used for such objects
  when GCS gives one.
* **Times**: GCS gives ``Last-Modified`` to the second in HEAD and GET
  answers and to the millisecond in listings. cloudsync compares copies
  by the Swift timestamp it stores in the metadata, never by these.
* **No multi-object delete** (cloudsync never uses it) and no lifecycle
  rules through this API: ``remote_delete_after`` needs a lifecycle rule
  set on the bucket with Google's own tools (an ``age`` condition and a
  ``matchesPrefix`` of the mapping's key prefix).
"""

import base64
import binascii
import hashlib
import re

from oslo_log import log as logging

from cloudsync import exceptions
from cloudsync import providers
from cloudsync_providers import common
from cloudsync_providers.s3 import body as s3_body
from cloudsync_providers.s3 import client as s3_client
from cloudsync_providers.s3 import provider as s3_provider
from cloudsync_providers import s3_clone

LOG = logging.getLogger(__name__)

GCS_ENDPOINT = 'https://storage.googleapis.com'
GCS_LOCATION = 'Google Cloud Storage'
#: the largest object GCS takes in one request
MAX_OBJECT_SIZE = 5 * 1024 ** 4
#: the largest object one GCS copy request rewrites here
MAX_COPY_SIZE = 5 * 1024 ** 3
GOOG_META = 'x-goog-meta-'
_HEX_MD5 = re.compile(r'^[0-9a-f]{32}$')

_NOT_FOR_GCS = ('server_side_encryption', 'sse_kms_key_id',
                'session_token', 'list_version', 'part_size')
_GCS_DEFAULTS = {'addressing_style': 'path', 'region': 'auto'}


OPTIONS = common.derived_options(
    s3_client.OPTIONS, _NOT_FOR_GCS, _GCS_DEFAULTS,
    {'region': 'The region in request signatures; GCS takes "auto".'})


def goog_hash_md5(value):
    """The hex MD5 in an ``x-goog-hash`` header value, or None."""
    for item in (value or '').split(','):
        name, _, encoded = item.strip().partition('=')
        if name == 'md5' and encoded:
            try:
                return binascii.hexlify(base64.b64decode(encoded)).decode()
            except (binascii.Error, ValueError):
                return None
    return None


class _Concatenation:
    """The parts of a large object, one after the other, as one stream.

    Each part is opened when the one before it ends, and its MD5 is
    checked before its last bytes are handed out, so a wrong part fails
    the upload before it completes. ``md5`` is the MD5 of everything
    read.
    """

    def __init__(self, parts):
        self._parts = list(parts)
        self._index = -1
        self._stream = None
        self._part_md5 = None
        self._left = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        #: why the parts were refused, if they were
        self.failure = None

    def _next_part(self):
        self._finish_part()
        self._index += 1
        if self._index >= len(self._parts):
            return False
        part = self._parts[self._index]
        self._stream = part.open()
        self._left = part.size
        self._part_md5 = hashlib.md5(usedforsecurity=False)
        return True

    def _finish_part(self):
        if self._stream is None:
            return
        part = self._parts[self._index]
        close = getattr(self._stream, 'close', None)
        self._stream = None
        if close:
            close()
        if part.md5 and self._part_md5.hexdigest() != part.md5.lower():
            self.failure = 'part %d has MD5 %s, not %s' % (
                part.number, self._part_md5.hexdigest(), part.md5)
            raise s3_body._BodyError(self.failure)

    def read(self, size=-1):
        chunks = []
        want = size if size is not None and size >= 0 else None
        while want is None or want > 0:
            if self._stream is None or self._left == 0:
                if not self._next_part():
                    break
                continue
            n = self._left if want is None else min(want, self._left)
            data = self._stream.read(n)
            if not data:
                self.failure = 'part %d ended %d bytes early' % (
                    self._parts[self._index].number, self._left)
                raise s3_body._BodyError(self.failure)
            self._left -= len(data)
            self._part_md5.update(data)
            self.md5.update(data)
            if self._left == 0:
                # NOTE: checked before the part's last bytes are sent, so
                # that GCS never completes an object with a wrong part.
                self._finish_part()
            chunks.append(data)
            if want is not None:
                want -= len(data)
        return b''.join(chunks)

    def close(self):
        if self._stream is not None:
            close = getattr(self._stream, 'close', None)
            self._stream = None
            if close:
                close()


class GCSProvider(s3_provider.S3Provider):
    """Google Cloud Storage through its S3 interoperability API."""

    OPTIONS = OPTIONS
    LIST_URL_ENCODING = False
    #: GCS's XML API has no If-None-Match nor If-Match on writes and
    #: deletes (it has its own generation conditions) and no multi-object
    #: delete
    PUT_CREATE_ONLY = False
    PUT_IF_MATCH = False
    BULK_DELETE = False
    DELETE_IF_MATCH = False
    MAX_SINGLE_PUT = MAX_OBJECT_SIZE
    MAX_COPY_SIZE = MAX_COPY_SIZE
    #: one PUT takes what S3 would need parts for
    MIN_PART_SIZE = 1
    MAX_PART_SIZE = MAX_OBJECT_SIZE
    MAX_PARTS = 10000

    def __init__(self, name, conf, max_connections=10, sleep=None,
                 client=None):
        conf = s3_clone.ConfWithDefaults(conf, {
            'endpoint': GCS_ENDPOINT, 'list_version': 2,
            'part_size': s3_client.DEFAULT_PART_SIZE,
            'server_side_encryption': None, 'sse_kms_key_id': None,
            'session_token': None})
        super().__init__(name, conf, max_connections=max_connections,
                         sleep=sleep, client=client)

    def location(self, bucket):
        if self.conf.endpoint.rstrip('/') == GCS_ENDPOINT:
            return '%s;%s' % (GCS_LOCATION, bucket)
        return '%s;%s' % (self.conf.endpoint, bucket)

    @property
    def _etag_is_md5(self):
        return True

    def _config_kwargs(self):
        kwargs = super()._config_kwargs()
        kwargs['user_agent_extra'] = 'cloudsync (gcs)'
        return kwargs

    def plan_parts(self, size):
        """One part: GCS takes a whole object in one request."""
        if size > MAX_OBJECT_SIZE:
            raise exceptions.InvalidObject(
                'an object of %d bytes is larger than the 5 TiB GCS takes'
                % size)
        return [(0, size)]

    def check_parts(self, bucket, key, parts):
        """Parts within this store's limits, not S3's: see
        :meth:`cloudsync.providers.Provider.check_parts`.
        """
        providers.Provider.check_parts(self, bucket, key, parts)

    # -- reading -----------------------------------------------------------

    def _info(self, key, resp):
        info = super()._info(key, resp)
        headers = (resp.get('ResponseMetadata') or {}).get(
            'HTTPHeaders') or {}
        for name, value in headers.items():
            name = name.lower()
            if name.startswith(GOOG_META):
                info.metadata.setdefault(name[len(GOOG_META):], value)
        if not _HEX_MD5.match(info.etag):
            md5 = goog_hash_md5(headers.get('x-goog-hash'))
            if md5:
                info.etag = md5
        if '-' in info.etag:
            # NOTE: GCS ETags never count parts; a composite object's is
            # not shaped like S3's.
            info.parts_count = None
        return info

    def list_objects(self, bucket, prefix='', delimiter=None, marker=None,
                     limit=1000):
        page = super().list_objects(bucket, prefix=prefix,
                                    delimiter=delimiter, marker=marker,
                                    limit=limit)
        for entry in page.entries:
            if entry.etag and not _HEX_MD5.match(entry.etag):
                entry.etag = ''
        return page

    # -- writing -----------------------------------------------------------

    def put_multipart(self, bucket, key, parts, content_type=None,
                      metadata=None, expires_at=None):
        """Stream the parts to GCS as one object, in one PUT.

        Each part's MD5 is checked as it is read; a wrong or short part
        fails the PUT, and GCS keeps nothing.

        :returns: the MD5 of the whole object, GCS's ETag of it.
        """
        parts = sorted(parts, key=lambda p: p.number)
        what = self._what('put_object', bucket, key)
        if not parts:
            raise exceptions.InvalidObject('%s: no parts' % what)
        for index, part in enumerate(parts, 1):
            self._check_md5(part.md5)
            if part.number != index:
                raise exceptions.InvalidObject(
                    '%s: parts must be numbered 1 to %d without gaps'
                    % (what, len(parts)))
        size = sum(part.size for part in parts)
        if size > MAX_OBJECT_SIZE:
            raise exceptions.InvalidObject(
                '%s: %d bytes is more than the 5 TiB GCS takes' % (
                    what, size))
        streams = []

        def opener():
            # NOTE: parts that failed their MD5 fail again: no retry.
            for stream in streams:
                if stream.failure:
                    raise _PartsRefused(stream.failure)
            stream = _Concatenation(parts)
            streams.append(stream)
            return stream

        params = dict(ContentLength=size, Metadata=dict(metadata or {}))
        params.update(self._write_params())
        if content_type:
            params['ContentType'] = content_type
        body = s3_body._Body(size, opener=opener)
        try:
            resp = self._call('put_object', bucket, key, body=body, **params)
        except (_PartsRefused, exceptions.RemoteError) as exc:
            failures = [s.failure for s in streams if s.failure]
            if failures:
                raise exceptions.ChecksumMismatch(
                    '%s: %s; nothing was stored' % (what, failures[0])
                ) from exc
            raise
        finally:
            body.close()
        etag = common.unquote_etag(resp.get('ETag'))
        sent = streams[-1].md5.hexdigest()
        if etag != sent:
            try:
                self._call('delete_object', bucket, key)
            except exceptions.RemoteError as exc:
                LOG.warning('%s: could not remove the corrupt copy: %s',
                            what, exc)
            raise exceptions.ChecksumMismatch(
                '%s: GCS stored ETag %s, not the MD5 of the bytes sent (%s)'
                % (what, etag, sent))
        return etag

    def _copy_multipart(self, bucket, key, info, content_type, metadata):
        """Replace the metadata of an object too large for one copy.

        GCS has no UploadPartCopy: the object is read back and uploaded
        again in one PUT, each read conditional on its ETag.
        """
        LOG.info('remote %s: %s/%s: %d bytes is more than one GCS copy '
                 'takes; uploading it again to replace its metadata',
                 self.name, bucket, key, info.size)
        part = providers.Part(
            number=1, size=info.size,
            open=lambda: s3_clone.RangeReader(self.get_object(
                bucket, key, if_match='"%s"' % info.etag)),
            md5=info.etag if _HEX_MD5.match(info.etag) else None)
        return self.put_multipart(bucket, key, [part],
                                  content_type=content_type,
                                  metadata=metadata)

    def set_expiration(self, bucket, prefix, seconds):
        raise exceptions.NotSupported(
            'remote %s: GCS lifecycle rules are not set through its S3 '
            'API; add one to bucket %s with Google\'s tools (condition: '
            'age %d days, matchesPrefix %s; action: Delete)' % (
                self.name, bucket, max(1, int(seconds / 86400.0 + 0.5)),
                prefix))


class _PartsRefused(Exception):
    """A part failed its MD5 check; sending them again would too."""
