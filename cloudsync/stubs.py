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
"""Archive stubs: the zero-byte objects archiving leaves in Swift.

With ``archive_as = stub`` (the mapping option), archiving an object
copies it, verifies the copy, then replaces the local object with a
stub: a zero-byte object written one timestamp offset after the archived
version, that keeps the original's user metadata, expiry and the headers
a POST may set, and records in cloudsync's object sysmeta
(``X-Object-Sysmeta-Cloudsync-Archive-*``) where the data is. Swift's
container update overrides (``X-Object-Sysmeta-Container-Update-
Override-{Etag,Size,Content-Type}``) make the container listing show
what it showed before archiving.

The stub's own Content-Type is :data:`STUB_CONTENT_TYPE`, so that a
proxy without the cloud shunt answers unmistakably; the shunt answers a
GET or HEAD of a stub with the original's headers and the remote's
bytes. The sync daemon writes stubs and the shunt reads them: both
import this module, which imports neither.
"""

import dataclasses
import typing
import urllib.parse

from swift.common import request_helpers
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import metadata as md

#: the Content-Type of a stub as Swift stores it (a proxy without the
#: shunt shows it; the listing shows the original's)
STUB_CONTENT_TYPE = 'application/x-cloudsync-archived'
#: the values of the ``archive_as`` mapping option
ARCHIVE_AS_STUB = 'stub'
ARCHIVE_AS_DELETE = 'delete'

PREFIX = 'x-object-sysmeta-cloudsync-archive-'
#: the name of the ``[remote:NAME]`` section the data went to
REMOTE = PREFIX + 'remote'
#: the bucket (or remote container) and the key, percent-encoded
BUCKET = PREFIX + 'bucket'
KEY = PREFIX + 'key'
#: the remote copy's ETag (unquoted) and size
REMOTE_ETAG = PREFIX + 'remote-etag'
SIZE = PREFIX + 'size'
#: the ETag Swift gave the original (an SLO's: its quoted-less SLO ETag)
ETAG = PREFIX + 'etag'
#: what the original was: plain, slo, dlo or link
KIND = PREFIX + 'kind'
#: an SLO's manifest side object, percent-encoded
MANIFEST_KEY = PREFIX + 'manifest-key'
#: the remote copy's storage class, when the remote said
STORAGE_CLASS = PREFIX + 'storage-class'
#: the X-Timestamp (internal form) of the archived version
TIMESTAMP = PREFIX + 'timestamp'
#: the original's Content-Type, without ``swift_bytes`` (RFC 2047 encoded
#: when it is not plain ASCII, see :func:`cloudsync.metadata.encode_value`)
CONTENT_TYPE = PREFIX + 'content-type'

#: the container update overrides a stub carries
OVERRIDE_ETAG = request_helpers.get_container_update_override_key('etag')
OVERRIDE_SIZE = request_helpers.get_container_update_override_key('size')
OVERRIDE_CONTENT_TYPE = \
    request_helpers.get_container_update_override_key('content-type')

KINDS = ('plain', 'slo', 'dlo', 'link')


def _quote(value):
    return urllib.parse.quote(value, safe='/', errors='surrogateescape')


def _unquote(value):
    return urllib.parse.unquote(value, errors='surrogateescape')


@dataclasses.dataclass
class ArchiveStub:
    """Where the data of an archived object is, as its stub says."""

    remote: str
    bucket: str
    key: str
    remote_etag: str
    size: int
    etag: str
    kind: str
    timestamp: swift_utils.Timestamp
    content_type: str
    manifest_key: typing.Optional[str] = None
    storage_class: typing.Optional[str] = None

    @property
    def is_slo(self):
        return self.kind == 'slo'

    def sysmeta(self):
        """The stub's ``X-Object-Sysmeta-Cloudsync-Archive-*`` headers
        (native strings, ASCII).
        """
        headers = {
            REMOTE: _quote(self.remote or ''),
            BUCKET: _quote(self.bucket),
            KEY: _quote(self.key),
            REMOTE_ETAG: self.remote_etag or '',
            SIZE: str(int(self.size)),
            ETAG: self.etag or '',
            KIND: self.kind,
            TIMESTAMP: self.timestamp.internal,
            CONTENT_TYPE: md.encode_value(self.content_type),
        }
        if self.manifest_key:
            headers[MANIFEST_KEY] = _quote(self.manifest_key)
        if self.storage_class:
            headers[STORAGE_CLASS] = self.storage_class
        return {k.title(): v for k, v in headers.items()}

    @classmethod
    def from_headers(cls, headers):
        """The stub that Swift object ``headers`` describe, or None when
        they are not a stub's (or a stub's that cannot be read: then the
        object is Swift's alone).

        :param headers: any mapping of header names (any case) to native
            strings.
        """
        lower = {k.lower(): v for k, v in headers.items()
                 if k.lower().startswith(PREFIX)}
        if not lower.get(KEY) or not lower.get(TIMESTAMP):
            return None
        try:
            timestamp = swift_utils.Timestamp(lower[TIMESTAMP])
            size = int(lower.get(SIZE) or '')
        except (ValueError, TypeError):
            return None
        kind = lower.get(KIND) or 'plain'
        if kind not in KINDS:
            return None
        return cls(
            remote=_unquote(lower.get(REMOTE) or ''),
            bucket=_unquote(lower.get(BUCKET) or ''),
            key=_unquote(lower[KEY]),
            remote_etag=lower.get(REMOTE_ETAG) or '',
            size=size, etag=lower.get(ETAG) or '', kind=kind,
            timestamp=timestamp,
            content_type=md.decode_value(
                lower.get(CONTENT_TYPE) or 'application/octet-stream'),
            manifest_key=_unquote(lower[MANIFEST_KEY])
            if lower.get(MANIFEST_KEY) else None,
            storage_class=lower.get(STORAGE_CLASS) or None)


def is_stub(headers):
    """Whether Swift object ``headers`` are a stub's."""
    return ArchiveStub.from_headers(headers) is not None


def stub_timestamp(archived):
    """The X-Timestamp of the stub of the version of timestamp
    ``archived``: one offset step after it. Swift's object server refuses
    (409) a PUT that is not newer than the object's data or tombstone, so
    an overwrite or DELETE written since wins; a POST written since stays
    on top of the stub (a newer ``.meta``). The offset is not shown to
    clients: X-Timestamp and Last-Modified stay the original's.
    """
    # NOTE(cloudsync): Timestamp adds ``offset`` to the one it is given.
    return swift_utils.Timestamp(archived, offset=1)


def container_overrides(etag, size, content_type):
    """The container update overrides that keep a stub's listing entry
    the original's: its listing ETag (with parameters such as an SLO's
    ``slo_etag``), its size and content type (an SLO's with
    ``swift_bytes``).
    """
    return {OVERRIDE_ETAG: etag, OVERRIDE_SIZE: str(int(size)),
            OVERRIDE_CONTENT_TYPE: content_type}


def put_headers(stub, kept, listing_etag, listing_size,
                listing_content_type, timestamp):
    """The headers (WSGI strings) of the PUT that writes ``stub``.

    :param stub: the :class:`ArchiveStub`.
    :param kept: the object's headers a POST sets (user metadata,
        ``Content-Disposition``, ...) and ``X-Delete-At``, WSGI strings.
    :param listing_etag: what the listing shows as ``hash``.
    :param listing_size: what it shows as ``bytes``.
    :param listing_content_type: what it shows as ``content_type`` (an
        SLO's with ``swift_bytes``).
    :param timestamp: the stub's X-Timestamp, see :func:`stub_timestamp`.
    """
    put = dict(kept)
    # NOTE(cloudsync): Swift's dlo middleware would take a stub with
    # X-Object-Manifest for a manifest; the remote copy keeps it.
    for key in [k for k in put if k.lower() == 'x-object-manifest']:
        del put[key]
    put.update((swob.str_to_wsgi(k), swob.str_to_wsgi(v))
               for k, v in stub.sysmeta().items())
    put.update((k, swob.str_to_wsgi(v)) for k, v in container_overrides(
        listing_etag, listing_size, listing_content_type).items())
    put['Content-Type'] = STUB_CONTENT_TYPE
    put['Content-Length'] = '0'
    put['X-Timestamp'] = timestamp.internal
    return put


def posted_content_type(stub_content_type):
    """Whether a stub's own Content-Type is a POST's (not
    :data:`STUB_CONTENT_TYPE`).
    """
    ctype = swift_utils.clean_content_type(stub_content_type or '')
    return bool(ctype) and \
        ctype.split(';')[0].strip().lower() != STUB_CONTENT_TYPE


def listing_content_type(content_type, listed):
    """``content_type`` as a listing shows it, with the ``swift_bytes`` of
    what the listing showed (``listed``, an SLO's) if any.
    """
    _ctype, swift_bytes = swift_utils.extract_swift_bytes(listed or '')
    if swift_bytes is None:
        return content_type
    return '%s;swift_bytes=%s' % (content_type, swift_bytes)


def served_content_type(stub, stub_content_type):
    """The Content-Type clients see for a stub: a POST's on the stub
    (local truth until the daemon carries it to the remote), or the
    original's.
    """
    if not posted_content_type(stub_content_type):
        return stub.content_type
    return swift_utils.clean_content_type(stub_content_type)
