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
"""Writing an archived object back into Swift while a client reads it.

With ``restore_object = true`` on its mapping, the cloud shunt answers a
whole-object GET of an archived object from the remote and, as the bytes
go to the client, writes them into Swift again through the rest of the
proxy pipeline (a "tee"): each chunk the client is sent is also queued to
a PUT that runs in its own green thread.

* A plain object is one PUT with its original Content-Type, user metadata,
  ``X-Delete-At``, ETag and Content-Length, and a timestamp that keeps its
  ``X-Timestamp`` and ``Last-Modified`` (see :func:`restore_timestamp`).
  Swift checks the ETag and the length: a body that is cut short or
  altered is refused, never stored.
* A static large object is restored from its manifest, which the daemon
  keeps beside the object on the remote: each segment is PUT back to its
  own path (with ``If-None-Match: *``, so a segment still in Swift is kept
  as it is, and with its ETag), its container created first if it is
  gone, then the manifest with ``?multipart-manifest=put`` and the SLO's
  ETag, so that Swift's SLO middleware checks every segment. An SLO
  without that manifest, or with ranged, inline-data or nested segments,
  is only streamed.
* A dynamic large object is not restored, only streamed: archiving
  removed its segments from Swift (unless ``retain_local_segments``), so
  its manifest written back would read other bytes than the archived
  ones, or none, and would hide the remote copy, which stays the object;
  writing the concatenated bytes back instead would turn the DLO into a
  plain object.
* Only what the request asked for is written on the operator's behalf:
  the object itself, and an SLO's manifest at the object's path. An SLO
  is restored only from a manifest that
  :func:`cloudsync.remote_manifest.trusted_entries` accepts, and its
  segments, and their containers when they are missing, are written with
  the reading client's own rights (its ``swift.authorize``): a client
  that may not write a segment, or create its container, gets the object
  streamed and nothing is restored. Whoever writes to the bucket decides
  what a manifest names; a read never writes where its client could not.
* An object is restored by one request at a time (:func:`claim`): a
  marker in memcache (``swift.cache``) while the restore runs, and a set
  of the objects this proxy process is restoring; a second reader is
  served from the remote without restoring.
* A client that disconnects before the end aborts the restore: the PUT in
  progress reads an error instead of the rest of the body and fails (so
  nothing partial is stored), and its green thread is waited for; one that
  does not end within ``restore_timeout`` seconds is killed. A restore
  that fails is logged; the client's download is not affected.

The object's own writes are made on the operator's behalf (the client was
already allowed to read the object): they are not subject to the client's
write permissions. Every write carries ``X-Cloudsync-Shunt-Bypass: true``.
"""

import hashlib
import json

import eventlet
from eventlet import queue as eventlet_queue
from swift.common import exceptions as swift_exceptions
from swift.common import swob
from swift.common import utils as swift_utils
from swift.common import wsgi as swift_wsgi

BYPASS_HEADER = 'X-Cloudsync-Shunt-Bypass'
#: the WSGI environment key that asks the shunt to restore the object a
#: whole GET reads, whatever ``restore_object`` says (``cloudsync-restore``
#: sets it; a client cannot)
EXPLICIT_RESTORE = 'cloudsync.restore'
#: chunks queued between the client's stream and the restore PUT
QUEUE_DEPTH = 16
#: seconds the restore may take after the client's stream ended
RESTORE_TIMEOUT = 60.0
SWIFT_SOURCE = 'CSR'
#: seconds a restore marker lives in memcache beyond ``restore_timeout``
#: (a proxy that died while restoring does not block restores longer)
CLAIM_MARGIN = 300.0

#: the objects this process is restoring
_RESTORING = set()


def requested(env):
    """Whether the request asks for a restore itself (see
    :data:`EXPLICIT_RESTORE`).
    """
    return bool(env.get(EXPLICIT_RESTORE))


def claim(env, path, ttl):
    """Claim the restore of the object at ``path``.

    :param env: the client request's environment (its ``swift.cache``).
    :param path: the object's quoted path.
    :param ttl: seconds the memcache marker lives at most.
    :returns: a function that releases the claim, or None when another
        request restores the object already.
    """
    if path in _RESTORING:
        return None
    cache = env.get('swift.cache')
    key = 'cloudsync/restore/%s' % hashlib.sha256(
        path.encode('utf-8', 'surrogateescape')).hexdigest()
    held = False
    if cache is not None:
        try:
            if cache.incr(key, delta=1, time=int(ttl)) != 1:
                return None
            held = True
        except Exception:  # noqa: BLE001 - memcache down: this process only
            held = False
    _RESTORING.add(path)

    def release():
        _RESTORING.discard(path)
        if held:
            try:
                cache.delete(key)
            except Exception:  # noqa: BLE001 - the marker expires
                pass
    return release


_EOF = object()


class RestoreAborted(swift_exceptions.ChunkReadError):
    """The client went away: the restore must not complete.

    Swift's proxy takes it as a client that disconnected during an upload
    (499): nothing is stored.
    """


def restore_timestamp(original, tombstone=None):
    """The X-Timestamp a restored object is written with.

    The object keeps its original timestamp, so ``X-Timestamp`` and
    ``Last-Modified`` stay what they were. Swift refuses a write older than
    the object's tombstone (the archive's delete), so when the tombstone is
    as recent, the restore uses the tombstone's time with a higher
    internal offset: offsets are not shown to clients.

    :param original: the object's :class:`~swift.common.utils.Timestamp`.
    :param tombstone: the ``X-Backend-Timestamp`` of Swift's 404, if any.
    """
    if tombstone is not None and tombstone >= original:
        return swift_utils.Timestamp(tombstone, offset=1)
    return original


class _Source(object):
    """The bytes the client is sent, as the restore PUTs read them."""

    def __init__(self, depth):
        self.queue = eventlet_queue.Queue(depth)
        self.aborted = False
        self.ended = False
        self._buffer = b''

    def read(self, size):
        while not self._buffer:
            if self.aborted:
                raise RestoreAborted('the client disconnected')
            if self.ended:
                return b''
            item = self.queue.get()
            if item is _EOF:
                self.ended = True
            elif item is not None:
                self._buffer = item
        if self.aborted:
            raise RestoreAborted('the client disconnected')
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


class _Input(object):
    """``wsgi.input`` of one restore PUT: exactly ``size`` bytes."""

    def __init__(self, source, size):
        self.source = source
        self.remaining = size

    def read(self, size=-1):
        if size is None or size < 0:
            chunks = []
            while True:
                chunk = self.read(self.remaining)
                if not chunk:
                    return b''.join(chunks)
                chunks.append(chunk)
        if self.remaining <= 0 or size == 0:
            return b''
        data = self.source.read(min(size, self.remaining))
        self.remaining -= len(data)
        return data

    def readline(self, size=-1):
        return self.read(size)

    def skip(self):
        """Read and drop what the PUT did not read."""
        while self.remaining > 0 and self.read(65536):
            pass


class Piece(object):
    """One object PUT whose body is the next ``size`` bytes of the stream.

    :param path: the quoted WSGI path (``/v1/AUTH_a/c/o``).
    :param present_ok: a 412 (``If-None-Match: *`` found the object
        already there) counts as success; its bytes are skipped.
    :param as_client: written with the client's own rights, not the
        operator's (an SLO's segments).
    """

    def __init__(self, path, size, headers, present_ok=False,
                 as_client=False):
        self.path = path
        self.size = size
        self.headers = headers
        self.present_ok = present_ok
        self.as_client = as_client


class Plan(object):
    """What a restore writes: containers, streamed pieces, a manifest."""

    def __init__(self, name, pieces, containers=(), manifest=None):
        #: the object's path for log lines
        self.name = name
        self.pieces = list(pieces)
        #: quoted WSGI paths of containers to create when missing (with
        #: the client's rights)
        self.containers = list(containers)
        #: ``(path, body, headers)`` of a manifest PUT, or None
        self.manifest = manifest


def _headers(headers):
    return {swob.str_to_wsgi(k): swob.str_to_wsgi(str(v))
            for k, v in headers.items()}


def object_plan(path, size, headers):
    """The plan of a plain object: one PUT of ``size`` bytes."""
    return Plan(swob.wsgi_unquote(path), [Piece(path, size, headers)])


def slo_plan(version, account, path, size, manifest_body, headers,
             slo_etag):
    """The plan of an SLO restored from its raw manifest.

    :param version: the API version, ``v1``.
    :param account: the account (a native string).
    :param path: the SLO's quoted WSGI path.
    :param manifest_body: the raw manifest (the JSON Swift stores).
    :param headers: the SLO's headers (Content-Type, metadata, timestamp).
    :param slo_etag: the SLO's ETag, unquoted.
    :returns: a :class:`Plan`, or None when the manifest cannot be
        restored segment by segment.
    """
    try:
        entries = json.loads(manifest_body)
    except ValueError:
        return None
    if not isinstance(entries, list) or not entries:
        return None
    pieces, containers, segments = [], [], []
    total = 0
    for entry in entries:
        if not isinstance(entry, dict) or any(
                k in entry for k in ('data', 'range', 'sub_slo')):
            return None
        name, hash_, length = (entry.get('name'), entry.get('hash'),
                               entry.get('bytes'))
        if not isinstance(name, str) or not isinstance(length, int) or \
                not name.startswith('/') or name.count('/') < 2 or \
                not name.split('/', 2)[2]:
            return None
        seg_container = name.split('/', 2)[1]
        seg_path = swob.wsgi_quote(swob.str_to_wsgi(
            '/%s/%s%s' % (version, account, name)))
        cont_path = swob.wsgi_quote(swob.str_to_wsgi(
            '/%s/%s/%s' % (version, account, seg_container)))
        if cont_path not in containers:
            containers.append(cont_path)
        seg_headers = {'If-None-Match': '*'}
        if hash_:
            seg_headers['ETag'] = hash_
        pieces.append(Piece(seg_path, length, seg_headers, present_ok=True,
                            as_client=True))
        segments.append({'path': name, 'etag': hash_,
                         'size_bytes': length})
        total += length
    if total != size:
        return None
    manifest_headers = dict(headers)
    manifest_headers.pop('Content-Length', None)
    manifest_headers.pop('ETag', None)
    if slo_etag:
        manifest_headers['ETag'] = slo_etag
    body = json.dumps(segments).encode('utf-8')
    return Plan(swob.wsgi_unquote(path), pieces, containers=containers,
                manifest=(path + '?multipart-manifest=put', body,
                          manifest_headers))


class Restore(object):
    """Runs a :class:`Plan` against the rest of the pipeline.

    :param app: the next WSGI app (what the shunt wraps).
    :param env: the client request's environment (sub-requests copy its
        trans-id and logging context).
    :param plan: a :class:`Plan`, or a callable that makes one (or returns
        None: nothing is restored), called in the writer's green thread
        so that the client's first bytes do not wait for it.
    :param name: the object's name, for log lines.
    :param logger: the shunt's logger.
    :param claim: called when the restore would start; returns a function
        to call when it ends, or None when the object is being restored
        already (nothing is then written). See :func:`claim`.
    """

    def __init__(self, app, env, plan, logger, name='',
                 timeout=RESTORE_TIMEOUT, depth=QUEUE_DEPTH, claim=None):
        self.app = app
        self.claim = claim
        self._release = None
        self.env = env
        self.plan = plan
        self.name = name or getattr(plan, 'name', '')
        self.logger = logger
        self.timeout = timeout
        self.source = _Source(depth)
        self.thread = None
        #: True once the writer stopped feeding on (failed or finished)
        self.done = False
        #: True once everything was written
        self.succeeded = False

    # -- the client's side -------------------------------------------------

    def start(self):
        if self.thread is not None or self.done:
            return
        if self.claim is not None:
            self._release = self.claim()
            if self._release is None:
                self.logger.info('Not restoring %s: another request is '
                                 'restoring it', self.name)
                self.done = True
                return
        self.thread = eventlet.spawn(self._run)

    def feed(self, chunk):
        """Queue a chunk the client was sent.

        It waits while the PUT is behind, and drops the chunk once the
        restore has stopped.
        """
        if not chunk or self.thread is None:
            return
        while not self.done:
            try:
                self.source.queue.put(chunk, timeout=1.0)
                return
            except eventlet_queue.Full:
                continue

    def finish(self):
        """The client was sent every byte."""
        if self.thread is None:
            return
        while not self.done:
            try:
                self.source.queue.put(_EOF, timeout=1.0)
                return
            except eventlet_queue.Full:
                continue

    def abort(self):
        """The client went away: make the PUT in progress fail."""
        self.source.aborted = True
        try:
            # NOTE(cloudsync): wakes a PUT waiting for the next chunk.
            self.source.queue.put_nowait(None)
        except eventlet_queue.Full:
            pass

    def wait(self):
        """Wait for the writer, killing it after ``timeout`` seconds."""
        thread, self.thread = self.thread, None
        if thread is None:
            return
        try:
            with eventlet.Timeout(self.timeout):
                thread.wait()
        except eventlet.Timeout:
            self.logger.error('Restore of %s did not end within %ss; '
                              'stopped', self.name, self.timeout)
            thread.kill()
        except Exception:  # noqa: BLE001 - logged by _run already
            pass
        finally:
            # NOTE(cloudsync): a writer killed before it ran never released
            # its claim.
            self._end_claim()

    # -- the writer --------------------------------------------------------

    def _request(self, method, path, headers=None, body=None, length=None,
                 wsgi_input=None, as_client=False):
        headers = dict(headers or {})
        headers[BYPASS_HEADER] = 'true'
        # NOTE(cloudsync): make_subrequest keeps the client's
        # swift.authorize (and identity): Swift authorizes the write as it
        # would the client's own.
        make = swift_wsgi.make_subrequest if as_client else \
            swift_wsgi.make_pre_authed_request
        req = make(
            self.env, method=method, path=path, body=body,
            headers=_headers(headers), agent='%(orig)s CloudShuntRestore',
            swift_source=SWIFT_SOURCE)
        if wsgi_input is not None:
            req.environ['wsgi.input'] = wsgi_input
            req.content_length = length
        resp = req.get_response(self.app)
        # NOTE(cloudsync): the body of a write response is small; read it
        # so that the response's resources are released.
        swift_utils.friendly_close(resp.app_iter)
        return resp

    def _ensure_container(self, path):
        resp = self._request('HEAD', path)
        if resp.status_int == 404:
            # NOTE(cloudsync): only a container the client could create.
            resp = self._request('PUT', path, as_client=True)
        if not resp.is_success:
            raise _Failed('container %s: %s' % (
                swob.wsgi_unquote(path), resp.status))

    def _put_piece(self, piece):
        wsgi_input = _Input(self.source, piece.size)
        resp = self._request('PUT', piece.path, headers=piece.headers,
                             length=piece.size, wsgi_input=wsgi_input,
                             as_client=piece.as_client)
        if piece.present_ok and resp.status_int == 412:
            wsgi_input.skip()
            return
        if self.source.aborted:
            raise RestoreAborted('the client disconnected')
        if not resp.is_success:
            raise _Failed('%s: %s' % (swob.wsgi_unquote(piece.path),
                                      resp.status))
        wsgi_input.skip()

    def _run(self):
        try:
            plan = self.plan() if callable(self.plan) else self.plan
            if plan is None:
                return
            for path in plan.containers:
                self._ensure_container(path)
            for piece in plan.pieces:
                self._put_piece(piece)
            if plan.manifest:
                path, body, headers = plan.manifest
                resp = self._request('PUT', path, headers=headers, body=body)
                if not resp.is_success:
                    raise _Failed('manifest: %s' % resp.status)
            self.succeeded = True
            self.logger.info('Restored %s into Swift', self.name)
        except RestoreAborted:
            self.logger.info('Restore of %s stopped: the client '
                             'disconnected', self.name)
        except _Failed as exc:
            self.logger.warning('Failed to restore %s: %s', self.name, exc)
        except Exception:
            self.logger.exception('Failed to restore %s', self.name)
        finally:
            self.done = True
            self._end_claim()

    def _end_claim(self):
        release, self._release = self._release, None
        if release is not None:
            release()


class _Failed(Exception):
    """A restore write was refused."""


class TeeBody(object):
    """The client's body iterator, feeding a :class:`Restore` as it goes.

    The restore starts with the first chunk the client asks for (not when
    the response is built: a 304 or 412 never starts one), and
    :meth:`close` either lets it complete (the client read everything) or
    aborts it.
    """

    def __init__(self, source, restore):
        self.source = iter(source)
        self._source = source
        self.restore = restore
        self._ended = False
        self._closed = False

    def __iter__(self):
        return self

    def __next__(self):
        self.restore.start()
        try:
            chunk = next(self.source)
        except StopIteration:
            self._ended = True
            self.restore.finish()
            raise
        except BaseException:
            self.restore.abort()
            raise
        self.restore.feed(chunk)
        return chunk

    def close(self):
        if self._closed:
            return
        self._closed = True
        if not self._ended:
            self.restore.abort()
        try:
            swift_utils.close_if_possible(self._source)
        finally:
            self.restore.wait()
