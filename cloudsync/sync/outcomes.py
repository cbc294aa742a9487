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
"""What handling one row can come to.

The propagator answers each row with an :class:`Outcome`, or raises
:class:`RetryLater` (try the row again later) or :class:`RowFailed` (the
row failed; it is recorded and retried with backoff). The crawler counts
each outcome under its :attr:`Outcome.counter`. This module imports
nothing of cloudsync, so that both sides can import it.
"""

import enum


class Outcome(enum.Enum):
    #: the object's data was sent to the remote
    COPIED = 'copied'
    #: only the remote's metadata was replaced
    METADATA_UPDATED = 'metadata-updated'
    #: the remote was already right (or newer); nothing was sent
    UNCHANGED = 'unchanged'
    #: the remote copy was deleted
    DELETED = 'deleted'
    #: a delete found nothing on the remote
    NOT_FOUND_REMOTE = 'not-found-remote'
    #: copied, verified, and removed locally
    ARCHIVED = 'archived'
    #: excluded by the mapping (exclude_pattern, selection_criteria)
    SKIPPED = 'skipped'
    #: the local object was deleted (or expired) at or after the row: the
    #: row of that change follows
    LOCAL_GONE = 'local-gone'

    @property
    def counter(self):
        """The pass result's and the progress file's counter it adds to."""
        return _COUNTERS[self]


_COUNTERS = {
    Outcome.COPIED: 'copied',
    Outcome.METADATA_UPDATED: 'metadata_updated',
    Outcome.UNCHANGED: 'unchanged',
    Outcome.DELETED: 'deleted',
    Outcome.NOT_FOUND_REMOTE: 'unchanged',
    Outcome.ARCHIVED: 'archived',
    Outcome.SKIPPED: 'skipped',
    Outcome.LOCAL_GONE: 'skipped',
}


class RetryLater(Exception):
    """The row is not ready, or a passing failure; try it again later.

    :param reason: why, for the log.
    :param retry_after: seconds after which trying again makes sense, or
        None to use the daemon's backoff.
    """

    def __init__(self, reason, retry_after=None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class StaleAnswer(RetryLater):
    """A replica answered with an older version than another one did, or
    with an object that the others no longer have.

    Read again asking every replica (``X-Newest``) before the row is left
    for later.
    """


class RowFailed(Exception):
    """The row failed; the message names the object, the mapping and the
    remote's (or Swift's) answer.
    """

    #: trying again cannot help until the object or the mapping changes
    #: (a name the remote cannot hold): the daemon waits its longest
    #: backoff before it does
    permanent = False
