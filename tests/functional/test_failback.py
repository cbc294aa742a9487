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
"""``cloudsync-failback`` against the all-in-one: objects written through a
real ``cloudsync-proxymc`` (in front of the all-in-one's moto) while the
local copies are older come back into Swift with their metadata and
timestamps; an object written in Swift afterwards is not overwritten.
"""

import datetime
import os
import shutil
import subprocess
import tempfile

import pytest
from swiftclient import client as swiftclient

from tests.functional.conftest import unique_name
from tests.functional import daemon_helpers as helpers
from tests.functional.daemon_helpers import aio_cloudsync
from tests.functional.test_proxymc import ProxyMCServer


@pytest.fixture
def env(aio):
    """A bucket, a local container mapped to it, and proxymc serving it."""
    work_dir = tempfile.mkdtemp(prefix='failback-test-')
    bucket = unique_name('fb')
    container = unique_name('fbc')
    aio.s3_client().create_bucket(Bucket=bucket)
    conf = os.path.join(work_dir, 'cloudsync.conf')
    aio_cloudsync.write_conf(conf, aio.state, {
        'shared': {'container': container, 'bucket': bucket}})
    server = ProxyMCServer(work_dir, conf)
    try:
        server.start()
        yield dict(bucket=bucket, container=container, conf=conf,
                   server=server, work_dir=work_dir)
    finally:
        server.stop()
        if not os.environ.get('CLOUDSYNC_AIO_KEEP'):
            shutil.rmtree(work_dir, ignore_errors=True)


def failback(conf, *args):
    proc = subprocess.run(
        [helpers.bin_path('cloudsync-failback'), '--config-file', conf] +
        list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=300)
    return (proc.returncode, proc.stdout.decode('utf-8', 'replace'),
            proc.stderr.decode('utf-8', 'replace'))


def test_objects_written_through_proxymc_come_back_into_swift(aio, env):
    container = env['container']
    local = aio.swift_client()
    local.put_container(container)
    local.put_object(container, 'report ☃.txt', b'before the outage',
                     content_type='text/plain',
                     headers={'X-Object-Meta-Version': '1'})
    local.put_object(container, 'untouched', b'only in swift')
    before = local.head_object(container, 'report ☃.txt')

    # the outage: users write through proxymc
    outage = datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y-%m-%dT%H:%M:%SZ')
    cloud = env['server'].client()
    cloud.put_object(container, 'report ☃.txt', b'written in the cloud',
                     content_type='text/x-report',
                     headers={'X-Object-Meta-Version': '2',
                              'X-Object-Meta-Where': 'clöud'})
    cloud.put_object(container, 'new/only-in-cloud', b'fresh',
                     headers={'X-Object-Meta-Colour': 'blue'})
    cloud.put_object(container, 'later', b'cloud version')
    # above proxymc's multipart_threshold: a multipart object in the bucket
    big = os.urandom(6 * 1024 * 1024)
    cloud.put_object(container, 'big', big)
    cloud_heads = {name: cloud.head_object(container, name)
                   for name in ('report ☃.txt', 'new/only-in-cloud', 'big')}
    # the cluster is back; a user writes in Swift before the fail-back
    local.put_object(container, 'later', b'swift version, written later')
    assert float(cloud_heads['report ☃.txt']['x-timestamp']) > float(
        before['x-timestamp'])

    code, out, err = failback(env['conf'], '--dry-run', 'shared')
    assert code == 0, out + err
    assert 'mapping shared: 3 would be copied' in out
    assert '%s/later: skipped: the local copy is as new or newer' % (
        container) in out
    assert local.get_object(container, 'report ☃.txt')[1] == \
        b'before the outage'
    with pytest.raises(swiftclient.ClientException) as caught:
        local.head_object(container, 'new/only-in-cloud')
    assert caught.value.http_status == 404

    code, out, err = failback(env['conf'], 'shared')
    assert code == 0, out + err
    assert 'mapping shared: 3 copied' in out
    assert '1 skipped, 0 failed' in out

    headers, body = local.get_object(container, 'report ☃.txt')
    assert body == b'written in the cloud'
    assert headers['content-type'] == 'text/x-report'
    assert headers['x-object-meta-version'] == '2'
    assert headers['x-object-meta-where'] == 'clöud'
    assert headers['x-timestamp'] == cloud_heads['report ☃.txt'][
        'x-timestamp']
    assert headers['etag'] == cloud_heads['report ☃.txt']['etag']
    headers, body = local.get_object(container, 'new/only-in-cloud')
    assert body == b'fresh'
    assert headers['x-object-meta-colour'] == 'blue'
    assert headers['x-timestamp'] == cloud_heads['new/only-in-cloud'][
        'x-timestamp']
    headers, body = local.get_object(container, 'big')
    assert body == big
    assert headers['etag'] == cloud_heads['big']['etag']
    assert headers['x-timestamp'] == cloud_heads['big']['x-timestamp']
    assert local.get_object(container, 'later')[1] == \
        b'swift version, written later'
    assert local.get_object(container, 'untouched')[1] == b'only in swift'

    # a second run finds nothing newer
    code, out, err = failback(env['conf'], '--since', outage, 'shared')
    assert code == 0, out + err
    assert 'mapping shared: 0 copied (0 bytes), 4 skipped, 0 failed' in out


def test_a_static_large_object_written_through_proxymc_comes_back(aio, env):
    import json
    container = env['container']
    local = aio.swift_client()
    local.put_container(container)
    cloud = env['server'].client()
    parts = [os.urandom(1024 * 1024), os.urandom(1000)]
    for n, data in enumerate(parts):
        cloud.put_object(container, 'movie-parts/%d' % n, data)
    manifest = [{'path': '/%s/movie-parts/%d' % (container, n)}
                for n in range(len(parts))]
    cloud.put_object(container, 'movie', json.dumps(manifest),
                     query_string='multipart-manifest=put',
                     headers={'X-Object-Meta-Cut': 'final',
                              'Content-Type': 'video/mp4'})
    cloud_head = cloud.head_object(container, 'movie')

    code, out, err = failback(env['conf'], 'shared')
    assert code == 0, out + err
    # the segments come back with their object, which counts them
    assert 'mapping shared: 1 copied (1049576 bytes), 2 skipped, 0 failed' \
        in out

    headers, body = local.get_object(container, 'movie')
    assert body == b''.join(parts)
    assert headers['x-static-large-object'] == 'True'
    assert headers['etag'] == cloud_head['etag']
    assert headers['x-object-meta-cut'] == 'final'
    assert headers['content-type'] == 'video/mp4'
    assert headers['x-timestamp'] == cloud_head['x-timestamp']
