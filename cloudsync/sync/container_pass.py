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
"""One pass over one container database.

:class:`ContainerPass` reads a database's rows after its progress
pointer, hands the rows this replica owns (:func:`row_owner`) to the row
propagator with the lifecycle policy's decision, retries the rows that
failed, and verifies the rows other replicas own; :class:`PassResult`
counts what it did. :mod:`cloudsync.sync.crawler` finds the databases and
runs a pass over each (the whole cycle is described there).

The module is over 600 lines: the pass, and the reading and decoding of
the rows it is made for (what a pass costs per row is there).
"""

import dataclasses
import hashlib
import logging as std_logging
import os
import re
import sqlite3

from oslo_log import log as logging
from swift.common import db as swift_db
from swift.common import utils as swift_utils
from swift.container import backend

from cloudsync import concurrency
from cloudsync import lifecycle
from cloudsync.sync import outcomes
from cloudsync.sync import status as status_mod


#: the logger keeps the name it has always had, for operators' filters
LOG = logging.getLogger('cloudsync.crawler')

#: hex digits of the name's sha1 that decide the owning replica
OWNER_DIGITS = 6
#: RetryLater answers in a row after which a pass stops taking new rows
#: (the remote is probably down; the failed set would only fill up)
MIN_TROUBLE_STREAK = 10
#: seconds between saves of the progress while rows are read
SAVE_INTERVAL = 1.0
#: share of container_pass_time the scan of new rows may use, so that
#: retries and verification are not starved by a large backlog
SCAN_SHARE = 0.6

_SWIFT_BYTES = re.compile(r';\s*swift_bytes=(\d+)', re.IGNORECASE)

#: when the progress began, in the status file (see ContainerPass.is_new)
NEW_SINCE_KEY = 'new_rows_since'

HANDLED_ACTIONS = (lifecycle.Action.COPY, lifecycle.Action.ARCHIVE,
                   lifecycle.Action.REMOVE_REMOTE)

#: the columns of a row the crawler reads, in this order (see _row): only
#: these, as tuples, which costs a fraction of Swift's get_items_since (a
#: dict of every column per row)
ROW_COLUMNS = ('ROWID', 'name', 'created_at', 'size', 'content_type', 'etag',
               'deleted', 'storage_policy_index')
_ROWS_SINCE = ('SELECT %s FROM object WHERE ROWID > ? ORDER BY ROWID ASC '
               'LIMIT ?')
ROWS_SINCE = _ROWS_SINCE % ', '.join(ROW_COLUMNS)
#: the same of a database older than storage policies
OLD_ROWS_SINCE = _ROWS_SINCE % ', '.join(ROW_COLUMNS[:-1] + ('0',))

_sha1 = hashlib.sha1
_from_bytes = int.from_bytes


def row_owner(name, replicas):
    """The replica index (0 .. replicas - 1) that owns object ``name``."""
    # NOTE(cloudsync): the last OWNER_DIGITS hex digits of the sha1, read
    # from its last bytes without making the hex string: once per row and
    # stage, the rows of other replicas cost little more than this.
    digest = _sha1(name.encode('utf-8', 'surrogatepass'),
                   usedforsecurity=False).digest()
    return _from_bytes(digest[-(OWNER_DIGITS // 2):], 'big') % replicas


def _raw(timestamp):
    return timestamp.raw


_Timestamp = swift_utils.Timestamp
#: the deca-microseconds of Swift's timestamps
_PRECISION = 1e-5
#: the attributes of a Swift Timestamp, as _fast_timestamp sets them (what
#: this Swift does is checked by _pick_timestamp)
_STATE_KEYS = frozenset(['timestamp', '_offset'])


def _swift_timestamp(created_at):
    return _Timestamp(created_at)


def _fast_timestamp(created_at):
    """Timestamp(created_at), for the common case (no offset) without
    Swift's general parser, which costs more than the rest of a row.
    """
    if '_' in created_at:
        return _Timestamp(created_at)
    value = round(float(int(round(float(created_at) / _PRECISION)) *
                        _PRECISION), 5)
    if not 0 <= value < 10000000000:
        return _Timestamp(created_at)   # Swift's ValueError
    timestamp = object.__new__(_Timestamp)
    timestamp.timestamp = value
    timestamp._offset = 0
    return timestamp


def _pick_timestamp():
    """_fast_timestamp where it builds exactly what Swift's constructor
    builds (the same state, the same comparisons); Swift's otherwise.
    """
    samples = ('0000000000.00000', '1733400000.12345', '1733400000.1',
               '1402464677.04188', '9999999999.99999', '1.5', '12',
               '1733400000.123456')
    try:
        for text in samples:
            fast, swift = _fast_timestamp(text), _Timestamp(text)
            if set(vars(swift)) != _STATE_KEYS or \
                    vars(fast) != vars(swift) or fast != swift or \
                    fast.internal != swift.internal or \
                    fast.raw != swift.raw:
                return _swift_timestamp
    except Exception:  # noqa: BLE001
        return _swift_timestamp
    return _fast_timestamp


make_timestamp = _pick_timestamp()


def row_from_db(raw):
    """A :class:`cloudsync.lifecycle.Row` from a container DB row dict."""
    return _row((raw['ROWID'], raw['name'], raw['created_at'], raw['size'],
                 raw['content_type'], raw['etag'], raw['deleted'],
                 raw.get('storage_policy_index')))


def _row(raw):
    """A :class:`cloudsync.lifecycle.Row` from a tuple of ROW_COLUMNS."""
    row_id, name, created_at, size, content_type, etag, deleted, policy = raw
    if '+' in created_at:
        timestamp, ctype_ts, meta_ts = swift_utils.decode_timestamps(
            created_at)
        # NOTE(cloudsync): compare the raw integers; Timestamp's rich
        # comparisons cost more than the rest of this function.
        last_change = max((timestamp, ctype_ts, meta_ts), key=_raw)
    else:
        # NOTE(cloudsync): most rows never had a POST: one timestamp.
        timestamp = last_change = make_timestamp(created_at)
    if isinstance(name, bytes):
        name = name.decode('utf-8', 'surrogateescape')
    return lifecycle.Row(name, row_id, timestamp, last_change, bool(deleted),
                         size, etag, content_type, policy or 0)


def _row_before(raws, pos, start):
    """The ROWID of the row before ``raws[pos]``; ``start`` (the progress
    the rows were read after) when it is the first.
    """
    return raws[pos - 1][0] if pos else start


@dataclasses.dataclass
class LocalDB:
    """One container database file on this node, for one mapping."""

    mapping: object
    #: the root account and container: what the rows belong to remotely
    account: str
    container: str
    #: the account and container of this database (a shard's own names)
    db_account: str
    db_container: str
    path: str
    db_id: str
    node_index: int
    replicas: int
    is_shard: bool = False
    #: the old file of a database that is sharding: read it, never write
    retiring: bool = False

    @property
    def label(self):
        where = '%s/%s' % (self.account, self.container)
        if self.is_shard:
            where += ' shard %s' % self.db_container
        return '%s %s (db %s)' % (self.mapping.name, where, self.db_id)

    def owns(self, row):
        return row_owner(row.name, self.replicas) == self.node_index


@dataclasses.dataclass
class PassResult:
    """What one pass over one database did."""

    label: str = ''
    scanned: int = 0
    handled: int = 0
    copied: int = 0
    metadata_updated: int = 0
    deleted: int = 0
    archived: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    verified: int = 0
    not_yet: int = 0
    rows_behind: int = 0
    lag: float = 0.0
    error: str = ''
    #: bytes of the objects copied (a large object's whole size)
    bytes_copied: int = 0

    def summary(self):
        return ('%d rows scanned; handled %d (copied %d, metadata %d, '
                'deleted %d, archived %d, unchanged %d); skipped %d; '
                'failed %d; retried %d; verified %d; %d rows behind, lag '
                '%.0fs' % (self.scanned, self.handled, self.copied,
                           self.metadata_updated, self.deleted,
                           self.archived, self.unchanged, self.skipped,
                           self.failed, self.retried, self.verified,
                           self.rows_behind, self.lag))


class ContainerPass(object):
    """One pass over one :class:`LocalDB`."""

    # NOTE(cloudsync): over 400 lines (the module over 600 lines): a pass
    # is one sequence (scan the rows, retry due failures, verify the other
    # replicas' rows, measure, finish) over state it shares: the deadline,
    # the rows that failed and the progress it saves; what each row costs
    # is in the propagator.

    def __init__(self, crawler, db, deadline=None, once=False):
        self.crawler = crawler
        self.db = db
        self.mapping = db.mapping
        self.conf = crawler.conf
        self.clock = crawler.clock
        self.deadline = deadline
        #: ``--once``: rows that failed before this pass are all retried
        self.once = once
        #: names of the rows that failed in this pass
        self.failed_now = set()
        self.result = PassResult(label=db.label)
        self.stats = crawler.stats(self.mapping)
        self.trouble_streak = 0
        self.remote_trouble = False
        self.status = status_mod.SyncStatus.load(
            crawler.status_path(db), self.mapping.fingerprint(),
            info=crawler.status_info(db),
            retry_interval=self.conf.retry_interval,
            retry_interval_max=self.conf.retry_interval_max,
            max_failed=crawler.max_failed, clock=self.clock)
        self.broker = None
        self.propagator = None
        #: rows changed at or after this time are new (see :meth:`is_new`)
        self.new_since = None
        self.saved_at = self.clock()
        #: whether the DEBUG lines of every row are wanted (asked once: a
        #: pass over a million rows must not ask a million times)
        self.debug = LOG.isEnabledFor(std_logging.DEBUG)

    # -- helpers ------------------------------------------------------------

    def stopping(self, deadline=None):
        if self.crawler.stop.is_set() or self.remote_trouble:
            return True
        deadline = deadline if deadline is not None else self.deadline
        return deadline is not None and self.clock() >= deadline

    def decide(self, row, now=None):
        """The lifecycle decision on ``row``, its age counted from ``now``
        (the time a batch of rows was read; the clock by default).
        """
        if self.mapping.excludes(row.name):
            return lifecycle.Decision(lifecycle.Action.SKIP,
                                      reason='matches exclude_pattern')
        age = (self.clock() if now is None else now) - \
            float(row.meta_timestamp)
        return self.mapping.policy.decide(row, age)

    def read_rows(self, after, count):
        """Up to ``count`` rows after ROWID ``after``, in ROWID order, as
        tuples of :data:`ROW_COLUMNS`.
        """
        # NOTE(cloudsync): as get_items_since does, first merge the updates
        # waiting in the database's .pending file (a stat when there are
        # none; never for a retiring database).
        self.broker._commit_puts_stale_ok()
        with self.broker.get() as conn:
            try:
                curs = conn.execute(ROWS_SINCE, (after, count))
            except sqlite3.OperationalError as exc:
                if 'storage_policy_index' not in str(exc):
                    raise
                curs = conn.execute(OLD_ROWS_SINCE, (after, count))
            curs.row_factory = None
            return curs.fetchall()

    def open_broker(self):
        db = self.db
        if not os.path.exists(db.path):
            return None
        return backend.ContainerBroker(
            db.path, account=db.db_account, container=db.db_container,
            force_db_file=True, skip_commits=db.retiring,
            logger=self.crawler.swift_logger)

    def current_row(self, name):
        """The newest row for object ``name`` in this database, or None."""
        with self.broker.get() as conn:
            curs = conn.execute(
                'SELECT * FROM object WHERE deleted IN (0, 1) AND name = ? '
                'ORDER BY ROWID DESC LIMIT 1', (name,))
            curs.row_factory = swift_db.dict_factory
            found = curs.fetchone()
        return row_from_db(found) if found else None

    def is_new(self, row):
        """Whether ``row`` changed after this progress began (when it
        started from row 0): only this progress can have copied it. After
        a restart from row 0 (a lost status file, a changed mapping) older
        changes are not new: their copies are likely on the remote.
        """
        return (self.new_since is not None and
                float(row.meta_timestamp) >= self.new_since)

    # -- handling one row (runs in the row pool; never raises) -------------

    def handle(self, row, decision, fresh=False):
        """Hand ``row`` to the propagator; ``fresh``: a new row of this
        node's, seen for the first time (not a retry, not verification).
        """
        if self.debug:
            LOG.debug('%s: %s %r (row %d)', self.db.label,
                      decision.action.value, row.name, row.row_id)
        try:
            if fresh and getattr(self.propagator, 'TAKES_FRESH', False):
                kwargs = {'fresh': True}
                if self.is_new(row) and getattr(self.propagator,
                                                'TAKES_NEW', False):
                    kwargs['new'] = True
                outcome = self.propagator.handle(row, decision, **kwargs)
            else:
                outcome = self.propagator.handle(row, decision)
        except outcomes.RetryLater as exc:
            self.trouble_streak += 1
            if self.trouble_streak >= self.crawler.trouble_streak:
                self.remote_trouble = True
            LOG.warning('Will retry %r of %s/%s (mapping %s): %s',
                        row.name, self.db.account, self.db.container,
                        self.mapping.name,
                        getattr(exc, 'reason', None) or exc)
            return self.failed(row, exc, getattr(exc, 'retry_after', None))
        except outcomes.RowFailed as exc:
            self.trouble_streak = 0
            LOG.error('Failed to sync %r of %s/%s (mapping %s): %s',
                      row.name, self.db.account, self.db.container,
                      self.mapping.name, exc)
            # NOTE(cloudsync): a row that cannot succeed as it is (a name
            # the remote cannot hold) is tried again only after the
            # longest backoff; its next row (a rename, a delete) replaces
            # it at once.
            return self.failed(row, exc, self.conf.retry_interval_max
                               if getattr(exc, 'permanent', False)
                               else None)
        except (Exception, concurrency.Timeout) as exc:  # noqa: BLE001
            # NOTE(cloudsync): one row never stops a pass, nor does an
            # eventlet Timeout (not an Exception) that escaped it.
            self.trouble_streak = 0
            LOG.exception('Failed to sync %r of %s/%s (mapping %s): '
                          'unexpected error', row.name, self.db.account,
                          self.db.container, self.mapping.name)
            self.stats.increment('errors')
            return self.failed(row, '%s: %s' % (type(exc).__name__, exc))
        self.trouble_streak = 0
        counter = (outcome.counter if isinstance(outcome, outcomes.Outcome)
                   else 'unchanged')
        setattr(self.result, counter, getattr(self.result, counter) + 1)
        if counter == 'copied':
            size = _SWIFT_BYTES.search(row.content_type or '')
            self.result.bytes_copied += int(size.group(1) if size
                                            else row.size or 0)
        self.result.handled += 1
        self.status.count(counter)
        self.status.count('rows_handled')
        self.stats.increment('rows_handled')
        entry = self.status.failed.get(row.name)
        if entry is not None and entry['row_id'] <= row.row_id:
            self.status.clear_failure(row.name)
        if self.debug:
            LOG.debug('%s: %r -> %s', self.db.label, row.name,
                      getattr(outcome, 'name', outcome))
        return True

    def failed(self, row, error, retry_after=None):
        self.result.failed += 1
        self.failed_now.add(row.name)
        self.status.count('errors')
        return self.status.record_failure(
            row.name, row.row_id, error, retry_after=retry_after,
            timestamp=float(row.meta_timestamp))

    def save_progress(self, force=False):
        """Save the progress file, at most every :data:`SAVE_INTERVAL`
        seconds unless ``force``: a crash repeats at most that much work.
        """
        now = self.clock()
        if force or now - self.saved_at >= SAVE_INTERVAL:
            self.status.save()
            self.saved_at = now

    def run_rows(self, work, deadline=None, fresh=False):
        """Handle [(row, decision)] in the row pool.

        :returns: for each row, in order, what :meth:`handle` answered
            (True: done or set aside; False: failed, and the failed set is
            full), or None: not started, the pass is stopping.
        """
        # NOTE(cloudsync): not a green thread per row: at most ``workers``
        # of them, each taking the next row until none is left, so a row
        # the propagator answers at once costs no thread switch; the row
        # pool (shared by the databases crawled at once) still bounds the
        # rows in flight, and holds them for at most one batch. As when
        # each row had its thread, the first row of each worker is in
        # flight from the start: a stop request lets it finish.
        results = [None] * len(work)
        if not work or self.stopping(deadline):
            return results
        pool = self.crawler.row_pool
        workers = min(len(work), getattr(pool, 'size', len(work)))
        todo = iter(range(len(work)))

        def worker():
            for i in todo:
                if i >= workers and self.stopping(deadline):
                    return
                row, decision = work[i]
                results[i] = self.handle(row, decision, fresh)

        batch = pool.batch()
        for _ in range(workers):
            batch.spawn(worker)
        batch.results()
        return results

    # -- a. new rows ---------------------------------------------------------

    def scan(self, deadline):
        chunk = self.conf.items_chunk
        while not self.stopping(deadline):
            raws = self.read_rows(self.status.last_row, chunk)
            if not raws:
                return
            last, blocked = self.scan_chunk(raws, deadline)
            if last > self.status.last_row:
                self.status.last_row = last
            self.save_progress(force=blocked or len(raws) < chunk)
            if blocked or len(raws) < chunk:
                return

    def scan_chunk(self, raws, deadline):
        """Handle this node's rows of ``raws`` (tuples of ROW_COLUMNS).

        :returns: (the ROWID the progress may move to, whether the scan
            must stop here)
        """
        # NOTE(cloudsync): the rows of other replicas cost a hash of their
        # name and nothing else: no object, no log line.
        replicas, index = self.db.replicas, self.db.node_index
        owned = []   # (position in raws, row, decision: None when done)
        blocked = False
        now = self.clock()
        end = len(raws)
        for pos, raw in enumerate(raws):
            if row_owner(raw[1], replicas) != index:
                continue
            row = _row(raw)
            decision = self.decide(row, now)
            action = decision.action
            if action in HANDLED_ACTIONS:
                owned.append((pos, row, decision))
                continue
            if action == lifecycle.Action.NOT_YET:
                self.result.not_yet += 1
                if self.wait_alone(row, decision.retry_after,
                                   decision.reason):
                    owned.append((pos, row, None))
                    continue
                if self.debug:
                    LOG.debug('%s: %r not yet (%s)', self.db.label,
                              row.name, decision.reason)
                blocked = True
                end = pos
                break
            self.skip(row, decision)
        self.result.scanned += end + 1 if blocked else end
        work = [(row, d) for _pos, row, d in owned if d is not None]
        results = iter(self.run_rows(work, deadline, fresh=True))
        for pos, row, decision in owned:
            done = True if decision is None else next(results)
            if not done:
                if done is not None:
                    LOG.warning('%s: %d failed rows are waiting for a '
                                'retry; not moving past row %d until some '
                                'succeed', self.db.label,
                                len(self.status.failed), row.row_id)
                return _row_before(raws, pos, self.status.last_row), True
        return _row_before(raws, end, self.status.last_row), blocked

    def wait_alone(self, row, retry_after, reason):
        """Set aside a row dated in the future (a proxy whose clock is
        ahead, rows container-sync wrote), so that the rows after it, which
        may well be older, keep flowing: it waits in the failed set (as a
        waiting row, not a failure) until it is due.

        :returns: False when it is not dated in the future, or the set is
            full: the caller must then wait for it.
        """
        ahead = float(row.meta_timestamp) - self.clock()
        if ahead <= 0:
            return False
        LOG.info('%s: %r (row %d) is dated %.1fs in the future; it waits '
                 'alone while the rows after it go on', self.db.label,
                 row.name, row.row_id, ahead)
        return self.status.postpone(
            row.name, row.row_id, max(retry_after or 0.0, ahead),
            'dated %.1fs in the future (%s); %s' % (
                ahead, row.meta_timestamp.isoformat, reason or 'waiting'),
            float(row.meta_timestamp))

    def skip(self, row, decision):
        LOG.debug('%s: skipping %r: %s', self.db.label, row.name,
                  decision.reason)
        self.result.skipped += 1
        self.status.count('skipped')
        entry = self.status.failed.get(row.name)
        if entry is not None and entry['row_id'] <= row.row_id:
            self.status.clear_failure(row.name)

    # -- b. failed rows ------------------------------------------------------

    def due_failures(self):
        if not self.once:
            return self.status.due_failures(self.clock())
        # NOTE(cloudsync): a --once run answers for every row (its exit
        # status says whether all are synced), so it cannot leave a row
        # that failed on an earlier run to its backoff.
        return [(name, entry)
                for name, entry in self.status.due_failures(float('inf'))
                if name not in self.failed_now]

    def retry(self):
        work = []
        for name, entry in self.due_failures():
            if self.stopping():
                break
            row = self.current_row(name)
            if row is None:
                LOG.info('%s: %r is no longer in the database; dropping its '
                         'failed row %d', self.db.label, name,
                         entry['row_id'])
                self.status.clear_failure(name)
                continue
            # NOTE(cloudsync): only a row ahead of the pointer that will
            # reach it may be left to that pointer: the scan handles this
            # node's rows, verification the other replicas'.
            if self.db.owns(row):
                ahead = row.row_id > self.status.last_row
            else:
                ahead = row.row_id > self.status.last_verified_row
            if ahead:
                self.status.clear_failure(name)
                continue
            decision = self.decide(row)
            if decision.action == lifecycle.Action.NOT_YET:
                if not self.wait_alone(row, decision.retry_after,
                                       decision.reason):
                    self.status.postpone(name, row.row_id,
                                         decision.retry_after,
                                         decision.reason,
                                         float(row.meta_timestamp))
                continue
            if decision.action not in HANDLED_ACTIONS:
                self.skip(row, decision)
                self.status.clear_failure(name)
                continue
            self.result.retried += 1
            work.append((row, decision))
        self.run_rows(work)
        self.status.save()

    # -- c. verification of the other replicas' rows -----------------------

    def verify(self):
        if self.db.replicas < 2:
            return
        chunk = self.conf.items_chunk
        while not self.stopping():
            raws = self.read_rows(self.status.last_verified_row, chunk)
            if not raws:
                return
            last, blocked, candidates = self.verify_candidates(raws)
            if candidates:
                try:
                    needed = self.propagator.verify(
                        [row for row, _d in candidates])
                except Exception as exc:  # noqa: BLE001
                    LOG.error('%s: verification failed, will try again: %s',
                              self.db.label, exc)
                    self.status.save()
                    return
                self.result.verified += len(candidates)
                self.status.count('verified', len(candidates))
                wanted = {row.row_id for row in needed}
                work = [(row, d) for row, d in candidates
                        if row.row_id in wanted]
                if work:
                    LOG.info('%s: verification found %d of %d rows of other '
                             'replicas missing or different on the remote',
                             self.db.label, len(work), len(candidates))
                for (row, _d), done in zip(work, self.run_rows(work)):
                    if not done:
                        last = min(last, row.row_id - 1)
                        blocked = True
                        break
            if last > self.status.last_verified_row:
                self.status.last_verified_row = last
            self.save_progress(force=blocked or len(raws) < chunk)
            if blocked or len(raws) < chunk:
                return

    def verify_candidates(self, raws):
        """The rows of other replicas in ``raws`` (tuples of ROW_COLUMNS)
        to compare with the remote, with their decisions.

        :returns: (the ROWID verification may move to once they are
            verified, whether it must stop there, [(row, decision)])
        """
        now = self.clock()
        cutoff = now - self.conf.verification_slack
        start = self.status.last_verified_row
        candidates = []
        replicas, index = self.db.replicas, self.db.node_index
        for pos, raw in enumerate(raws):
            if row_owner(raw[1], replicas) == index:
                continue
            row = _row(raw)
            if float(row.meta_timestamp) > cutoff:
                if self.wait_alone(
                        row, float(row.meta_timestamp) - cutoff,
                        'verified once older than verification_slack'):
                    continue
                return _row_before(raws, pos, start), True, candidates
            decision = self.decide(row, now)
            if decision.action == lifecycle.Action.NOT_YET:
                return _row_before(raws, pos, start), True, candidates
            if decision.action in HANDLED_ACTIONS:
                candidates.append((row, decision))
        return raws[-1][0], False, candidates

    # -- the whole pass -------------------------------------------------------

    def measure(self):
        """Rows behind and the age of the oldest unsynced change."""
        last_row = self.status.last_row
        with self.broker.get() as conn:
            behind = conn.execute(
                'SELECT COUNT(*) FROM object WHERE ROWID > ?',
                (last_row,)).fetchone()[0]
        oldest = None
        first = self.broker.get_items_since(last_row, 1)
        if first:
            oldest = float(row_from_db(first[0]).meta_timestamp)
        for entry in self.status.failed.values():
            if entry.get('timestamp') is not None:
                oldest = (entry['timestamp'] if oldest is None
                          else min(oldest, entry['timestamp']))
        self.result.rows_behind = behind + len(self.status.failed)
        self.result.lag = (max(0.0, self.clock() - oldest)
                           if oldest is not None else 0.0)

    def run(self):
        started = self.clock()
        self.status.start_pass()
        self.broker = self.open_broker()
        if self.broker is None:
            LOG.info('%s: the database is no longer on this node; stopping',
                     self.db.label)
            return self.result
        self.status.check_database(self.broker.get_info()['id'])
        self.new_since = self.status.data.setdefault(NEW_SINCE_KEY, started)
        if self.status.reset_reason:
            LOG.info('%s: starting from row 0 (%s)', self.db.label,
                     self.status.reset_reason)
        if self.crawler.progress is not None:
            self.crawler.progress.started(self)
        try:
            self.propagator = self.crawler.make_propagator(self.db)
            self.propagator.prepare()
        except Exception as exc:  # noqa: BLE001
            self.result.error = str(exc)
            LOG.error('%s: cannot sync to the remote now: %s',
                      self.db.label, exc)
            self.measure()
            self.finish(started)
            return self.result
        scan_deadline = None
        if self.deadline is not None:
            scan_deadline = started + SCAN_SHARE * (self.deadline - started)
        self.scan(scan_deadline)
        self.retry()
        self.verify()
        if self.remote_trouble:
            self.result.error = 'the remote kept failing; pass cut short'
            LOG.warning('%s: %d rows in a row could not be synced; leaving '
                        'the rest of this database for the next pass',
                        self.db.label, self.trouble_streak)
        self.measure()
        self.finish(started)
        return self.result

    def finish(self, started):
        self.status.end_pass(self.result.rows_behind, self.result.lag,
                             start=started, handled=self.result.handled,
                             failed=self.result.failed,
                             error=self.result.error or None)
        self.status.save()
        LOG.info('Pass over %s: %s', self.db.label, self.result.summary())
        if self.crawler.progress is not None:
            self.crawler.progress.finished(self)
