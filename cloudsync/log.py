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
"""Logging, the OpenStack way, with secrets kept out.

:func:`setup` configures oslo.log from the configuration file and command
line (``--debug``, ``--log-file``, ``--use-journal``, ...) and adds a
filter to every handler that replaces each configured secret (the
``secret_key`` of every remote) with ``***`` wherever it would appear in a
log line, at any level, from any library.
"""

import logging as std_logging

from oslo_log import log as logging

#: libraries whose debug output is noise (or carries signed requests)
QUIET_LIBRARIES = [
    'botocore=WARN', 'boto3=WARN', 's3transfer=WARN', 'urllib3=WARN',
    'swiftclient=WARN', 'keystoneauth=WARN', 'stevedore=WARN',
]
MASK = '***'


class SecretFilter(std_logging.Filter):
    """Replaces known secret values in log records."""

    def __init__(self, secrets=()):
        super().__init__()
        self.secrets = set()
        self.add(secrets)

    def add(self, secrets):
        self.secrets.update(s for s in secrets if s and len(s) >= 4)

    def _scrub(self, text):
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record):
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record stays as it is
            return True
        scrubbed = self._scrub(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = std_logging.Formatter().formatException(
                record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        if scrubbed != message:
            record.msg = scrubbed
            record.args = None
        return True


_filter = SecretFilter()


def secret_filter():
    return _filter


def install_filter(logger=None, log_filter=None):
    """Attach a secret filter to every handler of ``logger`` (root).

    ``logger`` may be a logging adapter, such as Swift's ``get_logger``
    gives the shunt and proxymc: that logger does not propagate to the
    root, so its own handlers need the filter. ``log_filter`` is the
    process-wide filter of :func:`setup` unless another is given.
    """
    log_filter = log_filter or _filter
    logger = logger or std_logging.getLogger()
    logger = getattr(logger, 'logger', logger)
    for handler in getattr(logger, 'handlers', ()):
        if log_filter not in handler.filters:
            handler.addFilter(log_filter)


def setup(conf, secrets=(), product='cloudsync'):
    """Configure oslo.log and the secret filter."""
    defaults = logging.get_default_log_levels()
    logging.set_defaults(default_log_levels=defaults + [
        lvl for lvl in QUIET_LIBRARIES if lvl not in defaults])
    logging.setup(conf, product)
    _filter.add(secrets)
    install_filter()


def add_secrets(secrets, logger=None):
    """Mask ``secrets`` in the root logger's lines and in ``logger``'s."""
    _filter.add(secrets)
    install_filter()
    if logger is not None:
        install_filter(logger)


def getLogger(name):
    return logging.getLogger(name)
