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
"""``cloudsync-sync``: the sync daemon's command (see
:mod:`cloudsync.sync.daemon`).

``cloudsync-sync --once`` run in a terminal (its standard error is one)
shows on standard error, whatever the logging configuration says, a
progress line for each container database being synced, every few
seconds::

    photos AUTH_test/photos: 1200/5000 rows (24%), 1180 objects, 52.3 MiB
        copied, 210 rows/s, 4.1 MiB/s, ETA 18s

a line when it is done, and a summary at the end::

    cloudsync-sync: pass done in 25s: 1 container, 5000/5000 rows,
        4950 objects, 210.0 MiB copied, 0 rows failed

Not in a terminal (cron, systemd, a pipe), it prints none of this: the
log says what happened.
"""

import sys
import time

from cloudsync import concurrency

#: seconds between two progress lines of one database
PROGRESS_INTERVAL = 5.0
UNITS = ('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB')


def human_bytes(n):
    """``52.3 MiB``."""
    value = float(n)
    for unit in UNITS:
        if value < 1024 or unit == UNITS[-1]:
            break
        value /= 1024
    return ('%d %s' % (value, unit)) if unit == 'B' else (
        '%.1f %s' % (value, unit))


def duration(seconds):
    from cloudsync.cmd import status as status_cmd
    return status_cmd.duration(seconds)


class _Tracked(object):
    """One database pass as the terminal shows it."""

    def __init__(self, container_pass, now):
        self.container_pass = container_pass
        db = container_pass.db
        where = '%s/%s' % (db.account, db.container)
        if db.is_shard:
            where += ' shard %s' % db.db_container
        self.label = '%s %s' % (db.mapping.name, where)
        self.started = now
        self.total = None
        self.before = 0
        self.shown = None
        self.last_shown_at = now
        try:
            from cloudsync.ops import status_report
            counts = status_report.measure_database(
                db.path, container_pass.status.last_row)
            self.total = counts['rows_total']
            self.before = counts['rows_at_or_before']
        except Exception:  # noqa: BLE001 - progress is only a display
            pass

    @property
    def result(self):
        return self.container_pass.result

    def rows_done(self):
        done = self.before + self.result.scanned
        return min(done, self.total) if self.total is not None else done

    def line(self, now, final=False):
        result = self.result
        done = self.rows_done()
        elapsed = max(now - self.started, 1e-6)
        if self.total:
            rows = '%d/%d rows (%d%%)' % (done, self.total,
                                          100 * done // self.total)
        else:
            rows = '%d/%s rows' % (done, '?' if self.total is None
                                   else self.total)
        parts = [rows, '%d objects' % result.copied,
                 '%s copied' % human_bytes(result.bytes_copied)]
        if final:
            parts.insert(0, 'done in %s' % duration(elapsed))
        else:
            scanned = result.scanned
            rate = scanned / elapsed
            parts.append(('%.1f rows/s' if rate < 10 else '%.0f rows/s')
                         % rate)
            parts.append('%s/s' % human_bytes(result.bytes_copied /
                                              elapsed))
            if self.total is not None and done >= self.total:
                parts.append('checking')
            elif rate > 0 and self.total is not None:
                parts.append('ETA %s' % duration((self.total - done) / rate))
            else:
                parts.append('ETA ?')
        for name in ('unchanged', 'metadata_updated', 'deleted', 'archived',
                     'failed'):
            value = getattr(result, name)
            if value:
                parts.append('%d %s' % (value, name.replace('_', ' ')))
        if final and result.error:
            parts.append('error: %s' % result.error)
        return '%s: %s' % (self.label, ', '.join(parts))


class TerminalProgress(object):
    """Shows the progress of ``cloudsync-sync --once`` on a terminal.

    The crawler tells it when a pass over a database starts and ends
    (:attr:`cloudsync.sync.crawler.ContainerCrawler.progress`); a green thread
    prints a line for each database still running every ``interval``
    seconds, when it moved.
    """

    def __init__(self, stream, interval=PROGRESS_INTERVAL,
                 clock=time.time):
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self.running = {}
        self.done = []
        self.began = clock()
        self._thread = None

    def say(self, text):
        try:
            self.stream.write(text + '\n')
            self.stream.flush()
        except (OSError, ValueError):
            pass

    # -- told by the crawler ----------------------------------------------

    def started(self, container_pass):
        tracked = _Tracked(container_pass, self.clock())
        self.running[id(container_pass)] = tracked
        self.say('%s: %s' % (tracked.label, 'starting at row %d of %s' % (
            tracked.before, '?' if tracked.total is None else
            tracked.total)))

    def finished(self, container_pass):
        tracked = self.running.pop(id(container_pass), None)
        if tracked is None:
            return
        self.done.append(tracked)
        self.say(tracked.line(self.clock(), final=True))

    # -- the ticker ---------------------------------------------------------

    def tick(self):
        now = self.clock()
        for tracked in list(self.running.values()):
            state = (tracked.result.scanned, tracked.result.handled,
                     tracked.result.bytes_copied)
            if state == tracked.shown:
                continue
            if now - tracked.last_shown_at < self.interval:
                continue
            tracked.shown = state
            tracked.last_shown_at = now
            self.say(tracked.line(now))

    def _run(self):
        while True:
            concurrency.sleep(min(1.0, self.interval))
            self.tick()

    def start(self):
        self._thread = concurrency.spawn(self._run)
        return self

    def stop(self):
        if self._thread is not None:
            self._thread.kill()
            self._thread = None

    def summary(self, exit_code):
        """The last line: what the whole pass did."""
        self.stop()
        every = self.done + list(self.running.values())
        results = [t.result for t in every]
        rows = sum(t.rows_done() for t in every)
        total = sum(t.total or 0 for t in every)
        failed = sum(r.failed for r in results)
        containers = len({t.label for t in every})
        line = ('cloudsync-sync: pass done in %s: %d container%s, %d/%d '
                'rows, %d objects, %s copied, %d rows failed' % (
                    duration(self.clock() - self.began), containers,
                    '' if containers == 1 else 's', rows, total,
                    sum(r.copied for r in results),
                    human_bytes(sum(r.bytes_copied for r in results)),
                    failed))
        archived = sum(r.archived for r in results)
        deleted = sum(r.deleted for r in results)
        if archived:
            line += ', %d archived' % archived
        if deleted:
            line += ', %d deleted remotely' % deleted
        if self.running:
            line += ', %d not finished' % len(self.running)
        if exit_code:
            line += ' (exit status %d: cloudsync-status shows the failed ' \
                    'rows)' % exit_code
        self.say(line)


def run(argv=None, stderr=None):
    """The command, after monkey-patching; returns the exit status."""
    from cloudsync import cmd
    from cloudsync.sync import daemon
    stderr = stderr or sys.stderr
    config = cmd.load_config('cloudsync-sync', argv, daemon.cli_opts)
    if config is None:
        return cmd.EXIT_CONFIG
    progress = None
    if config.conf.once and _isatty(stderr):
        progress = TerminalProgress(stderr).start()
    code = daemon.main(argv, config=config, progress=progress)
    if progress is not None:
        if code == cmd.EXIT_CONFIG:
            progress.stop()
        else:
            progress.summary(code)
    return code


def main(argv=None):
    # NOTE(cloudsync): green sockets and threads must be in place before
    # boto3, urllib3 or Swift's proxy are imported.
    concurrency.monkey_patch()
    sys.exit(run(argv))


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


if __name__ == '__main__':
    main()
