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
"""The sync daemon (``cloudsync-sync``).

What lives here: the daemon's main loop (:mod:`.daemon`), the container
database crawler (:mod:`.crawler`), the outcomes a row can have
(:mod:`.outcomes`), the row propagator and its collaborators (reading the
local source, deciding whether the remote copy is current, uploading,
removing and archiving, checking other replicas' rows), the progress
files (:mod:`.status`) and the counters (:mod:`.stats`).

What it may import: the core (``cloudsync.*`` modules outside the program
packages: metadata, layout, large objects, symlinks, providers, lifecycle,
local, ...) and :mod:`cloudsync.conf`. It talks to remote stores only
through :class:`cloudsync.providers.Provider`. Nothing in the core
imports this package; :mod:`cloudsync.ops` may, for the shared "is the
remote copy current" decision and the progress files.
"""
