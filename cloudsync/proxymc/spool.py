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
"""Request bodies that proxymc reads for a PUT: counted and hashed as they
are streamed to the remote, or spooled to disk in part-sized files for a
multipart upload (a body over ``multipart_threshold``, or sent chunked).
"""

import hashlib
import tempfile

from swift.common import swob

from cloudsync import providers

READ_CHUNK = 64 * 1024


class HashingReader:
    """Reads a request body, counting and hashing what it hands out."""

    def __init__(self, stream, limit=None):
        self.stream = stream
        self.limit = limit
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.count = 0

    def read(self, size=-1):
        if self.limit is not None:
            left = self.limit - self.count
            if left <= 0:
                return b''
            size = left if size is None or size < 0 else min(size, left)
        data = self.stream.read(size)
        self.md5.update(data)
        self.count += len(data)
        return data


class FileView:
    """A spooled part handed to a provider: it rewinds, never closes."""

    def __init__(self, fobj):
        self._f = fobj
        self._f.seek(0)

    def read(self, size=-1):
        return self._f.read(size)

    def seek(self, offset, whence=0):
        return self._f.seek(offset, whence)

    def tell(self):
        return self._f.tell()

    def seekable(self):
        return True

    def close(self):
        pass


class Spool:
    """A request body spooled to disk in part-sized files."""

    def __init__(self, spool_dir, part_size):
        self.spool_dir = spool_dir
        self.part_size = part_size
        self.files = []
        self.sizes = []
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def fill(self, stream, max_size):
        """Read ``stream`` to its end.

        :raises swob.HTTPException: 413 past ``max_size``; 499 when the
            client goes away.
        """
        current = None
        while True:
            try:
                chunk = stream.read(READ_CHUNK)
            except (IOError, ValueError) as exc:
                raise swob.HTTPClientDisconnect(body=str(exc))
            if not chunk:
                break
            self.size += len(chunk)
            if self.size > max_size:
                raise swob.HTTPRequestEntityTooLarge()
            self.md5.update(chunk)
            while chunk:
                if current is None or self.sizes[-1] == self.part_size:
                    current = tempfile.TemporaryFile(dir=self.spool_dir)
                    self.files.append(current)
                    self.sizes.append(0)
                room = self.part_size - self.sizes[-1]
                piece, chunk = chunk[:room], chunk[room:]
                current.write(piece)
                self.sizes[-1] += len(piece)
        for fobj in self.files:
            fobj.flush()

    def parts(self):
        return [providers.Part(number=i + 1, size=size,
                               open=(lambda f=fobj: FileView(f)))
                for i, (fobj, size) in enumerate(zip(self.files, self.sizes))]

    def single(self):
        if not self.files:
            return b''
        return FileView(self.files[0])

    def close(self):
        for fobj in self.files:
            fobj.close()
        self.files = []
