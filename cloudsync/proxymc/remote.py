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
"""What proxymc's objects and static large objects both read of a remote
object: its Swift ETag, its expiry, and the bytes of several remote objects
in a row (the segments of an SLO copied into one part).
"""

import re

from swift.common import utils as swift_utils

from cloudsync import headers as headers_mod
from cloudsync import metadata as md

#: a plain MD5, as Swift's ETag of an object that is not a large object
HEX_MD5 = re.compile(r'^[0-9a-f]{32}$')


def is_slo(info):
    return swift_utils.config_true_value(
        md.decode_value(info.metadata.get(md.SLO_KEY, '')))


def swift_etag(info):
    """The ETag Swift showed for the object the remote holds."""
    internal = md.internal_values(info.metadata)
    candidates = [internal.get(md.ETAG_KEY), info.etag]
    if is_slo(info):
        candidates.insert(0, internal.get(md.SLO_ETAG_KEY))
    for etag in candidates:
        # NOTE: whoever writes to the bucket writes these; one that could
        # not be sent as a header is passed over.
        etag = headers_mod.safe_etag((etag or '').strip('"'))
        if etag:
            return etag
    return None


def expiry(meta):
    """The remote expiry of an object written with metadata ``meta``.

    Its ``X-Delete-At``, as the object requests of
    :mod:`cloudsync.proxymc.objects` kept it (a checked whole number), or
    None.
    """
    value = meta.get(md.DELETE_AT_KEY)
    return int(value) if value else None


class SegmentStream:
    """The bytes of several remote objects in a row, for one part or PUT."""

    def __init__(self, sources):
        self._sources = list(sources)
        self._body = None
        self._buf = b''

    def read(self, size=-1):
        out = []
        want = None if size is None or size < 0 else size
        while want is None or want > 0:
            if self._buf:
                take = self._buf if want is None else self._buf[:want]
                self._buf = self._buf[len(take):]
                out.append(take)
                if want is not None:
                    want -= len(take)
                continue
            if self._body is None:
                if not self._sources:
                    break
                provider, bucket, key = self._sources.pop(0)
                self._body = provider.get_object(bucket, key)
            chunk = next(self._body, b'')
            if not chunk:
                self._body.close()
                self._body = None
                continue
            self._buf = chunk
        return b''.join(out)

    def close(self):
        if self._body is not None:
            self._body.close()
            self._body = None
