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
"""The cloud shunt answers for a Swift source's object not migrated yet
as Swift will once it is: its headers, its expiry, its symlinks.
"""

from swift.common import swob

from cloudsync import conf as conf_mod
from cloudsync.conf import migration as migration_mod
from cloudsync.shunt import middleware as shunt
from tests.unit import fakes
from tests.unit import shunt_fakes
from tests.unit.test_migrate import helpers

ACCOUNT = 'AUTH_test'
CONTAINER = 'dest'
BUCKET = 'src'


def source_class(instance):
    """A Swift-like provider class whose instances are all ``instance``
    (as :func:`tests.unit.shunt_fakes.provider_class`).
    """
    class Shared(helpers.SwiftLikeSource):
        OPTIONS = []

        def __new__(cls, *args, **kwargs):
            return instance
    return Shared


class World(object):
    """A Swift source migrating into ``AUTH_test/dest``, through the
    shunt.
    """

    def __init__(self, tmp_path):
        self.swift = shunt_fakes.LocalSwift(tmp_path)
        self.swift.create_container(ACCOUNT, CONTAINER)
        self.provider = helpers.SwiftLikeSource()
        self.provider.buckets[BUCKET] = {}
        remote = conf_mod.Remote(
            name='old', section='remote:old', provider_name='swift',
            provider_cls=source_class(self.provider), conf=fakes.FakeConf())
        migration = migration_mod.Migration(
            name='m', section='migration:m', remote=remote, bucket=BUCKET,
            account=ACCOUNT, container=CONTAINER)
        config = conf_mod.Config(None, {'old': remote}, [], [migration])
        self.shunt = shunt.CloudShuntMiddleware(
            self.swift, {}, shunt_fakes.StaticConfig(
                config, shunt_fakes.ListLogger()),
            logger=shunt_fakes.ListLogger())

    def obj(self, name, method='GET', headers=None, query=''):
        req = swob.Request.blank(
            swob.wsgi_quote(swob.str_to_wsgi('/v1/%s/%s/%s' % (
                ACCOUNT, CONTAINER, name))) + query,
            method=method, headers=headers or {})
        req.environ['swift.trans_id'] = 'tx-test'
        resp = req.get_response(self.shunt)
        resp.body
        return resp


def test_content_headers_and_expiry_are_the_sources(tmp_path):
    world = World(tmp_path)
    world.provider.put_raw(BUCKET, 'report', b'%PDF')
    helpers.with_headers(world.provider, BUCKET, 'report',
                         expires_at=1800000000.0,
                         content_disposition='attachment',
                         cache_control='no-cache')

    for method in ('GET', 'HEAD'):
        resp = world.obj('report', method)
        assert resp.status_int == 200
        assert (resp.headers['Content-Disposition'],
                resp.headers['Cache-Control'],
                resp.headers['X-Delete-At']) == (
            'attachment', 'no-cache', '1800000000')


# -- symlinks ----------------------------------------------------------------

def linked_world(tmp_path, **link):
    world = World(tmp_path)
    world.provider.put_raw(BUCKET, 'target', b'the target data',
                           content_type='text/plain')
    world.provider.link(BUCKET, 'link', BUCKET + '/target', **link)
    return world


def test_a_link_not_migrated_yet_reads_its_target_from_the_source(tmp_path):
    world = linked_world(tmp_path)

    resp = world.obj('link')
    head = world.obj('link', 'HEAD')
    part = world.obj('link', headers={'Range': 'bytes=4-9'})

    assert (resp.status_int, resp.body) == (200, b'the target data')
    assert resp.headers['Content-Type'] == 'text/plain'
    assert resp.headers['Content-Location'] == '/v1/%s/%s/target' % (
        ACCOUNT, CONTAINER)
    assert (head.status_int, head.headers['Content-Length']) == (200, '15')
    assert (part.status_int, part.body) == (206, b'target')


def test_a_link_not_migrated_yet_reads_its_migrated_target_from_swift(
        tmp_path):
    world = linked_world(tmp_path)
    world.swift.put(ACCOUNT, CONTAINER, 'target', b'swift has it')

    resp = world.obj('link')

    assert (resp.status_int, resp.body) == (200, b'swift has it')
    assert resp.headers['Content-Location'] == '/v1/%s/%s/target' % (
        ACCOUNT, CONTAINER)


def test_symlink_get_answers_for_the_link_itself(tmp_path):
    world = linked_world(tmp_path, target_etag='abc')

    resp = world.obj('link', query='?symlink=get')

    assert (resp.status_int, resp.body) == (200, b'')
    assert resp.headers['X-Symlink-Target'] == CONTAINER + '/target'
    assert resp.headers['X-Symlink-Target-Account'] == ACCOUNT
    assert resp.headers['X-Symlink-Target-Etag'] == 'abc'
    assert 'Content-Location' not in resp.headers


def test_a_static_link_whose_target_changed_is_a_409(tmp_path):
    world = linked_world(tmp_path, target_etag='0' * 32)

    resp = world.obj('link')

    assert resp.status_int == 409
    assert resp.headers['Content-Location'] == '/v1/%s/%s/target' % (
        ACCOUNT, CONTAINER)


def test_a_link_to_a_missing_target_is_a_404(tmp_path):
    world = World(tmp_path)
    world.provider.link(BUCKET, 'link', BUCKET + '/nothing')

    assert world.obj('link').status_int == 404


def test_links_are_followed_only_so_far(tmp_path):
    world = linked_world(tmp_path)
    world.provider.link(BUCKET, 'l2', BUCKET + '/link')
    world.provider.link(BUCKET, 'l3', BUCKET + '/l2')

    assert world.obj('l2').body == b'the target data'
    assert world.obj('l3').status_int == 409
