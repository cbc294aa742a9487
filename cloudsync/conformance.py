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
"""The provider conformance kit, at the import path providers use.

The kit lives in :mod:`cloudsync.ops.conformance`; this module is that
same module under its published name, so that ``from cloudsync import
conformance`` in a provider package's tests keeps working and sees
exactly the same classes and functions.
"""

import importlib
import sys

sys.modules[__name__] = importlib.import_module('cloudsync.ops.conformance')
