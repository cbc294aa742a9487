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
"""What a pass costs per row: rows read in batches, few green threads."""

from swift.container import backend

from cloudsync.sync import container_pass
from cloudsync.sync import crawler as crawler_mod
from tests.unit import crawler_fakes as fakes
from tests.unit import test_crawler


names_owned_by = test_crawler.names_owned_by


class CountingPool(object):
    """The crawler's row pool, counting the green threads it starts."""

    def __init__(self, pool):
        self.pool = pool
        self.size = pool.size
        self.spawned = 0
        self.batches = 0

    def batch(self):
        self.batches += 1
        batch = self.pool.batch()
        outer = self

        class Counting(object):
            def spawn(self, func, *args, **kwargs):
                outer.spawned += 1
                return batch.spawn(func, *args, **kwargs)

            def results(self):
                return batch.results()

        return Counting()


def test_handled_rows_share_at_most_workers_green_threads(tmp_path):
    node = fakes.Node(tmp_path, options={'items_chunk': 100, 'workers': 2})
    pool = CountingPool(node.crawler.row_pool)
    node.crawler.row_pool = pool
    for i in range(30):
        node.put('o%02d' % i)
    node.crawl()
    assert node.handled_names() == ['o%02d' % i for i in range(30)]
    # one batch of 30 rows (and the retries' empty one): 2 threads, not 30
    assert pool.spawned <= 2 * pool.batches
    assert pool.spawned < 30
    assert node.status().last_row == 30


def test_rows_are_read_without_a_dict_per_row(tmp_path, monkeypatch):
    calls = []
    real = backend.ContainerBroker.get_items_since

    def counting(self, start, count):
        calls.append(count)
        return real(self, start, count)

    monkeypatch.setattr(backend.ContainerBroker, 'get_items_since',
                        counting)
    node = fakes.Node(tmp_path, replicas=3, my_index=0,
                      options={'verification_slack': 0})
    for i in range(20):
        node.put('o%02d' % i)
    result = node.crawl()
    assert result.scanned == 20
    assert result.handled + result.verified == 20
    # only measuring the lag reads one row the old way
    assert all(count == 1 for count in calls)


def test_a_stop_leaves_the_rows_not_started_to_the_next_pass(tmp_path):
    node = fakes.Node(tmp_path, options={'items_chunk': 100, 'workers': 1})
    names = ['o%d' % i for i in range(10)]
    for name in names:
        node.put(name)

    def stop_after_four(row):
        if len(node.handled) == 4:
            node.crawler.stop.set()
    node.on_handle = stop_after_four
    node.crawl()
    assert node.handled_names() == names[:4]
    assert node.status().last_row == 4
    node.on_handle = None
    node.crawler.stop = type(node.crawler.stop)()
    node.crawl()
    assert node.handled_names() == names


def test_the_pointer_stops_after_the_rows_of_others_before_a_stuck_row(
        tmp_path):
    # the failed set is full: the row that fails cannot be set aside, and
    # the pointer stays on the rows before it, other replicas' included
    node = fakes.Node(tmp_path, replicas=3, my_index=0, max_failed=0,
                      options={'items_chunk': 100})
    mine = names_owned_by(0, 3, 3)
    others = names_owned_by(1, 3, 2, prefix='x')
    order = [mine[0], others[0], others[1], mine[1], mine[2]]
    for name in order:
        node.put(name)
    node.script[mine[1]] = fakes.RowFailed('boom')
    node.crawl()
    assert node.status().last_row == 3
    assert node.handled_names() == [mine[0], mine[1], mine[2]]


def test_reading_rows_gives_the_needed_columns_in_order(tmp_path):
    node = fakes.Node(tmp_path)
    node.put('a')
    node.put('b', deleted=True)
    db = node.dbs()[0]
    cpass = container_pass.ContainerPass(node.crawler, db)
    cpass.broker = cpass.open_broker()
    raws = cpass.read_rows(0, 10)
    assert [r[:2] for r in raws] == [(1, 'a'), (2, 'b')]
    rows = [container_pass._row(r) for r in raws]
    full = {r['name']: r for r in cpass.broker.get_items_since(0, 10)}
    assert rows == [crawler_mod.row_from_db(full[n]) for n in ('a', 'b')]
    assert cpass.read_rows(2, 10) == []
    assert len(cpass.read_rows(0, 1)) == 1


def test_timestamps_of_rows_are_swifts_own():
    from swift.common import utils as swift_utils
    for text in ('1733400000.12345', '1733400000.1', '0000000001.00000',
                 '1733400000.12345_0000000000000002', '1402464677.04188',
                 '1733400000.999995'):
        mine, swift = (container_pass.make_timestamp(text),
                       swift_utils.Timestamp(text))
        assert type(mine) is type(swift)
        assert vars(mine) == vars(swift)
        assert (mine.internal, mine.normal, mine.raw, mine.offset) == (
            swift.internal, swift.normal, swift.raw, swift.offset)
        assert mine == swift and hash(mine) == hash(swift)
    for bad in ('-1.00000', 'garbage', '99999999999.00000'):
        try:
            swift_utils.Timestamp(bad)
        except ValueError:
            pass
        else:
            raise AssertionError(bad)
        try:
            container_pass.make_timestamp(bad)
        except ValueError:
            continue
        raise AssertionError('%r was taken' % bad)


def test_a_swift_that_keeps_timestamps_otherwise_gets_its_constructor(
        monkeypatch):
    monkeypatch.setattr(container_pass, '_STATE_KEYS', frozenset(['x']))
    assert container_pass._pick_timestamp() is \
        container_pass._swift_timestamp
