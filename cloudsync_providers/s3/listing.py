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
"""Listings and lifecycle expiration of the S3 provider."""

import hashlib
import urllib.parse

from botocore import exceptions as boto_exc
from oslo_log import log as logging

from cloudsync import exceptions
from cloudsync import providers
from cloudsync_providers import common
from cloudsync_providers.s3 import client as s3_client

LOG = logging.getLogger(__name__)


def _rule_prefix(rule):
    """The key prefix a lifecycle rule applies to.

    None for a rule that filters on something else (tags, sizes).
    """
    filt = rule.get('Filter')
    if filt is not None:
        if 'Prefix' in filt:
            return filt['Prefix']
        if filt.get('And'):
            if set(filt['And']) - {'Prefix'}:
                return None
            return filt['And'].get('Prefix', '')
        return '' if not filt else None
    return rule.get('Prefix', '')


class S3Listing:
    """Listings and expiration rules of an :class:`S3Provider`."""

    def list_buckets(self):
        """The buckets of the credentials (ListBuckets, every page), in
        name order; see :meth:`Provider.list_buckets`.
        """
        names, params = [], {}
        while True:
            try:
                resp = self.client.list_buckets(**params)
            except (boto_exc.BotoCoreError, boto_exc.ClientError) as exc:
                raise self._translate(exc, 'list_buckets', '') from exc
            names += [b['Name'] for b in resp.get('Buckets') or []]
            token = resp.get('ContinuationToken')
            if not token:
                return sorted(names)
            params = {'ContinuationToken': token}

    def list_objects(self, bucket, prefix='', delimiter=None, marker=None,
                     limit=1000):
        """One page of keys; see :meth:`Provider.list_objects`.

        A ``marker`` that is a common prefix (as the last entry of a
        delimited page is) continues after every key under it, so no
        prefix is listed twice.
        """
        limit = min(int(limit), 1000)
        if limit <= 0:
            return providers.ListingPage(entries=[], truncated=False)
        prefix = prefix or ''
        start = marker or None
        if delimiter and marker and marker.startswith(prefix):
            rest = marker[len(prefix):]
            at = rest.find(delimiter)
            if at >= 0 and at + len(delimiter) == len(rest):
                start = marker + s3_client._MAX_CHAR
        params = dict(Prefix=prefix, MaxKeys=limit)
        if self.LIST_URL_ENCODING:
            params['EncodingType'] = 'url'
        if delimiter:
            params['Delimiter'] = delimiter
        if self.conf.list_version == 1:
            op = 'list_objects'
            if start:
                params['Marker'] = start
        else:
            op = 'list_objects_v2'
            if start:
                params['StartAfter'] = start
        resp = self._call(op, bucket, **params)
        decode = self._decoder(resp)
        entries = []
        for item in resp.get('Contents') or ():
            entries.append(providers.ListingEntry(
                key=decode(item['Key']), size=item.get('Size', 0),
                etag=common.unquote_etag(item.get('ETag')),
                last_modified=s3_client._timestamp(item.get('LastModified'))))
        for item in resp.get('CommonPrefixes') or ():
            entries.append(providers.ListingEntry(
                key=decode(item['Prefix']), is_prefix=True))
        entries.sort(key=lambda e: e.key)
        if marker:
            entries = [e for e in entries if e.key > marker]
        truncated = bool(resp.get('IsTruncated'))
        if len(entries) > limit:
            entries, truncated = entries[:limit], True
        next_marker = None
        if truncated:
            if entries:
                next_marker = entries[-1].key
            elif resp.get('NextMarker'):
                next_marker = decode(resp['NextMarker'])
            else:
                truncated = False
        return providers.ListingPage(entries=entries, truncated=truncated,
                                     next_marker=next_marker)

    @staticmethod
    def _decoder(resp):
        # NOTE: decoded exactly once, and only when the store says that it
        # encoded (some clones ignore encoding-type and send raw names).
        if resp.get('EncodingType') == 'url':
            return urllib.parse.unquote_plus
        return lambda name: name

    def list_all(self, bucket, prefix='', delimiter=None, marker=None):
        while True:
            page = self.list_objects(bucket, prefix=prefix,
                                     delimiter=delimiter, marker=marker)
            for entry in page.entries:
                yield entry
            if not page.truncated or not page.next_marker:
                return
            marker = page.next_marker

    def set_expiration(self, bucket, prefix, seconds):
        """Expire objects under ``prefix`` with a bucket lifecycle rule.

        The rule's ID is the prefix (as swift-s3-sync named it; a prefix
        longer than S3's 255-character IDs gets a hashed ID) and it expires
        after ``max(1, round(seconds / 86400))`` days. Other rules are
        never changed. When our rule is already there with those days,
        nothing is written; when it has other days it is replaced.

        :returns: True when the bucket's rules were changed.
        """
        days = max(1, int(seconds / 86400.0 + 0.5))
        rule_id = prefix if len(prefix) <= 255 else 'cloudsync-%s' % (
            hashlib.sha256(prefix.encode('utf-8')).hexdigest())
        try:
            resp = self._call('get_bucket_lifecycle_configuration', bucket)
        except exceptions.RemoteError as exc:
            if exc.code != 'NoSuchLifecycleConfiguration':
                raise
            rules = []
        else:
            rules = list(resp.get('Rules') or [])
            if not rules:
                # NOTE: S3 answers NoSuchLifecycleConfiguration when there
                # are no rules. A 200 without rules comes from a store that
                # ignores ?lifecycle (Swift's s3api lists the bucket).
                raise exceptions.NotSupported(
                    'remote %s: bucket %s: the store does not keep '
                    'lifecycle rules' % (self.name, bucket))
        wanted = {'ID': rule_id, 'Filter': {'Prefix': prefix},
                  'Expiration': {'Days': days}, 'Status': 'Enabled'}
        ours = [r for r in rules if r.get('ID') == rule_id]
        if len(ours) == 1 and _rule_prefix(ours[0]) == prefix and \
                ours[0].get('Status') == 'Enabled' and \
                (ours[0].get('Expiration') or {}).get('Days') == days:
            return False
        for rule in rules:
            if (rule.get('ID') != rule_id and
                    rule.get('Status') == 'Enabled' and
                    rule.get('Expiration') and
                    _rule_prefix(rule) is not None and
                    prefix.startswith(_rule_prefix(rule))):
                LOG.warning('remote %s: lifecycle rule %r of bucket %s '
                            'also expires objects under %s (%s); the '
                            'earliest expiry wins', self.name,
                            rule.get('ID'), bucket, prefix,
                            rule.get('Expiration'))
        rules = [r for r in rules if r.get('ID') != rule_id] + [wanted]
        try:
            self._call('put_bucket_lifecycle_configuration', bucket,
                       LifecycleConfiguration={'Rules': rules})
        except exceptions.RemoteError as exc:
            if exc.code == 'MalformedXML':
                # NOTE: what a store answers that takes the PUT for
                # something else (Swift's s3api: a bucket creation).
                raise exceptions.NotSupported(
                    'remote %s: bucket %s: the store does not take '
                    'lifecycle rules (%s)' % (self.name, bucket, exc),
                    status=exc.status, code=exc.code) from exc
            raise
        LOG.info('remote %s: bucket %s expires %s after %d days',
                 self.name, bucket, prefix, days)
        return True
