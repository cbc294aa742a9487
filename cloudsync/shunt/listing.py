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
"""Container listings of the cloud shunt: Swift's listing, remote included.

Swift answers a container GET with the names in the container database
that fall between ``marker`` and ``end_marker`` (swapped, and listed
backwards, with ``reverse``), start with ``prefix``, with every name that
has ``delimiter`` after the prefix rolled up into a ``subdir`` entry (a
subdir equal to the marker is left out), in code point order, at most
``limit`` of them. That answer for the union of two sets of names is the
ordered union of the answers for each set, so the shunt asks Swift for
its own part, asks the remote for the same listing of the remote's names
(:class:`RemoteListing`, which reproduces Swift's rules where S3's
listings differ from them) and merges the two with the mapping's listing
merger, stopping at ``limit``.

A page holds ``limit`` entries and one remote page in memory. A forward
page reads the remote lazily, in requests sized to what the page still
needs; a reverse page reads every remote entry between its bounds (the
remote lists in ascending order only), keeping only the last ``limit``
(see :meth:`RemoteListing.entries`).

What a remote-only entry can say is what the remote's listing says: its
``name`` (or ``subdir``), ``bytes``, ``hash`` (the remote's ETag: the MD5
of a single-part object, ``<hex>-<parts>`` for a multipart one, such as an
archived SLO), ``last_modified`` (when the remote copy was written) and
``content_type`` ``application/octet-stream`` (listings of S3-like stores
do not carry the content type; a HEAD per entry would make listings
unaffordable). It also carries ``content_location``: a list with the
remote's label, ``<endpoint>;<bucket>;<key prefix>``.

A remote copy that Swift deleted after it was written (a GET of it
answers 404, see :mod:`cloudsync.shunt.middleware`) is still listed as a
remote-only entry until the daemon removes it, and for good with
``propagate_delete = false``: Swift's listing does not show deleted
names, and finding their tombstones would take a Swift HEAD per
remote-only entry.
"""

import collections
import copy
import json

from swift.common import utils as swift_utils

#: what a remote listing entry says its content type is
REMOTE_CONTENT_TYPE = 'application/octet-stream'
#: the most entries asked of the remote per request
PAGE_SIZE = 1000
#: the fewest entries asked of the remote when how many are needed is not
#: known
MIN_REMOTE_PAGE = 100
#: Swift leaves names with this character out of listings
RESERVED = swift_utils.RESERVED
#: no key under a prefix sorts after the prefix followed by it
_MAX_CHAR = '\U0010ffff'


class ListingParams(object):
    """The listing parameters of a container GET, as Swift reads them.

    :param params: the dict that
        :func:`swift.common.request_helpers.validate_container_params`
        returns (native strings; ``limit`` an int).
    """

    def __init__(self, params):
        self.limit = int(params['limit'])
        self.marker = params.get('marker') or ''
        self.end_marker = params.get('end_marker') or ''
        self.prefix = params.get('prefix') or ''
        self.delimiter = params.get('delimiter') or ''
        self.reverse = swift_utils.config_true_value(params.get('reverse'))

    @property
    def lower(self):
        """Names listed are above this (exclusive); '' for no bound."""
        return self.end_marker if self.reverse else self.marker

    @property
    def upper(self):
        """Names listed are below this (exclusive); '' for no bound."""
        return self.marker if self.reverse else self.end_marker

    def rollup(self, name):
        """The ``subdir`` a name is listed as (None: listed as itself)."""
        if not self.delimiter or not name.startswith(self.prefix):
            return None
        end = name.find(self.delimiter, len(self.prefix))
        if end < 0:
            return None
        return name[:end + len(self.delimiter)]

    def in_range(self, name):
        return ((not self.lower or name > self.lower) and
                (not self.upper or name < self.upper) and
                name.startswith(self.prefix))


def swift_timestamp(seconds):
    """A listing's ``last_modified`` as Swift writes it."""
    return swift_utils.Timestamp(max(0.0, seconds)).isoformat


class RemoteListing(object):
    """The listing Swift would give of a container's remote objects.

    :param provider: the remote's :class:`~cloudsync.providers.Provider`.
    :param bucket: the bucket holding the container.
    :param layout: the container's :class:`~cloudsync.layout.RemoteLayout`.
    :param page_size: entries asked of the remote per request.
    """

    def __init__(self, provider, bucket, layout, page_size=PAGE_SIZE):
        self.provider = provider
        self.bucket = bucket
        self.layout = layout
        self.page_size = page_size
        #: remote requests made, for logs and tests
        self.requests = 0

    # -- the remote ------------------------------------------------------

    def _page(self, prefix, delimiter, marker, limit):
        self.requests += 1
        return self.provider.list_objects(
            self.bucket, prefix=prefix, delimiter=delimiter or None,
            marker=marker or None, limit=min(limit, PAGE_SIZE))

    def _keys(self, prefix, delimiter=None, marker=None, limit=None,
              sizer=None):
        """Remote entries (objects and common prefixes) after ``marker``.

        Each request asks for ``limit`` entries, or for what ``sizer`` (a
        :class:`PageSizer`) says the listing still needs, up to
        :attr:`page_size`. Side objects (SLO manifests) are skipped; so is
        a common prefix that holds nothing else.
        """
        while True:
            size = sizer.next_size() if sizer else limit
            size = min(size or self.page_size, self.page_size)
            page = self._page(prefix, delimiter, marker, size)
            for entry in page.entries:
                if entry.is_prefix:
                    if self._only_internal(entry.key):
                        continue
                elif self.layout.is_internal_key(entry.key):
                    continue
                yield entry
            if not page.truncated or not page.entries:
                return
            marker = page.next_marker or page.entries[-1].key

    def _only_internal(self, key_prefix):
        """True when every key under ``key_prefix`` is a side object."""
        manifests = self.layout.manifest_prefix
        if self.layout.is_internal_key(key_prefix):
            return True
        if not manifests or not manifests.startswith(key_prefix):
            return False
        # NOTE(cloudsync): the manifests directory sorts as one block;
        # look for a key before it, then after it.
        for marker in (None, manifests + _MAX_CHAR):
            page = self._page(key_prefix, None, marker, 1)
            for entry in page.entries:
                if not self.layout.is_internal_key(entry.key):
                    return False
        return True

    def _name(self, key):
        try:
            name = self.layout.object_name(key)
        except ValueError:
            return None
        if not name or RESERVED in name:
            return None
        return name

    def _has_names(self, subdir, params):
        """Whether any remote name under ``subdir`` is in range."""
        marker = None
        if params.lower and params.lower >= subdir:
            marker = self.layout.object_key(params.lower)
        for entry in self._keys(self.layout.object_key(subdir),
                                marker=marker, limit=1):
            name = self._name(entry.key)
            if name is None:
                continue
            if params.upper and name >= params.upper:
                return False
            if params.in_range(name):
                return True
        return False

    # -- Swift's rules ---------------------------------------------------

    def _ascending(self, params, sizer=None):
        """The remote's part of the listing, ascending, not limited."""
        lower, upper = params.lower, params.upper
        # NOTE(cloudsync): Swift lists the subdir that holds the lower
        # bound when names after the bound are in it, although the subdir
        # itself sorts before the bound; S3 leaves it out.
        lower_dir = params.rollup(lower) if lower else None
        if lower_dir and lower_dir != lower and \
                self._has_names(lower_dir, params):
            yield {'subdir': lower_dir}
        marker = self.layout.object_key(lower) if lower else None
        for entry in self._keys(self.layout.listing_prefix(params.prefix),
                                delimiter=params.delimiter, marker=marker,
                                sizer=sizer):
            name = self._name(entry.key)
            if name is None:
                continue
            if entry.is_prefix:
                if lower and name <= lower:
                    continue
                if upper and name >= upper:
                    return
                if upper and upper.startswith(name):
                    # NOTE(cloudsync): the subdir holds the upper bound:
                    # Swift lists it only for names below the bound.
                    if self._has_names(name, params):
                        yield {'subdir': name}
                    return
                yield {'subdir': name}
                continue
            if not params.in_range(name):
                if upper and name >= upper:
                    return
                continue
            yield {
                'bytes': entry.size,
                'hash': entry.etag,
                'name': name,
                'content_type': REMOTE_CONTENT_TYPE,
                'last_modified': swift_timestamp(entry.last_modified),
            }

    def entries(self, params, sizer=None, floor=None):
        """The remote's part of the listing, in listing order.

        Forward listings are read lazily, a page at a time, each request
        sized by ``sizer`` (a :class:`PageSizer`), so that a page costs
        remote requests in proportion to its ``limit``. The remote lists in
        ascending order only: a reverse listing reads every remote entry
        between its bounds, in ascending order, :attr:`page_size` at a
        time, and keeps only the last ``limit`` of them, which it then
        gives in descending order. Its memory is ``limit`` entries and one
        remote page, whatever the size of the container; its requests are
        in proportion to the remote entries between its bounds.

        :param floor: for a reverse listing, a name that the page does not
            go below (the last of Swift's part, when that part fills the
            page: no smaller name can be on it); it narrows the remote
            entries read.
        """
        if params.limit <= 0:
            return iter(())
        if params.reverse:
            return self._descending(params, floor)
        return self._ascending(params, sizer)

    def _descending(self, params, floor=None):
        if floor is not None and floor > params.lower:
            # NOTE(cloudsync): in a reverse listing the lower bound is the
            # end_marker; names at or below the floor are not on the page
            # (one equal to it is Swift's, and listed once).
            params = copy.copy(params)
            params.end_marker = floor
        last = collections.deque(self._ascending(params),
                                 maxlen=params.limit)
        while last:
            yield last.pop()


class PageSizer(object):
    """How many entries to ask of the remote for one page of a listing.

    Reading remote entries the page will not show is what a merged listing
    wastes most time on, so each request asks for about what is left:

    * when Swift's part ends before the limit, the page needs (at least)
      the difference from the remote;
    * otherwise, from how many entries of each side the merge has taken
      so far, the share of the slots left that the remote is likely to
      fill, with a quarter more for good measure, and at least
      :data:`MIN_REMOTE_PAGE`.

    The merge reports what it takes with :meth:`took_local`,
    :meth:`took_remote` and :meth:`placed`.
    """

    def __init__(self, limit, local_count):
        self.limit = limit
        self.local_count = local_count
        self.local_taken = 0
        self.remote_taken = 0
        self.merged = 0

    def took_local(self):
        self.local_taken += 1

    def took_remote(self):
        self.remote_taken += 1

    def placed(self):
        self.merged += 1

    def next_size(self):
        slots = max(1, self.limit - self.merged)
        needed = self.limit - self.local_count - self.remote_taken
        if needed > 0:
            # NOTE(cloudsync): Swift's part ends before the page does.
            return min(needed, slots)
        taken = self.local_taken + self.remote_taken
        if taken:
            # NOTE(cloudsync): the remote's share of the names seen so far
            estimate = slots * self.remote_taken / float(taken)
        else:
            estimate = slots / 4.0
        size = max(int(estimate * 1.25) + 1, MIN_REMOTE_PAGE)
        return min(size, slots)


def _counted(entries, count):
    for entry in entries:
        count()
        yield entry


def merge(merger, local, remote, params, location=None, sizer=None):
    """The merged listing: at most ``params.limit`` entries.

    :param merger: a :class:`~cloudsync.listing.ListingMerger`.
    :param local: Swift's listing (a list of entries).
    :param remote: the remote's entries, in the same order.
    :param sizer: the :class:`PageSizer` that sizes the remote requests;
        it is told what the merge takes.
    :raises RemoteError: the remote failed while it was read.
    """
    merged = []
    if params.limit <= 0:
        return merged
    if sizer is not None:
        local = _counted(local, sizer.took_local)
        remote = _counted(remote, sizer.took_remote)
    for entry in merger.merge(local, remote, location=location,
                              reverse=params.reverse):
        merged.append(entry)
        if sizer is not None:
            sizer.placed()
        if len(merged) >= params.limit:
            break
    return merged


def null_versions(entries):
    """Remote entries as a versions listing (``?versions``) shows them.

    Swift's ``object_versioning`` lists an object that has no versions as
    its ``null`` version, the latest; an object on the remote only is
    such an object. Subdirs are listed as they are.
    """
    for entry in entries:
        if 'name' in entry:
            entry = dict(entry, version_id='null', is_latest=True)
        yield entry


def read_answer(answer):
    """The entries of Swift's JSON listing answer ``answer`` (a read
    answer with ``headers`` and ``body``).

    :raises ValueError: it is not a JSON listing (another content type,
        or not a JSON list of objects: a static web page, for instance).
    """
    content_type = answer.headers.get('Content-Type', '')
    if content_type.partition(';')[0].strip() != 'application/json':
        raise ValueError('not a JSON listing')
    return read_local(answer.body[0])


def read_local(body):
    """Swift's JSON listing as a list of entries.

    :raises ValueError: the body is not a JSON list of objects (a
        static web page, for instance).
    """
    listing = json.loads(body)
    if not isinstance(listing, list) or not all(
            isinstance(e, dict) for e in listing):
        raise ValueError('not a JSON listing')
    return listing
