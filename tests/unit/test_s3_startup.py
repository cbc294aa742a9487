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
"""What the s3 provider costs a process before it sends anything."""

import json
import subprocess
import sys

#: imported only once a botocore client is made
CLIENT_MODULES = ('boto3', 's3transfer', 'botocore.session',
                  'botocore.config', 'botocore.handlers', 'botocore.client')


def modules_after(code):
    out = subprocess.run(
        [sys.executable, '-c', code + '\nimport json, sys\n'
         'print(json.dumps(sorted(sys.modules)))'],
        check=True, capture_output=True, text=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_loading_the_provider_does_not_load_botocores_client():
    loaded = modules_after(
        'from cloudsync_providers.s3 import provider\n'
        'from cloudsync_providers import gcs, s3_clone\n')
    assert 'cloudsync_providers.s3.provider' in loaded
    assert sorted(m for m in loaded if m.startswith(CLIENT_MODULES)) == []


def test_the_first_client_loads_botocore_without_boto3():
    loaded = modules_after(
        'from cloudsync_providers.s3 import client\n'
        'c = client._new_client("s3", region_name="us-east-1",\n'
        '    endpoint_url="http://127.0.0.1:9", aws_access_key_id="a",\n'
        '    aws_secret_access_key="b")\n'
        'assert c.meta.service_model.service_name == "s3"\n')
    assert 'botocore.client' in loaded
    assert not [m for m in loaded if m.startswith(('boto3', 's3transfer'))]
