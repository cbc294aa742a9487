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
"""``[migration:NAME]`` sections: loaded, checked, in the sample."""

from cloudsync import conf as cs_conf
from tests.unit import test_conf as base

example_provider = base.example_provider

REMOTES = """
[DEFAULT]
status_dir = /tmp/status

[remote:aws]
provider = example
access_key = AKIAEXAMPLE
secret_key = very-secret-value

[remote:old]
provider = containers
access_key = legacy:migrator
secret_key = key
"""

GOOD = REMOTES + """
[migration:photos]
remote = aws
bucket = team-photos
account = AUTH_test
container = photos
prefix = 2024/
storage_policy = gold

[migration:legacy]
remote = old
bucket = *
account = AUTH_legacy
remove_after_verify = true
"""


def test_migrations_load_with_their_remote_and_options(tmp_path):
    config = base.load(tmp_path, GOOD)
    by_name = {m.name: m for m in config.migrations}
    assert sorted(by_name) == ['legacy', 'photos']
    photos = by_name['photos']
    assert photos.remote is config.remotes['aws']
    assert (photos.bucket, photos.account, photos.container) == (
        'team-photos', 'AUTH_test', 'photos')
    assert photos.prefix == '2024/'
    assert photos.storage_policy == 'gold'
    assert photos.propagate_delete and not photos.remove_after_verify
    assert not photos.source_is_swift
    legacy = by_name['legacy']
    assert legacy.every_bucket and legacy.source_is_swift
    assert legacy.remove_after_verify
    # NOTE: what the migrator removes from the source stays in Swift.
    assert not legacy.propagate_delete
    assert config.mappings == []


def test_the_target_container_defaults_to_the_bucket(tmp_path):
    config = base.load(tmp_path, GOOD.replace('container = photos\n', ''))
    photos = {m.name: m for m in config.migrations}['photos']
    assert photos.target_container('team-photos') == 'team-photos'
    assert config.migration_for('AUTH_test', 'team-photos') is photos
    assert config.migration_for('AUTH_test', 'photos') is None


def test_a_migration_of_one_bucket_wins_over_every_bucket(tmp_path):
    config = base.load(tmp_path, GOOD.replace('AUTH_legacy', 'AUTH_test'))
    assert config.migration_for('AUTH_test', 'photos').name == 'photos'
    assert config.migration_for('AUTH_test', 'other').name == 'legacy'
    assert config.migration_for('AUTH_other', 'x') is None
    legacy = {m.name: m for m in config.migrations}['legacy']
    assert legacy.source_bucket('other') == 'other'


def test_problems_name_the_section_and_option(tmp_path):
    found = base.problems(tmp_path, REMOTES + """
[migration:bad]
remote = nowhere
bucket = a/b
container =
colour = blue

[migration:also-bad]
remote = aws
bucket = *
account = AUTH_test
container = c
""")
    assert '[migration:bad] account: missing' in found
    assert any(p.startswith('[migration:bad] remote: no section '
                            '[remote:nowhere]') for p in found)
    assert '[migration:bad] bucket: \'a/b\' must not contain "/"' in found
    assert "[migration:bad] container: '' is not a container name" in found
    assert '[migration:bad] colour: unknown option' in found
    assert any(p.startswith('[migration:also-bad] container: not with '
                            'bucket = *') for p in found)


def test_two_migrations_may_not_fill_one_container(tmp_path):
    found = base.problems(tmp_path, GOOD + """
[migration:zzz-again]
remote = old
bucket = photos
account = AUTH_test
""")
    assert found == ['[migration:zzz-again] container: AUTH_test/photos '
                     'is already the target of [migration:photos]']


def test_removing_from_the_source_cannot_propagate_deletes(tmp_path):
    found = base.problems(tmp_path, GOOD.replace(
        'remove_after_verify = true',
        'remove_after_verify = true\npropagate_delete = true'))
    assert len(found) == 1
    assert found[0].startswith('[migration:legacy] propagate_delete: not '
                               'with remove_after_verify')


def test_a_disabled_remote_turns_its_migrations_off(tmp_path):
    config = base.load(tmp_path, GOOD.replace(
        'provider = containers', 'provider = containers\nenabled = false'))
    assert [m.name for m in config.migrations] == ['photos']


def test_the_fingerprint_changes_with_the_source(tmp_path):
    one = base.load(tmp_path, GOOD).migrations[1].fingerprint()
    two = base.load(tmp_path, GOOD.replace(
        'team-photos', 'other')).migrations[1].fingerprint()
    assert one['bucket'] == 'team-photos' and one != two


def test_the_options_are_in_the_generated_sample():
    groups = {getattr(g, 'name', g): opts for g, opts in cs_conf.list_opts()}
    names = [o.name for o in groups['migration:name']]
    assert names[:4] == ['enabled', 'remote', 'bucket', 'account']
    assert 'remove_after_verify' in names and 'storage_policy' in names


def test_older_than_is_read_and_checked(tmp_path):
    config = base.load(tmp_path, GOOD.replace(
        'prefix = 2024/', 'prefix = 2024/\nolder_than = 3600'))
    by_name = {m.name: m for m in config.migrations}
    assert by_name['photos'].older_than == 3600.0
    assert by_name['legacy'].older_than == 0.0

    found = base.problems(tmp_path, GOOD.replace(
        'prefix = 2024/', 'prefix = 2024/\nolder_than = -5'))
    assert len(found) == 1
    assert found[0].startswith('[migration:photos] older_than: ')
    found = base.problems(tmp_path, GOOD.replace(
        'prefix = 2024/', 'prefix = 2024/\nolder_than = soon'))
    assert len(found) == 1
    assert found[0].startswith('[migration:photos] older_than: ')
