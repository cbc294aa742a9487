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
"""How fast ``cloudsync-migrate`` brings a moto bucket into Swift, side by
side with ``rclone copy`` of the same bucket into the same Swift, in the
same run, on the same all-in-one.

Two workloads: many small objects (2,000 x 4 KiB; ``--quick``: 300) and
one large multipart object (512 MiB in 16 MiB parts; ``--quick``: 64
MiB). ``cloudsync-migrate --once`` runs on every container node at once
(each migrates its share of the container); rclone copies with
``--transfers`` and ``--checkers`` set to the migrators' total workers.
Each contender writes into a container of its own, and the result is
checked (every object there, with its size) before it counts.

Targets (issue 15): ahead of rclone on the small objects, at least 0.9x
rclone on the large one. The benchmark prints the ratios; it asserts
nothing.

::

    python benchmarks/migrate_bench.py [--quick] [--memcache] [--keep]
        [--json FILE]

The migrators run from bytecode, as an installed package does: cloudsync's
modules are compiled first (``compileall``), so that an environment with
``PYTHONDONTWRITEBYTECODE`` set, or a checkout never imported, does not
make every migrator compile them from source as it starts (about a fifth
of its start-up). ``--no-compile`` leaves them as they are.

With ``--memcache`` the all-in-one runs memcached (Debian's ``memcached``
must be installed) and both its proxy server and the internal client the
migrators write through cache account and container info, as production
clusters do.
"""

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import time

if __package__ in (None, ''):
    sys.path.insert(0, os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))

from benchmarks import common  # noqa: E402

SMALL = 4 * common.KiB
PART = 16 * common.MiB
#: migrators per node, and so rclone's transfers are this times the nodes
WORKERS = 8
CONTENDERS = ('migrate', 'rclone')


@dataclasses.dataclass
class Workload:
    name: str
    bucket: str
    objects: int
    bytes: int


@dataclasses.dataclass
class Result:
    workload: str
    contender: str
    seconds: float = 0.0
    verified: bool = False
    note: str = ''

    def rate(self, workload):
        if not self.seconds:
            return None, None
        return (workload.objects / self.seconds,
                workload.bytes / common.MB / self.seconds)


def command(name):
    script = os.path.join(os.path.dirname(sys.executable), name)
    return script if os.access(script, os.X_OK) else name


class MigrateBench(object):
    def __init__(self, cluster, args, children):
        self.cluster = cluster
        self.state = cluster.state
        self.args = args
        self.children = children
        self.workdir = os.path.join(cluster.base_dir, 'migrate-bench')
        os.makedirs(self.workdir, exist_ok=True)
        self.s3 = common.s3_client(self.state['moto_endpoint'],
                                   self.state['moto_access_key'],
                                   self.state['moto_secret_key'],
                                   max_connections=16)
        self.swift = cluster.swift_client()

    # -- the source ------------------------------------------------------

    def small(self, count):
        bucket = 'bench-small'
        self.s3.create_bucket(Bucket=bucket)
        body = os.urandom(SMALL)

        def put(n):
            self.s3.put_object(Bucket=bucket, Key='obj-%06d' % n, Body=body)
        common.pool_map(put, range(count), 16)
        return Workload('small', bucket, count, count * SMALL)

    def large(self, total):
        bucket = 'bench-large'
        self.s3.create_bucket(Bucket=bucket)
        upload = self.s3.create_multipart_upload(Bucket=bucket, Key='large')
        chunk = os.urandom(PART)
        parts = []
        for number in range(1, total // PART + 1):
            resp = self.s3.upload_part(
                Bucket=bucket, Key='large', PartNumber=number,
                UploadId=upload['UploadId'], Body=chunk)
            parts.append({'ETag': resp['ETag'], 'PartNumber': number})
        self.s3.complete_multipart_upload(
            Bucket=bucket, Key='large', UploadId=upload['UploadId'],
            MultipartUpload={'Parts': parts})
        return Workload('large', bucket, 1, total)

    # -- the contenders ------------------------------------------------------

    def run_migrate(self, wl, container, result):
        aio_cloudsync = common.import_aio_cloudsync()
        confs = []
        for node in self.state['nodes']:
            options = aio_cloudsync.defaults(self.state)
            options.update(aio_cloudsync.node_options(node, self.workdir))
            options.update(workers=WORKERS, log_file=os.path.join(
                self.workdir, 'migrate-%s-%d.log' % (
                    container, node['index'])))
            text = aio_cloudsync.section('DEFAULT', options) + '\n'
            text += aio_cloudsync.section('remote:moto', aio_cloudsync.remote(
                self.state, 'moto', part_size=PART)) + '\n'
            text += aio_cloudsync.section('migration:bench', {
                'remote': 'moto', 'bucket': wl.bucket,
                'account': 'AUTH_test', 'container': container})
            path = os.path.join(self.workdir, 'migrate-%s-%d.conf' % (
                container, node['index']))
            with open(path, 'w') as f:
                f.write(text)
            confs.append(path)
        t0 = time.monotonic()
        procs = [self.children.popen(
            [command('cloudsync-migrate'), '--config-file', conf, '--once'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for conf in confs]
        codes = self.children.wait_all(procs, self.args.timeout)
        result.seconds = time.monotonic() - t0
        if codes is None:
            result.note = 'timed out'
        elif any(codes):
            result.note = 'exit codes %s' % codes

    def run_rclone(self, wl, container, result):
        rclone, why = common.find_rclone(install=False)
        if rclone is None:
            result.note = why
            return
        conf = common.write_rclone_conf(
            os.path.join(self.workdir, 'rclone.conf'), self.state)
        transfers = str(WORKERS * len(self.state['nodes']))
        t0 = time.monotonic()
        proc = self.children.popen(
            [rclone, '--config', conf, 'copy', 's3:%s' % wl.bucket,
             'swift:%s' % container, '--transfers', transfers,
             '--checkers', transfers, '--log-level', 'ERROR',
             '--stats', '0'], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=common.rclone_env())
        codes = self.children.wait_all([proc], self.args.timeout)
        result.seconds = time.monotonic() - t0
        if codes is None:
            result.note = 'timed out'
        elif codes[0]:
            result.note = 'rclone exited %d' % codes[0]

    def verify(self, wl, container, result):
        try:
            headers, listing = self.swift.get_container(
                container, full_listing=True)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            result.note = result.note or 'no container: %s' % exc
            return
        total = sum(int(o['bytes']) for o in listing)
        result.verified = len(listing) == wl.objects and total == wl.bytes
        if result.verified or result.note:
            return
        # NOTE: a container update the object servers could not send in
        # time waits for Swift's object updater: the objects are there,
        # the listing shows them later. HEAD every source key to tell.
        listed = {o['name'] for o in listing}
        missing = []
        for key, (size, _etag) in sorted(common.list_bucket(
                self.s3, wl.bucket).items()):
            if key in listed:
                continue
            try:
                got = self.swift.head_object(container, key)
            except Exception:  # noqa: BLE001 - reported, not raised
                missing.append(key)
                continue
            if int(got['content-length']) != size:
                missing.append(key)
        if missing:
            result.note = '%d objects, %d bytes listed in Swift; missing ' \
                'or short: %s' % (len(listing), total,
                                  ', '.join(missing[:5]))
        else:
            result.verified = True
            result.note = 'every object there; %d listed so far ' \
                '(container updates pending)' % len(listing)

    def run(self, contender, wl):
        container = '%s-%s' % (contender, wl.name)
        result = Result(wl.name, contender)
        common.log('%s: %s', wl.name, contender)
        getattr(self, 'run_' + contender)(wl, container, result)
        self.verify(wl, container, result)
        return result


def report(workloads, results, contenders=CONTENDERS):
    rows = []
    by_key = {(r.workload, r.contender): r for r in results}
    for wl in workloads:
        for contender in contenders:
            r = by_key[(wl.name, contender)]
            objects, mb = r.rate(wl)
            rows.append([wl.name, contender, common.fmt(r.seconds),
                         common.fmt(objects, 1), common.fmt(mb, 1),
                         'yes' if r.verified else 'no', r.note])
    print(common.format_table(
        ['workload', 'contender', 'seconds', 'objects/s', 'MB/s',
         'verified', 'note'], rows))
    ratios = {}
    for wl in workloads:
        if set(CONTENDERS) - set(contenders):
            break
        ours, theirs = by_key[(wl.name, 'migrate')], \
            by_key[(wl.name, 'rclone')]
        if ours.verified and theirs.verified:
            ratios[wl.name] = common.ratio(theirs.seconds, ours.seconds)
    for name, target in (('small', 1.0), ('large', 0.9)):
        if name in ratios:
            print('%s: cloudsync-migrate at %sx rclone\'s speed (target %s: '
                  '%s)' % (name, common.fmt(ratios[name]), target,
                           'met' if ratios[name] >= target else 'not met'))
    return ratios


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='300 small objects and a 64 MiB object')
    parser.add_argument('--small', type=int, help='small objects')
    parser.add_argument('--large-mib', type=int,
                        help='MiB of the large object (a multiple of 16)')
    parser.add_argument('--base-port', type=int,
                        default=common.DEFAULT_BASE_PORT)
    parser.add_argument('--timeout', type=float, default=1800.0)
    parser.add_argument('--keep', action='store_true')
    parser.add_argument('--memcache', action='store_true',
                        help='run memcached in the all-in-one and use it in '
                             'the proxy and the migrators\' internal client '
                             '(needs Debian\'s memcached)')
    parser.add_argument('--no-compile', action='store_true',
                        help='do not compile cloudsync\'s modules to '
                             'bytecode first')
    parser.add_argument('--json', help='also write the results here')
    parser.add_argument('--workloads', default='small,large',
                        help='comma-separated: small, large')
    parser.add_argument('--contenders', default='migrate,rclone',
                        help='comma-separated: migrate, rclone')
    args = parser.parse_args(argv)
    args.workloads = [w for w in args.workloads.split(',') if w]
    args.contenders = [c for c in args.contenders.split(',') if c]
    for name in args.workloads:
        if name not in ('small', 'large'):
            parser.error('unknown workload %r' % name)
    for name in args.contenders:
        if name not in CONTENDERS:
            parser.error('unknown contender %r' % name)
    if args.memcache and not shutil.which('memcached'):
        parser.error('--memcache needs memcached on PATH (Debian\'s '
                     'memcached package)')
    return args


def main(argv=None):
    args = parse_args(argv)
    small = args.small or (300 if args.quick else 2000)
    large = (args.large_mib or (64 if args.quick else 512)) * common.MiB
    machine = common.machine_info()
    if not args.no_compile:
        common.compile_bytecode()
    common.install_signal_handlers()
    children = common.Children()
    try:
        with common.all_in_one(args.base_port, keep=args.keep,
                               memcache=args.memcache) as cluster:
            bench = MigrateBench(cluster, args, children)
            workloads = []
            if 'small' in args.workloads:
                workloads.append(bench.small(small))
            if 'large' in args.workloads:
                workloads.append(bench.large(large))
            results = [bench.run(contender, wl) for wl in workloads
                       for contender in args.contenders]
            print('cloudsync-migrate benchmark: %d CPUs, memcache %s, '
                  'bytecode %s, load %s at start, %s at the end' % (
                      machine['cpus'], 'on' if args.memcache else 'off',
                      'not compiled' if args.no_compile else 'compiled',
                      ' '.join('%.2f' % x
                               for x in machine['loadavg_at_start']),
                      ' '.join('%.2f' % x for x in os.getloadavg())))
            ratios = report(workloads, results, args.contenders)
            if args.json:
                common.write_json(args.json, {
                    'machine': machine, 'memcache': args.memcache,
                    'compiled': not args.no_compile,
                    'results': [dataclasses.asdict(r) for r in results],
                    'ratios': ratios})
    finally:
        children.stop_all()


if __name__ == '__main__':
    main()
