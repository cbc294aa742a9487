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
"""proxymc as a real server: cloudsync-proxymc in front of moto.

``cloudsync-proxymc`` runs from a paste configuration with tempauth
(encrypted tokens, no memcache), s3api and proxymc's slo stand-in, on a
free loopback port, backed by the all-in-one's moto. Objects are synced
from the all-in-one's Swift by ``cloudsync-sync --once`` (one run per
container node), read back through proxymc with swiftclient, and written
through proxymc and read on premises through the cloud shunt.
"""

import base64
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse

import pytest
from swiftclient import client as swiftclient

from cloudsync import layout as layout_mod
from cloudsync import metadata as md
from tests.functional.conftest import unique_name
from tests.functional import daemon_helpers as helpers
from tests.functional.daemon_helpers import aio_cloudsync

START_TIMEOUT = 60
STOP_TIMEOUT = 15
USERS = (('test', 'tester', 'testing', '.admin'),
         ('test2', 'tester2', 'testing2', '.admin'),
         ('test', 'reader', 'reading', ''))
MIB = 1024 * 1024


def md5_hex(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def bin_path(name):
    return os.path.join(os.path.dirname(sys.executable), name)


class ProxyMCServer:
    """``cloudsync-proxymc`` on a free port; :meth:`stop` ends it."""

    def __init__(self, work_dir, cloudsync_conf):
        self.work_dir = work_dir
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.auth_url = self.url + '/auth/v1.0'
        self.conf_path = os.path.join(work_dir, 'proxymc.conf')
        self.log_path = os.path.join(work_dir, 'proxymc.log')
        # no swift.conf: proxymc runs where no Swift cluster is
        no_swift = os.path.join(work_dir, 'no-swift')
        os.makedirs(no_swift, exist_ok=True)
        fernet = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        users = '\n'.join('user_%s_%s = %s %s' % u for u in USERS)
        with open(self.conf_path, 'w') as f:
            f.write(textwrap.dedent('''\
                [DEFAULT]
                bind_ip = 127.0.0.1
                bind_port = %(port)d
                workers = 1
                user = %(user)s
                swift_dir = %(swift_dir)s
                log_name = proxymc

                [pipeline:main]
                pipeline = catch_errors gatekeeper healthcheck proxy-logging
                    listing_formats s3api tempauth copy slo proxy-logging
                    proxy-server

                [app:proxy-server]
                use = egg:swift-cloudsync#proxymc
                conf_file = %(conf)s
                part_size = 5242880
                multipart_threshold = 5242880
                spool_dir = %(work)s

                [filter:catch_errors]
                use = egg:swift#catch_errors
                [filter:gatekeeper]
                use = egg:swift#gatekeeper
                [filter:healthcheck]
                use = egg:swift#healthcheck
                [filter:proxy-logging]
                use = egg:swift#proxy_logging
                [filter:listing_formats]
                use = egg:swift#listing_formats
                [filter:s3api]
                use = egg:swift#s3api
                location = us-east-1
                [filter:copy]
                use = egg:swift#copy
                [filter:slo]
                use = egg:swift-cloudsync#proxymc_slo
                [filter:tempauth]
                use = egg:swift#tempauth
                fernet_key_pmc = %(fernet)s
                active_fernet_key_id = pmc
            ''') % {'port': self.port, 'user': _user(), 'conf': cloudsync_conf,
                    'swift_dir': no_swift, 'work': work_dir,
                    'fernet': fernet})
            f.write(users + '\n')
        self.proc = None

    def start(self):
        self.log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(
            [bin_path('cloudsync-proxymc'), self.conf_path, '-v'],
            stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('cloudsync-proxymc exited with %s:\n%s'
                                     % (self.proc.returncode, self.tail()))
            if self.status('/healthcheck') == 200:
                return
            time.sleep(0.2)
        raise AssertionError('cloudsync-proxymc did not start:\n%s'
                             % self.tail())

    def tail(self, lines=40):
        with open(self.log_path, 'rb') as f:
            return b''.join(f.readlines()[-lines:]).decode('utf-8', 'replace')

    def request(self, method, path, headers=None, body=None):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def status(self, path):
        try:
            return self.request('GET', path)[0]
        except OSError:
            return None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # NOTE: the server and its workers are in their own process
            # group: SIGTERM to the parent ends them all, as with
            # swift-proxy-server.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(STOP_TIMEOUT)
        self.log.close()
        self.proc = None

    def client(self, user='test:tester', key='testing'):
        return swiftclient.Connection(authurl=self.auth_url, user=user,
                                      key=key, auth_version='1', retries=1,
                                      timeout=30)


def _user():
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


def write_cloudsync_conf(aio, path, bucket, synced, shared, aclled):
    aio_cloudsync.write_conf(path, aio.state, {
        'synced': {'container': synced, 'bucket': bucket},
        'shared': {'container': shared, 'bucket': bucket,
                   'merge_namespaces': 'true'},
        'aclled': {'container': aclled, 'bucket': bucket,
                   'read_acl': 'test:reader'},
    })


@pytest.fixture(scope='module')
def env(aio):
    """The buckets, containers, configuration and a running proxymc."""
    work_dir = tempfile.mkdtemp(prefix='proxymc-test-')
    bucket = unique_name('pmc')
    aio.s3_client().create_bucket(Bucket=bucket)
    names = {'synced': unique_name('synced'),
             'shared': unique_name('shared'),
             'aclled': unique_name('aclled')}
    conf = os.path.join(work_dir, 'cloudsync.conf')
    write_cloudsync_conf(aio, conf, bucket, **names)
    server = ProxyMCServer(work_dir, conf)
    try:
        server.start()
        yield dict(names, bucket=bucket, conf=conf, server=server,
                   work_dir=work_dir)
    finally:
        server.stop()
        if not os.environ.get('CLOUDSYNC_AIO_KEEP'):
            shutil.rmtree(work_dir, ignore_errors=True)


def run_daemon(aio, env):
    """``cloudsync-sync --once`` on every container node."""
    helpers.run_daemon(aio, env['conf'], env['work_dir'])


COMPARED = ('etag', 'content-type', 'content-length', 'x-timestamp',
            'last-modified', 'x-static-large-object')


def swift_view(headers):
    return {k: v for k, v in headers.items()
            if k in COMPARED or k.startswith('x-object-meta-')}


def test_objects_synced_by_the_daemon_read_back_identical(aio, env):
    container = env['synced']
    local = aio.swift_client()
    local.put_container(container)
    plain = os.urandom(3000)
    local.put_object(container, 'dir/plain ☃', plain,
                     content_type='text/x-plain',
                     headers={'X-Object-Meta-Color': 'Blue',
                              'X-Object-Meta-Unicode': 'välue ☃'})
    local.put_container(container + '_segments')
    segs = [os.urandom(2000), os.urandom(1000)]
    for i, seg in enumerate(segs):
        local.put_object(container + '_segments', 's%d' % i, seg)
    local.put_object(container, 'big', json.dumps([
        {'path': '/%s_segments/s%d' % (container, i)}
        for i in range(2)]), query_string='multipart-manifest=put',
        headers={'X-Object-Meta-Kind': 'slo'})

    run_daemon(aio, env)

    cloud = env['server'].client()
    for name, body in (('dir/plain ☃', plain), ('big', b''.join(segs))):
        want_headers, want_body = local.get_object(container, name)
        got_headers, got_body = cloud.get_object(container, name)
        assert got_body == want_body == body
        assert swift_view(got_headers) == swift_view(want_headers)
    _, listing = cloud.get_container(container)
    assert [e['name'] for e in listing] == ['big', 'dir/plain ☃']
    _, subdirs = cloud.get_container(container, delimiter='/')
    assert [e.get('name', e.get('subdir')) for e in subdirs] == [
        'big', 'dir/']
    headers, part = cloud.get_object(container, 'dir/plain ☃',
                                     headers={'Range': 'bytes=10-19'})
    assert part == plain[10:20]
    storage, token = cloud.get_auth()
    path = '%s/%s' % (urllib.parse.urlparse(storage).path, container)
    status, headers, text = env['server'].request(
        'GET', path + '?delimiter=/', headers={'X-Auth-Token': token})
    assert (status, text) == (200, b'big\ndir/\n')
    status, headers, xml = env['server'].request(
        'GET', path + '?format=xml&prefix=b', headers={'X-Auth-Token': token})
    assert headers['Content-Type'] == 'application/xml; charset=utf-8'
    assert b'<container name="%s"><object><name>big</name>' % (
        container.encode('ascii')) in xml
    _, containers = cloud.get_account()
    assert container in [c['name'] for c in containers]


def test_objects_put_through_proxymc_are_stored_in_the_daemon_layout(
        aio, env):
    container = env['shared']
    cloud = env['server'].client()
    data = b'written in the cloud'

    etag = cloud.put_object(container, 'note.txt', data,
                            content_type='text/plain',
                            headers={'X-Object-Meta-Where': 'cloud'})

    assert etag == md5_hex(data)
    key = layout_mod.RemoteLayout('AUTH_test', container).object_key(
        'note.txt')
    head = aio.s3_client().head_object(Bucket=env['bucket'], Key=key)
    assert head['ContentType'] == 'text/plain'
    assert md.remote_to_swift(head['Metadata']) == {
        'X-Object-Meta-Where': 'cloud'}
    assert md.TIMESTAMP_KEY in head['Metadata']
    headers, body = cloud.get_object(container, 'note.txt')
    assert body == data
    assert headers['x-object-meta-where'] == 'cloud'


def test_chunked_put_through_proxymc(env):
    cloud = env['server'].client()
    data = os.urandom(6 * MIB)

    etag = cloud.put_object(env['shared'], 'chunked',
                            iter([data[:MIB], data[MIB:]]))

    assert etag == md5_hex(data)
    headers, body = cloud.get_object(env['shared'], 'chunked')
    assert body == data
    assert headers['etag'] == md5_hex(data)


def test_objects_put_through_proxymc_are_read_on_premises_by_the_shunt(
        aio, env):
    pytest.importorskip('cloudsync.shunt')
    container = env['shared']
    aio.swift_client().put_container(container)
    env['server'].client().put_object(
        container, 'from-cloud', b'cloud bytes',
        headers={'X-Object-Meta-A': 'b'})
    url = aio.start_proxy('pmcshunt', [('cloud_shunt', {
        'use': 'egg:swift-cloudsync#cloud_shunt', 'conf_file': env['conf']})])
    try:
        token = aio.swift_client().get_auth()[1]
        storage = url + '/v1/AUTH_test'
        headers, body = swiftclient.get_object(storage, token, container,
                                               'from-cloud')
    finally:
        aio.stop_proxy('pmcshunt')
    assert body == b'cloud bytes'
    assert headers['x-object-meta-a'] == 'b'
    assert headers['etag'] == md5_hex(b'cloud bytes')


def test_auth_rules_hold(env):
    server = env['server']
    owner = server.client()
    owner.put_object(env['aclled'], 'o', b'x')
    owner.put_object(env['shared'], 'private', b'x')

    with pytest.raises(swiftclient.ClientException) as wrong_key:
        server.client(key='wrong').get_auth()
    assert wrong_key.value.http_status == 401

    other = server.client('test2:tester2', 'testing2')
    storage, token = other.get_auth()
    test_url = storage.replace('AUTH_test2', 'AUTH_test')
    with pytest.raises(swiftclient.ClientException) as forbidden:
        swiftclient.get_object(test_url, token, env['shared'], 'private')
    assert forbidden.value.http_status == 403
    with pytest.raises(swiftclient.ClientException) as forbidden_put:
        swiftclient.put_object(test_url, token, env['shared'], 'x', b'x')
    assert forbidden_put.value.http_status == 403

    path = urllib.parse.urlparse(test_url).path
    status, _, _ = server.request(
        'GET', '%s/%s/private' % (path, env['shared']))
    assert status == 401

    reader = server.client('test:reader', 'reading')
    assert reader.get_object(env['aclled'], 'o')[1] == b'x'
    with pytest.raises(swiftclient.ClientException) as not_granted:
        reader.get_object(env['shared'], 'private')
    assert not_granted.value.http_status == 403

    status, _, _ = server.request('GET', '%s/unmapped' % path, headers={
        'X-Auth-Token': owner.get_auth()[1]})
    assert status == 404


def test_s3_clients_through_s3api(aio, env):
    s3 = aio._boto3_client(env['server'].url, 'test:tester', 'testing')
    bucket = env['shared']
    data = b'from boto3'
    big = os.urandom(5 * MIB + 100)

    s3.put_object(Bucket=bucket, Key='s3/obj', Body=data,
                  ContentType='text/plain')
    upload = s3.create_multipart_upload(Bucket=bucket, Key='s3/big',
                                        ContentType='application/x-big')
    parts = []
    for number, chunk in enumerate((big[:5 * MIB], big[5 * MIB:]), 1):
        part = s3.upload_part(Bucket=bucket, Key='s3/big', PartNumber=number,
                              UploadId=upload['UploadId'], Body=chunk)
        parts.append({'PartNumber': number, 'ETag': part['ETag']})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key='s3/big', UploadId=upload['UploadId'],
        MultipartUpload={'Parts': parts})

    listing = s3.list_objects(Bucket=bucket, Prefix='s3/')
    assert [o['Key'] for o in listing['Contents']] == ['s3/big', 's3/obj']
    got = s3.get_object(Bucket=bucket, Key='s3/obj')
    assert got['Body'].read() == data
    assert got['ContentType'] == 'text/plain'
    whole = s3.get_object(Bucket=bucket, Key='s3/big')
    assert whole['Body'].read() == big
    assert whole['ContentType'] == 'application/x-big'
    assert whole['ETag'] == done['ETag']
    assert done['ETag'].strip('"').endswith('-2')
    cloud = env['server'].client()
    headers, body = cloud.get_object(bucket, 's3/big')
    assert headers['x-static-large-object'] == 'True'
    assert body == big
    s3.delete_object(Bucket=bucket, Key='s3/obj')
    s3.delete_object(Bucket=bucket, Key='s3/big')
    assert 'Contents' not in s3.list_objects(Bucket=bucket, Prefix='s3/')
    with pytest.raises(Exception) as refused:
        s3.create_bucket(Bucket=unique_name('nope'))
    assert 'AccessDenied' in str(refused.value)


def test_s3_clients_download_a_synced_slo_with_the_clusters_etag(aio, env):
    """boto3's transfer manager sends If-Match with each ranged GET."""
    from boto3.s3 import transfer

    container = env['synced']
    local = aio.swift_client()
    local.put_container(container)
    local.put_container(container + '_segments')
    # NOTE: segments under S3's minimum part size: the daemon groups them
    # into fewer remote parts than the SLO has segments.
    segs = [os.urandom(3 * MIB), os.urandom(3 * MIB), os.urandom(1000)]
    for i, seg in enumerate(segs):
        local.put_object(container + '_segments', 'g%d' % i, seg)
    local.put_object(container, 'grouped', json.dumps([
        {'path': '/%s_segments/g%d' % (container, i)}
        for i in range(len(segs))]), query_string='multipart-manifest=put')
    want = aio.s3api_client().head_object(Bucket=container, Key='grouped')

    run_daemon(aio, env)

    s3 = aio._boto3_client(env['server'].url, 'test:tester', 'testing')
    got = s3.head_object(Bucket=container, Key='grouped')
    assert got['ETag'] == want['ETag']
    assert s3.get_object(Bucket=container, Key='grouped',
                         IfMatch=got['ETag'], Range='bytes=0-9')[
        'Body'].read() == segs[0][:10]
    with pytest.raises(Exception) as not_modified:
        s3.get_object(Bucket=container, Key='grouped',
                      IfNoneMatch=got['ETag'])
    assert '304' in str(not_modified.value)
    path = os.path.join(env['work_dir'], 'grouped.out')
    s3.download_file(container, 'grouped', path,
                     Config=transfer.TransferConfig(
                         multipart_threshold=MIB, multipart_chunksize=MIB))
    with open(path, 'rb') as f:
        assert f.read() == b''.join(segs)
    headers = env['server'].client().head_object(container, 'grouped')
    assert headers['x-manifest-etag'] == local.head_object(
        container, 'grouped')['x-manifest-etag']


def test_proxymc_does_not_start_with_an_acl_swift_would_refuse(tmp_path):
    conf = tmp_path / 'cloudsync.conf'
    conf.write_text(textwrap.dedent('''\
        [remote:moto]
        provider = s3
        endpoint = http://127.0.0.1:1
        access_key = testing
        secret_key = testing

        [mapping:open]
        account = AUTH_test
        container = open
        remote = moto
        bucket = b
        write_acl = .r:*
    '''))
    server = ProxyMCServer(str(tmp_path), str(conf))

    with pytest.raises(AssertionError) as refused:
        server.start()

    server.stop()
    assert server_exit_code(refused.value) == 1
    assert '[mapping:open] write_acl: Referrers not allowed in write ACL' \
        in str(refused.value)
    assert 'Traceback' not in str(refused.value)


def server_exit_code(error):
    text = str(error)
    prefix = 'cloudsync-proxymc exited with '
    assert prefix in text, text
    return int(text.split(prefix, 1)[1].split(':', 1)[0])
