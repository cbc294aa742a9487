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
"""S3's cold storage classes: objects in ``GLACIER`` or ``DEEP_ARCHIVE``
are read only after a restore (``RestoreObject``), which makes a copy
readable for some days; ``HeadObject`` tells how far it got
(``x-amz-restore``)."""

import email.utils
import re

from cloudsync import exceptions
from cloudsync import providers

#: the classes whose objects a GET refuses until they are restored
COLD_CLASSES = frozenset(['GLACIER', 'DEEP_ARCHIVE'])
_EXPIRY = re.compile(r'expiry-date="([^"]+)"')


def cold_state(head):
    """The :class:`~cloudsync.providers.ColdState` a HeadObject answer
    (botocore's parsed response) describes.
    """
    storage_class = head.get('StorageClass')
    restore = head.get('Restore') or ''
    if 'ongoing-request="true"' in restore:
        return providers.ColdState(providers.COLD_RESTORING, storage_class)
    if 'ongoing-request="false"' in restore:
        expires_at = None
        found = _EXPIRY.search(restore)
        if found:
            parsed = email.utils.parsedate_to_datetime(found.group(1))
            expires_at = parsed.timestamp() if parsed else None
        return providers.ColdState(providers.COLD_READABLE, storage_class,
                                   expires_at)
    if (storage_class or '').upper() in COLD_CLASSES:
        return providers.ColdState(providers.COLD_ARCHIVED, storage_class)
    return providers.ColdState(providers.COLD_READABLE, storage_class)


class S3ColdRestore:
    """:meth:`~cloudsync.providers.Provider.cold_state` and
    :meth:`~cloudsync.providers.Provider.restore_cold` of the S3 provider.
    """

    RESTORES_COLD = True

    def cold_state(self, bucket, key):
        return cold_state(self._call('head_object', bucket, key))

    def restore_cold(self, bucket, key, days, tier):
        try:
            resp = self._call('restore_object', bucket, key, RestoreRequest={
                'Days': int(days), 'GlacierJobParameters': {'Tier': tier}})
        except exceptions.RemoteError as exc:
            if exc.code == 'RestoreAlreadyInProgress':
                return providers.ColdState(providers.COLD_RESTORING)
            raise
        if resp.get('ResponseMetadata', {}).get('HTTPStatusCode') == 202:
            return providers.ColdState(providers.COLD_RESTORING)
        # NOTE(cloudsync): 200: restored already, or (some stores) asked
        # for before; the object says which.
        return self.cold_state(bucket, key)
