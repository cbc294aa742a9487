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
"""The migrator daemon, ``cloudsync-migrate``.

Run it with cloudsync's configuration file, where ``[migration:NAME]``
sections say what to bring into Swift::

    cloudsync-migrate --config-file /etc/cloudsync/cloudsync.conf [--once]

Each pass goes over every migration, and over each of its source buckets
(every bucket of the remote with ``bucket = *``) in turn, from where the
last pass stopped (see :mod:`cloudsync.migrate.bucket_pass`), then the
migrator sleeps for what is left of ``poll_interval``. It keeps going,
pass after pass, picking up what was added, changed or deleted at the
source, until the operator removes (or disables) the migration.

Run one on every container node, with the node's ``bind_ip``,
``bind_port``, ``devices`` and its own ``status_dir``, as the sync daemon:
the migrators then split each container's objects between the nodes that
hold the container's replicas, without talking to each other. A migrator
on a host with no device in the container ring (a proxy) migrates
everything alone.

``--once``
    one complete pass over every migration, then exit: 0 when every
    object is in Swift, 1 when an object or a bucket failed.

SIGTERM or SIGINT
    stop after the listing page in flight, save progress and exit 0. A
    migrator killed outright resumes from its last saved page.

statsd counters per migration, ``<statsd_prefix>.migrate_<name>.*``:
``copied_objects``, ``bytes``, ``scanned``, ``skipped_objects`` (Swift
users' objects left alone), ``failed_objects``, ``deleted_objects`` and
``removed_from_source``.

``[DEFAULT]`` options it reads: ``workers`` (objects copied at once),
``items_chunk`` (the source listing's page size, at most 1000: progress
is saved after each page), ``poll_interval``, ``verification_slack``,
``status_dir`` and the internal client's and statsd's options.
"""

import time

from oslo_log import log as logging
from swift.common.ring import Ring
from swift.common.ring import utils as ring_utils
from swift.common import utils as swift_utils

from cloudsync import concurrency
from cloudsync.migrate import bucket_pass
from cloudsync.migrate import objects
from cloudsync.migrate import source as source_mod
from cloudsync.migrate import state as state_mod
from cloudsync.migrate import target as target_mod

LOG = logging.getLogger('cloudsync.migrate')

EXIT_OK = 0
#: an object or a bucket failed (``--once``)
EXIT_FAILED = 1


class RingShares(object):
    """The :class:`~cloudsync.migrate.bucket_pass.NodeShare` of this node
    for each Swift container, from the container ring.
    """

    def __init__(self, conf, owner):
        self.conf = conf
        self.owner = owner
        self._ring = None
        self._my_ips = None

    @property
    def ring(self):
        if self._ring is None:
            self._ring = Ring(self.conf.swift_dir, ring_name='container')
        return self._ring

    def _local(self, device):
        if self._my_ips is None:
            self._my_ips = swift_utils.whataremyips(self.conf.bind_ip)
        return ring_utils.is_local_device(self._my_ips, self.conf.bind_port,
                                          device['ip'], device['port'])

    def share(self, account, container):
        """This node's share of ``container``, or None when another node
        holds all of it.
        """
        if not any(d and self._local(d) for d in self.ring.devs):
            return bucket_pass.NodeShare(0, 1, self.owner)
        _part, nodes = self.ring.get_nodes(account, container)
        for i, node in enumerate(nodes):
            if self._local(node):
                return bucket_pass.NodeShare(node.get('index', i), len(nodes),
                                             self.owner)
        return None


class PassSummary(object):
    def __init__(self):
        self.failed = 0
        self.errors = 0
        self.buckets = 0


class MigrationDaemon(object):
    """Passes over every migration.

    :param shares: this node's :class:`~cloudsync.migrate.bucket_pass.
        NodeShare` of each container: a :class:`RingShares`.
    :param make_stats: ``make_stats(conf, name)``, the statsd counters of
        ``name``.
    """

    def __init__(self, config, shares, make_stats, stop=None,
                 clock=time.time, internal_client=None):
        self.config = config
        self.conf = config.conf
        self.clock = clock
        self.stop = stop if stop is not None else concurrency.StopFlag()
        self._internal_client = internal_client
        self.shares = shares
        self.make_stats = make_stats
        self._stats = {}

    @property
    def internal_client(self):
        if self._internal_client is None:
            self._internal_client = target_mod.make_internal_client(
                self.conf)
        return self._internal_client

    def stats(self, migration):
        if migration.name not in self._stats:
            self._stats[migration.name] = self.make_stats(
                self.conf, 'migrate_' + migration.name)
        return self._stats[migration.name]

    def state(self, migration):
        return state_mod.MigrationState.load(
            state_mod.state_path(self.conf.status_dir, migration.name),
            migration.name, migration.fingerprint(), now=self.clock())

    def run_pass(self):
        summary = PassSummary()
        for migration in self.config.migrations:
            if self.stop.is_set():
                break
            try:
                self.migrate(migration, summary)
            except Exception as exc:  # noqa: BLE001 - the others go on
                LOG.exception('migration %s: the pass failed: %s',
                              migration.name, exc)
                summary.errors += 1
        return summary

    def migrate(self, migration, summary):
        """One pass over ``migration``'s buckets."""
        provider = migration.remote.provider(
            max_connections=self.conf.workers)
        source = source_mod.MigrationSource(migration, provider)
        target = target_mod.SwiftTarget(self.internal_client,
                                        migration.account)
        state = self.state(migration)
        migrator = objects.ObjectMigrator(migration, source, target,
                                          clock=self.clock,
                                          since=state.started)
        buckets = source.buckets()
        if migration.every_bucket:
            state.forget_buckets(set(buckets))
        for bucket in buckets:
            if self.stop.is_set():
                break
            container = migration.target_container(bucket)
            if self.config.migration_for(migration.account,
                                         container) is not migration:
                continue
            share = self.shares.share(migration.account, container)
            if share is None:
                LOG.debug('migration %s: %s/%s is other nodes\' work',
                          migration.name, migration.account, container)
                continue
            summary.buckets += 1
            one = bucket_pass.BucketPass(
                migration, bucket, migrator, state, share,
                self.stats(migration), self.stop, workers=self.conf.workers,
                slack=self.conf.verification_slack,
                page_size=min(self.conf.items_chunk, source_mod.PAGE_SIZE),
                clock=self.clock)
            try:
                one.run()
            except Exception as exc:  # noqa: BLE001 - next bucket
                LOG.exception('migration %s: bucket %s failed: %s',
                              migration.name, bucket, exc)
                summary.errors += 1
            summary.failed += one.failed
        state.save(self.clock())

    def run_once(self):
        summary = self.run_pass()
        LOG.info('Migration pass done: %d buckets, %d objects failed, %d '
                 'errors', summary.buckets, summary.failed, summary.errors)
        if self.stop.is_set():
            return EXIT_OK
        return EXIT_FAILED if summary.failed or summary.errors else EXIT_OK

    def run_forever(self):
        LOG.info('cloudsync-migrate started: %d migrations, poll every %ss',
                 len(self.config.migrations), self.conf.poll_interval)
        while not self.stop.is_set():
            started = self.clock()
            try:
                self.run_pass()
            except Exception:  # noqa: BLE001 - the daemon keeps going
                LOG.exception('Migration pass failed')
            elapsed = self.clock() - started
            self.stop.wait(max(0.0, self.conf.poll_interval - elapsed))
        return EXIT_OK
