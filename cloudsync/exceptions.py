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
"""The errors cloudsync raises.

Errors are raised where the problem is known and turned into a message
for a person at the edge: the command line, an HTTP response, a log line.
Remote errors never carry credentials: providers build them from the
remote's status and error code only.
"""


class CloudsyncError(Exception):
    """Base class of every cloudsync error."""


class ConfigError(CloudsyncError):
    """The configuration is wrong; the message names section and option.

    ``problems`` holds one line per problem found, so that an operator sees
    every mistake in one go instead of one per restart.
    """

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__('\n'.join(self.problems))


class PluginError(ConfigError):
    """A plugin could not be found or loaded."""


class RemoteError(CloudsyncError):
    """The remote store refused or failed a request.

    :param message: what went wrong, for a person.
    :param status: the HTTP status the remote answered, or None when no
        answer came (connection refused, timeout).
    :param code: the remote's own error code (for example ``SlowDown``).
    """

    #: whether the same request may succeed if sent again later
    retryable = False

    def __init__(self, message, status=None, code=None):
        self.message = message
        self.status = status
        self.code = code
        super().__init__(message)

    def __str__(self):
        parts = [self.message]
        if self.status is not None or self.code:
            parts.append('(%s)' % ' '.join(
                str(p) for p in (self.status, self.code) if p))
        return ' '.join(parts)


class NotFound(RemoteError):
    """The object (or the bucket) does not exist on the remote."""


class TargetNotFound(NotFound):
    """The bucket or remote container does not exist."""


class AuthError(RemoteError):
    """The remote refused the credentials (401) or the access (403)."""


class PreconditionFailed(RemoteError):
    """An If-Match or If-Unmodified-Since condition did not hold (412)."""


class NotModified(RemoteError):
    """An If-None-Match or If-Modified-Since condition held (304)."""


class RangeNotSatisfiable(RemoteError):
    """The requested range lies outside the object (416)."""


class Unavailable(RemoteError):
    """The remote is down, overloaded or unreachable; try again later."""

    retryable = True


class ChecksumMismatch(RemoteError):
    """The bytes the remote stored are not the bytes that were sent."""

    retryable = True


class InvalidObject(RemoteError):
    """The remote cannot hold this object (name, size or metadata)."""


class NotSupported(RemoteError):
    """The provider or the store does not offer this operation."""
