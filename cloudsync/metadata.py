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
"""Swift object headers to remote metadata, and back, exactly.

A Swift object's user metadata (``X-Object-Meta-*``), its large-object
headers, its ETag and its timestamp travel with the remote copy as remote
user metadata (``x-amz-meta-*`` on S3), so that an object read back from
the remote has the headers it had in Swift.

Values: a value made only of printable ASCII, with no white space at
either end and not shaped like an RFC 2047 encoded word, is stored as it
is (readable in any S3 tool). Any other value is stored as one RFC 2047
encoded word in base64 (``=?UTF-8?B?...?=``), which keeps every character,
including 4-byte UTF-8, ``%``, control characters and white space at the
ends. Reading accepts that, the quoted-printable words (``=?UTF-8?Q?...?=``)
swift-s3-sync wrote, and several words in a row.

Keys are lower case on the remote; Swift title-cases metadata keys, so
they come back as Swift shows them. A key that is not a plain ASCII header
name (``X-Object-Meta-Ünïcode``) is stored percent-encoded under
``cloudsync-key-<key>``. A few keys are cloudsync's own (see
:data:`RESERVED_KEYS`); a user key that would clash with one is stored
under ``cloudsync-user-<key>``. Both come back unchanged.

What a remote gives back becomes response headers: the daemon never
writes metadata that could not be sent as one (a control character, see
:mod:`cloudsync.headers`); :func:`check_for_remote` refuses it.

Header values passed in and returned are ``str``. Swift's WSGI layer hands
headers over as "WSGI strings" (UTF-8 bytes decoded as latin-1): convert
them with :func:`swift.common.swob.wsgi_to_str` first.
"""

import base64
import binascii
import quopri
import re
import urllib.parse

from swift.common import utils as swift_utils

from cloudsync import exceptions
from cloudsync import headers as headers_mod

OBJECT_META_PREFIX = 'x-object-meta-'

#: the Swift ETag of an SLO (the quoted MD5 of its segments' ETags)
SLO_ETAG_KEY = 'swift-slo-etag'
#: the X-Timestamp of the Swift object that was copied
TIMESTAMP_KEY = 'cloudsync-timestamp'
#: the Swift ETag when it differs from the remote's (SLO, DLO)
ETAG_KEY = 'cloudsync-etag'
#: the X-Delete-At of the Swift object, when expiry is propagated
DELETE_AT_KEY = 'cloudsync-delete-at'
#: the X-Timestamp of the Swift DELETE that deleted the object, on a
#: remote copy kept with ``propagate_delete = false`` (the cloud shunt then
#: no longer serves it)
DELETED_AT_KEY = 'cloudsync-deleted-at'
#: Swift's large-object headers, stored under their own names as
#: swift-s3-sync did
SLO_KEY = 'x-static-large-object'
DLO_KEY = 'x-object-manifest'
#: the local X-Object-Manifest (container/prefix, percent-decoded) of a DLO
#: that a remote keeping DLOs stores as a DLO of its own, whose
#: ``x-object-manifest`` names the remote segments (see
#: :mod:`cloudsync.sync.propagate`)
DLO_SOURCE_KEY = 'cloudsync-dlo-source'

#: the MD5 of an SLO's stored manifest (the X-Manifest-Etag Swift gives)
MANIFEST_ETAG_KEY = 'cloudsync-manifest-etag'
#: the ETag Swift's s3api shows S3 clients for an object it uploaded in
#: parts (its ``X-Object-Sysmeta-S3Api-Etag``); an SLO without it shows its
#: Swift ETag with ``-N`` through s3api
S3API_ETAG_KEY = 'cloudsync-sysmeta-s3api-etag'
#: a Swift symlink kept as an empty object (see :mod:`cloudsync.symlinks`):
#: its target as Swift stores it (``<container>/<object>``,
#: percent-encoded), the target's account (percent-encoded) when the link
#: named one, and, for a static link, the target's ETag and size
SYMLINK_TARGET_KEY = 'cloudsync-symlink-target'
SYMLINK_ACCOUNT_KEY = 'cloudsync-symlink-target-account'
SYMLINK_ETAG_KEY = 'cloudsync-symlink-target-etag'
SYMLINK_BYTES_KEY = 'cloudsync-symlink-target-bytes'

RESERVED_KEYS = frozenset([SLO_ETAG_KEY, SLO_KEY, DLO_KEY])
RESERVED_PREFIX = 'cloudsync-'
ESCAPE_PREFIX = 'cloudsync-user-'
#: user keys that are not plain header tokens (non-ASCII, ``%``) are stored
#: percent-encoded under this prefix
KEY_ESCAPE_PREFIX = 'cloudsync-key-'
_TOKEN = re.compile(r"^[A-Za-z0-9!#$&'*+.^_`|~-]+$")

_PRINTABLE = re.compile(r'^[\x20-\x7e]*$')
_ENCODED_WORD = re.compile(
    r'=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=')
_ENCODED_WORDS = re.compile(
    r'^\s*(=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=\s*)+$')


def encode_value(value):
    """Make ``value`` (a ``str``) safe as an HTTP header value."""
    if (_PRINTABLE.match(value) and value == value.strip() and
            '=?' not in value):
        return value
    return '=?UTF-8?B?%s?=' % base64.b64encode(
        value.encode('utf-8', 'surrogateescape')).decode('ascii')


def _decode_word(charset, encoding, text):
    if encoding in 'bB':
        raw = base64.b64decode(text + '=' * (-len(text) % 4))
    else:
        raw = quopri.decodestring(text.replace('_', ' ').encode('ascii'),
                                  header=False)
    return raw.decode(charset, 'surrogateescape')


def decode_value(value):
    """The inverse of :func:`encode_value`; plain values pass through."""
    if '=?' not in value or not _ENCODED_WORDS.match(value):
        return value
    try:
        # NOTE: white space between adjacent encoded words is not part of
        # the value (RFC 2047 section 6.2).
        return ''.join(_decode_word(*m.groups())
                       for m in _ENCODED_WORD.finditer(value))
    except (LookupError, ValueError, binascii.Error):
        return value


def _title(key):
    # NOTE: Swift's header dictionaries normalise names with str.title().
    return key.title()


def _store_key(key):
    if not _TOKEN.match(key):
        # NOTE: S3 metadata keys are ASCII header names; percent-encoding
        # keeps any other key reversible. The key is lower case already, so
        # lower-casing the hex digits loses nothing.
        return KEY_ESCAPE_PREFIX + urllib.parse.quote(
            key, safe='', errors='surrogateescape').lower()
    if key in RESERVED_KEYS or key.startswith(RESERVED_PREFIX):
        return ESCAPE_PREFIX + key
    return key


def swift_to_remote(headers):
    """Remote metadata for a Swift object's headers.

    :param headers: the Swift object's headers (any case).
    :returns: ``dict`` of lower-case key to encoded value, holding the user
        metadata and the large-object headers. Content-Type is not part of
        it: providers store it in its own field.
    """
    meta = {}
    for key, value in headers.items():
        lkey = key.lower()
        if lkey.startswith(OBJECT_META_PREFIX):
            user_key = lkey[len(OBJECT_META_PREFIX):]
            meta[_store_key(user_key)] = encode_value(value)
        elif lkey in (SLO_KEY, DLO_KEY):
            meta[lkey] = encode_value(value)
    return meta


def check_for_remote(headers):
    """Refuse Swift headers whose metadata a remote copy must not carry.

    A value (or key) with a control character round-trips through the
    encoding above, but whatever reads it back from the remote would have
    to leave it out of its response headers (see
    :func:`cloudsync.headers.unsafe_metadata`): such an object is not
    copied.

    :raises cloudsync.exceptions.InvalidObject: naming the headers.
    """
    unsafe = headers_mod.unsafe_metadata(headers)
    if unsafe:
        raise exceptions.InvalidObject(
            'metadata that could not be given back as a response header '
            '(not copied): %s' % headers_mod.describe_dropped(unsafe))


def remote_to_swift(metadata):
    """Swift headers for remote metadata; the inverse of
    :func:`swift_to_remote`.

    cloudsync's own keys are left out (see :func:`internal_values`).
    """
    headers = {}
    for key, value in metadata.items():
        lkey = key.lower()
        value = decode_value(value)
        if lkey in (SLO_KEY, DLO_KEY):
            headers[_title(lkey)] = value
        elif lkey.startswith(KEY_ESCAPE_PREFIX):
            user_key = urllib.parse.unquote(lkey[len(KEY_ESCAPE_PREFIX):],
                                            errors='surrogateescape')
            headers['X-Object-Meta-' + _title(user_key)] = value
        elif lkey.startswith(ESCAPE_PREFIX):
            headers['X-Object-Meta-' + _title(lkey[len(ESCAPE_PREFIX):])] = \
                value
        elif lkey in RESERVED_KEYS or lkey.startswith(RESERVED_PREFIX):
            continue
        else:
            headers['X-Object-Meta-' + _title(lkey)] = value
    return headers


def internal_values(metadata):
    """cloudsync's own keys in remote metadata, decoded."""
    return {k.lower(): decode_value(v) for k, v in metadata.items()
            if (k.lower() == SLO_ETAG_KEY or
                (k.lower().startswith(RESERVED_PREFIX) and
                 not k.lower().startswith((ESCAPE_PREFIX,
                                           KEY_ESCAPE_PREFIX))))}


def local_dlo_manifest(metadata):
    """The ``X-Object-Manifest`` Swift gave a DLO that the remote keeps as
    a DLO of its own, or None.

    The remote manifest's own ``x-object-manifest`` names the segments the
    daemon copied to the remote; the local one is in
    :data:`DLO_SOURCE_KEY`, percent-decoded. It is given back
    percent-encoded (UTF-8, ``/`` kept), as python-swiftclient sends it:
    Swift's ``dlo`` middleware decodes the header, so this value names the
    same segments as the one the client wrote, and is that value unless
    the client sent characters that need encoding as they were.

    :param metadata: the remote copy's metadata.
    :returns: None for metadata without ``x-object-manifest`` (not a DLO)
        or without :data:`DLO_SOURCE_KEY` (a DLO cloudsync did not copy:
        its own manifest is the one to show).
    """
    meta = {k.lower(): v for k, v in metadata.items()}
    source = meta.get(DLO_SOURCE_KEY)
    if DLO_KEY not in meta or not source:
        return None
    return urllib.parse.quote(decode_value(source), safe='/')


def user_metadata(headers):
    """The user metadata of Swift headers: lower-case key to value."""
    return {k.lower()[len(OBJECT_META_PREFIX):]: v
            for k, v in headers.items()
            if k.lower().startswith(OBJECT_META_PREFIX)}


def same_metadata(local_headers, remote_metadata):
    """Whether the remote holds exactly the Swift object's metadata.

    User metadata and large-object headers are compared; cloudsync's own
    keys are left aside.
    """
    want = {k.lower(): v for k, v in remote_to_swift(
        swift_to_remote(local_headers)).items()}
    have = {k.lower(): v for k, v in
            remote_to_swift(remote_metadata).items()}
    return want == have


def archive_timestamp(timestamp):
    """The X-Timestamp of the DELETE that archives the object version of
    ``timestamp``: just after it, so that Swift refuses the DELETE (409)
    when a newer version was written since, and so that its tombstone is
    recognisably archiving's, not a user's delete. The sync daemon writes
    it and the cloud shunt recognises it.
    """
    # NOTE(cloudsync): Timestamp adds ``offset`` to the one it is given.
    return swift_utils.Timestamp(timestamp, offset=1)
