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
"""What cloudsync-sync costs in the steady state, next to rclone.

One command starts its own all-in-one (3 Swift nodes and moto) and
measures, side by side in one run:

``idle``
    the CPU time (user + system) of a ``cloudsync-sync --once`` pass that
    has nothing to do: process start-up, configuration, rings, one
    container database with no new row (median of ``--idle-runs`` per
    node).
``counts``
    the remote requests per synced change: N small objects are PUT into
    Swift, then PUT again (overwrite), POSTed (new metadata) and DELETEd;
    after each step the 3 daemons make one ``--once`` pass each and the S3
    requests moto logged for the bucket are divided by N. Verification of
    the other replicas' rows is put off (``verification_slack``). The same
    again for a mapping with ``remote_writers = true``, which reads the
    copy before a change as every mapping did before that option.
``incremental``
    a container of ``--container-objects`` small objects already synced
    (by running daemons, and by an untimed ``rclone sync`` into a bucket
    of its own), then ``--new`` new, ``--changed`` POSTed and
    ``--deleted`` deleted objects: the time until the remote matches, for
    the 3 running daemons (from the end of the writes until HEADs of the
    changed keys all show the change) and for one ``rclone sync`` of the
    container (Debian's rclone, flags in :data:`RCLONE_FLAGS`). rclone
    copies no Swift metadata, so its bucket "matches" in names, sizes and
    MD5s only: the POSTs cost it nothing.
``lag``
    the running daemons while a writer PUTs small objects into a second
    mapped container at ``--rate`` objects/s for ``--duration`` seconds:
    PUT-to-remote-visible lag (Swift's answer to the PUT until the key is
    in the bucket's listing, polled every ``--probe-interval`` seconds)
    p50, p99 and max, and the backlog (PUT but not visible) over time,
    drawn as ``cloudsync-status --plot`` draws it
    (:mod:`cloudsync.ops.status_plot`) and as a line of text.

The daemons' CPU seconds per 1,000 changes and their remote requests per
change are printed for the incremental and the lag phases (the benchmark's
own HEADs and listings are subtracted from moto's log).

``--baseline-checkout DIR`` runs the incremental and lag phases twice in
the same all-in-one: first with the daemon of the cloudsync checkout DIR
(a ``git worktree`` of main, say; run by this interpreter with DIR first
on its path), then with this one, which takes the synced container up
where the first stopped (the same status directories and bucket; changes
and lag container of its own). The table then has a row per variant and
the ratio of their CPU per change.

Usage::

    python benchmarks/steady_bench.py [--quick] [--phases idle,counts,...]
        [--baseline-checkout DIR]

It prints every measure with its goal and whether it was met; it asserts
nothing. The machine's cores are shared by Swift, moto, the daemons,
rclone and the benchmark itself: compare within one run.
"""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from benchmarks import common  # noqa: E402
from benchmarks.common import log  # noqa: E402

ACCOUNT = 'AUTH_test'
USER = 'test:tester'
KEY = 'testing'
COUNTS_CONTAINER = 'steady'
COUNTS_BUCKET = 'steady-bench'
SHARED_CONTAINER = 'steady-shared'
SHARED_BUCKET = 'steady-shared'
INC_CONTAINER = 'steady-inc'
INC_BUCKET = 'steady-inc'
RCLONE_BUCKET = 'steady-rclone'
LAG_CONTAINER = 'steady-lag'
LAG_BUCKET = 'steady-lag'
OBJECT_SIZE = 1024
PHASES = ('idle', 'counts', 'incremental', 'lag')

IDLE_GOAL = 0.5
GOALS = {'PUT': 1.05, 'OVERWRITE': 2.0, 'POST': 1.0, 'DELETE': 1.0}
#: cloudsync's incremental pass at least this many times faster
RCLONE_GOAL = 20.0
#: lag p99 at most poll_interval + this
LAG_SLACK = 2.0
#: rclone's best flags found for an incremental sync of small objects:
#: copy what is newer in Swift than its copy was uploaded (the times both
#: listings carry: ``--checksum`` made rclone 1.60 HEAD every Swift
#: object, 14 times slower here; ``--size-only`` was faster still but
#: misses a change that keeps the size), list the bucket in one recursive
#: walk, no bucket check, no HEAD after each upload
RCLONE_FLAGS = ('--update', '--use-server-modtime', '--fast-list',
                '--s3-no-check-bucket', '--s3-no-head')
#: the terminal colours werkzeug gives the lines of answers other than 2xx
COLOURS = re.compile(r'\x1b\[[0-9;]*m')
SIZES = {
    'full': dict(objects=200, idle_runs=5, container_objects=20000,
                 rate=50.0, duration=60.0),
    'quick': dict(objects=50, idle_runs=2, container_objects=2000,
                  rate=20.0, duration=20.0),
}


def command():
    script = os.path.join(os.path.dirname(sys.executable), 'cloudsync-sync')
    if os.access(script, os.X_OK):
        return [script]
    return [sys.executable, '-m', 'cloudsync.cmd.sync']


def daemon_command(checkout):
    """The daemon's command, environment and working directory: this
    installation's, or (``checkout``) the one of another checkout, with
    this interpreter (``python -m`` looks in its working directory first).
    """
    if not checkout:
        return command(), None, None
    checkout = os.path.abspath(checkout)
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [checkout] +
        [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    return [sys.executable, '-m', 'cloudsync.cmd.sync'], env, checkout


def check_checkout(checkout):
    """The path of the ``cloudsync`` package ``checkout`` runs."""
    _cmd, env, cwd = daemon_command(checkout)
    out = subprocess.run(
        [sys.executable, '-m', 'cloudsync.cmd.sync', '--help'],
        env=env, stdout=subprocess.DEVNULL, check=True, cwd=cwd)
    out = subprocess.run(
        [sys.executable, '-c', 'import cloudsync; print(cloudsync.__file__)'],
        env=env, stdout=subprocess.PIPE, check=True, cwd=cwd)
    path = out.stdout.decode().strip()
    if not path.startswith(os.path.abspath(checkout)):
        raise SystemExit('%s does not run its own cloudsync (%s)' % (
            checkout, path))
    return path


def write_confs(cluster, workdir, mappings, **options):
    """One configuration per node with ``mappings`` (``{name: options}``).

    The mappings have ``remote_writers = false`` unless they say otherwise:
    nothing but the benchmark's daemons writes their buckets.
    """
    mappings = {name: dict({'remote_writers': 'false'}, **values)
                for name, values in mappings.items()}
    aio_cloudsync = common.import_aio_cloudsync()
    state = cluster.state
    remotes = {'moto': aio_cloudsync.remote(state, addressing_style='path')}
    os.makedirs(workdir, exist_ok=True)
    paths = []
    for node in state['nodes']:
        found = aio_cloudsync.node_options(node, workdir)
        found.update(log_file=os.path.join(workdir, 'node%d.log'
                                           % node['index']))
        found.update(options)
        paths.append(aio_cloudsync.write_conf(
            os.path.join(workdir, 'node%d.conf' % node['index']), state,
            mappings, remotes, **found))
    return paths


def variant_suffix(name):
    """What the lag container and bucket of a variant end with."""
    return '' if name == 'this' else '-' + name


def one_pass(conf):
    """Run one ``--once`` pass; its CPU seconds (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(command() + ['--config-file', conf, '--once'],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError('cloudsync-sync exited %d: %s' % (
            proc.returncode, proc.stdout.decode('utf-8', 'replace')[-2000:]))
    return (after.ru_utime - before.ru_utime +
            after.ru_stime - before.ru_stime)


class RequestLog(object):
    """The S3 requests moto logged for one bucket since the last look."""

    def __init__(self, path, bucket):
        self.path = path
        self.bucket = bucket
        self.offset = os.path.getsize(path)

    def since(self):
        """``{'METHOD status': count}``."""
        time.sleep(0.5)
        counts = {}
        with open(self.path, 'rb') as f:
            f.seek(self.offset)
            data = f.read()
            self.offset = f.tell()
        for line in data.decode('utf-8', 'replace').splitlines():
            line = COLOURS.sub('', line)
            for method in ('GET', 'HEAD', 'PUT', 'POST', 'DELETE'):
                if any('"%s /%s%s' % (method, self.bucket, end) in line
                       for end in '/? '):
                    status = line.rsplit('"', 1)[-1].split()
                    label = '%s %s' % (method, status[0] if status else '?')
                    counts[label] = counts.get(label, 0) + 1
        return counts


def subtract(counts, method, number):
    """``counts`` less ``number`` requests of ``method`` (any status)."""
    left = dict(counts)
    for label in sorted(left):
        if number <= 0:
            break
        if label.split()[0] == method:
            taken = min(number, left[label])
            left[label] -= taken
            number -= taken
    return {k: v for k, v in left.items() if v}


def session_cpu(sid):
    """CPU seconds (user + system) of every live process of session
    ``sid`` (a daemon started as a session leader, and its children).
    """
    ticks = os.sysconf('SC_CLK_TCK')
    total = 0
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state (field 3): the session is field 6, user
        # and system time fields 14 and 15
        if int(fields[3]) == sid:
            total += int(fields[11]) + int(fields[12])
    return total / float(ticks)


def percentile(values, share):
    if not values:
        return None
    ordered = sorted(values)
    index = int(round(share * (len(ordered) - 1)))
    return ordered[min(len(ordered) - 1, max(0, index))]


def sparkline(values, width=60):
    """``values`` as one line of block characters (resampled)."""
    if not values:
        return ''
    blocks = ' \u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588'
    if len(values) > width:
        step = len(values) / float(width)
        values = [max(values[int(i * step):int((i + 1) * step)] or [0])
                  for i in range(width)]
    peak = max(values) or 1
    return ''.join(blocks[min(8, int(round(8.0 * v / peak)))]
                   for v in values)


def slope(points):
    """Least-squares slope of ``[(x, y)]``."""
    if len(points) < 2:
        return 0.0
    mx = statistics.mean(p[0] for p in points)
    my = statistics.mean(p[1] for p in points)
    den = sum((p[0] - mx) ** 2 for p in points)
    if not den:
        return 0.0
    return sum((p[0] - mx) * (p[1] - my) for p in points) / den


class Bench(object):

    def __init__(self, cluster, args, workdir):
        self.cluster = cluster
        self.state = cluster.state
        self.args = args
        self.workdir = workdir
        self.children = common.Children()
        self.s3 = common.s3_client(
            self.state['moto_endpoint'], self.state['moto_access_key'],
            self.state['moto_secret_key'], self.state['moto_region'],
            max_connections=16)
        self._local = threading.local()
        self.daemons = []
        self.results = {}

    def swift(self):
        conn = getattr(self._local, 'swift', None)
        if conn is None:
            conn = self.cluster.swift_client(USER, KEY, retries=3,
                                             timeout=120)
            self._local.swift = conn
        return conn

    def moto_log(self, bucket):
        return RequestLog(self.cluster.log_path('moto'), bucket)

    def key_of(self, container, name):
        from cloudsync import layout
        return layout.RemoteLayout(ACCOUNT, container).object_key(name)

    # -- idle and per-change counts (--once passes) -------------------------

    def idle_and_counts(self, phases):
        confs = self.once_confs('once', COUNTS_CONTAINER, COUNTS_BUCKET)
        if 'idle' in phases:
            idle = []
            for _ in range(self.args.idle_runs):
                idle.extend(one_pass(conf) for conf in confs)
            self.results['idle'] = (statistics.median(idle), len(idle))
            log('idle pass: %.2f s of CPU (median of %d)',
                self.results['idle'][0], len(idle))
        if 'counts' not in phases:
            return
        self.results['counts'] = self.counts(confs, COUNTS_CONTAINER,
                                             COUNTS_BUCKET)
        # NOTE: the same with remote_writers = true: the copy is read
        # before a change, as every change was before the option existed.
        confs = self.once_confs('once-shared', SHARED_CONTAINER,
                                SHARED_BUCKET, remote_writers='true')
        self.results['counts_shared'] = self.counts(
            confs, SHARED_CONTAINER, SHARED_BUCKET)

    def once_confs(self, tag, container, bucket, **mapping):
        """Configurations of ``--once`` passes over ``container``, each
        run once (so that their progress begins before any object).
        """
        self.swift().put_container(container)
        self.s3.create_bucket(Bucket=bucket)
        mapping.update(container=container, bucket=bucket)
        confs = write_confs(
            self.cluster, os.path.join(self.workdir, tag),
            {'steady': mapping}, workers=self.args.workers,
            verification_slack=86400)
        for conf in confs:
            one_pass(conf)
        return confs

    def counts(self, confs, container, bucket):
        requests = self.moto_log(bucket)
        names = ['obj-%05d' % i for i in range(self.args.objects)]
        per_change = {}
        steps = (
            ('PUT', lambda n: self.swift().put_object(
                container, n, b'x' * OBJECT_SIZE)),
            ('OVERWRITE', lambda n: self.swift().put_object(
                container, n, b'y' * OBJECT_SIZE)),
            ('POST', lambda n: self.swift().post_object(
                container, n, {'X-Object-Meta-Color': 'blue'})),
            ('DELETE', lambda n: self.swift().delete_object(
                container, n)),
        )
        for method, change in steps:
            common.pool_map(change, names, 8)
            requests.since()
            for conf in confs:
                one_pass(conf)
            counts = requests.since()
            total = sum(counts.values())
            per_change[method] = (total / float(len(names)), counts)
            log('%s: %d S3 requests for %d changes: %s', method, total,
                len(names), counts)
        return per_change

    # -- running daemons -----------------------------------------------------

    def start_daemons(self, variant):
        """Start the 3 daemons of ``variant`` (name, checkout or None).

        Every variant keeps its progress in the same status directories
        and syncs the incremental container into the same bucket: the
        next one takes up where the last one stopped. Each has a lag
        container and bucket of its own.
        """
        name, checkout = variant
        self.lag_container = LAG_CONTAINER + variant_suffix(name)
        self.lag_bucket = LAG_BUCKET + variant_suffix(name)
        swift = self.swift()
        swift.put_container(INC_CONTAINER)
        swift.put_container(self.lag_container)
        for bucket in (INC_BUCKET, self.lag_bucket, RCLONE_BUCKET):
            self.s3.create_bucket(Bucket=bucket)
        confs = write_confs(
            self.cluster, os.path.join(self.workdir, 'daemons'),
            {'inc': {'container': INC_CONTAINER, 'bucket': INC_BUCKET},
             'lag': {'container': self.lag_container,
                     'bucket': self.lag_bucket}},
            workers=self.args.workers,
            poll_interval=self.args.poll_interval)
        cmd, env, cwd = daemon_command(checkout)
        for conf in confs:
            out = open(conf[:-len('.conf')] + '.out', 'ab')
            try:
                self.daemons.append(self.children.popen(
                    cmd + ['--config-file', conf], stdout=out,
                    stderr=subprocess.STDOUT, env=env, cwd=cwd))
            finally:
                out.close()
        log('started %d daemons of %s (poll_interval %ss, workers %d)',
            len(self.daemons), name, self.args.poll_interval,
            self.args.workers)

    def daemon_cpu(self):
        for proc in self.daemons:
            if proc.poll() is not None:
                raise RuntimeError('a daemon exited with %s; see %s' % (
                    proc.returncode, os.path.join(self.workdir, 'daemons')))
        return sum(session_cpu(proc.pid) for proc in self.daemons)

    def stop_daemons(self):
        for proc in self.daemons:
            self.children.stop(proc)
        self.daemons = []

    def steady(self, variants):
        """The incremental and lag phases of each variant, in turn."""
        for number, (name, checkout) in enumerate(variants):
            self.start_daemons((name, checkout))
            found = self.results.setdefault(name, {})
            try:
                if 'incremental' in self.args.phases:
                    found['incremental'] = self.incremental(number, name)
                if 'lag' in self.args.phases:
                    found['lag'] = self.lag()
            finally:
                self.stop_daemons()

    # -- the incremental pass ------------------------------------------------

    def fill(self, count):
        log('uploading %d objects of %d bytes into %s (not timed)', count,
            OBJECT_SIZE, INC_CONTAINER)
        t0 = time.monotonic()
        common.pool_map(
            lambda i: self.swift().put_object(
                INC_CONTAINER, 'obj-%06d' % i, os.urandom(OBJECT_SIZE)),
            range(count), 8)
        log('uploaded in %.0fs (%.0f PUT/s)', time.monotonic() - t0,
            count / (time.monotonic() - t0))

    def count_keys(self, bucket):
        return sum(page.get('KeyCount', 0) for page in
                   self.s3.get_paginator('list_objects_v2').paginate(
                       Bucket=bucket))

    def wait_synced(self, count, timeout):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            have = self.count_keys(INC_BUCKET)
            if have == count:
                return time.monotonic() - t0
            time.sleep(2)
        raise RuntimeError('the daemons synced only %d of %d objects in %ds'
                           % (have, count, timeout))

    def rclone_sync(self, tag):
        conf = common.write_rclone_conf(
            os.path.join(self.workdir, 'rclone.conf'), self.state, USER, KEY)
        cmd = [self.args.rclone, '--config', conf, 'sync',
               'swift:%s' % INC_CONTAINER, 's3:%s' % RCLONE_BUCKET,
               '--transfers', str(self.args.workers),
               '--checkers', str(2 * self.args.workers),
               '--log-level', 'NOTICE', '--stats', '0'] + list(RCLONE_FLAGS)
        out_path = os.path.join(self.workdir, 'rclone-%s.log' % tag)
        with open(out_path, 'wb') as out:
            t0 = time.monotonic()
            proc = self.children.popen(cmd, stdout=out,
                                       stderr=subprocess.STDOUT,
                                       env=common.rclone_env())
            codes = self.children.wait_all([proc], self.args.timeout)
            seconds = time.monotonic() - t0
        if codes is None or codes[0]:
            with open(out_path, errors='replace') as f:
                tail = ' | '.join(f.read().strip().splitlines()[-2:])
            raise RuntimeError('rclone sync failed (%s): %s' % (codes, tail))
        return seconds

    def rclone_matches(self):
        _h, listing = self.swift().get_container(INC_CONTAINER,
                                                 full_listing=True)
        want = {e['name']: (e['bytes'], e['hash']) for e in listing}
        return common.list_bucket(self.s3, RCLONE_BUCKET) == want

    def object_count(self):
        headers = self.swift().head_container(INC_CONTAINER)
        return int(headers['x-container-object-count'])

    def incremental(self, round_number, tag):
        """The incremental pass of the ``round_number``-th variant (from
        0); the first one fills the container and syncs it, the others
        take the same container up where the last one left it.
        """
        args = self.args
        if round_number == 0:
            self.fill(args.container_objects)
        count = self.object_count()
        wait = self.wait_synced(count, args.timeout)
        log('the daemons synced %d objects in %.0fs of running (not timed)',
            count, wait)
        rclone_initial = None
        if args.rclone and round_number == 0:
            rclone_initial = self.rclone_sync('initial')
            log('rclone initial sync: %.0fs (not timed)', rclone_initial)
        # NOTE: the daemons' first verification of the other replicas'
        # rows waits verification_slack; give them a few polls first.
        time.sleep(3 * args.poll_interval + 1)

        # NOTE: each variant changes objects of its own: other POSTs and
        # DELETEs, new names.
        existing = ['obj-%06d' % i for i in range(args.container_objects)]
        first, end = round_number * args.changed, len(existing)
        posted = existing[first:first + args.changed]
        end -= round_number * args.deleted
        deleted = existing[end - args.deleted:end] if args.deleted else []
        new = ['new-%s-%06d' % (tag, i) for i in range(args.new)]
        requests = self.moto_log(INC_BUCKET)
        cpu0 = self.daemon_cpu()
        t0 = time.monotonic()
        work = ([('PUT', n) for n in new] + [('POST', n) for n in posted] +
                [('DELETE', n) for n in deleted])

        def change(item):
            method, name = item
            if method == 'PUT':
                self.swift().put_object(INC_CONTAINER, name,
                                        os.urandom(OBJECT_SIZE))
            elif method == 'POST':
                self.swift().post_object(INC_CONTAINER, name,
                                         {'X-Object-Meta-Color': 'blue'})
            else:
                self.swift().delete_object(INC_CONTAINER, name)

        common.pool_map(change, work, 8)
        written = time.monotonic()
        probes, matched = self.probe_until_matched(work, args.timeout)
        cpu = self.daemon_cpu() - cpu0
        counts = subtract(requests.since(), 'HEAD', probes)
        result = dict(
            changes=len(work), write_seconds=written - t0,
            cloudsync_seconds=matched - written,
            cloudsync_from_first_write=matched - t0,
            requests=counts, cpu=cpu, rclone_initial=rclone_initial)
        log('cloudsync: remote matched %.2fs after the writes ended '
            '(%.2fs after they began); %s', result['cloudsync_seconds'],
            result['cloudsync_from_first_write'], counts)
        if args.rclone:
            result['rclone_seconds'] = self.rclone_sync('incremental-' + tag)
            result['rclone_verified'] = self.rclone_matches()
            log('rclone sync: %.2fs (bucket matches: %s)',
                result['rclone_seconds'], result['rclone_verified'])
        return result

    def probe_until_matched(self, work, timeout):
        """HEAD the changed keys until each shows its change.

        :returns: (HEAD requests sent, monotonic time of the match)
        """
        from botocore import exceptions as boto_exc
        pending = dict((self.key_of(INC_CONTAINER, name), method)
                       for method, name in work)
        sent = [0]
        lock = threading.Lock()

        def done(key):
            with lock:
                sent[0] += 1
            try:
                head = self.s3.head_object(Bucket=INC_BUCKET, Key=key)
            except boto_exc.ClientError:
                return pending[key] == 'DELETE'
            if pending[key] == 'DELETE':
                return False
            if pending[key] == 'POST':
                return 'blue' in head.get('Metadata', {}).values()
            return True

        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            keys = list(pending)
            for key, ok in zip(keys, common.pool_map(done, keys, 8)):
                if ok:
                    del pending[key]
            if pending:
                time.sleep(self.args.probe_interval)
        if pending:
            raise RuntimeError('%d changes not on the remote after %ds' % (
                len(pending), timeout))
        return sent[0], time.monotonic()

    # -- lag under load -------------------------------------------------------

    def lag(self):
        args = self.args
        total = int(args.rate * args.duration)
        names = ['lag-%06d' % i for i in range(total)]
        keys = [self.key_of(self.lag_container, n) for n in names]
        index_of = dict((k, i) for i, k in enumerate(keys))
        done_at = [None] * total
        seen_at = [None] * total
        counter = [0]
        lock = threading.Lock()
        requests = self.moto_log(self.lag_bucket)
        cpu0 = self.daemon_cpu()
        t0 = time.monotonic() + 0.5

        def writer():
            while True:
                with lock:
                    i = counter[0]
                    counter[0] += 1
                if i >= total:
                    return
                wait = t0 + i / args.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self.swift().put_object(self.lag_container, names[i],
                                        os.urandom(OBJECT_SIZE))
                done_at[i] = time.monotonic()

        threads = [threading.Thread(target=writer, daemon=True)
                   for _ in range(args.writers)]
        for thread in threads:
            thread.start()
        samples = []
        listings = 0
        frontier = 0
        deadline = t0 + args.duration + args.timeout
        log('writing %d objects at %.0f/s for %.0fs into %s', total,
            args.rate, args.duration, self.lag_container)
        while time.monotonic() < deadline:
            start_after = keys[frontier - 1] if frontier else ''
            token = None
            while True:
                params = dict(Bucket=self.lag_bucket, StartAfter=start_after)
                if token:
                    params['ContinuationToken'] = token
                page = self.s3.list_objects_v2(**params)
                listings += 1
                now = time.monotonic()
                for item in page.get('Contents', ()):
                    i = index_of.get(item['Key'])
                    if i is not None and seen_at[i] is None:
                        seen_at[i] = now
                token = page.get('NextContinuationToken')
                if not page.get('IsTruncated'):
                    break
            while frontier < total and seen_at[frontier] is not None:
                frontier += 1
            now = time.monotonic()
            put = [i for i in range(total) if done_at[i] is not None]
            behind = [i for i in put if seen_at[i] is None]
            oldest = min((done_at[i] for i in behind), default=now)
            samples.append((now - t0, len(behind), now - oldest))
            if frontier >= total:
                break
            time.sleep(args.probe_interval)
        for thread in threads:
            thread.join(1)
        cpu = self.daemon_cpu() - cpu0
        counts = subtract(requests.since(), 'GET', listings)
        lags = [seen_at[i] - done_at[i] for i in range(total)
                if seen_at[i] is not None and done_at[i] is not None]
        finished = [d for d in done_at if d is not None]
        achieved = (len(finished) / (max(finished) - t0)
                    if finished else 0.0)
        during = [(t, b) for t, b, _l in samples
                  if 5.0 <= t <= args.duration]
        growth = slope(during) * args.duration
        result = dict(
            objects=total, visible=len(lags), achieved_rate=achieved,
            p50=percentile(lags, 0.5), p99=percentile(lags, 0.99),
            max=max(lags) if lags else None, samples=samples,
            growth=growth, requests=counts, cpu=cpu)
        result['plot'] = self.plot(samples)
        log('lag: p50 %s p99 %s max %s; backlog growth over the run %.1f',
            *(common.fmt(result[k]) for k in ('p50', 'p99', 'max')), growth)
        return result

    def plot(self, samples):
        from cloudsync.ops import status_plot
        now = time.time()
        base = now - samples[-1][0] if samples else now
        series = [('%s (measured)' % self.lag_container,
                   [(base + t, b, lag) for t, b, lag in samples])]
        path = self.args.plot
        if self.lag_container != LAG_CONTAINER:
            root, ext = os.path.splitext(path)
            path = root + self.lag_container[len(LAG_CONTAINER):] + ext
        try:
            status_plot.write(path, series, now=now)
            return path
        except (OSError, AttributeError) as exc:
            log('could not draw %s: %s', path, exc)
            return None


# -- reporting ---------------------------------------------------------------

def met(ok):
    return 'met' if ok else 'NOT met'


def report(results, args):
    print('cloudsync steady state: 3 nodes, moto; poll_interval %ss, '
          'workers %d; %d cores shared with everything else on the '
          'machine (load at start %s)' % (
              args.poll_interval, args.workers, os.cpu_count(),
              ' '.join('%.2f' % x for x in os.getloadavg())))
    print()
    rows = []
    if 'idle' in results:
        idle, runs = results['idle']
        rows.append(('idle --once pass, CPU s (median of %d)' % runs,
                     '%.2f' % idle, 'under %.1f' % IDLE_GOAL,
                     met(idle < IDLE_GOAL)))
    shared = results.get('counts_shared', {})
    for method, (ratio, _c) in results.get('counts', {}).items():
        rows.append(('S3 requests per %s (%d objects)' % (
            method, args.objects), '%.2f' % ratio,
            'at most %.2f' % GOALS[method], met(ratio <= GOALS[method])))
        if method in shared:
            rows.append(('  the same, remote_writers = true',
                         '%.2f' % shared[method][0], '', ''))
    for name, _checkout in args.variants:
        rows += variant_rows(name, results.get(name, {}), args)
    rows += comparison_rows(results, args)
    print(common.format_table(('measure', 'value', 'goal', 'status'), rows))
    print()
    for label, key in (('', 'counts'),
                       (' (remote_writers = true)', 'counts_shared')):
        for method, (_ratio, counts) in results.get(key, {}).items():
            print('  %s%s: %s' % (method, label, ', '.join(
                '%s %d' % kv for kv in sorted(counts.items())) or 'none'))
    for name, _checkout in args.variants:
        variant_notes(name, results.get(name, {}), args)


def variant_rows(name, results, args):
    """The table's rows of one variant's incremental and lag phases."""
    rows = []
    prefix = '[%s] ' % name if len(args.variants) > 1 else ''
    inc = results.get('incremental')
    if inc:
        rows.append((prefix + 'incremental: cloudsync daemons, s (after '
                     'writes)', '%.2f' % inc['cloudsync_seconds'], '', ''))
        if inc.get('rclone_seconds'):
            rows.append((prefix + 'incremental: rclone sync, s',
                         '%.2f' % inc['rclone_seconds'], '', ''))
            speedup = speedup_of(inc)
            rows.append((prefix + 'incremental: cloudsync faster than '
                         'rclone', '%.1fx' % speedup,
                         'at least %.0fx' % RCLONE_GOAL,
                         met(speedup >= RCLONE_GOAL)))
        rows.append((prefix + 'incremental: S3 requests per change',
                     '%.2f' % (sum(inc['requests'].values()) /
                               inc['changes']), '', ''))
        rows.append((prefix + 'incremental: daemon CPU s per 1,000 changes',
                     '%.1f' % cpu_per_1000(inc), '', ''))
    lag = results.get('lag')
    if lag:
        goal = args.poll_interval + LAG_SLACK
        rows.append((prefix + 'lag: PUT to remote-visible p50, s',
                     common.fmt(lag['p50']), '', ''))
        rows.append((prefix + 'lag: p99, s', common.fmt(lag['p99']),
                     'at most %.1f' % goal,
                     met(lag['p99'] is not None and lag['p99'] <= goal and
                         lag['visible'] == lag['objects'])))
        rows.append((prefix + 'lag: max, s', common.fmt(lag['max']), '',
                     ''))
        rows.append((prefix + 'lag: backlog growth over the run, objects',
                     '%.1f' % lag['growth'],
                     'under %.0f (1 s of writes)' % args.rate,
                     met(lag['growth'] < args.rate)))
        rows.append((prefix + 'lag: S3 requests per PUT',
                     '%.2f' % (sum(lag['requests'].values()) /
                               float(max(1, lag['objects']))), '', ''))
        rows.append((prefix + 'lag: daemon CPU s per 1,000 changes',
                     '%.1f' % cpu_per_1000(lag), '', ''))
    return rows


def speedup_of(inc):
    return inc['rclone_seconds'] / max(inc['cloudsync_seconds'], 0.01)


def cpu_per_1000(phase):
    return phase['cpu'] * 1000.0 / max(1, phase.get('changes',
                                                    phase.get('objects')))


def comparison_rows(results, args):
    """This checkout against the baseline's, measured in the same run:
    CPU per 1,000 changes at most the baseline's.
    """
    if len(args.variants) < 2:
        return []
    base = results.get(args.variants[0][0], {})
    this = results.get(args.variants[-1][0], {})
    rows = []
    for phase in ('incremental', 'lag'):
        if phase in base and phase in this:
            ratio = cpu_per_1000(this[phase]) / max(
                cpu_per_1000(base[phase]), 1e-6)
            rows.append(('%s: daemon CPU per change, this / %s' % (
                phase, args.variants[0][0]), '%.2f' % ratio, 'at most 1.00',
                met(ratio <= 1.0)))
    if 'incremental' in base and 'incremental' in this and \
            base['incremental'].get('rclone_seconds') and \
            this['incremental'].get('rclone_seconds'):
        rows.append(('incremental: speedup vs rclone, this / %s' %
                     args.variants[0][0], '%.2f' % (
                         speedup_of(this['incremental']) /
                         speedup_of(base['incremental'])), '', ''))
    return rows


def variant_notes(name, results, args):
    """The lines under the table about one variant's phases."""
    prefix = '[%s] ' % name if len(args.variants) > 1 else ''
    inc = results.get('incremental')
    if inc:
        print('  %sincremental: %d changes (%d new, %d POST, %d DELETE) in '
              'a container of about %d objects; writes took %.2fs; '
              'cloudsync %.2fs after the first write' % (
                  prefix, inc['changes'], args.new, args.changed,
                  args.deleted, args.container_objects,
                  inc['write_seconds'], inc['cloudsync_from_first_write']))
        print('  %sincremental S3 requests of the daemons: %s' % (
            prefix, ', '.join('%s %d' % kv
                              for kv in sorted(inc['requests'].items()))))
        if inc.get('rclone_seconds'):
            print('  %srclone: %s sync %s --transfers %d --checkers %d; '
                  'initial sync %.0fs (not timed); bucket matches after: '
                  '%s; rclone copies no Swift metadata (the POSTs cost it '
                  'nothing)' % (prefix, args.rclone_version,
                                ' '.join(RCLONE_FLAGS), args.workers,
                                2 * args.workers,
                                inc['rclone_initial'] or 0,
                                inc['rclone_verified']))
    lag = results.get('lag')
    if lag:
        print('  %slag: %d objects at %.0f/s asked, %.1f/s achieved, for '
              '%.0fs; %d visible' % (prefix, lag['objects'], args.rate,
                                     lag['achieved_rate'], args.duration,
                                     lag['visible']))
        print('  %slag S3 requests of the daemons: %s' % (prefix, ', '.join(
            '%s %d' % kv for kv in sorted(lag['requests'].items()))))
        backlog = [b for _t, b, _l in lag['samples']]
        print('  %sbacklog over time (peak %d): |%s|' % (
            prefix, max(backlog or [0]), sparkline(backlog)))
        if lag.get('plot'):
            print('  %splot (as cloudsync-status --plot draws it): %s'
                  % (prefix, lag['plot']))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='smaller sizes: %s' % SIZES['quick'])
    parser.add_argument('--phases', default=','.join(PHASES),
                        help='comma-separated: %s' % ','.join(PHASES))
    parser.add_argument('--objects', type=int,
                        help='objects of the per-change counts')
    parser.add_argument('--idle-runs', type=int,
                        help='idle passes per node')
    parser.add_argument('--container-objects', type=int,
                        help='objects already synced before the '
                             'incremental pass (default 20000)')
    parser.add_argument('--new', type=int, default=100)
    parser.add_argument('--changed', type=int, default=20)
    parser.add_argument('--deleted', type=int, default=20)
    parser.add_argument('--rate', type=float,
                        help='objects/s of the lag writer (default 50)')
    parser.add_argument('--duration', type=float,
                        help='seconds of the lag writer (default 60)')
    parser.add_argument('--writers', type=int, default=8,
                        help='threads of the lag writer')
    parser.add_argument('--poll-interval', type=float, default=1.0,
                        help='the daemons\' poll_interval (default 1)')
    parser.add_argument('--workers', type=int, default=8,
                        help='the daemons\' workers, rclone --transfers')
    parser.add_argument('--probe-interval', type=float, default=0.2,
                        help='seconds between looks at the remote')
    parser.add_argument('--timeout', type=float, default=900)
    parser.add_argument('--plot', default=os.path.join(
        tempfile.gettempdir(), 'steady-bench-lag.png'),
        help='PNG of the backlog and lag over time')
    parser.add_argument('--no-rclone', action='store_true')
    parser.add_argument('--baseline-checkout', metavar='DIR',
                        help='also run the incremental and lag phases, '
                             'first, with the daemon of the cloudsync '
                             'checkout DIR (a git worktree of main, say), '
                             'run by this interpreter, and compare')
    parser.add_argument('--no-install-rclone', action='store_true',
                        help='do not apt-get install rclone when missing')
    parser.add_argument('--base-port', type=int, default=18500)
    parser.add_argument('--keep', action='store_true',
                        help='keep the all-in-one directory')
    args = parser.parse_args(argv)
    for key, value in SIZES['quick' if args.quick else 'full'].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.phases = [p for p in args.phases.split(',') if p]
    args.variants = [('this', None)]
    if args.baseline_checkout:
        args.variants.insert(0, ('baseline', args.baseline_checkout))
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error('unknown phases: %s' % ', '.join(sorted(unknown)))
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # NOTE: the daemons run from bytecode, as an installed package does
    common.compile_bytecode()
    if args.baseline_checkout:
        common.compile_bytecode(args.baseline_checkout)
    common.install_signal_handlers()
    args.rclone = args.rclone_version = None
    if 'incremental' in args.phases and not args.no_rclone:
        args.rclone, why = common.find_rclone(not args.no_install_rclone)
        if args.rclone is None:
            log('no rclone column: %s', why)
        else:
            args.rclone_version = common.rclone_version(args.rclone)
    if args.baseline_checkout:
        log('baseline: the daemon of %s', check_checkout(
            args.baseline_checkout))
    bench = None
    try:
        with common.all_in_one(args.base_port, keep=args.keep) as cluster:
            bench = Bench(cluster, args, os.path.join(cluster.base_dir,
                                                      'steady'))
            try:
                if {'idle', 'counts'} & set(args.phases):
                    bench.idle_and_counts(args.phases)
                if {'incremental', 'lag'} & set(args.phases):
                    bench.steady(args.variants)
            finally:
                # the daemons and rclone stop before the cluster they use
                bench.children.stop_all()
    except KeyboardInterrupt as exc:
        log('interrupted (%s)', exc or 'Ctrl-C')
        return 130
    report(bench.results, args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
