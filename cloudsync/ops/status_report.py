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
"""Where the sync daemon stands on this node, from its own records.

``cloudsync-status`` reads two things, both local, and never contacts the
remote:

* the daemon's progress files (:mod:`cloudsync.sync.status`) under
  ``status_dir``: the row pointer, the failed rows with their last error,
  and the time and outcome of recent passes;
* the container databases themselves, read-only: how many rows there are,
  how many lie beyond the daemon's pointer, and how old the oldest of them
  is. Rows Swift has accepted but not yet merged into a database (its
  ``.pending`` file) count as behind too.

For every mapping and container database this node holds:

``rows_total``
    rows in the database (each row is an object's latest PUT, POST or
    DELETE), pending rows included
``rows_done``
    rows the daemon is past and did not fail
``rows_behind``
    ``rows_total - rows_done``: rows beyond the pointer, failed rows and
    rows waiting for ``copy_after``
``lag``
    seconds since the oldest change not yet synced (0 when in sync;
    unknown, ``null`` in JSON and ``?`` in the table, when the rows behind
    are: the database cannot be read)
``failed``
    rows that failed at least once and are waiting for their next try,
    with attempts and the last error
``state``
    ``failing`` (a row failed, or the last pass could not reach the
    remote), ``behind``, ``in-sync``, or ``not-started`` (no progress
    recorded yet)

A container database found through the ring that has no progress file yet
is ``not-started``. A progress file saved for another database than the
one now on disk (the container was deleted and created again, or its
database replaced or moved: the file's ``database_id`` is not the
database's ``id``) counts as no progress, as the daemon restarts such a
database from row 0; a note says so. Containers of a mapping of every
container (``*``) are found from the progress files, so one the daemon has
not reached yet is not listed.
"""

import base64
import dataclasses
import json
import os
import pickle
import sqlite3
import time
import typing

from cloudsync.migrate import state as migrate_state
from cloudsync.sync import status as status_mod

STATES = ('failing', 'behind', 'not-started', 'in-sync')
#: how bad each state is, for a mapping's overall state
SEVERITY = {'failing': 3, 'behind': 2, 'not-started': 1, 'in-sync': 0}


def _round(lag):
    return None if lag is None else round(lag, 3)


@dataclasses.dataclass
class DatabaseStatus:
    """Progress of one mapping over one container database."""

    mapping: str
    account: str
    container: str
    db_id: str
    db_path: typing.Optional[str] = None
    shard: bool = False
    node_index: typing.Optional[int] = None
    replicas: typing.Optional[int] = None
    state: str = 'not-started'
    rows_total: typing.Optional[int] = None
    rows_done: int = 0
    rows_behind: typing.Optional[int] = None
    lag: typing.Optional[float] = 0.0
    objects: typing.Optional[int] = None
    last_row: int = 0
    last_verified_row: int = 0
    #: failed rows: [{name, row_id, attempts, last_error, next_try, ...}]
    failed: list = dataclasses.field(default_factory=list)
    #: rows waiting for copy_after (postponed, not failed)
    waiting: int = 0
    last_pass_start: typing.Optional[float] = None
    last_pass_end: typing.Optional[float] = None
    last_pass_error: typing.Optional[str] = None
    #: when the daemon last saved this progress (every chunk of rows)
    saved_at: typing.Optional[float] = None
    counters: dict = dataclasses.field(default_factory=dict)
    history: list = dataclasses.field(default_factory=list)
    #: why the numbers may be off (mapping changed, database unreadable...)
    notes: list = dataclasses.field(default_factory=list)
    status_file: typing.Optional[str] = None


@dataclasses.dataclass
class ContainerStatus:
    """One container of a mapping: its databases on this node, added up."""

    mapping: str
    account: str
    container: str
    databases: list

    def _sum(self, field):
        values = [getattr(d, field) for d in self.databases]
        if any(v is None for v in values):
            return None
        return sum(values)

    @property
    def state(self):
        return max((d.state for d in self.databases),
                   key=SEVERITY.get, default='not-started')

    @property
    def rows_total(self):
        return self._sum('rows_total')

    @property
    def rows_done(self):
        return sum(d.rows_done for d in self.databases)

    @property
    def rows_behind(self):
        return self._sum('rows_behind')

    @property
    def lag(self):
        lags = [d.lag for d in self.databases]
        if any(lag is None for lag in lags):
            return None
        return max(lags, default=0.0)

    @property
    def failed(self):
        return [f for d in self.databases for f in d.failed]

    @property
    def last_pass_end(self):
        ends = [d.last_pass_end for d in self.databases]
        if not ends or any(e is None for e in ends):
            return None
        return min(ends)

    @property
    def last_pass_error(self):
        for d in self.databases:
            if d.last_pass_error:
                return d.last_pass_error
        return None

    def to_dict(self):
        return {
            'account': self.account, 'container': self.container,
            'state': self.state, 'rows_total': self.rows_total,
            'rows_done': self.rows_done, 'rows_behind': self.rows_behind,
            'lag': _round(self.lag), 'failed_rows': len(self.failed),
            'last_pass_end': self.last_pass_end,
            'last_pass_error': self.last_pass_error,
            'databases': [dataclasses.asdict(d) for d in self.databases],
        }


@dataclasses.dataclass
class MappingStatus:
    name: str
    account: str
    container: str
    remote: str
    bucket: str
    containers: list

    @property
    def state(self):
        return max((c.state for c in self.containers), key=SEVERITY.get,
                   default='not-started')

    @property
    def failing(self):
        return self.state == 'failing'

    def to_dict(self):
        totals = [c.rows_total for c in self.containers]
        behind = [c.rows_behind for c in self.containers]
        ends = [c.last_pass_end for c in self.containers]
        lags = [c.lag for c in self.containers]
        return {
            'mapping': self.name, 'account': self.account,
            'container': self.container, 'remote': self.remote,
            'bucket': self.bucket, 'state': self.state,
            'rows_total': (None if None in totals else sum(totals)),
            'rows_done': sum(c.rows_done for c in self.containers),
            'rows_behind': (None if None in behind else sum(behind)),
            'lag': (None if None in lags
                    else _round(max(lags, default=0.0))),
            'failed_rows': sum(len(c.failed) for c in self.containers),
            'oldest_last_pass_end': (None if not ends or None in ends
                                     else min(ends)),
            'containers': [c.to_dict() for c in self.containers],
        }


# -- reading what the daemon wrote ----------------------------------------

class StatusFileReader:
    """Reads the daemon's progress files (see :mod:`cloudsync.sync.status`).

    The one place that knows their layout: everything else gets plain
    dicts.
    """

    def __init__(self, status_dir):
        self.status_dir = status_dir

    def mapping_dir(self, mapping_name):
        return os.path.join(self.status_dir,
                            status_mod.path_component(mapping_name))

    def path(self, mapping_name, account, container, db_id):
        return status_mod.status_path(self.status_dir, mapping_name,
                                      account, container, db_id)

    def files(self, mapping_name):
        """Paths of every progress file of a mapping, sorted."""
        found = []
        for dirpath, _dirs, names in os.walk(self.mapping_dir(mapping_name)):
            for name in names:
                if name.endswith('.json') and not name.startswith('.'):
                    found.append(os.path.join(dirpath, name))
        return sorted(found)

    @staticmethod
    def read(path):
        """The file's data, or None when it is missing or unreadable."""
        try:
            with open(path, 'r', encoding='utf-8') as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


# -- reading the container databases (never writing) ----------------------

def _connect(path):
    """A read-only connection to a container database."""
    uri = 'file:%s?mode=ro' % path.replace('?', '%3f').replace('#', '%23')
    conn = sqlite3.connect(uri, uri=True, timeout=5)
    conn.execute('PRAGMA query_only = 1')
    return conn


def _meta_timestamp(created_at):
    from swift.common import utils as swift_utils
    timestamps = swift_utils.decode_timestamps(created_at)
    return float(max(t for t in timestamps if t is not None))


def _pending(db_path):
    """(count, oldest timestamp) of the rows in the ``.pending`` file."""
    try:
        with open(db_path + '.pending', 'rb') as f:
            entries = [e for e in f.read().split(b':') if e]
    except OSError:
        return 0, None
    oldest = None
    for entry in entries:
        try:
            # NOTE(cloudsync): Swift's own record format, written by the
            # container server on this node (see swift.common.db).
            record = pickle.loads(base64.b64decode(entry),
                                  encoding='utf8')
            ts = float(record[1])
            if len(record) > 8 and record[8]:
                ts = max(ts, float(record[8]))
        except Exception:  # noqa: BLE001 - a torn entry is skipped
            continue
        oldest = ts if oldest is None else min(oldest, ts)
    return len(entries), oldest


def measure_database(db_path, last_row):
    """Counts from a container database, read-only.

    :returns: dict of ``rows_total``, ``rows_at_or_before`` (rows up to
        ``last_row``), ``objects``, ``oldest_after`` (the metadata
        timestamp of the first row after ``last_row``), ``pending`` and
        ``database_id`` (Swift's ``id`` of the database file).
    :raises sqlite3.Error: the database cannot be read.
    """
    conn = _connect(db_path)
    try:
        total = conn.execute('SELECT COUNT(*) FROM object').fetchone()[0]
        before = conn.execute('SELECT COUNT(*) FROM object WHERE ROWID <= ?',
                              (last_row,)).fetchone()[0]
        database_id = conn.execute(
            'SELECT id FROM container_stat').fetchone()[0]
        first = conn.execute(
            'SELECT created_at FROM object WHERE ROWID > ? ORDER BY ROWID '
            'LIMIT 1', (last_row,)).fetchone()
        try:
            objects = conn.execute(
                'SELECT object_count FROM policy_stat').fetchall()
            objects = sum(r[0] for r in objects)
        except sqlite3.Error:
            objects = conn.execute(
                'SELECT object_count FROM container_stat').fetchone()[0]
    finally:
        conn.close()
    pending, pending_oldest = _pending(db_path)
    oldest = _meta_timestamp(first[0]) if first else None
    if pending_oldest is not None:
        oldest = (pending_oldest if oldest is None
                  else min(oldest, pending_oldest))
    return {'rows_total': total + pending, 'rows_at_or_before': before,
            'objects': objects, 'oldest_after': oldest, 'pending': pending,
            'database_id': database_id}


def local_databases(conf, account, container):
    """[(db_id, node_index, replicas, path)] of a container on this node,
    from the ring (empty when the ring cannot be read).
    """
    try:
        from swift.common.ring import Ring
        from swift.common.ring import utils as ring_utils
        from swift.common import utils as swift_utils
        from swift.container import backend

        from cloudsync import local
        local.use_swift_dir(conf.swift_dir)
        ring = Ring(conf.swift_dir, ring_name='container')
        part, nodes = ring.get_nodes(account, container)
        my_ips = swift_utils.whataremyips(conf.bind_ip)
    except Exception:  # noqa: BLE001 - no ring here: status files only
        return []
    name_hash = swift_utils.hash_path(account, container)
    found = []
    for i, node in enumerate(nodes):
        if not ring_utils.is_local_device(my_ips, conf.bind_port,
                                          node['ip'], node['port']):
            continue
        path = os.path.join(conf.devices, node['device'],
                            swift_utils.storage_directory(
                                backend.DATADIR, part, name_hash),
                            name_hash + '.db')
        db_id = name_hash if not found else '%s.%d' % (
            name_hash, node.get('index', i))
        found.append((db_id, node.get('index', i), len(nodes), path))
    return found


# -- putting it together ----------------------------------------------------

def _failed_rows(failed):
    rows, waiting = [], 0
    for name, entry in sorted(failed.items(),
                              key=lambda kv: kv[1].get('row_id', 0)):
        if not entry.get('attempts'):
            waiting += 1
            continue
        rows.append({'name': name, 'row_id': entry.get('row_id'),
                     'attempts': entry.get('attempts'),
                     'last_error': entry.get('last_error', ''),
                     'last_failure': entry.get('last_failure'),
                     'next_try': entry.get('next_try'),
                     'timestamp': entry.get('timestamp')})
    return rows, waiting


def database_status(mapping, data, path=None, db_path=None, now=None,
                    info=None):
    """A :class:`DatabaseStatus` from a progress file's ``data`` (None
    when there is no file yet) and the database itself.
    """
    now = time.time() if now is None else now
    info = dict(info or {})
    info.update((data or {}).get('info') or {})
    status = DatabaseStatus(
        mapping=mapping.name, account=info.get('account', mapping.account),
        container=info.get('container', mapping.container),
        db_id=info.get('db_id') or (
            os.path.basename(path)[:-len('.json')] if path else '?'),
        db_path=info.get('db_path') or db_path,
        shard=bool(info.get('shard')), node_index=info.get('node_index'),
        replicas=info.get('replicas'), status_file=path)
    failed = {}
    if data is not None:
        if data.get('fingerprint') != mapping.fingerprint():
            status.notes.append('the mapping changed since the last pass: '
                                'the daemon restarts it from row 0')
        else:
            status.last_row = int(data.get('last_row') or 0)
            status.last_verified_row = int(
                data.get('last_verified_row') or 0)
            failed = data.get('failed') or {}
            status.counters = dict(data.get('counters') or {})
        status.history = list(data.get('history') or [])
        status.last_pass_start = data.get('last_pass_start')
        status.last_pass_end = data.get('last_pass_end')
        status.saved_at = data.get('saved_at')
        if status.history:
            status.last_pass_error = status.history[-1].get('error') or None
    counts = None
    if status.db_path:
        try:
            counts = measure_database(status.db_path, status.last_row)
            stored = (data or {}).get('database_id')
            if stored is not None and stored != counts['database_id']:
                # NOTE(cloudsync): as SyncStatus.check_database: the row
                # numbers belong to another database file.
                status.notes.append(
                    'the progress file is that of another database (%s, '
                    'now %s: the container was created again, or its '
                    'database replaced or moved): the daemon restarts it '
                    'from row 0' % (stored, counts['database_id']))
                failed = {}
                status.counters = {}
                status.last_verified_row = 0
                if status.last_row:
                    status.last_row = 0
                    counts = measure_database(status.db_path, 0)
        except (sqlite3.Error, OSError) as exc:
            counts = None
            status.notes.append('cannot read the database %s: %s'
                                % (status.db_path, exc))
    status.failed, status.waiting = _failed_rows(failed)
    oldest = None
    if counts is not None:
        ignored = len(status.failed) + status.waiting
        status.rows_total = counts['rows_total']
        status.rows_done = max(0, counts['rows_at_or_before'] - ignored)
        status.rows_behind = status.rows_total - status.rows_done
        status.objects = counts['objects']
        oldest = counts['oldest_after']
    for entry in failed.values():
        if entry.get('timestamp') is not None:
            oldest = (entry['timestamp'] if oldest is None
                      else min(oldest, entry['timestamp']))
    if status.rows_behind is None:
        status.lag = None
    elif oldest is not None and (status.rows_behind or failed):
        status.lag = max(0.0, now - oldest)
    if data is None:
        status.state = 'not-started'
    elif status.failed or status.last_pass_error:
        status.state = 'failing'
    elif status.rows_behind or status.waiting or (
            status.rows_behind is None and data.get('history') and
            data['history'][-1].get('rows_behind')):
        status.state = 'behind'
    else:
        status.state = 'in-sync'
    return status


def collect(config, mapping_names=None, now=None, reader=None,
            discover=True):
    """:class:`MappingStatus` of every (selected) mapping on this node."""
    reader = reader or StatusFileReader(config.conf.status_dir)
    result = []
    for mapping in config.mappings:
        if mapping_names and mapping.name not in mapping_names:
            continue
        dbs = {}
        for path in reader.files(mapping.name):
            data = reader.read(path)
            status = database_status(mapping, data, path=path, now=now)
            if data is None:
                status.notes.append('the progress file is unreadable')
            dbs[path] = status
        if discover and not mapping.is_wildcard:
            for db_id, index, replicas, db_path in local_databases(
                    config.conf, mapping.account, mapping.container):
                path = reader.path(mapping.name, mapping.account,
                                   mapping.container, db_id)
                if path in dbs or not os.path.exists(db_path):
                    continue
                dbs[path] = database_status(
                    mapping, None, path=None, db_path=db_path, now=now,
                    info={'db_id': db_id, 'node_index': index,
                          'replicas': replicas})
        by_container = {}
        for status in dbs.values():
            by_container.setdefault(
                (status.account, status.container), []).append(status)
        containers = [
            ContainerStatus(mapping.name, account, container,
                            sorted(found, key=lambda d: d.db_id))
            for (account, container), found in sorted(by_container.items())]
        result.append(MappingStatus(
            mapping.name, mapping.account, mapping.container,
            mapping.remote.name, mapping.bucket, containers))
    return result


def history(mapping_status):
    """The mapping's recorded passes as [(time, rows_behind, lag)].

    Each database records its own passes; at each recorded time the
    mapping's backlog is the sum of every database's latest value, and its
    lag the largest.
    """
    events = []
    for container in mapping_status.containers:
        for n, db in enumerate(container.databases):
            key = (container.container, n)
            for entry in db.history:
                if entry.get('end') is None:
                    continue
                events.append((float(entry['end']), key,
                               int(entry.get('rows_behind') or 0),
                               float(entry.get('lag') or 0.0)))
    events.sort(key=lambda e: e[0])
    latest = {}
    points = []
    for when, key, behind, lag in events:
        latest[key] = (behind, lag)
        points.append((when, sum(b for b, _l in latest.values()),
                       max(lag for _b, lag in latest.values())))
    return points


# -- migrations -------------------------------------------------------------

@dataclasses.dataclass
class MigrationStatus:
    """Where a migration stands on this node, from its progress file
    (:mod:`cloudsync.migrate.state`): one row per source bucket with
    ``objects_done``, ``objects_total`` (the last complete pass's count,
    None during the first), ``objects_left``, the same in bytes,
    ``failed``, ``rate`` (objects per second in the pass under way) and
    ``eta`` (seconds).
    """

    name: str
    remote: str
    bucket: str
    account: str
    buckets: list
    failures: list

    @property
    def failing(self):
        return bool(self.failures) or any(b['failed'] for b in self.buckets)

    @property
    def state(self):
        if not self.buckets:
            return 'not-started'
        if any(b['state'] == 'migrating' for b in self.buckets):
            return 'migrating'
        return 'passed'

    def to_dict(self):
        return {'name': self.name, 'remote': self.remote,
                'bucket': self.bucket, 'account': self.account,
                'state': self.state, 'failing': self.failing,
                'buckets': self.buckets, 'failures': self.failures}


def collect_migrations(config, names=None, now=None):
    """:class:`MigrationStatus` of every (selected) migration on this
    node.
    """
    found = []
    for migration in config.migrations:
        if names and migration.name not in names:
            continue
        data = migrate_state.read(config.conf.status_dir, migration.name)
        if data is not None and data.get('fingerprint') != \
                migration.fingerprint():
            data = None
        found.append(MigrationStatus(
            migration.name, migration.remote.name, migration.bucket,
            migration.account,
            migrate_state.progress(data or {}, now=now),
            list((data or {}).get('failures') or [])))
    return found
