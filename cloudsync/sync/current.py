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
"""Whether the remote copy of an object is current.

One decision, taken by the propagator before it sends anything, and
after an archive's copy before the local object is removed: the remote
copy (a :class:`cloudsync.providers.ObjectInfo`) holds the local
version's bytes (:meth:`RemoteComparison.same_content`) and its metadata,
content type and Swift timestamp (:meth:`RemoteComparison.same_metadata`).
"""

from cloudsync import exceptions
from cloudsync import large_objects as lo
from cloudsync import metadata as md
from cloudsync import symlinks
from cloudsync.sync import part
from cloudsync.sync import source as source_mod


#: cloudsync's keys compared to decide whether remote metadata is current
COMPARED_KEYS = (md.DELETE_AT_KEY, md.SLO_ETAG_KEY, md.ETAG_KEY,
                 source_mod.MANIFEST_ETAG_KEY, source_mod.DLO_SOURCE_KEY,
                 md.S3API_ETAG_KEY,
                 md.SYMLINK_TARGET_KEY, md.SYMLINK_ACCOUNT_KEY,
                 md.SYMLINK_ETAG_KEY, md.SYMLINK_BYTES_KEY)
#: remote storage classes whose objects cannot be copied in place
COLD_CLASSES = frozenset(['GLACIER', 'DEEP_ARCHIVE'])


def remote_timestamp(info):
    """The Swift timestamp of the version the remote copy was made from,
    or None (not a copy cloudsync wrote, or garbage).
    """
    return source_mod.parse_timestamp(md.internal_values(info.metadata).get(
        md.TIMESTAMP_KEY))


def listed_copy_matches(entry, size, etag):
    """Whether the remote listing entry (or HEAD answer) ``entry`` has the
    ``size`` and ``etag`` of a local object: its bytes, as far as a
    listing tells (a large object's or an encrypted object's ETag is not
    its remote copy's; see :func:`kept_etag_matches`).
    """
    return (entry.size == size and
            lo.normalize_etag(entry.etag) == lo.normalize_etag(etag))


def kept_etag(info, key):
    """The Swift ETag the remote copy ``info`` keeps under ``key``
    (``swift-slo-etag`` or ``cloudsync-etag``), normalized; None without.
    """
    have = md.internal_values(info.metadata).get(key)
    return None if have is None else lo.normalize_etag(have)


def kept_etag_matches(info, key, etag):
    """Whether the remote copy ``info`` keeps ``etag`` under ``key``: the
    copy of an object whose remote ETag cannot be compared with Swift's.
    """
    have = kept_etag(info, key)
    return have is not None and have == lo.normalize_etag(etag)


class RemoteComparison(part.Part):
    """Compares a :class:`~cloudsync.sync.source.Source` with the remote
    copy of its object.
    """

    def head_remote(self, key):
        try:
            return self.provider.head_object(self.bucket, key)
        except exceptions.TargetNotFound:
            raise
        except exceptions.NotFound:
            return None

    def same_content(self, source, info):
        if info.size != source.size:
            return False
        if source.link != symlinks.Link.from_metadata(
                md.internal_values(info.metadata)):
            # NOTE(cloudsync): another link, or an empty object that is
            # not one: the copy is made again, not only its metadata.
            return False
        if source.dlo_manifest is not None:
            return (info.dlo_manifest == source.dlo_manifest and
                    lo.normalize_etag(info.etag) == source.expected_etag)
        if source.expected_etag and \
                lo.normalize_etag(info.etag) == source.expected_etag:
            return True
        if source.etag_key:
            have = md.internal_values(info.metadata).get(source.etag_key)
            return lo.normalize_etag(have) == source.swift_etag
        return False

    def same_metadata(self, source, info):
        if info.content_type != source.content_type:
            return False
        if not md.same_metadata(source.headers, info.metadata):
            return False
        have = md.internal_values(info.metadata)
        for key in COMPARED_KEYS:
            if have.get(key) == source.internal.get(key):
                continue
            # NOTE(cloudsync): copies made before every plain copy kept its
            # Swift ETag lack the key; where their own ETag is that MD5
            # they are current, and are not copied onto themselves (or,
            # in a cold storage class, sent again) just to gain it.
            if key == md.ETAG_KEY and key not in have and \
                    lo.normalize_etag(info.etag) == source.swift_etag:
                continue
            return False
        return remote_timestamp(info) == source.timestamp
