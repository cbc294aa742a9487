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
import json
import logging
import os
import shutil

import pytest
from swift.common import exceptions as swift_exceptions
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import lifecycle
from cloudsync.sync import crawler as crawler_mod
from tests.unit import crawler_fakes as fakes

Outcome = fakes.Outcome
RetryLater = fakes.RetryLater
RowFailed = fakes.RowFailed
COPY = lifecycle.Action.COPY
REMOVE = lifecycle.Action.REMOVE_REMOTE


def names_owned_by(index, replicas, count, prefix='o'):
    names, n = [], 0
    while len(names) < count:
        name = '%s%d' % (prefix, n)
        if crawler_mod.row_owner(name, replicas) == index:
            names.append(name)
        n += 1
    return names


# -- who owns a row -----------------------------------------------------------

def test_row_owner_is_compatible_with_swift_s3_sync():
    # sha1('foo') ends in da8a33; 0xda8a33 % 3 == 2
    assert crawler_mod.row_owner('foo', 3) == 2
    assert crawler_mod.row_owner('a', 3) == 0
    assert crawler_mod.row_owner('caf\u00e9/\U0001f600', 3) == 1


def test_row_owner_hashes_the_utf8_name():
    name = '\u6f22\u5b57 \U0001f600.txt'
    digest = hashlib.sha1(name.encode('utf-8')).hexdigest()
    assert crawler_mod.row_owner(name, 5) == int(digest[-6:], 16) % 5


def test_every_name_has_exactly_one_owner():
    for name in ('x%d' % i for i in range(200)):
        owners = [i for i in range(3)
                  if crawler_mod.row_owner(name, 3) == i]
        assert len(owners) == 1


def test_row_from_db_decodes_the_timestamps():
    data = swift_utils.Timestamp(100)
    meta = swift_utils.Timestamp(150)
    raw = {'ROWID': 7, 'name': 'o', 'created_at': swift_utils.
           encode_timestamps(data, data, meta), 'size': 3,
           'content_type': 'text/plain', 'etag': 'e', 'deleted': 0,
           'storage_policy_index': 1}
    row = crawler_mod.row_from_db(raw)
    assert (row.row_id, row.timestamp, row.meta_timestamp) == (7, data, meta)
    assert (row.deleted, row.storage_policy_index) == (False, 1)


def test_row_from_db_of_one_timestamp_and_of_an_offset():
    for data in (swift_utils.Timestamp(100),
                 swift_utils.Timestamp(100, offset=1)):
        raw = {'ROWID': 7, 'name': 'o', 'created_at': data.internal,
               'size': 3, 'content_type': 'text/plain', 'etag': 'e',
               'deleted': 1, 'storage_policy_index': 0}
        row = crawler_mod.row_from_db(raw)
        assert (row.timestamp, row.meta_timestamp) == (data, data)
        assert row.timestamp.offset == data.offset
        assert row.deleted


def test_progress_is_saved_at_most_every_second_while_rows_are_read(
        tmp_path, monkeypatch):
    from cloudsync.sync import status as status_mod
    saves = []
    real_save = status_mod.SyncStatus.save
    monkeypatch.setattr(status_mod.SyncStatus, 'save',
                        lambda self: saves.append(1) or real_save(self))
    node = fakes.Node(tmp_path)   # items_chunk = 3; the clock stands still
    for i in range(30):
        node.put('o%02d' % i)
    node.crawl()
    assert len(node.handled) == 30
    # not one save per chunk of 3 rows: the scan's last, the retries', the
    # pass's end
    assert len(saves) <= 4
    assert node.status().last_row == 30


# -- finding the databases ----------------------------------------------------

def test_a_database_is_local_when_a_primary_has_our_ip_and_port(tmp_path):
    node = fakes.Node(tmp_path, replicas=3, my_index=1)
    node.broker()
    dbs = node.dbs()
    assert len(dbs) == 1
    db = dbs[0]
    assert (db.node_index, db.replicas, db.is_shard) == (1, 3, False)
    name_hash = swift_utils.hash_path(fakes.ACCOUNT, fakes.CONTAINER)
    assert db.path == os.path.join(
        node.devices, fakes.DEVICE, 'containers', '0', name_hash[-3:],
        name_hash, name_hash + '.db')
    assert db.db_id == name_hash


def test_no_database_when_no_primary_is_ours(tmp_path):
    node = fakes.Node(tmp_path, replicas=3, my_index=1)
    node.broker()
    node.ring.nodes[1]['port'] = 6999   # another server on this host
    assert node.dbs() == []


def test_a_database_not_yet_created_here_is_not_work(tmp_path):
    node = fakes.Node(tmp_path, replicas=3)
    assert node.dbs() == []


def test_unmounted_devices_are_skipped_with_mount_check(tmp_path):
    node = fakes.Node(tmp_path, options={'mount_check': 'true'})
    node.broker()
    assert node.dbs() == []


class FakeInternalClient:
    def __init__(self, containers=(), shard_ranges=None):
        self.containers = list(containers)
        self.shard_ranges = shard_ranges
        self.requests = []

    def make_path(self, account, container=None):
        return '/v1/%s' % account + ('/%s' % container if container else '')

    def make_request(self, method, path, headers, acceptable_statuses):
        self.requests.append((method, path, dict(headers)))

        class Resp:
            status_int = 200
            headers = {}
        resp = Resp()
        if 'X-Backend-Record-Type' in headers:
            resp.body = json.dumps(self.shard_ranges or []).encode()
            resp.headers = {'X-Backend-Record-Type': 'shard'}
        elif 'marker=&' in path + '&' or path.endswith('marker='):
            resp.body = json.dumps(
                [{'name': c} for c in self.containers]).encode()
        else:
            resp.body = b'[]'
        return resp


def test_a_wildcard_mapping_lists_the_account_on_every_pass(tmp_path):
    node = fakes.Node(tmp_path, mapping_options={'container': '*'})
    ic = FakeInternalClient(['a', 'b'])
    node.crawler = node.make_crawler(internal_client=ic)
    for name in ('a', 'b', 'c'):
        node.put('x', broker=node.broker(container=name))
    assert sorted(db.container for db in node.dbs()) == ['a', 'b']
    ic.containers.append('c')
    assert sorted(db.container for db in node.dbs()) == ['a', 'b', 'c']
    assert all(r[2]['X-Cloudsync-Shunt-Bypass'] == 'true'
               for r in ic.requests)


def test_a_wildcard_mapping_skips_reserved_names_and_exact_mappings(
        tmp_path):
    node = fakes.Node(tmp_path, mapping_options={'container': '*'})
    ic = FakeInternalClient(['\x00versions\x00a', 'a', '.dotted'])
    node.crawler = node.make_crawler(internal_client=ic)
    assert node.crawler.containers_of(node.mapping) == ['.dotted', 'a']


def test_a_container_given_its_own_mapping_leaves_the_wildcards(tmp_path):
    node = fakes.Node(tmp_path, mapping_options={'container': '*',
                                                 'lifecycle': 'archive'})
    ic = FakeInternalClient(['x'])
    node.crawler = node.make_crawler(internal_client=ic)
    node.put('o', broker=node.broker(container='x'))
    node.crawl()
    # the operator then maps x on its own, to keep its data in Swift
    path = os.path.join(node.tmp, 'cloudsync.conf')
    with open(path, 'a') as f:
        f.write('\n[mapping:x]\naccount = %s\ncontainer = x\nremote = r\n'
                'bucket = other\n' % fakes.ACCOUNT)
    node.config = fakes.conf_mod.load_file(path)
    node.crawler = node.make_crawler(internal_client=ic)
    wildcard = node.config.mapping_for(fakes.ACCOUNT, 'elsewhere')
    assert wildcard.is_wildcard
    assert node.crawler.containers_of(wildcard) == []


def test_a_deleted_container_is_crawled_while_its_database_is_here(
        tmp_path):
    node = fakes.Node(tmp_path, mapping_options={'container': '*'})
    ic = FakeInternalClient(['gone'])
    node.crawler = node.make_crawler(internal_client=ic)
    broker = node.broker(container='gone')
    node.put('x', broker=broker)
    node.crawl()
    ic.containers = []
    node.put('x', broker=broker, deleted=True, when=node.clock.now - 10)
    # a new daemon, too: it finds the container from its progress files
    node.crawler = node.make_crawler(internal_client=ic)
    node.crawl()
    assert node.handled[-1][:3] == ('x', 2, REMOVE)


def make_shard(node, lower, upper, index):
    shard_account = '.shards_%s' % fakes.ACCOUNT
    shard_container = '%s-%s-%d' % (fakes.CONTAINER, 'a' * 8, index)
    broker = node.broker(shard_account, shard_container)
    broker.set_sharding_sysmeta('Quoted-Root', '%s/%s' % (
        fakes.ACCOUNT, fakes.CONTAINER))
    sr = swift_utils.ShardRange(
        '%s/%s' % (shard_account, shard_container),
        swift_utils.Timestamp.now(), lower=lower, upper=upper,
        state=swift_utils.ShardRange.ACTIVE)
    return broker, sr


def test_a_sharded_container_is_followed_into_its_shards(tmp_path):
    node = fakes.Node(tmp_path)
    root = node.broker()
    node.put('a-root-row', broker=root)
    shard1, sr1 = make_shard(node, '', 'm', 0)
    shard2, sr2 = make_shard(node, 'm', '', 1)
    root.merge_shard_ranges([sr1, sr2])
    node.put('b-in-shard', broker=shard1)
    node.put('x-in-shard', broker=shard2)

    node.crawl()
    dbs = node.dbs()
    assert [db.is_shard for db in dbs] == [False, True, True]
    assert {(db.account, db.container) for db in dbs} == {
        (fakes.ACCOUNT, fakes.CONTAINER)}
    # rows of shard databases are synced under the root's name
    assert sorted((h[0], h[3]) for h in node.handled) == [
        ('a-root-row', fakes.CONTAINER), ('b-in-shard', fakes.CONTAINER),
        ('x-in-shard', fakes.CONTAINER)]
    assert len({node.crawler.status_path(db) for db in dbs}) == 3


def test_shards_of_a_root_that_is_not_here_are_asked_of_the_cluster(
        tmp_path):
    node = fakes.Node(tmp_path)
    shard, sr = make_shard(node, '', '', 0)
    node.put('in-shard', broker=shard)
    ic = FakeInternalClient(shard_ranges=[dict(sr)])
    node.crawler = node.make_crawler(internal_client=ic)
    dbs = node.dbs()
    assert [(db.is_shard, db.db_container) for db in dbs] == [
        (True, sr.container)]
    node.dbs()
    assert len(ic.requests) == 1   # cached for a while


# -- a. new rows --------------------------------------------------------------

def test_every_row_is_handled_in_chunks_and_progress_saved(tmp_path):
    node = fakes.Node(tmp_path)   # items_chunk = 3
    for i in range(8):
        node.put('o%d' % i)
    result = node.crawl()
    assert node.handled_names() == ['o%d' % i for i in range(8)]
    assert (result.handled, result.copied, result.failed) == (8, 8, 0)
    assert node.status().last_row == 8
    assert result.rows_behind == 0


class KwargsPropagator(fakes.FakePropagator):
    TAKES_FRESH = True
    TAKES_NEW = True

    def handle(self, row, decision, **kwargs):
        self.node.kwargs[row.name] = kwargs
        return super().handle(row, decision)


def test_rows_changed_since_the_progress_began_are_new(tmp_path):
    node = fakes.Node(tmp_path)
    node.kwargs = {}
    node.factory = lambda mapping, account, container, *args: \
        KwargsPropagator(node, account, container)
    node.crawler = node.make_crawler()
    node.put('before', when=node.clock.now - 10)
    node.crawl()
    node.clock.now += 60
    node.put('after', when=node.clock.now - 30)
    node.crawl()
    assert node.kwargs == {'before': {'fresh': True},
                           'after': {'fresh': True, 'new': True}}


def test_a_restart_from_row_0_makes_no_row_new(tmp_path):
    node = fakes.Node(tmp_path)
    node.kwargs = {}
    node.factory = lambda mapping, account, container, *args: \
        KwargsPropagator(node, account, container)
    node.crawler = node.make_crawler()
    node.put('o0', when=node.clock.now - 10)
    node.crawl()
    node.put('o1', when=node.clock.now + 1)
    node.clock.now += 60
    # the status directory is lost
    shutil.rmtree(node.status_dir)
    node.crawl()
    assert node.kwargs == {'o0': {'fresh': True}, 'o1': {'fresh': True}}


def test_a_second_pass_only_handles_new_rows(tmp_path):
    node = fakes.Node(tmp_path)
    node.put('o1')
    node.crawl()
    node.put('o2')
    node.crawl()
    assert node.handled_names() == ['o1', 'o2']


def test_only_owned_rows_are_handled_but_the_pointer_moves_over_all(
        tmp_path):
    node = fakes.Node(tmp_path, replicas=3, my_index=1,
                      options={'verification_slack': 100000})
    owned = names_owned_by(1, 3, 2)
    others = names_owned_by(0, 3, 4, prefix='p')
    for name in others[:2] + owned[:1] + others[2:] + owned[1:]:
        node.put(name)
    node.crawl()
    assert node.handled_names() == owned
    assert node.status().last_row == 6


def test_a_chunk_with_no_owned_row_still_moves_the_pointer(tmp_path):
    node = fakes.Node(tmp_path, replicas=3, my_index=1,
                      options={'verification_slack': 100000})
    for name in names_owned_by(0, 3, 7):
        node.put(name)
    result = node.crawl()
    assert node.handled == []
    assert node.status().last_row == 7
    assert result.rows_behind == 0


def test_a_row_not_ready_yet_stops_the_scan_for_this_pass(tmp_path):
    node = fakes.Node(tmp_path, mapping_options={'copy_after': 600})
    node.put('old', when=node.clock.now - 3600)
    node.put('young', when=node.clock.now - 10)
    node.put('younger', when=node.clock.now - 5)
    result = node.crawl()
    assert node.handled_names() == ['old']
    assert node.status().last_row == 1
    assert (result.not_yet, result.rows_behind) == (1, 2)

    node.clock.now += 600
    node.crawl()
    assert node.handled_names() == ['old', 'young', 'younger']


def test_deleted_rows_remove_the_remote_copy(tmp_path):
    node = fakes.Node(tmp_path)
    node.put('o', deleted=True)
    node.script['o'] = Outcome.DELETED
    result = node.crawl()
    assert node.handled[0][2] == REMOVE
    assert result.deleted == 1


def test_deleted_rows_are_skipped_without_propagate_delete(tmp_path):
    node = fakes.Node(tmp_path,
                      mapping_options={'propagate_delete': 'false'})
    node.put('o', deleted=True)
    result = node.crawl()
    assert node.handled == [] and result.skipped == 1
    assert node.status().last_row == 1


def test_excluded_objects_are_skipped_and_passed_over(tmp_path):
    node = fakes.Node(tmp_path,
                      mapping_options={'exclude_pattern': r'tmp/'})
    for name in ('a', 'tmp/b', 'c', 'xtmp/d'):
        node.put(name)
    result = node.crawl()
    assert node.handled_names() == ['a', 'c', 'xtmp/d']
    assert result.skipped == 1
    assert node.status().last_row == 4


def test_a_failed_row_is_recorded_and_the_scan_goes_on(tmp_path):
    node = fakes.Node(tmp_path)
    node.script['bad'] = RowFailed('PUT bad to bucket: 403 AccessDenied')
    for name in ('a', 'bad', 'c'):
        node.put(name)
    result = node.crawl()
    assert node.handled_names() == ['a', 'bad', 'c']
    assert result.failed == 1
    status = node.status()
    assert status.last_row == 3
    assert status.failed['bad']['row_id'] == 2
    assert status.failed['bad']['attempts'] == 1
    assert '403 AccessDenied' in status.failed['bad']['last_error']
    assert result.rows_behind == 1


def test_unexpected_errors_are_recorded_like_failures(tmp_path):
    node = fakes.Node(tmp_path)
    node.script['bad'] = KeyError('surprise')
    node.put('bad')
    node.put('good')
    result = node.crawl()
    assert (result.failed, result.copied) == (1, 1)
    assert 'KeyError' in node.status().failed['bad']['last_error']


def test_a_timeout_escaping_a_row_fails_that_row_only(tmp_path):
    # NOTE: eventlet Timeouts are not Exceptions; None: raised, not timed
    node = fakes.Node(tmp_path)
    node.script['stuck'] = swift_exceptions.ChunkReadTimeout(None)
    for name in ('a', 'stuck', 'b'):
        node.put(name)
    result = node.crawl()
    assert (result.failed, result.copied, result.error) == (1, 2, '')
    status = node.status()
    assert status.last_row == 3
    assert 'ChunkReadTimeout' in status.failed['stuck']['last_error']


def test_failed_rows_are_retried_after_their_backoff(tmp_path):
    node = fakes.Node(tmp_path)   # retry_interval = 10
    node.script['bad'] = [RetryLater('503 from remote'), Outcome.COPIED]
    node.put('bad')
    node.crawl()
    node.crawl()
    assert node.handled_names() == ['bad']      # not due yet

    node.clock.now += 10
    result = node.crawl()
    assert node.handled_names() == ['bad', 'bad']
    assert (result.retried, result.copied) == (1, 1)
    assert node.status().failed == {}


def test_a_retry_handles_the_newest_row_of_a_changed_object(tmp_path):
    node = fakes.Node(tmp_path)
    node.script['o'] = [RowFailed('boom'), Outcome.DELETED]
    node.put('o')
    node.crawl()
    node.put('o', deleted=True, when=node.clock.now - 5)
    node.clock.now += 10
    node.crawl()
    assert node.handled[-1][:3] == ('o', 2, REMOVE)
    assert node.status().failed == {}
    assert len(node.handled) == 2


def test_a_failed_row_whose_object_vanished_is_dropped(tmp_path):
    node = fakes.Node(tmp_path)
    node.script['o'] = RowFailed('boom')
    node.put('o')
    node.crawl()
    broker = node.broker()
    with broker.get() as conn:
        conn.execute('DELETE FROM object')
        conn.commit()
    node.clock.now += 10
    node.crawl()
    assert node.status().failed == {}
    assert len(node.handled) == 1


def test_a_full_failed_set_stops_the_pointer_instead_of_forgetting(
        tmp_path):
    node = fakes.Node(tmp_path, max_failed=1)
    node.script['bad1'] = RowFailed('boom')
    node.script['bad2'] = RowFailed('boom')
    for name in ('a', 'bad1', 'b', 'bad2', 'c'):
        node.put(name)
    node.crawl()
    status = node.status()
    assert list(status.failed) == ['bad1']
    assert status.last_row == 3    # before bad2, which was not recorded


def test_a_row_whose_object_404s_without_a_newer_delete_is_kept(tmp_path):
    # NOTE: the real propagator, on an in-memory cluster and remote: the
    # replicas holding 'lost' do not answer; 'gone' was deleted after its
    # row (the delete's row has not reached this database yet).
    from cloudsync.sync import propagate
    from tests.unit import fakes as cluster
    swift = cluster.FakeSwift()
    provider = cluster.FakeProvider()
    provider.buckets['bucket'] = {}
    node = fakes.Node(tmp_path)
    for name in ('lost', 'gone'):
        ts = swift_utils.Timestamp(node.clock.now - 3600)
        swift.put(fakes.ACCOUNT, fakes.CONTAINER, name, b'abc',
                  timestamp=ts)
        node.put(name, when=float(ts))
    swift.delete(fakes.ACCOUNT, fakes.CONTAINER, 'gone',
                 timestamp=swift_utils.Timestamp(node.clock.now - 60))

    def unreachable(request):
        if request.obj == 'lost':
            return swob.HTTPNotFound()
    swift.hooks.append(unreachable)

    def factory(mapping, account, container, _provider, ic, stats, logger):
        return propagate.RowPropagator(mapping, account, container,
                                       provider, ic, stats=stats,
                                       logger=logger)

    crawler = crawler_mod.ContainerCrawler(
        node.config, internal_client=cluster.FakeInternalClient(swift),
        ring=node.ring, my_ips=[fakes.MY_IP], propagator_factory=factory,
        clock=node.clock)
    db, = crawler.find_dbs(node.mapping)
    result = crawler.crawl(db)
    assert (result.skipped, result.failed, result.copied) == (1, 1, 0)
    status = node.status()
    assert list(status.failed) == ['lost']
    assert result.rows_behind == 1
    assert provider.buckets['bucket'] == {}

    swift.hooks.remove(unreachable)
    node.clock.now += 10
    result = crawler.crawl(db)
    assert (result.retried, result.copied) == (1, 1)
    assert node.status().failed == {}
    copy, = provider.buckets['bucket'].values()
    assert copy.data == b'abc'


def test_every_pass_logs_one_info_line_with_its_counts(tmp_path, caplog):
    node = fakes.Node(tmp_path)
    node.put('o')
    with caplog.at_level(logging.INFO, logger='cloudsync.crawler'):
        node.crawl()
        node.crawl()      # nothing to do, nothing behind
    lines = [r for r in caplog.records if r.name == 'cloudsync.crawler' and
             r.getMessage().startswith('Pass over ')]
    assert [r.levelno for r in lines] == [logging.INFO, logging.INFO]
    assert '1 rows scanned; handled 1 (copied 1' in lines[0].getMessage()
    assert '0 rows scanned; handled 0' in lines[1].getMessage()
    assert '0 rows behind' in lines[1].getMessage()


def test_a_retry_later_streak_cuts_the_pass_short(tmp_path):
    node = fakes.Node(tmp_path, options={'items_chunk': 5})
    node.script.update({'o%02d' % i: RetryLater('remote down')
                        for i in range(40)})
    for i in range(40):
        node.put('o%02d' % i)
    result = node.crawl()
    assert 'kept failing' in result.error
    assert len(node.handled) < 40


def test_a_remote_that_cannot_be_prepared_consumes_no_rows(tmp_path):
    node = fakes.Node(tmp_path)
    node.prepare_error = RuntimeError('bucket missing')
    node.put('o')
    result = node.crawl()
    assert node.handled == [] and 'bucket missing' in result.error
    assert node.status().last_row == 0


def test_the_pass_stops_taking_rows_at_its_deadline(tmp_path):
    node = fakes.Node(tmp_path, options={'items_chunk': 2})
    for i in range(6):
        node.put('o%d' % i)

    def tick(row):
        node.clock.now += 1
    node.on_handle = tick
    node.crawl(deadline=node.clock.now + 5)   # scan gets 60%: 3 s
    assert 2 <= len(node.handled) < 6
    assert node.status().last_row == len(node.handled)


def test_a_stop_request_ends_the_pass_and_saves_progress(tmp_path):
    node = fakes.Node(tmp_path, options={'items_chunk': 2})
    for i in range(6):
        node.put('o%d' % i)

    def stop_after_three(row):
        if len(node.handled) == 3:
            node.crawler.stop.set()
    node.on_handle = stop_after_three
    node.crawl()
    assert node.handled_names() == ['o0', 'o1', 'o2', 'o3']
    assert node.status().last_row == 4


def test_a_database_that_went_away_stops_cleanly(tmp_path):
    node = fakes.Node(tmp_path)
    node.put('o')
    db = node.dbs()[0]
    os.unlink(db.path)
    result = node.crawler.crawl(db)
    assert result.error == '' and node.handled == []


def test_a_container_created_anew_is_synced_from_its_first_row(tmp_path):
    node = fakes.Node(tmp_path)
    for i in range(5):
        node.put('old%d' % i)
    node.crawl()
    # deleted, its database reclaimed, then created again: new row numbers
    os.unlink(node.dbs()[0].path)
    for i in range(3):
        node.put('new%d' % i)
    result = node.crawl()
    assert node.handled_names()[5:] == ['new0', 'new1', 'new2']
    assert result.rows_behind == 0


def test_progress_of_another_replica_is_not_used(tmp_path):
    # two daemons of one host sharing a status_dir by mistake
    first = fakes.Node(tmp_path / 'a')
    second = fakes.Node(tmp_path / 'b', options={
        'status_dir': first.status_dir})
    for i in range(4):
        first.put('o%d' % i)
    first.crawl()
    for i in range(4):
        second.put('o%d' % i)
    second.put('o4')
    second.crawl()
    assert second.handled_names() == ['o0', 'o1', 'o2', 'o3', 'o4']


def test_a_changed_mapping_starts_over_from_row_zero(tmp_path):
    node = fakes.Node(tmp_path)
    node.put('o')
    node.crawl()
    node.config = node.make_config(mapping_options={'bucket': 'other'})
    node.crawler = node.make_crawler()
    node.crawl()
    assert node.handled_names() == ['o', 'o']


# -- c. verification ----------------------------------------------------------

def test_other_replicas_rows_are_verified_once_older_than_the_slack(
        tmp_path):
    node = fakes.Node(tmp_path, replicas=3, my_index=0,
                      options={'verification_slack': 600})
    mine = names_owned_by(0, 3, 1)
    theirs = names_owned_by(1, 3, 3, prefix='t')
    node.put(mine[0], when=node.clock.now - 3600)
    node.put(theirs[0], when=node.clock.now - 3600)
    node.put(theirs[1], when=node.clock.now - 3000)
    node.put(theirs[2], when=node.clock.now - 60)    # too young
    node.missing_remotely = {theirs[1]}

    result = node.crawl()
    assert node.verified == [[theirs[0], theirs[1]]]
    assert node.handled_names() == [mine[0], theirs[1]]
    assert result.verified == 2
    assert node.status().last_verified_row == 3

    node.clock.now += 600
    node.crawl()
    assert node.verified[-1] == [theirs[2]]
    assert node.status().last_verified_row == 4


def test_a_failed_row_of_another_replica_is_retried_until_it_succeeds(
        tmp_path):
    # the scan is far behind (a backlog and container_pass_time) while
    # verification, which needs no handling of our own rows, is ahead
    node = fakes.Node(tmp_path, replicas=2, my_index=0,
                      options={'items_chunk': 2})
    mine = names_owned_by(0, 2, 10)
    theirs = names_owned_by(1, 2, 1, prefix='t')[0]
    for name in mine + [theirs]:
        node.put(name)
    node.missing_remotely = {theirs}
    node.script[theirs] = [RowFailed('503 from remote'), Outcome.COPIED]

    def tick(row):
        node.clock.now += 1
    node.on_handle = tick
    node.crawl(deadline=node.clock.now + 6)
    assert node.status().failed[theirs]['row_id'] == 11
    node.clock.now += 100
    node.crawl(deadline=node.clock.now + 6)
    assert node.status().last_row < 11    # the scan is still behind
    assert node.handled_names().count(theirs) == 2
    assert node.status().failed == {}


def test_verification_failures_leave_the_verified_pointer(tmp_path):
    node = fakes.Node(tmp_path, replicas=2, my_index=0)
    node.verify_error = RuntimeError('listing failed')
    node.put(names_owned_by(1, 2, 1)[0])
    node.crawl()
    assert len(node.verified) == 1
    assert node.status().last_verified_row == 0


def test_a_single_replica_has_nothing_to_verify(tmp_path):
    node = fakes.Node(tmp_path, replicas=1)
    node.put('o')
    node.crawl()
    assert node.verified == []


@pytest.mark.parametrize('replicas', [2, 3])
def test_replicas_together_cover_every_row(tmp_path, replicas):
    names = ['obj-%d' % i for i in range(30)]
    handled = []
    for index in range(replicas):
        node = fakes.Node(tmp_path / str(index), replicas=replicas,
                          my_index=index)
        for name in names:
            node.put(name)
        node.crawl()
        handled.extend(node.handled_names())
    assert sorted(handled) == sorted(names)


def test_a_row_dated_in_the_future_waits_alone(tmp_path):
    node = fakes.Node(tmp_path)
    node.put('before', when=node.clock.now - 60)
    node.put('future', when=node.clock.now + 3600)
    node.put('after', when=node.clock.now - 30)

    result = node.crawl()

    assert node.handled_names() == ['before', 'after']
    assert node.status().last_row == 3
    entry = node.status().failed['future']
    assert entry['attempts'] == 0      # waiting, not failed
    assert 'dated 3600.0s in the future' in entry['last_error']
    assert result.failed == 0

    node.put('later', when=node.clock.now - 1)
    node.crawl()
    assert node.handled_names() == ['before', 'after', 'later']

    node.clock.now += 3601
    node.crawl()
    assert node.handled_names() == ['before', 'after', 'later', 'future']
    assert node.status().failed == {}


def test_a_future_row_with_copy_after_waits_alone_too(tmp_path):
    node = fakes.Node(tmp_path, mapping_options={'copy_after': 600})
    node.put('future', when=node.clock.now + 3600)
    node.put('old', when=node.clock.now - 3600)

    node.crawl()

    assert node.handled_names() == ['old']
    assert node.status().failed['future']['next_try'] >= \
        node.clock.now + 3600 + 600


def test_a_future_row_of_another_replica_does_not_stop_verification(
        tmp_path):
    node = fakes.Node(tmp_path, replicas=3, my_index=0,
                      options={'verification_slack': 600})
    theirs = names_owned_by(1, 3, 3, prefix='t')
    node.put(theirs[0], when=node.clock.now - 3600)
    node.put(theirs[1], when=node.clock.now + 86400)
    node.put(theirs[2], when=node.clock.now - 3000)

    node.crawl()

    assert node.verified == [[theirs[0], theirs[2]]]
    assert node.status().last_verified_row == 3
    assert theirs[1] in node.status().failed


def test_a_row_that_cannot_succeed_waits_the_longest_backoff(tmp_path):
    node = fakes.Node(tmp_path)   # retry_interval = 10
    failure = RowFailed('the key is 1100 bytes long, more than the 1024 '
                        'bytes this store takes')
    failure.permanent = True
    node.script['long'] = failure
    for name in ('a', 'long', 'c'):
        node.put(name)

    result = node.crawl()

    assert (result.failed, result.copied) == (1, 2)
    entry = node.status().failed['long']
    assert entry['next_try'] == node.clock.now + \
        node.crawler.conf.retry_interval_max
    assert '1024 bytes' in entry['last_error']
    node.clock.now += 99
    node.crawl()
    assert node.handled_names() == ['a', 'long', 'c']   # not before


def test_a_pass_without_reads_never_makes_the_internal_client(
        tmp_path, monkeypatch):
    from cloudsync import local
    made = []
    monkeypatch.setattr(local, 'make_internal_client',
                        lambda conf: made.append(conf) or fakes.NoCluster())
    node = fakes.Node(tmp_path)
    node.crawler = node.make_crawler()
    node.crawler._internal_client = None
    node.put('a')
    node.put('b')
    result = node.crawl()
    assert result.handled == 2
    assert made == []


def test_the_internal_client_is_made_once_a_propagator_uses_it(
        tmp_path, monkeypatch):
    from cloudsync import local
    made = []

    class Client(fakes.NoCluster):
        def app(self, env, start_response):
            raise AssertionError('unexpected request to the cluster')

    monkeypatch.setattr(local, 'make_internal_client',
                        lambda conf: made.append(conf) or Client())
    node = fakes.Node(tmp_path)
    node.put('a')
    crawler = node.make_crawler()
    crawler._internal_client = None
    db, = crawler.find_dbs(node.mapping)
    assert made == []
    seen = []
    crawler.propagator_factory = (
        lambda mapping, account, container, provider, ic, stats, logger:
        seen.append(ic.make_path(account, container)))
    crawler.make_propagator(db)
    crawler.make_propagator(db)
    assert seen == ['/v1/%s/%s' % (fakes.ACCOUNT, fakes.CONTAINER)] * 2
    assert len(made) == 1
    assert isinstance(crawler.internal_client.app,
                      crawler_mod.infocache.InfoCache)
