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
3. writes ``cloudsync.conf`` (the remote and the mappings, shared) and one
   small file per container node (its devices, port and progress
   directory), mapping ``demo`` to the moto bucket ``cloudsync-demo``;
4. runs ``cloudsync-sync --once`` on each of the 3 nodes;
5. lists the bucket: keys, sizes and metadata, next to the Swift objects;
6. archives: the container ``demo-archive`` is mapped with ``lifecycle =
   archive``; after a pass of the daemons its objects live in the bucket
   ``cloudsync-demo-archive``, not in Swift, and a proxy with the
   ``cloud_shunt`` middleware still serves them: the same bytes, the same
   names, sizes and ETags in the container listing;
7. runs ``cloudsync-status`` (and its monitoring check) and
   ``cloudsync-verify`` on the demo's configuration, printing each command
   so that it can be run again.

Usage::

    python tools/demo.py            # run it; the cluster stays up
    python tools/demo.py --stop     # stop the cluster (or: tools/aio.py stop)
    python tools/demo.py --fresh    # start from an empty cluster

The cluster keeps running afterwards (``--keep``, the default) so that it
can be looked at: ``python tools/aio.py env`` prints the settings for the
``swift`` and ``aws`` command line clients.
"""

import argparse
import hashlib
import json
import os
import shlex
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

ARCHIVE_CONTAINER = 'demo-archive'
ARCHIVE_BUCKET = 'cloudsync-demo-archive'

ARCHIVED = [
    ('reports/2025-q4.pdf', b'%PDF-1.7 quarterly figures ' * 8000,
     'application/pdf', {'X-Object-Meta-Owner': 'finance'}),
    ('logs/app-2025-01-01.log', b'INFO all quiet\n' * 2000, 'text/plain',
     {}),
    ('notes.txt', b'Archived, and still readable through Swift.\n',
     'text/plain', {'X-Object-Meta-Note': 'cold'}),
]

#: the shared part: the remote and the mappings (the shunt reads it too)
CONFIG = """\
[DEFAULT]
swift_dir = %(swift_dir)s
internal_client_conf_path = %(ic)s
mount_check = false
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

[mapping:archive]
account = %(account)s
container = %(archive_container)s
remote = demo-s3
bucket = %(archive_bucket)s
lifecycle = archive
copy_after = 0
"""

#: what differs per container node
NODE_CONFIG = """\
[DEFAULT]
devices = %(devices)s
bind_ip = %(ip)s
bind_port = %(port)d
status_dir = %(status_dir)s
log_file = %(log_file)s
"""


def say(text=''):
    print(text, flush=True)


def write_configs(cluster, work_dir):
    """(the shared cloudsync.conf, {node index: [its config files]})."""
    os.makedirs(work_dir, exist_ok=True)
    shared = os.path.join(work_dir, 'cloudsync.conf')
    with open(shared, 'w') as f:
        f.write(CONFIG % {
            'swift_dir': cluster.swift_dir,
            'ic': cluster.state['internal_client_conf'],
            'moto': cluster.state['moto_endpoint'],
            'access_key': aio_tools.MOTO_ACCESS_KEY,
            'secret_key': aio_tools.MOTO_SECRET_KEY,
            'account': ACCOUNT, 'container': CONTAINER, 'bucket': BUCKET,
            'archive_container': ARCHIVE_CONTAINER,
            'archive_bucket': ARCHIVE_BUCKET})
    paths = {}
    for node in cluster.state['nodes']:
        index = node['index']
        path = os.path.join(work_dir, 'node%d.conf' % index)
        with open(path, 'w') as f:
            f.write(NODE_CONFIG % {
                'devices': node['devices'],
                'ip': node['ip'], 'port': node['container_port'],
                'status_dir': os.path.join(work_dir, 'status-node%d' % index),
                'log_file': os.path.join(work_dir, 'sync-node%d.log' % index),
            })
        paths[index] = [shared, path]
    return shared, paths


def config_args(files):
    args = []
    for path in files:
        args += ['--config-file', path]
    return args


def command_path(name):
    """Console script ``name`` of this environment, relative to the
    current directory when it is below it.
    """
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        return None
    relative = os.path.relpath(path)
    return relative if not relative.startswith('..') else path


def show_command(name, args, indent='   '):
    """Print the command line, run it, print its output; exit status."""
    script = command_path(name)
    argv = ([script] if script else
            [sys.executable, '-m', 'cloudsync.cmd.%s' % name.split('-')[1]])
    say('%s$ %s' % (indent, ' '.join(shlex.quote(a) for a in argv + args)))
    proc = subprocess.run(argv + args, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=300)
    for line in proc.stdout.decode('utf-8', 'replace').splitlines():
        say('%s  %s' % (indent, line))
    say('%s  (exit status %d)' % (indent, proc.returncode))
    return proc.returncode


def run_daemons(paths):
    """``cloudsync-sync --once`` on every node at once; exit codes."""
    procs = {}
    for index, files in sorted(paths.items()):
        procs[index] = subprocess.Popen(
            [sys.executable, '-m', 'cloudsync.cmd.sync'] +
            config_args(files) + ['--once'], stdin=subprocess.DEVNULL,
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
    shared, paths = write_configs(cluster, work_dir)
    say('\n== 3. The configuration: %s (the remote and the mappings), and '
        'one file per container node' % shared)
    for index, files in sorted(paths.items()):
        say('   node %d: %s' % (index, files[-1]))

    say('\n== 4. Running cloudsync-sync --once on each node')
    started = time.time()
    codes = run_daemons(paths)
    for index in sorted(codes):
        say('   node %d: exit %s' % (index, codes[index]))
        for line in summary_lines(os.path.join(
                work_dir, 'sync-node%d.log' % index)):
            if ' %s/%s ' % (ACCOUNT, CONTAINER) in line:
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
    say('   Every object of %s/%s is in the bucket, under the layout of '
        'swift-s3-sync\n   (<hash>/<account>/<container>/<object>).'
        % (ACCOUNT, CONTAINER))

    archived_ok = archive(cluster, swift, s3, paths, shared)
    checks_ok = status_and_verify(paths, shared)

    python = os.path.relpath(sys.executable)
    if python.startswith('..'):
        python = sys.executable
    tool = os.path.relpath(os.path.join(HERE, 'aio.py'))
    say('\nThe cluster is still running: %s %s env prints the client '
        'settings;\nstop it, and every process the demo started, with: '
        '%s %s stop' % (python, tool, python, tool))
    return 0 if archived_ok and checks_ok else 1


def _listing(conn, container):
    _headers, entries = conn.get_container(container, full_listing=True)
    return entries


def archive(cluster, swift, s3, paths, shared):
    """Step 6: archive a container, read it back through the shunt."""
    say('\n== 6. Archiving %s/%s to s3://%s (lifecycle = archive, '
        'copy_after = 0)' % (ACCOUNT, ARCHIVE_CONTAINER, ARCHIVE_BUCKET))
    try:
        s3.create_bucket(Bucket=ARCHIVE_BUCKET)
    except (s3.exceptions.BucketAlreadyOwnedByYou,
            s3.exceptions.BucketAlreadyExists):
        pass
    swift.put_container(ARCHIVE_CONTAINER)
    originals = {}
    for name, data, ctype, headers in ARCHIVED:
        swift.put_object(ARCHIVE_CONTAINER, name, data, content_type=ctype,
                         headers=headers)
        originals[name] = data
        say('   PUT %-28s %8d bytes  md5 %s' % (
            name, len(data), hashlib.md5(data).hexdigest()))
    before = _listing(swift, ARCHIVE_CONTAINER)
    codes = run_daemons(paths)
    say('   cloudsync-sync --once on each node: exit %s' % ', '.join(
        str(codes[i]) for i in sorted(codes)))
    remote = s3.list_objects_v2(Bucket=ARCHIVE_BUCKET).get('Contents', [])
    say('   s3://%s now holds %d objects; Swift keeps zero-byte stubs of '
        'them, which it does not serve by itself:'
        % (ARCHIVE_BUCKET, len(remote)))
    from swiftclient import exceptions as swift_exc
    for name in originals:
        try:
            headers = swift.head_object(ARCHIVE_CONTAINER, name)
            answer = '%s, %s bytes, %s' % (
                200, headers.get('content-length'),
                headers.get('content-type'))
        except swift_exc.ClientException as exc:
            answer = str(exc.http_status)
        say('      HEAD %s without the shunt: %s' % (name, answer))

    shunt_url = cluster.start_proxy('shunt', [('cloud_shunt', {
        'use': 'egg:swift-cloudsync#cloud_shunt', 'conf_file': shared})])
    say('   A proxy with the cloud_shunt middleware (conf_file = %s) at %s:'
        % (shared, shunt_url))
    from swiftclient import client as swiftclient
    through = swiftclient.Connection(
        authurl=shunt_url + '/auth/v1.0', user='test:tester', key='testing',
        auth_version='1', retries=2, timeout=30)
    ok = not any(codes.values())
    for name, data in originals.items():
        headers, body = through.get_object(ARCHIVE_CONTAINER, name)
        same = body == data
        ok = ok and same
        say('      GET %-28s %8d bytes  md5 %s  %s' % (
            name, len(body), hashlib.md5(body).hexdigest(),
            'identical' if same else 'DIFFERENT'))
    after = _listing(through, ARCHIVE_CONTAINER)

    def essentials(entries):
        return [(e['name'], e['bytes'], e['hash']) for e in entries]

    same_listing = essentials(before) == essentials(after)
    ok = ok and same_listing
    say('      GET %s (the listing): %s' % (ARCHIVE_CONTAINER, (
        'the same names, sizes and ETags as before archiving'
        if same_listing else 'CHANGED:\n%s\n%s' % (
            json.dumps(before), json.dumps(after)))))
    through.close()
    script = command_path('swift')
    if script:
        say('   Read one yourself:\n   $ %s' % ' '.join(
            shlex.quote(a) for a in [
                script, '-A', shunt_url + '/auth/v1.0', '-U', 'test:tester',
                '-K', 'testing', 'download', ARCHIVE_CONTAINER, 'notes.txt',
                '-o', '-']))
    return ok


def status_and_verify(paths, shared):
    """Step 7: the operator's commands, on node 1's configuration."""
    files = paths[min(paths)]
    say('\n== 7. cloudsync-status and cloudsync-verify on node %d (each '
        'node reports its own share)' % min(paths))
    # NOTE: archiving deleted the local copies: new container rows, which
    # the daemons' next pass (every poll_interval when they run) takes in.
    codes = run_daemons(paths)
    say('   After one more pass of the daemons (they make one every '
        'poll_interval when running):')
    codes = list(codes.values())
    codes.append(show_command('cloudsync-status', config_args(files)))
    codes.append(show_command('cloudsync-status', config_args(files) +
                              ['--check']))
    say('')
    codes.append(show_command('cloudsync-verify', config_args(files)))
    say('')
    codes.append(show_command('cloudsync-verify', config_args(files) + [
        '--mapping', 'demo', '--compare']))
    return not any(codes)


if __name__ == '__main__':
    sys.exit(main())
