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
"""The cloud shunt: archived objects stay readable through Swift.

The proxy middleware (``egg:cloudsync#cloud_shunt``): it routes each
request of a mapped container to what answers it when Swift answers 404 or
lists: object reads (:mod:`cloudsync.shunt.objects`), listings
(:mod:`cloudsync.shunt.listing`), restores (:mod:`cloudsync.shunt.restore`),
with the configuration of :mod:`cloudsync.shunt.config`. Every other
request passes through untouched. What the shunt does, for operators, is
documented in the guide's page on the shunt (``doc/source/shunt.rst``).
"""

import json

from swift.common import constraints
from swift.common.middleware import bulk
from swift.common import registry as swift_registry
from swift.common import request_helpers
from swift.common import swob
from swift.common import utils as swift_utils
from swift.common import wsgi as swift_wsgi

from cloudsync import conf as conf_mod
from cloudsync import exceptions
from cloudsync import headers as headers_mod
from cloudsync import large_objects
from cloudsync import layout as layout_mod
from cloudsync import listing as listing_mod
from cloudsync import log as cs_log
from cloudsync import metadata
from cloudsync import providers
from cloudsync import remote_manifest
from cloudsync.shunt import config as shunt_config
from cloudsync.shunt import listing as shunt_listing
from cloudsync.shunt import objects as shunt_object
from cloudsync.shunt import restore as restore_mod

BYPASS_HEADER = restore_mod.BYPASS_HEADER
DEFAULT_MAX_CONNECTIONS = 10
DEFAULT_REMOTE_MAX_RETRIES = 1
#: request headers that identify a request in the logs; kept on answers
#: built from the remote
TRANS_HEADERS = ('X-Trans-Id', 'X-Openstack-Request-Id')


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


def _valid_path(req):
    """Whether Swift's proxy takes the request's path (valid UTF-8)."""
    try:
        return constraints.check_utf8(
            swob.wsgi_to_str(req.path_info),
            internal=req.allow_reserved_names)
    except UnicodeError:
        return False


class _Local(swift_wsgi.WSGIContext):
    """One call to the rest of the pipeline."""

    def call(self, env):
        body = self._app_call(env)
        return (self._response_status, list(self._response_headers),
                self._response_exc_info, body)


class LocalAnswer(object):
    """What Swift answered, kept to be passed on or replayed."""

    def __init__(self, status, headers, exc_info, body):
        self.status = status
        self.headers = swob.HeaderKeyDict(headers)
        self.header_list = headers
        self.exc_info = exc_info
        self.body = body

    @property
    def status_int(self):
        return int(self.status.split(' ', 1)[0])

    @property
    def is_success(self):
        return 200 <= self.status_int < 300

    def read(self):
        """Read the body so that it can be replayed or parsed."""
        if not isinstance(self.body, list):
            try:
                data = b''.join(self.body)
            finally:
                swift_utils.close_if_possible(self.body)
            self.body = [data]
        return self

    def respond(self, start_response):
        start_response(self.status, self.header_list, self.exc_info)
        return self.body

    def trans_headers(self):
        return {k: self.headers[k] for k in TRANS_HEADERS
                if k in self.headers}

    def tombstone(self):
        value = self.headers.get('X-Backend-Timestamp')
        try:
            return swift_utils.Timestamp(value) if value else None
        except ValueError:
            return None


class Target(object):
    """A request's mapped object or container."""

    def __init__(self, mapping, version, account, container, obj):
        self.mapping = mapping
        self.version = version
        #: native strings
        self.account = account
        self.container = container
        self.obj = obj
        self.bucket = mapping.remote_bucket(container)
        self.layout = mapping.remote_layout(container)

    @property
    def key(self):
        return self.layout.object_key(self.obj)

    @property
    def name(self):
        return '/'.join(p for p in (self.account, self.container, self.obj)
                        if p)


class CloudShuntMiddleware(object):
    """Serves archived objects and merged listings; see the module doc.

    :param app: the next WSGI app of the pipeline.
    :param conf: the filter's paste options.
    :param config: a :class:`~cloudsync.shunt.config.ShuntConfig`.
    """

    def __init__(self, app, conf, config, logger=None):
        self.app = app
        self.conf = conf
        self.config = config
        self.logger = logger or swift_utils.get_logger(
            conf, log_route='cloud_shunt')
        config.logger = self.logger
        self.max_connections = int(conf.get(
            'max_connections', DEFAULT_MAX_CONNECTIONS))
        self.restore_timeout = float(conf.get(
            'restore_timeout', restore_mod.RESTORE_TIMEOUT))
        self.overrides = {'max_retries': int(conf.get(
            'remote_max_retries', DEFAULT_REMOTE_MAX_RETRIES))}
        for option, name in (('remote_connect_timeout', 'connect_timeout'),
                             ('remote_read_timeout', 'read_timeout')):
            if conf.get(option):
                self.overrides[name] = float(conf[option])
        self._providers = {}
        self._providers_version = None
        self._mask_secrets()

    # -- plumbing ----------------------------------------------------------

    def _mask_secrets(self):
        """Mask the remotes' secrets in the proxy's log lines."""
        cs_log.add_secrets(self.config.config.secrets(), logger=self.logger)

    def provider(self, mapping):
        """The shunt's provider for a mapping's remote."""
        if self._providers_version != self.config.version:
            self._providers = {}
            self._providers_version = self.config.version
            self._mask_secrets()
        remote = mapping.remote
        provider = self._providers.get(remote.name)
        if provider is None:
            names = {o.dest for o in remote.provider_cls.OPTIONS}
            overrides = {k: v for k, v in self.overrides.items()
                         if k in names}
            conf = remote.conf
            if overrides:
                conf = shunt_config.RemoteConf(conf, overrides)
            provider = remote.provider_cls(
                remote.name, conf, max_connections=self.max_connections)
            self._providers[remote.name] = provider
        return provider

    def _local(self, env):
        return LocalAnswer(*_Local(self.app).call(env))

    def _target(self, req):
        try:
            version, account, container, obj = req.split_path(2, 4, True)
        except ValueError:
            return None
        if not container or not constraints.valid_api_version(version):
            return None
        if not _valid_path(req):
            # NOTE(cloudsync): Swift's proxy answers 412 to a name that is
            # not UTF-8 (or holds a NUL), before any authorization.
            return None
        account = swob.wsgi_to_str(account)
        container = swob.wsgi_to_str(container)
        obj = swob.wsgi_to_str(obj) if obj else None
        if obj is not None and layout_mod.is_reserved_name(obj):
            # NOTE(cloudsync): its key may be a side object (an SLO's
            # manifest): never a user object; Swift answers alone.
            return None
        mapping = self.config.get().mapping_for(account, container)
        if mapping is None or not mapping.shunted:
            return None
        return Target(mapping, version, account, container, obj)

    def __call__(self, env, start_response):
        req = swob.Request(env)
        if req.method not in ('GET', 'HEAD', 'POST', 'DELETE') or \
                swift_utils.config_true_value(
                    req.headers.get(BYPASS_HEADER)):
            return self.app(env, start_response)
        target = self._target(req)
        if target is None:
            return self.app(env, start_response)
        if target.obj is not None and req.params.get('version-id'):
            # NOTE(cloudsync): a request for one version of a versioned
            # object (object_versioning's ?version-id=, "null" included)
            # is never about the remote copy; see the module doc.
            return self.app(env, start_response)
        try:
            if target.obj is not None:
                handler = getattr(self, 'object_' + req.method)
                return handler(req, target, start_response)
            if req.method == 'GET':
                return self.container_GET(req, target, start_response)
        except swob.HTTPException as err:
            return err(env, start_response)
        return self.app(env, start_response)

    def _remote_failed(self, req, target, what, exc):
        self.logger.error('cloud_shunt: %s of %s failed: %s', what,
                          target.name, exc)

    def _unavailable(self, req, local):
        return swob.HTTPServiceUnavailable(
            request=req, headers=local.trans_headers())

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

    def _probe(self, req, authorized=False):
        """Swift's own answer to a HEAD of the object, without conditions.

        :param authorized: made without the client's authorization (Swift
            still authorizes the client's own request), for a client that
            may write but not read: what it answers must then only be
            used once Swift allowed the client's request.
        :returns: a :class:`LocalAnswer` without a body.
        """
        probe = swift_wsgi.make_subrequest(
            req.environ, method='HEAD', swift_source='CS',
            headers={BYPASS_HEADER: 'true'})
        if authorized:
            # NOTE(cloudsync): as tempurl lets a request through
            probe.environ['swift.authorize'] = lambda req: None
            probe.environ['swift.authorize_override'] = True
        for header in ('If-Match', 'If-None-Match', 'If-Modified-Since',
                       'If-Unmodified-Since', 'Range'):
            probe.headers.pop(header, None)
        resp = probe.get_response(self.app)
        swift_utils.friendly_close(resp.app_iter)
        return LocalAnswer(resp.status, list(resp.headers.items()), None, [])

    @staticmethod
    def _send(answer, req, start_response):
        if isinstance(answer, LocalAnswer):
            return answer.respond(start_response)
        return answer(req.environ, start_response)

    # -- objects -----------------------------------------------------------

    def object_GET(self, req, target, start_response):
        local = self._local(req.environ)
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
                    self, req, location, local.trans_headers())
                if answer is not None:
                    local.read()
                    return answer(req.environ, start_response)
        return self._serve(req, target, local.read(), tombstone,
                           start_response)

    object_HEAD = object_GET

    def _serve(self, req, target, local, tombstone, start_response):
        """Answer from the remote.

        ``local`` (Swift's answer) is replayed when the remote does not
        have the object either.
        """
        provider = self.provider(target.mapping)
        is_get = req.method == 'GET'
        ranged = is_get and req.range is not None
        body = None
        try:
            if is_get and not ranged:
                body = provider.get_object(target.bucket, target.key)
                info = body.info
            else:
                info = provider.head_object(target.bucket, target.key)
        except exceptions.NotFound:
            return local.respond(start_response)
        except exceptions.RemoteError as exc:
            self._remote_failed(req, target, req.method, exc)
            return self._send(self._unavailable(req, local), req,
                              start_response)
        except Exception:
            self.logger.exception('cloud_shunt: %s of %s failed',
                                  req.method, target.name)
            return self._send(self._unavailable(req, local), req,
                              start_response)
        remote = shunt_object.RemoteObject(info)
        if remote.dropped:
            self.logger.warning(
                'cloud_shunt: %s: the remote copy has metadata that cannot '
                'be sent as a header, left out: %s', target.name,
                headers_mod.describe_dropped(remote.dropped))
        if remote.expired() or remote.deleted_by(tombstone):
            if body is not None:
                body.close()
            return local.respond(start_response)
        if remote.link is not None:
            # NOTE(cloudsync): an archived symlink, followed through the
            # shunt; see cloudsync.symlinks.
            if body is not None:
                body.close()
            return shunt_object.link_response(
                self, req, target.account, remote, local.trans_headers())(
                req.environ, start_response)
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
            app_iter = shunt_object.GuardedBody(body, on_error)
            if target.mapping.restore_object and \
                    'Range' not in req.headers:
                app_iter = self._restoring(req, target, tombstone, remote,
                                           app_iter)
        headers = remote.headers()
        headers.update(local.trans_headers())
        resp = swob.Response(
            status=200, headers=headers, app_iter=app_iter, request=req,
            conditional_response=True, conditional_etag=(
                request_helpers.resolve_etag_is_at_header(req, headers) or
                remote.etag))
        resp.last_modified = remote.last_modified
        return resp(req.environ, start_response)

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

    def _restoring(self, req, target, tombstone, remote, app_iter):
        """Wrap the client's body so that it restores the object."""
        if remote.is_dlo:
            self.logger.info('cloud_shunt: %s is a dynamic large object; '
                             'it is served, not restored', target.name)
            return app_iter
        timestamp = restore_mod.restore_timestamp(remote.timestamp,
                                                  tombstone)
        headers = dict(remote.metadata_headers())
        headers.pop('X-Static-Large-Object', None)
        headers['Content-Type'] = remote.content_type
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

    def object_DELETE(self, req, target, start_response):
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
                headers={BYPASS_HEADER: 'true'}, swift_source='CS')
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
            return None if isinstance(answer, LocalAnswer) else answer
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

    def object_POST(self, req, target, start_response):
        local = self._local(req.environ)
        if local.status_int != 404:
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

    # -- containers --------------------------------------------------------

    def container_GET(self, req, target, start_response):
        if 'path' in req.params:
            return self.app(req.environ, start_response)
        # NOTE(cloudsync): the shunt answers as Swift's proxy app, which
        # lists in JSON whatever the request says (listing_formats, at
        # the head of every proxy pipeline, turns that into the format
        # the client asked for); the middlewares that list on their own
        # (s3api, staticweb, bulk, versioning) expect JSON and ask for
        # it, or ask for no format at all.
        params = req.params
        params['format'] = 'json'
        req.params = params
        # NOTE(cloudsync): object_versioning (below the shunt) answers
        # ?versions with a versions listing.
        versions = 'versions' in params and \
            'object_versioning' in swift_registry.get_swift_info()
        local = self._local(req.environ).read()
        if local.status_int != 200:
            return local.respond(start_response)
        content_type = local.headers.get('Content-Type', '')
        try:
            if content_type.partition(';')[0].strip() != \
                    'application/json':
                raise ValueError('not a JSON listing')
            entries = shunt_listing.read_local(local.body[0])
            params = shunt_listing.ListingParams(
                request_helpers.validate_container_params(req))
        except (ValueError, swob.HTTPException):
            return local.respond(start_response)
        mapping = target.mapping
        provider = self.provider(mapping)
        merger = (mapping.listing_cls or listing_mod.MergeListing)(mapping)
        location = provider.location(target.bucket)
        if target.layout.key_prefix:
            location = '%s;%s' % (location, target.layout.key_prefix)
        remote = shunt_listing.RemoteListing(provider, target.bucket,
                                             target.layout)
        try:
            sizer = shunt_listing.PageSizer(params.limit, len(entries))
            floor = None
            if params.reverse and entries and \
                    len(entries) >= params.limit:
                floor = listing_mod.entry_key(entries[-1])
            remote_entries = remote.entries(params, sizer, floor)
            if versions:
                remote_entries = shunt_listing.null_versions(remote_entries)
            listing = shunt_listing.merge(
                merger, entries, remote_entries, params, location, sizer)
        except exceptions.RemoteError as exc:
            self.logger.warning('cloud_shunt: listing the remote of %s '
                                'failed; answering with the local listing '
                                'only: %s', target.name, exc)
            listing = entries
        except Exception:
            self.logger.exception('cloud_shunt: listing the remote of %s '
                                  'failed; answering with the local '
                                  'listing only', target.name)
            listing = entries
        body = json.dumps(listing).encode('ascii')
        headers = swob.HeaderKeyDict(local.headers)
        headers['Content-Length'] = str(len(body))
        start_response(local.status, list(headers.items()))
        return [body]


def filter_factory(global_conf, **local_conf):
    """The paste filter factory of ``egg:cloudsync#cloud_shunt``.

    :raises ValueError: ``conf_file`` is missing or invalid (the proxy does
        not start).
    """
    conf = dict(global_conf, **local_conf)
    path = conf.get('conf_file') or conf_mod.DEFAULT_CONFIG_FILE
    logger = swift_utils.get_logger(conf, log_route='cloud_shunt')
    try:
        config = shunt_config.ShuntConfig(
            path, logger, reload_interval=float(conf.get(
                'reload_interval', shunt_config.DEFAULT_RELOAD_INTERVAL)))
    except exceptions.ConfigError as exc:
        raise ValueError('cloud_shunt: invalid conf_file %s:\n%s' % (
            path, '\n'.join(exc.problems)))
    for option in ('max_connections', 'remote_max_retries'):
        if option in conf and not str(conf[option]).isdigit():
            raise ValueError('cloud_shunt: %s must be a whole number, not '
                             '%r' % (option, conf[option]))
    swift_registry.register_swift_info(
        'cloud_shunt', bypass_header=BYPASS_HEADER)

    def cloud_shunt(app):
        return CloudShuntMiddleware(app, conf, config, logger=logger)
    return cloud_shunt
