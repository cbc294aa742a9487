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
"""Migrating a bucket into Swift: what is copied, what is left alone."""

import json

from swift.common import utils as swift_utils

from cloudsync import exceptions
from cloudsync.migrate import bucket_pass
from cloudsync.migrate import marks
from cloudsync.migrate import objects
from cloudsync.migrate import state as state_mod
from tests.unit.test_migrate import helpers

ACCOUNT = helpers.ACCOUNT


def test_new_objects_arrive_with_metadata_and_the_source_time(tmp_path):
    setup = helpers.Setup(tmp_path)
    setup.put_source('photo.jpg', b'jpeg', content_type='image/jpeg',
                     metadata={'colour': 'blue'})
    setup.put_source('ünïcode ☃', b'snow')
    setup.put_source('empty', b'')
    finished, state = setup.run()
    assert finished
    copy = setup.swift_object('photo.jpg')
    assert copy.body == b'jpeg'
    assert copy.content_type == 'image/jpeg'
    assert copy.headers['X-Object-Meta-Colour'] == 'blue'
    source = setup.provider.buckets['src']['photo.jpg']
    assert float(copy.data_timestamp) == source.last_modified
    assert copy.headers[marks.SOURCE_ETAG.title()] == source.etag
    assert setup.swift_object('ünïcode ☃').body == b'snow'
    assert setup.swift_object('empty').body == b''
    last = state.data['buckets']['src']['last']
    assert (last['copied'], last['copied_bytes'], last['failed']) == (
        3, 8, 0)
    assert setup.stats.totals['copied_objects'] == 3
    assert setup.stats.totals['bytes'] == 8


def test_every_put_is_create_only_and_names_the_md5(tmp_path):
    setup = helpers.Setup(tmp_path)
    setup.put_source('a', b'abc')
    setup.run()
    put, = setup.object_requests('PUT')
    assert put.headers['if-none-match'] == '*'
    assert put.headers['etag'] == setup.provider.buckets['src']['a'].etag


def test_a_second_pass_sends_no_object_request(tmp_path):
    setup = helpers.Setup(tmp_path)
    for name in ('a', 'b', 'c'):
        setup.put_source(name, name.encode('ascii'))
    setup.run()
    del setup.swift.requests[:]
    finished, state = setup.run()
    assert finished
    assert setup.object_requests('HEAD') == []
    assert setup.object_requests('PUT') == []
    assert state.data['buckets']['src']['last']['unchanged'] == 3
    assert state.data['buckets']['src']['passes'] == 2


def test_a_changed_source_object_replaces_the_migrated_copy(tmp_path):
    setup = helpers.Setup(tmp_path)
    setup.put_source('a', b'old')
    setup.run()
    setup.put_source('a', b'new and longer')
    setup.run()
    copy = setup.swift_object('a')
    assert copy.body == b'new and longer'
    assert float(copy.data_timestamp) == \
        setup.provider.buckets['src']['a'].last_modified


def test_an_object_a_swift_user_wrote_is_never_overwritten(tmp_path):
    setup = helpers.Setup(tmp_path)
    setup.swift.put(ACCOUNT, 'dest', 'before', b'in swift first')
    setup.put_source('before', b'source')
    setup.put_source('after', b'source')
    setup.run()
    setup.swift.put(ACCOUNT, 'dest', 'after', b'written in swift')
    setup.put_source('after', b'source, changed')
    _, state = setup.run()
    assert setup.swift_object('before').body == b'in swift first'
    assert setup.swift_object('after').body == b'written in swift'
    assert state.data['buckets']['src']['last']['skipped'] == 2


def test_metadata_changed_in_swift_makes_the_object_the_users(tmp_path):
    setup = helpers.Setup(tmp_path)
    setup.put_source('a', b'one')
    setup.run()
    setup.swift.post(ACCOUNT, 'dest', 'a', {'X-Object-Meta-Mine': 'yes'})
    setup.put_source('a', b'two')
    setup.run()
    copy = setup.swift_object('a')
    assert copy.body == b'one'
    assert copy.headers['X-Object-Meta-Mine'] == 'yes'


def test_an_object_deleted_through_swift_stays_deleted(tmp_path):
    setup = helpers.Setup(tmp_path)
    setup.put_source('a', b'one')
    setup.put_source('b', b'two')
    setup.run()
    setup.swift.delete(ACCOUNT, 'dest', 'a')
    setup.put_source('a', b'one, changed')
    setup.swift.delete(ACCOUNT, 'dest', 'b')
    setup.run()
    assert setup.swift_object('a') is None
    assert setup.swift_object('b') is None


def test_a_swift_write_racing_the_copy_wins(tmp_path):
    setup = helpers.Setup(tmp_path)
    setup.put_source('a', b'source')

    def user_writes_first(req):
        if req.method == 'PUT' and req.obj == 'a' and \
                'x-timestamp' in req.headers:
            setup.swift.hooks.remove(user_writes_first)
            setup.swift.put(ACCOUNT, 'dest', 'a', b'user')
    setup.swift.hooks.append(user_writes_first)
    _, state = setup.run()
    assert setup.swift_object('a').body == b'user'
    assert state.data['buckets']['src']['last']['skipped'] == 1


def test_objects_deleted_at_the_source_leave_swift_unless_changed(tmp_path):
    setup = helpers.Setup(tmp_path)
    for name in ('gone', 'kept', 'mine'):
        setup.put_source(name, b'x')
    setup.run()
    setup.swift.put(ACCOUNT, 'dest', 'mine', b'users own')
    setup.swift.put(ACCOUNT, 'dest', 'only-in-swift', b'users own')
    for name in ('gone', 'mine'):
        del setup.provider.buckets['src'][name]
    _, state = setup.run()
    assert setup.swift_object('gone') is None
    assert setup.swift_object('kept').body == b'x'
    assert setup.swift_object('mine').body == b'users own'
    assert setup.swift_object('only-in-swift').body == b'users own'
    assert state.data['buckets']['src']['last']['deleted'] == 1


def test_deletes_are_not_propagated_when_turned_off(tmp_path):
    setup = helpers.Setup(tmp_path, propagate_delete=False)
    setup.put_source('gone', b'x')
    setup.run()
    del setup.provider.buckets['src']['gone']
    setup.run()
    assert setup.swift_object('gone').body == b'x'


def test_remove_after_verify_deletes_the_source_after_the_copy(tmp_path):
    setup = helpers.Setup(tmp_path, remove_after_verify=True,
                          propagate_delete=False)
    setup.put_source('a', b'one')
    setup.put_source('bad', b'two')
    setup.provider.fail('get_object', exceptions.Unavailable('down'),
                        key='bad')
    _, state = setup.run()
    assert setup.swift_object('a').body == b'one'
    assert sorted(setup.provider.buckets['src']) == ['bad']
    assert state.data['buckets']['src']['last']['removed_from_source'] == 1
    setup.run()
    assert setup.provider.buckets['src'] == {}
    assert setup.swift_object('bad').body == b'two'


def test_a_multipart_object_becomes_an_slo_with_the_same_parts(tmp_path):
    setup = helpers.Setup(tmp_path, provider=helpers.MultipartSource())
    parts = [b'a' * 7, b'b' * 7, b'c' * 3]
    setup.provider.put_parts('src', 'big', parts)
    setup.provider.buckets['src']['big'].content_type = 'video/mp4'
    _, state = setup.run()
    assert state.data['buckets']['src']['last']['copied'] == 1
    manifest = setup.swift_object('big')
    assert manifest.headers['X-Static-Large-Object'] == 'True'
    assert manifest.content_type.startswith('video/mp4')
    segments = json.loads(manifest.body)
    assert [s['bytes'] for s in segments] == [7, 7, 3]
    etag = setup.provider.buckets['src']['big'].etag
    assert [s['name'] for s in segments] == [
        '/dest_segments/big/%s/%08d' % (etag, n) for n in (1, 2, 3)]
    assert b''.join(setup.swift_object(
        s['name'].split('/', 2)[2], 'dest_segments').body
        for s in segments) == b''.join(parts)


def test_parts_that_do_not_make_the_sources_etag_fail(tmp_path):
    setup = helpers.Setup(tmp_path, provider=helpers.MultipartSource())
    setup.provider.put_parts('src', 'big', [b'a' * 7, b'b' * 3])
    setup.provider.buckets['src']['big'].etag = 'f' * 32 + '-2'
    _, state = setup.run()
    assert setup.swift_object('big') is None
    failure, = state.data['failures']
    assert failure['key'] == 'big' and 'ETag' in failure['error']


def test_a_body_that_does_not_match_its_etag_fails(tmp_path):
    setup = helpers.Setup(tmp_path)
    setup.put_source('a', b'bytes', etag='0' * 32)
    _, state = setup.run()
    assert setup.swift_object('a') is None
    assert state.data['buckets']['src']['last']['failed'] == 1


def test_failures_are_recorded_and_retried_on_the_next_pass(tmp_path):
    setup = helpers.Setup(tmp_path)
    setup.put_source('a', b'one')
    setup.put_source('b', b'two')
    setup.provider.fail('get_object', exceptions.Unavailable('try later'),
                        key='a')
    finished, state = setup.run()
    assert finished
    assert state.data['failures'][0]['key'] == 'a'
    assert setup.swift_object('b').body == b'two'
    _, state = setup.run()
    assert setup.swift_object('a').body == b'one'
    assert state.data['failures'] == []


def test_a_stopped_pass_resumes_after_its_last_page(tmp_path):
    setup = helpers.Setup(tmp_path)
    names = ['o%02d' % n for n in range(7)]
    for name in names:
        setup.put_source(name, name.encode('ascii'))

    def stop_after_four(req):
        if req.method == 'PUT' and req.obj == 'o03':
            setup.stop.set()
    setup.swift.hooks.append(stop_after_four)
    finished, state = setup.run(page_size=2)
    assert not finished
    assert state.data['buckets']['src']['marker'] == 'o03'
    assert setup.state().data['buckets']['src']['marker'] == 'o03'
    setup.swift.hooks.remove(stop_after_four)
    setup.stop = helpers.concurrency.StopFlag()
    del setup.swift.requests[:]
    finished, state = setup.run(page_size=2)
    assert finished
    assert sorted(r.obj for r in setup.object_requests('PUT')) == names[4:]
    last = state.data['buckets']['src']['last']
    assert last['copied'] == 7 and last['listed'] == 7


def test_a_new_source_starts_over(tmp_path):
    setup = helpers.Setup(tmp_path)
    setup.put_source('a', b'x')
    setup.run()
    other = helpers.Setup(tmp_path, prefix='z')
    assert other.state().data['buckets'] == {}


def test_nodes_split_a_container_between_them(tmp_path):
    setup = helpers.Setup(tmp_path)
    names = ['obj-%d' % n for n in range(30)]
    for name in names:
        setup.put_source(name, b'x')
    copied = []
    for index in range(3):
        del setup.swift.requests[:]
        setup.path = str(tmp_path / ('node%d.json' % index))
        setup.run(share=bucket_pass.NodeShare(index, 3, helpers.owner))
        copied.append({r.obj for r in setup.object_requests('PUT')})
    assert set().union(*copied) == set(names)
    assert sum(len(c) for c in copied) == len(names)
    assert all(copied)


def test_a_node_copies_what_another_left_missing_after_the_slack(tmp_path):
    setup = helpers.Setup(tmp_path)
    for n in range(10):
        setup.put_source('obj-%d' % n, b'x')
    share = bucket_pass.NodeShare(0, 3, helpers.owner)
    setup.run(share=share, slack=3600.0)
    mine = len(list(setup.swift._listing(ACCOUNT, 'dest')))
    assert mine < 10
    setup.run(share=share, slack=0.0)
    assert len(list(setup.swift._listing(ACCOUNT, 'dest'))) == 10


def test_a_swift_sources_container_metadata_and_acls_come_along(tmp_path):
    setup = helpers.Setup(tmp_path, provider=helpers.SwiftLikeSource(),
                          storage_policy='gold')
    setup.provider.container_headers['src'] = {
        'x-container-meta-project': 'apollo',
        'x-container-read': '.r:*', 'x-container-object-count': '3'}
    setup.run()
    headers = setup.swift.containers[(ACCOUNT, 'dest')]['headers']
    assert headers['X-Container-Meta-Project'] == 'apollo'
    assert headers['X-Container-Read'] == '.r:*'
    assert headers['X-Storage-Policy'] == 'gold'
    assert 'X-Container-Object-Count' not in headers


def test_an_existing_container_is_left_as_it_is(tmp_path):
    setup = helpers.Setup(tmp_path, provider=helpers.SwiftLikeSource())
    setup.swift.create_container(ACCOUNT, 'dest')
    setup.provider.container_headers['src'] = {'x-container-read': '.r:*'}
    setup.run()
    assert 'headers' not in setup.swift.containers[(ACCOUNT, 'dest')]


def test_progress_says_done_left_rate_and_eta(tmp_path):
    setup = helpers.Setup(tmp_path)
    for n in range(4):
        setup.put_source('o%d' % n, b'12345')
    setup.run()
    data = setup.state().data
    row, = state_mod.progress(data, now=setup.clock.now)
    assert (row['state'], row['objects_done'], row['objects_total'],
            row['objects_left'], row['bytes_total']) == (
        'passed', 4, 4, 0, 20)
    data['buckets']['src']['current'] = dict(
        state_mod._counts(), listed=2, copied=2, listed_bytes=10,
        started=setup.clock.now - 10)
    row, = state_mod.progress(data, now=setup.clock.now)
    assert row['state'] == 'migrating'
    assert (row['objects_done'], row['objects_left']) == (2, 2)
    assert row['rate'] == 0.2 and row['eta'] == 10.0


def test_the_marks_tell_the_migrators_copies_from_the_users():
    stamp = marks.timestamp(1700000000.5)
    headers = dict(marks.headers('m', 'abc', 1700000000.5, stamp),
                   **{'x-timestamp': stamp, 'content-length': '3'})
    copy = marks.SwiftCopy.of(headers)
    assert copy.migrated and not copy.changed_in_swift
    assert copy.is_copy_of('abc', 1700000000.5)
    assert not copy.is_copy_of('abd', 1700000000.5)
    assert marks.SwiftCopy.of({'x-timestamp': stamp}).changed_in_swift
    later = marks.after(stamp)
    assert swift_utils.Timestamp(later) > swift_utils.Timestamp(stamp)
    assert not marks.deleted_in_swift(later, 0)
    assert marks.deleted_in_swift(stamp, 1600000000)
    assert not marks.deleted_in_swift(stamp, 1800000000)


def test_listing_times_are_read_as_utc():
    assert objects.listing_time('2023-11-14T22:13:20.500000') == \
        1700000000.5
    assert objects.listing_time('') == 0.0


def test_a_swift_sources_symlinks_stay_symlinks(tmp_path):
    setup = helpers.Setup(tmp_path, provider=helpers.SwiftLikeSource())
    setup.put_source('real', b'the data')
    setup.provider.link('src', 'link', 'src/real')
    setup.provider.link('src', 'elsewhere', 'other/thing')
    _, state = setup.run()
    assert state.data['buckets']['src']['last']['copied'] == 3
    link = setup.swift_object('link')
    assert link.headers['X-Object-Sysmeta-Symlink-Target'] == 'dest/real'
    assert setup.swift_object('elsewhere').headers[
        'X-Object-Sysmeta-Symlink-Target'] == 'other/thing'
    body = setup.client.make_request(
        'GET', setup.client.make_path(ACCOUNT, 'dest', 'link'), {},
        (2,)).body
    assert body == b'the data'
    del setup.swift.requests[:]
    _, state = setup.run()
    assert setup.object_requests('PUT') == []


def test_the_parts_of_a_replaced_or_deleted_multipart_copy_go(tmp_path):
    setup = helpers.Setup(tmp_path, provider=helpers.MultipartSource())
    setup.provider.put_parts('src', 'big', [b'a' * 7, b'b' * 3])
    setup.provider.put_parts('src', 'gone', [b'c' * 7, b'd' * 3])
    setup.run()
    setup.provider.clock.now += 10
    setup.provider.put_parts('src', 'big', [b'e' * 7, b'f' * 7, b'g'])
    del setup.provider.buckets['src']['gone']
    setup.run()
    etag = setup.provider.buckets['src']['big'].etag
    left = sorted(name for name, _ in setup.swift._listing(
        ACCOUNT, 'dest_segments'))
    assert left == ['big/%s/%08d' % (etag, n) for n in (1, 2, 3)]
    assert setup.swift_object('big').body  # the new manifest
    assert b''.join(setup.swift_object(name, 'dest_segments').body
                    for name in left) == b'e' * 7 + b'f' * 7 + b'g'


def test_objects_younger_than_older_than_wait_for_a_later_pass(tmp_path):
    setup = helpers.Setup(tmp_path, older_than=600.0)
    setup.put_source('old', b'old')
    setup.provider.clock.now = setup.clock() - 10
    setup.put_source('young', b'young')

    finished, state = setup.run()

    assert finished
    assert setup.swift_object('old').body == b'old'
    assert setup.swift_object('young') is None
    assert state.data['buckets']['src']['last']['failed'] == 0
    setup.clock.now += 600
    setup.run()
    assert setup.swift_object('young').body == b'young'
