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
"""How ``cloudsync-sync`` waits for its pass (cloudsync.sync.daemon.run)."""

from cloudsync import concurrency
from cloudsync.sync import daemon as daemon_mod


class OnePass(object):
    def __init__(self, result=0, steps=3):
        self.stop = concurrency.StopFlag()
        self.result = result
        self.steps = steps
        self.ran = []

    def run_once(self):
        for step in range(self.steps):
            concurrency.sleep(0)
            self.ran.append(step)
        return self.result

    def run_forever(self):
        raise AssertionError('--once runs one pass')


def test_once_returns_the_pass_result_as_soon_as_the_pass_ends():
    # NOTE: the check interval is far longer than the test may take: the
    # wait must end with the pass, not when the interval is over.
    daemon = OnePass(result=1)
    assert daemon_mod.run(daemon, once=True, check_interval=3600) == 1
    assert daemon.ran == [0, 1, 2]


def test_a_pass_that_ends_at_once_is_waited_for_too():
    daemon = OnePass(result=0, steps=0)
    assert daemon_mod.run(daemon, once=True, check_interval=3600) == 0


def test_an_error_of_the_pass_is_raised():
    class Broken(OnePass):
        def run_once(self):
            concurrency.sleep(0)
            raise RuntimeError('boom')
    try:
        daemon_mod.run(Broken(), once=True, check_interval=3600)
    except RuntimeError as exc:
        assert str(exc) == 'boom'
    else:
        raise AssertionError('the error was lost')
