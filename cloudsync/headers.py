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
"""Response headers built from what a remote holds, checked before use.

Anyone who can write to a bucket (proxymc's users, ``merge_namespaces``,
another tool holding the bucket's keys) decides what its objects'
metadata, content type and ETag say, and :mod:`cloudsync.metadata` decodes
encoded words (``=?UTF-8?B?...?=``) and percent-encoded keys, which may
hold any character. The cloud shunt and proxymc build Swift's response
headers from them; every such header goes through this module first:

* a name or value with a control character (C0 other than horizontal tab,
  DEL, C1, U+2028 and U+2029: what a client may take for the end of a
  header line), or with characters that have no UTF-8 form, never reaches
  the wire: :func:`safe_headers` leaves it out, and the caller logs it;
* a name must also hold no white space and no ``:``;
* one header line (name and value) is at most :data:`MAX_HEADER_LINE`
  bytes;
* an ETag is quoted-string material (printable ASCII without ``"``);
* a timestamp or an expiry is a finite number in Swift's range.

The sync daemon checks the same rule before it copies an object
(:func:`unsafe_metadata`): an object whose user metadata a remote could
not give back is a failed row, never written.
"""

import math
import re

from swift.common import utils as swift_utils

#: the longest header line (name, ``: `` and value, in bytes) passed on
MAX_HEADER_LINE = 8192
#: characters that never go into a header
_CONTROL = re.compile('[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]')
#: and, in a name, neither white space nor a colon
_BAD_NAME = re.compile('[\x00-\x20\x7f-\x9f\u2028\u2029:]')
_ETAG = re.compile(r'^[\x21\x23-\x7e]{1,256}$')
#: Swift's timestamps and expiries are below this (ten digits)
_MAX_TIME = 10 ** 10


def _utf8_len(text):
    """Bytes of ``text`` in UTF-8 (raw bytes kept by surrogateescape), or
    None when it has no such form (a lone surrogate from another charset).
    """
    try:
        return len(text.encode('utf-8', 'surrogateescape'))
    except UnicodeEncodeError:
        return None


def value_problem(value):
    """Why ``value`` (a native ``str``) may not be a header value, or None.
    """
    if not isinstance(value, str):
        return 'not text'
    if _CONTROL.search(value):
        return 'a control character'
    if _utf8_len(value) is None:
        return 'characters that have no UTF-8 form'
    return None


def name_problem(name):
    """Why ``name`` (a native ``str``) may not be a header name, or None."""
    if not isinstance(name, str) or not name:
        return 'an empty name'
    if _BAD_NAME.search(name):
        return 'a control character, white space or ":" in its name'
    if _utf8_len(name) is None:
        return 'characters that have no UTF-8 form in its name'
    return None


def header_problem(name, value):
    """Why ``name: value`` may not be sent, or None."""
    if isinstance(name, str) and isinstance(value, str) and \
            name.isascii() and value.isascii() and name.isprintable() and \
            value.isprintable() and name and ' ' not in name and \
            ':' not in name:
        # NOTE(cloudsync): the common case, in C: printable ASCII.
        if len(name) + 2 + len(value) > MAX_HEADER_LINE:
            return 'longer than %d bytes' % MAX_HEADER_LINE
        return None
    problem = name_problem(name) or value_problem(value)
    if problem:
        return problem
    if _utf8_len(name) + 2 + _utf8_len(value) > MAX_HEADER_LINE:
        return 'longer than %d bytes' % MAX_HEADER_LINE
    return None


def safe_headers(headers):
    """Split headers built from remote data into those that may be sent and
    those that may not.

    :param headers: ``dict`` of native strings.
    :returns: ``(kept, dropped)``: a ``dict`` of the headers that may be
        sent, and a list of ``(printable name, reason)`` for the others.
    """
    kept, dropped = {}, []
    for name, value in headers.items():
        problem = header_problem(name, value)
        if problem:
            dropped.append((printable(name), problem))
        else:
            kept[name] = value
    return kept, dropped


def printable(text, limit=200):
    """``text`` as it may go into a log line: escapes, cut to ``limit``."""
    shown = ascii(text)
    if len(shown) > limit:
        shown = shown[:limit] + '...'
    return shown


def describe_dropped(dropped):
    """One log-line phrase for the list :func:`safe_headers` returns."""
    return ', '.join('%s (%s)' % item for item in dropped)


def safe_etag(value):
    """``value`` (unquoted) when it can be an ETag, else None."""
    if isinstance(value, str) and _ETAG.match(value):
        return value
    return None


def safe_content_type(value, default='application/octet-stream'):
    """``value`` when it can be a Content-Type, else ``default``."""
    if isinstance(value, str) and value and \
            header_problem('Content-Type', value) is None:
        return value
    return default


def timestamp(value):
    """A Swift :class:`~swift.common.utils.Timestamp` for a stored value,
    or None when it is not one (``inf``, ``1e400``, ``nan``, negative, too
    large, not a number).
    """
    if value is None or value == '':
        return None
    try:
        return swift_utils.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return None


def whole_seconds(value):
    """A stored expiry (seconds since the epoch) as an ``int``, or None
    when it is not a finite number in Swift's range.
    """
    if value is None or value == '':
        return None
    try:
        number = float(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if not math.isfinite(number) or number < 0 or number >= _MAX_TIME:
        return None
    return int(number)


def unsafe_metadata(headers):
    """The Swift headers among ``headers`` (user metadata and large-object
    headers) that a remote copy must not carry: a remote gives them back
    as response headers, where they could not be sent.

    :returns: a list of ``(printable name, reason)``; empty when all is
        well.
    """
    out = []
    for name, value in headers.items():
        lname = name.lower()
        if not (lname.startswith('x-object-meta-') or lname in (
                'x-static-large-object', 'x-object-manifest')):
            continue
        problem = name_problem(name) or value_problem(value)
        if problem:
            out.append((printable(name), problem))
    return out
