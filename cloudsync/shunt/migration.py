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
"""Live reads of migrating containers.

For a container that a ``[migration:NAME]`` section brings into Swift
(see :mod:`cloudsync.migrate`), users read through Swift from the first
minute:

* an object GET or HEAD that Swift answers is Swift's answer, whatever it
  is (Swift's copy, or anything a Swift user wrote, wins; a 401 or 403
  stays one);
* one that Swift answers with 404 is read from the source, with Swift's
  headers (content type, ETag, ``Last-Modified``, ``X-Timestamp``, user
  metadata), ranges and conditional requests, unless Swift holds a
  deletion of it (an object deleted through Swift stays deleted) or the
  migration's ``prefix`` leaves it out. Swift's proxy authorizes a request
  before it looks for the object, so a 404 was authorized by the
  container's ACLs: nothing is served that Swift would have refused;
* a Swift source's symlink not migrated yet is followed as Swift's
  ``symlink`` middleware follows one: its target is read through the
  shunt (Swift's copy, or the source's), with ``Content-Location``; a
  static link's target must have its ETag (else 409); ``?symlink=get``
  answers for the link itself, with ``X-Symlink-Target`` naming the
  target where the migrator puts it;
* a container GET lists Swift's objects and the source's, merged in
  Swift's order (Swift's entry wins on a name in both), also before the
  migrator has created the container. Swift authorizes a container GET
  after it answered, so its 404 too was authorized.

* an account GET lists, besides Swift's containers, the containers the
  account's migrations will create (empty until they are), also in
  reverse order and, with a ``delimiter``, under their ``subdir``.

Writes, deletes and the other methods are Swift's alone.
"""

import email.utils
import json
import urllib.parse

from swift.common import constraints
from swift.common import request_helpers
from swift.common import swob
from swift.common import utils as swift_utils
from swift.common import wsgi as swift_wsgi

from cloudsync import exceptions
from cloudsync import layout as layout_mod
from cloudsync import listing as listing_mod
from cloudsync import metadata as metadata_mod
from cloudsync.migrate import source as migrate_source
from cloudsync.shunt import listing as shunt_listing

_CONDITIONS = (('If-Match', 'if_match'), ('If-None-Match', 'if_none_match'),
               ('If-Modified-Since', 'if_modified_since'),
               ('If-Unmodified-Since', 'if_unmodified_since'))

#: chained source symlinks followed at most, as Swift's ``symloop_max``
SYMLOOP_MAX = 2
_SYMLOOP_KEY = 'cloudsync.migration.symloop'


def _route(shunt, req):
    """``(migration, bucket, account, container, obj)`` of a request for
    a migrating container, or None.
    """
    try:
        version, account, container, obj = req.split_path(2, 4, True)
    except ValueError:
        return None
    if not container or not constraints.valid_api_version(version):
        return None
    try:
        constraints.check_utf8(swob.wsgi_to_str(req.path_info),
                               internal=req.allow_reserved_names)
    except UnicodeError:
        return None
    account = swob.wsgi_to_str(account)
    container = swob.wsgi_to_str(container)
    obj = swob.wsgi_to_str(obj) if obj else None
    config = shunt.config.get()
    migration = config.migration_for(account, container)
    if migration is None:
        return None
    mapping = config.mapping_for(account, container)
    if mapping is not None and mapping.shunted:
        # NOTE(cloudsync): a container that also archives is the archive
        # reads' (its stubs must be resolved); the migration is not served.
        return None
    bucket = migration.source_bucket(container)
    if bucket is None:
        return None
    if obj is not None and (layout_mod.is_reserved_name(obj) or
                            not obj.startswith(migration.prefix)):
        return None
    return migration, bucket, account, container, obj


def _account_migrations(shunt, req):
    """The migrations into the account of an account GET, or []."""
    try:
        version, account, container = req.split_path(2, 3, True)
    except ValueError:
        return []
    if container or not constraints.valid_api_version(version):
        return []
    account = swob.wsgi_to_str(account)
    return [m for m in shunt.config.get().migrations
            if m.account == account]


def serve(shunt, req, start_response):
    """Answer a GET or HEAD of a migrating container, or return None for
    any other request (the shunt then goes on as usual).

    :param shunt: the :class:`~cloudsync.shunt.middleware.
        CloudShuntMiddleware` the request came through.
    """
    if req.method not in ('GET', 'HEAD'):
        return None
    if req.method == 'GET':
        migrations = _account_migrations(shunt, req)
        if migrations:
            return AccountListing(shunt, migrations).listing(
                req, start_response)
    found = _route(shunt, req)
    if found is None:
        return None
    reads = MigrationReads(shunt, *found)
    if reads.obj is not None:
        return reads.object(req, start_response)
    if req.method == 'GET' and 'path' not in req.params:
        return reads.listing(req, start_response)
    return None


def _wsgi_headers(headers):
    return [(k, swob.str_to_wsgi(str(v))) for k, v in headers.items()]


class MigrationReads(object):
    """The reads of one request for a migrating container."""

    def __init__(self, shunt, migration, bucket, account, container, obj):
        self.shunt = shunt
        self.migration = migration
        self.bucket = bucket
        self.account = account
        self.container = container
        self.obj = obj

    @property
    def name(self):
        return '/'.join(p for p in (self.account, self.container, self.obj)
                        if p)

    # -- objects -----------------------------------------------------------

    def object(self, req, start_response):
        answer = None
        local = self.shunt.local(req.environ)
        if local.status_int != 404 or local.tombstone() is not None:
            return local.respond(start_response)
        provider = self.shunt.provider(self.migration)
        try:
            if req.method == 'HEAD' or self._may_be_link(req):
                info = provider.head_object(self.bucket, self.obj)
                answer = self._follow(req, info)
                if answer is None and req.method == 'HEAD':
                    answer = self._head(req, info, local)
            if answer is None:
                answer = self._get(req, provider, local)
        except exceptions.NotFound:
            return local.respond(start_response)
        except exceptions.PreconditionFailed:
            answer = swob.HTTPPreconditionFailed(
                request=req, headers=local.trans_headers())
        except exceptions.NotModified:
            answer = swob.HTTPNotModified(request=req,
                                          headers=local.trans_headers())
        except exceptions.RangeNotSatisfiable:
            answer = swob.HTTPRequestedRangeNotSatisfiable(
                request=req, headers=local.trans_headers())
        except exceptions.RemoteError as exc:
            self.shunt.remote_failed(req, self, '%s from the migration '
                                     'source' % req.method, exc)
            answer = self.shunt.unavailable(req, local)
        swift_utils.close_if_possible(local.body)
        return self.shunt.send(answer, req, start_response)

    def _headers(self, info, local):
        headers = {
            'Content-Type': info.content_type or 'application/octet-stream',
            'Etag': '"%s"' % info.etag,
            'Last-Modified': email.utils.formatdate(
                info.last_modified, usegmt=True),
            'X-Timestamp': swift_utils.Timestamp(info.last_modified).normal,
            'Accept-Ranges': 'bytes',
        }
        for key, value in (info.content_headers or {}).items():
            headers[key.title()] = value
        if self.migration.source_is_swift and info.expires_at:
            headers['X-Delete-At'] = str(int(info.expires_at))
        if info.symlink_target:
            headers.update(self._link_headers(info))
        headers.update(metadata_mod.remote_to_swift(info.metadata or {}))
        if info.is_multipart:
            # NOTE(cloudsync): as it will be once migrated; Swift clients
            # then do not check the ETag against the body's MD5.
            headers['X-Static-Large-Object'] = 'True'
        headers.update(local.trans_headers())
        return headers

    def _head(self, req, info, local):
        resp = swob.Response(request=req, conditional_response=True)
        for key, value in _wsgi_headers(self._headers(info, local)):
            resp.headers[key] = value
        resp.etag = info.etag
        resp.last_modified = int(info.last_modified)
        resp.content_length = info.size
        return resp

    def _get(self, req, provider, local):
        conditions = {arg: req.headers[header]
                      for header, arg in _CONDITIONS if header in req.headers}
        body = provider.get_object(self.bucket, self.obj,
                                   range=req.headers.get('Range'),
                                   **conditions)
        followed = self._follow(req, body.info)
        if followed is not None:
            body.close()
            return followed
        headers = self._headers(body.info, local)
        headers['Content-Length'] = str(body.content_length)
        if body.status == 206 and body.content_range:
            headers['Content-Range'] = body.content_range

        def answer(env, start_response):
            status = '206 Partial Content' if body.status == 206 else \
                '200 OK'
            start_response(status, _wsgi_headers(headers))
            if req.method == 'HEAD':
                body.close()
                return []
            return _ClosingBody(body)
        return answer

    # -- symlinks ------------------------------------------------------------

    def _may_be_link(self, req):
        """Whether a GET must look at the source object first: its range
        or conditions would be applied to a link's empty body.
        """
        return self.migration.source_is_swift and any(
            header in req.headers for header, _ in _CONDITIONS + (
                ('Range', None),))

    def _link_target(self, info):
        """``(container, object)`` in Swift of a source symlink's target
        (where the migrator puts it), or None for a link to another
        account (not migrated).
        """
        account = info.symlink_target_account
        if account:
            source_account = getattr(getattr(
                self.migration.remote, 'conf', None), 'remote_account', None)
            if source_account and urllib.parse.unquote(
                    account) != source_account:
                return None
        container, _, name = info.symlink_target.partition('/')
        if container == self.bucket:
            container = self.container
        return container, name

    def _link_headers(self, info):
        """A symlink's headers as Swift gives them with ``?symlink=get``."""
        target = self._link_target(info)
        if target is None:
            return {}
        headers = {'X-Symlink-Target': urllib.parse.quote(
            '/'.join(target), safe='/'),
            'X-Symlink-Target-Account': urllib.parse.quote(self.account)}
        if info.symlink_target_etag:
            headers['X-Symlink-Target-Etag'] = info.symlink_target_etag
        return headers

    def _follow(self, req, info):
        """The answer for a GET or HEAD of source symlink ``info``, as
        Swift's ``symlink`` middleware gives it: its target's (read
        through the shunt: Swift's copy, or the source's), with
        ``Content-Location``; None when ``info`` is not a link or the
        request asks for the link itself (``?symlink=get``).
        """
        if not info.symlink_target or req.params.get('symlink') == 'get':
            return None
        target = self._link_target(info)
        if target is None:
            return None
        loops = req.environ.get(_SYMLOOP_KEY, 0)
        if loops >= SYMLOOP_MAX:
            return swob.HTTPConflict(
                request=req, content_type='text/plain',
                body='Too many levels of symbolic links, maximum allowed '
                     'is %d' % SYMLOOP_MAX)
        location = '/%s/%s/%s' % (
            req.split_path(2, 4, True)[0],
            urllib.parse.quote(self.account),
            urllib.parse.quote('/'.join(target), safe='/'))
        sub = swift_wsgi.make_subrequest(
            req.environ, path=urllib.parse.unquote(location),
            method=req.method, headers=dict(req.headers),
            swift_source='SYM')
        sub.environ[_SYMLOOP_KEY] = loops + 1
        resp = sub.get_response(self.shunt)
        wanted = info.symlink_target_etag
        if wanted and resp.is_success and not swift_utils.config_true_value(
                resp.headers.get('X-Static-Large-Object')) and \
                swob.normalize_etag(resp.headers.get('Etag')) != wanted:
            swift_utils.close_if_possible(resp.app_iter)
            return swob.HTTPConflict(
                request=req, content_type='text/plain',
                headers={'Content-Location': location},
                body='Object Etag %r does not match X-Symlink-Target-Etag '
                     'header %r' % (swob.normalize_etag(
                         resp.headers.get('Etag')), wanted))
        if 'Content-Location' not in resp.headers:
            resp.headers['Content-Location'] = location
        return resp

    # -- listings ------------------------------------------------------------

    def listing(self, req, start_response):
        params = req.params
        params['format'] = 'json'
        req.params = params
        local = self.shunt.local(req.environ).read()
        if local.status_int not in (200, 404):
            return local.respond(start_response)
        entries = []
        try:
            if local.status_int == 200:
                entries = shunt_listing.read_answer(local)
            params = shunt_listing.ListingParams(
                request_helpers.validate_container_params(req))
        except (ValueError, swob.HTTPException):
            return local.respond(start_response)
        provider = self.shunt.provider(self.migration)
        remote = shunt_listing.RemoteListing(
            provider, self.bucket, layout_mod.RemoteLayout(
                self.account, self.container, layout='native'))
        merger = listing_mod.MergeListing(self.migration)
        try:
            sizer = shunt_listing.PageSizer(params.limit, len(entries))
            floor = None
            if params.reverse and entries and len(entries) >= params.limit:
                floor = listing_mod.entry_key(entries[-1])
            remote_entries = self._in_prefix(
                remote.entries(params, sizer, floor))
            listing = shunt_listing.merge(
                merger, entries, remote_entries, params,
                provider.location(self.bucket), sizer)
        except exceptions.NotFound:
            return local.respond(start_response)
        except exceptions.RemoteError as exc:
            self.shunt.remote_failed(req, self, 'listing the migration '
                                     'source', exc)
            listing = entries
        body = json.dumps(listing).encode('ascii')
        if local.status_int == 200:
            headers = swob.HeaderKeyDict(local.headers)
        else:
            headers = swob.HeaderKeyDict(local.trans_headers())
            headers['Content-Type'] = 'application/json; charset=utf-8'
        headers['Content-Length'] = str(len(body))
        start_response('200 OK', list(headers.items()))
        return [body]

    def _in_prefix(self, entries):
        prefix = self.migration.prefix
        for entry in entries:
            name = entry.get('name') or entry.get('subdir') or ''
            if name.startswith(prefix) or (
                    'subdir' in entry and prefix.startswith(name)):
                yield entry


class AccountListing(object):
    """An account listing with the containers migrations will create:
    every migrated container Swift does not have yet is listed, empty.
    """

    def __init__(self, shunt, migrations):
        self.shunt = shunt
        self.migrations = migrations

    def _coming(self):
        names = set()
        for migration in self.migrations:
            if not migration.every_bucket:
                names.add(migration.target_container(migration.bucket))
                continue
            provider = self.shunt.provider(migration)
            source = migrate_source.MigrationSource(migration, provider)
            try:
                names.update(source.buckets())
            except (exceptions.RemoteError, exceptions.NotSupported) as exc:
                self.shunt.logger.warning(
                    'cloud_shunt: cannot list the buckets of migration '
                    '%s: %s', migration.name, exc)
        return names

    def listing(self, req, start_response):
        params = req.params
        params['format'] = 'json'
        req.params = params
        local = self.shunt.local(req.environ).read()
        if not local.is_success:
            return local.respond(start_response)
        try:
            entries = json.loads(local.body[0]) if local.body[0] else []
            if not isinstance(entries, list):
                raise ValueError('not a JSON listing')
            limit = int(params.get('limit') or
                        constraints.ACCOUNT_LISTING_LIMIT)
        except ValueError:
            return local.respond(start_response)
        merged = _merge_containers(
            entries, self._coming(), params.get('prefix') or '',
            params.get('delimiter') or '', params.get('marker') or '',
            params.get('end_marker') or '',
            swift_utils.config_true_value(params.get('reverse')))
        body = json.dumps(merged[:limit]).encode('ascii')
        headers = swob.HeaderKeyDict(local.headers)
        headers['Content-Type'] = 'application/json; charset=utf-8'
        headers['Content-Length'] = str(len(body))
        start_response('200 OK', list(headers.items()))
        return [body]


def _entry_name(entry):
    return entry.get('name') or entry.get('subdir') or ''


def _merge_containers(entries, coming, prefix, delimiter, marker,
                      end_marker, reverse):
    """Swift's account listing ``entries`` with the containers ``coming``
    that it lacks, each listed empty (or, with ``delimiter``, as the
    ``subdir`` it falls under), within the listing's ``prefix``,
    ``marker`` and ``end_marker``, in Swift's order (``reverse``).
    """
    have = {_entry_name(e) for e in entries}
    extra = {}
    for name in coming:
        if not name.startswith(prefix):
            continue
        entry = {'name': name, 'count': 0, 'bytes': 0}
        if delimiter and delimiter in name[len(prefix):]:
            rest = name[len(prefix):]
            subdir = prefix + rest[:rest.index(delimiter) + len(delimiter)]
            entry = {'subdir': subdir}
            name = subdir
        if name in have:
            continue
        if reverse:
            inside = (not marker or name < marker) and (
                not end_marker or name > end_marker)
        else:
            inside = name > marker and (not end_marker or name < end_marker)
        if inside:
            extra[name] = entry
    return sorted(entries + list(extra.values()), key=_entry_name,
                  reverse=reverse)


class _ClosingBody(object):
    """A source body as a WSGI app_iter, closed when the client is done."""

    def __init__(self, body):
        self.body = body

    def __iter__(self):
        return iter(self.body)

    def close(self):
        self.body.close()
