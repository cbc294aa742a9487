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

"""Fixtures for functional tests against a real Swift cluster and moto.

The session-scoped ``aio`` fixture starts ``tools/aio.py``'s all-in-one
(3 Swift nodes, a proxy with tempauth and s3api, a moto S3 server) once per
test session in a fresh temporary directory and stops it at the end.

Environment:

``CLOUDSYNC_TEST_BASE_PORT``
    first port of the test cluster (default: a random block of 100 ports
    from 17000 up, so that a cluster started by hand on the default 16000,
    and other test runs, are left alone); if the ports are taken, the next
    free block of 100 ports is used.
``CLOUDSYNC_AIO_STATE``
    path to the ``aio.json`` of a running all-in-one (``tools/aio.py
    start``): the tests use it and leave it running.
``CLOUDSYNC_AIO_KEEP``
    if set, the test cluster's directory (data, configs, logs) is kept.

The session-scoped ``aio_production`` fixture starts a second all-in-one
with the production profile (at-rest encryption, an erasure-coded policy
``ec``, object versioning, symlinks, the object expirer) on ports of its
own, for the tests that need it (``CLOUDSYNC_AIO_STATE`` does not apply to
it), and stops it at the end.
"""

import atexit
import os
import random
import shutil
import sys
import tempfile
import uuid

import pytest

TOOLS_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'tools')
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

import aio as aio_tools  # noqa: E402

DEFAULT_TEST_BASE_PORT = 17000
PORT_ATTEMPTS = 5


def _start_cluster(prefix='cloudsync-aio-test-', **options):
    if os.environ.get('CLOUDSYNC_TEST_BASE_PORT'):
        base_port = int(os.environ['CLOUDSYNC_TEST_BASE_PORT'])
    else:
        # NOTE: Swift's servers bind with SO_REUSEPORT, so two test runs on
        # one host that pick the same ports at the same moment would share
        # them; a random block makes that unlikely.
        base_port = DEFAULT_TEST_BASE_PORT + 100 * random.randrange(150)
    base_dir = tempfile.mkdtemp(prefix=prefix)
    last_error = None
    for attempt in range(PORT_ATTEMPTS):
        cluster = aio_tools.AllInOne(base_dir, base_port + 100 * attempt,
                                     **options)
        # registered before start: an interrupted start is cleaned up too
        atexit.register(cluster.stop)
        try:
            cluster.start(fresh=True)
            return cluster
        except aio_tools.PortsInUse as e:
            last_error = e
    shutil.rmtree(base_dir, ignore_errors=True)
    raise last_error


@pytest.fixture(scope='session')
def aio():
    """A running tools/aio.AllInOne, shared by the whole session."""
    state_file = os.environ.get('CLOUDSYNC_AIO_STATE')
    if state_file:
        if not os.path.exists(state_file):
            pytest.fail('CLOUDSYNC_AIO_STATE=%s does not exist; start an '
                        'all-in-one with "tools/aio.py start" or unset it'
                        % state_file)
        cluster = aio_tools.AllInOne.from_state(state_file)
        if not cluster.is_running():
            pytest.fail('the all-in-one of CLOUDSYNC_AIO_STATE=%s is not '
                        'running; start it with "tools/aio.py start" or '
                        'unset the variable' % state_file)
        aio_tools.use_swift_dir(cluster.swift_dir)
        yield cluster
        return

    cluster = _start_cluster()
    try:
        aio_tools.use_swift_dir(cluster.swift_dir)
        yield cluster
    finally:
        cluster.stop()
        if not os.environ.get('CLOUDSYNC_AIO_KEEP'):
            shutil.rmtree(cluster.base_dir, ignore_errors=True)


@pytest.fixture(scope='session')
def aio_production():
    """A running tools/aio.AllInOne with the production profile, shared by
    the whole session; a cluster of its own, on its own ports.

    NOTE(cloudsync): a process reads one cluster's swift.conf at a time
    (see ``use_swift_dir``): a test using both this and ``aio`` in-process
    must call ``use_swift_dir`` for the one it talks to.
    """
    cluster = _start_cluster(prefix='cloudsync-aio-prod-test-',
                             profile='production')
    try:
        aio_tools.use_swift_dir(cluster.swift_dir)
        yield cluster
    finally:
        cluster.stop()
        if not os.environ.get('CLOUDSYNC_AIO_KEEP'):
            shutil.rmtree(cluster.base_dir, ignore_errors=True)


#: seconds a token of the ``keystone`` fixture lives: short enough for a
#: test to see one expire
KEYSTONE_TOKEN_EXPIRATION = 20


@pytest.fixture(scope='session')
def keystone(tmp_path_factory):
    """A real Keystone (``tools/keystone.py``) on a free loopback port, with
    the users of its ``USERS``, shared by the whole session; tokens live
    :data:`KEYSTONE_TOKEN_EXPIRATION` seconds.
    """
    import socket
    tool = aio_tools.keystone_tool()
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    server = tool.Keystone(str(tmp_path_factory.mktemp('keystone')), port,
                           token_expiration=KEYSTONE_TOKEN_EXPIRATION)
    try:
        server.start()
        server.setup_swift_users()
        yield server
    finally:
        server.stop()


def unique_name(prefix='t'):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:12])


@pytest.fixture
def swift(aio):
    """swiftclient Connection as test:tester (admin of AUTH_test)."""
    conn = aio.swift_client('test:tester', 'testing')
    yield conn
    conn.close()


@pytest.fixture
def swift2(aio):
    """swiftclient Connection as test2:tester2 (admin of AUTH_test2)."""
    conn = aio.swift_client('test2:tester2', 'testing2')
    yield conn
    conn.close()


@pytest.fixture
def container(aio, swift):
    """A new, empty container in AUTH_test, on every replica; its name."""
    name = unique_name('c')
    swift.put_container(name)
    aio.ensure_container_replicas('AUTH_test', name)
    return name


@pytest.fixture
def s3(aio):
    """boto3 S3 client for the moto server."""
    return aio.s3_client()


@pytest.fixture
def bucket(s3):
    """A new, empty bucket on moto; its name."""
    name = unique_name('b')
    s3.create_bucket(Bucket=name)
    return name
