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
"""What every shipped provider needs: ETag helpers, configuration checks,
part checks, reading request bodies of an announced size and the
scrubbing of secrets out of messages.
"""

import base64
import binascii
import copy
import hashlib
import re

from oslo_config import cfg

from cloudsync import large_objects
from cloudsync import providers

#: a hex MD5, either case
HEX_MD5 = re.compile(r'^[0-9a-fA-F]{32}$')


# -- ETags ---------------------------------------------------------------


def unquote_etag(etag):
    """An ETag without its quotes (and without a weak ``W/`` marker)."""
    if not etag:
        return ''
    etag = etag.strip()
    if etag.startswith('W/'):
        etag = etag[2:]
    return etag.strip('"')


def multipart_etag(md5_hex_list):
    """The ETag S3 gives a multipart object made of parts with these MD5s.

    ``md5(concatenation of the binary MD5s)`` in hex, ``-`` and the number
    of parts.
    """
    return large_objects.multipart_etag(
        [unquote_etag(md5_hex) for md5_hex in md5_hex_list])


def slo_etag(md5_hex_list):
    """Swift's ETag of a static large object: md5 of the hex MD5s."""
    digest = hashlib.md5(usedforsecurity=False)
    for md5_hex in md5_hex_list:
        digest.update(md5_hex.strip('"').encode('ascii'))
    return digest.hexdigest()


def content_md5(md5_hex):
    """The Content-MD5 header value (base64 of the binary MD5)."""
    return base64.b64encode(binascii.unhexlify(md5_hex)).decode('ascii')


# -- configuration -------------------------------------------------------


def conf_getter(conf):
    """``get(name)``: the option's value, None when it cannot be read.

    An unparsable value is reported by the loader, not by ``validate_conf``.
    """
    def get(name):
        try:
            return getattr(conf, name)
        except (cfg.Error, ValueError, AttributeError):
            return None
    return get


def check_retry_options(get):
    """The problems of the retry options ``retry_backoff`` and
    ``retry_backoff_max`` (read with :func:`conf_getter`).
    """
    backoff, backoff_max = get('retry_backoff'), get('retry_backoff_max')
    if (backoff is not None and backoff_max is not None and
            backoff_max < backoff):
        return ['retry_backoff_max: %s is less than retry_backoff (%s)'
                % (backoff_max, backoff)]
    return []


def derived_options(options, leave_out=(), defaults=None, helps=None):
    """The options of a provider that builds on another one's.

    :param options: the other provider's ``OPTIONS``; they are not changed.
    :param leave_out: the names of the options not taken.
    :param defaults: ``{name: default}`` for the options whose default
        differs.
    :param helps: ``{name: help}`` for the options whose help differs.
    """
    defaults, helps = defaults or {}, helps or {}
    derived = []
    for opt in options:
        if opt.dest in leave_out:
            continue
        if opt.dest in defaults or opt.dest in helps:
            opt = copy.deepcopy(opt)
            if opt.dest in defaults:
                opt.default = defaults[opt.dest]
            if opt.dest in helps:
                opt.help = helps[opt.dest]
        derived.append(opt)
    return derived


# -- parts ---------------------------------------------------------------


#: see :func:`cloudsync.providers.check_part_numbers`
check_part_numbers = providers.check_part_numbers


# -- secrets -------------------------------------------------------------


# -- request bodies --------------------------------------------------------


class BodyError(Exception):
    """The caller's stream did not yield the bytes it promised."""


def read_announced(stream, n, remaining, size):
    """Read at most ``n`` (all when negative) of the ``remaining`` bytes of
    a body announced as ``size`` bytes.

    :raises BodyError: the stream ended early, or handed out more than
        asked for.
    """
    want = remaining if n is None or n < 0 else min(n, remaining)
    data = stream.read(want)
    if not data:
        raise BodyError('the body ended after %d of %d bytes'
                        % (size - remaining, size))
    if len(data) > want:
        raise BodyError('the body stream returned %d bytes when asked '
                        'for %d' % (len(data), want))
    return bytes(data)


def scrub(text, secrets):
    """``text`` with every one of ``secrets`` (empty ones skipped) replaced
    by ``***``.
    """
    text = str(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, '***')
    return text
