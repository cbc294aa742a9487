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

"""The all-in-one is a real cluster: proofs, and the helpers tests rely on."""

import hashlib
import os

import pytest
from swiftclient import client as swiftclient

from tests.functional.conftest import unique_name


def test_state_file(aio):
    state = aio.state
    assert os.path.exists(state['state_file'])
    assert state['status'] == 'running'
    assert state['auth_url'] == state['proxy_url'] + '/auth/v1.0'
    assert state['s3api_endpoint'] == state['proxy_url']
    assert os.path.exists(state['internal_client_conf'])
    assert os.path.exists(os.path.join(state['swift_dir'], 'swift.conf'))
    assert [n['index'] for n in state['nodes']] == [1, 2, 3]
    ports = set()
    for node in state['nodes']:
        assert os.path.exists(node['container_server_conf'])
        assert os.path.isdir(os.path.join(node['devices'], node['device']))
        ports.update((node['account_port'], node['container_port'],
                      node['object_port']))
    assert len(ports) == 9
    assert aio.is_running()


def test_put_get_through_proxy(aio, swift, container):
    body = b'hello cloudsync\n' * 100
    etag = swift.put_object(container, 'dir/obj', body,
                            content_type='text/plain',
                            headers={'X-Object-Meta-Color': 'blue'})
    assert etag == hashlib.md5(body).hexdigest()
    headers, got = swift.get_object(container, 'dir/obj')
    assert got == body
    assert headers['x-object-meta-color'] == 'blue'
    _headers, listing = swift.get_container(container)
    assert [o['name'] for o in listing] == ['dir/obj']


def test_container_has_three_db_replicas(aio, swift, container):
    from swift.container.backend import ContainerBroker

    swift.put_object(container, 'o1', b'x')
    nodes = aio.container_nodes('AUTH_test', container)
    assert len(nodes) == 3
    assert len({node['index'] for node, _path in nodes}) == 3
    assert len({node['container_port'] for node, _path in nodes}) == 3
    paths = aio.container_db_paths('AUTH_test', container)
    assert paths == [path for _node, path in nodes]
    for node, path in nodes:
        assert path.startswith(node['devices'] + os.sep)
        assert os.path.exists(path), path
        # every replica got the object row (object servers update the
        # container replicas synchronously)
        broker = ContainerBroker(path, account='AUTH_test',
                                 container=container)
        assert broker.get_info()['object_count'] == 1


def test_second_account_is_separate(aio, swift, swift2, container):
    swift.put_object(container, 'private', b'secret')
    url1, _token1 = swift.get_auth()
    url2, _token2 = swift2.get_auth()
    assert url1.endswith('/AUTH_test')
    assert url2.endswith('/AUTH_test2')
    other = unique_name('c2')
    swift2.put_container(other)
    _headers, containers = swift2.get_account()
    names = [c['name'] for c in containers]
    assert other in names
    assert container not in names
    with pytest.raises(swiftclient.ClientException) as err:
        swiftclient.get_object(url1, swift2.get_auth()[1], container,
                               'private')
    assert err.value.http_status == 403


def test_reader_is_not_admin(aio, swift, container):
    reader = aio.swift_client('test:reader', 'reading')
    with pytest.raises(swiftclient.ClientException) as err:
        reader.get_container(container)
    assert err.value.http_status == 403
    swift.post_container(container, {'X-Container-Read': 'test:reader'})
    _headers, listing = reader.get_container(container)
    assert listing == []


def test_storage_policies(aio, swift):
    name = unique_name('silver')
    swift.put_container(name, headers={'X-Storage-Policy': 'silver'})
    swift.put_object(name, 'o', b'data')
    headers = swift.head_container(name)
    assert headers['x-storage-policy'] == 'silver'
    _headers, body = swift.get_object(name, 'o')
    assert body == b'data'
    default = unique_name('gold')
    swift.put_container(default)
    assert swift.head_container(default)['x-storage-policy'] == 'gold'


def test_s3api(aio, swift):
    s3api = aio.s3api_client('test:tester', 'testing')
    name = unique_name('s3api')
    s3api.create_bucket(Bucket=name)
    s3api.put_object(Bucket=name, Key='k/1', Body=b'via s3api',
                     Metadata={'origin': 's3'})
    got = s3api.get_object(Bucket=name, Key='k/1')
    assert got['Body'].read() == b'via s3api'
    assert got['Metadata'] == {'origin': 's3'}
    keys = [o['Key'] for o in s3api.list_objects_v2(Bucket=name)['Contents']]
    assert keys == ['k/1']
    # the same object through the Swift API
    headers, body = swift.get_object(name, 'k/1')
    assert body == b'via s3api'
    assert headers['x-object-meta-origin'] == 's3'


def test_s3api_wrong_secret(aio):
    s3api = aio.s3api_client('test:tester', 'wrong')
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as err:
        s3api.list_buckets()
    assert err.value.response['Error']['Code'] == 'SignatureDoesNotMatch'


def test_moto(aio, s3, bucket):
    s3.put_object(Bucket=bucket, Key='a/b', Body=b'in moto')
    assert s3.get_object(Bucket=bucket, Key='a/b')['Body'].read() == \
        b'in moto'
    listing = s3.list_objects_v2(Bucket=bucket, Prefix='a/')
    assert [o['Key'] for o in listing['Contents']] == ['a/b']
    assert bucket in [b['Name'] for b in s3.list_buckets()['Buckets']]


def test_internal_client(aio, swift, container):
    swift.put_object(container, 'ic', b'internal',
                     headers={'X-Object-Meta-K': 'v'})
    client = aio.internal_client()
    meta = client.get_object_metadata('AUTH_test', container, 'ic')
    assert meta['x-object-meta-k'] == 'v'
    names = [o['name'] for o in client.iter_objects('AUTH_test', container)]
    assert names == ['ic']


def test_node_down_and_up(aio, swift, container):
    aio.stop_node(3)
    try:
        assert not aio.processes()['node3-container']
        # 2 of 3 replicas are a quorum
        swift.put_object(container, 'while-down', b'x')
        _headers, body = swift.get_object(container, 'while-down')
        assert body == b'x'
    finally:
        aio.start_node(3)
    assert aio.is_running()
    swift.put_object(container, 'after', b'y')
    assert swift.get_object(container, 'after')[1] == b'y'


def test_moto_restart_loses_data(aio, s3, bucket):
    aio.stop_moto()
    assert not aio.processes()['moto']
    aio.start_moto()
    assert aio.is_running()
    # moto keeps its data in memory only
    assert bucket not in [b['Name'] for b in s3.list_buckets()['Buckets']]


def test_extra_proxy_pipeline(aio, swift, container):
    # a filter inserted after tempauth: read_only makes writes fail
    url = aio.start_proxy('extra', [('read_only', {
        'use': 'egg:swift#read_only', 'read_only': 'true'})])
    try:
        conf = aio.state['proxies']['extra']['conf']
        with open(conf) as f:
            pipeline = [line for line in f if line.startswith('pipeline')]
        assert 'tempauth read_only copy' in pipeline[0]
        url1, token = swift.get_auth()
        storage_url = url + url1[len(aio.state['proxy_url']):]
        with pytest.raises(swiftclient.ClientException) as err:
            swiftclient.put_object(storage_url, token, container, 'ro', b'x')
        assert err.value.http_status == 405
        # reads work, and the main proxy is untouched
        swiftclient.head_container(storage_url, token, container)
        swift.put_object(container, 'rw', b'x')
    finally:
        aio.stop_proxy('extra')
    assert 'extra' not in aio.state['proxies']
    assert aio.is_running()


def test_a_container_replica_the_put_missed_is_created(aio, container):
    path = aio.container_db_paths('AUTH_test', container)[2]
    os.unlink(path)

    assert aio.ensure_container_replicas('AUTH_test', container) == [path]
    assert os.path.exists(path)
    assert aio.ensure_container_replicas('AUTH_test', container) == []
