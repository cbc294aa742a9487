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
"""A third-party provider package, installed with pip, drives the daemon.

``plugin_pkg/`` is a provider package as a third party would publish it
(``pyproject.toml`` with an entry point in ``cloudsync.providers``, the
provider, and a conformance check built on :mod:`cloudsync.conformance`).
The test packs it as a wheel, installs it with pip into a directory of
its own (``pip install --target``), and runs ``cloudsync-sync --once`` and
the conformance check with that directory on ``PYTHONPATH``. Nothing in
cloudsync changes and nothing is installed into the test environment
itself, so the plugin lives only while the test runs (and the committed
sample configuration, which lists the installed providers, is not
affected).
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tomllib
import zipfile

from cloudsync import metadata as metadata_mod
from cloudsync import registry
from tests.functional import daemon_helpers as helpers

PKG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'plugin_pkg')


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(
        hashlib.sha256(data).digest()).rstrip(b'=').decode('ascii')
    return '%s,sha256=%s,%d' % (path, digest, len(data))


def build_wheel(src_dir, out_dir):
    """A wheel of the package in ``src_dir``, from its pyproject.toml.

    Built by hand (a wheel is a zip file), so that no build backend has
    to be installed.
    """
    with open(os.path.join(src_dir, 'pyproject.toml'), 'rb') as f:
        project = tomllib.load(f)['project']
    name = project['name'].replace('-', '_')
    dist_info = '%s-%s.dist-info' % (name, project['version'])
    files = {}
    for package in ('cloudsync_dirstore',):
        for filename in sorted(os.listdir(os.path.join(src_dir, package))):
            if filename.endswith('.py'):
                with open(os.path.join(src_dir, package, filename),
                          'rb') as f:
                    files['%s/%s' % (package, filename)] = f.read()
    entry_points = ''.join(
        '[%s]\n%s\n' % (group, ''.join(
            '%s = %s\n' % item for item in sorted(points.items())))
        for group, points in project['entry-points'].items())
    files[dist_info + '/METADATA'] = (
        'Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\n' % (
            project['name'], project['version'],
            project['description'])).encode('utf-8')
    files[dist_info + '/WHEEL'] = (
        b'Wheel-Version: 1.0\nGenerator: cloudsync-tests\n'
        b'Root-Is-Purelib: true\nTag: py3-none-any\n')
    files[dist_info + '/entry_points.txt'] = entry_points.encode('utf-8')
    record = [_record_line(path, data) for path, data in files.items()]
    record.append(dist_info + '/RECORD,,')
    files[dist_info + '/RECORD'] = ('\n'.join(record) + '\n').encode()
    wheel = os.path.join(out_dir, '%s-%s-py3-none-any.whl' % (
        name, project['version']))
    with zipfile.ZipFile(wheel, 'w') as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


def install(tmp_path):
    """pip-install the plugin into a directory of its own; that path."""
    wheel = build_wheel(PKG_DIR, str(tmp_path))
    target = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet',
                    '--no-deps', '--no-index', '--disable-pip-version-check',
                    '--target', str(target), wheel], check=True)
    return str(target)


def records(root, bucket):
    found = {}
    folder = os.path.join(root, bucket)
    for name in os.listdir(folder):
        if name.endswith('.json'):
            with open(os.path.join(folder, name)) as f:
                record = json.load(f)
            found[record['key']] = record
    return found


def test_a_provider_package_plugs_in_through_its_entry_point(
        aio, swift, container, tmp_path, monkeypatch):
    site = install(tmp_path)
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join(
        [site] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    # the test process itself never saw it: it lives in the child
    # processes that have the directory on their path
    assert 'dirstore' not in registry.available(registry.PROVIDERS)

    root = tmp_path / 'store'
    (root / 'copies').mkdir(parents=True)
    work = tmp_path / 'daemon'
    work.mkdir()
    nodes = helpers.DaemonNodes(
        aio, work, {'to-disk': {'container': container, 'remote': 'disk',
                                'bucket': 'copies', 'layout': 'native'}},
        remotes={'disk': {'provider': 'dirstore', 'root': root}})
    try:
        swift.put_object(container, 'plain', b'hello',
                         headers={'X-Object-Meta-Color': 'Blue'},
                         content_type='text/plain')
        swift.put_object(container, '\u00fcn\u00efc\u00f8d\u00e9 \u2603',
                         b'unicode')
        swift.put_object(container, 'gone', b'soon deleted')
        assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
        swift.delete_object(container, 'gone')
        swift.post_object(container, 'plain',
                          headers={'X-Object-Meta-Color': 'Red'})
        assert nodes.run_once() == {1: 0, 2: 0, 3: 0}
    finally:
        nodes.stop_all()

    copies = records(str(root), 'copies')
    assert sorted(copies) == ['plain', '\u00fcn\u00efc\u00f8d\u00e9 \u2603']
    plain = copies['plain']
    assert plain['etag'] == hashlib.md5(
        b'hello', usedforsecurity=False).hexdigest()
    assert plain['content_type'] == 'text/plain'
    assert metadata_mod.remote_to_swift(plain['metadata']) == {
        'X-Object-Meta-Color': 'Red'}

    # and the package proves itself with cloudsync's conformance kit
    store = tmp_path / 'conformance'
    (store / 'conformance').mkdir(parents=True)
    env = dict(os.environ, DIRSTORE_ROOT=str(store))
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
         os.path.join(PKG_DIR, 'conformance_check.py')],
        env=env, cwd=str(tmp_path), capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ' passed' in result.stdout
