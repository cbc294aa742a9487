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
"""Fakes for the crawler and daemon tests: a ring, a propagator, a node.

The container databases are real (Swift's ``ContainerBroker`` in a
temporary directory); the ring and the remote side are fakes.
"""

import os
import textwrap

from swift.common import utils as swift_utils
from swift.container import backend

from cloudsync import conf as conf_mod
from cloudsync.sync import crawler as crawler_mod
from cloudsync.sync import outcomes

ACCOUNT = 'AUTH_test'
CONTAINER = 'pics'
MY_IP = '127.0.0.1'
MY_PORT = 6201
DEVICE = 'sdb1'


Outcome = outcomes.Outcome
RetryLater = outcomes.RetryLater
RowFailed = outcomes.RowFailed


class Clock:
    def __init__(self, now=10000.0):
        self.now = now

    def __call__(self):
        return self.now


class NoCluster:
    """An internal client for tests that must not talk to a cluster."""

    def make_request(self, *args, **kwargs):
        raise AssertionError('unexpected request to the cluster')

    def make_path(self, account, container=None):
        return '/v1/%s' % account + ('/%s' % container if container else '')


class FakeRing:
    """Every (account, container) lives in partition 0 on ``nodes``."""

    def __init__(self, replicas=1, my_index=0):
        self.nodes = []
        for i in range(replicas):
            local = i == my_index
            self.nodes.append({
                'index': i, 'ip': MY_IP if local else '10.0.0.%d' % (i + 2),
                'port': MY_PORT, 'device': DEVICE if local else 'sdx'})

    def get_nodes(self, account, container=None):
        return 0, list(self.nodes)


class FakePropagator:
    """Records calls; answers per object name from ``script``.

    ``script[name]`` is an exception (instance) to raise, an Outcome to
    return, or a list of those consumed one call at a time.
    """

    def __init__(self, node, account, container):
        self.node = node
        self.account = account
        self.container = container

    def prepare(self):
        self.node.prepared.append((self.account, self.container))
        if self.node.prepare_error:
            raise self.node.prepare_error

    def handle(self, row, decision):
        self.node.handled.append((row.name, row.row_id, decision.action,
                                  self.container))
        answer = self.node.script.get(row.name, Outcome.COPIED)
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if self.node.on_handle:
            self.node.on_handle(row)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def verify(self, rows):
        self.node.verified.append([r.name for r in rows])
        if self.node.verify_error:
            raise self.node.verify_error
        return [r for r in rows if r.name in self.node.missing_remotely]


class Node:
    """A container node with real databases, a fake ring and remote."""

    def __init__(self, tmp_path, replicas=1, my_index=0, options=None,
                 mapping_options=None, clock=None, max_failed=10000):
        self.tmp = str(tmp_path)
        self.devices = os.path.join(self.tmp, 'srv')
        os.makedirs(os.path.join(self.devices, DEVICE), exist_ok=True)
        self.status_dir = os.path.join(self.tmp, 'status')
        self.clock = clock or Clock()
        self.handled = []
        self.verified = []
        self.prepared = []
        self.made = []
        self.script = {}
        self.missing_remotely = set()
        self.prepare_error = None
        self.verify_error = None
        self.on_handle = None
        self.ring = FakeRing(replicas, my_index)
        self.config = self.make_config(options, mapping_options)
        self.crawler = self.make_crawler(max_failed=max_failed)

    def make_config(self, options=None, mapping_options=None):
        defaults = {
            'devices': self.devices, 'status_dir': self.status_dir,
            'swift_dir': self.tmp, 'bind_ip': MY_IP, 'bind_port': MY_PORT,
            'mount_check': 'false', 'items_chunk': 3, 'workers': 2,
            'verification_slack': 60, 'retry_interval': 10,
            'retry_interval_max': 100, 'container_pass_time': 0,
        }
        defaults.update(options or {})
        mapping = {'account': ACCOUNT, 'container': CONTAINER,
                   'remote': 'r', 'bucket': 'bucket'}
        mapping.update(mapping_options or {})
        text = '[DEFAULT]\n%s\n[remote:r]\n%s\n[mapping:m]\n%s\n' % (
            '\n'.join('%s = %s' % kv for kv in defaults.items()),
            textwrap.dedent('''\
                provider = s3
                endpoint = http://127.0.0.1:9
                access_key = key
                secret_key = secretsecret'''),
            '\n'.join('%s = %s' % kv for kv in mapping.items()))
        path = os.path.join(self.tmp, 'cloudsync.conf')
        with open(path, 'w') as f:
            f.write(text)
        return conf_mod.load_file(path)

    @property
    def mapping(self):
        return self.config.mappings[0]

    def factory(self, mapping, account, container, provider, ic, stats,
                logger):
        self.made.append((account, container))
        return FakePropagator(self, account, container)

    def make_crawler(self, internal_client=None, max_failed=10000, **kw):
        return crawler_mod.ContainerCrawler(
            self.config, internal_client=internal_client or NoCluster(),
            ring=self.ring,
            my_ips=[MY_IP], propagator_factory=self.factory,
            clock=self.clock, max_failed=max_failed, **kw)

    def broker(self, account=ACCOUNT, container=CONTAINER):
        broker, _ = backend.ContainerBroker.create_broker(
            os.path.join(self.devices, DEVICE), 0, account, container,
            put_timestamp=swift_utils.Timestamp(1).internal,
            storage_policy_index=0)
        return broker

    def put(self, name, when=None, broker=None, deleted=False, size=3):
        broker = broker or self.broker()
        ts = swift_utils.Timestamp(when or self.clock.now - 3600)
        broker.put_object(name, ts.internal, 0 if deleted else size,
                          'text/plain', 'etag', deleted=int(deleted),
                          storage_policy_index=0)

    def dbs(self):
        return self.crawler.find_dbs(self.mapping)

    def crawl(self, deadline=None):
        results = [self.crawler.crawl(db, deadline) for db in self.dbs()]
        return results[0] if len(results) == 1 else results

    def status(self, db=None):
        db = db or self.dbs()[0]
        from cloudsync.sync import status as status_mod
        return status_mod.SyncStatus.load(
            self.crawler.status_path(db), self.mapping.fingerprint())

    def handled_names(self):
        return [h[0] for h in self.handled]

    def max_row(self):
        return self.broker().get_max_row()
