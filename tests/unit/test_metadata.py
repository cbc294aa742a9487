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

from hypothesis import given
from hypothesis import strategies as st
import pytest

from cloudsync import metadata

# Any unicode text, 4-byte characters and control characters included
# (but no lone surrogates, which cannot be UTF-8).
values = st.text(alphabet=st.characters(blacklist_categories=('Cs',)),
                 max_size=3000)
keys = st.from_regex(r'\A[a-z0-9][a-z0-9_-]{0,40}\Z')
# Swift title-cases metadata keys; any text that is already in that form
unicode_keys = st.text(
    alphabet=st.characters(blacklist_categories=('Cs', 'Cc', 'Zs', 'Zl',
                                                 'Zp')),
    min_size=1, max_size=20).filter(
        lambda k: ':' not in k and k.lower().title() == k.title())

HEADER_SAFE = set(chr(c) for c in range(0x20, 0x7f))


@given(values)
def test_values_round_trip_exactly(value):
    encoded = metadata.encode_value(value)
    assert set(encoded) <= HEADER_SAFE
    assert encoded == encoded.strip()
    assert metadata.decode_value(encoded) == value


@given(st.dictionaries(keys, values, max_size=20))
def test_swift_headers_round_trip(user_meta):
    headers = {'X-Object-Meta-' + k.title(): v for k, v in user_meta.items()}
    headers['Content-Type'] = 'text/plain'
    remote = metadata.swift_to_remote(headers)
    assert all(k == k.lower() for k in remote)
    back = metadata.remote_to_swift(remote)
    assert back == {k: v for k, v in headers.items()
                    if k != 'Content-Type'}
    assert metadata.same_metadata(headers, remote)


@pytest.mark.parametrize('value', [
    'plain', 'has spaces inside', '100%', 'a=?b', ' lead', 'trail ',
    'unicodé', '\U0001f44d', '\x04w', '', '=?UTF-8?B?Zm9v?=',
])
def test_examples_round_trip(value):
    assert metadata.decode_value(metadata.encode_value(value)) == value


def test_printable_values_stay_readable():
    assert metadata.encode_value('blue sky') == 'blue sky'


@pytest.mark.parametrize('stored,value', [
    ('=?UTF-8?Q?=04w?=', '\x04w'),
    ('=?UTF-8?Q?h=04?=', 'h\x04'),
    ('=?UTF-8?B?BAQEBAQ=?=', '\x04' * 5),
    ('=?utf-8?q?caf=C3=A9?=', 'café'),
    ('=?UTF-8?B?Zm9v?= =?UTF-8?B?YmFy?=', 'foobar'),
])
def test_reads_swift_s3_sync_encodings(stored, value):
    assert metadata.decode_value(stored) == value


@given(st.dictionaries(unicode_keys, values, max_size=10))
def test_any_key_round_trips_as_ascii(user_meta):
    headers = {'X-Object-Meta-' + k.title(): v for k, v in user_meta.items()}
    remote = metadata.swift_to_remote(headers)
    for key in remote:
        assert key.isascii() and key == key.lower()
    # S3 lower-cases keys (and so the escapes' hex digits)
    remote = {k.lower(): v for k, v in remote.items()}
    assert metadata.remote_to_swift(remote) == headers
    assert metadata.internal_values(remote) == {}


def test_non_ascii_keys_are_stored_percent_encoded():
    remote = metadata.swift_to_remote({'X-Object-Meta-Ünïcode': 'v'})
    assert remote == {'cloudsync-key-%c3%bcn%c3%afcode': 'v'}
    assert metadata.remote_to_swift({'cloudsync-key-%c3%bcn%c3%afcode': 'v'}
                                    ) == {'X-Object-Meta-Ünïcode': 'v'}


def test_large_object_headers_travel_under_their_own_names():
    remote = metadata.swift_to_remote({
        'X-Static-Large-Object': 'True',
        'X-Object-Manifest': 'segs/pre fix',
    })
    assert remote == {'x-static-large-object': 'True',
                      'x-object-manifest': 'segs/pre fix'}
    assert metadata.remote_to_swift(remote) == {
        'X-Static-Large-Object': 'True',
        'X-Object-Manifest': 'segs/pre fix'}


def test_user_keys_that_clash_with_internal_keys_round_trip():
    headers = {'X-Object-Meta-Swift-Slo-Etag': 'mine',
               'X-Object-Meta-Cloudsync-Timestamp': 'also mine'}
    remote = metadata.swift_to_remote(headers)
    assert metadata.SLO_ETAG_KEY not in remote
    assert metadata.TIMESTAMP_KEY not in remote
    remote[metadata.TIMESTAMP_KEY] = '1700000000.00000'
    assert metadata.remote_to_swift(remote) == headers
    assert metadata.internal_values(remote) == {
        metadata.TIMESTAMP_KEY: '1700000000.00000'}


def test_content_type_is_not_user_metadata():
    assert metadata.swift_to_remote({'Content-Type': 'image/png'}) == {}


def test_different_values_are_not_the_same_metadata():
    assert not metadata.same_metadata(
        {'X-Object-Meta-A': 'Blue'},
        metadata.swift_to_remote({'X-Object-Meta-A': 'blue'}))
    assert not metadata.same_metadata(
        {'X-Object-Meta-A': 'x'}, {})


def test_local_dlo_manifest_comes_from_the_kept_source_percent_encoded():
    remote_dlo = {metadata.DLO_KEY: 'bkt_segments/.dlo/a/c/segs/p/',
                  metadata.DLO_SOURCE_KEY: metadata.encode_value(
                      'segs/vidéo 1/')}

    assert metadata.local_dlo_manifest(remote_dlo) == 'segs/vid%C3%A9o%201/'
    assert metadata.local_dlo_manifest(
        {metadata.DLO_KEY: 'segs/p/'}) is None
    assert metadata.local_dlo_manifest(
        {metadata.DLO_SOURCE_KEY: 'segs/p/'}) is None
