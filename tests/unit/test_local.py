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
"""The local cluster's internal client, and objects read encrypted."""

import base64
import configparser
import dataclasses
import types

import pytest

from cloudsync import exceptions
from cloudsync import lifecycle
from cloudsync import local
from cloudsync.ops import verify
from cloudsync.sync import propagate
from cloudsync.sync import source as source_mod
from tests.unit import test_propagate as tp
from tests.unit import test_verify as tv

SECRET = base64.b64encode(b'k' * 32).decode('ascii')
CRYPTO = {'X-Object-Sysmeta-Crypto-Body-Meta': '{"cipher": "AES_CTR_256"}',
          'X-Object-Sysmeta-Crypto-Etag': 'abc; swift_meta={}'}


def make_conf(**options):
    values = {'swift_dir': '/etc/swift', 'internal_client_conf_path': None,
              'keymaster_config_path': None}
    values.update(options)
    return types.SimpleNamespace(**values)


def keymaster_file(tmp_path, section='keymaster', secret=SECRET):
    path = tmp_path / 'keymaster.conf'
    path.write_text('[%s]\nencryption_root_secret = %s\n'
                    % (section, secret))
    return str(path)


def pipeline(ic_conf):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(ic_conf.contents.getvalue())
    return parser


# -- the built-in pipeline ---------------------------------------------------

def test_the_builtin_pipeline_has_no_keymaster_by_default():
    parser = pipeline(local.internal_client_conf(make_conf()))
    assert parser.get('pipeline:main', 'pipeline') == \
        'catch_errors proxy-logging cache proxy-server'
    assert not parser.has_section('filter:keymaster')


def test_keymaster_config_path_puts_keymaster_and_encryption_in(tmp_path):
    path = keymaster_file(tmp_path)
    parser = pipeline(local.internal_client_conf(
        make_conf(keymaster_config_path=path)))
    assert parser.get('pipeline:main', 'pipeline') == (
        'catch_errors proxy-logging cache keymaster encryption proxy-server')
    assert parser.get('filter:keymaster', 'use') == 'egg:swift#keymaster'
    assert parser.get('filter:keymaster', 'keymaster_config_path') == path
    assert parser.get('filter:encryption', 'use') == 'egg:swift#encryption'
    # the secret stays in the operator's file
    assert SECRET not in local.internal_client_conf(
        make_conf(keymaster_config_path=path)).contents.getvalue()


@pytest.mark.parametrize('section', ['kms_keymaster', 'kmip_keymaster'])
def test_the_keymaster_is_the_one_the_file_is_for(tmp_path, section):
    path = keymaster_file(tmp_path, section)
    parser = pipeline(local.internal_client_conf(
        make_conf(keymaster_config_path=path)))
    assert parser.get('filter:keymaster', 'use') == 'egg:swift#' + section


def test_a_keymaster_file_without_a_keymaster_section(tmp_path):
    path = tmp_path / 'other.conf'
    path.write_text('[DEFAULT]\nx = 1\n')
    with pytest.raises(exceptions.ConfigError) as info:
        local.internal_client_conf(make_conf(keymaster_config_path=str(path)))
    assert '[DEFAULT] keymaster_config_path' in str(info.value)
    assert '[keymaster]' in str(info.value)


def test_a_missing_keymaster_file(tmp_path):
    path = str(tmp_path / 'missing.conf')
    problems = local.keymaster_problems(make_conf(keymaster_config_path=path))
    assert len(problems) == 1
    assert problems[0].startswith('[DEFAULT] keymaster_config_path = %s: '
                                  'cannot be read' % path)


def test_keymaster_config_path_with_an_operator_pipeline(tmp_path):
    conf = make_conf(keymaster_config_path=keymaster_file(tmp_path),
                     internal_client_conf_path='/etc/swift/ic.conf')
    problems = local.keymaster_problems(conf)
    assert len(problems) == 1
    assert 'internal_client_conf_path' in problems[0]
    assert '/etc/swift/ic.conf' in problems[0]


def test_a_bad_root_secret_is_named_not_shown(tmp_path):
    short = base64.b64encode(b'short').decode('ascii')
    conf = make_conf(keymaster_config_path=keymaster_file(
        tmp_path, secret=short))
    problems = local.keymaster_problems(conf)
    assert len(problems) == 1
    assert 'keymaster_config_path' in problems[0]
    assert 'encryption_root_secret' in problems[0]
    assert short not in problems[0]


def test_a_good_keymaster_file_has_no_problem(tmp_path):
    conf = make_conf(keymaster_config_path=keymaster_file(tmp_path))
    assert local.keymaster_problems(conf) == []
    assert local.keymaster_problems(make_conf()) == []


# -- recognising what was not decrypted -------------------------------------

def test_crypto_sysmeta_shows_an_undecrypted_object():
    assert local.encrypted_headers({'Content-Length': '3',
                                    'X-Object-Meta-Color': 'blue'}) == []
    headers = dict(CRYPTO)
    headers['X-Object-Transient-Sysmeta-Crypto-Meta-Color'] = 'x'
    assert local.encrypted_headers(headers) == [
        'x-object-sysmeta-crypto-body-meta', 'x-object-sysmeta-crypto-etag',
        'x-object-transient-sysmeta-crypto-meta-color']
    with pytest.raises(local.EncryptedObject) as info:
        local.check_not_encrypted(headers, 'GET AUTH_a/c/o')
    assert str(info.value).startswith('GET AUTH_a/c/o: read encrypted')
    assert 'keymaster_config_path' in str(info.value)


def test_an_encrypted_listing_etag():
    assert local.is_encrypted_etag('c2VjcmV0; swift_meta={"iv": "x"}')
    assert not local.is_encrypted_etag('d41d8cd98f00b204e9800998ecf8427e')
    assert not local.is_encrypted_etag(None)


# -- the daemon never copies or archives an encrypted read ------------------

def test_an_object_read_encrypted_fails_its_row_and_is_not_copied():
    world = tp.World()
    world.put('secret', b'ciphertext', CRYPTO)
    with pytest.raises(propagate.RowFailed) as info:
        world.handle('secret')
    message = str(info.value)
    assert 'AUTH_test/photos/secret' in message
    assert 'keymaster_config_path' in message
    assert world.remote('secret') is None
    assert world.provider.counts() == {}


def test_an_object_read_encrypted_is_not_archived():
    world = tp.World(archive=True)
    world.put('secret', b'ciphertext', CRYPTO)
    with pytest.raises(propagate.RowFailed):
        world.handle('secret', tp.ARCHIVE)
    assert world.swift.get(tp.ACCOUNT, tp.CONTAINER, 'secret') is not None
    assert world.swift.requests_for('DELETE', 'secret') == []
    assert world.remote('secret') is None


def test_a_large_object_read_encrypted_is_not_copied(monkeypatch):
    monkeypatch.setattr(source_mod, 'SMALL_OBJECT_SIZE', -1)
    world = tp.World()
    world.put('big', b'x' * 100, CRYPTO)
    with pytest.raises(propagate.RowFailed):
        world.handle('big')
    assert [r.method for r in world.swift.requests_for(obj='big')] == [
        'HEAD']
    assert world.remote('big') is None


def test_a_delete_row_needs_no_decryption():
    world = tp.World()
    world.put('gone', b'data')
    world.handle('gone')
    world.swift.delete(tp.ACCOUNT, tp.CONTAINER, 'gone')
    row = world.row('gone')
    assert world.propagator.handle(row, lifecycle.Decision(
        lifecycle.Action.REMOVE_REMOTE)) is propagate.Outcome.DELETED


# -- cloudsync-verify ---------------------------------------------------------

def test_verify_counts_an_encrypted_listing_as_unreadable():
    item = verify._parse_listing_item({
        'name': 'o', 'bytes': 3, 'content_type': 'text/plain',
        'hash': 'c2VjcmV0; swift_meta={"iv": "x"}',
        'last_modified': '2024-01-01T00:00:00.000000'})
    assert item.encrypted


def test_an_slo_with_an_encrypted_segment_is_not_copied():
    world = tp.World()
    world.small_parts()
    paths = tp.put_segments(world, [2 * tp.KiB, 2 * tp.KiB])
    container, name = paths[1].split('/', 1)
    record = world.swift.get(tp.ACCOUNT, container, name)
    record.headers.update(CRYPTO)
    world.swift.put_slo(tp.ACCOUNT, tp.CONTAINER, 'big', paths)
    with pytest.raises(propagate.RowFailed) as info:
        world.handle('big')
    assert 'AUTH_test/segs/big/001' in str(info.value)
    assert 'keymaster_config_path' in str(info.value)
    assert world.remote('big') is None


def test_verify_compare_names_the_setting_for_an_encrypted_listing():
    world = tv.World()
    world.put('x', b'x')
    world.sync('x')
    world.swift.objects[(tv.ACCOUNT, tv.CONTAINER, 'x')].etag = \
        'Y2lwaGVy; swift_meta={"iv": "x"}'
    result = world.compare()
    assert (result.local, result.remote) == (1, 1)
    assert (result.in_sync, result.unreadable) == (0, 1)
    assert not result.clean
    diff, = result.details
    assert (diff.kind, diff.name) == ('unreadable', 'x')
    assert 'keymaster_config_path' in diff.reason


def test_verify_deep_compare_names_the_setting_for_an_encrypted_head():
    world = tv.World()
    world.put('x', b'x')
    world.sync('x')
    world.swift.objects[(tv.ACCOUNT, tv.CONTAINER, 'x')].headers.update(
        CRYPTO)
    result = world.compare(deep=True)
    assert (result.in_sync, result.unreadable) == (0, 1)
    diff, = result.details
    assert diff.reason.startswith('HEAD AUTH_test/%s/x: read encrypted'
                                  % tv.CONTAINER)
    assert 'keymaster_config_path' in diff.reason


def test_verifying_a_row_whose_etag_is_encrypted_reads_nothing_local():
    world = tp.World()
    world.put('x', b'data')
    world.handle('x')
    row = dataclasses.replace(world.row('x'),
                              etag='Y2lwaGVy; swift_meta={"iv": "x"}')
    world.swift.requests.clear()
    assert world.propagator.verify([row]) == []
    assert world.swift.requests == []
    # a remote copy of another size is not current
    world.remote('x').data += b'!'
    assert world.propagator.verify([row]) == [row]
