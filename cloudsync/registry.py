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
"""The one loader of cloudsync's plugins.

Providers, lifecycle policies and listing mergers are found through
stevedore in their entry point namespaces. The daemon, the shunt and
proxymc all load them here, so that a name means the same everywhere.

A plugin is imported when its name is first asked for (:func:`load`),
not before: a configuration that names only the ``s3`` provider never
imports the Swift provider's client libraries, nor any other installed
plugin. Only :func:`available` and :func:`all_plugins` (an unknown name's
error message, ``oslo-config-generator``) import every plugin of a
namespace.
"""

import importlib
import threading

from stevedore import extension
from stevedore import named

from cloudsync import exceptions

PROVIDERS = 'cloudsync.providers'
LIFECYCLE = 'cloudsync.lifecycle'
LISTING = 'cloudsync.listing'

_KIND = {
    PROVIDERS: 'provider',
    LIFECYCLE: 'lifecycle policy',
    LISTING: 'listing merger',
}

#: the class every plugin of a namespace must subclass, by module and name
_INTERFACE = {
    PROVIDERS: ('cloudsync.providers', 'Provider'),
    LIFECYCLE: ('cloudsync.lifecycle', 'LifecyclePolicy'),
    LISTING: ('cloudsync.listing', 'ListingMerger'),
}

_lock = threading.Lock()
_cache = {}


class _Namespace:
    """The plugins of one namespace, imported one name at a time."""

    def __init__(self, namespace):
        self.namespace = namespace
        #: name -> class, for the names imported so far
        self.plugins = {}
        #: name -> why it failed to load
        self.failures = {}
        #: the names looked up one by one already
        self.tried = set()
        #: whether every entry point of the namespace was imported
        self.complete = False

    def find(self, name):
        """Import the plugin(s) called ``name``, once."""
        if name in self.plugins or name in self.failures or \
                name in self.tried or self.complete:
            return
        self.tried.add(name)
        manager = named.NamedExtensionManager(
            self.namespace, names=[name], invoke_on_load=False,
            on_load_failure_callback=self._failed,
            on_missing_entrypoints_callback=None)
        self._accept(manager)

    def find_all(self):
        """Import every plugin of the namespace, once."""
        if self.complete:
            return
        manager = extension.ExtensionManager(
            self.namespace, invoke_on_load=False,
            on_load_failure_callback=self._failed)
        self._accept(manager)
        self.complete = True

    def _accept(self, manager):
        interface = _interface(self.namespace)
        for ext in manager:
            if ext.name in self.plugins:
                continue
            plugin = ext.plugin
            if interface is not None and not (
                    isinstance(plugin, type) and
                    issubclass(plugin, interface)):
                self.failures[ext.name] = '%s (not a subclass of %s.%s)' % (
                    ext.entry_point.value, interface.__module__,
                    interface.__name__)
                continue
            self.plugins[ext.name] = plugin

    def _failed(self, manager, entrypoint, exc):
        self.failures[entrypoint.name] = '%s (%s: %s)' % (
            entrypoint.value, type(exc).__name__, exc)


def _interface(namespace):
    """The class the plugins of ``namespace`` must subclass, or None."""
    if namespace not in _INTERFACE:
        return None
    module, name = _INTERFACE[namespace]
    return getattr(importlib.import_module(module), name)


def _namespace(namespace):
    with _lock:
        if namespace not in _cache:
            _cache[namespace] = _Namespace(namespace)
        return _cache[namespace]


def reset():
    """Forget what was loaded (after installing a plugin at run time)."""
    with _lock:
        _cache.clear()


def available(namespace):
    """The sorted names that load in ``namespace`` (imports them all)."""
    ns = _namespace(namespace)
    ns.find_all()
    return sorted(ns.plugins)


def load(namespace, name, where=None):
    """The plugin class called ``name`` in ``namespace``.

    :param where: what asked for it, e.g. ``[remote:aws] provider``, to put
        in the error message.
    :raises PluginError: no such name, or the plugin failed to import;
        the message names the entry point and lists the names available.
    """
    ns = _namespace(namespace)
    ns.find(name)
    if name not in ns.plugins and name not in ns.failures:
        # NOTE(cloudsync): only on the way to an error: the message
        # lists every name that loads.
        ns.find_all()
    if name in ns.plugins:
        return ns.plugins[name]
    prefix = '%s: ' % where if where else ''
    kind = _KIND.get(namespace, 'plugin')
    if name in ns.failures:
        raise exceptions.PluginError(
            '%s%s %r is installed but failed to load: entry point %s' % (
                prefix, kind, name, ns.failures[name]))
    names = ', '.join(available(namespace)) or 'none'
    raise exceptions.PluginError(
        '%sunknown %s %r; available: %s' % (prefix, kind, name, names))


def all_plugins(namespace):
    """``{name: class}`` of every plugin that loads in ``namespace``.

    Imports them all.
    """
    ns = _namespace(namespace)
    ns.find_all()
    return dict(ns.plugins)
