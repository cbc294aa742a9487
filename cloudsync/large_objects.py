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
"""Swift large objects as byte streams for the remote.

The sync daemon copies a Swift large object as the bytes a client reading
it through Swift would get:

* a **static large object** (SLO) is read from its raw manifest, a JSON
  list of segments (``name``, ``bytes``, ``hash``, optional ``range``,
  inline ``data``, ``sub_slo`` for a nested SLO). When its segments fit
  the remote's multipart rules (every segment but the last at least the
  remote's minimum part size, none above the maximum, no ranges, no inline
  data, no nested SLOs, not too many) each segment becomes one part of a
  multipart upload, so the remote ETag is predictable; otherwise the
  concatenated bytes are cut again into parts of a valid size.
* a **dynamic large object** (DLO) is the concatenation of the objects
  listed under its ``X-Object-Manifest`` prefix, in listing order.

Everything here is independent of the remote: a :class:`Piece` says which
bytes of which Swift object make up part of a large object, and
:class:`PieceReader` streams any byte range of a list of pieces through a
``fetch`` function that the caller supplies (the daemon's is a GET through
Swift's internal client).
"""

import base64
import binascii
import dataclasses
import hashlib
import json
import re
import typing

from swift.common import swob

from cloudsync import metadata as md

MiB = 1024 * 1024
#: part size used when a provider does not plan its own parts
DEFAULT_PART_SIZE = 16 * MiB
#: how deep SLOs may nest, as in Swift's SLO middleware
MAX_SLO_DEPTH = 10

_SWIFT_BYTES = re.compile(r'\s*;\s*swift_bytes=\d+', re.IGNORECASE)


class InvalidLargeObject(Exception):
    """A manifest cannot be read or describes bytes that cannot exist.
    """


class LocalReadError(Exception):
    """Reading from the local cluster failed.

    :param status: the HTTP status Swift answered, None when no answer came.
    """

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def strip_swift_bytes(content_type):
    """A Content-Type without the ``swift_bytes`` parameter Swift adds to
    SLO manifests (other parameters are kept exactly as they were).
    """
    return _SWIFT_BYTES.sub('', content_type or '')


def normalize_etag(etag):
    """An ETag without quotes, lower-case; '' for None."""
    return swob.normalize_etag(etag or '').lower() if etag else ''


def multipart_etag(md5_hex_list):
    """The ETag S3 gives an object uploaded in parts with these MD5s:
    ``md5(concatenated binary MD5s)-N``.
    """
    digest = hashlib.md5(usedforsecurity=False)
    for md5_hex in md5_hex_list:
        digest.update(binascii.unhexlify(normalize_etag(md5_hex)))
    return '%s-%d' % (digest.hexdigest(), len(md5_hex_list))


def is_multipart_etag(etag):
    return bool(re.match(r'^[0-9a-f]{32}-\d+$', etag or ''))


def slo_etag(entries):
    """The ETag Swift shows clients for an SLO made of manifest ``entries``.

    The formula of Swift's SLO middleware: the MD5 of the concatenated
    segment ETags, where a ranged segment counts as ``hash:range;`` and an
    inline data segment as the MD5 of its bytes.
    """
    digest = hashlib.md5(usedforsecurity=False)
    for entry in entries:
        if 'data' in entry:
            value = hashlib.md5(base64.b64decode(entry['data']),
                                usedforsecurity=False).hexdigest()
        elif entry.get('range'):
            value = '%s:%s;' % (entry['hash'], entry['range'])
        else:
            value = entry['hash']
        digest.update(value.encode('ascii'))
    return digest.hexdigest()


def dlo_etag(hashes):
    """The ETag Swift shows clients for a DLO with these segment ETags.
    """
    digest = hashlib.md5(usedforsecurity=False)
    for value in hashes:
        digest.update(normalize_etag(value).encode('ascii'))
    return digest.hexdigest()


@dataclasses.dataclass
class Piece:
    """A run of bytes of a large object: part of one Swift object, or
    inline data.

    ``offset`` and ``length`` select the bytes within the object of
    ``size`` bytes; ``etag`` is that object's ETag (checked with If-Match
    when it is read). ``policy`` is the storage policy index to send, or
    None to let Swift use the container's.
    """

    container: typing.Optional[str] = None
    obj: typing.Optional[str] = None
    offset: int = 0
    length: int = 0
    size: int = 0
    etag: typing.Optional[str] = None
    data: typing.Optional[bytes] = None
    policy: typing.Optional[int] = None

    @property
    def whole(self):
        """True when the piece is a whole Swift object.
        """
        return (self.data is None and self.offset == 0 and
                self.length == self.size)

    @property
    def path(self):
        return '%s/%s' % (self.container, self.obj)


def total_size(pieces):
    return sum(p.length for p in pieces)


def slice_pieces(pieces, start, length):
    """The pieces that hold bytes ``[start, start + length)`` of
    ``pieces``' concatenation.
    """
    result = []
    end = start + length
    pos = 0
    for piece in pieces:
        p_start, p_end = pos, pos + piece.length
        pos = p_end
        lo, hi = max(start, p_start), min(end, p_end)
        if lo >= hi:
            continue
        if piece.data is not None:
            result.append(dataclasses.replace(
                piece, data=piece.data[lo - p_start:hi - p_start],
                offset=0, length=hi - lo, size=hi - lo))
        else:
            result.append(dataclasses.replace(
                piece, offset=piece.offset + lo - p_start, length=hi - lo))
    return result


def parse_range(spec, size):
    """``(offset, length)`` of a manifest segment range such as ``1-4``,
    ``-5`` or ``10-`` within an object of ``size`` bytes.
    """
    try:
        ranges = swob.Range('bytes=%s' % spec).ranges_for_length(size)
    except ValueError:
        ranges = None
    if not ranges or len(ranges) != 1:
        raise InvalidLargeObject('the range %r does not fit a segment of %d '
                                 'bytes' % (spec, size))
    first, end = ranges[0]
    return first, end - first


def load_manifest(raw):
    """The entries of a raw SLO manifest (the stored JSON)."""
    try:
        entries = json.loads(raw)
    except ValueError as exc:
        raise InvalidLargeObject('the manifest is not JSON: %s' % exc)
    if not isinstance(entries, list):
        raise InvalidLargeObject('the manifest is not a list')
    for entry in entries:
        if not isinstance(entry, dict):
            raise InvalidLargeObject('a manifest entry is not an object')
        if 'data' in entry:
            continue
        if not isinstance(entry.get('name'), str) or \
                '/' not in entry['name'].lstrip('/'):
            raise InvalidLargeObject('a manifest entry has no valid name: '
                                     '%r' % (entry.get('name'),))
        if not isinstance(entry.get('bytes'), int) or \
                not isinstance(entry.get('hash'), str):
            raise InvalidLargeObject('segment %s has no size or ETag'
                                     % entry['name'])
    return entries


def split_segment_name(name):
    container, obj = name.lstrip('/').split('/', 1)
    return container, obj


def manifest_pieces(entries, load_sub=None, depth=0):
    """The pieces of an SLO with manifest ``entries``.

    :param load_sub: called as ``load_sub(container, obj)`` for a nested
        SLO segment; returns that SLO's manifest entries, or None when the
        segment turned out not to be an SLO. Without it a nested SLO is an
        error.
    """
    if depth > MAX_SLO_DEPTH:
        raise InvalidLargeObject('SLOs are nested more than %d deep'
                                 % MAX_SLO_DEPTH)
    pieces = []
    for entry in entries:
        if 'data' in entry:
            try:
                data = base64.b64decode(entry['data'])
            except (TypeError, ValueError, binascii.Error):
                raise InvalidLargeObject('an inline data segment is not '
                                         'base64')
            pieces.append(Piece(data=data, length=len(data),
                                size=len(data)))
            continue
        container, obj = split_segment_name(entry['name'])
        size = entry['bytes']
        sub = None
        if entry.get('sub_slo'):
            if load_sub is None:
                raise InvalidLargeObject('segment %s/%s is itself an SLO'
                                         % (container, obj))
            sub_entries = load_sub(container, obj)
            if sub_entries is not None:
                sub = manifest_pieces(sub_entries, load_sub, depth + 1)
                size = total_size(sub)
        if entry.get('range'):
            offset, length = parse_range(entry['range'], size)
        else:
            offset, length = 0, size
        if sub is not None:
            pieces.extend(slice_pieces(sub, offset, length))
        else:
            pieces.append(Piece(container=container, obj=obj, offset=offset,
                                length=length, size=entry['bytes'],
                                etag=normalize_etag(entry['hash'])))
    return pieces


def one_part_per_segment(entries, min_part, max_part, max_parts):
    """Whether an SLO's segments can be the parts of a multipart upload
    as they are: the remote ETag is then predictable from the manifest.
    """
    if not entries or len(entries) > max_parts:
        return False
    for index, entry in enumerate(entries):
        if 'data' in entry or entry.get('range') or entry.get('sub_slo'):
            return False
        size = entry['bytes']
        if size > max_part or size <= 0:
            return False
        if index < len(entries) - 1 and size < min_part:
            return False
    return True


def plan_parts(size, min_part, max_part, max_parts,
               part_size=DEFAULT_PART_SIZE):
    """``[(offset, length)]`` cutting ``size`` bytes into valid parts."""
    part_size = max(min_part, min(int(part_size), max_part))
    if size > part_size * max_parts:
        part_size = -(-size // max_parts)
        part_size = -(-part_size // MiB) * MiB
        if part_size > max_part:
            raise InvalidLargeObject('%d bytes need more than %d parts'
                                     % (size, max_parts))
    if size == 0:
        return [(0, 0)]
    return [(offset, min(part_size, size - offset))
            for offset in range(0, size, part_size)]


class PieceReader:
    """A file-like reader of bytes ``[start, start + length)`` of the
    concatenation of ``pieces``.

    ``fetch(piece)`` returns an iterable of the piece's bytes (with a
    ``close``) — the caller's GET with a Range. Nothing is read until the
    first :meth:`read`. The reader can seek (by fetching again from the
    new position), so a request can be sent again after a failure. It
    checks that every piece yields exactly its length, and keeps the MD5
    of what it read from the start (:attr:`md5`, once read to the end).

    With ``digest`` False no MD5 is computed (:attr:`md5` stays None): for
    bytes whose MD5 the caller already has and sends as Content-MD5, so
    that the store checks them, hashing them here too is CPU for nothing.
    """

    def __init__(self, fetch, pieces, start=0, length=None, digest=True):
        self._fetch = fetch
        self._want_digest = digest
        self._pieces = pieces
        self._start = start
        self.length = (total_size(pieces) - start if length is None
                       else length)
        self._pos = 0
        self._gen = None
        self._buf = b''
        self._body = None
        self._digest = None
        self.md5 = None

    def _generate(self, pos):
        for piece in slice_pieces(self._pieces, self._start + pos,
                                  self.length - pos):
            if piece.data is not None:
                yield piece.data
                continue
            body = self._fetch(piece)
            self._body = body
            got = 0
            try:
                for chunk in body:
                    if not chunk:
                        continue
                    if got + len(chunk) > piece.length:
                        raise LocalReadError(
                            '%s sent more than the %d bytes asked for'
                            % (piece.path, piece.length))
                    got += len(chunk)
                    yield chunk
            finally:
                self._body = None
                close = getattr(body, 'close', None)
                if close:
                    close()
            if got != piece.length:
                raise LocalReadError('%s ended after %d of %d bytes'
                                     % (piece.path, got, piece.length))

    def read(self, n=-1):
        if self._gen is None:
            self._gen = self._generate(self._pos)
            self._digest = (hashlib.md5(usedforsecurity=False)
                            if self._pos == 0 and self._want_digest
                            else None)
        remaining = self.length - self._pos
        if n is None or n < 0 or n > remaining:
            n = remaining
        out = []
        have = 0
        while have < n:
            if self._buf:
                take = self._buf[:n - have]
                self._buf = self._buf[len(take):]
                out.append(take)
                have += len(take)
                continue
            try:
                self._buf = next(self._gen)
            except StopIteration:
                break
        data = b''.join(out)
        self._pos += len(data)
        if self._digest is not None:
            self._digest.update(data)
            if self._pos == self.length:
                self.md5 = self._digest.hexdigest()
        return data

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._pos

    def seek(self, offset, whence=0):
        if whence == 1:
            offset += self._pos
        elif whence == 2:
            offset += self.length
        if offset < 0:
            raise ValueError('negative seek position %d' % offset)
        if offset != self._pos or self._gen is not None:
            self.close()
            self._pos = min(offset, self.length)
        return self._pos

    def close(self):
        if self._gen is not None:
            self._gen.close()
            self._gen = None
        self._buf = b''
        self._digest = None

    def read_all(self):
        try:
            data = self.read()
            if len(data) != self.length:
                raise LocalReadError('read %d of %d bytes'
                                     % (len(data), self.length))
            return data
        finally:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


#: ranges of one multi-range request at most this far apart are read with
#: one remote GET (the bytes between them are read and dropped)
RANGE_GAP = 1 * MiB


def range_spans(ranges, max_gap=RANGE_GAP):
    """The remote GETs that serve a multi-range request, in its order.

    :param ranges: swob's ``[(start, stop)]`` (stop excluded), in the order
        of the request; swob has checked them as Swift does (at most
        ``MAX_RANGES``, few overlaps, few out of order).
    :returns: ``([(start, stop)], [index of the span of each range])``:
        consecutive ranges that ascend without overlapping, at most
        ``max_gap`` bytes apart, share one span.
    """
    spans, owners = [], []
    for start, stop in ranges:
        if spans and spans[-1][1] <= start <= spans[-1][1] + max_gap:
            spans[-1] = (spans[-1][0], stop)
        else:
            spans.append((start, stop))
        owners.append(len(spans) - 1)
    return spans, owners


def multi_range_body(fetch, ranges, content_type, boundary, size,
                     max_gap=RANGE_GAP):
    """A ``multipart/byteranges`` body read with one GET per span.

    :param fetch: ``fetch(start, stop)``, an iterable of the object's
        bytes ``[start, stop)`` with a ``close()``: the caller's ranged
        GET.
    :param ranges: swob's ranges, as for :func:`range_spans`.
    """
    if not isinstance(content_type, bytes):
        content_type = content_type.encode('utf-8')
    if not isinstance(boundary, bytes):
        boundary = boundary.encode('ascii')
    spans, owners = range_spans(ranges, max_gap)
    state = {'next': 0, 'span': None, 'body': None, 'chunks': None,
             'pos': 0, 'buf': b''}

    def close():
        body, state['body'] = state['body'], None
        if body is not None:
            body.close()

    def read_range(start, stop):
        span = owners[state['next']]
        state['next'] += 1
        if span != state['span']:
            close()
            state.update(span=span, pos=spans[span][0], buf=b'')
            state['body'] = fetch(*spans[span])
            state['chunks'] = iter(state['body'])
        while state['pos'] < stop:
            if not state['buf']:
                state['buf'] = next(state['chunks'], b'')
                if not state['buf']:
                    raise IOError('the remote ended the bytes %d-%d at %d'
                                  % (spans[span][0], spans[span][1] - 1,
                                     state['pos']))
            take = min(len(state['buf']), stop - state['pos'])
            piece, state['buf'] = state['buf'][:take], state['buf'][take:]
            if state['pos'] + take > start:
                yield piece[max(0, start - state['pos']):]
            state['pos'] += take

    try:
        for chunk in swob.multi_range_iterator(ranges, content_type,
                                               boundary, size, read_range):
            yield chunk
    finally:
        close()


def remove_dlo_segments(provider, bucket, layout, info,
                        local_segments_left):
    """Delete the remote segments of the DLO copy ``info`` (about to be
    deleted) when the local ones it was copied from are gone too (as
    ``swift delete`` of a DLO leaves them), since nothing else would
    remove them. Segments that are still there locally may be read by
    another DLO (a copy of the manifest): the remote keeps them too, as
    Swift does. Only a copy cloudsync wrote, whose ``X-Object-Manifest``
    names the namespace :meth:`~cloudsync.layout.RemoteLayout.dlo_key`
    gives its ``cloudsync-dlo-source``, loses its segments.

    The sync daemon calls this when it propagates a delete, the cloud
    shunt when it deletes an archived DLO's remote copy.

    :param local_segments_left: ``f(container, prefix)``, true when Swift
        lists objects under ``prefix`` in local ``container``.
    :returns: how many remote segments were deleted.
    """
    if not info.dlo_manifest or not provider.KEEPS_DLO:
        return 0
    source = md.internal_values(info.metadata).get(md.DLO_SOURCE_KEY)
    if not source or '/' not in source:
        return 0
    container, prefix = source.split('/', 1)
    if info.dlo_manifest != provider.dlo_manifest(
            bucket, layout.dlo_key(container, prefix)):
        return 0
    if local_segments_left(container, prefix):
        return 0
    return provider.delete_dlo_segments(bucket, info.dlo_manifest)
