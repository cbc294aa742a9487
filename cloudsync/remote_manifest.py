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
"""When an SLO manifest read from the remote may be used.

The sync daemon and proxymc keep an SLO's manifest (Swift's internal
format: ``name``, ``hash``, ``bytes``) beside the object, at the key
:meth:`cloudsync.layout.RemoteLayout.manifest_key` gives, and record its
MD5 in the object's own metadata (``cloudsync-manifest-etag``). The cloud
shunt uses it to answer ``?multipart-manifest=get``, to delete an archived
SLO's segments (``?multipart-manifest=delete``) and to restore the SLO
segment by segment; proxymc for the same reads and deletes.

Whoever may write to the bucket may also write that key. A manifest is
therefore used only when :func:`trusted_entries` accepts it:

* it is the manifest the object names: its MD5 is the object's
  ``cloudsync-manifest-etag``. Objects that swift-s3-sync wrote carry
  none; their manifest must then be the one their own metadata gives:
  its MD5 is their ``swift-slo-etag`` (what swift-s3-sync stored on
  GCS), or its segments' ETags give the object's SLO ETag
  (``swift-slo-etag``) or the object's multipart ETag (an S3 upload of
  one part per segment). An object with none of these has no manifest;
* it is a JSON list of at most :data:`MAX_SEGMENTS` entries and
  :data:`MAX_SIZE` bytes, whose segments are ``/<container>/<object>``
  paths of the object's own account (a manifest holds no account), with
  an ETag and a size, names without control characters, outside the
  namespaces a layout reserves for side objects, and never the object
  itself;
* the sizes of its plain segments add up to the object's size.

Anything else is as if the object had no manifest: it is streamed, never
restored, and a delete removes the object and its side object only. The
reason is logged.
"""

import hashlib
import json

from swift.common import swob

from cloudsync import headers as headers_mod
from cloudsync import large_objects as lo
from cloudsync import layout as layout_mod
from cloudsync import metadata as md

#: the largest manifest used (Swift's default ``max_manifest_size``)
MAX_SIZE = 8 * 1024 * 1024
#: the most segments a manifest used may name
MAX_SEGMENTS = 10000
#: the object metadata key that holds the manifest's MD5
MANIFEST_ETAG_KEY = md.RESERVED_PREFIX + 'manifest-etag'


class UntrustedManifest(ValueError):
    """The manifest on the remote is not one to act on; says why."""


def _segment_problem(entry, own_path):
    if not isinstance(entry, dict):
        return 'an entry is not an object'
    if 'data' in entry:
        return None
    name = entry.get('name')
    if not isinstance(name, str) or not name.startswith('/'):
        return 'a segment has no /container/object name'
    container, _sep, obj = name[1:].partition('/')
    if not container or not obj:
        return 'segment %s is not /container/object' % (
            headers_mod.printable(name))
    if headers_mod.value_problem(name):
        return 'segment %s has %s in its name' % (
            headers_mod.printable(name), headers_mod.value_problem(name))
    if layout_mod.is_reserved_name(obj):
        return 'segment %s is in a reserved namespace' % (
            headers_mod.printable(name))
    if name == own_path:
        return 'the manifest names the object itself as a segment'
    size = entry.get('bytes')
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return 'segment %s has no valid size' % headers_mod.printable(name)
    if not isinstance(entry.get('hash'), str):
        return 'segment %s has no ETag' % headers_mod.printable(name)
    return None


def _legacy_bound(raw, entries, info, internal):
    """Whether an object without ``cloudsync-manifest-etag`` names the
    manifest ``raw`` in the ways swift-s3-sync left.
    """
    slo_etag = swob.normalize_etag(internal.get(md.SLO_ETAG_KEY) or '')
    if slo_etag and slo_etag == hashlib.md5(
            raw, usedforsecurity=False).hexdigest():
        return True
    if any('data' in e for e in entries):
        return False
    hashes = [e['hash'] for e in entries]
    hashes = [swob.normalize_etag(h).lower() for h in hashes]
    if slo_etag and slo_etag == hashlib.md5(
            ''.join(hashes).encode('utf-8', 'surrogateescape'),
            usedforsecurity=False).hexdigest():
        return True
    try:
        return lo.is_multipart_etag(info.etag) and \
            lo.multipart_etag(hashes) == info.etag
    except (ValueError, TypeError):
        return False


def trusted_entries(raw, info, container, obj):
    """The entries of the manifest ``raw`` of the object ``info``, when
    they may be used (see the module doc).

    :param raw: the side object's bytes.
    :param info: the object's :class:`~cloudsync.providers.ObjectInfo`.
    :param container: the object's container (a native string).
    :param obj: the object's name.
    :raises UntrustedManifest: saying why not.
    """
    if not isinstance(raw, bytes) or len(raw) > MAX_SIZE:
        raise UntrustedManifest('the manifest is larger than %d bytes'
                                % MAX_SIZE)
    internal = md.internal_values(info.metadata or {})
    bound = internal.get(MANIFEST_ETAG_KEY)
    if bound:
        digest = hashlib.md5(raw, usedforsecurity=False).hexdigest()
        if digest != bound.strip('"').lower():
            raise UntrustedManifest(
                'the manifest is not the one the object names (its MD5 is '
                '%s, the object names %s)' % (
                    digest, headers_mod.printable(bound)))
    try:
        entries = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise UntrustedManifest('the manifest is not JSON')
    if not isinstance(entries, list) or not entries:
        raise UntrustedManifest('the manifest is not a list of segments')
    if len(entries) > MAX_SEGMENTS:
        raise UntrustedManifest('the manifest names more than %d segments'
                                % MAX_SEGMENTS)
    own_path = '/%s/%s' % (container, obj)
    for entry in entries:
        problem = _segment_problem(entry, own_path)
        if problem:
            raise UntrustedManifest(problem)
    if not bound and not _legacy_bound(raw, entries, info, internal):
        raise UntrustedManifest('the object names no manifest, or not '
                                'this one')
    if all('data' not in e and not e.get('range') and not e.get('sub_slo')
           for e in entries):
        total = sum(e['bytes'] for e in entries)
        if total != info.size:
            raise UntrustedManifest(
                'the manifest names %d bytes; the object has %d' % (
                    total, info.size))
    return entries
