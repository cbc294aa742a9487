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
"""How fast cloudsync-sync propagates a container, next to two baselines.

One command starts its own all-in-one (``tools/aio.py``: 3 Swift nodes and
a moto S3 server), fills two containers, then copies each of them to moto
three ways, side by side in the same run, each into a fresh bucket:

``cloudsync``
    ``cloudsync-sync --once`` on all 3 container nodes at once (3
    processes, each with its own configuration, ``workers`` = the
    concurrency), timed from their start until all 3 exit; passes are
    repeated (and their time added) until every object is in the bucket.
``plain loop``
    list the container, then GET each object from Swift (swiftclient
    through the proxy) and PUT it to S3 (boto3, with Content-MD5 from
    Swift's ETag), in a thread pool of the same concurrency; the large
    object is streamed into a multipart upload (``upload_fileobj``) with
    the same part size.
``rclone``
    ``rclone copy`` of the container (Debian's rclone), ``--transfers`` and
    ``--checkers`` = the concurrency, same part size for large objects.

Workloads: ``small`` (default 2,000 objects of 4 KiB; ``--quick`` 300) and
``large`` (one SLO of 512 MiB in 8 MiB segments; ``--quick`` 64 MiB).
Uploading into Swift is not timed. Every copy is verified afterwards (every
key present, sizes and ETags; the SLO's S3 ETag is the multipart ETag of
one part per segment).

Usage::

    python benchmarks/sync_bench.py [--quick|--full] [--json FILE]

Results go to stdout (a table, ratios and targets), progress to stderr.
The machine's cores are shared by Swift, moto and the contenders: compare
ratios within one run, not absolute numbers across runs.
"""

import argparse
import base64
import dataclasses
import hashlib
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

if __package__ in (None, ''):
    sys.path.insert(0, os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))

from benchmarks import common  # noqa: E402

ACCOUNT = 'AUTH_test'
USER = 'test:tester'
KEY = 'testing'
SMALL_CONTAINER = 'bench-small'
LARGE_CONTAINER = 'bench-large'
SEGMENTS_CONTAINER = LARGE_CONTAINER + '_segments'
EMPTY_CONTAINER = 'bench-empty'
SLO_NAME = 'big'

CLOUDSYNC = 'cloudsync'
PLAIN = 'plain loop'
RCLONE = 'rclone'
CONTENDERS = (CLOUDSYNC, PLAIN, RCLONE)
CONTENDER_ARGS = {'cloudsync': CLOUDSYNC, 'plain': PLAIN, 'rclone': RCLONE}
WORKLOADS = ('small', 'large')

#: targets, not tests: cloudsync's throughput over each baseline's, met
#: at ``minimum`` or above (``ahead``: only above it)
TARGETS = (
    # (workload, baseline, minimum, text, ahead)
    ('small', PLAIN, 1.0, 'at least 1.0x the plain loop', False),
    ('small', RCLONE, 1.0, 'ahead of rclone', True),
    ('large', PLAIN, 1.0, 'at least 1.0x the plain loop', False),
)

SIZES = {
    'full': {'objects': 2000, 'slo_mib': 512},
    'quick': {'objects': 300, 'slo_mib': 64},
}

log = common.log


@dataclasses.dataclass
class Workload:
    """A container filled in Swift, and what each copy must hold."""

    name: str
    container: str
    #: object name -> (size, the ETag S3 must show)
    expected: dict
    part_size: int = 0

    @property
    def objects(self):
        return len(self.expected)

    @property
    def bytes(self):
        return sum(size for size, _etag in self.expected.values())


@dataclasses.dataclass
class Result:
    workload: str
    contender: str
    round: int = 0
    seconds: float = None
    objects: int = 0
    bytes: int = 0
    verified: str = ''
    ok: bool = False
    passes: int = None
    note: str = ''

    def to_dict(self):
        data = dataclasses.asdict(self)
        data['objects_per_second'] = self.objects_per_second
        data['mb_per_second'] = self.mb_per_second
        return data

    @property
    def objects_per_second(self):
        if not self.ok or not self.seconds:
            return None
        return self.objects / self.seconds

    @property
    def mb_per_second(self):
        if not self.ok or not self.seconds:
            return None
        return self.bytes / common.MB / self.seconds


def multipart_etag(part_md5s):
    """S3's ETag of a multipart upload made of parts with these MD5s."""
    joined = b''.join(bytes.fromhex(m) for m in part_md5s)
    return '%s-%d' % (hashlib.md5(joined).hexdigest(), len(part_md5s))


class IterReader(object):
    """A read()-able file over an iterator of byte chunks."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._buf = bytearray()
        self._done = False

    def read(self, size=-1):
        while not self._done and (size < 0 or len(self._buf) < size):
            try:
                self._buf.extend(next(self._chunks))
            except StopIteration:
                self._done = True
        if size < 0 or size >= len(self._buf):
            out, self._buf = bytes(self._buf), bytearray()
        else:
            out = bytes(self._buf[:size])
            del self._buf[:size]
        return out


def cloudsync_missing():
    """Why the cloudsync column cannot run, or None when it can."""
    for module in ('cloudsync.cmd.sync', 'cloudsync.sync.propagate',
                   'cloudsync_providers.s3'):
        try:
            found = importlib.util.find_spec(module)
        except ImportError:
            found = None
        if found is None:
            return 'cloudsync is not complete here yet (no %s)' % module
    return None


def cloudsync_command():
    script = os.path.join(os.path.dirname(sys.executable), 'cloudsync-sync')
    if os.access(script, os.X_OK):
        return [script]
    found = shutil.which('cloudsync-sync')
    if found:
        return [found]
    return [sys.executable, '-m', 'cloudsync.cmd.sync']


UPDATER_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[3])
import aio
aio.use_swift_dir(sys.argv[2])
from swift.common.utils import readconf
from swift.obj.updater import ObjectUpdater
conf = readconf(sys.argv[1], 'object-updater')
conf.update(log_level='ERROR', objects_per_second='1000')
ObjectUpdater(conf).run_once()
"""


class SyncBench(object):
    """Fills the containers and runs every contender on them."""

    def __init__(self, cluster, args, workdir, children):
        self.cluster = cluster
        self.state = cluster.state
        self.args = args
        self.workdir = workdir
        self.children = children
        self.concurrency = args.concurrency
        self.s3 = common.s3_client(
            self.state['moto_endpoint'], self.state['moto_access_key'],
            self.state['moto_secret_key'], self.state['moto_region'],
            max_connections=self.concurrency)
        self._local = threading.local()
        self.buckets = []
        self.notes = {}
        self.startup_seconds = None
        self.rclone = None
        self.rclone_version = None

    # -- Swift ----------------------------------------------------------------

    def swift(self):
        """This thread's swiftclient connection."""
        conn = getattr(self._local, 'swift', None)
        if conn is None:
            conn = self.cluster.swift_client(USER, KEY, retries=3,
                                             timeout=120)
            self._local.swift = conn
        return conn

    def upload_small(self, count, size):
        log('uploading %d objects of %d bytes into %s (not timed)', count,
            size, SMALL_CONTAINER)
        self.swift().put_container(SMALL_CONTAINER)

        def put(i):
            name = 'obj-%06d' % i
            body = os.urandom(size)
            etag = self.swift().put_object(
                SMALL_CONTAINER, name, body,
                content_type='application/octet-stream')
            return name, (len(body), etag)

        t0 = time.monotonic()
        expected = dict(common.pool_map(put, range(count),
                                        self.concurrency))
        log('uploaded in %.1fs (%.0f PUT/s)', time.monotonic() - t0,
            count / (time.monotonic() - t0))
        return Workload('small', SMALL_CONTAINER, expected)

    def upload_large(self, total, segment_size):
        count = -(-total // segment_size)
        log('uploading a %d MiB SLO of %d segments of %d MiB into %s '
            '(not timed)', total // common.MiB, count,
            segment_size // common.MiB, LARGE_CONTAINER)
        self.swift().put_container(LARGE_CONTAINER)
        self.swift().put_container(SEGMENTS_CONTAINER)

        def put(i):
            size = min(segment_size, total - i * segment_size)
            name = '%s/%08d' % (SLO_NAME, i)
            etag = self.swift().put_object(SEGMENTS_CONTAINER, name,
                                           os.urandom(size))
            return {'path': '/%s/%s' % (SEGMENTS_CONTAINER, name),
                    'etag': etag, 'size_bytes': size}

        t0 = time.monotonic()
        segments = common.pool_map(put, range(count),
                                   min(4, self.concurrency))
        self.swift().put_object(
            LARGE_CONTAINER, SLO_NAME, json.dumps(segments),
            content_type='application/octet-stream',
            query_string='multipart-manifest=put')
        log('uploaded in %.1fs', time.monotonic() - t0)
        etag = multipart_etag([s['etag'] for s in segments])
        return Workload('large', LARGE_CONTAINER, {SLO_NAME: (total, etag)},
                        part_size=segment_size)

    def settle(self, containers):
        """Make every container DB replica hold every row.

        An object server that cannot update a container replica in time
        leaves an async pending, which only the object updater (not run by
        the all-in-one) delivers; the replica that owns such a row would
        never see it. Run the updater once if there are any, then check
        that the replicas agree.
        """
        aio = common.import_aio()
        pending = 0
        for node in self.state['nodes']:
            for root, _dirs, files in os.walk(node['devices']):
                if 'async_pending' in os.path.relpath(root, node['devices']):
                    pending += len(files)
        if pending:
            log('%d async pendings: running the object updater once',
                pending)
            for node in self.state['nodes']:
                subprocess.run(
                    [sys.executable, '-c', UPDATER_SCRIPT,
                     node['object_server_conf'], self.state['swift_dir'],
                     common.TOOLS_DIR], check=False, timeout=600,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        aio.use_swift_dir(self.state['swift_dir'])
        from swift.common import direct_client
        from swift.common.ring import Ring
        ring = Ring(self.state['swift_dir'], ring_name='container')
        for container in containers:
            part, nodes = ring.get_nodes(ACCOUNT, container)
            counts = [int(direct_client.direct_head_container(
                node, part, ACCOUNT, container)['x-container-object-count'])
                for node in nodes]
            if len(set(counts)) != 1:
                log('WARNING: the replicas of %s disagree on its object '
                    'count: %s', container, counts)
            self.notes.setdefault('replica_counts', {})[container] = counts

    # -- buckets and verification ------------------------------------------

    def new_bucket(self, contender, workload, rnd):
        name = '%s-%s-r%d' % (contender.split()[0], workload, rnd)
        self.s3.create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def verify(self, wl, bucket, key_of):
        found = common.list_bucket(self.s3, bucket)
        missing, different = [], []
        for name, (size, etag) in sorted(wl.expected.items()):
            got = found.get(key_of(name))
            if got is None:
                missing.append(name)
            elif got[0] != size or (etag and got[1] != etag):
                different.append('%s (size %d, ETag %s; expected %d, %s)'
                                 % (name, got[0], got[1], size, etag))
        if not missing and not different:
            return True, 'ok'
        text = []
        if missing:
            text.append('%d of %d missing (first: %s)' % (
                len(missing), wl.objects, missing[0]))
        if different:
            text.append('%d different (first: %s)' % (
                len(different), different[0]))
        return False, '; '.join(text)

    def drop_bucket(self, bucket):
        if self.args.keep_buckets:
            return
        try:
            common.empty_bucket(self.s3, bucket)
        except Exception as exc:  # noqa: BLE001 - cleanup only
            log('could not remove bucket %s: %s', bucket, exc)

    # -- cloudsync ------------------------------------------------------------

    def cloudsync_confs(self, tag, container, bucket):
        aio_cloudsync = common.import_aio_cloudsync()
        mappings = {'bench': {'account': ACCOUNT, 'container': container,
                              'bucket': bucket}}
        remotes = {'moto': aio_cloudsync.remote(
            self.state, region=self.state['moto_region'],
            addressing_style='path')}
        paths = []
        base = os.path.join(self.workdir, 'cloudsync', tag)
        for node in self.state['nodes']:
            status_dir = os.path.join(base, 'status-node%d' % node['index'])
            os.makedirs(status_dir, exist_ok=True)
            options = aio_cloudsync.node_options(node, base)
            options.update(
                status_dir=status_dir, poll_interval=None,
                workers=self.concurrency,
                log_file=os.path.join(base, 'node%d.log' % node['index']))
            paths.append(aio_cloudsync.write_conf(
                os.path.join(base, 'node%d.conf' % node['index']),
                self.state, mappings, remotes, **options))
        return paths

    def cloudsync_pass(self, confs):
        """Run cloudsync-sync --once for every node at once.

        :returns: (seconds, exit codes or None on timeout)
        """
        cmd = cloudsync_command()
        procs = []
        t0 = time.monotonic()
        for conf in confs:
            out = open(conf[:-len('.conf')] + '.out', 'ab')
            try:
                procs.append(self.children.popen(
                    cmd + ['--config-file', conf, '--once'],
                    stdout=out, stderr=subprocess.STDOUT))
            finally:
                out.close()
        codes = self.children.wait_all(procs, self.args.timeout)
        return time.monotonic() - t0, codes

    def measure_startup(self):
        """Seconds for 3 daemons to start, find nothing to do and exit."""
        self.swift().put_container(EMPTY_CONTAINER)
        bucket = self.new_bucket(CLOUDSYNC, 'startup', 0)
        confs = self.cloudsync_confs('startup', EMPTY_CONTAINER, bucket)
        seconds, codes = self.cloudsync_pass(confs)
        if codes and not any(codes):
            self.startup_seconds = seconds
            log('cloudsync start-up (3 daemons, empty container): %.2fs',
                seconds)
        else:
            log('cloudsync on an empty container exited with %s; see %s',
                codes, os.path.dirname(confs[0]))

    def run_cloudsync(self, wl, bucket, result):
        from cloudsync import layout
        remote = layout.RemoteLayout(ACCOUNT, wl.container)
        tag = '%s-r%d' % (wl.name, result.round)
        confs = self.cloudsync_confs(tag, wl.container, bucket)
        total, passes, codes_seen = 0.0, 0, []
        while True:
            seconds, codes = self.cloudsync_pass(confs)
            total += seconds
            passes += 1
            if codes is None:
                result.note = 'timed out after %ss' % self.args.timeout
                break
            codes_seen.append(codes)
            ok, text = self.verify(wl, bucket, remote.object_key)
            if ok or passes >= self.args.max_passes:
                break
            log('cloudsync: after pass %d: %s; another pass', passes, text)
        result.seconds = total
        result.passes = passes
        if any(any(c) for c in codes_seen):
            result.note = ('exit codes %s; logs in %s' % (
                codes_seen, os.path.dirname(confs[0]))).strip()
        return remote.object_key

    # -- the plain loop ------------------------------------------------------

    def run_plain(self, wl, bucket, result):
        from boto3.s3.transfer import TransferConfig

        s3 = common.s3_client(
            self.state['moto_endpoint'], self.state['moto_access_key'],
            self.state['moto_secret_key'], self.state['moto_region'],
            max_connections=self.concurrency)
        transfer = TransferConfig(
            multipart_threshold=wl.part_size or 8 * common.MiB,
            multipart_chunksize=wl.part_size or 8 * common.MiB,
            max_concurrency=self.concurrency, use_threads=True)

        def copy_small(entry):
            headers, body = self.swift().get_object(wl.container,
                                                    entry['name'])
            md5 = base64.b64encode(bytes.fromhex(headers['etag'])).decode()
            s3.put_object(Bucket=bucket, Key=entry['name'], Body=body,
                          ContentMD5=md5,
                          ContentType=headers.get('content-type'))

        def copy_large(entry):
            headers, chunks = self.swift().get_object(
                wl.container, entry['name'], resp_chunk_size=common.MiB)
            s3.upload_fileobj(
                IterReader(chunks), bucket, entry['name'],
                ExtraArgs={'ContentType': headers.get('content-type')},
                Config=transfer)

        t0 = time.monotonic()
        _headers, listing = self.swift().get_container(wl.container,
                                                       full_listing=True)
        copy = copy_large if wl.part_size else copy_small
        common.pool_map(copy, listing, self.concurrency)
        result.seconds = time.monotonic() - t0
        return lambda name: name

    # -- rclone ---------------------------------------------------------------

    def rclone_conf(self):
        return common.write_rclone_conf(
            os.path.join(self.workdir, 'rclone.conf'), self.state, USER, KEY)

    def run_rclone(self, wl, bucket, result):
        cmd = [self.rclone, '--config', self.rclone_conf(), 'copy',
               'swift:%s' % wl.container, 's3:%s' % bucket,
               '--transfers', str(self.concurrency),
               '--checkers', str(self.concurrency),
               '--log-level', 'NOTICE', '--stats', '0']
        if wl.part_size:
            cmd += ['--s3-chunk-size', '%dk' % (wl.part_size // 1024),
                    '--s3-upload-cutoff', '%dk' % (wl.part_size // 1024),
                    '--s3-upload-concurrency', str(self.concurrency)]
        out_path = os.path.join(self.workdir, 'rclone-%s-r%d.log' % (
            wl.name, result.round))
        with open(out_path, 'wb') as out:
            t0 = time.monotonic()
            proc = self.children.popen(cmd, stdout=out,
                                       stderr=subprocess.STDOUT,
                                       env=common.rclone_env())
            codes = self.children.wait_all([proc], self.args.timeout)
            result.seconds = time.monotonic() - t0
        if codes is None:
            result.note = 'timed out after %ss' % self.args.timeout
        elif codes[0]:
            with open(out_path, errors='replace') as f:
                tail = ' | '.join(f.read().strip().splitlines()[-2:])
            result.note = 'rclone exited %d: %s' % (codes[0], tail)
        return lambda name: name

    # -- one contender on one workload ----------------------------------------

    def run(self, contender, wl, rnd):
        result = Result(wl.name, contender, rnd, objects=wl.objects,
                        bytes=wl.bytes)
        skip = self.notes.get('skip', {}).get(contender)
        if skip:
            result.verified = 'skipped'
            result.note = skip
            return result
        bucket = self.new_bucket(contender, wl.name, rnd)
        log('%s: %s workload, round %d -> bucket %s', contender, wl.name,
            rnd, bucket)
        runner = {CLOUDSYNC: self.run_cloudsync, PLAIN: self.run_plain,
                  RCLONE: self.run_rclone}[contender]
        try:
            key_of = runner(wl, bucket, result)
            result.ok, result.verified = self.verify(wl, bucket, key_of)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - report and go on
            result.verified = 'error'
            result.note = '%s: %s' % (type(exc).__name__, exc)
        log('%s: %s in %ss: %s %s', contender, wl.name,
            common.fmt(result.seconds), result.verified, result.note)
        self.drop_bucket(bucket)
        return result


# -- reporting ---------------------------------------------------------------

def summarize(results):
    """(workload, contender) -> the median of its verified rounds."""
    summary = {}
    for wl in WORKLOADS:
        for contender in CONTENDERS:
            runs = [r for r in results
                    if r.workload == wl and r.contender == contender]
            if not runs:
                continue
            good = [r for r in runs if r.ok and r.seconds]
            entry = {'rounds': len(runs), 'verified_rounds': len(good),
                     'objects': runs[0].objects, 'bytes': runs[0].bytes,
                     'seconds': None, 'objects_per_second': None,
                     'mb_per_second': None,
                     'verified': '; '.join(sorted({r.verified
                                                   for r in runs})),
                     'note': '; '.join(sorted({r.note for r in runs
                                               if r.note}))}
            if good:
                secs = statistics.median(r.seconds for r in good)
                entry['seconds'] = secs
                entry['objects_per_second'] = entry['objects'] / secs
                entry['mb_per_second'] = entry['bytes'] / common.MB / secs
            summary[(wl, contender)] = entry
    return summary


def ratios(summary):
    out = []
    for wl in WORKLOADS:
        mine = summary.get((wl, CLOUDSYNC), {}).get('objects_per_second')
        for other in (PLAIN, RCLONE):
            theirs = summary.get((wl, other), {}).get('objects_per_second')
            if (wl, other) not in summary:
                continue
            value = common.ratio(mine, theirs)
            target = [t for t in TARGETS if t[0] == wl and t[1] == other]
            entry = {'workload': wl, 'ratio': 'cloudsync/%s' % other,
                     'value': value, 'target': None, 'met': None}
            if target:
                _wl, _other, minimum, text, ahead = target[0]
                entry['target'] = text
                entry['minimum'] = minimum
                if value is not None:
                    entry['met'] = (value > minimum if ahead
                                    else value >= minimum)
            out.append(entry)
    return out


def report(bench, args, results, sizes):
    summary = summarize(results)
    rows = []
    for (wl, contender), e in summary.items():
        rows.append([wl, contender, e['objects'],
                     common.fmt(e['bytes'] / common.MB, 1),
                     common.fmt(e['seconds']),
                     common.fmt(e['objects_per_second'], 1),
                     common.fmt(e['mb_per_second'], 2),
                     e['verified'] or '-'])
    lines = [
        'cloudsync sync benchmark: %d CPUs, concurrency %d, %d round(s), '
        'memcache %s; small: %d x %d B; large: one %d MiB SLO in %d MiB '
        'segments' % (
            os.cpu_count(), args.concurrency, args.rounds,
            'on' if args.memcache else 'off', sizes['objects'],
            args.object_size, sizes['slo_mib'], args.segment_mib),
        '',
        common.format_table(
            ['workload', 'contender', 'objects', 'MB', 'seconds',
             'objects/s', 'MB/s', 'verified'], rows),
        '',
    ]
    ratio_rows = []
    for r in ratios(summary):
        met = '-'
        if r['target']:
            met = {True: 'met', False: 'NOT met', None: 'n/a'}[r['met']]
        ratio_rows.append([r['workload'], r['ratio'],
                           common.fmt(r['value']) + ('x' if r['value']
                                                     else ''),
                           r['target'] or '(no target)', met])
    if ratio_rows:
        lines += [common.format_table(
            ['workload', 'ratio (throughput)', 'value', 'target', 'status'],
            ratio_rows), '']
    if bench.startup_seconds is not None:
        lines.append('cloudsync start-up (3 daemons, a pass over an empty '
                     'container): %.2fs, included in its times above.'
                     % bench.startup_seconds)
        for wl in WORKLOADS:
            e = summary.get((wl, CLOUDSYNC))
            p = summary.get((wl, PLAIN))
            if e and e['seconds'] and p and p['seconds'] and \
                    e['seconds'] > bench.startup_seconds:
                net = e['seconds'] - bench.startup_seconds
                lines.append('  %s without start-up: %.1f objects/s, '
                             '%.2f MB/s, %.2fx the plain loop' % (
                                 wl, e['objects'] / net,
                                 e['bytes'] / common.MB / net,
                                 p['seconds'] / net))
    for (wl, contender), e in summary.items():
        if e['note'] and e['verified'] != 'skipped':
            lines.append('note: %s/%s: %s' % (wl, contender, e['note']))
    for contender, why in sorted(bench.notes.get('skip', {}).items()):
        lines.append('skipped %s: %s' % (contender, why))
    if bench.rclone_version:
        lines.append('rclone: %s' % bench.rclone_version)
    print('\n'.join(lines).rstrip())
    return summary


def to_json(bench, args, results, sizes, summary, machine):
    return {
        'benchmark': 'sync',
        'machine': machine,
        'settings': {
            'concurrency': args.concurrency, 'rounds': args.rounds,
            'objects': sizes['objects'], 'object_size': args.object_size,
            'slo_bytes': sizes['slo_mib'] * common.MiB,
            'segment_bytes': args.segment_mib * common.MiB,
            'workloads': args.workloads, 'contenders': args.contenders,
            'memcache': args.memcache,
        },
        'rclone_version': bench.rclone_version,
        'cloudsync_startup_seconds': bench.startup_seconds,
        'notes': bench.notes,
        'results': [r.to_dict() for r in results],
        'summary': [dict(workload=wl, contender=c, **e)
                    for (wl, c), e in summary.items()],
        'ratios': ratios(summary),
    }


# -- command line -------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(
        description='Propagation throughput of cloudsync-sync next to a '
                    'plain GET/PUT loop and rclone, on a fresh all-in-one.')
    size = parser.add_mutually_exclusive_group()
    size.add_argument('--quick', dest='size', action='store_const',
                      const='quick', help='300 small objects, a 64 MiB SLO')
    size.add_argument('--full', dest='size', action='store_const',
                      const='full',
                      help='2,000 small objects, a 512 MiB SLO (default)')
    parser.set_defaults(size='full')
    parser.add_argument('--objects', type=int,
                        help='number of small objects (overrides the size)')
    parser.add_argument('--object-size', type=int, default=4 * common.KiB,
                        help='bytes per small object (default 4096)')
    parser.add_argument('--slo-mib', type=int,
                        help='size of the large object in MiB')
    parser.add_argument('--segment-mib', type=int, default=8,
                        help='SLO segment size = multipart part size, in '
                             'MiB (default 8; at least 5)')
    parser.add_argument('--concurrency', type=int, default=8,
                        help='threads of the plain loop, rclone --transfers '
                             'and cloudsync workers per node (default 8)')
    parser.add_argument('--rounds', type=int, default=1,
                        help='run every contender this many times, in a '
                             'rotating order; the median is reported')
    parser.add_argument('--workloads', default=','.join(WORKLOADS),
                        help='comma-separated: small,large')
    parser.add_argument('--contenders', default='cloudsync,plain,rclone',
                        help='comma-separated: cloudsync,plain,rclone')
    parser.add_argument('--json', metavar='FILE',
                        help='also write the results to FILE as JSON')
    parser.add_argument('--base-port', type=int,
                        default=common.DEFAULT_BASE_PORT,
                        help='first port of the all-in-one (default %d; '
                             'the next blocks of 100 are tried when busy)'
                             % common.DEFAULT_BASE_PORT)
    parser.add_argument('--base-dir',
                        help='directory of the all-in-one (wiped first; '
                             'default: a new temporary directory)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the all-in-one\'s directory (logs, '
                             'configs) at the end')
    parser.add_argument('--keep-buckets', action='store_true',
                        help='do not empty the buckets after verifying')
    parser.add_argument('--memcache', action='store_true',
                        help='run memcached in the all-in-one (needs '
                             'Debian\'s memcached)')
    parser.add_argument('--no-install-rclone', action='store_true',
                        help='do not apt-get install rclone when missing')
    parser.add_argument('--timeout', type=float, default=3600.0,
                        help='seconds one contender may take (default '
                             '3600)')
    parser.add_argument('--max-passes', type=int, default=3,
                        help='cloudsync --once passes before giving up on '
                             'objects still missing (default 3)')
    args = parser.parse_args(argv)
    args.workloads = [w.strip() for w in args.workloads.split(',')
                      if w.strip()]
    bad = [w for w in args.workloads if w not in WORKLOADS]
    if bad:
        parser.error('--workloads: unknown %s (choose from %s)' % (
            ', '.join(bad), ', '.join(WORKLOADS)))
    args.contenders = [c.strip() for c in args.contenders.split(',')
                       if c.strip()]
    bad = [c for c in args.contenders if c not in CONTENDER_ARGS]
    if bad:
        parser.error('--contenders: unknown %s (choose from %s)' % (
            ', '.join(bad), ', '.join(CONTENDER_ARGS)))
    if args.segment_mib < 5:
        parser.error('--segment-mib must be at least 5 (S3\'s smallest '
                     'part)')
    for name in ('concurrency', 'rounds', 'object_size', 'max_passes'):
        if getattr(args, name) < 1:
            parser.error('--%s must be at least 1' % name.replace('_', '-'))
    return args


def run_all(cluster, args, sizes, contenders, children, machine,
            results):
    workdir = os.path.join(cluster.base_dir, 'bench')
    os.makedirs(workdir, exist_ok=True)
    bench = SyncBench(cluster, args, workdir, children)
    skip = bench.notes.setdefault('skip', {})
    if CLOUDSYNC in contenders:
        why = cloudsync_missing()
        if why:
            skip[CLOUDSYNC] = why
    if RCLONE in contenders:
        bench.rclone, why = common.find_rclone(not args.no_install_rclone)
        if why:
            skip[RCLONE] = why
        else:
            bench.rclone_version = common.rclone_version(bench.rclone)
    workloads = []
    if 'small' in args.workloads:
        workloads.append(bench.upload_small(sizes['objects'],
                                            args.object_size))
    if 'large' in args.workloads:
        workloads.append(bench.upload_large(sizes['slo_mib'] * common.MiB,
                                            args.segment_mib * common.MiB))
    bench.settle([wl.container for wl in workloads])
    if CLOUDSYNC in contenders and CLOUDSYNC not in skip:
        bench.measure_startup()
    for wl in workloads:
        for rnd in range(args.rounds):
            shift = rnd % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                results.append(bench.run(contender, wl, rnd))
    summary = report(bench, args, results, sizes)
    if args.json:
        common.write_json(args.json, to_json(bench, args, results, sizes,
                                             summary, machine))
        log('results written to %s', args.json)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sizes = dict(SIZES[args.size])
    if args.objects:
        sizes['objects'] = args.objects
    if args.slo_mib:
        sizes['slo_mib'] = args.slo_mib
    contenders = [CONTENDER_ARGS[c] for c in args.contenders]
    machine = common.machine_info()
    # NOTE: the daemons run from bytecode, as an installed package does
    common.compile_bytecode()
    common.install_signal_handlers()
    children = common.Children()
    try:
        with common.all_in_one(args.base_port, args.base_dir, args.keep,
                               args.memcache) as cluster:
            try:
                run_all(cluster, args, sizes, contenders, children, machine,
                        [])
            finally:
                # the daemons and rclone stop before the cluster they use
                children.stop_all()
    except KeyboardInterrupt as exc:
        log('interrupted (%s): stopped everything this run started',
            exc or 'Ctrl-C')
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
