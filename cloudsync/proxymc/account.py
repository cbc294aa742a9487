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
"""proxymc's account controller: the containers an account's mappings
make, as Swift's account server lists them.
"""

import json

from swift.common import constraints
from swift.common import swob

from cloudsync.proxymc import listing


def container_names(app, account, discover):
    """The container names of ``account``: its mappings' containers, and
    with ``discover`` those found in the buckets of its wildcard mappings.
    """
    names = set()
    for mapping in app.account_mappings(account):
        if not mapping.is_wildcard:
            names.add(mapping.container)
        elif discover:
            names.update(listing.discover_containers(
                app.provider_for(mapping), mapping))
    return names


def handle(app, req, account):
    """An account GET or HEAD: the mapped containers."""
    if req.method not in ('GET', 'HEAD'):
        return swob.HTTPMethodNotAllowed(request=req,
                                         headers={'Allow': 'GET, HEAD'})
    denied = app.authorize(req)
    if denied:
        return denied
    mappings = app.account_mappings(account)
    if not mappings:
        return swob.HTTPNotFound(request=req)
    wildcard = any(m.is_wildcard for m in mappings)
    headers = {'Accept-Ranges': 'bytes',
               'Content-Type': 'application/json; charset=utf-8'}
    if req.method == 'HEAD':
        if not wildcard:
            headers['X-Account-Container-Count'] = str(len(
                container_names(app, account, False)))
        return swob.HTTPNoContent(request=req, headers=headers)
    params = listing.ListingParams(req, constraints.ACCOUNT_LISTING_LIMIT)
    names = container_names(app, account, True)
    headers['X-Account-Container-Count'] = str(len(names))
    entries = listing.filter_names(names, params)
    total_count = total_bytes = 0
    for entry in entries:
        if 'name' not in entry:
            continue
        count = used = 0
        if app.count_objects:
            target = app.resolve(account, entry['name'])
            count, used = listing.ContainerLister(
                target.provider, target.bucket, target.layout).totals()
        total_count += count
        total_bytes += used
        entry.update(count=count, bytes=used,
                     last_modified=listing.EPOCH_ISO)
    if app.count_objects:
        headers['X-Account-Object-Count'] = str(total_count)
        headers['X-Account-Bytes-Used'] = str(total_bytes)
    return swob.HTTPOk(request=req, headers=headers,
                       body=json.dumps(entries).encode('ascii'))
