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

The proxy middleware (``egg:swift-cloudsync#cloud_shunt``) and its routing: a
request of a mapped container goes to the controller of its resource,
objects (:mod:`cloudsync.shunt.object_requests`) or containers
(:mod:`cloudsync.shunt.container_requests`); every other request passes
through untouched. What the shunt answers, for operators, is on the
shunt's page of the documentation (``doc/source/shunt.rst``).
"""

import dataclasses
import typing

from swift.common import constraints
from swift.common import registry as swift_registry
from swift.common import swob
from swift.common import utils as swift_utils
from swift.common import wsgi as swift_wsgi

from cloudsync import conf as conf_mod
from cloudsync import exceptions
from cloudsync import layout as layout_mod
from cloudsync import log as cs_log
from cloudsync.shunt import answers
from cloudsync.shunt import config as shunt_config
from cloudsync.shunt import container_requests
from cloudsync.shunt import migration as migration_reads
from cloudsync.shunt import object_requests
from cloudsync.shunt import restore as restore_mod

BYPASS_HEADER = restore_mod.BYPASS_HEADER
DEFAULT_MAX_CONNECTIONS = 10
DEFAULT_REMOTE_MAX_RETRIES = 1


def _valid_path(req):
    """Whether Swift's proxy takes the request's path (valid UTF-8)."""
    try:
        return constraints.check_utf8(
            swob.wsgi_to_str(req.path_info),
            internal=req.allow_reserved_names)
    except UnicodeError:
        return False


@dataclasses.dataclass
class Target(conf_mod.Target):
    """A request's mapped container, and its object if it names one."""

    version: str = 'v1'
    #: the object's name (a native string), or None for the container
    obj: typing.Optional[str] = None

    @property
    def key(self):
        return self.object_key(self.obj)

    @property
    def name(self):
        return '/'.join(p for p in (self.account, self.container, self.obj)
                        if p)


class CloudShuntMiddleware(object):
    """Serves archived objects and merged listings; see the shunt's page
    of the documentation.

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

    def local(self, env):
        return answers.LocalAnswer(*answers.Local(self.app).call(env))

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
        return Target.of(mapping, container, version=version, obj=obj)

    def __call__(self, env, start_response):
        req = swob.Request(env)
        if req.method not in ('GET', 'HEAD', 'POST', 'DELETE') or \
                swift_utils.config_true_value(
                    req.headers.get(BYPASS_HEADER)):
            return self.app(env, start_response)
        served = migration_reads.serve(self, req, start_response)
        if served is not None:
            return served
        target = self._target(req)
        if target is None:
            return self.app(env, start_response)
        if target.obj is not None and req.params.get('version-id'):
            # NOTE(cloudsync): a request for one version of a versioned
            # object (object_versioning's ?version-id=, "null" included)
            # is never about the remote copy; see the shunt's page of the
            # documentation.
            return self.app(env, start_response)
        try:
            if target.obj is not None:
                handler = getattr(object_requests.ObjectRequests(self),
                                  req.method)
                return handler(req, target, start_response)
            if req.method == 'GET':
                return container_requests.ContainerRequests(self).GET(
                    req, target, start_response)
        except swob.HTTPException as err:
            return err(env, start_response)
        return self.app(env, start_response)

    def remote_failed(self, req, target, what, exc):
        self.logger.error('cloud_shunt: %s of %s failed: %s', what,
                          target.name, exc)

    def unavailable(self, req, local):
        return swob.HTTPServiceUnavailable(
            request=req, headers=local.trans_headers())

    def probe(self, req, authorized=False):
        """Swift's own answer to a HEAD of the object, without conditions.

        :param authorized: made without the client's authorization (Swift
            still authorizes the client's own request), for a client that
            may write but not read: what it answers must then only be
            used once Swift allowed the client's request.
        :returns: a :class:`~cloudsync.shunt.answers.LocalAnswer` without
            a body.
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
        return answers.LocalAnswer(resp.status, list(resp.headers.items()),
                                   None, [])

    @staticmethod
    def send(answer, req, start_response):
        if isinstance(answer, answers.LocalAnswer):
            return answer.respond(start_response)
        return answer(req.environ, start_response)


def filter_factory(global_conf, **local_conf):
    """The paste filter factory of ``egg:swift-cloudsync#cloud_shunt``.

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
