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
"""The sync daemon, ``cloudsync-sync``.

Run one on every container node (one per container server, with that
server's ``devices``, ``bind_ip`` and ``bind_port``)::

    cloudsync-sync --config-file /etc/cloudsync/cloudsync.conf [--once]

Every pass goes over every mapping's container databases on this node,
``container_workers`` databases at once (see :mod:`cloudsync.sync.crawler`),
then the daemon sleeps for what is left of ``poll_interval``. A database
still busy ``container_pass_time`` after the pass started its last one
(copying a very large object, say) carries on in the background: the
next passes go on without it, and take it up again once it is done.

``--once``
    one complete pass over every mapping (every row, with no
    ``container_pass_time`` limit, and every row that failed on an earlier
    run tried again whatever its backoff), then exit: 0 when every row was
    synced or is waiting for ``copy_after``, 1 when a row or a database
    failed.

SIGTERM or SIGINT
    stop taking new rows, let the rows being copied finish (at most
    ``STOP_GRACE`` seconds), save progress and exit 0. A daemon killed
    outright loses nothing either: it resumes from its last saved chunk.

A configuration error is printed to stderr, every problem at once, and the
command exits 2 before anything starts. So is a node this daemon cannot
work on: ``swift_dir`` without ``swift.conf`` or ``container.ring.gz``,
no ``devices`` directory, or a ``status_dir`` that cannot be created or
written to.

Between two passes, every ``change_check_interval`` seconds (0: never),
the daemon looks at the database files the last pass found: a stat of
each database and of its ``.pending`` file (where the container server
appends rows before it merges them), nothing opened. A database whose
files changed since its last crawl began is crawled at once (from its
saved progress); one that keeps changing is crawled again every
:data:`BUSY_INTERVAL` or as soon as its files stand still for
:data:`QUIET_LOOKS` looks, so that a steady stream of writes is taken in
batches; the others wait for the next pass. The pass every
``poll_interval`` stays the safety net: new containers, wildcard mappings,
shards, retries.

Gauges per mapping, after every pass: ``rows_behind`` (rows not yet
synced on this node) and ``lag_seconds`` (age of the oldest of them).
"""

import os
import signal
import tempfile
import time

from oslo_config import cfg
from oslo_log import log as logging

from cloudsync import concurrency
from cloudsync import conf as conf_mod
from cloudsync import local
from cloudsync import log as log_mod
from cloudsync.sync import crawler as crawler_mod

#: the logger keeps the name it has always had, for operators' filters
LOG = logging.getLogger('cloudsync.daemon')

#: seconds rows in flight get to finish after SIGTERM
STOP_GRACE = 60.0
#: a database that keeps changing is crawled again at most this often
#: (seconds from the start of its last crawl; poll_interval when shorter),
#: unless its files stood still for QUIET_LOOKS looks: the rows of a
#: steady stream of writes are taken in batches
BUSY_INTERVAL = 1.0
QUIET_LOOKS = 2

cli_opts = [
    cfg.BoolOpt('once', default=False,
                help='Make one complete pass over every mapping, then exit '
                     '(non-zero if any row failed).'),
]

EXIT_OK = 0
EXIT_FAILED_ROWS = 1
EXIT_CONFIG = 2


class PassSummary(object):
    """What one pass over every mapping did."""

    def __init__(self):
        self.results = []
        self.started = time.time()
        self.ended = None

    def add(self, mapping, result):
        self.results.append((mapping, result))

    @property
    def failed(self):
        return sum(r.failed for _m, r in self.results)

    @property
    def errors(self):
        return [r for _m, r in self.results if r.error]

    def per_mapping(self):
        out = {}
        for mapping, result in self.results:
            agg = out.setdefault(mapping.name, {
                'rows_behind': 0, 'lag': 0.0, 'handled': 0, 'failed': 0,
                'dbs': 0})
            agg['rows_behind'] += result.rows_behind
            agg['lag'] = max(agg['lag'], result.lag)
            agg['handled'] += result.handled
            agg['failed'] += result.failed
            agg['dbs'] += 1
        return out


class SyncDaemon(object):
    """Passes over every mapping's databases on this node."""

    def __init__(self, config, crawler=None, stop=None, clock=time.time):
        self.config = config
        self.conf = config.conf
        self.clock = clock
        self.stop = stop if stop is not None else concurrency.StopFlag()
        self.crawler = crawler or crawler_mod.ContainerCrawler(
            config, stop=self.stop, clock=clock)
        self._pool = concurrency.GreenPool(self.conf.container_workers)
        #: status paths of the databases being crawled
        self._crawling = set()
        #: the databases the last pass found: {status path: (mapping, db)}
        self._watched = {}
        #: what the files of each database looked like when its last
        #: crawl began (or ended, when that crawl merged them)
        self._seen = {}
        #: status paths being crawled because their files changed
        self._triggered = set()
        #: {status path: (what its files looked like at the last look,
        #: looks in a row they stood still)}
        self._looked = {}
        #: {status path: monotonic time its last crawl started}
        self._started = {}

    def _deadline(self, once):
        pass_time = self.conf.container_pass_time
        if pass_time and not once:
            return self.clock() + pass_time
        return None

    def _crawl(self, mapping, db, key, once=False, summary=None):
        """Crawl ``db`` (in the pool); remember what its files looked
        like, so that the looks between passes see what changed since.
        """
        try:
            before = db_signature(db.path)
            self._started[key] = time.monotonic()
            result = self.crawler.crawl(db, self._deadline(once), once)
            after = db_signature(db.path)
            self._seen[key] = settled(before, after, result)
            # NOTE(cloudsync): rows that came in while it ran (not
            # settled) make it a database that keeps changing
            self._looked[key] = (after, 0)
            if summary is not None:
                summary.add(mapping, result)
            return result
        finally:
            self._crawling.discard(key)
            self._triggered.discard(key)

    def run_pass(self, once=False):
        """One pass over every mapping; returns a :class:`PassSummary`.

        Without ``once``, the pass waits for its databases at most
        ``container_pass_time`` after the last one started: a database
        still busy then (copying a very large object) goes on in the
        background, and later passes leave it alone until it is done.
        """
        summary = PassSummary()
        pass_time = self.conf.container_pass_time
        threads = []
        watched = {}
        for mapping in self.config.mappings:
            if self.stop.is_set():
                break
            try:
                dbs = self.crawler.find_dbs(mapping)
            except Exception as exc:  # noqa: BLE001
                LOG.exception('Cannot find the databases of mapping %s',
                              mapping.name)
                summary.add(mapping, crawler_mod.PassResult(
                    label=mapping.name, error=str(exc)))
                continue
            for db in dbs:
                if self.stop.is_set():
                    break
                key = self.crawler.status_path(db)
                watched[key] = (mapping, db)
                if key in self._crawling:
                    if key not in self._triggered:
                        LOG.info('%s: still busy since an earlier pass',
                                 db.label)
                    continue
                self._crawling.add(key)
                threads.append(self._pool.spawn(
                    self._crawl, mapping, db, key, once, summary))
        self._watched = watched
        for gone in set(self._seen) - set(watched):
            del self._seen[gone]
        for gone in set(self._looked) - set(watched):
            del self._looked[gone]
        for gone in set(self._started) - set(watched):
            del self._started[gone]
        # NOTE(cloudsync): container_pass_time only stops a database from
        # taking new rows; one very large object can take hours, and must
        # not hold back the next pass of every other database.
        limit = None if once or not pass_time else pass_time
        with concurrency.Timeout(limit, False):
            for thread in threads:
                thread.wait()
        summary.ended = self.clock()
        for mapping in self.config.mappings:
            agg = summary.per_mapping().get(mapping.name)
            if agg is None:
                continue
            stats = self.crawler.stats(mapping)
            stats.gauge('rows_behind', agg['rows_behind'])
            stats.gauge('lag_seconds', round(agg['lag'], 3))
        return summary

    def check_changes(self):
        """Crawl every database the last pass found whose files changed
        since its last crawl began: at once when it was quiet until now or
        has stood still since the last look, otherwise (a steady stream of
        writes) once :data:`BUSY_INTERVAL` has passed since its last crawl
        started. Returns how many crawls were started.
        """
        started = 0
        busy_interval = min(BUSY_INTERVAL, self.conf.poll_interval)
        for key, (mapping, db) in self._watched.items():
            if self.stop.is_set():
                break
            now = db_signature(db.path)
            seen = self._seen.get(key)
            last, still = self._looked.get(key, (seen, 0))
            still = still + 1 if now == last else 0
            self._looked[key] = (now, still)
            if key in self._crawling or now == seen:
                continue
            if (last != seen and still < QUIET_LOOKS and
                    time.monotonic() - self._started.get(key, 0) <
                    busy_interval):
                continue      # still changing: take its rows in a batch
            LOG.debug('%s: changed; crawling it before the next pass',
                      db.label)
            self._crawling.add(key)
            self._triggered.add(key)
            self._pool.spawn(self._crawl, mapping, db, key)
            started += 1
        return started

    def wait_for_next_pass(self, until):
        """Until the clock reaches ``until``: look for changed databases
        every ``change_check_interval`` (or just wait, when it is 0).
        """
        interval = self.conf.change_check_interval
        left = until - self.clock()
        if interval <= 0:
            self.stop.wait(max(0.0, left))
            return
        end = time.monotonic() + left
        while not self.stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            self.stop.wait(min(interval, left), step=interval)
            if self.stop.is_set():
                return
            try:
                self.check_changes()
            except Exception:  # noqa: BLE001 - the next pass still comes
                LOG.exception('Looking for changed databases failed')

    def run_once(self):
        summary = self.run_pass(once=True)
        LOG.info('Pass done in %.1fs: %d databases, %d rows failed, %d '
                 'errors', summary.ended - summary.started,
                 len(summary.results), summary.failed, len(summary.errors))
        if self.stop.is_set():
            return EXIT_OK
        if summary.failed or summary.errors:
            return EXIT_FAILED_ROWS
        return EXIT_OK

    def run_forever(self):
        LOG.info('cloudsync-sync started: %d mappings, poll every %ss',
                 len(self.config.mappings), self.conf.poll_interval)
        while not self.stop.is_set():
            started = self.clock()
            try:
                summary = self.run_pass()
            except Exception:  # noqa: BLE001 - the daemon keeps going
                LOG.exception('Pass failed')
                summary = None
            if summary is not None:
                LOG.debug('Pass done in %.1fs: %d databases, %d rows '
                          'failed', self.clock() - started,
                          len(summary.results), summary.failed)
            self.wait_for_next_pass(started + self.conf.poll_interval)
        self.wait_for_crawls()
        return EXIT_OK

    def wait_for_crawls(self):
        """Wait for the databases still being crawled (rows in flight)."""
        self._pool.waitall()


def _stat(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def db_signature(path):
    """What a database's files look like: (inode, size, mtime) of the
    database and of its ``.pending`` file, None for a missing one.
    """
    return (_stat(path), _stat(path + '.pending'))


def settled(before, after, result):
    """What a crawl leaves as its database's last look.

    A crawl merges the ``.pending`` file into the database whenever it
    reads it, last when it counts the rows behind, so it leaves files that
    differ from the ones it found. When no row is left behind after that
    last read (none counted, none dated), or the rows left are waiting
    anyway (``copy_after``, a
    remote that keeps failing), the files it leaves are taken as seen:
    rows appended after that read change them again. Otherwise rows came
    in while it ran: the look from before it stays, so that the next look
    crawls again. (Failed rows waiting for their retry count as behind:
    they cost one more crawl, which finds the files as it leaves them.)
    """
    if after == before or not (result.rows_behind or result.lag):
        return after
    if result.not_yet or result.error:
        return after
    return before


def install_signal_handlers(stop):
    def handler(signum, _frame):
        name = signal.Signals(signum).name
        if not stop.is_set():
            LOG.info('%s received: finishing the rows in flight, saving '
                     'progress and exiting', name)
        stop.set(name)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run(daemon, once, grace=STOP_GRACE, check_interval=0.1):
    """Run ``daemon`` in a green thread; bound the wait after a stop.

    Returns as soon as the thread ends (``--once``: the pass is done);
    meanwhile a stop is looked at every ``check_interval`` seconds.
    """
    thread = concurrency.spawn(
        daemon.run_once if once else daemon.run_forever)
    ended = concurrency.Event()
    thread.link(lambda _thread: ended.ready() or ended.send())
    stopped_at = None
    while True:
        if ended.ready() or thread.dead:
            # NOTE(cloudsync): the thread's result is there before the
            # link that set ``ended`` runs.
            return thread.wait()
        if daemon.stop.is_set():
            if stopped_at is None:
                stopped_at = time.time()
            elif time.time() - stopped_at > grace:
                LOG.warning('Rows still in flight after %ss; exiting without '
                            'them (they are retried on the next start)',
                            grace)
                return EXIT_OK
        ended.wait(check_interval)


def node_problems(conf):
    """What keeps this node from being synced, before anything starts.

    The daemon needs ``swift_dir`` with ``swift.conf`` and the container
    ring, the ``devices`` directory, a ``status_dir`` it can write to
    (it is created when missing), and a keymaster configuration it can
    use when ``keymaster_config_path`` is set.

    :returns: a list of problems, each naming the option.
    """
    problems = []
    swift_dir = conf.swift_dir
    if not os.path.isdir(swift_dir):
        problems.append('[DEFAULT] swift_dir: %s is not a directory'
                        % swift_dir)
    else:
        for name in ('swift.conf', 'container.ring.gz'):
            if not os.path.isfile(os.path.join(swift_dir, name)):
                problems.append('[DEFAULT] swift_dir: %s has no %s'
                                % (swift_dir, name))
    if not os.path.isdir(conf.devices):
        problems.append('[DEFAULT] devices: %s is not a directory'
                        % conf.devices)
    problem = _writable_dir(conf.status_dir)
    if problem:
        problems.append('[DEFAULT] status_dir: %s' % problem)
    problems += local.keymaster_problems(conf)
    return problems


def _writable_dir(path):
    """None when ``path`` is (or was made) a directory we can write in."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        return 'cannot create %s: %s' % (path, exc.strerror or exc)
    if not os.path.isdir(path):
        return '%s is not a directory' % path
    try:
        with tempfile.TemporaryFile(dir=path, prefix='.cloudsync-check-'):
            pass
    except OSError as exc:
        return 'cannot write in %s: %s' % (path, exc.strerror or exc)
    return None


def main(argv=None, config=None, progress=None):
    """``cloudsync-sync``: the entry point (after monkey-patching).

    :param config: the configuration, when the command line was already
        read (see :mod:`cloudsync.cmd.sync`).
    :param progress: told when every pass over a database starts and ends
        (see :class:`cloudsync.cmd.sync.TerminalProgress`).
    """
    if config is None:
        config = conf_mod.load_or_report('cloudsync-sync', argv,
                                         cli_opts=cli_opts)
    if config is None:
        return EXIT_CONFIG
    problems = node_problems(config.conf)
    if problems:
        conf_mod.report_problems('cloudsync-sync', problems)
        return EXIT_CONFIG
    log_mod.setup(config.conf, secrets=config.secrets())
    local.use_swift_dir(config.conf.swift_dir)
    if not config.mappings:
        LOG.warning('No mapping is enabled; nothing to do')
    stop = concurrency.StopFlag()
    install_signal_handlers(stop)
    daemon = SyncDaemon(config, stop=stop)
    if progress is not None:
        daemon.crawler.progress = progress
    return run(daemon, config.conf.once)
