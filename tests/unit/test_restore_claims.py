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

import logging

from swift.common.memcached import MemcacheConnectionError

from cloudsync.shunt import restore


class FakeMemcache:
    def __init__(self, down=False):
        self.values = {}
        self.down = down

    def incr(self, key, delta=1, time=0):
        if self.down:
            raise MemcacheConnectionError('down')
        self.values[key] = self.values.get(key, 0) + delta
        return self.values[key]

    def delete(self, key):
        self.values.pop(key, None)


def test_one_restore_per_object_in_a_process():
    release = restore.claim({}, '/v1/a/c/o', 60)
    assert release is not None
    assert restore.claim({}, '/v1/a/c/o', 60) is None
    other = restore.claim({}, '/v1/a/c/other', 60)
    assert other is not None
    release()
    other()
    again = restore.claim({}, '/v1/a/c/o', 60)
    assert again is not None
    again()


def test_one_restore_per_object_across_proxies_sharing_memcache():
    cache = FakeMemcache()
    release = restore.claim({'swift.cache': cache}, '/v1/a/c/o', 60)
    # NOTE: another proxy process: its own set, the same memcache
    restore._RESTORING.discard('/v1/a/c/o')
    assert restore.claim({'swift.cache': cache}, '/v1/a/c/o', 60) is None
    restore._RESTORING.add('/v1/a/c/o')
    release()
    assert cache.values == {}


def test_memcache_down_falls_back_to_the_process():
    env = {'swift.cache': FakeMemcache(down=True)}
    release = restore.claim(env, '/v1/a/c/o', 60)
    assert release is not None
    assert restore.claim(env, '/v1/a/c/o', 60) is None
    release()


def test_a_restore_that_cannot_claim_writes_nothing():
    held = restore.claim({}, '/v1/a/c/o', 60)
    calls = []

    def plan():
        calls.append('planned')

    rest = restore.Restore(None, {}, plan, logging.getLogger('t'),
                           name='a/c/o',
                           claim=lambda: restore.claim({}, '/v1/a/c/o', 60))
    rest.start()
    rest.feed(b'data')
    rest.finish()
    rest.wait()
    held()
    assert calls == []
    assert rest.done and not rest.succeeded


def test_the_claim_is_released_when_the_restore_ends():
    rest = restore.Restore(None, {}, lambda: None, logging.getLogger('t'),
                           name='a/c/o',
                           claim=lambda: restore.claim({}, '/v1/a/c/o', 60))
    rest.start()
    rest.finish()
    rest.wait()
    release = restore.claim({}, '/v1/a/c/o', 60)
    assert release is not None
    release()
