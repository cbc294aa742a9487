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
"""``cloudsync-status``: backlog, lag and failures on this node.

Run it on a container node with the daemon's configuration file::

    cloudsync-status --config-file /etc/cloudsync/cloudsync.conf
    cloudsync-status --config-file ... --mapping photos --format json
    cloudsync-status --config-file ... --watch --interval 10
    cloudsync-status --config-file ... --plot /tmp/lag.png

The default is a table, one line per mapping and container::

    MAPPING  CONTAINER          STATE    ROWS DONE/TOTAL  BEHIND  LAG  ...
    photos   AUTH_test/photos   behind   1200/5000          3800  2m5s ...

followed, for containers with failed rows, by the last errors (``--errors
N`` of them per container). ``--format json`` prints everything, per
mapping, container and database, for monitoring tools. ``--watch``
prints, every ``--interval`` seconds, the progress of each container
(rows done of total, rows per second, estimated time left), which is what
to look at while a new mapping copies the objects that were there before
it; ``--count`` stops after that many reports. ``--plot FILE.png`` writes a
chart of lag and rows behind over the passes the daemon recorded.

Only local files are read (the progress files and, read-only, the
container databases); the remote is never contacted. The numbers are this
node's: every container node runs its own daemon and reports its own
share.

For mappings the cloud shunt serves, a section "Pending cold restores"
lists the restores of copies in a cold storage class the shunt asked for
and no read found done yet: object, when it was asked for, how long ago,
retrieval tier (``pending_restores`` in JSON). They are read from Swift,
not from the remote: one listing of the hidden account the shunt records
them in, through the daemon's internal client (as ``cloudsync-restore``
builds it). Nothing is printed when there are none; when that client
cannot be built (no Swift configuration on this host) or the listing
fails, one line says why (``pending_restores_error``) and the rest of the
report is unchanged.

Migrations (``[migration:NAME]`` sections, see
:mod:`cloudsync.migrate.daemon`) get a table of their own, one line per
source bucket: objects and bytes done of the last complete pass's total,
objects left, failed objects, rate and ETA, with a progress bar per
bucket when the output is a terminal, then the latest failed objects.
``--watch`` reports them too, and ``--format json`` under
``migrations``. A failed object makes the exit status 1, as a failed row
does.

The table ends with the configuration file it was read from. A missing
or unreadable configuration file, or none at all, is an error naming the
path (exit 2), and so is a configuration without any enabled mapping:
the command never reports on an empty configuration as if all were well.

``--check`` is for monitoring (a Nagios, Icinga or Sensu check, or any
tool that reads the exit status): one verdict line with performance data,
then one line per problem, and the usual exit status, 0 OK, 1 WARNING, 2
CRITICAL::

    $ cloudsync-status --config-file /etc/cloudsync/cloudsync.conf --check
    CLOUDSYNC WARNING - 1 problem in 3 mappings (/etc/cloudsync/...) | ...
    WARNING: photos AUTH_test/photos: 2 failed rows (warning at 1, ...)

Each container of each mapping is checked against thresholds, all
options with defaults: failed rows (``--failed-warning`` 1,
``--failed-critical`` 10), lag beyond the mapping's ``copy_after``
(``--lag-warning`` 1h, ``--lag-critical`` 6h), and stale progress, the
time since the daemon last recorded progress or a pass for the container
(``--stale-warning`` 30m, ``--stale-critical`` 2h: the daemon is not
running, or stuck). A last pass that could not reach the remote, or no
enabled mapping, is CRITICAL; a mapping with no pass recorded yet, or a
database that cannot be read, is a WARNING.

Exit status: 1 when a mapping is failing (a row failed, or the last pass
could not reach the remote), 0 otherwise, 2 for a configuration or usage
error (``--check``: see above). ``--watch`` stopped with Ctrl-C exits
with the status of its last report, or 130 when interrupted before the
first one. See :mod:`cloudsync.ops.status_report` for what each figure means.
"""

import json
import sys
import time

from oslo_config import cfg

from cloudsync import cmd
from cloudsync.cmd import status_check as check_mod
from cloudsync.ops import status_plot
from cloudsync.ops import status_report

EXIT_OK = 0
EXIT_FAILING = 1
EXIT_USAGE = cmd.EXIT_CONFIG
#: ``--watch`` interrupted (Ctrl-C) before its first report: 128 + SIGINT
EXIT_INTERRUPTED = 130

cli_opts = [
    cfg.MultiStrOpt('mapping', default=[],
                    help='Only this mapping (the NAME of [mapping:NAME]) '
                         'or migration ([migration:NAME]); may be given '
                         'several times.'),
    cfg.StrOpt('format', default='text', choices=['text', 'json'],
               help='Output format.'),
    cfg.BoolOpt('watch', default=False,
                help='Report progress (rows done of total, rate, time '
                     'left) every --interval seconds.'),
    cfg.FloatOpt('interval', default=5.0, min=0,
                 help='Seconds between two --watch reports.'),
    cfg.IntOpt('count', default=0, min=0,
               help='With --watch: stop after this many reports (0: run '
                    'until interrupted).'),
    cfg.StrOpt('plot', metavar='FILE.png',
               help='Write a PNG chart of lag and rows behind over the '
                    'recorded passes.'),
    cfg.IntOpt('errors', default=5, min=0,
               help='Failed rows shown per container in the table.'),
    cfg.BoolOpt('check', default=False,
                help='Monitoring mode: one verdict line and one line per '
                     'problem; exit 0 OK, 1 WARNING, 2 CRITICAL.'),
    cfg.IntOpt('failed-warning', default=1, min=1,
               help='With --check: failed rows in a container that make '
                    'a WARNING.'),
    cfg.IntOpt('failed-critical', default=10, min=1,
               help='With --check: failed rows in a container that make '
                    'it CRITICAL.'),
    cfg.FloatOpt('lag-warning', default=3600.0, min=0,
                 help='With --check: seconds of lag beyond the mapping\'s '
                      'copy_after that make a WARNING.'),
    cfg.FloatOpt('lag-critical', default=6 * 3600.0, min=0,
                 help='With --check: seconds of lag beyond the mapping\'s '
                      'copy_after that make it CRITICAL.'),
    cfg.FloatOpt('stale-warning', default=1800.0, min=0,
                 help='With --check: seconds without any progress or pass '
                      'recorded for a container that make a WARNING.'),
    cfg.FloatOpt('stale-critical', default=7200.0, min=0,
                 help='With --check: seconds without any progress or pass '
                      'recorded for a container that make it CRITICAL.'),
]


def duration(seconds):
    """``3h2m``, ``4m5s``, ``12s``."""
    if seconds is None:
        return '-'
    seconds = int(round(seconds))
    if seconds >= 86400:
        return '%dd%dh' % (seconds // 86400, seconds % 86400 // 3600)
    if seconds >= 3600:
        return '%dh%dm' % (seconds // 3600, seconds % 3600 // 60)
    if seconds >= 60:
        return '%dm%ds' % (seconds // 60, seconds % 60)
    return '%ds' % seconds


def _ago(when, now):
    if when is None:
        return 'never'
    return '%s ago' % duration(max(0.0, now - when))


def _num(value):
    return '?' if value is None else str(value)


def _lag(container):
    """The LAG cell: ``?`` when the rows behind are not known."""
    if container.rows_behind is None or container.lag is None:
        return '?'
    return duration(container.lag) if container.rows_behind else '0s'


def _bytes(n):
    from cloudsync.cmd import sync as sync_cmd
    return '?' if n is None else sync_cmd.human_bytes(n)


BAR_WIDTH = 20


def progress_bar(done, total, width=BAR_WIDTH):
    """``[#######.............]  35%``; ``[?]`` when the total is not
    known yet.
    """
    if not total:
        return '[%s]' % ('?' * width) if total is None else \
            '[%s] 100%%' % ('#' * width)
    share = min(1.0, float(done) / total)
    filled = int(round(share * width))
    return '[%s%s] %3d%%' % ('#' * filled, '.' * (width - filled),
                             int(share * 100))


def migration_table(migrations, now, bars=False, errors=5):
    """The migrations' part of the human report: one line per source
    bucket (objects and bytes done of the last complete pass's total,
    left, failed, rate, ETA), then the latest failures.
    """
    header = ('MIGRATION', 'SOURCE', 'TARGET', 'STATE', 'OBJECTS DONE/TOTAL',
              'LEFT', 'BYTES DONE/TOTAL', 'FAILED', 'RATE', 'ETA')
    rows = []
    for m in migrations:
        if not m.buckets:
            rows.append((m.name, '%s:%s' % (m.remote, m.bucket),
                         '%s/-' % m.account, 'not-started', '-', '-', '-',
                         '-', '-', '-'))
        for b in m.buckets:
            rows.append((
                m.name, '%s:%s' % (m.remote, b['bucket']),
                '%s/%s' % (m.account, b['container']), b['state'],
                '%d/%s' % (b['objects_done'], _num(b['objects_total'])),
                _num(b['objects_left']),
                '%s/%s' % (_bytes(b['bytes_done']),
                           _bytes(b['bytes_total'])),
                str(b['failed']),
                '%.1f/s' % b['rate'] if b['rate'] is not None else '-',
                duration(b['eta']) if b['eta'] is not None else (
                    '-' if b['state'] != 'migrating' else '?')))
    widths = [max(len(r[i]) for r in [header] + rows)
              for i in range(len(header))]
    right = {4, 5, 6, 7, 8, 9}

    def fmt(row):
        return '  '.join(
            (cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]))
            for i, cell in enumerate(row)).rstrip()

    lines = [fmt(header)] + [fmt(r) for r in rows]
    for m in migrations:
        if bars:
            for b in m.buckets:
                lines.append('%s %s: %s' % (m.name, b['bucket'], progress_bar(
                    b['objects_done'], b['objects_total'])))
        failures = sorted(m.failures, key=lambda f: -(f.get('at') or 0))
        if failures and errors:
            lines.append('%s: %d failed objects; latest:' % (
                m.name, len(failures)))
            for entry in failures[:errors]:
                lines.append('  %s/%s (%s): %s' % (
                    entry['bucket'], entry['key'], _ago(entry.get('at'), now),
                    entry['error']))
    return lines


def table(statuses, now, errors=5):
    """The human report, as a list of lines."""
    header = ('MAPPING', 'CONTAINER', 'STATE', 'ROWS DONE/TOTAL', 'BEHIND',
              'LAG', 'FAILED', 'LAST PASS')
    rows = []
    for mapping in statuses:
        if not mapping.containers:
            rows.append((mapping.name, '%s/%s' % (
                mapping.account, mapping.container), 'not-started', '-',
                '-', '-', '-', 'never'))
        for c in mapping.containers:
            rows.append((
                mapping.name, '%s/%s' % (c.account, c.container), c.state,
                '%d/%s' % (c.rows_done, _num(c.rows_total)),
                _num(c.rows_behind), _lag(c), str(len(c.failed)),
                _ago(c.last_pass_end, now)))
    widths = [max(len(r[i]) for r in [header] + rows)
              for i in range(len(header))]
    right = {3, 4, 5, 6}

    def fmt(row):
        return '  '.join(
            (cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]))
            for i, cell in enumerate(row)).rstrip()

    lines = [fmt(header)] + [fmt(r) for r in rows]
    for mapping in statuses:
        for c in mapping.containers:
            where = '%s %s/%s' % (mapping.name, c.account, c.container)
            if c.last_pass_error:
                lines.append('%s: last pass: %s' % (where,
                                                    c.last_pass_error))
            failed = sorted(c.failed,
                            key=lambda f: -(f.get('last_failure') or 0))
            if failed and errors:
                lines.append('%s: %d failed rows; latest:' % (
                    where, len(failed)))
                for entry in failed[:errors]:
                    lines.append('  %s (row %s, %s attempts, next try %s): '
                                 '%s' % (entry['name'], entry['row_id'],
                                         entry['attempts'],
                                         _when(entry.get('next_try'), now),
                                         entry['last_error']))
            for db in c.databases:
                for note in db.notes:
                    lines.append('%s (db %s): %s' % (where, db.db_id, note))
    return lines


def _when(at, now):
    if at is None:
        return '?'
    if at <= now:
        return 'now'
    return 'in %s' % duration(at - now)


def report(statuses, config_files=(), migrations=(), restores=None,
           now=None):
    """The JSON report (a dict)."""
    now = time.time() if now is None else now
    result = {'generated_at': now,
              'config_files': list(config_files),
              'ok': not any(m.failing for m in list(statuses) +
                            list(migrations)),
              'mappings': [m.to_dict() for m in statuses],
              'migrations': [m.to_dict() for m in migrations],
              'pending_restores': [] if restores is None else
              restores.to_dict(now)}
    if restores is not None and restores.error:
        result['pending_restores_error'] = restores.error
    return result


def _utc(when):
    if when is None:
        return '?'
    return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(when))


def restores_table(restores, now):
    """The pending cold restores' part of the human report: nothing when
    there are none, one line per object (asked at, age, tier) otherwise,
    or why they could not be listed.
    """
    if restores is None:
        return []
    if restores.error:
        return ['Pending cold restores: not listed: %s' % restores.error]
    if not restores.pending:
        return []
    header = ('OBJECT', 'ASKED AT', 'AGE', 'TIER')
    rows = [(p.name, _utc(p.asked_at),
             duration(None if p.asked_at is None else
                      max(0.0, now - p.asked_at)), p.tier)
            for p in restores.pending]
    widths = [max(len(r[i]) for r in [header] + rows)
              for i in range(len(header))]

    def fmt(row):
        return '  '.join(cell.ljust(widths[i])
                         for i, cell in enumerate(row)).rstrip()
    return (['Pending cold restores (%d):' % len(rows), fmt(header)] +
            [fmt(r) for r in rows])


class ProgressWatch:
    """Turns successive collections into rates and estimates."""

    def __init__(self):
        self.previous = {}

    @staticmethod
    def recorded_rate(container):
        """Rows per second over the last recorded passes."""
        handled, elapsed = 0, 0.0
        for db in container.databases:
            recent = [h for h in db.history[-5:]
                      if h.get('start') is not None and h.get('end')]
            if not recent:
                continue
            handled += sum(int(h.get('handled') or 0) for h in recent)
            elapsed = max(elapsed, float(recent[-1]['end']) -
                          float(recent[0]['start']))
        return handled / elapsed if elapsed > 0 and handled else None

    def lines(self, statuses, now):
        out = []
        stamp = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(now))
        for mapping in statuses:
            for c in mapping.containers:
                key = (mapping.name, c.account, c.container)
                rate = None
                before = self.previous.get(key)
                if before and now > before[0] and c.rows_done > before[1]:
                    rate = (c.rows_done - before[1]) / (now - before[0])
                if rate is None:
                    rate = self.recorded_rate(c)
                self.previous[key] = (now, c.rows_done)
                total = c.rows_total
                if total:
                    share = '%d/%d rows (%.1f%%)' % (
                        c.rows_done, total, 100.0 * c.rows_done / total)
                else:
                    share = '%d/%s rows' % (c.rows_done, _num(total))
                if c.rows_behind == 0:
                    eta = 'in sync'
                elif rate:
                    eta = 'ETA %s' % duration(c.rows_behind / rate)
                else:
                    eta = 'ETA ?'
                out.append('%s  %s %s/%s: %s, %s, %s%s' % (
                    stamp, mapping.name, c.account, c.container, share,
                    '%.1f rows/s' % rate if rate else '- rows/s', eta,
                    ', %d failed' % len(c.failed) if c.failed else ''))
        return out


def exit_status(statuses, migrations=()):
    return EXIT_FAILING if any(
        m.failing for m in list(statuses) + list(migrations)) else EXIT_OK


def migration_watch_lines(migrations, now):
    """``--watch`` lines of the migrations: progress, rate, ETA."""
    stamp = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(now))
    out = []
    for m in migrations:
        for b in m.buckets:
            out.append('%s  migration %s %s -> %s/%s: %s %d/%s objects, '
                       '%s, %s%s' % (
                           stamp, m.name, b['bucket'], m.account,
                           b['container'],
                           progress_bar(b['objects_done'],
                                        b['objects_total']),
                           b['objects_done'], _num(b['objects_total']),
                           '%.1f objects/s' % b['rate']
                           if b['rate'] is not None else '- objects/s',
                           'ETA %s' % duration(b['eta'])
                           if b['eta'] is not None else b['state'],
                           ', %d failed' % b['failed'] if b['failed']
                           else ''))
    return out


def _internal_client(config):
    # NOTE(cloudsync): cloudsync-restore's, built as it builds it, only
    # when a mapping the shunt serves asks for it.
    from cloudsync.cmd import restore as restore_cmd
    return restore_cmd.make_internal_client(config)


def _collect_restores(config, make_client, names, now):
    from cloudsync.cmd import restore as restore_cmd
    return restore_cmd.collect_restores(config, make_client, names, now=now)


def run(argv=None, stdout=None, sleep=time.sleep, clock=time.time,
        make_client=_internal_client):
    """The command, without process set-up; returns the exit status.

    :param make_client: builds the internal client that lists the pending
        cold restores.
    """
    stdout = stdout or sys.stdout
    config = cmd.load_config('cloudsync-status', argv, cli_opts)
    if config is None:
        return EXIT_USAGE
    conf = config.conf
    source = cmd.config_source(config)
    if not config.mappings and not config.migrations:
        if conf.check:
            print('CLOUDSYNC CRITICAL - no mapping is enabled in %s'
                  % source, file=stdout)
        print('cloudsync-status: no mapping is enabled in %s: nothing '
              'to report ([mapping:NAME] sections, without enabled = '
              'false)' % source, file=sys.stderr)
        return EXIT_USAGE
    known = {m.name for m in config.mappings} | {
        m.name for m in config.migrations}
    unknown = [n for n in conf.mapping if n not in known]
    if unknown:
        print('cloudsync-status: no enabled mapping named %s in %s; '
              'mappings: %s' % (', '.join(unknown), source,
                                ', '.join(sorted(known)) or 'none'),
              file=sys.stderr)
        return EXIT_USAGE

    def collect():
        return status_report.collect(config, conf.mapping or None,
                                     now=clock())

    def collect_migrations():
        return status_report.collect_migrations(config, conf.mapping or None,
                                                now=clock())

    if conf.check:
        thresholds = check_mod.Thresholds.from_conf(conf)
        verdict = check_mod.evaluate(
            collect(), {m.name: m for m in config.mappings}, thresholds,
            clock())
        for line in verdict.lines(source):
            print(line, file=stdout)
        return verdict.code

    if conf.watch:
        watch = ProgressWatch()
        done = 0
        statuses = None
        migrations = []
        try:
            while True:
                statuses = collect()
                migrations = collect_migrations()
                for line in watch.lines(statuses, clock()):
                    print(line, file=stdout)
                for line in migration_watch_lines(migrations, clock()):
                    print(line, file=stdout)
                stdout.flush()
                done += 1
                if conf.count and done >= conf.count:
                    break
                sleep(conf.interval)
        except KeyboardInterrupt:
            if statuses is None:
                # NOTE(cloudsync): interrupted before the first report:
                # there is no status to exit with.
                return EXIT_INTERRUPTED
        return exit_status(statuses, migrations)

    statuses = collect()
    migrations = collect_migrations()
    if conf.plot:
        series = [(m.name, status_report.history(m)) for m in statuses]
        try:
            size = status_plot.write(conf.plot, series, now=clock())
        except OSError as exc:
            print('cloudsync-status: cannot write %s: %s' % (conf.plot, exc),
                  file=sys.stderr)
            return EXIT_USAGE
        print('cloudsync-status: wrote %s (%d bytes, %d passes)' % (
            conf.plot, size, sum(len(s[1]) for s in series)),
            file=sys.stderr)
    restores = _collect_restores(config, make_client, conf.mapping or None,
                                 clock())
    if conf.format == 'json':
        print(json.dumps(report(statuses, cmd.config_files(conf),
                                migrations, restores, now=clock()),
                         indent=2, sort_keys=True, ensure_ascii=False),
              file=stdout)
    else:
        if statuses or not migrations:
            for line in table(statuses, clock(), conf.errors):
                print(line, file=stdout)
        if migrations:
            if statuses:
                print('', file=stdout)
            for line in migration_table(migrations, clock(),
                                        bars=_isatty(stdout),
                                        errors=conf.errors):
                print(line, file=stdout)
        lines = restores_table(restores, clock())
        if lines:
            print('', file=stdout)
            for line in lines:
                print(line, file=stdout)
        print('Configuration: %s; progress files: %s' % (
            source, conf.status_dir), file=stdout)
    return exit_status(statuses, migrations)


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def main(argv=None):
    sys.exit(run(argv))


if __name__ == '__main__':
    main()
