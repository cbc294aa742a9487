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
"""cloudsync-migrate refuses to start on a bad configuration or node."""

from cloudsync.cmd import migrate as migrate_cmd

MIGRATION = """
[remote:aws]
provider = s3
access_key = a
secret_key = s

[migration:photos]
remote = aws
bucket = %s
account = AUTH_test
"""


def write(tmp_path, body, swift_dir=None):
    swift_dir = swift_dir or tmp_path / 'swift'
    swift_dir.mkdir(exist_ok=True)
    path = tmp_path / 'cloudsync.conf'
    path.write_text('[DEFAULT]\nswift_dir = %s\nstatus_dir = %s\n%s' % (
        swift_dir, tmp_path / 'status', body))
    return str(path)


def test_configuration_problems_exit_2_naming_them(tmp_path, capsys):
    path = write(tmp_path, MIGRATION % 'a/b')
    assert migrate_cmd.run(['--config-file', path, '--once']) == 2
    assert '[migration:photos] bucket: \'a/b\' must not contain "/"' in \
        capsys.readouterr().err


def test_a_node_without_swift_exits_2(tmp_path, capsys):
    path = write(tmp_path, MIGRATION % 'photos')
    assert migrate_cmd.run(['--config-file', path, '--once']) == 2
    err = capsys.readouterr().err
    assert 'swift_dir: %s has no swift.conf' % (tmp_path / 'swift') in err
    assert 'has no container.ring.gz' in err


def test_a_missing_configuration_file_exits_2(tmp_path, capsys):
    missing = str(tmp_path / 'nope.conf')
    assert migrate_cmd.run(['--config-file', missing]) == 2
    assert 'does not exist' in capsys.readouterr().err


def test_the_command_is_installed():
    from importlib import metadata
    scripts = {e.name: e.value for e in metadata.entry_points(
        group='console_scripts')}
    assert scripts['cloudsync-migrate'] == 'cloudsync.cmd.migrate:main'
