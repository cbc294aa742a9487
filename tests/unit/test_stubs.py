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
"""Archive stubs: what a stub records, and how it is read back."""

import urllib.parse

import pytest
from swift.common import utils as swift_utils

from cloudsync import metadata
from cloudsync import stubs


def make_stub(**kwargs):
    values = dict(remote='moto', bucket='bucket', key='h/AUTH_a/c/ü obj',
                  remote_etag='abc-2', size=1234, etag='d' * 32,
                  kind='slo', timestamp=swift_utils.Timestamp(1700000000.5),
                  content_type='text/plain; charset=ü',
                  manifest_key='h/AUTH_a/c/.manifest', storage_class=None)
    values.update(kwargs)
    return stubs.ArchiveStub(**values)


RECORD = 'X-Object-Sysmeta-Cloudsync-Archive-Record'
PREFIX = 'X-Object-Sysmeta-Cloudsync-Archive-'


def legacy_sysmeta(stub):
    """The nine headers (or eleven) earlier builds wrote for ``stub``."""
    prefix = PREFIX
    headers = {
        prefix + 'Remote': urllib.parse.quote(stub.remote, safe='/'),
        prefix + 'Bucket': urllib.parse.quote(stub.bucket, safe='/'),
        prefix + 'Key': urllib.parse.quote(stub.key, safe='/'),
        prefix + 'Remote-Etag': stub.remote_etag,
        prefix + 'Size': str(stub.size),
        prefix + 'Etag': stub.etag,
        prefix + 'Kind': stub.kind,
        prefix + 'Timestamp': stub.timestamp.internal,
        prefix + 'Content-Type': metadata.encode_value(stub.content_type),
    }
    if stub.manifest_key:
        headers[prefix + 'Manifest-Key'] = urllib.parse.quote(
            stub.manifest_key, safe='/')
    if stub.storage_class:
        headers[prefix + 'Storage-Class'] = stub.storage_class
    return headers


def test_a_stub_reads_back_what_it_recorded():
    stub = make_stub()
    headers = stub.sysmeta()
    assert list(headers) == [RECORD]
    # NOTE: earlier builds refuse to copy an object with a header of this
    # prefix that they cannot read: never zero bytes over the remote copy
    assert RECORD.lower().startswith(PREFIX.lower())
    value = headers[RECORD]
    assert value.isascii() and value.isprintable()
    assert not any(c.isspace() for c in value)
    assert value.startswith('1;')
    assert stubs.ArchiveStub.from_headers(headers) == stub
    lower = {k.lower(): v for k, v in headers.items()}
    assert stubs.ArchiveStub.from_headers(lower) == stub
    assert stubs.ArchiveStub.from_record(value) == stub


def test_the_record_is_one_short_header():
    stub = make_stub(key='h/AUTH_test/c/obj', content_type='text/plain',
                     manifest_key=None)
    headers = stub.sysmeta()
    # NOTE: Swift pickles an object's metadata into xattrs of 254 bytes:
    # the nine headers of earlier builds took more than two.
    size = sum(len(k) + len(v) for k, v in headers.items())
    legacy = sum(len(k) + len(v) for k, v in legacy_sysmeta(stub).items())
    assert size < 160 < legacy / 2


@pytest.mark.parametrize('changes', [
    {},
    {'kind': 'plain', 'manifest_key': None},
    {'kind': 'dlo', 'manifest_key': None, 'storage_class': 'GLACIER'},
    {'kind': 'link', 'remote': '', 'remote_etag': '', 'etag': ''},
    {'key': 'h/AUTH_ü/ç ;%/ö;x=1%2F', 'bucket': 'bücket;1',
     'content_type': 'text/plain; charset="ü"; x=%41',
     'manifest_key': 'h/AUTH_ü/ç ;%/.manifest ö', 'storage_class':
     'DEEP_ARCHIVE', 'remote': 'remote;ü', 'remote_etag': 'ab"c-2'},
    {'timestamp': swift_utils.Timestamp(1700000000.5, offset=3),
     'size': 0},
    {'key': 'h/a/c/\udcff bad utf-8'},
])
def test_every_field_round_trips(changes):
    stub = make_stub(**changes)
    headers = stub.sysmeta()
    assert all(v.isascii() for v in headers.values())
    assert stubs.ArchiveStub.from_headers(headers) == stub
    assert stubs.is_stub(headers)
    assert stubs.unreadable_stub(headers) is None


@pytest.mark.parametrize('changes', [
    {}, {'kind': 'plain', 'manifest_key': None, 'storage_class': 'GLACIER'},
    {'key': 'h/AUTH_ü/ç %/ö', 'content_type': 'text/plain; charset=ü'},
])
def test_the_headers_of_earlier_builds_are_still_read(changes):
    stub = make_stub(**changes)
    headers = legacy_sysmeta(stub)
    assert stubs.ArchiveStub.from_headers(headers) == stub
    assert stubs.ArchiveStub.from_headers(
        {k.lower(): v for k, v in headers.items()}) == stub
    assert stubs.unreadable_stub(headers) is None


def test_headers_of_earlier_builds_without_a_key_or_timestamp_are_no_stub():
    headers = legacy_sysmeta(make_stub())
    assert stubs.is_stub(headers)
    for name in (stubs.KEY, stubs.TIMESTAMP):
        partial = {k: v for k, v in headers.items() if k.lower() != name}
        assert not stubs.is_stub(partial)
        assert stubs.unreadable_stub(partial)
    assert not stubs.is_stub({'Content-Type': stubs.STUB_CONTENT_TYPE})
    bad = dict(headers)
    bad[PREFIX + 'Size'] = 'many'
    assert not stubs.is_stub(bad)


def _damaged(value):
    return {RECORD: value, 'Content-Length': '0',
            'Content-Type': stubs.STUB_CONTENT_TYPE}


@pytest.mark.parametrize('damage', [
    lambda v: '', lambda v: '2' + v[1:], lambda v: v + ';',
    lambda v: v.rsplit(';', 1)[0], lambda v: v[:-1],
    lambda v: v.replace(';1234;', ';many;'),
    lambda v: v.replace(';1234;', ';-1;'),
    lambda v: v.replace(';1700000000.50000;', ';then;'),
    lambda v: v.replace(';slo', ';folder'),
    lambda v: v.replace(';h/', ';ü/'),
    lambda v: v.replace(';h/AUTH_a/c/%C3%BC%20obj;', ';;'),
    lambda v: '1/2' + v[1:],
])
def test_a_damaged_record_is_no_stub(damage):
    value = make_stub().sysmeta()[RECORD]
    headers = _damaged(damage(value))
    assert headers[RECORD] != value
    assert stubs.ArchiveStub.from_headers(headers) is None
    assert not stubs.is_stub(headers)
    assert 'cannot be read' in stubs.unreadable_stub(headers)


def test_a_long_record_is_written_in_parts():
    stub = make_stub(key='h/AUTH_a/c/' + 'ö' * 1000,
                     manifest_key='h/AUTH_a/c/.m/' + 'ö' * 1000,
                     content_type='text/ü' + 'ü' * 600)
    headers = stub.sysmeta()
    assert len(headers) > 1
    assert all(len(v) <= stubs.RECORD_PART_SIZE for v in headers.values())
    assert sorted(headers) == sorted(
        [RECORD] + [RECORD + '-Part%d' % n for n in range(
            2, len(headers) + 1)])
    assert stubs.ArchiveStub.from_headers(headers) == stub
    for missing in list(headers)[1:]:
        partial = {k: v for k, v in headers.items() if k != missing}
        assert not stubs.is_stub(partial)
        assert stubs.unreadable_stub(partial)
    assert not stubs.is_stub({k: v for k, v in headers.items()
                              if k != RECORD})


def test_the_stub_is_one_offset_step_after_the_archived_version():
    archived = swift_utils.Timestamp(1700000000.5)
    stub_ts = stubs.stub_timestamp(archived)
    assert stub_ts > archived
    assert stub_ts.normal == archived.normal
    assert stub_ts < swift_utils.Timestamp(1700000000.50001)
    assert stubs.stub_timestamp(swift_utils.Timestamp(
        archived, offset=3)).offset == 4


def test_container_overrides_use_swifts_names():
    overrides = stubs.container_overrides('e; slo_etag=x', 10,
                                          'video/mp4;swift_bytes=99')
    assert overrides == {
        'X-Object-Sysmeta-Container-Update-Override-Etag': 'e; slo_etag=x',
        'X-Object-Sysmeta-Container-Update-Override-Size': '10',
        'X-Object-Sysmeta-Container-Update-Override-Content-Type':
            'video/mp4;swift_bytes=99'}


def test_a_posted_content_type_wins_over_the_originals():
    stub = make_stub(content_type='text/original')
    assert stubs.served_content_type(stub, stubs.STUB_CONTENT_TYPE) == \
        'text/original'
    assert stubs.served_content_type(stub, '') == 'text/original'
    assert stubs.served_content_type(stub, 'text/posted') == 'text/posted'
