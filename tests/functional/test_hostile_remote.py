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
"""What comes from the bucket cannot widen access or break a response.

Objects are written straight into moto buckets, as anyone holding the
bucket's keys (or a proxymc user) may write them: the cases of
:mod:`cloudsync.hostile` (control characters in decoded metadata, numbers
that are not, names in reserved namespaces), forged SLO manifests, and a
large object read by two clients at once. They are then read, listed,
restored and deleted through a real Swift proxy with the cloud shunt and
through ``cloudsync-proxymc``, and the tests check the exact answers, the
local and remote data left, and the logs (never a traceback).
"""

import hashlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import urllib.parse
from xml.etree import ElementTree

import pytest

from cloudsync import conf as conf_mod
from cloudsync import hostile
from cloudsync import metadata as md
from tests.functional.conftest import unique_name
from tests.functional import daemon_helpers as helpers
from tests.functional.daemon_helpers import aio_cloudsync
from tests.functional.test_proxymc import ProxyMCServer

MIB = 1024 * 1024
#: the size of the object two clients read at once: more than the socket
#: buffers hold, so the first reader's restore is still running while the
#: second one reads
BIG = 24 * MIB


def md5_hex(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class Answer:
    def __init__(self, status, headers, body, raw_head):
        self.status = status
        #: ``[(name, value)]`` as sent
        self.headers = headers
        self.body = body
        self.raw_head = raw_head


def _connect(url):
    parsed = urllib.parse.urlparse(url)
    return socket.create_connection((parsed.hostname, parsed.port),
                                    timeout=60), parsed


def _send(sock, parsed, method, path, token=None, headers=None, query=None):
    target = urllib.parse.quote(path)
    if query:
        target += '?' + urllib.parse.urlencode(query)
    lines = ['%s %s HTTP/1.1' % (method, target),
             'Host: %s:%d' % (parsed.hostname, parsed.port),
             'Connection: close', 'Content-Length: 0']
    if token:
        lines.append('X-Auth-Token: %s' % token)
    for key, value in (headers or {}).items():
        lines.append('%s: %s' % (key, value))
    sock.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode('utf-8'))


def _parse(data):
    head, _sep, body = data.partition(b'\r\n\r\n')
    text = head.decode('latin-1')
    status_line, _sep, rest = text.partition('\r\n')
    headers = []
    for line in rest.split('\r\n') if rest else []:
        name, _sep, value = line.partition(':')
        headers.append((name, value.strip(' ')))
    return Answer(int(status_line.split()[1]), headers, body, text)


def raw_request(url, method, path, token=None, headers=None, query=None):
    """One request on its own connection; the response as sent."""
    sock, parsed = _connect(url)
    try:
        _send(sock, parsed, method, path, token, headers, query)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    return _parse(b''.join(chunks))


def write_conf(aio, path, names, buckets, remotes):
    shared = {'bucket': buckets['shared'], 'layout': 'prefix',
              'key_prefix': '{container}', 'merge_namespaces': 'true'}
    mappings = {
        'hdr': dict(shared, container=names['hdr']),
        'rst': dict(shared, container=names['rst'], restore_object='true'),
        'nat': {'container': names['nat'], 'bucket': buckets['native'],
                'layout': 'native', 'merge_namespaces': 'true',
                'restore_object': 'true'},
        'natd': {'container': names['natd'], 'bucket': buckets['daemon'],
                 'layout': 'native'},
    }
    sections = {'moto': 'moto'}
    for kind in ('garbage', 'stall'):
        sections[kind] = aio_cloudsync.remote(
            aio.state, 'moto', endpoint=remotes[kind].url, max_retries=0,
            connect_timeout=5, read_timeout=5)
        mappings[kind] = {'container': names[kind], 'remote': kind,
                          'bucket': 'hostile', 'merge_namespaces': 'true'}
    aio_cloudsync.write_conf(path, aio.state, mappings, sections)


class BadRemote:
    """A TCP server on loopback that answers garbage to every request
    (``garbage``) or never answers at all (``stall``).
    """

    def __init__(self, kind):
        self.kind = kind
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.url = 'http://127.0.0.1:%d' % self.sock.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            if self.kind == 'stall':
                self.held.append(conn)
                continue
            try:
                conn.settimeout(5)
                conn.recv(65536)
                conn.sendall(b'\x00\x01 this is not HTTP \r\n\r\n')
            except OSError:
                pass
            finally:
                conn.close()

    def stop(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture(scope='module')
def env(aio):
    work_dir = tempfile.mkdtemp(prefix='hostile-test-')
    names = {k: unique_name(k) for k in ('hdr', 'rst', 'nat', 'natd',
                                         'garbage', 'stall')}
    remotes = {k: BadRemote(k) for k in ('garbage', 'stall')}
    buckets = {k: unique_name('hostile-' + k)
               for k in ('shared', 'native', 'daemon')}
    s3 = aio.s3_client()
    for bucket in buckets.values():
        s3.create_bucket(Bucket=bucket)
    conf = os.path.join(work_dir, 'cloudsync.conf')
    write_conf(aio, conf, names, buckets, remotes)
    swift = aio.swift_client()
    for container in names.values():
        swift.put_container(container)
    swift.post_container(names['nat'], {'X-Container-Read': 'test:reader'})
    url, token = swift.get_auth()
    _, reader_token = aio.swift_client('test:reader', 'reading').get_auth()
    config = conf_mod.load_file(conf)
    server = ProxyMCServer(work_dir, conf)
    try:
        shunt_url = aio.start_proxy('hostile', [('cloud_shunt', {
            'use': 'egg:swift-cloudsync#cloud_shunt', 'conf_file': conf,
            'remote_max_retries': '0', 'remote_connect_timeout': '5',
            'remote_read_timeout': '5'})])
        try:
            server.start()
            _, pmc_token = server.client().get_auth()
            yield {
                'aio': aio, 'names': names, 'buckets': buckets,
                'conf': conf, 'config': config, 'work_dir': work_dir,
                'account_path': urllib.parse.urlparse(url).path,
                'token': token, 'reader_token': reader_token,
                'shunt_url': shunt_url, 'proxymc': server,
                'pmc_token': pmc_token, 's3': s3, 'swift': swift,
            }
        finally:
            server.stop()
            aio.stop_proxy('hostile')
    finally:
        for bad in remotes.values():
            bad.stop()
        if not os.environ.get('CLOUDSYNC_AIO_KEEP'):
            shutil.rmtree(work_dir, ignore_errors=True)


def remote(env, name):
    """(provider, bucket, layout) of mapped container ``name``."""
    mapping = env['config'].mapping_for('AUTH_test', name)
    provider = mapping.remote.provider_cls(mapping.remote.name,
                                           mapping.remote.conf)
    return provider, mapping.remote_bucket(name), \
        mapping.remote_layout(name)


def path(env, container, obj=None):
    out = '%s/%s' % (env['account_path'], container)
    return out + '/' + obj if obj is not None else out


def shunt(env, method, container, obj=None, token=None, headers=None,
          query=None):
    return raw_request(env['shunt_url'], method, path(env, container, obj),
                       token or env['token'], headers, query)


def proxymc(env, method, container, obj=None, headers=None, query=None):
    return raw_request(env['proxymc'].url, method,
                       path(env, container, obj), env['pmc_token'], headers,
                       query)


def plain(env, method, container, obj=None):
    """Swift alone: the all-in-one's own proxy, without the shunt."""
    return raw_request(env['aio'].state['auth_url'].rsplit('/auth', 1)[0],
                       method, path(env, container, obj), env['token'])


def keys(env, bucket, prefix=''):
    resp = env['s3'].list_objects_v2(Bucket=bucket, Prefix=prefix)
    return {o['Key']: o['ETag'].strip('"')
            for o in resp.get('Contents', ())}


def shunt_log(env):
    with open(env['aio'].log_path('hostile'), errors='replace') as f:
        return f.read()


def proxymc_log(env):
    with open(env['proxymc'].log_path, errors='replace') as f:
        return f.read()


def no_tracebacks(env):
    assert 'Traceback' not in shunt_log(env)
    assert 'Traceback' not in proxymc_log(env)


# -- the kit's cases: headers and numbers ------------------------------------

@pytest.fixture(scope='module')
def written(env):
    provider, bucket, layout = remote(env, env['names']['hdr'])
    return {case.id: hostile.write_case(provider, bucket, layout, case)
            for case in hostile.CASES + hostile.RESERVED_CASES}


def _check_case(case, answer, method):
    assert hostile.answer_problems(
        case, method, answer.status, answer.headers, answer.body) == [], \
        answer.raw_head


@pytest.mark.parametrize('case', hostile.CASES + hostile.RESERVED_CASES,
                         ids=lambda c: c.id)
def test_a_hostile_object_is_served_with_clean_headers(env, written, case):
    hdr = env['names']['hdr']
    for method in ('GET', 'HEAD'):
        _check_case(case, shunt(env, method, hdr, case.name), method)
        _check_case(case, proxymc(env, method, hdr, case.name), method)


def test_metadata_left_out_is_logged_without_a_traceback(env, written):
    hdr = env['names']['hdr']
    shunt(env, 'GET', hdr, 'hostile/crlf-value')
    proxymc(env, 'GET', hdr, 'hostile/crlf-value')
    assert 'left out' in shunt_log(env)
    assert 'left out' in proxymc_log(env)
    no_tracebacks(env)


def test_listings_of_hostile_objects_are_clean(env, written):
    hdr = env['names']['hdr']
    want = sorted(case.name for case in hostile.CASES)
    assert plain(env, 'GET', hdr).body == b''
    for server in (shunt, proxymc):
        answer = server(env, 'GET', hdr, None)
        assert answer.status == 200
        assert answer.body.decode('utf-8').splitlines() == want
        answer = server(env, 'GET', hdr, None, query={'format': 'xml'})
        assert answer.status == 200
        names = [e.text for e in ElementTree.fromstring(
            answer.body).iter('name')]
        assert names == want
        assert hostile.header_problems(answer.headers) == []


def test_reserved_names_cannot_be_written_or_deleted_through_proxymc(
        env, written):
    hdr = env['names']['hdr']
    _, bucket, _ = remote(env, hdr)
    before = keys(env, bucket, hdr + '/')
    for case in hostile.RESERVED_CASES:
        for method in ('PUT', 'POST', 'DELETE'):
            answer = proxymc(env, method, hdr, case.name)
            assert answer.status == 403, (case.id, method)
            assert b'reserved' in answer.body
        assert shunt(env, 'DELETE', hdr, case.name).status == 404
        assert shunt(env, 'POST', hdr, case.name).status == 404
    assert keys(env, bucket, hdr + '/') == before


def test_a_hostile_object_is_deleted_alone(env, written):
    hdr = env['names']['hdr']
    _, bucket, _ = remote(env, hdr)
    before = keys(env, bucket, hdr + '/')
    first, second = hostile.CASES[0], hostile.CASES[1]
    assert shunt(env, 'DELETE', hdr, first.name).status == 204
    assert proxymc(env, 'DELETE', hdr, second.name).status == 204
    after = keys(env, bucket, hdr + '/')
    gone = {written[first.id], written[second.id]}
    assert after == {k: v for k, v in before.items() if k not in gone}
    no_tracebacks(env)


def test_metadata_with_control_characters_is_refused_on_write(env):
    hdr = env['names']['hdr']
    answer = proxymc(env, 'PUT', hdr, 'written', headers={
        'X-Object-Meta-Note': 'a\x04b'})
    assert answer.status == 400
    assert b'control character' in answer.body
    assert proxymc(env, 'GET', hdr, 'written').status == 404


# -- forged side objects ------------------------------------------------------

def write_slo(env, container, name, segments):
    """An SLO as the daemon stores one, written straight into the bucket:
    the object, its manifest and the metadata binding them.

    :param segments: ``[(path, bytes)]``.
    :returns: the object's bytes.
    """
    provider, bucket, layout = remote(env, container)
    body = b''.join(data for _path, data in segments)
    manifest = json.dumps([
        {'name': seg_path, 'hash': md5_hex(data), 'bytes': len(data),
         'content_type': 'application/octet-stream',
         'last_modified': '2026-01-01T00:00:00.000000'}
        for seg_path, data in segments]).encode('ascii')
    provider.put_object(bucket, layout.manifest_key(name), manifest,
                        len(manifest), content_type='application/json')
    provider.put_object(bucket, layout.object_key(name), body, len(body),
                        content_type='application/octet-stream', metadata={
                            md.SLO_KEY: 'True',
                            md.SLO_ETAG_KEY: md5_hex(''.join(
                                md5_hex(d) for _p, d in segments).encode(
                                    'ascii')),
                            'cloudsync-manifest-etag': md5_hex(manifest),
                            md.TIMESTAMP_KEY: '%.5f' % time.time()})
    return body


def wait_for_log(env, *needles, timeout=60):
    """The shunt's log once one of ``needles`` is in it."""
    deadline = time.monotonic() + timeout
    while True:
        log = shunt_log(env)
        if any(n in log for n in needles) or time.monotonic() > deadline:
            return log
        time.sleep(0.2)


def test_a_read_only_client_never_makes_a_restore_write_elsewhere(env):
    nat = env['names']['nat']
    missing, existing = unique_name('victim'), unique_name('victim')
    env['swift'].put_container(existing)
    body = write_slo(env, nat, 'evil-new', [
        ('/%s/s0' % missing, b'0' * 10), ('/%s/s1' % missing, b'1' * 5)])
    body2 = write_slo(env, nat, 'evil-old', [
        ('/%s/s0' % existing, b'0' * 10), ('/%s/s1' % existing, b'1' * 5)])

    for obj, data in (('evil-new', body), ('evil-old', body2)):
        answer = shunt(env, 'GET', nat, obj, token=env['reader_token'])
        assert (answer.status, answer.body) == (200, data)
        name = 'AUTH_test/%s/%s' % (nat, obj)
        log = wait_for_log(env, 'Restored %s' % name,
                           'Failed to restore %s' % name)
        assert 'Failed to restore %s' % name in log

    assert plain(env, 'HEAD', missing).status == 404
    assert env['swift'].get_container(existing)[1] == []
    assert plain(env, 'HEAD', nat, 'evil-new').status == 404
    assert plain(env, 'HEAD', nat, 'evil-old').status == 404
    no_tracebacks(env)


def _proxymc_slo(env, container, name):
    """An SLO uploaded through proxymc; returns its bytes."""
    cloud = env['proxymc'].client()
    parts = [b'a' * 100, b'b' * 50]
    for index, data in enumerate(parts):
        cloud.put_object(container, 'seg/%s/%d' % (name, index), data)
    cloud.put_object(container, name, json.dumps([
        {'path': '/%s/seg/%s/%d' % (container, name, i)}
        for i in range(len(parts))]),
        query_string='multipart-manifest=put')
    return b''.join(parts)


def test_a_manifest_cannot_be_written_over_through_proxymc(env):
    nat = env['names']['nat']
    _proxymc_slo(env, nat, 'real')
    _, bucket, layout = remote(env, nat)
    manifest_key = layout.manifest_key('real')
    before = env['s3'].get_object(Bucket=bucket, Key=manifest_key)[
        'Body'].read()
    forged = json.dumps([{'path': '/elsewhere/x'}])

    answer = raw_request(
        env['proxymc'].url, 'PUT', path(env, nat, manifest_key),
        env['pmc_token'])

    assert answer.status == 403
    cloud = env['proxymc'].client()
    with pytest.raises(Exception):
        cloud.put_object(nat, manifest_key, forged)
    assert env['s3'].get_object(Bucket=bucket, Key=manifest_key)[
        'Body'].read() == before


def test_a_forged_manifest_is_never_returned_nor_acted_on(env):
    nat = env['names']['nat']
    body = _proxymc_slo(env, nat, 'target')
    precious = unique_name('precious')
    env['swift'].put_container(precious)
    env['swift'].put_object(precious, 'keep', b'keep me')
    _, bucket, layout = remote(env, nat)
    forged = json.dumps([
        {'name': '/%s/keep' % precious, 'hash': md5_hex(b'keep me'),
         'bytes': len(body)}]).encode('ascii')
    env['s3'].put_object(Bucket=bucket, Key=layout.manifest_key('target'),
                         Body=forged)

    got = shunt(env, 'GET', nat, 'target',
                query={'multipart-manifest': 'get'})
    assert got.status == 503
    assert forged not in got.body
    got = proxymc(env, 'GET', nat, 'target',
                  query={'multipart-manifest': 'get'})
    assert got.status == 200 and got.body == body
    deleted = shunt(env, 'DELETE', nat, 'target',
                    query={'multipart-manifest': 'delete'},
                    headers={'Accept': 'application/json'})
    assert deleted.status == 200
    assert json.loads(deleted.body)['Number Deleted'] == 1

    assert plain(env, 'GET', precious, 'keep').body == b'keep me'
    assert 'not using the manifest' in shunt_log(env)
    no_tracebacks(env)


def run_daemon(env):
    """``cloudsync-sync --once`` on every container node: (exit codes,
    output).
    """
    passes = list(helpers.daemon_passes(env['aio'], env['conf'],
                                        env['work_dir']))
    return ([code for code, _output in passes],
            '\n'.join(output for _code, output in passes))


def test_the_daemon_refuses_reserved_names_and_unsafe_metadata(env):
    natd = env['names']['natd']
    swift = env['swift']
    swift.put_container(natd + '_segments')
    parts = [b'x' * 1000, b'y' * 10]
    for index, data in enumerate(parts):
        swift.put_object(natd + '_segments', 'big/%d' % index, data)
    swift.put_object(natd, 'big', json.dumps([
        {'path': '/%s_segments/big/%d' % (natd, i)} for i in range(2)]),
        query_string='multipart-manifest=put')
    codes, output = run_daemon(env)
    assert codes == [0] * len(codes), output
    _, bucket, layout = remote(env, natd)
    manifest_key = layout.manifest_key('big')
    before = env['s3'].get_object(Bucket=bucket, Key=manifest_key)[
        'Body'].read()

    swift.put_object(natd, manifest_key, json.dumps([
        {'name': '/elsewhere/x', 'hash': md5_hex(b''), 'bytes': 1010}]))
    answer = raw_request(env['aio'].state['auth_url'].rsplit('/auth', 1)[0],
                         'PUT', path(env, natd, 'ctl'), env['token'],
                         headers={'X-Object-Meta-Note': 'a\x04b'})
    assert answer.status == 201
    codes, output = run_daemon(env)

    assert any(codes), output
    assert 'reserved' in output
    assert 'control character' in output
    assert env['s3'].get_object(Bucket=bucket, Key=manifest_key)[
        'Body'].read() == before
    assert 'ctl' not in keys(env, bucket)


# -- one restore at a time ----------------------------------------------------

def test_concurrent_reads_of_an_object_restore_it_once(env):
    rst = env['names']['rst']
    provider, bucket, layout = remote(env, rst)
    data = os.urandom(BIG)
    provider.put_object(bucket, layout.object_key('big'), data, len(data),
                        content_type='application/octet-stream',
                        metadata={md.TIMESTAMP_KEY: '%.5f' % time.time()})
    name = 'AUTH_test/%s/big' % rst

    sock, parsed = _connect(env['shunt_url'])
    try:
        _send(sock, parsed, 'GET', path(env, rst, 'big'), env['token'])
        first = sock.recv(65536)
        # NOTE: the first reader reads no further: its restore is running
        # and cannot end while the rest of the body waits to be sent.
        second = shunt(env, 'GET', rst, 'big')
        chunks = [first]
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    assert second.status == 200 and second.body == data
    assert _parse(b''.join(chunks)).body == data

    log = wait_for_log(env, 'Restored %s' % name,
                       'Failed to restore %s' % name)
    assert log.count('Restored %s' % name) + log.count(
        'Failed to restore %s' % name) == 1
    assert 'Not restoring %s: another request is restoring it' % name in log
    local = plain(env, 'GET', rst, 'big')
    assert local.status == 200 and md5_hex(local.body) == md5_hex(data)


# -- a remote that answers garbage, or nothing --------------------------------

@pytest.mark.parametrize('kind', ['garbage', 'stall'])
def test_a_remote_that_answers_garbage_or_stalls_gets_a_clean_503(env, kind):
    container = env['names'][kind]
    for method in ('GET', 'HEAD'):
        answer = shunt(env, method, container, 'obj')
        assert answer.status == 503, answer.raw_head
        assert proxymc(env, method, container, 'obj').status == 503
    assert shunt(env, 'DELETE', container, 'obj').status == 503
    assert proxymc(env, 'DELETE', container, 'obj').status == 503
    listing = shunt(env, 'GET', container)
    assert listing.status in (200, 204) and listing.body == b''
    assert proxymc(env, 'GET', container).status == 503
    assert 'cloud_shunt: GET of AUTH_test/%s/obj failed' % container in \
        shunt_log(env)
    no_tracebacks(env)


RESTORED_CASES = ('crlf-value', 'crlf-key', 'crlf-etag', 'timestamp-inf',
                  'delete-at-1e400', 'c1-value')


def test_a_hostile_object_is_restored_with_what_could_be_sent(env):
    rst = env['names']['rst']
    provider, bucket, layout = remote(env, rst)
    cases = [c for c in hostile.CASES if c.id in RESTORED_CASES]
    for case in cases:
        hostile.write_case(provider, bucket, layout, case)

    for case in cases:
        answer = shunt(env, 'GET', rst, case.name)
        assert hostile.answer_problems(
            case, 'GET', answer.status, answer.headers, answer.body) == []
        name = 'AUTH_test/%s/%s' % (rst, case.name)
        log = wait_for_log(env, 'Restored %s' % name,
                           'Failed to restore %s' % name)
        assert 'Restored %s into Swift' % name in log, case.id
        local = plain(env, 'GET', rst, case.name)
        assert hostile.answer_problems(
            case, 'GET', local.status, local.headers, local.body) == []
    no_tracebacks(env)
