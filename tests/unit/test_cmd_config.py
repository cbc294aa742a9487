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
"""Every command refuses to run without a readable configuration file,
and says which file it means."""

import io
import os

import pytest

from cloudsync.cmd import proxymc as proxymc_cmd
from cloudsync.cmd import status as status_cmd
from cloudsync.cmd import sync as sync_cmd
from cloudsync.cmd import verify as verify_cmd
from cloudsync import conf as conf_mod

EMPTY = '[DEFAULT]\nstatus_dir = %s\n'


def run_status(argv):
    out = io.StringIO()
    return status_cmd.run(argv, stdout=out), out.getvalue()


def run_verify(argv):
    out = io.StringIO()
    return verify_cmd.run(argv, stdout=out), out.getvalue()


def run_sync(argv):
    return sync_cmd.run(argv), ''


COMMANDS = {'cloudsync-status': run_status, 'cloudsync-verify': run_verify,
            'cloudsync-sync': run_sync}


@pytest.fixture
def no_default_config(tmp_path, monkeypatch):
    if os.path.exists(conf_mod.DEFAULT_CONFIG_FILE):
        pytest.skip('%s exists here' % conf_mod.DEFAULT_CONFIG_FILE)
    # oslo.config also looks in ~/.cloudsync/ and ~/
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize('command', sorted(COMMANDS))
def test_no_configuration_file_at_all_is_an_error(command, capsys,
                                                  no_default_config):
    code, out = COMMANDS[command]([])

    err = capsys.readouterr().err
    assert code == 2
    assert out == ''
    assert err.startswith('%s: no configuration file: '
                          '/etc/cloudsync/cloudsync.conf does not exist'
                          % command), err


@pytest.mark.parametrize('command', sorted(COMMANDS))
def test_a_missing_configuration_file_is_named(command, tmp_path, capsys):
    path = str(tmp_path / 'nope.conf')

    code, _out = COMMANDS[command](['--config-file', path])

    assert code == 2
    assert capsys.readouterr().err == (
        '%s: configuration file %s does not exist\n' % (command, path))


@pytest.mark.parametrize('command', sorted(COMMANDS))
def test_a_directory_given_as_configuration_file_is_named(command, tmp_path,
                                                          capsys):
    code, _out = COMMANDS[command](['--config-file', str(tmp_path)])

    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith('%s: cannot read configuration file %s: ' % (
        command, tmp_path)), err
    assert 'Traceback' not in err


@pytest.mark.parametrize('command', sorted(COMMANDS))
def test_a_configuration_that_is_not_ini_is_named(command, tmp_path, capsys):
    path = tmp_path / 'broken.conf'
    path.write_text('[DEFAULT\nstatus_dir = x\n')

    code, _out = COMMANDS[command](['--config-file', str(path)])

    assert code == 2
    assert str(path) in capsys.readouterr().err


def test_status_without_any_mapping_names_the_file_and_exits_2(tmp_path,
                                                               capsys):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(EMPTY % tmp_path)

    code, out = run_status(['--config-file', str(path)])

    assert code == 2
    assert out == ''
    assert 'cloudsync-status: no mapping is enabled in %s' % path in \
        capsys.readouterr().err


def test_status_check_without_any_mapping_is_critical(tmp_path):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(EMPTY % tmp_path)

    code, out = run_status(['--config-file', str(path), '--check'])

    assert code == 2
    assert out == 'CLOUDSYNC CRITICAL - no mapping is enabled in %s\n' % (
        path)


def test_verify_without_any_mapping_names_the_file(tmp_path, capsys):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(EMPTY % tmp_path)

    code, _out = run_verify(['--config-file', str(path)])

    assert code == 2
    assert 'cloudsync-verify: no mapping is enabled in %s' % path in \
        capsys.readouterr().err


def test_configuration_errors_name_the_file(tmp_path, capsys):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(EMPTY % tmp_path + '\n[mapping:m]\naccount = a\n')

    code, _out = run_status(['--config-file', str(path)])

    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith('cloudsync-status: the configuration in %s has '
                          'errors:\n  [mapping:m] ' % path), err


@pytest.fixture(autouse=True)
def no_monkey_patching(monkeypatch):
    # NOTE: cloudsync-proxymc patches the standard library as Swift's
    # servers do; not in the test process.
    from swift.common import utils
    monkeypatch.setattr(utils, 'monkey_patch', lambda: None)


def _proxymc(argv):
    with pytest.raises(SystemExit) as exc:
        proxymc_cmd.main(argv)
    return exc.value.code


def test_proxymc_names_a_missing_paste_configuration(tmp_path, capsys):
    path = str(tmp_path / 'proxymc.conf')

    code = _proxymc([path])

    assert code == 2
    assert capsys.readouterr().err == (
        'cloudsync-proxymc: paste configuration %s does not exist\n' % path)


def test_proxymc_names_a_missing_cloudsync_configuration(tmp_path, capsys):
    paste = tmp_path / 'proxymc.conf'
    missing = tmp_path / 'cloudsync.conf'
    paste.write_text('[DEFAULT]\nbind_port = 1\n\n[pipeline:main]\n'
                     'pipeline = proxymc\n\n[app:proxymc]\n'
                     'use = egg:swift-cloudsync#proxymc\nconf_file = %s\n'
                     % missing)

    code = _proxymc([str(paste)])

    assert code == 2
    assert capsys.readouterr().err == (
        'cloudsync-proxymc: configuration file %s (conf_file of '
        '[app:proxymc] in %s) does not exist\n' % (missing, paste))


def test_proxymc_names_a_cloudsync_configuration_with_errors(tmp_path,
                                                             capsys):
    paste = tmp_path / 'proxymc.conf'
    conf = tmp_path / 'cloudsync.conf'
    conf.write_text('[mapping:m]\naccount = a\n')
    paste.write_text('[pipeline:main]\npipeline = proxymc\n\n'
                     '[app:proxymc]\nuse = egg:swift-cloudsync#proxymc\n'
                     'conf_file = %(here)s/cloudsync.conf\n')

    code = _proxymc([str(paste)])

    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith('cloudsync-proxymc: the configuration in %s has '
                          'errors:\n' % conf), err
