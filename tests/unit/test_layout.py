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

import hashlib

from hypothesis import given
from hypothesis import strategies as st
import pytest

from cloudsync import layout

names = st.text(min_size=1, max_size=200).filter(
    lambda s: '\x00' not in s)


@pytest.mark.parametrize('account,container,expected', [
    ('AUTH_test', 'archive-s3', '5dcc3'),
    ('AUTH_test', 'sync-s3', 'e5d922'),
    ('AUTH_test', 's3-restore', '2b77b2'),
])
def test_hashed_prefix_is_the_one_swift_s3_sync_wrote(
        account, container, expected):
    assert layout.hashed_prefix(account, container) == expected


def test_hashed_prefix_is_not_zero_padded():
    # find a container whose hash has a leading zero digit
    for i in range(10000):
        digest = hashlib.md5(('AUTH_a/c%d' % i).encode()).hexdigest()
        if digest[-6] == '0':
            break
    prefix = layout.hashed_prefix('AUTH_a', 'c%d' % i)
    assert len(prefix) < 6
    assert int(prefix, 16) == int(digest, 16) % 16 ** 6


def test_default_keys_match_swift_s3_sync():
    lay = layout.RemoteLayout('AUTH_test', 'sync-s3')
    assert lay.object_key('unicodé') == 'e5d922/AUTH_test/sync-s3/unicodé'
    assert lay.listing_prefix() == 'e5d922/AUTH_test/sync-s3/'
    assert lay.manifest_key('obj') == (
        'e5d922/.manifests/AUTH_test/sync-s3/%s.swift_slo_manifest'
        % hashlib.sha256(b'obj').hexdigest())


def test_prefix_layout_strips_slashes_and_formats_names():
    lay = layout.RemoteLayout('AUTH_a', 'photos', layout='prefix',
                              key_prefix='/backup/{account}/{container}/')
    assert lay.object_key('x/y') == 'backup/AUTH_a/photos/x/y'
    assert lay.manifest_key('o').startswith(
        'backup/AUTH_a/photos/.manifests/')


def test_native_layout_uses_object_names_as_keys():
    lay = layout.RemoteLayout('AUTH_a', 'photos', layout='native')
    assert lay.object_key('a/b.jpg') == 'a/b.jpg'
    assert lay.manifest_key('o') == (
        '.manifests/%s.swift_slo_manifest' % hashlib.sha256(b'o').hexdigest())


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match='layout must be one of'):
        layout.RemoteLayout('a', 'c', layout='flat')


def test_object_name_refuses_keys_of_other_containers():
    lay = layout.RemoteLayout('AUTH_a', 'c1')
    other = layout.RemoteLayout('AUTH_a', 'c2')
    with pytest.raises(ValueError):
        lay.object_name(other.object_key('x'))


@given(account=names.filter(lambda s: '/' not in s),
       container=names.filter(lambda s: '/' not in s),
       name=names,
       style=st.sampled_from(layout.LAYOUTS))
def test_keys_round_trip_to_names(account, container, name, style):
    lay = layout.RemoteLayout(account, container, layout=style,
                              key_prefix='p/{container}')
    key = lay.object_key(name)
    assert lay.object_name(key) == name
    assert key.startswith(lay.listing_prefix())
    assert not lay.is_internal_key(key) or name.startswith('.manifests/')


@pytest.mark.parametrize('kind,key_prefix,expected', [
    ('hashed', '', '%s/.dlo/AUTH_a/c/segs/p/1' % layout.hashed_prefix(
        'AUTH_a', 'c')),
    ('prefix', 'backup/{container}', 'backup/c/.dlo/segs/p/1'),
    ('native', '', '.dlo/segs/p/1'),
])
def test_dlo_segments_have_a_namespace_of_their_own(kind, key_prefix,
                                                    expected):
    remote = layout.RemoteLayout('AUTH_a', 'c', kind, key_prefix=key_prefix)
    assert remote.dlo_key('segs', 'p/1') == expected
    assert layout.in_dlo_namespace(expected)
    assert not remote.object_key('p/1').startswith(
        remote.dlo_key('segs', ''))


@pytest.mark.parametrize('key,expected', [
    ('.dlo/segs/', True), ('.dlo/segs/p', True), ('a/.dlo/s/x', True),
    ('', False), ('videos', False), ('.dlo/', False), ('.dlo/segs', False),
    ('x.dlo/segs/', False), ('.dlo//p', False),
])
def test_in_dlo_namespace(key, expected):
    assert layout.in_dlo_namespace(key) is expected
