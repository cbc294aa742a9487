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
"""Multipart uploads and copies of the S3 provider."""

from oslo_log import log as logging

from cloudsync import exceptions
from cloudsync import providers
from cloudsync_providers import common
from cloudsync_providers.s3 import body as s3_body
from cloudsync_providers.s3 import client as s3_client

LOG = logging.getLogger(__name__)


def plan_parts(size, part_size=s3_client.DEFAULT_PART_SIZE):
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
    part_size = max(s3_client.MIN_PART_SIZE,
                    min(int(part_size), s3_client.MAX_PART_SIZE))
    if size > part_size * s3_client.MAX_PARTS:
        part_size = -(-size // s3_client.MAX_PARTS)
        part_size = -(-part_size // s3_client.MiB) * s3_client.MiB
        if part_size > s3_client.MAX_PART_SIZE:
            raise exceptions.InvalidObject(
                'an object of %d bytes needs more than %d parts of 5 GiB'
                % (size, s3_client.MAX_PARTS))
    if size == 0:
        return [(0, 0)]
    return [(offset, min(part_size, size - offset))
            for offset in range(0, size, part_size)]


class S3Multipart:
    """Multipart uploads and part-by-part copies of an
    :class:`S3Provider`.
    """

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
                    common.HEX_MD5.match(etag) for etag in etags):
                raise
            info = self.head_object(bucket, key)
            if info.etag != common.multipart_etag(etags):
                raise
            return info.etag
        self._response_etag_is_md5(resp)
        etag = common.unquote_etag(resp.get('ETag'))
        if not etag and all(common.HEX_MD5.match(e) for e in etags):
            etag = common.multipart_etag(etags)
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
        upload_id = self._create_upload(bucket, key, content_type,
                                        metadata)
        try:
            etags = self._run_parts(
                parts, lambda part: self._put_part(bucket, key, upload_id,
                                                   part))
            return self._complete(bucket, key, upload_id, etags)
        except BaseException:
            self._abort(bucket, key, upload_id)
            raise

    def _create_upload(self, bucket, key, content_type, metadata):
        """Start a multipart upload with the object's metadata; its id."""
        params = dict(Metadata=dict(metadata or {}))
        params.update(self._write_params())
        if content_type:
            params['ContentType'] = content_type
        resp = self._call('create_multipart_upload', bucket, key, **params)
        return resp['UploadId']

    def check_parts(self, bucket, key, parts):
        """Refuse parts S3 would refuse; see
        :meth:`cloudsync.providers.Provider.check_parts`.
        """
        self._check_parts(bucket, key, parts)

    def _check_parts(self, bucket, key, parts):
        what = 'remote %s: %s/%s' % (self.name, bucket, key)
        common.check_part_numbers(what, parts, s3_client.MAX_PARTS,
                                  '%(count)d parts, more than %(max)d')
        for index, part in enumerate(parts, 1):
            self._check_md5(part.md5)
            if part.size > s3_client.MAX_PART_SIZE or (
                    index < len(parts) and
                    part.size < s3_client.MIN_PART_SIZE):
                raise exceptions.InvalidObject(
                    '%s: part %d is %d bytes; parts must be 5 MiB to '
                    '5 GiB, the last one excepted' % (
                        what, part.number, part.size))

    def _put_part(self, bucket, key, upload_id, part):
        params = dict(UploadId=upload_id, PartNumber=part.number,
                      ContentLength=part.size)
        if part.md5:
            params['ContentMD5'] = common.content_md5(part.md5)
        body = s3_body._Body(part.size, opener=part.open)
        try:
            resp = self._call('upload_part', bucket, key, body=body,
                              **params)
        finally:
            body.close()
        etag = common.unquote_etag(resp.get('ETag'))
        if part.md5 and etag != part.md5.lower() and \
                self._response_etag_is_md5(resp):
            raise exceptions.ChecksumMismatch(
                '%s: part %d was stored with ETag %s, not the MD5 sent '
                '(%s)' % (self._what('upload_part', bucket, key),
                          part.number, etag, part.md5))
        return etag

    def part_ranges(self, bucket, key, info):
        """The byte ranges of a multipart object's own parts (one HEAD
        with ``partNumber`` each, :meth:`part_workers` at once), or None;
        see :meth:`Provider.part_ranges`.
        """
        if not info.parts_count or info.parts_count < 2:
            return None
        lengths = self._run_parts(
            list(range(1, info.parts_count + 1)),
            lambda number: self._part_length(bucket, key, number))
        ranges, offset = [], 0
        for length in lengths:
            ranges.append((offset, length))
            offset += length
        return ranges if offset == info.size else None

    def guess_part_ranges(self, bucket, key, info):
        """The likely byte ranges of a multipart object's parts, from its
        first part's size alone (one HEAD): parts of that size, the last
        one the rest, when the sizes add up; else :meth:`part_ranges`.

        Most uploaders (the AWS CLI and SDKs, rclone, cloudsync) send parts
        of one size, so one request replaces a request per part. The
        caller must check the guess: the MD5s of the parts read this way
        must make the object's multipart ETag, or the layout is wrong (see
        :mod:`cloudsync.migrate.multipart`).

        NOTE: GetObjectAttributes is not asked: AWS lists the parts' sizes
        only for objects uploaded with an additional checksum, moto never,
        and a store that does not know ``?attributes`` may answer it with
        the whole object.
        """
        count = info.parts_count
        if not count or count < 2:
            return None
        first = self._part_length(bucket, key, 1)
        last = info.size - first * (count - 1)
        if first <= 0 or not 0 < last <= first:
            return self.part_ranges(bucket, key, info)
        return [(offset, first) for offset in range(
            0, first * (count - 1), first)] + [(first * (count - 1), last)]

    def _part_length(self, bucket, key, number):
        # NOTE: no If-Match on the HEADs of the parts: moto compares it
        # with the part's ETag. The caller checks the ETag instead.
        resp = self._call('head_object', bucket, key, PartNumber=number)
        return resp.get('ContentLength', 0)

    def _part_ranges(self, bucket, key, info):
        """The byte ranges of the parts of ``info``'s object.

        For a multipart object, its own parts (one HEAD with
        ``partNumber`` each), so that a copy keeps its ETag; otherwise the
        configured part size.
        """
        if info.parts_count and info.parts_count > 1:
            # NOTE: the part copies are conditional on the ETag.
            ranges = self.part_ranges(bucket, key, info)
            if ranges is not None:
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
        upload_id = self._create_upload(bucket, key, content_type,
                                        metadata)

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
            return common.unquote_etag(resp['CopyPartResult']['ETag'])

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
