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
"""The ``gcs`` provider against real Google Cloud Storage.

Runs only when an HMAC key and a bucket are given in the environment::

    CLOUDSYNC_GCS_ACCESS_KEY=GOOG1E... \\
    CLOUDSYNC_GCS_SECRET_KEY=... \\
    CLOUDSYNC_GCS_BUCKET=my-test-bucket \\
    tox -e functional -- tests/functional/test_gcs_live.py

The bucket must exist; every test writes below ``cloudsync-conformance/``
and removes what it wrote. ``CLOUDSYNC_GCS_ENDPOINT`` overrides
``https://storage.googleapis.com``.
"""

import os

import pytest

from cloudsync import conformance
from tests.functional import gcs_checks

VARIABLES = ('CLOUDSYNC_GCS_ACCESS_KEY', 'CLOUDSYNC_GCS_SECRET_KEY',
             'CLOUDSYNC_GCS_BUCKET')
MISSING = [name for name in VARIABLES if not os.environ.get(name)]


@pytest.mark.skipif(bool(MISSING), reason=(
    'real GCS is tested only with credentials: set %s' % ', '.join(
        MISSING)))
class TestGCSLive(gcs_checks.GCSSemantics,
                  conformance.ProviderConformance):
    bucket = os.environ.get('CLOUDSYNC_GCS_BUCKET', 'unset')
    create_bucket = False

    def _options(self, **options):
        settings = dict(access_key=os.environ['CLOUDSYNC_GCS_ACCESS_KEY'],
                        secret_key=os.environ['CLOUDSYNC_GCS_SECRET_KEY'])
        if os.environ.get('CLOUDSYNC_GCS_ENDPOINT'):
            settings['endpoint'] = os.environ['CLOUDSYNC_GCS_ENDPOINT']
        settings.update(options)
        return settings

    def make_provider(self):
        return conformance.build_provider('gcs', **self._options())

    def make_bad_provider(self, secret_key):
        return conformance.build_provider('gcs', **self._options(
            secret_key=secret_key, max_retries=0))
