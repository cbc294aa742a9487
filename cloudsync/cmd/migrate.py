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
"""``cloudsync-migrate``: the migrator's command (see
:mod:`cloudsync.migrate.daemon`).

It runs the migrator the way ``cloudsync-sync`` runs the sync daemon, with
the same plumbing: ``--config-file`` and ``--once``, the configuration
and node checks (exit 2 before anything starts), logging, and SIGTERM or
SIGINT ending the pass in flight with its progress saved.
"""

import os
import sys

from cloudsync import concurrency


def node_problems(conf):
    """What keeps the migrator from starting: ``swift_dir`` with
    ``swift.conf`` and the container ring, a writable ``status_dir``, a
    usable keymaster configuration; a list of problems naming the option.
    """
    from cloudsync import local
    from cloudsync.sync import daemon as sync_daemon
    problems = []
    for name in ('swift.conf', 'container.ring.gz'):
        if not os.path.isfile(os.path.join(conf.swift_dir, name)):
            problems.append('[DEFAULT] swift_dir: %s has no %s'
                            % (conf.swift_dir, name))
    problem = sync_daemon._writable_dir(conf.status_dir)
    if problem:
        problems.append('[DEFAULT] status_dir: %s' % problem)
    problems += local.keymaster_problems(conf)
    return problems


def run(argv=None):
    """The command, after monkey-patching; returns the exit status."""
    from cloudsync import cmd
    from cloudsync import conf as conf_mod
    from cloudsync import local
    from cloudsync import log as log_mod
    from cloudsync.migrate import daemon
    from cloudsync.sync import container_pass
    from cloudsync.sync import daemon as sync_daemon
    from cloudsync.sync import stats
    config = cmd.load_config('cloudsync-migrate', argv, sync_daemon.cli_opts)
    if config is None:
        return cmd.EXIT_CONFIG
    problems = node_problems(config.conf)
    if problems:
        conf_mod.report_problems('cloudsync-migrate', problems)
        return cmd.EXIT_CONFIG
    log_mod.setup(config.conf, secrets=config.secrets())
    local.use_swift_dir(config.conf.swift_dir)
    if not config.migrations:
        daemon.LOG.warning('No migration is enabled; nothing to do')
        return daemon.EXIT_OK
    stop = concurrency.StopFlag()
    sync_daemon.install_signal_handlers(stop)
    migrator = daemon.MigrationDaemon(
        config, daemon.RingShares(config.conf, container_pass.row_owner),
        stats.make_stats, stop=stop)
    return sync_daemon.run(migrator, config.conf.once)


def main(argv=None):
    # NOTE(cloudsync): green sockets and threads must be in place before
    # boto3, urllib3 or Swift's proxy are imported.
    concurrency.monkey_patch()
    sys.exit(run(argv))


if __name__ == '__main__':
    main()
