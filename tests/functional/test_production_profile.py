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

"""cloudsync on a cluster set up as production ones are.

The ``aio_production`` all-in-one encrypts objects at rest (keymaster and
encryption in the proxy), has an erasure-coded policy ``ec``, object
versioning, symlinks and the object expirer. The first tests prove the
cluster is that; the others run the whole story on it:

* the daemons (``cloudsync-sync --once`` on every container node, the
  built-in internal client with ``keymaster_config_path`` set to the
  proxy's keymaster configuration) copy a container in the EC policy to a
  moto bucket (plain objects with metadata, a unicode name, an SLO), then
  a POST, a DELETE and an expiry; they archive a second container, whose
  objects a proxy with the cloud shunt serves, lists and restores (the
  restored object encrypted at rest again); ``cloudsync-verify`` and
  ``cloudsync-status`` report all is well;
* the same daemons without the keymaster read ciphertext: each such row
  fails with an error naming the object and ``keymaster_config_path``,
  which ``cloudsync-status`` and ``cloudsync-verify`` show, and nothing
  is copied, archived or deleted.
"""

import contextlib
import glob
import hashlib
import json
import os
import subprocess
import sys
import time

import pytest
from swift.common import internal_client
from swift.common import utils as swift_utils
from swift.common import wsgi
from swiftclient import client as swiftclient

from cloudsync import metadata as md
from tests.functional.conftest import aio_tools
from tests.functional.conftest import unique_name
from tests.functional import daemon_helpers

#: an internal client pipeline without keymaster and encryption: what
#: reads objects the way a misconfigured internal client does
PLAIN_PIPELINE = """
[DEFAULT]
swift_dir = %s

[pipeline:main]
pipeline = catch_errors proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:catch_errors]
use = egg:swift#catch_errors
"""


@contextlib.contextmanager
def on_cluster(aio):
    """This process reads ``aio``'s swift.conf meanwhile, and the one it
    read before afterwards.
    """
    before = os.path.dirname(swift_utils.SWIFT_CONF_FILE)
    aio_tools.use_swift_dir(aio.swift_dir)
    try:
        yield
    finally:
        aio_tools.use_swift_dir(before)


@pytest.fixture(autouse=True)
def production_swift_dir(aio_production):
    with on_cluster(aio_production):
        yield


@pytest.fixture
def pswift(aio_production):
    """swiftclient Connection to the production cluster as test:tester."""
    conn = aio_production.swift_client('test:tester', 'testing')
    yield conn
    conn.close()


def plain_internal_client(aio):
    """An InternalClient of the cluster that does not decrypt."""
    return internal_client.InternalClient(
        wsgi.ConfigString(PLAIN_PIPELINE % aio.swift_dir), 'test-plain', 1)


def raw_object(aio, account, container, obj):
    """(headers, body) of an object as it is stored: not decrypted."""
    ic = plain_internal_client(aio)
    resp = ic.make_request('GET', ic.make_path(account, container, obj),
                           {}, (2,))
    return dict(resp.headers), resp.body


def crypto_headers(headers):
    return sorted(k.lower() for k in headers if '-crypto-' in k.lower() or
                  k.lower().endswith('-crypto-meta'))


# -- the profile -------------------------------------------------------------

def test_profile_state(aio_production):
    state = aio_production.state
    assert state['profile'] == 'production'
    assert state['encryption'] is True
    assert os.path.exists(state['keymaster_conf'])
    assert oct(os.stat(state['keymaster_conf']).st_mode & 0o777) == '0o600'
    ec = [p for p in state['policies'] if p['name'] == state['ec_policy']]
    assert ec and ec[0]['policy_type'] == 'erasure_coding'
    assert ec[0]['ec_type'] in aio_tools.EC_TYPES
    with open(state['proxy_conf']) as f:
        pipeline = [line for line in f if line.startswith('pipeline =')][0]
    names = pipeline.split('=', 1)[1].split()
    # where Swift documents them: after slo, dlo, versioned_writes and
    # symlink, just before the last proxy-logging
    assert names[-4:] == ['keymaster', 'encryption', 'proxy-logging',
                          'proxy-server']
    assert names.index('symlink') < names.index('keymaster')


def test_the_command_line_starts_and_stops_the_profile(aio_production,
                                                       tmp_path):
    # NOTE: ports the production cluster's block leaves free
    base_port = str(aio_production.base_port + 50)
    aio_py = aio_tools.__file__

    def aio_cli(*args):
        return subprocess.run(
            [sys.executable, aio_py, '--base-dir', str(tmp_path)] +
            list(args), capture_output=True, text=True, timeout=120)

    try:
        started = aio_cli('start', '--base-port', base_port,
                          '--profile', 'production')
        assert started.returncode == 0, started.stdout + started.stderr
        assert 'profile:         production' in started.stdout
        assert 'keymaster:' in started.stdout
        status = aio_cli('status', '--json')
        assert status.returncode == 0, status.stdout + status.stderr
        state = json.loads(status.stdout)
        assert state['profile'] == 'production'
        assert state['options']['profile'] == 'production'
    finally:
        stopped = aio_cli('stop')
    assert stopped.returncode == 0
    cluster = aio_tools.AllInOne.from_state(str(tmp_path))
    assert not any(cluster.processes().values())


def test_objects_are_encrypted_at_rest(aio_production, pswift):
    container = unique_name('enc')
    pswift.put_container(container)
    body = b'plaintext that must not be stored as it is\n' * 50
    pswift.put_object(container, 'o', body,
                      headers={'X-Object-Meta-Color': 'blue'})
    headers, got = pswift.get_object(container, 'o')
    assert got == body
    assert headers['x-object-meta-color'] == 'blue'
    raw_headers, raw_body = raw_object(aio_production, 'AUTH_test',
                                       container, 'o')
    assert len(raw_body) == len(body) and raw_body != body
    assert 'x-object-sysmeta-crypto-body-meta' in crypto_headers(raw_headers)
    assert 'X-Object-Meta-Color' not in raw_headers
    # the aio's own internal client decrypts, as Swift documents it
    ic = aio_production.internal_client()
    resp = ic.make_request('GET', ic.make_path('AUTH_test', container, 'o'),
                           {}, (2,))
    assert resp.body == body


def test_erasure_coded_policy(aio_production, pswift):
    container = unique_name('ec')
    pswift.put_container(container, headers={'X-Storage-Policy': 'ec'})
    body = os.urandom(300 * 1024)
    etag = pswift.put_object(container, 'o', body)
    assert etag == hashlib.md5(body).hexdigest()
    assert pswift.head_container(container)['x-storage-policy'] == 'ec'
    assert pswift.get_object(container, 'o')[1] == body
    # one fragment archive per node, in the EC policy's directory
    ec_index = [p['index'] for p in aio_production.state['policies']
                if p['name'] == 'ec'][0]
    fragments = []
    for node in aio_production.state['nodes']:
        fragments += glob.glob(os.path.join(
            node['devices'], node['device'], 'objects-%d' % ec_index,
            '*', '*', '*', '*#*.data'))
    assert len(fragments) >= 3


def test_versioning_and_symlinks(aio_production, pswift):
    container = unique_name('ver')
    pswift.put_container(container, headers={'X-Versions-Enabled': 'true'})
    pswift.put_object(container, 'o', b'one')
    pswift.put_object(container, 'o', b'two')
    _headers, versions = pswift.get_container(container,
                                              query_string='versions')
    assert len(versions) == 2
    pswift.put_object(container, 'link', b'',
                      headers={'X-Symlink-Target': '%s/o' % container})
    assert pswift.get_object(container, 'link')[1] == b'two'


def test_object_expirer(aio_production, pswift):
    container = unique_name('exp')
    pswift.put_container(container)
    pswift.put_object(container, 'gone', b'x',
                      headers={'X-Delete-After': '1'})
    pswift.put_object(container, 'kept', b'y')
    time.sleep(1.5)
    out = aio_production.run_expirer()
    assert 'objects expired' in out
    names = [o['name'] for o in pswift.get_container(container)[1]]
    assert names == ['kept']


# -- the whole story, encrypted, in an EC container --------------------------

def run_command(module, *args, timeout=300):
    return subprocess.run(
        [sys.executable, '-m', module] + list(args), capture_output=True,
        text=True, timeout=timeout)


def put_slo(swift, container, name, parts):
    segments = container + '_segments'
    swift.put_container(segments, headers={'X-Storage-Policy': 'ec'})
    manifest = []
    for index, data in enumerate(parts):
        path = '%s/%d' % (name, index)
        etag = swift.put_object(segments, path, data)
        manifest.append({'path': '/%s/%s' % (segments, path),
                         'etag': etag, 'size_bytes': len(data)})
    swift.put_object(container, name, json.dumps(manifest),
                     query_string='multipart-manifest=put',
                     headers={'X-Object-Meta-Kind': 'slo'})


class Story:
    """Containers, objects, a bucket and daemons on the production
    cluster, for one mapping configuration.
    """

    def __init__(self, aio, work_dir, swift, options, kinds):
        self.aio = aio
        self.swift = swift
        self.s3 = aio.s3_client()
        self.bucket = unique_name('prod')
        self.s3.create_bucket(Bucket=self.bucket)
        self.containers = {kind: unique_name(kind) for kind in kinds}
        mappings = {}
        for kind, container in self.containers.items():
            mappings[kind] = {'container': container, 'bucket': self.bucket,
                              'copy_after': 0}
            if kind != 'sync':
                mappings[kind]['lifecycle'] = 'archive'
                mappings[kind]['archive_as'] = 'delete'
            if kind == 'restore':
                mappings[kind]['restore_object'] = 'true'
            swift.put_container(container, headers={
                'X-Storage-Policy': 'ec' if kind == 'sync' else 'gold'})
            aio.ensure_container_replicas('AUTH_test', container)
        self.nodes = daemon_helpers.DaemonNodes(
            aio, work_dir, mappings, options, remotes={
                'moto': daemon_helpers.aio_cloudsync.remote(
                    aio.state, addressing_style='path')})
        self.config = self.nodes.config(1)

    def key(self, kind, name):
        container = self.containers[kind]
        mapping = self.config.mapping_for('AUTH_test', container)
        return mapping.remote_layout(container).object_key(name)

    def remote(self, kind, name):
        """(body, metadata) of the remote copy, or None."""
        try:
            got = self.s3.get_object(Bucket=self.bucket,
                                     Key=self.key(kind, name))
        except self.s3.exceptions.NoSuchKey:
            return None
        return got['Body'].read(), got['Metadata']

    def remote_keys(self):
        listed = self.s3.list_objects_v2(Bucket=self.bucket)
        return [o['Key'] for o in listed.get('Contents', [])]

    def sync(self):
        """``--once`` on every node, until every replica's rows are in."""
        for container in self.containers.values():
            daemon_helpers.replicate_container(self.aio, 'AUTH_test',
                                               container)
        return self.nodes.run_once()

    def status(self, *args):
        """cloudsync-status of every node: [(exit status, output)]."""
        results = []
        for index in sorted(self.nodes.confs):
            result = run_command('cloudsync.cmd.status', '--config-file',
                                 self.nodes.confs[index], *args)
            results.append((result.returncode,
                            result.stdout + result.stderr))
        return results

    def verify(self, *args):
        result = run_command('cloudsync.cmd.verify', '--config-file',
                             self.nodes.confs[1], *args)
        return result.returncode, result.stdout + result.stderr


SYNCED = {
    'plain': (b'plain bytes of an encrypted, erasure-coded object\n' * 20,
              {'X-Object-Meta-Color': 'blue'}),
    'dir/ünïcødé ☃': ('välue ☃'.encode('utf-8') * 30,
                      {'X-Object-Meta-Unicode': 'välue ☃'}),
    'post-me': (b'metadata changes', {'X-Object-Meta-Color': 'red'}),
    'delete-me': (b'deleted later', {}),
    'expires': (b'expired later', {}),
}
SLO_PARTS = (os.urandom(3000), os.urandom(1000))
ARCHIVED = {
    'a': (b'archived object', {'X-Object-Meta-Color': 'green'}),
    'b/1': (os.urandom(3000), {}),
}
RESTORED = b'bring me back, encrypted\n' * 10


@pytest.fixture(scope='module')
def story(aio_production, tmp_path_factory):
    """Two passes of the daemons with the keymaster, and a shunt proxy."""
    aio = aio_production
    swift = aio.swift_client('test:tester', 'testing')
    try:
        with on_cluster(aio):
            world = Story(aio, tmp_path_factory.mktemp('story'), swift, {
                'internal_client_conf_path': '',
                'keymaster_config_path': aio.keymaster_conf_path,
            }, ('sync', 'archive', 'restore'))
            sync = world.containers['sync']
            for name, (data, headers) in SYNCED.items():
                swift.put_object(sync, name, data, headers=headers,
                                 content_type='text/plain')
            put_slo(swift, sync, 'slo', SLO_PARTS)
            for name, (data, headers) in ARCHIVED.items():
                swift.put_object(world.containers['archive'], name, data,
                                 headers=headers)
            swift.put_object(world.containers['restore'], 'restored',
                             RESTORED)
            put_slo(swift, world.containers['restore'], 'restored-slo',
                    SLO_PARTS)
            world.listing_before = swift.get_container(
                world.containers['archive'])[1]
            world.first_pass = world.sync()

            swift.post_object(sync, 'post-me',
                              {'X-Object-Meta-Color': 'purple'})
            swift.delete_object(sync, 'delete-me')
            swift.post_object(sync, 'expires', {'X-Delete-After': '1'})
            time.sleep(1.5)
            aio.run_expirer()
            world.second_pass = world.sync()

        world.shunt_url = aio.start_proxy('shunt', [('cloud_shunt', {
            'use': 'egg:swift-cloudsync#cloud_shunt',
            'conf_file': world.nodes.confs[1]})])
        try:
            url, token = swift.get_auth()
            world.shunt = swiftclient.Connection(
                preauthurl=world.shunt_url + '/v1/AUTH_test',
                preauthtoken=token, retries=0)
            yield world
            world.shunt.close()
        finally:
            aio.stop_proxy('shunt')
    finally:
        swift.close()


def test_every_pass_succeeds(story):
    assert set(story.first_pass.values()) == {0}
    assert set(story.second_pass.values()) == {0}


def test_the_remote_gets_plaintext_and_metadata_from_an_ec_container(story):
    for name in ('plain', 'dir/ünïcødé ☃'):
        data, headers = SYNCED[name]
        body, metadata = story.remote('sync', name)
        assert body == data, name
        assert md.remote_to_swift(metadata) == headers


def test_a_post_replaces_the_remote_metadata(story):
    body, metadata = story.remote('sync', 'post-me')
    assert body == SYNCED['post-me'][0]
    assert md.remote_to_swift(metadata) == {'X-Object-Meta-Color': 'purple'}


def test_a_delete_and_an_expiry_remove_the_remote_copy(story):
    assert story.remote('sync', 'delete-me') is None
    assert story.remote('sync', 'expires') is None


def test_an_slo_is_copied_decrypted(story):
    body, metadata = story.remote('sync', 'slo')
    assert body == b''.join(SLO_PARTS)
    assert md.remote_to_swift(metadata)['X-Object-Meta-Kind'] == 'slo'


def test_archived_objects_leave_swift_and_the_shunt_serves_them(
        story, pswift):
    archive = story.containers['archive']
    for name, (data, headers) in ARCHIVED.items():
        with pytest.raises(swiftclient.ClientException) as info:
            pswift.head_object(archive, name)
        assert info.value.http_status == 404
        body, _metadata = story.remote('archive', name)
        assert body == data
        got_headers, got = story.shunt.get_object(archive, name)
        assert got == data, name
        assert got_headers['etag'] == hashlib.md5(data).hexdigest()
        for key, value in headers.items():
            assert got_headers[key.lower()] == value


def test_the_shunt_lists_archived_objects_as_swift_did(story):
    _headers, listing = story.shunt.get_container(
        story.containers['archive'])
    assert [(o['name'], o['bytes'], o['hash']) for o in listing] == [
        (o['name'], o['bytes'], o['hash']) for o in story.listing_before]


def test_a_restored_object_is_encrypted_at_rest_again(
        story, pswift, aio_production):
    restore = story.containers['restore']
    with pytest.raises(swiftclient.ClientException):
        pswift.head_object(restore, 'restored')
    assert story.shunt.get_object(restore, 'restored')[1] == RESTORED
    daemon_helpers.wait_for(
        lambda: _exists(pswift, restore, 'restored'), timeout=30,
        what='the restored object')
    assert pswift.get_object(restore, 'restored')[1] == RESTORED
    raw_headers, raw_body = raw_object(aio_production, 'AUTH_test',
                                       restore, 'restored')
    assert 'x-object-sysmeta-crypto-body-meta' in crypto_headers(
        raw_headers)
    assert raw_body != RESTORED and len(raw_body) == len(RESTORED)


def test_a_restored_slo_is_encrypted_at_rest_again(
        story, pswift, aio_production):
    restore = story.containers['restore']
    segments = restore + '_segments'
    with pytest.raises(swiftclient.ClientException):
        pswift.head_object(segments, 'restored-slo/0')
    assert story.shunt.get_object(restore, 'restored-slo')[1] == \
        b''.join(SLO_PARTS)
    daemon_helpers.wait_for(
        lambda: _exists(pswift, restore, 'restored-slo'), timeout=30,
        what='the restored SLO')
    assert pswift.get_object(restore, 'restored-slo')[1] == \
        b''.join(SLO_PARTS)
    for container, name in ((restore, 'restored-slo'),
                            (segments, 'restored-slo/0'),
                            (segments, 'restored-slo/1')):
        raw_headers, _raw_body = raw_object(aio_production, 'AUTH_test',
                                            container, name)
        assert 'x-object-sysmeta-crypto-body-meta' in crypto_headers(
            raw_headers), name


def _exists(swift, container, name):
    try:
        swift.head_object(container, name)
        return True
    except swiftclient.ClientException:
        return False


def test_verify_finds_the_ec_container_in_sync(story):
    status, out = story.verify('--compare', '--mapping', 'sync', '--list')
    assert status == 0, out
    assert '0 missing remotely, 0 differing' in out, out


def test_status_shows_no_failure(story):
    for status, out in story.status():
        assert status == 0, out
        assert 'failed rows' not in out


def test_verifying_the_other_replicas_rows_finds_the_copies_current(
        story, aio_production):
    # NOTE: last of the story: every daemon now also checks the rows the
    # other replicas handled, whose ETags in the container databases are
    # encrypted
    logs = {index: len(story.nodes.log(index)) for index in story.nodes.confs}
    story.nodes.reconfigure(
        internal_client_conf_path='',
        keymaster_config_path=aio_production.keymaster_conf_path,
        verification_slack=0)
    assert set(story.sync().values()) == {0}
    label = 'sync AUTH_test/%s ' % story.containers['sync']
    for index, start in logs.items():
        new = story.nodes.log(index)[start:]
        found = [line for line in new.splitlines()
                 if label in line and 'verification found' in line]
        assert found == [], found
    assert story.remote('sync', 'plain')[0] == SYNCED['plain'][0]


# -- the daemon without the keymaster ----------------------------------------

@pytest.fixture(scope='module')
def unkeyed(aio_production, tmp_path_factory):
    """One pass of daemons that read through an internal client without
    keymaster and encryption (cloudsync's built-in pipeline, no
    keymaster_config_path).
    """
    aio = aio_production
    swift = aio.swift_client('test:tester', 'testing')
    try:
        with on_cluster(aio):
            world = Story(aio, tmp_path_factory.mktemp('unkeyed'), swift,
                          {'internal_client_conf_path': ''},
                          ('sync', 'archive'))
            swift.put_object(world.containers['sync'], 'secret',
                             b'never to leave as ciphertext',
                             headers={'X-Object-Meta-Color': 'blue'})
            swift.put_object(world.containers['archive'], 'keep-me',
                             b'the only readable copy',
                             headers={'X-Object-Meta-Color': 'blue'})
            world.codes = world.sync()
        yield world
    finally:
        swift.close()


def test_an_encrypted_read_fails_the_pass(unkeyed):
    assert 'timeout' not in unkeyed.codes.values()
    assert any(code != 0 for code in unkeyed.codes.values())


def test_nothing_is_copied_from_an_encrypted_read(unkeyed):
    assert unkeyed.remote_keys() == []


def test_nothing_is_archived_from_an_encrypted_read(unkeyed, pswift):
    headers, body = pswift.get_object(unkeyed.containers['archive'],
                                      'keep-me')
    assert body == b'the only readable copy'
    assert headers['x-object-meta-color'] == 'blue'


def test_status_names_the_object_and_the_setting(unkeyed):
    failing = [(status, out) for status, out in unkeyed.status()
               if 'failed rows' in out]
    text = '\n'.join(out for _status, out in failing)
    assert {status for status, _out in failing} == {1}
    for name in ('secret', 'keep-me'):
        assert name in text
    assert 'read encrypted' in text
    assert 'keymaster_config_path' in text


def test_verify_reports_the_encrypted_listing(unkeyed):
    status, out = unkeyed.verify('--compare', '--mapping', 'sync', '--list')
    assert status == 1, out
    assert '1 could not be read locally' in out
    assert 'secret' in out and 'keymaster_config_path' in out


def test_keymaster_config_path_with_an_own_pipeline_is_refused(
        unkeyed, aio_production):
    path = unkeyed.nodes.write_conf(
        aio_production.state['nodes'][0], unkeyed.nodes.mappings, {
            'internal_client_conf_path': aio_production.state[
                'internal_client_conf'],
            'keymaster_config_path': aio_production.keymaster_conf_path})
    result = run_command('cloudsync.cmd.sync', '--config-file', path,
                         '--once')
    assert result.returncode != 0
    assert 'keymaster_config_path' in result.stderr + result.stdout
    assert 'internal_client_conf_path' in result.stderr + result.stdout


def test_fixing_the_setting_copies_and_archives_the_failed_rows(
        unkeyed, pswift, aio_production):
    unkeyed.nodes.reconfigure(
        internal_client_conf_path='',
        keymaster_config_path=aio_production.keymaster_conf_path)
    codes = unkeyed.sync()
    assert set(codes.values()) == {0}
    body, metadata = unkeyed.remote('sync', 'secret')
    assert body == b'never to leave as ciphertext'
    assert md.remote_to_swift(metadata) == {'X-Object-Meta-Color': 'blue'}
    assert unkeyed.remote('archive', 'keep-me')[0] == \
        b'the only readable copy'
    with pytest.raises(swiftclient.ClientException):
        pswift.head_object(unkeyed.containers['archive'], 'keep-me')


def test_an_own_internal_client_pipeline_with_the_keymaster(
        aio_production, tmp_path, pswift):
    # the all-in-one's internal-client.conf has keymaster and encryption,
    # as Swift documents it for container-sync
    world = Story(aio_production, tmp_path, pswift, {}, ('sync',))
    pswift.put_object(world.containers['sync'], 'o', b'plaintext',
                      headers={'X-Object-Meta-Color': 'blue'})
    assert set(world.sync().values()) == {0}
    body, metadata = world.remote('sync', 'o')
    assert body == b'plaintext'
    assert md.remote_to_swift(metadata) == {'X-Object-Meta-Color': 'blue'}
