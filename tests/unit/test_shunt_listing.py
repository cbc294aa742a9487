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
"""Merged container listings of the cloud shunt.

The reference is Swift itself: the listing the shunt gives of a container
whose objects are partly in Swift and partly on the remote must be the
listing Swift's container server gives of one container holding all of
them (``shunt_fakes.swift_listing`` runs Swift's own container database
code), in every format and with every listing parameter.
"""

import json
import tempfile
import tracemalloc

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
import pytest
from swift.common import utils as swift_utils

from cloudsync import exceptions
from cloudsync import layout as layout_mod
from cloudsync import providers
from cloudsync.shunt import listing as shunt_listing
from tests.unit import shunt_fakes
from tests.unit.shunt_fakes import ACCOUNT
from tests.unit.shunt_fakes import BUCKET
from tests.unit.shunt_fakes import CONTAINER

REMOTE_TIME = 1650000000.5


def make_world(tmp, local=(), remote=(), manifests=(), **options):
    world = shunt_fakes.ShuntWorld(tmp, **options)
    world.provider.clock = lambda: REMOTE_TIME
    for name in local:
        world.put(name, name.encode('utf-8'), content_type='text/plain')
    for name in remote:
        world.remote_only(name, b'remote:' + name.encode('utf-8'))
    for name in manifests:
        world.provider.put_raw(BUCKET, world.layout.manifest_key(name),
                               b'[]')
    return world


def expected_entries(world, local, remote):
    """Swift's view of a container holding every object."""
    entries = {}
    for name in remote:
        data = b'remote:' + name.encode('utf-8')
        entries[name] = {'hash': shunt_fakes.md5(data), 'bytes': len(data),
                         'content_type': 'application/octet-stream',
                         'timestamp': REMOTE_TIME}
    entries.update(world.swift.entries(ACCOUNT, CONTAINER))
    return entries


def swift_answer(world, local, remote, params):
    checked = dict(params)
    checked['limit'] = int(checked.get('limit', 10000))
    return shunt_fakes.swift_listing(
        world.tmp_path, expected_entries(world, local, remote), checked)


def shunt_answer(world, app=None, **params):
    resp = world.listing(app=app, format='json', **params)
    assert resp.status_int == 200, resp.body
    return json.loads(resp.body)


def without_location(listing):
    return [{k: v for k, v in e.items() if k != 'content_location'}
            for e in listing]


def key(entry):
    return entry.get('name', entry.get('subdir'))


# -- the union is Swift's listing of the union ------------------------------

ALPHABET = 'ab/.é'
#: names made of path-like parts, so that delimiters find something to do
names = st.lists(st.sampled_from(['a', 'b', 'ab', 'é', '.a', '']),
                 min_size=1, max_size=3).map('/'.join).filter(bool)
layouts = st.sampled_from([{}, {'layout': 'prefix', 'key_prefix': 'p'},
                           {'layout': 'native'}])


def near(name_list):
    """Markers and prefixes near the names.

    Swift's corner cases are bounds inside a subdir and bounds equal to a
    subdir.
    """
    candidates = set()
    for name in name_list:
        for end in range(1, len(name) + 1):
            candidates.add(name[:end])
        candidates.add(name + 'a')
        candidates.add(name[:-1] + '0')
    return st.one_of(st.just(''), st.text(ALPHABET, max_size=3),
                     st.sampled_from(sorted(candidates) or ['a']))


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), local=st.sets(names, max_size=7),
       remote=st.sets(names, min_size=1, max_size=7), layout=layouts)
def test_a_merged_listing_is_swifts_listing_of_every_object(
        data, local, remote, layout):
    everything = sorted(local | remote)
    drawn = data.draw(st.fixed_dictionaries({
        'prefix': near(everything),
        'delimiter': st.sampled_from(['', '/', '/', 'b', '/a', '.']),
        'marker': near(everything),
        'end_marker': near(everything),
        'limit': st.one_of(st.just(''), st.integers(0, 7).map(str)),
        'reverse': st.sampled_from(['', 'true', 'false']),
    }))
    params = {k: v for k, v in drawn.items() if v}
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(tmp, local, remote, manifests=remote, **layout)
        expected = swift_answer(world, local, remote, params)

        got = shunt_answer(world, **params)

        assert without_location(got) == expected
        local_keys = {key(e) for e in shunt_fakes.swift_listing(
            tmp, world.swift.entries(ACCOUNT, CONTAINER),
            dict(params, limit=10000))}
        for entry in got:
            assert ('content_location' in entry) == \
                (key(entry) not in local_keys), entry


# -- cases worth naming ----------------------------------------------------

@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path, local=['a', 'c', 'd/1', 'e'],
                      remote=['b', 'c', 'd/2', 'f/1', 'g'])


def test_remote_only_entries_carry_their_location(world):
    got = shunt_answer(world)

    by_key = {key(e): e for e in got}
    assert [key(e) for e in got] == ['a', 'b', 'c', 'd/1', 'd/2', 'e',
                                     'f/1', 'g']
    assert by_key['b']['content_location'] == [
        'https://remote.example.com;bkt;%s' % world.layout.key_prefix]
    assert 'content_location' not in by_key['a']


def test_a_name_on_both_sides_is_listed_once_as_swift_has_it(world):
    got = shunt_answer(world)

    c, = [e for e in got if key(e) == 'c']
    assert c['hash'] == shunt_fakes.md5(b'c')
    assert c['content_type'] == 'text/plain'
    assert 'content_location' not in c


def test_remote_entries_say_what_the_remote_listing_says(world):
    got = shunt_answer(world)

    b, = [e for e in got if key(e) == 'b']
    assert b == {'name': 'b', 'bytes': 8, 'hash': shunt_fakes.md5(
        b'remote:b'), 'content_type': 'application/octet-stream',
        'last_modified': swift_utils.Timestamp(REMOTE_TIME).isoformat,
        'content_location': b['content_location']}


def test_subdirs_from_both_sides_are_listed_once(world):
    got = shunt_answer(world, delimiter='/')

    assert [key(e) for e in got] == ['a', 'b', 'c', 'd/', 'e', 'f/', 'g']
    d, f = got[3], got[5]
    assert 'content_location' not in d
    assert 'content_location' in f


def test_paging_with_markers_walks_the_whole_listing(world):
    full = shunt_answer(world)
    pages, marker = [], ''
    while True:
        page = shunt_answer(world, limit=3, marker=marker)
        if not page:
            break
        pages.extend(page)
        marker = key(page[-1])

    assert pages == full


def test_reverse_paging_walks_the_whole_listing_backwards(world):
    full = shunt_answer(world)
    pages, marker = [], ''
    while True:
        page = shunt_answer(world, limit=2, marker=marker, reverse='true')
        if not page:
            break
        pages.extend(page)
        marker = key(page[-1])

    assert pages == full[::-1]


def test_end_marker_and_prefix_bound_both_sides(world):
    got = shunt_answer(world, prefix='d', end_marker='d/2')

    assert [key(e) for e in got] == ['d/1']


def test_a_marker_inside_a_subdir_lists_that_subdir_as_swift_does(
        tmp_path):
    world = make_world(tmp_path, remote=['a/1', 'a/3', 'b'])
    params = {'delimiter': '/', 'marker': 'a/2'}

    got = shunt_answer(world, **params)

    assert [key(e) for e in got] == ['a/', 'b']
    assert without_location(got) == swift_answer(world, (), ['a/1', 'a/3',
                                                             'b'], params)


def test_an_end_marker_inside_a_subdir_lists_it_only_when_names_are_below(
        tmp_path):
    world = make_world(tmp_path, remote=['a/5', 'b/1', 'b/3'])

    assert [key(e) for e in shunt_answer(
        world, delimiter='/', end_marker='a/2')] == []
    assert [key(e) for e in shunt_answer(
        world, delimiter='/', end_marker='b/2')] == ['a/', 'b/']


def test_manifests_are_never_listed(tmp_path):
    world = make_world(tmp_path, remote=['.a', 'z'], manifests=['z'],
                       layout='native')

    assert [key(e) for e in shunt_answer(world)] == ['.a', 'z']
    assert [key(e) for e in shunt_answer(world, delimiter='/')] == \
        ['.a', 'z']
    assert [key(e) for e in shunt_answer(world, delimiter='m')] == \
        ['.a', 'z']


def test_a_prefix_holding_manifests_and_objects_is_listed(tmp_path):
    world = make_world(tmp_path, remote=['.mine', 'z'], manifests=['z'],
                       layout='native')

    assert [key(e) for e in shunt_answer(world, delimiter='m')] == \
        ['.m', 'z']


def test_limit_zero_lists_nothing(world):
    assert shunt_answer(world, limit=0) == []


def test_a_limit_swift_refuses_is_swifts_answer(world):
    resp = world.listing(limit=10001)

    assert resp.status_int == 412
    assert world.provider.count('list_objects') == 0


def test_a_forward_listing_reads_only_the_remote_pages_it_needs(tmp_path):
    world = make_world(tmp_path, remote=['o%04d' % i for i in range(30)])
    world.provider.reset_calls()

    got = shunt_answer(world, limit=5)

    assert [key(e) for e in got] == ['o%04d' % i for i in range(5)]
    assert world.provider.count('list_objects') == 1


def record_limits(world):
    limits = []
    real = world.provider.list_objects

    def list_objects(*args, **kwargs):
        limits.append(kwargs.get('limit'))
        return real(*args, **kwargs)
    world.provider.list_objects = list_objects
    return limits


def test_when_swift_runs_out_the_remote_is_asked_for_the_rest(
        tmp_path):
    world = make_world(tmp_path, local=['a', 'b', 'c'],
                       remote=['r%02d' % i for i in range(50)])
    limits = record_limits(world)

    got = shunt_answer(world, limit=10)

    assert len(got) == 10
    assert limits == [7]


def test_when_names_interleave_the_remote_is_read_about_as_needed(
        tmp_path, monkeypatch):
    monkeypatch.setattr(shunt_listing, 'MIN_REMOTE_PAGE', 2)
    world = make_world(tmp_path,
                       local=['o%03d' % i for i in range(0, 200, 2)],
                       remote=['o%03d' % i for i in range(1, 200, 2)])
    limits = record_limits(world)

    got = shunt_answer(world, limit=100)

    assert [key(e) for e in got] == ['o%03d' % i for i in range(100)]
    # 50 remote entries are on the page
    assert 50 <= sum(limits) <= 75
    assert len(limits) <= 4


def test_page_sizes_follow_what_the_merge_takes():
    sizer = shunt_listing.PageSizer(limit=1000, local_count=1000)
    sizer.took_local()
    first = sizer.next_size()
    for _ in range(100):
        sizer.took_local()
        sizer.took_remote()
        sizer.placed()
        sizer.placed()

    assert first == shunt_listing.MIN_REMOTE_PAGE
    assert sizer.next_size() == int(800 * 100 / 201.0 * 1.25) + 1


def test_a_short_swift_part_sizes_the_remote_request_exactly():
    sizer = shunt_listing.PageSizer(limit=1000, local_count=10)

    assert sizer.next_size() == 990


# -- the cost of reverse pages ---------------------------------------------

class GeneratedBucket(object):
    """A remote of ``count`` objects ``o0000000``, ``o0000001``, ...

    Its names are made as they are listed, so that it holds nothing in
    memory itself. It counts the entries it lists.
    """

    def __init__(self, layout, count):
        self.prefix = layout.key_prefix
        self.count = count
        self.requests = []
        self.listed = 0

    def key(self, index):
        return '%so%07d' % (self.prefix, index)

    def list_objects(self, bucket, prefix='', delimiter=None, marker=None,
                     limit=1000):
        assert delimiter is None and prefix.startswith(self.prefix)
        self.requests.append(marker)
        start = 0
        if marker and marker >= self.key(0):
            start = min(self.count, int(marker[len(self.prefix) + 1:]) + 1)
        stop = min(self.count, start + limit)
        self.listed += stop - start
        entries = [providers.ListingEntry(key=self.key(i), size=1,
                                          etag='e', last_modified=1.0)
                   for i in range(start, stop)]
        return providers.ListingPage(entries=entries,
                                     truncated=stop < self.count)


def reverse_page(count, **params):
    layout = layout_mod.RemoteLayout(ACCOUNT, CONTAINER)
    bucket = GeneratedBucket(layout, count)
    listing = shunt_listing.RemoteListing(bucket, BUCKET, layout)
    params = shunt_listing.ListingParams(dict(params, reverse='true'))
    return bucket, list(listing.entries(params))


def peak_memory(function, *args, **kwargs):
    tracemalloc.start()
    try:
        function(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_reverse_page_holds_memory_for_its_limit_not_the_bucket():
    small = peak_memory(reverse_page, 2000, limit=1)
    large = peak_memory(reverse_page, 40000, limit=1)

    # NOTE: reading the whole listing into memory makes the large peak
    # about 20 times the small one; what is held is one remote page.
    assert large < 2 * small


def test_a_reverse_page_is_the_last_names_in_descending_order():
    bucket, got = reverse_page(2500, limit=3)

    assert [e['name'] for e in got] == ['o0002499', 'o0002498', 'o0002497']
    assert len(bucket.requests) == 3


def test_a_reverse_page_reads_only_between_its_marker_and_end_marker():
    bucket, got = reverse_page(100000, limit=2, marker='o0050000',
                               end_marker='o0049000')

    assert [e['name'] for e in got] == ['o0049999', 'o0049998']
    assert bucket.listed <= 1000
    assert len(bucket.requests) == 1


def test_a_reverse_page_that_swift_fills_reads_the_remote_above_it(
        tmp_path):
    world = make_world(tmp_path, local=['x', 'y'],
                       remote=['o%04d' % i for i in range(2500)] + ['z'])
    limits = record_limits(world)

    got = shunt_answer(world, reverse='true', limit=2)

    assert [key(e) for e in got] == ['z', 'y']
    assert len(limits) == 1


def test_a_reverse_page_that_swift_does_not_fill_reads_the_remote_below(
        tmp_path):
    world = make_world(tmp_path, local=['x'],
                       remote=['o%04d' % i for i in range(2500)])

    got = shunt_answer(world, reverse='true', limit=3)

    assert [key(e) for e in got] == ['x', 'o2499', 'o2498']


def test_path_listings_pass_through(world):
    resp = world.listing(path='d')

    assert resp.status_int == 200
    assert world.provider.count('list_objects') == 0


def test_a_remote_that_cannot_be_listed_leaves_swifts_listing(world):
    world.provider.fail('list_objects', exceptions.Unavailable(
        'remote fake: no answer from https://secret-host'))

    got = shunt_answer(world)

    assert [key(e) for e in got] == ['a', 'c', 'd/1', 'e']
    assert 'local listing only' in world.logger.text('warning')


def test_a_failing_merger_leaves_swifts_listing(world):
    world.provider.fail('list_objects', RuntimeError('bug'))

    got = shunt_answer(world)

    assert [key(e) for e in got] == ['a', 'c', 'd/1', 'e']
    assert 'bug' in world.logger.text('error')


def test_a_missing_container_is_swifts_404(world):
    resp = world.request('/v1/%s/nope' % ACCOUNT)

    assert resp.status_int == 404
    assert world.provider.calls == []


def test_container_head_passes_through_with_swifts_counts(world):
    resp = world.request('/v1/%s/%s' % (ACCOUNT, CONTAINER), method='HEAD')

    assert resp.status_int == 204
    assert resp.headers['X-Container-Object-Count'] == '4'
    assert world.provider.calls == []


def test_swifts_listing_headers_are_kept(world):
    resp = world.listing(format='json')

    assert resp.headers['X-Container-Object-Count'] == '4'
    assert resp.headers['X-Trans-Id'] == 'tx-listing'
    assert int(resp.headers['Content-Length']) == len(resp.body)


# -- pieces ----------------------------------------------------------------

def test_listing_params_read_swifts_defaults():
    params = shunt_listing.ListingParams({'limit': 10000})

    assert (params.marker, params.end_marker, params.prefix,
            params.delimiter, params.reverse) == ('', '', '', '', False)
    assert params.rollup('a/b') is None


def test_listing_params_roll_names_up_after_the_prefix():
    params = shunt_listing.ListingParams(
        {'limit': 1, 'prefix': 'a/', 'delimiter': '/'})

    assert params.rollup('a/b/c') == 'a/b/'
    assert params.rollup('a/b') is None
    assert params.rollup('b/c') is None
