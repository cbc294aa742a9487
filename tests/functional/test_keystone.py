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
"""Keystone for real: the ``keystone`` package served on loopback
(``tools/keystone.py``, SQLite, fernet tokens that live 20 seconds), and
Swift proxies that authenticate with it (``authtoken`` +
``keystoneauth``), as most production clusters do.

* A Swift remote with Keystone v3 auth (project, domains, region: the
  catalog has a decoy ``object-store`` endpoint in another region) gets
  the objects of a mapped container, and keeps working after its token
  expired.
* proxymc behind ``authtoken`` + ``keystoneauth``: a member of the
  mapping's project reads and writes; a member of another project, or no
  token, is refused.
* The cloud shunt in a proxy that authenticates with Keystone: a user
  with the ``reader`` role on the project reads archived objects and the
  listing; a user without a Swift role, or of another project, is
  refused.

Users (``tools/keystone.py``'s ``USERS``): ``tester`` (member) and
``reader`` (reader) and ``guest`` (role ``guest``) in project ``test``,
``tester2`` (member) in project ``test2``.
"""

import hashlib
import http.client
import os
import subprocess
import sys
import time
import urllib.parse

import pytest
from swiftclient import client as swiftclient

from cloudsync import conf as conf_mod
from tests.functional.conftest import aio_tools
from tests.functional.conftest import unique_name
from tests.functional.daemon_helpers import aio_cloudsync
from tests.functional.daemon_helpers import run_daemon
from tests.functional import test_proxymc

OBJECTS = {
    'a.txt': b'first object',
    'dir/b.bin': os.urandom(20000),
    'unicode \u2603': 'snow \u2603'.encode('utf-8'),
}


def md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def connection(keystone, user, key, project, **kwargs):
    """A swiftclient Connection with Keystone v3 auth."""
    return swiftclient.Connection(
        authurl=keystone.url, user=user, key=key, auth_version='3',
        os_options={'project_name': project,
                    'project_domain_name': 'Default',
                    'user_domain_name': 'Default',
                    'region_name': 'RegionOne'},
        retries=kwargs.pop('retries', 2), timeout=30, **kwargs)


def request(url, method, path, token=None, body=None):
    parsed = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port,
                                      timeout=60)
    try:
        headers = {'X-Auth-Token': token} if token else {}
        conn.request(method, urllib.parse.quote(path), body=body,
                     headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope='module')
def env(aio, keystone, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('keystone-env'))
    accounts = {p: 'AUTH_%s' % pid for p, pid in keystone.projects.items()}
    names = {
        'source': unique_name('ks-source'), 'target': unique_name('ks-tgt'),
        'archived': unique_name('ks-archived'), 'pmc': unique_name('ks-pmc'),
        'bucket': unique_name('ks-bucket'),
    }
    aio.s3_client().create_bucket(Bucket=names['bucket'])
    conf = os.path.join(work, 'cloudsync.conf')
    aio_cloudsync.write_conf(conf, aio.state, {
        'to-keystone': {'container': names['source'],
                        'remote': 'keystone-swift',
                        'bucket': names['target']},
        'archive': {'account': accounts['test'],
                    'container': names['archived'],
                    'bucket': names['bucket'], 'lifecycle': 'archive',
                    'copy_after': 0, 'archive_as': 'delete'},
        'proxymc': {'account': accounts['test'], 'container': names['pmc'],
                    'bucket': names['bucket']},
    }, {'moto': 'moto', 'keystone-swift': {
        'provider': 'swift', 'endpoint': keystone.url,
        'access_key': 'tester', 'secret_key': 'testing',
        'auth_version': 3, 'project_name': 'test',
        'project_domain_name': 'Default', 'user_domain_name': 'Default',
        'region_name': 'RegionOne', 'max_retries': 2,
        'retry_backoff': 0.1}}, poll_interval=None)
    proxy_url = aio.start_proxy('keystone', [('cloud_shunt', {
        'use': 'egg:swift-cloudsync#cloud_shunt', 'conf_file': conf})],
        auth='keystone', keystone_url=keystone.url)
    try:
        keystone.add_object_store(proxy_url)
        # NOTE: a decoy in another region: region_name must choose
        keystone.add_object_store('http://127.0.0.1:9', region='RegionTwo')
        tempauth = aio.swift_client()
        tempauth.put_container(names['source'])
        for name, data in OBJECTS.items():
            tempauth.put_object(names['source'], name, data)
        tester = connection(keystone, 'tester', 'testing', 'test')
        tester.put_container(names['archived'])
        for name, data in OBJECTS.items():
            tester.put_object(names['archived'], name, data,
                              content_type='text/x-demo')
        _h, before = tester.get_container(names['archived'])
        run_daemon(aio, conf, work)
        yield dict(names, conf=conf, work=work, proxy_url=proxy_url,
                   accounts=accounts, keystone=keystone, aio=aio,
                   listing_before=before)
    finally:
        aio.stop_proxy('keystone')


# -- a Swift remote with Keystone v3 auth ------------------------------------

def test_a_swift_remote_with_keystone_v3_auth_gets_every_object(env):
    compare = subprocess.run(
        [sys.executable, '-m', 'cloudsync.cmd.verify', '--config-file',
         env['conf'], '--mapping', 'to-keystone', '--compare', '--deep'],
        capture_output=True, text=True, timeout=300)
    tester = connection(env['keystone'], 'tester', 'testing', 'test')
    _h, listing = tester.get_container(env['target'])

    assert compare.returncode == 0, compare.stdout + compare.stderr
    assert '%d in sync, 0 missing remotely, 0 differing' % len(OBJECTS) in \
        compare.stdout
    assert tester.url == '%s/v1/%s' % (env['proxy_url'],
                                       env['accounts']['test'])
    # NOTE: a Swift remote keeps the objects' names (layout native)
    found = {e['name']: e['hash'] for e in listing}
    assert found == {name: md5(data) for name, data in OBJECTS.items()}


def test_a_swift_remote_renews_its_token_after_it_expired(env):
    config = conf_mod.load_file(env['conf'])
    mapping = next(m for m in config.mappings if m.name == 'to-keystone')
    provider = mapping.remote.provider()
    try:
        provider.check_target(env['target'])
        # the token every connection of the provider shares
        stale = provider._auth.token
        # wait for the proxy to refuse it (tokens live 20 s)
        deadline = time.monotonic() + 120
        while request(env['proxy_url'], 'HEAD', '/v1/%s' % (
                env['accounts']['test']), stale)[0] != 401:
            assert time.monotonic() < deadline, 'the token never expired'
            time.sleep(1)

        page = provider.list_objects(env['target'])
    finally:
        provider.close()

    assert len(page.entries) == len(OBJECTS)


# -- proxymc behind authtoken + keystoneauth ---------------------------------

@pytest.fixture(scope='module')
def proxymc(env):
    server = test_proxymc.ProxyMCServer(env['work'], env['conf'])
    sections = aio_tools.AllInOne._keystone_sections(env['keystone'].url)
    with open(server.conf_path) as f:
        text = f.read()
    head, _sep, _rest = text.partition('[filter:tempauth]')
    head = head.replace('s3api tempauth', 'authtoken keystoneauth')
    with open(server.conf_path, 'w') as f:
        f.write(head + aio_tools._ini(
            [s for s in sections if s[0] != 'filter:s3token']))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_project_member_reads_and_writes_through_proxymc(env, proxymc):
    keystone = env['keystone']
    tester = connection(keystone, 'tester', 'testing', 'test')
    token = tester.get_auth()[1]
    path = '/v1/%s/%s/written' % (env['accounts']['test'], env['pmc'])

    put = request(proxymc.url, 'PUT', path, token, b'through proxymc')
    got = request(proxymc.url, 'GET', path, token)

    assert put[0] == 201, (put, proxymc.tail())
    assert got == (200, b'through proxymc')


def test_proxymc_refuses_another_project_and_no_token(env, proxymc):
    keystone = env['keystone']
    other = connection(keystone, 'tester2', 'testing2', 'test2')
    token = other.get_auth()[1]
    path = '/v1/%s/%s/refused' % (env['accounts']['test'], env['pmc'])

    put = request(proxymc.url, 'PUT', path, token, b'not allowed')
    get = request(proxymc.url, 'GET', path, token)
    anonymous = request(proxymc.url, 'GET', path)

    assert put[0] == 403
    assert get[0] == 403
    assert anonymous[0] == 401


# -- the shunt in a proxy that authenticates with Keystone ------------------

def test_a_reader_reads_archived_objects_through_the_shunt(env):
    keystone = env['keystone']
    reader = connection(keystone, 'reader', 'reading', 'test')

    read = {name: reader.get_object(env['archived'], name)[1]
            for name in OBJECTS}
    _h, listing = reader.get_container(env['archived'])

    assert read == OBJECTS
    assert [(e['name'], e['bytes'], e['hash']) for e in listing] == [
        (e['name'], e['bytes'], e['hash']) for e in env['listing_before']]


@pytest.mark.parametrize('user,key,project', [
    ('guest', 'guesting', 'test'), ('tester2', 'testing2', 'test2')])
def test_users_without_a_swift_role_on_the_project_are_refused(
        env, user, key, project):
    keystone = env['keystone']
    token = connection(keystone, user, key, project).get_auth()[1]
    account = env['accounts']['test']

    answers = [request(env['proxy_url'], 'GET', '/v1/%s/%s/%s' % (
        account, env['archived'], name), token) for name in OBJECTS]
    listing = request(env['proxy_url'], 'GET', '/v1/%s/%s' % (
        account, env['archived']), token)

    assert [status for status, _body in answers] == [403] * len(OBJECTS)
    assert not any(data in body for (_s, body), data in zip(
        answers, OBJECTS.values()))
    assert listing[0] == 403


# -- the all-in-one with Keystone instead of tempauth -----------------------

def test_the_all_in_one_starts_with_keystone_instead_of_tempauth():
    from tests.functional import conftest
    cluster = conftest._start_cluster(prefix='cloudsync-aio-keystone-',
                                      auth='keystone')
    try:
        state = cluster.state
        tester = swiftclient.Connection(
            authurl=state['keystone']['url'], user='tester', key='testing',
            auth_version='3', retries=2, timeout=30,
            os_options={'project_name': 'test',
                        'project_domain_name': 'Default',
                        'user_domain_name': 'Default',
                        'region_name': 'RegionOne'})
        tester.put_container('c')
        tester.put_object('c', 'o', b'through keystoneauth')
        _h, body = tester.get_object('c', 'o')
        tempauth = request(state['proxy_url'], 'GET', '/auth/v1.0')
    finally:
        cluster.stop()
        import shutil
        shutil.rmtree(cluster.base_dir, ignore_errors=True)

    assert body == b'through keystoneauth'
    assert tester.url == '%s/v1/%s' % (state['proxy_url'],
                                       state['keystone']['accounts']['test'])
    # no tempauth to hand out tokens
    assert tempauth[0] >= 400
