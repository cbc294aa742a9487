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

"""What a merged listing page costs through the cloud shunt.

S3 lists only forwards, so a reverse page cannot read the remote
backwards; but when Swift's own part fills the page, the shunt reads the
remote only above it, whatever the bucket holds. The remote requests are
counted in moto's own request log.
"""

import concurrent.futures
import http.client
import json
import os
import shutil
import tempfile
import urllib.parse

import pytest

from cloudsync import layout as layout_mod
from tests.functional.conftest import unique_name
from tests.functional.daemon_helpers import write_archive_conf

#: remote-only objects: three S3 listing pages of 1,000
REMOTE_ONLY = 2100


def list_requests(aio, bucket):
    """How many bucket listings moto has answered for ``bucket``."""
    count = 0
    with open(aio.log_path('moto'), errors='replace') as f:
        for line in f:
            if '"GET /%s' % bucket in line and 'list-type=2' in line or \
                    '"GET /%s?' % bucket in line and 'prefix=' in line:
                count += 1
    return count


@pytest.fixture(scope='module')
def env(aio):
    work_dir = tempfile.mkdtemp(prefix='listing-cost-')
    bucket = unique_name('cost')
    container = unique_name('cost')
    s3 = aio.s3_client()
    s3.create_bucket(Bucket=bucket)
    layout = layout_mod.RemoteLayout('AUTH_test', container)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(
            lambda i: s3.put_object(
                Bucket=bucket, Key=layout.object_key('remote/%05d' % i),
                Body=b''),
            range(REMOTE_ONLY)))
    swift = aio.swift_client()
    swift.put_container(container)
    for name in ('zz1', 'zz2'):
        swift.put_object(container, name, b'in swift')
    conf = os.path.join(work_dir, 'cloudsync.conf')
    write_archive_conf(aio, conf, bucket, container, copy_after=86400,
                       archive_as='delete')
    try:
        url = aio.start_proxy('cost-shunt', [('cloud_shunt', {
            'use': 'egg:swift-cloudsync#cloud_shunt', 'conf_file': conf})])
        storage_url, token = swift.get_auth()
        path = urllib.parse.urlparse(storage_url).path + '/' + container
        yield {'aio': aio, 'bucket': bucket, 'container': container,
               'url': url, 'path': path, 'token': token}
    finally:
        aio.stop_proxy('cost-shunt')
        shutil.rmtree(work_dir, ignore_errors=True)


def get(env, query):
    parsed = urllib.parse.urlparse(env['url'])
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port,
                                      timeout=60)
    try:
        conn.request('GET', env['path'] + '?' + query,
                     headers={'X-Auth-Token': env['token']})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_a_reverse_page_swift_fills_reads_no_more_of_the_bucket(env):
    before = list_requests(env['aio'], env['bucket'])
    status, body = get(env, 'format=json&reverse=true&limit=1')
    after = list_requests(env['aio'], env['bucket'])
    assert status == 200
    assert [e['name'] for e in json.loads(body)] == ['zz2']
    # NOTE: the bucket holds three listing pages below "zz2": reading it
    # all to keep one name cost three requests (and its whole listing in
    # memory); now the remote is read only above Swift's part.
    assert after - before <= 1, after - before


def test_a_reverse_page_reads_the_remote_where_its_names_are(env):
    status, body = get(env, 'format=json&reverse=true&limit=2&'
                            'marker=remote/00010')
    assert status == 200
    assert [e['name'] for e in json.loads(body)] == [
        'remote/00009', 'remote/00008']
