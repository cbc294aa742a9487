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
"""The migrator, ``cloudsync-migrate``: brings a bucket, a remote Swift
container or a whole remote account into the local Swift cluster.

:mod:`~cloudsync.migrate.source` reads the source through its provider,
:mod:`~cloudsync.migrate.target` writes into Swift through an
``InternalClient``, :mod:`~cloudsync.migrate.objects` decides and copies
one object, :mod:`~cloudsync.migrate.container_pass` walks one source
bucket, :mod:`~cloudsync.migrate.state` keeps the progress and
:mod:`~cloudsync.migrate.daemon` runs the passes.
:mod:`~cloudsync.migrate.failback` uses the same target to bring back
what was written through proxymc while the cluster was unreachable
(``cloudsync-failback``).

What it may import: the core (``cloudsync.*`` modules) and the
configuration; nothing of the sync daemon (the command,
:mod:`cloudsync.cmd.migrate`, hands it the sync daemon's row split, its
statsd counters and its process plumbing), so that the shunt and
``cloudsync-status`` may use :mod:`~cloudsync.migrate.state` and
:mod:`~cloudsync.migrate.marks`.
"""
