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
"""The sync daemon on the all-in-one: three nodes, three daemons.

Every test runs the real ``cloudsync-sync`` command once per container
node (each with its own devices, container server port and status
directory) against the all-in-one's Swift cluster, and reads the result
back from the remote. Remote PUTs are counted from the daemons' own statsd
counters (``copied_objects``, ``metadata_updates``, ``deleted_objects``),
received by a UDP listener in the test: moto keeps no request log.
"""

import hashlib
import json
import os
import shutil
import signal

import pytest
from swift.common import utils as swift_utils
from swift.container import backend
import swiftclient

from cloudsync import metadata as metadata_mod
from cloudsync.sync import crawler as crawler_mod
from tests.functional import conftest
from tests.functional import daemon_helpers as helpers

KiB = 1024
MiB = 1024 * KiB


@pytest.fixture
def statsd():
    listener = helpers.StatsdListener()
    yield listener
    listener.close()


@pytest.fixture
def nodes_factory(aio, tmp_path, statsd):
    made = []

    def make(mappings, remotes=None, **options):
        nodes = helpers.DaemonNodes(aio, tmp_path, mappings, options,
                                    statsd=statsd, remotes=remotes)
        made.append(nodes)
        return nodes
    yield make
    for nodes in made:
        nodes.stop_all()


@pytest.fixture
def moto_nodes(aio, container, bucket, nodes_factory):
    """Daemons for all 3 nodes with a mapping of ``container``."""
    def make(**options):
        return nodes_factory(
            {'sync': {'container': container, 'bucket': bucket}}, **options)
    return make


def remote_object(nodes, s3, container, name):
    """(body, head) of ``name``'s remote copy, or None."""
    mapping = nodes.config().mappings[0]
    key = mapping.remote_layout(container).object_key(name)
    try:
        resp = s3.get_object(Bucket=mapping.bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        return None
    return resp['Body'].read(), resp


OBJECTS = {
    'plain': (b'hello world', {}, 'text/plain'),
    'with-meta': (b'data' * 100, {'X-Object-Meta-Color': 'Blue',
                                  'X-Object-Meta-Mixed': 'CaSe kept'},
                  'application/x-thing'),
    'd\u00efr/\u00fcn\u00efc\u00f8d\u00e9 \u2603 \U0001f600': (
        '\u2603'.encode('utf-8') * 50,
        {'X-Object-Meta-Unicode': 'v\u00e4lue \u2603'}, 'text/plain'),
    'percent%20and/slash': (b'%', {}, 'application/octet-stream'),
    'empty': (b'', {}, 'application/x-empty'),
}


def put_objects(swift, container, objects=OBJECTS):
    for name, (data, headers, ctype) in objects.items():
        swift.put_object(container, name, data, headers=headers,
                         content_type=ctype)


def test_each_put_is_one_remote_put_with_equal_bytes_and_metadata(
        moto_nodes, swift, s3, container, statsd):
    nodes = moto_nodes()
    put_objects(swift, container)

    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    statsd.settle()
    assert statsd.counter('copied_objects') == len(OBJECTS)

    for name, (data, headers, ctype) in OBJECTS.items():
        body, head = remote_object(nodes, s3, container, name)
        local = swift.head_object(container, name)
        assert body == data, name
        assert head['ETag'].strip('"') == local['etag'] == \
            hashlib.md5(data).hexdigest()
        assert head['ContentType'] == local['content-type'] == ctype
        remote_meta = metadata_mod.remote_to_swift(head['Metadata'])
        local_meta = {k.lower(): v for k, v in local.items()
                      if k.lower().startswith('x-object-meta-')}
        assert {k.lower(): v for k, v in remote_meta.items()} == local_meta

    # more passes, verification of the other replicas' rows included,
    # send nothing again
    nodes.reconfigure(verification_slack=0)
    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    assert all(s['last_verified_row'] == len(OBJECTS)
               for i in (1, 2, 3) for s in nodes.statuses(i))
    statsd.settle()
    assert statsd.counter('copied_objects') == len(OBJECTS)
    assert statsd.counter('metadata_updates') == 0


def test_a_post_updates_remote_metadata_without_sending_data(
        moto_nodes, swift, s3, container, statsd):
    nodes = moto_nodes()
    swift.put_object(container, 'obj', b'x' * 1000,
                     headers={'X-Object-Meta-Color': 'Blue'})
    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    statsd.settle()
    copied, sent = (statsd.counter('copied_objects'),
                    statsd.counter('bytes'))

    swift.post_object(container, 'obj',
                      headers={'X-Object-Meta-Color': 'Red'})
    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    statsd.settle()
    assert statsd.counter('metadata_updates') == 1
    assert (statsd.counter('copied_objects'), statsd.counter('bytes')) == \
        (copied, sent)
    _body, head = remote_object(nodes, s3, container, 'obj')
    assert metadata_mod.remote_to_swift(head['Metadata']) == {
        'X-Object-Meta-Color': 'Red'}


def test_a_delete_removes_the_remote_copy(moto_nodes, swift, s3,
                                          container, statsd):
    nodes = moto_nodes()
    put_objects(swift, container)
    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    swift.delete_object(container, 'plain')
    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    statsd.settle()
    assert statsd.counter('deleted_objects') == 1
    assert remote_object(nodes, s3, container, 'plain') is None
    assert remote_object(nodes, s3, container, 'empty') is not None


def test_an_slo_arrives_as_a_multipart_object_with_the_expected_etag(
        moto_nodes, swift, s3, container, statsd):
    """Segments of 5 MiB are valid parts: the remote copy is one multipart
    upload, one part per segment, so its ETag is the MD5 of the segments'
    MD5s followed by the number of parts.
    """
    nodes = moto_nodes()
    segments_container = container + '-segs'
    swift.put_container(segments_container)
    segments = []
    for number in range(2):
        data = os.urandom(5 * MiB)
        path = '/%s/seg/%04d' % (segments_container, number)
        etag = swift.put_object(segments_container, 'seg/%04d' % number,
                                data)
        assert etag == hashlib.md5(data).hexdigest()
        segments.append({'path': path, 'etag': etag, 'data': data})
    swift.put_object(container, 'movie', json.dumps(
        [{'path': s['path'], 'etag': s['etag']} for s in segments]),
        headers={'X-Object-Meta-Title': 'movie'},
        query_string='multipart-manifest=put')

    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    body, head = remote_object(nodes, s3, container, 'movie')
    expected = hashlib.md5(b''.join(
        bytes.fromhex(s['etag']) for s in segments)).hexdigest() + '-2'
    assert head['ETag'].strip('"') == expected
    assert body == b''.join(s['data'] for s in segments)
    assert metadata_mod.remote_to_swift(head['Metadata']) == {
        'X-Object-Meta-Title': 'movie', 'X-Static-Large-Object': 'True'}
    statsd.settle()
    # the segments' container is not mapped: the SLO is the one copy
    assert statsd.counter('copied_objects') == 1
    assert statsd.counter('bytes') == 10 * MiB


def mapped_object(nodes, s3, account, container, name):
    """The bytes of ``name``'s copy by the mapping of ``container``, or
    None.
    """
    mapping = nodes.config().mapping_for(account, container)
    try:
        resp = s3.get_object(
            Bucket=mapping.bucket,
            Key=mapping.remote_layout(container).object_key(name))
    except s3.exceptions.NoSuchKey:
        return None
    return resp['Body'].read()


def test_a_wildcard_mapping_syncs_a_container_created_after_its_first_pass(
        aio, nodes_factory, s3, bucket, statsd):
    """``container = *`` of an account of its own, so that it sees only
    this test's containers. A container created after a pass is synced by
    the next one; a container given a mapping of its own later is synced
    by that mapping only, into its bucket, no longer by the wildcard.
    """
    with helpers.scratch_account(aio) as (account, local):
        nodes = nodes_factory({'every': {
            'account': account, 'container': '*', 'bucket': bucket}})
        first = {'one-%02d' % i: (b'first %d' % i, {}, 'text/plain')
                 for i in range(5)}
        later = {'two-%02d' % i: (os.urandom(1000 + i), {}, 'text/plain')
                 for i in range(5)}
        local.put_container('first')
        aio.ensure_container_replicas(account, 'first')
        put_objects(local, 'first', first)
        helpers.replicate_container(aio, account, 'first')
        assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
        for name, (data, _h, _c) in first.items():
            assert mapped_object(nodes, s3, account, 'first', name) == \
                data, name

        local.put_container('later')
        aio.ensure_container_replicas(account, 'later')
        put_objects(local, 'later', later)
        helpers.replicate_container(aio, account, 'later')
        assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
        mapping = nodes.config().mapping_for(account, 'later')
        assert mapping.name == 'every'
        for name, (data, _h, _c) in later.items():
            key = mapping.remote_layout('later').object_key(name)
            assert 'later' in key
            assert mapped_object(nodes, s3, account, 'later', name) == \
                data, name
        statsd.settle()
        assert statsd.counter('copied_objects') == len(first) + len(later)

        # the operator gives "first" a bucket of its own
        own_bucket = conftest.unique_name('b')
        s3.create_bucket(Bucket=own_bucket)
        nodes.mappings += '\n' + helpers.aio_cloudsync.sections(
            aio.state, {'own': {'account': account, 'container': 'first',
                                'bucket': own_bucket}}, remotes={})
        nodes.reconfigure()
        assert nodes.config().mapping_for(account, 'first').name == 'own'
        local.put_object('first', 'one-new', b'new')
        local.put_object('later', 'two-new', b'new')
        helpers.replicate_container(aio, account, 'first')
        helpers.replicate_container(aio, account, 'later')
        assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
        wildcard = nodes.config().mapping_for(account, 'later')
        assert mapped_object(nodes, s3, account, 'first', 'one-new') == \
            b'new'
        assert mapped_object(nodes, s3, account, 'later', 'two-new') == \
            b'new'
        with pytest.raises(s3.exceptions.NoSuchKey):
            s3.get_object(Bucket=bucket, Key=wildcard.remote_layout(
                'first').object_key('one-new'))


def object_replicas(aio, account, container, name):
    """[(node index, object hash directory)] of a policy-0 object, in
    ring order.
    """
    from swift.common.ring import Ring
    from swift.common.utils import hash_path
    from swift.common.utils import storage_directory
    ring = Ring(aio.swift_dir, ring_name='object')
    part, devs = ring.get_nodes(account, container, name)
    name_hash = hash_path(account, container, name)
    return [(node['index'], os.path.join(
        node['devices'], dev['device'],
        storage_directory('objects', part, name_hash)))
        for dev in devs
        for node in [aio.node_by_port(dev['port'], 'object')]]


def test_an_object_swift_cannot_find_for_now_is_retried_not_dropped(
        aio, moto_nodes, swift, s3, container):
    """The object was written to one replica only (the other two missed
    the PUT, as after a failure), and that replica's node is down: Swift
    answers 404 with no tombstone. The row stays in the failed set
    (``--once`` exits 1); with the node back, it is copied.
    """
    nodes = moto_nodes()
    swift.put_object(container, 'lost', b'only on one replica')
    helpers.replicate_container(aio, 'AUTH_test', container)
    replicas = object_replicas(aio, 'AUTH_test', container, 'lost')
    for _index, path in replicas[:2]:
        shutil.rmtree(path)
    down = replicas[2][0]
    aio.stop_node(down)
    try:
        with pytest.raises(swiftclient.ClientException) as caught:
            swift.head_object(container, 'lost')
        assert caught.value.http_status == 404
        codes = nodes.run_once()
        assert remote_object(nodes, s3, container, 'lost') is None
    finally:
        aio.start_node(down)
    failing = [i for i in (1, 2, 3) if codes[i] != 0]
    assert len(failing) == 1, codes
    assert [list(s['failed']) for s in nodes.statuses(failing[0])] == [
        ['lost']]

    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    body, _head = remote_object(nodes, s3, container, 'lost')
    assert body == b'only on one replica'
    assert all(not s['failed'] for i in (1, 2, 3)
               for s in nodes.statuses(i))


def test_a_running_daemon_copies_a_change_long_before_poll_interval(
        moto_nodes, swift, s3, container):
    """Running daemons (not ``--once``) with a poll_interval of 5 minutes
    copy a new object, a metadata change and a delete within a generous
    wait: they look at their container databases between passes.
    """
    nodes = moto_nodes(poll_interval=300, change_check_interval=0.1)
    swift.put_object(container, 'first', b'first')
    for index in sorted(nodes.confs):
        nodes.start(index)
    helpers.wait_for(
        lambda: remote_object(nodes, s3, container, 'first') is not None,
        timeout=120, what='the first pass to copy the first object')

    swift.put_object(container, 'second', b'second')
    helpers.wait_for(
        lambda: remote_object(nodes, s3, container, 'second') is not None,
        timeout=60, what='the new object on the remote')
    swift.post_object(container, 'second',
                      headers={'X-Object-Meta-Color': 'Red'})
    swift.delete_object(container, 'first')

    def changed():
        found = remote_object(nodes, s3, container, 'second')
        return (remote_object(nodes, s3, container, 'first') is None and
                found is not None and
                metadata_mod.remote_to_swift(found[1]['Metadata']) == {
                    'X-Object-Meta-Color': 'Red'})
    helpers.wait_for(changed, timeout=60,
                     what='the POST and the DELETE on the remote')
    assert remote_object(nodes, s3, container, 'second')[0] == b'second'


def test_a_daemon_killed_mid_pass_and_restarted_loses_nothing(
        moto_nodes, swift, s3, container, statsd):
    """SIGKILL node 1's daemon while it copies, restart it: every object
    arrives. Node 1 runs alone first, with one worker, so that the kill
    lands while it still has rows to copy (the test reports where).
    """
    nodes = moto_nodes(workers=1, items_chunk=5)
    objects = {'obj-%03d' % i: (os.urandom(64 * 1024), {}, 'text/plain')
               for i in range(60)}
    put_objects(swift, container, objects)

    nodes.start(1)
    helpers.wait_for(lambda: statsd.counter('copied_objects', 'node1') >= 3,
                     what='node 1 to copy a few objects')
    nodes.kill(1, signal.SIGKILL)
    statsd.settle()
    at_kill = statsd.counter('copied_objects', 'node1')

    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    for name, (data, _h, _c) in objects.items():
        found = remote_object(nodes, s3, container, name)
        assert found is not None and found[0] == data, name
    statsd.settle()
    owned_by_1 = statsd.counter('copied_objects', 'node1')
    print('node 1 had copied %d of its %d objects when killed'
          % (at_kill, owned_by_1))
    # nothing was copied twice but what was in flight at the kill
    assert statsd.counter('copied_objects') <= len(objects) + 1


def test_sigterm_finishes_the_rows_in_flight_and_exits_0(
        moto_nodes, swift, s3, container, statsd):
    nodes = moto_nodes(workers=2, items_chunk=4)
    objects = {'obj-%03d' % i: (os.urandom(32 * 1024), {}, 'text/plain')
               for i in range(30)}
    put_objects(swift, container, objects)

    nodes.start(1)
    helpers.wait_for(lambda: statsd.counter('copied_objects', 'node1') >= 1,
                     what='node 1 to copy an object')
    assert nodes.kill(1, signal.SIGTERM) == 0
    assert 'SIGTERM received' in nodes.log(1)

    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    for name, (data, _h, _c) in objects.items():
        found = remote_object(nodes, s3, container, name)
        assert found is not None and found[0] == data, name
    statsd.settle()
    assert statsd.counter('copied_objects') == len(objects)


def test_a_node_down_leaves_no_object_behind(aio, moto_nodes, swift, s3,
                                             container, statsd):
    """Node 3 is down while objects are written and the daemons run: the
    daemon of node 1 verifies the other replicas' rows
    (``verification_slack`` 0) and copies them; node 2's daemon, run after
    it, finds nothing left to copy.

    The two daemons run one after the other: run at once, with no slack,
    both could find the same row of node 3 missing and copy it, which is
    harmless but would make the count of copies below a race.
    """
    nodes = moto_nodes(verification_slack=0)
    aio.stop_node(3)
    try:
        objects = {'obj-%02d' % i: (b'data %d' % i, {}, 'text/plain')
                   for i in range(30)}
        put_objects(swift, container, objects)
        assert nodes.run_once([1]) == {1: 0}
        assert nodes.run_once([2]) == {2: 0}
    finally:
        aio.start_node(3)
    owners = {crawler_mod.row_owner(name, 3) for name in objects}
    assert owners == {0, 1, 2}
    for name, (data, _h, _c) in objects.items():
        found = remote_object(nodes, s3, container, name)
        assert found is not None and found[0] == data, name
    statsd.settle()
    assert statsd.counter('copied_objects') == len(objects)


def s3api_nodes(aio, nodes_factory, container, bucket, **options):
    """Daemons with a mapping of ``container`` to the all-in-one's own
    s3api (account test2).
    """
    return nodes_factory(
        {'sync': {'container': container, 'remote': 'local-s3',
                  'bucket': bucket}},
        remotes={'local-s3': helpers.aio_cloudsync.remote(
            aio.state, 's3api', max_retries=1)}, **options)


def test_a_remote_down_then_back_loses_nothing_and_drains(
        aio, nodes_factory, swift, container, statsd):
    """The remote is the all-in-one's own s3api (account test2), so that
    it can be stopped and started again without losing what it holds
    (moto keeps its data in memory). Stopping the proxy takes the remote
    down; the daemons read Swift through their internal client, which does
    not need the proxy. The remote is down for a whole pass: every row
    fails and is kept; once the remote is back, the next pass drains them.
    """
    s3api = aio.s3api_client('test2:tester2', 'testing2')
    bucket = conftest.unique_name('b')
    s3api.create_bucket(Bucket=bucket)
    nodes = s3api_nodes(aio, nodes_factory, container, bucket)
    objects = {'obj-%02d' % i: (b'data %d' % i, {}, 'text/plain')
               for i in range(12)}
    put_objects(swift, container, objects)
    # every daemon must have its own rows to fail
    helpers.replicate_container(aio, 'AUTH_test', container)

    aio.stop_proxy()
    try:
        codes = nodes.run_once()
    finally:
        aio.start_proxy()
    assert set(codes.values()) == {1}
    statsd.settle()
    assert statsd.counter('copied_objects') == 0
    failed = sum(len(s['failed']) for i in (1, 2, 3)
                 for s in nodes.statuses(i))
    assert failed == len(objects)

    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    mapping = nodes.config().mappings[0]
    layout = mapping.remote_layout(container)
    for name, (data, _h, _c) in objects.items():
        resp = s3api.get_object(Bucket=bucket, Key=layout.object_key(name))
        assert resp['Body'].read() == data
    assert all(not s['failed'] for i in (1, 2, 3)
               for s in nodes.statuses(i))


def test_a_remote_stopped_mid_pass_and_started_again_loses_nothing(
        aio, nodes_factory, swift, container, statsd):
    """Node 1's daemon runs in the background, one worker; once it has
    copied an object, the remote (the all-in-one's s3api, which keeps what
    it holds across a restart, as moto does not) is stopped under it. Its
    copies fail and are kept as failed rows; started again, the running
    daemon drains them by itself. Then every node's ``--once`` finds every
    object there, with its bytes.
    """
    s3api = aio.s3api_client('test2:tester2', 'testing2')
    bucket = conftest.unique_name('b')
    s3api.create_bucket(Bucket=bucket)
    nodes = s3api_nodes(aio, nodes_factory, container, bucket, workers=1,
                        items_chunk=5)
    objects = {'obj-%03d' % i: (os.urandom(64 * KiB), {}, 'text/plain')
               for i in range(90)}
    put_objects(swift, container, objects)
    helpers.replicate_container(aio, 'AUTH_test', container)

    nodes.start(1)
    helpers.wait_for(lambda: statsd.counter('copied_objects', 'node1') >= 1,
                     what='node 1 to copy an object')
    aio.stop_proxy()
    try:
        helpers.wait_for(lambda: statsd.counter('errors', 'node1') >= 1,
                         what='node 1 to fail on the stopped remote')
        failed = helpers.wait_for(
            lambda: sum(len(s['failed']) for s in nodes.statuses(1)),
            what='node 1 to keep its failed rows')
    finally:
        aio.start_proxy()
    statsd.settle()
    at_stop = statsd.counter('copied_objects', 'node1')
    print('node 1 had copied %d objects when the remote stopped; %d rows '
          'failed' % (at_stop, failed))

    def drained():
        statuses = nodes.statuses(1)
        return statuses and all(
            not s['failed'] and s['history'] and
            s['history'][-1]['rows_behind'] == 0 for s in statuses)
    helpers.wait_for(drained, timeout=120,
                     what='node 1 to drain its backlog')
    assert nodes.kill(1, signal.SIGTERM) == 0
    statsd.settle()
    assert statsd.counter('copied_objects', 'node1') > at_stop

    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    mapping = nodes.config().mappings[0]
    layout = mapping.remote_layout(container)
    for name, (data, _h, _c) in objects.items():
        resp = s3api.get_object(Bucket=bucket, Key=layout.object_key(name))
        assert resp['Body'].read() == data, name
    assert all(not s['failed'] for i in (1, 2, 3)
               for s in nodes.statuses(i))


def test_a_container_that_shards_keeps_syncing(
        aio, moto_nodes, swift, s3, container, statsd, tmp_path):
    """Swift's own tools shard the container: ``swift-manage-shard-ranges
    find_and_replace --enable`` on one replica of its database, then one
    ``swift-container-sharder --once`` on each node (limited to the
    container's partition), which creates the shard containers on every
    node, gives the other replicas the shard ranges and cleaves each
    replica's rows into the shards. The all-in-one runs no rsync daemon:
    the shard databases the sharder replicates already exist on every node
    (it creates the shard containers first), so it replicates them over
    HTTP. Objects written after that are recorded in the shards.
    """
    nodes = moto_nodes()
    before = {'a-%02d' % i: (b'before %d' % i, {}, 'text/plain')
              for i in range(10)}
    put_objects(swift, container, before)
    helpers.replicate_container(aio, 'AUTH_test', container)
    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    statsd.settle()
    assert statsd.counter('copied_objects') == len(before)

    replicas = aio.container_nodes('AUTH_test', container)
    helpers.swift_command(
        aio, 'swift.cli.manage_shard_ranges', 'swift-manage-shard-ranges',
        replicas[0][1], 'find_and_replace', '5', '--enable')
    part = int(replicas[0][1].split(os.sep)[-4])
    for node, _path in replicas:
        helpers.run_sharder(aio, tmp_path, node, [part],
                            cleave_batch_size=10)
    for _node, path in replicas:
        root = backend.ContainerBroker(path)
        assert root.get_db_state() == backend.SHARDED, path
        assert len(root.get_shard_ranges(
            states=[swift_utils.ShardRange.ACTIVE])) == 2, path

    after = {name: (b'after ' + name.encode(), {}, 'text/plain')
             for name in ('a-02b', 'a-07b', 'z-last')}
    put_objects(swift, container, after)
    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    for name, (data, _h, _c) in list(before.items()) + list(after.items()):
        found = remote_object(nodes, s3, container, name)
        assert found is not None and found[0] == data, name
    statsd.settle()
    # the old rows, now in the shards, were checked, not copied again
    assert statsd.counter('copied_objects') == len(before) + len(after)
    shard_dbs = [s['info'] for s in nodes.statuses(1) if s['info']['shard']]
    assert len(shard_dbs) == 2
    assert {s['container'] for s in shard_dbs} == {container}
