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
"""``cloudsync-failback``: after an outage, bring back into Swift what was
written through proxymc while the cluster was out of reach (see
:mod:`cloudsync.migrate.failback`)::

    cloudsync-failback --config-file /etc/cloudsync/cloudsync.conf \\
        [--dry-run] [--since 2026-12-05T08:00:00Z] [--container NAME] \\
        MAPPING [MAPPING ...]

It prints a line per remote object copied, skipped (with the reason) or
failed, then a summary per mapping. Exit status: 0 when nothing failed,
1 when an object failed, 2 for a configuration or usage problem (an
unknown mapping, a bad ``--since``, a mapping that archives without
``--since``), before anything is copied.
"""

import datetime
import sys

from oslo_config import cfg

from cloudsync import concurrency

EXIT_OK = 0
EXIT_FAILED = 1
COMMAND = 'cloudsync-failback'

cli_opts = [
    cfg.MultiStrOpt('mappings', positional=True, metavar='MAPPING',
                    default=[], required=False,
                    help='The mappings ([mapping:NAME] sections) whose '
                         'objects written in the bucket during the outage '
                         'are brought back into Swift.'),
    cfg.BoolOpt('dry-run', default=False,
                help='Copy nothing: report what would be copied and what '
                     'skipped.'),
    cfg.StrOpt('since', default=None,
               help='Only objects written at or after this time (the '
                    'outage\'s start): seconds since the epoch or an ISO '
                    '8601 date and time (UTC unless it says otherwise). '
                    'Required for mappings that remove local data '
                    '(archiving).'),
    cfg.MultiStrOpt('container', default=[],
                    help='For a mapping of every container (container = '
                         '*): a container to look at besides those the '
                         'account has in Swift (repeatable).'),
]


def parse_since(value):
    """Seconds since the epoch of ``--since``, or None when unset.

    :raises ValueError: not a time.
    """
    if value is None or value == '':
        return None
    try:
        return float(value)
    except ValueError:
        pass
    text = value.strip()
    if text.endswith('Z'):
        text = text[:-1] + '+00:00'
    when = datetime.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def _usage(message):
    print('%s: %s' % (COMMAND, message), file=sys.stderr)


def run(argv=None, stdout=None, internal_client=None):
    """The command, after monkey-patching; returns the exit status."""
    from cloudsync import cmd
    from cloudsync import conf as conf_mod
    from cloudsync import local
    from cloudsync import log as log_mod
    from cloudsync.migrate import failback
    from cloudsync.migrate import target as target_mod
    stdout = stdout or sys.stdout
    config = cmd.load_config(COMMAND, argv, cli_opts)
    if config is None:
        return cmd.EXIT_CONFIG
    names = list(config.conf.mappings)
    by_name = {m.name: m for m in config.mappings}
    unknown = [n for n in names if n not in by_name]
    if not names or unknown:
        _usage('name the mappings to fail back%s (configured: %s)' % (
            ': no mapping %s' % ', '.join(unknown) if unknown else '',
            ', '.join(sorted(by_name)) or 'none'))
        return cmd.EXIT_CONFIG
    try:
        since = parse_since(config.conf.since)
    except ValueError:
        _usage('--since: %r is neither seconds since the epoch nor an ISO '
               '8601 date and time' % config.conf.since)
        return cmd.EXIT_CONFIG
    mappings = [by_name[n] for n in names]
    archiving = [m.name for m in mappings if m.removes_local_data]
    if archiving and since is None:
        _usage('mapping %s removes local data: give --since (the outage\'s '
               'start), or objects archived long ago would come back'
               % ', '.join(archiving))
        return cmd.EXIT_CONFIG
    log_mod.add_secrets(config.secrets())
    if internal_client is None:
        problems = local.keymaster_problems(config.conf)
        if problems:
            conf_mod.report_problems(COMMAND, problems)
            return cmd.EXIT_CONFIG
        local.use_swift_dir(config.conf.swift_dir)
        internal_client = target_mod.make_internal_client(config.conf)
    failed = False
    for mapping in mappings:
        provider = mapping.remote.provider()
        target = target_mod.SwiftTarget(internal_client, mapping.account)
        puller = failback.FailBack(mapping, provider, target,
                                   dry_run=config.conf.dry_run, since=since)
        summary = failback.Summary()
        for outcome in puller.run(puller.containers(
                config.conf.container)):
            summary.add(outcome)
            print(outcome.line(), file=stdout)
        print('mapping %s: %d %s (%d bytes), %d skipped, %d failed' % (
            mapping.name, summary.copied,
            'would be copied' if config.conf.dry_run else 'copied',
            summary.bytes, summary.skipped, summary.failed), file=stdout)
        failed = failed or bool(summary.failed)
    return EXIT_FAILED if failed else EXIT_OK


def main(argv=None):
    # NOTE(cloudsync): green sockets and threads must be in place before
    # boto3, urllib3 or Swift's proxy are imported.
    concurrency.monkey_patch()
    sys.exit(run(argv))


if __name__ == '__main__':
    main()
