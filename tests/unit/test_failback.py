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
"""Fail-back: objects written in a mapping's bucket during an outage come
back into Swift, and never over a newer Swift write or delete.
"""

import io
import json
import types

import pytest
from swift.common import utils as swift_utils

from cloudsync.cmd import failback as failback_cmd
from cloudsync import conf as conf_mod
from cloudsync import metadata as md
from cloudsync.migrate import failback
from cloudsync.migrate import target as target_mod
from tests.unit import fakes
from tests.unit.test_migrate import helpers

ACCOUNT = helpers.ACCOUNT
#: the outage: proxymc's writes are at or after this time
OUTAGE = 1700003000.0


def mapping(container='photos', bucket='bkt', layout='hashed', **options):
    remote = types.SimpleNamespace(
        name='aws', provider_name='fake', endpoint=None,
        provider_cls=fakes.FakeProvider)
    values = dict(name='photos', section='mapping:photos', account=ACCOUNT,
                  container=container, remote=remote, bucket=bucket,
                  lifecycle='sync', listing='swift', layout=layout)
    values.update(options)
    return conf_mod.Mapping(**values)


class Env(object):
    def __init__(self, **options):
        self.provider = fakes.FakeProvider()
        self.provider.clock = helpers.Clock(OUTAGE + 100)
        self.swift = helpers.MigrationSwift(start=1700000000.0)
        client = fakes.FakeInternalClient(self.swift)
        client.app = target_mod.wrap(self.swift)
        self.target = target_mod.SwiftTarget(client, ACCOUNT)
        self.mapping = mapping(**options)
        self.swift.create_container(ACCOUNT, 'photos')

    def key(self, name, container='photos'):
        return self.mapping.target(container).object_key(name)

    def remote_put(self, name, data, when, metadata=None, container='photos',
                   **kwargs):
        """An object as proxymc writes it, at Swift time ``when``."""
        meta = {md.TIMESTAMP_KEY: swift_utils.Timestamp(when).internal}
        meta.update(metadata or {})
        self.provider.put_raw(self.mapping.target(container).bucket,
                              self.key(name, container), data,
                              metadata=meta, **kwargs)

    def local_put(self, name, data, when, container='photos'):
        return self.swift.put(ACCOUNT, container, name, data,
                              timestamp=swift_utils.Timestamp(when))

    def run(self, **kwargs):
        puller = failback.FailBack(self.mapping, self.provider, self.target,
                                   clock=lambda: OUTAGE + 1000, **kwargs)
        return {o.name: o for o in puller.run(puller.containers())}

    def local(self, name, container='photos'):
        return self.swift.get(ACCOUNT, container, name)


def test_a_newer_remote_object_comes_back_with_its_metadata():
    env = Env()
    env.remote_put('new ☃.txt', b'cloud bytes', OUTAGE + 10,
                   content_type='text/plain',
                   metadata={'colour': 'blue',
                             'cloudsync-sysmeta-s3api-etag': 'abc-2'})

    found = env.run()

    outcome = found['new ☃.txt']
    assert outcome.outcome == failback.COPIED
    assert outcome.bytes == len(b'cloud bytes')
    record = env.local('new ☃.txt')
    assert record.body == b'cloud bytes'
    assert record.content_type == 'text/plain'
    assert record.data_timestamp == swift_utils.Timestamp(OUTAGE + 10)
    assert record.headers['X-Object-Meta-Colour'] == 'blue'
    assert record.headers['X-Object-Sysmeta-S3Api-Etag'] == 'abc-2'
    assert outcome.line() == (
        'photos/new ☃.txt: copied (11 bytes, %s)'
        % swift_utils.Timestamp(OUTAGE + 10).internal)
    put = env.swift.requests_for('PUT', obj='new ☃.txt')[0]
    assert put.headers['if-none-match'] == '*'


def test_an_older_local_copy_is_replaced():
    env = Env()
    env.local_put('doc', b'old', OUTAGE - 100)
    env.remote_put('doc', b'newer', OUTAGE + 5)

    assert env.run()['doc'].outcome == failback.COPIED

    assert env.local('doc').body == b'newer'
    put = env.swift.requests_for('PUT', obj='doc')[0]
    assert 'if-none-match' not in put.headers


def test_a_newer_local_write_is_never_overwritten():
    env = Env()
    env.remote_put('doc', b'cloud', OUTAGE + 5)
    env.local_put('doc', b'written in swift later', OUTAGE + 50)

    outcome = env.run()['doc']

    assert outcome.outcome == failback.SKIPPED
    assert 'as new or newer' in outcome.reason
    assert env.local('doc').body == b'written in swift later'
    assert env.swift.requests_for('PUT') == []


def test_the_daemons_own_copy_is_left_alone():
    env = Env()
    env.local_put('synced', b'same', OUTAGE - 500)
    env.remote_put('synced', b'same', OUTAGE - 500)

    assert env.run()['synced'].outcome == failback.SKIPPED
    assert env.swift.requests_for('PUT') == []


def test_a_later_local_delete_wins_and_an_earlier_one_does_not():
    env = Env()
    env.remote_put('gone', b'x', OUTAGE + 5)
    env.swift.delete(ACCOUNT, 'photos', 'gone',
                     timestamp=swift_utils.Timestamp(OUTAGE + 20))
    env.remote_put('back', b'y', OUTAGE + 30)
    env.swift.delete(ACCOUNT, 'photos', 'back',
                     timestamp=swift_utils.Timestamp(OUTAGE + 1))

    found = env.run()

    assert found['gone'].outcome == failback.SKIPPED
    assert 'deleted in Swift later' in found['gone'].reason
    assert env.local('gone') is None
    assert found['back'].outcome == failback.COPIED
    assert env.local('back').body == b'y'


def test_a_swift_write_racing_the_copy_wins():
    env = Env()
    env.remote_put('raced', b'cloud', OUTAGE + 5)

    def racer(req):
        if req.method == 'PUT' and req.obj == 'raced':
            env.local_put('raced', b'swift', OUTAGE + 60)
    env.swift.hooks.append(racer)

    outcome = env.run()['raced']

    assert outcome.outcome == failback.SKIPPED
    assert env.local('raced').body == b'swift'


def test_objects_not_written_by_cloudsync_are_skipped():
    env = Env()
    env.provider.put_raw('bkt', env.key('foreign'), b'z')

    outcome = env.run()['foreign']

    assert outcome.outcome == failback.SKIPPED
    assert md.TIMESTAMP_KEY in outcome.reason
    assert env.local('foreign') is None


def test_dry_run_copies_nothing_and_says_what_it_would():
    env = Env()
    env.remote_put('new', b'12345', OUTAGE + 5)
    env.local_put('kept', b'local', OUTAGE + 50)
    env.remote_put('kept', b'cloud', OUTAGE + 5)

    found = env.run(dry_run=True)

    assert found['new'].outcome == failback.WOULD_COPY
    assert found['new'].bytes == 5
    assert found['kept'].outcome == failback.SKIPPED
    assert env.swift.requests_for('PUT') == []
    summary = failback.Summary()
    for outcome in found.values():
        summary.add(outcome)
    assert (summary.copied, summary.skipped, summary.failed,
            summary.bytes) == (1, 1, 0, 5)


def test_since_skips_what_was_written_before_the_outage():
    env = Env()
    env.remote_put('old', b'o', OUTAGE - 3600)
    env.remote_put('new', b'n', OUTAGE + 5)

    found = env.run(since=OUTAGE)

    assert found['old'].outcome == failback.SKIPPED
    assert found['old'].reason == 'written before --since'
    assert found['new'].outcome == failback.COPIED


def test_since_skips_objects_stored_long_before_without_asking():
    env = Env()
    env.provider.clock.now = OUTAGE - 2 * failback.CLOCK_SLACK
    env.remote_put('ancient', b'a', OUTAGE - 2 * failback.CLOCK_SLACK)
    env.provider.clock.now = OUTAGE - 10
    env.remote_put('skewed', b's', OUTAGE + 5)
    env.provider.reset_calls()

    found = env.run(since=OUTAGE)

    assert found['ancient'].outcome == failback.SKIPPED
    assert found['skewed'].outcome == failback.COPIED
    assert env.provider.count('head_object') == 1


def test_expired_objects_are_not_brought_back_and_expiry_is_kept():
    env = Env()
    env.remote_put('expired', b'e', OUTAGE + 5,
                   metadata={md.DELETE_AT_KEY: str(int(OUTAGE + 10))})
    env.remote_put('expiring', b'f', OUTAGE + 5,
                   metadata={md.DELETE_AT_KEY: str(int(OUTAGE + 99999))})

    found = env.run()

    assert found['expired'].outcome == failback.SKIPPED
    assert found['expiring'].outcome == failback.COPIED
    assert env.local('expiring').headers['X-Delete-At'] == str(
        int(OUTAGE + 99999))


def test_large_objects_fail_and_say_why():
    env = Env()
    env.remote_put('slo', b'bytes', OUTAGE + 5,
                   metadata={md.SLO_KEY: 'True'})

    outcome = env.run()['slo']

    assert outcome.outcome == failback.FAILED
    assert 'static large object' in outcome.reason
    assert env.local('slo') is None


def test_the_etag_is_checked_by_swift():
    env = Env()
    env.remote_put('bad', b'bytes', OUTAGE + 5, etag='0' * 32)

    outcome = env.run()['bad']

    assert outcome.outcome == failback.FAILED
    assert env.local('bad') is None


def test_only_this_containers_keys_are_looked_at():
    env = Env()
    env.remote_put('mine', b'm', OUTAGE + 5)
    env.remote_put('theirs', b't', OUTAGE + 5, container='other')
    layout = env.mapping.target('photos').layout
    env.provider.put_raw('bkt', layout.manifest_key('mine'), b'{}')

    assert sorted(env.run()) == ['mine']


def test_a_mapping_of_every_container_looks_at_the_accounts_containers():
    env = Env(container='*', layout='prefix',
              key_prefix='{account}/{container}/')
    env.swift.create_container(ACCOUNT, 'more')
    env.remote_put('a', b'1', OUTAGE + 5, container='photos')
    env.remote_put('b', b'2', OUTAGE + 5, container='more')
    env.remote_put('c', b'3', OUTAGE + 5, container='unknown')
    env.target.client.iter_containers = lambda account: iter(
        [{'name': 'more'}, {'name': 'photos'}])
    puller = failback.FailBack(env.mapping, env.provider, env.target)

    assert puller.containers(['unknown']) == ['more', 'photos', 'unknown']
    found = {(o.container, o.name): o.outcome
             for o in puller.run(puller.containers())}

    assert found == {('more', 'b'): failback.COPIED,
                     ('photos', 'a'): failback.COPIED}


def test_a_container_swift_lacks_is_created_with_the_policy():
    env = Env(container='*', layout='prefix',
              key_prefix='{account}/{container}/', storage_policy='gold')
    env.remote_put('a', b'1', OUTAGE + 5, container='made-in-cloud')
    puller = failback.FailBack(env.mapping, env.provider, env.target)

    found = list(puller.run(['made-in-cloud']))

    assert [o.outcome for o in found] == [failback.COPIED]
    puts = [r for r in env.swift.requests_for('PUT') if r.obj is None]
    assert [(r.container, r.headers.get('x-storage-policy'))
            for r in puts] == [('made-in-cloud', 'gold')]
    assert env.local('a', container='made-in-cloud').body == b'1'


def test_dry_run_creates_no_container():
    env = Env(container='*', layout='prefix',
              key_prefix='{account}/{container}/')
    env.remote_put('a', b'1', OUTAGE + 5, container='made-in-cloud')
    puller = failback.FailBack(env.mapping, env.provider, env.target,
                               dry_run=True)

    assert [o.outcome for o in puller.run(['made-in-cloud'])] == [
        failback.WOULD_COPY]
    assert env.swift.requests_for('PUT') == []


# -- the command -------------------------------------------------------------

CONF = """
[DEFAULT]
swift_dir = %(dir)s

[remote:aws]
provider = s3
access_key = a
secret_key = s

[mapping:photos]
remote = aws
bucket = bkt
account = AUTH_test
container = photos

[mapping:archive]
remote = aws
bucket = bkt
account = AUTH_test
container = old
lifecycle = archive
"""


def write_conf(tmp_path):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(CONF % {'dir': tmp_path})
    return str(path)


@pytest.mark.parametrize('value, expected', [
    ('1700000000', 1700000000.0),
    ('2023-11-14T22:13:20Z', 1700000000.0),
    ('2023-11-14T22:13:20', 1700000000.0),
    ('2023-11-15T00:13:20+02:00', 1700000000.0),
    (None, None),
])
def test_since_reads_seconds_and_iso_dates(value, expected):
    assert failback_cmd.parse_since(value) == expected


def test_the_command_refuses_unknown_mappings(tmp_path, capsys):
    path = write_conf(tmp_path)
    assert failback_cmd.run(['--config-file', path, 'nope']) == 2
    err = capsys.readouterr().err
    assert 'no mapping nope' in err and 'archive, photos' in err
    assert failback_cmd.run(['--config-file', path]) == 2


def test_the_command_refuses_a_bad_since(tmp_path, capsys):
    path = write_conf(tmp_path)
    assert failback_cmd.run(['--config-file', path, '--since', 'yesterday',
                             'photos']) == 2
    assert '--since' in capsys.readouterr().err


def test_an_archiving_mapping_needs_since(tmp_path, capsys):
    path = write_conf(tmp_path)
    assert failback_cmd.run(['--config-file', path, 'archive']) == 2
    assert 'archive removes local data: give --since' in \
        capsys.readouterr().err


def test_the_command_reports_every_object_and_a_summary(
        tmp_path, monkeypatch):
    env = Env()
    env.remote_put('new', b'abc', OUTAGE + 5)
    env.remote_put('kept', b'cloud', OUTAGE + 5)
    env.local_put('kept', b'local', OUTAGE + 50)
    env.remote_put('slo', b'x', OUTAGE + 5, metadata={md.SLO_KEY: 'True'})
    monkeypatch.setattr(conf_mod.Remote, 'provider',
                        lambda self, max_connections=10: env.provider)
    out = io.StringIO()

    status = failback_cmd.run(['--config-file', write_conf(tmp_path),
                               'photos'], stdout=out,
                              internal_client=env.target.client)

    assert status == failback_cmd.EXIT_FAILED
    lines = out.getvalue().splitlines()
    assert lines[-1] == ('mapping photos: 1 copied (3 bytes), 1 skipped, '
                         '1 failed')
    assert any(line.startswith('photos/kept: skipped: the local copy')
               for line in lines)
    assert env.local('new').body == b'abc'


def test_the_command_dry_run(tmp_path, monkeypatch):
    env = Env()
    env.remote_put('new', b'abc', OUTAGE + 5)
    monkeypatch.setattr(conf_mod.Remote, 'provider',
                        lambda self, max_connections=10: env.provider)
    out = io.StringIO()

    status = failback_cmd.run(['--config-file', write_conf(tmp_path),
                               '--dry-run', 'photos'], stdout=out,
                              internal_client=env.target.client)

    assert status == failback_cmd.EXIT_OK
    assert out.getvalue().splitlines()[-1] == (
        'mapping photos: 1 would be copied (3 bytes), 0 skipped, 0 failed')
    assert env.local('new') is None


def test_the_command_is_installed():
    from importlib import metadata
    scripts = {e.name: e.value for e in metadata.entry_points(
        group='console_scripts')}
    assert scripts['cloudsync-failback'] == 'cloudsync.cmd.failback:main'


# -- static large objects ----------------------------------------------------

def proxymc_slo(env, name, segments, when, container='photos'):
    """A static large object as proxymc writes it: its segments (``[(path,
    bytes)]``) already written, the object in one part per segment with
    its manifest beside it.
    """
    manifest = [{'name': path, 'hash': fakes.md5_hex(data),
                 'bytes': len(data)} for path, data in segments]
    raw = json.dumps(manifest).encode('utf-8')
    target = env.mapping.target(container)
    env.provider.put_raw(target.bucket, target.layout.manifest_key(name),
                         raw)
    env.remote_put(name, b''.join(d for _, d in segments), when,
                   container=container, content_type='video/mp4',
                   metadata={md.SLO_KEY: 'True',
                             md.MANIFEST_ETAG_KEY: fakes.md5_hex(raw),
                             'colour': 'red'})


def test_a_static_large_object_comes_back_with_its_segments():
    env = Env()
    for n in (1, 2):
        env.remote_put('movie/%d' % n, b'%d' % n * 10, OUTAGE + 2)
    proxymc_slo(env, 'a-movie', [('/photos/movie/1', b'1' * 10),
                                 ('/photos/movie/2', b'2' * 10)],
                OUTAGE + 5)

    found = env.run()

    assert found['a-movie'].outcome == failback.COPIED
    assert found['a-movie'].bytes == 20
    copy = env.local('a-movie')
    assert copy.headers['X-Static-Large-Object'] == 'True'
    assert copy.headers['X-Object-Meta-Colour'] == 'red'
    assert copy.content_type.split(';')[0] == 'video/mp4'
    assert float(copy.data_timestamp) == OUTAGE + 5
    assert env.local('movie/2').body == b'2' * 10
    body = env.target.client.make_request(
        'GET', env.target.client.make_path(ACCOUNT, 'photos', 'a-movie'),
        {}, (2,)).body
    assert body == b'1' * 10 + b'2' * 10
    assert env.run()['a-movie'].outcome == failback.SKIPPED


def test_a_static_large_object_whose_segments_are_elsewhere_waits():
    env = Env()
    proxymc_slo(env, 'movie', [('/other/1', b'1' * 10)], OUTAGE + 5)

    outcome = env.run()['movie']

    assert outcome.outcome == failback.FAILED
    assert 'segment /other/1 is not in Swift' in outcome.reason
    assert env.local('movie') is None
    env.swift.put(ACCOUNT, 'other', '1', b'1' * 10)
    assert env.run()['movie'].outcome == failback.COPIED


def test_a_static_large_object_with_a_manifest_it_does_not_name_fails():
    env = Env()
    proxymc_slo(env, 'movie', [('/photos/seg', b'x' * 10)], OUTAGE + 5)
    env.provider.put_raw('bkt', env.mapping.target(
        'photos').layout.manifest_key('movie'), b'[]')

    outcome = env.run()['movie']

    assert outcome.outcome == failback.FAILED
    assert 'manifest in the bucket is not used' in outcome.reason


def test_a_dry_run_says_it_would_copy_a_static_large_object():
    env = Env()
    env.remote_put('seg', b'x' * 10, OUTAGE + 2)
    proxymc_slo(env, 'movie', [('/photos/seg', b'x' * 10)], OUTAGE + 5)

    found = env.run(dry_run=True)

    assert found['movie'].outcome == failback.WOULD_COPY
    assert env.local('movie') is None and env.local('seg') is None
