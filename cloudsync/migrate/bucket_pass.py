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
"""One pass over one source bucket.

The source is listed page by page, from where the last pass stopped, side
by side with the Swift container's own listing (both are in name order),
so that what is unchanged costs no request and what was deleted at the
source is found without asking for it. Each page's objects are migrated
``workers`` at once; then the page's end is saved as the marker, so a
migrator stopped or killed resumes after the last page it finished.

Several migrators share a container without talking to each other, as
the sync daemons share a container's rows: the one on the container
node holding replica ``i`` of the Swift container (of ``R``) migrates the
objects whose name hashes to ``i`` (:class:`NodeShare`). It also copies an
object of another share that Swift still lacks once the source's copy is
older than ``verification_slack``, so a migrator that is down delays its
share only that long.

With the migration's ``older_than``, an object last changed at the
source more recently than that is left for a later pass: not copied, not
counted, and its name in Swift (if any) not taken as deleted.
"""

import dataclasses
import logging
import time
import typing


from cloudsync import concurrency
from cloudsync import exceptions
from cloudsync.migrate import objects

LOG = logging.getLogger('cloudsync.migrate')


@dataclasses.dataclass
class NodeShare:
    """Which objects of a container this migrator migrates: those whose
    name hashes to ``index`` of ``count`` (as the sync daemons split a
    container's rows between its replicas).
    """

    index: int = 0
    count: int = 1
    #: ``owner(name, count)``: the index that owns ``name``; the sync
    #: daemon's own row split (given by the command, as the core does
    #: not import the sync daemon)
    owner: typing.Optional[typing.Callable[[str, int], int]] = None

    def owns(self, name):
        if self.count <= 1 or self.owner is None:
            return True
        return self.owner(name, self.count) == self.index


class _TargetCursor(object):
    """Swift's listing of the target container, read as far as asked."""

    def __init__(self, items):
        self._items = iter(items)
        self._next = None
        self._done = False

    def _peek(self):
        if self._next is None and not self._done:
            try:
                self._next = next(self._items)
            except StopIteration:
                self._done = True
        return self._next

    def until(self, last):
        """``{name: item}`` of the entries up to ``last`` (all with None)."""
        found = {}
        while True:
            item = self._peek()
            if item is None or (last is not None and item['name'] > last):
                return found
            found[item['name']] = item
            self._next = None


class BucketPass(object):
    """Migrates one source bucket into its Swift container, one pass.

    :param migrator: the :class:`~cloudsync.migrate.objects.ObjectMigrator`.
    :param state: the :class:`~cloudsync.migrate.state.MigrationState`.
    :param stats: a :class:`cloudsync.sync.stats.SyncStats`.
    """

    def __init__(self, migration, bucket, migrator, state, share, stats,
                 stop, workers=10, slack=3600.0, page_size=1000,
                 clock=time.time):
        self.migration = migration
        self.bucket = bucket
        self.container = migration.target_container(bucket)
        self.migrator = migrator
        self.source = migrator.source
        self.target = migrator.target
        self.state = state
        self.share = share
        self.stats = stats
        self.stop = stop
        self.workers = workers
        self.slack = slack
        self.page_size = page_size
        self.clock = clock
        #: objects that failed in this pass
        self.failed = 0

    def _wanted(self, entry, listed, now):
        if self.migration.older_than and \
                entry.last_modified > now - self.migration.older_than:
            # NOTE: too young (older_than); a later pass copies it.
            return False
        if self.share.owns(entry.key):
            return True
        # NOTE: another migrator's object; helped with only when Swift
        # still lacks it well after the source got it.
        return listed is None and entry.last_modified < now - self.slack

    def run(self):
        """Go on from the saved marker to the end of the bucket (or until
        stopped); returns True when the pass reached the end.
        """
        marker = self.state.start(self.bucket, self.container, self.clock())
        self.migrator.ensure_container(self.bucket, self.container)
        cursor = _TargetCursor(self.target.listing(
            self.container, prefix=self.migration.prefix, marker=marker))
        pool = concurrency.GreenPool(self.workers)
        while not self.stop.is_set():
            page = self.source.page(self.bucket, marker,
                                    limit=self.page_size)
            entries = page.entries
            final = not page.truncated or not entries
            in_swift = cursor.until(None if final else entries[-1].key)
            now = self.clock()
            jobs = []
            for entry in entries:
                listed = in_swift.pop(entry.key, None)
                if self._wanted(entry, listed, now):
                    jobs.append((entry, listed))
            for (entry, _), result in zip(jobs, pool.imap(
                    self._migrate_one, jobs)):
                self._record(entry, result)
            if self.migration.propagate_delete:
                for name in sorted(in_swift):
                    if self.share.owns(name) and \
                            self.migrator.remove_if_gone(self.container,
                                                         name):
                        LOG.info('migration %s: %s/%s deleted at the source,'
                                 ' deleted from Swift', self.migration.name,
                                 self.container, name)
                        self.state.count(self.bucket, 'deleted')
                        self.stats.increment('deleted_objects')
            if final:
                self.state.pass_done(self.bucket, self.clock())
                return True
            marker = page.next_marker or entries[-1].key
            self.state.page_done(self.bucket, marker, self.clock())
        return False

    def _migrate_one(self, job):
        entry, listed = job
        result = self.migrator.migrate(self.bucket, self.container, entry,
                                       listed)
        if result.outcome == objects.FAILED and self._gone(entry):
            LOG.info('migration %s: %s/%s is gone at the source since it '
                     'was listed: not copied', self.migration.name,
                     self.bucket, entry.key)
            return objects.Result(objects.SKIPPED)
        return result

    def _gone(self, entry):
        """Whether the source no longer has listed ``entry``: deleted
        since the listing, or a Swift source's object past its
        ``X-Delete-At``, which Swift no longer serves though its listing
        shows it until the object expirer has removed it.
        """
        try:
            self.source.head(self.bucket, entry.key)
        except exceptions.NotFound:
            return True
        except exceptions.RemoteError:
            return False
        return False

    def _record(self, entry, result):
        self.state.record(self.bucket, result, entry.size)
        self.stats.increment('scanned')
        if result.outcome == objects.FAILED:
            self.failed += 1
            self.stats.increment('failed_objects')
            LOG.error('migration %s: %s/%s failed: %s', self.migration.name,
                      self.bucket, entry.key, result.error)
            self.state.fail(self.bucket, entry.key, result.error,
                            self.clock())
            return
        self.state.succeed(self.bucket, entry.key)
        if result.outcome == objects.COPIED:
            self.stats.increment('copied_objects')
            self.stats.update_bytes(result.bytes)
        elif result.outcome == objects.SKIPPED:
            self.stats.increment('skipped_objects')
        if result.removed_from_source:
            self.stats.increment('removed_from_source')
