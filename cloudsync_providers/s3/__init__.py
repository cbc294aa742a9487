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
"""The ``s3`` provider: Amazon S3, and any store that speaks its API.

:class:`~cloudsync_providers.s3.provider.S3Provider` is the provider (entry
point ``cloudsync_providers.s3.provider:S3Provider``); the names below stay
importable from ``cloudsync_providers.s3`` for code written against the
single module it once was.
"""

from cloudsync_providers.common import content_md5  # noqa: F401
from cloudsync_providers.common import multipart_etag  # noqa: F401
from cloudsync_providers.common import unquote_etag  # noqa: F401
from cloudsync_providers.s3.body import _Body  # noqa: F401
from cloudsync_providers.s3.body import _BodyError  # noqa: F401
from cloudsync_providers.s3.client import _parse_timestamp  # noqa: F401
from cloudsync_providers.s3.client import AWS_REGION  # noqa: F401
from cloudsync_providers.s3.client import DEFAULT_PART_SIZE  # noqa: F401
from cloudsync_providers.s3.client import MAX_PART_SIZE  # noqa: F401
from cloudsync_providers.s3.client import MAX_PART_WORKERS  # noqa: F401
from cloudsync_providers.s3.client import MAX_PARTS  # noqa: F401
from cloudsync_providers.s3.client import MIN_PART_SIZE  # noqa: F401
from cloudsync_providers.s3.client import OPTIONS  # noqa: F401
from cloudsync_providers.s3.multipart import plan_parts  # noqa: F401
from cloudsync_providers.s3.provider import S3Provider  # noqa: F401
