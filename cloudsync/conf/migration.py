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
"""The model of a ``[migration:NAME]`` section.

A migration brings a bucket of a remote (or every bucket of it) into a
Swift account::

    [remote:old-cluster]
    provider = swift
    endpoint = https://old.example.com/auth/v1.0
    access_key = legacy:migrator
    secret_key = ...

    [migration:photos]
    remote = old-cluster
    bucket = photos          # or * for every container of the account
    account = AUTH_test
    container = photos       # unset: the source bucket's name
    prefix =
    storage_policy = gold
    remove_after_verify = false
    older_than = 0           # seconds; younger objects wait
    part_writers = 4         # segments of one object written at once

The loader (:func:`cloudsync.conf.build`) checks every value with the
same rules as mappings and puts a :class:`Migration` per enabled section
in :attr:`cloudsync.conf.Config.migrations`; this module imports nothing
of the loader, so that the migrator and the shunt can use the model.
"""

import dataclasses
import typing

#: the ``bucket`` of a migration of every bucket of the remote
EVERY_BUCKET = '*'


@dataclasses.dataclass
class Migration:
    """A ``[migration:NAME]`` section: which source goes where in Swift."""

    name: str
    section: str
    #: the source :class:`~cloudsync.conf.Remote`
    remote: typing.Any
    #: the source bucket (or Swift container), or :data:`EVERY_BUCKET`
    bucket: str
    #: the Swift account objects go into
    account: str
    #: the Swift container, or None: the source bucket's name
    container: typing.Optional[str] = None
    prefix: str = ''
    storage_policy: typing.Optional[str] = None
    remove_after_verify: bool = False
    propagate_delete: bool = True
    #: seconds: only source objects last changed longer ago are migrated
    older_than: float = 0.0
    #: segments of one multipart object written into Swift at once
    part_writers: int = 4
    conf: typing.Any = None

    @property
    def every_bucket(self):
        return self.bucket == EVERY_BUCKET

    @property
    def source_is_swift(self):
        """Whether the source keeps Swift containers (container metadata,
        ACLs, timestamps, static and dynamic large objects).
        """
        return bool(self.remote.provider_cls.BUCKET_PER_CONTAINER)

    def target_container(self, bucket):
        """The Swift container source ``bucket`` goes into."""
        if self.every_bucket or not self.container:
            return bucket
        return self.container

    def source_bucket(self, container):
        """The source bucket of Swift ``container``, or None when this
        migration does not bring anything into it.
        """
        if self.every_bucket:
            return container
        if container == self.target_container(self.bucket):
            return self.bucket
        return None

    def covers(self, account, container):
        """Whether Swift ``account``/``container`` is (or may become, for
        every bucket) a target of this migration.
        """
        return account == self.account and (
            self.every_bucket or container == self.target_container(
                self.bucket))

    def fingerprint(self):
        """What, when changed, restarts a migration's progress."""
        return {
            'remote': self.remote.name,
            'provider': self.remote.provider_name,
            'endpoint': self.remote.endpoint or '',
            'bucket': self.bucket,
            'account': self.account,
            'container': self.container or '',
            'prefix': self.prefix,
        }
