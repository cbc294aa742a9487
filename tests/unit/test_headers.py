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

from cloudsync import exceptions
from cloudsync import headers
from cloudsync import metadata
from cloudsync import providers
from cloudsync.shunt import objects as shunt_object

SMUGGLED = 'x\r\nSet-Cookie: a=b'


@given(st.text(alphabet=st.characters(blacklist_categories=('Cs',))))
def test_a_value_that_passes_has_no_line_break_for_any_client(value):
    if headers.value_problem(value) is None:
        assert value.splitlines() in ([value], [])
        assert '\r' not in value and '\n' not in value


@pytest.mark.parametrize('value', [
    SMUGGLED, 'a\nb', 'a\rb', 'a\x00b', 'a\x04', '\x7f', 'a\x85b',
    'a\u2028b', 'a\u2029b', '\udc00'])
def test_control_characters_are_refused_in_values(value):
    assert headers.value_problem(value)


@pytest.mark.parametrize('value', [
    '', 'plain', 'tab\tinside', 'h\u00e9llo \u2603', '\U0001F600',
    '  spaces  ', '\udcff raw byte kept by surrogateescape'])
def test_text_a_header_may_carry_is_accepted(value):
    assert headers.value_problem(value) is None


@pytest.mark.parametrize('name', [
    'X-Object-Meta-A\r\nSet-Cookie', 'X-Object-Meta-A B',
    'X-Object-Meta-A:B', 'X-Object-Meta-\x00', ''])
def test_bad_names_are_refused(name):
    assert headers.name_problem(name)


def test_unicode_names_are_accepted():
    assert headers.name_problem('X-Object-Meta-\u00dcn\u00efcode') is None


def test_safe_headers_keeps_what_may_be_sent_and_names_the_rest():
    kept, dropped = headers.safe_headers({
        'X-Object-Meta-Good': 'blue', 'X-Object-Meta-Bad': SMUGGLED,
        'X-Object-Meta-Long': 'v' * headers.MAX_HEADER_LINE})
    assert kept == {'X-Object-Meta-Good': 'blue'}
    assert [name for name, _why in dropped] == [
        "'X-Object-Meta-Bad'", "'X-Object-Meta-Long'"]
    assert '\r' not in headers.describe_dropped(dropped)


@pytest.mark.parametrize('value', ['inf', '1e400', 'nan', '-1', 'x',
                                   '99999999999', None, ''])
def test_numbers_that_are_not_give_none(value):
    assert headers.timestamp(value) is None
    assert headers.whole_seconds(value) is None


def test_numbers_in_range_are_read():
    assert headers.timestamp('1700000000.12345').normal == '1700000000.12345'
    assert headers.whole_seconds('1700000000.5') == 1700000000


@pytest.mark.parametrize('value', ['a"b', 'a b', 'x\r\n', '', None,
                                   'e' * 300])
def test_etags_that_cannot_be_sent_give_none(value):
    assert headers.safe_etag(value) is None


def _info(meta, etag='d41d8cd98f00b204e9800998ecf8427e'):
    return providers.ObjectInfo(key='k', size=0, etag=etag,
                                last_modified=1700000000.0,
                                content_type='text/plain', metadata=meta)


def test_a_remote_object_leaves_out_what_it_could_not_send():
    smuggled = '=?UTF-8?B?eA0KU2V0LUNvb2tpZTogYT1i?='
    remote = shunt_object.RemoteObject(_info({
        'good': 'blue', 'bad': smuggled,
        metadata.KEY_ESCAPE_PREFIX + 'k%0d%0aset-cookie%3a%20a': 'v',
        metadata.TIMESTAMP_KEY: 'inf', metadata.DELETE_AT_KEY: '1e400',
        metadata.DELETED_AT_KEY: '1e400', metadata.ETAG_KEY: smuggled}))

    sent = remote.headers()

    assert sent['X-Object-Meta-Good'] == 'blue'
    assert 'X-Object-Meta-Bad' not in sent
    assert not any('\r' in k or '\n' in k or '\r' in v or '\n' in v
                   for k, v in sent.items())
    assert sent['ETag'] == 'd41d8cd98f00b204e9800998ecf8427e'
    assert sent['X-Timestamp'] == '1700000000.00000'
    assert remote.delete_at is None and remote.deleted_at is None
    assert len(remote.dropped) == 2


def test_a_remote_object_without_a_usable_etag_is_sent_without_one():
    remote = shunt_object.RemoteObject(_info({}, etag='not "one"'))
    assert 'ETag' not in remote.headers()
    assert not remote.etag_is_md5()


def test_the_daemon_refuses_metadata_a_remote_could_not_give_back():
    with pytest.raises(exceptions.InvalidObject) as err:
        metadata.check_for_remote({'X-Object-Meta-Note': 'a\x04b',
                                   'X-Object-Meta-Fine': 'ok',
                                   'Content-Type': 'text/plain'})
    assert 'X-Object-Meta-Note' in str(err.value)
    assert 'control character' in str(err.value)
    metadata.check_for_remote({'X-Object-Meta-Fine': 'h\u00e9llo',
                               'X-Object-Meta-Tab': 'a\tb'})


@given(st.text(alphabet=st.characters(blacklist_categories=('Cs',)),
               max_size=20),
       st.text(alphabet=st.characters(blacklist_categories=('Cs',))))
def test_a_header_that_passes_carries_nothing_a_client_splits_on(name, value):
    if headers.header_problem(name, value) is None:
        assert name and ':' not in name and ' ' not in name
        for text in (name, value):
            assert not any(ord(c) < 0x20 and c != '\t' for c in text)
            assert '\x7f' not in text and '\x85' not in text
            assert '\u2028' not in text and '\u2029' not in text
