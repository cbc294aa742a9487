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
cluster is that; the others run the whole story on it.
"""

import glob
import hashlib
import os
import time

import pytest
from swift.common import internal_client
from swift.common import utils as swift_utils
from swift.common import wsgi

from tests.functional.conftest import aio_tools
from tests.functional.conftest import unique_name

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


@pytest.fixture(autouse=True)
def production_swift_dir(aio_production):
    """This process reads the production cluster's swift.conf during the
    test, and the one it read before afterwards.
    """
    before = os.path.dirname(swift_utils.SWIFT_CONF_FILE)
    aio_tools.use_swift_dir(aio_production.swift_dir)
    yield
    aio_tools.use_swift_dir(before)


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
