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
"""``cloudsync-status --check``: a verdict for monitoring.

Turns what :func:`cloudsync.ops.status_report.collect` found into the output
and exit status monitoring plugins share (Nagios, Icinga, Sensu, ...): a
first line ``CLOUDSYNC OK|WARNING|CRITICAL - summary | perfdata``, then
one line per problem, worst first; exit 0, 1 or 2.
"""

import dataclasses

OK = 0
WARNING = 1
CRITICAL = 2
NAMES = {OK: 'OK', WARNING: 'WARNING', CRITICAL: 'CRITICAL'}


def _duration(seconds):
    from cloudsync.cmd import status as status_cmd
    return status_cmd.duration(seconds)


@dataclasses.dataclass
class Thresholds:
    failed_warning: int = 1
    failed_critical: int = 10
    lag_warning: float = 3600.0
    lag_critical: float = 6 * 3600.0
    stale_warning: float = 1800.0
    stale_critical: float = 7200.0

    @classmethod
    def from_conf(cls, conf):
        return cls(failed_warning=conf.failed_warning,
                   failed_critical=conf.failed_critical,
                   lag_warning=conf.lag_warning,
                   lag_critical=conf.lag_critical,
                   stale_warning=conf.stale_warning,
                   stale_critical=conf.stale_critical)


@dataclasses.dataclass
class Problem:
    level: int
    where: str
    what: str

    def line(self):
        return '%s: %s: %s' % (NAMES[self.level], self.where, self.what)


@dataclasses.dataclass
class Verdict:
    problems: list
    mappings: int
    containers: int
    rows_behind: int
    failed_rows: int
    lag: float
    thresholds: Thresholds

    @property
    def code(self):
        return max((p.level for p in self.problems), default=OK)

    def perfdata(self):
        t = self.thresholds
        return ("rows_behind=%d failed_rows=%d;%d;%d lag=%ds;%d;%d "
                "containers=%d" % (
                    self.rows_behind, self.failed_rows, t.failed_warning,
                    t.failed_critical, int(self.lag), t.lag_warning,
                    t.lag_critical, self.containers))

    def lines(self, source):
        if self.problems:
            summary = '%d problem%s in %d mapping%s' % (
                len(self.problems), '' if len(self.problems) == 1 else 's',
                self.mappings, '' if self.mappings == 1 else 's')
        else:
            summary = '%d mapping%s, %d container%s: no problem' % (
                self.mappings, '' if self.mappings == 1 else 's',
                self.containers, '' if self.containers == 1 else 's')
        out = ['CLOUDSYNC %s - %s (%s) | %s' % (
            NAMES[self.code], summary, source, self.perfdata())]
        for problem in sorted(self.problems, key=lambda p: -p.level):
            out.append(problem.line())
        return out


def _level(value, warning, critical):
    if value >= critical:
        return CRITICAL
    if value >= warning:
        return WARNING
    return OK


def _last_activity(container):
    """When the daemon last recorded anything for every database of
    ``container``: None when one of them has no record at all.
    """
    moments = []
    for db in container.databases:
        known = [t for t in (db.last_pass_end, db.saved_at) if t]
        if not known:
            return None
        moments.append(max(known))
    return min(moments) if moments else None


def check_container(mapping, container, thresholds, now):
    """The :class:`Problem` list of one container of ``mapping``."""
    t = thresholds
    where = '%s %s/%s' % (mapping.name, container.account,
                          container.container)
    problems = []

    def add(level, what):
        if level:
            problems.append(Problem(level, where, what))

    failed = len(container.failed)
    add(_level(failed, t.failed_warning, t.failed_critical),
        '%d failed rows (warning at %d, critical at %d); latest error: %s'
        % (failed, t.failed_warning, t.failed_critical,
           max(container.failed,
               key=lambda f: f.get('last_failure') or 0)['last_error']
           if failed else ''))
    if container.last_pass_error:
        add(CRITICAL, 'last pass: %s' % container.last_pass_error)
    lag = container.lag
    if container.rows_behind is None or lag is None:
        add(WARNING, 'lag unknown: %s' % '; '.join(
            n for db in container.databases for n in db.notes) or
            'the container database cannot be read')
    else:
        overdue = max(0.0, lag - (mapping.copy_after or 0.0))
        add(_level(overdue, t.lag_warning, t.lag_critical),
            'lag %s%s, %d rows behind (warning at %s, critical at %s)' % (
                _duration(overdue),
                ' beyond copy_after' if mapping.copy_after else '',
                container.rows_behind, _duration(t.lag_warning),
                _duration(t.lag_critical)))
    last = _last_activity(container)
    if last is None:
        add(WARNING, 'no pass recorded yet: is cloudsync-sync running on '
                     'this node?')
    else:
        stale = max(0.0, now - last)
        add(_level(stale, t.stale_warning, t.stale_critical),
            'no progress recorded for %s (warning at %s, critical at %s): '
            'is cloudsync-sync running on this node?' % (
                _duration(stale), _duration(t.stale_warning),
                _duration(t.stale_critical)))
    return problems


def evaluate(statuses, mappings, thresholds, now):
    """The :class:`Verdict` over ``statuses`` (from
    :func:`cloudsync.ops.status_report.collect`).

    :param mappings: ``{name: Mapping}`` of the configuration.
    """
    problems = []
    containers = rows_behind = failed_rows = 0
    lag = 0.0
    for status in statuses:
        mapping = mappings[status.name]
        if not status.containers:
            problems.append(Problem(
                WARNING, '%s %s/%s' % (status.name, status.account,
                                       status.container),
                'no pass recorded yet: is cloudsync-sync running on this '
                'node?'))
        for container in status.containers:
            containers += 1
            rows_behind += container.rows_behind or 0
            failed_rows += len(container.failed)
            # NOTE(cloudsync): as the thresholds: lag beyond copy_after,
            # which archive mappings wait for on purpose
            lag = max(lag, (container.lag or 0.0) - (mapping.copy_after or
                                                     0.0))
            problems.extend(check_container(mapping, container, thresholds,
                                            now))
    return Verdict(problems, len(statuses), containers, rows_behind,
                   failed_rows, lag, thresholds)
