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
"""proxymc: the shared namespace through a Swift API endpoint in the cloud.

proxymc is a paste app (``egg:swift-cloudsync#proxymc``) that takes the
place of Swift's proxy server at the end of a Swift pipeline. It runs next
to the bucket, reads the same ``cloudsync.conf`` as the sync daemon, and serves
every mapped (account, container) straight from the remote bucket, in the
layout the daemon writes, so that Swift clients (and, through Swift's
``s3api``, S3 clients) reach the shared data while the cluster on premises
is out of reach::

    [DEFAULT]
    bind_ip = 0.0.0.0
    bind_port = 8080
    workers = auto

    [pipeline:main]
    pipeline = catch_errors gatekeeper healthcheck proxy-logging cache
               listing_formats s3api tempauth copy slo proxy-logging
               proxy-server

    [app:proxy-server]
    use = egg:swift-cloudsync#proxymc
    conf_file = /etc/cloudsync/cloudsync.conf

    [filter:slo]
    use = egg:swift-cloudsync#proxymc_slo

Serve it with ``cloudsync-proxymc /etc/cloudsync/proxymc.conf``, as
``swift-proxy-server`` serves a proxy. The app section must be the last
element of the pipeline; s3api requires it to be named ``proxy-server``.
Like Swift's proxy, proxymc adds ``catch_errors``, ``gatekeeper``,
``listing_formats`` and ``copy`` to a pipeline that lacks them. Leave out
Swift's ``slo`` and ``dlo``: proxymc serves large objects itself, as the
daemon stored them (``egg:swift-cloudsync#proxymc_slo`` is the ``slo`` s3api
needs to allow multipart uploads).

What is served:

* ``GET``/``HEAD`` of an account that a mapping names: the mapped
  containers (a ``container = *`` mapping adds the containers found in the
  bucket, see :func:`cloudsync.proxymc.listing.discover_containers`);
* ``GET``/``HEAD`` of a mapped container: its listing, in json, xml or
  plain text, with Swift's listing parameters
  (:mod:`cloudsync.proxymc.listing`); ``PUT`` of a mapped container is a
  ``202`` (it exists), ``DELETE`` is a ``204`` when it holds no object and
  a ``409`` otherwise (the mapping, not the bucket, makes it exist);
  ``POST`` is a ``405``: container metadata is not kept;
* object ``GET``, ``HEAD``, ``PUT``, ``POST``, ``DELETE`` and static large
  objects (:mod:`cloudsync.proxymc.objects`, :mod:`cloudsync.proxymc.slo`);
* anything else is a ``404`` (an account or container no mapping covers)
  or a ``405``. With ``container = *`` every container name of the account
  is mapped, so every one exists (empty until something is written).

The s3api segments container of a mapped container (``<name>+segments``)
is mapped with it, so that S3 multipart uploads work through s3api.

Authorization, the Swift way: like Swift's proxy, proxymc calls
``swift.authorize`` (installed by tempauth, keystoneauth or any Swift auth
middleware) for every request, with ``req.acl`` set to the container's
read ACL for ``GET``/``HEAD`` and its write ACL for ``PUT``, ``POST`` and
``DELETE``. The bucket has no ACLs of its own, so a container's ACLs are
the mapping's ``read_acl`` and ``write_acl`` options (Swift ACL syntax, as
in ``X-Container-Read`` and ``X-Container-Write``; unset: only the
account's owners, ``swift_owner``, get in). A request that no auth
middleware looked at is refused with ``401`` unless ``allow_anonymous`` is
true.

Options of the app section:

``conf_file`` (``/etc/cloudsync/cloudsync.conf``)
    cloudsync's configuration: remotes and mappings.
``max_connections`` (``20``)
    connections to each remote per worker process.
``multipart_threshold`` (``67108864``, 64 MiB)
    a body of known length up to this size is streamed to the remote in one
    PUT; larger or chunked bodies are spooled and uploaded in parts.
``part_size`` (``16777216``, 16 MiB)
    the size of those parts.
``spool_dir`` (the system's temporary directory)
    where bodies are spooled.
``count_objects`` (``false``)
    compute ``X-Container-Object-Count`` and ``X-Container-Bytes-Used``
    (and account totals) by listing the whole container on every container
    HEAD/GET and account GET; when false they are left out (0 in account
    listings), since a remote bucket keeps no counters.
``allow_anonymous`` (``false``)
    serve requests that no auth middleware has seen.
``s3api_segments_suffix`` (``+segments``)
    the suffix s3api gives a bucket's segments container.
``log_name``, ``log_facility``, ``log_level``, ...
    Swift's logging options.

Options of a ``[mapping:NAME]`` section in ``cloudsync.conf`` read by
proxymc only: ``read_acl`` and ``write_acl`` (see above). They are checked
at start-up with Swift's own ACL rules (``clean_acl()``, as Swift's proxy
checks ``X-Container-Read`` and ``X-Container-Write``): a value Swift
would refuse, such as a referrer (``.r:*``) in ``write_acl``, stops
proxymc with an error naming the mapping and the option, and the ACLs are
used (and shown to owners) as Swift cleans them.
"""

import dataclasses
import json
import typing

from oslo_config import cfg
from swift import __version__ as swift_version
from swift.common import constraints
from swift.common.middleware import acl
from swift.common import registry
from swift.common import swob
from swift.common import utils as swift_utils
from swift.common import wsgi

from cloudsync import conf as cs_conf
from cloudsync import exceptions
from cloudsync import log as cs_log
from cloudsync.proxymc import account as account_mod
from cloudsync.proxymc import container as container_mod
from cloudsync.proxymc import objects
from cloudsync.proxymc import responses
from cloudsync.proxymc import slo as proxymc_slo

#: options proxymc reads from each ``[mapping:NAME]`` section
MAPPING_OPTS = cs_conf.opts.proxymc_mapping_opts

#: filters proxymc inserts when a pipeline lacks them, after the first of
#: the named filters present (the placement Swift's proxy uses)
REQUIRED_FILTERS = [
    ('catch_errors', lambda pipe: []),
    ('gatekeeper', lambda pipe: (
        ['catch_errors'] if pipe.startswith('catch_errors') else [])),
    ('listing_formats', lambda pipe: [
        'catch_errors', 'gatekeeper', 'proxy_logging', 'memcache']),
    ('copy', lambda pipe: [
        'staticweb', 'tempauth', 'keystoneauth', 'catch_errors',
        'gatekeeper', 'proxy_logging']),
]

DEFAULT_PART_SIZE = 16 * 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024
DEFAULT_SEGMENTS_SUFFIX = '+segments'


def list_opts():
    """proxymc's mapping options, for oslo-config-generator."""
    return [(cfg.OptGroup('mapping:name'), MAPPING_OPTS)]


#: the Swift header whose syntax each ACL option takes
ACL_HEADERS = (('read_acl', 'X-Container-Read'),
               ('write_acl', 'X-Container-Write'))


def mapping_acls(config):
    """Every mapping's ``(read_acl, write_acl)``, checked as Swift does.

    Each is cleaned with Swift's own ``clean_acl()``, the check Swift's
    proxy applies to ``X-Container-Read`` and ``X-Container-Write``: a
    value Swift would refuse (a referrer in a write ACL, an unknown
    ``.designator``, ...) is refused here.

    :returns: ``{mapping section: (read_acl, write_acl)}``; None for unset.
    :raises exceptions.ConfigError: naming every mapping and option whose
        value is not a valid ACL.
    """
    acls, problems = {}, []
    for mapping in config.mappings:
        group = config.conf[mapping.section]
        cleaned = []
        for option, header in ACL_HEADERS:
            value = getattr(group, option)
            if value is None or not value.strip():
                cleaned.append(None)
                continue
            try:
                cleaned.append(acl.clean_acl(header, value) or None)
            except ValueError as exc:
                problems.append('[%s] %s: %s (the syntax of %s)' % (
                    mapping.section, option, exc, header))
                cleaned.append(None)
        acls[mapping.section] = tuple(cleaned)
    if problems:
        raise exceptions.ConfigError(problems)
    return acls


@dataclasses.dataclass
class Target(cs_conf.Target):
    """A mapped container as proxymc serves it.

    With its provider and the mapping's ACLs, as Swift's clean_acl()
    keeps them.
    """

    provider: typing.Any = None
    read_acl: typing.Optional[str] = None
    write_acl: typing.Optional[str] = None


class ProxyMC:
    """The paste app: a Swift API served from remote buckets.

    :param conf: the app section's options.
    :param config: a loaded :class:`cloudsync.conf.Config`; read from
        ``conf_file`` when not given.
    """

    def __init__(self, conf, config=None, logger=None):
        self.conf = conf
        self.logger = logger or swift_utils.get_logger(
            conf, log_route='proxymc')
        if config is None:
            config = cs_conf.load_file(
                conf.get('conf_file', cs_conf.DEFAULT_CONFIG_FILE))
        self.config = config
        for mapping in config.mappings:
            try:
                config.conf.register_opts(MAPPING_OPTS, group=mapping.section)
            except cfg.DuplicateOptError:
                pass
        self.acls = mapping_acls(config)
        # NOTE: Swift's logger does not propagate to the root logger: its
        # own handlers need the filter.
        cs_log.add_secrets(config.secrets(), logger=self.logger)
        self.max_connections = int(conf.get('max_connections', 20))
        self.part_size = int(conf.get('part_size', DEFAULT_PART_SIZE))
        self.multipart_threshold = int(conf.get(
            'multipart_threshold', DEFAULT_MULTIPART_THRESHOLD))
        self.spool_dir = conf.get('spool_dir') or None
        self.count_objects = swift_utils.config_true_value(
            conf.get('count_objects', 'false'))
        self.allow_anonymous = swift_utils.config_true_value(
            conf.get('allow_anonymous', 'false'))
        self.segments_suffix = conf.get('s3api_segments_suffix',
                                        DEFAULT_SEGMENTS_SUFFIX)
        problems = []
        if self.part_size < 1:
            problems.append('part_size must be positive')
        if self.max_connections < 1:
            problems.append('max_connections must be positive')
        if problems:
            raise exceptions.ConfigError(
                ['[app:proxymc] %s' % p for p in problems])
        # NOTE: Swift's get_container_info() and get_account_info(), which
        # s3api and other middlewares call, read these of the final app.
        self.account_existence_skip_cache = 0.0
        self.container_existence_skip_cache = 0.0

    # -- the WSGI side -------------------------------------------------------

    def __call__(self, env, start_response):
        req = swob.Request(env)
        try:
            resp = self.handle_request(req)
        except swob.HTTPException as err:
            resp = err
        except exceptions.RemoteError as exc:
            resp = responses.error_response(req, exc)
        except Exception:  # noqa: BLE001 - a 500 is the answer
            self.logger.exception('ERROR Unhandled exception in request')
            resp = swob.HTTPServerError(request=req)
        return resp(env, start_response)

    def modify_wsgi_pipeline(self, pipe):
        """Add the filters proxymc needs, where Swift's proxy adds them.

        Listings are always answered in JSON, as Swift's proxy app answers
        them: ``listing_formats`` turns them into plain text or XML for
        clients, while middlewares behind it (s3api) read the JSON.
        ``gatekeeper`` keeps clients from setting or reading system
        metadata, which proxymc stores for s3api.
        """
        for name, afters in reversed(REQUIRED_FILTERS):
            if name in pipe:
                continue
            insert_at = 0
            for after in afters(pipe):
                try:
                    insert_at = max(insert_at, pipe.index(after) + 1)
                except ValueError:
                    pass
            self.logger.info('Adding required filter %s to pipeline at '
                             'position %d', name, insert_at)
            pipe.insert_filter(pipe.create_filter(name), index=insert_at)

    def handle_request(self, req):
        if req.path == '/info':
            return self.info(req)
        try:
            version, account, container, obj = req.split_path(1, 4, True)
        except ValueError:
            return swob.HTTPNotFound(request=req)
        if not constraints.valid_api_version(version):
            return swob.HTTPBadRequest(request=req)
        if not account:
            return swob.HTTPPreconditionFailed(request=req, body='Bad URL')
        try:
            if not constraints.check_utf8(swob.wsgi_to_str(req.path_info)):
                raise UnicodeError
        except UnicodeError:
            return swob.HTTPPreconditionFailed(
                request=req, body='Invalid UTF8 or contains NULL')
        if 'swift.trans_id' not in req.environ:
            req.environ['swift.trans_id'] = swift_utils.generate_trans_id('')
        account = swob.wsgi_to_str(account)
        if obj is not None:
            return objects.handle(self, req, account,
                                  swob.wsgi_to_str(container),
                                  swob.wsgi_to_str(obj))
        if container is not None:
            return container_mod.handle(self, req, account,
                                        swob.wsgi_to_str(container))
        return account_mod.handle(self, req, account)

    def info(self, req):
        if req.method not in ('GET', 'HEAD'):
            return swob.HTTPMethodNotAllowed(request=req,
                                             headers={'Allow': 'GET, HEAD'})
        body = json.dumps(registry.get_swift_info()).encode('ascii')
        return swob.HTTPOk(request=req, body=body,
                           content_type='application/json; charset=UTF-8')

    # -- mapping and authorization -------------------------------------------

    def provider_for(self, mapping):
        return mapping.remote.provider(self.max_connections)

    def resolve(self, account, container):
        """The :class:`Target` of (account, container), or None."""
        mapping = self.config.mapping_for(account, container)
        if mapping is None and self.segments_suffix and \
                container.endswith(self.segments_suffix) and \
                len(container) > len(self.segments_suffix):
            mapping = self.config.mapping_for(
                account, container[:-len(self.segments_suffix)])
        if mapping is None:
            return None
        read_acl, write_acl = self.acls.get(mapping.section, (None, None))
        return Target.of(mapping, container,
                         provider=self.provider_for(mapping),
                         read_acl=read_acl, write_acl=write_acl)

    def account_mappings(self, account):
        return [m for m in self.config.mappings if m.account == account]

    def authorize(self, req, acl=None):
        """Ask the auth middleware, as Swift's proxy does.

        :returns: None when allowed, else the denial (401 or 403).
        """
        authorize = req.environ.get('swift.authorize')
        if authorize is None:
            if self.allow_anonymous:
                return None
            return swob.HTTPUnauthorized(
                request=req, body=b'proxymc serves only requests an auth '
                b'middleware has seen')
        req.acl = acl
        return authorize(req)

    def authorize_segment(self, req, target, name, method):
        """Authorize access to a segment named by a manifest."""
        env = dict(req.environ)
        env['PATH_INFO'] = swob.str_to_wsgi('/v1/%s/%s/%s' % (
            target.account, target.container, name))
        env['REQUEST_METHOD'] = method
        env.pop('swift_owner', None)
        sub = swob.Request(env)
        acl = target.read_acl if method in ('GET', 'HEAD') \
            else target.write_acl
        return self.authorize(sub, acl)


def app_factory(global_conf, **local_conf):
    """The paste app factory of ``egg:swift-cloudsync#proxymc``."""
    conf = dict(global_conf, **local_conf)
    registry.register_swift_info(
        version=swift_version, allow_account_management=False,
        account_autocreate=False,
        **constraints.EFFECTIVE_CONSTRAINTS)
    registry.register_swift_info('proxymc')
    try:
        return ProxyMC(conf)
    except exceptions.ConfigError as exc:
        # NOTE: Swift's WSGI server prints this one and exits 1, before it
        # binds or forks, as for its own configuration errors.
        raise wsgi.ConfigFileError(
            'proxymc cannot start; the configuration is not valid:\n%s'
            % exc)


def slo_filter_factory(global_conf, **local_conf):
    """``egg:swift-cloudsync#proxymc_slo``: the ``slo`` of a proxymc pipeline.

    proxymc stores static large objects itself; this filter passes every
    request through. It exists because s3api allows multipart uploads only
    when a filter named ``slo`` sits between it and the app, and Swift's
    own ``slo`` would read the bytes of a large object as its manifest.
    """
    registry.register_swift_info(
        'slo', max_manifest_segments=proxymc_slo.MAX_MANIFEST_SEGMENTS,
        max_manifest_size=proxymc_slo.MAX_MANIFEST_SIZE,
        yield_frequency=int(proxymc_slo.HEARTBEAT_INTERVAL),
        min_segment_size=1)

    def passthrough(app):
        return app
    return passthrough
