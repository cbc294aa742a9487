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
"""The operator's and provider author's tools.

What lives here: ``cloudsync-verify``'s comparison of local and remote
(:mod:`.verify`), the swift-s3-sync configuration converter
(:mod:`.convert`), ``cloudsync-status``'s report and plot
(:mod:`.status_report`, :mod:`.status_plot`), and the kits a third-party
provider runs against its own store: the conformance kit
(:mod:`.conformance`, published as :mod:`cloudsync.conformance`) and the
hostile-remote kit (:mod:`.hostile`, published as
:mod:`cloudsync.hostile`).

What it may import: the core, :mod:`cloudsync.conf`, and
:mod:`cloudsync.sync` for the one "is the remote copy current" decision
the daemon also takes and for the daemon's progress files. Nothing in the
core or in :mod:`cloudsync.sync` imports this package.
"""
