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

"""Swift's own functional tests, through a proxy with the cloud shunt.

Every client that works against Swift must work through the shunt. Swift
ships the tests that say what a client may expect of it: this runs them
(``test/functional`` of the source distribution of the installed Swift
version, fetched with ``pip download`` when it is not given) against an
all-in-one cluster (``tools/aio.py``) through a proxy that has
``cloud_shunt`` in its pipeline, with a mapping that covers the whole test
account (``container = *``, ``lifecycle = archive``, a moto bucket).

A test that fails through the shunt is then run through the all-in-one's
plain proxy: one that fails there too is Swift's or the all-in-one's own
matter (a limit of this machine, say), and is only listed. One that passes
there is run once more through the shunt; when it fails again, it fails
the run. Running only the shunt's failures through the plain proxy keeps
the run about as short as one pass of the tests (``--both`` runs every
test through both proxies instead).

Usage::

    python tools/swift_functests.py [--sdist SWIFT_SDIST] [--keep] [--both]
        [--modules tests.py test_object.py ...] [-- PYTEST_ARGS]

The runs use pytest, one after the other (Swift's tests clean the test
accounts as they go, so they cannot run side by side). Everything started
is stopped at the end, also on failure or interruption. The last line is
``N passed, M failed``: the tests that passed through the shunt (or
failed through both proxies, and are counted as passed), and those that
pass through the plain proxy only.
"""

import argparse
import importlib.metadata
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from xml.etree import ElementTree

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

import aio as aio_tools  # noqa: E402

#: the test modules run by default (``test/functional/<module>``)
DEFAULT_MODULES = ('tests.py', 'test_object.py', 'test_container.py',
                   'test_slo.py', 'test_dlo.py', 'test_symlink.py')
#: the all-in-one's ports: a random block of 100 from here, below the
#: ports the system hands out to outgoing connections
BASE_PORT = 20000
PORT_ATTEMPTS = 5
#: the longest one pytest run may take, in seconds
RUN_TIMEOUT = 1500


class RunnerError(Exception):
    pass


def swift_version():
    return importlib.metadata.version('swift')


def fetch_sdist(version, work_dir):
    """Download the source distribution of ``swift==version``."""
    dest = os.path.join(work_dir, 'sdist')
    os.makedirs(dest, exist_ok=True)
    cmd = [sys.executable, '-m', 'pip', 'download', '--quiet',
           '--no-binary', ':all:', '--no-deps', '--dest', dest,
           'swift==%s' % version]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=600)
    for name in os.listdir(dest):
        if name.startswith('swift-') and name.endswith('.tar.gz'):
            return os.path.join(dest, name)
    raise RunnerError('could not download the source distribution of '
                      'swift %s:\n%s' % (version, proc.stdout.decode(
                          'utf-8', 'replace')))


def extract_tests(sdist, work_dir):
    """The ``test`` package of the sdist, alone in a folder; that folder.

    Only ``test/`` is extracted, so that the installed ``swift`` is the
    one tested, never the sdist's own copy of it.
    """
    root = os.path.join(work_dir, 'swift-tests')
    if os.path.isdir(sdist):
        shutil.copytree(os.path.join(sdist, 'test'),
                        os.path.join(root, 'test'))
        return root
    with tarfile.open(sdist) as tar:
        members = []
        for member in tar.getmembers():
            parts = member.name.split('/', 1)
            if len(parts) == 2 and (parts[1] == 'test' or
                                    parts[1].startswith('test/')):
                if not (member.isfile() or member.isdir()):
                    continue
                member.name = parts[1]
                members.append(member)
        if not members:
            raise RunnerError('%s has no test/ folder' % sdist)
        kwargs = {}
        if hasattr(tarfile, 'data_filter'):
            kwargs['filter'] = 'data'
        tar.extractall(root, members=members, **kwargs)
    return root


def start_cluster(work_dir):
    base_port = BASE_PORT + 100 * random.randrange(120)
    last_error = None
    for attempt in range(PORT_ATTEMPTS):
        # NOTE: one node and one replica: Swift's tests do not depend on
        # replicas, and each request costs a third of a 3-node cluster's
        # work, which is most of the run's time on a small machine.
        cluster = aio_tools.AllInOne(os.path.join(work_dir, 'aio'),
                                     base_port + 100 * attempt, nodes=1,
                                     replicas=1)
        try:
            cluster.start(fresh=True)
            return cluster
        except aio_tools.PortsInUse as exc:
            last_error = exc
    raise last_error


def write_shunt_conf(cluster, path, bucket):
    with open(path, 'w') as f:
        f.write(textwrap.dedent('''\
            [DEFAULT]
            swift_dir = %(swift_dir)s

            [remote:moto]
            provider = s3
            endpoint = %(moto)s
            access_key = %(key)s
            secret_key = %(secret)s

            [mapping:functests]
            account = AUTH_test
            container = *
            remote = moto
            bucket = %(bucket)s
            lifecycle = archive
            copy_after = 86400
        ''') % {'swift_dir': cluster.swift_dir, 'bucket': bucket,
                'moto': cluster.state['moto_endpoint'],
                'key': aio_tools.MOTO_ACCESS_KEY,
                'secret': aio_tools.MOTO_SECRET_KEY})


def write_test_conf(path, proxy_url):
    """Swift's ``test.conf`` for the all-in-one's tempauth users."""
    with open(path, 'w') as f:
        f.write(textwrap.dedent('''\
            [func_test]
            auth_uri = %s/auth/v1.0
            account = test
            username = tester
            password = testing
            account2 = test2
            username2 = tester2
            password2 = testing2
            username3 = tester3
            password3 = testing3
            account5 = test5
            username5 = tester5
            password5 = testing5
            service_prefix = SERVICE
            collate = C
            insecure = no
        ''') % proxy_url)


def run_pytest(label, tests_root, test_conf, tests, work_dir, extra):
    """One run of Swift's functional tests; ``{node id: outcome}``."""
    junit = os.path.join(work_dir, '%s.xml' % label)
    ini = os.path.join(work_dir, 'pytest.ini')
    with open(ini, 'w') as f:
        f.write('[pytest]\n')
    env = dict(os.environ)
    env.update({'SWIFT_TEST_CONFIG_FILE': test_conf,
                'SWIFT_TEST_IN_PROCESS': 'false',
                'PYTHONPATH': tests_root})
    cmd = [sys.executable, '-m', 'pytest', '-c', ini, '--rootdir',
           tests_root, '-p', 'no:cacheprovider', '-q', '-rfE',
           '--junitxml', junit] + list(tests) + list(extra)
    print('== Swift %s functional tests: %s' % (swift_version(), label),
          flush=True)
    started = time.time()
    proc = subprocess.run(cmd, cwd=tests_root, env=env,
                          stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT)
    print('== %s: pytest exited %d after %.0fs' % (
        label, proc.returncode, time.time() - started), flush=True)
    if proc.returncode not in (0, 1) or not os.path.exists(junit):
        raise RunnerError('the run %s did not complete (pytest exited %d)'
                          % (label, proc.returncode))
    return read_junit(junit)


def node_id(classname, name):
    """pytest's id of a JUnit test case of ``test/functional``."""
    parts = classname.split('.')
    return '%s.py::%s::%s' % ('/'.join(parts[:-1]), parts[-1], name)


def read_junit(path):
    outcomes = {}
    for case in ElementTree.parse(path).iter('testcase'):
        outcome = 'passed'
        for child in case:
            if child.tag in ('failure', 'error'):
                outcome = 'failed'
                break
            if child.tag == 'skipped':
                outcome = 'skipped'
        outcomes[node_id(case.get('classname'), case.get('name'))] = \
            outcome
    return outcomes


def counts(outcomes):
    result = {'passed': 0, 'failed': 0, 'skipped': 0}
    for outcome in outcomes.values():
        result[outcome] += 1
    return result


def failed(outcomes):
    return sorted(n for n, o in outcomes.items() if o == 'failed')


def passed(outcomes):
    return sorted(n for n, o in outcomes.items() if o == 'passed')


def suspects(shunt, plain):
    """The tests that fail through the shunt and pass without it."""
    return [n for n in failed(shunt) if plain.get(n) == 'passed']


def judge(shunt, plain, again):
    """The verdict of the runs.

    :param shunt: ``{node id: outcome}`` of every test through the shunt.
    :param plain: the same, through the plain proxy (of every test, or of
        the shunt's failures only).
    :param again: the same, through the shunt again, of :func:`suspects`.
    :returns: a dict: ``passed`` and ``failed``, the counts of the closing
        line (a test that fails through both proxies counts as passed: it
        is not the shunt's doing; one that fails through the shunt twice
        and passes through the plain proxy, or was not run through the
        plain proxy, as failed), and the names behind them: ``both
        failed``, ``regressions``, ``not compared``, ``passed again``.
    """
    both_failed = [n for n in failed(shunt) if plain.get(n) == 'failed']
    suspected = suspects(shunt, plain)
    regressions = [n for n in suspected if again.get(n) != 'passed']
    passed_again = [n for n in suspected if n not in regressions]
    not_compared = [n for n in failed(shunt)
                    if n not in both_failed and n not in suspected]
    return {
        'passed': len(passed(shunt)) + len(both_failed) + len(passed_again),
        'failed': len(regressions) + len(not_compared),
        'both failed': both_failed, 'regressions': regressions,
        'not compared': not_compared, 'passed again': passed_again,
    }


def summary(outcomes):
    return ', '.join('%d %s' % (n, k) for k, n in counts(outcomes).items())


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Run Swift's functional tests through the plain proxy "
                    "and through a proxy with the cloud shunt; fail on any "
                    "test that only the shunt fails.")
    parser.add_argument('--sdist', help='a swift source distribution '
                        '(.tar.gz) or its extracted folder (default: '
                        'downloaded with pip for the installed version)')
    parser.add_argument('--modules', nargs='+', default=DEFAULT_MODULES,
                        help='test modules of test/functional (default: '
                        '%(default)s)')
    parser.add_argument('--both', action='store_true',
                        help='run every test through both proxies, not '
                        "only the shunt's failures through the plain one")
    parser.add_argument('--keep', action='store_true',
                        help='keep the work folder (cluster, logs, JUnit '
                        'reports)')
    parser.add_argument('pytest_args', nargs='*',
                        help='more pytest arguments, after --')
    args = parser.parse_args(argv)

    work_dir = tempfile.mkdtemp(prefix='swift-functests-')
    cluster = None

    def interrupted(signum, frame):
        raise KeyboardInterrupt('signal %d' % signum)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        version = swift_version()
        sdist = args.sdist or fetch_sdist(version, work_dir)
        tests_root = extract_tests(sdist, work_dir)
        cluster = start_cluster(work_dir)
        aio_tools.use_swift_dir(cluster.swift_dir)
        bucket = 'functests-%d' % os.getpid()
        cluster.s3_client().create_bucket(Bucket=bucket)
        shunt_conf = os.path.join(work_dir, 'cloudsync.conf')
        write_shunt_conf(cluster, shunt_conf, bucket)
        shunt_url = cluster.start_proxy('shunt', [('cloud_shunt', {
            'use': 'egg:swift-cloudsync#cloud_shunt',
            'conf_file': shunt_conf})])
        confs = {}
        for label, url in (('plain', cluster.state['proxy_url']),
                           ('shunt', shunt_url)):
            confs[label] = os.path.join(work_dir, 'test-%s.conf' % label)
            write_test_conf(confs[label], url)

        def run(label, proxy, tests):
            return run_pytest(label, tests_root, confs[proxy], tests,
                              work_dir, args.pytest_args)

        modules = [os.path.join('test', 'functional', m)
                   for m in args.modules]
        shunt = run('every test through the shunt', 'shunt', modules)
        print('through the shunt: %s' % summary(shunt))
        if args.both:
            plain = run('every test through the plain proxy', 'plain',
                        modules)
        elif failed(shunt):
            plain = run('the failures, through the plain proxy', 'plain',
                        failed(shunt))
        else:
            plain = {}
        print('through the plain proxy: %s' % summary(plain))
        again = {}
        if suspects(shunt, plain):
            again = run('the failures only the shunt has, through the '
                        'shunt again', 'shunt', suspects(shunt, plain))
        result = judge(shunt, plain, again)
        both_failed, unknown, regressions = (
            result['both failed'], result['not compared'],
            result['regressions'])
        for name in result['passed again']:
            print('passed through the shunt when run again: %s' % name)
        if both_failed:
            print("failed through both proxies (not the shunt's doing):")
            for name in both_failed:
                print('  %s' % name)
        if unknown:
            print('failed through the shunt, not run through the plain '
                  'proxy (counted as failed):')
            for name in unknown:
                print('  %s' % name)
        if regressions:
            print('pass through the plain proxy, fail through the shunt:')
            for name in regressions:
                print('  %s' % name)
            print(cluster.log_tail('shunt', 40))
        if not passed(shunt):
            raise RunnerError('no test passed through the shunt')
        print('%d passed, %d failed' % (result['passed'], result['failed']))
        return 1 if result['failed'] else 0
    except (RunnerError, aio_tools.AioError) as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 2
    finally:
        if cluster is not None:
            cluster.stop()
        if args.keep:
            print('kept %s' % work_dir)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
