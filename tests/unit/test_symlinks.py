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
"""Symlinks and object versioning: what the daemon copies, and how a
copy reads back.
"""

import hashlib
import json

import pytest

from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import metadata as md
from cloudsync.ops import verify
from cloudsync.shunt import objects as shunt_object
from cloudsync import symlinks
from cloudsync.sync import current
from cloudsync.sync import propagate
from tests.unit import fakes
from tests.unit import shunt_fakes
from tests.unit import test_propagate as tp

EMPTY_MD5 = hashlib.md5(b'', usedforsecurity=False).hexdigest()
LINK = {'X-Object-Sysmeta-Symlink-Target': 'photos/t%C3%A4rget',
        'X-Object-Meta-Color': 'blue'}
STATIC = dict(LINK, **{
    'X-Object-Sysmeta-Symlink-Target-Etag': 'abc',
    'X-Object-Sysmeta-Symlink-Target-Bytes': '5',
    'X-Object-Sysmeta-Symlink-Target-Account': 'AUTH_other'})


def link_row(world, name, target='photos/target', versions=None):
    """The container row Swift writes for a link (``versions``: the
    version's bytes, for object versioning's link).
    """
    row = world.row(name)
    params = '; symlink_target=%s' % target
    if versions is not None:
        params = ('; symlink_target=%%00versions%%00photos/%%00o%%00x; '
                  'symlink_target_etag=%s; symlink_target_bytes=%d' % (
                      tp.md5(versions), len(versions)))
    row.etag = EMPTY_MD5 + params
    return row


def test_a_link_is_read_from_system_metadata():
    headers = {k.lower(): v for k, v in STATIC.items()}
    link = symlinks.Link.from_headers(headers)
    assert link == symlinks.Link('photos/t%C3%A4rget', 'AUTH_other', 'abc',
                                 '5')
    assert link.container_object() == ('photos', 't\u00e4rget')
    assert link.target_account('AUTH_test') == 'AUTH_other'
    assert link.location('v1', 'AUTH_test') == \
        '/v1/AUTH_other/photos/t%C3%A4rget'
    assert symlinks.Link.from_headers({'content-type': 'x'}) is None


def test_a_link_survives_remote_metadata():
    link = symlinks.Link.from_headers(
        {k.lower(): v for k, v in STATIC.items()})
    meta = {k: md.encode_value(v) for k, v in link.metadata().items()}
    assert symlinks.Link.from_metadata(md.internal_values(meta)) == link
    # NOTE: cloudsync's keys never show as user metadata
    assert md.remote_to_swift(meta) == {}


@pytest.mark.parametrize('values', [
    {md.SYMLINK_TARGET_KEY: 'photos/x\r\nSet-Cookie: a=b'},
    {md.SYMLINK_TARGET_KEY: 'no-container'},
    {md.SYMLINK_TARGET_KEY: 'photos/x', md.SYMLINK_ETAG_KEY: 'a b'},
    {md.SYMLINK_TARGET_KEY: 'photos/x', md.SYMLINK_BYTES_KEY: '1e400'},
    {md.SYMLINK_TARGET_KEY: 'photos/x',
     md.SYMLINK_ACCOUNT_KEY: 'AUTH_a\nX: y'},
])
def test_a_link_the_remote_could_not_have_from_swift_is_ignored(values):
    meta = {k: md.encode_value(v) for k, v in values.items()}
    assert symlinks.Link.from_metadata(md.internal_values(meta)) is None


def test_a_symlink_is_copied_as_an_empty_object_carrying_its_target():
    world = tp.World()
    world.put('link', b'', LINK, content_type='application/symlink')
    assert world.propagator.handle(link_row(world, 'link'),
                                   tp.COPY) is tp.Outcome.COPIED
    remote = world.remote('link')
    assert remote.data == b''
    assert remote.content_type == 'application/symlink'
    internal = world.internal('link')
    assert internal[md.SYMLINK_TARGET_KEY] == 'photos/t%C3%A4rget'
    assert world.remote_headers('link') == {'X-Object-Meta-Color': 'blue'}
    assert world.propagator.handle(link_row(world, 'link'),
                                   tp.COPY) is tp.Outcome.UNCHANGED


def test_an_empty_copy_without_the_link_is_made_again():
    world = tp.World()
    world.put('link', b'', LINK, content_type='application/symlink')
    world.propagator.handle(link_row(world, 'link'), tp.COPY)
    remote = world.remote('link')
    for key in list(remote.metadata):
        if key.startswith('cloudsync-symlink'):
            del remote.metadata[key]
    row = link_row(world, 'link')
    assert world.propagator.verify([row]) == [row]
    assert world.propagator.handle(row, tp.COPY) is tp.Outcome.COPIED
    assert md.SYMLINK_TARGET_KEY in world.internal('link')
    assert world.propagator.verify([row]) == []


def test_a_versioned_object_is_copied_from_its_current_version():
    world = tp.World()
    versions = '\x00versions\x00photos'
    version = '\x00o\x00' + '9' * 16
    world.swift.create_container(tp.ACCOUNT, versions)
    world.put(version, b'version two', {'X-Object-Meta-Color': 'red'},
              container=versions, content_type='text/plain')
    world.put('o', b'', {
        'X-Object-Sysmeta-Symlink-Target': swob.wsgi_quote(
            '%s/%s' % (versions, version)),
        'X-Object-Sysmeta-Symlink-Target-Etag': tp.md5(b'version two'),
        'X-Object-Sysmeta-Symlink-Target-Bytes': '11',
        'X-Object-Sysmeta-Versions-Symlink': 'true',
        'X-Object-Meta-Color': 'red',
        'X-Delete-At': '9999999999'}, content_type='text/plain')
    row = link_row(world, 'o', versions=b'version two')
    assert world.propagator.handle(row, tp.COPY) is tp.Outcome.COPIED
    remote = world.remote('o')
    assert remote.data == b'version two'
    assert remote.content_type == 'text/plain'
    assert world.remote_headers('o') == {'X-Object-Meta-Color': 'red'}
    internal = world.internal('o')
    assert md.SYMLINK_TARGET_KEY not in internal
    link = world.swift.get(tp.ACCOUNT, 'photos', 'o')
    assert internal[md.TIMESTAMP_KEY] == swift_utils.Timestamp(
        link.data_timestamp).internal
    reserved = [r for r in world.swift.requests if r.container == versions]
    assert reserved and all(
        r.headers.get('x-backend-allow-reserved-names') == 'true'
        for r in reserved)
    assert world.propagator.handle(row, tp.COPY) is tp.Outcome.UNCHANGED
    assert world.propagator.verify([row]) == []


def test_archiving_a_versioned_object_removes_the_link_only():
    world = tp.World()
    versions = '\x00versions\x00photos'
    version = '\x00o\x00' + '9' * 16
    world.put(version, b'v', container=versions)
    world.put('o', b'', {
        'X-Object-Sysmeta-Symlink-Target': swob.wsgi_quote(
            '%s/%s' % (versions, version)),
        'X-Object-Sysmeta-Symlink-Target-Etag': tp.md5(b'v'),
        'X-Object-Sysmeta-Symlink-Target-Bytes': '1',
        'X-Object-Sysmeta-Versions-Symlink': 'true'})
    row = link_row(world, 'o', versions=b'v')
    assert world.propagator.handle(row, tp.ARCHIVE) is \
        tp.Outcome.ARCHIVED
    assert world.swift.get(tp.ACCOUNT, 'photos', 'o') is None
    assert world.swift.get(tp.ACCOUNT, versions, version) is not None
    assert world.remote('o').data == b'v'


def test_an_archived_link_knows_its_target():
    meta = {k: md.encode_value(v) for k, v in symlinks.Link(
        'c/o', etag='abc').metadata().items()}
    meta[md.TIMESTAMP_KEY] = '1700000000.00000'
    remote = shunt_object.RemoteObject(fakes.providers.ObjectInfo(
        key='k', size=0, etag=EMPTY_MD5, last_modified=1.0,
        content_type='application/symlink', metadata=meta))
    assert remote.link == symlinks.Link('c/o', etag='abc')
    assert remote.link.headers() == {'X-Symlink-Target': 'c/o',
                                     'X-Symlink-Target-Etag': 'abc'}


def _link_app(calls, answers):
    def app(env, start_response):
        req = swob.Request(env)
        calls.append((req.method, req.path, env.get(symlinks.SYMLOOP_ENV)))
        return answers[req.path](env, start_response)
    return app


def test_following_a_link_reads_the_target_through_the_app():
    calls = []
    app = _link_app(calls, {'/v1/AUTH_test/c/o': swob.Response(
        body=b'target', headers={'Etag': 'abc'},
        conditional_response=True)})
    req = swob.Request.blank('/v1/AUTH_test/c/link',
                             headers={'Range': 'bytes=1-2'})
    resp = req.get_response(symlinks.follow(
        app, req, symlinks.Link('c/o', etag='abc'), 'AUTH_test',
        {'X-Trans-Id': 'tx'}))
    assert resp.status_int == 206
    assert resp.body == b'ar'
    assert resp.headers['Content-Location'] == '/v1/AUTH_test/c/o'
    assert resp.headers['X-Trans-Id'] == 'tx'
    assert calls == [('GET', '/v1/AUTH_test/c/o', 1)]


def test_a_static_link_to_another_object_is_a_conflict():
    app = _link_app([], {'/v1/AUTH_test/c/o': swob.Response(
        body=b'target', headers={'Etag': 'def'})})
    req = swob.Request.blank('/v1/AUTH_test/c/link')
    resp = req.get_response(symlinks.follow(
        app, req, symlinks.Link('c/o', etag='abc'), 'AUTH_test'))
    assert resp.status_int == 409
    assert b'does not match' in resp.body


def test_too_many_links_in_a_row_are_a_conflict():
    req = swob.Request.blank('/v1/AUTH_test/c/link',
                             environ={symlinks.SYMLOOP_ENV: 2})
    resp = req.get_response(symlinks.follow(
        _link_app([], {}), req, symlinks.Link('c/o'), 'AUTH_test'))
    assert resp.status_int == 409
    assert b'Too many levels of symbolic links' in resp.body


def test_propagate_compares_the_link_keys():
    for key in (md.SYMLINK_TARGET_KEY, md.SYMLINK_ACCOUNT_KEY,
                md.SYMLINK_ETAG_KEY, md.SYMLINK_BYTES_KEY):
        assert key in current.COMPARED_KEYS


class LinkKeepingProvider(fakes.FakeProvider):
    """A remote that keeps symlinks (as Swift does)."""

    KEEPS_SYMLINKS = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.links = {}

    def put_symlink(self, bucket, key, target, target_etag=None,
                    content_type=None, metadata=None, expires_at=None):
        self.links[key] = (target, target_etag)
        return self.put_object(bucket, key, b'', 0, content_type=content_type,
                               metadata=metadata, expires_at=expires_at)


def test_on_a_remote_keeping_links_a_link_points_at_the_targets_copy():
    world = tp.World(provider_cls=LinkKeepingProvider)
    world.put('target', b'data')
    world.handle('target')
    world.put('dyn', b'', {'X-Object-Sysmeta-Symlink-Target':
                           'photos/target'})
    world.put('static', b'', {
        'X-Object-Sysmeta-Symlink-Target': 'photos/target',
        'X-Object-Sysmeta-Symlink-Target-Etag': tp.md5(b'data'),
        'X-Object-Sysmeta-Symlink-Target-Bytes': '4'})
    world.put('out', b'', {'X-Object-Sysmeta-Symlink-Target':
                           'elsewhere/target'})
    for name in ('dyn', 'static', 'out'):
        assert world.propagator.handle(link_row(world, name), tp.COPY) is \
            tp.Outcome.COPIED
    links = world.provider.links
    target = '%s/%s' % (tp.BUCKET, world.key('target'))
    assert links[world.key('dyn')] == (target, None)
    assert links[world.key('static')] == (target, tp.md5(b'data'))
    # NOTE: a target outside the mapped container: an empty object
    # carrying the link
    assert world.key('out') not in links
    assert world.internal('out')[md.SYMLINK_TARGET_KEY] == \
        'elsewhere/target'


def test_a_static_link_waits_for_its_target_to_be_copied():
    world = tp.World(provider_cls=LinkKeepingProvider)
    world.put('target', b'data')
    world.put('static', b'', {
        'X-Object-Sysmeta-Symlink-Target': 'photos/target',
        'X-Object-Sysmeta-Symlink-Target-Etag': tp.md5(b'data')})
    with pytest.raises(propagate.RetryLater):
        world.propagator.handle(link_row(world, 'static'), tp.COPY)
    world.handle('target')
    world.propagator.handle(link_row(world, 'static'), tp.COPY)
    assert world.provider.links[world.key('static')][1] == tp.md5(b'data')


def test_a_static_link_to_a_gone_target_is_copied_as_a_dynamic_one():
    world = tp.World(provider_cls=LinkKeepingProvider)
    world.put('static', b'', {
        'X-Object-Sysmeta-Symlink-Target': 'photos/gone',
        'X-Object-Sysmeta-Symlink-Target-Etag': tp.md5(b'data')})
    world.propagator.handle(link_row(world, 'static'), tp.COPY)
    assert world.provider.links[world.key('static')][1] is None
    assert world.internal('static')[md.SYMLINK_ETAG_KEY] == tp.md5(b'data')


# -- the cloud shunt ---------------------------------------------------------

def archived_link(tmp_path, **target_headers):
    world = shunt_fakes.ShuntWorld(tmp_path)
    world.put('target', b'target bytes', {'X-Object-Meta-Color': 'red'},
              content_type='text/plain')
    world.put('link', b'', dict({
        'X-Object-Sysmeta-Symlink-Target': '%s/target' % shunt_fakes.
        CONTAINER, 'X-Object-Meta-Color': 'link'}, **target_headers),
        content_type='application/symlink')
    world.archive('target', 'link')
    return world


def test_the_shunt_follows_an_archived_link_to_its_archived_target(
        tmp_path):
    world = archived_link(tmp_path)
    resp = world.obj('link')
    assert (resp.status_int, resp.body) == (200, b'target bytes')
    assert resp.headers['X-Object-Meta-Color'] == 'red'
    assert resp.headers['Content-Location'] == '/v1/%s/%s/target' % (
        shunt_fakes.ACCOUNT, shunt_fakes.CONTAINER)
    resp = world.obj('link', method='HEAD')
    assert (resp.status_int, resp.body) == (200, b'')
    assert resp.headers['Content-Length'] == str(len(b'target bytes'))


def test_the_shunt_answers_symlink_get_with_the_archived_link(tmp_path):
    world = archived_link(tmp_path)
    resp = world.obj('link', query_string='symlink=get')
    assert (resp.status_int, resp.body) == (200, b'')
    assert resp.headers['X-Symlink-Target'] == '%s/target' % \
        shunt_fakes.CONTAINER
    assert resp.headers['X-Object-Meta-Color'] == 'link'
    assert resp.headers['Content-Type'] == 'application/symlink'


def test_the_shunt_checks_a_static_links_etag(tmp_path):
    world = archived_link(tmp_path, **{
        'X-Object-Sysmeta-Symlink-Target-Etag': tp.md5(b'other bytes')})
    resp = world.obj('link')
    assert resp.status_int == 409
    assert b'does not match' in resp.body


def test_a_post_to_an_archived_link_is_redirected_to_its_target(tmp_path):
    world = archived_link(tmp_path)
    resp = world.obj('link', method='POST',
                     headers={'X-Object-Meta-Color': 'posted'})
    assert resp.status_int == 307
    assert resp.headers['Location'].endswith(
        '/v1/%s/%s/target' % (shunt_fakes.ACCOUNT, shunt_fakes.CONTAINER))
    assert md.internal_values(world.remote('link').metadata)[
        md.SYMLINK_TARGET_KEY] == '%s/target' % shunt_fakes.CONTAINER
    assert world.remote('link').metadata['color'] == 'posted'


def test_verify_compares_a_versioned_object_with_its_current_version():
    item = verify._parse_listing_item({
        'name': 'o', 'bytes': 0, 'content_type': 'text/plain',
        'hash': EMPTY_MD5 + '; symlink_target=%00versions%00c/%00o%00x; '
        'symlink_target_etag=abc; symlink_target_bytes=11'})
    assert (item.size, item.etag) == (11, 'abc')
    item = verify._parse_listing_item({
        'name': 'link', 'bytes': 0, 'content_type': 'application/symlink',
        'hash': EMPTY_MD5 + '; symlink_target=c/o'})
    assert (item.size, item.etag) == (0, EMPTY_MD5)


def test_verify_lists_a_versioned_object_against_its_current_version():
    world = tp.World()
    versions = '\x00versions\x00photos'
    version = '\x00o\x00' + '9' * 16
    world.put(version, b'version two', container=versions)
    world.put('o', b'', {
        'X-Object-Sysmeta-Symlink-Target': swob.wsgi_quote(
            '%s/%s' % (versions, version)),
        'X-Object-Sysmeta-Symlink-Target-Etag': tp.md5(b'version two'),
        'X-Object-Sysmeta-Symlink-Target-Bytes': '11',
        'X-Object-Sysmeta-Versions-Symlink': 'true'})
    row = link_row(world, 'o', versions=b'version two')
    world.provider.put_raw(tp.BUCKET, world.key('o'), b'')
    assert world.propagator.verify([row]) == [row]
    world.propagator.handle(row, tp.COPY)
    world.provider.reset_calls()
    assert world.propagator.verify([row]) == []
    assert world.provider.counts() == {'list_objects': 1}


def test_archiving_a_large_current_version_keeps_its_segments():
    world = tp.World()
    world.small_parts()
    versions = '\x00versions\x00photos'
    version = '\x00big\x00' + '9' * 16
    paths = tp.put_segments(world, [2 * tp.KiB, 100])
    manifest = world.swift.put_slo(tp.ACCOUNT, versions, version, paths,
                                   {'X-Object-Meta-K': 'v'},
                                   content_type='video/mp4')
    size = 2 * tp.KiB + 100
    world.put('big', b'', {
        'X-Object-Sysmeta-Symlink-Target': swob.wsgi_quote(
            '%s/%s' % (versions, version)),
        'X-Object-Sysmeta-Symlink-Target-Etag': manifest.etag,
        'X-Object-Sysmeta-Symlink-Target-Bytes': str(size),
        'X-Object-Sysmeta-Versions-Symlink': 'true',
        'X-Object-Meta-K': 'v'}, content_type='video/mp4')
    row = world.row('big')
    row.etag = EMPTY_MD5 + '; symlink_target=%00versions%00photos/x'
    assert world.propagator.handle(row, tp.ARCHIVE) is \
        tp.Outcome.ARCHIVED
    stored = world.remote('big')
    assert stored.data == tp.content_of(world, paths)
    assert world.remote_headers('big') == {
        'X-Object-Meta-K': 'v', 'X-Static-Large-Object': 'True'}
    assert world.swift.get(tp.ACCOUNT, 'photos', 'big') is None
    for path in paths:
        assert world.swift.get(tp.ACCOUNT, *path.split('/', 1)) is not None
    assert world.swift.get(tp.ACCOUNT, versions, version) is not None


def test_a_versions_listing_shows_archived_objects_as_swift_did(tmp_path):
    # NOTE: as Swift listed them before archiving: objects that have no
    # versions are listed once, under their names.
    world = archived_link(tmp_path)
    merged = world.listing(format='json')
    assert [e['name'] for e in json.loads(merged.body)] == ['link', 'target']
    versions = world.listing(format='json', versions='')
    assert [e['name'] for e in json.loads(versions.body)] == [
        'link', 'target']
