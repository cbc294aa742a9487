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
"""What every collaborator of a row propagator shares.

A :class:`~cloudsync.sync.propagate.RowPropagator` hands each row to one
collaborator per job (reading the local source, comparing with the
remote, uploading, archiving, removing, checking other replicas' rows).
Each is a :class:`Part`: it reads the container, the mapping, the remote
and its fellow collaborators through the propagator it belongs to.
"""


def _from_propagator(name):
    return property(lambda self: getattr(self.propagator, name))


class Part:
    """One job of a :class:`~cloudsync.sync.propagate.RowPropagator`."""

    mapping = _from_propagator('mapping')
    account = _from_propagator('account')
    container = _from_propagator('container')
    provider = _from_propagator('provider')
    ic = _from_propagator('ic')
    stats = _from_propagator('stats')
    logger = _from_propagator('logger')
    bucket = _from_propagator('bucket')
    layout = _from_propagator('layout')
    #: the fellow collaborators
    reader = _from_propagator('reader')
    compare = _from_propagator('compare')
    uploader = _from_propagator('uploader')
    archiver = _from_propagator('archiver')
    remover = _from_propagator('remover')
    replicas = _from_propagator('replicas')

    def __init__(self, propagator):
        self.propagator = propagator

    def what(self, row):
        """The row's object and mapping, for messages."""
        return self.propagator._what(row)

    def remote_label(self):
        """The remote and bucket, for messages."""
        return self.propagator._remote_label()
