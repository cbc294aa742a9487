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

import os
import stat

import pytest

from cloudsync import files


def test_replace_file_replaces_all_at_once(tmp_path):
    path = tmp_path / 'progress.json'
    path.write_text('old')
    files.replace_file(str(path), 'new \u2713')
    assert path.read_text(encoding='utf-8') == 'new \u2713'
    assert os.listdir(str(tmp_path)) == ['progress.json']


def test_replace_file_keeps_secrets_private(tmp_path):
    path = tmp_path / 'cloudsync.conf'
    files.replace_file(str(path), 'secret_key = x\n', mode=0o600)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / 'status.json'
    path.write_text('old')
    with pytest.raises(TypeError):
        files.replace_file(str(path), object())
    assert path.read_text() == 'old'
    assert os.listdir(str(tmp_path)) == ['status.json']
