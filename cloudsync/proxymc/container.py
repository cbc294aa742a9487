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
"""proxymc's container controller: a mapped container's listing, and
what PUT, DELETE and HEAD of it answer (the mapping, not the bucket, makes
a container exist).
"""

import json

from swift.common import constraints
from swift.common import swob

from cloudsync.proxymc import listing


def handle(app, req, account, container):
    """A request to a mapped container: its listing, or what a PUT,
    DELETE or HEAD of it answers.
    """
    method = req.method
    allowed = ('GET', 'HEAD', 'PUT', 'DELETE')
    if method not in allowed:
        return swob.HTTPMethodNotAllowed(
            request=req, headers={'Allow': ', '.join(allowed)})
    target = app.resolve(account, container)
    reading = method in ('GET', 'HEAD')
    acl = None
    if target is not None:
        acl = target.read_acl if reading else target.write_acl
    denied = app.authorize(req, acl)
    if denied:
        return denied
    if target is None:
        if method == 'PUT':
            return swob.HTTPForbidden(
                request=req, body=b'proxymc serves only the containers '
                b'that cloudsync maps; map it in cloudsync.conf')
        return swob.HTTPNotFound(request=req)
    lister = listing.ContainerLister(target.provider, target.bucket,
                                     target.layout)
    if method == 'PUT':
        return swob.HTTPAccepted(request=req)
    if method == 'DELETE':
        if lister.has_objects():
            return swob.HTTPConflict(
                request=req, body=b'There was a conflict when trying to '
                b'complete your request.')
        return swob.HTTPNoContent(request=req)
    headers = {'Accept-Ranges': 'bytes',
               'Content-Type': 'application/json; charset=utf-8'}
    if req.environ.get('swift_owner'):
        if target.read_acl:
            headers['X-Container-Read'] = target.read_acl
        if target.write_acl:
            headers['X-Container-Write'] = target.write_acl
    if app.count_objects:
        count, used = lister.totals()
        headers['X-Container-Object-Count'] = str(count)
        headers['X-Container-Bytes-Used'] = str(used)
    if method == 'HEAD':
        return swob.HTTPNoContent(request=req, headers=headers)
    params = listing.ListingParams(req,
                                   constraints.CONTAINER_LISTING_LIMIT)
    entries = lister.entries(params)
    return swob.HTTPOk(request=req, headers=headers,
                       body=json.dumps(entries).encode('ascii'))
