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
"""Symlinks on the remote Swift cluster."""

import io
import urllib.parse

from cloudsync import exceptions
from cloudsync_providers.swift import connection as swift_conn


class SwiftSymlinks:
    """How a :class:`SwiftProvider` writes and recognises symlinks."""

    def put_symlink(self, bucket, key, target, target_etag=None,
                    content_type=None, metadata=None, expires_at=None):
        """A Swift symlink to ``target`` (``<container>/<object>`` of the
        remote account); see :meth:`Provider.put_symlink`.
        """
        what = self._what('PUT', bucket, key)
        expires_at = self._expiry(bucket, key, metadata, expires_at)
        old_segments = self._our_segments(bucket, key)
        headers = self._object_headers(content_type, metadata, expires_at)
        headers['X-Symlink-Target'] = urllib.parse.quote(target, safe='/')
        if target_etag:
            headers['X-Symlink-Target-Etag'] = target_etag
        etag = self._put(what, bucket, key, io.BytesIO(b''),
                         content_length=0, headers=headers)
        self._delete_segments(old_segments)
        return etag

    def symlink_target(self, bucket, key):
        """``(target, target account or None)`` of a symlink, unquoted,
        or None; see :meth:`Provider.symlink_target`.
        """
        with self._connection(self._what('HEAD', bucket, key)) as conn:
            headers, _ = conn.raw('HEAD', bucket, key,
                                  query_string=swift_conn.SYMLINK_GET)
        target = headers.get('x-symlink-target')
        if not target:
            return None
        return (urllib.parse.unquote(target),
                headers.get('x-symlink-target-account'))

    def _is_link(self, bucket, key):
        """Whether the object at ``key`` is a symlink.

        NOTE: Swift's SLO middleware reads the manifest of a
        ``?multipart-manifest=delete`` through the symlink middleware: a
        link to a large object would lose its target's segments.
        """
        what = self._what('HEAD', bucket, key)
        try:
            with self._connection(what) as conn:
                headers, _ = conn.raw('HEAD', bucket, key,
                                      query_string=swift_conn.SYMLINK_GET)
        except exceptions.NotFound:
            return False
        return 'x-symlink-target' in headers
