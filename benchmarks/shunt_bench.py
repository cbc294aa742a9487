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
node with ``archive_as = stub`` (each object becomes an archive stub), and
starts a proxy with the shunt in its pipeline. Every archived object has a
twin kept in Swift (the same bytes and names in another container, mapped
too but never archived: the object "before archiving"), read through the
same shunt proxy; the remote's copy of it is read straight from moto with
boto3. Measured side by side,
in turns, in the same run:

GET latency, 4 KiB
    ``--requests`` (default 200) sequential GETs of an archived 4 KiB
    object through the shunt proxy (one keep-alive connection, tempauth
    token), of its twin in Swift, and of its remote key straight from
    moto. A read of archived data needs Swift's request and the remote's:
    the ratio is shunt over the sum of those two. Target: at most 1.1x.
HEAD latency
    HEADs of the archived object (answered from the stub, no remote
    request) and of its twin. Target: at most 1.1x.
GET throughput, 64 MiB
    ``--big-rounds`` (default 10) GETs of an archived 64 MiB object
    (``--big-mib``), read in 1 MiB chunks, through the shunt and straight
    from moto; MiB/s of the best round. The ratio is shunt over direct.
    Target: at least 0.7x.
Listings
    ``--names`` (default 10,000) objects, all archived, and their twins
    kept in Swift; full listings in pages of ``--page`` (1,000), marker
    paging, forward and reverse (``reverse=true``), of the archived
    container and of its twin. The
    mapping has ``serve_deleted_archives = false`` (nothing was archived by
    deleting it), so the listing is Swift's own; a second shunt proxy
    with ``serve_deleted_archives = true`` shows what merging the bucket
    in costs. The ratio is archived over before archiving. Target: at most
    1.1x. The archived container is also listed through the proxy
    without the shunt (no target): what Swift's own container database
    costs once every row was written again, the stub's.

The targets are those of the issue that brought stubs; they are printed,
never asserted. Everything shares the machine's cores (Swift's servers,
moto, memcached, the benchmark): compare ratios within one run.

    python benchmarks/shunt_bench.py [--names N] [--requests N]
        [--rounds N] [--big-rounds N] [--json FILE] [--keep]
        [--no-memcache]
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
#: the same objects and names, kept in Swift: before archiving
LISTED_LOCAL = 'bench-listing-local'
LOCAL = 'bench-local'
SMALL = 4 * common.KiB
#: the issue's targets: (what, ratio, at most (True) or at least)
TARGETS = {'get': 1.1, 'head': 1.1, 'listing': 1.1, 'big': 0.7}


class Proxy(object):
    """Keep-alive HTTP to one proxy, with one token."""

    def __init__(self, url, account_path, token):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.conn = None
        self.account_path = account_path
        self.token = token

    def _response(self, full, method='GET'):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=120)
            try:
                self.conn.request(method, full,
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

    def head(self, path):
        full = self.account_path + '/' + urllib.parse.quote(path)
        resp = self._response(full, 'HEAD')
        resp.read()
        if resp.status // 100 != 2:
            raise RuntimeError('HEAD %s: %s' % (full, resp.status))
        return resp.getheader('Content-Length')

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


#: the ``copy_after`` of the twins: archived never, read through the shunt
NEVER = 10 * 365 * 86400


def write_conf(cluster, path, serve_deleted_archives=False):
    archive = {'bucket': BUCKET, 'lifecycle': 'archive',
               'archive_as': 'stub',
               'serve_deleted_archives': str(serve_deleted_archives).lower()}
    # NOTE(cloudsync): the twins kept in Swift are mapped too (archived
    # only after NEVER seconds): read through the same shunt proxy, they
    # are the objects as they read before archiving.
    common.import_aio_cloudsync().write_conf(path, cluster.state, {
        'objects': dict(archive, container=OBJECTS),
        'listing': dict(archive, container=LISTED),
        'kept-objects': dict(archive, container=LOCAL, copy_after=NEVER),
        'kept-listing': dict(archive, container=LISTED_LOCAL,
                             copy_after=NEVER),
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
    total = args.names

    def put(indexes):
        conn = swift_factory()
        for i in indexes:
            for container in (LISTED, LISTED_LOCAL):
                conn.put_object(container, 'obj-%07d' % i, b'x' * 10,
                                headers={'X-Object-Meta-Tier': 'cold'})
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


def full_listing(proxy, container, page, reverse=False):
    """Every listing entry of a container, in pages (raw JSON entries)."""
    entries_all, marker = [], ''
    while True:
        query = {'format': 'json', 'limit': page, 'marker': marker}
        if reverse:
            query['reverse'] = 'true'
        _, body = proxy.get(container, query=query)
        entries = json.loads(body)
        if not entries:
            return entries_all
        entries_all.extend(entries)
        marker = entries[-1]['name']


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
    merging_conf = os.path.join(work_dir, 'cloudsync-merging.conf')
    write_conf(cluster, merging_conf, serve_deleted_archives=True)
    s3 = common.s3_client(cluster.state['moto_endpoint'], 'testing',
                          'testing')
    s3.create_bucket(Bucket=BUCKET)
    common.log('writing 2 x %d objects and a %d MiB object into Swift',
               args.names, args.big_mib)
    populate(cluster.swift_client, args)
    settle(cluster)

    url, token = cluster.swift_client().get_auth()
    account_path = urllib.parse.urlparse(url).path
    plain = Proxy(url, account_path, token)

    common.log('archiving with cloudsync-sync --once on every node')
    start = time.monotonic()
    run_daemon(cluster, children, conf, work_dir)
    common.log('archived in %.1fs', time.monotonic() - start)
    stub = plain.get(OBJECTS + '/small')[0]
    if stub != 0:
        raise RuntimeError('%s/small was not archived as a stub' % OBJECTS)

    shunt_url = cluster.start_proxy('shunt', [('cloud_shunt', {
        'use': 'egg:swift-cloudsync#cloud_shunt', 'conf_file': conf})])
    merging_url = cluster.start_proxy('shuntmerge', [('cloud_shunt', {
        'use': 'egg:swift-cloudsync#cloud_shunt',
        'conf_file': merging_conf})])
    shunted = Proxy(shunt_url, account_path, token)
    merging = Proxy(merging_url, account_path, token)
    try:
        common.log('listings, %d rounds', args.rounds)
        fns = {}
        for reverse in (False, True):
            way = 'reverse' if reverse else 'forward'
            fns['archived_' + way] = (
                lambda r=reverse: full_listing(shunted, LISTED, args.page,
                                               r))
            fns['before_' + way] = (
                lambda r=reverse: full_listing(shunted, LISTED_LOCAL,
                                               args.page, r))
            fns['merged_' + way] = (
                lambda r=reverse: full_listing(merging, LISTED, args.page,
                                               r))
            # NOTE: the archived container through a proxy without the
            # shunt: what Swift's own container database costs after
            # every row was written again (the stubs)
            fns['noshunt_' + way] = (
                lambda r=reverse: full_listing(plain, LISTED, args.page,
                                               r))
        times, listed = timed_rounds(fns, args.rounds)
        for way in ('forward', 'reverse'):
            for kind in ('archived', 'merged'):
                got = listed['%s_%s' % (kind, way)]
                want = listed['before_' + way]
                if [e['name'] for e in got] != [e['name'] for e in want]:
                    common.log('WARNING: the %s listing (%s) lists %d '
                               'names, not the %d of before archiving',
                               kind, way, len(got), len(want))

        layout = layout_mod.RemoteLayout('AUTH_test', OBJECTS)
        small_key, big_key = (layout.object_key('small'),
                              layout.object_key('big'))
        common.log('GET and HEAD latency, %d requests each', args.requests)
        small = latencies({
            'shunt': lambda: shunted.get(OBJECTS + '/small'),
            'swift_before': lambda: shunted.get(LOCAL + '/small'),
            'direct': lambda: s3.get_object(
                Bucket=BUCKET, Key=small_key)['Body'].read(),
            'head_shunt': lambda: shunted.head(OBJECTS + '/small'),
            'head_before': lambda: shunted.head(LOCAL + '/small'),
        }, args.requests)

        size = args.big_mib * common.MiB

        def direct_big():
            body = s3.get_object(Bucket=BUCKET, Key=big_key)['Body']
            got = 0
            for chunk in body.iter_chunks(common.MiB):
                got += len(chunk)
            return got
        common.log('GET throughput, %d rounds each', args.big_rounds)
        big = throughputs({
            'shunt': lambda: shunted.get(OBJECTS + '/big')[0],
            'direct': direct_big,
            'swift_before': lambda: shunted.get(LOCAL + '/big')[0]},
            size, args.big_rounds)
    finally:
        for proxy in (shunted, merging, plain):
            proxy.close()
        cluster.stop_proxy('shunt')
        cluster.stop_proxy('shuntmerge')
    return {
        'listing': {'entries': len(listed['before_forward']),
                    'page': args.page,
                    'seconds': {k: v[0] for k, v in times.items()},
                    'medians_s': {k: v[1] for k, v in times.items()}},
        'small': small,
        'big': {'mib': args.big_mib, 'shunt_mibs': big['shunt'],
                'direct_mibs': big['direct'],
                'swift_before_mibs': big['swift_before']},
    }


def verdict(value, target, at_most=True):
    if value is None:
        return '-'
    met = value <= target if at_most else value >= target
    return 'met' if met else 'NOT MET'


def report(results):
    small, big, lst = results['small'], results['big'], results['listing']
    ms = 1000.0

    def lat(name):
        return [common.fmt(small[name][k] * ms) for k in ('mean', 'p50',
                                                          'p90')]
    measured = common.format_table(
        ['4 KiB object', 'mean ms', 'p50 ms', 'p90 ms'], [
            ['GET archived (stub)'] + lat('shunt'),
            ['GET before archiving (in Swift)'] + lat('swift_before'),
            ['GET its remote key, straight from S3'] + lat('direct'),
            ['HEAD archived (stub)'] + lat(
                'head_shunt'),
            ['HEAD before archiving (in Swift)'] + lat('head_before'),
        ])
    streamed = common.format_table(
        ['GET %d MiB' % big['mib'], 'MiB/s'], [
            ['archived (stub), through the shunt',
             common.fmt(big['shunt_mibs'], 0)],
            ['its remote key, straight from S3',
             common.fmt(big['direct_mibs'], 0)],
            ['before archiving (in Swift)',
             common.fmt(big['swift_before_mibs'], 0)],
        ])
    secs = lst['seconds']
    listed = common.format_table(
        ['listing of %d names, pages of %d' % (lst['entries'], lst['page']),
         'forward s', 'reverse s'], [
            ['archived (stubs), through the shunt',
             common.fmt(secs['archived_forward'], 3),
             common.fmt(secs['archived_reverse'], 3)],
            ['before archiving (in Swift)',
             common.fmt(secs['before_forward'], 3),
             common.fmt(secs['before_reverse'], 3)],
            ['archived, through a proxy without the shunt',
             common.fmt(secs['noshunt_forward'], 3),
             common.fmt(secs['noshunt_reverse'], 3)],
            ['archived, serve_deleted_archives = true (merged)',
             common.fmt(secs['merged_forward'], 3),
             common.fmt(secs['merged_reverse'], 3)],
        ])
    get_ratio = common.ratio(small['shunt']['mean'],
                             small['swift_before']['mean'] +
                             small['direct']['mean'])
    head_ratio = common.ratio(small['head_shunt']['mean'],
                              small['head_before']['mean'])
    big_ratio = common.ratio(big['shunt_mibs'], big['direct_mibs'])
    rows = [
        ['GET 4 KiB: archived / (Swift GET before + S3 GET), mean',
         get_ratio, TARGETS['get'], True],
        ['HEAD: archived / before archiving, mean', head_ratio,
         TARGETS['head'], True],
    ]
    for way in ('forward', 'reverse'):
        rows.append(['listing %s: archived / before archiving' % way,
                     common.ratio(secs['archived_' + way],
                                  secs['before_' + way]),
                     TARGETS['listing'], True])
    rows.append(['GET %d MiB: archived / direct S3 throughput' % big['mib'],
                 big_ratio, TARGETS['big'], False])
    for way in ('forward', 'reverse'):
        rows.append(['listing %s, no shunt: archived / before (no target)'
                     % way, common.ratio(secs['noshunt_' + way],
                                         secs['before_' + way]), None,
                     True])
    for way in ('forward', 'reverse'):
        rows.append(['listing %s, merged: archived / before (no target)'
                     % way, common.ratio(secs['merged_' + way],
                                         secs['before_' + way]), None,
                     True])
    ratios = common.format_table(['ratio', 'value', 'target', 'verdict'], [
        [what, common.fmt(value) + 'x' if value is not None else '-',
         ('at most %.1fx' if at_most else 'at least %.1fx') % target
         if target else '', verdict(value, target, at_most)
         if target else '']
        for what, value, target, at_most in rows])
    return '\n\n'.join([measured, streamed, listed, ratios])


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Benchmark the cloud shunt against direct S3 access '
                    'and Swift listings.')
    parser.add_argument('--names', type=int, default=10000,
                        help='objects archived and listed (and as many '
                             'kept in Swift)')
    parser.add_argument('--page', type=int, default=1000)
    parser.add_argument('--requests', type=int, default=200)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--big-mib', type=int, default=64)
    parser.add_argument('--big-rounds', type=int, default=10,
                        help='GETs of the large object per contender (the '
                             'best one counts)')
    parser.add_argument('--base-port', type=int,
                        default=common.DEFAULT_BASE_PORT + 500)
    parser.add_argument('--no-memcache', action='store_true',
                        help='run the proxies without memcached')
    parser.add_argument('--keep', action='store_true',
                        help='keep the all-in-one\'s directory')
    parser.add_argument('--json', help='also write the results here')
    args = parser.parse_args(argv)
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
