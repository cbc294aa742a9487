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
"""A thin HTTP proxy that makes an S3 server answer as GCS's XML API does.

No emulator of GCS's interoperability API exists, so the ``gcs`` provider
is tested against moto behind this proxy, which adds the differences of
GCS that matter to cloudsync:

* user metadata comes back as ``x-goog-meta-*`` (not ``x-amz-meta-*``),
  with ``x-goog-hash: crc32c=...,md5=...`` and ``x-goog-stored-content-*``
  headers beside it;
* ``encoding-type`` is not implemented: it is dropped from listing
  requests, so names come back raw;
* no multi-object delete (``POST ?delete``), no UploadPartCopy (a part
  PUT with ``x-amz-copy-source``) and no compose through the S3 API:
  ``501 NotImplemented``, as GCS answers;
* ``Last-Modified`` of HEAD and GET to the second (moto's already is).

Every request and its answer status are recorded (``GCSProxy.requests``)
so that tests can check what the provider sent. Bodies are streamed both
ways. ``GCSProxy`` runs it as a process of its own; ``python
gcs_proxy.py BACKEND_URL LOG_FILE`` runs it by hand.
"""

import base64
import binascii
import http.client
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.parse

HOP_BY_HOP = frozenset(['connection', 'keep-alive', 'proxy-authenticate',
                        'proxy-authorization', 'te', 'trailers',
                        'transfer-encoding', 'upgrade'])
NOT_IMPLEMENTED = (b'<?xml version="1.0" encoding="UTF-8"?><Error>'
                   b'<Code>NotImplemented</Code><Message>A header or query '
                   b'you provided requested a function that is not '
                   b'implemented.</Message></Error>')
CHUNK = 64 * 1024


class GCSProxy:
    """Runs the proxy in its own process, forwarding to ``backend``.

    A separate process keeps it clear of the test process, where eventlet
    may have replaced the socket module that ``http.server`` uses.
    """

    def __init__(self, backend):
        self.backend = backend
        self.port = self.url = None
        self._process = None
        self._log = None

    @property
    def requests(self):
        """(method, path with query, status) of every request so far."""
        with open(self._log) as f:
            return [tuple(json.loads(line)) for line in f if line.strip()]

    def start(self, timeout=30):
        fd, self._log = tempfile.mkstemp(prefix='gcs-proxy-',
                                         suffix='.log')
        os.close(fd)
        self._process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), self.backend,
             self._log], stdout=subprocess.PIPE, text=True)
        try:
            line = self._process.stdout.readline()
            if not line.startswith('PORT '):
                raise RuntimeError('the GCS proxy did not start: %r' % line)
        except BaseException:
            self.stop()
            raise
        self.port = int(line.split()[1])
        self.url = 'http://127.0.0.1:%d' % self.port
        return self

    def stop(self):
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process.stdout.close()
            self._process = None
        if self._log and os.path.exists(self._log):
            os.unlink(self._log)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    backend = None
    log_file = None
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def _record(self, status):
        with self.lock:
            with open(self.log_file, 'a') as f:
                f.write(json.dumps([self.command, self.path, status]) +
                        '\n')

    def _fail(self, status, message):
        body = message.encode('utf-8', 'replace')
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain; charset=UTF-8')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self):
        self.send_response(501)
        self.send_header('Content-Type', 'application/xml; charset=UTF-8')
        self.send_header('Content-Length', str(len(NOT_IMPLEMENTED)))
        self.end_headers()
        self.wfile.write(NOT_IMPLEMENTED)

    def _proxy(self):
        path, _, query = self.path.partition('?')
        params = urllib.parse.parse_qsl(query, keep_blank_values=True)
        names = {name for name, _ in params}
        length = int(self.headers.get('Content-Length') or 0)
        refuse = (
            (self.command == 'POST' and 'delete' in names) or
            (self.command == 'PUT' and 'partNumber' in names and
             self.headers.get('x-amz-copy-source')) or
            'compose' in names)
        if refuse:
            self.rfile.read(length)
            self._record(501)
            self._refuse()
            return
        if 'encoding-type' in names:
            # NOTE: GCS ignores it; moto, like S3, would encode the names.
            params = [(k, v) for k, v in params if k != 'encoding-type']
            query = urllib.parse.urlencode(params, quote_via=urllib.parse.
                                           quote)
        target = path + ('?' + query if query else '')
        conn = http.client.HTTPConnection(*self.backend, timeout=60)
        left = length
        try:
            conn.putrequest(self.command, target, skip_host=True,
                            skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    conn.putheader(name, value)
            conn.endheaders()
            while left > 0:
                data = self.rfile.read(min(CHUNK, left))
                if not data:
                    # NOTE: the client gave up mid-body; so does the PUT.
                    conn.close()
                    self.close_connection = True
                    self._record(None)
                    return
                left -= len(data)
                conn.send(data)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            # NOTE: answer, as a real front end would, rather than drop
            # the client's connection with no answer at all.
            conn.close()
            while left > 0:
                data = self.rfile.read(min(CHUNK, left))
                if not data:
                    self.close_connection = True
                    break
                left -= len(data)
            self._record(503)
            self._fail(503, 'the S3 server did not answer: %s' % exc)
            return
        try:
            self._record(resp.status)
            self._answer(resp)
        finally:
            conn.close()

    def _answer(self, resp):
        self.send_response(resp.status, resp.reason)
        etag = None
        for name, value in resp.getheaders():
            lname = name.lower()
            if lname in HOP_BY_HOP or lname in ('server', 'date'):
                # NOTE: send_response() gave the proxy's own
                continue
            if lname.startswith('x-amz-meta-'):
                name = 'x-goog-meta-' + name[len('x-amz-meta-'):]
            if lname == 'etag':
                etag = value.strip('"')
            self.send_header(name, value)
        if etag and len(etag) == 32 and self.command in ('GET', 'HEAD'):
            try:
                md5 = base64.b64encode(binascii.unhexlify(etag)).decode()
                self.send_header('x-goog-hash',
                                 'crc32c=AAAAAA==,md5=%s' % md5)
            except (binascii.Error, ValueError):
                pass
        # NOTE: the client keeps its connection for the next request, so
        # the end of every answer must be clear without closing it: no
        # body where HTTP has none, otherwise a length or chunks.
        bodiless = (self.command == 'HEAD' or resp.status in (204, 304) or
                    100 <= resp.status < 200)
        chunked = not bodiless and resp.getheader('Content-Length') is None
        if chunked:
            self.send_header('Transfer-Encoding', 'chunked')
        self.end_headers()
        if bodiless:
            return
        while True:
            data = resp.read(CHUNK)
            if not data:
                break
            if chunked:
                self.wfile.write(b'%x\r\n%s\r\n' % (len(data), data))
            else:
                self.wfile.write(data)
        if chunked:
            self.wfile.write(b'0\r\n\r\n')

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _proxy


def main(argv=None):
    """``gcs_proxy.py BACKEND_URL LOG_FILE``: serve until terminated."""
    backend, log_file = (argv or sys.argv[1:])[:2]
    parsed = urllib.parse.urlsplit(backend)
    _Handler.backend = (parsed.hostname, parsed.port)
    _Handler.log_file = log_file
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print('PORT %d' % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == '__main__':
    main()
