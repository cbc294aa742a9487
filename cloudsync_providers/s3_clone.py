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
"""The ``s3-clone`` provider: S3-compatible stores that are not AWS.

Configuration::

    [remote:ceph]
    provider = s3-clone
    endpoint = https://rgw.example.com
    access_key = ...
    secret_key = ...
    # signature_version = s3v4       # or s3 (version 2) for old stores
    # multipart_copy = true          # false: the store lacks UploadPartCopy
    # allow_4byte_utf8 = true        # false: the store refuses such names

It is the ``s3`` provider with what S3 clones need:

* path-style addressing (``https://endpoint/bucket/key``) by default,
  since clones rarely serve a bucket per host name;
* the signature version the store understands (``signature_version``);
* never a server-side encryption header: clones refuse or mishandle it,
  so the ``server_side_encryption`` options do not exist here;
* ``multipart_copy = false`` for stores without UploadPartCopy: replacing
  the metadata of a multipart object (or of one over 5 GiB) then reads it
  back through cloudsync and uploads it again, part by part along its own
  part boundaries (so that its ETag stays the same), instead of having
  the store copy it. Every ranged read is conditional on the object's
  ETag, so an object overwritten meanwhile is never mixed with the old
  one;
* ``allow_4byte_utf8 = false`` for stores whose database cannot hold
  4-byte UTF-8 (MySQL's ``utf8``): an object whose name has a character
  beyond U+FFFF (an emoji, for instance) is refused before anything is
  sent, with an error naming the object and the character. The daemon
  records that object as failed and carries on with the others. When the
  option is left on and such a store refuses a name anyway, the error
  says so as well.

cloudsync never uses multi-object delete, which some clones lack.
Proven against Swift's s3api (``tox -e functional``).
"""

from oslo_config import cfg
from oslo_log import log as logging

from cloudsync import exceptions
from cloudsync import providers
from cloudsync_providers import common
from cloudsync_providers.s3 import client as s3_client
from cloudsync_providers.s3 import provider as s3_provider

LOG = logging.getLogger(__name__)

#: options of the s3 provider an S3 clone has no use for
_NOT_FOR_CLONES = ('server_side_encryption', 'sse_kms_key_id')
#: the s3 provider's options whose defaults differ for clones
_CLONE_DEFAULTS = {'addressing_style': 'path'}


def _clone_options():
    options = common.derived_options(s3_client.OPTIONS, _NOT_FOR_CLONES,
                                     _CLONE_DEFAULTS)
    return options + [
        cfg.BoolOpt('multipart_copy', default=True,
                    help='Whether the store copies parts of objects '
                         '(UploadPartCopy). When false, replacing the '
                         'metadata of a multipart object, or of one over '
                         '5 GiB, reads it back and uploads it again '
                         'through cloudsync.'),
        cfg.BoolOpt('allow_4byte_utf8', default=True,
                    help='Whether the store takes object names with '
                         '4-byte UTF-8 characters (beyond U+FFFF, such as '
                         'emoji). When false, such objects are refused '
                         'with a clear error, object by object.'),
    ]


OPTIONS = _clone_options()


class ConfWithDefaults:
    """A remote's options, with values for options this provider lacks.

    The s3 provider reads some options (encryption, for instance) that
    its subclasses do not offer; they read as these defaults.
    """

    def __init__(self, conf, defaults):
        self._conf = conf
        self._defaults = defaults

    def __getattr__(self, name):
        if name in self._defaults:
            try:
                value = getattr(self._conf, name)
            except (cfg.Error, AttributeError):
                return self._defaults[name]
            return self._defaults[name] if value is None else value
        return getattr(self._conf, name)


def four_byte_characters(name):
    """The characters of ``name`` that take 4 bytes in UTF-8."""
    return [ch for ch in name if ord(ch) > 0xffff]


class RangeReader:
    """A readable stream over an :class:`ObjectBody` (a GET of a range)."""

    def __init__(self, body):
        self._body = body
        self._buffer = b''

    def read(self, size=-1):
        while size < 0 or len(self._buffer) < size:
            try:
                self._buffer += next(self._body)
            except StopIteration:
                break
        if size < 0:
            data, self._buffer = self._buffer, b''
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def close(self):
        close = getattr(self._body, 'close', None)
        if close is not None:
            close()


class S3CloneProvider(s3_provider.S3Provider):
    """An S3-compatible store that is not AWS."""

    OPTIONS = OPTIONS
    # NOTE(cloudsync): a clone may ignore If-None-Match and If-Match (Swift's
    # s3api ignores If-Match on PUT), and overwrite; not every clone has
    # DeleteObjects, nor If-Match on DeleteObject: the daemon asks with a
    # HEAD first instead, and deletes what it read without a condition.
    PUT_CREATE_ONLY = False
    PUT_IF_MATCH = False
    BULK_DELETE = False
    DELETE_IF_MATCH = False

    def __init__(self, name, conf, max_connections=10, sleep=None,
                 client=None):
        conf = ConfWithDefaults(conf, {o: None for o in _NOT_FOR_CLONES})
        super().__init__(name, conf, max_connections=max_connections,
                         sleep=sleep, client=client)

    @property
    def _etag_is_md5(self):
        return self.ETAG_IS_MD5

    def _config_kwargs(self):
        kwargs = super()._config_kwargs()
        kwargs['user_agent_extra'] = 'cloudsync (s3-clone)'
        return kwargs

    # -- names the store cannot hold ---------------------------------------

    def _refuse_name(self, bucket, key):
        chars = four_byte_characters(key)
        if chars and not self.conf.allow_4byte_utf8:
            raise exceptions.InvalidObject(
                'remote %s: %s/%s: the name has 4-byte UTF-8 character%s '
                '%s, which this store does not take (allow_4byte_utf8 = '
                'false); the object is not copied' % (
                    self.name, bucket, key, 's' if len(chars) > 1 else '',
                    ', '.join('U+%04X' % ord(c) for c in chars)))

    def _explain(self, exc, bucket, key):
        """``exc``, or an InvalidObject when a 4-byte name explains it."""
        chars = four_byte_characters(key)
        if chars and isinstance(exc, exceptions.RemoteError) and \
                not isinstance(exc, (exceptions.AuthError,
                                     exceptions.ChecksumMismatch,
                                     exceptions.TargetNotFound)) and \
                exc.status in (400, 500):
            return exceptions.InvalidObject(
                '%s; the name has 4-byte UTF-8 character%s %s, which this '
                'store may not take (set allow_4byte_utf8 = false to skip '
                'such objects at once)' % (
                    exc, 's' if len(chars) > 1 else '',
                    ', '.join('U+%04X' % ord(c) for c in chars)),
                status=exc.status, code=exc.code)
        return exc

    def put_object(self, bucket, key, body, size, content_type=None,
                   metadata=None, md5=None, expires_at=None):
        self._refuse_name(bucket, key)
        try:
            return super().put_object(
                bucket, key, body, size, content_type=content_type,
                metadata=metadata, md5=md5, expires_at=expires_at)
        except exceptions.RemoteError as exc:
            raise self._explain(exc, bucket, key) from exc

    def put_multipart(self, bucket, key, parts, content_type=None,
                      metadata=None, expires_at=None):
        self._refuse_name(bucket, key)
        try:
            return super().put_multipart(
                bucket, key, parts, content_type=content_type,
                metadata=metadata, expires_at=expires_at)
        except exceptions.RemoteError as exc:
            raise self._explain(exc, bucket, key) from exc

    # -- metadata updates without UploadPartCopy ---------------------------

    def _copy_multipart(self, bucket, key, info, content_type, metadata):
        if self.conf.multipart_copy:
            return super()._copy_multipart(bucket, key, info, content_type,
                                           metadata)
        try:
            ranges = self._part_ranges(bucket, key, info)
        except exceptions.NotFound:
            raise
        except exceptions.RemoteError as exc:
            # NOTE: stores without partNumber reads; the ETag then
            # changes, which the caller is told through the return value.
            LOG.info('remote %s: %s/%s: no part sizes (%s); re-uploading '
                     'it in parts of %d bytes', self.name, bucket, key, exc,
                     self.conf.part_size)
            ranges = self.plan_parts(info.size)
        parts = [providers.Part(
            number=number, size=length,
            open=lambda offset=offset, length=length: self._range(
                bucket, key, info.etag, offset, length))
            for number, (offset, length) in enumerate(ranges, 1)]
        LOG.info('remote %s: %s/%s: the store does not copy parts; '
                 'uploading its %d bytes again to replace its metadata',
                 self.name, bucket, key, info.size)
        return s3_provider.S3Provider.put_multipart(
            self, bucket, key, parts, content_type=content_type,
            metadata=metadata)

    def _range(self, bucket, key, etag, offset, length):
        if not length:
            return RangeReader(iter(()))
        body = self.get_object(
            bucket, key, range='bytes=%d-%d' % (offset, offset + length - 1),
            if_match='"%s"' % etag if etag else None)
        return RangeReader(body)
