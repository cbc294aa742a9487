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
"""``cloudsync-verify``: prove a mapping's remote, compare both sides.

Check every enabled mapping's credentials and target (list, write, read
back, update metadata, delete a probe object) before any data moves::

    cloudsync-verify --config-file /etc/cloudsync/cloudsync.conf
    cloudsync-verify --config-file ... --mapping photos --read-only

Compare a container with its remote copy, changing nothing::

    cloudsync-verify --config-file ... --mapping photos --compare [--list]
    cloudsync-verify --config-file ... --mapping all --compare \\
        --container c1 --deep

Each step prints one line, ``mapping NAME: STEP: ok`` or ``mapping NAME:
STEP: FAILED: <remote, bucket, key>: <the remote's answer>``; secrets are
never printed. ``--format json`` prints one JSON document instead.

Exit status: 0 when every check passed (and, with ``--compare``, nothing
is missing remotely, differs or could not be read locally), 1 otherwise,
2 for a configuration or usage error (a configuration file that is
missing or unreadable, none at all, or one without an enabled mapping:
the message names the file). See :mod:`cloudsync.ops.verify` for
what each step and category means.
"""

import json
import sys

from oslo_config import cfg

from cloudsync import cmd
from cloudsync import concurrency
from cloudsync import conf as conf_mod
from cloudsync import exceptions
from cloudsync import local
from cloudsync import log as log_mod
from cloudsync.ops import verify

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = cmd.EXIT_CONFIG

cli_opts = [
    cfg.MultiStrOpt('mapping', default=[],
                    help='Only this mapping (the NAME of [mapping:NAME]); '
                         'may be given several times. Default: every '
                         'enabled mapping.'),
    cfg.BoolOpt('read-only', default=False,
                help='Only list, HEAD and GET: for credentials that may '
                     'not write.'),
    cfg.BoolOpt('compare', default=False,
                help='Compare containers with their remote copies instead '
                     'of checking the remote.'),
    cfg.StrOpt('container',
               help='The container to check or compare (for a mapping of '
                    'every container; default: all of them with '
                    '--compare).'),
    cfg.BoolOpt('list', default=False,
                help='With --compare: list every object that is not in '
                     'sync.'),
    cfg.BoolOpt('deep', default=False,
                help='With --compare: also HEAD every object on both '
                     'sides and compare content type, metadata and '
                     'timestamps.'),
    cfg.StrOpt('format', default='text', choices=['text', 'json'],
               help='Output format.'),
]


class _Output:
    def __init__(self, secrets, stream):
        self.secrets = [s for s in secrets if s and len(s) >= 4]
        self.stream = stream

    def scrub(self, text):
        for secret in self.secrets:
            text = text.replace(secret, log_mod.MASK)
        return text

    def line(self, text):
        print(self.scrub(text), file=self.stream)


def _selected(config, names):
    if not names:
        return config.mappings, []
    by_name = {m.name: m for m in config.mappings}
    unknown = [n for n in names if n not in by_name]
    return [by_name[n] for n in names if n in by_name], unknown


def run_checks(config, mappings, out, as_json):
    conf = config.conf
    failed = False
    report = []
    for mapping in mappings:
        results = verify.check_mapping(mapping, container=conf.container,
                                       read_only=conf.read_only)
        for result in results:
            failed = failed or result.ok is False
            if as_json:
                report.append({'mapping': result.mapping,
                               'step': result.step, 'ok': result.ok,
                               'message': out.scrub(result.message)})
            else:
                out.line(result.line())
    if as_json:
        out.line(json.dumps({'checks': report, 'ok': not failed},
                            indent=2, ensure_ascii=False))
    return EXIT_FAILED if failed else EXIT_OK


def run_compare(config, mappings, out, as_json, internal_client=None):
    conf = config.conf
    failed = False
    report = []
    ic = internal_client
    for mapping in mappings:
        if ic is None:
            ic = local.make_internal_client(conf)
        if conf.container:
            if not (mapping.is_wildcard or
                    conf.container == mapping.container):
                out.line('mapping %s: compare: FAILED: it maps container '
                         '%s, not %s' % (mapping.name, mapping.container,
                                         conf.container))
                failed = True
                continue
            containers = [conf.container]
        else:
            containers = verify.mapped_containers(config, mapping, ic)
        provider = mapping.remote.provider(max_connections=4)
        for container in containers:
            try:
                result = verify.compare_container(
                    mapping, container, provider, ic, deep=conf.deep,
                    details=conf.list or as_json)
            except (exceptions.RemoteError, exceptions.CloudsyncError) as e:
                failed = True
                message = 'mapping %s: compare %s/%s: FAILED: %s' % (
                    mapping.name, mapping.account, container,
                    verify._answer(e))
                if as_json:
                    report.append({'mapping': mapping.name,
                                   'container': container,
                                   'error': out.scrub(message)})
                else:
                    out.line(message)
                continue
            failed = failed or not result.clean
            if as_json:
                report.append(result.to_dict())
                continue
            out.line(result.summary())
            if conf.list:
                for diff in result.details:
                    out.line('  %-11s %s%s' % (
                        diff.kind.replace('_', '-'), diff.name,
                        ' (%s)' % diff.reason if diff.reason else ''))
    if as_json:
        out.line(json.dumps({'comparisons': report, 'ok': not failed},
                            indent=2, ensure_ascii=False))
    return EXIT_FAILED if failed else EXIT_OK


def run(argv=None, stdout=None, internal_client=None):
    """The command, without process set-up; returns the exit status."""
    stdout = stdout or sys.stdout
    config = cmd.load_config('cloudsync-verify', argv, cli_opts)
    if config is None:
        return EXIT_USAGE
    log_mod.add_secrets(config.secrets())
    out = _Output(config.secrets(), stdout)
    mappings, unknown = _selected(config, config.conf.mapping)
    if unknown:
        print('cloudsync-verify: no enabled mapping named %s in %s; '
              'mappings: %s' % (
                  ', '.join(unknown), cmd.config_source(config),
                  ', '.join(m.name for m in config.mappings) or 'none'),
              file=sys.stderr)
        return EXIT_USAGE
    if not mappings:
        print('cloudsync-verify: no mapping is enabled in %s: nothing to '
              'verify ([mapping:NAME] sections, without enabled = false)'
              % cmd.config_source(config), file=sys.stderr)
        return EXIT_USAGE
    as_json = config.conf.format == 'json'
    if config.conf.compare and internal_client is None:
        problems = local.keymaster_problems(config.conf)
        if problems:
            conf_mod.report_problems('cloudsync-verify', problems)
            return EXIT_USAGE
    if config.conf.compare:
        return run_compare(config, mappings, out, as_json, internal_client)
    return run_checks(config, mappings, out, as_json)


def main(argv=None):
    # NOTE(cloudsync): like the daemon: Swift's in-process proxy (the
    # internal client) and boto3 share green sockets.
    concurrency.monkey_patch()
    sys.exit(run(argv))


if __name__ == '__main__':
    main()
