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
"""The format of the cloud shunt's merged listings.

The shunt stands in front of Swift's proxy app, which answers every
container listing in JSON whatever the request asks (``listing_formats``,
at the head of every proxy pipeline, turns that JSON into the format the
client asked for). The shunt answers the same way, so that every caller
in the pipeline gets what it would get without the shunt: clients
through ``listing_formats``, and the middlewares that list on their own
(``s3api`` and ``staticweb`` ask without a ``format``; ``bulk``,
versioning and the ``swift`` command ask for JSON).
"""

import json

import pytest
from swift.common.middleware import listing_formats
from swift.common import registry
from swift.common import swob

from tests.unit import shunt_fakes
from tests.unit.shunt_fakes import ACCOUNT
from tests.unit.shunt_fakes import CONTAINER

LOCAL = ['a', 'c', 'd/1', 'e']
REMOTE = ['b', 'c', 'd/2', 'f/1', 'g']
FORMATS = [('json', 'application/json'), ('xml', 'application/xml'),
           ('plain', 'text/plain')]
FORMAT_PARAMS = [{}, {'delimiter': '/'}, {'prefix': 'd'},
                 {'marker': 'b', 'limit': '3'},
                 {'reverse': 'true', 'end_marker': 'b'},
                 {'prefix': 'zzz'}]


@pytest.fixture
def world(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path)
    for name in LOCAL:
        world.put(name, name.encode('utf-8'), content_type='text/plain')
    for name in REMOTE:
        world.remote_only(name, b'remote:' + name.encode('utf-8'))
    return world


def without_location(listing):
    return [{k: v for k, v in e.items() if k != 'content_location'}
            for e in listing]


def every_object(world, params):
    """The JSON listing Swift gives of one container holding both sides.
    """
    entries = {}
    for name in REMOTE:
        data = b'remote:' + name.encode('utf-8')
        record = world.provider.buckets[shunt_fakes.BUCKET][world.key(name)]
        entries[name] = {'hash': shunt_fakes.md5(data), 'bytes': len(data),
                         'content_type': 'application/octet-stream',
                         'timestamp': record.last_modified}
    entries.update(world.swift.entries(ACCOUNT, CONTAINER))
    checked = dict(params)
    checked['limit'] = int(checked.get('limit', 10000))
    return shunt_fakes.swift_listing(world.tmp_path, entries, checked)


def query(**params):
    return '&'.join('%s=%s' % (k, swob.wsgi_quote(
        swob.str_to_wsgi(str(v)), safe='')) for k, v in params.items())


def get(app, headers=None, environ=None, **params):
    req = swob.Request.blank(
        '/v1/%s/%s?%s' % (ACCOUNT, CONTAINER, query(**params)),
        headers=headers or {}, environ=environ or {})
    resp = req.get_response(app)
    resp.body
    return resp


# -- what the proxy app answers: JSON ---------------------------------------

@pytest.mark.parametrize('params', FORMAT_PARAMS)
def test_a_listing_asked_without_a_format_is_json_as_the_proxy_app_answers(
        world, params):
    # NOTE: s3api (GET Bucket) and staticweb list this way, below
    # listing_formats.
    resp = get(world.shunt, **params)

    assert resp.status_int == 200
    assert resp.headers['Content-Type'] == 'application/json; charset=utf-8'
    assert without_location(json.loads(resp.body)) == every_object(
        world, params)
    assert int(resp.headers['Content-Length']) == len(resp.body)


@pytest.mark.parametrize('fmt', ['json', 'xml', 'plain', 'bogus'])
def test_below_listing_formats_every_format_asked_is_answered_in_json(
        world, fmt):
    resp = get(world.shunt, format=fmt)

    assert resp.status_int == 200
    assert resp.headers['Content-Type'] == 'application/json; charset=utf-8'
    expected = every_object(world, {})
    assert without_location(json.loads(resp.body)) == expected


@pytest.mark.parametrize('accept', ['text/plain', 'application/xml',
                                    'image/png'])
def test_below_listing_formats_the_accept_header_changes_nothing(
        world, accept):
    resp = get(world.shunt, headers={'Accept': accept})

    assert resp.status_int == 200
    assert resp.headers['Content-Type'] == 'application/json; charset=utf-8'


def test_an_empty_merged_listing_is_an_empty_json_list_with_200(world):
    resp = get(world.shunt, prefix='nothing')

    assert (resp.status_int, resp.body) == (200, b'[]')


def test_a_middleware_formatting_on_its_own_gets_json(world):
    # NOTE: object_versioning turns listing_formats off for its listings
    # and formats them itself, from JSON.
    resp = get(world.shunt, environ={'swift.format_listing': False},
               format='json')

    assert resp.headers['Content-Type'] == 'application/json; charset=utf-8'
    assert [e.get('name') for e in json.loads(resp.body)] == \
        ['a', 'b', 'c', 'd/1', 'd/2', 'e', 'f/1', 'g']


def test_a_listing_that_is_not_json_is_passed_on_as_swift_answered(world):
    below = world.shunt.app

    def html_index(env, start_response):
        if env['REQUEST_METHOD'] == 'GET':
            start_response('200 OK', [('Content-Type', 'text/html'),
                                      ('Content-Length', '8')])
            return [b'<html/>\n']
        return below(env, start_response)
    world.shunt.app = html_index

    resp = get(world.shunt)

    assert (resp.status_int, resp.body) == (200, b'<html/>\n')
    assert world.provider.count('list_objects') == 0


# -- what clients get through listing_formats --------------------------------

def expected_body(world, fmt, params):
    listing = every_object(world, params)
    if fmt == 'json':
        return listing
    if fmt == 'xml':
        return listing_formats.container_to_xml(listing, CONTAINER)
    return listing_formats.listing_to_text(listing)


@pytest.mark.parametrize('fmt,content_type', FORMATS)
@pytest.mark.parametrize('params', FORMAT_PARAMS)
def test_through_listing_formats_every_format_is_swifts(
        world, fmt, content_type, params):
    app = listing_formats.ListingFilter(world.shunt, {})
    expected = expected_body(world, fmt, params)

    resp = get(app, format=fmt, **params)

    if fmt == 'json':
        assert without_location(json.loads(resp.body)) == expected
    else:
        assert resp.body == expected
    if not expected:
        assert resp.status_int == (204 if fmt == 'plain' else 200)
    assert resp.headers['Content-Type'] == content_type + '; charset=utf-8'
    assert int(resp.headers['Content-Length']) == len(resp.body)


@pytest.mark.parametrize('accept,content_type', [
    ('application/json', 'application/json'),
    ('application/xml', 'application/xml'),
    ('text/xml', 'text/xml'), ('*/*', 'text/plain')])
def test_through_listing_formats_the_accept_header_chooses_the_format(
        world, accept, content_type):
    app = listing_formats.ListingFilter(world.shunt, {})

    resp = get(app, headers={'Accept': accept})

    assert resp.status_int == 200
    assert resp.headers['Content-Type'] == content_type + '; charset=utf-8'


def test_through_listing_formats_an_unacceptable_format_is_a_406(world):
    app = listing_formats.ListingFilter(world.shunt, {})

    resp = get(app, headers={'Accept': 'image/png'})

    assert resp.status_int == 406
    assert world.provider.count('list_objects') == 0


# -- versions listings (object_versioning) -----------------------------------

def test_a_versions_listing_shows_remote_objects_as_their_null_version(
        world, monkeypatch):
    monkeypatch.setattr(registry, '_swift_info',
                        {'object_versioning': {}})

    resp = get(world.shunt, versions='', delimiter='/')

    got = {e.get('name', e.get('subdir')): e for e in json.loads(resp.body)}
    assert (got['b']['version_id'], got['b']['is_latest']) == ('null', True)
    assert set(got['f/']) == {'subdir', 'content_location'}


def test_without_object_versioning_versions_asks_for_a_plain_listing(
        world, monkeypatch):
    monkeypatch.setattr(registry, '_swift_info', {})

    resp = get(world.shunt, versions='')

    assert all('version_id' not in e for e in json.loads(resp.body))
