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
"""The ``dirstore`` provider: buckets are directories on a local disk.

::

    [remote:disk]
    provider = dirstore
    root = /srv/cloudsync-copies

Each object is two files in ``<root>/<bucket>/``, named by the SHA-256 of
its key: ``.data`` (the bytes) and ``.json`` (key, size, ETag, content
type, metadata, time). A third-party provider of cloudsync, written only
against :mod:`cloudsync.providers` and :mod:`cloudsync.exceptions`.
"""

import email.utils
import hashlib
import json
import os
import re
import tempfile
import threading
import time

from oslo_config import cfg

from cloudsync import exceptions
from cloudsync import providers

CHUNK = 64 * 1024
_RANGE = re.compile(r'^bytes=(\d*)-(\d*)$')


def _md5_hex(data=b''):
    return hashlib.md5(data, usedforsecurity=False)


class DirStoreProvider(providers.Provider):
    """Objects as files, for tests and small setups."""

    OPTIONS = [
        cfg.StrOpt('root', help='The directory that holds one directory '
                                'per bucket.'),
    ]
    MIN_PART_SIZE = 1

    def __init__(self, name, conf, max_connections=10):
        super().__init__(name, conf, max_connections=max_connections)
        self._lock = threading.Lock()

    @classmethod
    def validate_conf(cls, conf):
        if not conf.root:
            return ['root: missing; the directory that holds the buckets']
        if not os.path.isdir(conf.root):
            return ['root: %s is not a directory' % conf.root]
        return []

    def location(self, bucket):
        return 'dirstore;%s' % bucket

    # -- files -------------------------------------------------------------

    def _dir(self, bucket):
        path = os.path.join(self.conf.root, bucket)
        if not os.path.isdir(path):
            raise exceptions.TargetNotFound(
                'remote %s: bucket %s does not exist' % (self.name, bucket))
        return path

    def _paths(self, bucket, key):
        base = os.path.join(self._dir(bucket), hashlib.sha256(
            key.encode('utf-8', 'surrogateescape')).hexdigest())
        return base + '.data', base + '.json'

    def _record(self, bucket, key):
        _, meta = self._paths(bucket, key)
        try:
            with open(meta) as f:
                return json.load(f)
        except FileNotFoundError:
            raise exceptions.NotFound('remote %s: %s/%s: no such object'
                                      % (self.name, bucket, key))

    def _info(self, record):
        return providers.ObjectInfo(
            key=record['key'], size=record['size'], etag=record['etag'],
            last_modified=record['time'],
            content_type=record['content_type'],
            metadata=dict(record['metadata']),
            parts_count=record.get('parts'),
            expires_at=record.get('expires_at'))

    def _store(self, bucket, key, chunks, size, content_type, metadata,
               etag_of, expires_at, parts=None):
        data_path, meta_path = self._paths(bucket, key)
        folder = os.path.dirname(data_path)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix='.tmp')
        written = 0
        try:
            with os.fdopen(fd, 'wb') as f:
                for chunk in chunks:
                    f.write(chunk)
                    written += len(chunk)
            if written != size:
                raise exceptions.ChecksumMismatch(
                    'remote %s: %s/%s: got %d bytes, not %d' % (
                        self.name, bucket, key, written, size))
            etag = etag_of()
            record = {'key': key, 'size': size, 'etag': etag,
                      'content_type': content_type or
                      'application/octet-stream',
                      'metadata': dict(metadata or {}), 'time': time.time(),
                      'parts': parts, 'expires_at': expires_at}
            with self._lock:
                os.replace(tmp, data_path)
                self._write_json(meta_path, record)
            return etag
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @staticmethod
    def _write_json(path, record):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix='.tmp')
        with os.fdopen(fd, 'w') as f:
            json.dump(record, f)
        os.replace(tmp, path)

    @staticmethod
    def _read(stream, size, digest):
        if isinstance(stream, (bytes, bytearray)):
            digest.update(stream)
            yield bytes(stream)
            return
        left = size
        while left > 0:
            data = stream.read(min(CHUNK, left))
            if not data:
                return
            digest.update(data)
            left -= len(data)
            yield data

    # -- the provider interface --------------------------------------------

    def check_target(self, bucket, create=False):
        path = os.path.join(self.conf.root, bucket)
        if not os.path.isdir(path):
            if not create:
                raise exceptions.TargetNotFound(
                    'remote %s: bucket %s does not exist'
                    % (self.name, bucket))
            os.makedirs(path, exist_ok=True)

    def put_object(self, bucket, key, body, size, content_type=None,
                   metadata=None, md5=None, expires_at=None):
        digest = _md5_hex()

        def etag_of():
            if md5 and digest.hexdigest() != md5.lower():
                raise exceptions.ChecksumMismatch(
                    'remote %s: %s/%s: MD5 %s, not %s' % (
                        self.name, bucket, key, digest.hexdigest(), md5))
            return digest.hexdigest()
        return self._store(bucket, key, self._read(body, size, digest),
                           size, content_type, metadata, etag_of,
                           expires_at)

    def put_multipart(self, bucket, key, parts, content_type=None,
                      metadata=None, expires_at=None):
        parts = sorted(parts, key=lambda p: p.number)
        md5s = []

        def chunks():
            for part in parts:
                digest = _md5_hex()
                stream = part.open()
                try:
                    yield from self._read(stream, part.size, digest)
                finally:
                    close = getattr(stream, 'close', None)
                    if close:
                        close()
                if part.md5 and digest.hexdigest() != part.md5.lower():
                    raise exceptions.ChecksumMismatch(
                        'remote %s: %s/%s: part %d has MD5 %s, not %s' % (
                            self.name, bucket, key, part.number,
                            digest.hexdigest(), part.md5))
                md5s.append(digest.digest())

        def etag_of():
            return '%s-%d' % (_md5_hex(b''.join(md5s)).hexdigest(),
                              len(md5s))
        return self._store(bucket, key, chunks(),
                           sum(p.size for p in parts), content_type,
                           metadata, etag_of, expires_at, len(parts))

    def update_metadata(self, bucket, key, content_type=None, metadata=None):
        with self._lock:
            record = self._record(bucket, key)
            if content_type:
                record['content_type'] = content_type
            record['metadata'] = dict(metadata or {})
            self._write_json(self._paths(bucket, key)[1], record)
        return record['etag']

    def delete_object(self, bucket, key):
        with self._lock:
            found = False
            for path in self._paths(bucket, key):
                try:
                    os.unlink(path)
                    found = True
                except FileNotFoundError:
                    pass
        return found

    def head_object(self, bucket, key):
        return self._info(self._record(bucket, key))

    def get_object(self, bucket, key, range=None, if_match=None,
                   if_none_match=None, if_modified_since=None,
                   if_unmodified_since=None):
        info = self.head_object(bucket, key)
        etag = '"%s"' % info.etag
        since = email.utils.parsedate_to_datetime
        if if_match and etag not in [v.strip() for v in if_match.split(',')]:
            raise exceptions.PreconditionFailed('precondition failed',
                                                status=412)
        if if_unmodified_since and int(info.last_modified) > \
                since(if_unmodified_since).timestamp():
            raise exceptions.PreconditionFailed('precondition failed',
                                                status=412)
        if if_none_match and etag in [v.strip()
                                      for v in if_none_match.split(',')]:
            raise exceptions.NotModified('not modified', status=304)
        if if_modified_since and int(info.last_modified) <= \
                since(if_modified_since).timestamp():
            raise exceptions.NotModified('not modified', status=304)
        first, last, status, content_range = 0, info.size - 1, 200, None
        if range:
            match = _RANGE.match(range.strip())
            if not match or match.groups() == ('', ''):
                raise exceptions.RangeNotSatisfiable('bad range', status=416)
            start, end = match.groups()
            if start == '':
                first = max(0, info.size - int(end))
            else:
                first = int(start)
                last = min(last, int(end)) if end else last
            if first >= info.size or first > last:
                raise exceptions.RangeNotSatisfiable(
                    'range not satisfiable', status=416)
            status = 206
            content_range = 'bytes %d-%d/%d' % (first, last, info.size)
        data_path, _ = self._paths(bucket, key)
        f = open(data_path, 'rb')
        f.seek(first)

        def chunks():
            left = last - first + 1
            while left > 0:
                data = f.read(min(CHUNK, left))
                if not data:
                    break
                left -= len(data)
                yield data
        return providers.ObjectBody(
            info, chunks(), status=status, content_range=content_range,
            content_length=max(0, last - first + 1), close=f.close)

    def list_objects(self, bucket, prefix='', delimiter=None, marker=None,
                     limit=1000):
        folder = self._dir(bucket)
        keys = []
        for name in os.listdir(folder):
            if name.endswith('.json'):
                try:
                    with open(os.path.join(folder, name)) as f:
                        keys.append(json.load(f))
                except (OSError, ValueError):
                    continue
        keys.sort(key=lambda r: r['key'])
        entries, seen = [], set()
        prefix = prefix or ''
        for record in keys:
            key = record['key']
            if not key.startswith(prefix) or (marker and key <= marker):
                continue
            if delimiter:
                at = key.find(delimiter, len(prefix))
                if at >= 0:
                    common = key[:at + len(delimiter)]
                    if common not in seen and not (
                            marker and common <= marker):
                        seen.add(common)
                        entries.append(providers.ListingEntry(
                            key=common, is_prefix=True))
                    continue
            entries.append(providers.ListingEntry(
                key=key, size=record['size'], etag=record['etag'],
                last_modified=record['time']))
        truncated = len(entries) > limit
        entries = entries[:limit]
        return providers.ListingPage(
            entries=entries, truncated=truncated,
            next_marker=entries[-1].key if truncated else None)
