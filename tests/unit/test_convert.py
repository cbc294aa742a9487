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
"""cloudsync-config-convert: swift-s3-sync's JSON becomes a cloudsync.conf
that loads, with every option carried over or reported."""

import io
import json
import os
import stat

from oslo_config import cfg
import pytest

from cloudsync.cmd import config_convert
from cloudsync import conf as conf_mod
from cloudsync.ops import convert
from cloudsync import providers
from cloudsync import registry

SECRET = 'sEcr3t$with#odd"chars'

#: swift-s3-sync's sync.json-sample (B), as the reference describes it
SAMPLE = {
    'containers': [{
        'account': 'AUTH_swift', 'container': 'local',
        'aws_bucket': 'remote',
        'aws_endpoint': 'http://192.168.22.99/auth/v1.0',
        'aws_identity': 'swift', 'aws_secret': 'swift', 'copy_after': 0,
        'propagate_delete': False, 'protocol': 'swift',
        'retain_local': False, 'sync_container_metadata': True,
    }],
    'devices': '/swift/nodes/1/node',
    'items_chunk': 1000,
    'log_file': '/var/log/swift-s3-sync.log',
    'poll_interval': 1,
    'status_dir': '/var/lib/swift-s3-sync',
}


class _StandIn(providers.Provider):
    """Takes the place of a shipped provider not installed yet."""

    def check_target(self, bucket, create=False):
        pass

    put_object = put_multipart = update_metadata = delete_object = \
        head_object = get_object = list_objects = check_target


def _stand_in(name):
    attrs = {'OPTIONS': []}
    if name == 'swift':
        attrs['BUCKET_PER_CONTAINER'] = True
        attrs['OPTIONS'] = [
            cfg.StrOpt(o) for o in ('auth_version', 'project_name',
                                    'project_domain_name',
                                    'user_domain_name', 'tenant_name',
                                    'remote_account')]
    if name in ('gcs', 's3-clone'):
        attrs['OPTIONS'] = list(registry.load(registry.PROVIDERS,
                                              's3').OPTIONS)
    return type('StandIn_%s' % name.replace('-', '_'), (_StandIn,), attrs)


@pytest.fixture
def shipped_providers():
    """Every provider the converter names, real when installed."""
    ns = registry._namespace(registry.PROVIDERS)
    ns.find_all()
    added = []
    for name in ('s3', 's3-clone', 'gcs', 'swift'):
        if name not in ns.plugins:
            ns.plugins[name] = _stand_in(name)
            added.append(name)
    yield
    for name in added:
        ns.plugins.pop(name, None)


def convert_and_load(tmp_path, data):
    result = convert.convert(data)
    path = tmp_path / 'cloudsync.conf'
    convert.write_private(str(path), result.render('sync.json'))
    return result, conf_mod.load_file(str(path))


def run_cli(tmp_path, data, *extra):
    source = tmp_path / 'sync.json'
    source.write_text(json.dumps(data))
    out, err = io.StringIO(), io.StringIO()
    code = config_convert.main([str(source), '-o',
                                str(tmp_path / 'out.conf')] + list(extra),
                               stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_the_sample_becomes_an_archive_mapping_to_a_swift_remote(
        tmp_path, shipped_providers):
    result, config = convert_and_load(tmp_path, SAMPLE)

    assert not result.partial
    mapping, = config.mappings
    assert (mapping.account, mapping.container, mapping.bucket) == (
        'AUTH_swift', 'local', 'remote')
    assert mapping.lifecycle == 'archive'
    # what swift-s3-sync archived was deleted locally: still served
    assert mapping.serve_deleted_archives is True
    assert mapping.archive_as == 'stub'
    assert 'serve_deleted_archives = true' in result.render('sync.json')
    assert mapping.propagate_delete is False
    assert mapping.sync_container_metadata is True
    remote = mapping.remote
    assert remote.provider_name == 'swift'
    assert remote.conf.endpoint == 'http://192.168.22.99/auth/v1.0'
    assert (remote.conf.access_key, remote.conf.secret_key) == (
        'swift', 'swift')
    assert config.conf.devices == '/swift/nodes/1/node'
    assert config.conf.items_chunk == 1000
    assert config.conf.poll_interval == 1
    assert config.conf.status_dir == '/var/lib/swift-s3-sync'
    assert config.conf.log_file == '/var/log/swift-s3-sync.log'


def test_the_output_file_is_private_and_secrets_stay_off_the_terminal(
        tmp_path, shipped_providers):
    data = {'containers': [{
        'account': 'AUTH_test', 'container': 'c', 'aws_bucket': 'b',
        'aws_identity': 'AKIA', 'aws_secret': SECRET,
        'aws_session_token': 'tok-' + SECRET, 'bogus': SECRET}]}

    code, out, err = run_cli(tmp_path, data)

    assert code == 0
    path = tmp_path / 'out.conf'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert SECRET not in out + err
    config = conf_mod.load_file(str(path))
    assert config.mappings[0].remote.conf.secret_key == SECRET
    assert config.mappings[0].remote.conf.session_token == 'tok-' + SECRET
    assert 'unknown option bogus' in err


def test_an_existing_output_is_kept_without_force(tmp_path):
    (tmp_path / 'out.conf').write_text('keep me')

    code, _out, err = run_cli(tmp_path, SAMPLE)

    assert code == 2
    assert 'use --force' in err
    assert (tmp_path / 'out.conf').read_text() == 'keep me'


def test_unreadable_json_is_a_clear_error(tmp_path):
    source = tmp_path / 'sync.json'
    source.write_text('{"containers": [')
    err = io.StringIO()

    code = config_convert.main([str(source), '-o', str(tmp_path / 'o')],
                               stderr=err)

    assert code == 2
    assert 'is not valid JSON' in err.getvalue()
    assert not (tmp_path / 'o').exists()


def test_wildcard_container_becomes_star(tmp_path, shipped_providers):
    data = {'containers': [{
        'account': 'AUTH_test', 'container': '/*', 'protocol': 'swift',
        'aws_bucket': 'crazy-target:', 'aws_identity': 'u',
        'aws_secret': 'k', 'aws_endpoint': 'http://h:8080/auth/v1.0'}]}

    _result, config = convert_and_load(tmp_path, data)

    mapping, = config.mappings
    assert mapping.name == 'AUTH_test-all'
    assert mapping.container == '*'
    assert mapping.remote_bucket('slashc1') == 'crazy-target:slashc1'
    # swift-s3-sync kept the names in each remote container
    assert mapping.layout == 'native'
    assert mapping.remote_layout('slashc1').object_key('d/o') == 'd/o'


def test_swift_targets_keep_object_names_whatever_the_default(
        tmp_path, shipped_providers):
    data = {'containers': [{
        'account': 'AUTH_test', 'container': 'photos', 'protocol': 'swift',
        'aws_endpoint': 'http://127.0.0.1:8080/auth/v1.0',
        'aws_bucket': 'bkt', 'aws_identity': 'u:t', 'aws_secret': 's',
        'custom_prefix': 'ignored'}]}

    result, config = convert_and_load(tmp_path, data)

    assert ('layout', 'native') in result.mappings[0].options
    m, = config.mappings
    assert m.remote_bucket('photos') == 'bkt'
    assert m.remote_layout('photos').object_key('a/b') == 'a/b'
    assert any('custom_prefix is only used with S3' in w
               for w in result.warnings)


def test_endpoints_choose_the_provider_and_remotes_are_shared(
        tmp_path, shipped_providers):
    def profile(container, **kw):
        base = {'account': 'AUTH_test', 'container': container,
                'aws_bucket': 'bkt', 'aws_identity': 'id',
                'aws_secret': 'secret'}
        base.update(kw)
        return base

    data = {'containers': [
        profile('aws1'),
        profile('aws2'),
        profile('eu', aws_endpoint='https://s3.eu-west-1.amazonaws.com'),
        profile('gcs', aws_endpoint='https://storage.googleapis.com'),
        profile('clone', aws_endpoint='http://10.0.0.5:9000',
                encryption=True),
        profile('other-id', aws_identity='id2'),
    ]}

    result, config = convert_and_load(tmp_path, data)

    by_container = {m.container: m for m in config.mappings}
    assert by_container['aws1'].remote is by_container['aws2'].remote
    aws = by_container['aws1'].remote
    assert aws.provider_name == 's3'
    assert aws.conf.endpoint is None
    assert aws.conf.server_side_encryption == 'AES256'
    eu = by_container['eu'].remote
    assert (eu.provider_name, eu.conf.region) == ('s3', 'eu-west-1')
    assert by_container['gcs'].remote.provider_name == 'gcs'
    clone = by_container['clone'].remote
    assert clone.provider_name == 's3-clone'
    assert getattr(clone.conf, 'server_side_encryption', None) is None
    assert by_container['other-id'].remote is not aws
    assert len(config.remotes) == 5
    assert len(set(config.remotes)) == 5


def test_encryption_false_asks_for_no_encryption(tmp_path,
                                                 shipped_providers):
    data = {'containers': [{'account': 'A', 'container': 'c',
                            'aws_bucket': 'b', 'aws_identity': 'i',
                            'aws_secret': 's', 'encryption': False}]}

    _result, config = convert_and_load(tmp_path, data)

    assert config.mappings[0].remote.conf.server_side_encryption is None


def test_every_profile_option_is_carried_over(tmp_path, shipped_providers):
    criteria = {'OR': [{'x-object-meta-msd': 'boo'},
                       {'x-object-meta-msd': 'bár'}]}
    data = {'containers': [{
        'account': 'AUTH_test', 'container': 'photos',
        'aws_bucket': 'bkt', 'aws_identity': 'i', 'aws_secret': 's',
        'copy_after': 3600, 'retain_local': False,
        'retain_local_segments': True, 'propagate_delete': False,
        'restore_object': True, 'merge_namespaces': True,
        'exclude_pattern': '^tmp/', 'selection_criteria': criteria,
        'remote_delete_after': 86400, 'propagate_expiration': True,
        'propagate_expiration_offset': 60, 'convert_dlo': True,
    }]}

    result, config = convert_and_load(tmp_path, data)

    m, = config.mappings
    assert m.lifecycle == 'archive'
    assert m.copy_after == 3600
    assert m.retain_local_segments is True
    assert m.propagate_delete is False
    assert m.restore_object is True
    assert m.merge_namespaces is True
    assert m.exclude_pattern == '^tmp/'
    assert m.selection_criteria == criteria
    assert m.selects({'X-Object-Meta-Msd': 'BÁR'})
    assert m.remote_delete_after == 86400
    assert m.propagate_expiration is True
    assert m.propagate_expiration_offset == 60
    assert m.convert_dlo is True
    assert result.warnings == []


def test_swift_container_options_are_carried_over_for_swift_remotes(
        tmp_path, shipped_providers):
    data = {'containers': [{
        'account': 'AUTH_test', 'container': 'photos', 'protocol': 'swift',
        'aws_endpoint': 'http://127.0.0.1:8080/auth/v1.0',
        'aws_bucket': 'bkt', 'aws_identity': 'u:t', 'aws_secret': 's',
        'storage_policy': 'silver', 'sync_container_metadata': True,
        'sync_container_acl': True,
    }]}

    result, config = convert_and_load(tmp_path, data)

    m, = config.mappings
    assert m.storage_policy == 'silver'
    assert m.sync_container_metadata is True
    assert m.sync_container_acl is True
    assert result.warnings == []


def test_swift_container_options_are_left_out_for_s3_remotes(
        tmp_path, shipped_providers):
    data = {'containers': [{
        'account': 'AUTH_test', 'container': 'photos',
        'aws_bucket': 'bkt', 'aws_identity': 'i', 'aws_secret': 's',
        'storage_policy': 'silver', 'sync_container_metadata': True,
    }]}

    result, config = convert_and_load(tmp_path, data)

    m, = config.mappings
    assert m.storage_policy is None
    assert m.sync_container_metadata is False
    assert len(result.warnings) == 2
    assert all('applies to Swift remotes only' in w
               for w in result.warnings)


def test_custom_prefix_keeps_the_keys_swift_s3_sync_wrote(
        tmp_path, shipped_providers):
    def profile(container, prefix):
        return {'account': 'AUTH_test', 'container': container,
                'aws_bucket': 'b-' + container, 'aws_identity': 'i',
                'aws_secret': 's', 'custom_prefix': prefix}

    data = {'containers': [profile('p', '/pre-{x}/'), profile('n', ''),
                           profile('h', None)]}

    _result, config = convert_and_load(tmp_path, data)

    by = {m.container: m for m in config.mappings}
    assert by['p'].remote_layout('p').object_key('o') == 'pre-{x}/o'
    assert by['n'].layout == 'native'
    assert by['n'].remote_layout('n').object_key('o') == 'o'
    assert by['h'].remote_layout('h').object_key('o').endswith(
        '/AUTH_test/h/o')


def test_custom_prefix_with_every_container_is_left_out(tmp_path):
    data = {'containers': [{'account': 'A', 'container': '/*',
                            'aws_bucket': 'b', 'aws_identity': 'i',
                            'aws_secret': 's', 'custom_prefix': 'x'}]}

    code, _out, err = run_cli(tmp_path, data)

    assert code == 1
    assert 'containers[0] (A//*): left out: custom_prefix' in err


def test_keystone_v3_becomes_swift_provider_options(
        tmp_path, shipped_providers):
    data = {'containers': [{
        'account': 'AUTH_test', 'container': 'c', 'protocol': 'swift',
        'aws_bucket': 'target', 'aws_endpoint': 'https://ks:5000/v3',
        'aws_identity': 'alice', 'aws_secret': 'pw',
        'auth_type': 'keystone_v3', 'project_name': 'proj',
        'project_domain_name': 'Default', 'user_domain_name': 'Default',
        'remote_account': 'AUTH_proj'}]}

    result, config = convert_and_load(tmp_path, data)

    conf = config.mappings[0].remote.conf
    assert conf.auth_version == '3'
    assert (conf.project_name, conf.project_domain_name,
            conf.user_domain_name) == ('proj', 'Default', 'Default')
    assert conf.remote_account == 'AUTH_proj'
    assert result.warnings == []


def test_keystone_v2_becomes_v3_with_a_warning(tmp_path, shipped_providers):
    data = {'containers': [{
        'account': 'AUTH_test', 'container': 'c', 'protocol': 'swift',
        'aws_bucket': 'target', 'aws_endpoint': 'https://ks:5000/v3',
        'aws_identity': 'alice', 'aws_secret': 'pw',
        'auth_type': 'keystone_v2', 'tenant_name': 'tenant'}]}

    result, config = convert_and_load(tmp_path, data)

    conf = config.mappings[0].remote.conf
    assert (conf.auth_version, conf.project_name) == ('3', 'tenant')
    assert any('Keystone v2 is not supported' in w for w in result.warnings)


def test_keystone_v3_without_its_fields_is_reported():
    result = convert.convert({'containers': [{
        'account': 'A', 'container': 'c', 'protocol': 'swift',
        'aws_bucket': 'b', 'aws_identity': 'i', 'aws_secret': 's',
        'auth_type': 'keystone_v3'}]})

    assert any('keystone_v3 needs project_name' in w
               for w in result.warnings)


def test_global_options_are_converted_and_slack_becomes_seconds(
        tmp_path, shipped_providers):
    data = dict(SAMPLE, verification_slack=15, enumerator_workers=3,
                workers=20, swift_bind_ip='10.0.0.1', swift_dir='/etc/sw',
                internal_client_path='/etc/swift/ic.conf',
                statsd_host='stats', statsd_port=9125,
                statsd_prefix='sync', log_level='debug')

    result, config = convert_and_load(tmp_path, data)

    c = config.conf
    assert c.verification_slack == 900
    assert c.container_workers == 3
    assert c.workers == 20
    assert c.bind_ip == '10.0.0.1'
    assert c.swift_dir == '/etc/sw'
    assert c.internal_client_conf_path == '/etc/swift/ic.conf'
    assert (c.statsd_host, c.statsd_port, c.statsd_prefix) == (
        'stats', 9125, 'sync')
    assert c.debug is True


def test_what_cannot_be_carried_over_is_reported_one_line_each():
    data = dict(SAMPLE, migrations=[{'account': 'A', 'aws_bucket': 'b',
                                     'older_than': 'an hour'}],
                migrator_settings={'items_chunk': 5},
                syslog={'host': 'h'}, http_proxy='http://p', wat=1,
                log_level='warning')
    data['containers'] = [dict(SAMPLE['containers'][0],
                               min_segment_size=5,
                               remote_delete_after_addition=3)]

    result = convert.convert(data)

    text = '\n'.join(result.warnings)
    assert "migrations[0] (A/b): older_than 'an hour' not carried over" \
        in text
    assert 'migrator_settings: not carried over' in text
    assert 'syslog: not carried over' in text
    assert 'http_proxy: not carried over' in text
    assert 'wat: unknown global option' in text
    assert "log_level: 'warning' is not carried over" in text
    assert 'min_segment_size not carried over' in text
    assert 'remote_delete_after_addition not carried over' in text
    assert not result.partial


def test_a_second_profile_for_a_container_is_left_out(tmp_path):
    profile = dict(SAMPLE['containers'][0], aws_secret='k3y')
    data = {'containers': [profile, dict(profile, aws_bucket='other')]}

    code, _out, err = run_cli(tmp_path, data)

    assert code == 1
    assert 'containers[1] (AUTH_swift/local): left out: AUTH_swift/local ' \
        'is already mapped by containers[0]' in err
    assert 'bucket = remote' in (tmp_path / 'out.conf').read_text()


@pytest.mark.parametrize('profile, why', [
    ({'container': 'c'}, 'account is missing'),
    ({'account': 'A', 'container': 'c', 'aws_bucket': 'b',
      'protocol': 'ftp'}, "protocol 'ftp' is neither s3 nor swift"),
    ({'account': 'A', 'container': 'c', 'aws_bucket': 'b',
      'selection_criteria': {'a': 'b', 'c': 'd'}},
     'selection_criteria is invalid'),
    ({'account': 'A', 'container': 'c', 'aws_bucket': 'b',
      'exclude_pattern': '('}, 'is not a regular expression'),
])
def test_profiles_that_cannot_be_converted_are_left_out(profile, why):
    result = convert.convert({'containers': [profile]})

    assert result.partial
    assert result.mappings == []
    assert result.remotes == []
    assert why in result.warnings[0]


def test_propagate_delete_false_hints_at_old_shunting():
    result = convert.convert({'containers': [{
        'account': 'A', 'container': 'c', 'aws_bucket': 'b',
        'propagate_delete': False}]})

    assert any('set merge_namespaces = true if you relied on that' in w
               for w in result.warnings)


def test_odd_values_survive_the_ini_format(tmp_path, shipped_providers):
    data = {'containers': [{
        'account': 'AUTH_tëst', 'container': 'cõntainer ',
        'aws_bucket': '"quoted"', 'aws_identity': ' spaced ',
        'aws_secret': SECRET, 'exclude_pattern': '^a$|b'}]}

    _result, config = convert_and_load(tmp_path, data)

    m, = config.mappings
    assert m.container == 'cõntainer '
    assert m.bucket == '"quoted"'
    assert m.remote.conf.access_key == ' spaced '
    assert m.remote.conf.secret_key == SECRET
    assert m.exclude_pattern == '^a$|b'
    assert m.name == 'AUTH_tëst-cõntainer'


def test_stdout_output_when_asked(tmp_path):
    source = tmp_path / 'sync.json'
    source.write_text(json.dumps(SAMPLE))
    out, err = io.StringIO(), io.StringIO()

    code = config_convert.main([str(source), '-o', '-'], stdout=out,
                               stderr=err)

    assert code == 0
    assert '[mapping:AUTH_swift-local]' in out.getvalue()


def test_acl_without_container_metadata_is_left_out_as_it_was_ignored(
        tmp_path, shipped_providers):
    data = {'containers': [{
        'account': 'AUTH_test', 'container': 'photos', 'protocol': 'swift',
        'aws_endpoint': 'http://127.0.0.1:8080/auth/v1.0',
        'aws_bucket': 'bkt', 'aws_identity': 'u:t', 'aws_secret': 's',
        'sync_container_acl': True,
    }]}

    code, _out, err = run_cli(tmp_path, data)

    assert code == 0
    assert 'sync_container_acl without sync_container_metadata' in err
    m, = conf_mod.load_file(str(tmp_path / 'out.conf')).mappings
    assert m.sync_container_acl is False
    assert m.sync_container_metadata is False


@pytest.mark.parametrize('key', ['copy_after', 'remote_delete_after'])
def test_negative_delays_are_left_out_with_a_warning(
        tmp_path, shipped_providers, key):
    data = {'containers': [{
        'account': 'AUTH_test', 'container': 'c', 'aws_bucket': 'b',
        'aws_identity': 'i', 'aws_secret': 's', key: -5}]}

    code, _out, err = run_cli(tmp_path, data)

    assert code == 0
    assert '%s: -5 is negative' % key in err
    m, = conf_mod.load_file(str(tmp_path / 'out.conf')).mappings
    assert getattr(m, key) == 0


def test_a_negative_expiration_offset_is_carried_over(
        tmp_path, shipped_providers):
    data = {'containers': [{
        'account': 'AUTH_test', 'container': 'c', 'aws_bucket': 'b',
        'propagate_expiration': True, 'propagate_expiration_offset': -60}]}

    result, config = convert_and_load(tmp_path, data)

    assert config.mappings[0].propagate_expiration_offset == -60
    assert result.warnings == []


@pytest.mark.parametrize('data, problem', [
    ({'workers': 0, 'containers': []}, '[DEFAULT] workers'),
    ({'containers': [{'account': 'A', 'container': 'c', 'aws_bucket': 'b',
                      'aws_endpoint': 'ftp://old.example.com',
                      'aws_secret': SECRET}]},
     "endpoint: 'ftp://old.example.com' is not an http://"),
])
def test_an_output_cloudsync_would_refuse_is_reported_not_written(
        tmp_path, data, problem):
    (tmp_path / 'out.conf').write_text('keep me')

    code, out, err = run_cli(tmp_path, data, '--force')

    assert code == 2
    assert 'would not load, so it is not written' in err
    assert problem in err
    assert SECRET not in out + err
    assert (tmp_path / 'out.conf').read_text() == 'keep me'


def test_an_output_cloudsync_would_refuse_is_not_printed_either(tmp_path):
    source = tmp_path / 'sync.json'
    source.write_text(json.dumps({'workers': 0}))
    out, err = io.StringIO(), io.StringIO()

    code = config_convert.main([str(source), '-o', '-'], stdout=out,
                               stderr=err)

    assert code == 2
    assert out.getvalue() == ''
    assert '[DEFAULT] workers' in err.getvalue()


def test_validate_returns_the_loaders_problems_and_nothing_for_a_good_file(
        shipped_providers):
    good = convert.convert(SAMPLE).render()
    bad = good + '\n[mapping:x]\naccount = A\ncontainer = c\n'

    assert convert.validate(good) == []
    assert convert.validate(bad) == ['[mapping:x] remote: missing',
                                     '[mapping:x] bucket: missing']


def test_profiles_that_would_overwrite_each_other_are_not_written(
        tmp_path, shipped_providers):
    def profile(container):
        return {'account': 'AUTH_test', 'container': container,
                'aws_bucket': 'shared', 'aws_identity': 'i',
                'aws_secret': 's', 'custom_prefix': ''}

    code, _out, err = run_cli(tmp_path, {'containers': [profile('a'),
                                                        profile('b')]})

    assert code == 2
    assert '[mapping:AUTH_test-a]' in err
    assert '[mapping:AUTH_test-b]' in err
    assert 'can write the same keys' in err
    assert not (tmp_path / 'out.conf').exists()


def test_migration_profiles_become_migration_sections():
    data = dict(SAMPLE, migrations=[
        {'account': 'AUTH_new', 'aws_bucket': 'legacy-bucket',
         'aws_identity': 'AKIA', 'aws_secret': 'shh', 'prefix': '2024/',
         'storage_policy': 'gold', 'older_than': 3600},
        {'account': 'AUTH_new', 'aws_bucket': '/*', 'protocol': 'swift',
         'aws_endpoint': 'https://old.example.com/auth/v1.0',
         'aws_identity': 'old:admin', 'aws_secret': 'pw',
         'remote_account': 'AUTH_old'},
        {'account': 'AUTH_new', 'aws_bucket': 'src', 'container': 'dst',
         'aws_identity': 'AKIA', 'aws_secret': 'shh'},
    ])

    result = convert.convert(data)

    sections = {s.name: dict(s.options) for s in result.migrations}
    assert sorted(sections) == [
        'migration:migrate-AUTH_new-all',
        'migration:migrate-AUTH_new-legacy-bucket',
        'migration:migrate-AUTH_new-src']
    legacy = sections['migration:migrate-AUTH_new-legacy-bucket']
    assert legacy['bucket'] == 'legacy-bucket'
    assert legacy['account'] == 'AUTH_new'
    assert legacy['prefix'] == '2024/'
    assert legacy['storage_policy'] == 'gold'
    assert 'container' not in legacy
    assert legacy['older_than'] == 3600
    every = sections['migration:migrate-AUTH_new-all']
    assert 'older_than' not in every
    assert every['bucket'] == '*'
    swift_remote = [dict(r.options) for r in result.remotes
                    if r.name == 'remote:%s' % every['remote']][0]
    assert swift_remote['provider'] == 'swift'
    assert swift_remote['remote_account'] == 'AUTH_old'
    assert sections['migration:migrate-AUTH_new-src']['container'] == 'dst'
    assert not any('older_than' in w for w in result.warnings)
    assert convert.validate(result.render()) == []
    assert 'shh' not in '\n'.join(result.warnings)


@pytest.mark.parametrize('value, carried', [
    (3600, 3600), ('120', 120), (1.5, 1.5), (0, None), (None, None)])
def test_older_than_is_carried_over(value, carried):
    result = convert.convert(dict(SAMPLE, migrations=[
        {'account': 'A', 'aws_bucket': 'b', 'older_than': value}]))

    section, = result.migrations
    assert dict(section.options).get('older_than') == carried
    assert result.warnings == []
    assert convert.validate(result.render()) == []


@pytest.mark.parametrize('value', [-1, 'soon', True, float('nan')])
def test_an_invalid_older_than_is_left_out_with_a_warning(value):
    result = convert.convert(dict(SAMPLE, migrations=[
        {'account': 'A', 'aws_bucket': 'b', 'older_than': value}]))

    section, = result.migrations
    assert 'older_than' not in dict(section.options)
    assert any('older_than' in w and 'not a number of seconds' in w
               for w in result.warnings)
