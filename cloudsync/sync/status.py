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
"""Sync progress, one file per mapping and container database.

The daemon keeps, for every (mapping, container database) it works on,
a JSON file under ``status_dir``::

    <status_dir>/<mapping>/<account>/<container>/<db id>.json

``<container>`` is the root container (shard databases of a sharded
container are kept beside the root's); ``<db id>`` is the database's file
name without ``.db``: the hash of its account and container, with the
sharding epoch when there is one. A path component that is not a usable
file name (too long, ``.`` or ``..``) is replaced by ``_<md5>``.

What a file holds:

``last_row``
    every row up to this ROWID has been handled, or is in ``failed``;
``last_verified_row``
    rows of the other replicas up to this ROWID have been verified;
``fingerprint``
    the mapping's remote, bucket, lifecycle and layout: when they change,
    progress restarts from row 0 (uploads are idempotent, so that is safe);
``database_id``
    the Swift ``id`` of the database file the row numbers belong to. A
    container deleted and created again, a database replaced by
    replication or moved to another device, or the file of another
    daemon sharing ``status_dir`` numbers its rows differently: progress
    saved for another database restarts from row 0;
``failed``
    rows that failed, by object name: ROWID, attempts, when to try next
    (the wait doubles from ``retry_interval`` up to ``retry_interval_max``)
    and the last error. The set is bounded: when it is full, ``last_row``
    stops advancing instead of forgetting rows;
``counters``, ``last_pass_start``, ``last_pass_end`` and a short
``history`` of rows behind and lag per pass, for ``cloudsync-status``.

Errors are stored with the remotes' secrets masked, as in the log.

During a pass (from :meth:`SyncStatus.start_pass` to
:meth:`SyncStatus.end_pass`), while no row is waiting for a retry, the file
is written at most once every :data:`SAVE_INTERVAL` seconds: a short pass
writes it once, at its end. A crash repeats at most that much work (rows
are copied again, never lost). Whenever the failed set is not empty, every
save writes the file.

Files are replaced atomically (temporary file, fsync, rename), so a crash
leaves either the old or the new progress. A file that cannot be read is
moved aside as ``<file>.corrupt.<timestamp>`` and progress restarts from
row 0.
"""

import errno
import hashlib
import json
import os
import time

from oslo_log import log as logging

from cloudsync import files
from cloudsync import log as log_mod

#: the logger keeps the name it has always had, for operators' filters
LOG = logging.getLogger('cloudsync.status')

FORMAT_VERSION = 1
MAX_FAILED = 10000
HISTORY_SIZE = 48
MAX_COMPONENT = 200
MAX_ERROR_LENGTH = 500
#: seconds between two writes of the file during a pass with no row to
#: retry (the progress of a short pass is written once, at its end)
SAVE_INTERVAL = 1.0

COUNTERS = ('rows_handled', 'copied', 'metadata_updated', 'deleted',
            'archived', 'unchanged', 'skipped', 'verified', 'errors')


def path_component(name):
    """``name`` as one safe file name component."""
    raw = name.encode('utf-8', 'surrogatepass')
    if (name in ('', '.', '..') or len(raw) > MAX_COMPONENT or
            '/' in name or '\x00' in name):
        return '_' + hashlib.md5(raw, usedforsecurity=False).hexdigest()
    return name


def status_path(status_dir, mapping, account, container, db_id):
    """Where the progress of one container database is kept."""
    return os.path.join(status_dir, path_component(mapping),
                        path_component(account), path_component(container),
                        path_component(db_id) + '.json')


def backoff(attempts, retry_interval, retry_interval_max):
    """Seconds to wait after the ``attempts``-th failure in a row."""
    if attempts < 1:
        return 0.0
    delay = retry_interval * (2 ** min(attempts - 1, 32))
    return float(min(delay, retry_interval_max))


def _scrub(text):
    """``text`` without the configured secrets (as the daemon's log)."""
    text = str(text)
    for secret in log_mod.secret_filter().secrets:
        text = text.replace(secret, log_mod.MASK)
    return text


def _shorten(text, limit=MAX_ERROR_LENGTH):
    """``text`` in at most ``limit`` characters, its beginning and its
    end kept: an error about a long object name ends with what is wrong.
    """
    if len(text) <= limit:
        return text
    cut = ' [...] '
    head = (limit - len(cut)) // 2
    return text[:head] + cut + text[len(text) - (limit - len(cut) - head):]


def write_atomically(path, data):
    """Replace ``path`` with ``data`` (JSON), all or nothing."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    files.replace_file(path, json.dumps(data, sort_keys=True,
                                        separators=(',', ':')))


class CorruptStatus(ValueError):
    pass


def _check(data):
    if not isinstance(data, dict):
        raise CorruptStatus('not a JSON object')
    for key in ('last_row', 'last_verified_row'):
        if not isinstance(data.get(key), int) or data[key] < 0:
            raise CorruptStatus('%s is not a row number' % key)
    if not isinstance(data.get('failed', {}), dict):
        raise CorruptStatus('failed is not an object')
    for name, entry in data.get('failed', {}).items():
        if not isinstance(entry, dict) or not isinstance(
                entry.get('row_id'), int):
            raise CorruptStatus('failed row %r is malformed' % name)
    if not isinstance(data.get('counters', {}), dict):
        raise CorruptStatus('counters is not an object')
    if not isinstance(data.get('history', []), list):
        raise CorruptStatus('history is not a list')


class SyncStatus(object):
    """Progress of one mapping over one container database.

    :param path: the status file (see :func:`status_path`).
    :param fingerprint: the mapping's :meth:`fingerprint`; a file saved
        with another one restarts from row 0.
    :param info: what the file is about (mapping, account, container,
        database), stored for ``cloudsync-status``.
    """

    def __init__(self, path, fingerprint, info=None,
                 retry_interval=60.0, retry_interval_max=3600.0,
                 max_failed=MAX_FAILED, history_size=HISTORY_SIZE,
                 clock=time.time):
        self.path = path
        self.fingerprint = fingerprint
        self.info = dict(info or {})
        self.retry_interval = retry_interval
        self.retry_interval_max = max(retry_interval_max, retry_interval)
        self.max_failed = max_failed
        self.history_size = history_size
        self.clock = clock
        #: why progress restarted from row 0 when loading, if it did
        self.reset_reason = None
        self.data = self._fresh()
        #: whether a pass is under way (saves are then spaced out)
        self.in_pass = False
        #: when the file was last written, by this object
        self.written_at = None
        #: whether the progress changed since the file was last written
        self.unsaved = False

    # -- loading and saving -------------------------------------------------

    def _fresh(self):
        return {
            'version': FORMAT_VERSION,
            'fingerprint': self.fingerprint,
            'last_row': 0,
            'last_verified_row': 0,
            'failed': {},
            'counters': {c: 0 for c in COUNTERS},
            'history': [],
            'last_pass_start': None,
            'last_pass_end': None,
        }

    @classmethod
    def load(cls, path, fingerprint, **kwargs):
        status = cls(path, fingerprint, **kwargs)
        status.reload()
        return status

    def reload(self):
        """Read the file; a missing, corrupt or outdated one starts over."""
        self.reset_reason = None
        try:
            with open(self.path, 'r', encoding='utf-8') as f:
                raw = f.read()
        except FileNotFoundError:
            self.data = self._fresh()
            return
        except OSError as exc:
            if exc.errno == errno.EISDIR:
                raw = ''
            else:
                raise
        try:
            data = json.loads(raw)
            _check(data)
        except ValueError as exc:
            aside = '%s.corrupt.%d' % (self.path, int(self.clock()))
            try:
                os.replace(self.path, aside)
            except OSError:
                aside = None
            LOG.warning('Status file %s is unreadable (%s); moved it to %s '
                        'and restarting from row 0', self.path, exc, aside)
            self.reset_reason = 'corrupt status file'
            self.data = self._fresh()
            return
        if data.get('fingerprint') != self.fingerprint:
            LOG.info('Mapping changed for %s (was %s, now %s): restarting '
                     'from row 0', self.path, data.get('fingerprint'),
                     self.fingerprint)
            self._restart('mapping changed', data)
            return
        fresh = self._fresh()
        fresh.update(data)
        for counter in COUNTERS:
            fresh['counters'].setdefault(counter, 0)
        self.data = fresh

    def _restart(self, reason, data):
        self.reset_reason = reason
        fresh = self._fresh()
        fresh['history'] = data.get('history', [])
        self.data = fresh

    def check_database(self, database_id):
        """Bind the progress to the database file whose Swift ``id`` is
        ``database_id``; progress saved for another one restarts from row
        0 (:attr:`reset_reason` says so).
        """
        stored = self.data.get('database_id')
        if stored is not None and stored != database_id:
            LOG.warning('Status file %s is the progress of another database '
                        '(%s, now %s: the container was created again, or '
                        'its database replaced or moved, or another daemon '
                        'shares this status_dir): restarting from row 0',
                        self.path, stored, database_id)
            self._restart('another database', self.data)
        self.data['database_id'] = database_id

    def save(self, force=False):
        """Write the file; during a pass with no failed row, at most once
        every :data:`SAVE_INTERVAL` seconds unless ``force`` (the pass's
        last save, at :meth:`end_pass`, always writes).

        :returns: whether the file was written.
        """
        now = self.clock()
        if (not force and self.in_pass and not self.failed and
                self.written_at is not None and
                now - self.written_at < SAVE_INTERVAL):
            self.unsaved = True
            return False
        data = dict(self.data)
        data['info'] = self.info
        data['saved_at'] = now
        write_atomically(self.path, data)
        self.written_at = now
        self.unsaved = False
        return True

    # -- row pointers -------------------------------------------------------

    @property
    def last_row(self):
        return self.data['last_row']

    @last_row.setter
    def last_row(self, value):
        self.data['last_row'] = int(value)

    @property
    def last_verified_row(self):
        return self.data['last_verified_row']

    @last_verified_row.setter
    def last_verified_row(self, value):
        self.data['last_verified_row'] = int(value)

    # -- failed rows --------------------------------------------------------

    @property
    def failed(self):
        """``{name: {row_id, attempts, next_try, last_error, ...}}``."""
        return self.data['failed']

    @property
    def failed_full(self):
        return len(self.failed) >= self.max_failed

    def _entry(self, name, row_id, timestamp, now):
        """The failed set's entry of ``name``, now at ``row_id``; None
        when the set is full and ``name`` is not in it.
        """
        entry = self.failed.get(name)
        if entry is None:
            if self.failed_full:
                return None
            entry = {'attempts': 0, 'first_failure': now}
            self.failed[name] = entry
        entry['row_id'] = int(row_id)
        if timestamp is not None:
            entry['timestamp'] = float(timestamp)
        return entry

    def record_failure(self, name, row_id, error, retry_after=None,
                       timestamp=None):
        """Remember that ``name`` (at ``row_id``) failed.

        :param retry_after: seconds before the next try, when the failure
            itself says (a lifecycle wait, a remote's Retry-After);
            otherwise the exponential backoff decides.
        :param timestamp: the row's metadata timestamp (float), for lag.
        :returns: False when the set is full and ``name`` is not in it: the
            caller must then not move its pointer past the row.
        """
        now = self.clock()
        entry = self._entry(name, row_id, timestamp, now)
        if entry is None:
            return False
        entry['attempts'] = entry.get('attempts', 0) + 1
        delay = backoff(entry['attempts'], self.retry_interval,
                        self.retry_interval_max)
        if retry_after is not None:
            delay = max(0.0, float(retry_after))
        entry['next_try'] = now + delay
        entry['last_error'] = _shorten(_scrub(error))
        entry['last_failure'] = now
        return True

    def postpone(self, name, row_id, retry_after, reason='',
                 timestamp=None):
        """Keep ``name`` in the set without counting a failed attempt."""
        now = self.clock()
        entry = self._entry(name, row_id, timestamp, now)
        if entry is None:
            return False
        entry['next_try'] = now + max(0.0, float(retry_after or 0))
        entry['last_error'] = _shorten(_scrub(reason))
        return True

    def clear_failure(self, name):
        return self.failed.pop(name, None) is not None

    def due_failures(self, now=None):
        """Failed rows whose next try has come, oldest try first."""
        now = self.clock() if now is None else now
        due = [(entry.get('next_try', 0), name, entry)
               for name, entry in self.failed.items()
               if entry.get('next_try', 0) <= now]
        due.sort(key=lambda item: (item[0], item[1]))
        return [(name, entry) for _t, name, entry in due]

    # -- counters and passes ------------------------------------------------

    @property
    def counters(self):
        return self.data['counters']

    def count(self, name, n=1):
        self.counters[name] = self.counters.get(name, 0) + n

    def start_pass(self):
        now = self.clock()
        self.data['last_pass_start'] = now
        self.in_pass = True
        if self.written_at is None:
            # NOTE(cloudsync): the pass's first save waits as well: a
            # short pass writes once, at its end.
            self.written_at = now

    def end_pass(self, rows_behind, lag, **extra):
        now = self.clock()
        self.in_pass = False
        self.data['last_pass_end'] = now
        entry = {'end': now, 'rows_behind': rows_behind,
                 'lag': round(lag, 3)}
        entry.update(extra)
        if entry.get('error'):
            entry['error'] = _scrub(entry['error'])
        history = self.data['history']
        history.append(entry)
        del history[:-self.history_size]
