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

On a cluster that encrypts objects at rest, the object servers hold
ciphertext, and user metadata as encrypted sysmeta: only the ``keymaster``
and ``encryption`` middlewares give the object back as clients see it.
Set ``keymaster_config_path`` to the keymaster configuration the proxy
uses (the file its keymaster's own ``keymaster_config_path`` names, with a
``[keymaster]``, ``[kms_keymaster]`` or ``[kmip_keymaster]`` section), and
the built-in pipeline gets the keymaster that section is for and the
encryption middleware, just before proxy-server, as Swift's documentation
asks of container-sync's internal client. With ``internal_client_conf_path``
the operator's pipeline must have both filters itself.

Whatever the configuration, an object Swift answers with undecrypted
(crypto sysmeta in its headers, see :func:`encrypted_headers`; an
encrypted ETag in a container listing, see :func:`is_encrypted_etag`) is
never used as if it were the object: readers raise
:class:`EncryptedObject`, whose message names the setting to fix.

Swift reads ``swift.conf`` (hash path prefix and suffix, storage policies)
from ``/etc/swift`` in several places regardless of ``swift_dir``;
:func:`use_swift_dir` points this process at the configured directory, and
everything here calls it first.
"""

import configparser

from swift.common import constraints
from swift.common import internal_client
from swift.common import storage_policy
from swift.common import utils
from swift.common import wsgi

from cloudsync import exceptions

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

#: the built-in pipeline's filters that decrypt, after ``cache``
KEYMASTER_FILTERS = """
[filter:keymaster]
use = egg:swift#%(keymaster)s
keymaster_config_path = %(path)s

[filter:encryption]
use = egg:swift#encryption
"""

#: the keymaster middleware of each section a keymaster configuration may
#: hold (Swift's keymaster, kms_keymaster and kmip_keymaster)
KEYMASTER_SECTIONS = ('keymaster', 'kms_keymaster', 'kmip_keymaster')

#: the prefixes of the sysmeta Swift's encryption middleware stores with an
#: encrypted object, and removes from every object it decrypts
CRYPTO_HEADER_PREFIXES = ('x-object-sysmeta-crypto-',
                          'x-object-transient-sysmeta-crypto-')
_CRYPTO_HEADERS = ('x-object-transient-sysmeta-crypto-meta',)

#: what to do about an object read undecrypted
DECRYPTION_HINT = (
    'the cluster encrypts objects at rest and the internal client does not '
    'decrypt them: set keymaster_config_path in [DEFAULT] to the proxy\'s '
    'keymaster configuration (or add keymaster and encryption to the '
    'pipeline of internal_client_conf_path)')


class EncryptedObject(Exception):
    """Swift answered with an object (or a listing) still encrypted: its
    bytes are ciphertext and its user metadata is missing.

    :param what: the request, e.g. ``GET AUTH_test/c/o``.
    :param headers: the crypto headers that show it.
    """

    def __init__(self, what, headers=()):
        self.what = what
        self.headers = list(headers)
        shown = ', '.join(self.headers[:2]) or 'an encrypted ETag'
        super().__init__('%s: read encrypted (%s): %s' % (
            what, shown, DECRYPTION_HINT))


def encrypted_headers(headers):
    """The names (lower-case) of the crypto sysmeta in an object's
    response headers: present only when no decryption was on the path.
    """
    found = []
    for name in headers:
        lower = name.lower()
        if lower.startswith(CRYPTO_HEADER_PREFIXES) or \
                lower in _CRYPTO_HEADERS:
            found.append(lower)
    return sorted(found)


def is_encrypted_etag(value):
    """Whether a container listing's ETag is still encrypted (Swift's
    encryption keeps its crypto parameters beside it as ``swift_meta``).
    """
    return 'swift_meta=' in (value or '')


def check_not_encrypted(headers, what):
    """:raises EncryptedObject: when ``headers`` show an undecrypted
    object.
    """
    found = encrypted_headers(headers)
    if found:
        raise EncryptedObject(what, found)


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


def keymaster_middleware(path):
    """The keymaster middleware (its ``egg:swift#`` name) of the keymaster
    configuration at ``path``.

    :raises ConfigError: the file cannot be read, or holds no keymaster
        section.
    """
    where = '[DEFAULT] keymaster_config_path = %s' % path
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path) as f:
            parser.read_file(f)
    except (OSError, configparser.Error) as exc:
        raise exceptions.ConfigError('%s: cannot be read: %s' % (
            where, getattr(exc, 'strerror', None) or
            type(exc).__name__))
    found = [s for s in KEYMASTER_SECTIONS if parser.has_section(s)]
    if len(found) != 1:
        raise exceptions.ConfigError(
            '%s: must have exactly one of the sections %s (the keymaster '
            'configuration of the proxy), not %s' % (
                where, ', '.join('[%s]' % s for s in KEYMASTER_SECTIONS),
                ', '.join('[%s]' % s for s in found) or 'none'))
    return found[0]


def internal_client_conf(conf):
    """The path or ``ConfigString`` the internal client is built from.

    :raises ConfigError: ``keymaster_config_path`` is set with
        ``internal_client_conf_path``, or names no keymaster configuration.
    """
    keymaster_path = getattr(conf, 'keymaster_config_path', None)
    if conf.internal_client_conf_path:
        if keymaster_path:
            raise exceptions.ConfigError(
                '[DEFAULT] keymaster_config_path: applies to the built-in '
                'internal client pipeline only, and internal_client_conf_path '
                'is set: add keymaster (with keymaster_config_path = %s) and '
                'encryption to the pipeline of %s instead' % (
                    keymaster_path, conf.internal_client_conf_path))
        return conf.internal_client_conf_path
    text = BUILTIN_PIPELINE % {'swift_dir': conf.swift_dir}
    if keymaster_path:
        keymaster = keymaster_middleware(keymaster_path)
        text = text.replace(' cache proxy-server',
                            ' cache keymaster encryption proxy-server')
        text += KEYMASTER_FILTERS % {'keymaster': keymaster,
                                     'path': keymaster_path}
    return wsgi.ConfigString(text)


def keymaster_problems(conf):
    """What is wrong with ``keymaster_config_path``, before anything
    starts: a list of problems, each naming the option.

    The root secret of Swift's own keymaster is checked as the proxy
    checks it (never shown); other keymasters reach their key service
    only when the internal client is made.
    """
    try:
        internal_client_conf(conf)
    except exceptions.ConfigError as exc:
        return exc.problems
    path = getattr(conf, 'keymaster_config_path', None)
    if not path or keymaster_middleware(path) != 'keymaster':
        return []
    from swift.common.middleware.crypto import keymaster
    try:
        keymaster.filter_factory({}, keymaster_config_path=path)(None)
    except ValueError as exc:
        return ['[DEFAULT] keymaster_config_path = %s: %s' % (path, exc)]
    return []


def make_internal_client(conf, user_agent=USER_AGENT,
                         request_tries=REQUEST_TRIES):
    """An ``InternalClient`` for the local cluster.

    :param conf: the ``[DEFAULT]`` options (``swift_dir``,
        ``internal_client_conf_path``, ``keymaster_config_path``).
    :raises ConfigError: the keymaster configuration is wrong.
    """
    use_swift_dir(conf.swift_dir)
    ic_conf = internal_client_conf(conf)
    try:
        return internal_client.InternalClient(
            ic_conf, user_agent, request_tries,
            global_conf={'log_name': 'cloudsync-ic'})
    except ValueError as exc:
        keymaster_path = getattr(conf, 'keymaster_config_path', None)
        if not keymaster_path:
            raise
        # NOTE(cloudsync): Swift's keymasters say what is wrong with the
        # root secret without showing it.
        raise exceptions.ConfigError(
            '[DEFAULT] keymaster_config_path = %s: %s' % (keymaster_path,
                                                          exc))
