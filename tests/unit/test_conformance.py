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
"""The conformance kit's own instruments."""

import http.client
import os
import socket
import subprocess
import sys

import pytest

from cloudsync import conformance
from tests.unit import fakes

MiB = 1024 * 1024


SERVER = """
import http.server, sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        self.rfile.read(int(self.headers['Content-Length']))
        self.send_response(200)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def do_GET(self):
        body = b'x' * int(self.path.strip('/'))
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


httpd = http.server.HTTPServer(('127.0.0.1', 0), Handler)
print(httpd.server_address[1], flush=True)
httpd.serve_forever()
"""


@pytest.fixture
def server():
    proc = subprocess.Popen([sys.executable, '-c', SERVER],
                            stdout=subprocess.PIPE, text=True)
    try:
        yield int(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def request(port, method, path, body=None):
    conn = http.client.HTTPConnection('127.0.0.1', port)
    conn.request(method, path, body=body)
    data = conn.getresponse().read()
    conn.close()
    return data


def test_the_wire_counter_sees_an_upload_and_a_download(server):
    with conformance.WireCounter() as wire:
        request(server, 'PUT', '/k', os.urandom(MiB))
        assert len(request(server, 'GET', '/%d' % MiB)) == MiB
    assert MiB <= wire.sent < MiB + 4096
    assert MiB <= wire.received < MiB + 4096


def test_the_wire_counter_sees_little_for_small_requests(server):
    with conformance.WireCounter() as wire:
        request(server, 'GET', '/10')
    assert 0 < wire.sent < 1024 and 0 < wire.received < 1024


def test_the_wire_counter_leaves_sockets_as_they_were(server):
    before = {name: socket.socket.__dict__.get(name)
              for name in ('send', 'sendall', 'recv', 'recv_into',
                           'connect', 'connect_ex')}
    with conformance.WireCounter():
        pass
    assert before == {name: socket.socket.__dict__.get(name)
                      for name in before}
    with conformance.WireCounter() as wire:
        pass
    request(server, 'GET', '/10')
    assert wire.sent == wire.received == 0


def test_the_call_counter_sees_a_download_and_upload_again():
    provider = fakes.FakeProvider()
    provider.buckets['b'] = {}
    provider.put_object('b', 'k', b'data', 4)
    calls = conformance.CallCounter(provider)
    body = provider.get_object('b', 'k').read_all()
    provider.put_object('b', 'k', body, len(body), metadata={'a': 'b'})
    assert calls.calls == ['get_object', 'put_object']


def test_the_wire_counter_sees_green_sockets(server):
    # Swift's modules bring in eventlet, whose green sockets wrap sockets
    # of another class than socket.socket: what goes through them counts.
    from eventlet.green import http as green_http  # noqa: F401
    from eventlet.green.http import client as green_client
    with conformance.WireCounter() as wire:
        conn = green_client.HTTPConnection('127.0.0.1', server)
        conn.request('PUT', '/k', body=os.urandom(MiB))
        conn.getresponse().read()
        conn.close()
    assert MiB <= wire.sent < MiB + 4096
    assert 0 < wire.received < 1024
