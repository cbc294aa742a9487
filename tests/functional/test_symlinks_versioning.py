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
"""Symlinks and object versioning, synced by the real daemon.

The all-in-one's proxy has Swift's ``symlink`` and ``versioned_writes``
(with ``allow_object_versioning``) middlewares. Symlinks (dynamic, static,
a chain of two, one to a container that is not mapped) are archived by
``cloudsync-sync --once`` to a moto bucket and to a Swift remote (the
all-in-one's second account), then read back through a proxy with the
cloud shunt and through proxymc. A container with object versioning is
synced to moto: two versions of an object, then a delete.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

import pytest
from swiftclient import client as swiftclient

from cloudsync import layout as layout_mod
from cloudsync import metadata as md
from tests.functional.conftest import unique_name
from tests.functional import daemon_helpers as helpers
from tests.functional.daemon_helpers import aio_cloudsync
from tests.functional import test_proxymc
from tests.functional import test_shunt

TARGET = b'the target object'
#: the segments of a static large object
BIG = [b'a' * 1000, b'b' * 10]
#: the headers Swift gives a followed link that the shunt must give too
FOLLOWED = ('etag', 'content-type', 'content-length', 'content-location',
            'x-object-meta-color')


def md5_hex(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


#: the remotes of :func:`mappings`: moto, account test2 through the Swift
#: API, account test through s3api as an S3 clone
REMOTES = {'moto': 'moto', 'dr': 'swift', 'clone': 'clone'}


def mappings(names):
    """The mappings of the test's containers, by the names of ``env``."""
    archive = {'lifecycle': 'archive', 'copy_after': 0,
               'archive_as': 'delete'}
    return {
        'to-s3': dict(archive, container=names['archived'],
                      bucket=names['bucket'], exclude_pattern='^kept-'),
        'to-swift': dict(archive, container=names['swift_archived'],
                         remote='dr', bucket=names['remote_container']),
        'to-clone': dict(archive, container=names['clone_archived'],
                         remote='clone', bucket=names['clone_bucket']),
        'versioned': {'container': names['versioned'],
                      'bucket': names['bucket']},
        'versioned-archive': dict(archive,
                                  container=names['versioned_archived'],
                                  bucket=names['bucket']),
    }


def put_links(swift, container, other):
    """A target, and links to it: dynamic, static, a chain, and a link to
    an object of a container that is not mapped.
    """
    swift.put_object(container, 'target', TARGET, content_type='text/plain',
                     headers={'X-Object-Meta-Color': 'Red'})
    swift.put_object(container, 'dyn', b'', headers={
        'X-Symlink-Target': '%s/target' % container,
        'X-Object-Meta-Color': 'Link'})
    swift.put_object(container, 'static', b'', headers={
        'X-Symlink-Target': '%s/target' % container,
        'X-Symlink-Target-Etag': md5_hex(TARGET)})
    swift.put_object(container, 'posted', b'', headers={
        'X-Symlink-Target': '%s/target' % container,
        'X-Symlink-Target-Etag': md5_hex(TARGET)})
    swift.put_object(container, 'chain', b'', headers={
        'X-Symlink-Target': '%s/dyn' % container})
    swift.put_object(container, 'chain3', b'', headers={
        'X-Symlink-Target': '%s/chain' % container})
    swift.put_object(container, 'out', b'', headers={
        'X-Symlink-Target': '%s/local' % other})
    # NOTE: not archived (excluded), unlike their target
    swift.put_object(container, 'kept-dyn', b'', headers={
        'X-Symlink-Target': '%s/target' % container})
    swift.put_object(container, 'kept-static', b'', headers={
        'X-Symlink-Target': '%s/target' % container,
        'X-Symlink-Target-Etag': md5_hex(TARGET)})


def followed(headers):
    return {k: v for k, v in headers.items() if k in FOLLOWED}


@pytest.fixture(scope='module')
def env(aio):
    work_dir = tempfile.mkdtemp(prefix='symlinks-test-')
    swift = aio.swift_client()
    swift2 = aio.swift_client('test2:tester2', 'testing2')
    names = {'archived': unique_name('links'),
             'swift_archived': unique_name('swlinks'),
             'versioned': unique_name('versioned'),
             'remote_container': unique_name('remote'),
             'bucket': unique_name('links'),
             'other': unique_name('local'),
             'clone_archived': unique_name('clonelinks'),
             'clone_bucket': unique_name('clone'),
             'versioned_archived': unique_name('versarch')}
    aio.s3_client().create_bucket(Bucket=names['bucket'])
    aio.s3api_client().create_bucket(Bucket=names['clone_bucket'])
    conf = os.path.join(work_dir, 'cloudsync.conf')
    aio_cloudsync.write_conf(conf, aio.state, mappings(names), REMOTES)
    url, token = swift.get_auth()
    account_path = urllib.parse.urlparse(url).path
    plain = test_shunt.Client(url, account_path, token)
    before = {}
    for name in ('archived', 'swift_archived', 'other', 'clone_archived'):
        swift.put_container(names[name])
        aio.ensure_container_replicas('AUTH_test', names[name])
    swift.put_object(names['other'], 'local', b'not archived',
                     content_type='text/x-local')
    put_links(swift, names['archived'], names['other'])
    # NOTE: an object written before versioning was enabled: its only
    # version is the "null" one, the object itself
    swift.put_container(names['versioned_archived'])
    swift.put_object(names['versioned_archived'], 'plain', b'unversioned')
    for name in ('versioned', 'versioned_archived'):
        swift.put_container(names[name],
                            headers={'X-Versions-Enabled': 'true'})
        aio.ensure_container_replicas('AUTH_test', names[name])
        for version in (1, 2):
            swift.put_object(names[name], 'o', b'version %d' % version,
                             content_type='text/x-v%d' % version,
                             headers={'X-Object-Meta-Version': str(version)})
    before['versions'] = plain.request(
        'GET', names['versioned_archived'],
        query={'versions': '', 'format': 'json'})
    put_links(swift, names['swift_archived'], names['other'])
    put_links(swift, names['clone_archived'], names['other'])
    segments = names['swift_archived'] + '_segments'
    swift.put_container(segments)
    for index, data in enumerate(BIG):
        swift.put_object(segments, 'big/%d' % index, data)
    swift.put_object(names['swift_archived'], 'big', json.dumps([
        {'path': '/%s/big/%d' % (segments, i)} for i in range(len(BIG))]),
        query_string='multipart-manifest=put')
    swift.put_object(names['swift_archived'], 'big-link', b'', headers={
        'X-Symlink-Target': '%s/big' % names['swift_archived']})
    before['chain3'] = plain.request('GET', '%s/chain3' % names['archived'])
    for name in ('dyn', 'static', 'chain', 'out'):
        status, headers, body = plain.request(
            'GET', '%s/%s' % (names['archived'], name))
        assert status == 200, (name, body)
        before[name] = (body, followed(headers))
        before[name + '?symlink=get'] = plain.request(
            'HEAD', '%s/%s' % (names['archived'], name),
            query={'symlink': 'get'})
    nodes = helpers.DaemonNodes(aio, work_dir, mappings(names),
                                remotes=REMOTES)
    server = None
    try:
        # NOTE: a static link whose target the daemon is still copying
        # (rows are handled in parallel) waits for the next pass.
        codes = nodes.run_once()
        if set(codes.values()) != {0}:
            codes = nodes.run_once()
        assert set(codes.values()) == {0}, codes
        shunt_url = aio.start_proxy('shunt', [('cloud_shunt', {
            'use': 'egg:swift-cloudsync#cloud_shunt', 'conf_file': conf})])
        server = test_proxymc.ProxyMCServer(work_dir, conf)
        server.start()
        yield dict(
            names, aio=aio, swift=swift, swift2=swift2, plain=plain,
            shunt=test_shunt.Client(shunt_url, account_path, token),
            before=before, nodes=nodes, conf=conf, proxymc=server,
            work_dir=work_dir)
    finally:
        if server is not None:
            server.stop()
        aio.stop_proxy('shunt')
        nodes.stop_all()
        swift.close()
        swift2.close()
        if not os.environ.get('CLOUDSYNC_AIO_KEEP'):
            shutil.rmtree(work_dir, ignore_errors=True)


# -- symlinks on S3 ---------------------------------------------------------

def test_links_are_archived_to_s3_as_empty_objects_carrying_the_target(env):
    for name in ('target', 'dyn', 'static', 'chain', 'chain3', 'out'):
        status, _, _ = env['plain'].request(
            'HEAD', '%s/%s' % (env['archived'], name))
        assert status == 404, name
    layout = layout_mod.RemoteLayout('AUTH_test', env['archived'])
    s3 = env['aio'].s3_client()
    dyn = s3.head_object(Bucket=env['bucket'], Key=layout.object_key('dyn'))
    assert dyn['ContentLength'] == 0
    assert dyn['Metadata'][md.SYMLINK_TARGET_KEY] == \
        '%s/target' % env['archived']
    assert dyn['Metadata']['color'] == 'Link'
    static = s3.head_object(Bucket=env['bucket'],
                            Key=layout.object_key('static'))
    assert static['Metadata'][md.SYMLINK_ETAG_KEY] == md5_hex(TARGET)
    assert static['Metadata'][md.SYMLINK_BYTES_KEY] == str(len(TARGET))


def test_archived_links_are_followed_by_the_shunt_as_swift_did(env):
    for name in ('dyn', 'static', 'chain', 'out'):
        status, headers, body = env['shunt'].request(
            'GET', '%s/%s' % (env['archived'], name))
        assert status == 200, (name, body)
        assert (body, followed(headers)) == env['before'][name], name
        status, headers, body = env['shunt'].request(
            'HEAD', '%s/%s' % (env['archived'], name))
        assert (status, body) == (200, b''), name
        assert followed(headers) == env['before'][name][1], name


def test_a_link_left_in_swift_reads_its_archived_target(env):
    container = env['archived']
    for name in ('kept-dyn', 'kept-static'):
        status, _, _ = env['plain'].request(
            'HEAD', '%s/%s' % (container, name), query={'symlink': 'get'})
        assert status == 200, name
        status, headers, body = env['plain'].request(
            'GET', '%s/%s' % (container, name))
        assert status == 404, name
        status, headers, body = env['shunt'].request(
            'GET', '%s/%s' % (container, name))
        assert (status, body) == (200, TARGET), name
        assert headers['content-location'] == \
            '/v1/AUTH_test/%s/target' % container
        assert headers['x-object-meta-color'] == 'Red'


def test_a_post_to_an_archived_link_is_applied_to_it_and_redirected(env):
    container = env['archived']
    status, headers, _ = env['shunt'].request(
        'POST', '%s/posted' % container,
        headers={'X-Object-Meta-Color': 'Posted'})
    assert status == 307
    assert headers['location'] == '/v1/AUTH_test/%s/target' % container
    assert headers['x-symlink-target-etag'] == md5_hex(TARGET)
    status, headers, _ = env['shunt'].request(
        'HEAD', '%s/posted' % container, query={'symlink': 'get'})
    assert (status, headers['x-object-meta-color']) == (200, 'Posted')
    assert headers['x-symlink-target'] == '%s/target' % container
    status, headers, body = env['shunt'].request(
        'GET', '%s/posted' % container)
    assert (status, body) == (200, TARGET)
    assert headers['x-object-meta-color'] == 'Red'


def test_a_range_of_an_archived_link_is_a_range_of_its_target(env):
    status, _, body = env['shunt'].request(
        'GET', '%s/dyn' % env['archived'], headers={'Range': 'bytes=4-9'})
    assert (status, body) == (206, TARGET[4:10])


def test_symlink_get_answers_with_the_archived_link_itself(env):
    for name in ('dyn', 'static', 'out'):
        status, headers, body = env['shunt'].request(
            'GET', '%s/%s' % (env['archived'], name),
            query={'symlink': 'get'})
        assert (status, body) == (200, b''), name
        was_status, was, _ = env['before'][name + '?symlink=get']
        assert was_status == 200
        for key in ('x-symlink-target', 'x-symlink-target-etag',
                    'x-symlink-target-bytes', 'content-type', 'etag',
                    'content-length', 'x-object-meta-color'):
            assert headers.get(key) == was.get(key), (name, key)


def test_a_chain_longer_than_symloop_max_is_a_conflict(env):
    status, _, body = env['shunt'].request('GET',
                                           '%s/chain3' % env['archived'])
    assert (status, body) == (env['before']['chain3'][0], body)
    assert status == 409, body
    assert b'Too many levels of symbolic links' in body


def test_archived_links_are_followed_by_proxymc(env):
    client = env['proxymc']
    conn = client.client()
    try:
        for name in ('dyn', 'static', 'chain'):
            headers, body = conn.get_object(env['archived'], name)
            assert body == TARGET, name
            assert headers['etag'] == md5_hex(TARGET)
            assert headers['x-object-meta-color'] == 'Red'
            assert headers['content-location'] == '/v1/AUTH_test/%s/target' \
                % env['archived']
        headers, body = conn.get_object(env['archived'], 'dyn',
                                        query_string='symlink=get')
        assert body == b''
        assert headers['x-symlink-target'] == '%s/target' % env['archived']
        assert headers['x-object-meta-color'] == 'Link'
        # NOTE: the target of this one is in a container proxymc does not
        # serve: as in Swift, a link to nothing is a 404.
        with pytest.raises(swiftclient.ClientException) as caught:
            conn.get_object(env['archived'], 'out')
        assert caught.value.http_status == 404
    finally:
        conn.close()


def test_links_archived_to_an_s3_clone_are_followed_by_the_shunt(env):
    container = env['clone_archived']
    for name in ('dyn', 'static', 'chain', 'out'):
        status, _, _ = env['plain'].request('HEAD',
                                            '%s/%s' % (container, name))
        assert status == 404, name
        status, headers, body = env['shunt'].request(
            'GET', '%s/%s' % (container, name))
        assert (status, body) == (200, env['before'][name][0]), name
        assert headers['content-location'] == \
            env['before'][name][1]['content-location'].replace(
                env['archived'], container), name
    status, headers, body = env['shunt'].request(
        'HEAD', '%s/static' % container, query={'symlink': 'get'})
    assert status == 200
    assert headers['x-symlink-target'] == '%s/target' % container
    assert headers['x-symlink-target-etag'] == md5_hex(TARGET)


# -- symlinks on a Swift remote ---------------------------------------------

def test_links_stay_links_on_a_swift_remote(env):
    # NOTE: Swift remotes keep names (layout native) by default
    layout = layout_mod.RemoteLayout('AUTH_test', env['swift_archived'],
                                     'native')
    remote = env['remote_container']
    swift2 = env['swift2']
    target = '%s/%s' % (remote, layout.object_key('target'))
    for name in ('dyn', 'static'):
        headers = swift2.head_object(remote, layout.object_key(name),
                                     query_string='symlink=get')
        assert urllib.parse.unquote(headers['x-symlink-target']) == target
        headers, body = swift2.get_object(remote, layout.object_key(name))
        assert body == TARGET, name
        assert headers['x-object-meta-color'] == 'Red'
    static = swift2.head_object(remote, layout.object_key('static'),
                                query_string='symlink=get')
    assert static['x-symlink-target-etag'] == md5_hex(TARGET)
    dyn = swift2.head_object(remote, layout.object_key('dyn'),
                             query_string='symlink=get')
    assert 'x-symlink-target-etag' not in dyn
    assert dyn['x-object-meta-color'] == 'Link'
    # NOTE: a link to an object outside the mapped container: the remote
    # has no copy of its target, so it keeps an empty object carrying the
    # link.
    out = swift2.head_object(remote, layout.object_key('out'),
                             query_string='symlink=get')
    assert 'x-symlink-target' not in out
    assert out['x-object-meta-' + md.SYMLINK_TARGET_KEY] == \
        '%s/local' % env['other']


def test_links_archived_to_swift_are_followed_by_the_shunt(env):
    for name in ('dyn', 'static', 'chain', 'out'):
        status, headers, body = env['shunt'].request(
            'GET', '%s/%s' % (env['swift_archived'], name))
        assert status == 200, (name, body)
        want_body, want = env['before'][name]
        assert body == want_body, name
        want = dict(want, **{'content-location': want[
            'content-location'].replace(env['archived'],
                                        env['swift_archived'])})
        assert followed(headers) == want, name
    status, headers, body = env['shunt'].request(
        'GET', '%s/static' % env['swift_archived'], query={'symlink': 'get'})
    assert (status, body) == (200, b'')
    assert headers['x-symlink-target'] == \
        '%s/target' % env['swift_archived']
    assert headers['x-symlink-target-etag'] == md5_hex(TARGET)


def test_deleting_a_link_to_a_large_object_leaves_the_large_object(env):
    container = env['swift_archived']
    status, _, body = env['shunt'].request('GET', '%s/big-link' % container)
    assert (status, body) == (200, b''.join(BIG))
    status, _, _ = env['shunt'].request('DELETE', '%s/big-link' % container)
    assert status == 204
    status, _, _ = env['shunt'].request('GET', '%s/big-link' % container)
    assert status == 404
    status, _, body = env['shunt'].request('GET', '%s/big' % container)
    assert (status, body) == (200, b''.join(BIG))
    layout = layout_mod.RemoteLayout('AUTH_test', container, 'native')
    _, body = env['swift2'].get_object(env['remote_container'],
                                       layout.object_key('big'))
    assert body == b''.join(BIG)


def test_links_archived_to_swift_are_followed_by_proxymc(env):
    conn = env['proxymc'].client()
    try:
        for name in ('dyn', 'static', 'chain'):
            headers, body = conn.get_object(env['swift_archived'], name)
            assert body == TARGET, name
            assert headers['x-object-meta-color'] == 'Red'
    finally:
        conn.close()


# -- object versioning ------------------------------------------------------

def remote_keys(env, container):
    layout = layout_mod.RemoteLayout('AUTH_test', container)
    s3 = env['aio'].s3_client()
    listed = s3.list_objects_v2(Bucket=env['bucket'],
                                Prefix=layout.listing_prefix())
    return {layout.object_name(o['Key']) for o in listed.get('Contents', [])}


def remote_object(env, container, name):
    layout = layout_mod.RemoteLayout('AUTH_test', container)
    return env['aio'].s3_client().get_object(
        Bucket=env['bucket'], Key=layout.object_key(name))


def test_a_versioned_container_syncs_its_current_objects(env):
    container = env['versioned']
    # NOTE: what Swift keeps: a link to the current version, which is in
    # a hidden container, as the older one is.
    _, listing = env['swift'].get_container(container,
                                            query_string='versions')
    assert len(listing) == 2
    got = remote_object(env, container, 'o')
    assert got['Body'].read() == b'version 2'
    assert got['ContentType'] == 'text/x-v2'
    assert got['Metadata']['version'] == '2'
    assert md.SYMLINK_TARGET_KEY not in got['Metadata']
    assert remote_keys(env, container) == {'o'}
    hidden = layout_mod.RemoteLayout('AUTH_test',
                                     '\x00versions\x00' + container)
    listed = env['aio'].s3_client().list_objects_v2(
        Bucket=env['bucket'], Prefix=hidden.listing_prefix())
    assert listed['KeyCount'] == 0


def test_a_post_and_a_delete_of_a_versioned_object_reach_the_remote(env):
    container = env['versioned']
    swift = env['swift']
    for version in (1, 2):
        swift.put_object(container, 'gone', b'gone %d' % version,
                         headers={'X-Object-Meta-Version': str(version)})
    assert set(env['nodes'].run_once().values()) == {0}
    assert remote_object(env, container, 'gone')['Body'].read() == b'gone 2'
    swift.post_object(container, 'gone',
                      headers={'X-Object-Meta-Version': 'posted'})
    assert set(env['nodes'].run_once().values()) == {0}
    got = remote_object(env, container, 'gone')
    assert got['Metadata']['version'] == 'posted'
    assert got['Body'].read() == b'gone 2'
    swift.delete_object(container, 'gone')
    # NOTE: the versions stay in Swift, with a delete marker on top
    _, listing = swift.get_container(container, query_string='versions')
    assert [v['content_type'] for v in listing if v['name'] == 'gone'][0] \
        == 'application/x-deleted;swift_versions_deleted=1'
    assert set(env['nodes'].run_once().values()) == {0}
    assert 'gone' not in remote_keys(env, container)
    assert 'o' in remote_keys(env, container)


def test_verify_finds_versioned_objects_and_links_in_sync(env):
    result = subprocess.run(
        [sys.executable, '-m', 'cloudsync.cmd.verify', '--config-file',
         env['nodes'].confs[1], '--mapping', 'versioned', '--compare',
         '--deep', '--read-only'],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ', 0 missing remotely, 0 differing, 0 only remotely' in \
        result.stdout, result.stdout


def test_an_archived_versioned_object_reads_back_and_keeps_its_versions(env):
    container = env['versioned_archived']
    for name, data in (('o', b'version 2'), ('plain', b'unversioned')):
        status, _, _ = env['plain'].request('HEAD',
                                            '%s/%s' % (container, name))
        assert status == 404
        status, headers, body = env['shunt'].request(
            'GET', '%s/%s' % (container, name))
        assert (status, body) == (200, data)
    assert headers['content-type'] == 'application/octet-stream'
    status, headers, _ = env['shunt'].request('HEAD', '%s/o' % container)
    assert headers['x-object-meta-version'] == '2'
    assert headers['content-type'] == 'text/x-v2'
    # NOTE: the versions of "o" stay in Swift and are listed as Swift
    # lists them (``version-id`` requests never reach the remote); "plain",
    # which has no versions, is listed as before archiving: its ``null``
    # version.
    was_status, _, was = env['before']['versions']
    assert was_status == 200
    assert [(v['name'], v['version_id']) for v in json.loads(was)] == [
        ('o', json.loads(was)[0]['version_id']),
        ('o', json.loads(was)[1]['version_id']), ('plain', 'null')]
    status, _, body = env['shunt'].request(
        'GET', container, query={'versions': '', 'format': 'json'})
    assert status == 200
    assert [(v['name'], v['version_id']) for v in json.loads(body)] == [
        (v['name'], v['version_id']) for v in json.loads(was)]
