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
"""One package per program, and the import paths third parties use."""

import ast
import importlib
import pathlib
import types

import pytest

import cloudsync

ROOT = pathlib.Path(cloudsync.__file__).parent


def imported_modules(path):
    """Every cloudsync module that the file at ``path`` imports."""
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update('%s.%s' % (node.module, alias.name)
                         for alias in node.names)
    return {name for name in found if name.startswith('cloudsync')}


def package_of(path):
    parts = path.relative_to(ROOT).parts
    return parts[0] if len(parts) > 1 else None


@pytest.mark.parametrize('path', sorted(ROOT.rglob('*.py')),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_program_packages_are_only_imported_from_above(path):
    package = package_of(path)
    imports = imported_modules(path)
    uses_sync = {m for m in imports if m.startswith('cloudsync.sync')}
    uses_ops = {m for m in imports if m.startswith('cloudsync.ops')}
    if package not in ('sync', 'ops', 'cmd'):
        assert not uses_sync, 'the core imports the sync daemon'
    if package not in ('ops', 'cmd'):
        assert not uses_ops, '%s imports the operator tools' % (
            package or 'the core')


@pytest.mark.parametrize('published,home', [
    ('cloudsync.conformance', 'cloudsync.ops.conformance'),
    ('cloudsync.hostile', 'cloudsync.ops.hostile'),
])
def test_kits_keep_their_published_import_path(published, home):
    module = importlib.import_module(published)
    assert module is importlib.import_module(home)
    # ``from cloudsync import <kit>`` is what a provider package writes
    assert getattr(cloudsync, published.rsplit('.', 1)[1]) is module


@pytest.mark.parametrize('path', sorted((ROOT / 'conf').glob('*.py')),
                         ids=lambda p: p.name)
def test_the_configuration_imports_no_program(path):
    programs = ('cloudsync.sync', 'cloudsync.ops', 'cloudsync.cmd',
                'cloudsync.shunt', 'cloudsync.proxymc')
    imports = imported_modules(path)
    assert not [m for m in imports if m.startswith(programs)]


def test_verify_takes_the_daemons_decision_on_a_copys_bytes():
    imports = imported_modules(ROOT / 'ops' / 'verify.py')
    assert 'cloudsync.sync.current' in imports


def test_a_listed_copy_matches_by_size_and_normalized_etag():
    from cloudsync.sync import current
    entry = types.SimpleNamespace(size=3, etag='"ABC"', metadata={})
    assert current.listed_copy_matches(entry, 3, 'abc')
    assert not current.listed_copy_matches(entry, 4, 'abc')
    assert not current.listed_copy_matches(entry, 3, 'abd')
    assert current.kept_etag(entry, 'cloudsync-etag') is None
    assert not current.kept_etag_matches(entry, 'cloudsync-etag', 'abc')
