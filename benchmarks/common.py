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
"""What the benchmarks share.

* :func:`all_in_one`: a fresh ``tools/aio.py`` all-in-one (3 Swift nodes
  and moto) on a free block of ports, stopped and removed at the end, also
  when the run fails or is interrupted;
* :class:`Children`: the processes a benchmark starts, so that exactly
  those (and nothing else) are stopped on the way out;
* :func:`find_rclone`: Debian's ``rclone``, installed with ``apt-get``
  when it is missing and the benchmark runs as root;
* tables, JSON results and what was measured on which machine.

Benchmarks never assert on time: they print what they measured.
"""

import compileall
from concurrent import futures
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

KiB = 1024
MiB = 1024 * KiB
#: MB/s in the tables are 10**6 bytes per second
MB = 1000 * 1000

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS_DIR = os.path.join(REPO_ROOT, 'tools')
DEFAULT_BASE_PORT = 18000
PORT_ATTEMPTS = 5


def log(message, *args):
    """Progress on stderr, so that stdout holds only the results."""
    if args:
        message = message % args
    stamp = time.strftime('%H:%M:%S')
    print('[%s] %s' % (stamp, message), file=sys.stderr, flush=True)


def import_aio():
    """The ``tools/aio.py`` module."""
    if TOOLS_DIR not in sys.path:
        sys.path.insert(0, TOOLS_DIR)
    import aio
    return aio


def import_aio_cloudsync():
    """The ``tools/aio_cloudsync.py`` module: the cloudsync configurations
    of the all-in-one, as the functional tests write them.
    """
    import_aio()
    import aio_cloudsync
    return aio_cloudsync


def install_signal_handlers():
    """SIGTERM and SIGHUP unwind like Ctrl-C, so cleanup always runs."""
    def handler(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


@contextlib.contextmanager
def all_in_one(base_port=DEFAULT_BASE_PORT, base_dir=None, keep=False,
               memcache=False):
    """A fresh all-in-one, stopped (and its files removed) on the way out.

    When the ports from ``base_port`` are taken, the next blocks of 100
    ports are tried. ``base_dir`` (default: a new temporary directory) is
    wiped first; it is removed at the end unless ``keep`` is set or it was
    given by the caller.
    """
    aio = import_aio()
    owned = base_dir is None
    if owned:
        base_dir = tempfile.mkdtemp(prefix='cloudsync-bench-')
    cluster = None
    try:
        error = None
        for attempt in range(PORT_ATTEMPTS):
            candidate = aio.AllInOne(base_dir, base_port + 100 * attempt,
                                     memcache=memcache, log_level='WARNING')
            try:
                cluster = candidate
                t0 = time.monotonic()
                cluster.start(fresh=True)
                log('all-in-one up in %.1fs in %s (base port %d)',
                    time.monotonic() - t0, base_dir, cluster.base_port)
                break
            except aio.PortsInUse as exc:
                cluster = None
                error = exc
        else:
            raise error
        yield cluster
    finally:
        if cluster is not None:
            log('stopping the all-in-one')
            cluster.stop()
        if owned and not keep:
            shutil.rmtree(base_dir, ignore_errors=True)
        elif keep:
            log('kept %s', base_dir)


class Children(object):
    """Processes started by a benchmark; :meth:`stop_all` ends them."""

    def __init__(self):
        self.procs = []

    def popen(self, cmd, **kwargs):
        # NOTE(cloudsync): each child leads its own process group, so that
        # stopping it also stops whatever it forked, and only that.
        kwargs.setdefault('start_new_session', True)
        kwargs.setdefault('stdin', subprocess.DEVNULL)
        proc = subprocess.Popen(cmd, **kwargs)
        self.procs.append(proc)
        return proc

    def stop(self, proc, timeout=10.0):
        if proc.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop_all(self):
        for proc in self.procs:
            self.stop(proc)
        self.procs = [p for p in self.procs if p.poll() is None]

    def wait_all(self, procs, timeout):
        """Wait for ``procs``; stop them all after ``timeout`` seconds.

        :returns: their exit codes, or None when the timeout stopped them
        """
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                for other in procs:
                    self.stop(other)
                return None
        return [p.returncode for p in procs]


def compile_bytecode(checkout=None):
    """Compile cloudsync's packages (those installed here, or those of
    another ``checkout``) into their ``__pycache__``, as pip does when it
    installs a package: the daemons a benchmark starts then run from
    bytecode, even where ``PYTHONDONTWRITEBYTECODE`` is set or the
    checkout was never imported (else each one compiles cloudsync from
    source as it starts).
    """
    if checkout:
        dirs = [os.path.join(checkout, name)
                for name in ('cloudsync', 'cloudsync_providers')]
    else:
        import cloudsync
        import cloudsync_providers
        dirs = [os.path.dirname(package.__file__)
                for package in (cloudsync, cloudsync_providers)]
    for path in dirs:
        compileall.compile_dir(path, quiet=1)


def pool_map(func, items, workers):
    """``[func(item) for item in items]`` in a pool of ``workers`` threads.

    On an error or Ctrl-C, the calls not started yet are cancelled instead
    of being run to the end (as leaving a ``ThreadPoolExecutor`` block
    would).
    """
    pool = futures.ThreadPoolExecutor(workers)
    try:
        results = list(pool.map(func, items))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


# -- rclone ------------------------------------------------------------------

_apt_updated = False


def _apt(args, timeout):
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    return subprocess.run(['apt-get'] + args, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, text=True)


def find_rclone(install=True):
    """(path to rclone, None) or (None, why there is no rclone column)."""
    global _apt_updated
    path = shutil.which('rclone')
    if path:
        return path, None
    if not install:
        return None, 'rclone is not on PATH (and --no-install-rclone)'
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        return None, ('rclone is not on PATH: install Debian\'s rclone '
                      'package (apt-get install rclone) for this column')
    try:
        if not _apt_updated:
            log('rclone is not installed: apt-get update')
            _apt(['update', '-q'], 600)
            _apt_updated = True
        log('apt-get install -y rclone')
        result = _apt(['install', '-y', '-q', 'rclone'], 900)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, 'apt-get install rclone failed: %s' % exc
    path = shutil.which('rclone')
    if result.returncode != 0 or not path:
        tail = ' | '.join(result.stdout.strip().splitlines()[-3:])
        return None, 'apt-get install rclone failed: %s' % tail
    return path, None


def rclone_version(path):
    try:
        out = subprocess.run([path, 'version'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True,
                             timeout=30, env=rclone_env()).stdout
    except (OSError, subprocess.SubprocessError):
        return 'unknown'
    first = out.strip().splitlines()[:1]
    return first[0] if first else 'unknown'


def rclone_env():
    """The environment for rclone's process.

    NOTE(cloudsync): rclone fails with LoadCustomCABundleError when
    AWS_CA_BUNDLE is set, even for plain http endpoints.
    """
    env = dict(os.environ)
    env.pop('AWS_CA_BUNDLE', None)
    return env


RCLONE_CONF = """\
[swift]
type = swift
auth = %(auth_url)s
user = %(user)s
key = %(key)s

[s3]
type = s3
provider = Other
endpoint = %(endpoint)s
access_key_id = %(access_key)s
secret_access_key = %(secret_key)s
region = %(region)s
force_path_style = true
no_check_bucket = true
"""


def write_rclone_conf(path, state, user='test:tester', key='testing'):
    """An rclone configuration of the all-in-one of ``state``: remote
    ``swift`` (its proxy, tempauth v1, as ``user``) and remote ``s3`` (its
    moto server); returns ``path``.
    """
    with open(path, 'w') as f:
        f.write(RCLONE_CONF % {
            'auth_url': state['auth_url'], 'user': user, 'key': key,
            'endpoint': state['moto_endpoint'],
            'access_key': state['moto_access_key'],
            'secret_key': state['moto_secret_key'],
            'region': state['moto_region'],
        })
    return path


# -- clients -----------------------------------------------------------------

def s3_client(endpoint, access_key, secret_key, region='us-east-1',
              max_connections=10):
    """A boto3 S3 client as S3 clones and moto want it (path style)."""
    import boto3
    from botocore.config import Config
    config = Config(
        region_name=region,
        signature_version='s3v4',
        s3={'addressing_style': 'path'},
        request_checksum_calculation='when_required',
        response_checksum_validation='when_required',
        retries={'max_attempts': 3, 'mode': 'standard'},
        max_pool_connections=max(10, max_connections),
        connect_timeout=10, read_timeout=120)
    return boto3.session.Session().client(
        's3', endpoint_url=endpoint, aws_access_key_id=access_key,
        aws_secret_access_key=secret_key, config=config)


def list_bucket(s3, bucket, prefix=''):
    """{key: (size, etag without quotes)} of every object under prefix."""
    found = {}
    for page in s3.get_paginator('list_objects_v2').paginate(
            Bucket=bucket, Prefix=prefix):
        for item in page.get('Contents', ()):
            found[item['Key']] = (item['Size'], item['ETag'].strip('"'))
    return found


def empty_bucket(s3, bucket):
    """Delete every object and the bucket (moto keeps them in memory)."""
    keys = list(list_bucket(s3, bucket))
    for i in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={
            'Objects': [{'Key': k} for k in keys[i:i + 1000]],
            'Quiet': True})
    s3.delete_bucket(Bucket=bucket)


# -- measuring and reporting -------------------------------------------------

def peak_rss_mib():
    """This process's peak RSS in MiB, from getrusage (ru_maxrss)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def vm_hwm_mib():
    """This process's peak RSS in MiB from /proc (VmHWM), or None.

    Unlike ru_maxrss, VmHWM starts from zero at exec: a child's ru_maxrss
    also counts the memory of the parent it was forked from.
    """
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return None


def ratio(numerator, denominator):
    if not numerator or not denominator:
        return None
    return numerator / denominator


def fmt(value, digits=2, none='-'):
    if value is None:
        return none
    if isinstance(value, float):
        return '%.*f' % (digits, value)
    return str(value)


def format_table(headers, rows):
    """A plain-text table; numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [
        [str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row, align_numbers=True):
        out = []
        for i, cell in enumerate(row):
            numeric = align_numbers and _looks_numeric(cell)
            out.append(cell.rjust(widths[i]) if numeric
                       else cell.ljust(widths[i]))
        return '  '.join(out).rstrip()

    sep = '  '.join('-' * w for w in widths)
    return '\n'.join([line(cells[0], False), sep] +
                     [line(r) for r in cells[1:]])


def _looks_numeric(cell):
    try:
        float(cell.rstrip('x%'))
    except ValueError:
        return False
    return True


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info():
    """What the numbers were measured on."""
    return {
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds'),
        'cpus': os.cpu_count(),
        'loadavg_at_start': [round(x, 2) for x in os.getloadavg()],
        'python': platform.python_version(),
        'platform': platform.platform(),
        'versions': {p: _version(p) for p in (
            'swift-cloudsync', 'swift', 'boto3', 'moto', 'python-swiftclient',
            'eventlet')},
    }


def write_json(path, data):
    tmp = '%s.tmp' % path
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write('\n')
    os.replace(tmp, path)
