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
"""What reading archived data through the cloud shunt costs.

Starts its own all-in-one (``tools/aio.py``: 3 Swift nodes, moto, and
memcached when Debian's ``memcached`` is installed, as production proxies
have), archives objects with ``cloudsync-sync --once`` on every container
node, starts a second proxy with the shunt in its pipeline, and measures,
side by side in the same run:

GET latency, 4 KiB
    ``--requests`` (default 200) sequential GETs of an archived 4 KiB
    object through the shunt proxy (one keep-alive connection, tempauth
    token) against GETs of the same remote key straight from moto with
    boto3 (one keep-alive connection). Mean, median and 90th percentile;
    the ratio is shunt over direct.
GET throughput, 64 MiB
    ``--rounds`` (default 3) GETs of an archived 64 MiB object
    (``--big-mib``), read in 1 MiB chunks, through the shunt against
    straight from moto, and of the same bytes kept in Swift through the
    plain proxy; MiB/s of the best round, and the ratio of throughputs
    (direct over shunt, so that above 1 means slower).
Merged listing
    A container of ``--local`` + ``--remote`` objects (2,000 + 2,000 by
    default, 10,000 + 10,000 with ``--full``), interleaved by name; the
    ``--remote`` ones (``X-Object-Meta-Tier: cold``, the mapping's
    ``selection_criteria``) are archived. Its full listing (JSON, pages of
    ``--page`` = 1,000, marker paging) through the shunt, where every page
    merges Swift's part and the remote's, is timed against the listing of
    a second container that holds the same names, all in Swift, through
    the plain proxy. The listings of Swift's part alone and of the remote
    part alone (boto3, straight from moto) are shown too. Rounds are
    interleaved; the best of ``--rounds`` is shown. The ratio is merged
    over all-in-Swift.
Targets (not assertions): GET overhead under 1.2x a direct S3 GET, merged
listing under 2x the local listing. Everything shares the machine's cores
(Swift's servers, moto, the benchmark): compare ratios within one run.

    python benchmarks/shunt_bench.py [--full] [--requests N] [--rounds N]
        [--json FILE] [--keep] [--no-memcache]
"""

import argparse
from concurrent import futures
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse

if __package__ in (None, ''):
    sys.path.insert(0, os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))

from benchmarks import common  # noqa: E402
from cloudsync import layout as layout_mod  # noqa: E402

BUCKET = 'shunt-bench'
OBJECTS = 'bench-objects'
LISTED = 'bench-listing'
#: the same names, all kept in Swift: the baseline listing
LISTED_LOCAL = 'bench-listing-local'
LOCAL = 'bench-local'
SMALL = 4 * common.KiB


class Proxy(object):
    """Keep-alive HTTP to one proxy, with one token."""

    def __init__(self, url, account_path, token):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.conn = None
        self.account_path = account_path
        self.token = token

    def _response(self, full):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=120)
            try:
                self.conn.request('GET', full,
                                  headers={'X-Auth-Token': self.token})
                return self.conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError):
                # NOTE(cloudsync): the proxy closes connections left idle
                # (while the daemon ran, for instance); open a new one.
                self.close()
                if attempt == 2:
                    raise

    def get(self, path, query=None, chunk=common.MiB, expect=2):
        full = self.account_path + '/' + urllib.parse.quote(path)
        if query:
            full += '?' + urllib.parse.urlencode(query)
        resp = self._response(full)
        size, body = 0, []
        while True:
            data = resp.read(chunk)
            if not data:
                break
            size += len(data)
            if query is not None:
                body.append(data)
        if resp.status // 100 != expect:
            raise RuntimeError('GET %s: %s' % (full, resp.status))
        return size, b''.join(body)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def write_conf(cluster, path):
    archive = {'bucket': BUCKET, 'lifecycle': 'archive'}
    common.import_aio_cloudsync().write_conf(path, cluster.state, {
        'objects': dict(archive, container=OBJECTS),
        'listing': dict(archive, container=LISTED,
                        selection_criteria='{"x-object-meta-tier": "cold"}'),
    }, workers=16)


def run_daemon(cluster, children, conf, work_dir):
    procs = []
    for node in cluster.state['nodes']:
        node_conf = common.import_aio_cloudsync().write_node_conf(
            node, work_dir)
        log_file = open(os.path.join(work_dir, 'daemon%d.log'
                                     % node['index']), 'ab')
        procs.append(children.popen(
            [os.path.join(os.path.dirname(sys.executable), 'cloudsync-sync'),
             '--config-file', conf, '--config-file', node_conf, '--once'],
            stdout=log_file, stderr=subprocess.STDOUT))
    codes = children.wait_all(procs, timeout=3600)
    if codes is None or any(codes):
        raise RuntimeError('cloudsync-sync failed (%s); see %s'
                           % (codes, work_dir))


def populate(swift_factory, args):
    """The objects, written into Swift (not timed)."""
    swift = swift_factory()
    swift.put_container(OBJECTS)
    small = os.urandom(SMALL)
    swift.put_object(OBJECTS, 'small', small)
    swift.put_container(LOCAL)
    swift.put_object(LOCAL, 'small', small)
    big = os.urandom(args.big_mib * common.MiB)
    swift.put_object(OBJECTS, 'big', big)
    swift.put_object(LOCAL, 'big', big)
    del big
    swift.put_container(LISTED)
    swift.put_container(LISTED_LOCAL)
    total = args.local + args.remote
    cold = set(int(i * total / args.remote) for i in range(args.remote)) \
        if args.remote else set()

    def put(indexes):
        conn = swift_factory()
        for i in indexes:
            headers = {'X-Object-Meta-Tier': 'cold' if i in cold else 'hot'}
            for container in (LISTED, LISTED_LOCAL):
                conn.put_object(container, 'obj-%07d' % i, b'x' * 10,
                                headers=headers)
        conn.close()

    workers = 16
    with futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(put, [range(w, total, workers)
                            for w in range(workers)]))
    return total


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


def settle(cluster):
    """Deliver async pendings.

    So that every container replica lists every object: the all-in-one
    runs no object updater.
    """
    pending = 0
    for node in cluster.state['nodes']:
        for root, _dirs, files in os.walk(node['devices']):
            if 'async_pending' in os.path.relpath(root, node['devices']):
                pending += len(files)
    if not pending:
        return
    common.log('%d async pendings: running the object updater once',
               pending)
    for node in cluster.state['nodes']:
        subprocess.run(
            [sys.executable, '-c', UPDATER_SCRIPT,
             node['object_server_conf'], cluster.state['swift_dir'],
             common.TOOLS_DIR], check=False, timeout=600,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def full_listing(proxy, container, page):
    """Every name of a container, in pages."""
    names, marker = [], ''
    while True:
        _, body = proxy.get(container, query={
            'format': 'json', 'limit': page, 'marker': marker})
        entries = json.loads(body)
        if not entries:
            return names
        names.extend(e['name'] for e in entries)
        marker = entries[-1]['name']


def s3_listing(s3, prefix, page):
    names = []
    for result in s3.get_paginator('list_objects_v2').paginate(
            Bucket=BUCKET, Prefix=prefix,
            PaginationConfig={'PageSize': page}):
        names.extend(e['Key'] for e in result.get('Contents', ()))
    return names


def timed_rounds(fns, rounds):
    """Best and median seconds of each function, called in turn."""
    times = {name: [] for name in fns}
    results = {}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.monotonic()
            results[name] = fn()
            times[name].append(time.monotonic() - start)
    return {name: (min(t), statistics.median(t)) for name, t in
            times.items()}, results


def latencies(fns, requests):
    """Seconds per call of each function.

    The functions are called in turn, so that a change of the machine's
    load weighs on all of them alike.
    """
    for fn in fns.values():
        for _ in range(min(10, requests)):
            fn()
    samples = {name: [] for name in fns}
    for _ in range(requests):
        for name, fn in fns.items():
            start = time.monotonic()
            fn()
            samples[name].append(time.monotonic() - start)
    result = {}
    for name, values in samples.items():
        values.sort()
        result[name] = {'mean': statistics.mean(values),
                        'p50': values[len(values) // 2],
                        'p90': values[int(len(values) * 0.9)]}
    return result


def throughputs(fns, size, rounds):
    """Best MiB/s of each function over ``rounds``, taken in turn."""
    best = {name: None for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.monotonic()
            got = fn()
            seconds = time.monotonic() - start
            if got != size:
                raise RuntimeError('%s read %d bytes, not %d' % (
                    name, got, size))
            if best[name] is None or seconds < best[name]:
                best[name] = seconds
    return {name: size / common.MiB / seconds
            for name, seconds in best.items()}


def measure(cluster, children, args, work_dir):
    conf = os.path.join(work_dir, 'cloudsync.conf')
    write_conf(cluster, conf)
    s3 = common.s3_client(cluster.state['moto_endpoint'], 'testing',
                          'testing')
    s3.create_bucket(Bucket=BUCKET)
    common.log('writing %d + %d objects and a %d MiB object into Swift',
               args.local, args.remote, args.big_mib)
    populate(cluster.swift_client, args)
    settle(cluster)

    url, token = cluster.swift_client().get_auth()
    account_path = urllib.parse.urlparse(url).path
    plain = Proxy(url, account_path, token)

    common.log('archiving with cloudsync-sync --once on every node')
    start = time.monotonic()
    run_daemon(cluster, children, conf, work_dir)
    common.log('archived in %.1fs', time.monotonic() - start)

    shunt_url = cluster.start_proxy('shunt', [('cloud_shunt', {
        'use': 'egg:swift-cloudsync#cloud_shunt', 'conf_file': conf})])
    shunted = Proxy(shunt_url, account_path, token)
    try:
        common.log('listings, %d rounds', args.rounds)
        remote_prefix = layout_mod.RemoteLayout(
            'AUTH_test', LISTED).listing_prefix()
        times, names = timed_rounds({
            'merged': lambda: full_listing(shunted, LISTED, args.page),
            'all_local': lambda: full_listing(plain, LISTED_LOCAL,
                                              args.page),
            'swift_part': lambda: full_listing(plain, LISTED, args.page),
            'remote_part': lambda: s3_listing(s3, remote_prefix,
                                              args.page),
        }, args.rounds)
        if names['merged'] != names['all_local']:
            common.log('WARNING: the merged listing differs from the '
                       'all-in-Swift one: %d names, not %d; only merged: '
                       '%s; only in Swift: %s', len(names['merged']),
                       len(names['all_local']),
                       sorted(set(names['merged']) -
                              set(names['all_local']))[:5],
                       sorted(set(names['all_local']) -
                              set(names['merged']))[:5])
        if len(names['swift_part']) != args.local or \
                len(names['remote_part']) != args.remote:
            common.log('WARNING: %d objects left in Swift and %d archived, '
                       'not %d and %d', len(names['swift_part']),
                       len(names['remote_part']), args.local, args.remote)

        layout = layout_mod.RemoteLayout('AUTH_test', OBJECTS)
        small_key, big_key = (layout.object_key('small'),
                              layout.object_key('big'))
        common.log('GET latency, %d requests each', args.requests)
        small = latencies({
            'shunt': lambda: shunted.get(OBJECTS + '/small'),
            'direct': lambda: s3.get_object(
                Bucket=BUCKET, Key=small_key)['Body'].read(),
            'swift_404': lambda: plain.get(OBJECTS + '/small', expect=4),
            'swift_local': lambda: plain.get(LOCAL + '/small'),
        }, args.requests)

        size = args.big_mib * common.MiB

        def direct_big():
            body = s3.get_object(Bucket=BUCKET, Key=big_key)['Body']
            got = 0
            for chunk in body.iter_chunks(common.MiB):
                got += len(chunk)
            return got
        common.log('GET throughput, %d rounds each', args.rounds)
        big = throughputs({
            'shunt': lambda: shunted.get(OBJECTS + '/big')[0],
            'direct': direct_big,
            'swift_local': lambda: plain.get(LOCAL + '/big')[0]},
            size, args.rounds)
    finally:
        shunted.close()
        plain.close()
        cluster.stop_proxy('shunt')
    return {
        'listing': {'entries': len(names['merged']), 'local': args.local,
                    'remote': args.remote, 'page': args.page,
                    'all_local_s': times['all_local'][0],
                    'merged_s': times['merged'][0],
                    'swift_part_s': times['swift_part'][0],
                    'remote_part_s': times['remote_part'][0],
                    'medians_s': {k: v[1] for k, v in times.items()}},
        'small': small,
        'big': {'mib': args.big_mib, 'shunt_mibs': big['shunt'],
                'direct_mibs': big['direct'],
                'swift_local_mibs': big['swift_local']},
    }


def report(results):
    small, big, lst = results['small'], results['big'], results['listing']
    ms = 1000.0

    def lat(name):
        return [common.fmt(small[name][k] * ms) for k in ('mean', 'p50',
                                                          'p90')]
    measured = common.format_table(
        ['GET 4 KiB', 'mean ms', 'p50 ms', 'p90 ms'], [
            ['archived, through the shunt'] + lat('shunt'),
            ['same key, straight from S3'] + lat('direct'),
            ['archived, Swift alone (its 404)'] + lat('swift_404'),
            ['in Swift, Swift alone'] + lat('swift_local'),
        ])
    streamed = common.format_table(
        ['GET %d MiB' % big['mib'], 'MiB/s'], [
            ['archived, through the shunt', common.fmt(big['shunt_mibs'], 0)],
            ['same key, straight from S3', common.fmt(big['direct_mibs'],
                                                      0)],
            ['in Swift, Swift alone', common.fmt(big['swift_local_mibs'],
                                                 0)],
        ])
    listed = common.format_table(
        ['listing, pages of %d' % lst['page'], 'entries', 'seconds'], [
            ['merged, through the shunt', lst['entries'],
             common.fmt(lst['merged_s'], 3)],
            ['all in Swift, before archiving', lst['entries'],
             common.fmt(lst['all_local_s'], 3)],
            ['Swift\'s part alone', lst['local'],
             common.fmt(lst['swift_part_s'], 3)],
            ['remote part alone, straight from S3', lst['remote'],
             common.fmt(lst['remote_part_s'], 3)],
        ])
    own = small['shunt']['mean'] - small['swift_404']['mean']
    ratios = common.format_table(['ratio', 'value', 'target'], [
        ['GET 4 KiB: shunt / direct S3 (mean)',
         common.fmt(common.ratio(small['shunt']['mean'],
                                 small['direct']['mean'])) + 'x', '1.2x'],
        ['GET 4 KiB: (shunt - Swift\'s 404) / direct S3',
         common.fmt(common.ratio(own, small['direct']['mean'])) + 'x', ''],
        ['GET %d MiB: direct S3 / shunt throughput (%.0f / %.0f MiB/s)' % (
            big['mib'], big['direct_mibs'], big['shunt_mibs']),
         common.fmt(common.ratio(big['direct_mibs'],
                                 big['shunt_mibs'])) + 'x', '1.2x'],
        ['listing: merged / all in Swift',
         common.fmt(common.ratio(lst['merged_s'],
                                 lst['all_local_s'])) + 'x', '2x'],
        ['listing: merged / (Swift\'s part + remote part alone)',
         common.fmt(common.ratio(lst['merged_s'], lst['swift_part_s'] +
                                 lst['remote_part_s'])) + 'x', ''],
    ])
    return '\n\n'.join([measured, streamed, listed, ratios])


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Benchmark the cloud shunt against direct S3 access '
                    'and Swift listings.')
    parser.add_argument('--full', action='store_true',
                        help='10,000 local + 10,000 remote objects listed')
    parser.add_argument('--local', type=int, help='objects left in Swift')
    parser.add_argument('--remote', type=int, help='objects archived')
    parser.add_argument('--page', type=int, default=1000)
    parser.add_argument('--requests', type=int, default=200)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--big-mib', type=int, default=64)
    parser.add_argument('--base-port', type=int,
                        default=common.DEFAULT_BASE_PORT + 500)
    parser.add_argument('--no-memcache', action='store_true',
                        help='run the proxies without memcached')
    parser.add_argument('--keep', action='store_true',
                        help='keep the all-in-one\'s directory')
    parser.add_argument('--json', help='also write the results here')
    args = parser.parse_args(argv)
    size = 10000 if args.full else 2000
    args.local = size if args.local is None else args.local
    args.remote = size if args.remote is None else args.remote
    common.install_signal_handlers()
    memcache = not args.no_memcache and bool(shutil.which('memcached'))
    children = common.Children()
    info = common.machine_info()
    try:
        with common.all_in_one(args.base_port, keep=args.keep,
                               memcache=memcache) as cluster:
            work_dir = os.path.join(cluster.base_dir, 'shunt-bench')
            os.makedirs(work_dir, exist_ok=True)
            results = measure(cluster, children, args, work_dir)
    finally:
        children.stop_all()
    print('cloud shunt, memcache %s, %d CPUs, load %s at start' % (
        'on' if memcache else 'off', info['cpus'],
        ' '.join(str(x) for x in info['loadavg_at_start'])))
    print(report(results))
    if args.json:
        common.write_json(args.json, {'machine': info, 'results': results,
                                      'memcache': memcache,
                                      'options': vars(args)})
    return 0


if __name__ == '__main__':
    sys.exit(main())
