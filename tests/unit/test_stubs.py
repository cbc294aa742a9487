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

from swift.common import utils as swift_utils

from cloudsync import stubs


def make_stub(**kwargs):
    values = dict(remote='moto', bucket='bucket', key='h/AUTH_a/c/ü obj',
                  remote_etag='abc-2', size=1234, etag='d' * 32,
                  kind='slo', timestamp=swift_utils.Timestamp(1700000000.5),
                  content_type='text/plain; charset=ü',
                  manifest_key='h/AUTH_a/c/.manifest', storage_class=None)
    values.update(kwargs)
    return stubs.ArchiveStub(**values)


def test_a_stub_reads_back_what_it_recorded():
    stub = make_stub()
    headers = stub.sysmeta()
    assert all(k.startswith('X-Object-Sysmeta-Cloudsync-Archive-')
               for k in headers)
    assert all(v.isascii() for v in headers.values())
    assert stubs.ArchiveStub.from_headers(headers) == stub
    lower = {k.lower(): v for k, v in headers.items()}
    assert stubs.ArchiveStub.from_headers(lower) == stub


def test_headers_without_a_key_or_timestamp_are_no_stub():
    headers = make_stub().sysmeta()
    assert stubs.is_stub(headers)
    for name in (stubs.KEY, stubs.TIMESTAMP):
        partial = {k: v for k, v in headers.items() if k.lower() != name}
        assert not stubs.is_stub(partial)
    assert not stubs.is_stub({'Content-Type': stubs.STUB_CONTENT_TYPE})
    bad = dict(headers)
    bad['X-Object-Sysmeta-Cloudsync-Archive-Size'] = 'many'
    assert not stubs.is_stub(bad)


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
