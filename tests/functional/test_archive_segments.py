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

"""Archiving a large object deletes only the segments its writers could.

Swift's SLO lets a user name, as segments, objects they may only read. The
daemon deletes an archived SLO's segments with the operator's rights, so it
deletes them only where whoever may write the manifest's container may also
write: the manifest's own container, or a container whose write ACL grants
at least as much.
"""

import json
import os
import shutil
import tempfile

import pytest
import swiftclient

from tests.functional.conftest import unique_name
from tests.functional.daemon_helpers import run_daemon
from tests.functional.daemon_helpers import write_archive_conf


@pytest.fixture
def work_dir():
    path = tempfile.mkdtemp(prefix='archive-segments-')
    yield path
    shutil.rmtree(path, ignore_errors=True)


def archive_slo(aio, work_dir, segments_write_acl):
    """A reader who may write ``container`` names segments of ``segs``;
    the daemon archives the manifest. Returns what is left in ``segs``.
    """
    admin = aio.swift_client()
    container = unique_name('manifests')
    segs = unique_name('segs')
    bucket = unique_name('segments')
    aio.s3_client().create_bucket(Bucket=bucket)
    admin.put_container(container, headers={
        'X-Container-Read': 'test:reader',
        'X-Container-Write': 'test:reader'})
    headers = {'X-Container-Read': 'test:reader'}
    if segments_write_acl is not None:
        headers['X-Container-Write'] = segments_write_acl
    admin.put_container(segs, headers=headers)
    parts = [b'A' * 1000, b'B' * 10]
    for index, data in enumerate(parts):
        admin.put_object(segs, 'part/%d' % index, data)
    reader = aio.swift_client('test:reader', 'reading')
    url, token = reader.get_auth()
    swiftclient.put_object(
        url, token, container, 'big', json.dumps([
            {'path': '/%s/part/%d' % (segs, i)} for i in range(2)]),
        query_string='multipart-manifest=put')
    conf = os.path.join(work_dir, 'cloudsync.conf')
    write_archive_conf(aio, conf, bucket, container, archive_as='delete')
    run_daemon(aio, conf, work_dir)
    # the manifest is archived either way
    with pytest.raises(swiftclient.ClientException) as caught:
        admin.head_object(container, 'big')
    assert caught.value.http_status == 404
    remote = aio.s3_client().list_objects_v2(Bucket=bucket)
    assert any(item['Key'].endswith('/big') or item['Key'] == 'big'
               for item in remote.get('Contents', []))
    _, listing = admin.get_container(segs)
    return [item['name'] for item in listing]


def test_segments_the_manifests_writers_may_only_read_are_kept(
        aio, work_dir):
    left = archive_slo(aio, work_dir, segments_write_acl=None)
    assert left == ['part/0', 'part/1']


def test_segments_the_manifests_writers_may_write_are_deleted(
        aio, work_dir):
    left = archive_slo(aio, work_dir, segments_write_acl='test:reader')
    assert left == []
