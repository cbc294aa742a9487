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
"""Swift account and container listings built from a remote bucket.

proxymc answers container and account GETs the way Swift's container and
account servers do: a JSON list of entries, filtered by ``prefix``,
``delimiter`` (or ``path``), ``marker``, ``end_marker``, ``limit`` and
``reverse``. Swift's own ``listing_formats`` middleware then turns it into
plain text or XML.

What a remote listing cannot tell, and what proxymc shows instead:

* ``content_type`` is ``application/octet-stream``: S3 listings carry no
  content type (a HEAD of the object gives the real one);
* ``hash`` is the remote's ETag: the MD5 for objects stored in one piece,
  the remote's ``hex-N`` multipart ETag for large objects (a HEAD gives the
  Swift ETag);
* ``last_modified`` is when the remote stored the object.

Costs: a forward listing reads remote pages until ``limit`` entries are
found; ``reverse=true`` reads every key between ``end_marker`` and
``marker`` (the whole container when neither is given), since remote
listings only run forwards.
"""

import collections

from swift.common import constraints
from swift.common import request_helpers
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import headers as headers_mod
from cloudsync import layout as layout_mod
from cloudsync import log as cs_log

LOG = cs_log.getLogger(__name__)

DEFAULT_CONTENT_TYPE = 'application/octet-stream'
EPOCH_ISO = swift_utils.Timestamp(0).isoformat


class ListingParams:
    """The listing parameters of a request, checked as Swift checks them.

    :raises swob.HTTPException: a parameter is invalid (400 or 412), as
        Swift's container server answers.
    """

    def __init__(self, req, max_limit):
        self.limit = request_helpers.constrain_req_limit(req, max_limit)
        self.marker = request_helpers.get_param(req, 'marker') or ''
        self.end_marker = request_helpers.get_param(req, 'end_marker') or ''
        self.prefix = request_helpers.get_param(req, 'prefix') or ''
        self.delimiter = request_helpers.get_param(req, 'delimiter') or ''
        self.reverse = swift_utils.config_true_value(
            request_helpers.get_param(req, 'reverse') or '')
        path = request_helpers.get_param(req, 'path')
        self.path = path
        if path is not None:
            # NOTE: Swift's "path" lists one pseudo-directory: its objects,
            # without any deeper level and without subdirs.
            self.prefix = path.rstrip('/') + '/' if path else ''
            self.delimiter = '/'
        if self.delimiter and (len(self.delimiter) > 1 or
                               ord(self.delimiter) > 254):
            raise swob.HTTPPreconditionFailed(request=req,
                                              body=b'Bad delimiter')
        for value in (self.marker, self.end_marker, self.prefix):
            if value and not constraints.check_utf8(value):
                raise swob.HTTPPreconditionFailed(
                    request=req, body=b'Invalid UTF8 or contains NULL')


def in_window(name, params):
    """Whether ``name`` lies between the markers, in listing direction."""
    if params.reverse:
        if params.marker and name >= params.marker:
            return False
        if params.end_marker and name <= params.end_marker:
            return False
    else:
        if params.marker and name <= params.marker:
            return False
        if params.end_marker and name >= params.end_marker:
            return False
    return True


def filter_names(names, params):
    """A listing of plain names (an account's containers), as Swift does.

    :param names: sorted names.
    :returns: entries ``{'name': ...}`` or ``{'subdir': ...}``.
    """
    out = []
    if not params.limit:
        return out
    seen_subdirs = set()
    ordered = sorted(names, reverse=params.reverse)
    for name in ordered:
        if not name.startswith(params.prefix):
            continue
        entry_name = name
        is_subdir = False
        if params.delimiter:
            at = name.find(params.delimiter, len(params.prefix))
            if at >= 0:
                entry_name = name[:at + 1]
                is_subdir = True
        if not in_window(entry_name, params):
            continue
        if is_subdir:
            if entry_name in seen_subdirs:
                continue
            seen_subdirs.add(entry_name)
            out.append({'subdir': entry_name})
        else:
            out.append({'name': name})
        if len(out) >= params.limit:
            break
    return out


def object_entry(name, entry):
    """A Swift container listing entry for a remote listing entry."""
    return {
        'name': name,
        # NOTE: the remote's ETag goes into XML listings as it is; one
        # that is not an ETag (whoever writes to the bucket chooses) is
        # left empty.
        'hash': headers_mod.safe_etag(entry.etag) or '',
        'bytes': entry.size,
        'content_type': DEFAULT_CONTENT_TYPE,
        'last_modified': swift_utils.Timestamp(
            entry.last_modified).isoformat,
    }


class ContainerLister:
    """Lists one mapped container from its remote bucket.

    :param provider: the remote's provider.
    :param bucket: the bucket holding the container.
    :param layout: the container's :class:`~cloudsync.layout.RemoteLayout`.
    """

    def __init__(self, provider, bucket, layout):
        self.provider = provider
        self.bucket = bucket
        self.layout = layout

    def _remote_entries(self, prefix, delimiter, marker):
        """(name, ListingEntry) in ascending order, layout keys left out."""
        start = self.layout.object_key(marker) if marker else None
        for entry in self.provider.list_all(
                self.bucket, prefix=self.layout.listing_prefix(prefix),
                delimiter=delimiter or None, marker=start):
            if self.layout.is_internal_key(entry.key):
                continue
            try:
                name = self.layout.object_name(entry.key)
            except ValueError:
                continue
            if not name:
                continue
            if not constraints.check_utf8(name):
                # NOTE: not a name Swift can hold (NUL, not UTF-8): it
                # would break plain and XML listings.
                LOG.warning('Listing %s: leaving out remote key %s, not a '
                            'Swift object name', self.bucket,
                            headers_mod.printable(entry.key))
                continue
            yield name, entry

    def entries(self, params):
        """The container listing: a list of Swift entries."""
        if not params.limit:
            return []
        if params.reverse:
            return self._reverse(params)
        out = []
        for name, entry in self._remote_entries(
                params.prefix, params.delimiter, params.marker):
            if params.marker and name <= params.marker:
                continue
            if params.end_marker and name >= params.end_marker:
                break
            if entry.is_prefix:
                if params.path is not None:
                    continue
                out.append({'subdir': name})
            else:
                out.append(object_entry(name, entry))
            if len(out) >= params.limit:
                break
        return out

    def _reverse(self, params):
        # NOTE: remote listings only run forwards: read the whole window
        # (end_marker, marker) and keep its last ``limit`` entries.
        window = collections.deque(maxlen=params.limit)
        for name, entry in self._remote_entries(
                params.prefix, params.delimiter, params.end_marker):
            if params.end_marker and name <= params.end_marker:
                continue
            if params.marker and name >= params.marker:
                break
            if entry.is_prefix:
                if params.path is None:
                    window.append({'subdir': name})
            else:
                window.append(object_entry(name, entry))
        return list(reversed(window))

    def totals(self):
        """(object count, bytes used): one full listing of the container."""
        count = used = 0
        for _name, entry in self._remote_entries('', None, None):
            count += 1
            used += entry.size
        return count, used

    def has_objects(self):
        for _entry in self._remote_entries('', '/', None):
            return True
        return False


def discover_containers(provider, mapping):
    """The container names a wildcard mapping holds in its bucket.

    hashed layout: one listing of the bucket's top level (one common prefix
    per hash, so about one per container of every account in the bucket),
    then one listing of ``<hash>/<account>/`` per hash; a name is kept only
    when its hash matches. prefix layout: one listing of the part of
    ``key_prefix`` before ``{container}``. Native keys and providers with a
    bucket per container cannot be discovered: an empty set.
    """
    if mapping.remote.provider_cls.BUCKET_PER_CONTAINER:
        return set()
    bucket = mapping.bucket
    names = set()
    if mapping.layout == 'hashed':
        for top in provider.list_all(bucket, prefix='', delimiter='/'):
            if not top.is_prefix:
                continue
            hashed = top.key.rstrip('/')
            if hashed == layout_mod.MANIFEST_DIR:
                continue
            base = '%s/%s/' % (hashed, mapping.account)
            for entry in provider.list_all(bucket, prefix=base,
                                           delimiter='/'):
                if not entry.is_prefix:
                    continue
                container = entry.key[len(base):].rstrip('/')
                if container and layout_mod.hashed_prefix(
                        mapping.account, container) == hashed:
                    names.add(container)
        return names
    if mapping.layout == 'prefix':
        marker = '\x00'
        template = mapping.key_prefix.format(account=mapping.account,
                                             container=marker).strip('/')
        if marker not in template:
            return names
        head, tail = template.split(marker, 1)
        tail_first = tail.split('/', 1)[0]
        for entry in provider.list_all(bucket, prefix=head, delimiter='/'):
            if not entry.is_prefix:
                continue
            segment = entry.key[len(head):-1]
            if tail_first:
                if not segment.endswith(tail_first):
                    continue
                segment = segment[:-len(tail_first)]
            if segment and '/' not in segment:
                names.add(segment)
        return names
    return names
