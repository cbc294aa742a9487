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
"""The cloud shunt's container requests: Swift's listing and the remote's,
merged (:mod:`cloudsync.shunt.listing`).
"""

import json

from swift.common import registry as swift_registry
from swift.common import request_helpers
from swift.common import swob

from cloudsync import exceptions
from cloudsync import listing as listing_mod
from cloudsync.shunt import listing as shunt_listing


class ContainerRequests(object):
    """Container GET of a mapped container: Swift's listing merged with
    the remote's.

    :param shunt: the
        :class:`~cloudsync.shunt.middleware.CloudShuntMiddleware` that
        routed the request.
    """

    def __init__(self, shunt):
        self.shunt = shunt
        self.app = shunt.app
        self.logger = shunt.logger
        self.provider = shunt.provider
        self._local = shunt.local
        self._remote_failed = shunt.remote_failed

    def GET(self, req, target, start_response):
        # NOTE(cloudsync): archive stubs keep Swift's own listing what it
        # was; the bucket is merged only where objects are found through
        # Swift's 404 (merge_namespaces, serve_deleted_archives).
        if 'path' in req.params or not target.mapping.serves_deleted:
            return self.app(req.environ, start_response)
        # NOTE(cloudsync): the shunt answers as Swift's proxy app, which
        # lists in JSON whatever the request says (listing_formats, at
        # the head of every proxy pipeline, turns that into the format
        # the client asked for); the middlewares that list on their own
        # (s3api, staticweb, bulk, versioning) expect JSON and ask for
        # it, or ask for no format at all.
        params = req.params
        params['format'] = 'json'
        req.params = params
        # NOTE(cloudsync): object_versioning (below the shunt) answers
        # ?versions with a versions listing.
        versions = 'versions' in params and \
            'object_versioning' in swift_registry.get_swift_info()
        local = self._local(req.environ).read()
        if local.status_int != 200:
            return local.respond(start_response)
        try:
            entries = shunt_listing.read_answer(local)
            params = shunt_listing.ListingParams(
                request_helpers.validate_container_params(req))
        except (ValueError, swob.HTTPException):
            return local.respond(start_response)
        mapping = target.mapping
        provider = self.provider(mapping)
        merger = (mapping.listing_cls or listing_mod.MergeListing)(mapping)
        location = provider.location(target.bucket)
        if target.layout.key_prefix:
            location = '%s;%s' % (location, target.layout.key_prefix)
        remote = shunt_listing.RemoteListing(provider, target.bucket,
                                             target.layout)
        try:
            sizer = shunt_listing.PageSizer(params.limit, len(entries))
            floor = None
            if params.reverse and entries and \
                    len(entries) >= params.limit:
                floor = listing_mod.entry_key(entries[-1])
            remote_entries = remote.entries(params, sizer, floor)
            if versions:
                remote_entries = shunt_listing.null_versions(remote_entries)
            listing = shunt_listing.merge(
                merger, entries, remote_entries, params, location, sizer)
        except exceptions.RemoteError as exc:
            self.logger.warning('cloud_shunt: listing the remote of %s '
                                'failed; answering with the local listing '
                                'only: %s', target.name, exc)
            listing = entries
        except Exception:
            self.logger.exception('cloud_shunt: listing the remote of %s '
                                  'failed; answering with the local '
                                  'listing only', target.name)
            listing = entries
        body = json.dumps(listing).encode('ascii')
        headers = swob.HeaderKeyDict(local.headers)
        headers['Content-Length'] = str(len(body))
        start_response(local.status, list(headers.items()))
        return [body]
