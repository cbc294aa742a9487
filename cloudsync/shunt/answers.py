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
"""Swift's own answers, as the cloud shunt reads and replays them."""

from swift.common import swob
from swift.common import utils as swift_utils
from swift.common import wsgi as swift_wsgi

#: request headers that identify a request in the logs; kept on answers
#: built from the remote
TRANS_HEADERS = ('X-Trans-Id', 'X-Openstack-Request-Id')


class Local(swift_wsgi.WSGIContext):
    """One call to the rest of the pipeline."""

    def call(self, env):
        body = self._app_call(env)
        return (self._response_status, list(self._response_headers),
                self._response_exc_info, body)


class LocalAnswer(object):
    """What Swift answered, kept to be passed on or replayed."""

    def __init__(self, status, headers, exc_info, body):
        self.status = status
        self.headers = swob.HeaderKeyDict(headers)
        self.header_list = headers
        self.exc_info = exc_info
        self.body = body

    @property
    def status_int(self):
        return int(self.status.split(' ', 1)[0])

    @property
    def is_success(self):
        return 200 <= self.status_int < 300

    def read(self):
        """Read the body so that it can be replayed or parsed."""
        if not isinstance(self.body, list):
            try:
                data = b''.join(self.body)
            finally:
                swift_utils.close_if_possible(self.body)
            self.body = [data]
        return self

    def respond(self, start_response):
        start_response(self.status, self.header_list, self.exc_info)
        return self.body

    def trans_headers(self):
        return {k: self.headers[k] for k in TRANS_HEADERS
                if k in self.headers}

    def tombstone(self):
        value = self.headers.get('X-Backend-Timestamp')
        try:
            return swift_utils.Timestamp(value) if value else None
        except ValueError:
            return None
