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
"""How the migrator marks the objects it wrote into Swift.

Every object the migrator writes carries object sysmeta (which Swift users
can neither see nor set) saying which version of the source it is: the
source's ETag and last modification, and the Swift timestamp it was
written with. A Swift user who overwrites the object (PUT) drops the
marks; one who changes its metadata (POST) gives it a newer timestamp than
the recorded one. Either way the object is the user's from then on: the
migrator never overwrites or deletes it again.
"""

import dataclasses
import typing

from swift.common import utils as swift_utils

SYSMETA = 'x-object-sysmeta-cloudsync-migrated-'
#: the source's ETag (unquoted) of the version copied
SOURCE_ETAG = SYSMETA + 'etag'
#: the source's last modification, seconds since the epoch
SOURCE_LAST_MODIFIED = SYSMETA + 'last-modified'
#: the Swift timestamp (internal form) the copy was written with
TIMESTAMP = SYSMETA + 'timestamp'
#: the migration that wrote it
MIGRATION = SYSMETA + 'by'


def timestamp(seconds):
    """The Swift timestamp (internal form) of ``seconds``."""
    return swift_utils.Timestamp(seconds).internal


def normalize(stamp):
    """``stamp`` in internal form (None when it is not a timestamp)."""
    try:
        return swift_utils.Timestamp(stamp).internal
    except ValueError:
        return None


def deleted_in_swift(tombstone, since):
    """Whether a deletion at ``tombstone`` (internal form) was a Swift
    user's during the migration: after ``since`` (seconds), and not one
    of the migrator's own (which are written just after a copy's
    timestamp, with an offset).
    """
    if tombstone is None:
        return False
    ts = swift_utils.Timestamp(tombstone)
    return ts.offset == 0 and ts.timestamp >= since


def after(stamp):
    """The smallest Swift timestamp newer than ``stamp`` (internal form)."""
    ts = swift_utils.Timestamp(stamp)
    return swift_utils.Timestamp(ts.timestamp, offset=ts.offset + 1).internal


def headers(migration_name, source_etag, source_last_modified, stamp):
    """The marks of a copy, as request headers."""
    return {SOURCE_ETAG: source_etag or '',
            SOURCE_LAST_MODIFIED: repr(float(source_last_modified)),
            TIMESTAMP: stamp,
            MIGRATION: migration_name}


@dataclasses.dataclass
class SwiftCopy:
    """What a HEAD of an object in Swift says about the migration."""

    #: the object's X-Timestamp (internal form)
    timestamp: str
    etag: str
    size: int
    #: the marks, or None for an object the migrator did not write
    source_etag: typing.Optional[str] = None
    source_last_modified: typing.Optional[float] = None
    migrated_timestamp: typing.Optional[str] = None

    @classmethod
    def of(cls, headers):
        """From response headers (lower-case names)."""
        lower = {k.lower(): v for k, v in headers.items()}
        stamp = lower.get('x-timestamp') or '0'
        try:
            stamp = swift_utils.Timestamp(stamp).internal
        except ValueError:
            pass
        last = lower.get(SOURCE_LAST_MODIFIED)
        try:
            last = float(last) if last is not None else None
        except ValueError:
            last = None
        return cls(timestamp=stamp,
                   etag=(lower.get('etag') or '').strip('"'),
                   size=int(lower.get('content-length') or 0),
                   source_etag=lower.get(SOURCE_ETAG),
                   source_last_modified=last,
                   migrated_timestamp=lower.get(TIMESTAMP))

    @property
    def migrated(self):
        """Whether the migrator wrote this object."""
        return self.migrated_timestamp is not None

    @property
    def changed_in_swift(self):
        """Whether a Swift user wrote or changed it after the migrator
        did: the user's object, never touched again.
        """
        if not self.migrated:
            return True
        return self.timestamp != self.migrated_timestamp

    def is_copy_of(self, etag, last_modified):
        """Whether this is the migrator's copy of that source version."""
        return (self.migrated and self.source_etag == (etag or '') and
                self.source_last_modified is not None and
                abs(self.source_last_modified - last_modified) < 1.0)
