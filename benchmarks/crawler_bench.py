#!/usr/bin/env python3
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
"""What the container crawler costs on a large container database.

A container database is grown to 10,000, 100,000 and 1,000,000 rows
(``--quick``: up to 100,000), rows inserted directly with Swift's
``ContainerBroker.merge_items`` in batches. At each size, a fresh process
makes one complete pass of the real crawler (``cloudsync.sync.crawler``:
``ContainerCrawler.crawl`` of the database, with its progress file in a
throwaway ``status_dir``) with a propagator that does nothing (every row
"unchanged"), and reports:

* rows/s: rows in the database divided by the pass's wall time;
* rows per CPU-second: rows divided by the CPU time (user and system) of
  the crawling process during the pass, which other jobs on a shared
  machine change far less than the wall time; the load average at the
  start and end of each pass is shown next to it;
* peak RSS of that process: ``VmHWM`` from ``/proc/self/status`` and
  ``ru_maxrss`` from ``getrusage``, plus the RSS before the pass (after
  the imports) to show what the pass itself added.

By default the database is one of 3 replicas (``--replicas``) and
``verification_slack`` is 0: the pass hands its third of the rows to the
propagator and verifies the other two thirds (one ``verify`` call per
``items_chunk`` rows), so every stage of a pass runs. No network, no
cluster: only the database, the progress file and the crawler.

Usage::

    python benchmarks/crawler_bench.py [--quick|--full] [--json FILE]
        [--compare CHECKOUT] [--db-dir DIR]

``--compare CHECKOUT`` also runs, pass for pass in the same run, the
crawler of another source tree (a checkout of the main branch, say: the
``cloudsync`` package of CHECKOUT, this benchmark's harness), alternating
which goes first. ``--db-dir DIR`` keeps the database in DIR and reuses it
on the next run (it is only grown).

The targets (not tests): at least 50,000 rows/s at 1,000,000 rows, and
peak RSS flat as rows grow, under 200 MB at 1,000,000 rows. With
``--profile N`` the pass at the largest size runs under cProfile and the
N entries of most internal time are printed (what limits the rate).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

if __package__ in (None, ''):
    sys.path.insert(0, os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))

from benchmarks import common  # noqa: E402

ACCOUNT = 'AUTH_bench'
CONTAINER = 'crawl'
SIZES = {
    'full': (10000, 100000, 1000000),
    'quick': (10000, 100000),
}
BUILD_BATCH = 10000
RSS_TARGET_MB = 200
RATE_TARGET = 50000

log = common.log

SWIFT_CONF = """\
[swift-hash]
swift_hash_path_prefix = bench
swift_hash_path_suffix = crawler

[storage-policy:0]
name = gold
default = yes
"""

CLOUDSYNC_CONF = """\
[DEFAULT]
devices = %(devices)s
swift_dir = %(swift_dir)s
bind_ip = 127.0.0.1
bind_port = 6201
mount_check = false
status_dir = %(status_dir)s
workers = %(workers)d
items_chunk = %(items_chunk)d
verification_slack = 0
log_file = %(log_file)s

[remote:nowhere]
# never contacted: the benchmark's propagator does nothing
provider = s3
endpoint = http://127.0.0.1:9
access_key = crawler-bench-access
secret_key = crawler-bench-secret-never-used

[mapping:bench]
account = %(account)s
container = %(container)s
remote = nowhere
bucket = bench
"""


def use_swift_dir(swift_dir):
    from swift.common import storage_policy
    from swift.common import utils
    utils.set_swift_dir(swift_dir)
    utils.validate_configuration()
    storage_policy.reload_storage_policies()


# -- building the database (a child process) ---------------------------------

def build(db_path, swift_dir, rows):
    """Grow the database at db_path to ``rows`` rows; print what it did."""
    use_swift_dir(swift_dir)
    from swift.common import utils
    from swift.container import backend

    broker = backend.ContainerBroker(db_path, account=ACCOUNT,
                                     container=CONTAINER)
    base = time.time() - 86400
    if not os.path.exists(db_path):
        os.makedirs(os.path.dirname(db_path), exist_ok=True)
        broker.initialize(utils.Timestamp(base).internal, 0)
    have = broker.get_max_row()
    t0 = time.monotonic()
    for start in range(max(have, 0), rows, BUILD_BATCH):
        items = []
        for i in range(start, min(rows, start + BUILD_BATCH)):
            ts = utils.Timestamp(base + i * 1e-5).internal
            items.append({
                'name': 'dir-%03d/object-%09d' % (i % 997, i),
                'created_at': ts, 'ctype_timestamp': ts,
                'meta_timestamp': ts, 'size': 4096,
                'content_type': 'application/octet-stream',
                'etag': '%032x' % i, 'deleted': 0,
                'storage_policy_index': 0})
        broker.merge_items(items)
    print(json.dumps({'rows': broker.get_max_row(),
                      'seconds': time.monotonic() - t0}))


# -- one crawl (a child process) ----------------------------------------------

class NoopPropagator(object):
    """Every row is already on the remote; nothing is ever sent."""

    def __init__(self, *args, **kwargs):
        self.handled = 0
        self.verified = 0

    def prepare(self):
        pass

    def handle(self, row, decision):
        self.handled += 1
        from cloudsync.sync import outcomes
        return outcomes.Outcome.UNCHANGED

    def verify(self, rows):
        self.verified += len(rows)
        return []


def make_crawler(config, propagator_factory):
    """The adapter between this benchmark and cloudsync.sync.crawler.

    :returns: a callable (db path, replicas, node index) -> what the pass
        did, as a dict.
    """
    from cloudsync.sync import crawler as crawler_mod

    crawler = crawler_mod.ContainerCrawler(
        config, internal_client=object(), my_ips=['127.0.0.1'],
        propagator_factory=propagator_factory)
    mapping = config.mappings[0]

    def crawl(db_path, replicas, node_index):
        db = crawler_mod.LocalDB(
            mapping=mapping, account=ACCOUNT, container=CONTAINER,
            db_account=ACCOUNT, db_container=CONTAINER, path=db_path,
            db_id=os.path.basename(db_path)[:-len('.db')],
            node_index=node_index, replicas=replicas)
        result = crawler.crawl(db)
        return {'scanned': result.scanned, 'handled': result.handled,
                'verified': result.verified, 'failed': result.failed,
                'rows_behind': result.rows_behind, 'error': result.error}

    return crawl


#: the environment variable naming the source tree whose crawler a child
#: runs (--compare); this one's by default
CODE_ENV = 'CLOUDSYNC_BENCH_CODE'


def use_code():
    """Import cloudsync from the tree in $CLOUDSYNC_BENCH_CODE, if set."""
    code = os.environ.get(CODE_ENV)
    if not code:
        return
    code = os.path.abspath(code)
    sys.path.insert(0, code)
    import cloudsync
    if not os.path.abspath(cloudsync.__file__).startswith(code + os.sep):
        raise RuntimeError('cloudsync is imported from %s, not from %s' % (
            cloudsync.__file__, code))


def crawl(conf_path, db_path, replicas, node_index, profile=0):
    """One full pass over db_path; print rows/s and peak RSS as JSON.

    :param profile: run the pass under cProfile and add its ``profile``
        entries of most internal time to the answer.
    """
    use_code()
    from cloudsync import concurrency
    concurrency.monkey_patch()
    from cloudsync import conf as conf_mod
    from cloudsync import local
    from cloudsync import log as log_mod

    config = conf_mod.load(['--config-file', conf_path])
    # as cloudsync-sync does: its INFO line per pass goes to log_file
    log_mod.setup(config.conf, secrets=config.secrets())
    local.use_swift_dir(config.conf.swift_dir)
    propagators = []

    def factory(*args, **kwargs):
        propagator = NoopPropagator(*args, **kwargs)
        propagators.append(propagator)
        return propagator

    run = make_crawler(config, factory)
    from swift.container import backend
    rows = backend.ContainerBroker(db_path).get_max_row()
    rss_before = common.vm_hwm_mib()
    profiler = None
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    load_before = os.getloadavg()[0]
    t0 = time.monotonic()
    cpu0 = time.process_time()
    done = run(db_path, replicas, node_index)
    cpu = time.process_time() - cpu0
    seconds = time.monotonic() - t0
    if profiler is not None:
        profiler.disable()
        done['profile'] = top_entries(profiler, profile)
    done.update({
        'rows': rows, 'seconds': seconds,
        'rows_per_second': rows / seconds if seconds else None,
        'cpu_seconds': cpu,
        'rows_per_cpu_second': rows / cpu if cpu else None,
        'load': [load_before, os.getloadavg()[0]],
        'peak_rss_mib': common.vm_hwm_mib(),
        'ru_maxrss_mib': common.peak_rss_mib(),
        'rss_before_pass_mib': rss_before,
        'propagator_handled': sum(p.handled for p in propagators),
        'propagator_verified': sum(p.verified for p in propagators),
    })
    print(json.dumps(done))


def top_entries(profiler, count):
    """The ``count`` functions of most internal time, as text lines."""
    import io
    import pstats
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats('tottime').print_stats(count)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines)
                  if line.strip().startswith('ncalls')), 0)
    return [line.replace(REPO_PREFIX, '') for line in lines[start:]
            if line.strip()]


REPO_PREFIX = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + \
    os.sep


# -- the parent ---------------------------------------------------------------

def child(args, timeout, code=None):
    """Run this script with args in a new process; its JSON answer.

    :param code: the source tree whose crawler it runs (this one's when
        None).
    """
    cmd = [sys.executable, os.path.abspath(__file__)] + args
    env = dict(os.environ)
    env.pop(CODE_ENV, None)
    if code:
        env[CODE_ENV] = code
    proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError('%s failed (exit %d):\n%s' % (
            ' '.join(args[:1]), proc.returncode, proc.stderr[-3000:]))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(args):
    sizes = args.sizes or SIZES[args.size]
    if args.db_dir:
        workdir = os.path.abspath(args.db_dir)
        os.makedirs(workdir, exist_ok=True)
    else:
        workdir = tempfile.mkdtemp(prefix='cloudsync-crawler-bench-',
                                   dir=args.work_dir)
    codes = [('this', None)]
    if args.compare:
        codes.append(('compare', os.path.abspath(args.compare)))
    try:
        swift_dir = os.path.join(workdir, 'etc')
        os.makedirs(swift_dir, exist_ok=True)
        with open(os.path.join(swift_dir, 'swift.conf'), 'w') as f:
            f.write(SWIFT_CONF)
        db_path = os.path.join(workdir, 'devices', 'sdb1', 'containers',
                               'bench', '%s.db' % CONTAINER)
        results = []
        for rows in sizes:
            log('growing the database to %d rows', rows)
            built = child(['build', db_path, swift_dir, str(rows)],
                          args.timeout)
            log('  %d rows in %.1fs', built['rows'], built['seconds'])
            if built['rows'] != rows:
                raise RuntimeError('the database has %d rows, not %d (a '
                                   'larger one in --db-dir?)' % (
                                       built['rows'], rows))
            for result in crawl_size(args, workdir, swift_dir, db_path,
                                     rows, codes, sizes):
                results.append(result)
        return results
    finally:
        if args.keep or args.db_dir:
            log('kept %s', workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def crawl_size(args, workdir, swift_dir, db_path, rows, codes, sizes):
    """The passes over ``rows`` rows of each crawler in ``codes``."""
    status_dir = os.path.join(workdir, 'status-%d' % rows)
    conf_path = os.path.join(workdir, 'cloudsync-%d.conf' % rows)
    with open(conf_path, 'w') as f:
        f.write(CLOUDSYNC_CONF % {
            'devices': os.path.join(workdir, 'devices'),
            'swift_dir': swift_dir, 'status_dir': status_dir,
            'workers': args.workers,
            'items_chunk': args.items_chunk,
            'log_file': os.path.join(workdir, 'crawl-%d.log' % rows),
            'account': ACCOUNT, 'container': CONTAINER})
    passes = {label: [] for label, _code in codes}
    for rnd in range(args.rounds):
        # NOTE: alternate which crawler goes first: the load moves
        order = codes if rnd % 2 == 0 else codes[::-1]
        for label, code in order:
            log('crawling %d rows (%s crawler, pass %d of %d)', rows,
                label, rnd + 1, args.rounds)
            shutil.rmtree(status_dir, ignore_errors=True)
            one = child(['crawl', conf_path, db_path, str(args.replicas),
                         '0'], args.timeout, code)
            if args.profile and rows == sizes[-1] and rnd == 0 and \
                    label == 'this':
                log('profiling one more pass over %d rows', rows)
                shutil.rmtree(status_dir, ignore_errors=True)
                profiled = child(['crawl', conf_path, db_path,
                                  str(args.replicas), '0',
                                  str(args.profile)], args.timeout)
                one['profile'] = profiled['profile']
                one['profiled_rows_per_second'] = \
                    profiled['rows_per_second']
            log('  %.0f rows/s, %.0f rows per CPU-second, load %.1f-%.1f, '
                'peak RSS %.1f MiB (%.1f MiB before the pass)',
                one['rows_per_second'] or 0, one['rows_per_cpu_second'] or 0,
                one['load'][0], one['load'][1], one['peak_rss_mib'] or 0,
                one['rss_before_pass_mib'] or 0)
            passes[label].append(one)
    shutil.rmtree(status_dir, ignore_errors=True)
    for label, _code in codes:
        # the median pass by time; the highest peak of them all
        done = sorted(passes[label], key=lambda r: r['seconds'])
        result = dict(done[len(done) // 2])
        for key in ('peak_rss_mib', 'ru_maxrss_mib'):
            result[key] = max(p[key] or 0 for p in done)
        result['code'] = label
        result['passes'] = done
        result['best_rows_per_second'] = max(
            p['rows_per_second'] or 0 for p in done)
        result['median_rows_per_cpu_second'] = sorted(
            p['rows_per_cpu_second'] or 0 for p in done)[len(done) // 2]
        result['db_mib'] = os.path.getsize(db_path) / common.MiB
        yield result


def report(args, results):
    rows = []
    for r in results:
        rows.append([r['code'], r['rows'], common.fmt(r['db_mib'], 0),
                     common.fmt(r['seconds'], 1),
                     common.fmt(r['rows_per_second'], 0),
                     common.fmt(r['best_rows_per_second'], 0),
                     common.fmt(r['median_rows_per_cpu_second'], 0),
                     '%.1f-%.1f' % tuple(r['load']),
                     common.fmt(r['rss_before_pass_mib'], 1),
                     common.fmt(r['peak_rss_mib'], 1),
                     common.fmt(r['ru_maxrss_mib'], 1),
                     r['handled'], r['verified'], r['error'] or 'ok'])
    lines = [
        'cloudsync crawler benchmark: %d CPUs; %d pass(es) per size, '
        'replica 1 of %d, workers %d, items_chunk %d, no-op propagator' % (
            os.cpu_count(), args.rounds, args.replicas, args.workers,
            args.items_chunk),
    ]
    if args.compare:
        lines.append('crawlers: "this" (this tree) and "compare" (%s), '
                     'passes alternated' % args.compare)
    lines += [
        '',
        common.format_table(
            ['crawler', 'rows', 'DB MiB', 'seconds', 'rows/s',
             'best rows/s', 'rows/CPU-s', 'load', 'RSS before',
             'peak RSS', 'ru_maxrss', 'handled', 'verified', 'result'],
            rows),
        '',
        '(RSS in MiB; rows/CPU-s: rows per CPU-second of the crawling '
        'process, the median pass; load: the 1-minute load average at the '
        'start and end of the median pass)',
    ]
    lines.extend(comparison_lines(results))
    mine = [r for r in results if r['code'] == 'this']
    if mine:
        lines.extend(target_lines(mine))
    print('\n'.join(lines))


def comparison_lines(results):
    by_size = {}
    for r in results:
        by_size.setdefault(r['rows'], {})[r['code']] = r
    lines = []
    for rows, both in sorted(by_size.items()):
        if len(both) < 2:
            continue
        this, other = both['this'], both['compare']
        lines.append('at %d rows, this crawler against the other: %sx '
                     'rows/s (median), %sx best rows/s, %sx rows per '
                     'CPU-second' % (
                         rows,
                         common.fmt(common.ratio(this['rows_per_second'],
                                                 other['rows_per_second'])),
                         common.fmt(common.ratio(
                             this['best_rows_per_second'],
                             other['best_rows_per_second'])),
                         common.fmt(common.ratio(
                             this['median_rows_per_cpu_second'],
                             other['median_rows_per_cpu_second']))))
    return lines


def target_lines(results):
    lines = []
    peaks = [r['peak_rss_mib'] for r in results]
    growth = peaks[-1] - peaks[0]
    top = results[-1]
    top_mb = top['peak_rss_mib'] * common.MiB / common.MB
    lines.append('peak RSS grew by %.1f MiB from %d to %d rows' % (
        growth, results[0]['rows'], top['rows']))
    verdict = 'met' if top_mb < RSS_TARGET_MB else 'NOT met'
    if top['rows'] < 1000000:
        verdict += ' (measured at %d rows only)' % top['rows']
    lines.append('target: under %d MB peak RSS at 1,000,000 rows: %.0f '
                 'MB at %d rows: %s' % (RSS_TARGET_MB, top_mb,
                                        top['rows'], verdict))
    for what, rate in (('rows/s', top['rows_per_second'] or 0),
                       ('rows per CPU-second',
                        top['median_rows_per_cpu_second'] or 0)):
        verdict = 'met' if rate >= RATE_TARGET else 'NOT met'
        if top['rows'] < 1000000:
            verdict += ' (measured at %d rows only)' % top['rows']
        lines.append('target: at least %d rows/s (skip and verify paths) '
                     'at 1,000,000 rows: %.0f %s at %d rows: %s' % (
                         RATE_TARGET, rate, what, top['rows'], verdict))
    if top.get('profile'):
        lines.append('')
        lines.append('profile of a pass over %d rows (cProfile, %.0f '
                     'rows/s under it), by internal time:' % (
                         top['rows'],
                         top.get('profiled_rows_per_second') or 0))
        lines.extend('  ' + line for line in top['profile'])
    return lines


def parse_args(argv):
    if argv and argv[0] in ('build', 'crawl'):
        return argv[0], argv[1:]
    parser = argparse.ArgumentParser(
        description='Rows/s and peak RSS of one crawler pass over container '
                    'databases of growing size.')
    size = parser.add_mutually_exclusive_group()
    size.add_argument('--quick', dest='size', action='store_const',
                      const='quick', help='10,000 and 100,000 rows')
    size.add_argument('--full', dest='size', action='store_const',
                      const='full',
                      help='10,000, 100,000 and 1,000,000 rows (default)')
    parser.set_defaults(size='full')
    parser.add_argument('--sizes', type=lambda v: [
        int(x) for x in v.split(',')],
        help='comma-separated row counts, ascending (overrides the size)')
    parser.add_argument('--replicas', type=int, default=3,
                        help='replicas of the database; this node is the '
                             'first (default 3; 1: every row is handled, '
                             'none verified)')
    parser.add_argument('--workers', type=int, default=10,
                        help='the daemon\'s workers (default 10)')
    parser.add_argument('--items-chunk', type=int, default=1000,
                        help='rows read at a time (default 1000)')
    parser.add_argument('--work-dir',
                        help='where the temporary database goes (default: '
                             'the system\'s temporary directory)')
    parser.add_argument('--db-dir',
                        help='keep the database (and progress, logs) in '
                             'this directory and reuse it next time')
    parser.add_argument('--compare', metavar='CHECKOUT',
                        help='also run the crawler of this source tree '
                             '(its cloudsync package), pass for pass')
    parser.add_argument('--keep', action='store_true',
                        help='keep the database and logs at the end')
    parser.add_argument('--rounds', type=int, default=1,
                        help='passes per size, each in a new process; the '
                             'median time and the highest peak RSS are '
                             'reported (default 1)')
    parser.add_argument('--timeout', type=float, default=3600.0,
                        help='seconds one build or crawl may take')
    parser.add_argument('--profile', type=int, default=0, metavar='N',
                        help='profile one more pass at the largest size and '
                             'print its N most costly functions')
    parser.add_argument('--json', metavar='FILE',
                        help='also write the results to FILE as JSON')
    args = parser.parse_args(argv)
    if args.sizes and args.sizes != sorted(args.sizes):
        parser.error('--sizes must be ascending')
    if min(args.replicas, args.workers, args.items_chunk, args.rounds) < 1:
        parser.error('--replicas, --workers, --items-chunk and --rounds '
                     'must be at least 1')
    return 'main', args


def main(argv=None):
    command, args = parse_args(sys.argv[1:] if argv is None else argv)
    if command == 'build':
        build(args[0], args[1], int(args[2]))
        return 0
    if command == 'crawl':
        crawl(args[0], args[1], int(args[2]), int(args[3]),
              int(args[4]) if len(args) > 4 else 0)
        return 0
    machine = common.machine_info()
    common.install_signal_handlers()
    try:
        results = run(args)
    except KeyboardInterrupt as exc:
        log('interrupted (%s)', exc or 'Ctrl-C')
        return 130
    report(args, results)
    if args.json:
        common.write_json(args.json, {
            'benchmark': 'crawler', 'machine': machine,
            'settings': {'replicas': args.replicas, 'workers': args.workers,
                         'rounds': args.rounds,
                         'items_chunk': args.items_chunk,
                         'rss_target_mb': RSS_TARGET_MB,
                         'rate_target': RATE_TARGET,
                         'compare': args.compare},
            'results': results})
        log('results written to %s', args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
