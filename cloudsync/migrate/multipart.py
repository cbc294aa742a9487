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
"""Copying an S3 multipart object as a static large object, part for
segment.

The part layout comes from the source (see
:meth:`~cloudsync.migrate.source.MigrationSource.part_ranges`), first as a
guess where the provider can make one with fewer requests (parts of the
first part's size), asked for while the GET is on its way. When the listed
size and part count leave one likely part size in whole MiB
(:func:`likely_ranges`), the first part is written with it meanwhile, and
the source's answer is compared before the second: when it differs, the
copy starts again with it. The object is read in ONE streaming GET (a
range request per part costs some stores a read of the whole object each)
and cut at the part boundaries. Each segment's MD5 is the ETag Swift
computed as it stored the bytes (hashed here only where Swift gives none,
and as it streams for a part not held in memory), so the migrator spends
no CPU on hashing what Swift hashes anyway. Up to ``part_writers`` parts
are written to Swift at once while the next one is read, so at most
``part_writers + 1`` parts are in memory; parts larger than
:data:`MAX_BUFFERED_PART` are streamed into Swift one at a time instead. A
part's bytes are let go as soon as they are sent on to the object servers:
Swift's answer (the object servers sync what they stored and update the
container) is awaited without them, while the next parts are sent, up to
``part_writers`` more PUTs awaiting their answers. A segment whose PUT
must be retried after that is read again from the source (a range request
of that part, of the same version).

The parts' MD5s must make the source's multipart ETag before the manifest
is written: a wrong layout (a guess that did not hold) is then found, and
the object copied again with its exact layout, over the same segment
names; a changed or corrupted object fails the copy. Nothing is visible in
the target container before the manifest is.
"""

import functools
import hashlib
import re
import threading

from cloudsync import concurrency
from cloudsync import exceptions
from cloudsync import large_objects
from cloudsync import providers

_HEX_MD5 = re.compile('^[0-9a-f]{32}$')

#: parts larger than this are not held in memory: they are streamed into
#: Swift one after the other
MAX_BUFFERED_PART = 64 * 1024 * 1024


#: the unit of the part sizes uploaders choose (the AWS CLI and SDKs 8
#: MiB, rclone 5 MiB, ...): see :func:`likely_ranges`
PART_SIZE_UNIT = 1024 * 1024


class Mismatch(exceptions.ChecksumMismatch):
    """The parts copied do not make the source's multipart ETag."""


class Relayout(Exception):
    """The layout a copy started with is not the source's, which is
    ``ranges`` (None: the source cannot tell).
    """

    def __init__(self, ranges):
        super().__init__('the part layout differs from the source\'s')
        self.ranges = ranges


def likely_ranges(size, count):
    """The part layout an object of ``size`` bytes uploaded in ``count``
    parts most likely has, without asking the source: parts of one size,
    the last one no larger, when exactly one size in whole
    :data:`PART_SIZE_UNIT` fits; else None.

    A copy may start with it while the source's layout is asked for
    (see :meth:`PartsCopy.copy`).
    """
    if not count or count < 2 or size < count:
        return None
    unit = PART_SIZE_UNIT
    smallest = -(-size // count)
    largest = (size - 1) // (count - 1)
    first = -(-smallest // unit) * unit
    if first > largest or first + unit <= largest:
        return None
    last = size - first * (count - 1)
    return [(offset, first) for offset in range(
        0, first * (count - 1), first)] + [(first * (count - 1), last)]


def wait_quietly(thread):
    """Wait for green thread ``thread``, whose answer is no longer
    needed (a request on its way is not cut short).
    """
    try:
        thread.wait()
    except Exception:  # noqa: BLE001 - the caller has an error of its own
        pass


class _Confirmation(object):
    """The source's part layout, asked for in green thread ``thread``,
    to compare with the likely ``ranges`` a copy started with.
    """

    def __init__(self, thread, ranges):
        self._thread = thread
        self.ranges = ranges

    def check(self):
        """:raises Relayout: the source's layout is not ``ranges``."""
        thread, self._thread = self._thread, None
        if thread is not None:
            found = thread.wait()
            if found != self.ranges:
                raise Relayout(found)

    def settle(self):
        """Wait for the answer if it was not checked (a request on its
        way is not cut short).
        """
        thread, self._thread = self._thread, None
        if thread is not None:
            wait_quietly(thread)


def listed_info(entry):
    """What a source listing entry tells of a multipart object, as the
    :class:`~cloudsync.providers.ObjectInfo` its layout is asked with:
    size, ETag and, from the ETag's ``-N``, the number of parts.
    """
    etag = entry.etag or ''
    _, _, suffix = etag.rpartition('-')
    return providers.ObjectInfo(
        key=entry.key, size=entry.size, etag=etag,
        last_modified=entry.last_modified,
        parts_count=int(suffix) if '-' in etag and suffix.isdigit()
        else None)


def segment_name(key, etag, number):
    """The name of the segment of part ``number`` of ``key``'s version
    ``etag``, in the target container's segments container.
    """
    return '%s/%s/%08d' % (key, etag, number)


class _Stream(object):
    """``read(size)`` over an object body's chunks."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._chunk = b''
        self._pos = 0

    def read(self, size):
        """Up to ``size`` bytes (fewer only at the end), as a list of
        pieces of the chunks: whole chunks are not copied, and the rest of
        a chunk is never copied more than once.
        """
        out = []
        while size > 0:
            if self._pos >= len(self._chunk):
                try:
                    self._chunk, self._pos = next(self._chunks), 0
                except StopIteration:
                    break
                continue
            if self._pos == 0 and size >= len(self._chunk):
                piece = self._chunk
            else:
                piece = self._chunk[self._pos:self._pos + size]
            self._pos += len(piece)
            size -= len(piece)
            out.append(piece)
        return out


class _Slice(object):
    """The next ``length`` bytes of a :class:`_Stream`, hashed as read."""

    def __init__(self, stream, length):
        self._stream = stream
        self._left = length
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.bytes = 0

    @property
    def md5(self):
        return self._md5.hexdigest()

    def read(self, size=-1):
        if size is None or size < 0 or size > self._left:
            size = self._left
        data = b''.join(self._stream.read(size)) if size else b''
        self._left -= len(data)
        self._md5.update(data)
        self.bytes += len(data)
        return data


class _Part(object):
    """One part read whole: ``read(size)`` over its chunks (not joined:
    no copy of the part).

    Its bytes are let go as soon as the last one has been read (sent on
    towards the object servers): :attr:`on_sent` is then called, and
    Swift's answer is awaited without them. Should the part be read again
    from the start (``seek(0)``, the internal client's retry), they come
    again from ``reread()``: the part read from the source once more.
    """

    def __init__(self, chunks, reread=None):
        self._chunks = chunks
        self._reread = reread
        self.bytes = sum(len(chunk) for chunk in chunks)
        #: called once, when the part's bytes are let go
        self.on_sent = None
        self._read = 0
        self._stream = _Stream(chunks)

    def seek(self, pos):
        if pos != 0:
            raise ValueError('a part is only read again from its start')
        if self._read == 0:
            return
        if self._chunks is None:
            self._chunks = self._reread()
        self._stream = _Stream(self._chunks)
        self._read = 0

    def read(self, size=-1):
        if size is None or size < 0:
            size = self.bytes
        data = b''.join(self._stream.read(size))
        self._read += len(data)
        if self._read >= self.bytes and self._reread is not None:
            self._let_go()
        return data

    def _let_go(self):
        self._chunks = None
        self._stream = _Stream([])
        on_sent, self.on_sent = self.on_sent, None
        if on_sent is not None:
            on_sent()

    @property
    def md5(self):
        chunks = self._chunks if self._chunks is not None else \
            self._reread()
        md5 = hashlib.md5(usedforsecurity=False)
        for chunk in chunks:
            md5.update(chunk)
        return md5.hexdigest()

    def close(self):
        self._let_go()


class _Writers(object):
    """Segments written ``count`` at once, each in a thread of its own.

    A segment counts as written from its PUT's start until its last byte
    is sent on to the object servers; up to ``count`` more may be waiting
    for Swift's answer meanwhile (the object servers store what they
    received), without their bytes. :meth:`reserve` waits for a free
    slot, so that at most ``count + 1`` parts are in memory: the ones
    being sent and the one being read.
    """

    def __init__(self, count, write):
        self._write = write
        self._slots = threading.Semaphore(count + 1)
        self._sending = threading.Semaphore(count)
        self._requests = threading.Semaphore(2 * count)
        self._threads = []
        self._errors = []

    def reserve(self):
        """Wait for room for one more part (before reading it)."""
        self._requests.acquire()
        self._slots.acquire()
        self.check()

    def submit(self, *args):
        """``write(*args)`` in a thread of its own; ``args[-1]`` is the
        part (a :class:`_Part`), closed afterwards.
        """
        thread = threading.Thread(target=self._run, args=args,
                                  name='cloudsync-migrate-part',
                                  daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run(self, *args):
        part = args[-1]
        lock = threading.Lock()
        held = {'slot': True, 'sending': False}

        def let_go():
            with lock:
                if held['sending']:
                    held['sending'] = False
                    self._sending.release()
                if held['slot']:
                    held['slot'] = False
                    self._slots.release()
        try:
            self._sending.acquire()
            with lock:
                held['sending'] = True
            part.on_sent = let_go
            self._write(*args)
        except BaseException as exc:  # noqa: BLE001 - raised by join()
            self._errors.append(exc)
        finally:
            part.close()
            let_go()
            self._requests.release()

    def check(self):
        """Raise the first failure of a write, if any."""
        if self._errors:
            raise self._errors[0]

    def join(self):
        for thread in self._threads:
            thread.join()
        self.check()


class PartsCopy(object):
    """Copies one S3 multipart object into ``container`` of ``migrator``
    (an :class:`~cloudsync.migrate.objects.ObjectMigrator`) as a static
    large object with the same parts.
    """

    def __init__(self, migrator, bucket, container, entry, segments):
        self.migrator = migrator
        self.source = migrator.source
        self.target = migrator.target
        self.bucket = bucket
        self.container = container
        self.entry = entry
        #: the container the segments go into
        self.segments = segments
        self.writers = max(1, int(getattr(migrator.migration,
                                          'part_writers', 1) or 1))

    def begin(self):
        """GET the object and find its part layout, asked for (from the
        listed size and ETag) while the GET is on its way rather than
        after it: a store may take as long to answer either (moto reads
        the whole object for each). The GET answers for the HEAD it
        replaces. When one part size is likely (:func:`likely_ranges`),
        the copy starts with it and the source's answer is compared
        before the second part.

        :returns: ``(body, ranges, confirm)`` for :meth:`copy`; ``ranges``
            None when the source cannot tell the object's parts.
        """
        listed = listed_info(self.entry)
        layout = concurrency.spawn(self.layout, listed, True)
        try:
            body = self.source.get(self.bucket, self.entry.key)
        except BaseException:
            wait_quietly(layout)
            raise
        info = body.info
        try:
            if (info.etag, info.size) != (listed.etag, listed.size):
                # NOTE: changed since it was listed: the layout of the
                # version the GET reads.
                wait_quietly(layout)
                return body, self.layout(info, guess=True), None
            ranges = likely_ranges(listed.size, listed.parts_count)
            if ranges:
                return body, ranges, layout
            return body, layout.wait(), None
        except BaseException:
            body.close()
            raise

    def abandon(self, body, confirm):
        """Give up a copy :meth:`begin` started."""
        body.close()
        if confirm is not None:
            wait_quietly(confirm)

    def layout(self, info, guess):
        """The object's part ranges (see
        :meth:`~cloudsync.migrate.source.MigrationSource.part_ranges`).
        """
        return self.source.part_ranges(self.bucket, self.entry.key, info,
                                       guess=guess)

    def copy(self, info, ranges, body, confirm=None):
        """Write the segments of source object ``info``, cut at
        ``ranges`` (from :meth:`layout`, maybe guessed), from ``body``
        (its GET, closed here).

        :param confirm: when ``ranges`` are only likely (see
            :func:`likely_ranges`), the green thread that asks the source
            for its layout: compared before a second part is written, and
            when it differs the copy starts again with it (a new GET).
        :returns: the manifest (``[{'path', 'etag', 'size_bytes'}]``).
        :raises ChecksumMismatch: the parts do not make the source's ETag.
        :raises Relayout: with ``confirm``, the source cannot tell its
            layout after all (``ranges`` is None).
        """
        try:
            return self._copy(info, ranges, body, confirm=None
                              if confirm is None
                              else _Confirmation(confirm, ranges))
        except Relayout as exc:
            if not exc.ranges:
                self.target.delete(self.segments, segment_name(
                    self.entry.key, info.etag, 1))
                raise
            return self.copy(info, exc.ranges, self._get())
        except Mismatch:
            exact = self.layout(info, guess=False)
            if not exact or exact == ranges:
                raise
        return self._copy(info, exact, self._get())

    def _get(self):
        return self.source.get(self.bucket, self.entry.key)

    def _copy(self, info, ranges, body, confirm=None):
        key = self.entry.key
        try:
            if body.info.etag != info.etag:
                raise exceptions.PreconditionFailed(
                    '%s/%s changed while it was read' % (self.bucket, key))
            stream = _Stream(body)
            names = [segment_name(key, info.etag, number)
                     for number in range(1, len(ranges) + 1)]
            lengths = [length for _offset, length in ranges]
            if self.writers > 1 and max(lengths) <= MAX_BUFFERED_PART:
                md5s = self._write_buffered(info, stream, names, ranges,
                                            confirm)
            else:
                md5s = []
                for name, length in zip(names, lengths):
                    if md5s and confirm is not None:
                        confirm.check()
                    md5s.append(self._write_streamed(
                        name, _Slice(stream, length), length))
        finally:
            body.close()
            if confirm is not None:
                confirm.settle()
        etag = large_objects.multipart_etag(md5s)
        if '-' in info.etag and etag != info.etag:
            raise Mismatch(
                '%s/%s: the parts copied make ETag %s, the source has %s' % (
                    self.bucket, key, etag, info.etag))
        return [{'path': '/%s/%s' % (self.segments, name), 'etag': md5,
                 'size_bytes': length}
                for name, md5, length in zip(names, md5s, lengths)]

    def _write_buffered(self, info, stream, names, ranges, confirm=None):
        md5s = [None] * len(names)

        def write(index, part):
            md5s[index] = self._put(names[index], part, trust_swift=True)

        writers = _Writers(self.writers, write)
        try:
            for index, (offset, length) in enumerate(ranges):
                if index and confirm is not None:
                    confirm.check()
                writers.reserve()
                part = _Part(stream.read(length), reread=functools.partial(
                    self._reread, info, index + 1, offset, length))
                if part.bytes != length:
                    part.close()
                    raise exceptions.ChecksumMismatch(
                        '%s/%s: part %d is %d bytes, the source gave %d' % (
                            self.bucket, self.entry.key, index + 1, length,
                            part.bytes))
                writers.submit(index, part)
        finally:
            writers.join()
        return md5s

    def _reread(self, info, number, offset, length):
        """Part ``number`` of source object ``info`` (at ``offset``,
        ``length`` bytes) read again from the source, to write its
        segment again: chunks.
        """
        body = self.source.get(self.bucket, self.entry.key,
                               range='bytes=%d-%d' % (offset,
                                                      offset + length - 1))
        try:
            if body.info.etag != info.etag:
                raise exceptions.PreconditionFailed(
                    '%s/%s changed while it was read' % (self.bucket,
                                                         self.entry.key))
            chunks = [chunk for chunk in body if chunk]
        finally:
            body.close()
        got = sum(len(chunk) for chunk in chunks)
        if got != length:
            raise exceptions.ChecksumMismatch(
                '%s/%s: part %d read again is %d bytes, not %d' % (
                    self.bucket, self.entry.key, number, got, length))
        return chunks

    def _write_streamed(self, name, reader, length):
        return self._put(name, reader, length=length)

    def _put(self, name, reader, length=None, trust_swift=False):
        """PUT one segment from ``reader``; its MD5, checked.

        A :class:`_Slice` hashes what it streams, and Swift's ETag must be
        that MD5. With ``trust_swift`` (a :class:`_Part`, still in memory),
        the MD5 of the bytes is the ETag Swift computed as it stored them,
        and hashed here only when Swift gives none: either way, the MD5s
        of the segments must then make the source's multipart ETag.
        """
        length = reader.bytes if length is None else length
        headers = {'Content-Type': 'application/octet-stream',
                   'Content-Length': str(length)}
        resp = self.target.put(self.segments, name, headers, reader)
        stored = (resp.get('etag') or '').strip('"').lower()
        if trust_swift and _HEX_MD5.match(stored):
            md5 = stored
        else:
            md5 = reader.md5
        if reader.bytes != length or (stored and stored != md5):
            raise exceptions.ChecksumMismatch(
                'PUT %s/%s: %d bytes of %d sent, Swift stored ETag %s, not '
                '%s' % (self.segments, name, reader.bytes, length, stored,
                        md5))
        return md5
