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
"""Account and container info of the local cluster, kept between reads.

Swift's proxy, before it serves an object, needs the info of the object's
account and container: without memcache it asks for them with a HEAD of
each, on every request. A daemon that reads thousands of objects of one
container through its internal client would so send three requests to
the cluster for every object it reads, two of them always the same.

:class:`InfoCache` wraps the internal client's pipeline and keeps the
account and container info the proxy found while serving a GET or HEAD,
for as long as the proxy itself would keep it in memcache
(``recheck_account_existence``, ``recheck_container_existence``: 60
seconds by default), and hands it to the proxy's later GETs and HEADs of
the same account and container (``swift.infocache``, the proxy's own
per-request cache). Only successful answers are kept: a missing account
or container is asked again every time. Writes (PUT, POST, DELETE) never
use what it keeps, and nothing else the proxy caches is kept.
"""

import json
import time

from swift.common import http as swift_http
from swift.common import swob
from swift.common import utils as swift_utils

#: what Swift's proxy keeps account and container info for by default
DEFAULT_RECHECK = 60.0
#: the most entries kept; the expired ones, then all, go when it is full
MAX_ENTRIES = 4096
#: the requests that may use what is kept
READS = frozenset(['GET', 'HEAD'])


def _recheck(app, name):
    """The proxy's ``name`` setting, found through the pipeline."""
    final = getattr(app, '_pipeline_final_app', app)
    try:
        return float(getattr(final, name))
    except (AttributeError, TypeError, ValueError):
        return DEFAULT_RECHECK


class InfoCache:
    """A WSGI middleware in front of an internal client's pipeline.

    :param app: the pipeline (``InternalClient.app``).
    :param clock: the monotonic clock (tests give their own).
    """

    def __init__(self, app, clock=time.monotonic):
        self.app = app
        self.clock = clock
        self.account_ttl = _recheck(app, 'recheck_account_existence')
        self.container_ttl = _recheck(app, 'recheck_container_existence')
        #: cache key -> (expiry on ``clock``, the info as JSON)
        self._entries = {}

    @classmethod
    def install(cls, internal_client, **kwargs):
        """Put an :class:`InfoCache` in front of ``internal_client``'s
        pipeline (once); returns it.
        """
        if not isinstance(internal_client.app, cls):
            internal_client.app = cls(internal_client.app, **kwargs)
        return internal_client.app

    @staticmethod
    def keys(env):
        """The cache keys of the account and container of a request, as
        the proxy names them (both None when the path names none).
        """
        # NOTE(cloudsync): the proxy is loaded with the internal client
        # this wraps, not with the daemon.
        from swift.proxy.controllers import base as proxy_base
        try:
            _version, account, container, _obj = swift_utils.split_path(
                env.get('PATH_INFO') or '', 2, 4, True)
        except ValueError:
            return None, None
        account = swob.wsgi_to_str(account)
        account_key = proxy_base.get_cache_key(account)
        if not container:
            return account_key, None
        return account_key, proxy_base.get_cache_key(
            account, swob.wsgi_to_str(container))

    def __call__(self, env, start_response):
        if env.get('REQUEST_METHOD') not in READS:
            return self.app(env, start_response)
        keys = [k for k in self.keys(env) if k]
        infocache = env.setdefault('swift.infocache', {})
        now = self.clock()
        given = {}
        for key in keys:
            if key not in infocache:
                info = self.get(key, now)
                if info is not None:
                    infocache[key] = given[key] = info
        try:
            return self.app(env, start_response)
        finally:
            for key in keys:
                info = infocache.get(key)
                # NOTE(cloudsync): what the proxy found itself (it asked,
                # or served the container) replaces what it was given.
                if info is not None and info is not given.get(key):
                    self.keep(key, info)

    def get(self, key, now=None):
        """The info kept under ``key`` (a new copy), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, raw = entry
        if expires <= (self.clock() if now is None else now):
            self._entries.pop(key, None)
            return None
        return json.loads(raw)

    def keep(self, key, info):
        """Keep ``info`` the proxy found for ``key`` when it is a
        successful answer; forget what was kept when it is not.
        """
        if not isinstance(info, dict):
            return
        try:
            status = int(info.get('status') or 0)
        except (TypeError, ValueError):
            return
        if not swift_http.is_success(status):
            self._entries.pop(key, None)
            return
        ttl = (self.container_ttl if key.startswith('container/')
               else self.account_ttl)
        if ttl <= 0:
            return
        try:
            raw = json.dumps(info)
        except (TypeError, ValueError):
            return
        now = self.clock()
        if len(self._entries) >= MAX_ENTRIES:
            for old in [k for k, (expires, _raw) in self._entries.items()
                        if expires <= now]:
                del self._entries[old]
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
        self._entries[key] = (now + ttl, raw)
