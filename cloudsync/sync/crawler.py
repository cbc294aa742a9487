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
"""Finding this node's container databases and crawling their rows.

Finding the work
    The daemon works on the container databases this node holds, found the
    way Swift's container daemons find them: the container ring in
    ``swift_dir``, this node's addresses (``whataremyips(bind_ip)``) and
    the container server's ``bind_port``. A database is this node's when a
    primary node of its (account, container) has one of those addresses
    and that port; it lives under ``devices/<device>/containers/...``
    (devices that are not mounted are skipped when ``mount_check`` is on).
    A mapping with ``container = *`` lists its account's containers on
    every pass, so containers created later are picked up; containers in
    Swift's reserved namespace (names starting with a NUL byte, such as
    object versioning's) are not, nor are containers with a mapping of
    their own (also one given later). Containers whose names start with ``.``
    are ordinary user containers in Swift and are synced. A container that
    was deleted keeps being crawled while its database is still here, so
    its last deletes reach the remote.

Sharded containers
    When a container shards, its rows move into shard databases (containers
    of the hidden account ``.shards_<account>``). The crawler follows the
    root's shard ranges (from the local root database, or asked of the
    cluster when the root is not on this node) to the shard databases this
    node holds; each has its own progress, and their rows are synced under
    the root container's name. A database that moved away in a rebalance
    or was removed simply stops being crawled.

Splitting the work
    For a database with R primary replicas, the daemon on replica i owns
    the rows whose name hashes to i::

        int(sha1(name.encode('utf-8')).hexdigest()[-6:], 16) % R == i

    (the rule swift-s3-sync used, so both split a container the same way).
    One pass over a database:

    a. reads the rows after ``last_row``, ``items_chunk`` at a time (one
       query of the columns it uses, as tuples: a row of another replica
       costs the hash of its name and nothing more); asks the mapping's
       lifecycle policy about each owned row and hands those to copy,
       update or delete to the row pool (``workers`` at once: at most
       ``workers`` green threads per batch, each taking the next row). A
       row that is not ready yet (``copy_after``) ends the scan for this
       pass: later rows are younger. A row dated in the future (a proxy
       whose clock is ahead, rows container-sync wrote) does not: it waits
       alone in the failed set, as a waiting row, until it is due, and the
       rows after it go on. A row that fails is remembered in the
       failed set and the scan goes on; the pointer moves over rows owned
       by other replicas as well. Progress is saved at most once a second
       while rows are read, and at the end of each stage: a crash repeats
       at most a second of work.
    b. retries the failed rows whose time has come (re-reading the row: if
       the object changed or was deleted meanwhile, the newest row is
       handled);
    c. verifies the rows of the other replicas once they are older than
       ``verification_slack``: the remote is compared a listing page at a
       time and only what is missing or different is handled, so a node
       that is down does not keep its rows from the remote.

    ``container_pass_time`` bounds the time spent on one database per
    pass. One INFO line per database and pass gives the counts, also when
    nothing happened; DEBUG lines follow every object.
"""

import json
import os
import time
import urllib.parse

from oslo_log import log as logging
from swift.common import constraints
from swift.common import db as swift_db
from swift.common.ring import Ring
from swift.common.ring import utils as ring_utils
from swift.common import utils as swift_utils
from swift.container import backend

from cloudsync import concurrency
from cloudsync import local
from cloudsync.sync import container_pass
from cloudsync.sync import infocache
from cloudsync.sync import propagate
from cloudsync.sync import stats as stats_mod
from cloudsync.sync import status as status_mod

#: the logger keeps the name it has always had, for operators' filters
LOG = logging.getLogger('cloudsync.crawler')

#: how long shard ranges asked of the cluster are trusted
REMOTE_SHARDS_TTL = 300.0

#: the pass over one database, and what it uses, as the crawler's users
#: know them
ContainerPass = container_pass.ContainerPass
LocalDB = container_pass.LocalDB
PassResult = container_pass.PassResult
row_owner = container_pass.row_owner
row_from_db = container_pass.row_from_db


class LazyInternalClient(object):
    """The crawler's internal client, made when a propagator first uses
    it: a pass whose rows need no read of the local cluster (none of them
    this node's, or nothing new) never loads Swift's proxy.
    """

    def __init__(self, crawler):
        self._crawler = crawler

    def __getattr__(self, name):
        return getattr(self._crawler.internal_client, name)


def default_propagator_factory(mapping, account, container, provider,
                               internal_client, stats, logger):
    return propagate.RowPropagator(mapping, account, container, provider,
                                   internal_client, stats=stats,
                                   logger=logger)


class ContainerCrawler(object):
    """Finds this node's databases of each mapping and crawls them.

    :param config: the :class:`cloudsync.conf.Config`.
    :param internal_client: an ``InternalClient`` of the local cluster
        (built from the configuration when not given).
    """

    def __init__(self, config, internal_client=None, ring=None, my_ips=None,
                 propagator_factory=None, row_pool=None, stop=None,
                 clock=time.time, max_failed=status_mod.MAX_FAILED):
        self.config = config
        self.conf = config.conf
        self.clock = clock
        self.stop = stop if stop is not None else concurrency.StopFlag()
        self._internal_client = internal_client
        self._ring = ring
        self.my_ips = (my_ips if my_ips is not None
                       else swift_utils.whataremyips(self.conf.bind_ip))
        self.propagator_factory = (propagator_factory or
                                   default_propagator_factory)
        self.row_pool = row_pool or concurrency.WorkerPool(self.conf.workers)
        self.max_failed = max_failed
        self.trouble_streak = max(container_pass.MIN_TROUBLE_STREAK,
                                  2 * self.conf.workers)
        self.swift_logger = None
        #: told when a pass over a database starts and ends (``--once``
        #: in a terminal shows progress with it)
        self.progress = None
        self._stats = {}
        self._known = {}
        self._listed = {}
        self._remote_shards = {}

    # -- plumbing -----------------------------------------------------------

    @property
    def internal_client(self):
        if self._internal_client is None:
            client = local.make_internal_client(self.conf)
            # NOTE(cloudsync): so that reading an object costs the cluster
            # one request, not a HEAD of its account and container too.
            infocache.InfoCache.install(client)
            self._internal_client = client
        return self._internal_client

    @property
    def ring(self):
        if self._ring is None:
            self._ring = Ring(self.conf.swift_dir, ring_name='container')
        return self._ring

    def stats(self, mapping):
        if mapping.name not in self._stats:
            self._stats[mapping.name] = stats_mod.make_stats(
                self.conf, mapping.name)
        return self._stats[mapping.name]

    def make_propagator(self, db):
        provider = db.mapping.remote.provider(
            max_connections=self.conf.workers)
        client = self._internal_client or LazyInternalClient(self)
        return self.propagator_factory(
            db.mapping, db.account, db.container, provider,
            client, self.stats(db.mapping), LOG)

    def status_path(self, db):
        return status_mod.status_path(self.conf.status_dir, db.mapping.name,
                                      db.account, db.container, db.db_id)

    def status_info(self, db):
        return {'mapping': db.mapping.name, 'account': db.account,
                'container': db.container, 'db_account': db.db_account,
                'db_container': db.db_container, 'db_path': db.path,
                'db_id': db.db_id, 'node_index': db.node_index,
                'replicas': db.replicas, 'shard': db.is_shard}

    # -- finding the databases ------------------------------------------------

    def local_primaries(self, account, container):
        """[(replica index, replica count, DB path)] held by this node."""
        part, nodes = self.ring.get_nodes(account, container)
        name_hash = swift_utils.hash_path(account, container)
        found = []
        for i, node in enumerate(nodes):
            if not ring_utils.is_local_device(
                    self.my_ips, self.conf.bind_port, node['ip'],
                    node['port']):
                continue
            try:
                constraints.check_drive(self.conf.devices, node['device'],
                                        self.conf.mount_check)
            except ValueError as exc:
                LOG.warning('Skipping device %s: %s', node['device'], exc)
                continue
            path = os.path.join(
                self.conf.devices, node['device'],
                swift_utils.storage_directory(backend.DATADIR, part,
                                              name_hash),
                name_hash + '.db')
            found.append((node.get('index', i), len(nodes), path))
        return found

    def _list_containers(self, account):
        headers = {local.SHUNT_BYPASS_HEADER: 'true'}
        names, marker = [], ''
        while True:
            path = '%s?format=json&marker=%s' % (
                self.internal_client.make_path(account),
                urllib.parse.quote(marker.encode('utf-8')))
            resp = self.internal_client.make_request(
                'GET', path, headers, (2, 404))
            if resp.status_int != 200:
                return names
            page = json.loads(resp.body)
            if not page:
                return names
            names.extend(item['name'] for item in page)
            marker = page[-1]['name']

    def _known_containers(self, mapping):
        """Containers of a wildcard mapping this node has progress for."""
        if mapping.name in self._known:
            return self._known[mapping.name]
        known = set()
        top = os.path.join(self.conf.status_dir,
                           status_mod.path_component(mapping.name),
                           status_mod.path_component(mapping.account))
        for dirpath, _dirs, files in os.walk(top):
            for name in files:
                if not name.endswith('.json'):
                    continue
                try:
                    with open(os.path.join(dirpath, name)) as f:
                        info = json.load(f).get('info', {})
                except (OSError, ValueError, AttributeError):
                    continue
                if info.get('container'):
                    known.add(info['container'])
        self._known[mapping.name] = known
        return known

    def containers_of(self, mapping):
        """The containers of ``mapping`` to look for on this pass."""
        if not mapping.is_wildcard:
            return [mapping.container]
        known = self._known_containers(mapping)
        try:
            listed = self._list_containers(mapping.account)
        except Exception as exc:  # noqa: BLE001
            LOG.error('Cannot list the containers of %s (mapping %s): %s',
                      mapping.account, mapping.name, exc)
            listed = []
        names = set()
        # NOTE(cloudsync): a container this mapping synced before may have
        # been given a mapping of its own since: it is that one's now.
        for name in list(known) + listed:
            if name.startswith('\x00'):
                continue
            if self.config.mapping_for(mapping.account, name) is not mapping:
                continue
            names.add(name)
            known.add(name)
        self._listed[mapping.name] = set(listed)
        return sorted(names)

    def _db_files(self, mapping, account, container, db_account,
                  db_container, index, replicas, path, first, is_shard):
        broker = backend.ContainerBroker(path, account=db_account,
                                         container=db_container)
        files = broker.db_files
        dbs = []
        for n, db_file in enumerate(files):
            db_id = os.path.basename(db_file)[:-len('.db')]
            if not first:
                db_id += '.%d' % index
            dbs.append(LocalDB(
                mapping=mapping, account=account, container=container,
                db_account=db_account, db_container=db_container,
                path=db_file, db_id=db_id, node_index=index,
                replicas=replicas, is_shard=is_shard,
                retiring=n < len(files) - 1))
        return broker, dbs

    def _shard_ranges(self, account, container, broker):
        if broker is not None:
            return [sr for sr in broker.get_shard_ranges()
                    if sr.name != '%s/%s' % (account, container)]
        key = (account, container)
        cached = self._remote_shards.get(key)
        now = self.clock()
        if cached and cached[0] > now:
            return cached[1]
        ranges = []
        try:
            resp = self.internal_client.make_request(
                'GET', self.internal_client.make_path(account, container) +
                '?format=json',
                {'X-Backend-Record-Type': 'shard',
                 local.SHUNT_BYPASS_HEADER: 'true'}, (2, 404))
            if resp.status_int == 200 and resp.headers.get(
                    'X-Backend-Record-Type', 'shard') == 'shard':
                ranges = [swift_utils.ShardRange.from_dict(d)
                          for d in json.loads(resp.body)]
        except Exception as exc:  # noqa: BLE001
            LOG.warning('Cannot read the shard ranges of %s/%s: %s',
                        account, container, exc)
        self._remote_shards[key] = (now + REMOTE_SHARDS_TTL, ranges)
        return ranges

    def dbs_of(self, mapping, container):
        """The :class:`LocalDB` of (mapping, container) on this node."""
        account = mapping.account
        dbs, root_broker = [], None
        for n, (index, replicas, path) in enumerate(
                self.local_primaries(account, container)):
            broker, found = self._db_files(
                mapping, account, container, account, container, index,
                replicas, path, n == 0, False)
            if found:
                dbs.extend(found)
                if root_broker is None:
                    root_broker = broker
        for sr in self._shard_ranges(account, container, root_broker):
            if sr.deleted:
                continue
            for n, (index, replicas, path) in enumerate(
                    self.local_primaries(sr.account, sr.container)):
                _broker, found = self._db_files(
                    mapping, account, container, sr.account, sr.container,
                    index, replicas, path, n == 0, True)
                dbs.extend(found)
        return dbs

    def find_dbs(self, mapping):
        """Every database of ``mapping`` on this node, for this pass."""
        result = []
        for container in self.containers_of(mapping):
            try:
                dbs = self.dbs_of(mapping, container)
            except Exception:  # noqa: BLE001
                LOG.exception('Cannot look for the databases of %s/%s '
                              '(mapping %s)', mapping.account, container,
                              mapping.name)
                continue
            if (not dbs and mapping.is_wildcard and
                    container not in self._listed.get(mapping.name, ())):
                # deleted, and its database is gone from here: done
                self._known_containers(mapping).discard(container)
            result.extend(dbs)
        return result

    # -- crawling -------------------------------------------------------------

    def crawl(self, db, deadline=None, once=False):
        """One pass over ``db``; never raises.

        :param once: a ``--once`` pass, which retries every row that
            failed before it, without waiting for its backoff.
        """
        try:
            return ContainerPass(self, db, deadline, once).run()
        except (swift_db.DatabaseConnectionError,
                swift_db.DatabaseAlreadyExists) as exc:
            LOG.info('%s: the database went away: %s', db.label, exc)
            return PassResult(label=db.label)
        except (Exception, concurrency.Timeout) as exc:  # noqa: BLE001
            LOG.exception('Failed to process %s', db.label)
            return PassResult(label=db.label, error=str(exc) or repr(exc))
