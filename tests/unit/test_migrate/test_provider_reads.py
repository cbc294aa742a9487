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
"""The provider interface's optional reads a migration source uses:
their defaults, the s3 and swift providers' answers, and the migrator
reading only them.
"""

import json
import pathlib
import re
import types

import pytest

from cloudsync import exceptions
from cloudsync.migrate import source as source_mod
from cloudsync import providers
from tests.unit import fakes
from tests.unit.test_migrate import helpers
from tests.unit import test_s3_provider as s3_tests
from tests.unit.test_swift_provider import make_provider  # noqa: F401
from tests.unit.test_swift_provider import provider  # noqa: F401
from tests.unit.test_swift_provider import respond
from tests.unit.test_swift_provider import server  # noqa: F401


class Minimal(fakes.FakeProvider):
    """A provider with nothing but the required methods' behaviour."""


@pytest.mark.parametrize('call', [
    lambda p: p.list_buckets(),
    lambda p: p.container_metadata('b'),
    lambda p: p.slo_manifest('b', 'k'),
    lambda p: p.symlink_target('b', 'k'),
    lambda p: p.part_ranges('b', 'k', providers.ObjectInfo(
        key='k', size=10, etag='x-2', last_modified=0, parts_count=2)),
    lambda p: p.guess_part_ranges('b', 'k', providers.ObjectInfo(
        key='k', size=10, etag='x-2', last_modified=0, parts_count=2)),
])
def test_the_optional_reads_are_not_supported_by_default(call):
    with pytest.raises(exceptions.NotSupported):
        call(Minimal())


# -- s3 --------------------------------------------------------------------

BUCKETS_XML = b'''<?xml version="1.0" encoding="UTF-8"?>
<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Owner><ID>me</ID></Owner><Buckets>
<Bucket><Name>zeta</Name><CreationDate>2024-01-01T00:00:00.000Z</CreationDate>
</Bucket>
<Bucket><Name>alpha</Name><CreationDate>2024-01-01T00:00:00.000Z</CreationDate>
</Bucket>
</Buckets></ListAllMyBucketsResult>'''


@pytest.fixture
def h():
    harness = s3_tests.Harness()
    yield harness
    harness.provider.close()


def test_s3_lists_the_buckets_of_the_credentials(h):
    h.fake.reply(200, BUCKETS_XML)

    assert h.provider.list_buckets() == ['alpha', 'zeta']
    assert h.fake.ops() == ['GET /']


def test_s3_bucket_listing_errors_are_translated(h):
    h.fake.error(403, 'AccessDenied')

    with pytest.raises(exceptions.RemoteError) as caught:
        h.provider.list_buckets()
    assert 'ListBuckets' in str(caught.value)


def info(size, parts_count):
    return providers.ObjectInfo(key='k', size=size, etag='abc-2',
                                last_modified=0, parts_count=parts_count)


def part_sizes(h, *sizes):
    """Answer every HEAD ``?partNumber=N`` with part N's size."""
    def answer(sent):
        number = int(sent.url.split('partNumber=')[1].split('&')[0])
        return (206, b'', {'content-length': str(sizes[number - 1])})
    h.fake.default = answer


def part_numbers(h):
    return sorted(int(s.url.split('partNumber=')[1]) for s in h.fake.sent)


def test_s3_part_ranges_are_the_objects_own_parts(h):
    part_sizes(h, 5, 2)

    assert h.provider.part_ranges('b', 'k', info(7, 2)) == [(0, 5), (5, 2)]
    assert part_numbers(h) == [1, 2]


def test_s3_part_ranges_asks_for_the_parts_a_few_at_once(h):
    sizes = [5] * 11 + [3]
    part_sizes(h, *sizes)
    inflight, peak = [], []

    def answer(sent, inner=h.fake.default):
        inflight.append(sent)
        peak.append(len(inflight))
        try:
            return inner(sent)
        finally:
            inflight.remove(sent)
    h.fake.default = answer

    ranges = h.provider.part_ranges('b', 'k', info(58, 12))

    assert ranges == [(5 * n, 5) for n in range(11)] + [(55, 3)]
    assert part_numbers(h) == list(range(1, 13))
    assert max(peak) <= h.provider.part_workers()


def test_s3_part_ranges_that_do_not_add_up_are_none(h):
    part_sizes(h, 5, 5)

    assert h.provider.part_ranges('b', 'k', info(7, 2)) is None


def test_s3_guesses_parts_of_the_first_parts_size_from_one_head(h):
    part_sizes(h, 5, 5, 5, 2)

    assert h.provider.guess_part_ranges('b', 'k', info(17, 4)) == [
        (0, 5), (5, 5), (10, 5), (15, 2)]
    assert part_numbers(h) == [1]


def test_s3_asks_every_part_when_the_first_one_cannot_be_the_size(h):
    # 3 + 9 + 2: parts of 3 bytes cannot make 14 in 3 parts
    part_sizes(h, 3, 9, 2)

    assert h.provider.guess_part_ranges('b', 'k', info(14, 3)) == [
        (0, 3), (3, 9), (12, 2)]
    assert part_numbers(h) == [1, 1, 2, 3]


def test_s3_no_guess_for_an_object_in_one_part(h):
    assert h.provider.guess_part_ranges('b', 'k', info(7, 1)) is None
    assert h.fake.sent == []


def test_s3_an_object_in_one_part_has_no_part_ranges(h):
    assert h.provider.part_ranges('b', 'k', info(7, None)) is None
    assert h.provider.part_ranges('b', 'k', info(7, 1)) is None
    assert h.fake.sent == []


# -- swift -------------------------------------------------------------------

def test_swift_lists_the_accounts_containers(provider, server):  # noqa: F811
    server.containers['b'] = {}

    def account_get(request, container, name, query, headers, body):
        if container:
            return type(server).container_get(
                server, request, container, name, query, headers, body)
        listing = [{'name': n, 'count': 0, 'bytes': 0}
                   for n in sorted(server.containers)
                   if n > query.get('marker', '')]
        return respond(request, 200, {'Content-Type': 'application/json'},
                       json.dumps(listing).encode())
    server.container_get = account_get

    assert provider.list_buckets() == ['b', 'c']


def test_swift_container_metadata_is_its_metadata_and_acls(
        provider, server):  # noqa: F811
    server.containers['c'].update({
        'X-Container-Meta-Colour': 'blue',
        'X-Container-Read': '.r:*', 'X-Container-Write': 'a:b'})

    assert provider.container_metadata('c') == {
        'x-container-meta-colour': 'blue', 'x-container-read': '.r:*',
        'x-container-write': 'a:b'}
    with pytest.raises(exceptions.TargetNotFound):
        provider.container_metadata('missing')


def test_swift_slo_manifest_lists_the_segments(provider, server):  # noqa: F811
    server.objects[('c', 'big')] = {
        'headers': {}, 'etag': 'e', 'body': b'ab', 'timestamp': '1.00000',
        'manifest': [{'name': '/c/s1', 'hash': 'h1', 'bytes': 1},
                     {'name': '/c/s2', 'hash': 'h2', 'bytes': 1}]}

    assert provider.slo_manifest('c', 'big') == [
        {'name': '/c/s1', 'hash': 'h1', 'bytes': 1},
        {'name': '/c/s2', 'hash': 'h2', 'bytes': 1}]
    with pytest.raises(exceptions.NotFound):
        provider.slo_manifest('c', 'missing')


def test_swift_symlink_target_is_unquoted(provider, server):  # noqa: F811
    provider.put_object('c', 't\u00e4rget', fakes.reader(b'data'), 4)
    provider.put_symlink('c', 'link', 'c/t\u00e4rget')

    assert provider.symlink_target('c', 'link') == ('c/t\u00e4rget', None)
    assert provider.symlink_target('c', 't\u00e4rget') is None
    with pytest.raises(exceptions.NotFound):
        provider.symlink_target('c', 'missing')


# -- the migrator ------------------------------------------------------------

def test_the_source_reads_only_the_provider_interface():
    text = pathlib.Path(source_mod.__file__).read_text()
    assert re.findall(r'provider\._\w+|\.client\.', text) == []


def test_a_source_without_the_optional_reads_does_without():
    source = source_mod.MigrationSource(
        helpers.migration(Minimal()), Minimal())
    assert source.part_ranges('b', 'k', info(7, 2)) is None
    swift_like = source_mod.MigrationSource(
        types.SimpleNamespace(source_is_swift=True), Minimal())
    assert swift_like.container_headers('b') == {}
    assert swift_like.symlink('b', 'k') is None
    every = source_mod.MigrationSource(
        types.SimpleNamespace(every_bucket=True, source_is_swift=False,
                              remote=types.SimpleNamespace(
                                  provider_name='minimal')), Minimal())
    with pytest.raises(exceptions.NotSupported, match='name one in bucket'):
        every.buckets()


def test_the_source_keeps_only_metadata_and_acls_of_a_swift_container():
    class Store(Minimal):
        def container_metadata(self, bucket):
            return {'x-container-meta-colour': 'blue',
                    'x-container-read': '.r:*'}
    source = source_mod.MigrationSource(
        types.SimpleNamespace(source_is_swift=True), Store())

    assert source.container_headers('b') == {
        'X-Container-Meta-Colour': 'blue', 'X-Container-Read': '.r:*'}
