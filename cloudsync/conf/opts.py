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
"""cloudsync's configuration options.

``[DEFAULT]`` holds the node's settings (named and defaulted as in Swift's
container-server.conf where they are the same thing); every
``[remote:NAME]`` section describes a remote store and every
``[mapping:NAME]`` section maps a Swift container (or every container of
an account) to a bucket of a remote.
"""

from oslo_config import cfg

default_opts = [
    cfg.StrOpt('devices', default='/srv/node',
               help='Where this node\'s devices (and so its container '
                    'databases) are mounted, as in container-server.conf.'),
    cfg.StrOpt('swift_dir', default='/etc/swift',
               help='Swift\'s configuration directory: swift.conf and the '
                    'rings.'),
    cfg.StrOpt('bind_ip', default='0.0.0.0',
               help='The IP address of this node\'s container server, as in '
                    'container-server.conf; 0.0.0.0 means every address of '
                    'this host.'),
    cfg.PortOpt('bind_port', default=6201,
                help='The port of this node\'s container server, as in '
                     'container-server.conf. Several container servers on '
                     'one host are several nodes, each with its own daemon '
                     'and configuration file.'),
    cfg.BoolOpt('mount_check', default=True,
                help='Skip devices that are not mount points, as Swift '
                     'does.'),
    cfg.StrOpt('status_dir', default='/var/lib/cloudsync',
               help='Where the daemon keeps its progress, one file per '
                    'mapping and container database.'),
    cfg.IntOpt('workers', default=10, min=1,
               help='Objects handled at once by the daemon on this node. '
                    'Each may be a multipart upload sending up to '
                    'min(workers, 8) parts at once, so an S3 remote\'s '
                    'connection pool holds workers times that many '
                    'connections, opened as they are needed. An object of '
                    'at most 1 MiB is read with one GET and held in memory '
                    'while it is sent: at most workers MiB in all.'),
    cfg.IntOpt('container_workers', default=4, min=1,
               help='Container databases processed at once.'),
    cfg.FloatOpt('poll_interval', default=5.0, min=0,
                 help='Seconds between the starts of two passes over the '
                      'mapped containers.'),
    cfg.FloatOpt('change_check_interval', default=0.1, min=0,
                 help='Between two passes, seconds between two looks at '
                      'the mapped container databases of this node (a '
                      'stat of each database file and its .pending file, '
                      'nothing opened): a database that changed is crawled '
                      'at once instead of waiting for the next pass, and '
                      'about once a second while it keeps changing. The '
                      'pass every poll_interval still finds new containers '
                      'and retries failed rows (0: no looks between '
                      'passes).'),
    cfg.IntOpt('items_chunk', default=1000, min=1,
               help='Rows read from a container database at a time.'),
    cfg.FloatOpt('container_pass_time', default=60.0, min=0,
                 help='At most this many seconds per container per pass, '
                      'so that one busy container does not starve the '
                      'others (0: no limit).'),
    cfg.FloatOpt('verification_slack', default=3600.0, min=0,
                 help='Seconds a row is left to the replica that owns it '
                      'before the other replicas check that it reached the '
                      'remote.'),
    cfg.FloatOpt('retry_interval', default=60.0, min=0,
                 help='First wait before a failed row is tried again; it '
                      'doubles on each failure up to retry_interval_max.'),
    cfg.FloatOpt('retry_interval_max', default=3600.0, min=0,
                 help='Longest wait between two tries of a failed row.'),
    cfg.StrOpt('internal_client_conf_path',
               help='Paste configuration of the internal client that reads '
                    'objects from the local cluster. When unset, a built-in '
                    'pipeline (catch_errors, proxy-logging, cache, '
                    'proxy-server) is used.'),
    cfg.StrOpt('keymaster_config_path',
               help='On a cluster that encrypts objects at rest: the '
                    'keymaster configuration of the proxy (the file its '
                    'keymaster\'s keymaster_config_path names, with a '
                    '[keymaster], [kms_keymaster] or [kmip_keymaster] '
                    'section). The built-in internal client pipeline then '
                    'has that keymaster and the encryption middleware, so '
                    'that objects are read decrypted. It cannot be set '
                    'with internal_client_conf_path, whose pipeline must '
                    'have both filters itself. An object read still '
                    'encrypted is never copied or archived: its row '
                    'fails.'),
    cfg.HostAddressOpt('statsd_host',
                       help='Send metrics to this statsd host (unset: no '
                            'metrics).'),
    cfg.PortOpt('statsd_port', default=8125, help='The statsd port.'),
    cfg.StrOpt('statsd_prefix', default='cloudsync',
               help='Prefix of every metric name.'),
]

remote_opts = [
    cfg.BoolOpt('enabled', default=True,
                help='A remote with enabled = false is ignored, and so are '
                     'the mappings that use it.'),
    cfg.StrOpt('provider', required=True,
               help='The kind of store: a name in the cloudsync.providers '
                    'namespace (s3, gcs, s3-clone, swift, or an installed '
                    'third-party provider).'),
    cfg.StrOpt('endpoint',
               help='Where the store is: an http(s) URL (for a Swift '
                    'remote, its auth URL). Unset for AWS S3.'),
    cfg.StrOpt('access_key',
               help='Access key (for a Swift remote: the user, e.g. '
                    'test2:tester2).'),
    cfg.StrOpt('secret_key', secret=True,
               help='Secret key (for a Swift remote: the user\'s key). '
                    'Never logged.'),
]

mapping_opts = [
    cfg.BoolOpt('enabled', default=True,
                help='A mapping with enabled = false is ignored.'),
    cfg.StrOpt('account', required=True,
               help='The Swift account, e.g. AUTH_test.'),
    cfg.StrOpt('container', required=True,
               help='The Swift container, or "*" for every container of '
                    'the account, including those created later.'),
    cfg.StrOpt('remote', required=True,
               help='The name of a [remote:NAME] section.'),
    cfg.StrOpt('bucket', required=True,
               help='The bucket (for a Swift remote: the container, or the '
                    'prefix of container names when container is "*").'),
    cfg.StrOpt('lifecycle', default='sync',
               help='What happens to the data: a name in the '
                    'cloudsync.lifecycle namespace. sync copies every '
                    'change; archive copies, then removes the local copy.'),
    cfg.StrOpt('listing', default='merge',
               help='How the shunt and proxymc merge the local and remote '
                    'listings: a name in the cloudsync.listing namespace.'),
    cfg.FloatOpt('copy_after', default=0.0,
                 help='Seconds after an object\'s last change before it is '
                      'copied (archived, with lifecycle = archive).'),
    cfg.BoolOpt('propagate_delete', default=True,
                help='Delete the remote copy when the local object is '
                     'deleted. When false, on a mapping the cloud shunt '
                     'serves (lifecycle = archive, merge_namespaces), the '
                     'remote copy is kept but marked deleted, so that the '
                     'shunt no longer serves it.'),
    cfg.BoolOpt('restore_object', default=False,
                help='With lifecycle = archive: an object read through the '
                     'shunt is written back into Swift as it streams.'),
    cfg.StrOpt('archive_as', default='stub',
               choices=[('delete', 'the local object is deleted once its '
                                   'remote copy is verified; the shunt '
                                   'finds it through Swift\'s 404'),
                        ('stub', 'the local object is replaced by a '
                                 'zero-byte stub that says where the data '
                                 'is; Swift\'s listing stays what it was')],
               help='With lifecycle = archive: what archiving leaves in '
                    'Swift in place of the object.'),
    cfg.BoolOpt('serve_deleted_archives', default=True,
                help='With lifecycle = archive: the shunt also serves '
                     'objects archived by deleting them (archive_as = '
                     'delete, or before stubs), through Swift\'s 404, and '
                     'merges the bucket into listings. Turn it off once no '
                     'such object is left, so that a 404 is not looked up '
                     'on the remote and listings are Swift\'s own.'),
    cfg.IntOpt('cold_restore_days', default=1, min=1,
               help='With lifecycle = archive, for a remote copy in a '
                    'storage class that must be restored before it is '
                    'read (S3 GLACIER, DEEP_ARCHIVE): how many days the '
                    'copy the shunt has the remote restore on a read stays '
                    'readable.'),
    cfg.StrOpt('cold_restore_tier', default='Standard',
               choices=[('Expedited', 'minutes (GLACIER only; costs '
                                      'most)'),
                        ('Standard', 'hours'),
                        ('Bulk', 'the most hours; costs least')],
               help='The retrieval tier of the restores the shunt asks '
                    'for (see cold_restore_days).'),
    cfg.BoolOpt('merge_namespaces', default=False,
                help='Have the shunt serve remote objects and merge '
                     'listings for this mapping even when it does not '
                     'archive.'),
    cfg.BoolOpt('remote_writers', default=True,
                help='Whether anything besides this mapping\'s sync daemons '
                     'writes or deletes its objects in the bucket: proxymc, '
                     'S3 clients of a merged namespace, another tool. When '
                     'true, a change of an object the remote may hold is '
                     'checked against the remote copy first (a HEAD), so '
                     'that another writer\'s newer object is never '
                     'overwritten or deleted. When false, an overwrite, a '
                     'metadata change (conditional on the remote holding '
                     'the same bytes, where the store can) and a delete of '
                     'a small object cost the remote one request each, and '
                     'proxymc refuses to write or delete the mapping\'s '
                     'objects (403). Always true for mappings the cloud '
                     'shunt serves (lifecycle = archive, '
                     'merge_namespaces): their users write through it.'),
    cfg.StrOpt('layout',
               choices=[('hashed', 'swift-s3-sync\'s layout: '
                                   '<hash>/<account>/<container>/<object>'),
                        ('prefix', '<key_prefix>/<object>'),
                        ('native', '<object>: the object name as the key')],
               help='How object names become remote keys. Unset: the '
                    'remote\'s own default, native on Swift remotes (they '
                    'keep object names, as swift-s3-sync and '
                    'container-sync do) and hashed on the others.'),
    cfg.StrOpt('key_prefix', default='',
               help='With layout = prefix: the key prefix. It may contain '
                    '{account} and {container}.'),
    cfg.StrOpt('exclude_pattern',
               help='Objects whose name matches this regular expression '
                    '(anchored at the start) are not copied.'),
    cfg.StrOpt('selection_criteria',
               help='Copy only objects whose metadata matches, as JSON: '
                    '{"x-object-meta-color": "blue"}, with AND, OR and NOT '
                    'taking lists (AND, OR) or one criterion (NOT).'),
    cfg.FloatOpt('remote_delete_after', default=0.0,
                 help='Seconds after which the remote expires copied '
                      'objects (0: never).'),
    cfg.BoolOpt('retain_local_segments', default=False,
                help='With lifecycle = archive: keep the segments of large '
                     'objects in Swift after archiving the manifest.'),
    cfg.BoolOpt('propagate_expiration', default=False,
                help='Copy X-Delete-At to the remote.'),
    cfg.FloatOpt('propagate_expiration_offset', default=0.0,
                 help='Seconds added to a propagated X-Delete-At.'),
    cfg.BoolOpt('convert_dlo', default=False,
                help='Copy dynamic large objects as static large objects.'),
    cfg.StrOpt('storage_policy',
               help='Swift remote: storage policy of the containers '
                    'cloudsync creates.'),
    cfg.BoolOpt('sync_container_metadata', default=False,
                help='Swift remote: copy X-Container-Meta-* to the remote '
                     'container.'),
    cfg.BoolOpt('sync_container_acl', default=False,
                help='Swift remote: also copy X-Container-Read and '
                     'X-Container-Write.'),
]

#: options proxymc reads from each ``[mapping:NAME]`` section (listed by
#: proxymc's own ``oslo.config.opts`` entry point)
proxymc_mapping_opts = [
    cfg.StrOpt('read_acl',
               help='proxymc: who besides the account\'s owners may list '
                    'and read the mapped containers, in the syntax of '
                    'X-Container-Read (e.g. "test:reader,.r:*"). Unset: '
                    'only the owners.'),
    cfg.StrOpt('write_acl',
               help='proxymc: who besides the account\'s owners may write '
                    'and delete objects, in the syntax of X-Container-Write. '
                    'Unset: only the owners.'),
]

#: the options of a ``[migration:NAME]`` section: what the migrator
#: (``cloudsync-migrate``) brings into Swift, from where
migration_opts = [
    cfg.BoolOpt('enabled', default=True,
                help='A migration with enabled = false is ignored.'),
    cfg.StrOpt('remote', required=True,
               help='The name of the [remote:NAME] section of the source: '
                    'the store the data comes from.'),
    cfg.StrOpt('bucket', required=True,
               help='The source bucket (for a Swift remote: the source '
                    'container), or "*" for every bucket of the remote\'s '
                    'credentials (every container of the remote Swift '
                    'account).'),
    cfg.StrOpt('account', required=True,
               help='The Swift account the data goes into, e.g. '
                    'AUTH_test.'),
    cfg.StrOpt('container',
               help='The Swift container the data goes into. Unset: the '
                    'source bucket\'s name. Not with bucket = "*": every '
                    'bucket then goes into the container of its own name.'),
    cfg.StrOpt('prefix', default='',
               help='Migrate only the objects whose name starts with this '
                    'prefix. Objects keep their whole names.'),
    cfg.StrOpt('storage_policy',
               help='The storage policy of the Swift containers the '
                    'migrator creates (unset: the cluster\'s default).'),
    cfg.BoolOpt('remove_after_verify', default=False,
                help='Delete each object from the source once its copy in '
                     'Swift is verified. Objects deleted at the source are '
                     'then never deleted from Swift.'),
    cfg.BoolOpt('propagate_delete', default=True,
                help='Delete from Swift an object the migrator copied when '
                     'it is deleted at the source, unless a Swift user '
                     'changed it since.'),
    cfg.FloatOpt('older_than', default=0.0, min=0,
                 help='Migrate only the objects whose last change at the '
                      'source is more than this many seconds ago; younger '
                      'ones wait for a later pass. 0: every object.'),
    cfg.IntOpt('part_writers', default=4, min=1, max=32,
               help='How many segments of one object copied in parts (an '
                    'S3 multipart object) are written into Swift at once, '
                    'while the next part is read from the source\'s one '
                    'GET of the object. Up to part_writers + 1 parts (of '
                    'at most 64 MiB; larger parts are written one at a '
                    'time) are held in memory per object. 1: one part '
                    'after the other, streamed.'),
]
