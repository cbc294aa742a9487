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
"""Request bodies that can be sent again when a request is retried."""

import io

from oslo_log import log as logging

from cloudsync import exceptions
from cloudsync_providers import common

LOG = logging.getLogger(__name__)


_BodyError = common.BodyError


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
        data = common.read_announced(self._stream, n, self._remaining,
                                     self._size)
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
