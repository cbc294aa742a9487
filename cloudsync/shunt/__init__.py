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
"""The cloud shunt, a middleware of Swift's proxy
(``egg:swift-cloudsync#cloud_shunt``).

What lives here: the middleware and its routing (:mod:`.middleware`),
which hands each request to the controller of its resource, objects
(:mod:`.object_requests`) or containers (:mod:`.container_requests`);
archived objects read back as Swift showed them (:mod:`.objects`), merged
listings (:mod:`.listing`), restores into Swift (:mod:`.restore`), Swift's
own answers as the shunt replays them (:mod:`.answers`) and the shunt's
configuration (:mod:`.config`).

What it may import: the core modules of ``cloudsync`` (``metadata``,
``layout``, ``large_objects``, ``symlinks``, ``headers``,
``remote_manifest``, ``providers``, ``conf``...), Swift, and its own
modules. Never the sync daemon (``cloudsync.sync`` and the daemon's
modules) nor proxymc: what the shunt shares with them lives in the core.
``tests/unit/test_architecture.py`` checks it.
"""

# NOTE(cloudsync): ``cloudsync.shunt:filter_factory`` stays importable for
# pipelines that name the factory instead of
# ``egg:swift-cloudsync#cloud_shunt``.
from cloudsync.shunt.middleware import filter_factory  # noqa: F401
