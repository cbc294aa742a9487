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

"""What one synced change costs the remote, counted in moto's own log.

On a mapping whose objects nothing else writes (``remote_writers =
false`` on a plain sync mapping): a new or overwritten small object is one
PUT; a metadata change one PUT of the same bytes, conditional on the
remote holding them (``If-Match``); a delete one DeleteObjects request
(the object and its manifest side object). Bytes another writer put
there are never replaced by a metadata change. With ``remote_writers =
true`` a new object is one PUT conditional on the key being free, and
the copy is read first (a HEAD) before a metadata change, an overwrite
or a delete: another writer's newer object is left alone, also when it
holds the same bytes (an ETag condition cannot tell it from the copy),
and the DELETE carries the ETag read (``If-Match``), so that an object
stored after the HEAD is left alone too. That is the default.
"""

import os
import re
import time

from swift.common import utils as swift_utils

from cloudsync import layout as layout_mod
from cloudsync import metadata as md
from tests.functional import daemon_helpers as helpers

OBJECTS = 12
COLOURS = re.compile(r'\x1b\[[0-9;]*m')

MAPPING = """\
[remote:moto]
provider = s3
endpoint = %(moto)s
access_key = testing
secret_key = testing

[mapping:counted]
account = AUTH_test
container = %(container)s
remote = moto
bucket = %(bucket)s
%(extra)s"""


class MotoLog(object):
    """The requests moto logged for one bucket since the last look."""

    def __init__(self, aio, bucket):
        self.path = aio.log_path('moto')
        self.bucket = bucket
        self.offset = os.path.getsize(self.path)

    def since(self):
        time.sleep(0.3)
        with open(self.path, 'rb') as f:
            f.seek(self.offset)
            data = f.read()
            self.offset = f.tell()
        found = []
        for line in data.decode('utf-8', 'replace').splitlines():
            line = COLOURS.sub('', line)
            match = re.search(r'"([A-Z]+) /%s[/? ]' % re.escape(self.bucket),
                              line)
            if match:
                found.append(match.group(1))
        return found


def _nodes(aio, tmp_path, container, bucket,
           extra='remote_writers = false\n'):
    return helpers.DaemonNodes(aio, tmp_path, MAPPING % {
        'moto': aio.state['moto_endpoint'], 'container': container,
        'bucket': bucket, 'extra': extra})


def test_one_request_per_new_object_overwrite_post_and_delete(
        aio, swift, s3, container, bucket, tmp_path):
    nodes = _nodes(aio, tmp_path, container, bucket)
    names = ['o%02d' % i for i in range(OBJECTS)]
    layout = layout_mod.RemoteLayout('AUTH_test', container)
    log = MotoLog(aio, bucket)

    for name in names:
        swift.put_object(container, name, b'data of ' + name.encode())
    log.since()
    assert set(nodes.run_once().values()) == {0}
    assert sorted(log.since()) == ['PUT'] * OBJECTS
    listed = s3.list_objects_v2(Bucket=bucket).get('Contents', [])
    assert len(listed) == OBJECTS

    for name in names:
        swift.put_object(container, name, b'new data of ' + name.encode())
    log.since()
    assert set(nodes.run_once().values()) == {0}
    assert sorted(log.since()) == ['PUT'] * OBJECTS
    body = s3.get_object(Bucket=bucket, Key=layout.object_key(names[0]))
    assert body['Body'].read() == b'new data of ' + names[0].encode()

    for name in names:
        swift.post_object(container, name, {'X-Object-Meta-Color': 'blue'})
    log.since()
    assert set(nodes.run_once().values()) == {0}
    # the same bytes again, conditional on the remote holding them
    assert sorted(log.since()) == ['PUT'] * OBJECTS
    head = s3.head_object(Bucket=bucket, Key=layout.object_key(names[0]))
    assert 'blue' in head['Metadata'].values()

    for name in names:
        swift.delete_object(container, name)
    log.since()
    assert set(nodes.run_once().values()) == {0}
    # one DeleteObjects each: the object and its manifest side object
    assert sorted(log.since()) == ['POST'] * OBJECTS
    assert not s3.list_objects_v2(Bucket=bucket).get('Contents')


def test_a_metadata_change_never_replaces_bytes_another_wrote(
        aio, swift, s3, container, bucket, tmp_path):
    nodes = _nodes(aio, tmp_path, container, bucket)
    layout = layout_mod.RemoteLayout('AUTH_test', container)
    key = layout.object_key('shared')
    swift.put_object(container, 'shared', b'older, from Swift')
    assert set(nodes.run_once().values()) == {0}
    swift.post_object(container, 'shared', {'X-Object-Meta-Color': 'blue'})
    # someone writes the key although the mapping says nobody does
    newer = swift_utils.Timestamp(time.time() + 60).internal
    s3.put_object(Bucket=bucket, Key=key, Body=b'newer, from the cloud',
                  Metadata={md.TIMESTAMP_KEY: newer})
    log = MotoLog(aio, bucket)
    assert set(nodes.run_once().values()) == {0}
    requests = log.since()
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got['Body'].read() == b'newer, from the cloud'
    assert got['Metadata'] == {md.TIMESTAMP_KEY: newer}
    # the conditional write was refused (412), then the copy was HEADed
    assert sorted(requests) == ['HEAD', 'PUT']


def test_with_remote_writers_the_copy_is_read_before_a_change(
        aio, swift, s3, container, bucket, tmp_path):
    nodes = _nodes(aio, tmp_path, container, bucket, extra='')
    names = ['o%02d' % i for i in range(OBJECTS)]
    log = MotoLog(aio, bucket)

    for name in names:
        swift.put_object(container, name, b'data of ' + name.encode())
    log.since()
    assert set(nodes.run_once().values()) == {0}
    puts = log.since()
    # each conditional on the key being free
    assert sorted(puts) == ['PUT'] * OBJECTS
    listed = s3.list_objects_v2(Bucket=bucket).get('Contents', [])
    assert len(listed) == OBJECTS

    for name in names:
        swift.put_object(container, name, b'new data of ' + name.encode())
    log.since()
    assert set(nodes.run_once().values()) == {0}
    # the write that only creates is refused; a HEAD, then the PUT
    assert sorted(log.since()) == sorted(['PUT', 'HEAD', 'PUT'] * OBJECTS)

    for name in names:
        swift.post_object(container, name, {'X-Object-Meta-Color': 'blue'})
    log.since()
    assert set(nodes.run_once().values()) == {0}
    posts = log.since()
    # a HEAD (is the remote copy ours, and older?) and the copy onto itself
    assert sorted(posts) == sorted(['HEAD', 'PUT'] * OBJECTS)
    layout = layout_mod.RemoteLayout('AUTH_test', container)
    head = s3.head_object(Bucket=bucket, Key=layout.object_key(names[0]))
    assert head['Metadata'].get('color') == 'blue' or any(
        v == 'blue' for v in head['Metadata'].values())

    for name in names:
        swift.delete_object(container, name)
    log.since()
    assert set(nodes.run_once().values()) == {0}
    deletes = log.since()
    assert sorted(deletes) == sorted(['DELETE', 'HEAD'] * OBJECTS)
    assert not s3.list_objects_v2(Bucket=bucket).get('Contents')


def test_a_newer_object_of_another_writer_is_not_overwritten(
        aio, swift, s3, container, bucket, tmp_path):
    nodes = _nodes(aio, tmp_path, container, bucket,
                   extra='remote_writers = true\n')
    layout = layout_mod.RemoteLayout('AUTH_test', container)
    key = layout.object_key('shared')
    swift.put_object(container, 'shared', b'older, from Swift')
    # another writer (proxymc, say) stores a newer version first
    newer = swift_utils.Timestamp(time.time() + 60).internal
    s3.put_object(Bucket=bucket, Key=key, Body=b'newer, from the cloud',
                  Metadata={md.TIMESTAMP_KEY: newer})
    log = MotoLog(aio, bucket)
    assert set(nodes.run_once().values()) == {0}
    requests = log.since()
    body = s3.get_object(Bucket=bucket, Key=key)['Body'].read()
    assert body == b'newer, from the cloud'
    # the write that only creates was refused, then the copy was HEADed
    assert sorted(requests) == ['HEAD', 'PUT']


def test_with_remote_writers_newer_metadata_on_the_same_bytes_stays(
        aio, swift, s3, container, bucket, tmp_path):
    # NOTE: another writer's newer object with the very bytes of the copy
    # (a metadata change made through proxymc, say) has the copy's ETag:
    # only the HEAD tells it is newer, so a POST and a DELETE read first.
    nodes = _nodes(aio, tmp_path, container, bucket, extra='')
    layout = layout_mod.RemoteLayout('AUTH_test', container)
    key = layout.object_key('shared')
    data = b'the same bytes'
    swift.put_object(container, 'shared', data)
    assert set(nodes.run_once().values()) == {0}
    newer = swift_utils.Timestamp(time.time() + 60).internal
    s3.put_object(Bucket=bucket, Key=key, Body=data,
                  Metadata={md.TIMESTAMP_KEY: newer, 'color': 'green'})
    wanted = s3.head_object(Bucket=bucket, Key=key)['Metadata']
    log = MotoLog(aio, bucket)

    swift.post_object(container, 'shared', {'X-Object-Meta-Color': 'blue'})
    assert set(nodes.run_once().values()) == {0}
    assert log.since() == ['HEAD']
    assert s3.head_object(Bucket=bucket, Key=key)['Metadata'] == wanted
    log.since()

    swift.delete_object(container, 'shared')
    assert set(nodes.run_once().values()) == {0}
    assert log.since() == ['HEAD']
    assert s3.head_object(Bucket=bucket, Key=key)['Metadata'] == wanted
