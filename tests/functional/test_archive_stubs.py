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
"""Archiving with ``archive_as = stub`` on a real cluster.

Objects (plain, unicode, zero-byte, an SLO) are written, read and listed
through Swift, then archived by ``cloudsync-sync --once`` on every
container node. Swift keeps a zero-byte stub of each: its own listing
(the all-in-one's proxy, without the shunt) is byte for byte what it was
in every format, a proxy without the shunt answers the stub's own
content type, and a proxy with the shunt answers exactly what Swift
answered before (bytes, headers, ranges, conditional requests, the SLO's
manifest). A POST, a DELETE and an overwrite of a stub reach the remote
through the daemon; a restore puts the data back over a stub; an object
archived the old way (deleted locally) is still served. The same
listing check runs on the production profile (at-rest encryption).
"""

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import pytest
from swift.common import internal_client
from swift.common import utils as swift_utils

from cloudsync import stubs
from tests.functional.conftest import unique_name
from tests.functional import daemon_helpers
from tests.functional.test_shunt import Client

MIB = 1024 * 1024
OBJECT_HEADERS = ('etag', 'content-type', 'content-length', 'x-timestamp',
                  'last-modified', 'x-static-large-object',
                  'x-manifest-etag', 'accept-ranges', 'content-disposition',
                  'x-delete-at')
FORMATS = ('json', 'xml', 'plain')


def object_view(headers):
    return {k: v for k, v in headers.items()
            if k in OBJECT_HEADERS or k.startswith('x-object-meta-')}


def mappings_text(aio, bucket, containers, remote_options=()):
    state = aio.state
    text = ['[remote:moto]', 'provider = s3',
            'endpoint = %s' % state['moto_endpoint'],
            'access_key = %s' % state.get('moto_access_key', 'testing'),
            'secret_key = %s' % state.get('moto_secret_key', 'testing'),
            'part_size = 5242880']
    text += ['%s = %s' % item for item in remote_options] + ['']
    for name, container, options in containers:
        text += ['[mapping:%s]' % name, 'account = AUTH_test',
                 'container = %s' % container, 'remote = moto',
                 'bucket = %s' % bucket, 'lifecycle = archive',
                 'copy_after = 0']
        text += ['%s = %s' % item for item in sorted(options.items())]
        text.append('')
    return '\n'.join(text)


def start_shunt(aio, name, conf_file):
    """Start a proxy named ``name`` with the shunt of ``conf_file``."""
    return aio.start_proxy(name, [('cloud_shunt', {
        'use': 'egg:swift-cloudsync#cloud_shunt', 'conf_file': conf_file})])


def production_container(aio, swift, prefix):
    """A new bucket, and a new container of storage policy ``gold`` on
    the production profile (objects encrypted at rest).
    """
    bucket = unique_name(prefix)
    aio.s3_client().create_bucket(Bucket=bucket)
    container = unique_name(prefix)
    swift.put_container(container, headers={'X-Storage-Policy': 'gold'})
    aio.ensure_container_replicas('AUTH_test', container)
    return bucket, container


def make_objects(swift, container):
    swift.put_container(container)
    objects = {
        'a': b'first object',
        'b/1': os.urandom(3000),
        'dir/ünïcødé ☃': 'välue ☃'.encode('utf-8') * 10,
        'empty': b'',
        'posted': b'posted before archiving',
    }
    for name, data in objects.items():
        headers = {'X-Object-Meta-Color': 'Blue',
                   'Content-Disposition': 'inline'}
        if name.startswith('dir/'):
            headers['X-Object-Meta-Unicode'] = 'välue ☃'
        swift.put_object(container, name, data, headers=headers,
                         content_type='text/x-%s' % name[0])
    swift.post_object(container, 'posted', {'X-Object-Meta-Color': 'Red',
                                            'Content-Type': 'text/posted'})
    segments = container + '_segments'
    swift.put_container(segments)
    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    for index, data in enumerate(parts):
        swift.put_object(segments, 'slo/%d' % index, data)
    swift.put_object(container, 'slo', json.dumps([
        {'path': '/%s/slo/%d' % (segments, i)} for i in range(2)]),
        query_string='multipart-manifest=put',
        headers={'X-Object-Meta-Kind': 'large'}, content_type='video/mp4')
    objects['slo'] = b''.join(parts)
    return objects


def listings(client):
    seen = {}
    for params in ({}, {'delimiter': '/'}, {'prefix': 'b'}, {'limit': '2'},
                   {'reverse': 'true'}):
        for fmt in FORMATS:
            status, _headers, body = client.request(
                'GET', query=dict(params, format=fmt))
            seen[(tuple(sorted(params.items())), fmt)] = (status, body)
    return seen


def capture(client, objects):
    seen = {'get': {}, 'head': {}, 'range': {}}
    for name in objects:
        status, headers, body = client.request('GET', name)
        assert (status, body) == (200, objects[name]), name
        seen['get'][name] = object_view(headers)
        status, headers, _ = client.request('HEAD', name)
        seen['head'][name] = object_view(headers)
        if objects[name]:
            seen['range'][name] = client.request(
                'GET', name, headers={'Range': 'bytes=1-5,-3'})[::2]
    seen['listings'] = listings(client)
    return seen


@pytest.fixture(scope='module')
def env(aio):
    work_dir = tempfile.mkdtemp(prefix='stubs-test-')
    try:
        bucket = unique_name('stubs')
        container = unique_name('stubbed')
        restoring = unique_name('restoring')
        legacy = unique_name('legacy')
        explicit = unique_name('explicit')
        aio.s3_client().create_bucket(Bucket=bucket)
        swift = aio.swift_client()
        url, token = swift.get_auth()
        storage = urllib.parse.urlparse(url).path
        plain = Client(url, storage + '/' + container, token)
        objects = make_objects(swift, container)
        swift.put_container(restoring)
        swift.put_object(restoring, 'restored', b'bring me back',
                         headers={'X-Object-Meta-Color': 'Green'},
                         content_type='text/plain')
        swift.put_container(legacy)
        swift.put_object(legacy, 'old', b'archived the old way',
                         content_type='text/old')
        swift.put_object(legacy, 'old-restored', b'restored, old way',
                         content_type='text/old')
        swift.put_container(explicit)
        swift.put_object(explicit, 'wanted', b'restore me explicitly',
                         headers={'X-Object-Meta-Color': 'Gold'},
                         content_type='text/wanted')
        swift.put_object(explicit, 'slo-segs/0', os.urandom(MIB))
        swift.put_object(explicit, 'slo-segs/1', os.urandom(100))
        swift.put_object(explicit, 'big', json.dumps([
            {'path': '/%s/slo-segs/%d' % (explicit, i)} for i in range(2)]),
            query_string='multipart-manifest=put')
        before = capture(plain, objects)
        for c in (container, restoring, legacy, explicit):
            aio.ensure_container_replicas('AUTH_test', c)
        os.makedirs(os.path.join(work_dir, 'legacy'), exist_ok=True)
        legacy_nodes = daemon_helpers.DaemonNodes(
            aio, os.path.join(work_dir, 'legacy'), mappings_text(
                aio, bucket, [('legacy', legacy,
                               {'archive_as': 'delete'})]))
        assert set(legacy_nodes.run_once().values()) == {0}
        nodes = daemon_helpers.DaemonNodes(
            aio, work_dir, mappings_text(aio, bucket, [
                ('stubs', container, {'archive_as': 'stub'}),
                ('restore', restoring, {'archive_as': 'stub',
                                        'restore_object': 'true'}),
                ('legacy', legacy, {'archive_as': 'stub'}),
                ('explicit', explicit, {'exclude_pattern': 'slo-segs/'})]))
        assert set(nodes.run_once().values()) == {0}
        shunt_url = start_shunt(aio, 'stubshunt', nodes.confs[1])
        try:
            yield {
                'aio': aio, 'bucket': bucket, 'container': container,
                'objects': objects, 'before': before, 'plain': plain,
                'swift': swift, 'nodes': nodes, 'restoring': restoring,
                'legacy': legacy, 'explicit': explicit,
                'shunt': Client(shunt_url, storage + '/' + container,
                                token),
                'layout': nodes.config(1).mapping_for(
                    'AUTH_test', container).remote_layout(container),
            }
        finally:
            aio.stop_proxy('stubshunt')
    finally:
        if not os.environ.get('CLOUDSYNC_AIO_KEEP'):
            shutil.rmtree(work_dir, ignore_errors=True)


def test_swift_keeps_a_zero_byte_stub_of_each_object(env):
    for name in env['objects']:
        status, headers, body = env['plain'].request('GET', name)
        assert (status, body) == (200, b''), name
        assert headers['content-type'] == stubs.STUB_CONTENT_TYPE or \
            name == 'posted', name


def test_the_remote_holds_the_data(env):
    s3 = env['aio'].s3_client()
    for name, data in env['objects'].items():
        got = s3.get_object(Bucket=env['bucket'],
                            Key=env['layout'].object_key(name))
        assert got['Body'].read() == data, name


def test_the_segments_of_an_archived_slo_are_deleted(env):
    status, _, body = env['plain'].request(
        'GET', '../%s_segments' % env['container'],
        query={'format': 'json'})
    assert status == 200 and json.loads(body) == []


def test_swifts_own_listing_is_byte_identical(env):
    assert listings(env['plain']) == env['before']['listings']


def test_the_shunts_listing_is_byte_identical(env):
    # NOTE: serve_deleted_archives is on: the bucket is merged, and the
    # stubs are not listed twice.
    assert listings(env['shunt']) == env['before']['listings']


def test_the_shunt_serves_identical_bytes_and_headers(env):
    for name, data in env['objects'].items():
        status, headers, body = env['shunt'].request('GET', name)
        assert (status, body) == (200, data), name
        assert object_view(headers) == env['before']['get'][name], name
        status, headers, body = env['shunt'].request('HEAD', name)
        assert (status, body) == (200, b''), name
        assert object_view(headers) == env['before']['head'][name], name


def test_ranges_are_served_from_the_remote(env):
    for name, want in env['before']['range'].items():
        status, body = env['shunt'].request(
            'GET', name, headers={'Range': 'bytes=1-5,-3'})[::2]
        assert status == want[0], name
        if status == 206 and b'--' not in want[1][:4]:
            assert body == want[1], name
        assert status in (200, 206)
    status, _, body = env['shunt'].request(
        'GET', 'slo', headers={'Range': 'bytes=10-19'})
    assert (status, body) == (206, env['objects']['slo'][10:20])


def test_conditional_requests_use_the_originals_etag(env):
    for name in ('a', 'slo'):
        etag = env['before']['head'][name]['etag']
        assert env['shunt'].request(
            'GET', name, headers={'If-Match': etag})[0] == 200
        assert env['shunt'].request(
            'GET', name, headers={'If-None-Match': etag})[0] == 304
        assert env['shunt'].request(
            'GET', name, headers={'If-Match': '"nope"'})[0] == 412
        assert env['shunt'].request(
            'HEAD', name, headers={'If-None-Match': etag})[0] == 304


def test_the_manifest_of_an_archived_slo(env):
    status, headers, body = env['shunt'].request(
        'GET', 'slo', query={'multipart-manifest': 'get'})
    assert status == 200
    names = [seg['name'] for seg in json.loads(body)]
    assert names == ['/%s_segments/slo/%d' % (env['container'], i)
                     for i in range(2)]


def test_a_post_on_a_stub_is_served_then_carried_to_the_remote(env):
    status, _, _ = env['shunt'].request(
        'POST', 'b/1', headers={'X-Object-Meta-Color': 'Purple',
                                'Content-Disposition': 'attachment'})
    assert status == 202
    status, headers, body = env['shunt'].request('GET', 'b/1')
    assert body == env['objects']['b/1']
    assert headers['x-object-meta-color'] == 'Purple'
    assert headers['content-disposition'] == 'attachment'
    env['aio'].ensure_container_replicas('AUTH_test', env['container'])
    assert set(env['nodes'].run_once().values()) == {0}
    got = env['aio'].s3_client().head_object(
        Bucket=env['bucket'], Key=env['layout'].object_key('b/1'))
    assert got['Metadata']['color'] == 'Purple'
    # the stub's row was not copied as an object: the data is intact
    status, _, body = env['shunt'].request('GET', 'b/1')
    assert body == env['objects']['b/1']


def test_a_post_before_archiving_reached_the_remote(env):
    got = env['aio'].s3_client().head_object(
        Bucket=env['bucket'], Key=env['layout'].object_key('posted'))
    assert got['Metadata']['color'] == 'Red'
    assert got['ContentType'] == 'text/posted'


def test_a_delete_of_a_stub_removes_the_remote_copy(env):
    env['swift'].put_object(env['container'], 'doomed', b'doomed')
    env['aio'].ensure_container_replicas('AUTH_test', env['container'])
    assert set(env['nodes'].run_once().values()) == {0}
    key = env['layout'].object_key('doomed')
    s3 = env['aio'].s3_client()
    s3.head_object(Bucket=env['bucket'], Key=key)
    assert env['shunt'].request('DELETE', 'doomed')[0] == 204
    assert env['shunt'].request('GET', 'doomed')[0] == 404
    assert set(env['nodes'].run_once().values()) == {0}
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=env['bucket'], Key=key)


def test_an_overwrite_of_a_stub_is_copied_and_archived_again(env):
    env['swift'].put_object(env['container'], 'over', b'one')
    assert set(env['nodes'].run_once().values()) == {0}
    env['swift'].put_object(env['container'], 'over', b'two, longer')
    assert set(env['nodes'].run_once().values()) == {0}
    status, _, body = env['shunt'].request('GET', 'over')
    assert (status, body) == (200, b'two, longer')
    assert env['plain'].request('GET', 'over')[2] == b''


def test_a_stub_is_never_written_over_a_newer_object(env):
    # NOTE: the object server's rule the archive relies on: a stub PUT
    # one offset step after a version that was overwritten since (or
    # deleted) is refused, many times over.
    # The internal client sends X-Timestamp as the daemon does (Swift's
    # gatekeeper drops it from clients' requests).
    ic = internal_client.InternalClient(
        env['aio'].state['internal_client_conf'], 'stub-test', 1)
    swift = env['swift']
    for attempt in range(20):
        name = 'race-%d' % attempt
        swift.put_object(env['container'], name, b'old')
        old_ts = swift_utils.Timestamp(
            swift.head_object(env['container'], name)['x-timestamp'])
        if attempt % 2:
            swift.put_object(env['container'], name, b'new %d' % attempt)
        else:
            swift.delete_object(env['container'], name)
        resp = ic.make_request(
            'PUT', ic.make_path('AUTH_test', env['container'], name),
            {'X-Timestamp': stubs.stub_timestamp(old_ts).internal,
             'Content-Length': '0',
             'Content-Type': stubs.STUB_CONTENT_TYPE}, (2, 409))
        # NOTE: the proxy answers 202 when its object servers refused the
        # PUT (409) for a newer object or delete; the daemon keeps it.
        assert resp.status_int in (202, 409)
        if attempt % 2:
            assert swift.get_object(env['container'], name)[1] == \
                b'new %d' % attempt
        else:
            assert env['plain'].request('GET', name)[0] == 404


def test_a_post_racing_the_stub_stays_on_top(env):
    ic = internal_client.InternalClient(
        env['aio'].state['internal_client_conf'], 'stub-test', 1)
    swift = env['swift']
    for attempt in range(10):
        name = 'postrace-%d' % attempt
        swift.put_object(env['container'], name, b'data',
                         headers={'X-Object-Meta-Color': 'old'})
        old_ts = swift_utils.Timestamp(
            swift.head_object(env['container'], name)['x-timestamp'])
        swift.post_object(env['container'], name,
                          {'X-Object-Meta-Color': 'new %d' % attempt})
        resp = ic.make_request(
            'PUT', ic.make_path('AUTH_test', env['container'], name),
            {'X-Timestamp': stubs.stub_timestamp(old_ts).internal,
             'Content-Length': '0', 'X-Object-Meta-Color': 'old',
             'Content-Type': stubs.STUB_CONTENT_TYPE}, (2,))
        assert resp.status_int == 201
        head = swift.head_object(env['container'], name)
        assert head['x-object-meta-color'] == 'new %d' % attempt
        # NOTE: a stub written by hand, without cloudsync's sysmeta: the
        # daemon would refuse to copy it (see stubs.unreadable_stub).
        swift.delete_object(env['container'], name)


def test_writes_racing_the_daemons_archive_are_never_lost(aio, tmp_path):
    # NOTE: overwrites and POSTs land while the daemons copy, verify and
    # replace the same objects with stubs; once they have caught up, what
    # was written last is what the shunt serves, data and metadata.
    swift = aio.swift_client()
    bucket = unique_name('race')
    aio.s3_client().create_bucket(Bucket=bucket)
    container = unique_name('race')
    swift.put_container(container)
    names = ['race-%02d' % i for i in range(12)]
    last = {}
    for name in names:
        body = b'first version of ' + name.encode()
        swift.put_object(container, name, body,
                         headers={'X-Object-Meta-Color': 'v0'})
        last[name] = (body, 'v0')
    aio.ensure_container_replicas('AUTH_test', container)
    nodes = daemon_helpers.DaemonNodes(aio, str(tmp_path), mappings_text(
        aio, bucket, [('race', container, {'archive_as': 'stub'})]))
    stop = threading.Event()
    errors = []

    def writer():
        conn = aio.swift_client()
        try:
            count = 0
            while not stop.is_set():
                count += 1
                name = names[count % len(names)]
                color = 'v%d' % count
                if count % 3:
                    body = b'version %d of %s' % (count, name.encode())
                    conn.put_object(container, name, body, headers={
                        'X-Object-Meta-Color': color})
                    last[name] = (body, color)
                else:
                    conn.post_object(container, name,
                                     {'X-Object-Meta-Color': color})
                    last[name] = (last[name][0], color)
                time.sleep(0.02)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(3):
            nodes.run_once()
    finally:
        stop.set()
        thread.join()
    assert errors == []
    for _ in range(2):
        aio.ensure_container_replicas('AUTH_test', container)
        assert set(nodes.run_once().values()) == {0}

    url, token = swift.get_auth()
    base = urllib.parse.urlparse(url).path + '/' + container
    plain = Client(url, base, token)
    assert all(plain.request('GET', name)[2] == b'' for name in names)
    shunt_url = start_shunt(aio, 'raceshunt', nodes.confs[1])
    try:
        shunt = Client(shunt_url, base, token)
        for name in names:
            status, headers, body = shunt.request('GET', name)
            assert (status, body, headers['x-object-meta-color']) == (
                200, last[name][0], last[name][1]), name
    finally:
        aio.stop_proxy('raceshunt')
        swift.close()


def test_restore_on_read_puts_the_data_back_over_the_stub(env):
    client = Client(env['shunt'].host and 'http://%s:%d' % (
        env['shunt'].host, env['shunt'].port),
        env['plain'].base.rsplit('/', 1)[0] + '/' + env['restoring'],
        env['plain'].token)
    plain = Client('http://%s:%d' % (env['plain'].host, env['plain'].port),
                   client.base, env['plain'].token)
    assert plain.request('GET', 'restored')[2] == b''
    status, headers, body = client.request('GET', 'restored')
    assert (status, body) == (200, b'bring me back')
    deadline = time.time() + 30
    while time.time() < deadline:
        status, headers, body = plain.request('GET', 'restored')
        if body:
            break
        time.sleep(0.2)
    assert body == b'bring me back'
    assert headers['x-object-meta-color'] == 'Green'
    assert headers['content-type'] == 'text/plain'


def test_objects_archived_the_old_way_are_still_served(env):
    plain = Client('http://%s:%d' % (env['plain'].host, env['plain'].port),
                   env['plain'].base.rsplit('/', 1)[0] + '/' + env['legacy'],
                   env['plain'].token)
    shunt = Client('http://%s:%d' % (env['shunt'].host, env['shunt'].port),
                   plain.base, env['plain'].token)
    assert plain.request('GET', 'old')[0] == 404
    status, headers, body = shunt.request('GET', 'old')
    assert (status, body) == (200, b'archived the old way')
    assert headers['content-type'] == 'text/old'
    names = [e['name'] for e in json.loads(shunt.request(
        'GET', query={'format': 'json'})[2])]
    assert names == ['old', 'old-restored']


def restore_command(env, *names):
    return subprocess.run(
        [daemon_helpers.bin_path('cloudsync-restore'), '--config-file',
         env['nodes'].confs[1]] + list(names),
        capture_output=True, text=True, timeout=120)


def test_cloudsync_restore_puts_archived_data_back(env):
    # NOTE: the mapping says archive_as nothing (stub, the default) and
    # restore_object nothing (off): the command restores anyway.
    explicit, legacy = env['explicit'], env['legacy']
    swift = env['swift']
    assert swift.get_object(explicit, 'wanted')[1] == b''
    stub_ts = swift.head_object(explicit, 'wanted')['x-timestamp']
    slo = env['shunt'].request('GET', '../%s/big' % explicit)[2]
    assert len(slo) == MIB + 100

    done = restore_command(
        env, 'AUTH_test/%s/wanted' % explicit, 'AUTH_test/%s/big' % explicit,
        'AUTH_test/%s/old-restored' % legacy)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(': restored') == 3, done.stdout
    headers, body = swift.get_object(explicit, 'wanted')
    assert body == b'restore me explicitly'
    assert headers['content-type'] == 'text/wanted'
    assert headers['x-object-meta-color'] == 'Gold'
    assert headers['x-timestamp'] == stub_ts
    assert swift.get_object(explicit, 'big')[1] == slo
    assert swift.get_object(legacy, 'old-restored')[1] == \
        b'restored, old way'
    again = restore_command(env, 'AUTH_test/%s/wanted' % explicit)
    assert again.returncode == 0 and 'not archived' in again.stdout


def test_cloudsync_restore_reports_what_it_cannot_restore(env):
    done = restore_command(env, 'AUTH_test/%s/never-there' % env['explicit'],
                           'not-an-object')
    assert done.returncode == 2
    done = restore_command(env, 'AUTH_test/%s/never-there' % env['explicit'])
    assert done.returncode == 1
    assert 'FAILED' in done.stdout


def test_an_object_restored_on_read_is_archived_again_as_a_stub(env):
    # NOTE: the daemon side of restore_object: the restored object's row
    # is copied (its data is on the remote already) and archived again.
    plain = Client('http://%s:%d' % (env['plain'].host, env['plain'].port),
                   env['plain'].base.rsplit('/', 1)[0] + '/' +
                   env['restoring'], env['plain'].token)
    env['swift'].put_object(env['restoring'], 'again', b'back and forth')
    env['aio'].ensure_container_replicas('AUTH_test', env['restoring'])
    assert set(env['nodes'].run_once().values()) == {0}
    assert plain.request('GET', 'again')[2] == b''
    shunt = Client('http://%s:%d' % (env['shunt'].host, env['shunt'].port),
                   plain.base, env['plain'].token)
    assert shunt.request('GET', 'again')[2] == b'back and forth'
    deadline = time.time() + 30
    while time.time() < deadline and \
            plain.request('GET', 'again')[2] != b'back and forth':
        time.sleep(0.2)
    assert plain.request('GET', 'again')[2] == b'back and forth'

    assert set(env['nodes'].run_once().values()) == {0}

    status, headers, body = plain.request('GET', 'again')
    assert (status, body) == (200, b'')
    assert headers['content-type'] == stubs.STUB_CONTENT_TYPE
    assert shunt.request('GET', 'again')[2] == b'back and forth'


def test_a_posted_content_type_reaches_swifts_listing(env):
    swift, container = env['swift'], env['container']
    swift.put_object(container, 'retyped', b'retyped data',
                     content_type='text/before')
    env['aio'].ensure_container_replicas('AUTH_test', container)
    assert set(env['nodes'].run_once().values()) == {0}
    assert env['plain'].request('GET', 'retyped')[2] == b''

    status = env['shunt'].request('POST', 'retyped', headers={
        'Content-Type': 'text/after', 'X-Object-Meta-Color': 'Teal'})[0]
    assert status == 202
    env['aio'].ensure_container_replicas('AUTH_test', container)
    assert set(env['nodes'].run_once().values()) == {0}

    entry, = json.loads(env['plain'].request(
        'GET', query={'format': 'json', 'prefix': 'retyped'})[2])
    assert entry['content_type'] == 'text/after'
    assert (entry['bytes'], entry['hash']) == (
        12, hashlib.md5(b'retyped data').hexdigest())
    status, headers, body = env['plain'].request('GET', 'retyped')
    assert (body, headers['content-type']) == (b'', stubs.STUB_CONTENT_TYPE)
    status, headers, body = env['shunt'].request('GET', 'retyped')
    assert (status, body) == (200, b'retyped data')
    assert headers['content-type'] == 'text/after'
    assert headers['x-object-meta-color'] == 'Teal'
    got = env['aio'].s3_client().head_object(
        Bucket=env['bucket'], Key=env['layout'].object_key('retyped'))
    assert got['ContentType'] == 'text/after'


@contextlib.contextmanager
def moto_restores_in(aio, seconds):
    """moto's restores (its state manager's ``s3::keyrestore`` model) go
    from asked for to in progress, then to done, ``seconds`` apart
    (moto's default: done at once).
    """
    api = aio.state['moto_endpoint'] + '/moto-api/state-manager/'

    def post(path, body):
        req = urllib.request.Request(
            api + path, data=json.dumps(body).encode('ascii'),
            method='POST')
        urllib.request.urlopen(req, timeout=10).close()
    post('set-transition', {'model_name': 's3::keyrestore', 'transition': {
        'progression': 'time', 'seconds': seconds}})
    try:
        yield
    finally:
        post('unset-transition', {'model_name': 's3::keyrestore'})


def pending_restores(conf_path):
    """``cloudsync-status``'s table and JSON report."""
    found = []
    for extra in ([], ['--format', 'json']):
        done = subprocess.run(
            [daemon_helpers.bin_path('cloudsync-status'), '--config-file',
             conf_path] + extra, capture_output=True, text=True,
            timeout=120)
        assert done.returncode in (0, 1), done.stdout + done.stderr
        found.append(done.stdout)
    return found[0], json.loads(found[1])


def test_a_glacier_archive_is_restored_on_read(aio, tmp_path):
    bucket = unique_name('glacier')
    container = unique_name('glacier')
    aio.s3_client().create_bucket(Bucket=bucket)
    swift = aio.swift_client()
    swift.put_container(container)
    swift.put_object(container, 'cold', b'frozen bytes',
                     headers={'X-Object-Meta-Color': 'Ice'},
                     content_type='text/cold')
    aio.ensure_container_replicas('AUTH_test', container)
    nodes = daemon_helpers.DaemonNodes(aio, str(tmp_path), mappings_text(
        aio, bucket, [('glacier', container, {
            'restore_object': 'true', 'cold_restore_days': '2',
            'cold_restore_tier': 'Expedited'})],
        remote_options=[('storage_class', 'GLACIER')]))
    assert set(nodes.run_once().values()) == {0}
    key = nodes.config(1).mapping_for('AUTH_test', container) \
        .remote_layout(container).object_key('cold')
    assert aio.s3_client().head_object(
        Bucket=bucket, Key=key)['StorageClass'] == 'GLACIER'
    url, token = swift.get_auth()
    plain = Client(url, urllib.parse.urlparse(url).path + '/' + container,
                   token)
    assert plain.request('GET', 'cold')[2] == b''
    shunt_url = start_shunt(aio, 'glaciershunt', nodes.confs[1])
    try:
        shunt = Client(shunt_url, plain.base, token)
        # NOTE: moto's restore goes to in progress at the first look at
        # the object after both the restore request and STEP seconds since
        # it was written, then to done STEP seconds later.
        step = 20
        with moto_restores_in(aio, step):
            status, headers, _ = shunt.request('HEAD', 'cold')
            assert (status, headers['x-cloudsync-restore']) == (200,
                                                                'needed')
            time.sleep(step + 0.5)
            answers = [shunt.request('GET', 'cold') for _ in range(3)]
            started = time.time()
            assert [a[0] for a in answers] == [503] * 3
            assert answers[0][1]['retry-after'] == '300'
            assert b'restored before it is read' in answers[0][2]
            assert shunt.request('HEAD', 'cold')[1][
                'x-cloudsync-restore'] == 'in-progress'
            listed = subprocess.run(
                [daemon_helpers.bin_path('cloudsync-restore'),
                 '--config-file', nodes.confs[1], '--pending',
                 'AUTH_test/%s' % container], capture_output=True,
                text=True, timeout=120)
            waiting = subprocess.run(
                [daemon_helpers.bin_path('cloudsync-restore'),
                 '--config-file', nodes.confs[1],
                 'AUTH_test/%s/cold' % container], capture_output=True,
                text=True, timeout=120)
            assert listed.stdout == 'AUTH_test/%s/cold: in-progress ' \
                '(GLACIER)\n' % container, listed.stdout + listed.stderr
            assert waiting.returncode == 1
            assert 'waiting' in waiting.stdout
            # NOTE: cloudsync-status lists the restore from Swift alone.
            table, data = pending_restores(nodes.confs[1])
            assert 'Pending cold restores (1):' in table, table
            line, = [t for t in table.splitlines()
                     if t.startswith('AUTH_test/%s/cold ' % container)]
            assert line.split()[-1] == 'Expedited'
            entry, = [e for e in data['pending_restores']
                      if e['object'] == 'AUTH_test/%s/cold' % container]
            assert entry['tier'] == 'Expedited' and entry['days'] == 2
            assert 0 <= time.time() - entry['asked_at'] < 600
            time.sleep(max(0, started + step + 0.5 - time.time()))
            status, headers, _ = shunt.request('HEAD', 'cold')
            assert headers['x-cloudsync-restore'].startswith('done')
            status, headers, body = shunt.request('GET', 'cold')
        assert (status, body) == (200, b'frozen bytes')
        assert headers['x-object-meta-color'] == 'Ice'
        table, data = pending_restores(nodes.confs[1])
        assert 'AUTH_test/%s/cold' % container not in table, table
        assert 'AUTH_test/%s/cold' % container not in [
            e['object'] for e in data['pending_restores']]
        assert 'pending_restores_error' not in data
        deadline = time.time() + 30
        while time.time() < deadline and \
                plain.request('GET', 'cold')[2] != b'frozen bytes':
            time.sleep(0.2)
        assert plain.request('GET', 'cold')[2] == b'frozen bytes'
    finally:
        aio.stop_proxy('glaciershunt')
        swift.close()


# -- at-rest encryption -----------------------------------------------------
@contextlib.contextmanager
def on_cluster(aio):
    from tests.functional.test_production_profile import on_cluster as oc
    with oc(aio):
        yield


def test_encrypted_listing_is_unchanged_by_stubs(aio_production,
                                                 tmp_path_factory):
    aio = aio_production
    swift = aio.swift_client('test:tester', 'testing')
    with on_cluster(aio):
        bucket, container = production_container(aio, swift, 'pstubs')
        data = {'a': b'encrypted archived object', 'z': os.urandom(2000),
                'empty': b''}
        for name, body in data.items():
            swift.put_object(container, name, body,
                             headers={'X-Object-Meta-Color': 'green'},
                             content_type='text/plain')
        from tests.functional.test_production_profile import put_slo
        put_slo(swift, container, 'slo', (os.urandom(3000),
                                          os.urandom(1000)))
        url, token = swift.get_auth()
        plain = Client(url, urllib.parse.urlparse(url).path + '/' +
                       container, token)
        before = listings(plain)
        heads = {n: object_view(plain.request('HEAD', n)[1])
                 for n in list(data) + ['slo']}
        nodes = daemon_helpers.DaemonNodes(
            aio, tmp_path_factory.mktemp('pstubs'),
            mappings_text(aio, bucket, [('stubs', container,
                                         {'archive_as': 'stub'})]),
            {'internal_client_conf_path': '',
             'keymaster_config_path': aio.keymaster_conf_path})
        assert set(nodes.run_once().values()) == {0}
        assert set(nodes.run_once().values()) == {0}
        for name in data:
            assert plain.request('GET', name)[2] == b'', name
        assert listings(plain) == before
        shunt_url = start_shunt(aio, 'pstubshunt', nodes.confs[1])
        try:
            shunt = Client(shunt_url, plain.base, token)
            for name, body in data.items():
                status, headers, got = shunt.request('GET', name)
                assert (status, got) == (200, body), name
                assert object_view(headers) == heads[name], name
            assert listings(shunt) == before
        finally:
            aio.stop_proxy('pstubshunt')
    swift.close()


def test_the_expiry_of_a_stub_reaches_the_remote(aio_production,
                                                 tmp_path_factory):
    # NOTE: the stub keeps the object's X-Delete-At, so Swift's object
    # expirer deletes it as it would have deleted the object; the daemon
    # then propagates that delete as any other.
    aio = aio_production
    swift = aio.swift_client('test:tester', 'testing')
    with on_cluster(aio):
        bucket, container = production_container(aio, swift, 'pexpire')
        s3 = aio.s3_client()
        delete_at = int(time.time()) + 30
        swift.put_object(container, 'expiring', b'short-lived archive',
                         headers={'X-Delete-At': str(delete_at)})
        swift.put_object(container, 'kept', b'stays archived')
        nodes = daemon_helpers.DaemonNodes(
            aio, tmp_path_factory.mktemp('pexpire'),
            mappings_text(aio, bucket, [('stubs', container, {})]),
            {'internal_client_conf_path': '',
             'keymaster_config_path': aio.keymaster_conf_path})
        layout = nodes.config(1).mapping_for(
            'AUTH_test', container).remote_layout(container)
        assert set(nodes.run_once().values()) == {0}
        headers, body = swift.get_object(container, 'expiring')
        assert body == b'' and headers['x-delete-at'] == str(delete_at)
        assert headers['content-type'] == stubs.STUB_CONTENT_TYPE
        s3.head_object(Bucket=bucket, Key=layout.object_key('expiring'))

        time.sleep(max(0, delete_at - time.time()) + 1.5)
        aio.run_expirer()
        names = [o['name'] for o in swift.get_container(container)[1]]
        assert names == ['kept']
        daemon_helpers.replicate_container(aio, 'AUTH_test', container)
        assert set(nodes.run_once().values()) == {0}

        with pytest.raises(s3.exceptions.ClientError):
            s3.head_object(Bucket=bucket, Key=layout.object_key('expiring'))
        s3.head_object(Bucket=bucket, Key=layout.object_key('kept'))
    swift.close()


def test_an_encrypted_stub_writes_no_etag_in_the_clear(
        aio_production, tmp_path_factory):
    # NOTE: with at-rest encryption Swift keeps an object's ETag, its
    # listing ETag and its user metadata encrypted on disk: its stub must
    # not write them down in the clear, and is served, POSTed to and
    # restored as the object was.
    from tests.functional.test_production_profile import crypto_headers
    from tests.functional.test_production_profile import raw_object
    aio = aio_production
    swift = aio.swift_client('test:tester', 'testing')
    with on_cluster(aio):
        bucket, container = production_container(aio, swift, 'pstubetag')
        data = b'an object whose ETag is nobody\'s business' * 50
        etag = hashlib.md5(data).hexdigest()
        swift.put_object(container, 'secret', data, content_type='text/plain',
                         headers={'X-Object-Meta-Color': 'green'})
        url, token = swift.get_auth()
        plain = Client(url, urllib.parse.urlparse(url).path + '/' +
                       container, token)
        before = object_view(plain.request('HEAD', 'secret')[1])
        assert before['etag'] == etag
        nodes = daemon_helpers.DaemonNodes(
            aio, tmp_path_factory.mktemp('pstubetag'),
            mappings_text(aio, bucket, [('stubs', container,
                                         {'archive_as': 'stub'})]),
            {'internal_client_conf_path': '',
             'keymaster_config_path': aio.keymaster_conf_path})
        assert set(nodes.run_once().values()) == {0}
        assert plain.request('GET', 'secret')[2] == b''

        def on_disk():
            raw_headers, raw_body = raw_object(aio, 'AUTH_test', container,
                                               'secret')
            return raw_headers, json.dumps(raw_headers)
        raw_headers, raw_text = on_disk()
        assert any(k.lower() == stubs.RECORD for k in raw_headers)
        assert etag not in raw_text
        assert 'green' not in raw_text
        assert 'x-object-transient-sysmeta-crypto-meta' in \
            crypto_headers(raw_headers)

        shunt_url = start_shunt(aio, 'pstubetag', nodes.confs[1])
        try:
            shunt = Client(shunt_url, plain.base, token)
            status, headers, _ = shunt.request('HEAD', 'secret')
            assert (status, object_view(headers)) == (200, before)
            status, headers, body = shunt.request('GET', 'secret')
            assert (status, body, headers['etag']) == (200, data, etag)
            status, _, body = shunt.request(
                'GET', 'secret', headers={'Range': 'bytes=3-9'})
            assert (status, body) == (206, data[3:10])
            assert shunt.request('GET', 'secret', headers={
                'If-None-Match': etag})[0] == 304
            assert shunt.request('HEAD', 'secret', headers={
                'If-Match': 'not-%s' % etag})[0] == 412
            assert shunt.request('POST', 'secret', headers={
                'X-Object-Meta-Color': 'purple'})[0] == 202
            status, headers, _ = shunt.request('HEAD', 'secret')
            assert (headers['etag'], headers['x-object-meta-color']) == (
                etag, 'purple')
            raw_text = on_disk()[1]
            assert etag not in raw_text and 'purple' not in raw_text
        finally:
            aio.stop_proxy('pstubetag')

        aio.ensure_container_replicas('AUTH_test', container)
        assert set(nodes.run_once().values()) == {0}
        layout = nodes.config(1).mapping_for(
            'AUTH_test', container).remote_layout(container)
        got = aio.s3_client().get_object(
            Bucket=bucket, Key=layout.object_key('secret'))
        assert got['Body'].read() == data
        assert got['Metadata']['color'] == 'purple'
        assert etag not in on_disk()[1]

        done = subprocess.run(
            [daemon_helpers.bin_path('cloudsync-restore'), '--config-file',
             nodes.confs[1], 'AUTH_test/%s/secret' % container],
            capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        headers, body = swift.get_object(container, 'secret')
        assert (body, headers['etag']) == (data, etag)
        assert headers['x-object-meta-color'] == 'purple'
        raw_headers, raw_body = raw_object(aio, 'AUTH_test', container,
                                           'secret')
        assert raw_body != data and len(raw_body) == len(data)
        assert 'x-object-sysmeta-crypto-body-meta' in crypto_headers(
            raw_headers)
    swift.close()


def test_a_client_cannot_forge_an_archive_stub(aio, tmp_path):
    # NOTE: the stub's record is sysmeta, which Swift's gatekeeper removes
    # from a client's request: no client can make the shunt serve another
    # object's remote copy, nor make the daemon take its object for a
    # stub and leave it uncopied.
    swift = aio.swift_client()
    bucket = unique_name('forged')
    s3 = aio.s3_client()
    s3.create_bucket(Bucket=bucket)
    container = unique_name('forged')
    swift.put_container(container)
    victim = b'the data of somebody else\'s object'
    swift.put_object(container, 'victim', victim, content_type='text/plain')
    aio.ensure_container_replicas('AUTH_test', container)
    nodes = daemon_helpers.DaemonNodes(aio, str(tmp_path), mappings_text(
        aio, bucket, [('forged', container, {'archive_as': 'stub'})]))
    assert set(nodes.run_once().values()) == {0}
    layout = nodes.config(1).mapping_for(
        'AUTH_test', container).remote_layout(container)
    forged = stubs.ArchiveStub(
        remote='moto', bucket=bucket, key=layout.object_key('victim'),
        remote_etag=hashlib.md5(victim).hexdigest(), size=len(victim),
        etag=hashlib.md5(victim).hexdigest(), kind='plain',
        timestamp=swift_utils.Timestamp.now(), content_type='text/plain')
    swift.put_object(container, 'mine', b'my own bytes',
                     content_type='text/mine', headers=forged.sysmeta())
    url, token = swift.get_auth()
    base = urllib.parse.urlparse(url).path + '/' + container
    shunt_url = start_shunt(aio, 'forgedshunt', nodes.confs[1])
    try:
        shunt = Client(shunt_url, base, token)
        status, headers, body = shunt.request('GET', 'mine')
        assert (status, body) == (200, b'my own bytes')
        assert headers['content-type'] == 'text/mine'
        assert not [k for k in headers if 'sysmeta' in k]
        assert shunt.request('GET', 'victim')[2] == victim

        aio.ensure_container_replicas('AUTH_test', container)
        assert set(nodes.run_once().values()) == {0}
        got = s3.get_object(Bucket=bucket, Key=layout.object_key('mine'))
        assert got['Body'].read() == b'my own bytes'
        assert s3.get_object(Bucket=bucket, Key=layout.object_key(
            'victim'))['Body'].read() == victim
        assert shunt.request('GET', 'mine')[2] == b'my own bytes'
        assert Client(url, base, token).request('GET', 'mine')[2] == b''
    finally:
        aio.stop_proxy('forgedshunt')
        swift.close()


def test_hostile_input_on_stubs_through_the_real_proxy(aio, tmp_path):
    # NOTE: the stubs stay; what their keys hold in the bucket is then
    # replaced by the hostile kit's objects (control characters, response
    # splitting, numbers that are not, garbage ETags), as anyone with the
    # bucket's keys could. The shunt serves each stub with clean headers,
    # the stub's own metadata and no traceback; users without rights get
    # nothing, and change nothing in Swift or in the bucket.
    from cloudsync import hostile
    swift = aio.swift_client()
    bucket = unique_name('hstub')
    s3 = aio.s3_client()
    s3.create_bucket(Bucket=bucket)
    container = unique_name('hstub')
    swift.put_container(container)
    for case in hostile.CASES:
        swift.put_object(container, case.name, case.body,
                         content_type='text/original',
                         headers={'X-Object-Meta-Color': 'blue'})
    aio.ensure_container_replicas('AUTH_test', container)
    nodes = daemon_helpers.DaemonNodes(aio, str(tmp_path), mappings_text(
        aio, bucket, [('hstub', container, {'archive_as': 'stub'})]))
    assert set(nodes.run_once().values()) == {0}
    mapping = nodes.config(1).mapping_for('AUTH_test', container)
    provider = mapping.remote.provider_cls(mapping.remote.name,
                                           mapping.remote.conf)
    layout = mapping.remote_layout(container)
    for case in hostile.CASES:
        hostile.write_case(provider, bucket, layout, case)
    url, token = swift.get_auth()
    base = urllib.parse.urlparse(url).path + '/' + container
    assert Client(url, base, token).request('GET', case.name)[2] == b''
    shunt_url = start_shunt(aio, 'hstubshunt', nodes.confs[1])
    try:
        shunt = Client(shunt_url, base, token)
        for case in hostile.CASES:
            for method in ('GET', 'HEAD'):
                status, headers, body = shunt.request(method, case.name)
                assert status == 200, (method, case.id)
                assert hostile.header_problems(list(headers.items())) == \
                    [], (method, case.id)
                assert 'set-cookie' not in headers, (method, case.id)
                # the stub's own metadata and content type, not the bucket's
                assert headers['x-object-meta-color'] == 'blue', case.id
                assert not [k for k in headers
                            if k.startswith('x-object-meta-') and
                            k != 'x-object-meta-color'], case.id
                assert headers['content-type'] == 'text/original', case.id
                if method == 'GET':
                    assert body == case.body, case.id

        held = {o['Key']: o['ETag'] for o in s3.list_objects_v2(
            Bucket=bucket)['Contents']}
        name = hostile.CASES[0].name
        for user, key in (('test:reader', 'reading'),
                          ('test2:tester2', 'testing2')):
            other = Client(shunt_url, base,
                           aio.swift_client(user, key).get_auth()[1])
            for method in ('GET', 'HEAD', 'DELETE'):
                status, _, body = other.request(method, name)
                assert status == 403 and b'hostile' not in body, \
                    (user, method)
            assert other.request('POST', name, headers={
                'X-Object-Meta-Color': 'red'})[0] == 403, user
        anonymous = Client(shunt_url, base, None)
        for method in ('GET', 'HEAD'):
            status, _, body = anonymous.request(method, name)
            assert status == 401 and b'hostile' not in body, method
        assert shunt.request('HEAD', name)[1]['x-object-meta-color'] == \
            'blue'
        assert {o['Key']: o['ETag'] for o in s3.list_objects_v2(
            Bucket=bucket)['Contents']} == held
        with open(aio.log_path('hstubshunt'), errors='replace') as f:
            assert 'Traceback' not in f.read()
    finally:
        aio.stop_proxy('hstubshunt')
        swift.close()
