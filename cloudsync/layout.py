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
"""Where a Swift object lives on the remote: the remote key layout.

The sync daemon, the shunt, proxymc and ``cloudsync-verify`` all address
the remote through :class:`RemoteLayout`, so that they always agree.

Three layouts, chosen per mapping with the ``layout`` option:

``hashed`` (the default)
    ``<hash>/<account>/<container>/<object>``, where ``<hash>`` is the
    lower-case hexadecimal MD5 of ``<account>/<container>`` modulo 16**6,
    without zero padding (so 1 to 6 characters). It spreads containers over
    key prefixes, which S3 partitions by, and it is exactly what
    swift-s3-sync wrote: buckets it filled stay readable. SLO manifests are
    kept beside the objects, under
    ``<hash>/.manifests/<account>/<container>/<sha256(object)>.swift_slo_manifest``.
``prefix``
    ``<key_prefix>/<object>``. ``key_prefix`` may contain ``{account}`` and
    ``{container}``, which a mapping of every container (``container = *``)
    needs. Manifests are under ``<key_prefix>/.manifests/``.
``native``
    ``<object>``: the bucket holds the container's objects under their own
    names, readable by any S3 tool. Manifests are under ``.manifests/``.

On remotes that keep dynamic large objects (Swift), the copy of a DLO
segment ``<segments container>/<segment>`` is stored in the remote's
segments container as :meth:`RemoteLayout.dlo_key` names it, in a
namespace of its own beside the manifests: under
``<hash>/.dlo/<account>/<container>/`` (``hashed``),
``<key_prefix>/.dlo/`` (``prefix``) or ``.dlo/`` (``native``), followed by
``<segments container>/<segment>``. A container name holds no ``/``, so
two segments containers never share names there, and the segments of a
static large object (``<object key>/<upload>/<part>``) are never in it
(in the ``prefix`` and ``native`` layouts: unless an object's own name
starts with ``.dlo/``, which is then reserved as ``.manifests/`` is).

Reserved names
--------------

In the ``prefix`` and ``native`` layouts an object named
``.manifests/...`` or ``.dlo/...`` would have the key of a side object:
whoever may write such an object could replace the manifest of another
object of the container. Names that start with one of
:data:`RESERVED_NAMESPACES` are therefore refused in every layout (so
that a container does not change what it accepts when its layout
changes): the sync daemon fails their rows, proxymc refuses to write or
delete them, and the cloud shunt never serves, changes or deletes them
from the remote. Listings leave them out (:meth:`RemoteLayout.
is_internal_key`).
"""

import hashlib

LAYOUTS = ('hashed', 'prefix', 'native')
MANIFEST_DIR = '.manifests'
MANIFEST_SUFFIX = '.swift_slo_manifest'
DLO_DIR = '.dlo'
#: object names starting with these are side objects, never user objects
RESERVED_NAMESPACES = (MANIFEST_DIR + '/', DLO_DIR + '/')


def reserved_name_problem(name):
    """Why object ``name`` may not be a user object, or None.

    :returns: a sentence naming the namespace, for an error message.
    """
    for namespace in RESERVED_NAMESPACES:
        if name.startswith(namespace):
            return ('object names starting with %r are reserved for '
                    'cloudsync\'s side objects (SLO manifests, DLO '
                    'segments)' % namespace)
    return None


def is_reserved_name(name):
    """Whether object ``name`` is in a reserved namespace."""
    return reserved_name_problem(name) is not None


def hashed_prefix(account, container):
    """The short hash prefix of swift-s3-sync's layout."""
    digest = hashlib.md5(
        ('%s/%s' % (account, container)).encode('utf-8'),
        usedforsecurity=False).hexdigest()
    return '%x' % (int(digest, 16) % 16 ** 6)


class RemoteLayout:
    """Maps the objects of one (account, container) to remote keys.

    :param account: the Swift account, e.g. ``AUTH_test``.
    :param container: the Swift container (a concrete name, never ``*``).
    :param layout: ``hashed``, ``prefix`` or ``native``.
    :param key_prefix: the prefix for the ``prefix`` layout.
    """

    def __init__(self, account, container, layout='hashed', key_prefix=''):
        if layout not in LAYOUTS:
            raise ValueError('layout must be one of %s, not %r'
                             % (', '.join(LAYOUTS), layout))
        self.account = account
        self.container = container
        self.layout = layout
        if layout == 'hashed':
            hashed = hashed_prefix(account, container)
            self.key_prefix = '%s/%s/%s/' % (hashed, account, container)
            self._manifest_prefix = '%s/%s/%s/%s/' % (
                hashed, MANIFEST_DIR, account, container)
            self._dlo_prefix = '%s/%s/%s/%s/' % (
                hashed, DLO_DIR, account, container)
        elif layout == 'prefix':
            prefix = key_prefix.format(
                account=account, container=container).strip('/')
            self.key_prefix = prefix + '/' if prefix else ''
            self._manifest_prefix = self.key_prefix + MANIFEST_DIR + '/'
            self._dlo_prefix = self.key_prefix + DLO_DIR + '/'
        else:
            self.key_prefix = ''
            self._manifest_prefix = MANIFEST_DIR + '/'
            self._dlo_prefix = DLO_DIR + '/'

    def __repr__(self):
        return 'RemoteLayout(%r, %r, %r, key_prefix=%r)' % (
            self.account, self.container, self.layout, self.key_prefix)

    @staticmethod
    def name_problem(name):
        """Why object ``name`` may not be copied to the remote, or None
        (see :func:`reserved_name_problem`).
        """
        return reserved_name_problem(name)

    def object_key(self, name):
        """The remote key of object ``name``."""
        return self.key_prefix + name

    def object_name(self, key):
        """The object name of a remote key of this container.

        :raises ValueError: the key is not under this container's prefix.
        """
        if not key.startswith(self.key_prefix):
            raise ValueError('%r is not under %r' % (key, self.key_prefix))
        return key[len(self.key_prefix):]

    def key_of(self, account, container, name):
        """The remote key of object ``account/container/name`` when it is
        an object of this layout's container (a symlink's target), else
        None.
        """
        if (account, container) != (self.account, self.container):
            return None
        return self.object_key(name)

    def listing_prefix(self, prefix=''):
        """The remote prefix listing the objects that start with ``prefix``.
        """
        return self.key_prefix + (prefix or '')

    def manifest_key(self, name):
        """The key of the side object that keeps an SLO's manifest."""
        return '%s%s%s' % (
            self._manifest_prefix,
            hashlib.sha256(name.encode('utf-8')).hexdigest(),
            MANIFEST_SUFFIX)

    @property
    def manifest_prefix(self):
        """The prefix under which this container's side objects live."""
        return self._manifest_prefix

    def is_internal_key(self, key):
        """True for side objects (manifests, DLO segments) that are not
        Swift objects, and for keys whose object name is reserved (see
        :func:`reserved_name_problem`).
        """
        if key.startswith((self._manifest_prefix, self._dlo_prefix)):
            return True
        return key.startswith(self.key_prefix) and \
            is_reserved_name(key[len(self.key_prefix):])

    def dlo_key(self, container, name):
        """The remote name of the copy of local object ``container/name``
        as a segment of a DLO of this container (with a prefix as
        ``name``: the prefix of the copies of the segments under it).
        """
        return '%s%s/%s' % (self._dlo_prefix, container, name)


def in_dlo_namespace(key):
    """Whether ``key`` is in a DLO segment namespace of
    :meth:`RemoteLayout.dlo_key` (has a ``.dlo`` directory, and a segments
    container after it).
    """
    _, found, rest = ('/' + key).partition('/%s/' % DLO_DIR)
    container, slash, _ = rest.partition('/')
    return bool(found and container and slash)
