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
"""Request bodies that can be sent again when a request is retried, and
the signals of a large object's manifest that changed while read."""

import hashlib
import io

from oslo_log import log as logging

from cloudsync import exceptions
from cloudsync_providers import common

LOG = logging.getLogger(__name__)


_BodyError = common.BodyError


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
        data = common.read_announced(self._stream, n, self._remaining,
                                     self.size)
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
