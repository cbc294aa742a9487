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
"""Swift symlinks and object versioning, for the daemon, the shunt and
proxymc.

A Swift symlink (the ``symlink`` middleware) is a zero-byte object whose
target is kept in system metadata (``X-Object-Sysmeta-Symlink-Target``,
``-Target-Account``, and for a static link ``-Target-Etag`` and
``-Target-Bytes``). The sync daemon reads objects without the middleware,
so it sees that object itself: :meth:`Link.from_headers`.

On a remote without symlinks (S3, GCS, S3 clones) the copy of a link is
an empty object whose metadata carries the link (:meth:`Link.metadata`,
under the keys :data:`cloudsync.metadata.SYMLINK_TARGET_KEY` and
following); a Swift remote keeps the link as a link, with the same
metadata. The cloud shunt and proxymc read it back
(:meth:`Link.from_metadata`) and answer for it as Swift's ``symlink``
middleware does: a GET or HEAD follows it (:func:`follow`, through the
whole of their own WSGI app, so that the target is authorized, and read
where it is: in Swift or on the remote), at most ``symloop_max`` links
in a row; a static link's target must have the link's ETag;
``?symlink=get`` answers with the link itself (:meth:`Link.headers`).

Object versioning (``X-Versions-Enabled``) keeps every version of an
object ``o`` of container ``c`` in the hidden container
``\\x00versions\\x00c`` and makes ``c/o`` a static link to the current
version, marked with ``X-Object-Sysmeta-Versions-Symlink``:
:func:`version_target` recognises it, so that the daemon copies the
current version's bytes rather than the link.
"""

import dataclasses
import os
import urllib.parse

from swift.common import registry as swift_registry
from swift.common import swob
from swift.common import utils as swift_utils
from swift.common import wsgi as swift_wsgi

from cloudsync import headers as headers_mod
from cloudsync import log as cs_log
from cloudsync import metadata as md

LOG = cs_log.getLogger(__name__)

SYSMETA_TARGET = 'x-object-sysmeta-symlink-target'
SYSMETA_ACCOUNT = 'x-object-sysmeta-symlink-target-account'
SYSMETA_ETAG = 'x-object-sysmeta-symlink-target-etag'
SYSMETA_BYTES = 'x-object-sysmeta-symlink-target-bytes'
SYSMETA_VERSIONS = 'x-object-sysmeta-versions-symlink'
#: the first character of Swift's reserved names (hidden containers)
RESERVED = '\x00'
VERSIONS_PREFIX = RESERVED + 'versions' + RESERVED
#: Swift's default ``symloop_max``
DEFAULT_SYMLOOP_MAX = 2
#: the WSGI environment key counting the links followed for one request
SYMLOOP_ENV = 'cloudsync.symloop'
#: request headers a followed request keeps
_FOLLOWED_HEADERS = ('Range', 'If-Match', 'If-None-Match',
                     'If-Modified-Since', 'If-Unmodified-Since',
                     'X-Newest')


@dataclasses.dataclass(frozen=True)
class Link:
    """A Swift symlink: where it points.

    Values are as Swift stores them in system metadata: ``target`` is
    ``<container>/<object>`` percent-encoded, ``account`` percent-encoded
    or None (the link's own account).
    """

    target: str
    account: str = None
    etag: str = None
    bytes: str = None

    @classmethod
    def from_headers(cls, headers):
        """The link a local object's headers describe, or None.

        :param headers: lower-case names, ``str`` values.
        """
        target = headers.get(SYSMETA_TARGET)
        if not target:
            return None
        return cls(target=target, account=headers.get(SYSMETA_ACCOUNT),
                   etag=headers.get(SYSMETA_ETAG) or None,
                   bytes=headers.get(SYSMETA_BYTES) or None)

    @classmethod
    def from_metadata(cls, internal):
        """The link a remote copy's metadata carries, or None.

        :param internal: :func:`cloudsync.metadata.internal_values` of it.
        """
        target = internal.get(md.SYMLINK_TARGET_KEY)
        if not target:
            return None
        link = cls(target=target,
                   account=internal.get(md.SYMLINK_ACCOUNT_KEY) or None,
                   etag=internal.get(md.SYMLINK_ETAG_KEY) or None,
                   bytes=internal.get(md.SYMLINK_BYTES_KEY) or None)
        # NOTE(cloudsync): these become response headers and a request
        # path: a link whose values could not come from Swift (control
        # characters, an ETag or size that is not one, a target without a
        # container) is not followed nor shown.
        problem = None
        for name, value in link.headers().items():
            problem = problem or headers_mod.header_problem(name, value)
        if '/' not in target.lstrip('/'):
            problem = problem or 'a target without a container'
        if link.etag is not None and not headers_mod.safe_etag(link.etag):
            problem = problem or 'an ETag that is not one'
        if link.bytes is not None and not link.bytes.isdigit():
            problem = problem or 'a size that is not a number'
        if problem:
            LOG.warning('Ignoring the symlink kept in remote metadata: '
                        '%s (target %s)', problem,
                        headers_mod.printable(target))
            return None
        return link

    @property
    def is_static(self):
        return bool(self.etag)

    def metadata(self):
        """cloudsync's keys for the remote copy (values not yet encoded)."""
        meta = {md.SYMLINK_TARGET_KEY: self.target}
        for key, value in ((md.SYMLINK_ACCOUNT_KEY, self.account),
                           (md.SYMLINK_ETAG_KEY, self.etag),
                           (md.SYMLINK_BYTES_KEY, self.bytes)):
            if value:
                meta[key] = value
        return meta

    def container_object(self):
        """``(container, object)`` of the target, decoded."""
        container, _, obj = urllib.parse.unquote(
            self.target, errors='surrogateescape').partition('/')
        return container, obj

    def target_account(self, own_account):
        """The target's account, decoded; the link's own by default."""
        if not self.account:
            return own_account
        return urllib.parse.unquote(self.account, errors='surrogateescape')

    def location(self, version, own_account):
        """The target's path as Swift gives it in ``Content-Location``
        (a WSGI string, percent-encoded as the link keeps it).
        """
        account = self.account or swob.wsgi_quote(swob.str_to_wsgi(
            own_account))
        return os.path.join('/', version, account, self.target.lstrip('/'))

    def headers(self):
        """The headers Swift shows for the link itself (``?symlink=get``)."""
        headers = {'X-Symlink-Target': self.target}
        if self.account:
            headers['X-Symlink-Target-Account'] = self.account
        if self.etag:
            headers['X-Symlink-Target-Etag'] = self.etag
        if self.bytes:
            headers['X-Symlink-Target-Bytes'] = self.bytes
        return headers


def version_target(headers):
    """The current version an object versioning link points to.

    :param headers: a local object's headers (lower-case names, ``str``).
    :returns: ``(versions container, version object)`` decoded, or None
        when the object is not object versioning's link to a version of
        itself.
    """
    link = Link.from_headers(headers)
    if link is None or link.account:
        return None
    container, obj = link.container_object()
    if not container.startswith(VERSIONS_PREFIX) or not obj:
        return None
    if not swift_utils.config_true_value(headers.get(SYSMETA_VERSIONS)):
        return None
    return container, obj


def local_link_target(app, req, location):
    """For Swift's 404 to a GET or HEAD of a link (not archived) whose
    target Swift does not have (the ``symlink`` middleware then gives the
    target's path as ``Content-Location``): the ETag the link requires of
    its target, as ``(True, etag)`` (``etag`` None for a dynamic link),
    or ``(False, None)`` when the requested object is not a link to
    ``location`` (a chain of links: Swift followed more than one).

    :param app: the rest of the pipeline (below the shunt).
    """
    sub = swift_wsgi.make_subrequest(
        req.environ, method='HEAD', swift_source='CS',
        path=swob.wsgi_quote(req.path_info) + '?symlink=get')
    resp = sub.get_response(app)
    swift_utils.close_if_possible(resp.app_iter)
    target = resp.headers.get('X-Symlink-Target')
    if not resp.is_success or not target:
        return False, None
    version, account, _rest = req.split_path(2, 3, True)
    account = resp.headers.get('X-Symlink-Target-Account') or \
        swob.wsgi_quote(account)
    if os.path.join('/', version, account, target) != location:
        return False, None
    return True, resp.headers.get('X-Symlink-Target-Etag')


def listed_version(etag):
    """``(etag, size)`` of the current version that object versioning's
    link names in its container row (or listing ``hash``), or None for
    any other row.

    Swift keeps a link's target in its row's ETag parameters
    (``symlink_target``, ``symlink_target_etag``, ``symlink_target_bytes``);
    the link's own ETag and size are those of no bytes.
    """
    _, _, params = (etag or '').partition(';')
    found = {}
    for param in params.split(';'):
        key, _, value = param.strip().partition('=')
        found[key] = value
    if not found.get('symlink_target', '').startswith(
            swob.wsgi_quote(VERSIONS_PREFIX)) or \
            not found.get('symlink_target_bytes', '').isdigit():
        return None
    return (swob.normalize_etag(found.get('symlink_target_etag') or ''),
            int(found['symlink_target_bytes']))


def symloop_max():
    """The ``symloop_max`` of the process's ``symlink`` middleware, or
    Swift's default where there is none.
    """
    info = swift_registry.get_swift_info().get('symlink') or {}
    try:
        value = int(info.get('symloop_max') or DEFAULT_SYMLOOP_MAX)
    except (TypeError, ValueError):
        value = DEFAULT_SYMLOOP_MAX
    return value if value >= 1 else DEFAULT_SYMLOOP_MAX


class _Followed(swift_wsgi.WSGIContext):

    def call(self, env):
        body = self._app_call(env)
        return (self._response_status, self._response_headers,
                self._response_exc_info, body)


def follow(app, req, link, account, extra_headers=None):
    """Answer a GET or HEAD of ``link`` as Swift's ``symlink`` middleware
    does: with the target's answer, read through ``app`` (the whole WSGI
    app of the shunt or proxymc, so that the target is authorized like
    any request, and is itself followed when it is a link).

    :param app: the WSGI app to read the target through.
    :param req: the client's request for the link.
    :param link: the :class:`Link`.
    :param account: the link's own account (``str``).
    :param extra_headers: added to the answer (transaction ids).
    :returns: a WSGI app (a response) to answer the client with.
    """
    version = req.split_path(1, 4, True)[0]
    return follow_location(app, req, link.location(version, account),
                           link.etag, extra_headers)


def follow_location(app, req, location, etag=None, extra_headers=None):
    """As :func:`follow`, for a link to ``location`` (a path, as in
    ``Content-Location``) with ``etag`` for a static link.
    """
    count = req.environ.get(SYMLOOP_ENV, 0)
    limit = symloop_max()
    if count >= limit:
        return swob.HTTPConflict(
            request=req, content_type='text/plain',
            body='Too many levels of symbolic links, maximum allowed is %d'
            % limit, headers=extra_headers)
    headers = {k: req.headers[k] for k in _FOLLOWED_HEADERS
               if k in req.headers}
    sub = swift_wsgi.make_subrequest(
        req.environ, method=req.method, path=location, headers=headers,
        swift_source='CS')
    sub.environ[SYMLOOP_ENV] = count + 1
    status, resp_headers, exc_info, body = _Followed(app).call(sub.environ)
    resp_headers = swob.HeaderKeyDict(resp_headers)
    if etag and status.startswith('2'):
        found = swob.normalize_etag(resp_headers.get(
            'X-Manifest-Etag') or resp_headers.get('Etag'))
        if found != swob.normalize_etag(etag):
            swift_utils.close_if_possible(body)
            return swob.HTTPConflict(
                request=req, content_type='text/plain',
                body='Object Etag %r does not match X-Symlink-Target-Etag '
                'header %r' % (found, etag),
                headers=dict(extra_headers or {},
                             **{'Content-Location': location}))
    if 'Content-Location' not in resp_headers:
        resp_headers['Content-Location'] = location
    resp_headers.update(extra_headers or {})

    def answer(env, start_response):
        start_response(status, list(resp_headers.items()), exc_info)
        return body
    return answer
