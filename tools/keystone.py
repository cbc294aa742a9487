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

"""A real Keystone on loopback, for the all-in-one and the tests.

The ``keystone`` package (``pip install keystone``), its database in
SQLite, fernet keys in its own directory, bootstrapped with
``keystone-manage bootstrap`` and served by a small threaded WSGI server
in a process of its own, started and stopped by pid. Everything lives
under one directory::

    keystone.conf  keystone.db  fernet-keys/  credential-keys/
    keystone.log   keystone.json (pid, port, URL, users)

After :meth:`Keystone.start`, :meth:`Keystone.add_user` creates projects,
users and role assignments through the identity API, and
:meth:`Keystone.add_object_store` registers a Swift endpoint in the
catalog. The users :data:`USERS` describes are created by
:meth:`Keystone.setup_swift_users`: the ``swift`` service user that
Swift's ``authtoken`` validates tokens with, a member, a reader and a user
with no Swift role in project ``test``, and a member of project
``test2``.

Import it by path under another name (the file is named like the
``keystone`` package it starts), as ``tools/aio.py`` does with
:func:`aio.keystone_tool`.

Command line::

    python tools/keystone.py start [--base-dir DIR] [--port N]
                                   [--token-expiration SECONDS]
    python tools/keystone.py stop [--base-dir DIR]
    python tools/keystone.py serve CONF PORT     # the server process
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

IP = '127.0.0.1'
DEFAULT_BASE_DIR = '/tmp/cloudsync-keystone'
DEFAULT_PORT = 15000
STATE_FILE = 'keystone.json'
REGION = 'RegionOne'
ADMIN_PASSWORD = 'admin-secret'
DOMAIN = 'Default'
START_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0

#: (project, user, password, roles on the project)
USERS = (
    ('service', 'swift', 'swift-secret', ('admin', 'service')),
    ('test', 'tester', 'testing', ('member',)),
    ('test', 'reader', 'reading', ('reader',)),
    ('test', 'guest', 'guesting', ('guest',)),
    ('test2', 'tester2', 'testing2', ('member',)),
)

CONFIG = """\
[DEFAULT]
log_file = %(log)s
use_stderr = false

[database]
connection = sqlite:///%(db)s

[token]
provider = fernet
expiration = %(expiration)d

[fernet_tokens]
key_repository = %(fernet)s

[fernet_receipts]
key_repository = %(fernet)s

[credential]
key_repository = %(credential)s

[cache]
enabled = false
"""


class KeystoneError(Exception):
    pass


def _free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((IP, port))
        except OSError:
            return False
    return True


def _bin(name):
    path = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(path):
        return path
    found = shutil.which(name)
    if not found:
        raise KeystoneError('%s not found: pip install keystone' % name)
    return found


class Keystone(object):
    """A Keystone server under ``base_dir`` on ``IP:port``.

    :param token_expiration: seconds a token lives (``[token]
        expiration``); short ones let tests see a token expire.
    """

    def __init__(self, base_dir=DEFAULT_BASE_DIR, port=DEFAULT_PORT,
                 token_expiration=3600):
        self.base_dir = os.path.abspath(base_dir)
        self.port = port
        self.token_expiration = int(token_expiration)
        self.conf = os.path.join(self.base_dir, 'keystone.conf')
        self.log = os.path.join(self.base_dir, 'keystone.log')
        self.state_path = os.path.join(self.base_dir, STATE_FILE)
        self.pid = None
        #: {project name: id}, {user name: id}, {role name: id}
        self.projects, self.users, self.roles = {}, {}, {}

    @property
    def url(self):
        """The identity v3 endpoint."""
        return 'http://%s:%d/v3' % (IP, self.port)

    @classmethod
    def from_state(cls, base_dir=DEFAULT_BASE_DIR):
        with open(os.path.join(base_dir, STATE_FILE)) as f:
            state = json.load(f)
        ks = cls(state['base_dir'], state['port'], state['token_expiration'])
        ks.pid = state['pid']
        ks.projects = state.get('projects', {})
        ks.users = state.get('users', {})
        ks.roles = state.get('roles', {})
        return ks

    def _save(self):
        tmp = self.state_path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump({'base_dir': self.base_dir, 'port': self.port,
                       'url': self.url, 'pid': self.pid,
                       'token_expiration': self.token_expiration,
                       'projects': self.projects, 'users': self.users,
                       'roles': self.roles}, f, indent=2, sort_keys=True)
        os.replace(tmp, self.state_path)

    # -- setting up ----------------------------------------------------------

    def _manage(self, *args):
        proc = subprocess.run(
            [_bin('keystone-manage'), '--config-file', self.conf] +
            list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=300)
        if proc.returncode:
            raise KeystoneError('keystone-manage %s failed (%d): %s' % (
                args[0], proc.returncode,
                proc.stdout.decode('utf-8', 'replace')[-2000:]))

    def prepare(self):
        """Configuration, database, keys and bootstrap; a Keystone
        prepared before is left as it is.
        """
        if os.path.exists(os.path.join(self.base_dir, 'keystone.db')):
            return
        os.makedirs(self.base_dir, exist_ok=True)
        fernet = os.path.join(self.base_dir, 'fernet-keys')
        credential = os.path.join(self.base_dir, 'credential-keys')
        for path in (fernet, credential):
            os.makedirs(path, mode=0o700, exist_ok=True)
        with open(self.conf, 'w') as f:
            f.write(CONFIG % {
                'log': self.log,
                'db': os.path.join(self.base_dir, 'keystone.db'),
                'expiration': self.token_expiration, 'fernet': fernet,
                'credential': credential})
        import grp
        import pwd
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        self._manage('db_sync')
        self._manage('fernet_setup', '--keystone-user', user,
                     '--keystone-group', group)
        self._manage('credential_setup', '--keystone-user', user,
                     '--keystone-group', group)
        self._manage('bootstrap', '--bootstrap-password', ADMIN_PASSWORD,
                     '--bootstrap-username', 'admin',
                     '--bootstrap-project-name', 'admin',
                     '--bootstrap-role-name', 'admin',
                     '--bootstrap-service-name', 'keystone',
                     '--bootstrap-region-id', REGION,
                     '--bootstrap-public-url', self.url,
                     '--bootstrap-internal-url', self.url,
                     '--bootstrap-admin-url', self.url)

    def start(self, timeout=START_TIMEOUT):
        """Set up (database, keys, bootstrap) and serve; returns self."""
        if not _free(self.port):
            raise KeystoneError('port %d is in use' % self.port)
        self.prepare()
        with open(self.log, 'ab') as log:
            proc = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), 'serve',
                 self.conf, str(self.port)], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.pid = proc.pid
        self._save()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise KeystoneError('keystone exited with %s; see %s' % (
                    proc.returncode, self.log))
            try:
                status, _h, _b = self._request('GET', '/v3')
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            self.stop()
            raise KeystoneError('keystone did not answer in %ds; see %s'
                                % (timeout, self.log))
        self._admin_token = None
        return self

    def is_running(self):
        if not self.pid:
            return False
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return True

    def stop(self, timeout=STOP_TIMEOUT):
        """Stop the server process (by its pid)."""
        if not self.pid:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.time() + timeout
            while time.time() < deadline:
                try:
                    done, _status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:
                    done = not self.is_running()
                if done:
                    break
                time.sleep(0.1)
            else:
                continue
            break
        self.pid = None
        if os.path.isdir(self.base_dir):
            self._save()

    # -- the identity API ----------------------------------------------------

    def _request(self, method, path, body=None, token=None, headers=None):
        conn = http.client.HTTPConnection(IP, self.port, timeout=60)
        try:
            headers = dict(headers or {})
            if body is not None:
                body = json.dumps(body)
                headers['Content-Type'] = 'application/json'
            if token:
                headers['X-Auth-Token'] = token
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, dict(resp.getheaders()), (
                json.loads(data) if data else None)
        finally:
            conn.close()

    def token(self, user, password, project=None, domain=DOMAIN):
        """A token of ``user`` (scoped to ``project`` when given)."""
        status, headers, body = self._request('POST', '/v3/auth/tokens', {
            'auth': self._auth(user, password, project, domain)})
        if status != 201:
            raise KeystoneError('token for %s: %s %s' % (user, status, body))
        return headers['X-Subject-Token'] if 'X-Subject-Token' in headers \
            else headers['x-subject-token']

    @staticmethod
    def _auth(user, password, project, domain):
        auth = {'identity': {'methods': ['password'], 'password': {
            'user': {'name': user, 'domain': {'name': domain},
                     'password': password}}}}
        if project:
            auth['scope'] = {'project': {'name': project,
                                         'domain': {'name': domain}}}
        return auth

    def admin_token(self):
        if not getattr(self, '_admin_token', None):
            self._admin_token = self.token('admin', ADMIN_PASSWORD,
                                           project='admin')
        return self._admin_token

    def _api(self, method, path, body=None, ok=(200, 201, 204)):
        status, _h, data = self._request(method, path, body,
                                         token=self.admin_token())
        if status == 401:
            # NOTE: the admin token expired (tokens may be short-lived)
            self._admin_token = None
            status, _h, data = self._request(method, path, body,
                                             token=self.admin_token())
        if status not in ok:
            raise KeystoneError('%s %s: %s %s' % (method, path, status, data))
        return data

    def _find(self, kind, name):
        data = self._api('GET', '/v3/%s?name=%s' % (
            kind, urllib.parse.quote(name)))
        found = data[kind]
        return found[0]['id'] if found else None

    def ensure_project(self, name):
        if name not in self.projects:
            pid = self._find('projects', name)
            if pid is None:
                pid = self._api('POST', '/v3/projects', {'project': {
                    'name': name, 'domain_id': 'default'}})['project']['id']
            self.projects[name] = pid
        return self.projects[name]

    def ensure_role(self, name):
        if name not in self.roles:
            rid = self._find('roles', name)
            if rid is None:
                rid = self._api('POST', '/v3/roles', {'role': {
                    'name': name}})['role']['id']
            self.roles[name] = rid
        return self.roles[name]

    def add_user(self, project, name, password, roles=()):
        """Create ``name`` (if needed) with ``roles`` on ``project``."""
        project_id = self.ensure_project(project)
        uid = self._find('users', name)
        if uid is None:
            uid = self._api('POST', '/v3/users', {'user': {
                'name': name, 'password': password, 'domain_id': 'default',
                'default_project_id': project_id}})['user']['id']
        self.users[name] = uid
        for role in roles:
            self._api('PUT', '/v3/projects/%s/users/%s/roles/%s' % (
                project_id, uid, self.ensure_role(role)))
        self._save()
        return uid

    def setup_swift_users(self):
        """The users of :data:`USERS`; returns ``{project: account}``
        (``AUTH_<project id>``).
        """
        for project, user, password, roles in USERS:
            self.add_user(project, user, password, roles)
        return {name: 'AUTH_%s' % pid for name, pid in self.projects.items()}

    def add_object_store(self, url, region=REGION):
        """Register Swift's proxy ``url`` (``http://host:port``) as the
        ``object-store`` service of ``region``, public interface.
        """
        try:
            self._api('GET', '/v3/regions/%s' % region)
        except KeystoneError:
            self._api('POST', '/v3/regions', {'region': {'id': region}})
        services = self._api('GET', '/v3/services?type=object-store')
        if services['services']:
            sid = services['services'][0]['id']
        else:
            sid = self._api('POST', '/v3/services', {'service': {
                'type': 'object-store', 'name': 'swift'}})['service']['id']
        url = url.rstrip('/') + '/v1/AUTH_$(project_id)s'
        endpoints = self._api('GET', '/v3/endpoints?service_id=%s' % sid)
        if any(e['url'] == url and e['region_id'] == region
               for e in endpoints['endpoints']):
            return
        self._api('POST', '/v3/endpoints', {'endpoint': {
            'service_id': sid, 'interface': 'public', 'region_id': region,
            'url': url}})


def _serve(conf, port):
    """The server process: Keystone's public app, threaded, on loopback."""
    import socketserver
    from wsgiref import simple_server

    os.environ['OS_KEYSTONE_CONFIG_FILES'] = conf
    sys.argv = [sys.argv[0]]
    # NOTE: this file is named keystone.py too: keep its directory out of
    # the way of the keystone package.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != here]
    from keystone.server import wsgi as keystone_wsgi
    app = keystone_wsgi.initialize_public_application()

    class Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
        daemon_threads = True
        allow_reuse_address = True

    class Handler(simple_server.WSGIRequestHandler):
        def log_message(self, fmt, *args):
            sys.stderr.write('%s %s\n' % (self.address_string(),
                                          fmt % args))

    server = simple_server.make_server(IP, int(port), app,
                                       server_class=Server,
                                       handler_class=Handler)
    signal.signal(signal.SIGTERM, lambda *_a: sys.exit(0))
    server.serve_forever()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == 'serve':
        return _serve(argv[1], argv[2])
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--base-dir', default=os.environ.get(
        'CLOUDSYNC_KEYSTONE_DIR', DEFAULT_BASE_DIR))
    sub = parser.add_subparsers(dest='command', required=True)
    p_start = sub.add_parser('start')
    p_start.add_argument('--port', type=int, default=DEFAULT_PORT)
    p_start.add_argument('--token-expiration', type=int, default=3600)
    sub.add_parser('stop')
    args = parser.parse_args(argv)
    try:
        if args.command == 'start':
            ks = Keystone(args.base_dir, args.port, args.token_expiration)
            started = time.time()
            ks.start()
            accounts = ks.setup_swift_users()
            print('keystone at %s (%.1fs); admin/%s' % (
                ks.url, time.time() - started, ADMIN_PASSWORD))
            for project, user, password, roles in USERS:
                print('  %s/%s in project %s (%s): %s' % (
                    user, password, project, accounts[project],
                    ', '.join(roles)))
            return 0
        if not os.path.exists(os.path.join(args.base_dir, STATE_FILE)):
            print('no keystone in %s' % args.base_dir)
            return 0
        Keystone.from_state(args.base_dir).stop()
        print('stopped')
        return 0
    except KeystoneError as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
