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
"""The import rules of doc/source/architecture.rst, read from the code.

The imports of every module of ``cloudsync`` and ``cloudsync_providers``
are read with :mod:`ast` (nothing is imported), and:

* no two modules import each other, directly or through others, at module
  level (``from x import y`` depends on the module ``x.y`` when there is
  one, on ``x`` otherwise; a package does not depend on its submodules
  unless it imports them);
* no function imports a module that imports it back (a late import that
  dodges a cycle), except the ones listed in :data:`ALLOWED_LATE`, each
  with its reason;
* the shunt and proxymc import nothing of the sync daemon, not even
  through the core modules they import, nor each other.
"""

import ast
import os
import re

import pytest

import cloudsync


#: the top-level packages whose modules are checked
PACKAGES = ('cloudsync', 'cloudsync_providers')

#: the sync daemon's modules: its package, and the flat modules it was
#: made of
SYNC_DAEMON = ('cloudsync.sync', 'cloudsync.propagate', 'cloudsync.crawler',
               'cloudsync.daemon', 'cloudsync.status')

#: what each program's package may not import (itself and its submodules)
FORBIDDEN = {
    'cloudsync.shunt': SYNC_DAEMON + ('cloudsync.proxymc',),
    'cloudsync.proxymc': SYNC_DAEMON + ('cloudsync.shunt',),
}

#: late imports that close a cycle and stay, by the last component of the
#: importing and the imported module's names (so that a module moved into
#: another package keeps its entry): (importer, imported): reason
ALLOWED_LATE = {
    ('status_check', 'status'):
        'the status command imports its checks; the checks use the '
        'command\'s formatting of durations',
}


def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(
        cloudsync.__file__)))


def _module_files(root):
    """``{module name: (path, is_package)}`` of every checked module."""
    modules = {}
    for package in PACKAGES:
        top = os.path.join(root, package)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != '__pycache__']
            rel = os.path.relpath(dirpath, root).split(os.sep)
            for filename in filenames:
                if not filename.endswith('.py'):
                    continue
                if filename == '__init__.py':
                    modules['.'.join(rel)] = (
                        os.path.join(dirpath, filename), True)
                else:
                    modules['.'.join(rel + [filename[:-3]])] = (
                        os.path.join(dirpath, filename), False)
    return modules


def _is_type_checking(node):
    test = node.test
    return (isinstance(test, ast.Name) and test.id == 'TYPE_CHECKING') or \
        (isinstance(test, ast.Attribute) and test.attr == 'TYPE_CHECKING')


def _imports(tree):
    """``(node, late)`` of every import statement in ``tree``; ``late``
    when it is inside a function.
    """
    found = []

    def visit(node, late):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append((child, late))
            elif isinstance(child, ast.If) and _is_type_checking(child):
                continue
            else:
                visit(child, late or isinstance(
                    child, (ast.FunctionDef, ast.AsyncFunctionDef,
                            ast.Lambda)))
    visit(tree, False)
    return found


def _targets(node, module, is_package, known):
    """The checked modules an import statement depends on."""
    def known_prefix(name):
        parts = name.split('.')
        while parts:
            candidate = '.'.join(parts)
            if candidate in known:
                return candidate
            parts.pop()
        return None

    if isinstance(node, ast.Import):
        return {t for t in (known_prefix(alias.name) for alias in node.names)
                if t}
    if node.level:
        base = module.split('.')
        if not is_package:
            base = base[:-1]
        base = base[:len(base) - (node.level - 1)]
        source = '.'.join(base + ([node.module] if node.module else []))
    else:
        source = node.module
    targets = set()
    for alias in node.names:
        sub = '%s.%s' % (source, alias.name)
        target = sub if sub in known else known_prefix(source)
        if target:
            targets.add(target)
    return targets


def import_graph(root):
    """``(module-level edges, late edges)``, each ``{(importer, imported):
    line}``.
    """
    modules = _module_files(root)
    eager, late = {}, {}
    for module, (path, is_package) in sorted(modules.items()):
        with open(path, encoding='utf-8') as fobj:
            tree = ast.parse(fobj.read(), path)
        for node, is_late in _imports(tree):
            for target in _targets(node, module, is_package, modules):
                if target == module:
                    continue
                edges = late if is_late else eager
                edges.setdefault((module, target), node.lineno)
    return eager, late


def _adjacency(edges):
    graph = {}
    for importer, imported in edges:
        graph.setdefault(importer, set()).add(imported)
    return graph


def _path(graph, start, goal):
    """A shortest import chain from ``start`` to ``goal``, or None."""
    previous = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        if node == goal:
            chain = []
            while node is not None:
                chain.append(node)
                node = previous[node]
            return chain[::-1]
        for nxt in sorted(graph.get(node, ())):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None


def cycles(eager):
    """Every module-level import cycle, each as a chain of module names
    (first and last the same), one per module in a cycle.
    """
    graph = _adjacency(eager)
    found = {}
    for module in sorted(graph):
        for nxt in sorted(graph[module]):
            chain = _path(graph, nxt, module)
            if chain:
                key = frozenset(chain)
                found.setdefault(key, [module] + chain)
                break
    return sorted(found.values())


def _allowed(importer, imported):
    return (importer.rsplit('.', 1)[-1],
            imported.rsplit('.', 1)[-1]) in ALLOWED_LATE


def dodging_late_imports(eager, late):
    """Late imports that a module-level import would turn into a cycle,
    and are not in :data:`ALLOWED_LATE`: ``[(importer, line, chain)]``.
    """
    graph = _adjacency(eager)
    found = []
    for (importer, imported), line in sorted(late.items()):
        chain = _path(graph, imported, importer)
        if chain and not _allowed(importer, imported):
            found.append((importer, line, chain))
    return found


def _within(module, package):
    return module == package or module.startswith(package + '.')


def forbidden_imports(eager, late):
    """Imports that break :data:`FORBIDDEN`: ``[(importer, line,
    chain)]``, the chain through module-level imports of other modules.
    """
    graph = _adjacency(eager)
    found = []
    for (importer, imported), line in sorted({**late, **eager}.items()):
        for package, forbidden in FORBIDDEN.items():
            if not _within(importer, package):
                continue
            reach = {imported: [importer, imported]}
            queue = [imported]
            while queue:
                node = queue.pop(0)
                if any(_within(node, f) for f in forbidden):
                    found.append((importer, line, reach[node]))
                    break
                for nxt in sorted(graph.get(node, ())):
                    if nxt not in reach and not _within(nxt, package):
                        reach[nxt] = reach[node] + [nxt]
                        queue.append(nxt)
    return found


@pytest.fixture(scope='module')
def graph():
    return import_graph(_repo_root())


def test_the_graph_is_read(graph):
    eager, late = graph
    # NOTE: a scanner that finds nothing would pass every rule below
    assert ('cloudsync.conf', 'cloudsync.registry') in eager
    assert any(importer.startswith('cloudsync.shunt.')
               for importer, _ in eager)
    assert any(importer.startswith('cloudsync.proxymc.')
               for importer, _ in eager)


def test_no_import_cycle(graph):
    eager, _ = graph
    assert [' -> '.join(chain) for chain in cycles(eager)] == []


def test_no_late_import_dodges_a_cycle(graph):
    eager, late = graph
    assert ['%s line %d imports %s late, which imports it back: %s' % (
        importer, line, chain[0], ' -> '.join(chain))
        for importer, line, chain in dodging_late_imports(eager, late)] == []


def test_shunt_and_proxymc_import_nothing_of_the_daemon(graph):
    eager, late = graph
    assert ['%s line %d: %s' % (importer, line, ' -> '.join(chain))
            for importer, line, chain in forbidden_imports(eager, late)] == []


def _write(root, files):
    for name, text in files.items():
        path = os.path.join(root, *name.split('/'))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as fobj:
            fobj.write(text)


def test_the_rules_find_what_they_forbid(tmp_path):
    _write(str(tmp_path), {
        'cloudsync/__init__.py': '',
        'cloudsync/a.py': 'from cloudsync import b\n',
        'cloudsync/b.py': 'from cloudsync.c import thing\n',
        'cloudsync/c.py': 'import cloudsync.a\n',
        'cloudsync/d.py': 'def f():\n    from . import e\n',
        'cloudsync/e.py': 'from cloudsync import d\n',
        'cloudsync/propagate.py': '',
        'cloudsync/metadata.py': 'from cloudsync import propagate\n',
        'cloudsync/shunt/__init__.py': '',
        'cloudsync/shunt/objects.py': 'from cloudsync import metadata\n',
        'cloudsync/proxymc/__init__.py': '',
        'cloudsync/proxymc/slo.py':
            'def f():\n    from cloudsync.sync import crawler\n',
        'cloudsync/sync/__init__.py': '',
        'cloudsync/sync/crawler.py': '',
        'cloudsync_providers/__init__.py': '',
    })
    eager, late = import_graph(str(tmp_path))
    assert cycles(eager) == [['cloudsync.a', 'cloudsync.b', 'cloudsync.c',
                              'cloudsync.a']]
    assert dodging_late_imports(eager, late) == [
        ('cloudsync.d', 2, ['cloudsync.e', 'cloudsync.d'])]
    assert forbidden_imports(eager, late) == [
        ('cloudsync.proxymc.slo', 2,
         ['cloudsync.proxymc.slo', 'cloudsync.sync.crawler']),
        ('cloudsync.shunt.objects', 1,
         ['cloudsync.shunt.objects', 'cloudsync.metadata',
          'cloudsync.propagate'])]


def test_only_the_configuration_decides_where_a_container_goes():
    # NOTE: which bucket and which key layout serve a container is decided
    # once, by Mapping.target(); a program that asks the two questions
    # itself could answer them differently from the others.
    pattern = re.compile(r'\.remote_(bucket|layout)\(')
    found = []
    for module, (path, _) in sorted(_module_files(_repo_root()).items()):
        if module == 'cloudsync.conf':
            continue
        with open(path) as fobj:
            for number, line in enumerate(fobj, 1):
                if pattern.search(line):
                    found.append('%s line %d' % (module, number))
    assert found == []


def _size_problems(root):
    """Modules over 600 lines and classes over 400 that say not why."""
    problems = []
    for module, (path, _) in sorted(_module_files(root).items()):
        with open(path) as fobj:
            text = fobj.read()
        lines = text.splitlines()
        if len(lines) > 600 and 'over 600 lines' not in '\n'.join(
                lines[:200]):
            problems.append('%s: %d lines' % (module, len(lines)))
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.ClassDef):
                continue
            size = node.end_lineno - node.lineno + 1
            top = '\n'.join(lines[node.lineno - 1:node.lineno + 30])
            if size > 400 and 'over 400' not in top and \
                    'over 400' not in '\n'.join(lines[:200]):
                problems.append('%s.%s: %d lines' % (module, node.name,
                                                     size))
    return problems


def test_big_modules_and_classes_say_why():
    # NOTE: a module over about 600 lines or a class over about 400 says
    # at its top why it is one piece; otherwise it is split.
    assert _size_problems(_repo_root()) == []


def test_the_size_check_finds_what_it_forbids(tmp_path):
    body = ''.join('    x%d = %d\n' % (i, i) for i in range(420))
    _write(str(tmp_path), {
        'cloudsync/__init__.py': '',
        'cloudsync/big.py': 'class Big:\n' + body,
        'cloudsync/said.py': 'class Said:\n    # over 400 lines: why\n'
                             + body,
        'cloudsync_providers/__init__.py': '',
    })
    assert _size_problems(str(tmp_path)) == ['cloudsync.big.Big: 421 lines']
