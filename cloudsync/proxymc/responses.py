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
"""The Swift answers proxymc builds from remote objects: headers from
remote metadata (checked by :mod:`cloudsync.headers` first), conditional
and ranged responses as Swift's object server gives them, the status of a
provider's error, and the body iterator that reads only the bytes asked
for.
"""

import math
import time

from swift.common import request_helpers
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import exceptions
from cloudsync import headers as headers_mod
from cloudsync import large_objects as lo
from cloudsync import log as cs_log
from cloudsync import metadata as md
from cloudsync.proxymc import remote

LOG = cs_log.getLogger(__name__)

#: remote metadata keys that keep a Swift object's system metadata
#: (``X-Object-Sysmeta-*``), such as what s3api records on an upload
SYSMETA_PREFIX = 'cloudsync-sysmeta-'
SWIFT_SYSMETA_PREFIX = 'x-object-sysmeta-'
SLO_ETAG_HEADER = 'X-Object-Sysmeta-Slo-Etag'


def error_response(req, exc):
    """The Swift answer for a provider's :class:`RemoteError`."""
    if isinstance(exc, exceptions.NotFound):
        if req.method in ('GET', 'HEAD') and req.if_match and \
                '*' in req.if_match:
            # NOTE: as Swift's object server answers (RFC 7232 3.1)
            return swob.HTTPPreconditionFailed(request=req)
        return swob.HTTPNotFound(request=req)
    if isinstance(exc, exceptions.PreconditionFailed):
        return swob.HTTPPreconditionFailed(request=req)
    if isinstance(exc, exceptions.NotModified):
        return swob.HTTPNotModified(request=req)
    if isinstance(exc, exceptions.RangeNotSatisfiable):
        return swob.HTTPRequestedRangeNotSatisfiable(request=req)
    if isinstance(exc, exceptions.InvalidObject):
        return swob.HTTPBadRequest(request=req, body=str(exc))
    if isinstance(exc, exceptions.NotSupported):
        return swob.HTTPNotImplemented(request=req, body=str(exc))
    LOG.error('%s %s: the remote failed: %s', req.method, req.path, exc)
    return swob.HTTPServiceUnavailable(request=req)


def headers_to_str(req):
    """The request headers as native strings (not WSGI strings)."""
    return {k: swob.wsgi_to_str(v) for k, v in req.headers.items()}


def sysmeta_to_remote(headers):
    """Remote metadata keeping a request's object system metadata.

    Container update overrides are left out: they tell Swift's object
    server what to put in the container listing, which a bucket does not
    keep.
    """
    meta = {}
    for key, value in headers.items():
        lkey = key.lower()
        if not lkey.startswith(SWIFT_SYSMETA_PREFIX):
            continue
        rest = lkey[len(SWIFT_SYSMETA_PREFIX):]
        if rest.startswith('container-update-override-'):
            continue
        meta[SYSMETA_PREFIX + rest] = md.encode_value(value)
    return meta


def unsafe_metadata_response(req):
    """A 400 for a request whose metadata could not be given back as
    response headers (see :mod:`cloudsync.headers`), or None.
    """
    headers = headers_to_str(req)
    unsafe = headers_mod.unsafe_metadata(headers)
    for key, value in headers.items():
        if key.lower().startswith(SWIFT_SYSMETA_PREFIX) or \
                key.lower() == 'content-type':
            problem = headers_mod.header_problem(key, value)
            if problem:
                unsafe.append((headers_mod.printable(key), problem))
    if not unsafe:
        return None
    return swob.HTTPBadRequest(
        request=req, content_type='text/plain',
        body=('Metadata that could not be sent back as a header: %s'
              % headers_mod.describe_dropped(unsafe)).encode('utf-8'))


def swift_timestamp(info):
    """The Swift X-Timestamp of a remote object."""
    value = md.internal_values(info.metadata).get(md.TIMESTAMP_KEY)
    return (headers_mod.timestamp(value) or
            headers_mod.timestamp(info.last_modified) or
            swift_utils.Timestamp(0))


def delete_at(info):
    return headers_mod.whole_seconds(
        md.internal_values(info.metadata).get(md.DELETE_AT_KEY))


def is_expired(info):
    when = delete_at(info)
    return when is not None and when <= time.time()


def object_headers(info):
    """Swift response headers for a remote object (its metadata)."""
    headers = md.remote_to_swift(info.metadata)
    local_manifest = md.local_dlo_manifest(info.metadata)
    if local_manifest is not None:
        # NOTE: proxymc's containers are the cluster's (the daemon's
        # layout): the remote's own manifest names a container of the
        # remote's account, outside that layout.
        headers['X-Object-Manifest'] = local_manifest
    for key, value in info.metadata.items():
        if key.startswith(SYSMETA_PREFIX):
            headers['X-Object-Sysmeta-' + key[len(SYSMETA_PREFIX):].title()] \
                = md.decode_value(value)
    # NOTE: s3api shows an SLO's X-Object-Sysmeta-S3Api-Etag (kept above
    # when s3api uploaded it), else its Swift ETag with "-N"; never the
    # remote's multipart ETag, which depends on how the parts were cut.
    if remote.is_slo(info):
        # as Swift's slo middleware answers
        manifest_etag = md.internal_values(info.metadata).get(
            md.MANIFEST_ETAG_KEY)
        if manifest_etag:
            headers['X-Manifest-Etag'] = manifest_etag
    when = delete_at(info)
    if when is not None:
        headers['X-Delete-At'] = str(when)
    headers, dropped = headers_mod.safe_headers(headers)
    if dropped:
        LOG.warning('%s: metadata that cannot be sent as a header, left '
                    'out: %s', headers_mod.printable(info.key),
                    headers_mod.describe_dropped(dropped))
    ts = swift_timestamp(info)
    headers['X-Timestamp'] = ts.normal
    headers['Content-Type'] = headers_mod.safe_content_type(
        info.content_type)
    headers['Accept-Ranges'] = 'bytes'
    return headers


def swift_response(req, info, app_iter=None):
    """A conditional swob response for a remote object.

    Conditions and ranges follow the conventions of Swift's object server:
    ``If-Match`` and ``If-None-Match`` compare the ETag found under the
    first name in ``X-Backend-Etag-Is-At`` that the object has (s3api
    names its own ETag there), else the object's ETag; a Range is ignored
    when the object has a header named in
    ``X-Backend-Ignore-Range-If-Metadata-Present``.
    """
    headers = object_headers(info)
    etag = remote.swift_etag(info)
    backend = swob.HeaderKeyDict(headers)
    backend['Etag'] = etag
    if remote.is_slo(info):
        backend[SLO_ETAG_HEADER] = etag
    request_helpers.resolve_ignore_range_header(req, backend)
    resp = swob.Response(
        request=req, conditional_response=True, app_iter=app_iter,
        conditional_etag=request_helpers.resolve_etag_is_at_header(
            req, backend))
    resp.headers.update({k: swob.str_to_wsgi(v)
                         for k, v in headers.items()})
    # NOTE: as Swift answers: a plain object's ETag unquoted, an SLO's
    # quoted (the slo middleware's way).
    if etag:
        resp.headers['Etag'] = '"%s"' % etag if remote.is_slo(info) else etag
    resp.last_modified = math.ceil(float(swift_timestamp(info)))
    resp.content_length = info.size
    return resp


class RemoteObjectIter:
    """A remote object's body for swob: whole, one range or several.

    The GET is sent only when swob asks for the bytes, for the ranges it
    asks for, so that a request that ends in a 304 or a 412 never reads
    the object.
    """

    def __init__(self, provider, bucket, key, size, body=None):
        self.provider = provider
        self.bucket = bucket
        self.key = key
        self.size = size
        self._body = body
        self._iter = None

    def __iter__(self):
        if self._body is None:
            self._body = self.provider.get_object(self.bucket, self.key)
        return iter(self._body)

    def app_iter_range(self, start, stop):
        self.close()
        if stop is None:
            stop = self.size
        if stop <= start:
            return iter([b''])
        self._body = self.provider.get_object(
            self.bucket, self.key, range='bytes=%d-%d' % (start, stop - 1))
        return iter(self._body)

    def app_iter_ranges(self, ranges, content_type, boundary, size):
        self.close()
        return lo.multi_range_body(self._span, ranges, content_type,
                                   boundary, size)

    def _span(self, start, stop):
        return self.provider.get_object(
            self.bucket, self.key, range='bytes=%d-%d' % (start, stop - 1))

    def close(self):
        if self._body is not None:
            self._body.close()
            self._body = None
