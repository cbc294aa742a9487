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
"""Rows that real clusters produce, which must neither stall nor loop:
rows dated in the future, names the remote cannot store, a POST that
lands while an object is archived.
"""

import io
import time

import pytest
from swift.common import utils as swift_utils

from tests.functional import daemon_helpers as helpers


@pytest.fixture
def nodes_factory(aio, tmp_path, container, bucket):
    made = []

    def make(**options):
        nodes = helpers.DaemonNodes(aio, tmp_path, {'edge': {
            'container': container, 'bucket': bucket}}, options)
        made.append(nodes)
        return nodes
    yield make
    for nodes in made:
        nodes.stop_all()


def remote_keys(nodes, s3, container):
    mapping = nodes.config().mappings[0]
    prefix = mapping.remote_layout(container).listing_prefix()
    listed = s3.list_objects_v2(Bucket=mapping.bucket, Prefix=prefix)
    return sorted(o['Key'][len(prefix):] for o in listed.get('Contents', []))


def test_a_row_dated_in_the_future_waits_alone(aio, swift, s3, container,
                                               nodes_factory):
    swift.put_object(container, 'a-before', b'before')
    # NOTE: as a proxy whose clock is an hour ahead (or container-sync,
    # which keeps the source's timestamps) would write it.
    # The proxy's gatekeeper drops a client's X-Timestamp; the internal
    # client (no gatekeeper) keeps it, as container-sync's middleware does.
    future = swift_utils.Timestamp(time.time() + 3600)
    aio.internal_client().upload_object(
        io.BytesIO(b'future'), 'AUTH_test', container, 'b-future',
        headers={'X-Timestamp': future.internal})
    assert swift.head_object(container, 'b-future')['x-timestamp'] == \
        future.internal
    swift.put_object(container, 'c-after', b'after')
    helpers.replicate_container(aio, 'AUTH_test', container)
    nodes = nodes_factory()

    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}

    assert remote_keys(nodes, s3, container) == ['a-before', 'c-after']
    waiting = [entry for index in (1, 2, 3)
               for status in nodes.statuses(index)
               for name, entry in status['failed'].items()
               if name == 'b-future']
    # waiting (on its owner, and on the replicas that verify it), not
    # failed
    assert waiting
    assert all(entry['attempts'] == 0 for entry in waiting)
    assert all('in the future' in entry['last_error'] for entry in waiting)

    swift.put_object(container, 'd-later', b'later')
    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    assert remote_keys(nodes, s3, container) == ['a-before', 'c-after',
                                                 'd-later']


def test_a_name_too_long_for_the_remote_fails_alone_naming_the_limit(
        aio, swift, s3, container, nodes_factory):
    # NOTE: Swift takes names of up to 1,024 bytes; with the hashed
    # layout's prefix the key is longer than the 1,024 bytes S3 takes.
    long_name = 'l' * 1000
    for name in ('a-first', long_name, 'z-last'):
        swift.put_object(container, name, name.encode('ascii')[:10])
    helpers.replicate_container(aio, 'AUTH_test', container)
    nodes = nodes_factory(retry_interval=0, retry_interval_max=3600)

    codes = nodes.run_once()

    assert sorted(codes.values()) == [0, 0, 1]
    assert remote_keys(nodes, s3, container) == ['a-first', 'z-last']
    failed = [entry for index in (1, 2, 3)
              for status in nodes.statuses(index)
              for name, entry in status['failed'].items()
              if name == long_name]
    assert len(failed) == 1
    error = failed[0]['last_error']
    assert 'more than the 1024 bytes this store takes' in error
    assert container in error
    # tried again only after the longest backoff, not on every pass
    assert failed[0]['next_try'] - failed[0]['last_failure'] >= 3600


@pytest.mark.parametrize('before', ['POST', 'DELETE'])
def test_a_post_while_an_object_is_archived_is_never_lost(
        aio, tmp_path, swift, s3, container, bucket, before):
    # NOTE: deterministic: the user's POST is sent from a hook, just before
    # the archive's own request ``before`` (its fence POST, or its final
    # DELETE) reaches the cluster.
    from tests.functional import test_propagate as tp
    env = tp.make_env(aio, tmp_path, swift, s3, container, bucket,
                      lifecycle='archive', archive_as='delete')
    env.put('obj', b'cold data', {
        'X-Object-Meta-Color': 'blue',
        'X-Object-Meta-Dish': 'cr\u00e8me br\u00fbl\u00e9e'})
    row = env.row('obj')
    real_request = env.propagator.reader.request
    posted = []

    def request(method, cont, obj=None, headers=None, **kwargs):
        if method == before and obj == 'obj' and not posted:
            swift.post_object(cont, obj,
                              headers={'X-Object-Meta-Color': 'red'})
            posted.append(method)
        return real_request(method, cont, obj, headers=headers, **kwargs)
    env.propagator.reader.request = request

    outcome = env.propagator.handle(row, tp.ARCHIVE)

    assert posted == [before]
    assert outcome is tp.Outcome.UNCHANGED
    local = env.local_head('obj')
    assert local is not None
    assert local['x-object-meta-color'] == 'red'
    assert 'x-delete-at' not in local
    # the POST's own row archives it, with the POST's metadata
    env.propagator.reader.request = real_request
    assert env.handle('obj', tp.ARCHIVE) is tp.Outcome.ARCHIVED
    resp, body = env.remote('obj')
    assert body == b'cold data'
    assert resp['Metadata']['color'] == 'red'
    assert env.local_head('obj') is None


def test_an_archive_whose_delete_fails_gives_the_object_its_metadata_back(
        aio, tmp_path, swift, s3, container, bucket):
    from tests.functional import test_propagate as tp
    env = tp.make_env(aio, tmp_path, swift, s3, container, bucket,
                      lifecycle='archive', archive_as='delete')
    expires = str(int(time.time()) + 86400)
    meta = {'X-Object-Meta-Color': 'blue',
            'X-Object-Meta-Dish': 'cr\u00e8me br\u00fbl\u00e9e',
            'X-Delete-At': expires}
    env.put('obj', b'cold data', meta)
    row = env.row('obj')
    real_request = env.propagator.reader.request

    def request(method, cont, obj=None, **kwargs):
        if method == 'DELETE':
            raise tp.large_objects.LocalReadError('DELETE: 503', status=503)
        return real_request(method, cont, obj, **kwargs)
    env.propagator.reader.request = request

    with pytest.raises(tp.propagate.RetryLater):
        env.propagator.handle(row, tp.ARCHIVE)

    local = env.local_head('obj')
    assert local.get('x-delete-at') == expires, local
    assert local['x-object-meta-color'] == 'blue'
    assert local['x-object-meta-dish'] == 'cr\u00e8me br\u00fbl\u00e9e'
    # its newer row archives it on a later pass
    env.propagator.reader.request = real_request
    newer = env.row('obj')
    assert newer.meta_timestamp > row.meta_timestamp, (newer, row)
    assert env.propagator.handle(newer, tp.ARCHIVE) is tp.Outcome.ARCHIVED
    assert env.local_head('obj') is None


def test_a_local_delete_leaves_an_object_cloudsync_did_not_write(
        aio, swift, s3, container, bucket, nodes_factory):
    # NOTE: another writer's object (no cloudsync-timestamp), stored before
    # the local object of the same name was written and deleted: the
    # remote's Last-Modified would call it older than the delete.
    nodes = nodes_factory()
    key = nodes.config().mappings[0].remote_layout(container).object_key(
        'shared-name')
    s3.put_object(Bucket=bucket, Key=key, Body=b'another writer')
    swift.put_object(container, 'shared-name', b'local')
    swift.delete_object(container, 'shared-name')
    swift.put_object(container, 'mine', b'mine')
    swift.delete_object(container, 'mine')
    swift.put_object(container, 'mine', b'mine again')
    helpers.replicate_container(aio, 'AUTH_test', container)

    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}

    body = s3.get_object(Bucket=bucket, Key=key)['Body'].read()
    assert body == b'another writer'
    assert remote_keys(nodes, s3, container) == ['mine', 'shared-name']
