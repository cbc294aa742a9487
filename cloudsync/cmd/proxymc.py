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
"""``cloudsync-proxymc PASTE_CONF``: serve proxymc (see
:mod:`cloudsync.proxymc.app`).

It serves a paste configuration exactly as ``swift-proxy-server`` serves
``proxy-server.conf``: Swift's WSGI server, ``bind_ip``, ``bind_port``,
``workers``, ``user``, the TLS options ``cert_file`` and ``key_file``,
``-v`` to log to the console, ``-t``/``--test-config`` to check the
configuration and exit, SIGHUP for a graceful restart. The app is the last
element of ``[pipeline:main]`` (name it ``proxy-server`` when s3api is in
the pipeline).

A paste configuration that does not exist or cannot be read, and a
cloudsync configuration (the app's ``conf_file``, default
``/etc/cloudsync/cloudsync.conf``) that does not exist, cannot be read or
has errors, are reported naming the file, and the command exits 2 before
anything starts.

proxymc holds no ring, so it needs no ``swift.conf``; when ``swift_dir``
(default ``/etc/swift``) has one, its constraints (largest object, longest
name, ...) apply, as they would in Swift.
"""

import configparser
import optparse
import os
import sys

DEFAULT_SWIFT_DIR = '/etc/swift'
DEFAULT_CONFIG_FILE = '/etc/cloudsync/cloudsync.conf'
EXIT_CONFIG = 2
#: the hash suffix used when there is no swift.conf: proxymc hashes no
#: path, but Swift's WSGI server refuses to start without one
NO_RING_HASH_SUFFIX = b'cloudsync-proxymc'


def app_section(conf_path):
    """The name of the app section the pipeline ends with."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(conf_path)
    except configparser.Error:
        return 'proxy-server'
    if parser.has_option('pipeline:main', 'pipeline'):
        pipeline = parser.get('pipeline:main', 'pipeline').split()
        if pipeline:
            return pipeline[-1]
    if parser.has_section('app:main'):
        return 'main'
    return 'proxy-server'


def prepare_swift_dir(conf_path, section):
    """Use ``swift_dir``'s swift.conf when there is one (see module doc)."""
    from swift.common import constraints
    from swift.common import utils
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(conf_path)
    except configparser.Error:
        return
    swift_dir = DEFAULT_SWIFT_DIR
    for name in ('app:%s' % section, 'DEFAULT'):
        if parser.has_option(name, 'swift_dir'):
            swift_dir = parser.get(name, 'swift_dir')
            break
    swift_conf = os.path.join(swift_dir, 'swift.conf')
    if os.path.exists(swift_conf):
        utils.set_swift_dir(swift_dir)
        constraints.reload_constraints()
    else:
        # NOTE: Swift's WSGI server validates swift.conf's hash settings
        # when swift_dir is set; pointing at the (missing) file first and
        # giving a hash keeps it from refusing to start.
        utils.SWIFT_CONF_FILE = swift_conf
        if not (utils.HASH_PATH_SUFFIX or utils.HASH_PATH_PREFIX):
            utils.HASH_PATH_SUFFIX = NO_RING_HASH_SUFFIX


def cloudsync_conf_file(conf_path, section):
    """The ``conf_file`` the app of ``section`` reads."""
    parser = configparser.ConfigParser(
        interpolation=None,
        defaults={'here': os.path.dirname(os.path.abspath(conf_path))})
    try:
        parser.read(conf_path)
    except configparser.Error:
        return DEFAULT_CONFIG_FILE
    for name in ('app:%s' % section, 'DEFAULT'):
        if parser.has_option(name, 'conf_file'):
            value = parser.get(name, 'conf_file')
            return value.replace('%(here)s', parser.defaults()['here'])
    return DEFAULT_CONFIG_FILE


def config_problems(conf_path, section):
    """What keeps proxymc from starting, each line naming the file."""
    from cloudsync import conf as cs_conf
    from cloudsync import exceptions
    path = cloudsync_conf_file(conf_path, section)
    if not os.path.isfile(path):
        return ['configuration file %s (conf_file of [app:%s] in %s) does '
                'not exist' % (path, section, conf_path)]
    try:
        cs_conf.load_file(path)
    except exceptions.ConfigError as exc:
        return ['the configuration in %s has errors:' % path] + [
            '  %s' % p for p in exc.problems]
    except OSError as exc:
        return ['cannot read configuration file %s: %s' % (
            path, exc.strerror or exc)]
    return []


def _paste_conf_problem(argv):
    args = sys.argv[1:] if argv is None else argv
    paths = [a for a in args if not a.startswith('-')]
    if not paths:
        return None
    path = paths[0]
    if not os.path.exists(path):
        return 'paste configuration %s does not exist' % path
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        return 'cannot read paste configuration %s' % path
    return None


def main(argv=None):
    from swift.common import utils
    from swift.common import wsgi
    problem = _paste_conf_problem(argv)
    if problem:
        print('cloudsync-proxymc: %s' % problem, file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    parser = optparse.OptionParser(usage='%prog PASTE_CONF [options]')
    conf_file, options = utils.parse_options(
        parser=parser, test_config=True, test_args=argv)
    section = app_section(conf_file)
    # NOTE(cloudsync): as run_wsgi does before it loads the app: checking
    # the configuration loads providers, and with them ssl, which must be
    # imported after eventlet patched the standard library.
    utils.monkey_patch()
    problems = config_problems(conf_file, section)
    if problems:
        for line in problems:
            print('cloudsync-proxymc: %s' % line, file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    prepare_swift_dir(conf_file, section)
    sys.exit(wsgi.run_wsgi(conf_file, section, **options))


if __name__ == '__main__':
    main()
