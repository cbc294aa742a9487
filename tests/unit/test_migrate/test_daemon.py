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
"""The migrator's passes over every migration and every bucket."""

import types

from cloudsync import exceptions
from cloudsync.migrate import bucket_pass
from cloudsync.migrate import daemon
from cloudsync.migrate import state as state_mod
from cloudsync.sync import stats as stats_mod
from tests.unit import fakes
from tests.unit.test_migrate import helpers


class Everything(object):
    def share(self, account, container):
        return bucket_pass.NodeShare()


class Nothing(object):
    def share(self, account, container):
        return None


def make_daemon(tmp_path, migrations, shares=None):
    swift = helpers.MigrationSwift()
    client = fakes.FakeInternalClient(swift)
    conf = types.SimpleNamespace(
        status_dir=str(tmp_path), workers=2, items_chunk=1000,
        verification_slack=3600.0, poll_interval=0.0)

    def migration_for(account, container):
        for m in migrations:
            if m.covers(account, container):
                return m
    config = types.SimpleNamespace(conf=conf, migrations=migrations,
                                   migration_for=migration_for)
    made = daemon.MigrationDaemon(
        config, shares or Everything(),
        lambda conf, name: stats_mod.NullStats(name),
        clock=helpers.Clock(), internal_client=client)
    return made, swift


def with_provider(migration, provider):
    migration.remote.provider = lambda max_connections=10: provider
    return migration


class ListingProvider(fakes.FakeProvider):
    """A source whose buckets can be listed, as S3's can."""

    def list_buckets(self):
        return sorted(self.buckets)


def test_once_migrates_every_bucket_of_the_remote(tmp_path):
    provider = ListingProvider()
    provider.put_raw('one', 'a', b'1')
    provider.put_raw('two', 'b', b'2')
    migration = with_provider(helpers.migration(
        provider, bucket='*', container=None), provider)
    made, swift = make_daemon(tmp_path, [migration])
    assert made.run_once() == daemon.EXIT_OK
    assert swift.get(helpers.ACCOUNT, 'one', 'a').body == b'1'
    assert swift.get(helpers.ACCOUNT, 'two', 'b').body == b'2'
    data = state_mod.read(str(tmp_path), 'm')
    assert sorted(data['buckets']) == ['one', 'two']


def test_a_bucket_gone_from_the_source_leaves_the_progress_file(tmp_path):
    provider = ListingProvider()
    provider.put_raw('one', 'a', b'1')
    provider.put_raw('two', 'b', b'2')
    migration = with_provider(helpers.migration(
        provider, bucket='*', container=None), provider)
    made, _ = make_daemon(tmp_path, [migration])
    made.run_once()
    del provider.buckets['two']
    made.run_once()
    assert sorted(state_mod.read(str(tmp_path), 'm')['buckets']) == ['one']


def test_a_failed_object_makes_once_exit_1(tmp_path):
    provider = fakes.FakeProvider()
    provider.put_raw('src', 'a', b'1')
    provider.fail('get_object', exceptions.Unavailable('down'))
    migration = with_provider(helpers.migration(provider), provider)
    made, _ = make_daemon(tmp_path, [migration])
    assert made.run_once() == daemon.EXIT_FAILED
    assert made.run_once() == daemon.EXIT_OK


def test_a_source_that_cannot_be_listed_fails_its_migration_only(tmp_path):
    broken = fakes.FakeProvider()
    broken.fail('list_objects', exceptions.AuthError('refused'))
    broken.buckets['src'] = {}
    good = fakes.FakeProvider()
    good.put_raw('src', 'a', b'1')
    first = with_provider(helpers.migration(broken, container='x'), broken)
    second = with_provider(helpers.migration(good, name='n',
                                             container='y'), good)
    made, swift = make_daemon(tmp_path, [first, second])
    assert made.run_once() == daemon.EXIT_FAILED
    assert swift.get(helpers.ACCOUNT, 'y', 'a').body == b'1'


def test_containers_of_other_nodes_are_left_to_them(tmp_path):
    provider = fakes.FakeProvider()
    provider.put_raw('src', 'a', b'1')
    migration = with_provider(helpers.migration(provider), provider)
    made, swift = make_daemon(tmp_path, [migration], shares=Nothing())
    assert made.run_once() == daemon.EXIT_OK
    assert swift.get(helpers.ACCOUNT, 'dest', 'a') is None


def test_the_ring_gives_each_replica_node_its_share():
    ring = types.SimpleNamespace(
        devs=[{'ip': '10.0.0.1', 'port': 6201},
              {'ip': '10.0.0.2', 'port': 6201}, None],
        get_nodes=lambda a, c: (0, [{'ip': '10.0.0.2', 'port': 6201},
                                    {'ip': '10.0.0.1', 'port': 6201,
                                     'index': 1}]))
    conf = types.SimpleNamespace(bind_ip='0.0.0.0', bind_port=6201)
    shares = daemon.RingShares(conf, helpers.owner)
    shares._ring = ring
    shares._my_ips = ['10.0.0.1']
    share = shares.share('AUTH_test', 'c')
    assert (share.index, share.count) == (1, 2)
    shares._my_ips = ['10.0.0.9']
    share = shares.share('AUTH_test', 'c')
    assert (share.index, share.count) == (0, 1)
    ring.get_nodes = lambda a, c: (0, [{'ip': '10.0.0.2', 'port': 6201}])
    shares._my_ips = ['10.0.0.1']
    assert shares.share('AUTH_test', 'c') is None
