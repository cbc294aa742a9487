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
"""Account listings of a migrating account, in every order and shape
Swift lists them: the containers to come are always there.
"""

import json

from swift.common import swob
from swift.common import utils as swift_utils

from tests.unit.test_migrate import test_shunt_reads as reads

ACCOUNT = reads.ACCOUNT


class ListingSwift(reads.AccountSwift):
    """An account listing as Swift's: prefix, delimiter, marker,
    end_marker, reverse, limit.
    """

    def _account_GET(self, req, account, params):
        prefix = params.get('prefix', '')
        delimiter = params.get('delimiter', '')
        marker = params.get('marker', '')
        end_marker = params.get('end_marker', '')
        reverse = swift_utils.config_true_value(params.get('reverse'))
        found = {}
        for a, name in self.containers:
            if a != account or not name.startswith(prefix):
                continue
            rest = name[len(prefix):]
            if delimiter and delimiter in rest:
                key = prefix + rest[:rest.index(delimiter) + len(delimiter)]
                entry = {'subdir': key}
            else:
                key, entry = name, {'name': name, 'count': 1, 'bytes': 1}
            if reverse:
                inside = (not marker or key < marker) and key > end_marker
            else:
                inside = key > marker and (not end_marker or key < end_marker)
            if inside:
                found[key] = entry
        keys = sorted(found, reverse=reverse)
        keys = keys[:int(params.get('limit') or 10000)]
        return swob.Response(request=req, body=json.dumps(
            [found[k] for k in keys]), content_type='application/json')


def world(tmp_path):
    found = reads.World(tmp_path, container='new/zeta')
    found.swift.__class__ = ListingSwift
    for name in ('alpha', 'new/beta', 'omega'):
        found.swift.create_container(ACCOUNT, name)
    return found


def names(world, query):
    resp = world.request('/v1/%s' % ACCOUNT, query='?format=json' + query)
    assert resp.status_int == 200
    return [e.get('name') or e.get('subdir') for e in json.loads(resp.body)]


def test_reverse_listings_show_the_containers_to_come(tmp_path):
    w = world(tmp_path)

    assert names(w, '&reverse=true') == [
        'omega', 'new/zeta', 'new/beta', 'dest', 'alpha']
    assert names(w, '&reverse=true&marker=omega&end_marker=alpha') == [
        'new/zeta', 'new/beta', 'dest']
    assert names(w, '&reverse=true&limit=2') == ['omega', 'new/zeta']
    assert names(w, '&reverse=true&prefix=new/') == ['new/zeta', 'new/beta']


def test_delimited_listings_show_the_containers_to_come(tmp_path):
    w = world(tmp_path)
    w.swift.containers.pop((ACCOUNT, 'new/beta'))

    assert names(w, '&delimiter=/') == ['alpha', 'dest', 'new/', 'omega']
    assert names(w, '&delimiter=/&prefix=new/') == ['new/zeta']
    assert names(w, '&delimiter=/&reverse=on') == [
        'omega', 'new/', 'dest', 'alpha']
    assert names(w, '&delimiter=/&marker=new/') == ['omega']


def test_a_subdir_swift_lists_already_is_listed_once(tmp_path):
    w = world(tmp_path)

    assert names(w, '&delimiter=/') == ['alpha', 'dest', 'new/', 'omega']
