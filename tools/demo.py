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
"""cloudsync's main job, end to end, on this machine.

1. starts the local all-in-one (``tools/aio.py``: a 3-node Swift cluster
   and a moto S3 server on 127.0.0.1), or reuses a running one;
2. creates the container ``demo`` in ``AUTH_test`` with a few objects (one
   with metadata, one with a unicode name, an empty one, a 1 MiB one);
3. writes a ``cloudsync.conf`` per container node mapping ``demo`` to the
   moto bucket ``cloudsync-demo`` (created if needed);
4. runs ``cloudsync-sync --once`` on each of the 3 nodes;
5. lists the bucket: keys, sizes and metadata, next to the Swift objects.

Usage::

    python tools/demo.py            # run it; the cluster stays up
    python tools/demo.py --stop     # stop the cluster (or: tools/aio.py stop)
    python tools/demo.py --fresh    # start from an empty cluster

The cluster keeps running afterwards (``--keep``, the default) so that it
can be looked at: ``python tools/aio.py env`` prints the settings for the
``swift`` and ``aws`` command line clients.
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import aio as aio_tools  # noqa: E402

ACCOUNT = 'AUTH_test'
CONTAINER = 'demo'
BUCKET = 'cloudsync-demo'

OBJECTS = [
    ('hello.txt', b'Hello from Swift!\n', 'text/plain', {}),
    ('photos/cat.jpg', b'\xff\xd8\xff\xe0 not really a cat ' * 64,
     'image/jpeg', {'X-Object-Meta-Color': 'Tabby',
                    'X-Object-Meta-Taken-By': 'Ada Lovelace'}),
    ('docs/r\u00e9sum\u00e9 \u2603.txt',
     'Unicode names travel too: \u00e9\u00e8\u2603\U0001f600\n'.encode(),
     'text/plain; charset=utf-8', {'X-Object-Meta-Lang': 'fran\u00e7ais'}),
    ('empty', b'', 'application/octet-stream', {}),
    ('data/one-mebibyte.bin', bytes(range(256)) * 4096,
     'application/octet-stream', {}),
]

CONFIG = """\
[DEFAULT]
devices = %(devices)s
swift_dir = %(swift_dir)s
internal_client_conf_path = %(ic)s
bind_ip = %(ip)s
bind_port = %(port)d
mount_check = false
status_dir = %(status_dir)s
log_file = %(log_file)s
workers = 4

[remote:demo-s3]
provider = s3
endpoint = %(moto)s
access_key = %(access_key)s
secret_key = %(secret_key)s

[mapping:demo]
account = %(account)s
container = %(container)s
remote = demo-s3
bucket = %(bucket)s
lifecycle = sync
"""


def say(text=''):
    print(text, flush=True)


def write_configs(cluster, work_dir):
    os.makedirs(work_dir, exist_ok=True)
    paths = {}
    for node in cluster.state['nodes']:
        index = node['index']
        path = os.path.join(work_dir, 'cloudsync-node%d.conf' % index)
        with open(path, 'w') as f:
            f.write(CONFIG % {
                'devices': node['devices'], 'swift_dir': cluster.swift_dir,
                'ic': cluster.state['internal_client_conf'],
                'ip': node['ip'], 'port': node['container_port'],
                'status_dir': os.path.join(work_dir, 'status-node%d' % index),
                'log_file': os.path.join(work_dir, 'sync-node%d.log' % index),
                'moto': cluster.state['moto_endpoint'],
                'access_key': aio_tools.MOTO_ACCESS_KEY,
                'secret_key': aio_tools.MOTO_SECRET_KEY,
                'account': ACCOUNT, 'container': CONTAINER,
                'bucket': BUCKET})
        paths[index] = path
    return paths


def run_daemons(paths):
    """``cloudsync-sync --once`` on every node at once; exit codes."""
    procs = {}
    for index, path in sorted(paths.items()):
        procs[index] = subprocess.Popen(
            [sys.executable, '-m', 'cloudsync.cmd.sync', '--config-file',
             path, '--once'], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    codes = {}
    for index, proc in procs.items():
        out, _ = proc.communicate(timeout=600)
        codes[index] = proc.returncode
        if proc.returncode:
            say(out.decode('utf-8', 'replace'))
    return codes


def summary_lines(log_path):
    try:
        with open(log_path, errors='replace') as f:
            return [line.split('] ', 1)[-1].rstrip() for line in f
                    if 'Pass over' in line]
    except OSError:
        return []


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--base-dir', default=os.environ.get(
        'CLOUDSYNC_AIO_DIR', aio_tools.DEFAULT_BASE_DIR))
    parser.add_argument('--base-port', type=int, default=int(os.environ.get(
        'CLOUDSYNC_AIO_PORT', aio_tools.DEFAULT_BASE_PORT)))
    parser.add_argument('--keep', action='store_true', default=True,
                        help='leave the cluster running (the default)')
    parser.add_argument('--stop', action='store_true',
                        help='stop the all-in-one and exit')
    parser.add_argument('--fresh', action='store_true',
                        help='wipe the all-in-one first')
    args = parser.parse_args(argv)

    if args.stop:
        return aio_tools.main(['--base-dir', args.base_dir, 'stop'])

    say('== 1. Starting the all-in-one (3 Swift nodes + moto S3) in %s'
        % args.base_dir)
    cluster = aio_tools.AllInOne(args.base_dir, args.base_port)
    try:
        state = cluster.start(fresh=args.fresh)
    except aio_tools.AioError as exc:
        say('cannot start the all-in-one: %s' % exc)
        return 1
    say('   %s; Swift at %s, S3 at %s' % (
        'already running' if state.get('reused') else 'started',
        state['proxy_url'], state['moto_endpoint']))
    aio_tools.use_swift_dir(cluster.swift_dir)

    say('\n== 2. Uploading objects to %s/%s' % (ACCOUNT, CONTAINER))
    swift = cluster.swift_client()
    swift.put_container(CONTAINER)
    for name, data, ctype, headers in OBJECTS:
        swift.put_object(CONTAINER, name, data, content_type=ctype,
                         headers=headers)
        say('   PUT %-28s %8d bytes  %s' % (name, len(data), ' '.join(
            '%s: %s' % (k[len('X-Object-Meta-'):], v)
            for k, v in headers.items())))

    s3 = cluster.s3_client()
    try:
        s3.create_bucket(Bucket=BUCKET)
    except (s3.exceptions.BucketAlreadyOwnedByYou,
            s3.exceptions.BucketAlreadyExists):
        pass
    work_dir = os.path.join(cluster.base_dir, 'demo')
    paths = write_configs(cluster, work_dir)
    say('\n== 3. One cloudsync.conf per container node, mapping %s to '
        'bucket %s:' % (CONTAINER, BUCKET))
    for index, path in sorted(paths.items()):
        say('   node %d: %s' % (index, path))

    say('\n== 4. Running cloudsync-sync --once on each node')
    started = time.time()
    codes = run_daemons(paths)
    for index in sorted(codes):
        say('   node %d: exit %s' % (index, codes[index]))
        for line in summary_lines(os.path.join(
                work_dir, 'sync-node%d.log' % index))[-1:]:
            say('      %s' % line)
    say('   (%.1fs)' % (time.time() - started))

    say('\n== 5. What arrived in s3://%s' % BUCKET)
    from cloudsync import metadata as metadata_mod
    listing = s3.list_objects_v2(Bucket=BUCKET).get('Contents', [])
    for entry in sorted(listing, key=lambda e: e['Key']):
        head = s3.head_object(Bucket=BUCKET, Key=entry['Key'])
        meta = metadata_mod.remote_to_swift(head.get('Metadata', {}))
        say('   %-62s %8d bytes  %s' % (entry['Key'], entry['Size'],
                                        head.get('ContentType', '')))
        for key, value in sorted(meta.items()):
            say('   %62s %s: %s' % ('', key, value))
    missing = [name for name, _d, _c, _h in OBJECTS
               if not any(e['Key'].endswith('/' + name) for e in listing)]
    if missing or any(codes.values()):
        say('\nNot everything arrived: %s' % (missing or codes))
        return 1
    say('\nEvery object of %s/%s is in the bucket, under the layout of '
        'swift-s3-sync (<hash>/<account>/<container>/<object>).'
        % (ACCOUNT, CONTAINER))
    say('The cluster is still running: python tools/aio.py env prints the '
        'client settings;\nstop it with: python tools/demo.py --stop '
        '(or python tools/aio.py stop)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
