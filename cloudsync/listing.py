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
"""Listing mergers: two namespaces shown as one.

The shunt and proxymc merge the local container listing with the remote
one through a merger named by the mapping's ``listing`` option (a name in
the ``cloudsync.listing`` namespace). Entries are Swift listing entries:
``dict`` with ``name`` (an object) or ``subdir`` (a common prefix).
"""

import abc


def entry_key(entry):
    """The name an entry sorts by: its ``name`` or its ``subdir``."""
    return entry['name'] if 'name' in entry else entry['subdir']


class ListingMerger(abc.ABC):
    """Merges a local and a remote listing into one ordered listing.

    :param mapping: the :class:`cloudsync.conf.Mapping` served.
    """

    def __init__(self, mapping=None):
        self.mapping = mapping

    @abc.abstractmethod
    def merge(self, local, remote, location=None, reverse=False):
        """Merge two listings.

        :param local: iterator of local entries, in listing order.
        :param remote: iterator of remote entries, in the same order.
        :param location: the remote's ``content_location`` label.
        :param reverse: both inputs are in descending order, and so must
            the output be.
        :returns: an iterator of entries in listing order, each name once.
            It must consume its inputs lazily, so that a caller that stops
            after ``limit`` entries reads no more than it needs.
        """


class MergeListing(ListingMerger):
    """An ordered merge; on equal names the local entry wins.

    Remote-only entries carry ``content_location``: a list with the
    remote's label. A name present on both sides is listed once, from the
    local side (it is the copy Swift serves). A ``subdir`` on both sides is
    listed once.
    """

    def merge(self, local, remote, location=None, reverse=False):
        local = iter(local)
        remote = iter(remote)
        lo = next(local, None)
        re_ = next(remote, None)
        while lo is not None or re_ is not None:
            if re_ is None:
                take_local = True
            elif lo is None:
                take_local = False
            else:
                lkey, rkey = entry_key(lo), entry_key(re_)
                if lkey == rkey:
                    re_ = next(remote, None)
                    take_local = True
                elif reverse:
                    take_local = lkey > rkey
                else:
                    take_local = lkey < rkey
            if take_local:
                yield lo
                lo = next(local, None)
            else:
                if location and 'content_location' not in re_:
                    re_ = dict(re_, content_location=[location])
                yield re_
                re_ = next(remote, None)
