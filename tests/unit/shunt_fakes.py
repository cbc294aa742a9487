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
"""A Swift proxy and a remote for the cloud shunt's unit tests.

:class:`LocalSwift` is the proxy pipeline below the shunt: the in-memory
cluster of :mod:`tests.unit.fakes`, with container listings made by a
real Swift container database (Swift's own ``list_objects_iter``, so
prefix, delimiter, markers, limit and reverse are Swift's), and SLO
manifest PUTs (``?multipart-manifest=put``) checked and stored as Swift's
SLO middleware does. :class:`ShuntWorld` puts a shunt in front of it,
with a :class:`ChunkedProvider` remote, and archives objects with the
daemon's own :class:`~cloudsync.sync.propagate.RowPropagator`.
"""

import atexit
import builtins
import hashlib
import json
import logging
import os
import shutil
import tempfile
import traceback

from swift.common import request_helpers
from swift.common import swob
from swift.common import utils as swift_utils
from swift.container import backend as container_backend

from cloudsync import conf as conf_mod
from cloudsync import large_objects
from cloudsync import lifecycle
from cloudsync import listing
from cloudsync import providers
from cloudsync.shunt import config as shunt_config
from cloudsync.shunt import middleware as shunt
from cloudsync import stubs
from cloudsync.sync import propagate
from tests.unit import fakes

ACCOUNT = 'AUTH_test'
CONTAINER = 'archive'
BUCKET = 'bkt'
ARCHIVE = lifecycle.Decision(lifecycle.Action.ARCHIVE)
OVERRIDE_PREFIX = 'x-object-sysmeta-container-update-override-'


def md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


_BROKER = []


def _broker():
    """One container database for the whole test run.

    Making one per listing (with its fsync) would take most of the tests'
    time.
    """
    if not _BROKER:
        path = os.path.join(tempfile.mkdtemp(prefix='shunt-tests-'),
                            'listing.db')
        atexit.register(shutil.rmtree, os.path.dirname(path), True)
        broker = container_backend.ContainerBroker(
            path, account=ACCOUNT, container=CONTAINER)
        broker.initialize(swift_utils.Timestamp.now().internal, 0)
        _BROKER.append(broker)
    return _BROKER[0]


def swift_listing(tmp_path, entries, params):
    """What Swift's container server lists for ``entries``.

    :param entries: ``{name: dict(hash, bytes, content_type, timestamp)}``.
    :param params: native-string query parameters.
    """
    broker = _broker()
    with broker.get() as conn:
        conn.execute('DELETE FROM object')
        conn.commit()
    broker.merge_items([{
        'name': name,
        'created_at': swift_utils.Timestamp(entry['timestamp']).internal,
        'size': entry['bytes'], 'content_type': entry['content_type'],
        'etag': entry['hash'], 'deleted': 0, 'storage_policy_index': 0}
        for name, entry in entries.items()])
    limit = params.get('limit', 10000)
    records = broker.list_objects_iter(
        limit, params.get('marker', ''), params.get('end_marker'),
        params.get('prefix'), params.get('delimiter'), params.get('path'),
        reverse=swift_utils.config_true_value(params.get('reverse')))
    listing_ = []
    for record in records:
        name, created, size, content_type, etag = record[:5]
        if content_type is None:
            listing_.append({'subdir': name})
            continue
        item = {'bytes': size, 'hash': etag, 'name': name,
                'content_type': content_type}
        swift_utils.override_bytes_from_content_type(item)
        item['last_modified'] = swift_utils.Timestamp(created).isoformat
        listing_.append(item)
    return listing_


class LocalSwift(fakes.FakeSwift):
    """The pipeline below the shunt; see the module docstring."""

    def __init__(self, tmp_path):
        super().__init__()
        self.tmp_path = tmp_path
        #: ``{method: status}`` answered instead (an auth middleware
        #: refusing, a failing cluster)
        self.refuse = {}

    def __call__(self, env, start_response):
        req = swob.Request(env)
        status = self.refuse.get(req.method)
        if status and not req.environ.get('swift.authorize_override'):
            self.requests.append(fakes.Request(
                req.method, None, None, None, dict(req.headers), {}))
            return swob.Response(status=status, request=req)(
                env, start_response)
        if req.method == 'GET' and req.path_info.startswith('/v1/.') and \
                req.path_info.rstrip('/').count('/') == 2:
            return self._account_GET(req)(env, start_response)
        return super().__call__(env, start_response)

    def _account_GET(self, req):
        """The containers of a hidden account (one Swift creates on its
        first container, such as the shunt's), as Swift lists them.
        """
        account = swob.wsgi_to_str(req.path_info.rstrip('/').split('/')[2])
        self.requests.append(fakes.Request(
            'GET', account, None, None, dict(req.headers), {}))
        marker = swob.wsgi_to_str(req.params.get('marker', ''))
        names = sorted(c for a, c in self.containers
                       if a == account and c > marker)
        body = json.dumps([{'name': n, 'count': 0, 'bytes': 0}
                           for n in names])
        return swob.Response(request=req, body=body.encode('utf-8'),
                             content_type='application/json; charset=utf-8')

    def entries(self, account, container):
        result = {}
        for name, record in self._listing(account, container):
            # NOTE: as Swift's object server updates the container: with
            # the container update overrides an object carries (a stub's).
            overrides = {k.lower(): v for k, v in record.headers.items()
                         if k.lower().startswith(OVERRIDE_PREFIX)}
            content_type = overrides.get(
                OVERRIDE_PREFIX + 'content-type', record.content_type)
            _ctype, swift_bytes = swift_utils.extract_swift_bytes(
                content_type)
            size = overrides.get(OVERRIDE_PREFIX + 'size')
            result[name] = {
                'hash': overrides.get(OVERRIDE_PREFIX + 'etag', record.etag),
                'bytes': (int(swift_bytes) if swift_bytes is not None
                          else int(size) if size is not None
                          else len(record.body)),
                'content_type': content_type,
                'timestamp': float(record.data_timestamp)}
        return result

    def _container_GET(self, req, account, container, obj, params):
        if (account, container) not in self.containers:
            return swob.HTTPNotFound(request=req)
        try:
            checked = request_helpers.validate_container_params(req)
        except swob.HTTPException as err:
            return err
        body = json.dumps(swift_listing(
            self.tmp_path, self.entries(account, container), checked))
        count = len(self.entries(account, container))
        return swob.Response(
            request=req, body=body.encode('ascii'),
            content_type='application/json; charset=utf-8',
            headers={'X-Container-Object-Count': str(count),
                     'X-Trans-Id': 'tx-listing'})

    def _object_PUT(self, req, account, container, obj, params):
        if account.startswith('.') and \
                (account, container) not in self.containers:
            # NOTE: as Swift: no object without its container (the fake
            # creates them for the accounts of the tests)
            return swob.HTTPNotFound(request=req)
        if params.get('multipart-manifest') == 'put':
            return self._slo_put(req, account, container, obj)
        if req.headers.get('If-None-Match') == '*' and \
                self.get(account, container, obj) is not None:
            return swob.HTTPPreconditionFailed(request=req)
        return super()._object_PUT(req, account, container, obj, params)

    def _slo_put(self, req, account, container, obj):
        """As Swift's SLO middleware checks and stores a manifest."""
        segments = json.loads(req.body)
        paths = []
        for seg in segments:
            seg_container, seg_obj = seg['path'].lstrip('/').split('/', 1)
            record = self.get(account, seg_container, seg_obj)
            if record is None or (seg.get('etag') and
                                  seg['etag'] != record.etag) or (
                    seg.get('size_bytes') is not None and
                    seg['size_bytes'] != len(record.body)):
                return swob.HTTPBadRequest(request=req,
                                           body=b'bad segment')
            paths.append('%s/%s' % (seg_container, seg_obj))
        slo_etag = md5(''.join(s['etag'] for s in segments).encode())
        client_etag = swob.normalize_etag(req.headers.get('Etag'))
        if client_etag and client_etag != slo_etag:
            return swob.HTTPUnprocessableEntity(request=req)
        ts = self._request_timestamp(req)
        old = self.objects.get((account, container, obj))
        if old is not None and (old.data_timestamp if isinstance(
                old, fakes.SwiftObject) else old.timestamp) >= ts:
            return swob.HTTPConflict(request=req)
        headers = {k: swob.wsgi_to_str(v) for k, v in req.headers.items()
                   if k.lower().startswith('x-object-meta-')}
        content_type = swob.wsgi_to_str(
            req.headers.get('Content-Type', 'application/octet-stream'))
        self.put_slo(account, container, obj, paths, headers=headers,
                     timestamp=ts, content_type=content_type)
        return swob.HTTPCreated(request=req)

    def _object_GET(self, req, account, container, obj, params):
        resp = super()._object_GET(req, account, container, obj, params)
        if resp.status_int == 404 and req.if_match and '*' in req.if_match:
            # NOTE: what Swift's object server answers
            return swob.HTTPPreconditionFailed(request=req)
        if 'Etag' in resp.headers:
            # NOTE: Swift's proxy sends the ETag of a plain object without
            # quotes.
            resp.headers['Etag'] = swob.normalize_etag(resp.headers['Etag'])
        return resp


class ChunkedProvider(fakes.FakeProvider):
    """The in-memory remote, sending bodies in ``chunk_size`` chunks."""

    def __init__(self, *args, chunk_size=4, **kwargs):
        super().__init__(*args, **kwargs)
        self.chunk_size = chunk_size
        self.closed_bodies = 0

    def get_object(self, bucket, key, range=None, **kwargs):
        body = super().get_object(bucket, key, range=range, **kwargs)
        data = b''.join(body)
        size = self.chunk_size
        chunks = [data[i:i + size]
                  for i in builtins.range(0, len(data), size)]

        def close():
            self.closed_bodies += 1
        return providers.ObjectBody(
            body.info, chunks, status=body.status,
            content_range=body.content_range,
            content_length=body.content_length, close=close)

    def location(self, bucket):
        return 'https://remote.example.com;%s' % bucket


class ExpiringProvider(ChunkedProvider, fakes.ExpiringProvider):
    """A remote with per-object expiry, as a Swift remote has."""


def provider_class(instance):
    """A provider class whose instances are all ``instance``."""
    class Shared(fakes.FakeProvider):
        OPTIONS = []

        def __new__(cls, *args, **kwargs):
            return instance
    return Shared


class ListLogger(object):
    """A logger that keeps what it is given."""

    def __init__(self):
        self.lines = []

    def _log(self, level, msg, *args, **kwargs):
        self.lines.append((level, msg % args if args else msg))

    def error(self, msg, *args, **kwargs):
        self._log('error', msg, *args)

    def warning(self, msg, *args, **kwargs):
        self._log('warning', msg, *args)

    def info(self, msg, *args, **kwargs):
        self._log('info', msg, *args)

    def debug(self, msg, *args, **kwargs):
        self._log('debug', msg, *args)

    def exception(self, msg, *args, **kwargs):
        self._log('error', (msg % args if args else msg) + '\n' +
                  traceback.format_exc())

    def text(self, level=None):
        return '\n'.join(m for lvl, m in self.lines
                         if level is None or lvl == level)


def make_config(provider, **options):
    remote = conf_mod.Remote(name='fake', section='remote:fake',
                             provider_name='fake',
                             provider_cls=provider_class(provider),
                             conf=fakes.FakeConf())
    lifecycle_name = options.pop('lifecycle', 'archive')
    values = dict(
        name='archive', section='mapping:archive', account=ACCOUNT,
        container=CONTAINER, remote=remote, bucket=BUCKET,
        lifecycle=lifecycle_name, listing='merge',
        # NOTE: the shunt's tests of objects archived by deleting them pin
        # it; tests of stubs ask for archive_as='stub'.
        archive_as='delete',
        lifecycle_cls=(lifecycle.ArchivePolicy if lifecycle_name == 'archive'
                       else lifecycle.SyncPolicy),
        listing_cls=listing.MergeListing)
    values.update(options)
    mapping = conf_mod.Mapping(**values)
    return conf_mod.Config(None, {'fake': remote}, [mapping])


class StaticConfig(shunt_config.ShuntConfig):
    """A :class:`ShuntConfig` that never reads a file."""

    def __init__(self, config, logger):
        self.config = config
        self.logger = logger
        self.version = 0

    def get(self):
        return self.config


class ShuntWorld(object):
    """A shunt in front of a :class:`LocalSwift`, with a remote."""

    def __init__(self, tmp_path, shunt_conf=None, provider_cls=None,
                 **mapping_options):
        self.tmp_path = tmp_path
        self.swift = LocalSwift(tmp_path)
        self.swift.create_container(ACCOUNT, CONTAINER)
        self.provider = (provider_cls or ChunkedProvider)()
        self.provider.buckets[BUCKET] = {}
        self.provider.MIN_PART_SIZE = 4
        self.logger = ListLogger()
        self.config = make_config(self.provider, **mapping_options)
        self.mapping = self.config.mappings[0]
        self.layout = self.mapping.remote_layout(CONTAINER)
        self.shunt = shunt.CloudShuntMiddleware(
            self.swift, dict(shunt_conf or {}),
            StaticConfig(self.config, self.logger), logger=self.logger)
        self.propagator = propagate.RowPropagator(
            self.mapping, ACCOUNT, CONTAINER, self.provider,
            fakes.FakeInternalClient(self.swift),
            logger=logging.getLogger('test-propagate'))

    # -- the local cluster and the remote ------------------------------------

    def put(self, name, body=b'data', headers=None, **kwargs):
        return self.swift.put(ACCOUNT, CONTAINER, name, body, headers,
                              **kwargs)

    def put_slo(self, name, parts, headers=None,
                content_type='application/octet-stream'):
        paths = []
        for index, data in enumerate(parts):
            seg = '%s/%08d' % (name, index)
            self.swift.put(ACCOUNT, CONTAINER + '_segments', seg, data)
            paths.append('%s_segments/%s' % (CONTAINER, seg))
        return self.swift.put_slo(ACCOUNT, CONTAINER, name, paths,
                                  headers=headers, content_type=content_type)

    def row(self, name):
        record = self.swift.objects[(ACCOUNT, CONTAINER, name)]
        return lifecycle.Row(
            name=name, row_id=1, timestamp=record.data_timestamp,
            meta_timestamp=record.meta_timestamp, size=len(record.body),
            etag=record.etag, content_type=record.content_type)

    def archive(self, *names):
        """Archive objects as the daemon does: copy, verify, then delete
        the object or leave its stub (``archive_as``).
        """
        for name in names:
            outcome = self.propagator.handle(self.row(name), ARCHIVE)
            assert outcome is propagate.Outcome.ARCHIVED, (name, outcome)
            left = self.swift.get(ACCOUNT, CONTAINER, name)
            if self.mapping.archives_as_stubs:
                assert left is not None and stubs.is_stub(left.headers)
            else:
                assert left is None

    def key(self, name):
        return self.layout.object_key(name)

    def remote(self, name):
        return self.provider.buckets[BUCKET].get(self.key(name))

    def remote_only(self, name, data=b'remote', content_type=None,
                    metadata=None):
        """An object only the remote has (written by another writer)."""
        self.provider.put_raw(BUCKET, self.key(name), data,
                              content_type=content_type, metadata=metadata)

    # -- requests ------------------------------------------------------------

    def request(self, path, method='GET', headers=None, app=None,
                **kwargs):
        """Send a request through the shunt.

        :returns: the swob Response, its body read.
        """
        req = swob.Request.blank(path, method=method, headers=headers or {},
                                 **kwargs)
        req.environ['swift.trans_id'] = 'tx-test'
        resp = req.get_response(app or self.shunt)
        resp.body  # read it all, closing the app_iter
        return resp

    def obj(self, name, method='GET', headers=None, **kwargs):
        path = swob.wsgi_quote(swob.str_to_wsgi(
            '/v1/%s/%s/%s' % (ACCOUNT, CONTAINER, name)))
        return self.request(path, method, headers, **kwargs)

    def listing(self, app=None, **params):
        query = '&'.join('%s=%s' % (k, swob.wsgi_quote(
            swob.str_to_wsgi(str(v)), safe='')) for k, v in params.items())
        return self.request('/v1/%s/%s?%s' % (ACCOUNT, CONTAINER, query),
                            app=app)


def multipart_etag(parts):
    return large_objects.multipart_etag([md5(p) for p in parts])
