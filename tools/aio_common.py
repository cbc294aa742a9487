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
"""What the all-in-one's modules share: ports, users, policies, errors and
small helpers (see ``tools/aio.py``)."""

import http.client
import json
import os
import pwd
import socket
import sys


IP = '127.0.0.1'
DEFAULT_BASE_DIR = '/tmp/cloudsync-aio'
DEFAULT_BASE_PORT = 16000
STATE_FILE = 'aio.json'
#: the command, ``tools/aio.py``, which also runs the servers (``serve``)
AIO_COMMAND = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           'aio.py')
STATE_VERSION = 1
REGION = 'us-east-1'
MOTO_ACCESS_KEY = 'testing'
MOTO_SECRET_KEY = 'testing'

# (account, user, key, groups)
USERS = (
    ('test', 'tester', 'testing', ('.admin',)),
    ('test2', 'tester2', 'testing2', ('.admin',)),
    ('test', 'reader', 'reading', ()),
    # the user without admin rights that Swift's functional tests need
    ('test', 'tester3', 'testing3', ()),
    # a service user: what its token adds opens SERVICE_ accounts
    ('test5', 'tester5', 'testing5', ('.service',)),
    ('admin', 'admin', 'admin', ('.admin', '.reseller_admin')),
)

POLICIES = (
    {'index': 0, 'name': 'gold', 'default': True},
    {'index': 1, 'name': 'silver', 'default': False},
)

PROFILES = ('plain', 'production')
AUTHS = ('tempauth', 'keystone')
KEYSTONE_PORT_OFFSET = 90
#: the roles keystoneauth gives Swift access to
KEYSTONE_OPERATOR_ROLES = 'admin, member'
KEYSTONE_READER_ROLES = 'reader'
#: the production profile's erasure-coded policy: 2 data + 1 parity
#: fragments, one per node
EC_POLICY = {'index': 2, 'name': 'ec', 'default': False,
             'policy_type': 'erasure_coding', 'ec_num_data_fragments': 2,
             'ec_num_parity_fragments': 1,
             'ec_object_segment_size': 1048576}
#: erasure code backends, best first; the first pyeclib can load is used
EC_TYPES = ('isa_l_rs_vand', 'liberasurecode_rs_vand')

SERVER_TYPES = ('object', 'container', 'account')
PORT_OFFSETS = {'object': 0, 'container': 1, 'account': 2}

PIPELINE_HEAD = ('catch_errors', 'gatekeeper', 'healthcheck', 'proxy-logging',
                 'cache', 'listing_formats', 'bulk', 'tempurl', 's3api',
                 'tempauth')
# extra filters (e.g. cloud_shunt) go here: after auth, before slo/dlo
PIPELINE_TAIL = ('copy', 'container-quotas', 'account-quotas', 'slo', 'dlo',
                 'versioned_writes', 'symlink', 'proxy-logging',
                 'proxy-server')
# the production profile's at-rest encryption, where Swift's documentation
# puts it: after every middleware that splits or copies objects, just
# before the last proxy-logging
ENCRYPTION_FILTERS = ('keymaster', 'encryption')

STOP_TIMEOUT = 10.0
START_TIMEOUT = 60.0


class AioError(Exception):
    pass


class PortsInUse(AioError):
    def __init__(self, ports):
        self.ports = ports
        super(PortsInUse, self).__init__(
            'ports already in use on %s: %s (choose another base port)' % (
                IP, ', '.join(map(str, ports))))


# -- helpers for in-process users -------------------------------------------

def keystone_tool():
    """``tools/keystone.py``, imported under a name of its own.

    The file is named like the ``keystone`` package it starts.
    """
    import importlib.util
    name = 'cloudsync_aio_keystone'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(
            os.path.dirname(os.path.abspath(__file__)), 'keystone.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def use_swift_dir(swift_dir):
    """Make this process use the cluster's swift.conf, rings and policies.

    Swift reads ``/etc/swift/swift.conf`` from a hard-coded path in several
    places (hash path prefix/suffix, storage policies, constraints). Call
    this in any process that is not a Swift server (tests, the daemon run
    in-process, InternalClient or ContainerBroker users) before touching
    rings or policies. Nothing is written to /etc/swift.
    """
    from swift.common import constraints
    from swift.common import storage_policy
    from swift.common import utils

    if not utils.set_swift_dir(swift_dir):
        # same directory as before: re-read it anyway, swift.conf may have
        # been rewritten (a fresh cluster in the same base dir)
        utils.HASH_PATH_PREFIX = b''
        utils.HASH_PATH_SUFFIX = b''
        utils.validate_configuration()
    storage_policy.reload_storage_policies()
    constraints.reload_constraints()


def ec_type():
    """The first erasure code backend of :data:`EC_TYPES` that pyeclib
    can load here.
    """
    from pyeclib import ec_iface

    errors = []
    for name in EC_TYPES:
        try:
            driver = ec_iface.ECDriver(
                k=EC_POLICY['ec_num_data_fragments'],
                m=EC_POLICY['ec_num_parity_fragments'], ec_type=name)
            driver.encode(b'probe')
            return name
        except Exception as e:  # noqa: BLE001 - next backend
            errors.append('%s: %s' % (name, e))
    raise AioError('no erasure code backend works here (%s)'
                   % '; '.join(errors))


def load_state(base_dir):
    """Return the state dict of the all-in-one in base_dir, or None."""
    path = os.path.join(base_dir, STATE_FILE)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError:
        return None


def _write_json(path, data):
    tmp = '%s.%d.tmp' % (path, os.getpid())
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write('\n')
    os.replace(tmp, path)


def _proc_stat(pid):
    """Return (state, starttime) of pid from /proc, or None."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            data = f.read()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses
    fields = data[data.rindex(')') + 2:].split()
    return fields[0], int(fields[19])


def _proc_cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            data = f.read()
    except OSError:
        return None
    return [a.decode('utf-8', 'surrogateescape')
            for a in data.split(b'\0')[:-1]]


def _is_alive(info):
    """True if the process described by info is running and is ours."""
    pid = info.get('pid')
    if not pid:
        return False
    stat = _proc_stat(pid)
    if stat is None or stat[0] in ('Z', 'X'):
        return False
    if info.get('starttime') is not None and stat[1] != info['starttime']:
        return False
    return _proc_cmdline(pid) == info['cmd']


def _http_status(port, path, method='GET', timeout=2.0):
    conn = http.client.HTTPConnection(IP, port, timeout=timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _memcache_ok(port, timeout=1.0):
    try:
        with socket.create_connection((IP, port), timeout=timeout) as sock:
            sock.sendall(b'version\r\n')
            return sock.recv(64).startswith(b'VERSION')
    except OSError:
        return False


def _port_in_use(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # as the servers do: a port whose old connections linger in TIME_WAIT
    # can be bound again
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((IP, port))
    except OSError:
        return True
    finally:
        sock.close()
    # NOTE: servers that bound with SO_REUSEPORT let us bind too; one that
    # answers a connection is in use all the same.
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.2)
    try:
        return probe.connect_ex((IP, port)) == 0
    finally:
        probe.close()


def _ini(sections):
    """Render [(section, [(key, value), ...]), ...] as an INI file."""
    out = []
    for section, items in sections:
        out.append('[%s]' % section)
        for key, value in items:
            if key.startswith('#'):
                out.append(key)
            else:
                out.append('%s = %s' % (key, value))
        out.append('')
    return '\n'.join(out)


def _current_user():
    return pwd.getpwuid(os.getuid()).pw_name


def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _normalize_filters(extra_filters):
    """Return extra filters as [[name, {option: value}], ...]."""
    result = []
    for entry in extra_filters or ():
        if isinstance(entry, dict):
            opts = dict(entry)
            name = opts.pop('name')
        else:
            name, opts = entry
            opts = dict(opts)
        if not ('use' in opts or 'paste.filter_factory' in opts):
            raise AioError('extra filter %r needs "use" or '
                           '"paste.filter_factory"' % name)
        if name in PIPELINE_HEAD + PIPELINE_TAIL + ENCRYPTION_FILTERS:
            raise AioError('extra filter name %r is taken' % name)
        result.append([name, {str(k): str(v) for k, v in opts.items()}])
    return result
