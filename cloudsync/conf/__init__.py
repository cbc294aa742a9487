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
"""Loading and validating cloudsync's configuration.

One INI file, read with oslo.config, serves the daemon, the shunt and
proxymc::

    [DEFAULT]
    devices = /srv/node
    status_dir = /var/lib/cloudsync

    [remote:aws]
    provider = s3
    access_key = ...
    secret_key = ...

    [mapping:photos]
    account = AUTH_test
    container = photos
    remote = aws
    bucket = team-photos

:func:`load` reads it, registers every remote's provider options, checks
every value and returns a :class:`Config`. Every problem found is reported
at once in a :class:`~cloudsync.exceptions.ConfigError` whose lines name the
section and the option.
"""

# NOTE(cloudsync): over 600 lines on purpose: the loader reads and checks
# every section in one pass, so that all problems of a file are reported
# together; the option declarations live in cloudsync.conf.opts.

import dataclasses
import difflib
import json
import math
import re
import sys
import typing
import urllib.parse

from oslo_config import cfg
from oslo_log import log as logging

from cloudsync.conf import migration as migration_mod
from cloudsync.conf import opts
from cloudsync.conf import overlap
from cloudsync import exceptions
from cloudsync import layout as layout_mod
from cloudsync import registry

REMOTE_PREFIX = 'remote:'
MAPPING_PREFIX = 'mapping:'
MIGRATION_PREFIX = 'migration:'
WILDCARD = '*'
DEFAULT_CONFIG_FILE = '/etc/cloudsync/cloudsync.conf'

LOG = logging.getLogger(__name__)


def register_opts(conf):
    """Register ``[DEFAULT]`` options (and oslo.log's) on ``conf``."""
    conf.register_opts(opts.default_opts)
    try:
        logging.register_options(conf)
    except cfg.ArgsAlreadyParsedError:
        pass
    except cfg.DuplicateOptError:
        pass


@dataclasses.dataclass
class Remote:
    """A ``[remote:NAME]`` section with its provider class."""

    name: str
    section: str
    provider_name: str
    provider_cls: typing.Any
    conf: typing.Any
    enabled: bool = True
    _providers: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def endpoint(self):
        return self.conf.endpoint

    def provider(self, max_connections=10):
        """A provider instance for this remote, shared per pool size."""
        if max_connections not in self._providers:
            self._providers[max_connections] = self.provider_cls(
                self.name, self.conf, max_connections=max_connections)
        return self._providers[max_connections]

    def secrets(self):
        """The values of this remote's secret options (any provider's)."""
        names = [o.dest for o in
                 list(opts.remote_opts) + list(self.provider_cls.OPTIONS)
                 if o.secret]
        return [v for v in (getattr(self.conf, n, None) for n in names)
                if v]


def _parse_criteria(value):
    """Parse and check ``selection_criteria``."""
    criteria = json.loads(value)

    def check(node):
        if not isinstance(node, dict) or len(node) != 1:
            raise ValueError('each criterion must be an object with exactly '
                             'one key, not %s' % json.dumps(node))
        (key, val), = node.items()
        if key in ('AND', 'OR'):
            if not isinstance(val, list) or not val:
                raise ValueError('%s takes a non-empty list' % key)
            for sub in val:
                check(sub)
        elif key == 'NOT':
            check(val)
        elif not isinstance(val, str):
            raise ValueError('the value of %s must be a string' % key)
    if criteria != {}:
        check(criteria)
    return criteria


def match_criteria(criteria, headers):
    """True when Swift object ``headers`` match ``criteria``.

    Header names are compared case-insensitively and so are values.
    """
    if not criteria:
        return True
    (key, val), = criteria.items()
    if key == 'AND':
        return all(match_criteria(c, headers) for c in val)
    if key == 'OR':
        return any(match_criteria(c, headers) for c in val)
    if key == 'NOT':
        return not match_criteria(val, headers)
    lower = {k.lower(): v for k, v in headers.items()}
    have = lower.get(key.lower())
    return have is not None and have.lower() == val.lower()


@dataclasses.dataclass
class Mapping:
    """A ``[mapping:NAME]`` section: what goes where, and how."""

    name: str
    section: str
    account: str
    container: str
    remote: Remote
    bucket: str
    lifecycle: str
    listing: str
    copy_after: float = 0.0
    propagate_delete: bool = True
    restore_object: bool = False
    merge_namespaces: bool = False
    #: see :attr:`has_remote_writers`
    remote_writers: bool = True
    archive_as: str = 'stub'
    serve_deleted_archives: bool = True
    cold_restore_days: int = 1
    cold_restore_tier: str = 'Standard'
    #: the mapping's layout; the loader sets the remote's default when
    #: the section sets none
    layout: str = 'hashed'
    key_prefix: str = ''
    exclude_pattern: typing.Optional[str] = None
    selection_criteria: typing.Optional[dict] = None
    remote_delete_after: float = 0.0
    retain_local_segments: bool = False
    propagate_expiration: bool = False
    propagate_expiration_offset: float = 0.0
    convert_dlo: bool = False
    storage_policy: typing.Optional[str] = None
    sync_container_metadata: bool = False
    sync_container_acl: bool = False
    conf: typing.Any = None
    lifecycle_cls: typing.Any = None
    listing_cls: typing.Any = None

    def __post_init__(self):
        self._exclude = (re.compile(self.exclude_pattern)
                         if self.exclude_pattern else None)
        self.policy = (self.lifecycle_cls(self)
                       if self.lifecycle_cls else None)

    @property
    def is_wildcard(self):
        return self.container == WILDCARD

    def covers(self, account, container):
        return account == self.account and (
            self.is_wildcard or container == self.container)

    def excludes(self, name):
        """True when object ``name`` matches ``exclude_pattern``."""
        return bool(self._exclude and self._exclude.match(name))

    def selects(self, headers):
        """True when an object's headers match ``selection_criteria``."""
        return match_criteria(self.selection_criteria, headers)

    def target(self, container):
        """The :class:`Target` of local ``container``: where its objects go.

        The one place that decides which bucket and which key layout serve
        a container; the daemon, the shunt, proxymc and the tools all ask
        here.
        """
        return Target.of(self, container)

    def remote_layout(self, container):
        """The :class:`~cloudsync.layout.RemoteLayout` of ``container``."""
        return layout_mod.RemoteLayout(self.account, container,
                                       layout=self.layout,
                                       key_prefix=self.key_prefix)

    def remote_bucket(self, container):
        """The bucket (or remote container) that holds ``container``.

        A provider whose buckets are containers (Swift) gets one per local
        container when the mapping covers every container.
        """
        if self.is_wildcard and \
                self.remote.provider_cls.BUCKET_PER_CONTAINER:
            return self.bucket + container
        return self.bucket

    @property
    def removes_local_data(self):
        return bool(self.policy and self.policy.removes_local_data)

    @property
    def archives_as_stubs(self):
        """Whether archiving leaves a stub in place of the object."""
        return self.removes_local_data and self.archive_as == 'stub'

    @property
    def serves_deleted(self):
        """Whether the shunt looks up Swift's 404s (and merges listings)
        for this mapping: objects written to the bucket (merge_namespaces)
        or archived by deleting them.
        """
        return self.merge_namespaces or (
            self.removes_local_data and
            (self.archive_as != 'stub' or self.serve_deleted_archives))

    @property
    def shunted(self):
        """Whether the shunt serves this mapping's remote objects."""
        return self.removes_local_data or self.merge_namespaces

    @property
    def has_remote_writers(self):
        """Whether something besides the sync daemons may write or delete
        this mapping's objects in the bucket: ``remote_writers`` (true
        unless set false), and always for the mappings the shunt serves,
        whose users write through it. The daemon then reads a remote copy
        before it replaces or deletes it; without, proxymc serves the
        mapping read-only.
        """
        return bool(self.remote_writers) or self.shunted

    def fingerprint(self):
        """What, when changed, restarts a mapping's progress from row 0."""
        return {
            'remote': self.remote.name,
            'provider': self.remote.provider_name,
            'endpoint': self.remote.endpoint or '',
            'bucket': self.bucket,
            'lifecycle': self.lifecycle,
            'layout': self.layout,
            'key_prefix': self.key_prefix,
        }


@dataclasses.dataclass
class Target:
    """A mapped local container, resolved: which bucket, which key layout.

    Made by :meth:`Mapping.target`. The shunt and proxymc extend it with
    what a request adds (the object, the provider, the ACLs); the fields
    here are the same for every program.
    """

    mapping: Mapping
    account: str
    container: str
    bucket: str
    layout: layout_mod.RemoteLayout

    @classmethod
    def of(cls, mapping, container, **extra):
        """``cls`` for ``container`` of ``mapping``, with ``extra`` fields."""
        return cls(mapping=mapping, account=mapping.account,
                   container=container,
                   bucket=mapping.remote_bucket(container),
                   layout=mapping.remote_layout(container), **extra)

    def object_key(self, obj):
        """The remote key of object ``obj`` of this container."""
        return self.layout.object_key(obj)


class Config:
    """The whole validated configuration."""

    def __init__(self, conf, remotes, mappings, migrations=()):
        #: the oslo.config ``ConfigOpts``; ``[DEFAULT]`` options are
        #: attributes
        self.conf = conf
        #: ``{name: Remote}`` of enabled remotes
        self.remotes = remotes
        #: enabled mappings, sorted by section name
        self.mappings = mappings
        #: enabled migrations (:class:`~cloudsync.conf.migration.Migration`),
        #: sorted by section name
        self.migrations = list(migrations)

    def migration_for(self, account, container):
        """The migration that brings objects into Swift ``account``/
        ``container``, or None. A migration of that one bucket wins over
        one of every bucket.
        """
        every = None
        for migration in self.migrations:
            if not migration.covers(account, container):
                continue
            if not migration.every_bucket:
                return migration
            every = every or migration
        return every

    def mapping_for(self, account, container):
        """The mapping of (account, container), or None.

        An exact mapping of the container wins over the account's wildcard
        mapping.
        """
        wildcard = None
        for mapping in self.mappings:
            if mapping.account != account:
                continue
            if mapping.container == container:
                return mapping
            if mapping.is_wildcard:
                wildcard = mapping
        return wildcard

    def secrets(self):
        """Every secret value in the configuration, to keep out of logs."""
        return [s for r in self.remotes.values() for s in r.secrets()]


_NOT_INT = re.compile(r"^invalid literal for int\(\) with base \d+: (.*)$")
_NOT_FLOAT = re.compile(r"^could not convert string to float: (.*)$")


def _reason(exc):
    """What is wrong with a value, without oslo.config's preamble.

    oslo.config says ``Value for option workers from LocationInfo(...) is
    not valid: <reason>``; only the reason is of use to an operator.
    """
    text = str(getattr(exc, 'msg', None) or exc)
    if ' is not valid: ' in text:
        text = text.split(' is not valid: ', 1)[1]
    match = _NOT_INT.match(text)
    if match:
        return '%s is not a whole number' % match.group(1)
    match = _NOT_FLOAT.match(text)
    if match:
        return '%s is not a number' % match.group(1)
    return text[:1].lower() + text[1:]


def _value(group, opt, section, problems):
    try:
        value = getattr(group, opt.dest)
    except (cfg.Error, ValueError) as exc:
        problems.append('[%s] %s: %s' % (section, opt.name, _reason(exc)))
        return None
    if isinstance(value, float) and not math.isfinite(value):
        problems.append('[%s] %s: %s is not a finite number'
                        % (section, opt.name, value))
        return None
    return value


def _option_names(opt_list):
    """The names an option may be given under, deprecated ones included."""
    names = set()
    for opt in opt_list:
        names.update((opt.name, opt.dest))
        for old in getattr(opt, 'deprecated_opts', None) or ():
            if old.name:
                names.add(old.name)
    return names


def _file_options(conf, section):
    """The option names the configuration files set in ``section``."""
    # NOTE: oslo.config has no public way to list what a file holds.
    namespace = getattr(conf, '_namespace', None)
    names = set()
    for parsed in getattr(namespace, '_parsed', None) or ():
        names.update((parsed.get(section) or {}).keys())
    return names


def _unknown_options(conf, section, known, problems):
    """Report options of ``section`` that nothing reads (misspellings)."""
    for name in sorted(_file_options(conf, section) - known):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        problems.append('[%s] %s: unknown option%s' % (
            section, name, '; did you mean %s?' % close[0] if close else ''))


def _mapping_option_names():
    """Every option a mapping section may hold, whoever reads it."""
    known = _option_names(opts.mapping_opts)
    for cls in registry.all_plugins(registry.LIFECYCLE).values():
        known |= _option_names(cls.OPTIONS)
    return known | _option_names(opts.proxymc_mapping_opts)


def _check_endpoint(section, value, problems):
    if value is None:
        return
    parsed = urllib.parse.urlparse(value)
    if parsed.scheme not in ('http', 'https') or not parsed.hostname:
        problems.append(
            '[%s] endpoint: %r is not an http:// or https:// URL with a '
            'host' % (section, value))
        return
    try:
        parsed.port
    except ValueError:
        problems.append('[%s] endpoint: %r has an invalid port'
                        % (section, value))


def _load_remote(conf, section, problems):
    name = section[len(REMOTE_PREFIX):]
    conf.register_opts(opts.remote_opts, group=section)
    group = conf[section]
    values = {o.name: _value(group, o, section, problems)
              for o in opts.remote_opts}
    if not values['provider']:
        problems.append('[%s] provider: missing; available: %s' % (
            section, ', '.join(registry.available(registry.PROVIDERS))))
        return None
    try:
        provider_cls = registry.load(registry.PROVIDERS, values['provider'],
                                     where='[%s] provider' % section)
    except exceptions.PluginError as exc:
        problems.extend(exc.problems)
        return None
    try:
        conf.register_opts(provider_cls.OPTIONS, group=section)
    except cfg.DuplicateOptError as exc:
        problems.append('[%s] provider %s declares an option twice: %s'
                        % (section, values['provider'], exc))
        return None
    for opt in provider_cls.OPTIONS:
        _value(group, opt, section, problems)
    _unknown_options(conf, section, _option_names(
        list(opts.remote_opts) + list(provider_cls.OPTIONS)), problems)
    _check_endpoint(section, values['endpoint'], problems)
    for problem in provider_cls.validate_conf(group):
        problems.append('[%s] %s' % (section, problem))
    return Remote(name=name, section=section,
                  provider_name=values['provider'],
                  provider_cls=provider_cls, conf=group,
                  enabled=bool(values['enabled']))


def _check_required(section, values, keys, problems):
    """Report the options of ``keys`` that are missing or empty."""
    for key in keys:
        if values[key] is None:
            problems.append('[%s] %s: missing' % (section, key))
        elif not values[key].strip():
            problems.append('[%s] %s: must not be empty' % (section, key))


def _find_remote(section, name, remotes, failed_remotes, problems):
    """The enabled :class:`Remote` ``name`` a section's ``remote`` names,
    or None after reporting why not.
    """
    remote = remotes.get(name)
    if remote is None and name in failed_remotes:
        # NOTE: [remote:NAME] is there, and its own problems are
        # reported; "no section" would only mislead.
        pass
    elif remote is None:
        problems.append(
            '[%s] remote: no section [remote:%s]; remotes: %s' % (
                section, name, ', '.join(sorted(remotes)) or 'none'))
    return remote


def default_layout(remote):
    """The layout of a mapping of ``remote`` that sets none: the
    provider's ``DEFAULT_LAYOUT`` (``native`` for Swift remotes), else
    ``hashed``.
    """
    layout = remote.provider_cls.DEFAULT_LAYOUT \
        if remote is not None else None
    return layout if layout in layout_mod.LAYOUTS else 'hashed'


def _load_mapping(conf, section, remotes, disabled_remotes, problems,
                  failed_remotes=()):
    name = section[len(MAPPING_PREFIX):]
    conf.register_opts(opts.mapping_opts, group=section)
    group = conf[section]
    before = len(problems)
    values = {o.dest: _value(group, o, section, problems)
              for o in opts.mapping_opts}
    if not values['enabled'] and values['enabled'] is not None:
        return None
    _check_required(section, values,
                    ('account', 'container', 'remote', 'bucket'), problems)
    remote = None
    if values['remote']:
        if values['remote'] in disabled_remotes:
            LOG.info('Mapping %s is off: its remote %s is disabled',
                     name, values['remote'])
            return None
        remote = _find_remote(section, values['remote'], remotes,
                              failed_remotes, problems)
    if not values['layout']:
        values['layout'] = default_layout(remote)
    container = values['container'] or ''
    if '/' in container:
        problems.append('[%s] container: %r must not contain "/"'
                        % (section, container))
    for key in ('copy_after', 'remote_delete_after',
                'propagate_expiration_offset'):
        if key != 'propagate_expiration_offset' and (values[key] or 0) < 0:
            problems.append('[%s] %s: must not be negative, not %s'
                            % (section, key, values[key]))
    if values['exclude_pattern']:
        try:
            re.compile(values['exclude_pattern'])
        except re.error as exc:
            problems.append('[%s] exclude_pattern: %r is not a valid '
                            'regular expression: %s' % (
                                section, values['exclude_pattern'], exc))
    criteria = None
    if values['selection_criteria']:
        try:
            criteria = _parse_criteria(values['selection_criteria'])
        except ValueError as exc:
            problems.append('[%s] selection_criteria: %s'
                            % (section, exc))
    per_container = bool(remote and
                         remote.provider_cls.BUCKET_PER_CONTAINER)
    if remote and not per_container:
        for key in ('storage_policy', 'sync_container_metadata',
                    'sync_container_acl'):
            if values[key]:
                problems.append(
                    '[%s] %s: only remotes that keep Swift containers '
                    '(provider swift) take it; [remote:%s] has provider %s'
                    % (section, key, remote.name, remote.provider_name))
    if values['sync_container_acl'] and not values[
            'sync_container_metadata']:
        problems.append('[%s] sync_container_acl: needs '
                        'sync_container_metadata = true' % section)
    if (values['layout'] == 'native' and container == WILDCARD and
            not per_container):
        problems.append(
            '[%s] layout: native keys cannot keep several containers apart '
            'in one bucket; use hashed, or prefix with {container} in '
            'key_prefix' % section)
    if (values['layout'] == 'prefix' and container == WILDCARD and
            not per_container and
            '{container}' not in (values['key_prefix'] or '')):
        problems.append(
            '[%s] key_prefix: must contain {container} when container = *'
            % section)
    if values['layout'] == 'prefix' and values['key_prefix']:
        try:
            values['key_prefix'].format(account='a', container='c')
        except (KeyError, IndexError, ValueError) as exc:
            problems.append('[%s] key_prefix: %r may only use {account} '
                            'and {container}: %s' % (
                                section, values['key_prefix'], exc))
    lifecycle_cls = listing_cls = None
    if values['lifecycle']:
        try:
            lifecycle_cls = registry.load(
                registry.LIFECYCLE, values['lifecycle'],
                where='[%s] lifecycle' % section)
        except exceptions.PluginError as exc:
            problems.extend(exc.problems)
    if values['listing']:
        try:
            listing_cls = registry.load(
                registry.LISTING, values['listing'],
                where='[%s] listing' % section)
        except exceptions.PluginError as exc:
            problems.extend(exc.problems)
    if lifecycle_cls is not None and lifecycle_cls.OPTIONS:
        conf.register_opts(lifecycle_cls.OPTIONS, group=section)
        for opt in lifecycle_cls.OPTIONS:
            _value(group, opt, section, problems)
    _unknown_options(conf, section, _mapping_option_names(), problems)
    if len(problems) != before or remote is None:
        return None
    values['selection_criteria'] = criteria
    del values['enabled']
    del values['remote']
    return Mapping(name=name, section=section, remote=remote, conf=group,
                   lifecycle_cls=lifecycle_cls, listing_cls=listing_cls,
                   **values)


Migration = migration_mod.Migration


def _load_migration(conf, section, remotes, disabled_remotes, problems,
                    failed_remotes=()):
    """The :class:`Migration` of a ``[migration:NAME]`` section, or None
    (disabled, or its problems reported).

    The same checks as a mapping's: required options, the remote, names
    Swift can hold, misspelled options.
    """
    name = section[len(MIGRATION_PREFIX):]
    conf.register_opts(opts.migration_opts, group=section)
    group = conf[section]
    before = len(problems)
    values = {o.dest: _value(group, o, section, problems)
              for o in opts.migration_opts}
    if not values['enabled'] and values['enabled'] is not None:
        return None
    _check_required(section, values, ('remote', 'bucket', 'account'),
                    problems)
    remote = None
    if values['remote']:
        if values['remote'] in disabled_remotes:
            LOG.info('Migration %s is off: its remote %s is disabled',
                     name, values['remote'])
            return None
        remote = _find_remote(section, values['remote'], remotes,
                              failed_remotes, problems)
    bucket = values['bucket'] or ''
    container = values['container']
    if '/' in bucket:
        problems.append('[%s] bucket: %r must not contain "/"'
                        % (section, bucket))
    if container is not None:
        if bucket == migration_mod.EVERY_BUCKET:
            problems.append(
                '[%s] container: not with bucket = *: every bucket goes '
                'into the container of its own name' % section)
        elif not container.strip() or container == WILDCARD:
            problems.append('[%s] container: %r is not a container name'
                            % (section, container))
        elif '/' in container:
            problems.append('[%s] container: %r must not contain "/"'
                            % (section, container))
    if values['storage_policy'] is not None and \
            not values['storage_policy'].strip():
        problems.append('[%s] storage_policy: must not be empty' % section)
    if values['remove_after_verify'] and values['propagate_delete'] and \
            _file_options(conf, section) & {'propagate_delete'}:
        problems.append(
            '[%s] propagate_delete: not with remove_after_verify = true: '
            'objects the migrator removes from the source stay in Swift'
            % section)
    _unknown_options(conf, section, _option_names(opts.migration_opts),
                     problems)
    if len(problems) != before or remote is None:
        return None
    return Migration(
        name=name, section=section, remote=remote, bucket=bucket,
        account=values['account'], container=container,
        prefix=values['prefix'] or '',
        storage_policy=values['storage_policy'],
        remove_after_verify=bool(values['remove_after_verify']),
        propagate_delete=bool(values['propagate_delete']) and
        not values['remove_after_verify'],
        older_than=values['older_than'] or 0.0,
        part_writers=values['part_writers'],
        conf=group)


def _check_migration_targets(migrations, problems):
    """Two migrations must not bring objects into the same container."""
    seen = {}
    for migration in migrations:
        key = (migration.account, None if migration.every_bucket else
               migration.target_container(migration.bucket))
        if key in seen:
            problems.append(
                '[%s] container: %s/%s is already the target of [%s]' % (
                    migration.section, key[0], key[1] or '*', seen[key]))
        else:
            seen[key] = migration.section


def build(conf):
    """Validate a parsed ``ConfigOpts`` and return a :class:`Config`.

    :raises ConfigError: listing every problem found.
    """
    problems = []
    for opt in opts.default_opts:
        _value(conf, opt, 'DEFAULT', problems)
    sections = conf.list_all_sections()
    for name in sorted(_file_options(conf, 'DEFAULT')):
        if name not in conf:
            # NOTE: a warning only: [DEFAULT] is shared with oslo.log and
            # with what other tools read from the same file.
            LOG.warning('[DEFAULT] %s: unknown option, ignored', name)
    remotes, disabled, failed = {}, set(), set()
    for section in sections:
        if section.startswith(REMOTE_PREFIX):
            remote = _load_remote(conf, section, problems)
            if remote is None:
                failed.add(section[len(REMOTE_PREFIX):])
                continue
            if remote.enabled:
                remotes[remote.name] = remote
            else:
                disabled.add(remote.name)
    mappings = []
    seen = {}
    for section in sections:
        if not section.startswith(MAPPING_PREFIX):
            continue
        mapping = _load_mapping(conf, section, remotes, disabled, problems,
                                failed)
        if mapping is None:
            continue
        key = (mapping.account, mapping.container)
        if key in seen:
            problems.append(
                '[%s] container: %s/%s is already mapped by [%s]' % (
                    section, mapping.account, mapping.container, seen[key]))
            continue
        seen[key] = section
        mappings.append(mapping)
    for _, _, message in overlap.conflicts(mappings):
        problems.append(message)
    migrations = []
    for section in sections:
        if section.startswith(MIGRATION_PREFIX):
            migration = _load_migration(conf, section, remotes, disabled,
                                        problems, failed)
            if migration is not None:
                migrations.append(migration)
    _check_migration_targets(migrations, problems)
    for section in sections:
        if section != 'DEFAULT' and not section.startswith(
                (REMOTE_PREFIX, MAPPING_PREFIX, MIGRATION_PREFIX)):
            LOG.warning('Ignoring unknown section [%s]', section)
    if problems:
        raise exceptions.ConfigError(problems)
    return Config(conf, remotes, mappings, migrations)


def parse_args(argv=None, conf=None, cli_opts=(), default_config_files=None,
               usage=None):
    """Parse the command line (``--config-file`` and friends)."""
    conf = conf if conf is not None else cfg.ConfigOpts()
    register_opts(conf)
    if cli_opts:
        conf.register_cli_opts(cli_opts)
    if default_config_files is None:
        default_config_files = cfg.find_config_files(project='cloudsync')
    conf(args=argv, project='cloudsync', usage=usage,
         default_config_files=default_config_files)
    return conf


def load(argv=None, conf=None, cli_opts=(), default_config_files=None):
    """Parse the command line and build the :class:`Config`."""
    return build(parse_args(argv, conf, cli_opts, default_config_files))


def load_or_report(command, argv=None, cli_opts=()):
    """:func:`load` for a command: problems are printed, not raised.

    :returns: the :class:`Config`, or None after every problem has been
        printed to standard error, one per line.
    """
    try:
        return load(argv, cli_opts=cli_opts)
    except exceptions.ConfigError as exc:
        report_problems(command, exc.problems)
    except (cfg.Error, ValueError) as exc:
        print('%s: %s' % (command, exc), file=sys.stderr)
    return None


def report_problems(command, problems):
    """Print configuration ``problems`` to standard error, one a line."""
    print('%s: the configuration has errors:' % command, file=sys.stderr)
    for problem in problems:
        print('  %s' % problem, file=sys.stderr)


def load_file(path):
    """Read one configuration file, as the shunt and proxymc do.

    :raises ConfigError: the file is missing, unreadable or invalid.
    """
    conf = cfg.ConfigOpts()
    try:
        parse_args([], conf=conf, default_config_files=[path])
    except cfg.ConfigFilesNotFoundError:
        raise exceptions.ConfigError(
            'configuration file %s does not exist or is unreadable' % path)
    except cfg.ConfigFileParseError as exc:
        raise exceptions.ConfigError(str(exc))
    return build(conf)


def list_opts():
    """The options for oslo-config-generator, providers' included."""
    from cloudsync import lifecycle  # noqa: F401  (registers nothing)
    result = [
        ('DEFAULT', opts.default_opts),
        (cfg.OptGroup('remote:name', help=(
            'A remote store. NAME is how mappings refer to it. The '
            'provider adds options of its own, listed in the sections '
            'below.')), opts.remote_opts),
    ]
    for name, cls in sorted(registry.all_plugins(registry.PROVIDERS).items()):
        if cls.OPTIONS:
            result.append((cfg.OptGroup(
                'provider:%s' % name,
                help='Options of the %s provider: set them in a '
                     '[remote:NAME] section whose provider is %s.' % (
                         name, name)), cls.OPTIONS))
    mapping = list(opts.mapping_opts)
    for name, cls in sorted(registry.all_plugins(registry.LIFECYCLE).items()):
        mapping.extend(o for o in cls.OPTIONS if o not in mapping)
    result.append((cfg.OptGroup('mapping:name', help=(
        'Maps a Swift container, or every container of an account, to a '
        'bucket of a remote.')), mapping))
    result.append((cfg.OptGroup('migration:name', help=(
        'Brings a bucket of a remote (or every bucket of it) into a Swift '
        'account: the migrator, cloudsync-migrate, copies it pass after '
        'pass until the section is removed.')), opts.migration_opts))
    return result
