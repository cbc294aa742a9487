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
"""cloudsync's conformance kit run against the dirstore provider.

What a provider package ships to prove itself::

    DIRSTORE_ROOT=/tmp/store python -m pytest conformance_check.py
"""

import os

import pytest

from cloudsync import conformance

MiB = 1024 * 1024


@pytest.mark.skipif('DIRSTORE_ROOT' not in os.environ,
                    reason='DIRSTORE_ROOT (a directory) is not set')
class TestDirStoreConformance(conformance.ProviderConformance):
    bucket = 'conformance'
    # NOTE: any part size works here; small parts keep the run short.
    part_size = MiB // 4

    def make_provider(self):
        return conformance.build_provider(
            'dirstore', root=os.environ['DIRSTORE_ROOT'])
