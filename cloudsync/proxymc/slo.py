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
"""Static large objects written through proxymc.

``PUT ?multipart-manifest=put`` takes a Swift SLO manifest (``path``,
``etag``, ``size_bytes``) whose segments are objects proxymc serves,
checks every segment as Swift's ``slo`` middleware does (existence, ETag,
size, at least one byte, s3api's minimum part size through
``swift.callback.slo_manifest_hook``) and then stores the large object the
way the sync daemon stores an SLO:

* one remote multipart object, one part per segment when every segment but
  the last is at least the provider's minimum part size (the remote ETag is
  then the ETag S3 gives the same multipart upload), else consecutive
  segments grouped into parts of that size, or one plain object when the
  whole fits in one PUT;
* ``x-static-large-object: True`` and ``swift-slo-etag`` (the MD5 of the
  segments' ETags, the Swift SLO ETag) in its metadata;
* the manifest, in Swift's internal format (``name``, ``hash``, ``bytes``,
  ``content_type``, ``last_modified``), as a side object at the layout's
  manifest key.

The segments are copied within the remote (read and written back by
proxymc), so the large object does not depend on them. Segments a Swift
client uploaded stay where they are, as in Swift; the segments s3api
uploaded into ``<bucket>+segments`` are removed once the upload is
complete, since S3 clients cannot see them and the object no longer needs
them. ``DELETE ?multipart-manifest=delete`` removes the object, its
manifest and every segment the manifest names, with the bulk-delete answer
Swift gives.

With ``heartbeat=on`` (as s3api sends), the answer is a ``202`` whose body
is white space while the copy runs, then the JSON result, as Swift's
``slo`` middleware does.
"""

import hashlib
import json
import math

import eventlet

from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import exceptions
from cloudsync import layout as layout_mod
from cloudsync import log as cs_log
from cloudsync import metadata as md
from cloudsync import providers
from cloudsync.proxymc import remote

LOG = cs_log.getLogger(__name__)

MAX_MANIFEST_SIZE = 8 * 1024 * 1024
MAX_MANIFEST_SEGMENTS = 1000
HEARTBEAT_INTERVAL = 10.0


class ManifestError(Exception):
    def __init__(self, status, problems=(), message=''):
        self.status = status
        self.problems = list(problems)
        self.message = message
        super().__init__(message)


def _split_segment_path(path):
    if not isinstance(path, str) or not path:
        raise ValueError('a segment path must be a non-empty string')
    container, _sep, obj = path.lstrip('/').partition('/')
    if not container or not obj:
        raise ValueError('%r is not /container/object' % path)
    problem = layout_mod.reserved_name_problem(obj)
    if problem:
        raise ValueError(problem)
    return container, obj


def _read_manifest_body(req):
    try:
        body = req.environ['wsgi.input'].read(MAX_MANIFEST_SIZE + 1)
    except (IOError, ValueError):
        raise ManifestError('499 Client Disconnect')
    if len(body) > MAX_MANIFEST_SIZE:
        raise ManifestError('413 Request Entity Too Large',
                            message='Manifest File > %d bytes'
                            % MAX_MANIFEST_SIZE)
    try:
        items = json.loads(body)
    except ValueError:
        raise ManifestError('400 Bad Request',
                            message='Manifest must be valid JSON.')
    if not isinstance(items, list) or not items:
        raise ManifestError('400 Bad Request',
                            message='Manifest must be a list of at least '
                                    'one segment.')
    if len(items) > MAX_MANIFEST_SEGMENTS:
        raise ManifestError('400 Bad Request',
                            message='Number of segments must be <= %d'
                            % MAX_MANIFEST_SEGMENTS)
    for item in items:
        if not isinstance(item, dict) or 'path' not in item:
            raise ManifestError(
                '400 Bad Request',
                message='Each segment must be an object with a path; '
                        'inline data segments are not supported.')
    return items


class _Segment:
    def __init__(self, path, target, name, info):
        self.path = path
        self.target = target
        self.name = name
        self.info = info
        self.etag = remote.swift_etag(info)

    @property
    def source(self):
        return (self.target.provider, self.target.bucket,
                self.target.layout.object_key(self.name))

    def internal(self):
        return {
            'name': '/%s/%s' % (self.target.container, self.name),
            'hash': self.etag,
            'bytes': self.info.size,
            'content_type': self.info.content_type,
            'last_modified': swift_utils.Timestamp(
                self.info.last_modified).isoformat,
        }


def _check_segments(objs, req, items):
    app = objs.app
    problems = []
    segments = []
    for item in items:
        path = item.get('path')
        try:
            container, name = _split_segment_path(path)
        except ValueError as exc:
            problems.append([str(path), str(exc)])
            continue
        if item.get('range'):
            problems.append([path, 'Ranges are not supported by proxymc'])
            continue
        target = app.resolve(objs.target.account, container)
        if target is None:
            problems.append([path, '404 Not Found'])
            continue
        denied = app.authorize_segment(req, target, name, 'GET')
        if denied is not None:
            problems.append([path, denied.status])
            continue
        try:
            info = target.provider.head_object(
                target.bucket, target.layout.object_key(name))
        except exceptions.NotFound:
            problems.append([path, '404 Not Found'])
            continue
        except exceptions.RemoteError as exc:
            LOG.error('HEAD of segment %s failed: %s', path, exc)
            problems.append([path, '503 Service Unavailable'])
            continue
        seg = _Segment(path, target, name, info)
        want_etag = swob.normalize_etag(item.get('etag'))
        if want_etag and want_etag != seg.etag:
            problems.append([path, 'Etag Mismatch'])
        size = item.get('size_bytes')
        if size is not None and str(size) != str(info.size):
            problems.append([path, 'Size Mismatch'])
        if info.size < 1:
            problems.append([path, 'Too small; each segment must be at '
                                   'least 1 byte.'])
        segments.append(seg)
    hook = req.environ.get('swift.callback.slo_manifest_hook')
    if hook and not problems:
        problems.extend(list(p) for p in hook(
            [s.internal() for s in segments]))
    if problems:
        raise ManifestError('400 Bad Request', problems)
    return segments


def _plan_parts(provider, segments):
    """Groups of segments, one per part: as few as the provider allows."""
    groups, current, size = [], [], 0
    for seg in segments:
        if seg.info.size > provider.MAX_PART_SIZE:
            raise ManifestError('400 Bad Request', [[
                seg.path, 'larger than the remote\'s largest part (%d '
                'bytes)' % provider.MAX_PART_SIZE]])
        if current and size + seg.info.size > provider.MAX_PART_SIZE:
            groups.append(current)
            current, size = [], 0
        current.append(seg)
        size += seg.info.size
        if size >= provider.MIN_PART_SIZE:
            groups.append(current)
            current, size = [], 0
    if current:
        groups.append(current)
    if len(groups) > provider.MAX_PARTS:
        raise ManifestError('400 Bad Request', message=(
            'the remote takes at most %d parts' % provider.MAX_PARTS))
    return groups


def _store(objs, req, name, items):
    segments = _check_segments(objs, req, items)
    slo_etag = hashlib.md5(''.join(s.etag for s in segments).encode(
        'ascii'), usedforsecurity=False).hexdigest()
    client_etag = swob.normalize_etag(req.headers.get('ETag'))
    if client_etag and client_etag != slo_etag:
        raise ManifestError('422 Unprocessable Entity')
    total = sum(s.info.size for s in segments)
    timestamp = swift_utils.Timestamp(req.headers['X-Timestamp'])
    meta = objs._new_metadata(req, timestamp)
    meta[md.SLO_KEY] = 'True'
    meta[md.SLO_ETAG_KEY] = slo_etag
    content_type = objs._content_type(req, name)
    provider, bucket = objs.provider, objs.bucket
    key = objs.key(name)
    manifest_key = objs.layout.manifest_key(name)
    manifest = json.dumps([s.internal() for s in segments]).encode('ascii')
    meta[md.MANIFEST_ETAG_KEY] = hashlib.md5(
        manifest, usedforsecurity=False).hexdigest()
    groups = _plan_parts(provider, segments)
    try:
        provider.put_object(bucket, manifest_key, manifest, len(manifest),
                            content_type='application/json')
        if len(groups) == 1 and total <= provider.MAX_SINGLE_PUT:
            provider.put_object(
                bucket, key, remote.SegmentStream(
                    [s.source for s in segments]), total,
                content_type=content_type, metadata=meta,
                expires_at=remote.expiry(meta))
        else:
            parts = []
            for number, group in enumerate(groups, 1):
                sources = [s.source for s in group]
                plain = len(group) == 1 and remote.HEX_MD5.match(
                    group[0].info.etag)
                parts.append(providers.Part(
                    number=number, size=sum(s.info.size for s in group),
                    open=(lambda srcs=sources:
                          remote.SegmentStream(srcs)),
                    md5=group[0].info.etag if plain else None))
            provider.put_multipart(bucket, key, parts,
                                   content_type=content_type, metadata=meta,
                                   expires_at=remote.expiry(meta))
    except exceptions.RemoteError as exc:
        LOG.error('PUT of large object %s failed: %s', req.path, exc)
        objs._delete_quietly(manifest_key)
        raise ManifestError('503 Service Unavailable')
    suffix = objs.app.segments_suffix
    for seg in segments:
        if suffix and seg.target.container.endswith(suffix):
            _delete_segment(seg)
    return slo_etag, timestamp


def _delete_segment(seg):
    provider, bucket, key = seg.source
    try:
        provider.delete_object(bucket, key)
    except exceptions.RemoteError as exc:
        LOG.warning('Could not remove the uploaded part %s: %s',
                    seg.path, exc)


def _error_body(err):
    lines = []
    if err.message:
        lines.append(err.message)
    if err.problems:
        lines.append('Errors:')
        lines.extend('%s, %s' % (swob.wsgi_quote(swob.str_to_wsgi(p)), r)
                     for p, r in err.problems)
    return '\n'.join(lines).encode('utf-8')


def put_manifest(objs, req, name):
    """``PUT ?multipart-manifest=put``: store an SLO (see module doc)."""
    try:
        items = _read_manifest_body(req)
    except ManifestError as err:
        return swob.Response(request=req, status=err.status,
                             body=_error_body(err))
    if not swift_utils.config_true_value(req.params.get('heartbeat')):
        try:
            slo_etag, timestamp = _store(objs, req, name, items)
        except ManifestError as err:
            return swob.Response(request=req, status=err.status,
                                 body=_error_body(err))
        resp = swob.HTTPCreated(request=req, etag=slo_etag)
        resp.last_modified = math.ceil(float(timestamp))
        return resp
    return _heartbeat_response(objs, req, name, items)


def _heartbeat_response(objs, req, name, items):
    def work():
        try:
            slo_etag, timestamp = _store(objs, req, name, items)
        except ManifestError as err:
            return {'Response Status': err.status,
                    'Response Body': err.message,
                    'Errors': err.problems}
        except Exception:  # noqa: BLE001 - reported in the body
            LOG.exception('PUT of large object %s failed', req.path)
            return {'Response Status': '500 Internal Error',
                    'Response Body': '', 'Errors': []}
        return {'Response Status': '201 Created', 'Response Body': '',
                'Etag': '"%s"' % slo_etag,
                'Last Modified': swob.HTTPCreated(
                    last_modified=math.ceil(float(timestamp))).headers[
                        'Last-Modified'],
                'Errors': []}

    def body():
        worker = eventlet.spawn(work)
        result = []
        worker.link(lambda gt: result.append(gt.wait()))
        yield b' '
        while not result:
            with eventlet.Timeout(HEARTBEAT_INTERVAL, False):
                while not result:
                    eventlet.sleep(0.05)
            if not result:
                yield b' '
        yield json.dumps(result[0]).encode('ascii')

    resp = swob.HTTPAccepted(request=req, app_iter=body())
    resp.content_type = 'application/json; charset=utf-8'
    return resp


def delete_segments(objs, req, manifest):
    """The answer to ``DELETE ?multipart-manifest=delete``.

    The object and its manifest are gone already; this removes the
    segments the manifest names.
    """
    app = objs.app
    deleted, not_found, errors = 1, 0, []
    for seg in manifest:
        path = seg.get('name') or ''
        try:
            container, name = _split_segment_path(path)
        except ValueError:
            errors.append([path, '400 Bad Request'])
            continue
        target = app.resolve(objs.target.account, container)
        if target is None:
            not_found += 1
            continue
        denied = app.authorize_segment(req, target, name, 'DELETE')
        if denied is not None:
            errors.append([path, denied.status])
            continue
        try:
            target.provider.head_object(target.bucket,
                                        target.layout.object_key(name))
            target.provider.delete_object(target.bucket,
                                          target.layout.object_key(name))
            deleted += 1
        except exceptions.NotFound:
            not_found += 1
        except exceptions.RemoteError as exc:
            LOG.error('DELETE of segment %s failed: %s', path, exc)
            errors.append([path, '503 Service Unavailable'])
    status = '400 Bad Request' if errors else '200 OK'
    result = {'Number Deleted': deleted, 'Number Not Found': not_found,
              'Response Body': '', 'Response Status': status,
              'Errors': errors}
    accept = req.accept.best_match(['text/plain', 'application/json'])
    if accept == 'application/json':
        body = json.dumps(result).encode('ascii')
        content_type = 'application/json; charset=utf-8'
    else:
        lines = ['Number Deleted: %d' % deleted,
                 'Number Not Found: %d' % not_found,
                 'Response Body: ', 'Response Status: %s' % status,
                 'Errors:'] + ['%s, %s' % tuple(e) for e in errors]
        body = ('\n'.join(lines) + '\n').encode('utf-8')
        content_type = 'text/plain; charset=utf-8'
    return swob.Response(request=req, status=200, body=body,
                         content_type=content_type)
