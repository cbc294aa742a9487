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
"""What the ``s3`` provider does when its store refuses a conditional
write, a conditional delete or DeleteObjects: S3 clones (Swift's s3api
among them) answer some with 501 NotImplemented. The provider then stops
declaring the capability, and cloudsync does without it.
"""

from oslo_log import log as logging

from cloudsync import exceptions
from cloudsync_providers.s3 import client as s3_client

LOG = logging.getLogger(__name__)


class S3Conditions(object):
    """The fallbacks of :class:`~cloudsync_providers.s3.provider.S3Provider`
    for the capabilities a store turns out not to have.
    """

    def _refuses_conditions(self, bucket, key, exc):
        """A store that answers a conditional PUT with 501 NotImplemented
        (Swift's s3api and older S3 clones refuse ``If-Match``, some also
        ``If-None-Match``): this provider stops declaring
        :attr:`PUT_CREATE_ONLY` and :attr:`PUT_IF_MATCH`, so that
        cloudsync reads the remote copy before each write again, and the
        write refused counts as a refused precondition: the caller then
        reads and compares, as after any other refusal. Nothing was
        written.

        :raises PreconditionFailed: always.
        """
        if self.PUT_CREATE_ONLY or self.PUT_IF_MATCH:
            LOG.warning('remote %s refuses conditional writes (%s); '
                        'reading each remote copy before writing it '
                        'instead', self.name, exc)
        self.PUT_CREATE_ONLY = False
        self.PUT_IF_MATCH = False
        raise exceptions.PreconditionFailed(
            '%s: the store takes no conditional writes' % self._what(
                'put_object', bucket, key))

    def _refuses_delete_if(self, exc):
        """A store that answers a DeleteObject with ``If-Match`` with 501
        NotImplemented: this provider stops declaring
        :attr:`DELETE_IF_MATCH`; the delete, refused, is sent again
        without the condition, as before the condition existed (the
        daemon read the copy just before).
        """
        if self.DELETE_IF_MATCH:
            LOG.warning('remote %s refuses conditional deletes (%s); '
                        'deleting without a condition instead', self.name,
                        exc)
        self.DELETE_IF_MATCH = False

    def delete_objects(self, bucket, keys):
        """Delete up to 1,000 keys with one DeleteObjects request; see
        :meth:`Provider.delete_objects`. S3 reports missing keys as
        deleted.

        A provider that does not declare :attr:`BULK_DELETE` (GCS, whose
        XML API has no DeleteObjects, and the S3 clones) deletes the keys
        one by one; so does this one once the store has answered
        DeleteObjects with 501 NotImplemented (it then stops declaring
        :attr:`BULK_DELETE`).

        :raises RemoteError: the store refused to delete a key (its code
            and message).
        """
        keys = list(keys)
        if not keys:
            return
        if not self.BULK_DELETE:
            return super().delete_objects(bucket, keys)
        try:
            resp = self._call('delete_objects', bucket, Delete={
                'Objects': [{'Key': key} for key in keys], 'Quiet': True})
        except exceptions.NotSupported as exc:
            LOG.warning('remote %s refuses DeleteObjects (%s); deleting '
                        'one object per request instead', self.name, exc)
            self.BULK_DELETE = False
            return super().delete_objects(bucket, keys)
        errors = [e for e in resp.get('Errors') or []
                  if e.get('Code') != 'NoSuchKey']
        if errors:
            first = errors[0]
            cls = (exceptions.Unavailable
                   if first.get('Code') in s3_client.RETRYABLE_CODES
                   else exceptions.RemoteError)
            raise cls(self._scrub(
                '%s: %d of %d keys not deleted; %s: %s %s' % (
                    self._what('delete_objects', bucket, None), len(errors),
                    len(keys), first.get('Key'), first.get('Code'),
                    first.get('Message') or '')), code=first.get('Code'))
