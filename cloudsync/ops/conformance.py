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
"""The provider conformance kit: prove a provider against a live store.

cloudsync talks to every remote store through a
:class:`~cloudsync.providers.Provider`. This module holds the checks that
every provider must pass, as a pytest test class to subclass. The shipped
providers run it against moto and Swift's s3api; a third-party provider
runs it against the real store it targets.

Writing a test module for your provider
---------------------------------------

::

    # mystore_cloudsync/tests/test_conformance.py
    import os

    import pytest

    from cloudsync import conformance


    @pytest.mark.skipif('MYSTORE_ENDPOINT' not in os.environ,
                        reason='no MyStore endpoint configured')
    class TestMyStoreConformance(conformance.ProviderConformance):
        bucket = 'cloudsync-conformance'

        def make_provider(self):
            return conformance.build_provider(
                'mystore',
                endpoint=os.environ['MYSTORE_ENDPOINT'],
                access_key=os.environ['MYSTORE_ACCESS_KEY'],
                secret_key=os.environ['MYSTORE_SECRET_KEY'])

        def make_bad_provider(self, secret_key):
            return conformance.build_provider(
                'mystore',
                endpoint=os.environ['MYSTORE_ENDPOINT'],
                access_key=os.environ['MYSTORE_ACCESS_KEY'],
                secret_key=secret_key)

Run it with ``python -m pytest``. The class name must start with ``Test``;
pytest collects the inherited ``test_*`` methods. ``build_provider``
loads the provider by its entry point name, exactly as the daemon does
from a ``[remote:NAME]`` section, so the entry point is tested too; any
option of your provider's ``OPTIONS`` can be passed as a keyword.

When the endpoint comes from a pytest fixture (a server your tests start),
store it on the class from an autouse class-scoped fixture, which runs
before the kit's own fixtures::

        @pytest.fixture(scope='class', autouse=True)
        @classmethod
        def _server(cls, my_server):
            cls.endpoint = my_server.url

What you may set on the subclass
--------------------------------

``bucket``
    The bucket (or container) the tests write to. It is created when it
    does not exist, unless ``create_bucket`` is False. Every test writes
    under its own unique key prefix below ``cloudsync-conformance/`` and
    removes what it wrote.
``multipart``
    False when the store has no multipart upload; the multipart tests are
    then skipped (and the provider must raise
    :class:`~cloudsync.exceptions.NotSupported` from ``put_multipart``).
``part_size``
    The part size of the multipart tests (default 5 MiB, S3's minimum).
``expiration``
    False to skip the ``set_expiration`` test. It sets a rule on the
    fixed prefix ``cloudsync-conformance/expiring/`` (so that repeated
    runs do not add rules); a provider that raises ``NotSupported`` is
    skipped as well.
``max_connections``
    The pool size the kit builds providers with.

``make_provider()`` is required; ``make_bad_provider(secret_key)`` is
optional (the credentials test is skipped without it, e.g. against moto,
which accepts any credentials).

What is checked
---------------

* Bytes, content type and metadata round-trip exactly; metadata goes
  through :mod:`cloudsync.metadata` with unicode, 4-byte UTF-8, spaces at
  either end, ``%`` and control characters; the ETag of a single PUT is
  the MD5 of its bytes, without quotes.
* Key names with unicode, 4-byte UTF-8, ``%xx``, ``+``, spaces, ``/``,
  ``?``, ``#`` and ``&`` are stored, read and listed unchanged.
* Zero-byte objects; bodies given as bytes and as non-seekable streams.
* A multipart upload (three parts of ``part_size`` and a short tail) has
  the ETag ``md5(binary part MD5s)-N``; a part with a wrong MD5, a body
  with a wrong MD5 or a short body is refused, and nothing is stored.
* Ranges (``bytes=a-b``, ``bytes=a-``, suffix ``bytes=-n``): status 206,
  ``Content-Range`` and the total size; a range past the end raises
  :class:`~cloudsync.exceptions.RangeNotSatisfiable`.
* If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since raise
  :class:`~cloudsync.exceptions.PreconditionFailed` and
  :class:`~cloudsync.exceptions.NotModified` as HTTP would answer.
* Listings: prefix, delimiter (common prefixes as ``is_prefix`` entries),
  marker (also a common prefix as marker), limit, ``truncated`` and
  ``next_marker``, paging with ``list_all``; sizes and ETags.
* ``update_metadata`` changes metadata and content type and keeps the
  ETag and the bytes (for a multipart object too), without moving the
  object's bytes through cloudsync: a fresh provider instance updates a
  1 MiB object while the kit counts the bytes its connections send and
  receive (plain and TLS sockets of this process) and its calls of
  ``get_object``, ``put_object`` and ``put_multipart``. A server-side
  copy (S3's CopyObject, UploadPartCopy) or a POST (Swift) passes; a
  download and upload again fails.
* Deleting a missing object is not an error; HEAD, GET and
  ``update_metadata`` of a missing object raise
  :class:`~cloudsync.exceptions.NotFound`; a missing bucket raises
  :class:`~cloudsync.exceptions.TargetNotFound`.
* Wrong credentials raise :class:`~cloudsync.exceptions.AuthError`, and
  neither the message nor the traceback holds the secret.
* One provider instance serves several threads at once; closing a body
  early leaves the provider usable.
* The declared capabilities (see :class:`cloudsync.providers.Provider`)
  are consistent: the flags are booleans, ``DEFAULT_LAYOUT`` is a layout
  or None, the part limits make sense; a provider that declares
  ``KEEPS_DLO``, ``KEEPS_SYMLINKS`` or ``BUCKET_PER_CONTAINER``
  implements the methods that go with it; every plan of
  ``plan_parts`` passes ``check_parts``; ``check_key`` takes an ordinary
  key; with ``UPDATE_METADATA_TAKES_EXPIRY``, ``update_metadata`` takes
  ``expires_at=KEEP_EXPIRY`` and keeps the object.

The kit needs pytest, which cloudsync itself does not.
"""

# NOTE(cloudsync): one module, and one test class of about 500 lines, on
# purpose: provider packages import this kit by its published path and
# subclass ProviderConformance, whose methods pytest collects as the checks;
# moving checks into other classes would change what they inherit.

# NOTE(cloudsync): over 600 lines, and ProviderConformance over 400, on
# purpose: the kit is one class that a third party subclasses, one test
# per clause of the provider contract, with the few helpers the tests
# share; split, a provider's test module would have to know the pieces.

import concurrent.futures
import email.utils
import hashlib
import io
import os
import socket
import ssl
import sys
import threading
import time
import traceback
import uuid
import weakref

from oslo_config import cfg
import pytest

from cloudsync.conf import opts
from cloudsync import exceptions
from cloudsync import large_objects
from cloudsync import layout as layout_mod
from cloudsync import metadata as metadata_mod
from cloudsync import providers
from cloudsync import registry

MiB = 1024 * 1024
ROOT = 'cloudsync-conformance/'
EXPIRING_PREFIX = ROOT + 'expiring/'

#: names that must survive the trip to the store and back, and listings
AWKWARD_NAMES = [
    'plain',
    'unicod\u00e9',
    'emoji-\U0001F600-4-byte',
    'cjk-\u4e2d\u6587',
    'space in name',
    'trailing-space ',
    'percent%41encoded',
    'percent%2Fslash',
    '100%',
    'plus+sign',
    'slash/in/name',
    'query?and&amp=1#frag',
    'mixed %+ \U0001F600/\u00e9',
]

#: Swift headers whose values are hard to carry in HTTP headers
AWKWARD_METADATA = {
    'X-Object-Meta-Plain': 'plain ascii value',
    'X-Object-Meta-Unicode': 'h\u00e9llo w\u00f6rld',
    'X-Object-Meta-Emoji': '\U0001F600 four bytes',
    'X-Object-Meta-Spaces': '  spaces at both ends  ',
    'X-Object-Meta-Percent': '100% %41 %2F',
    'X-Object-Meta-Control': '\x04w',
    'X-Object-Meta-Encoded-Looking': '=?UTF-8?B?Zm9v?=',
}


class WireCounter:
    """Counts the bytes this process's client connections move.

    A context manager: while it is active, what plain sockets connected
    meanwhile and client TLS sockets send and receive is added up in
    :attr:`sent` and :attr:`received`, whatever the library (botocore,
    requests, http.client). Server sockets of the process are not counted.
    """

    #: (method, whether it sends) of plain sockets
    _PLAIN_METHODS = [('send', True), ('sendall', True),
                      ('recv', False), ('recv_into', False)]
    #: (method, whether it sends) of TLS sockets: their sendall calls
    #: their send, and their recv and recv_into call their read
    _TLS_METHODS = [('send', True), ('read', False)]

    def __init__(self):
        self.sent = 0
        self.received = 0
        self._lock = threading.Lock()
        self._connected = weakref.WeakSet()
        self._saved = []

    def _is_client(self, sock):
        if isinstance(sock, ssl.SSLSocket):
            return not sock.server_side
        return sock in self._connected

    def _add(self, sock, sending, result, data):
        if not self._is_client(sock):
            return
        if sending:
            count = len(data) if result is None else result
        elif isinstance(result, int):
            count = result
        else:
            count = len(result or b'')
        with self._lock:
            if sending:
                self.sent += count
            else:
                self.received += count

    def _patch(self, cls, name, wrapper):
        self._saved.append((cls, name, cls.__dict__.get(name)))
        setattr(cls, name, wrapper)

    @staticmethod
    def _socket_classes():
        """The plain socket classes client connections may be made of.

        eventlet's green sockets (which Swift's modules bring in) wrap a
        socket of eventlet's own copy of the socket module, another class
        than :class:`socket.socket`.
        """
        classes = [socket.socket]
        patcher = sys.modules.get('eventlet.patcher')
        if patcher is not None:
            original = patcher.original('socket').socket
            if original is not socket.socket:
                classes.append(original)
        return classes

    def __enter__(self):
        counter = self
        plain = self._socket_classes()
        methods = [(cls, name, sending) for cls in plain
                   for name, sending in self._PLAIN_METHODS]
        methods += [(ssl.SSLSocket, name, sending)
                    for name, sending in self._TLS_METHODS]
        for cls in plain:
            for method in ('connect', 'connect_ex'):
                real = getattr(cls, method)

                def connect(sock, *args, _real=real, **kwargs):
                    counter._connected.add(sock)
                    return _real(sock, *args, **kwargs)
                self._patch(cls, method, connect)
        for cls, name, sending in methods:
            real = getattr(cls, name)

            def wrapper(sock, *args, _real=real, _sending=sending, **kwargs):
                result = _real(sock, *args, **kwargs)
                data = args[0] if _sending and args else b''
                counter._add(sock, _sending, result, data)
                return result
            self._patch(cls, name, wrapper)
        return self

    def __exit__(self, *exc):
        while self._saved:
            cls, name, original = self._saved.pop()
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)


class CallCounter:
    """Counts the calls of some methods of one provider instance."""

    def __init__(self, provider, names=('get_object', 'put_object',
                                        'put_multipart')):
        self.calls = []
        for name in names:
            real = getattr(provider, name)

            def counted(*args, _name=name, _real=real, **kwargs):
                self.calls.append(_name)
                return _real(*args, **kwargs)
            setattr(provider, name, counted)


def build_provider(provider, name='conformance', max_connections=4,
                   **options):
    """A provider loaded by entry point name and configured from options.

    It goes the way a ``[remote:NAME]`` section goes: the provider class
    is loaded from the ``cloudsync.providers`` namespace, its ``OPTIONS``
    are registered with the common ones in an oslo.config group, the
    options given here are set, and ``validate_conf`` must find nothing
    wrong.

    :param provider: the entry point name (``s3``, ``swift``, ...).
    :param options: option values: ``endpoint``, ``access_key``,
        ``secret_key`` and the provider's own.
    :raises ConfigError: the provider or an option is refused.
    """
    cls = registry.load(registry.PROVIDERS, provider)
    conf = cfg.ConfigOpts()
    conf([], project='cloudsync-conformance', default_config_files=[])
    group = 'remote:%s' % name
    conf.register_opts(opts.remote_opts, group=group)
    conf.register_opts(cls.OPTIONS, group=group)
    conf.set_override('provider', provider, group=group)
    for key, value in options.items():
        conf.set_override(key, value, group=group)
    problems = ['[%s] %s' % (group, p) for p in cls.validate_conf(
        conf[group])]
    if problems:
        raise exceptions.ConfigError(problems)
    return cls(name, conf[group], max_connections=max_connections)


def md5_hex(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


#: the ETag of a multipart object: md5(binary part MD5s)-N
multipart_etag = large_objects.multipart_etag


class OneWayStream:
    """A stream that can only be read forward (no seek, no tell)."""

    def __init__(self, data):
        self._stream = io.BytesIO(data)

    def read(self, size=-1):
        return self._stream.read(size)


def _http_date(epoch):
    return email.utils.formatdate(epoch, usegmt=True)


class ProviderConformance:
    """The conformance tests; subclass as ``Test<Store>Conformance``.

    See the module documentation for what to define.
    """

    bucket = 'cloudsync-conformance'
    create_bucket = True
    multipart = True
    part_size = 5 * MiB
    expiration = True
    max_connections = 4

    def make_provider(self):
        """A provider for the store under test. Required."""
        raise NotImplementedError(
            '%s must define make_provider()' % type(self).__name__)

    def make_bad_provider(self, secret_key):
        """A provider for the same store whose secret key is wrong.

        :returns: the provider, or None to skip the credentials test.
        """
        return None

    # -- fixtures ----------------------------------------------------------

    @pytest.fixture(scope='class')
    @classmethod
    def provider(cls):
        provider = cls().make_provider()
        provider.check_target(cls.bucket, create=cls.create_bucket)
        yield provider
        provider.close()

    @pytest.fixture
    def prefix(self, provider):
        """A unique key prefix for one test; emptied afterwards."""
        prefix = '%s%s/' % (ROOT, uuid.uuid4().hex)
        yield prefix
        for entry in list(provider.list_all(self.bucket, prefix=prefix)):
            try:
                provider.delete_object(self.bucket, entry.key)
            except exceptions.RemoteError:
                pass

    # -- helpers -----------------------------------------------------------

    def put(self, provider, key, data, content_type='application/x-test',
            metadata=None):
        etag = provider.put_object(self.bucket, key, data, len(data),
                                   content_type=content_type,
                                   metadata=metadata, md5=md5_hex(data))
        assert etag == md5_hex(data)
        return etag

    def get(self, provider, key, **kwargs):
        return provider.get_object(self.bucket, key, **kwargs).read_all()

    def assert_missing(self, provider, key):
        with pytest.raises(exceptions.NotFound):
            provider.head_object(self.bucket, key)

    def keys(self, entries):
        return [(e.key, e.is_prefix) for e in entries]

    # -- objects -----------------------------------------------------------

    def test_round_trip_bytes(self, provider, prefix):
        data = os.urandom(4096)
        key = prefix + 'object'
        self.put(provider, key, data, content_type='text/x-conformance')
        info = provider.head_object(self.bucket, key)
        assert info.key == key
        assert info.size == len(data)
        assert info.etag == md5_hex(data)
        assert not info.etag.startswith('"')
        assert info.content_type == 'text/x-conformance'
        assert abs(info.last_modified - time.time()) < 3600
        assert not info.is_multipart
        body = provider.get_object(self.bucket, key)
        with body:
            assert body.status == 200
            assert body.content_length == len(data)
            assert body.info.etag == md5_hex(data)
            assert body.info.size == len(data)
            chunks = list(body)
        assert all(isinstance(c, bytes) for c in chunks)
        assert b''.join(chunks) == data

    def test_round_trip_metadata(self, provider, prefix):
        remote = metadata_mod.swift_to_remote(AWKWARD_METADATA)
        key = prefix + 'with-metadata'
        self.put(provider, key, b'metadata', metadata=remote)
        info = provider.head_object(self.bucket, key)
        assert info.metadata == remote
        assert metadata_mod.remote_to_swift(info.metadata) == {
            k.title(): v for k, v in AWKWARD_METADATA.items()}
        body = provider.get_object(self.bucket, key)
        with body:
            assert body.info.metadata == remote

    def test_put_from_stream(self, provider, prefix):
        data = os.urandom(256 * 1024 + 7)
        key = prefix + 'streamed'
        etag = provider.put_object(self.bucket, key, OneWayStream(data),
                                   len(data), md5=md5_hex(data))
        assert etag == md5_hex(data)
        assert self.get(provider, key) == data
        # without an MD5 too
        etag = provider.put_object(self.bucket, key, OneWayStream(data),
                                   len(data))
        assert etag == md5_hex(data)

    def test_awkward_names(self, provider, prefix):
        data = {}
        for name in AWKWARD_NAMES:
            key = prefix + name
            data[key] = name.encode('utf-8')
            self.put(provider, key, data[key])
        for key, body in data.items():
            assert provider.head_object(self.bucket, key).size == len(body)
            assert self.get(provider, key) == body
        listed = list(provider.list_all(self.bucket, prefix=prefix))
        assert [e.key for e in listed] == sorted(data)
        for entry in listed:
            assert entry.size == len(data[entry.key])
            assert entry.etag in ('', md5_hex(data[entry.key]))
        # every name works as a marker and as a prefix
        keys = sorted(data)
        for index, key in enumerate(keys):
            page = provider.list_objects(self.bucket, prefix=prefix,
                                         marker=key)
            assert [e.key for e in page.entries] == keys[index + 1:]
            page = provider.list_objects(self.bucket, prefix=key)
            assert key in [e.key for e in page.entries]

    def test_zero_bytes(self, provider, prefix):
        key = prefix + 'empty'
        self.put(provider, key, b'')
        info = provider.head_object(self.bucket, key)
        assert info.size == 0
        assert info.etag == md5_hex(b'')
        assert self.get(provider, key) == b''
        etag = provider.put_object(self.bucket, prefix + 'empty-stream',
                                   OneWayStream(b''), 0)
        assert etag == md5_hex(b'')

    def test_wrong_md5_refused(self, provider, prefix):
        key = prefix + 'wrong-md5'
        with pytest.raises(exceptions.ChecksumMismatch):
            provider.put_object(self.bucket, key, b'some bytes', 10,
                                md5=md5_hex(b'other bytes'))
        self.assert_missing(provider, key)

    def test_short_body_refused(self, provider, prefix):
        key = prefix + 'short'
        with pytest.raises(exceptions.RemoteError):
            provider.put_object(self.bucket, key, OneWayStream(b'short'),
                                100)
        self.assert_missing(provider, key)

    def test_overwrite(self, provider, prefix):
        key = prefix + 'overwritten'
        self.put(provider, key, b'first', metadata={'a': '1'})
        self.put(provider, key, b'second', metadata={'b': '2'})
        info = provider.head_object(self.bucket, key)
        assert info.etag == md5_hex(b'second')
        assert info.metadata == {'b': '2'}
        assert self.get(provider, key) == b'second'

    # -- multipart ---------------------------------------------------------

    # -- declared capabilities ---------------------------------------------

    def test_declared_capabilities(self, provider):
        for name in ('BUCKET_PER_CONTAINER', 'KEEPS_DLO', 'KEEPS_SYMLINKS',
                     'ETAG_IS_MD5', 'UPDATE_METADATA_TAKES_EXPIRY',
                     'PUT_CREATE_ONLY', 'PUT_IF_MATCH', 'BULK_DELETE',
                     'DELETE_IF_MATCH', 'UPDATE_METADATA_TAKES_INFO',
                     'RESTORES_COLD'):
            value = getattr(provider, name)
            assert isinstance(value, bool), (
                '%s must be True or False, not %r' % (name, value))
        assert isinstance(provider.etag_is_md5, bool)
        assert isinstance(provider.creates_containers, bool)
        assert provider.DEFAULT_LAYOUT in (None,) + layout_mod.LAYOUTS, (
            'DEFAULT_LAYOUT %r is not a layout' % (provider.DEFAULT_LAYOUT,))
        assert 0 < provider.MIN_PART_SIZE <= provider.MAX_PART_SIZE
        assert provider.MAX_PARTS >= 1 and provider.MAX_SINGLE_PUT > 0
        implemented = {name for name in (
            'dlo_manifest', 'put_dlo', 'delete_dlo_segments', 'put_symlink',
            'update_container_metadata', 'cold_state', 'restore_cold')
            if getattr(type(provider), name) is not
            getattr(providers.Provider, name)}
        needed = set()
        if provider.KEEPS_DLO:
            needed |= {'dlo_manifest', 'put_dlo', 'delete_dlo_segments'}
        if provider.KEEPS_SYMLINKS:
            needed.add('put_symlink')
        if provider.BUCKET_PER_CONTAINER:
            needed.add('update_container_metadata')
        if provider.RESTORES_COLD:
            needed |= {'cold_state', 'restore_cold'}
        assert needed <= implemented, (
            'declared capabilities without their methods: %s'
            % ', '.join(sorted(needed - implemented)))

    def test_planned_parts_pass_the_part_check(self, provider, prefix):
        low = provider.MIN_PART_SIZE
        sizes = [0, 1, 3 * low + 7,
                 (provider.MAX_PARTS + 1) * max(low, MiB)]
        for size in sizes:
            plan = provider.plan_parts(size)
            assert 1 <= len(plan) <= provider.MAX_PARTS, size
            offset = 0
            for start, length in plan:
                assert start == offset, (size, plan[:3])
                offset += length
            assert offset == size
            provider.check_parts(self.bucket, prefix + 'planned', [
                providers.Part(number=n, size=length, open=io.BytesIO)
                for n, (_start, length) in enumerate(plan, 1)])

    def test_check_key_takes_an_ordinary_key(self, provider, prefix):
        provider.check_key(self.bucket, prefix + 'a/b c.txt')

    def test_update_metadata_takes_expiry_as_declared(self, provider,
                                                      prefix):
        if not provider.UPDATE_METADATA_TAKES_EXPIRY:
            pytest.skip('update_metadata takes no expires_at')
        key = prefix + 'expiry kept'
        etag = self.put(provider, key, b'kept', metadata={'a': 'b'})
        provider.update_metadata(self.bucket, key, content_type='text/new',
                                 metadata={'c': 'd'},
                                 expires_at=providers.KEEP_EXPIRY)
        info = provider.head_object(self.bucket, key)
        assert info.etag == etag and info.metadata == {'c': 'd'}

    # -- conditional writes, bulk deletes --------------------------------
    #
    # cloudsync relies on these only when the provider declares them; a
    # provider that finds out at run time that its store refuses a
    # condition (Swift's s3api answers If-Match on PUT with 501) raises
    # PreconditionFailed, having written nothing, and stops declaring it.

    def _conditional_put(self, provider, key, data, capability, **condition):
        """``put_object`` with ``condition``; False when the provider
        found out that its store takes no such condition (and then no
        longer declares ``capability``).
        """
        try:
            provider.put_object(self.bucket, key, data, len(data),
                                md5=md5_hex(data), **condition)
        except exceptions.PreconditionFailed:
            if not capability(provider):
                return False
            raise
        return True

    def test_create_only_writes_a_free_key_only(self, provider, prefix):
        if not providers.creates_only(provider):
            pytest.skip('put_object takes no create_only')
        key = prefix + 'created once'
        if not self._conditional_put(provider, key, b'first',
                                     providers.creates_only,
                                     create_only=True):
            self.assert_missing(provider, key)
            return
        assert self.get(provider, key) == b'first'
        with pytest.raises(exceptions.PreconditionFailed):
            provider.put_object(self.bucket, key, b'second', 6,
                                md5=md5_hex(b'second'), create_only=True)
        assert self.get(provider, key) == b'first'

    def test_if_match_writes_over_those_bytes_only(self, provider, prefix):
        if not providers.puts_if_match(provider):
            pytest.skip('put_object takes no if_match')
        key = prefix + 'if match'
        first = self.put(provider, key, b'first', metadata={'a': '1'})
        if not self._conditional_put(provider, key, b'first',
                                     providers.puts_if_match,
                                     if_match=first):
            assert provider.head_object(self.bucket, key).metadata == {
                'a': '1'}
            return
        assert provider.head_object(self.bucket, key).metadata == {}
        self.put(provider, key, b'other bytes')
        with pytest.raises(exceptions.PreconditionFailed):
            provider.put_object(self.bucket, key, b'first', 5,
                                md5=md5_hex(b'first'), if_match=first)
        assert self.get(provider, key) == b'other bytes'
        missing = prefix + 'if match, missing'
        with pytest.raises(exceptions.NotFound):
            provider.put_object(self.bucket, missing, b'first', 5,
                                md5=md5_hex(b'first'), if_match=first)
        self.assert_missing(provider, missing)

    def test_delete_if_match_deletes_that_object_only(self, provider,
                                                      prefix):
        if not providers.deletes_if_match(provider):
            pytest.skip('delete_object takes no if_match')
        key = prefix + 'delete if match'
        first = self.put(provider, key, b'first')
        other = self.put(provider, key, b'other bytes')
        try:
            provider.delete_object(self.bucket, key, if_match=first)
        except exceptions.PreconditionFailed:
            pass
        else:
            # NOTE: only a store that refused the condition (501) may
            # delete: the provider then no longer declares it.
            assert not providers.deletes_if_match(provider), (
                'the store deleted an object of another ETag')
            self.assert_missing(provider, key)
            return
        assert self.get(provider, key) == b'other bytes'
        provider.delete_object(self.bucket, key, if_match=other)
        self.assert_missing(provider, key)
        missing = prefix + 'delete if match, missing'
        assert provider.delete_object(self.bucket, missing,
                                      if_match=first) in (True, False)
        self.assert_missing(provider, missing)

    def test_delete_objects(self, provider, prefix):
        keys = [prefix + 'bulk/%d \u00e9' % n for n in range(3)]
        for key in keys:
            self.put(provider, key, b'x')
        kept = self.put(provider, prefix + 'bulk/kept', b'kept')
        provider.delete_objects(self.bucket,
                                keys + [prefix + 'bulk/never-there'])
        for key in keys:
            self.assert_missing(provider, key)
        assert provider.head_object(self.bucket,
                                    prefix + 'bulk/kept').etag == kept

    def test_update_metadata_takes_info_as_declared(self, provider, prefix):
        if not providers.takes_info(provider):
            pytest.skip('update_metadata takes no info')
        key = prefix + 'info given'
        etag = self.put(provider, key, b'data', metadata={'a': 'b'})
        info = provider.head_object(self.bucket, key)
        provider.update_metadata(self.bucket, key, content_type='text/new',
                                 metadata={'c': 'd'}, info=info)
        info = provider.head_object(self.bucket, key)
        assert info.etag == etag and info.metadata == {'c': 'd'}
        assert info.content_type == 'text/new'

    # -- optional reads for migrations -----------------------------------

    def test_list_buckets_if_implemented(self, provider):
        try:
            names = provider.list_buckets()
        except exceptions.NotSupported:
            pytest.skip('the provider cannot list its buckets')
        names = list(names)
        assert self.bucket in names
        assert names == sorted(names)

    def test_part_ranges_if_implemented(self, provider, prefix):
        if not self.multipart:
            pytest.skip('the store has no multipart upload')
        datas = [os.urandom(self.part_size), os.urandom(self.part_size),
                 b'tail']
        key = prefix + 'in parts'
        provider.put_multipart(self.bucket, key, self._parts(datas))
        info = provider.head_object(self.bucket, key)
        try:
            ranges = provider.part_ranges(self.bucket, key, info)
        except exceptions.NotSupported:
            pytest.skip('the provider cannot tell an object\'s parts')
        sizes = [len(d) for d in datas]
        if info.parts_count:
            assert ranges == [(sum(sizes[:n]), size)
                              for n, size in enumerate(sizes)]
        else:
            # NOTE: a store that joins the parts into one object (GCS's
            # compose) keeps no parts to tell.
            assert ranges is None
        plain = prefix + 'in one piece'
        self.put(provider, plain, b'one piece')
        assert provider.part_ranges(
            self.bucket, plain,
            provider.head_object(self.bucket, plain)) is None

    def _parts(self, datas, md5s=None):
        md5s = md5s or [md5_hex(d) for d in datas]
        return [providers.Part(number=n, size=len(d), md5=md5,
                               open=lambda d=d: io.BytesIO(d))
                for n, (d, md5) in enumerate(zip(datas, md5s), 1)]

    def test_multipart(self, provider, prefix):
        if not self.multipart:
            pytest.skip('the store has no multipart upload')
        datas = [os.urandom(self.part_size) for _ in range(3)]
        datas.append(os.urandom(1000))
        whole = b''.join(datas)
        key = prefix + 'multipart \U0001F600'
        meta = metadata_mod.swift_to_remote(AWKWARD_METADATA)
        expected = multipart_etag([md5_hex(d) for d in datas])
        etag = provider.put_multipart(self.bucket, key, self._parts(datas),
                                      content_type='video/x-test',
                                      metadata=meta)
        assert etag == expected
        info = provider.head_object(self.bucket, key)
        assert info.etag == expected
        assert info.is_multipart
        assert info.size == len(whole)
        assert info.content_type == 'video/x-test'
        assert info.metadata == meta
        got = hashlib.md5(usedforsecurity=False)
        with provider.get_object(self.bucket, key) as body:
            for chunk in body:
                got.update(chunk)
        assert got.hexdigest() == md5_hex(whole)
        # a range across the first part boundary
        start = self.part_size - 10
        body = provider.get_object(self.bucket, key, range='bytes=%d-%d' % (
            start, start + 19))
        assert body.status == 206
        assert body.read_all() == whole[start:start + 20]
        # metadata changes keep the multipart ETag
        provider.update_metadata(self.bucket, key, content_type='text/x-new',
                                 metadata={'new': 'value'})
        info = provider.head_object(self.bucket, key)
        assert info.etag == expected
        assert info.metadata == {'new': 'value'}
        assert info.content_type == 'text/x-new'
        assert info.size == len(whole)

    def test_multipart_wrong_part_md5(self, provider, prefix):
        if not self.multipart:
            pytest.skip('the store has no multipart upload')
        datas = [os.urandom(self.part_size), b'tail']
        md5s = [md5_hex(datas[0]), md5_hex(b'not the tail')]
        key = prefix + 'bad-multipart'
        with pytest.raises(exceptions.ChecksumMismatch):
            provider.put_multipart(self.bucket, key,
                                   self._parts(datas, md5s))
        self.assert_missing(provider, key)

    def test_multipart_single_part(self, provider, prefix):
        if not self.multipart:
            pytest.skip('the store has no multipart upload')
        key = prefix + 'one-part'
        etag = provider.put_multipart(self.bucket, key,
                                      self._parts([b'only part']))
        assert etag == multipart_etag([md5_hex(b'only part')])
        assert self.get(provider, key) == b'only part'

    # -- ranges and conditions ---------------------------------------------

    def test_ranges(self, provider, prefix):
        data = bytes(range(100))
        key = prefix + 'ranged'
        self.put(provider, key, data)
        cases = [('bytes=0-9', 0, 9), ('bytes=90-', 90, 99),
                 ('bytes=-5', 95, 99), ('bytes=95-200', 95, 99),
                 ('bytes=10-10', 10, 10)]
        for header, first, last in cases:
            body = provider.get_object(self.bucket, key, range=header)
            assert body.status == 206, header
            assert body.content_range == 'bytes %d-%d/100' % (first, last)
            assert body.content_length == last - first + 1
            assert body.info.size == 100
            assert body.read_all() == data[first:last + 1], header
        for header in ('bytes=100-', 'bytes=200-300'):
            with pytest.raises(exceptions.RangeNotSatisfiable):
                provider.get_object(self.bucket, key, range=header)

    def test_conditionals(self, provider, prefix):
        data = b'conditional'
        key = prefix + 'conditional'
        etag = self.put(provider, key, data)
        other = '"%s"' % md5_hex(b'other')
        past = _http_date(time.time() - 86400 * 365)
        future = _http_date(time.time() + 86400 * 365)
        get = self.get
        assert get(provider, key, if_match='"%s"' % etag) == data
        assert get(provider, key, if_none_match=other) == data
        assert get(provider, key, if_modified_since=past) == data
        assert get(provider, key, if_unmodified_since=future) == data
        with pytest.raises(exceptions.PreconditionFailed):
            get(provider, key, if_match=other)
        with pytest.raises(exceptions.NotModified):
            get(provider, key, if_none_match='"%s"' % etag)
        with pytest.raises(exceptions.NotModified):
            get(provider, key, if_modified_since=future)
        with pytest.raises(exceptions.PreconditionFailed):
            get(provider, key, if_unmodified_since=past)

    # -- listings ----------------------------------------------------------

    def test_listing(self, provider, prefix):
        names = ['a', 'b/1', 'b/2', 'c/x/1', 'd', '\u00e9']
        for name in names:
            self.put(provider, prefix + name, name.encode('utf-8'))
        p = prefix
        page = provider.list_objects(self.bucket, prefix=p)
        assert [e.key for e in page.entries] == [p + n for n in names]
        assert not page.truncated
        assert all(not e.is_prefix for e in page.entries)
        assert [e.size for e in page.entries] == [
            len(n.encode('utf-8')) for n in names]
        assert all(e.last_modified > 0 for e in page.entries)

        page = provider.list_objects(self.bucket, prefix=p, delimiter='/')
        assert self.keys(page.entries) == [
            (p + 'a', False), (p + 'b/', True), (p + 'c/', True),
            (p + 'd', False), (p + '\u00e9', False)]
        assert not page.truncated

        page = provider.list_objects(self.bucket, prefix=p, delimiter='/',
                                     marker=p + 'b/')
        assert self.keys(page.entries) == [
            (p + 'c/', True), (p + 'd', False), (p + '\u00e9', False)]

        page = provider.list_objects(self.bucket, prefix=p + 'b/')
        assert [e.key for e in page.entries] == [p + 'b/1', p + 'b/2']

        page = provider.list_objects(self.bucket, prefix=p,
                                     marker=p + 'b/1')
        assert [e.key for e in page.entries] == [
            p + n for n in ('b/2', 'c/x/1', 'd', '\u00e9')]

        page = provider.list_objects(self.bucket, prefix=p + 'nothing')
        assert page.entries == [] and not page.truncated

        page = provider.list_objects(self.bucket, prefix=p, limit=2)
        assert [e.key for e in page.entries] == [p + 'a', p + 'b/1']
        assert page.truncated
        assert page.next_marker == p + 'b/1'

        # paging, one entry at a time, with and without a delimiter
        for delimiter, expected in (
                (None, [p + n for n in names]),
                ('/', [p + n for n in ('a', 'b/', 'c/', 'd', '\u00e9')])):
            seen, marker = [], None
            for _ in range(20):
                page = provider.list_objects(self.bucket, prefix=p,
                                             delimiter=delimiter,
                                             marker=marker, limit=1)
                assert len(page.entries) <= 1
                seen.extend(e.key for e in page.entries)
                if not page.truncated:
                    break
                marker = page.next_marker
            assert seen == expected
            assert [e.key for e in provider.list_all(
                self.bucket, prefix=p, delimiter=delimiter)] == expected

    def test_listing_etags(self, provider, prefix):
        self.put(provider, prefix + 'x', b'x')
        entry, = provider.list_all(self.bucket, prefix=prefix)
        # NOTE: some S3 clones list no ETags; an ETag given must be right.
        assert entry.etag in ('', md5_hex(b'x'))
        assert entry.size == 1

    # -- metadata updates, deletes, errors ---------------------------------

    def test_update_metadata(self, provider, prefix):
        data = os.urandom(1024)
        key = prefix + 'updated \u00e9'
        etag = self.put(provider, key, data, content_type='text/old',
                        metadata={'old': 'value'})
        meta = metadata_mod.swift_to_remote(AWKWARD_METADATA)
        provider.update_metadata(self.bucket, key, content_type='text/new',
                                 metadata=meta)
        info = provider.head_object(self.bucket, key)
        assert info.etag == etag
        assert info.size == len(data)
        assert info.content_type == 'text/new'
        assert info.metadata == meta
        assert self.get(provider, key) == data
        # and back to no metadata at all
        provider.update_metadata(self.bucket, key, content_type='text/new',
                                 metadata={})
        info = provider.head_object(self.bucket, key)
        assert info.metadata == {}
        assert info.etag == etag

    def test_update_metadata_moves_no_data(self, provider, prefix):
        # NOTE: random bytes, which no transport compresses
        data = os.urandom(MiB)
        key = prefix + 'no data moved'
        etag = self.put(provider, key, data, metadata={'old': 'value'})
        fresh = self.make_provider()
        try:
            calls = CallCounter(fresh)
            with WireCounter() as wire:
                fresh.update_metadata(self.bucket, key,
                                      content_type='text/new',
                                      metadata={'new': 'value'})
        finally:
            fresh.close()
        assert calls.calls == [], (
            'update_metadata read or wrote the object through the '
            'provider: %s' % calls.calls)
        # a copy request and its answer are a few KiB; the object is 1 MiB
        limit = len(data) // 8
        assert wire.sent < limit and wire.received < limit, (
            'update_metadata sent %d and received %d bytes for an object '
            'of %d' % (wire.sent, wire.received, len(data)))
        info = provider.head_object(self.bucket, key)
        assert info.metadata == {'new': 'value'}
        assert info.etag == etag and info.size == len(data)

    def test_update_metadata_missing(self, provider, prefix):
        with pytest.raises(exceptions.NotFound):
            provider.update_metadata(self.bucket, prefix + 'missing',
                                     content_type='text/plain',
                                     metadata={'a': 'b'})

    def test_delete(self, provider, prefix):
        key = prefix + 'deleted'
        self.put(provider, key, b'delete me')
        assert provider.delete_object(self.bucket, key) is True
        self.assert_missing(provider, key)
        # a missing object is not an error
        assert provider.delete_object(self.bucket, key) in (True, False)
        assert provider.delete_object(
            self.bucket, prefix + 'never-there') in (True, False)

    def test_missing_object(self, provider, prefix):
        key = prefix + 'missing'
        self.assert_missing(provider, key)
        with pytest.raises(exceptions.NotFound):
            provider.get_object(self.bucket, key)
        with pytest.raises(exceptions.NotFound):
            provider.get_object(self.bucket, key, range='bytes=0-1')

    def test_missing_bucket(self, provider):
        missing = 'cloudsync-missing-%s' % uuid.uuid4().hex[:16]
        with pytest.raises(exceptions.TargetNotFound):
            provider.check_target(missing)
        with pytest.raises(exceptions.TargetNotFound):
            provider.list_objects(missing)

    def test_bad_credentials(self, provider):
        secret = 'cloudsync-WRONG-%s' % uuid.uuid4().hex
        bad = self.make_bad_provider(secret)
        if bad is None:
            pytest.skip('no provider with bad credentials for this store')
        try:
            for call in (lambda: bad.check_target(self.bucket),
                         lambda: bad.head_object(self.bucket, 'any'),
                         lambda: bad.put_object(self.bucket, 'any', b'x',
                                                1)):
                with pytest.raises(exceptions.AuthError) as info:
                    call()
                exc = info.value
                text = ''.join(traceback.format_exception(
                    type(exc), exc, exc.__traceback__))
                for shown in (str(exc), repr(exc), exc.message, text):
                    assert secret not in shown
            assert secret not in bad.location(self.bucket)
        finally:
            bad.close()

    def test_location(self, provider):
        location = provider.location(self.bucket)
        assert self.bucket in location
        secret = getattr(provider.conf, 'secret_key', None)
        if secret:
            assert secret not in location

    def test_set_expiration(self, provider):
        if not self.expiration:
            pytest.skip('expiration test turned off')
        try:
            provider.set_expiration(self.bucket, EXPIRING_PREFIX,
                                    3 * 86400)
        except exceptions.NotSupported:
            pytest.skip('the store cannot expire objects')
        again = provider.set_expiration(self.bucket, EXPIRING_PREFIX,
                                        3 * 86400)
        # NOTE: providers that say whether they changed anything must say
        # that nothing changed the second time (the expiry must not slide).
        assert again in (None, False)

    # -- concurrency and connections ---------------------------------------

    def test_concurrent_use(self, provider, prefix):
        datas = {prefix + 'thread-%d' % i: os.urandom(1000 + i)
                 for i in range(12)}
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            etags = dict(zip(datas, pool.map(
                lambda kv: provider.put_object(
                    self.bucket, kv[0], kv[1], len(kv[1]),
                    md5=md5_hex(kv[1])), datas.items())))
            bodies = dict(zip(datas, pool.map(
                lambda k: self.get(provider, k), datas)))
        for key, data in datas.items():
            assert etags[key] == md5_hex(data)
            assert bodies[key] == data

    def test_close_body_early(self, provider, prefix):
        data = os.urandom(2 * MiB)
        key = prefix + 'closed-early'
        self.put(provider, key, data)
        for _ in range(provider.max_connections + 2):
            body = provider.get_object(self.bucket, key)
            first = next(iter(body))
            assert data.startswith(first)
            body.close()
        assert self.get(provider, key) == data
