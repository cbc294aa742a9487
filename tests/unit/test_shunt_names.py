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
"""Names Swift refuses get Swift's answer through the cloud shunt.

Swift's proxy answers ``412 Precondition Failed`` to a path that is not
valid UTF-8 or holds a NUL, before it authorizes anything. The shunt,
which maps ``container = *`` over the account, passes such a request on
untouched, whatever the verb, and never looks at the remote for it.
"""

import pytest
from swift.common import constraints
from swift.common import swob

from tests.unit import shunt_fakes
from tests.unit.shunt_fakes import ACCOUNT

BAD_PATHS = [
    '/v1/%s/%%FF' % ACCOUNT,
    '/v1/%s/%%FF/obj' % ACCOUNT,
    '/v1/%s/caf%%C3/obj' % ACCOUNT,
    '/v1/%s/archive/%%FF%%FE' % ACCOUNT,
    '/v1/%s/archive/a%%00b' % ACCOUNT,
    '/v1/%s/a%%00b' % ACCOUNT,
    '/v1/AUTH_%%FF/archive',
    '/v1/AUTH_%%FF/archive/obj',
]


def swift_proxy(app):
    """Swift's proxy's check of the path, in front of ``app``."""
    def check(env, start_response):
        req = swob.Request(env)
        if not constraints.check_utf8(swob.wsgi_to_str(req.path_info)):
            return swob.HTTPPreconditionFailed(
                request=req, body=b'Invalid UTF8 or contains NULL')(
                env, start_response)
        return app(env, start_response)
    return check


@pytest.fixture
def world(tmp_path):
    world = shunt_fakes.ShuntWorld(tmp_path, container='*')
    world.shunt.app = swift_proxy(world.swift)
    return world


@pytest.mark.parametrize('method', ['GET', 'HEAD', 'POST', 'DELETE', 'PUT'])
@pytest.mark.parametrize('path', BAD_PATHS)
def test_a_name_that_is_not_utf8_gets_swifts_412(world, method, path):
    resp = world.request(path, method=method)

    assert resp.status_int == 412
    assert world.provider.calls == []
    assert world.logger.text('error') == ''


def test_a_listing_of_a_container_whose_name_is_not_utf8_gets_swifts_412(
        world):
    resp = world.request('/v1/%s/%%FF?format=json&prefix=a' % ACCOUNT)

    assert resp.status_int == 412
    assert resp.body == b'Invalid UTF8 or contains NULL'


def test_a_valid_unicode_name_is_still_served_from_the_remote(world):
    world.put('ünï ☃', b'archived')
    world.archive('ünï ☃')

    resp = world.obj('ünï ☃')

    assert (resp.status_int, resp.body) == (200, b'archived')
