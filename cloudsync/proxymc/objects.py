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
"""Swift object requests served from a remote bucket, in the daemon's layout.

An object is the remote key that :class:`cloudsync.layout.RemoteLayout`
gives its name, with the metadata :mod:`cloudsync.metadata` writes, so
that what the sync daemon copied reads back with the headers it had in
Swift and what proxymc writes is, for the shunt on premises, archived
data like any other:

* GET and HEAD answer the Swift headers: ETag (the Swift one: the MD5, or
  the SLO ETag kept in ``swift-slo-etag``), Content-Type, user metadata,
  ``X-Static-Large-Object``, ``X-Manifest-Etag`` (``cloudsync-manifest-etag``),
  ``X-Timestamp`` and ``Last-Modified`` from ``cloudsync-timestamp``, and
  the system metadata kept with the object (s3api's ETag of its uploads,
  ``cloudsync-sysmeta-s3api-etag``). A DLO the daemon copied reads as its
  concatenated segments, with the cluster's ``X-Object-Manifest``: the
  one kept in metadata, or, for a DLO a Swift remote keeps as a DLO of
  its own, the one kept in ``cloudsync-dlo-source`` (percent-encoded),
  not the remote manifest's. proxymc's containers are the cluster's, as
  the daemon's layout maps them; the remote manifest names a container
  of the remote's account, whose keys are not in that layout. Ranges
  (several ranges too, as ``multipart/byteranges``) and ``If-Match``,
  ``If-None-Match``, ``If-Modified-Since`` and ``If-Unmodified-Since`` are
  answered as Swift's object server answers them (``X-Backend-Etag-Is-At``
  included, see :func:`swift_response`); a request with a Range or a
  condition costs a HEAD, then a GET of only the bytes needed (one GET
  for the near ranges of a multi-range request, see
  :func:`cloudsync.large_objects.multi_range_body`).
* PUT writes one remote object with ``cloudsync-timestamp``. A body of
  known length up to ``multipart_threshold`` is streamed straight to the
  remote (with Content-MD5 when the client sent an ETag); a larger body, or
  one sent chunked, is spooled to ``spool_dir`` in ``part_size`` pieces and
  sent as a multipart upload (the Swift ETag is kept in
  ``cloudsync-etag``). A client ETag that does not match is a 422, as in
  Swift.
* ``PUT ?multipart-manifest=put`` (a static large object, from a Swift
  client or s3api's Complete Multipart Upload) copies the segments, which
  must be objects proxymc serves, into one remote multipart object, one
  part per segment, and keeps the manifest beside it: the layout the daemon
  writes for an SLO.
* POST replaces the user metadata (and Content-Type when given) in place.
* ``X-Delete-At`` and ``X-Delete-After`` are kept as
  ``cloudsync-delete-at``; an object whose time has passed is not found.
  As in Swift, a POST replaces the expiry: the one it sends, or none. On a
  remote with per-object expiry (Swift) a PUT or POST gives the remote
  object the same ``X-Delete-At`` (a POST without one removes it), so
  the remote deletes it then. S3 and GCS have no per-object expiry: the
  object is no longer served after its time, but its bytes stay in the
  bucket until they are deleted (by a lifecycle rule, for instance).
* DELETE removes the object and, for an SLO, its manifest;
  ``?multipart-manifest=delete`` removes its segments too.
* Names under ``.manifests/`` and ``.dlo/`` are side objects' keys in
  some layouts: reading one is a 404, writing or deleting one a 403.
  Headers built from what the bucket holds are checked first
  (:mod:`cloudsync.headers`), a PUT or POST of metadata that could not be
  sent back is a 400, and an SLO manifest is used only when its object
  names it (:mod:`cloudsync.remote_manifest`).
"""

import hashlib
import json
import math
import mimetypes

from swift.common import constraints
from swift.common import request_helpers
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import exceptions
from cloudsync import headers as headers_mod
from cloudsync import layout as layout_mod
from cloudsync import log as cs_log
from cloudsync import metadata as md
from cloudsync import providers
from cloudsync.proxymc import remote
from cloudsync.proxymc import responses
from cloudsync.proxymc import slo as proxymc_slo
from cloudsync.proxymc import spool as spool_mod
from cloudsync import remote_manifest
from cloudsync import symlinks

LOG = cs_log.getLogger(__name__)

#: metadata kept by a POST: everything that is not user metadata
_KEPT_BY_POST = (md.SLO_KEY, md.DLO_KEY, md.SLO_ETAG_KEY)


class ObjectRequests:
    """Object GET, HEAD, PUT, POST and DELETE on one mapped container.

    :param app: the :class:`cloudsync.proxymc.app.ProxyMC` serving them.
    :param target: the resolved container (provider, bucket, layout).
    """

    def __init__(self, app, target):
        self.app = app
        self.target = target
        self.provider = target.provider
        self.bucket = target.bucket
        self.layout = target.layout

    def key(self, name):
        return self.layout.object_key(name)

    # -- reads ---------------------------------------------------------------

    def _head(self, name):
        info = self.provider.head_object(self.bucket, self.key(name))
        if responses.is_expired(info):
            raise exceptions.NotFound('%s has expired' % name)
        return info

    def reserved(self, req, name):
        """The answer for a name in a reserved namespace (see
        :func:`cloudsync.layout.reserved_name_problem`), or None.

        Such a key is a side object of another object (an SLO's
        manifest): it is not found, and may not be written or deleted.
        """
        problem = layout_mod.reserved_name_problem(name)
        if problem is None:
            return None
        if req.method in ('GET', 'HEAD'):
            return swob.HTTPNotFound(request=req)
        return swob.HTTPForbidden(request=req, content_type='text/plain',
                                  body=problem.encode('utf-8'))

    def GETorHEAD(self, req, name):
        refused = self.reserved(req, name)
        if refused is not None:
            return refused
        key = self.key(name)
        if (req.method == 'GET' and
                req.params.get('multipart-manifest') == 'get'):
            return self._get_manifest(req, name)
        conditional = req.method == 'HEAD' or req.range or any(
            h in req.headers for h in (
                'If-Match', 'If-None-Match', 'If-Modified-Since',
                'If-Unmodified-Since'))
        if conditional:
            info = self._head(name)
            link = symlinks.Link.from_metadata(md.internal_values(
                info.metadata))
            if link is not None:
                return self._link_response(req, info, link)
            app_iter = None
            if req.method == 'GET':
                app_iter = responses.RemoteObjectIter(
                    self.provider, self.bucket, key, info.size)
            return responses.swift_response(req, info, app_iter)
        body = self.provider.get_object(self.bucket, key)
        if responses.is_expired(body.info):
            body.close()
            return swob.HTTPNotFound(request=req)
        link = symlinks.Link.from_metadata(md.internal_values(
            body.info.metadata))
        if link is not None:
            body.close()
            return self._link_response(req, body.info, link)
        return responses.swift_response(
            req, body.info, responses.RemoteObjectIter(
                self.provider, self.bucket, key, body.info.size, body=body))

    def _link_response(self, req, info, link):
        """A symlink the daemon copied: followed through proxymc (so that
        the target is authorized and read like any request), or, with
        ``?symlink=get``, the link itself, as Swift answers.
        """
        if req.params.get('symlink') != 'get':
            return symlinks.follow(self.app, req, link, self.target.account)
        resp = responses.swift_response(req, info)
        resp.headers.update(link.headers())
        resp.body = b''
        return resp

    def _read_manifest(self, name, info, raw=False):
        """The SLO manifest kept beside the object (internal format), when
        it may be used (see :mod:`cloudsync.remote_manifest`).

        :param raw: return ``(stored bytes, manifest)``.
        """
        try:
            body = self.provider.get_object(self.bucket,
                                            self.layout.manifest_key(name))
        except exceptions.NotFound:
            return (None, None) if raw else None
        data = body.read_all()
        try:
            manifest = remote_manifest.trusted_entries(
                data, info, self.target.container, name)
        except remote_manifest.UntrustedManifest as exc:
            LOG.warning('Not using the manifest of %s on the remote: %s',
                        headers_mod.printable(name), exc)
            manifest = None
        return (data, manifest) if raw else manifest

    def _get_manifest(self, req, name):
        info = self._head(name)
        body, manifest = self._read_manifest(name, info, raw=True) \
            if remote.is_slo(info) else (None, None)
        if manifest is None:
            req.params = dict(req.params, **{'multipart-manifest': 'off'})
            return self.GETorHEAD(req, name)
        # NOTE: as Swift's slo middleware answers: the manifest as stored
        # (its ETag is the SLO's X-Manifest-Etag) in JSON, or, raw, in the
        # format it was PUT in with the object's own Content-Type (so that
        # a copy of it is an SLO again).
        content_type = 'application/json; charset=utf-8'
        if request_helpers.get_param(req, 'format') == 'raw':
            body = json.dumps([_raw_segment(seg) for seg in manifest],
                              sort_keys=True).encode('ascii')
            content_type = info.content_type
        resp = swob.Response(request=req, body=body,
                             conditional_response=True)
        for key, value in responses.object_headers(info).items():
            if key.lower().startswith('x-object-meta-') or \
                    key.lower() in ('x-static-large-object', 'x-timestamp'):
                resp.headers[key] = swob.str_to_wsgi(value)
        resp.headers['Content-Type'] = swob.str_to_wsgi(content_type)
        # NOTE: unquoted, as Swift gives a manifest's ETag
        resp.headers['Etag'] = hashlib.md5(
            body, usedforsecurity=False).hexdigest()
        resp.last_modified = math.ceil(float(responses.swift_timestamp(info)))
        return resp

    # -- writes --------------------------------------------------------------

    def _new_metadata(self, req, timestamp):
        headers = responses.headers_to_str(req)
        meta = md.swift_to_remote(
            {k: v for k, v in headers.items()
             if k.lower().startswith(md.OBJECT_META_PREFIX)})
        meta.update(responses.sysmeta_to_remote(headers))
        meta[md.TIMESTAMP_KEY] = timestamp.internal
        if 'X-Delete-At' in req.headers:
            meta[md.DELETE_AT_KEY] = req.headers['X-Delete-At']
        return meta

    def _content_type(self, req, name):
        content_type = swob.wsgi_to_str(req.headers.get('Content-Type', ''))
        if not content_type or swift_utils.config_true_value(
                req.headers.get('X-Detect-Content-Type')):
            content_type = (mimetypes.guess_type(name)[0] or
                            'application/octet-stream')
        return content_type.partition(';swift_bytes=')[0]

    def _check_if_none_match(self, req, name):
        if req.headers.get('If-None-Match') == '*':
            try:
                self._head(name)
            except exceptions.NotFound:
                return None
            return swob.HTTPPreconditionFailed(request=req)
        if 'If-None-Match' in req.headers:
            return swob.HTTPBadRequest(
                request=req, body=b'If-None-Match only supports *')
        return None

    def PUT(self, req, name):
        refused = self.reserved(req, name)
        if refused is not None:
            return refused
        # NOTE: as Swift's proxy does before its checks: the object's
        # timestamp and, when the client sent none, a guessed content type.
        timestamp = swift_utils.Timestamp.now()
        req.headers['X-Timestamp'] = timestamp.internal
        req.headers['Content-Type'] = swob.str_to_wsgi(
            self._content_type(req, name))
        error = constraints.check_object_creation(req, name) or \
            responses.unsafe_metadata_response(req)
        if error:
            return error
        try:
            req = constraints.check_delete_headers(req)
        except swob.HTTPException as err:
            return err
        error = self._check_if_none_match(req, name)
        if error:
            return error
        if req.params.get('multipart-manifest') == 'put':
            return proxymc_slo.put_manifest(self, req, name)
        if 'X-Object-Manifest' in req.headers:
            return swob.HTTPBadRequest(
                request=req, body=b'proxymc does not store dynamic large '
                b'objects; upload a static large object instead')
        if swift_utils.config_true_value(
                req.headers.get('X-Static-Large-Object')):
            return swob.HTTPBadRequest(
                request=req, body=b'X-Static-Large-Object is a reserved '
                b'header; use ?multipart-manifest=put to store an SLO')
        client_etag = swob.normalize_etag(req.headers.get('ETag'))
        if client_etag is not None:
            client_etag = client_etag.lower()
            if not remote.HEX_MD5.match(client_etag):
                return swob.HTTPUnprocessableEntity(request=req)
        meta = self._new_metadata(req, timestamp)
        content_type = swob.wsgi_to_str(req.headers['Content-Type'])
        key = self.key(name)
        length = req.message_length()
        try:
            if length is not None and length <= self.app.multipart_threshold:
                etag = self._put_streamed(req, key, length, content_type,
                                          meta, client_etag)
            else:
                etag = self._put_spooled(req, key, content_type, meta,
                                         client_etag)
        except swob.HTTPException as err:
            return err
        except exceptions.ChecksumMismatch as exc:
            LOG.warning('PUT %s: %s', req.path, exc)
            return swob.HTTPUnprocessableEntity(request=req)
        except exceptions.RemoteError as exc:
            return responses.error_response(req, exc)
        resp = swob.HTTPCreated(request=req, headers={'Etag': etag})
        resp.last_modified = math.ceil(float(timestamp))
        return resp

    def _put_streamed(self, req, key, length, content_type, meta,
                      client_etag):
        reader = spool_mod.HashingReader(req.environ['wsgi.input'],
                                         limit=length)
        try:
            remote_etag = self.provider.put_object(
                self.bucket, key, reader, length, content_type=content_type,
                metadata=meta, md5=client_etag, expires_at=remote.expiry(meta))
        except exceptions.RemoteError:
            if reader.count < length:
                raise swob.HTTPClientDisconnect(request=req)
            if client_etag and reader.md5.hexdigest() != client_etag:
                raise swob.HTTPUnprocessableEntity(request=req)
            raise
        etag = reader.md5.hexdigest()
        if client_etag and etag != client_etag:
            # NOTE: the store did not check Content-MD5; what it holds is
            # not what the client meant to send.
            self._delete_quietly(key)
            raise swob.HTTPUnprocessableEntity(request=req)
        if remote_etag and '-' not in remote_etag and \
                len(remote_etag) == 32 and remote_etag.lower() != etag:
            self._delete_quietly(key)
            LOG.error('PUT %s: the remote stored ETag %s for bytes whose '
                      'MD5 is %s', req.path, remote_etag, etag)
            raise swob.HTTPServiceUnavailable(request=req)
        return etag

    def _put_spooled(self, req, key, content_type, meta, client_etag):
        part_size = max(self.app.part_size, self.provider.MIN_PART_SIZE)
        spool = spool_mod.Spool(self.app.spool_dir, part_size)
        try:
            spool.fill(req.environ['wsgi.input'], min(
                constraints.MAX_FILE_SIZE,
                part_size * self.provider.MAX_PARTS))
            etag = spool.md5.hexdigest()
            if client_etag and etag != client_etag:
                raise swob.HTTPUnprocessableEntity(request=req)
            if len(spool.files) <= 1:
                self.provider.put_object(
                    self.bucket, key, spool.single(), spool.size,
                    content_type=content_type, metadata=meta, md5=etag,
                    expires_at=remote.expiry(meta))
            else:
                meta[md.ETAG_KEY] = etag
                self.provider.put_multipart(
                    self.bucket, key, spool.parts(),
                    content_type=content_type, metadata=meta,
                    expires_at=remote.expiry(meta))
            return etag
        finally:
            spool.close()

    def _delete_quietly(self, key):
        try:
            self.provider.delete_object(self.bucket, key)
        except exceptions.RemoteError as exc:
            LOG.warning('Could not remove %s from %s: %s', key, self.bucket,
                        exc)

    def POST(self, req, name):
        refused = self.reserved(req, name)
        if refused is not None:
            return refused
        timestamp = swift_utils.Timestamp.now()
        req.headers['X-Timestamp'] = timestamp.internal
        error = constraints.check_metadata(req, 'object') or \
            responses.unsafe_metadata_response(req)
        if error:
            return error
        try:
            req = constraints.check_delete_headers(req)
        except swob.HTTPException as err:
            return err
        try:
            info = self._head(name)
        except exceptions.RemoteError as exc:
            return responses.error_response(req, exc)
        meta = {k: v for k, v in info.metadata.items()
                if k in _KEPT_BY_POST or
                k.startswith(responses.SYSMETA_PREFIX) or (
                    k.startswith(md.RESERVED_PREFIX) and
                    not k.startswith(md.ESCAPE_PREFIX))}
        # NOTE: as Swift's object server does, a POST replaces the expiry:
        # the one it sets, or none.
        meta.pop(md.DELETE_AT_KEY, None)
        meta.update(self._new_metadata(req, timestamp))
        content_type = info.content_type
        if req.headers.get('Content-Type'):
            content_type = self._content_type(req, name)
        kwargs = {}
        if providers.takes_expiry(self.provider):
            kwargs['expires_at'] = remote.expiry(meta)
        try:
            self.provider.update_metadata(self.bucket, self.key(name),
                                          content_type=content_type,
                                          metadata=meta, **kwargs)
        except exceptions.RemoteError as exc:
            return responses.error_response(req, exc)
        return swob.HTTPAccepted(request=req)

    def DELETE(self, req, name):
        refused = self.reserved(req, name)
        if refused is not None:
            return refused
        try:
            info = self._head(name)
        except exceptions.RemoteError as exc:
            return responses.error_response(req, exc)
        segments_too = req.params.get('multipart-manifest') == 'delete'
        manifest = None
        if remote.is_slo(info) and segments_too:
            manifest = self._read_manifest(name, info) or []
        try:
            self.provider.delete_object(self.bucket, self.key(name))
        except exceptions.RemoteError as exc:
            return responses.error_response(req, exc)
        if remote.is_slo(info):
            try:
                self.provider.delete_object(self.bucket,
                                            self.layout.manifest_key(name))
            except exceptions.RemoteError as exc:
                LOG.warning('Could not remove the manifest of %s: %s',
                            req.path, exc)
        if not segments_too:
            return swob.HTTPNoContent(request=req)
        return proxymc_slo.delete_segments(self, req, manifest or [])


def _raw_segment(seg):
    """A manifest entry in the format it was PUT in.

    As Swift's slo middleware gives it for ``format=raw``.
    """
    raw = dict(seg)
    if 'data' in raw:
        return raw
    for key in ('content_type', 'last_modified', 'sub_slo'):
        raw.pop(key, None)
    raw['path'] = raw.pop('name', None)
    raw['size_bytes'] = raw.pop('bytes', None)
    raw['etag'] = raw.pop('hash', None)
    return raw


def handle(app, req, account, container, obj):
    """An object request: checked, authorized, then answered by
    :class:`ObjectRequests`.
    """
    method = req.method
    allowed = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE')
    if method not in allowed:
        return swob.HTTPMethodNotAllowed(
            request=req, headers={'Allow': ', '.join(allowed)})
    target = app.resolve(account, container)
    acl = None
    if target is not None:
        acl = target.read_acl if method in ('GET', 'HEAD') \
            else target.write_acl
    denied = app.authorize(req, acl)
    if denied:
        return denied
    if target is None:
        return swob.HTTPNotFound(request=req)
    if method not in ('GET', 'HEAD') and \
            not target.mapping.has_remote_writers:
        # NOTE: the sync daemons write this mapping's keys without
        # reading them first: a write here could be overwritten.
        return swob.HTTPForbidden(
            request=req, body=('proxymc serves %s read-only: its mapping '
                               '[%s] says remote_writers = false'
                               % (target.container,
                                  target.mapping.section)).encode('utf-8'))
    if len(obj) > constraints.MAX_OBJECT_NAME_LENGTH:
        return swob.HTTPBadRequest(
            request=req, body='Object name length of %d longer than %d'
            % (len(obj), constraints.MAX_OBJECT_NAME_LENGTH))
    ops = ObjectRequests(app, target)
    if method in ('GET', 'HEAD'):
        return ops.GETorHEAD(req, obj)
    return getattr(ops, method)(req, obj)
