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
"""What a copy keeps of its source object besides bytes and metadata:
content headers, a Swift source's expiry, its static symlinks.
"""

import pytest

from cloudsync import exceptions
from cloudsync.migrate import objects
from tests.unit.test_migrate import helpers
from tests.unit import test_s3_provider as s3_tests
from tests.unit.test_swift_provider import make_provider  # noqa: F401
from tests.unit.test_swift_provider import provider  # noqa: F401
from tests.unit.test_swift_provider import server  # noqa: F401

CONTENT = {'content_disposition': 'attachment; filename="r.pdf"',
           'content_encoding': 'gzip', 'content_language': 'fr',
           'cache_control': 'max-age=60',
           'expires': 'Wed, 21 Oct 2037 07:28:00 GMT'}
SWIFT_NAMES = {'Content-Disposition': 'attachment; filename="r.pdf"',
               'Content-Encoding': 'gzip', 'Content-Language': 'fr',
               'Cache-Control': 'max-age=60',
               'Expires': 'Wed, 21 Oct 2037 07:28:00 GMT'}


def copied_headers(setup, name):
    headers = setup.swift_object(name).headers
    return {k: headers.get(k) for k in SWIFT_NAMES}


@pytest.mark.parametrize('source', [helpers.HeadersSource,
                                    helpers.SwiftLikeSource])
def test_content_headers_come_along(tmp_path, source):
    setup = helpers.Setup(tmp_path, provider=source())
    setup.put_source('report', b'%PDF')
    helpers.with_headers(setup.provider, 'src', 'report', **CONTENT)

    setup.run()

    assert copied_headers(setup, 'report') == SWIFT_NAMES


def test_a_swift_sources_expiry_comes_along(tmp_path):
    setup = helpers.Setup(tmp_path, provider=helpers.SwiftLikeSource())
    setup.put_source('soon', b'data')
    helpers.with_headers(setup.provider, 'src', 'soon',
                         expires_at=1800000000.0)

    _, state = setup.run()

    assert state.data['buckets']['src']['last']['copied'] == 1
    assert setup.swift_object('soon').headers['X-Delete-At'] == '1800000000'


def test_an_object_expired_at_the_source_is_not_copied(tmp_path):
    setup = helpers.Setup(tmp_path, provider=helpers.SwiftLikeSource())
    setup.put_source('gone', b'data')
    helpers.with_headers(setup.provider, 'src', 'gone',
                         expires_at=setup.clock() - 1)

    finished, state = setup.run()

    assert finished
    assert setup.swift_object('gone') is None
    last = state.data['buckets']['src']['last']
    assert (last['copied'], last['failed']) == (0, 0)


def test_an_s3_sources_lifecycle_expiry_is_not_an_x_delete_at(tmp_path):
    setup = helpers.Setup(tmp_path, provider=helpers.HeadersSource())
    setup.put_source('kept', b'data')
    helpers.with_headers(setup.provider, 'src', 'kept',
                         expires_at=setup.clock() - 1)

    setup.run()

    assert 'X-Delete-At' not in setup.swift_object('kept').headers


# -- what the providers read -------------------------------------------------

def test_s3_reads_the_content_headers_as_sent():
    h = s3_tests.Harness()
    try:
        h.fake.reply(200, b'', {
            'content-length': '0', 'etag': '"%s"' % objects.EMPTY_MD5,
            'content-disposition': 'inline', 'content-encoding': 'gzip',
            'content-language': 'de', 'cache-control': 'no-cache',
            'expires': 'Thu, 01 Dec 2033 16:00:00 GMT'})
        info = h.provider.head_object('b', 'k')
    finally:
        h.provider.close()
    assert info.content_headers == {
        'content-disposition': 'inline', 'content-encoding': 'gzip',
        'content-language': 'de', 'cache-control': 'no-cache',
        'expires': 'Thu, 01 Dec 2033 16:00:00 GMT'}


def test_swift_reads_content_headers_and_a_static_links_target(
        provider, server):  # noqa: F811
    server.objects[('c', 'k')] = {
        'headers': {'Content-Type': 'a/b', 'Content-Disposition': 'inline',
                    'X-Robots-Tag': 'noindex',
                    'X-Symlink-Target': 'c/t%C3%A4rget',
                    'X-Symlink-Target-Etag': 'abc'},
        'etag': objects.EMPTY_MD5, 'body': b'', 'timestamp': '1.00000'}

    info = provider.head_object('c', 'k')

    assert info.content_headers == {'content-disposition': 'inline',
                                    'x-robots-tag': 'noindex'}
    assert (info.symlink_target, info.symlink_target_etag) == (
        'c/t\u00e4rget', 'abc')


# -- static symlinks ---------------------------------------------------------

def link_setup(tmp_path):
    setup = helpers.Setup(tmp_path, provider=helpers.SwiftLikeSource())
    setup.put_source('a-target', b'the data')
    return setup


def failure(state, key):
    error, = [f['error'] for f in state.data['failures']
              if f['key'] == key]
    return error


def static_etag(setup, name):
    return setup.swift_object(name).headers.get(
        'X-Object-Sysmeta-Symlink-Target-Etag')


def test_a_static_symlink_stays_static(tmp_path):
    setup = link_setup(tmp_path)
    etag = setup.provider.buckets['src']['a-target'].etag
    setup.provider.link('src', 'link', 'src/a-target', target_etag=etag)

    _, state = setup.run()

    assert state.data['buckets']['src']['last']['copied'] == 2
    assert static_etag(setup, 'link') == etag
    assert setup.swift_object('link').headers[
        'X-Object-Sysmeta-Symlink-Target'] == 'dest/a-target'


def test_a_static_symlink_to_a_target_not_in_swift_yet_waits(tmp_path):
    setup = link_setup(tmp_path)
    setup.put_source('z-target', b'later')
    etag = setup.provider.buckets['src']['z-target'].etag
    setup.provider.link('src', 'link', 'src/z-target', target_etag=etag)

    finished, state = setup.run()

    assert finished
    assert setup.swift_object('link') is None
    assert 'not in Swift yet' in failure(state, 'link')
    setup.run()
    assert static_etag(setup, 'link') == etag


def test_a_static_symlink_to_a_target_gone_at_the_source_too(tmp_path):
    setup = link_setup(tmp_path)
    setup.provider.link('src', 'link', 'src/gone', target_etag='0' * 32)

    _, state = setup.run()

    assert state.data['buckets']['src']['last']['failed'] == 0
    assert setup.swift_object('link').headers[
        'X-Object-Sysmeta-Symlink-Target'] == 'dest/gone'
    assert static_etag(setup, 'link') is None


def test_a_static_symlink_broken_at_the_source_fails(tmp_path):
    setup = link_setup(tmp_path)
    setup.provider.link('src', 'link', 'src/z', target_etag='0' * 32)
    setup.put_source('z', b'not what the link pins')

    _, state = setup.run()

    assert setup.swift_object('link') is None
    assert 'broken at the source' in failure(state, 'link')


class ExpiringSwiftSource(helpers.SwiftLikeSource):
    """A Swift source whose listing still shows objects past their
    X-Delete-At, which it no longer serves (until its expirer runs).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.expired = set()

    def head_object(self, bucket, key):
        if key in self.expired:
            raise exceptions.NotFound('expired', status=404)
        return super().head_object(bucket, key)

    def get_object(self, bucket, key, **kwargs):
        if key in self.expired:
            raise exceptions.NotFound('expired', status=404)
        return super().get_object(bucket, key, **kwargs)


def test_a_listed_object_the_source_no_longer_serves_is_not_copied(
        tmp_path):
    setup = helpers.Setup(tmp_path, provider=ExpiringSwiftSource())
    setup.put_source('expired', b'data')
    setup.put_source('kept', b'data')
    setup.provider.expired.add('expired')

    finished, state = setup.run()

    assert finished
    assert setup.swift_object('expired') is None
    last = state.data['buckets']['src']['last']
    assert (last['copied'], last['skipped'], last['failed']) == (1, 1, 0)
