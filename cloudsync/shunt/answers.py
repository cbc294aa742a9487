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


#: header name -> its form in a :class:`swob.HeaderKeyDict` (the names
#: Swift answers with are few; see :func:`header_dict`)
_TITLES = {}
_MAX_TITLES = 2048


def title(name):
    """``name`` as a :class:`swob.HeaderKeyDict` keeps it."""
    titled = _TITLES.get(name)
    if titled is None:
        titled = swob.HeaderKeyDict._title(name)
        if len(_TITLES) < _MAX_TITLES:
            _TITLES[name] = titled
    return titled


def header_dict(pairs):
    """A :class:`swob.HeaderKeyDict` of ``pairs`` (name, value): the same
    as ``HeaderKeyDict(pairs)``, without converting again the names seen
    before (on every request of the shunt: what Swift answered).
    """
    return _set_all(swob.HeaderKeyDict(), pairs)


def add_headers(headers, more):
    """``headers.update(more)`` for a :class:`swob.HeaderKeyDict`
    ``headers``, the names of ``more`` converted once (see :func:`title`).
    """
    return _set_all(headers, more.items())


def _set_all(headers, pairs):
    for name, value in pairs:
        if value.__class__ is str:
            dict.__setitem__(headers, title(name), value)
        else:
            headers[name] = value
    return headers


def response(req, headers, app_iter, conditional_etag):
    """The shunt's 200 answer of ``headers`` (a :class:`swob.HeaderKeyDict`
    with a ``Content-Type``, kept as it is rather than copied into a new
    one), evaluated against the request's conditions and range.
    """
    resp = swob.Response(status=200, app_iter=app_iter, request=req,
                         conditional_response=True,
                         conditional_etag=conditional_etag)
    resp.headers = headers
    return resp


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
        self.headers = header_dict(headers)
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
        headers = self.headers
        return {k: dict.__getitem__(headers, k) for k in TRANS_HEADERS
                if dict.__contains__(headers, k)}

    def tombstone(self):
        value = self.headers.get('X-Backend-Timestamp')
        try:
            return swift_utils.Timestamp(value) if value else None
        except ValueError:
            return None
