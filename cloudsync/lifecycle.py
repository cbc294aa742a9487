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
"""Lifecycle policies: when data moves, and what stays.

For every container row the sync daemon handles, the mapping's lifecycle
policy (its ``lifecycle`` option, a name in the ``cloudsync.lifecycle``
namespace) decides what to do with it. cloudsync ships two:

``sync``
    keep a copy on the remote: copy every object once it is ``copy_after``
    seconds old; delete the remote copy when the local object is deleted
    and ``propagate_delete`` is on. With ``propagate_delete`` off, on a
    mapping the cloud shunt serves (``merge_namespaces``), the remote copy
    is marked deleted instead (see :mod:`cloudsync.sync.propagate`).
``archive``
    tier data out: once an object is ``copy_after`` seconds old, copy it,
    verify the copy, then remove the local object (unless it changed in the
    meantime). The cloud shunt keeps it readable through Swift. Deletes
    are handled as for ``sync`` (an archive mapping is always served by
    the shunt, so with ``propagate_delete`` off the copy is marked).

A policy only decides; the daemon does the work, verifies it and keeps the
promise that no data is lost.
"""

import abc
import dataclasses
import enum
import typing


class Action(enum.Enum):
    #: copy the object to the remote (or check that it is there)
    COPY = 'copy'
    #: copy, verify, then remove the local object
    ARCHIVE = 'archive'
    #: remove the remote copy (the local object was deleted); with
    #: ``propagate_delete`` off, on a mapping the cloud shunt serves, mark
    #: it deleted instead
    REMOVE_REMOTE = 'remove-remote'
    #: nothing to do for this row, ever
    SKIP = 'skip'
    #: nothing to do yet; ask again after ``Decision.retry_after``
    NOT_YET = 'not-yet'


@dataclasses.dataclass
class Decision:
    action: Action
    #: for NOT_YET: seconds until the row may be ready
    retry_after: float = 0.0
    #: why, for the DEBUG log and ``cloudsync-status``
    reason: str = ''


@dataclasses.dataclass
class Row:
    """A container database row, as the daemon sees it."""

    #: the object name (``str``)
    name: str
    #: the row's primary key in this database replica (differs by replica)
    row_id: int
    #: the data timestamp (``swift.common.utils.Timestamp``)
    timestamp: typing.Any
    #: the metadata timestamp: the latest PUT or POST
    meta_timestamp: typing.Any
    #: True for a DELETE row
    deleted: bool = False
    size: int = 0
    etag: str = ''
    content_type: str = ''
    storage_policy_index: int = 0


class LifecyclePolicy(abc.ABC):
    """Decides what happens to a row of a mapped container.

    :param mapping: the :class:`cloudsync.conf.Mapping` the policy serves;
        its options (``copy_after``, ``propagate_delete``, ...) are
        attributes.
    """

    #: extra oslo.config options this policy reads from a mapping section
    OPTIONS = []

    #: whether this policy removes local data (the shunt then serves it)
    removes_local_data = False

    def __init__(self, mapping):
        self.mapping = mapping

    @abc.abstractmethod
    def decide(self, row, age):
        """What to do with ``row``.

        :param row: a :class:`Row`.
        :param age: seconds since the row's metadata timestamp.
        :returns: a :class:`Decision`. Deciding must not block or contact
            anything: it runs once per row on every pass.
        """


class SyncPolicy(LifecyclePolicy):
    """Copy every change; delete remotely if ``propagate_delete``."""

    copy_action = Action.COPY

    def decide(self, row, age):
        if row.deleted:
            if self.mapping.propagate_delete:
                return Decision(Action.REMOVE_REMOTE)
            if getattr(self.mapping, 'shunted', False):
                # NOTE(cloudsync): the remote copy stays, marked deleted,
                # so that the shunt never serves it again.
                return Decision(Action.REMOVE_REMOTE,
                                reason='propagate_delete is off: mark the '
                                'remote copy deleted')
            return Decision(Action.SKIP, reason='propagate_delete is off')
        if age < self.mapping.copy_after:
            return Decision(Action.NOT_YET,
                            retry_after=self.mapping.copy_after - age,
                            reason='younger than copy_after')
        return Decision(self.copy_action)


class ArchivePolicy(SyncPolicy):
    """Copy objects older than ``copy_after``, then remove them locally."""

    copy_action = Action.ARCHIVE
    removes_local_data = True
