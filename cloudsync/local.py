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
"""Access to the local Swift cluster.

The daemon reads objects from the local cluster through Swift's
``InternalClient``: a proxy server running inside the daemon's process,
talking straight to the object servers. Set ``internal_client_conf_path``
to Swift's ``internal-client.conf`` (as container-sync does); when it is
unset a built-in pipeline is used (catch_errors, proxy-logging, cache,
proxy-server with ``account_autocreate``) reading ``swift_dir``.

Swift reads ``swift.conf`` (hash path prefix and suffix, storage policies)
from ``/etc/swift`` in several places regardless of ``swift_dir``;
:func:`use_swift_dir` points this process at the configured directory, and
everything here calls it first.
"""

from swift.common import constraints
from swift.common import internal_client
from swift.common import storage_policy
from swift.common import utils
from swift.common import wsgi

USER_AGENT = 'cloudsync-sync'
REQUEST_TRIES = 3

#: sent with every internal request the daemon makes: the cloud shunt must
#: never serve (or restore) the daemon's own reads from the remote
SHUNT_BYPASS_HEADER = 'X-Cloudsync-Shunt-Bypass'

BUILTIN_PIPELINE = """
[DEFAULT]
swift_dir = %(swift_dir)s

[pipeline:main]
pipeline = catch_errors proxy-logging cache proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:cache]
use = egg:swift#memcache

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:catch_errors]
use = egg:swift#catch_errors
""".lstrip()


def use_swift_dir(swift_dir):
    """Make this process read swift.conf, rings and policies from
    ``swift_dir``.

    Re-reads them even when the directory did not change, as a cluster may
    have been rebuilt in the same place.
    """
    if not utils.set_swift_dir(swift_dir):
        utils.HASH_PATH_PREFIX = b''
        utils.HASH_PATH_SUFFIX = b''
        utils.validate_configuration()
    storage_policy.reload_storage_policies()
    constraints.reload_constraints()


def internal_client_conf(conf):
    """The path or ``ConfigString`` the internal client is built from."""
    if conf.internal_client_conf_path:
        return conf.internal_client_conf_path
    return wsgi.ConfigString(BUILTIN_PIPELINE % {
        'swift_dir': conf.swift_dir})


def make_internal_client(conf, user_agent=USER_AGENT,
                         request_tries=REQUEST_TRIES):
    """An ``InternalClient`` for the local cluster.

    :param conf: the ``[DEFAULT]`` options (``swift_dir``,
        ``internal_client_conf_path``).
    """
    use_swift_dir(conf.swift_dir)
    return internal_client.InternalClient(
        internal_client_conf(conf), user_agent, request_tries,
        global_conf={'log_name': 'cloudsync-ic'})
