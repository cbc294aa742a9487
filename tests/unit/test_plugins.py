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
"""The plugin interfaces and their loader."""

import os
import subprocess
import sys
import textwrap
import types

from hypothesis import given
from hypothesis import strategies as st
import pytest

from cloudsync import exceptions
from cloudsync import lifecycle
from cloudsync import listing
from cloudsync import providers
from cloudsync import registry


def test_shipped_plugins_load_by_name():
    assert registry.load(registry.LIFECYCLE, 'sync') is lifecycle.SyncPolicy
    assert registry.load(registry.LIFECYCLE, 'archive') is \
        lifecycle.ArchivePolicy
    assert registry.load(registry.LISTING, 'merge') is listing.MergeListing
    for name in ('s3',):
        assert issubclass(registry.load(registry.PROVIDERS, name),
                          providers.Provider)


def _run(code):
    env = {k: v for k, v in os.environ.items()
           if k != 'EVENTLET_NO_GREENDNS'}
    out = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                         check=True, stdout=subprocess.PIPE, env=env)
    return out.stdout.decode().split()


def test_loading_one_provider_imports_no_other():
    # NOTE: in a new process: other tests import every provider
    loaded = _run('''
        import sys
        from cloudsync import registry
        registry.load(registry.PROVIDERS, 's3')
        print(*sorted(registry._namespace(registry.PROVIDERS).plugins))
        print('swift' if 'cloudsync_providers.swift' in sys.modules
              else 'no-swift')
        print('gcs' if 'cloudsync_providers.gcs' in sys.modules
              else 'no-gcs')
    ''')
    assert loaded == ['s3', 'no-swift', 'no-gcs']


def test_an_unknown_name_still_lists_every_name_that_loads():
    registry.reset()
    with pytest.raises(exceptions.PluginError) as err:
        registry.load(registry.PROVIDERS, 'nope')
    assert "unknown provider 'nope'; available: " in str(err.value)
    for name in ('gcs', 's3', 's3-clone', 'swift'):
        assert name in str(err.value)


def test_the_daemon_does_not_import_the_green_resolver():
    found = _run('''
        import sys
        from cloudsync import concurrency
        concurrency.monkey_patch()
        print('eventlet.support.greendns' in sys.modules, 'dns' in sys.modules)
    ''')
    assert found == ['False', 'False']


def test_an_unknown_name_lists_the_available_ones():
    with pytest.raises(exceptions.PluginError) as err:
        registry.load(registry.LIFECYCLE, 'freeze', where='[mapping:m] x')
    assert str(err.value) == (
        "[mapping:m] x: unknown lifecycle policy 'freeze'; "
        "available: archive, sync")


def test_a_plugin_that_fails_to_import_names_its_entry_point(monkeypatch):
    ns = registry._Namespace.__new__(registry._Namespace)
    ns.namespace = 'cloudsync.providers'
    ns.plugins = {}
    ns.failures = {}
    entry_point = types.SimpleNamespace(name='bad', value='bad_pkg:Bad')
    ns._failed(None, entry_point, ImportError('No module named bad_pkg'))
    monkeypatch.setitem(registry._cache, registry.PROVIDERS, ns)
    with pytest.raises(exceptions.PluginError) as err:
        registry.load(registry.PROVIDERS, 'bad')
    assert 'entry point bad_pkg:Bad (ImportError: No module named bad_pkg)' \
        in str(err.value)
    assert 'Traceback' not in str(err.value)


class NotAProvider:
    """Has the methods, but is not a :class:`providers.Provider`."""

    OPTIONS = []


@pytest.mark.parametrize('namespace,interface', [
    (registry.PROVIDERS, 'cloudsync.providers.Provider'),
    (registry.LIFECYCLE, 'cloudsync.lifecycle.LifecyclePolicy'),
    (registry.LISTING, 'cloudsync.listing.ListingMerger'),
])
def test_a_plugin_that_is_not_a_subclass_of_the_interface_is_refused(
        monkeypatch, namespace, interface):
    def manager(namespace, invoke_on_load, on_load_failure_callback):
        def ext(name, plugin, value):
            return types.SimpleNamespace(
                name=name, plugin=plugin,
                entry_point=types.SimpleNamespace(name=name, value=value))
        return [ext('odd', NotAProvider, 'odd_pkg:NotAProvider'),
                ext('fn', len, 'odd_pkg:fn')]
    monkeypatch.setattr(registry.extension, 'ExtensionManager', manager)
    monkeypatch.delitem(registry._cache, namespace, raising=False)
    try:
        assert registry.available(namespace) == []
        assert registry.all_plugins(namespace) == {}
        for name, value in (('odd', 'odd_pkg:NotAProvider'),
                            ('fn', 'odd_pkg:fn')):
            with pytest.raises(exceptions.PluginError) as err:
                registry.load(namespace, name, where='[remote:r] provider')
            assert ("is installed but failed to load: entry point %s (not "
                    "a subclass of %s)" % (value, interface)) in \
                str(err.value)
            assert str(err.value).startswith('[remote:r] provider: ')
    finally:
        registry._cache.pop(namespace, None)


def test_the_interfaces_cannot_be_instantiated_half_done():
    class Half(providers.Provider):
        def check_target(self, bucket, create=False):
            pass
    with pytest.raises(TypeError):
        Half('r', None)


def row(name='o', deleted=False):
    return lifecycle.Row(name=name, row_id=1, timestamp=None,
                         meta_timestamp=None, deleted=deleted)


def mapping(**kw):
    values = dict(copy_after=0, propagate_delete=True)
    values.update(kw)
    return types.SimpleNamespace(**values)


@pytest.mark.parametrize('policy,action', [
    (lifecycle.SyncPolicy, lifecycle.Action.COPY),
    (lifecycle.ArchivePolicy, lifecycle.Action.ARCHIVE),
])
def test_objects_move_once_copy_after_has_passed(policy, action):
    decide = policy(mapping(copy_after=60)).decide
    early = decide(row(), age=10)
    assert early.action is lifecycle.Action.NOT_YET
    assert early.retry_after == 50
    assert decide(row(), age=60).action is action


def test_deletes_propagate_only_when_asked():
    assert lifecycle.SyncPolicy(mapping()).decide(
        row(deleted=True), 0).action is lifecycle.Action.REMOVE_REMOTE
    assert lifecycle.SyncPolicy(mapping(propagate_delete=False)).decide(
        row(deleted=True), 0).action is lifecycle.Action.SKIP


@pytest.mark.parametrize('policy', [lifecycle.SyncPolicy,
                                    lifecycle.ArchivePolicy])
def test_kept_deletes_are_marked_on_mappings_the_shunt_serves(policy):
    kept = mapping(propagate_delete=False, shunted=True)
    assert policy(kept).decide(row(deleted=True), 0).action is \
        lifecycle.Action.REMOVE_REMOTE


def test_only_archive_removes_local_data():
    assert lifecycle.ArchivePolicy.removes_local_data
    assert not lifecycle.SyncPolicy.removes_local_data


def names(xs):
    return [x.get('name', x.get('subdir')) for x in xs]


def test_merge_lists_each_name_once_local_first():
    local = [{'name': 'a'}, {'name': 'c', 'bytes': 1}, {'subdir': 'd/'}]
    remote = [{'name': 'b'}, {'name': 'c', 'bytes': 2}, {'subdir': 'd/'},
              {'name': 'e'}]
    merged = list(listing.MergeListing().merge(local, remote, location='L'))
    assert names(merged) == ['a', 'b', 'c', 'd/', 'e']
    assert merged[2] == {'name': 'c', 'bytes': 1}
    assert merged[1]['content_location'] == ['L']
    assert 'content_location' not in merged[3]


def test_merge_honours_reverse_order():
    local = [{'name': 'c'}, {'name': 'a'}]
    remote = [{'name': 'd'}, {'name': 'b'}, {'name': 'a'}]
    merged = listing.MergeListing().merge(local, remote, reverse=True)
    assert names(merged) == ['d', 'c', 'b', 'a']


def test_merge_reads_lazily():
    def endless(prefix):
        i = 0
        while True:
            yield {'name': '%s%08d' % (prefix, i)}
            i += 1
    merged = listing.MergeListing().merge(endless('a'), endless('b'))
    assert names([next(merged) for _ in range(3)]) == [
        'a00000000', 'a00000001', 'a00000002']


@given(st.lists(st.text(max_size=5), unique=True),
       st.lists(st.text(max_size=5), unique=True))
def test_merge_is_the_sorted_union(local, remote):
    merged = listing.MergeListing().merge(
        [{'name': n} for n in sorted(local)],
        [{'name': n} for n in sorted(remote)])
    assert names(merged) == sorted(set(local) | set(remote))
