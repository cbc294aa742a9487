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
"""Reading objects from the remote Swift cluster: HEAD and GET, large
objects' manifests and their ETags."""

import email.utils
import json
import urllib.parse

import requests
from swiftclient import exceptions as swift_exc
from urllib3 import exceptions as urllib3_exc

from cloudsync import exceptions
from cloudsync import providers
from cloudsync_providers import common
from cloudsync_providers.swift import body as swift_body
from cloudsync_providers.swift import connection as swift_conn


class SwiftReads:
    """How a :class:`SwiftProvider` reads objects."""

    def _info(self, conn, bucket, key, headers):
        """The :class:`ObjectInfo` of HEAD or GET response headers.

        For a static large object its manifest is read on ``conn`` (which
        must be free) to give the multipart ETag.
        """
        size = int(headers.get('content-length') or 0)
        total = (headers.get('content-range') or '').rpartition('/')[2]
        if total.strip().isdigit():
            size = int(total)
        etag = (headers.get('etag') or '').strip('"')
        parts_count = None
        if swift_conn._true(headers.get('x-static-large-object')):
            segments = self._manifest(conn, bucket, key,
                                      headers.get('x-manifest-etag'))
            parts_count = len(segments)
            # NOTE: a manifest someone else wrote may use byte ranges or
            # nested manifests; its parts then have no MD5 of their own.
            if segments and not any('range' in s or s.get('sub_slo')
                                    for s in segments):
                etag = common.multipart_etag([s['hash'] for s in segments])
        if headers.get('x-timestamp'):
            last_modified = float(headers['x-timestamp'])
        elif headers.get('last-modified'):
            last_modified = email.utils.parsedate_to_datetime(
                headers['last-modified']).timestamp()
        else:
            last_modified = 0.0
        expires_at = headers.get('x-delete-at')
        meta = swift_conn.OBJECT_META
        metadata = {k[len(meta):]: swift_conn.from_swift_value(v)
                    for k, v in headers.items() if k.startswith(meta)}
        dlo_manifest = None
        if headers.get('x-object-manifest'):
            # NOTE: the header wins over an X-Object-Meta-X-Object-Manifest,
            # which is how copies of DLOs were kept before they stayed DLOs.
            dlo_manifest = urllib.parse.unquote(headers['x-object-manifest'])
            metadata[swift_conn.DLO_KEY] = dlo_manifest
        link = headers.get('x-symlink-target')
        return providers.ObjectInfo(
            key=key, size=size, etag=etag, last_modified=last_modified,
            content_type=(headers.get('content-type') or
                          'application/octet-stream'),
            metadata=metadata, parts_count=parts_count,
            expires_at=float(expires_at) if expires_at else None,
            dlo_manifest=dlo_manifest,
            content_headers={name: headers[name]
                             for name in providers.CONTENT_HEADERS
                             if headers.get(name)},
            symlink_target=urllib.parse.unquote(link) if link else None,
            symlink_target_account=headers.get('x-symlink-target-account')
            if link else None,
            symlink_target_etag=headers.get('x-symlink-target-etag')
            if link else None)

    def _manifest(self, conn, bucket, key, manifest_etag=None):
        """The segments of a static large object, as Swift keeps them.

        :raises _ManifestChanged: the object was replaced or removed since
            ``manifest_etag`` was read.
        """
        headers = {'If-Match': manifest_etag} if manifest_etag else None
        try:
            _, body = conn.raw('GET', bucket, key, headers=headers,
                               query_string='multipart-manifest=get')
        except swift_exc.ClientException as exc:
            if exc.http_status in (404, 412):
                raise swift_body._ManifestChanged() from exc
            raise
        try:
            segments = json.loads(body)
        except ValueError:
            raise exceptions.RemoteError(
                '%s: the large object\'s manifest is not JSON'
                % self._what('GET', bucket, key))
        return segments if isinstance(segments, list) else []

    def slo_manifest(self, bucket, key):
        """The segments of a static large object, as Swift keeps them;
        see :meth:`Provider.slo_manifest`.
        """
        what = self._what('GET', bucket, key)
        try:
            with self._connection(what) as conn:
                return self._manifest(conn, bucket, key)
        except swift_body._ManifestChanged:
            raise exceptions.NotFound('%s: not found' % what) from None

    def head_object(self, bucket, key):
        what = self._what('HEAD', bucket, key)
        for _attempt in (1, 2, 3):
            try:
                with self._connection(what) as conn:
                    headers, _ = conn.raw('HEAD', bucket, key,
                                          query_string=swift_conn.SYMLINK_GET)
                    return self._info(conn, bucket, key, headers)
            except swift_body._ManifestChanged:
                continue
        raise exceptions.Unavailable('%s: the object keeps changing' % what)

    def get_object(self, bucket, key, range=None, if_match=None,
                   if_none_match=None, if_modified_since=None,
                   if_unmodified_since=None):
        """Stream an object; see :meth:`Provider.get_object`.

        On the wire a large object's ETag is Swift's own (the MD5 of its
        segments' MD5s): If-Match and If-None-Match values naming its
        multipart ETag are translated, so conditions hold as on S3.
        """
        what = self._what('GET', bucket, key)
        headers = {}
        if range:
            headers['Range'] = range
        if if_match or if_none_match:
            translate = self._etag_translator(bucket, key, if_match,
                                              if_none_match)
            if if_match:
                headers['If-Match'] = translate(if_match)
            if if_none_match:
                headers['If-None-Match'] = translate(if_none_match)
        if if_modified_since:
            headers['If-Modified-Since'] = swift_conn._http_date(
                if_modified_since)
        if if_unmodified_since:
            headers['If-Unmodified-Since'] = swift_conn._http_date(
                if_unmodified_since)
        for _attempt in (1, 2, 3):
            response = {}
            conn = self._take()
            try:
                resp_headers, resp = conn.raw(
                    'GET', bucket, key, headers=headers, stream=True,
                    response_dict=response,
                    query_string=swift_conn.SYMLINK_GET)
            except BaseException as exc:
                self._give(conn, broken=not isinstance(
                    exc, swift_exc.ClientException))
                if isinstance(exc, Exception):
                    raise self._translate(exc, what) from exc
                raise
            try:
                info = self._body_info(bucket, key, resp_headers)
            except BaseException as exc:
                resp.close()
                self._give(conn, broken=True)
                if isinstance(exc, swift_body._ManifestChanged):
                    continue
                raise
            return self._object_body(conn, resp, info, response,
                                     resp_headers, what)
        raise exceptions.Unavailable('%s: the object keeps changing' % what)

    def _body_info(self, bucket, key, resp_headers):
        if not swift_conn._true(resp_headers.get('x-static-large-object')):
            return self._info(None, bucket, key, resp_headers)
        # NOTE: the connection streaming the body is busy; the manifest is
        # read on another one, even beyond the pool size, so that bodies
        # held open cannot starve it.
        with self._connection(self._what('GET', bucket, key),
                              block=False) as other:
            return self._info(other, bucket, key, resp_headers)

    def _object_body(self, conn, resp, info, response, resp_headers, what):
        state = {'released': False, 'finished': False}

        def close():
            if not state['released']:
                state['released'] = True
                try:
                    resp.close()
                finally:
                    # NOTE: a connection whose body was not read to the
                    # end cannot serve another request.
                    self._give(conn, broken=not state['finished'])

        def chunks():
            try:
                while True:
                    chunk = resp.read(swift_conn.CHUNK_SIZE)
                    if not chunk:
                        break
                    yield chunk
                state['finished'] = True
            except (requests.exceptions.RequestException, OSError,
                    urllib3_exc.HTTPError) as exc:
                close()
                raise exceptions.Unavailable(self._scrub(
                    '%s: the body was cut short: %s' % (what, exc))) from exc
            close()

        length = resp_headers.get('content-length')
        return providers.ObjectBody(
            info, chunks(), status=response.get('status', 200),
            content_range=resp_headers.get('content-range'),
            content_length=int(length) if length is not None else None,
            close=close)

    def _etag_translator(self, bucket, key, *values):
        """Maps a large object's multipart ETag to Swift's own."""
        if not any(swift_conn._MULTIPART_ETAG.search(v or '') for v in values):
            return lambda value: value
        try:
            with self._connection(self._what('HEAD', bucket, key)) as conn:
                headers, _ = conn.raw('HEAD', bucket, key)
                if not swift_conn._true(headers.get('x-static-large-object')):
                    return lambda value: value
                segments = self._manifest(conn, bucket, key,
                                          headers.get('x-manifest-etag'))
        except (exceptions.NotFound, swift_body._ManifestChanged):
            # NOTE: the GET that follows gives the answer (404).
            return lambda value: value
        hashes = [s.get('hash', '') for s in segments]
        ours, swifts = common.multipart_etag(hashes), common.slo_etag(hashes)

        def translate(value):
            return ', '.join(
                '"%s"' % swifts if v.strip().strip('"') == ours else v
                for v in value.split(','))
        return translate
