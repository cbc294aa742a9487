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
"""Remote namespaces: no two mappings share a key, and Swift remotes keep
object names as swift-s3-sync and container-sync do.
"""

import hashlib
import json
import subprocess

import pytest

from tests.functional import conftest
from tests.functional import daemon_helpers as helpers

TWO_ACCOUNTS = '''\
[remote:aws]
provider = s3
endpoint = %(endpoint)s
access_key = testing
secret_key = testing

[mapping:first]
account = AUTH_test
container = %(first)s
remote = aws
bucket = %(bucket)s
%(layout)s

[mapping:second]
account = AUTH_test2
container = %(second)s
remote = aws
bucket = %(bucket)s
%(layout)s
'''


@pytest.mark.parametrize('wildcard, layout', [
    (True, 'layout = prefix\nkey_prefix = {container}'),
    (False, 'layout = native')])
def test_two_accounts_on_one_bucket_are_refused_by_the_daemon(
        aio, swift, swift2, bucket, s3, tmp_path, wildcard, layout):
    container = conftest.unique_name('c')
    spec = '*' if wildcard else container
    swift.put_container(container)
    swift2.put_container(container)
    swift.put_object(container, 'o', b'first account')
    swift2.put_object(container, 'o', b'second account')
    nodes = helpers.DaemonNodes(aio, tmp_path, TWO_ACCOUNTS % {
        'endpoint': aio.state['moto_endpoint'], 'bucket': bucket,
        'layout': layout, 'first': spec, 'second': spec})

    proc = subprocess.run(
        [helpers.bin_path('cloudsync-sync'), '--config-file',
         nodes.confs[1], '--once'],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=120)

    assert proc.returncode != 0
    err = proc.stderr.decode('utf-8')
    assert '[mapping:first] (AUTH_test/%s' % spec in err, err
    assert '[mapping:second] (AUTH_test2/%s' % spec in err, err
    assert 'can write the same keys of remote aws' in err, err
    assert 'bucket %s' % bucket in err, err
    # nothing was written: neither account's copy can stand for the other
    assert s3.list_objects_v2(Bucket=bucket).get('KeyCount') == 0


@pytest.fixture
def statsd():
    listener = helpers.StatsdListener()
    yield listener
    listener.close()


@pytest.fixture
def nodes_factory(aio, tmp_path, statsd):
    made = []

    def make(mappings):
        nodes = helpers.DaemonNodes(aio, tmp_path, mappings, statsd=statsd)
        made.append(nodes)
        return nodes
    yield make
    for nodes in made:
        nodes.stop_all()


OBJECTS = {
    'plain': (b'hello world', {}, 'text/plain'),
    'with-meta': (b'data' * 100, {'X-Object-Meta-Color': 'blue'},
                  'application/x-thing'),
    'd\u00efr/\u00fcn\u00efc\u00f8d\u00e9 \u2603': (
        b'unicode', {'X-Object-Meta-Unicode': 'v\u00e4lue'}, 'text/plain'),
}


def put_objects(client, container, objects=OBJECTS):
    for name, (data, headers, ctype) in objects.items():
        client.put_object(container, name, data, headers=headers,
                          content_type=ctype)


def converted_sections(aio, tmp_path, profiles):
    """The remote and mapping sections ``cloudsync-config-convert`` writes
    for swift-s3-sync ``profiles``.
    """
    source = tmp_path / 'sync.json'
    source.write_text(json.dumps({
        'containers': profiles, 'devices': '/srv/node', 'items_chunk': 1000,
        'status_dir': str(tmp_path / 'old-status'), 'log_file': 'x.log'}))
    out = tmp_path / 'converted.conf'
    proc = subprocess.run(
        [helpers.bin_path('cloudsync-config-convert'), str(source), '-o',
         str(out)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    return text[text.index('[remote:'):]


def swift_profile(aio, account, container, bucket):
    return {'account': account, 'container': container, 'protocol': 'swift',
            'aws_bucket': bucket, 'aws_endpoint': aio.state['auth_url'],
            'aws_identity': 'test2:tester2', 'aws_secret': 'testing2'}


def test_a_converted_swift_s3_sync_swift_target_is_current(
        aio, swift, swift2, container, tmp_path, nodes_factory, statsd):
    bucket = conftest.unique_name('old')
    put_objects(swift, container)
    # NOTE: what swift-s3-sync left in the remote container: each object
    # under its own name, with its bytes, content type and metadata.
    swift2.put_container(bucket)
    put_objects(swift2, container=bucket)
    before = {o['name']: o for o in swift2.get_container(bucket)[1]}
    nodes = nodes_factory(converted_sections(aio, tmp_path, [
        swift_profile(aio, 'AUTH_test', container, bucket)]))

    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}

    statsd.settle()
    assert statsd.counter('copied_objects') == 0
    after = {o['name']: o for o in swift2.get_container(bucket)[1]}
    assert sorted(after) == sorted(OBJECTS)
    for name, (data, _headers, _ctype) in OBJECTS.items():
        assert after[name]['hash'] == before[name]['hash']
        assert swift2.get_object(bucket, name)[1] == data


def test_a_converted_swift_s3_sync_wildcard_target_is_current(
        aio, swift2, tmp_path, nodes_factory, statsd):
    prefix = conftest.unique_name('old') + '-'
    with helpers.scratch_account(aio) as (account, local):
        for cont in ('one', 'two'):
            local.put_container(cont)
            put_objects(local, cont)
            swift2.put_container(prefix + cont)
            put_objects(swift2, prefix + cont)
        nodes = nodes_factory(converted_sections(aio, tmp_path, [
            swift_profile(aio, account, '/*', prefix)]))

        assert nodes.run_once() == {1: 0, 2: 0, 3: 0}

        statsd.settle()
        assert statsd.counter('copied_objects') == 0
        for cont in ('one', 'two'):
            names = [o['name'] for o in
                     swift2.get_container(prefix + cont)[1]]
            assert sorted(names) == sorted(OBJECTS)


SWIFT_WILDCARD = '''\
[remote:dr]
provider = swift
endpoint = %(auth_url)s
access_key = test2:tester2
secret_key = testing2

[mapping:every]
account = %(account)s
container = *
remote = dr
bucket = %(bucket)s
'''


def test_every_container_keeps_its_names_on_a_swift_remote(
        aio, swift2, nodes_factory):
    prefix = conftest.unique_name('w') + '-'
    with helpers.scratch_account(aio) as (account, local):
        for cont in ('one', 'two'):
            local.put_container(cont)
            put_objects(local, cont)
        nodes = nodes_factory(SWIFT_WILDCARD % {
            'auth_url': aio.state['auth_url'], 'account': account,
            'bucket': prefix})

        assert nodes.run_once() == {1: 0, 2: 0, 3: 0}

        for cont in ('one', 'two'):
            names = [o['name'] for o in
                     swift2.get_container(prefix + cont)[1]]
            assert sorted(names) == sorted(OBJECTS)
            for name, (data, _headers, ctype) in OBJECTS.items():
                headers, body = swift2.get_object(prefix + cont, name)
                assert body == data
                assert headers['content-type'] == ctype


def put_slo(client, container, segments_container, name, datas,
            headers=None):
    client.put_container(segments_container)
    manifest = []
    for number, data in enumerate(datas):
        seg = '%s/%08d' % (name, number)
        client.put_object(segments_container, seg, data)
        manifest.append({'path': '/%s/%s' % (segments_container, seg),
                         'etag': hashlib.md5(
                             data, usedforsecurity=False).hexdigest(),
                         'size_bytes': len(data)})
    client.put_object(container, name, json.dumps(manifest),
                      query_string='multipart-manifest=put',
                      headers=headers, content_type='video/x-large')


def test_a_converted_swift_s3_sync_slo_is_current(
        aio, swift, swift2, container, tmp_path, nodes_factory, statsd):
    bucket = conftest.unique_name('old')
    datas = [b'a' * 2048, b'b' * 2048, b'tail']
    meta = {'X-Object-Meta-Kind': 'large'}
    put_slo(swift, container, container + '-segs', 'large', datas, meta)
    # NOTE: swift-s3-sync copied each segment, under its own name, to
    # "<remote container>_segments", then the manifest.
    swift2.put_container(bucket)
    put_slo(swift2, bucket, bucket + '_segments', 'large', datas, meta)
    before = swift2.head_object(bucket, 'large')
    nodes = nodes_factory(converted_sections(aio, tmp_path, [
        swift_profile(aio, 'AUTH_test', container, bucket)]))

    assert nodes.run_once() == {1: 0, 2: 0, 3: 0}

    statsd.settle()
    assert statsd.counter('copied_objects') == 0
    after = swift2.head_object(bucket, 'large')
    assert after['etag'] == before['etag']
    assert swift2.get_object(bucket, 'large')[1] == b''.join(datas)
