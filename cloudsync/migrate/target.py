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
"""Writing into the local Swift cluster, through an ``InternalClient``.

The migrator's internal client is the daemon's (``internal_client_conf_path``
or the built-in pipeline, see :mod:`cloudsync.local`) with Swift's ``slo``,
``dlo`` and ``symlink`` middlewares in front, as in a proxy, so that large
objects are written as manifests Swift checks and symlinks as symlinks.
It writes with ``X-Timestamp`` (the source's time) and object sysmeta
(:mod:`cloudsync.migrate.marks`), which only an internal client may send.

Header values cross the internal client as WSGI strings (UTF-8 bytes read
as Latin-1); this module converts both ways, so callers deal in ``str``.
"""

import json

from swift.common.middleware import dlo
from swift.common.middleware import slo
from swift.common.middleware import symlink
from swift.common import swob
from swift.proxy import server as proxy_server

from cloudsync import local
from cloudsync.migrate import marks

USER_AGENT = 'cloudsync-migrate'


class TargetError(Exception):
    """Swift refused a write; ``status`` is its answer."""

    def __init__(self, what, status, body=b''):
        self.status = status
        text = body.decode('utf-8', 'replace')[:300] if body else ''
        super().__init__('%s: %s%s' % (what, status,
                                       ': %s' % text if text else ''))


class Refused(TargetError):
    """A conditional write Swift refused: the object there is newer (409,
    a write or delete through Swift after the source's version) or exists
    (412, with If-None-Match).
    """


class _Owner(object):
    """Marks every request as the account owner's, as an auth middleware
    does for an owner: Swift's proxy drops the container ACL headers
    (``X-Container-Read``, ``X-Container-Write``) of anyone else.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, env, start_response):
        env['swift_owner'] = True
        return self.app(env, start_response)


#: how many segments ``slo`` checks at once when the migrator writes a
#: manifest (Swift's default: 2): a copied multipart object has as many
#: segments as it had parts, each checked with a HEAD
SLO_CONCURRENCY = 8


def wrap(app):
    """``app`` behind what the migrator's requests need: ``slo``, ``dlo``
    and ``symlink``, in a proxy's order, as the account owner.
    """
    return _Owner(slo.filter_factory(
        {'concurrency': str(SLO_CONCURRENCY)})(dlo.filter_factory({})(
            symlink.filter_factory({})(app))))


def make_internal_client(conf):
    """The migrator's ``InternalClient``: the daemon's, with ``slo``,
    ``dlo`` and ``symlink`` in front, as the account owner.
    """
    client = local.make_internal_client(conf, user_agent=USER_AGENT)
    _larger_chunks(client.app)
    client.app = wrap(client.app)
    return client


#: how much of a request body the migrator's proxy reads (and sends on to
#: the object servers) at once: segments are many MiB, and each chunk
#: costs the proxy the same work whatever its size
CLIENT_CHUNK_SIZE = 1024 * 1024


def _larger_chunks(app):
    """Let the internal client's proxy (at the end of the pipeline
    ``app``) read request bodies in chunks of :data:`CLIENT_CHUNK_SIZE`
    rather than Swift's default 64 KiB, unless configured otherwise.
    """
    for _depth in range(100):
        if isinstance(app, proxy_server.Application):
            if app.client_chunk_size == 65536:
                app.client_chunk_size = CLIENT_CHUNK_SIZE
            return
        app = getattr(app, 'app', None)
        if app is None:
            return


def _wsgi(headers):
    return {k: swob.str_to_wsgi(str(v)) for k, v in headers.items()}


def _from_wsgi(headers):
    return {k.lower(): swob.wsgi_to_str(v) for k, v in headers.items()}


class SwiftTarget(object):
    """The Swift account a migration writes into."""

    def __init__(self, client, account):
        self.client = client
        self.account = account

    def _path(self, container, obj=None):
        if obj is None:
            return self.client.make_path(self.account, container)
        return self.client.make_path(self.account, container, obj)

    def _request(self, method, path, headers, statuses, body_file=None,
                 params=None):
        headers = dict(headers)
        headers[local.SHUNT_BYPASS_HEADER] = 'true'
        return self.client.make_request(method, path, _wsgi(headers),
                                        statuses, body_file=body_file,
                                        params=params)

    # -- containers ---------------------------------------------------------

    def container_exists(self, container):
        resp = self._request('HEAD', self._path(container), {}, (2, 404))
        return resp.status_int // 100 == 2

    def create_container(self, container, headers=None):
        """Create ``container`` with ``headers`` (storage policy, metadata,
        ACLs) unless it exists: an existing container is left as it is.

        :returns: True when it was created here.
        """
        if self.container_exists(container):
            return False
        resp = self._request('PUT', self._path(container), headers or {},
                             (2, 400, 409))
        if resp.status_int // 100 != 2:
            raise TargetError('PUT %s/%s' % (self.account, container),
                              resp.status, resp.body)
        return resp.status_int == 201

    def listing(self, container, prefix='', marker=''):
        """The container's objects (dicts as Swift lists them) after
        ``marker``, in order; nothing for a missing container.
        """
        for item in self.client.iter_objects(
                self.account, container, marker=marker or '',
                prefix=prefix or ''):
            yield item

    # -- objects -------------------------------------------------------------

    def head(self, container, obj, manifest=True, newest=True):
        """The response headers of an object (lower-case names), or None.

        With ``manifest`` a large object's manifest answers for itself
        (its own headers and sysmeta), as ``?multipart-manifest=get``. A
        symlink always answers for itself. With ``newest`` every replica
        is asked (``X-Newest``), else the first that answers.
        """
        return self.lookup(container, obj, manifest, newest)[0]

    def lookup(self, container, obj, manifest=True, newest=True):
        """:meth:`head`, and for a deleted object the timestamp (internal
        form) of its deletion: ``(headers or None, tombstone or None)``.
        """
        params = {'symlink': 'get'}
        if manifest:
            params['multipart-manifest'] = 'get'
        resp = self._request('HEAD', self._path(container, obj),
                             {'X-Newest': 'true'} if newest else {},
                             (2, 404), params=params)
        if resp.status_int == 404:
            stamp = resp.headers.get('X-Backend-Timestamp')
            return None, marks.normalize(stamp) if stamp else None
        return _from_wsgi(resp.headers), None

    def put(self, container, obj, headers, body_file, create_only=False,
            params=None):
        """PUT an object.

        :param create_only: only when no object is there
            (``If-None-Match: *``).
        :returns: the response headers (lower-case names).
        :raises Refused: 409 or 412: Swift has a newer write or delete, or
            (``create_only``) an object.
        """
        headers = dict(headers)
        if create_only:
            headers['If-None-Match'] = '*'
        what = 'PUT %s/%s/%s' % (self.account, container, obj)
        resp = self._request('PUT', self._path(container, obj), headers,
                             (2, 4), body_file=body_file, params=params)
        if resp.status_int in (409, 412):
            raise Refused(what, resp.status, resp.body)
        if resp.status_int // 100 != 2:
            raise TargetError(what, resp.status, resp.body)
        return _from_wsgi(resp.headers)

    def put_slo(self, container, obj, headers, segments, create_only=False):
        """PUT a static large object's manifest; Swift's ``slo`` checks
        every segment's ETag and size.

        :param segments: ``[{'path': '/c/o', 'etag': ..., 'size_bytes':
            ...}]``, optionally with ``range``.
        """
        body = json.dumps(segments).encode('utf-8')
        headers = dict(headers, **{'Content-Length': str(len(body))})
        return self.put(container, obj, headers, _Bytes(body),
                        create_only=create_only,
                        params={'multipart-manifest': 'put',
                                'heartbeat': 'off'})

    def delete(self, container, obj):
        """Delete an object (a segment the migrator wrote)."""
        self._request('DELETE', self._path(container, obj), {}, (2, 404))

    def delete_if_unchanged(self, container, obj, copy):
        """Delete the migrator's copy ``copy`` (a :class:`marks.SwiftCopy`)
        unless it changed since: the DELETE's timestamp is just after
        the copy's, so Swift refuses it (409) over anything newer.

        :returns: True when deleted.
        """
        resp = self._request(
            'DELETE', self._path(container, obj),
            {'X-Timestamp': marks.after(copy.migrated_timestamp)},
            (2, 404, 409))
        return resp.status_int // 100 == 2


class _Bytes(object):
    """A body of known bytes, read again on every try."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def seek(self, pos):
        self.pos = pos

    def read(self, size=-1):
        if size is None or size < 0:
            size = len(self.data) - self.pos
        chunk = self.data[self.pos:self.pos + size]
        self.pos += len(chunk)
        return chunk
