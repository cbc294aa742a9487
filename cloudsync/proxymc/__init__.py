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
"""proxymc: a Swift API endpoint in the cloud, over the remote bucket.

What lives here: the paste app and its routing (:mod:`.app`), which hands
each request to the controller of its resource, as Swift's s3api does:
accounts (:mod:`.account`), containers (:mod:`.container`) and objects
(:mod:`.objects`, static large objects in :mod:`.slo`); listings
(:mod:`.listing`), what objects and SLOs both read of a remote object
(:mod:`.remote`), the Swift answers built from remote objects
(:mod:`.responses`) and request bodies spooled for an upload
(:mod:`.spool`). The command ``cloudsync-proxymc`` is
:mod:`cloudsync.cmd.proxymc`.

What it may import: the core modules of ``cloudsync`` (``metadata``,
``layout``, ``large_objects``, ``symlinks``, ``headers``,
``remote_manifest``, ``providers``, ``conf``...), Swift, and its own
modules. Never the sync daemon (``cloudsync.sync`` and the daemon's
modules) nor the shunt: what proxymc shares with them lives in the core.
``tests/unit/test_architecture.py`` checks it.
"""

# NOTE(cloudsync): the factories stay importable as ``cloudsync.proxymc:``,
# for pipelines that name them instead of ``egg:swift-cloudsync#proxymc``.
from cloudsync.proxymc.app import app_factory  # noqa: F401
from cloudsync.proxymc.app import list_opts  # noqa: F401
from cloudsync.proxymc.app import MAPPING_OPTS  # noqa: F401
from cloudsync.proxymc.app import slo_filter_factory  # noqa: F401
