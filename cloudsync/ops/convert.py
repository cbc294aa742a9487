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
"""From swift-s3-sync's JSON configuration to ``cloudsync.conf``.

``cloudsync-config-convert sync.json -o cloudsync.conf`` reads the JSON
file that swift-s3-sync (and 1space) used and writes the equivalent
cloudsync configuration:

* the global options become ``[DEFAULT]`` options (``verification_slack``
  was in minutes and becomes seconds; ``enumerator_workers`` becomes
  ``container_workers``; ``swift_bind_ip`` becomes ``bind_ip``;
  ``log_file`` and ``log_level = debug`` become oslo.log's ``log_file``
  and ``debug``);
* every distinct remote store (protocol, endpoint, identity and the other
  credential options) becomes one ``[remote:NAME]`` section: ``s3``
  for Amazon (no endpoint, or one under ``amazonaws.com``), ``gcs`` for
  ``https://storage.googleapis.com``, ``s3-clone`` for any other S3
  endpoint (swift-s3-sync talked to those with path-style requests and
  no server-side encryption, which is what ``s3-clone`` does), and
  ``swift`` for ``"protocol": "swift"``;
* every entry of ``containers`` becomes one ``[mapping:NAME]`` section,
  ``NAME`` being ``<account>-<container>`` (``all`` for ``/*``),
  de-duplicated with ``-2``, ``-3``... in file order. A profile of a
  Swift remote gets ``layout = native``: swift-s3-sync kept object names
  in the remote container (``aws_bucket``, or ``aws_bucket`` followed by
  the container's name for ``/*``), so cloudsync finds every object it
  copied where it left it and copies none of them again.

Each option that cannot be carried over is reported on stderr with the
profile it came from; a profile that cannot be converted faithfully (for
example a second profile for the same container, which cloudsync does not
support, or an invalid ``selection_criteria``) is left out with a warning,
and the command exits 1.

Every entry of ``migrations`` (1space's migrator) becomes one
``[migration:NAME]`` section (``NAME`` being ``migrate-<account>-<bucket>``,
``all`` for ``/*``) with its remote, ``bucket`` (``*`` for ``/*``),
``account``, ``container`` (when it is not the bucket's name),
``prefix``, ``storage_policy`` and ``older_than`` (an invalid one is
left out with a warning); ``propagate_account_metadata`` is reported, as
is ``migrator_settings`` (``cloudsync-migrate`` reads ``[DEFAULT]``).

The converted configuration is loaded with cloudsync's own configuration
loader before it is written: if the daemon would refuse it, nothing is
written, every problem is reported and the command exits 2. Values
cloudsync refuses but swift-s3-sync accepted are left out with a warning:
a negative ``copy_after`` (swift-s3-sync copied at once, the default) or
``remote_delete_after``, and ``sync_container_acl`` without
``sync_container_metadata`` (swift-s3-sync ignored it).

Secrets are written to the output file, which is created with mode 0600;
they are never printed on stdout or stderr.

swift-s3-sync's status directory is **not** imported: the cloudsync daemon
starts each mapping from row 0 and checks every object against the
remote. Objects already there (same bytes, same ETag) are not sent again;
only their metadata is updated where needed (swift-s3-sync 0.1.24 stored
URL-quoted metadata values, and no version stored the Swift timestamp
that cloudsync keeps with every copy to refuse stale deletes). See
``doc/source/migrating.rst``.
"""

# NOTE(cloudsync): over 600 lines on purpose: it is one translation, the
# old format's options read and the new format's sections written side by
# side in one Converter, so that each option is handled in one place.

import dataclasses
import json
import math
import os
import re
import tempfile
import urllib.parse

from cloudsync.conf import WILDCARD
from cloudsync import files

AWS_SUFFIX = 'amazonaws.com'
GCS_ENDPOINT = 'https://storage.googleapis.com'

#: the old options of a profile that cloudsync has under the same name
SAME_NAME = ('copy_after', 'propagate_delete', 'restore_object',
             'merge_namespaces', 'remote_delete_after',
             'retain_local_segments', 'propagate_expiration',
             'propagate_expiration_offset', 'convert_dlo',
             'storage_policy', 'sync_container_metadata',
             'sync_container_acl')
#: options that only mean something for a Swift remote
SWIFT_ONLY = ('storage_policy', 'sync_container_metadata',
              'sync_container_acl')
NUMBERS = ('copy_after', 'remote_delete_after',
           'propagate_expiration_offset')
#: the numbers cloudsync refuses below zero, and what a negative value
#: did in swift-s3-sync
NOT_NEGATIVE = {
    'copy_after': 'swift-s3-sync copied such objects at once, as '
                  'cloudsync does by default; left out',
    'remote_delete_after': 'cloudsync refuses it; left out (the remote '
                           'copies do not expire)',
}
#: options read while building the remote or the mapping
HANDLED = frozenset(SAME_NAME + (
    'account', 'container', 'aws_bucket', 'aws_endpoint', 'aws_identity',
    'aws_secret', 'aws_session_token', 'protocol', 'retain_local',
    'exclude_pattern', 'selection_criteria', 'custom_prefix', 'encryption',
    'auth_type', 'tenant_name', 'project_name', 'project_domain_name',
    'user_domain_name', 'remote_account'))
#: options that have no equivalent, and why
UNSUPPORTED = {
    'min_segment_size': 'cloudsync does not combine DLO segments; each '
                        'segment is copied as it is',
    'remote_delete_after_addition': 'cloudsync expires segments with '
                                    'their object (remote_delete_after)',
}

#: the options of a ``migrations`` profile that are carried over (or
#: used to build its remote)
MIGRATION_KNOWN = ('account', 'container', 'aws_bucket', 'aws_endpoint',
                   'aws_identity', 'aws_secret', 'aws_session_token',
                   'protocol', 'remote_account', 'auth_type', 'tenant_name',
                   'project_name', 'project_domain_name', 'user_domain_name',
                   'prefix', 'storage_policy', 'custom_prefix', 'encryption',
                   'older_than')
#: options of a ``migrations`` profile cloudsync does not have
MIGRATION_UNSUPPORTED = {
    'propagate_account_metadata': 'cloudsync copies container metadata '
                                  'and ACLs, not account metadata',
}

#: global options with the same name and meaning
GLOBAL_SAME = ('devices', 'status_dir', 'items_chunk', 'workers',
               'poll_interval', 'swift_dir', 'statsd_host', 'statsd_port',
               'statsd_prefix', 'log_file')
GLOBAL_RENAMED = {'enumerator_workers': 'container_workers',
                  'swift_bind_ip': 'bind_ip',
                  'internal_client_path': 'internal_client_conf_path'}
GLOBAL_IGNORED = {
    'containers': None, 'migrations': None, 'migrator_settings': None,
    'migrator_config': None,
    'log_level': None, 'verification_slack': None,
    'internal_client_logname': 'cloudsync names its own loggers',
    'bulk_process': 'cloudsync always hands rows over one by one',
    'syslog': 'set use_syslog (local syslog) or log_config_append in '
              '[DEFAULT] instead: oslo.log has no remote syslog option',
    'http_proxy': 'set HTTP_PROXY in the service\'s environment instead '
                  '(systemd: Environment=)',
    'https_proxy': 'set HTTPS_PROXY in the service\'s environment instead '
                   '(systemd: Environment=)',
    'console': 'cloudsync-sync logs to stderr unless log_file is set',
}

#: exit codes of the command
EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_ERROR = 2


class ConversionError(ValueError):
    """The input is not a swift-s3-sync configuration."""


@dataclasses.dataclass
class Section:
    name: str
    options: list = dataclasses.field(default_factory=list)
    comments: list = dataclasses.field(default_factory=list)

    def set(self, key, value):
        self.options.append((key, value))


@dataclasses.dataclass
class Result:
    """A converted configuration and what could not be carried over."""

    defaults: Section
    remotes: list
    mappings: list
    warnings: list
    #: True when a whole profile was left out
    partial: bool = False
    #: the values to keep out of anything printed
    secrets: list = dataclasses.field(default_factory=list)
    #: ``[migration:NAME]`` sections
    migrations: list = dataclasses.field(default_factory=list)

    def render(self, source=None):
        return render(self, source)


def _fmt(value):
    """``value`` as an INI value that oslo.config reads back unchanged."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    if '\n' in text or '\r' in text:
        raise ConversionError('a value spans several lines: %r'
                              % text[:20])
    # NOTE(cloudsync): oslo.config substitutes $name and ${name}; $$ is a
    # literal dollar sign.
    text = text.replace('$', '$$')
    # NOTE(cloudsync): oslo.config strips white space and one pair of
    # matching quotes around a value; quoting keeps them.
    if text != text.strip() or (
            len(text) >= 2 and text[0] == text[-1] and text[0] in '"\''):
        text = '"%s"' % text
    return text


def _slug(text):
    out = ''.join(c if (c.isalnum() or c in '_.-') else '_' for c in text)
    return out.strip('._') or 'x'


def _unique(name, taken):
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = '%s-%d' % (name, n)
    taken.add(candidate)
    return candidate


def _is_amazon(endpoint):
    if not endpoint:
        return True
    host = urllib.parse.urlparse(endpoint).hostname or ''
    return host == AWS_SUFFIX or host.endswith('.' + AWS_SUFFIX)


_REGION = re.compile(r'^s3[.-](?:dualstack\.)?([a-z]{2}(?:-gov)?-[a-z]+-\d)'
                     r'\.amazonaws\.com$')


def _aws_region(endpoint):
    host = urllib.parse.urlparse(endpoint or '').hostname or ''
    match = _REGION.match(host)
    return match.group(1) if match else None


def _provider(profile):
    protocol = profile.get('protocol') or 's3'
    if protocol == 'swift':
        return 'swift'
    if protocol != 's3':
        return None
    endpoint = profile.get('aws_endpoint')
    if endpoint and endpoint.rstrip('/') == GCS_ENDPOINT:
        return 'gcs'
    if _is_amazon(endpoint):
        return 's3'
    return 's3-clone'


def _bool(value):
    if isinstance(value, str):
        return value.strip().lower() in ('1', 'true', 'yes', 'on')
    return bool(value)


class Converter:
    """Converts one parsed swift-s3-sync configuration."""

    def __init__(self, data):
        if not isinstance(data, dict):
            raise ConversionError('the top level is not a JSON object')
        self.data = data
        self.warnings = []
        self.partial = False
        self.secrets = []
        self._remote_keys = {}
        self._remote_names = set()
        self._mapping_names = set()
        self.remotes = []
        self.mappings = []
        self.migrations = []

    def warn(self, where, message):
        self.warnings.append('%s: %s' % (where, message))

    # -- [DEFAULT] ---------------------------------------------------------

    def defaults(self):
        data = self.data
        section = Section('DEFAULT')
        for key in GLOBAL_SAME:
            if data.get(key) is not None:
                section.set(key, data[key])
        for old, new in GLOBAL_RENAMED.items():
            if data.get(old) is not None:
                section.set(new, data[old])
        if data.get('verification_slack') is not None:
            try:
                minutes = float(data['verification_slack'])
            except (TypeError, ValueError):
                self.warn('verification_slack', '%r is not a number of '
                          'minutes; the default (3600 seconds) applies'
                          % (data['verification_slack'],))
            else:
                section.set('verification_slack', minutes * 60)
                section.comments.append(
                    'verification_slack: %s minutes in swift-s3-sync'
                    % _fmt(minutes))
        level = data.get('log_level')
        if level is not None:
            level = str(level).lower()
            if level == 'debug':
                section.set('debug', True)
            elif level != 'info':
                self.warn('log_level', '%r is not carried over: cloudsync '
                          'logs at INFO, or DEBUG with debug = true' % level)
        for key, why in sorted(GLOBAL_IGNORED.items()):
            if why and data.get(key) not in (None, False, '', {}):
                self.warn(key, 'not carried over: %s' % why)
        for key in ('migrator_settings', 'migrator_config'):
            if data.get(key):
                self.warn(key, 'not carried over: cloudsync-migrate reads '
                          '[DEFAULT] (workers, items_chunk, poll_interval, '
                          'status_dir, log_file) as cloudsync-sync does')
        known = (set(GLOBAL_SAME) | set(GLOBAL_RENAMED) |
                 set(GLOBAL_IGNORED))
        for key in sorted(set(data) - known):
            self.warn(key, 'unknown global option, not carried over')
        section.comments.append(
            'bind_port: set it to the port of this node\'s container '
            'server (default 6201); run one daemon per container server')
        return section

    # -- [remote:NAME] -----------------------------------------------------

    def _remote(self, where, profile, provider):
        endpoint = profile.get('aws_endpoint') or None
        identity = profile.get('aws_identity')
        secret = profile.get('aws_secret')
        options = []
        if endpoint:
            options.append(('endpoint', endpoint))
        if identity is not None:
            options.append(('access_key', identity))
        if secret is not None:
            options.append(('secret_key', secret))
            self.secrets.append(str(secret))
        if provider == 's3':
            region = _aws_region(endpoint)
            if region:
                options.append(('region', region))
            if _bool(profile.get('encryption', True)):
                options.append(('server_side_encryption', 'AES256'))
        if provider in ('s3', 's3-clone'):
            token = profile.get('aws_session_token')
            if token:
                options.append(('session_token', token))
                self.secrets.append(str(token))
        elif profile.get('aws_session_token'):
            self.warn(where, 'aws_session_token is not carried over: the '
                      '%s provider takes no session token' % provider)
        if provider == 'swift':
            options.extend(self._swift_auth(where, profile))
        elif profile.get('auth_type') not in (None, 'swift'):
            self.warn(where, 'auth_type %r is only used with the swift '
                      'protocol; not carried over' % profile['auth_type'])
        if provider != 'swift' and profile.get('remote_account'):
            self.warn(where, 'remote_account is only used with the swift '
                      'protocol; not carried over')
        key = (provider, tuple(options))
        if key in self._remote_keys:
            return self._remote_keys[key]
        host = urllib.parse.urlparse(endpoint or '').hostname
        base = '%s-%s' % (provider, _slug(host) if host else 'aws')
        name = _unique(base, self._remote_names)
        section = Section('remote:%s' % name)
        section.set('provider', provider)
        for option in options:
            section.set(*option)
        self.remotes.append(section)
        self._remote_keys[key] = name
        return name

    def _swift_auth(self, where, profile):
        options = []
        auth_type = profile.get('auth_type') or 'swift'
        if auth_type == 'keystone_v3':
            options.append(('auth_version', '3'))
            for key in ('project_name', 'project_domain_name',
                        'user_domain_name'):
                if profile.get(key):
                    options.append((key, profile[key]))
                else:
                    self.warn(where, 'keystone_v3 needs %s, which is '
                              'missing' % key)
        elif auth_type == 'keystone_v2':
            # NOTE(cloudsync): the swift provider speaks Keystone v3 only;
            # v2's tenant is v3's project, in the default domains.
            options.append(('auth_version', '3'))
            if profile.get('tenant_name'):
                options.append(('project_name', profile['tenant_name']))
            else:
                self.warn(where, 'keystone_v2 needs tenant_name, which is '
                          'missing')
            self.warn(where, 'Keystone v2 is not supported: converted to '
                      'Keystone v3 (auth_version = 3, project_name = '
                      'tenant_name, domains Default); check that the '
                      'endpoint is the v3 identity URL')
        elif auth_type != 'swift':
            self.warn(where, 'unknown auth_type %r; tempauth (v1) is '
                      'assumed' % auth_type)
        if profile.get('remote_account'):
            options.append(('remote_account', profile['remote_account']))
        return options

    # -- [mapping:NAME] ----------------------------------------------------

    def _skip(self, where, why):
        self.warn(where, 'left out: %s' % why)
        self.partial = True

    def mapping(self, index, profile, seen):
        where = 'containers[%d]' % index
        if not isinstance(profile, dict):
            return self._skip(where, 'not a JSON object')
        account = profile.get('account')
        container = profile.get('container')
        if account:
            where += ' (%s/%s)' % (account, container)
        for key in ('account', 'container', 'aws_bucket'):
            if not profile.get(key):
                return self._skip(where, '%s is missing' % key)
        provider = _provider(profile)
        if provider is None:
            return self._skip(where, 'protocol %r is neither s3 nor swift'
                              % profile.get('protocol'))
        if container == '/*':
            container = WILDCARD
        if '/' in container:
            return self._skip(where, 'container %r contains "/"'
                              % container)
        if (account, container) in seen:
            return self._skip(
                where, '%s/%s is already mapped by %s: cloudsync copies a '
                'container to one remote' % (account, container,
                                             seen[(account, container)]))
        options = [('account', account), ('container', container)]
        layout = self._layout(where, profile, provider, container)
        if layout is False:
            return None
        criteria = profile.get('selection_criteria')
        criteria_text = None
        if criteria not in (None, {}, ''):
            from cloudsync import conf as conf_mod
            try:
                criteria_text = (criteria if isinstance(criteria, str)
                                 else json.dumps(criteria,
                                                 ensure_ascii=False))
                conf_mod._parse_criteria(criteria_text)
            except (TypeError, ValueError) as exc:
                return self._skip(where, 'selection_criteria is invalid '
                                  '(%s); copying everything instead would '
                                  'copy what it excludes' % exc)
        exclude = profile.get('exclude_pattern')
        if exclude not in (None, '', '^$'):
            try:
                re.compile(exclude)
            except (re.error, TypeError) as exc:
                return self._skip(where, 'exclude_pattern %r is not a '
                                  'regular expression: %s' % (exclude, exc))
        same = []
        for key in SAME_NAME:
            if profile.get(key) is None:
                continue
            value = profile[key]
            if key in SWIFT_ONLY and provider != 'swift':
                # NOTE: swift-s3-sync ignored these for S3 targets;
                # cloudsync refuses them there, so they are dropped.
                if value not in (False, 'false', 'False', ''):
                    self.warn(where, '%s applies to Swift remotes only; '
                              'left out' % key)
                continue
            if key in NUMBERS:
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    return self._skip(where, '%s: %r is not a number'
                                      % (key, value))
                if value < 0 and key in NOT_NEGATIVE:
                    self.warn(where, '%s: %s is negative; %s' % (
                        key, _fmt(value), NOT_NEGATIVE[key]))
                    continue
            elif key != 'storage_policy':
                value = _bool(value)
            same.append((key, value))
        if dict(same).get('sync_container_acl') and \
                not dict(same).get('sync_container_metadata'):
            # NOTE: swift-s3-sync copied the ACLs along with the container
            # metadata only; cloudsync refuses the option on its own.
            self.warn(where, 'sync_container_acl without '
                      'sync_container_metadata: swift-s3-sync ignored it; '
                      'left out')
            same = [(k, v) for k, v in same if k != 'sync_container_acl']
        remote = self._remote(where, profile, provider)
        options.append(('remote', remote))
        options.append(('bucket', profile['aws_bucket']))
        if not _bool(profile.get('retain_local', True)):
            options.append(('lifecycle', 'archive'))
            # NOTE: swift-s3-sync archived by deleting the local object;
            # what it archived stays readable through Swift's 404.
            options.append(('serve_deleted_archives', 'true'))
        options.extend(layout)
        options.extend(same)
        if exclude not in (None, '', '^$'):
            options.append(('exclude_pattern', exclude))
        if criteria_text:
            options.append(('selection_criteria', criteria_text))
        for key, why in UNSUPPORTED.items():
            if profile.get(key):
                self.warn(where, '%s not carried over: %s' % (key, why))
        for key in sorted(set(profile) - HANDLED - set(UNSUPPORTED)):
            self.warn(where, 'unknown option %s not carried over' % key)
        if not _bool(profile.get('propagate_delete', True)) and \
                'merge_namespaces' not in profile and \
                _bool(profile.get('retain_local', True)):
            self.warn(where, 'swift-s3-sync 0.1.24 and older served '
                      'remote objects through the shunt for every profile '
                      'with propagate_delete false; set merge_namespaces = '
                      'true if you relied on that')
        base = '%s-%s' % (_slug(account), 'all' if container == WILDCARD
                          else _slug(container))
        name = _unique(base, self._mapping_names)
        section = Section('mapping:%s' % name)
        section.comments.append('from %s' % where.split(' ')[0])
        for option in options:
            section.set(*option)
        self.mappings.append(section)
        seen[(account, container)] = where
        return section

    def _layout(self, where, profile, provider, container):
        """The layout options, or False when the profile must be left out.
        """
        if provider == 'swift':
            # NOTE(cloudsync): swift-s3-sync kept object names on Swift
            # remotes; written out so that the target stays current
            # whatever the default.
            if profile.get('custom_prefix') is not None:
                self.warn(where, 'custom_prefix is only used with S3; not '
                          'carried over')
            return [('layout', 'native')]
        if 'custom_prefix' not in profile or \
                profile['custom_prefix'] is None:
            return []
        prefix = str(profile['custom_prefix']).strip('/')
        if container == WILDCARD:
            self._skip(where, 'custom_prefix with container "/*" put every '
                       'container\'s objects under one prefix, where they '
                       'can overwrite each other; map the containers one '
                       'by one, or use key_prefix with {container}')
            return False
        if not prefix:
            return [('layout', 'native')]
        # NOTE(cloudsync): key_prefix is a format string ({account},
        # {container}); braces of the old prefix are literal.
        return [('layout', 'prefix'),
                ('key_prefix', prefix.replace('{', '{{').replace('}', '}}'))]

    # -- [migration:NAME] --------------------------------------------------

    def migration(self, index, profile):
        """One ``migrations`` profile as a ``[migration:NAME]`` section."""
        where = 'migrations[%d]' % index
        if not isinstance(profile, dict):
            return self._skip(where, 'not a JSON object')
        account = profile.get('account')
        bucket = profile.get('aws_bucket')
        if account and bucket:
            where += ' (%s/%s)' % (account, bucket)
        for key in ('account', 'aws_bucket'):
            if not profile.get(key):
                return self._skip(where, '%s is missing' % key)
        provider = _provider(profile)
        if provider is None:
            return self._skip(where, 'protocol %r is neither s3 nor swift'
                              % profile.get('protocol'))
        every = bucket == '/*'
        container = profile.get('container')
        if '/' in bucket and not every:
            return self._skip(where, 'aws_bucket %r contains "/"' % bucket)
        remote = self._remote(where, profile, provider)
        name = _unique('migrate-%s' % _slug(
            '%s-%s' % (account, 'all' if every else bucket)),
            self._mapping_names)
        section = Section('migration:%s' % name)
        section.set('remote', remote)
        section.set('bucket', '*' if every else bucket)
        section.set('account', account)
        if container and not every and container != bucket:
            section.set('container', container)
        elif container and every and container not in ('/*', bucket):
            self.warn(where, 'container %r is not carried over: with '
                      'aws_bucket "/*" every bucket goes into the container '
                      'of its own name' % container)
        if profile.get('prefix'):
            section.set('prefix', profile['prefix'])
        if profile.get('storage_policy'):
            section.set('storage_policy', profile['storage_policy'])
        older_than = _older_than(profile.get('older_than'))
        if older_than is None:
            self.warn(where, 'older_than %r not carried over: not a number '
                      'of seconds' % (profile['older_than'],))
        elif older_than:
            section.set('older_than', older_than)
        for key, why in MIGRATION_UNSUPPORTED.items():
            if profile.get(key) not in (None, False, '', 0):
                self.warn(where, '%s not carried over: %s' % (key, why))
        known = set(MIGRATION_KNOWN) | set(MIGRATION_UNSUPPORTED)
        for key in sorted(set(profile) - known):
            self.warn(where, 'unknown option %s, not carried over' % key)
        self.migrations.append(section)
        return section

    def convert(self):
        defaults = self.defaults()
        migrations = self.data.get('migrations') or []
        if not isinstance(migrations, list):
            raise ConversionError('"migrations" is not a list')
        containers = self.data.get('containers')
        if containers is None:
            containers = []
            self.warn('containers', 'missing: no mapping is written')
        elif not isinstance(containers, list):
            raise ConversionError('"containers" is not a list')
        seen = {}
        for index, profile in enumerate(containers):
            self.mapping(index, profile, seen)
        for index, profile in enumerate(migrations):
            self.migration(index, profile)
        return Result(defaults, self.remotes, self.mappings, self.warnings,
                      self.partial, self.secrets, self.migrations)


def convert(data):
    """Convert parsed swift-s3-sync JSON; returns a :class:`Result`."""
    return Converter(data).convert()


def load_json(path):
    """Read a swift-s3-sync configuration file.

    :raises ConversionError: unreadable, or not JSON.
    """
    try:
        with open(path, 'r', encoding='utf-8') as f:
            return json.load(f)
    except OSError as exc:
        raise ConversionError('cannot read %s: %s' % (
            path, exc.strerror or exc))
    except ValueError as exc:
        raise ConversionError('%s is not valid JSON: %s' % (path, exc))


def render(result, source=None):
    """The INI text of a :class:`Result`."""
    lines = ['# cloudsync configuration converted from swift-s3-sync\'s',
             '# %s by cloudsync-config-convert.' % (
                 os.path.basename(source) if source else 'configuration'),
             '# It holds credentials: keep it readable by the cloudsync '
             'user only.', '']
    for section in [result.defaults] + result.remotes + result.mappings + \
            result.migrations:
        for comment in section.comments:
            lines.append('# %s' % comment)
        lines.append('[%s]' % section.name)
        for key, value in section.options:
            lines.append('%s = %s' % (key, _fmt(value)))
        lines.append('')
    return '\n'.join(lines)


def validate(text):
    """Load ``text`` with cloudsync's own configuration loader.

    :returns: the problems the daemon would report for it, one per line;
        empty when it loads.
    """
    from oslo_config import cfg

    from cloudsync import conf as conf_mod
    from cloudsync import exceptions
    with tempfile.TemporaryDirectory(prefix='cloudsync-convert-') as tmp:
        path = os.path.join(tmp, 'cloudsync.conf')
        write_private(path, text)
        try:
            conf_mod.load_file(path)
        except exceptions.ConfigError as exc:
            return list(exc.problems)
        except (cfg.Error, ValueError) as exc:
            return [str(exc)]
    return []


def write_private(path, text):
    """Write ``text`` to ``path`` with mode 0600, atomically."""
    files.replace_file(path, text, mode=0o600)


def _older_than(value):
    """A ``migrations`` profile's ``older_than`` (seconds) as
    ``[migration:NAME] older_than``: 0 when unset, None when it is not a
    number of seconds.
    """
    if value in (None, '', 0):
        return 0
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return int(seconds) if seconds.is_integer() else seconds
