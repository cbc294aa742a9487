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

import logging
import os
import subprocess
import sys
import textwrap

from oslo_config import cfg
import pytest

from cloudsync import conf as cs_conf
from cloudsync import exceptions
from cloudsync import log as cs_log
from cloudsync import providers
from cloudsync import registry

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class ExampleProvider(providers.Provider):
    OPTIONS = [cfg.IntOpt('part_size', default=8, min=1,
                          help='an example option'),
               cfg.StrOpt('token', secret=True, help='a secret of its own')]

    @classmethod
    def validate_conf(cls, conf):
        if conf.part_size == 13:
            return ['part_size: 13 is unlucky']
        return []

    def check_target(self, bucket, create=False):
        pass

    put_object = put_multipart = update_metadata = check_target
    delete_object = head_object = get_object = list_objects = check_target


class ContainerProvider(ExampleProvider):
    BUCKET_PER_CONTAINER = True


class _Namespace(registry._Namespace):
    def __init__(self, plugins, failures=None):
        super().__init__(registry.PROVIDERS)
        self.plugins = plugins
        self.failures = failures or {}
        self.complete = True


@pytest.fixture(autouse=True)
def example_provider(monkeypatch):
    real = registry._namespace(registry.PROVIDERS)
    real.find_all()
    plugins = dict(real.plugins, example=ExampleProvider,
                   containers=ContainerProvider)
    failures = dict(real.failures,
                    broken='broken_pkg.mod:Cls (ImportError: no broken_pkg)')
    monkeypatch.setitem(registry._cache, registry.PROVIDERS,
                        _Namespace(plugins, failures))


GOOD = """
[DEFAULT]
devices = /srv/node
status_dir = /tmp/status

[remote:aws]
provider = example
endpoint = https://s3.example.com:8443
access_key = AKIAEXAMPLE
secret_key = very-secret-value

[mapping:photos]
account = AUTH_test
container = photos
remote = aws
bucket = team-photos

[mapping:all]
account = AUTH_test
container = *
remote = aws
bucket = everything
lifecycle = archive
copy_after = 3600
"""


def load(tmp_path, text):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(textwrap.dedent(text))
    return cs_conf.load(['--config-file', str(path)])


def problems(tmp_path, text):
    with pytest.raises(exceptions.ConfigError) as err:
        load(tmp_path, text)
    return err.value.problems


def test_a_good_configuration_loads(tmp_path):
    config = load(tmp_path, GOOD)
    assert config.conf.status_dir == '/tmp/status'
    assert sorted(config.remotes) == ['aws']
    by_name = {m.name: m for m in config.mappings}
    assert sorted(by_name) == ['all', 'photos']
    photos = by_name['photos']
    assert photos.bucket == 'team-photos'
    assert photos.lifecycle == 'sync'
    assert photos.propagate_delete is True
    assert photos.remote.conf.part_size == 8
    assert not photos.removes_local_data
    assert by_name['all'].removes_local_data


def test_archiving_leaves_stubs_unless_told_to_delete(tmp_path):
    by_name = {m.name: m for m in load(tmp_path, GOOD).mappings}
    archive = by_name['all']
    assert archive.archive_as == 'stub'
    assert archive.archives_as_stubs
    assert archive.serve_deleted_archives is True
    assert not by_name['photos'].archives_as_stubs
    deleting = {m.name: m for m in load(tmp_path, GOOD.replace(
        'copy_after = 3600', 'copy_after = 3600\narchive_as = delete'))
        .mappings}['all']
    assert deleting.archive_as == 'delete'
    assert not deleting.archives_as_stubs
    assert deleting.serves_deleted


def test_exact_mappings_win_over_wildcards(tmp_path):
    config = load(tmp_path, GOOD)
    assert config.mapping_for('AUTH_test', 'photos').name == 'photos'
    assert config.mapping_for('AUTH_test', 'other').name == 'all'
    assert config.mapping_for('AUTH_other', 'photos') is None


def test_disabled_sections_are_ignored(tmp_path):
    config = load(tmp_path, GOOD.replace(
        'bucket = team-photos', 'bucket = team-photos\nenabled = false'))
    assert [m.name for m in config.mappings] == ['all']


@pytest.mark.parametrize('change,expected', [
    (('remote = aws\nbucket = team', 'remote = gcp\nbucket = team'),
     "[mapping:photos] remote: no section [remote:gcp]; remotes: aws"),
    (('provider = example', 'provider = azure'),
     "[remote:aws] provider: unknown provider 'azure'; available: "),
    (('provider = example', 'provider = broken'),
     "[remote:aws] provider: provider 'broken' is installed but failed "
     "to load: entry point broken_pkg.mod:Cls (ImportError"),
    (('bucket = team-photos\n', ''), '[mapping:photos] bucket: missing'),
    (('endpoint = https://s3.example.com:8443', 'endpoint = s3.example'),
     "[remote:aws] endpoint: 's3.example' is not an http:// or https:// "
     "URL with a host"),
    (('copy_after = 3600', 'copy_after = -5'),
     '[mapping:all] copy_after: must not be negative'),
    (('copy_after = 3600', 'copy_after = soon'),
     '[mapping:all] copy_after: '),
    (('bucket = team-photos', 'bucket = team-photos\nexclude_pattern = ([a'),
     "[mapping:photos] exclude_pattern: '([a' is not a valid regular "
     "expression"),
    (('bucket = team-photos',
      'bucket = team-photos\nselection_criteria = {"a": "b", "c": "d"}'),
     '[mapping:photos] selection_criteria: each criterion must be an '
     'object with exactly one key'),
    (('bucket = team-photos',
      'bucket = team-photos\nselection_criteria = {nope'),
     '[mapping:photos] selection_criteria: '),
    (('container = photos', 'container = *'),
     '[mapping:photos] container: AUTH_test/* is already mapped by '
     '[mapping:all]'),
    (('lifecycle = archive', 'lifecycle = freeze'),
     "[mapping:all] lifecycle: unknown lifecycle policy 'freeze'; "
     "available: archive, sync"),
    (('bucket = team-photos', 'bucket = team-photos\nlisting = zip'),
     "[mapping:photos] listing: unknown listing merger 'zip'"),
    (('bucket = everything', 'bucket = everything\nlayout = native'),
     '[mapping:all] layout: native keys cannot keep several containers'),
    (('bucket = everything', 'bucket = everything\nlayout = flat'),
     '[mapping:all] layout: '),
    (('secret_key = very-secret-value',
      'secret_key = very-secret-value\npart_size = 13'),
     '[remote:aws] part_size: 13 is unlucky'),
    (('bucket = team-photos', 'bucket = team-photos\nstorage_policy = gold'),
     '[mapping:photos] storage_policy: only remotes that keep Swift '
     'containers (provider swift) take it; [remote:aws] has provider '
     'example'),
    (('bucket = team-photos',
      'bucket = team-photos\nsync_container_acl = true'),
     '[mapping:photos] sync_container_acl: needs sync_container_metadata'),
])
def test_bad_values_are_named_by_section_and_option(
        tmp_path, change, expected):
    old, new = change
    assert old in GOOD
    found = problems(tmp_path, GOOD.replace(old, new, 1))
    assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_reported_at_once(tmp_path):
    text = GOOD.replace('provider = example', 'provider = azure').replace(
        'copy_after = 3600', 'copy_after = -1')
    found = problems(tmp_path, text)
    assert len(found) >= 2


def test_missing_provider_lists_the_available_ones(tmp_path):
    found = problems(tmp_path, GOOD.replace('provider = example\n', ''))
    assert found[0].startswith('[remote:aws] provider: missing; available:')
    assert 'example' in found[0]


def test_load_file_reports_a_missing_file(tmp_path):
    with pytest.raises(exceptions.ConfigError, match='does not exist'):
        cs_conf.load_file(str(tmp_path / 'nope.conf'))


def test_load_file_reads_one_file(tmp_path):
    path = tmp_path / 'c.conf'
    path.write_text(GOOD)
    config = cs_conf.load_file(str(path))
    assert len(config.mappings) == 2


def test_changing_the_bucket_changes_the_fingerprint(tmp_path):
    one = load(tmp_path, GOOD).mapping_for('AUTH_test', 'photos')
    two = load(tmp_path, GOOD.replace('team-photos', 'other')).mapping_for(
        'AUTH_test', 'photos')
    assert one.fingerprint() != two.fingerprint()


def test_selection_criteria_match_case_insensitively(tmp_path):
    text = GOOD.replace('bucket = team-photos', 'bucket = team-photos\n'
                        'selection_criteria = {"OR": ['
                        '{"x-object-meta-msd": "boo"}, '
                        '{"NOT": {"x-object-meta-msd": "b\\u00e1r"}}]}')
    mapping = load(tmp_path, text).mapping_for('AUTH_test', 'photos')
    assert mapping.selects({'X-Object-Meta-Msd': 'BOO'})
    assert mapping.selects({'X-Object-Meta-Other': 'x'})
    assert not mapping.selects({'X-Object-Meta-Msd': 'BÁR'})


def test_exclude_pattern_is_anchored_at_the_start(tmp_path):
    text = GOOD.replace('bucket = team-photos',
                        'bucket = team-photos\nexclude_pattern = tmp/')
    mapping = load(tmp_path, text).mapping_for('AUTH_test', 'photos')
    assert mapping.excludes('tmp/x')
    assert not mapping.excludes('a/tmp/x')


def test_secrets_never_reach_a_log(tmp_path, caplog):
    config = load(tmp_path, GOOD)
    cs_log.add_secrets(config.secrets())
    caplog.handler.addFilter(cs_log.secret_filter())
    logger = logging.getLogger('cloudsync.test')
    with caplog.at_level(logging.DEBUG):
        secret = config.remotes['aws'].conf.secret_key
        logger.debug('connecting with %s', secret)
        try:
            raise RuntimeError('auth very-secret-value failed')
        except RuntimeError:
            logger.exception('boom')
        config.conf.log_opt_values(logger, logging.DEBUG)
    text = caplog.text + ''.join(r.exc_text or '' for r in caplog.records)
    assert 'very-secret-value' not in text
    assert '***' in text


def test_the_committed_sample_config_is_up_to_date(tmp_path):
    out = tmp_path / 'sample.conf'
    subprocess.run(
        [sys.executable, '-m', 'oslo_config.generator',
         '--config-file',
         os.path.join(ROOT, 'etc/cloudsync/cloudsync-config-generator.conf'),
         '--output-file', str(out)], check=True, cwd=ROOT)
    committed = os.path.join(ROOT, 'etc/cloudsync/cloudsync.conf.sample')
    with open(committed) as f:
        want = cs_conf_sample_without_libraries(f.read())
    got = cs_conf_sample_without_libraries(out.read_text())
    assert got == want, ('etc/cloudsync/cloudsync.conf.sample is out of '
                         'date: run "tox -e genconfig" and commit it')


def cs_conf_sample_without_libraries(text):
    """The sample without the options of other libraries (oslo.log).

    Their help text changes with their releases.
    """
    keep, lines = True, []
    for line in text.splitlines():
        if line.startswith('# From '):
            keep = line.split()[2] in ('cloudsync', 'cloudsync.proxymc')
        elif line.startswith('['):
            keep = True
        if keep:
            lines.append(line)
    return '\n'.join(lines)


def test_remotes_that_keep_containers_take_native_keys_for_every_container(
        tmp_path):
    text = GOOD.replace('provider = example', 'provider = containers')
    text = text.replace('bucket = everything',
                        'bucket = everything-\nlayout = native\n'
                        'storage_policy = gold\n'
                        'sync_container_metadata = true')
    mapping = load(tmp_path, text).mapping_for('AUTH_test', 'docs')
    assert mapping.remote_bucket('docs') == 'everything-docs'
    assert mapping.remote_layout('docs').object_key('a/b') == 'a/b'
    assert mapping.storage_policy == 'gold'
    target = mapping.target('docs')
    assert (target.mapping, target.account, target.container,
            target.bucket) == (mapping, 'AUTH_test', 'docs',
                               'everything-docs')
    assert target.object_key('a/b') == 'a/b'


def test_a_providers_own_secret_options_are_secrets_too(tmp_path):
    config = load(tmp_path, GOOD.replace(
        'secret_key = very-secret-value',
        'secret_key = very-secret-value\ntoken = session-token-value'))
    assert sorted(config.secrets()) == ['session-token-value',
                                        'very-secret-value']


@pytest.mark.parametrize('change,expected', [
    (('status_dir = /tmp/status', 'status_dir = /tmp/status\nworkers = many'),
     "[DEFAULT] workers: 'many' is not a whole number"),
    (('status_dir = /tmp/status', 'status_dir = /tmp/status\nworkers = 0'),
     '[DEFAULT] workers: should be greater than or equal to 1'),
    (('copy_after = 3600', 'copy_after = soon'),
     "[mapping:all] copy_after: 'soon' is not a number"),
])
def test_bad_values_say_what_is_wrong_without_oslo_internals(
        tmp_path, change, expected):
    old, new = change
    found = problems(tmp_path, GOOD.replace(old, new, 1))
    assert expected in found, found
    assert not [p for p in found if 'LocationInfo' in p or
                'Value for option' in p]


@pytest.mark.parametrize('value', ['nan', 'NaN', 'inf', '-inf'])
def test_copy_after_must_be_a_finite_number(tmp_path, value):
    found = problems(tmp_path, GOOD.replace('copy_after = 3600',
                                            'copy_after = %s' % value))
    assert [p for p in found if p.startswith(
        '[mapping:all] copy_after: ') and 'not a finite number' in p], found


def test_a_remote_that_failed_to_load_is_not_reported_missing_too(tmp_path):
    found = problems(tmp_path, GOOD.replace('provider = example',
                                            'provider = azure'))
    assert len(found) == 1, found
    assert found[0].startswith("[remote:aws] provider: unknown provider "
                               "'azure'")


def test_a_mapping_naming_no_remote_section_is_still_reported(tmp_path):
    found = problems(tmp_path, GOOD.replace(
        'remote = aws\nbucket = team', 'remote = gcp\nbucket = team'))
    assert found == ['[mapping:photos] remote: no section [remote:gcp]; '
                     'remotes: aws']


@pytest.mark.parametrize('change,expected', [
    (('copy_after = 3600', 'copy_afer = 3600'),
     '[mapping:all] copy_afer: unknown option; did you mean copy_after?'),
    (('secret_key = very-secret-value',
      'secret_key = very-secret-value\npart_szie = 9'),
     '[remote:aws] part_szie: unknown option; did you mean part_size?'),
    (('bucket = team-photos', 'bucket = team-photos\ncolour = blue'),
     '[mapping:photos] colour: unknown option'),
])
def test_unknown_options_of_remotes_and_mappings_are_errors(
        tmp_path, change, expected):
    old, new = change
    assert old in GOOD
    found = problems(tmp_path, GOOD.replace(old, new, 1))
    assert expected in found, found


def test_options_other_parts_read_are_not_unknown(tmp_path, caplog):
    text = GOOD.replace(
        'status_dir = /tmp/status',
        'status_dir = /tmp/status\ndebug = true\nlog_dir = /tmp\n'
        'default_log_levels = a=WARN').replace(
        'bucket = team-photos',
        'bucket = team-photos\nread_acl = test:reader\nwrite_acl = x\n'
        'enabled = true')
    with caplog.at_level(logging.WARNING):
        config = load(tmp_path, text)
    assert [m.name for m in config.mappings] == ['all', 'photos']
    assert 'unknown option' not in caplog.text


def test_an_unknown_default_option_is_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        load(tmp_path, GOOD.replace('status_dir = /tmp/status',
                                    'status_dir = /tmp/status\nworkerz = 3'))
    assert '[DEFAULT] workerz: unknown option, ignored' in caplog.text


OVERLAP = """
[DEFAULT]
status_dir = /tmp/status

[remote:aws]
provider = example
endpoint = https://s3.example.com:8443
access_key = AKIAEXAMPLE
secret_key = very-secret-value

[mapping:one]
account = AUTH_one
container = %s
remote = aws
bucket = shared
%s

[mapping:two]
account = AUTH_two
container = %s
remote = aws
bucket = shared
%s
"""


def overlap_problems(tmp_path, one, two, one_layout='', two_layout='',
                     text=OVERLAP):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(textwrap.dedent(text % (one, one_layout, two,
                                            two_layout)))
    try:
        cs_conf.load(['--config-file', str(path)])
    except exceptions.ConfigError as exc:
        return exc.problems
    return []


@pytest.mark.parametrize('one, two, one_layout, two_layout', [
    ('*', '*', 'layout = prefix\nkey_prefix = {container}',
     'layout = prefix\nkey_prefix = {container}'),
    ('photos', 'photos', 'layout = native', 'layout = native'),
    ('photos', 'docs', 'layout = native', ''),
    ('*', 'photos', 'layout = prefix\nkey_prefix = {container}',
     'layout = prefix\nkey_prefix = photos'),
    ('a', 'b', 'layout = prefix\nkey_prefix = backup',
     'layout = prefix\nkey_prefix = backup/b'),
    ('*', '*', 'layout = prefix\nkey_prefix = x/{container}',
     'layout = prefix\nkey_prefix = x/y-{container}'),
    # the reserved side namespaces of the hashed layout
    ('photos', 'p', '', 'layout = prefix\nkey_prefix = 8c7ebb/.manifests'),
    ('*', 'p', '', 'layout = prefix\nkey_prefix = abc/.dlo'),
])
def test_mappings_that_can_write_the_same_key_are_refused(
        tmp_path, one, two, one_layout, two_layout):
    found = overlap_problems(tmp_path, one, two, one_layout, two_layout)

    assert len(found) == 1, found
    assert found[0].startswith('[mapping:one] (AUTH_one/%s' % one)
    assert '[mapping:two] (AUTH_two/%s' % two in found[0]
    assert 'can write the same keys of remote aws' in found[0]
    assert 'bucket shared' in found[0]


@pytest.mark.parametrize('one, two, one_layout, two_layout', [
    ('*', '*', '', ''),
    ('photos', 'photos', '', ''),
    ('*', '*', 'layout = prefix\nkey_prefix = {account}/{container}',
     'layout = prefix\nkey_prefix = {account}/{container}'),
    ('*', '*', 'layout = prefix\nkey_prefix = x/{container}-1',
     'layout = prefix\nkey_prefix = x/{container}-2'),
    ('photos', 'photos', 'layout = prefix\nkey_prefix = one',
     'layout = prefix\nkey_prefix = two'),
    ('*', 'p', '', 'layout = prefix\nkey_prefix = backup/{account}'),
    ('photos', 'p', '', 'layout = prefix\nkey_prefix = 8c7ebb/.other'),
])
def test_mappings_that_keep_apart_share_a_bucket(
        tmp_path, one, two, one_layout, two_layout):
    assert overlap_problems(tmp_path, one, two, one_layout,
                            two_layout) == []


def test_the_hashed_prefix_in_the_overlap_test_is_the_real_one():
    from cloudsync import layout
    assert layout.hashed_prefix('AUTH_one', 'photos') == '8c7ebb'


def test_an_exact_mapping_beside_its_accounts_wildcard_may_share_a_bucket(
        tmp_path):
    text = OVERLAP.replace('AUTH_two', 'AUTH_one')
    assert overlap_problems(
        tmp_path, '*', 'photos', 'layout = prefix\nkey_prefix = {container}',
        'layout = prefix\nkey_prefix = photos', text=text) == []
    assert overlap_problems(tmp_path, '*', 'photos', text=text) == []


def test_two_remote_sections_of_one_store_are_one_store(tmp_path):
    text = OVERLAP.replace('[mapping:two]', textwrap.dedent("""
        [remote:again]
        provider = example
        endpoint = https://S3.example.com:8443/
        access_key = OTHER
        secret_key = other-secret

        [mapping:two]""")).replace('remote = aws\nbucket = shared\n%s\n\n',
                                   'remote = aws\nbucket = shared\n%s\n\n', 1)
    text = text.rsplit('remote = aws', 1)
    text = 'remote = again'.join(text)

    found = overlap_problems(tmp_path, 'photos', 'photos', 'layout = native',
                             'layout = native', text=text)

    assert len(found) == 1
    assert 'remotes aws and again (the same store' in found[0]
    other = text.replace('https://S3.example.com:8443/',
                         'https://elsewhere.example.com')
    assert overlap_problems(tmp_path, 'photos', 'photos', 'layout = native',
                            'layout = native', text=other) == []


def test_remote_containers_of_a_wildcard_can_be_another_mappings(tmp_path):
    text = OVERLAP.replace('provider = example', 'provider = containers')
    text = text.replace('bucket = shared\n%s\n\n[mapping:two]',
                        'bucket = x-\n%s\n\n[mapping:two]')
    text = text.rsplit('bucket = shared', 1)
    text = 'bucket = x-photos'.join(text)

    found = overlap_problems(tmp_path, '*', 'c', 'layout = native',
                             'layout = native', text=text)

    assert len(found) == 1, found
    assert 'objects in bucket x-photos (container photos)' in found[0]
    assert overlap_problems(tmp_path, '*', 'c', text=text) == []


def test_swift_remotes_keep_object_names_unless_told_otherwise(tmp_path):
    text = GOOD.replace('provider = example', textwrap.dedent("""\
        provider = swift""")).replace(
        'endpoint = https://s3.example.com:8443',
        'endpoint = https://swift.example.com/auth/v1.0')
    config = load(tmp_path, text)
    photos = config.mapping_for('AUTH_test', 'photos')
    every = config.mapping_for('AUTH_test', 'docs')

    assert photos.layout == every.layout == 'native'
    assert photos.remote_layout('photos').object_key('a/b') == 'a/b'
    assert every.remote_bucket('docs') == 'everythingdocs'
    assert every.remote_layout('docs').object_key('a/b') == 'a/b'
    hashed = load(tmp_path, text.replace('bucket = team-photos',
                                         'bucket = team-photos\n'
                                         'layout = hashed'))
    kept = hashed.mapping_for('AUTH_test', 'photos')
    assert kept.layout == 'hashed'
    assert kept.remote_layout('photos').object_key('a').endswith(
        '/AUTH_test/photos/a')


def test_other_remotes_keep_the_hashed_default(tmp_path):
    config = load(tmp_path, GOOD)
    assert {m.layout for m in config.mappings} == {'hashed'}


def test_a_swift_segments_container_is_part_of_its_mappings_namespace(
        tmp_path):
    text = OVERLAP.replace('provider = example', 'provider = swift').replace(
        'https://s3.example.com:8443', 'https://swift.example.com/auth/v1.0')
    text = 'bucket = shared_segments'.join(text.rsplit('bucket = shared', 1))

    found = overlap_problems(tmp_path, 'photos', 'docs', text=text)

    assert len(found) == 1, found
    assert 'segments in container shared_segments' in found[0]
    assert 'objects in bucket shared_segments' in found[0]
