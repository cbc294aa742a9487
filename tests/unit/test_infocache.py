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
"""The account and container info the sync daemon's internal client keeps
between reads (cloudsync.sync.infocache).
"""

import unittest

from swift.common import swob

from cloudsync.sync import infocache


class FakeProxy(object):
    """Answers like Swift's proxy: before an object request it needs the
    account's and the container's info, and asks the cluster for what
    ``swift.infocache`` does not hold.
    """

    recheck_account_existence = 60
    recheck_container_existence = 30

    def __init__(self):
        self.asked = []
        self.served = []
        self.container_status = 204
        self._pipeline_final_app = self

    def __call__(self, env, start_response):
        path = env['PATH_INFO']
        _v, account, container, _obj = (path.split('/', 4) +
                                        [None] * 3)[1:5]
        cache = env.setdefault('swift.infocache', {})
        akey = 'account/%s' % account
        if akey not in cache:
            self.asked.append(('HEAD', '/%s' % account))
            cache[akey] = {'status': 204, 'container_count': 1}
        ckey = 'container/%s/%s' % (account, container)
        if container and ckey not in cache:
            self.asked.append(('HEAD', '/%s/%s' % (account, container)))
            cache[ckey] = {'status': self.container_status,
                           'storage_policy': '0', 'meta': {}}
        self.served.append((env['REQUEST_METHOD'], path,
                            cache.get(ckey)))
        start_response('200 OK', [('Content-Length', '0')])
        return [b'']


class FakeClock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class FakeInternalClient(object):
    def __init__(self, app):
        self.app = app


def request(app, method, path):
    return swob.Request.blank(path, method=method).get_response(app)


class TestInfoCache(unittest.TestCase):
    def setUp(self):
        self.proxy = FakeProxy()
        self.clock = FakeClock()
        self.app = infocache.InfoCache(self.proxy, clock=self.clock)

    def test_reads_of_one_container_ask_for_its_info_once(self):
        for n in range(5):
            request(self.app, 'GET', '/v1/AUTH_a/c/o%d' % n)
            request(self.app, 'HEAD', '/v1/AUTH_a/c/o%d' % n)
        self.assertEqual([('HEAD', '/AUTH_a'), ('HEAD', '/AUTH_a/c')],
                         self.proxy.asked)
        self.assertEqual(10, len(self.proxy.served))

    def test_each_container_has_its_own_info(self):
        request(self.app, 'GET', '/v1/AUTH_a/c/o')
        request(self.app, 'GET', '/v1/AUTH_a/c_segments/s')
        request(self.app, 'GET', '/v1/AUTH_a/c_segments/t')
        self.assertEqual([('HEAD', '/AUTH_a'), ('HEAD', '/AUTH_a/c'),
                          ('HEAD', '/AUTH_a/c_segments')], self.proxy.asked)

    def test_info_is_asked_again_once_the_proxy_would_recheck_it(self):
        request(self.app, 'GET', '/v1/AUTH_a/c/o')
        self.clock.now += 29
        request(self.app, 'GET', '/v1/AUTH_a/c/o')
        self.assertEqual(2, len(self.proxy.asked))
        self.clock.now += 2
        request(self.app, 'GET', '/v1/AUTH_a/c/o')
        # the container's 30 s are over, the account's 60 s are not
        self.assertEqual([('HEAD', '/AUTH_a'), ('HEAD', '/AUTH_a/c'),
                          ('HEAD', '/AUTH_a/c')], self.proxy.asked)

    def test_writes_never_use_what_is_kept(self):
        request(self.app, 'GET', '/v1/AUTH_a/c/o')
        for method in ('PUT', 'POST', 'DELETE'):
            request(self.app, method, '/v1/AUTH_a/c/o')
        self.assertEqual([('HEAD', '/AUTH_a'), ('HEAD', '/AUTH_a/c')] +
                         [('HEAD', '/AUTH_a'), ('HEAD', '/AUTH_a/c')] * 3,
                         self.proxy.asked)

    def test_a_missing_container_is_asked_again_every_time(self):
        self.proxy.container_status = 404
        request(self.app, 'GET', '/v1/AUTH_a/c/o')
        request(self.app, 'GET', '/v1/AUTH_a/c/o')
        self.assertEqual([('HEAD', '/AUTH_a'), ('HEAD', '/AUTH_a/c'),
                          ('HEAD', '/AUTH_a/c')], self.proxy.asked)

    def test_a_container_found_missing_is_forgotten(self):
        request(self.app, 'GET', '/v1/AUTH_a/c/o')
        self.clock.now += 31
        self.proxy.container_status = 404
        request(self.app, 'GET', '/v1/AUTH_a/c/o')
        self.proxy.container_status = 204
        request(self.app, 'GET', '/v1/AUTH_a/c/o')
        self.assertEqual(4, len(self.proxy.asked))

    def test_each_request_gets_its_own_copy_of_the_info(self):
        request(self.app, 'GET', '/v1/AUTH_a/c/o')
        request(self.app, 'GET', '/v1/AUTH_a/c/o')
        first, second = (info for _m, _p, info in self.proxy.served)
        self.assertEqual(first, second)
        second['meta']['changed'] = 'yes'
        request(self.app, 'GET', '/v1/AUTH_a/c/o')
        self.assertEqual({}, self.proxy.served[-1][2]['meta'])

    def test_without_a_recheck_setting_the_proxy_default_applies(self):
        app = infocache.InfoCache(lambda env, sr: [], clock=self.clock)
        self.assertEqual(infocache.DEFAULT_RECHECK, app.container_ttl)
        self.assertEqual(60, infocache.InfoCache(self.proxy).account_ttl)

    def test_a_recheck_of_zero_keeps_nothing(self):
        self.proxy.recheck_container_existence = 0
        app = infocache.InfoCache(self.proxy, clock=self.clock)
        request(app, 'GET', '/v1/AUTH_a/c/o')
        request(app, 'GET', '/v1/AUTH_a/c/o')
        self.assertEqual([('HEAD', '/AUTH_a'), ('HEAD', '/AUTH_a/c'),
                          ('HEAD', '/AUTH_a/c')], self.proxy.asked)

    def test_install_wraps_the_pipeline_once(self):
        client = FakeInternalClient(self.proxy)
        first = infocache.InfoCache.install(client)
        self.assertIs(first, infocache.InfoCache.install(client))
        self.assertIs(self.proxy, client.app.app)

    def test_paths_without_an_account_pass_through(self):
        self.assertEqual((None, None), infocache.InfoCache.keys(
            {'PATH_INFO': '/info'}))

    def test_unicode_names_are_keyed_as_the_proxy_keys_them(self):
        env = swob.Request.blank('/v1/AUTH_a/caf%C3%A9/o').environ
        self.assertEqual(('account/AUTH_a', 'container/AUTH_a/caf\u00e9'),
                         infocache.InfoCache.keys(env))

    def test_the_number_of_entries_is_bounded(self):
        self.addCleanup(setattr, infocache, 'MAX_ENTRIES',
                        infocache.MAX_ENTRIES)
        infocache.MAX_ENTRIES = 3
        for n in range(10):
            request(self.app, 'GET', '/v1/AUTH_a/c%d/o' % n)
        self.assertLessEqual(len(self.app._entries), 3)


def test_the_daemons_internal_client_keeps_container_info(tmp_path,
                                                          monkeypatch):
    from cloudsync import local
    from tests.unit import crawler_fakes

    proxy = FakeProxy()
    monkeypatch.setattr(local, 'make_internal_client',
                        lambda conf: FakeInternalClient(proxy))
    node = crawler_fakes.Node(tmp_path)
    crawler = node.crawler
    crawler._internal_client = None
    client = crawler.internal_client
    assert isinstance(client.app, infocache.InfoCache)
    for n in range(3):
        request(client.app, 'GET', '/v1/AUTH_test/pics/o%d' % n)
    assert proxy.asked == [('HEAD', '/AUTH_test'),
                           ('HEAD', '/AUTH_test/pics')]


class ProxyWithSwiftsInfoLookups(object):
    """Looks up account and container info with Swift's own proxy
    functions, which ask this app for them (HEADs) when the request's
    ``swift.infocache`` does not hold them.
    """

    recheck_account_existence = 60
    recheck_container_existence = 60

    def __init__(self):
        from swift.common import utils as swift_utils
        self.logger = swift_utils.get_logger({}, log_route='test-proxy')
        self.asked = []
        self.policies = []

    def __call__(self, env, start_response):
        from swift.proxy.controllers import base as proxy_base
        req = swob.Request(env)
        _v, _a, container, obj = req.split_path(2, 4, True)
        if obj is not None:
            info = proxy_base.get_container_info(env, self)
            self.policies.append(info['storage_policy'])
            return swob.Response(body=b'data')(env, start_response)
        self.asked.append((req.method, req.path))
        headers = {'X-Backend-Recheck-Container-Existence': '60',
                   'X-Backend-Recheck-Account-Existence': '60'}
        if container is not None:
            headers['X-Backend-Storage-Policy-Index'] = '1'
        return swob.HTTPNoContent(headers=headers)(env, start_response)


def test_swifts_info_lookups_find_what_was_kept():
    proxy = ProxyWithSwiftsInfoLookups()
    app = infocache.InfoCache(proxy, clock=FakeClock())
    for name in ('o1', 'o2', 'caf%C3%A9'):
        resp = swob.Request.blank(
            '/v1/AUTH_a/caf%C3%A9/' + name).get_response(app)
        assert resp.body == b'data'
    assert proxy.asked == [('HEAD', '/v1/AUTH_a'),
                           ('HEAD', '/v1/AUTH_a/caf%C3%A9')]
    assert proxy.policies == [1, 1, 1]
