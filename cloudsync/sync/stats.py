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
"""statsd metrics of the sync daemon.

Metrics follow Swift's statsd conventions (counters ``|c``, timings in
milliseconds ``|ms``, gauges ``|g``) and are named
``<statsd_prefix>.<mapping>.<metric>``; the mapping name has every
character other than letters, digits, ``_`` and ``-`` replaced by ``_``
so that it stays one statsd path component. With no ``statsd_host`` set,
nothing is sent.

Counters, per mapping:

``copied_objects``
    objects uploaded (a large object counts once)
``bytes``
    bytes read from Swift and sent to the remote
``metadata_updates``
    remote metadata updated without re-sending the data
``deleted_objects``
    remote deletes
``archived_objects``
    local objects removed after their remote copy was verified
``errors``
    rows that failed (and will be retried)
``rows_handled``
    rows this node handled (its own and those it verified)

Gauges, per mapping, at the end of every pass:

``rows_behind``
    rows not yet handled on this node, failed ones included
``lag_seconds``
    age of the oldest change this node has not yet synced
"""

import re
import threading

from swift.common import statsd_client

_UNSAFE = re.compile(r'[^A-Za-z0-9_-]')


def metric_component(name):
    """``name`` made safe to be one component of a statsd metric name."""
    return _UNSAFE.sub('_', name) or '_'


class SyncStats(object):
    """Counters, timings and gauges of one mapping.

    ``client`` is anything with ``update_stats``, ``timing`` and
    ``_send`` like :class:`swift.common.statsd_client.StatsdClient`.
    Every value is also added to :attr:`totals`, so that the daemon can
    report what happened even with statsd off.
    """

    def __init__(self, client=None, mapping=None):
        self.client = client
        self.mapping = mapping
        self._lock = threading.Lock()
        self.totals = {}

    def _add(self, name, n):
        with self._lock:
            self.totals[name] = self.totals.get(name, 0) + n

    def increment(self, name, n=1):
        self._add(name, n)
        if self.client is not None and n:
            self.client.update_stats(name, n)

    def update_bytes(self, n):
        self.increment('bytes', n)

    def timing(self, name, milliseconds):
        if self.client is not None:
            self.client.timing(name, milliseconds)

    def gauge(self, name, value):
        with self._lock:
            self.totals[name] = value
        if self.client is not None:
            # NOTE(cloudsync): Swift's client has no public gauge method;
            # its _send takes the metric type.
            self.client._send(name, value, 'g')


class NullStats(SyncStats):
    """Counts in memory only; for tests and when statsd is off."""

    def __init__(self, mapping=None):
        super().__init__(None, mapping)


def make_stats(conf, mapping_name, logger=None):
    """The :class:`SyncStats` of mapping ``mapping_name``.

    :param conf: the ``[DEFAULT]`` options (``statsd_host``,
        ``statsd_port``, ``statsd_prefix``).
    """
    if not conf.statsd_host:
        return NullStats(mapping_name)
    client = statsd_client.StatsdClient(
        conf.statsd_host, conf.statsd_port,
        base_prefix=conf.statsd_prefix or '',
        tail_prefix=metric_component(mapping_name),
        logger=logger)
    return SyncStats(client, mapping_name)
