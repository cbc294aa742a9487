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
"""Swift's clients through a proxy with the cloud shunt.

Every client that works against Swift works through the shunt. The
all-in-one's test account is mapped (``container = *``) to a moto bucket,
and a second proxy has ``staticweb`` and the shunt in its pipeline (after
tempauth, as the shunt's documentation places it; ``s3api`` and
``listing_formats`` are at the head of the pipeline, as in Swift's sample).
A third proxy, with ``staticweb`` alone, is the reference.

Two containers are compared:

``copies``
    every object is in Swift and the remote holds a copy of each, as after
    the daemon copied them: the merged listing is Swift's own, and every
    client must see exactly what it sees through the reference proxy.
``mixed``
    Swift holds some objects, the remote others (archived, or written by
    another cluster): through the shunt, every client must see what the
    reference proxy shows of ``union``, a container that holds all of them
    in Swift, except what the remote's listing cannot say (the
    modification time).

Clients: boto3 through ``s3api`` (ListObjects v1 and v2, every paging
parameter, ListObjectVersions), Swift listings in every format,
``staticweb`` index pages, the ``swift`` command, bulk delete; and names
that are not UTF-8, which Swift refuses with 412 before any authorization.
"""

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

import pytest

from cloudsync import layout as layout_mod
from tests.functional.conftest import unique_name
from tests.functional.daemon_helpers import aio_cloudsync

COPIES = {
    'a': b'first',
    'b/1': b'one',
    'b/2': b'two two',
    'b/c/3': b'deeper',
    'b+plus': b'plus',
    'dir/ünïcødé ☃': 'välue ☃'.encode('utf-8'),
    'empty': b'',
    'x y': b'a space',
    'z': b'last',
}
MIXED_LOCAL = {'a': b'local a', 'c/1': b'local c1', 'e': b'local e',
               'g/h': b'local gh'}
MIXED_REMOTE = {'b': b'remote b', 'c/2': b'remote c2', 'd/1': b'remote d1',
                'f': b'remote f', 'g/i': b'remote gi',
                'ü/☃': b'remote unicode'}
#: boto3 list_objects (v1) parameters, each listed page by page
V1_CASES = [
    {}, {'Delimiter': '/'}, {'Prefix': 'b/'}, {'Prefix': 'b/',
                                               'Delimiter': '/'},
    {'Marker': 'b/1'}, {'Marker': 'c', 'Delimiter': '/'}, {'MaxKeys': 2},
    {'MaxKeys': 1, 'Delimiter': '/'}, {'MaxKeys': 3, 'Prefix': 'b'},
    {'EncodingType': 'url'}, {'EncodingType': 'url', 'Delimiter': '/'},
    {'MaxKeys': 0}, {'Prefix': 'nothing'},
]
#: boto3 list_objects_v2 parameters, each listed page by page
V2_CASES = [
    {}, {'Delimiter': '/'}, {'Prefix': 'b/'}, {'StartAfter': 'b/1'},
    {'MaxKeys': 2}, {'MaxKeys': 2, 'Delimiter': '/'}, {'FetchOwner': True},
    {'MaxKeys': 3, 'FetchOwner': True, 'Prefix': 'b'},
    {'MaxKeys': 1, 'StartAfter': 'c', 'Delimiter': '/'},
    {'EncodingType': 'url', 'FetchOwner': True},
]
SWIFT_CASES = [
    {}, {'delimiter': '/'}, {'prefix': 'b/'}, {'marker': 'b/1', 'limit': '2'},
    {'reverse': 'true'}, {'reverse': 'true', 'limit': '2', 'marker': 'x'},
    {'end_marker': 'c'}, {'prefix': 'nothing'},
]
FORMATS = [{'format': 'json'}, {'format': 'xml'}, {'format': 'plain'}, {}]


class Raw(object):
    """Raw HTTP requests to one proxy."""

    def __init__(self, url, token=None):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.token = token

    def request(self, method, path, headers=None, token=True):
        headers = dict(headers or {})
        if token and self.token:
            headers['X-Auth-Token'] = self.token
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders()
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, {k.lower(): v for k, v in
                                 resp.getheaders()}, body
        finally:
            conn.close()


def quote(name):
    return urllib.parse.quote(name.encode('utf-8'))


def write_conf(aio, path, bucket):
    aio_cloudsync.write_conf(path, aio.state, {'test': {
        'container': '*', 'bucket': bucket, 'lifecycle': 'archive',
        'copy_after': 86400, 'archive_as': 'delete'}})


def put_remote(s3, bucket, container, objects):
    layout = layout_mod.RemoteLayout('AUTH_test', container)
    for name, data in objects.items():
        s3.put_object(Bucket=bucket, Key=layout.object_key(name), Body=data)


@pytest.fixture(scope='module')
def env(aio):
    work_dir = tempfile.mkdtemp(prefix='shunt-clients-')
    bucket = unique_name('clients')
    names = {k: unique_name(k) for k in ('copies', 'mixed', 'union',
                                         'scratch')}
    s3 = aio.s3_client()
    s3.create_bucket(Bucket=bucket)
    conf = os.path.join(work_dir, 'cloudsync.conf')
    write_conf(aio, conf, bucket)
    swift = aio.swift_client()
    for container in names.values():
        swift.put_container(container, headers={
            'X-Container-Read': '.r:*,.rlistings',
            'X-Container-Meta-Web-Listings': 'true'})
    for name, data in COPIES.items():
        swift.put_object(names['copies'], name, data,
                         content_type='text/x-copy')
    put_remote(s3, bucket, names['copies'], COPIES)
    for name, data in MIXED_LOCAL.items():
        swift.put_object(names['mixed'], name, data,
                         content_type='application/octet-stream')
    put_remote(s3, bucket, names['mixed'], dict(MIXED_REMOTE,
                                                a=MIXED_LOCAL['a']))
    for name, data in dict(MIXED_LOCAL, **MIXED_REMOTE).items():
        swift.put_object(names['union'], name, data,
                         content_type='application/octet-stream')
    staticweb = ('staticweb', {'use': 'egg:swift#staticweb'})
    try:
        plain_url = aio.start_proxy('clients-plain', [staticweb])
        shunt_url = aio.start_proxy('clients-shunt', [staticweb, (
            'cloud_shunt', {'use': 'egg:swift-cloudsync#cloud_shunt',
                            'conf_file': conf})])
        url, token = swift.get_auth()
        account_path = urllib.parse.urlparse(url).path
        yield {
            'aio': aio, 'bucket': bucket, 'names': names, 'conf': conf,
            'account_path': account_path, 'token': token,
            'plain_url': plain_url, 'shunt_url': shunt_url,
            'plain': Raw(plain_url, token), 'shunt': Raw(shunt_url, token),
            's3_plain': aio.s3api_client(endpoint=plain_url),
            's3_shunt': aio.s3api_client(endpoint=shunt_url),
        }
    finally:
        for proxy in ('clients-plain', 'clients-shunt'):
            if proxy in aio.state.get('proxies', {}):
                aio.stop_proxy(proxy)
        swift.close()
        shutil.rmtree(work_dir, ignore_errors=True)


# -- s3api --------------------------------------------------------------------

def list_all(client, method, bucket, params):
    """Every page of a listing, without what differs by request."""
    pages = []
    params = dict(params, Bucket=bucket)
    while True:
        page = getattr(client, method)(**params)
        page.pop('ResponseMetadata', None)
        page.pop('Name', None)
        pages.append(page)
        if not page.get('IsTruncated') or len(pages) > 50:
            return pages
        if method == 'list_objects_v2':
            params['ContinuationToken'] = page['NextContinuationToken']
        else:
            params['Marker'] = page.get('NextMarker') or \
                page['Contents'][-1]['Key']


def without_times(pages):
    for page in pages:
        for entry in page.get('Contents', []) + page.get('Versions', []):
            entry.pop('LastModified', None)
    return pages


@pytest.mark.parametrize('params', V1_CASES)
def test_s3_list_objects_of_a_mapped_container_is_swifts(env, params):
    bucket = env['names']['copies']
    expected = list_all(env['s3_plain'], 'list_objects', bucket, params)

    got = list_all(env['s3_shunt'], 'list_objects', bucket, params)

    assert got == expected


@pytest.mark.parametrize('params', V2_CASES)
def test_s3_list_objects_v2_of_a_mapped_container_is_swifts(env, params):
    bucket = env['names']['copies']
    expected = list_all(env['s3_plain'], 'list_objects_v2', bucket, params)

    got = list_all(env['s3_shunt'], 'list_objects_v2', bucket, params)

    assert got == expected


@pytest.mark.parametrize('params', V1_CASES)
def test_s3_list_objects_shows_remote_objects_as_swift_would(env, params):
    expected = list_all(env['s3_plain'], 'list_objects',
                        env['names']['union'], params)

    got = list_all(env['s3_shunt'], 'list_objects', env['names']['mixed'],
                   params)

    assert without_times(got) == without_times(expected)


@pytest.mark.parametrize('params', V2_CASES)
def test_s3_list_objects_v2_shows_remote_objects_as_swift_would(
        env, params):
    expected = list_all(env['s3_plain'], 'list_objects_v2',
                        env['names']['union'], params)

    got = list_all(env['s3_shunt'], 'list_objects_v2',
                   env['names']['mixed'], params)

    assert without_times(got) == without_times(expected)


@pytest.mark.parametrize('params', [{}, {'Delimiter': '/'},
                                    {'Prefix': 'c/'}])
def test_s3_list_object_versions_shows_remote_objects_as_swift_would(
        env, params):
    def versions(client, bucket):
        page = client.list_object_versions(Bucket=bucket, **params)
        page.pop('ResponseMetadata', None)
        page.pop('Name', None)
        return without_times([page])

    expected = versions(env['s3_plain'], env['names']['union'])

    got = versions(env['s3_shunt'], env['names']['mixed'])

    assert got == expected
    assert any(v['Key'] == 'b' for v in got[0].get('Versions', ())) or \
        params.get('Prefix') == 'c/'


def test_s3_get_of_a_remote_object_reads_it(env):
    body = env['s3_shunt'].get_object(Bucket=env['names']['mixed'],
                                      Key='ü/☃')['Body'].read()

    assert body == MIXED_REMOTE['ü/☃']


# -- Swift listings -----------------------------------------------------------

@pytest.mark.parametrize('fmt', FORMATS)
@pytest.mark.parametrize('params', SWIFT_CASES)
def test_swift_listings_of_a_mapped_container_are_swifts(env, params, fmt):
    path = '%s/%s?%s' % (env['account_path'], env['names']['copies'],
                         urllib.parse.urlencode(dict(params, **fmt)))
    expected = env['plain'].request('GET', path)

    got = env['shunt'].request('GET', path)

    assert (got[0], got[2]) == (expected[0], expected[2])
    assert got[1]['content-type'] == expected[1]['content-type']


@pytest.mark.parametrize('accept', ['application/json', 'application/xml',
                                    'text/xml', '*/*', 'image/png'])
def test_the_accept_header_chooses_the_format_as_in_swift(env, accept):
    path = '%s/%s' % (env['account_path'], env['names']['copies'])
    expected = env['plain'].request('GET', path, {'Accept': accept})

    got = env['shunt'].request('GET', path, {'Accept': accept})

    assert (got[0], got[2]) == (expected[0], expected[2])


def test_swift_versions_listing_shows_remote_objects_as_null_versions(env):
    def names(raw, container):
        status, _, body = raw.request('GET', '%s/%s?versions&format=json' % (
            env['account_path'], container))
        assert status == 200
        return [(e.get('name'), e.get('version_id'), e.get('is_latest'))
                for e in json.loads(body)]

    assert names(env['shunt'], env['names']['mixed']) == \
        names(env['plain'], env['names']['union'])


def test_the_swift_command_lists_what_swift_lists(env):
    def swift_list(url, container, *options):
        proc = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), 'swift'),
             '-A', url + '/auth/v1.0', '-U', 'test:tester', '-K',
             'testing', 'list', container] + list(options),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.decode('utf-8').splitlines()

    for options in ((), ('--delimiter', '/'), ('--prefix', 'c')):
        expected = swift_list(env['plain_url'], env['names']['union'],
                              *options)
        assert swift_list(env['shunt_url'], env['names']['mixed'],
                          *options) == expected
    assert swift_list(env['shunt_url'], env['names']['copies'],
                      '--long') == swift_list(env['plain_url'],
                                              env['names']['copies'],
                                              '--long')


# -- staticweb ----------------------------------------------------------------

@pytest.mark.parametrize('subdir', ['', 'b/'])
def test_staticweb_index_pages_of_a_mapped_container_are_swifts(
        env, subdir):
    path = '%s/%s/%s' % (env['account_path'], env['names']['copies'],
                         subdir)
    expected = env['plain'].request('GET', path, token=False)

    got = env['shunt'].request('GET', path, token=False)

    assert expected[0] == 200
    assert (got[0], got[2]) == (expected[0], expected[2])


@pytest.mark.parametrize('subdir', ['', 'g/'])
def test_staticweb_index_pages_show_remote_objects_as_swift_would(
        env, subdir):
    def page(raw, container):
        status, _, body = raw.request('GET', '%s/%s/%s' % (
            env['account_path'], container, subdir), token=False)
        body = body.replace(container.encode('ascii'), b'CONTAINER')
        return status, re.sub(rb'<td class="coldate">[^<]*</td>', b'', body)

    expected = page(env['plain'], env['names']['union'])

    got = page(env['shunt'], env['names']['mixed'])

    assert got == expected
    assert b'href="./b"' in got[1] or subdir


# -- bulk ---------------------------------------------------------------------

def test_bulk_delete_through_the_shunt_deletes_as_in_swift(env):
    container = env['names']['scratch']
    swift = env['aio'].swift_client()
    for name in ('one', 'two'):
        swift.put_object(container, name, b'x')
    body = '\n'.join('/%s/%s' % (container, name)
                     for name in ('one', 'two', 'none')).encode('utf-8')

    status, _, answer = bulk_delete(env['shunt'], env['account_path'], body)

    assert status == 200
    result = json.loads(answer)
    assert (result['Number Deleted'], result['Number Not Found']) == (2, 1)
    assert swift.get_container(container)[1] == []
    swift.close()


def bulk_delete(raw, account_path, body):
    conn = http.client.HTTPConnection(raw.host, raw.port, timeout=60)
    try:
        conn.request('POST', '%s?bulk-delete' % account_path, body=body,
                     headers={'X-Auth-Token': raw.token,
                              'Content-Type': 'text/plain',
                              'Accept': 'application/json'})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


# -- names Swift refuses ------------------------------------------------------

BAD_PATHS = ['%FF', '%FF/obj', 'caf%C3/obj', '{copies}/%FF%FE', 'a%00b',
             '{copies}/a%00b']


@pytest.mark.parametrize('token', [True, False])
@pytest.mark.parametrize('method', ['GET', 'HEAD', 'POST', 'DELETE', 'PUT'])
@pytest.mark.parametrize('path', BAD_PATHS)
def test_a_name_that_is_not_utf8_gets_swifts_answer(env, path, method,
                                                    token):
    full = '%s/%s' % (env['account_path'],
                      path.format(copies=env['names']['copies']))
    headers = {'Content-Length': '0'}
    expected = env['plain'].request(method, full, headers, token=token)

    got = env['shunt'].request(method, full, headers, token=token)

    assert got[0] == expected[0]
    assert got[0] != 500
    if token:
        assert got[0] == 412


@pytest.mark.parametrize('query', ['prefix=%FF', 'marker=a%C3',
                                   'end_marker=%FF&format=json',
                                   'delimiter=%FF', 'format=%FF',
                                   'limit=%FF'])
def test_listing_parameters_that_are_not_utf8_get_swifts_answer(env, query):
    full = '%s/%s?%s' % (env['account_path'], env['names']['copies'], query)
    expected = env['plain'].request('GET', full)

    got = env['shunt'].request('GET', full)

    assert (got[0], got[2]) == (expected[0], expected[2])
    assert got[0] != 500


@pytest.mark.parametrize('token', [True, False])
@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_an_account_name_that_is_not_utf8_gets_swifts_answer(env, method,
                                                             token):
    full = '/v1/AUTH_%%FF/%s' % env['names']['copies']
    expected = env['plain'].request(method, full, token=token)

    got = env['shunt'].request(method, full, token=token)

    assert got[0] == expected[0]
    assert got[0] != 500


def test_nothing_went_to_the_proxy_log_as_a_traceback(env):
    with open(env['aio'].log_path('clients-shunt'), 'rb') as f:
        log = f.read()

    assert b'Traceback' not in log
