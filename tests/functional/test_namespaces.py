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
"""Remote namespaces: no two mappings share a key, and Swift remotes keep
object names as swift-s3-sync and container-sync do.
"""

import subprocess

import pytest

from tests.functional import conftest
from tests.functional import daemon_helpers as helpers

TWO_ACCOUNTS = '''\
[remote:aws]
provider = s3
endpoint = %(endpoint)s
access_key = testing
secret_key = testing

[mapping:first]
account = AUTH_test
container = %(first)s
remote = aws
bucket = %(bucket)s
%(layout)s

[mapping:second]
account = AUTH_test2
container = %(second)s
remote = aws
bucket = %(bucket)s
%(layout)s
'''


@pytest.mark.parametrize('wildcard, layout', [
    (True, 'layout = prefix\nkey_prefix = {container}'),
    (False, 'layout = native')])
def test_two_accounts_on_one_bucket_are_refused_by_the_daemon(
        aio, swift, swift2, bucket, s3, tmp_path, wildcard, layout):
    container = conftest.unique_name('c')
    spec = '*' if wildcard else container
    swift.put_container(container)
    swift2.put_container(container)
    swift.put_object(container, 'o', b'first account')
    swift2.put_object(container, 'o', b'second account')
    nodes = helpers.DaemonNodes(aio, tmp_path, TWO_ACCOUNTS % {
        'endpoint': aio.state['moto_endpoint'], 'bucket': bucket,
        'layout': layout, 'first': spec, 'second': spec})

    proc = subprocess.run(
        [helpers.bin_path('cloudsync-sync'), '--config-file',
         nodes.confs[1], '--once'],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=120)

    assert proc.returncode != 0
    err = proc.stderr.decode('utf-8')
    assert '[mapping:first] (AUTH_test/%s' % spec in err, err
    assert '[mapping:second] (AUTH_test2/%s' % spec in err, err
    assert 'can write the same keys of remote aws' in err, err
    assert 'bucket %s' % bucket in err, err
    # nothing was written: neither account's copy can stand for the other
    assert s3.list_objects_v2(Bucket=bucket).get('KeyCount') == 0
