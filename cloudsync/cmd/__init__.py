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
"""The console scripts: thin layers over the core, one module each.

Every command that reads cloudsync's configuration loads it with
:func:`load_config`: a configuration file that is missing, unreadable or
not an INI file, or no configuration file at all, is an error that names
the path, and the command exits 2 (:data:`EXIT_CONFIG`) before doing
anything. A command never runs on built-in defaults alone.
"""

import os
import sys

from oslo_config import cfg

#: the exit status of every command for a configuration or usage error
EXIT_CONFIG = 2


def config_files(conf):
    """The configuration files ``conf`` was read from, in order."""
    files = list(conf.config_file or [])
    for directory in conf.config_dir or []:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        files.extend(os.path.join(directory, n) for n in names
                     if n.endswith('.conf'))
    return files


def _say(command, message, stderr=None):
    print('%s: %s' % (command, message), file=stderr or sys.stderr)


def load_config(command, argv=None, cli_opts=(), stderr=None):
    """Parse the command line and load the configuration it names.

    :returns: the :class:`cloudsync.conf.Config`, or None after the
        problem has been printed to standard error; the caller then exits
        with :data:`EXIT_CONFIG`.
    """
    # NOTE(cloudsync): imported here, not with this package: the daemon
    # and verify monkey-patch before loading the rest of cloudsync.
    from cloudsync import conf as conf_mod
    from cloudsync import exceptions
    try:
        conf = conf_mod.parse_args(argv, cli_opts=cli_opts)
    except cfg.ConfigFilesNotFoundError as exc:
        _say(command, 'configuration file %s does not exist' % ', '.join(
            exc.config_files), stderr)
        return None
    except cfg.ConfigFilesPermissionDeniedError as exc:
        _say(command, 'cannot read configuration file %s: permission '
             'denied' % ', '.join(exc.config_files), stderr)
        return None
    except cfg.ConfigDirNotFoundError as exc:
        _say(command, 'configuration directory %s does not exist'
             % exc.config_dir, stderr)
        return None
    except OSError as exc:
        _say(command, 'cannot read configuration file %s: %s' % (
            exc.filename, exc.strerror or exc), stderr)
        return None
    except (cfg.Error, ValueError) as exc:
        # NOTE(cloudsync): a parse error names the file and line itself.
        _say(command, str(exc), stderr)
        return None
    if not config_files(conf):
        _say(command, 'no configuration file: %s does not exist; give '
             'one with --config-file' % conf_mod.DEFAULT_CONFIG_FILE,
             stderr)
        return None
    try:
        return conf_mod.build(conf)
    except exceptions.ConfigError as exc:
        print('%s: the configuration in %s has errors:' % (
            command, ', '.join(config_files(conf))),
            file=stderr or sys.stderr)
        for problem in exc.problems:
            print('  %s' % problem, file=stderr or sys.stderr)
    except (cfg.Error, ValueError) as exc:
        _say(command, str(exc), stderr)
    return None


def config_source(config):
    """Where ``config`` was read from, for messages."""
    return ', '.join(config_files(config.conf)) or '(no file)'
