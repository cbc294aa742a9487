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
"""Clients of the all-in-one's services, and where its containers live."""

import os

import aio_common as common


class AioClients(object):
    """Clients of an :class:`~aio_cluster.AllInOne`, and its container
    replicas.
    """

    def swift_client(self, user='test:tester', key='testing', **kwargs):
        """A swiftclient Connection to the proxy, with tempauth (v1)."""
        from swiftclient import client as swiftclient
        kwargs.setdefault('retries', 2)
        kwargs.setdefault('timeout', 30)
        return swiftclient.Connection(
            authurl=self.state['auth_url'], user=user, key=key,
            auth_version='1', **kwargs)

    def _boto3_client(self, endpoint, access_key, secret_key):
        import boto3
        from botocore.config import Config
        config = Config(
            region_name=common.REGION,
            signature_version='s3v4',
            s3={'addressing_style': 'path'},
            request_checksum_calculation='when_required',
            response_checksum_validation='when_required',
            retries={'max_attempts': 2, 'mode': 'standard'},
            connect_timeout=5, read_timeout=60)
        return boto3.session.Session().client(
            's3', endpoint_url=endpoint, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key, config=config)

    def s3_client(self):
        """A boto3 S3 client for the moto server."""
        return self._boto3_client(self.state['moto_endpoint'],
                                  common.MOTO_ACCESS_KEY,
                                  common.MOTO_SECRET_KEY)

    def s3api_client(self, user='test:tester', key='testing', endpoint=None):
        """A boto3 S3 client for Swift's s3api (access key account:user).

        It talks to the main proxy, or to the proxy at ``endpoint``.
        """
        return self._boto3_client(endpoint or self.state['s3api_endpoint'],
                                  user, key)

    def internal_client(self, user_agent='cloudsync-aio', request_tries=3):
        """A Swift InternalClient using ``internal-client.conf``."""
        common.use_swift_dir(self.swift_dir)
        from swift.common.internal_client import InternalClient
        return InternalClient(self.state['internal_client_conf'],
                              user_agent, request_tries)

    def node_by_port(self, port, kind='container'):
        for node in self.state['nodes']:
            if node['%s_port' % kind] == port:
                return node
        raise common.AioError('no node with %s port %s' % (kind, port))

    def container_nodes(self, account, container):
        """[(node state dict, DB path)] of a container, in ring order."""
        common.use_swift_dir(self.swift_dir)
        from swift.common.ring import Ring
        from swift.common.utils import hash_path
        from swift.common.utils import storage_directory

        ring = Ring(self.swift_dir, ring_name='container')
        part, devs = ring.get_nodes(account, container)
        name_hash = hash_path(account, container)
        result = []
        for dev in devs:
            node = self.node_by_port(dev['port'])
            result.append((node, os.path.join(
                node['devices'], dev['device'],
                storage_directory('containers', part, name_hash),
                name_hash + '.db')))
        return result

    def container_db_paths(self, account, container):
        """The container's DB paths on every node (one per replica)."""
        return [path for _node, path in
                self.container_nodes(account, container)]

    def ensure_container_replicas(self, account, container):
        """Ensure every replica of the container's database exists.

        A container PUT succeeds once a quorum of container servers has
        the database; Swift's replicators create it on the others later.
        The all-in-one runs no replicators, so a server that was slow to
        answer the PUT would never get it: this does the replicator's
        part, with the PUT timestamp and policy of a replica that has it.

        :returns: the paths created.
        """
        from swift.container import backend
        brokers = [backend.ContainerBroker(path, account=account,
                                           container=container)
                   for path in self.container_db_paths(account, container)]
        have = [b for b in brokers if os.path.exists(b.db_file)]
        if not have:
            raise common.AioError('no replica of %s/%s exists' % (
                account, container))
        info = have[0].get_info()
        created = []
        for broker in brokers:
            if not os.path.exists(broker.db_file):
                broker.initialize(info['put_timestamp'],
                                  info['storage_policy_index'])
                created.append(broker.db_file)
        return created
