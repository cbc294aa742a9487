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
"""The cloud shunt's object requests: what becomes of Swift's 404.

A GET or HEAD reads the remote copy (and may restore it into Swift,
:mod:`cloudsync.shunt.restore`), a DELETE removes it or leaves it to
Swift's tombstone, a POST replaces its metadata; the shunt's page of the
documentation says what each answers.
"""

import json

from swift.common import constraints
from swift.common.middleware import bulk
from swift.common import request_helpers
from swift.common import swob
from swift.common import utils as swift_utils
from swift.common import wsgi as swift_wsgi

from cloudsync import exceptions
from cloudsync import headers as headers_mod
from cloudsync import large_objects
from cloudsync import metadata
from cloudsync import providers
from cloudsync import remote_manifest
from cloudsync.shunt import answers
from cloudsync.shunt import objects as shunt_object
from cloudsync.shunt import restore as restore_mod
from cloudsync import stubs


def post_expiry(req, local):
    """The ``X-Delete-At`` a POST gives an object, as Swift computes it.

    :returns: seconds since the epoch, or None when the POST sends neither
        ``X-Delete-At`` nor ``X-Delete-After`` (the object then no longer
        expires).
    :raises HTTPBadRequest: a value Swift would refuse (Swift's proxy
        refuses them before it looks for the object, so the shunt seldom
        sees one).
    """
    headers = {k: req.headers[k] for k in ('X-Delete-At', 'X-Delete-After')
               if k in req.headers}
    if not headers:
        return None
    headers['X-Timestamp'] = swift_utils.Timestamp.now().internal
    try:
        checked = constraints.check_delete_headers(
            swob.Request.blank('/', headers=headers))
    except swob.HTTPException as err:
        raise swob.HTTPBadRequest(request=req, content_type='text/plain',
                                  body=err.body,
                                  headers=local.trans_headers())
    return int(checked.headers['X-Delete-At'])


class ObjectRequests(object):
    """Object GET, HEAD, DELETE and POST in a mapped container, when
    Swift answers 404: the remote copy read, deleted or updated.

    :param shunt: the
        :class:`~cloudsync.shunt.middleware.CloudShuntMiddleware` that
        routed the request.
    """

    # NOTE(cloudsync): over 400 lines (and its module over 600 lines):
    # one controller per resource, as in Swift's proxy; GET (with archive
    # stubs, manifests and restore on read) and DELETE (with the segments
    # of large objects) share the remote lookup and the checks of a
    # forged manifest.

    def __init__(self, shunt):
        self.shunt = shunt
        self.app = shunt.app
        self.logger = shunt.logger
        self.provider = shunt.provider
        self._local = shunt.local
        self._remote_failed = shunt.remote_failed
        self._probe = shunt.probe
        self._send = shunt.send
        self._unavailable = shunt.unavailable
        self.restore_timeout = shunt.restore_timeout

    def _head_remote(self, req, target, local, tombstone=None):
        """The remote object, or a response to send instead.

        :param tombstone: Swift's tombstone for the object, if known: a
            remote copy that a newer delete hides is not found.
        """
        try:
            info = self.provider(target.mapping).head_object(
                target.bucket, target.key)
        except exceptions.NotFound:
            return None, local
        except exceptions.RemoteError as exc:
            self._remote_failed(req, target, 'HEAD', exc)
            return None, self._unavailable(req, local)
        except Exception:
            self.logger.exception('cloud_shunt: HEAD of %s failed',
                                  target.name)
            return None, self._unavailable(req, local)
        remote = shunt_object.RemoteObject(info)
        if remote.expired() or remote.deleted_by(tombstone):
            return None, local
        return remote, None

    def _stub_in(self, req, local):
        """The archive stub Swift answered with, or None.

        Swift evaluates the client's conditions and range against the
        stub (zero bytes, its own ETag): a 304, 412 or 416 that does not
        carry the object's headers is looked at again without them.
        """
        if local.status_int not in (200, 206, 304, 412, 416):
            return None
        stub = shunt_object.StubAnswer.of(local)
        if stub is not None or local.is_success or \
                'X-Timestamp' in local.headers:
            return stub
        return shunt_object.StubAnswer.of(self._probe(req))

    def GET(self, req, target, start_response):
        local = self._local(req.environ)
        stub = self._stub_in(req, local)
        if stub is not None:
            return self._serve(req, target, local.read(), None,
                               start_response, stub=stub)
        if local.status_int == 404 and not target.mapping.serves_deleted:
            return local.respond(start_response)
        tombstone = None
        if local.status_int == 412 and req.if_match and \
                '*' in req.if_match:
            # NOTE(cloudsync): Swift answers 412 rather than 404 to
            # If-Match: * when it has no object; look without conditions.
            probe = self._probe(req)
            if probe.status_int != 404:
                return local.respond(start_response)
            tombstone = probe.tombstone()
        elif local.status_int != 404:
            return local.respond(start_response)
        else:
            tombstone = local.tombstone()
            location = local.headers.get('Content-Location')
            if location and req.params.get('symlink') != 'get':
                # NOTE(cloudsync): a link in Swift whose target is not:
                # maybe archived; see cloudsync.symlinks.
                answer = shunt_object.follow_local_link(
                    self.shunt, req, location, local.trans_headers())
                if answer is not None:
                    local.read()
                    return answer(req.environ, start_response)
        return self._serve(req, target, local.read(), tombstone,
                           start_response)

    HEAD = GET

    def _serve(self, req, target, local, tombstone, start_response,
               stub=None):
        """Answer from the remote.

        ``local`` (Swift's answer) is replayed when the remote does not
        have the object either. With ``stub`` (a
        :class:`~cloudsync.shunt.objects.StubAnswer`, Swift answered with
        an archive stub) the object is the stub's: its headers win, and
        the HEAD of a plain object is answered from the stub alone.
        """
        provider = self.provider(target.mapping)
        is_get = req.method == 'GET'
        ranged = is_get and req.range is not None
        body = None
        try:
            if is_get and not ranged:
                body = provider.get_object(target.bucket, target.key)
                info = body.info
            elif stub is not None and not is_get and \
                    stub.stub.kind == 'plain':
                info = stub.remote_info()
            else:
                info = provider.head_object(target.bucket, target.key)
        except exceptions.NotFound:
            if stub is not None:
                # NOTE(cloudsync): the remote lost the data (expired
                # there, or deleted by someone else): never serve the
                # stub's zero bytes as the object.
                self.logger.error(
                    'cloud_shunt: %s is archived, but its remote copy '
                    '%s/%s is gone', target.name, target.bucket,
                    target.key)
                return swob.HTTPNotFound(
                    request=req, headers=local.trans_headers())(
                    req.environ, start_response)
            return local.respond(start_response)
        except exceptions.RemoteError as exc:
            if shunt_object.cold_refused(exc) and \
                    providers.restores_cold(provider):
                return shunt_object.cold_answer(
                    req, target, provider, self.logger,
                    local.trans_headers(), app=self.app)(
                    req.environ, start_response)
            self._remote_failed(req, target, req.method, exc)
            return self._send(self._unavailable(req, local), req,
                              start_response)
        except Exception:
            self.logger.exception('cloud_shunt: %s of %s failed',
                                  req.method, target.name)
            return self._send(self._unavailable(req, local), req,
                              start_response)
        cold = None
        if body is None and shunt_object.is_cold(info.storage_class) and \
                providers.restores_cold(provider):
            # NOTE(cloudsync): a HEAD says where the restore stands; a
            # ranged GET waits for it, as a whole GET does.
            try:
                cold = provider.cold_state(target.bucket, target.key)
            except exceptions.RemoteError as exc:
                self._remote_failed(req, target, 'HEAD', exc)
                return self._send(self._unavailable(req, local), req,
                                  start_response)
            if is_get and not cold.readable:
                return shunt_object.cold_answer(
                    req, target, provider, self.logger,
                    local.trans_headers(), app=self.app)(
                    req.environ, start_response)
        if self._restored_cold(provider, info, body, cold, stub):
            stubs.forget_restore(self.app, req.environ, target,
                                 self.logger)
        remote = shunt_object.RemoteObject(info)
        if remote.dropped:
            self.logger.warning(
                'cloud_shunt: %s: the remote copy has metadata that cannot '
                'be sent as a header, left out: %s', target.name,
                headers_mod.describe_dropped(remote.dropped))
        if stub is None and (remote.expired() or
                             remote.deleted_by(tombstone)):
            if body is not None:
                body.close()
            return local.respond(start_response)
        if remote.link is not None:
            # NOTE(cloudsync): an archived symlink, followed through the
            # shunt; see cloudsync.symlinks.
            if body is not None:
                body.close()
            return shunt_object.link_response(
                self.shunt, req, target.account, remote,
                local.trans_headers())(req.environ, start_response)
        if is_get and remote.is_slo and request_helpers.get_param(
                req, 'multipart-manifest') == 'get':
            if body is not None:
                body.close()
            return self._manifest_response(req, target, local, remote,
                                           start_response)

        def on_error(exc):
            self._remote_failed(req, target, 'GET', exc)

        app_iter = None
        if ranged:
            app_iter = shunt_object.RangedBody(
                lambda spec: provider.get_object(
                    target.bucket, target.key, range=spec,
                    if_match=info.etag),
                remote.size, on_error)
        elif body is not None:
            app_iter = shunt_object.GuardedBody(
                body, on_error, coalesce=shunt_object.WRITE_SIZE)
            if (target.mapping.restore_object or
                    restore_mod.requested(req.environ)) and \
                    'Range' not in req.headers:
                app_iter = self._restoring(req, target, tombstone, remote,
                                           app_iter, stub=stub)
        headers = remote.headers()
        answers.add_headers(headers, local.trans_headers())
        if stub is not None:
            stub.overlay(headers)
        if cold is not None:
            headers[shunt_object.RESTORE_STATE_HEADER] = \
                shunt_object.restore_state(cold)
        # NOTE(cloudsync): Swift's resolver copies every header before it
        # looks at the request; most requests name no alternate ETag.
        resp = answers.response(req, headers, app_iter, (
            request_helpers.resolve_etag_is_at_header(req, headers)
            if 'X-Backend-Etag-Is-At' in req.headers else None) or
            remote.etag)
        if stub is None or 'Last-Modified' not in headers:
            resp.last_modified = remote.last_modified
        return resp(req.environ, start_response)

    @staticmethod
    def _restored_cold(provider, info, body, cold, stub):
        """Whether this read found readable a remote copy in a cold
        storage class (its restore is done: its marker goes).
        """
        if not providers.restores_cold(provider):
            return False
        if cold is not None:
            return cold.readable
        return body is not None and (
            shunt_object.is_cold(info.storage_class) or (
                stub is not None and
                shunt_object.is_cold(stub.stub.storage_class)))

    def _manifest_response(self, req, target, local, remote,
                           start_response):
        """``?multipart-manifest=get`` of an archived SLO."""
        provider = self.provider(target.mapping)
        try:
            raw = provider.get_object(
                target.bucket,
                target.layout.manifest_key(target.obj)).read_all()
        except exceptions.RemoteError as exc:
            self._remote_failed(req, target, 'manifest GET', exc)
            return self._send(self._unavailable(req, local), req,
                              start_response)
        if self._trusted_manifest(target, remote, raw) is None:
            return self._send(self._unavailable(req, local), req,
                              start_response)
        headers = remote.headers()
        headers.update(local.trans_headers())
        if request_helpers.get_param(req, 'format') == 'raw':
            body = shunt_object.manifest_raw(raw)
        else:
            body = raw
            headers['Content-Type'] = 'application/json; charset=utf-8'
        headers['Content-Length'] = str(len(body))
        headers['ETag'] = swift_utils.md5(
            body, usedforsecurity=False).hexdigest()
        resp = swob.Response(status=200, headers=headers, body=body,
                             request=req, conditional_response=True)
        resp.last_modified = remote.last_modified
        return resp(req.environ, start_response)

    def _trusted_manifest(self, target, remote, raw):
        """The entries of an SLO's manifest read from the remote, or None
        (logged) when it is not one to act on (see
        :mod:`cloudsync.remote_manifest`).
        """
        try:
            return remote_manifest.trusted_entries(
                raw, remote.info, target.container, target.obj)
        except remote_manifest.UntrustedManifest as exc:
            self.logger.warning(
                'cloud_shunt: not using the manifest of %s on the remote: '
                '%s', target.name, exc)
            return None

    def _restoring(self, req, target, tombstone, remote, app_iter,
                   stub=None):
        """Wrap the client's body so that it restores the object.

        Over an archive stub (``stub``): one offset step after the stub's
        current timestamp (Swift refuses the restore when the stub was
        overwritten or deleted since), with the stub's metadata.
        """
        if remote.is_dlo:
            self.logger.info('cloud_shunt: %s is a dynamic large object; '
                             'it is served, not restored', target.name)
            return app_iter
        headers = dict(remote.metadata_headers())
        headers.pop('X-Static-Large-Object', None)
        headers['Content-Type'] = remote.content_type
        if stub is None:
            timestamp = restore_mod.restore_timestamp(remote.timestamp,
                                                      tombstone)
        else:
            timestamp = restore_mod.restore_timestamp(
                stub.stub.timestamp, stub.timestamp)
            headers = {k: v for k, v in headers.items()
                       if not k.lower().startswith(
                           metadata.OBJECT_META_PREFIX) and
                       k.lower() != 'x-delete-at'}
            headers.update(stub.metadata_headers())
            headers['Content-Type'] = swob.wsgi_to_str(stub.content_type())
        headers['X-Timestamp'] = timestamp.internal
        path = swob.wsgi_quote(req.path_info)
        provider = self.provider(target.mapping)

        def plan():
            if not remote.is_slo:
                put_headers = dict(headers)
                if remote.etag_is_md5():
                    put_headers['ETag'] = remote.etag
                return restore_mod.object_plan(path, remote.size,
                                               put_headers)
            try:
                raw = provider.get_object(
                    target.bucket,
                    target.layout.manifest_key(target.obj)).read_all()
            except exceptions.NotFound:
                self.logger.warning(
                    'cloud_shunt: not restoring SLO %s: its manifest is '
                    'not on the remote', target.name)
                return None
            if self._trusted_manifest(target, remote, raw) is None:
                return None
            result = restore_mod.slo_plan(
                target.version, target.account, path, remote.size, raw,
                headers, remote.etag)
            if result is None:
                self.logger.warning(
                    'cloud_shunt: not restoring SLO %s: its manifest has '
                    'segments that cannot be restored one by one',
                    target.name)
            return result

        restore = restore_mod.Restore(
            self.app, req.environ, plan, self.logger, name=target.name,
            timeout=self.restore_timeout,
            claim=lambda: restore_mod.claim(
                req.environ, path,
                self.restore_timeout + restore_mod.CLAIM_MARGIN))
        return restore_mod.TeeBody(app_iter, restore)

    def DELETE(self, req, target, start_response):
        if target.mapping.propagate_delete and request_helpers.get_param(
                req, 'multipart-manifest') == 'delete':
            # NOTE(cloudsync): Swift's SLO middleware answers 200 (with
            # the failure in the body) to a manifest delete of an object it
            # does not have, so look first.
            answer = self._slo_delete(req, target)
            if answer is not None:
                return answer(req.environ, start_response)
        # NOTE(cloudsync): Swift's 404 to a DELETE carries the tombstone
        # the DELETE just wrote; whether the remote copy was served until
        # then is told by the one before, so ask first.
        if not target.mapping.serves_deleted:
            return self.app(req.environ, start_response)
        before = self._probe(req, authorized=True)
        if before.status_int != 404:
            return self.app(req.environ, start_response)
        local = self._local(req.environ)
        if local.status_int != 404:
            return local.respond(start_response)
        local.read()
        remote, answer = self._head_remote(req, target, local,
                                           before.tombstone())
        if remote is None:
            return self._send(answer, req, start_response)
        if not target.mapping.propagate_delete:
            # NOTE(cloudsync): Swift's tombstone hides the remote copy
            # from now on: the object is deleted.
            return swob.HTTPNoContent(
                request=req, headers=local.trans_headers())(
                req.environ, start_response)
        provider = self.provider(target.mapping)
        try:
            if remote.is_dlo:
                self._remove_dlo_segments(req, target, provider, remote)
            provider.delete_object(target.bucket, target.key)
            if remote.is_slo:
                provider.delete_object(
                    target.bucket, target.layout.manifest_key(target.obj))
        except exceptions.RemoteError as exc:
            self._remote_failed(req, target, 'DELETE', exc)
            return self._send(self._unavailable(req, local), req,
                              start_response)
        self.logger.info('cloud_shunt: deleted the remote copy of %s',
                         target.name)
        return swob.HTTPNoContent(request=req, headers=local.trans_headers())(
            req.environ, start_response)

    def _remove_dlo_segments(self, req, target, provider, remote):
        """Before its manifest: the remote segments of a DLO copy, as the
        daemon removes them (:func:`cloudsync.large_objects.
        remove_dlo_segments`), since its delete row will find no remote
        copy any more. Local segments are listed on the operator's
        behalf; when Swift cannot list them, the remote keeps its.
        """
        def local_segments_left(container, prefix):
            sub = swift_wsgi.make_subrequest(
                req.environ, method='GET',
                path=swob.wsgi_quote(swob.str_to_wsgi('/%s/%s/%s' % (
                    target.version, target.account, container))),
                headers={restore_mod.BYPASS_HEADER: 'true'}, swift_source='CS')
            sub.params = {'format': 'json', 'limit': '1',
                          'prefix': swob.str_to_wsgi(prefix)}
            sub.environ['swift.authorize'] = lambda req: None
            sub.environ['swift.authorize_override'] = True
            resp = sub.get_response(self.app)
            body = resp.body
            if resp.status_int == 404:
                return False
            try:
                if resp.is_success:
                    return bool(json.loads(body))
            except ValueError:
                pass
            self.logger.warning(
                'cloud_shunt: could not list the local segments of DLO %s '
                '(%s); its remote segments stay', target.name, resp.status)
            return True

        deleted = large_objects.remove_dlo_segments(
            provider, target.bucket, target.layout, remote.info,
            local_segments_left)
        if deleted:
            self.logger.info('cloud_shunt: deleted %d remote segments of '
                             'DLO %s', deleted, target.name)

    def _slo_delete(self, req, target):
        """``DELETE ?multipart-manifest=delete`` of an archived SLO.

        As Swift's SLO middleware does: the segments (those still in
        Swift), then the manifest (here the remote copy and its manifest
        side object), answered in the bulk delete format.

        :returns: a response, or None when Swift has the object or the
            remote has no SLO by that name (Swift answers then).
        """
        local = self._probe(req)
        if local.status_int != 404:
            return None
        remote, answer = self._head_remote(req, target, local,
                                           local.tombstone())
        if remote is None:
            return None if isinstance(answer, answers.LocalAnswer) else answer
        if not remote.is_slo:
            return None
        provider = self.provider(target.mapping)
        try:
            out_type = req.accept.best_match(bulk.ACCEPTABLE_FORMATS)
        except ValueError:
            out_type = None
        result = {'Response Status': '200 OK', 'Response Body': '',
                  'Number Deleted': 0, 'Number Not Found': 0}
        failed = []
        try:
            raw = provider.get_object(
                target.bucket,
                target.layout.manifest_key(target.obj)).read_all()
            entries = self._trusted_manifest(target, remote, raw) or []
            segments = [e['name'] for e in entries if 'name' in e]
        except exceptions.NotFound:
            segments = []
        except exceptions.RemoteError as exc:
            self._remote_failed(req, target, 'manifest GET', exc)
            return self._unavailable(req, local)
        for name in segments:
            sub = swift_wsgi.make_subrequest(
                req.environ, method='DELETE',
                path=swob.wsgi_quote(swob.str_to_wsgi(
                    '/%s/%s%s' % (target.version, target.account, name))),
                swift_source='CS', agent='%(orig)s MultipartDELETE')
            sub.params = {}
            resp = sub.get_response(self.app)
            swift_utils.friendly_close(resp.app_iter)
            if resp.is_success:
                result['Number Deleted'] += 1
            elif resp.status_int == 404:
                result['Number Not Found'] += 1
            else:
                failed.append([swob.wsgi_quote(swob.str_to_wsgi(name)),
                               resp.status])
        if failed:
            result['Response Status'] = '400 Bad Request'
        else:
            try:
                provider.delete_object(target.bucket, target.key)
                provider.delete_object(
                    target.bucket, target.layout.manifest_key(target.obj))
            except exceptions.RemoteError as exc:
                self._remote_failed(req, target, 'DELETE', exc)
                return self._unavailable(req, local)
            result['Number Deleted'] += 1
            self.logger.info('cloud_shunt: deleted the remote copy of SLO '
                             '%s', target.name)
        if not out_type:
            result['Response Status'] = '406 Not Acceptable'
            out_type = 'text/plain'
        body = request_helpers.get_heartbeat_response_body(
            out_type, result, failed, 'delete')
        return swob.HTTPOk(request=req, body=body, content_type=out_type,
                           headers=local.trans_headers())

    def POST(self, req, target, start_response):
        local = self._local(req.environ)
        if local.status_int != 404 or not target.mapping.serves_deleted:
            return local.respond(start_response)
        local.read()
        # NOTE(cloudsync): Swift's 404 to a POST does not say whether the
        # object was deleted, and when; a HEAD does. It is made on the
        # operator's behalf (Swift authorized the POST by answering 404):
        # a client that may write but not read must not be told "no
        # tombstone" by a 403, nor a failing HEAD taken for one, or the
        # POST would stamp a deleted copy as newer than its delete.
        probe = self._probe(req, authorized=True)
        if probe.status_int != 404:
            if probe.is_success:
                # NOTE(cloudsync): written in between: Swift's answer.
                return local.respond(start_response)
            self.logger.warning(
                'cloud_shunt: not updating the remote copy of %s: the HEAD '
                'to Swift answered %s', target.name, probe.status)
            return self._send(self._unavailable(req, local), req,
                              start_response)
        remote, answer = self._head_remote(req, target, local,
                                           probe.tombstone())
        if remote is None:
            return self._send(answer, req, start_response)
        delete_at = post_expiry(req, local)
        user = {swob.wsgi_to_str(k): swob.wsgi_to_str(v)
                for k, v in req.headers.items()
                if k.lower().startswith(metadata.OBJECT_META_PREFIX) and v}
        unsafe = headers_mod.unsafe_metadata(user)
        problem = headers_mod.value_problem(
            swob.wsgi_to_str(req.headers.get('Content-Type', '')))
        if problem:
            unsafe.append(('Content-Type', problem))
        if unsafe:
            return swob.HTTPBadRequest(
                request=req, content_type='text/plain',
                headers=local.trans_headers(),
                body=('Metadata that could not be sent back as a header: '
                      '%s' % headers_mod.describe_dropped(unsafe)).encode(
                          'utf-8'))(req.environ, start_response)
        new_meta = metadata.swift_to_remote(user)
        for key, value in remote.info.metadata.items():
            lkey = key.lower()
            if lkey in (metadata.SLO_KEY, metadata.DLO_KEY) or (
                    lkey in metadata.RESERVED_KEYS or
                    (lkey.startswith(metadata.RESERVED_PREFIX) and
                     not lkey.startswith(metadata.ESCAPE_PREFIX))):
                new_meta[lkey] = value
        new_meta[metadata.TIMESTAMP_KEY] = swift_utils.Timestamp.now().internal
        # NOTE(cloudsync): as Swift's object server does, a POST replaces
        # the expiry: the one it sets, or none.
        new_meta.pop(metadata.DELETE_AT_KEY, None)
        if delete_at is not None:
            new_meta[metadata.DELETE_AT_KEY] = str(delete_at)
        content_type = remote.info.content_type
        if req.headers.get('Content-Type'):
            content_type = swob.wsgi_to_str(req.headers['Content-Type'])
        provider = self.provider(target.mapping)
        kwargs = {}
        if providers.takes_expiry(provider):
            kwargs['expires_at'] = delete_at
        try:
            provider.update_metadata(
                target.bucket, target.key, content_type=content_type,
                metadata=new_meta, **kwargs)
        except exceptions.NotFound:
            return local.respond(start_response)
        except exceptions.RemoteError as exc:
            self._remote_failed(req, target, 'POST', exc)
            return self._send(self._unavailable(req, local), req,
                              start_response)
        if remote.link is not None:
            return shunt_object.link_post_response(
                req, target.account, remote.link, local.trans_headers())(
                req.environ, start_response)
        return swob.HTTPAccepted(request=req, headers=local.trans_headers())(
            req.environ, start_response)
