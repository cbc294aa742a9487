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
"""What cloudsync-sync costs in the steady state.

Two numbers, on a fresh all-in-one (3 Swift nodes and moto):

* the CPU time (user + system) of a ``cloudsync-sync --once`` pass that
  has nothing to do: process start-up, configuration, rings, one
  container database with no new row;
* the remote requests per synced change: N small objects are PUT into
  Swift, then POSTed (new metadata), then DELETEd; after each step the 3
  daemons make one pass each and the S3 requests moto logged for the
  bucket are counted and divided by N. Verification of the other
  replicas' rows is put off (``verification_slack``) so that only the
  handling of each node's own rows is counted.

Usage::

    python benchmarks/steady_bench.py [--objects 200] [--idle-runs 5]

It prints the numbers, the goals and whether they were met; it asserts
nothing.
"""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from benchmarks import common  # noqa: E402
from benchmarks.common import log  # noqa: E402

ACCOUNT = 'AUTH_test'
CONTAINER = 'steady'
BUCKET = 'steady-bench'
IDLE_GOAL = 0.5
GOALS = {'PUT': 1.05, 'POST': 1.0, 'DELETE': 1.0}
#: the terminal colours werkzeug gives the lines of answers other than 2xx
COLOURS = re.compile(r'\x1b\[[0-9;]*m')

CONF = """\
[DEFAULT]
devices = %(devices)s
swift_dir = %(swift_dir)s
internal_client_conf_path = %(ic)s
bind_ip = %(ip)s
bind_port = %(port)d
mount_check = false
status_dir = %(status_dir)s
poll_interval = 0
workers = 8
verification_slack = 86400
log_file = %(log_file)s

[remote:moto]
provider = s3
endpoint = %(endpoint)s
access_key = %(access_key)s
secret_key = %(secret_key)s

[mapping:steady]
account = %(account)s
container = %(container)s
remote = moto
bucket = %(bucket)s
"""


def command():
    script = os.path.join(os.path.dirname(sys.executable), 'cloudsync-sync')
    if os.access(script, os.X_OK):
        return [script]
    return [sys.executable, '-m', 'cloudsync.cmd.sync']


def write_confs(cluster, workdir):
    state = cluster.state
    paths = []
    for node in state['nodes']:
        path = os.path.join(workdir, 'node%d.conf' % node['index'])
        with open(path, 'w') as f:
            f.write(CONF % {
                'devices': node['devices'],
                'swift_dir': state['swift_dir'],
                'ic': state['internal_client_conf'],
                'ip': state['ip'], 'port': node['container_port'],
                'status_dir': os.path.join(workdir, 'status%d'
                                           % node['index']),
                'log_file': os.path.join(workdir, 'node%d.log'
                                         % node['index']),
                'endpoint': state['moto_endpoint'],
                'access_key': state['moto_access_key'],
                'secret_key': state['moto_secret_key'],
                'account': ACCOUNT, 'container': CONTAINER,
                'bucket': BUCKET})
        paths.append(path)
    return paths


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
    """The S3 requests moto logged for the bucket since the last look."""

    def __init__(self, path):
        self.path = path
        self.offset = os.path.getsize(path)

    def since(self):
        time.sleep(0.5)
        counts = {}
        with open(self.path, 'rb') as f:
            f.seek(self.offset)
            data = f.read()
            self.offset = f.tell()
        for line in data.decode('utf-8', 'replace').splitlines():
            line = COLOURS.sub('', line)
            for method in ('GET', 'HEAD', 'PUT', 'POST', 'DELETE'):
                if any('"%s /%s%s' % (method, BUCKET, end) in line
                       for end in '/? '):
                    status = line.rsplit('"', 1)[-1].split()
                    label = '%s %s' % (method, status[0] if status else '?')
                    counts[label] = counts.get(label, 0) + 1
        return counts


def run(cluster, args, workdir):
    swift = cluster.swift_client()
    swift.put_container(CONTAINER)
    cluster.s3_client().create_bucket(Bucket=BUCKET)
    confs = write_confs(cluster, workdir)
    for conf in confs:
        one_pass(conf)
    idle = []
    for _ in range(args.idle_runs):
        idle.extend(one_pass(conf) for conf in confs)
    idle_cpu = statistics.median(idle)

    requests = RequestLog(cluster.log_path('moto'))
    names = ['obj-%05d' % i for i in range(args.objects)]
    per_change = {}
    steps = (
        ('PUT', lambda n: swift.put_object(CONTAINER, n, b'x' * 1024)),
        ('POST', lambda n: swift.post_object(
            CONTAINER, n, {'X-Object-Meta-Color': 'blue'})),
        ('DELETE', lambda n: swift.delete_object(CONTAINER, n)),
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
    return idle_cpu, idle, per_change


def report(idle_cpu, idle, per_change, objects):
    print('cloudsync steady state: 3 nodes, %d small objects' % objects)
    print()
    rows = [('idle --once pass, CPU s (median of %d)' % len(idle),
             '%.2f' % idle_cpu, 'under %.1f' % IDLE_GOAL,
             'met' if idle_cpu < IDLE_GOAL else 'NOT met')]
    for method, (ratio, counts) in per_change.items():
        rows.append(('S3 requests per %s' % method, '%.2f' % ratio,
                     'at most %.2f' % GOALS[method],
                     'met' if ratio <= GOALS[method] else 'NOT met'))
    print(common.format_table(('measure', 'value', 'goal', 'status'), rows))
    print()
    for method, (_ratio, counts) in per_change.items():
        print('  %s: %s' % (method, ', '.join(
            '%s %d' % kv for kv in sorted(counts.items())) or 'none'))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--objects', type=int, default=200)
    parser.add_argument('--idle-runs', type=int, default=5,
                        help='idle passes per node (default 5)')
    parser.add_argument('--base-port', type=int, default=18500)
    parser.add_argument('--keep', action='store_true',
                        help='keep the all-in-one directory')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    common.install_signal_handlers()
    try:
        with common.all_in_one(args.base_port, keep=args.keep) as cluster:
            workdir = os.path.join(cluster.base_dir, 'steady')
            os.makedirs(workdir, exist_ok=True)
            idle_cpu, idle, per_change = run(cluster, args, workdir)
    except KeyboardInterrupt as exc:
        log('interrupted (%s)', exc or 'Ctrl-C')
        return 130
    report(idle_cpu, idle, per_change, args.objects)
    return 0


if __name__ == '__main__':
    sys.exit(main())
