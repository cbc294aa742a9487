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
"""The cloud shunt serves what a migration has not brought yet."""

import json

from swift.common import swob

from cloudsync import conf as conf_mod
from cloudsync.conf import migration as migration_mod
from cloudsync import exceptions
from cloudsync.shunt import middleware as shunt
from tests.unit import fakes
from tests.unit import shunt_fakes

ACCOUNT = 'AUTH_test'
CONTAINER = 'dest'
BUCKET = 'src'


class World(object):
    def __init__(self, tmp_path, **options):
        self.swift = shunt_fakes.LocalSwift(tmp_path)
        self.swift.create_container(ACCOUNT, CONTAINER)
        self.provider = shunt_fakes.ChunkedProvider()
        self.provider.buckets[BUCKET] = {}
        remote = conf_mod.Remote(
            name='fake', section='remote:fake', provider_name='fake',
            provider_cls=shunt_fakes.provider_class(self.provider),
            conf=fakes.FakeConf())
        values = dict(name='m', section='migration:m', remote=remote,
                      bucket=BUCKET, account=ACCOUNT, container=CONTAINER)
        values.update(options)
        migration = migration_mod.Migration(**values)
        config = conf_mod.Config(None, {'fake': remote}, [], [migration])
        self.logger = shunt_fakes.ListLogger()
        self.shunt = shunt.CloudShuntMiddleware(
            self.swift, {}, shunt_fakes.StaticConfig(config, self.logger),
            logger=self.logger)

    def source(self, key, data, **kwargs):
        self.provider.put_raw(BUCKET, key, data, **kwargs)

    def request(self, path, method='GET', headers=None, query=''):
        req = swob.Request.blank(
            swob.wsgi_quote(swob.str_to_wsgi(path)) + query,
            method=method, headers=headers or {})
        req.environ['swift.trans_id'] = 'tx-test'
        resp = req.get_response(self.shunt)
        resp.body
        return resp

    def obj(self, name, method='GET', headers=None, container=CONTAINER):
        return self.request('/v1/%s/%s/%s' % (ACCOUNT, container, name),
                            method, headers)

    def listing(self, query=''):
        return self.request('/v1/%s/%s' % (ACCOUNT, CONTAINER),
                            query='?format=json' + query)


def test_an_object_not_migrated_yet_is_read_from_the_source(tmp_path):
    world = World(tmp_path)
    world.source('ünï', b'from the source', content_type='text/plain',
                 metadata={'colour': 'blue'})
    resp = world.obj('ünï')
    assert resp.status_int == 200
    assert resp.body == b'from the source'
    assert resp.headers['Content-Type'] == 'text/plain'
    assert resp.headers['X-Object-Meta-Colour'] == 'blue'
    assert resp.headers['Etag'] == '"%s"' % fakes.md5_hex(
        b'from the source')
    assert 'X-Timestamp' in resp.headers
    head = world.obj('ünï', method='HEAD')
    assert head.status_int == 200
    assert head.headers['Content-Length'] == '15'


def test_ranges_and_conditions_are_the_sources(tmp_path):
    world = World(tmp_path)
    world.source('a', b'0123456789')
    resp = world.obj('a', headers={'Range': 'bytes=2-4'})
    assert resp.status_int == 206 and resp.body == b'234'
    assert resp.headers['Content-Range'] == 'bytes 2-4/10'
    etag = fakes.md5_hex(b'0123456789')
    assert world.obj('a', headers={
        'If-None-Match': '"%s"' % etag}).status_int == 304
    assert world.obj('a', headers={'If-Match': '"nope"'}).status_int == 412
    assert world.obj('a', method='HEAD', headers={
        'If-None-Match': '"%s"' % etag}).status_int == 304


def test_swifts_answer_wins(tmp_path):
    world = World(tmp_path)
    world.source('a', b'source')
    world.swift.put(ACCOUNT, CONTAINER, 'a', b'swift')
    assert world.obj('a').body == b'swift'
    assert world.provider.count('get_object') == 0


def test_an_object_deleted_through_swift_stays_deleted(tmp_path):
    world = World(tmp_path)
    world.source('a', b'source')
    world.swift.put(ACCOUNT, CONTAINER, 'a', b'swift')
    world.swift.delete(ACCOUNT, CONTAINER, 'a')
    assert world.obj('a').status_int == 404


def test_refusals_and_other_containers_are_swifts(tmp_path):
    world = World(tmp_path)
    world.source('a', b'source')
    world.swift.hooks.append(lambda req: swob.HTTPForbidden())
    assert world.obj('a').status_int == 403
    world.swift.hooks.pop()
    assert world.obj('a', container='other').status_int == 404
    assert world.provider.count('get_object') == 0


def test_objects_outside_the_prefix_are_not_served(tmp_path):
    world = World(tmp_path, prefix='in/')
    world.source('out', b'x')
    world.source('in/a', b'y')
    assert world.obj('out').status_int == 404
    assert world.obj('in/a').body == b'y'


def test_a_failing_source_is_a_503(tmp_path):
    world = World(tmp_path)
    world.source('a', b'x')
    world.provider.fail('get_object', exceptions.Unavailable('down'))
    assert world.obj('a').status_int == 503


def test_missing_at_both_ends_is_a_404(tmp_path):
    assert World(tmp_path).obj('nothing').status_int == 404


def test_listings_merge_swift_and_the_source(tmp_path):
    world = World(tmp_path)
    world.source('a', b'source a')
    world.source('b', b'source b')
    world.swift.put(ACCOUNT, CONTAINER, 'b', b'swift b!')
    world.swift.put(ACCOUNT, CONTAINER, 'c', b'swift c')
    resp = world.listing()
    assert resp.status_int == 200
    listing = json.loads(resp.body)
    assert [e['name'] for e in listing] == ['a', 'b', 'c']
    assert listing[1]['bytes'] == 8 and 'content_location' not in listing[1]
    assert 'content_location' in listing[0]
    assert [e['name'] for e in json.loads(
        world.listing('&limit=2').body)] == ['a', 'b']
    assert [e['name'] for e in json.loads(
        world.listing('&marker=a').body)] == ['b', 'c']


def test_a_container_not_created_yet_lists_the_source(tmp_path):
    world = World(tmp_path)
    del world.swift.containers[(ACCOUNT, CONTAINER)]
    world.source('a', b'source a')
    resp = world.listing()
    assert resp.status_int == 200
    assert [e['name'] for e in json.loads(resp.body)] == ['a']


def test_requests_that_write_are_swifts_alone(tmp_path):
    world = World(tmp_path)
    world.source('a', b'source')
    assert world.obj('a', method='DELETE').status_int == 404
    assert world.provider.buckets[BUCKET]['a'].data == b'source'


def test_a_container_that_also_archives_is_left_to_the_archive(tmp_path):
    world = World(tmp_path)
    world.source('a', b'source')
    config = world.shunt.config.config
    mapping = shunt_fakes.make_config(world.provider, container=CONTAINER,
                                      bucket='archive').mappings[0]
    config.mappings.append(mapping)
    world.provider.buckets['archive'] = {}
    world.obj('a')
    assert ('get_object', 'a') not in world.provider.calls


def _account(world, query=''):
    resp = world.request('/v1/%s' % ACCOUNT, query='?format=json' + query)
    return resp.status_int, [e['name'] for e in json.loads(resp.body)]


class AccountSwift(shunt_fakes.LocalSwift):
    """LocalSwift with an account listing."""

    def _account_GET(self, req, account, params):
        names = [c for c in sorted(c for a, c in self.containers
                                   if a == account)
                 if c > params.get('marker', '') and
                 c.startswith(params.get('prefix', ''))]
        names = names[:int(params.get('limit') or 10000)]
        return swob.Response(request=req, body=json.dumps(
            [{'name': n, 'count': 1, 'bytes': 1} for n in names]),
            content_type='application/json')

    def __call__(self, env, start_response):
        req = swob.Request(env)
        if req.method == 'GET' and req.path.count('/') == 2:
            return self._account_GET(req, ACCOUNT, req.params)(
                env, start_response)
        return super().__call__(env, start_response)


def test_account_listings_show_the_containers_to_come(tmp_path):
    world = World(tmp_path, container='zeta')
    world.swift.__class__ = AccountSwift
    world.swift.create_container(ACCOUNT, 'alpha')
    assert _account(world) == (200, ['alpha', 'dest', 'zeta'])
    assert _account(world, '&marker=dest') == (200, ['zeta'])
    assert _account(world, '&prefix=z') == (200, ['zeta'])
    assert _account(world, '&limit=2') == (200, ['alpha', 'dest'])
    world.swift.create_container(ACCOUNT, 'zeta')
    assert _account(world) == (200, ['alpha', 'dest', 'zeta'])
