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
"""The cloud shunt's configuration.

cloudsync.conf, read again when it changes, and the remote options the
shunt replaces.

The shunt reads the configuration file the sync daemon reads
(:func:`cloudsync.conf.load_file`) at start, and checks the file's
modification time at most every ``reload_interval`` seconds; a changed file
is read again, and when it is invalid the previous configuration stays (the
problems are logged).

The shunt answers clients that wait, where the daemon can afford to be
patient: :class:`RemoteConf` gives its providers a remote's options with
``max_retries``, ``connect_timeout`` and ``read_timeout`` replaced by the
shunt's own.
"""

import os
import time

from cloudsync import conf as conf_mod
from cloudsync import exceptions

DEFAULT_RELOAD_INTERVAL = 15.0


class RemoteConf(object):
    """A remote's options with some replaced for the shunt."""

    def __init__(self, conf, overrides):
        self._conf = conf
        self._overrides = overrides

    def __getattr__(self, name):
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._conf, name)

    def __getitem__(self, name):
        return self.__getattr__(name)


class ShuntConfig(object):
    """The cloudsync configuration, read again when its file changes.

    :param path: the configuration file.
    :param loader: reads the file into a :class:`cloudsync.conf.Config`.
    :raises ConfigError: the file cannot be read or is invalid.
    """

    def __init__(self, path, logger, reload_interval=DEFAULT_RELOAD_INTERVAL,
                 loader=conf_mod.load_file, clock=time.time):
        self.path = path
        self.logger = logger
        self.reload_interval = reload_interval
        self.loader = loader
        self.clock = clock
        self._mtime = self._stat()
        self.config = loader(path)
        self._checked = clock()
        #: incremented on every reload (providers are cached per version)
        self.version = 0

    def _stat(self):
        try:
            return os.stat(self.path).st_mtime
        except OSError:
            return None

    def get(self):
        """The configuration to use now."""
        now = self.clock()
        if now - self._checked < self.reload_interval:
            return self.config
        self._checked = now
        mtime = self._stat()
        if mtime is None or mtime == self._mtime:
            return self.config
        self._mtime = mtime
        try:
            config = self.loader(self.path)
        except exceptions.ConfigError as exc:
            self.logger.error(
                'cloud_shunt: %s changed but is invalid; keeping the '
                'previous configuration: %s', self.path,
                '; '.join(exc.problems))
            return self.config
        except Exception:
            self.logger.exception('cloud_shunt: reading %s failed; keeping '
                                  'the previous configuration', self.path)
            return self.config
        self.logger.info('cloud_shunt: reloaded %s', self.path)
        self.config = config
        self.version += 1
        return config


class LoadedConfig(ShuntConfig):
    """A configuration loaded already, never read again: for a shunt
    built in a command (``cloudsync-restore``) rather than in a proxy.

    :param config: a :class:`cloudsync.conf.Config`.
    """

    def __init__(self, config, logger=None):
        self.path = None
        self.logger = logger
        self.config = config
        self.version = 0

    def get(self):
        return self.config
