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
"""``cloudsync-migrate`` against the all-in-one: a moto bucket and an
account of the cluster itself brought into Swift, through the migrator's
real command, one process per container node (or one alone).
"""

import json
import os
import signal
import subprocess
import time
import urllib.parse
import uuid

import pytest

from tests.functional import daemon_helpers as helpers

import aio_cloudsync  # noqa: E402  (tools/, put on the path by conftest)

MiB = 1024 * 1024


def write_conf(aio, work_dir, migrations, node=None, remotes=None,
               **options):
    """A migrator's configuration: the cluster's ``[DEFAULT]`` (with a
    node's own options, or a port no container server uses: a migrator
    alone), the remotes and ``[migration:NAME]`` sections.
    """
    defaults = aio_cloudsync.defaults(aio.state)
    if node is not None:
        defaults.update(aio_cloudsync.node_options(node, work_dir))
        name = 'migrate%d' % node['index']
    else:
        defaults.update(bind_port=1, status_dir=os.path.join(
            str(work_dir), 'status-alone'))
        name = 'migrate-alone'
    defaults.update(workers=4, log_file=os.path.join(str(work_dir),
                                                     name + '.log'))
    defaults.update(options)
    text = aio_cloudsync.section('DEFAULT', defaults) + '\n'
    for rname, ropts in (remotes or {'moto': 'moto'}).items():
        if isinstance(ropts, str):
            ropts = aio_cloudsync.remote(aio.state, ropts)
        text += aio_cloudsync.section('remote:%s' % rname, ropts) + '\n'
    for mname, mopts in migrations.items():
        text += aio_cloudsync.section('migration:%s' % mname, mopts) + '\n'
    path = os.path.join(str(work_dir), name + '.conf')
    with open(path, 'w') as f:
        f.write(text)
    return path


def run_once(conf, timeout=300):
    proc = subprocess.run(
        [helpers.bin_path('cloudsync-migrate'), '--config-file', conf,
         '--once'], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=timeout)
    return proc.returncode, proc.stdout.decode('utf-8', 'replace')


def migrate_on_every_node(aio, work_dir, migrations, remotes=None):
    """``--once`` on every container node in turn; each must succeed."""
    for node in aio.state['nodes']:
        conf = write_conf(aio, work_dir, migrations, node, remotes)
        code, out = run_once(conf)
        log = open(conf[:-len('.conf')] + '.log').read()
        assert code == 0, out + log[-5000:]


def state_of(work_dir, name, status='status-alone'):
    path = os.path.join(str(work_dir), status, 'migrations', name + '.json')
    with open(path) as f:
        return json.load(f)


def objects_of(client, container):
    return {o['name']: o for o in
            client.get_container(container, full_listing=True)[1]}


def test_a_moto_bucket_arrives_in_swift_with_its_metadata(
        aio, s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key='plain.txt', Body=b'hello',
                  ContentType='text/plain',
                  Metadata={'colour': 'blue', 'owner': 'ann'})
    s3.put_object(Bucket=bucket, Key='dïr/ünïcode ☃.txt', Body=b'snow')
    s3.put_object(Bucket=bucket, Key='empty', Body=b'')
    upload = s3.create_multipart_upload(Bucket=bucket, Key='big',
                                        ContentType='video/mp4')
    part1, part2 = os.urandom(5 * MiB), os.urandom(1234)
    etags = [s3.upload_part(Bucket=bucket, Key='big', PartNumber=n,
                            UploadId=upload['UploadId'], Body=body)['ETag']
             for n, body in ((1, part1), (2, part2))]
    s3.complete_multipart_upload(
        Bucket=bucket, Key='big', UploadId=upload['UploadId'],
        MultipartUpload={'Parts': [{'ETag': e, 'PartNumber': n}
                                   for n, e in enumerate(etags, 1)]})
    with helpers.scratch_account(aio) as (account, client):
        migrations = {'in': {'remote': 'moto', 'bucket': bucket,
                             'account': account, 'container': 'dest'}}
        migrate_on_every_node(aio, tmp_path, migrations)

        listed = objects_of(client, 'dest')
        assert sorted(listed) == sorted(
            ['plain.txt', 'dïr/ünïcode ☃.txt', 'empty', 'big'])
        headers, body = client.get_object('dest', 'plain.txt')
        assert body == b'hello'
        assert headers['content-type'] == 'text/plain'
        assert headers['x-object-meta-colour'] == 'blue'
        assert headers['x-object-meta-owner'] == 'ann'
        source = s3.head_object(Bucket=bucket, Key='plain.txt')
        assert int(float(headers['x-timestamp'])) == int(
            source['LastModified'].timestamp())
        assert client.get_object('dest', 'dïr/ünïcode ☃.txt')[1] == b'snow'
        assert client.get_object('dest', 'empty')[1] == b''
        headers, body = client.get_object('dest', 'big')
        assert body == part1 + part2
        assert headers['content-type'] == 'video/mp4'
        assert headers['x-static-large-object'] == 'True'
        manifest = json.loads(client.get_object(
            'dest', 'big', query_string='multipart-manifest=get')[1])
        assert [s['bytes'] for s in manifest] == [5 * MiB, 1234]

        # A second pass copies nothing: everything is there.
        before = {n: client.head_object('dest', n)['x-timestamp']
                  for n in listed}
        migrate_on_every_node(aio, tmp_path, migrations)
        assert {n: client.head_object('dest', n)['x-timestamp']
                for n in listed} == before


def test_multipart_objects_keep_their_parts_of_one_or_several_sizes(
        aio, s3, bucket, tmp_path):
    """Parts of one size: the layout guessed from part 1 holds. Parts of
    several sizes (6, 5 and 3 MiB: a guess of 6, 6 and 2 MiB adds up
    too): the ETag check finds the guess wrong and the exact parts are
    copied, before anything is visible. 8 parts in 40 MiB: only parts of
    5 MiB fit, and the copy starts with them before moto says so. 8 parts
    of 5,300,000 bytes (the last one smaller): 5 MiB is as likely, and
    moto's answer makes the copy start again after one segment.
    """
    layouts = {'same': [5 * MiB, 5 * MiB, 5 * MiB, 777],
               'several': [6 * MiB, 5 * MiB, 3 * MiB],
               'likely': [5 * MiB] * 8,
               'decimal': [5300000] * 7 + [1000000]}
    datas = {}
    for key, sizes in layouts.items():
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key)
        parts = [os.urandom(size) for size in sizes]
        etags = [s3.upload_part(Bucket=bucket, Key=key, PartNumber=n,
                                UploadId=upload['UploadId'],
                                Body=body)['ETag']
                 for n, body in enumerate(parts, 1)]
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload['UploadId'],
            MultipartUpload={'Parts': [{'ETag': e, 'PartNumber': n}
                                       for n, e in enumerate(etags, 1)]})
        datas[key] = b''.join(parts)
    with helpers.scratch_account(aio) as (account, client):
        migrations = {'in': {'remote': 'moto', 'bucket': bucket,
                             'account': account, 'container': 'dest',
                             'part_writers': '2'}}
        migrate_on_every_node(aio, tmp_path, migrations)

        for key, sizes in layouts.items():
            headers, body = client.get_object('dest', key)
            assert body == datas[key], key
            assert headers['x-static-large-object'] == 'True'
            manifest = json.loads(client.get_object(
                'dest', key, query_string='multipart-manifest=get')[1])
            assert [s['bytes'] for s in manifest] == sizes, key
            etag = s3.head_object(Bucket=bucket, Key=key)['ETag'].strip('"')
            assert [s['name'] for s in manifest] == [
                '/dest_segments/%s/%s/%08d' % (key, etag, n)
                for n in range(1, len(sizes) + 1)]
        # the wrong guesses' segments were written over, none left behind
        assert len(objects_of(client, 'dest_segments')) == 4 + 3 + 8 + 8


def test_source_changes_arrive_and_swift_writes_win(
        aio, s3, bucket, tmp_path):
    for name in ('keep', 'change', 'delete', 'mine', 'user-deleted'):
        s3.put_object(Bucket=bucket, Key=name, Body=name.encode('ascii'))
    with helpers.scratch_account(aio) as (account, client):
        migrations = {'in': {'remote': 'moto', 'bucket': bucket,
                             'account': account}}
        conf = write_conf(aio, tmp_path, migrations)
        code, out = run_once(conf)
        assert code == 0, out
        assert sorted(objects_of(client, bucket)) == [
            'change', 'delete', 'keep', 'mine', 'user-deleted']

        # Swift users write and delete; the source changes meanwhile.
        client.put_object(bucket, 'mine', b'written in swift')
        client.delete_object(bucket, 'user-deleted')
        time.sleep(1.1)  # a later second for the changed source objects
        for name in ('change', 'mine', 'user-deleted'):
            s3.put_object(Bucket=bucket, Key=name, Body=b'new ' +
                          name.encode('ascii'))
        s3.delete_object(Bucket=bucket, Key='delete')
        s3.put_object(Bucket=bucket, Key='added', Body=b'added')

        code, out = run_once(conf)
        assert code == 0, out
        listed = objects_of(client, bucket)
        assert sorted(listed) == ['added', 'change', 'keep', 'mine']
        assert client.get_object(bucket, 'change')[1] == b'new change'
        assert client.get_object(bucket, 'added')[1] == b'added'
        assert client.get_object(bucket, 'mine')[1] == b'written in swift'
        state = state_of(tmp_path, 'in')
        last = state['buckets'][bucket]['last']
        assert last['deleted'] == 1
        assert last['copied'] == 2


def test_a_swift_container_arrives_with_timestamps_and_large_objects(
        aio, swift2, tmp_path):
    source = 'src-%s' % uuid.uuid4().hex[:8]
    segments = source + '_segs'
    swift2.put_container(source, headers={
        'X-Container-Meta-Project': 'apollo',
        'X-Container-Read': '.r:*,.rlistings'})
    swift2.put_container(segments)
    swift2.put_object(source, 'plain', b'plain bytes',
                      content_type='text/x-plain',
                      headers={'X-Object-Meta-Mood': 'Calm'})
    for n in range(3):
        swift2.put_object(segments, 'slo/%d' % n, b'%d' % n * 1024)
        swift2.put_object(segments, 'dlo/%d' % n, b'd%d' % n * 10)
    manifest = [{'path': '/%s/slo/%d' % (segments, n)} for n in range(3)]
    swift2.put_object(source, 'large', json.dumps(manifest),
                      query_string='multipart-manifest=put')
    swift2.put_object(source, 'dynamic', b'', headers={
        'X-Object-Manifest': '%s/dlo/' % segments})
    swift2.put_object(source, 'link', b'', headers={
        'X-Symlink-Target': '%s/plain' % source})
    with helpers.scratch_account(aio) as (account, client):
        migrations = {'in': {'remote': 'swift', 'bucket': source,
                             'account': account, 'container': 'dest'}}
        migrate_on_every_node(aio, tmp_path, migrations,
                              remotes={'swift': 'swift'})
        container = client.head_container('dest')
        assert container['x-container-meta-project'] == 'apollo'
        assert container['x-container-read'] == '.r:*,.rlistings'
        for name in ('plain', 'large', 'dynamic'):
            assert client.head_object('dest', name)['x-timestamp'] == \
                swift2.head_object(source, name)['x-timestamp']
        headers, body = client.get_object('dest', 'plain')
        assert body == b'plain bytes'
        assert headers['content-type'] == 'text/x-plain'
        assert headers['x-object-meta-mood'] == 'Calm'
        headers, body = client.get_object('dest', 'large')
        assert headers['x-static-large-object'] == 'True'
        assert body == b''.join(b'%d' % n * 1024 for n in range(3))
        headers, body = client.get_object('dest', 'dynamic')
        assert headers['x-object-manifest'] == '%s/dlo/' % segments
        assert body == b''.join(b'd%d' % n * 10 for n in range(3))
        assert sorted(objects_of(client, segments)) == [
            'dlo/0', 'dlo/1', 'dlo/2', 'slo/0', 'slo/1', 'slo/2']
        assert client.head_object('dest', 'link', query_string='symlink=get')[
            'x-symlink-target'] == 'dest/plain'
        assert client.get_object('dest', 'link')[1] == b'plain bytes'
    for name in ('plain', 'large', 'dynamic', 'link'):
        swift2.delete_object(source, name)
    for obj in swift2.get_container(segments)[1]:
        swift2.delete_object(segments, obj['name'])
    swift2.delete_container(source)
    swift2.delete_container(segments)


def test_a_killed_migrator_resumes_without_losing_or_redoing(
        aio, s3, bucket, tmp_path):
    names = ['obj-%04d' % n for n in range(240)]
    for name in names:
        s3.put_object(Bucket=bucket, Key=name, Body=name.encode('ascii'))
    with helpers.scratch_account(aio) as (account, client):
        migrations = {'in': {'remote': 'moto', 'bucket': bucket,
                             'account': account}}
        conf = write_conf(aio, tmp_path, migrations, items_chunk=10,
                          workers=1)
        proc = subprocess.Popen(
            [helpers.bin_path('cloudsync-migrate'), '--config-file', conf,
             '--once'], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            helpers.wait_for(
                lambda: _marker(tmp_path, bucket) >= 'obj-0030',
                timeout=120, what='a few pages migrated')
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        marker = _marker(tmp_path, bucket)
        assert marker < names[-1], 'the pass ended before the kill'
        before = {o['name']: client.head_object(bucket, o['name'])[
            'x-timestamp'] for o in objects_of(client, bucket).values()}
        assert before and len(before) < len(names)

        code, out = run_once(conf)
        assert code == 0, out
        listed = objects_of(client, bucket)
        assert sorted(listed) == names
        for name, stamp in before.items():
            assert client.head_object(bucket, name)['x-timestamp'] == stamp
        last = state_of(tmp_path, 'in')['buckets'][bucket]['last']
        assert last['copied'] + last['unchanged'] == len(names)
        assert last['failed'] == 0


def _marker(work_dir, bucket):
    try:
        state = state_of(work_dir, 'in')
    except (OSError, ValueError):
        return ''
    return (state['buckets'].get(bucket) or {}).get('marker') or ''


def test_every_container_of_a_swift_account_arrives(aio, tmp_path):
    with helpers.scratch_account(aio) as (source_account, source), \
            helpers.scratch_account(aio) as (account, client):
        source.put_container('alpha', headers={
            'X-Container-Write': 'test:tester'})
        source.put_container('beta')
        source.put_object('alpha', 'a', b'alpha')
        source.put_object('beta', 'b', b'beta')
        remote = aio_cloudsync.remote(aio.state, 'swift',
                                      access_key='admin:admin',
                                      secret_key='admin',
                                      remote_account=source_account)
        migrations = {'all': {'remote': 'old', 'bucket': '*',
                              'account': account}}
        conf = write_conf(aio, tmp_path, migrations,
                          remotes={'old': remote})
        code, out = run_once(conf)
        assert code == 0, out
        assert sorted(c['name'] for c in client.get_account()[1]) == [
            'alpha', 'beta']
        assert client.head_container('alpha')['x-container-write'] == \
            'test:tester'
        assert client.get_object('beta', 'b')[1] == b'beta'
        assert client.head_object('alpha', 'a')['x-timestamp'] == \
            source.head_object('alpha', 'a')['x-timestamp']


def test_a_converted_1space_migration_runs(aio, s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key='from-1space', Body=b'old')
    with helpers.scratch_account(aio) as (account, client):
        legacy = {'containers': [], 'migrations': [{
            'account': account, 'aws_bucket': bucket,
            'aws_endpoint': aio.state['moto_endpoint'],
            'aws_identity': aio.state['moto_access_key'],
            'aws_secret': aio.state['moto_secret_key']}],
            'migrator_settings': {'items_chunk': 10}}
        source = tmp_path / 'sync.json'
        source.write_text(json.dumps(legacy))
        converted = tmp_path / 'converted.conf'
        proc = subprocess.run(
            [helpers.bin_path('cloudsync-config-convert'), str(source),
             '-o', str(converted)], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        assert proc.returncode == 0, proc.stdout
        text = converted.read_text()
        assert '[migration:migrate-%s-%s]' % (account, bucket) in text
        node = write_conf(aio, tmp_path, {})
        proc = subprocess.run(
            [helpers.bin_path('cloudsync-migrate'), '--config-file',
             str(converted), '--config-file', node, '--once'],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=300)
        assert proc.returncode == 0, proc.stdout
        assert client.get_object(bucket, 'from-1space')[1] == b'old'

        # older_than is carried over: a young object waits.
        legacy['migrations'][0]['older_than'] = 86400
        source.write_text(json.dumps(legacy))
        proc = subprocess.run(
            [helpers.bin_path('cloudsync-config-convert'), str(source),
             '-o', str(converted), '--force'], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        assert proc.returncode == 0, proc.stdout
        assert 'older_than = 86400' in converted.read_text()
        s3.put_object(Bucket=bucket, Key='young', Body=b'new')
        proc = subprocess.run(
            [helpers.bin_path('cloudsync-migrate'), '--config-file',
             str(converted), '--config-file', node, '--once'],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=300)
        assert proc.returncode == 0, proc.stdout
        assert 'young' not in objects_of(client, bucket)


def test_the_shunt_serves_what_has_not_arrived_yet(
        aio, swift, s3, bucket, tmp_path):
    import requests
    from swiftclient import client as swiftclient
    from swiftclient import exceptions as swift_exc
    s3.put_object(Bucket=bucket, Key='early', Body=b'0123456789',
                  ContentType='text/plain', Metadata={'colour': 'red'})
    container = 'mig-%s' % uuid.uuid4().hex[:8]
    migrations = {'in': {'remote': 'moto', 'bucket': bucket,
                         'account': 'AUTH_test', 'container': container}}
    conf = write_conf(aio, tmp_path, migrations)
    shunt_url = aio.start_proxy('migration-shunt', [('cloud_shunt', {
        'use': 'egg:swift-cloudsync#cloud_shunt', 'conf_file': conf})])
    try:
        url, token = swift.get_auth()
        path = urllib.parse.urlparse(url).path
        through = swiftclient.Connection(preauthurl=shunt_url + path,
                                         preauthtoken=token, retries=0)
        # Before any pass: the container does not even exist in Swift.
        headers, body = through.get_object(container, 'early')
        assert body == b'0123456789'
        assert headers['content-type'] == 'text/plain'
        assert headers['x-object-meta-colour'] == 'red'
        assert through.get_object(container, 'early', headers={
            'Range': 'bytes=2-4'})[1] == b'234'
        assert [o['name'] for o in through.get_container(
            container)[1]] == ['early']
        assert [c['name'] for c in through.get_account(
            prefix=container)[1]] == [container]
        assert [c.get('name') or c.get('subdir') for c in through.get_account(
            prefix='mig', delimiter='-')[1]] == ['mig-']
        reverse = requests.get(
            shunt_url + path, params={'format': 'json', 'reverse': 'true',
                                      'prefix': container},
            headers={'X-Auth-Token': token}, timeout=60)
        assert [c['name'] for c in reverse.json()] == [container]
        # Another account's user is refused, as Swift would refuse it.
        other = aio.swift_client('test2:tester2', 'testing2')
        other_url, other_token = other.get_auth()
        stranger = swiftclient.Connection(
            preauthurl=shunt_url + path, preauthtoken=other_token,
            retries=0)
        with pytest.raises(swift_exc.ClientException) as err:
            stranger.get_object(container, 'early')
        assert err.value.http_status in (401, 403)

        code, out = run_once(conf)
        assert code == 0, out
        swift.put_object(container, 'written-in-swift', b'mine')
        s3.put_object(Bucket=bucket, Key='late', Body=b'late')
        assert swift.get_object(container, 'early')[1] == b'0123456789'
        assert through.get_object(container, 'late')[1] == b'late'
        assert [o['name'] for o in through.get_container(container)[1]] == [
            'early', 'late', 'written-in-swift']
        swift.delete_object(container, 'early')
        with pytest.raises(swift_exc.ClientException) as err:
            through.get_object(container, 'early')
        assert err.value.http_status == 404
    finally:
        aio.stop_proxy('migration-shunt')
        for obj in swift.get_container(container)[1]:
            swift.delete_object(container, obj['name'])
        swift.delete_container(container)


def test_headers_expiry_and_static_links_of_a_swift_source(
        aio, swift2, tmp_path):
    from swiftclient import client as swiftclient
    source = 'fid-%s' % uuid.uuid4().hex[:8]
    swift2.put_container(source)
    expires = int(time.time()) + 86400
    swift2.put_object(source, 'a-target', b'gzipped bytes', headers={
        'Content-Disposition': 'attachment; filename="t.gz"',
        'Content-Encoding': 'gzip', 'Content-Language': 'fr',
        'Cache-Control': 'max-age=60', 'X-Delete-At': str(expires)})
    etag = swift2.head_object(source, 'a-target')['etag']
    swift2.put_object(source, 'b-static', b'', headers={
        'X-Symlink-Target': '%s/a-target' % source,
        'X-Symlink-Target-Etag': etag})
    swift2.put_object(source, 'c-dynamic', b'', headers={
        'X-Symlink-Target': '%s/b-static' % source})
    with helpers.scratch_account(aio) as (account, client):
        migrations = {'in': {'remote': 'swift', 'bucket': source,
                             'account': account, 'container': 'dest'}}
        conf = write_conf(aio, tmp_path, migrations,
                          remotes={'swift': 'swift'})
        shunt_url = aio.start_proxy('migration-links', [('cloud_shunt', {
            'use': 'egg:swift-cloudsync#cloud_shunt', 'conf_file': conf})])
        try:
            url, token = client.get_auth()
            through = swiftclient.Connection(
                preauthurl=shunt_url + urllib.parse.urlparse(url).path,
                preauthtoken=token, retries=0)
            # Not migrated yet: links read as Swift reads links.
            headers, body = through.get_object('dest', 'c-dynamic')
            assert body == b'gzipped bytes'
            assert headers['content-location'].endswith('/dest/a-target')
            assert headers['content-disposition'] == \
                'attachment; filename="t.gz"'
            assert headers['x-delete-at'] == str(expires)
            link = through.head_object('dest', 'b-static',
                                       query_string='symlink=get')
            assert link['x-symlink-target'] == 'dest/a-target'
            assert link['x-symlink-target-etag'] == etag

            code, out = run_once(conf)
            if code != 0:
                # NOTE: the static link and its target may be copied at
                # once; the link then waits for the next pass.
                log = open(conf[:-len('.conf')] + '.log').read()
                assert 'not in Swift yet' in log, out + log[-3000:]
                code, out = run_once(conf)
            assert code == 0, out
        finally:
            aio.stop_proxy('migration-links')
        headers = client.head_object('dest', 'a-target')
        assert {k: headers.get(k) for k in (
            'content-disposition', 'content-encoding', 'content-language',
            'cache-control', 'x-delete-at')} == {
            'content-disposition': 'attachment; filename="t.gz"',
            'content-encoding': 'gzip', 'content-language': 'fr',
            'cache-control': 'max-age=60', 'x-delete-at': str(expires)}
        link = client.head_object('dest', 'b-static',
                                  query_string='symlink=get')
        assert link['x-symlink-target'] == 'dest/a-target'
        assert link['x-symlink-target-etag'] == etag
        assert client.get_object('dest', 'c-dynamic')[1] == b'gzipped bytes'
    for name in ('a-target', 'b-static', 'c-dynamic'):
        swift2.delete_object(source, name)
    swift2.delete_container(source)
