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
"""The verdict of ``tools/swift_functests.py`` on Swift's functional tests.

A test that passes without the shunt and fails through it fails the run;
one that fails without the shunt too does not.
"""

import io
import os
import sys
import tarfile

TOOLS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'tools')
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

import swift_functests  # noqa: E402

A = 'test/functional/tests.py::TestFile::testA'
B = 'test/functional/tests.py::TestFile::testB'
C = 'test/functional/test_slo.py::TestSlo::testC'
D = 'test/functional/test_slo.py::TestSlo::testD'

JUNIT = '''<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="test.functional.tests.TestFile" name="testA" />
<testcase classname="test.functional.tests.TestFile" name="testB">
<failure message="boom">trace</failure></testcase>
<testcase classname="test.functional.test_slo.TestSlo" name="testC">
<error message="setup">trace</error></testcase>
<testcase classname="test.functional.test_slo.TestSlo" name="testD">
<skipped message="no" /></testcase>
</testsuite></testsuites>
'''


def test_junit_cases_are_read_as_pytest_node_ids(tmp_path):
    path = tmp_path / 'run.xml'
    path.write_text(JUNIT)

    outcomes = swift_functests.read_junit(str(path))

    assert outcomes == {A: 'passed', B: 'failed', C: 'failed',
                        D: 'skipped'}


def test_a_test_only_the_shunt_fails_fails_the_run():
    shunt = {A: 'passed', B: 'failed'}

    result = swift_functests.judge(shunt, {B: 'passed'}, {B: 'failed'})

    assert (result['passed'], result['failed']) == (1, 1)
    assert result['regressions'] == [B]


def test_a_test_both_proxies_fail_is_listed_not_counted_against_the_shunt():
    shunt = {A: 'passed', B: 'failed'}

    result = swift_functests.judge(shunt, {B: 'failed'}, {})

    assert (result['passed'], result['failed']) == (2, 0)
    assert result['both failed'] == [B]


def test_a_failure_the_shunt_does_not_repeat_does_not_fail_the_run():
    shunt = {A: 'passed', B: 'failed'}

    result = swift_functests.judge(shunt, {B: 'passed'}, {B: 'passed'})

    assert (result['passed'], result['failed']) == (2, 0)
    assert result['passed again'] == [B]


def test_a_failure_not_compared_with_the_plain_proxy_fails_the_run():
    shunt = {A: 'passed', C: 'failed'}

    result = swift_functests.judge(shunt, {C: 'skipped'}, {})

    assert (result['passed'], result['failed']) == (1, 1)
    assert result['not compared'] == [C]


def test_only_the_shunts_failures_are_suspects():
    shunt = {A: 'passed', B: 'failed', C: 'failed', D: 'skipped'}

    assert swift_functests.suspects(
        shunt, {B: 'passed', C: 'failed'}) == [B]


def test_only_the_test_folder_of_the_sdist_is_extracted(tmp_path):
    sdist = tmp_path / 'swift-9.9.9.tar.gz'
    with tarfile.open(str(sdist), 'w:gz') as tar:
        for name in ('swift-9.9.9/swift/__init__.py',
                     'swift-9.9.9/test/__init__.py',
                     'swift-9.9.9/test/functional/tests.py',
                     'swift-9.9.9/testing.txt'):
            data = name.encode('ascii')
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    root = swift_functests.extract_tests(str(sdist), str(tmp_path))

    found = sorted(os.path.relpath(os.path.join(d, f), root)
                   for d, _, files in os.walk(root) for f in files)
    assert found == ['test/__init__.py', 'test/functional/tests.py']
