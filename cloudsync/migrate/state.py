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
"""The progress of a migration on this node: one small JSON file per
migration, ``<status_dir>/migrations/<name>.json``, replaced all or
nothing (:func:`cloudsync.files.replace_file`) after every listing page.

Per source bucket it holds where the pass is (the last source key whose
page was done: a migrator that crashes or is stopped resumes after it),
what the pass did so far and what the last complete pass found, and the
last failures. A changed source (remote, bucket, prefix, target) starts
over from the first key.
"""

import json
import os
import time

from cloudsync import files

VERSION = 1
#: failures kept per migration (the newest)
MAX_FAILURES = 50
COUNTS = ('listed', 'listed_bytes', 'copied', 'copied_bytes', 'unchanged',
          'skipped', 'failed', 'deleted', 'removed_from_source')


def state_path(status_dir, name):
    """The progress file of migration ``name``."""
    safe = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in name)
    return os.path.join(status_dir, 'migrations', '%s.json' % safe)


def _counts():
    return dict.fromkeys(COUNTS, 0)


class MigrationState(object):
    """The progress file of one migration."""

    def __init__(self, path, data):
        self.path = path
        self.data = data

    @classmethod
    def load(cls, path, name, fingerprint, now=None):
        """Read it; a missing, unreadable or other-source file starts
        afresh (at ``now``).
        """
        data = None
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict) or data.get('version') != VERSION or \
                data.get('fingerprint') != fingerprint:
            data = {'version': VERSION, 'migration': name,
                    'fingerprint': fingerprint, 'buckets': {},
                    'failures': [],
                    'started': time.time() if now is None else now}
        return cls(path, data)

    @property
    def started(self):
        """When this migration's first pass began on this node."""
        return self.data.get('started') or 0.0

    def bucket(self, bucket, container=None):
        """The progress of source ``bucket`` (created when new)."""
        found = self.data['buckets'].setdefault(bucket, {
            'container': container, 'marker': '', 'passes': 0,
            'current': None, 'last': None})
        if container is not None:
            found['container'] = container
        return found

    def start(self, bucket, container, now):
        """Begin (or resume) the pass over ``bucket``; returns its
        marker.
        """
        found = self.bucket(bucket, container)
        if found['current'] is None:
            found['current'] = dict(_counts(), started=now)
            found['marker'] = ''
        return found['marker']

    def record(self, bucket, result, size):
        """Count one object's :class:`~cloudsync.migrate.objects.Result`."""
        current = self.bucket(bucket)['current']
        current['listed'] += 1
        current['listed_bytes'] += size
        current[result.outcome] = current.get(result.outcome, 0) + 1
        if result.outcome == 'copied':
            current['copied_bytes'] += result.bytes
        if result.removed_from_source:
            current['removed_from_source'] += 1

    def count(self, bucket, name, n=1):
        current = self.bucket(bucket)['current']
        current[name] = current.get(name, 0) + n

    def fail(self, bucket, key, error, now):
        failures = [f for f in self.data['failures']
                    if (f['bucket'], f['key']) != (bucket, key)]
        failures.append({'bucket': bucket, 'key': key, 'error': error,
                         'at': now})
        self.data['failures'] = failures[-MAX_FAILURES:]

    def succeed(self, bucket, key):
        self.data['failures'] = [
            f for f in self.data['failures']
            if (f['bucket'], f['key']) != (bucket, key)]

    def page_done(self, bucket, marker, now):
        """Everything up to ``marker`` is done: save."""
        self.bucket(bucket)['marker'] = marker
        self.save(now)

    def pass_done(self, bucket, now):
        """The pass over ``bucket`` reached its end: save it as the last
        complete pass; the next starts from the first key.
        """
        found = self.bucket(bucket)
        last = dict(found['current'] or _counts(), ended=now)
        found.update(last=last, current=None, marker='',
                     passes=found['passes'] + 1)
        self.save(now)

    def forget_buckets(self, keep):
        """Drop the buckets no longer at the source."""
        for bucket in list(self.data['buckets']):
            if bucket not in keep:
                del self.data['buckets'][bucket]

    def save(self, now=None):
        self.data['updated'] = now if now is not None else time.time()
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        files.replace_file(self.path, json.dumps(self.data, sort_keys=True))


def progress(data, now=None):
    """What a migration's progress file says, for people: per bucket and
    in all, objects and bytes done and left, failures, rate and ETA.

    "Done" counts the objects of the current pass that Swift holds as the
    source has them (copied, unchanged) or that Swift users own (skipped);
    "left" is the last complete pass's count less that, unknown during the
    first pass.
    """
    now = time.time() if now is None else now
    rows = []
    for bucket, info in sorted((data.get('buckets') or {}).items()):
        current = info.get('current')
        last = info.get('last')
        counts = current or last or _counts()
        done = sum(counts.get(k, 0)
                   for k in ('copied', 'unchanged', 'skipped'))
        done_bytes = counts.get('listed_bytes', 0)
        total = last['listed'] if last else None
        total_bytes = last['listed_bytes'] if last else None
        if current is None and last is not None:
            total, total_bytes = last['listed'], last['listed_bytes']
        left = max(0, total - done) if total is not None else None
        rate = eta = None
        if current is not None:
            elapsed = max(now - current.get('started', now), 1e-6)
            rate = counts.get('listed', 0) / elapsed
            if left is not None and rate > 0:
                eta = left / rate
        rows.append({
            'bucket': bucket, 'container': info.get('container'),
            'state': 'migrating' if current is not None else (
                'passed' if last is not None else 'waiting'),
            'passes': info.get('passes', 0),
            'objects_done': done, 'bytes_done': done_bytes,
            'objects_total': total, 'bytes_total': total_bytes,
            'objects_left': left,
            'bytes_left': (max(0, total_bytes - done_bytes)
                           if total_bytes is not None else None),
            'copied': counts.get('copied', 0),
            'copied_bytes': counts.get('copied_bytes', 0),
            'failed': counts.get('failed', 0),
            'deleted': counts.get('deleted', 0),
            'rate': rate, 'eta': eta,
            'last_pass_ended': last.get('ended') if last else None,
        })
    return rows


def read(status_dir, name):
    """The progress file of migration ``name`` as a dict, or None."""
    try:
        with open(state_path(status_dir, name), encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
