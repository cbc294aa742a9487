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
"""The daemon never writes what a reader of the remote could not trust."""

import pytest

from cloudsync.sync.outcomes import Outcome
from cloudsync.sync import propagate
from tests.unit.test_propagate import COPY
from tests.unit.test_propagate import REMOVE
from tests.unit.test_propagate import World


@pytest.mark.parametrize('layout', ['hashed', 'prefix', 'native'])
@pytest.mark.parametrize('name', ['.manifests/%s.swift_slo_manifest'
                                  % ('0' * 64), '.dlo/segs/part'])
def test_an_object_in_a_reserved_namespace_is_a_failed_row(layout, name):
    world = World(layout=layout, key_prefix='p')
    world.put(name, b'[]')

    with pytest.raises(propagate.RowFailed) as caught:
        world.handle(name)

    assert 'reserved' in str(caught.value)
    assert name in str(caught.value)
    assert world.provider.counts() == {}


def test_a_delete_in_a_reserved_namespace_leaves_the_side_object():
    world = World(layout='native')
    name = '.manifests/%s.swift_slo_manifest' % ('0' * 64)
    world.put(name, b'[]')

    assert world.handle(name, REMOVE) is Outcome.SKIPPED
    assert world.provider.counts() == {}


def test_metadata_with_a_control_character_is_a_failed_row():
    world = World()
    world.put('note', b'x', {'X-Object-Meta-Note': 'a\x04b',
                             'X-Object-Meta-Fine': 'ok'})

    with pytest.raises(propagate.RowFailed) as caught:
        world.handle('note', COPY)

    assert 'x-object-meta-note' in str(caught.value).lower()
    assert 'control character' in str(caught.value)
    assert world.remote('note') is None
