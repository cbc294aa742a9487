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
"""The all-in-one's configuration: Swift's configuration files, the proxy
pipelines, Keystone's sections and the rings."""

import base64
import json
import os
import secrets

import aio_common as common


class AioConfig(object):
    """How an :class:`~aio_cluster.AllInOne` writes its configuration."""

    def _secrets(self):
        path = os.path.join(self.swift_dir, 'aio-secrets.json')
        try:
            with open(path) as f:
                data = json.load(f)
        except FileNotFoundError:
            data = None
        if data and 'encryption_root_secret' not in data:
            # written by an older version of this tool
            data['encryption_root_secret'] = base64.b64encode(
                secrets.token_bytes(32)).decode('ascii')
            common._write_json(path, data)
        if data:
            return data
        data = {
            'hash_path_prefix': secrets.token_hex(8),
            'hash_path_suffix': secrets.token_hex(8),
            'fernet_key': base64.urlsafe_b64encode(
                secrets.token_bytes(32)).decode('ascii'),
            'encryption_root_secret': base64.b64encode(
                secrets.token_bytes(32)).decode('ascii'),
        }
        common._write_json(path, data)
        return data

    def _common_defaults(self, log_name):
        return [
            ('swift_dir', self.swift_dir),
            ('user', common._current_user()),
            ('log_name', log_name),
            ('log_level', self.log_level),
        ]

    def _write(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)

    def _write_configs(self):
        sec = self._secrets()
        policies = [('swift-hash', [
            ('swift_hash_path_prefix', sec['hash_path_prefix']),
            ('swift_hash_path_suffix', sec['hash_path_suffix']),
        ])]
        for pol in self.policies():
            items = [(k, pol[k]) for k in (
                'name', 'policy_type', 'ec_type', 'ec_num_data_fragments',
                'ec_num_parity_fragments', 'ec_object_segment_size')
                if k in pol]
            if pol['default']:
                items.append(('default', 'yes'))
            policies.append(('storage-policy:%d' % pol['index'], items))
        self._write(os.path.join(self.swift_dir, 'swift.conf'),
                    common._ini(policies))
        if self.production:
            self._write(self.keymaster_conf_path, common._ini([('keymaster', [
                ('encryption_root_secret', sec['encryption_root_secret']),
            ])]))
            os.chmod(self.keymaster_conf_path, 0o600)

        for i in range(1, self.nodes + 1):
            node = self.node_info(i)
            recon = os.path.join(self.base_dir, 'cache', 'node%d' % i)
            os.makedirs(os.path.join(node['devices'], node['device']),
                        exist_ok=True)
            os.makedirs(recon, exist_ok=True)
            for kind in common.SERVER_TYPES:
                app = [('use', 'egg:swift#%s' % kind)]
                if kind == 'object':
                    app.append(('allowed_headers', ', '.join((
                        'Content-Disposition', 'Content-Encoding',
                        'X-Delete-At', 'X-Object-Manifest',
                        'X-Static-Large-Object', 'Cache-Control',
                        'Content-Language', 'Expires', 'X-Robots-Tag'))))
                if kind == 'container':
                    app.append(('allow_versions', 'true'))
                sections = [
                    ('DEFAULT', [
                        ('devices', node['devices']),
                        ('mount_check', 'false'),
                        ('disable_fallocate', 'true'),
                        ('bind_ip', common.IP),
                        ('bind_port', node['%s_port' % kind]),
                        ('workers', 0),
                    ] + self._common_defaults('%s-server-%d' % (kind, i)) + [
                        ('recon_cache_path', recon),
                    ]),
                    ('pipeline:main', [
                        ('pipeline', 'healthcheck recon %s-server' % kind)]),
                    ('app:%s-server' % kind, app),
                    ('filter:healthcheck', [('use', 'egg:swift#healthcheck')]),
                    ('filter:recon', [('use', 'egg:swift#recon')]),
                    ('%s-replicator' % kind, []),
                    ('%s-auditor' % kind, []),
                ]
                if kind != 'account':
                    sections.append(('%s-updater' % kind, []))
                if kind == 'container':
                    sections.append(('container-sharder', [
                        ('auto_shard', 'false')]))
                if kind == 'object' and self.production:
                    sections.append(('object-expirer', [
                        ('internal_client_conf_path', os.path.join(
                            self.swift_dir, 'internal-client.conf')),
                        # the object servers queue expiring objects in
                        # the .expiring_objects account (the "legacy"
                        # queue, still the only one)
                        ('dequeue_from_legacy', 'true'),
                        ('log_name', 'object-expirer'),
                    ]))
                self._write(node['%s_server_conf' % kind],
                            common._ini(sections))

        self._write(os.path.join(self.swift_dir, 'internal-client.conf'),
                    self._internal_client_conf())
        self._write_proxy_conf('proxy', self.port('proxy'),
                               self.extra_filters)

    def _cache_filter(self):
        return ('filter:cache', [
            ('use', 'egg:swift#memcache'),
            ('memcache_servers', '%s:%d' % (common.IP, self.port('memcache'))),
        ])

    def _encryption_sections(self):
        return [
            ('filter:keymaster', [
                ('use', 'egg:swift#keymaster'),
                ('keymaster_config_path', self.keymaster_conf_path),
            ]),
            ('filter:encryption', [('use', 'egg:swift#encryption')]),
        ]

    def _internal_client_conf(self):
        pipeline = ['catch_errors', 'proxy-logging', 'cache', 'proxy-server']
        if not self.memcache:
            pipeline.remove('cache')
        if self.production:
            # as Swift's documentation has it for container-sync: anything
            # that reads objects outside the proxy decrypts them too
            pipeline[-1:-1] = common.ENCRYPTION_FILTERS
        sections = [
            ('DEFAULT', self._common_defaults('internal-client')),
            ('pipeline:main', [('pipeline', ' '.join(pipeline))]),
            ('app:proxy-server', [
                ('use', 'egg:swift#proxy'),
                ('account_autocreate', 'true'),
            ]),
            ('filter:catch_errors', [('use', 'egg:swift#catch_errors')]),
            ('filter:proxy-logging', [('use', 'egg:swift#proxy_logging')]),
        ]
        if self.memcache:
            sections.append(self._cache_filter())
        if self.production:
            sections += self._encryption_sections()
        return common._ini(sections)

    def proxy_conf_path(self, name='proxy'):
        if name == 'proxy':
            return os.path.join(self.swift_dir, 'proxy-server.conf')
        return os.path.join(self.swift_dir, 'proxy-server-%s.conf' % name)

    def _write_proxy_conf(self, name, port, extra_filters, auth=None,
                          keystone_url=None):
        sec = self._secrets()
        auth = auth or self.auth
        pipeline = list(common.PIPELINE_HEAD)
        if not self.memcache:
            pipeline.remove('cache')
        if auth == 'keystone':
            where = pipeline.index('tempauth')
            pipeline[where:where + 1] = ['s3token', 'authtoken',
                                         'keystoneauth']
        pipeline += [f[0] for f in extra_filters] + list(common.PIPELINE_TAIL)
        if self.production:
            pipeline[-2:-2] = common.ENCRYPTION_FILTERS
        tempauth = [
            ('use', 'egg:swift#tempauth'),
            ('fernet_key_aio', sec['fernet_key']),
            ('active_fernet_key_id', 'aio'),
            # SERVICE_<project> accounts need a service token as well
            ('reseller_prefix', 'AUTH, SERVICE'),
            ('SERVICE_require_group', '.service'),
        ]
        for account, user, key, groups in common.USERS:
            tempauth.append(('user_%s_%s' % (account, user),
                             ' '.join((key,) + groups)))
        sections = [
            ('DEFAULT', [
                ('bind_ip', common.IP),
                ('bind_port', port),
                ('workers', self.proxy_workers),
            ] + self._common_defaults(
                'proxy-server' if name == 'proxy' else 'proxy-%s' % name)),
            ('pipeline:main', [('pipeline', ' '.join(pipeline))]),
            ('app:proxy-server', [
                ('use', 'egg:swift#proxy'),
                ('allow_account_management', 'true'),
                ('account_autocreate', 'true'),
                # a stopped node is tried again soon after it comes back
                ('error_suppression_interval', '5'),
            ]),
            ('filter:catch_errors', [('use', 'egg:swift#catch_errors')]),
            ('filter:gatekeeper', [('use', 'egg:swift#gatekeeper')]),
            ('filter:healthcheck', [('use', 'egg:swift#healthcheck')]),
            ('filter:proxy-logging', [('use', 'egg:swift#proxy_logging')]),
            ('filter:listing_formats',
             [('use', 'egg:swift#listing_formats')]),
            ('filter:bulk', [('use', 'egg:swift#bulk')]),
            ('filter:tempurl', [('use', 'egg:swift#tempurl')]),
            ('filter:s3api', [
                ('use', 'egg:swift#s3api'),
                ('location', common.REGION),
            ]),
            ('filter:tempauth', tempauth),
            ('filter:copy', [('use', 'egg:swift#copy')]),
            ('filter:container-quotas',
             [('use', 'egg:swift#container_quotas')]),
            ('filter:account-quotas', [('use', 'egg:swift#account_quotas')]),
            ('filter:slo', [('use', 'egg:swift#slo')]),
            ('filter:dlo', [('use', 'egg:swift#dlo')]),
            ('filter:versioned_writes', [
                ('use', 'egg:swift#versioned_writes'),
                ('allow_versioned_writes', 'true'),
                ('allow_object_versioning', 'true'),
            ]),
            ('filter:symlink', [('use', 'egg:swift#symlink')]),
        ]
        if self.memcache:
            sections.append(self._cache_filter())
        if self.production:
            sections += self._encryption_sections()
        if auth == 'keystone':
            sections += self._keystone_sections(
                keystone_url or self.keystone_url)
        for fname, opts in extra_filters:
            sections.append(('filter:%s' % fname, sorted(opts.items())))
        path = self.proxy_conf_path(name)
        self._write(path, common._ini(sections))
        return path

    @property
    def keystone_url(self):
        """The identity v3 URL of the cluster's own Keystone."""
        return 'http://%s:%d/v3' % (common.IP, self.port('keystone'))

    def keystone(self):
        """The cluster's own Keystone (``tools/keystone.py``)."""
        return common.keystone_tool().Keystone(
            os.path.join(self.base_dir, 'keystone'), self.port('keystone'))

    @staticmethod
    def _keystone_sections(url):
        """The auth filters for the Keystone at ``url``.

        authtoken validates tokens as the ``swift`` service user.
        """
        ks = common.keystone_tool()
        project, user, password, _roles = ks.USERS[0]
        return [
            ('filter:s3token', [('use', 'egg:swift#s3token'),
                                ('auth_uri', url)]),
            ('filter:authtoken', [
                ('paste.filter_factory',
                 'keystonemiddleware.auth_token:filter_factory'),
                ('www_authenticate_uri', url),
                ('auth_url', url),
                ('auth_type', 'password'),
                ('interface', 'public'),
                ('username', user),
                ('password', password),
                ('project_name', project),
                ('user_domain_id', 'default'),
                ('project_domain_id', 'default'),
                ('delay_auth_decision', 'true'),
            ]),
            ('filter:keystoneauth', [
                ('use', 'egg:swift#keystoneauth'),
                ('operator_roles', common.KEYSTONE_OPERATOR_ROLES),
                ('project_reader_roles', common.KEYSTONE_READER_ROLES),
                ('reseller_admin_role', 'ResellerAdmin'),
            ]),
        ]

    def _build_rings(self):
        """Build the rings, unless they exist for the same layout."""
        from swift.common.ring import RingBuilder

        policies = self.policies()
        replicas = {'account': self.replicas, 'container': self.replicas}
        for policy in policies:
            replicas[self.ring_name(policy)] = self.ring_replicas(policy)
        layout = {'nodes': self.nodes, 'replicas': self.replicas,
                  'part_power': self.part_power,
                  'base_port': self.base_port,
                  'policies': [p['index'] for p in policies],
                  'ring_replicas': replicas}
        layout_path = os.path.join(self.swift_dir, 'rings.json')
        rings = sorted(replicas)
        try:
            with open(layout_path) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
        if old == layout and all(
                os.path.exists(os.path.join(self.swift_dir, r + '.ring.gz'))
                for r in rings):
            return
        for ring in rings:
            kind = ring.split('-')[0]
            builder = RingBuilder(self.part_power, replicas[ring], 1)
            for i in range(1, self.nodes + 1):
                builder.add_dev({
                    'id': i - 1, 'region': 1, 'zone': i, 'ip': common.IP,
                    'port': self.port(kind, i),
                    'replication_ip': common.IP,
                    'replication_port': self.port(kind, i),
                    'device': 'sdb%d' % i, 'weight': 100.0, 'meta': ''})
            builder.rebalance(seed=1)
            builder.validate()
            builder.save(os.path.join(self.swift_dir, ring + '.builder'))
            builder.get_ring().save(
                os.path.join(self.swift_dir, ring + '.ring.gz'))
        common._write_json(layout_path, layout)
