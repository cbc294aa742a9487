#!/usr/bin/env python3
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

"""A real all-in-one Swift cluster and a moto S3 server on loopback.

Everything is built from nothing under one base directory (default
``$CLOUDSYNC_AIO_DIR`` or ``/tmp/cloudsync-aio``):

* ``etc/``: ``swift.conf`` (policies ``gold``, the default, and ``silver``),
  the rings, one account, container and object server configuration per
  node, ``proxy-server.conf`` and ``internal-client.conf``;
* ``srv/nodeN/sdbN``: the devices of node N (N = 1, 2, 3);
* ``log/``: one log file per process;
* ``aio.json``: the state file, with every pid, port, path and endpoint.

Ports, relative to the base port B (default 16000)::

    B        proxy (Swift API, tempauth at /auth/v1.0, s3api)
    B+1      moto S3 server
    B+2      memcached (only with --memcache)
    B+3..9   additional proxies (AllInOne.start_proxy(name=...))
    B+90     Keystone (only with --auth keystone)
    B+10*N   object server of node N
    B+10*N+1 container server of node N
    B+10*N+2 account server of node N

Command line::

    python tools/aio.py start [--base-dir DIR] [--base-port N] [--fresh]
                              [--profile plain|production]
                              [--auth tempauth|keystone]
    python tools/aio.py status [--json]
    python tools/aio.py stop
    python tools/aio.py env     # shell exports for swift/aws clients

Python::

    cluster = AllInOne(base_dir, base_port)
    cluster.start()
    conn = cluster.swift_client()
    cluster.stop()

No system package is needed: tempauth issues encrypted (fernet) tokens, so
no memcached is required (the proxy then runs without the ``cache`` filter:
every request also HEADs the account and container, and tempauth logs
"swift.cache could not be found" once per token request). With
``memcache=True`` (``--memcache``) Debian's ``memcached`` (not installed
by this tool: ``apt-get install memcached``) is started as well and the
proxies and the internal client use it.

The Swift servers are run as ``aio.py serve KIND CONF``: Swift's servers
read the hash path prefix/suffix from their ``swift_dir`` but storage
policies and constraints only from ``/etc/swift/swift.conf``, so this
loads them from ``swift_dir`` first (see ``use_swift_dir``, which any
other process using the cluster's rings or policies must call too).
Nothing is ever written to ``/etc/swift``.

With ``--auth keystone`` (``AllInOne(..., auth='keystone')``) the proxy
authenticates with a real Keystone instead of tempauth: ``tools/keystone.py``
sets one up under ``keystone/`` (SQLite, fernet tokens, bootstrapped with
``keystone-manage bootstrap``) and serves it on B+90; the proxy's pipeline
has ``s3token authtoken keystoneauth`` where tempauth was, and the users of
``keystone.USERS`` (``tester``/``testing`` in project ``test``, ...) are
created, with Swift registered in the catalog as ``object-store`` in
``RegionOne``. Their accounts are ``AUTH_<project id>`` (``aio.py status``
prints them). An additional proxy can use a Keystone too, whatever the
main one does: ``start_proxy(name, auth='keystone', keystone_url=...)``.

The production profile (``--profile production``, ``AllInOne(...,
profile='production')``) is the same cluster as a production one is set
up, on the features cloudsync must work with:

* at-rest encryption: ``keymaster`` and ``encryption`` in the proxy
  pipeline just before the last ``proxy-logging`` (after ``slo``, ``dlo``,
  ``versioned_writes`` and ``symlink``, as Swift documents it), the
  keymaster reading its root secret from ``etc/keymaster.conf``
  (``keymaster_config_path``); ``internal-client.conf`` has both filters
  too, as Swift's documentation asks of every internal client that reads
  objects;
* a third storage policy ``ec``, erasure-coded with 2 data and 1 parity
  fragments (``isa_l_rs_vand`` when pyeclib can load it, else
  ``liberasurecode_rs_vand``), one fragment per node;
* object versioning (``allow_object_versioning``) and symlinks, which the
  plain profile has as well;
* object expiry: the object servers' configuration has an
  ``[object-expirer]`` section, and :meth:`AllInOne.run_expirer` runs
  ``swift-object-expirer`` once.
"""

import argparse
import json
import os
import sys

import aio_common as common
# NOTE(cloudsync): the names of the single module this command once was
# stay importable from it (``import aio; aio.AllInOne``).
from aio_cluster import AllInOne  # noqa: H306
from aio_common import *  # noqa: F401,F403,H303
from aio_common import _ini  # noqa: F401

# -- command line -------------------------------------------------------------

SERVER_MODULES = {
    'proxy': 'swift.proxy.server',
    'object': 'swift.obj.server',
    'container': 'swift.container.server',
    'account': 'swift.account.server',
    'object-expirer': 'swift.obj.expirer',
    'container-updater': 'swift.container.updater',
}


def _serve(argv):
    """Run a Swift server: ``aio.py serve KIND CONF [-v]``, or one of
    Swift's daemons (``object-expirer``, ``container-updater``, with
    ``--once``).

    The Swift servers read the hash path prefix and suffix from their
    ``swift_dir``, but their storage policies and constraints only from
    ``/etc/swift/swift.conf``. This loads all of them from the config's
    ``swift_dir`` first, then runs the server as ``swift-KIND-server``
    (a daemon as ``swift-KIND``).
    """
    import configparser
    import importlib

    kind, conf = argv[0], argv[1]
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(conf)
    common.use_swift_dir(parser.get('DEFAULT', 'swift_dir'))
    module = importlib.import_module(SERVER_MODULES[kind])
    sys.argv = ['swift-%s' % kind if '-' in kind
                else 'swift-%s-server' % kind] + list(argv[1:])
    return module.main()


def _print_endpoints(state):
    print('profile:         %s' % state.get('profile', 'plain'))
    print('swift_dir:       %s' % state['swift_dir'])
    print('proxy:           %s' % state['proxy_url'])
    if not state.get('keystone'):
        print('auth (v1):       %s  users test:tester/testing, '
              'test2:tester2/testing2, test:reader/reading'
              % state['auth_url'])
        print('s3api:           %s  (access key test:tester, secret '
              'testing)' % state['s3api_endpoint'])
    print('moto S3:         %s  (any key, region %s)'
          % (state['moto_endpoint'], state['moto_region']))
    print('internal client: %s' % state['internal_client_conf'])
    if state.get('keymaster_conf'):
        print('keymaster:       %s  (encryption at rest)'
              % state['keymaster_conf'])
    if state.get('keystone'):
        ks = state['keystone']
        print('keystone:        %s  (admin/%s; the proxy authenticates '
              'with it)' % (ks['url'], ks['admin_password']))
        for user in ks['users']:
            print('                 %s/%s in project %s (%s): %s' % (
                user['name'], user['password'], user['project'],
                user['account'], ', '.join(user['roles'])))
    print('policies:        %s' % ', '.join(
        '%s (%s)' % (p['name'], p.get('ec_type') or p.get(
            'policy_type', 'replication')) for p in state['policies']))
    for node in state['nodes']:
        print('node %d:          object %d container %d account %d  %s'
              % (node['index'], node['object_port'], node['container_port'],
                 node['account_port'], node['container_server_conf']))
    print('logs:            %s' % state['log_dir'])
    print('state:           %s' % state['state_file'])


def _parse_filter_args(args):
    filters = []
    for item in args.extra_filter or ():
        name, sep, use = item.partition('=')
        if not sep:
            raise common.AioError('--extra-filter takes NAME=USE')
        filters.append([name, {'use': use}])
    by_name = {f[0]: f[1] for f in filters}
    for item in args.filter_option or ():
        key, sep, value = item.partition('=')
        name, dot, opt = key.partition('.')
        if not (sep and dot) or name not in by_name:
            raise common.AioError('--filter-option takes NAME.OPTION=VALUE '
                                  'for a filter given with --extra-filter')
        by_name[name][opt] = value
    return filters


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == 'serve':
        return _serve(argv[1:])
    parser = argparse.ArgumentParser(
        description='A real all-in-one Swift cluster and a moto S3 server '
                    'on 127.0.0.1.')
    parser.add_argument(
        '--base-dir',
        default=os.environ.get('CLOUDSYNC_AIO_DIR', common.DEFAULT_BASE_DIR),
        help='where configs, data, logs and aio.json live '
             '(default: $CLOUDSYNC_AIO_DIR or %s)' % common.DEFAULT_BASE_DIR)
    sub = parser.add_subparsers(dest='command', required=True)
    p_start = sub.add_parser('start', help='start (or reuse) the cluster')
    p_start.add_argument('--base-port', type=int,
                         default=int(os.environ.get('CLOUDSYNC_AIO_PORT',
                                                    common.DEFAULT_BASE_PORT)),
                         help='first port (default: $CLOUDSYNC_AIO_PORT or '
                              '%d)' % common.DEFAULT_BASE_PORT)
    p_start.add_argument('--fresh', action='store_true',
                         help='stop and wipe all data first')
    p_start.add_argument('--memcache', action='store_true',
                         help='also run memcached (needs Debian\'s '
                              'memcached package)')
    p_start.add_argument('--proxy-workers', type=int, default=0)
    p_start.add_argument('--part-power', type=int, default=10)
    p_start.add_argument('--log-level', default='INFO')
    p_start.add_argument('--profile', choices=common.PROFILES, default='plain',
                         help='production: at-rest encryption, an '
                              'erasure-coded policy "ec" and the object '
                              'expirer (default: plain)')
    p_start.add_argument('--auth', choices=common.AUTHS, default='tempauth',
                         help='keystone: start a Keystone too, and '
                              'authenticate the proxy with it instead of '
                              'tempauth (default: tempauth)')
    p_start.add_argument('--extra-filter', action='append',
                         metavar='NAME=USE',
                         help='add a filter to the proxy pipeline after '
                              'tempauth, e.g. '
                              'cloud_shunt=egg:swift-cloudsync#cloud_shunt')
    p_start.add_argument('--filter-option', action='append',
                         metavar='NAME.OPTION=VALUE',
                         help='an option of an --extra-filter, e.g. '
                              'cloud_shunt.conf_file=/etc/cloudsync/c.conf')
    p_start.add_argument('--timeout', type=float, default=common.START_TIMEOUT)
    sub.add_parser('stop', help='stop every process the cluster started')
    p_status = sub.add_parser('status', help='show processes and endpoints')
    p_status.add_argument('--json', action='store_true',
                          help='print the state file')
    sub.add_parser('env', help='print shell exports for the swift and aws '
                               'command line clients')
    args = parser.parse_args(argv)

    try:
        if args.command == 'start':
            aio = AllInOne(args.base_dir, args.base_port,
                           part_power=args.part_power,
                           memcache=args.memcache,
                           extra_filters=_parse_filter_args(args),
                           proxy_workers=args.proxy_workers,
                           log_level=args.log_level,
                           profile=args.profile, auth=args.auth)
            state = aio.start(fresh=args.fresh, timeout=args.timeout)
            if state.get('reused'):
                print('already running in %s' % aio.base_dir)
            else:
                print('started in %.1fs' % state['start_seconds'])
            _print_endpoints(state)
            return 0
        state = common.load_state(args.base_dir)
        if not state:
            print('no all-in-one in %s' % args.base_dir)
            return 0 if args.command == 'stop' else 3
        aio = AllInOne.from_state(args.base_dir)
        if args.command == 'stop':
            aio.stop()
            print('stopped')
            return 0
        if args.command == 'env':
            print('export ST_AUTH=%s ST_USER=test:tester ST_KEY=testing'
                  % state['auth_url'])
            print('export AWS_ENDPOINT_URL=%s AWS_ACCESS_KEY_ID=%s '
                  'AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s'
                  % (state['moto_endpoint'], common.MOTO_ACCESS_KEY,
                     common.MOTO_SECRET_KEY, common.REGION))
            print('export CLOUDSYNC_AIO_STATE=%s' % state['state_file'])
            return 0
        procs = aio.processes()
        if args.json:
            print(json.dumps(aio.state, indent=2, sort_keys=True))
        else:
            for name in sorted(procs):
                info = aio.state['processes'][name]
                print('%-16s %-8s pid %-8s port %s' % (
                    name, 'running' if procs[name] else 'stopped',
                    info['pid'], info['port']))
            _print_endpoints(aio.state)
        if procs and all(procs.values()):
            return 0
        return 1 if any(procs.values()) else 3
    except common.AioError as e:
        print('error: %s' % e, file=sys.stderr)
        return 1


if __name__ == '__main__':
    try:
        rc = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # output piped into e.g. head: what was asked is done
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        rc = 0
    sys.exit(rc)
