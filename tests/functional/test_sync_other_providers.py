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
"""The sync daemon copying to a Swift cluster and to an S3 clone.

``cloudsync-sync --once`` runs on the all-in-one's three container nodes,
as in ``test_sync_daemon.py``, with mappings whose remote is

* the all-in-one's second account through the ``swift`` provider
  (``test2:tester2``): objects keep their bytes, metadata (case
  included) and content type, a static large object stays one, a POST
  becomes a POST and a DELETE removes the remote copy with its segments;
  a dynamic large object stays one, its segments in the remote segments
  container, and a second pass sends nothing; archived, it reads
  through the cloud shunt with the ``X-Object-Manifest`` it had locally;
  ``container = *`` gets one remote container per local one, created
  by cloudsync, with the local container's metadata when
  ``sync_container_metadata`` is set; a POST that changes or removes
  ``X-Delete-At`` changes the remote's expiry;
* Swift's s3api through the ``s3-clone`` provider: objects arrive, and an
  object whose name the store is configured not to take fails on its own
  while the others go on.
"""

import hashlib
import json
import time
import urllib.request

import pytest

from cloudsync import metadata as metadata_mod
from tests.functional import conftest
from tests.functional import daemon_helpers as helpers

#: the remote of :func:`to_swift`: account test2 through the Swift API
SWIFT_REMOTE = {'dr': 'swift'}


def to_swift(container, bucket, layout, account='AUTH_test', **options):
    """Mapping ``to-swift`` of ``container`` to the remote ``dr``."""
    return {'to-swift': dict(options, account=account, container=container,
                             remote='dr', bucket=bucket, layout=layout)}


OBJECTS = {
    'plain': (b'hello world', {}, 'text/plain'),
    'with-meta': (b'data' * 100, {'X-Object-Meta-Color': 'Blue',
                                  'X-Object-Meta-Mixed': 'CaSe KePt \u00e9'},
                  'application/x-Thing'),
    'd\u00efr/\u00fcn\u00efc\u00f8d\u00e9 \u2603': (
        b'unicode', {'X-Object-Meta-Unicode': 'v\u00e4lue \u2603'},
        'text/plain'),
    'empty': (b'', {}, 'application/x-empty'),
}


def md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.fixture
def nodes_factory(aio, tmp_path):
    made = []

    def make(mappings, remotes=SWIFT_REMOTE):
        nodes = helpers.DaemonNodes(aio, tmp_path, mappings,
                                    remotes=remotes)
        made.append(nodes)
        return nodes
    yield make
    for nodes in made:
        nodes.stop_all()


def put_objects(swift, container):
    for name, (data, headers, ctype) in OBJECTS.items():
        swift.put_object(container, name, data, headers=headers,
                         content_type=ctype)


def put_slo(swift, container, name, datas):
    segments = container + '-segs'
    swift.put_container(segments)
    manifest = []
    for number, data in enumerate(datas):
        seg = '%s/%d' % (name, number)
        swift.put_object(segments, seg, data)
        manifest.append({'path': '/%s/%s' % (segments, seg),
                         'etag': md5(data), 'size_bytes': len(data)})
    swift.put_object(container, name, json.dumps(manifest),
                     query_string='multipart-manifest=put',
                     headers={'X-Object-Meta-Kind': 'Large One'},
                     content_type='video/x-Large')


def user_meta(headers):
    return {k: v for k, v in headers.items()
            if k.startswith('x-object-meta-')}


def test_swift_to_swift(aio, swift, swift2, container, nodes_factory):
    bucket = conftest.unique_name('dr')
    nodes = nodes_factory(to_swift(container, bucket, 'native'))
    put_objects(swift, container)
    datas = [b'a' * 2048, b'b' * 2048, b'tail']
    put_slo(swift, container, 'large', datas)

    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}

    for name, (data, _headers, ctype) in OBJECTS.items():
        local = swift.head_object(container, name)
        remote, body = swift2.get_object(bucket, name)
        assert body == data, name
        assert remote['etag'] == local['etag']
        assert remote['content-type'] == ctype
        # the user's metadata exactly, with cloudsync's own beside it
        assert {k: v for k, v in user_meta(remote).items()
                if not k.startswith('x-object-meta-cloudsync-')} == \
            user_meta(local), name
    remote, body = swift2.get_object(bucket, 'large')
    assert body == b''.join(datas)
    assert remote['x-static-large-object'] == 'True'
    assert remote['etag'] == swift.head_object(container, 'large')['etag']
    assert remote['x-object-meta-kind'] == 'Large One'
    assert remote['content-type'] == 'video/x-Large'
    segments = swift2.get_container(bucket + '_segments')[1]
    assert len(segments) == len(datas)

    swift.post_object(container, 'with-meta',
                      headers={'X-Object-Meta-Color': 'Red'})
    swift.delete_object(container, 'plain')
    swift.delete_object(container, 'large')
    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}

    assert user_meta(swift2.head_object(bucket, 'with-meta'))[
        'x-object-meta-color'] == 'Red'
    names = [o['name'] for o in swift2.get_container(bucket)[1]]
    assert 'plain' not in names and 'large' not in names
    assert swift2.get_container(bucket + '_segments')[1] == []


def test_swift_to_swift_keeps_a_dlo(aio, swift, swift2, container,
                                    tmp_path):
    bucket = conftest.unique_name('dr')
    statsd = helpers.StatsdListener()
    nodes = helpers.DaemonNodes(
        aio, tmp_path, to_swift(container, bucket, 'native'),
        statsd=statsd, remotes=SWIFT_REMOTE)
    try:
        segments = container + '-dlo-segs'
        swift.put_container(segments)
        datas = [b'a' * 1000, b'b' * 2000, b'tail']
        for number, data in enumerate(datas):
            swift.put_object(segments, 'movie/v1/%03d' % number, data)
        swift.put_object(segments, 'other/000', b'not a segment')
        swift.put_object(container, 'movie', b'', headers={
            'X-Object-Manifest': '%s/movie/v1/' % segments,
            'X-Object-Meta-Kind': 'Dynamic'}, content_type='video/x-Dyn')
        local = swift.head_object(container, 'movie')
        # NOTE: where the remote keeps the segments of an SLO named movie
        # (<key>/<upload>/<part>) and those of another DLO: left alone
        swift2.put_container(bucket + '_segments')
        others = {'movie/v1/1764600000.000000-0a1b2c3d/00000001': b'slo',
                  '.dlo/%s-other/movie/v1/000' % container: b'other'}
        for name, data in others.items():
            swift2.put_object(bucket + '_segments', name, data)

        assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
        statsd.settle()
        assert statsd.counter('copied_objects') == 1

        remote, body = swift2.get_object(bucket, 'movie')
        assert body == b''.join(datas)
        assert remote['x-object-manifest'] == \
            '%s_segments/.dlo/%s/movie/v1/' % (bucket, segments)
        assert remote['etag'] == local['etag']
        assert remote['content-type'] == 'video/x-Dyn'
        assert remote['x-object-meta-kind'] == 'Dynamic'
        manifest = swift2.get_object(
            bucket, 'movie', query_string='multipart-manifest=get')[1]
        assert manifest == b''
        listed = swift2.get_container(bucket + '_segments')[1]
        assert sorted((o['name'], o['hash']) for o in listed) == sorted(
            [('.dlo/%s/movie/v1/%03d' % (segments, n), md5(d))
             for n, d in enumerate(datas)] +
            [(name, md5(d)) for name, d in others.items()])
        stamps = {o['name']: o['last_modified'] for o in listed}
        manifest_stamp = remote['x-timestamp']

        # a second pass, verification of the other replicas' rows
        # included, sends nothing
        nodes.reconfigure(verification_slack=0)
        assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
        statsd.settle()
        assert statsd.counter('copied_objects') == 1
        assert statsd.counter('metadata_updates') == 0
        assert swift2.head_object(bucket, 'movie')['x-timestamp'] == \
            manifest_stamp
        assert {o['name']: o['last_modified'] for o in swift2.get_container(
            bucket + '_segments')[1]} == stamps
    finally:
        nodes.stop_all()
        statsd.close()


def test_a_dlo_archived_to_swift_reads_through_the_shunt_as_before(
        aio, swift, swift2, container, tmp_path):
    bucket = conftest.unique_name('dr')
    nodes = helpers.DaemonNodes(
        aio, tmp_path, to_swift(container, bucket, 'native',
                                lifecycle='archive', copy_after=0,
                                archive_as='delete'),
        remotes=SWIFT_REMOTE)
    try:
        segments = container + '-dlo-segs'
        swift.put_container(segments)
        datas = [b'a' * 1000, b'tail']
        for number, data in enumerate(datas):
            swift.put_object(segments, 'movie v1/%03d' % number, data)
        manifest = '%s/movie%%20v1/' % segments
        swift.put_object(container, 'movie', b'', headers={
            'X-Object-Manifest': manifest}, content_type='video/x-Dyn')
        url, token = swift.get_auth()
        path = '/%s/movie' % container

        def raw_head(storage_url):
            # NOTE: swiftclient decodes X-Object-Manifest; compare the
            # header as Swift sends it.
            request = urllib.request.Request(
                storage_url + path, method='HEAD',
                headers={'X-Auth-Token': token})
            with urllib.request.urlopen(request) as resp:
                return {k.lower(): v for k, v in resp.headers.items()}

        local = raw_head(url)
        assert local['x-object-manifest'] == manifest

        assert nodes.run_once() == {1: 0, 2: 0, 3: 0}

        assert [o['name'] for o in swift.get_container(container)[1]] == []
        remote = swift2.head_object(bucket, 'movie')
        assert remote['x-object-manifest'] == \
            '%s_segments/.dlo/%s/movie v1/' % (bucket, segments)
        shunt_url = aio.start_proxy('shunt-dlo', [('cloud_shunt', {
            'use': 'egg:swift-cloudsync#cloud_shunt',
            'conf_file': nodes.confs[1]})])
        try:
            shunt_storage = shunt_url + url[url.index('/v1/'):]
            head = raw_head(shunt_storage)
            shunt = aio.swift_client(preauthurl=shunt_storage,
                                     preauthtoken=token)
            headers, body = shunt.get_object(container, 'movie')
        finally:
            aio.stop_proxy('shunt-dlo')
        assert body == b''.join(datas)
        assert headers['x-object-manifest'] == '%s/movie v1/' % segments
        assert head['x-object-manifest'] == manifest
        for answer in (headers, head):
            assert answer['etag'] == local['etag']
            assert answer['x-timestamp'] == local['x-timestamp']
    finally:
        nodes.stop_all()


def test_swift_wildcard_gets_one_remote_container_each(aio, swift2,
                                                       nodes_factory):
    # NOTE: an account of its own, so that the wildcard mapping sees only
    # this test's containers.
    with helpers.scratch_account(aio) as (account, local):
        prefix = conftest.unique_name('w') + '-'
        nodes = nodes_factory(to_swift('*', prefix, 'hashed',
                                       account=account))
        for cont in ('one', 'two'):
            local.put_container(cont)
            local.put_object(cont, 'obj', cont.encode('ascii'))
        assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
        mapping = nodes.config().mappings[0]
        for cont in ('one', 'two'):
            assert mapping.remote_bucket(cont) == prefix + cont
            key = mapping.remote_layout(cont).object_key('obj')
            assert swift2.get_object(prefix + cont, key)[1] == \
                cont.encode('ascii')


def test_swift_container_metadata_with_a_wildcard(aio, swift2,
                                                  nodes_factory):
    # NOTE: no storage_policy: the remote containers do not exist until
    # cloudsync creates them to copy their metadata.
    with helpers.scratch_account(aio) as (account, local):
        prefix = conftest.unique_name('m') + '-'
        nodes = nodes_factory(to_swift('*', prefix, 'native',
                                       account=account,
                                       sync_container_metadata='true'))
        conts = ('one', 'two')
        for cont in conts:
            local.put_container(cont, headers={
                'X-Container-Meta-Color': cont.title()})
            aio.ensure_container_replicas(account, cont)
            local.put_object(cont, 'obj', cont.encode('ascii'))
        assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
        for cont in conts:
            headers = swift2.head_container(prefix + cont)
            assert headers['x-container-meta-color'] == cont.title()
            assert swift2.get_object(prefix + cont, 'obj')[1] == \
                cont.encode('ascii')

        local.post_container('one', {'X-Container-Meta-Color': 'Red'})
        local.put_object('one', 'later', b'later')
        assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
        assert swift2.head_container(prefix + 'one')[
            'x-container-meta-color'] == 'Red'
        assert swift2.get_object(prefix + 'one', 'later')[1] == b'later'


def test_swift_expiry_changes_follow_a_post(aio, swift, swift2, container,
                                            nodes_factory):
    bucket = conftest.unique_name('exp')
    nodes = nodes_factory(to_swift(container, bucket, 'native',
                                   propagate_expiration='true',
                                   propagate_expiration_offset=600))
    first = int(time.time()) + 3600
    swift.put_object(container, 'obj', b'data',
                     headers={'X-Delete-At': str(first)})
    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    assert swift2.head_object(bucket, 'obj')['x-delete-at'] == \
        str(first + 600)

    later = first + 7200
    swift.post_object(container, 'obj', headers={
        'X-Delete-At': str(later), 'X-Object-Meta-Step': 'two'})
    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    remote = swift2.head_object(bucket, 'obj')
    assert remote['x-object-meta-step'] == 'two'
    assert remote['x-delete-at'] == str(later + 600)

    swift.post_object(container, 'obj',
                      headers={'X-Object-Meta-Step': 'three'})
    assert 'x-delete-at' not in swift.head_object(container, 'obj')
    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    remote = swift2.head_object(bucket, 'obj')
    assert remote['x-object-meta-step'] == 'three'
    assert 'x-delete-at' not in remote


def test_s3_clone(aio, swift, container, nodes_factory):
    s3api = aio.s3api_client()
    bucket = conftest.unique_name('clone')
    s3api.create_bucket(Bucket=bucket)
    nodes = nodes_factory(
        {'to-clone': {'container': container, 'remote': 'clone',
                      'bucket': bucket}},
        {'clone': helpers.aio_cloudsync.remote(
            aio.state, 'clone', allow_4byte_utf8='false')})
    put_objects(swift, container)
    refused = 'smile \U0001F600'
    swift.put_object(container, refused, b'emoji')

    codes = nodes.run_once()
    # NOTE: the node that owns the refused row says so; every other
    # object is copied.
    assert sorted(codes.values()) == [0, 0, 1]
    mapping = nodes.config().mappings[0]
    layout = mapping.remote_layout(container)
    for name, (data, headers, ctype) in OBJECTS.items():
        resp = s3api.get_object(Bucket=bucket, Key=layout.object_key(name))
        assert resp['Body'].read() == data
        assert resp['ContentType'] == ctype
        assert metadata_mod.remote_to_swift(resp['Metadata']) == headers
    assert 'KeyCount' in s3api.list_objects_v2(
        Bucket=bucket, Prefix=layout.object_key(refused))
    assert s3api.list_objects_v2(
        Bucket=bucket, Prefix=layout.object_key(refused))['KeyCount'] == 0
    logs = ''.join(nodes.log(i) for i in (1, 2, 3))
    assert 'U+1F600' in logs

    # the refused object holds nothing up: later changes still go
    swift.put_object(container, 'later', b'later')
    nodes.run_once()
    resp = s3api.get_object(Bucket=bucket, Key=layout.object_key('later'))
    assert resp['Body'].read() == b'later'
