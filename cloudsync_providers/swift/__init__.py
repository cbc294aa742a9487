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
"""The ``swift`` provider: another Swift cluster, through the Swift API.

:class:`~cloudsync_providers.swift.provider.SwiftProvider` is the provider
(entry point ``cloudsync_providers.swift.provider:SwiftProvider``); the
names below stay importable from ``cloudsync_providers.swift`` for code
written against the single module it once was.
"""

from cloudsync_providers.common import multipart_etag  # noqa: F401
from cloudsync_providers.common import slo_etag  # noqa: F401
from cloudsync_providers.swift.connection import _Connection  # noqa: F401
from cloudsync_providers.swift.connection import _with_account  # noqa: F401
from cloudsync_providers.swift.connection import from_swift_value  # noqa
from cloudsync_providers.swift.connection import OPTIONS  # noqa: F401
from cloudsync_providers.swift.connection import to_swift_value  # noqa
from cloudsync_providers.swift.provider import SwiftProvider  # noqa: F401
