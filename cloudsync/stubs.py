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
a POST may set, and records in one header of cloudsync's object sysmeta
(``X-Object-Sysmeta-Cloudsync-Archive-Record``, see
:meth:`ArchiveStub.record`)
where the data is; stubs written by earlier builds, with a header per
field (``X-Object-Sysmeta-Cloudsync-Archive-*``), are still read. Swift's
container update overrides (``X-Object-Sysmeta-Container-Update-
Override-{Etag,Size,Content-Type}``) make the container listing show
what it showed before archiving.

The stub's own Content-Type is :data:`STUB_CONTENT_TYPE`, so that a
proxy without the cloud shunt answers unmistakably; the shunt answers a
GET or HEAD of a stub with the original's headers and the remote's
bytes. The sync daemon writes stubs and the shunt reads them: both
import this module, which imports neither.

The restores of remote copies in a cold storage class that the shunt
asks for are recorded here too, as Swift's expirer keeps its queue: a
zero-byte marker object per object in the hidden account
:data:`RESTORES_ACCOUNT` (:func:`record_restore`, :func:`forget_restore`),
which ``cloudsync-status`` lists (:func:`pending_restores`).
"""

import dataclasses
import hashlib
import time
import typing
import urllib.parse

from swift.common import request_helpers
from swift.common import swob
from swift.common import utils as swift_utils
from swift.common import wsgi as swift_wsgi

from cloudsync import metadata as md

# NOTE(cloudsync): over 600 lines: what archiving leaves in Swift (the
# stubs, their record in both its forms, the restore markers) is read by
# the shunt and the daemon alike, from this one module that imports
# neither.

#: the Content-Type of a stub as Swift stores it (a proxy without the
#: shunt shows it; the listing shows the original's)
STUB_CONTENT_TYPE = 'application/x-cloudsync-archived'
#: the values of the ``archive_as`` mapping option
ARCHIVE_AS_STUB = 'stub'
ARCHIVE_AS_DELETE = 'delete'

#: what the names of the stub's sysmeta start with, in every form (an
#: earlier build refuses to copy an object with any such header: it sees a
#: stub it cannot read)
PREFIX = 'x-object-sysmeta-cloudsync-archive-'
#: the stub's record: one header, see :meth:`ArchiveStub.record`
RECORD = PREFIX + 'record'
#: the version of the record's encoding this build writes (and the only
#: one it reads, with the headers of earlier builds)
RECORD_VERSION = '1'
#: a record longer than this many characters is written in parts: the
#: first in :data:`RECORD`, the next in ``RECORD_PART + '2'``, ... (each
#: header line stays well within what Swift's servers take)
RECORD_PART_SIZE = 4096
RECORD_PART = RECORD + '-part'

# the header per field that earlier builds wrote (read, never written):
# ``X-Object-Sysmeta-Cloudsync-Archive-<field>``
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


#: what a field of the record keeps as it is (never ``;``, ``%`` or
#: white space)
_FIELD_SAFE = '/=:@,+'
#: the record's fields after its version, in order (``kind`` last: a
#: record cut short does not end with one)
_FIELDS = ('remote', 'bucket', 'key', 'remote_etag', 'size', 'etag',
           'timestamp', 'content_type', 'manifest_key', 'storage_class',
           'kind')
#: a record is never split in more parts than this
_MAX_PARTS = 64


def _field(value):
    return urllib.parse.quote(value or '', safe=_FIELD_SAFE,
                              errors='surrogateescape')


def _split_record(record):
    """``record`` as the values of :data:`RECORD` and its parts."""
    if len(record) <= RECORD_PART_SIZE:
        return [record]
    _version, body = record.split(';', 1)
    count = -(-len(record) // RECORD_PART_SIZE)
    while True:
        whole = '%s/%d;%s' % (RECORD_VERSION, count, body)
        if len(whole) <= count * RECORD_PART_SIZE:
            break
        count += 1
    size = -(-len(whole) // count)
    return [whole[i:i + size] for i in range(0, len(whole), size)]


def _joined_record(get):
    """The record that :data:`RECORD` and its parts hold (``get``: a
    header's value by its lower case name, or None), None without one, ''
    when a part is missing.
    """
    first = get(RECORD)
    if first is None:
        return None
    head = first.split(';', 1)[0]
    if '/' not in head:
        return first
    count = head.partition('/')[2]
    if not count.isdigit() or not 2 <= int(count) <= _MAX_PARTS:
        return ''
    parts = [first]
    for number in range(2, int(count) + 1):
        part = get(RECORD_PART + str(number))
        if not part:
            return ''
        parts.append(part)
    return ''.join(parts)


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

    def record(self):
        """The stub's record: its version then its fields, each
        percent-encoded (UTF-8), separated by ``;`` (ASCII, no white
        space).
        """
        values = {name: getattr(self, name) for name in _FIELDS}
        values['size'] = str(int(self.size))
        values['timestamp'] = self.timestamp.internal
        return ';'.join([RECORD_VERSION] + [
            _field(values[name]) for name in _FIELDS])

    def sysmeta(self):
        """The stub's sysmeta headers (native strings, ASCII): its
        :meth:`record` in ``X-Object-Sysmeta-Cloudsync-Archive-Record``
        (and, when it is long, the parts after the first in
        ``X-Object-Sysmeta-Cloudsync-Archive-Record-Part<N>``).
        """
        parts = _split_record(self.record())
        headers = {RECORD.title(): parts[0]}
        for number, part in enumerate(parts[1:], 2):
            headers[(RECORD_PART + str(number)).title()] = part
        return headers

    @classmethod
    def from_record(cls, record):
        """The stub a whole :meth:`record` describes, or None when it
        cannot be read.
        """
        if not record or not record.isascii():
            return None
        fields = record.split(';')
        if len(fields) != len(_FIELDS) + 1 or \
                fields[0].partition('/')[0] != RECORD_VERSION:
            return None
        values = dict(zip(_FIELDS, fields[1:]))
        if not values['key'] or values['kind'] not in KINDS or \
                not values['size'].isdigit():
            return None
        try:
            timestamp = swift_utils.Timestamp(values['timestamp'])
        except (ValueError, TypeError):
            return None
        return cls(
            remote=_unquote(values['remote']),
            bucket=_unquote(values['bucket']),
            key=_unquote(values['key']),
            remote_etag=_unquote(values['remote_etag']),
            size=int(values['size']), etag=_unquote(values['etag']),
            kind=values['kind'], timestamp=timestamp,
            content_type=_unquote(values['content_type']) or
            'application/octet-stream',
            manifest_key=_unquote(values['manifest_key']) or None,
            storage_class=_unquote(values['storage_class']) or None)

    @classmethod
    def from_headers(cls, headers):
        """The stub that Swift object ``headers`` describe, or None when
        they are not a stub's (or a stub's that cannot be read: then the
        object is Swift's alone).

        The record of earlier builds (a header per field,
        ``X-Object-Sysmeta-Cloudsync-Archive-<field>``) is read too.

        :param headers: any mapping of header names (any case) to native
            strings.
        """
        lower = {}
        for name, value in headers.items():
            name = name.lower()
            if name.startswith(PREFIX):
                lower[name] = value
        if RECORD in lower:
            return cls.from_record(_joined_record(lower.get))
        return cls._from_fields(lower)

    @classmethod
    def _from_fields(cls, lower):
        """The stub the nine-header form of earlier builds describes."""
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


def unreadable_stub(headers):
    """Why Swift object ``headers`` look like an archive stub's that
    :meth:`ArchiveStub.from_headers` cannot read (its sysmeta removed or
    changed by hand), or None.

    Such an object is neither copied nor served as the original: copied,
    its zero bytes would replace the remote copy, the only one of the
    data.
    """
    if is_stub(headers):
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    if any(k.startswith(PREFIX) for k in lower):
        return 'an archive stub whose cloudsync sysmeta cannot be read'
    ctype = swift_utils.clean_content_type(lower.get('content-type') or '')
    if lower.get('content-length') == '0' and \
            ctype.split(';')[0].strip().lower() == STUB_CONTENT_TYPE:
        return 'an archive stub without its cloudsync sysmeta (zero bytes ' \
            'of Content-Type %s)' % STUB_CONTENT_TYPE
    return None


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


# -- pending restores of copies in a cold storage class ---------------------

#: the hidden account where the shunt records the cold restores it asked
#: for (Swift creates accounts starting with its auto-create prefix, ``.``,
#: on their first container PUT, as it does Swift's ``.expiring_objects``)
RESTORES_ACCOUNT = '.cloudsync_restores'
#: the Content-Type of a restore marker; its parameters say what the
#: listing shows: when the restore was asked for, the tier and days, and
#: when the marker expires
RESTORE_MARKER_CONTENT_TYPE = 'application/x-cloudsync-restore'
#: a marker outlives the restored copy by this many seconds: the time a
#: restore may take (a Bulk restore from DEEP_ARCHIVE, up to 48 hours)
RESTORE_MARKER_MARGIN = 2 * 86400
#: the user metadata of a marker: where the remote copy is (percent-encoded)
MARKER_META = 'X-Object-Meta-Cloudsync-'
#: the longest object name Swift takes by default
MAX_MARKER_NAME = 1024
#: the ``swift.source`` of the requests about restore markers (logged as
#: the cloud shunt's)
MARKER_SOURCE = 'CSM'
#: seconds a read that found a copy readable remembers that its restore
#: marker is gone (in memcache, or this process without memcache), so
#: that the next reads do not look for it
MARKER_GONE_TTL = 3600
#: path -> until when this process knows the marker is gone (used only
#: without memcache)
_MARKERS_GONE = {}


def restore_marker(account, container, obj):
    """``(container, object)`` of the marker of the restore of
    ``account/container/obj`` in :data:`RESTORES_ACCOUNT`: a container per
    local account (account names have no ``/``), the object named
    ``container/object``. A name longer than Swift takes is cut and ends
    with a hash of the whole name.
    """
    name = '%s/%s' % (container, obj)
    encoded = name.encode('utf-8', 'surrogateescape')
    if len(encoded) > MAX_MARKER_NAME:
        digest = hashlib.sha256(encoded).hexdigest()
        head = encoded[:MAX_MARKER_NAME - len(digest) - 1].decode(
            'utf-8', 'ignore')
        name = '%s#%s' % (head, digest)
    return account, name


def restore_marker_headers(remote, bucket, key, tier, days, asked_at):
    """The headers (native strings) of the PUT of a restore marker.

    It expires (``X-Delete-At``) when the restored copy has gone cold
    again: ``days`` after the restore, plus
    :data:`RESTORE_MARKER_MARGIN` for the restore itself.
    """
    asked_at = int(asked_at)
    delete_at = asked_at + int(days) * 86400 + RESTORE_MARKER_MARGIN
    return {
        'Content-Type': '%s;asked_at=%d;tier=%s;days=%d;delete_at=%d' % (
            RESTORE_MARKER_CONTENT_TYPE, asked_at, tier, int(days),
            delete_at),
        'Content-Length': '0',
        'X-Delete-At': str(delete_at),
        MARKER_META + 'Remote': _quote(remote or ''),
        MARKER_META + 'Bucket': _quote(bucket),
        MARKER_META + 'Key': _quote(key),
        MARKER_META + 'Tier': tier,
        MARKER_META + 'Days': str(int(days)),
        MARKER_META + 'Asked-At': str(asked_at),
    }


@dataclasses.dataclass
class PendingRestore:
    """A restore the shunt asked for and no read found done yet, as the
    listing of :data:`RESTORES_ACCOUNT` shows it.
    """

    account: str
    container: str
    obj: str
    asked_at: typing.Optional[float]
    tier: str
    days: typing.Optional[int]
    expires_at: typing.Optional[float]

    @property
    def name(self):
        return '%s/%s/%s' % (self.account, self.container, self.obj)

    @classmethod
    def from_listing(cls, marker_container, entry):
        """The restore a listing ``entry`` (a dict of a JSON container
        listing) of ``marker_container`` records, or None when it is not
        a marker.
        """
        name = entry.get('name') or ''
        ctype, _sep, params = (entry.get('content_type') or '').partition(
            ';')
        if '/' not in name or \
                ctype.strip().lower() != RESTORE_MARKER_CONTENT_TYPE:
            return None
        values = {}
        for param in params.split(';'):
            key, _eq, value = param.partition('=')
            values[key.strip().lower()] = value.strip()

        def number(key, kind):
            try:
                return kind(values[key])
            except (KeyError, ValueError):
                return None
        container, obj = name.split('/', 1)
        return cls(account=marker_container, container=container, obj=obj,
                   asked_at=number('asked_at', float),
                   tier=values.get('tier') or '?',
                   days=number('days', int),
                   expires_at=number('delete_at', float))

    def to_dict(self):
        return {'object': self.name, 'asked_at': self.asked_at,
                'tier': self.tier, 'days': self.days,
                'expires_at': self.expires_at}


def pending_restores(internal_client, now=None):
    """The :class:`PendingRestore` s recorded in :data:`RESTORES_ACCOUNT`,
    read with Swift's ``internal_client`` (listings only), without those
    past their expiry that Swift's expirer has not removed yet.
    """
    found = []
    for cont in internal_client.iter_containers(
            RESTORES_ACCOUNT, acceptable_statuses=(2, 404)):
        for entry in internal_client.iter_objects(
                RESTORES_ACCOUNT, cont['name'],
                acceptable_statuses=(2, 404)):
            pending = PendingRestore.from_listing(cont['name'], entry)
            if pending is None or (
                    now is not None and pending.expires_at is not None and
                    pending.expires_at <= now):
                continue
            found.append(pending)
    return found


def _marker_path(target):
    container, obj = restore_marker(target.account, target.container,
                                    target.obj)
    return swob.wsgi_quote(swob.str_to_wsgi('/%s/%s/%s/%s' % (
        target.version, RESTORES_ACCOUNT, container, obj))), \
        swob.wsgi_quote(swob.str_to_wsgi('/%s/%s/%s' % (
            target.version, RESTORES_ACCOUNT, container)))


def _marker_request(app, env, method, path, headers=None):
    """A request about a marker to ``app`` (the pipeline below the
    shunt), on the operator's behalf; returns its status.
    """
    req = swift_wsgi.make_pre_authed_request(
        env, method=method, path=path,
        headers={swob.str_to_wsgi(k): swob.str_to_wsgi(v)
                 for k, v in (headers or {}).items()},
        agent='%(orig)s CloudShuntRestoreMarker', swift_source=MARKER_SOURCE)
    resp = req.get_response(app)
    swift_utils.friendly_close(resp.app_iter)
    return resp.status_int


def _gone_key(path):
    return 'cloudsync/cold-marker-gone/%s' % hashlib.sha256(
        path.encode('utf-8', 'surrogateescape')).hexdigest()


def record_restore(app, env, target, logger, clock=time.time):
    """Record the restore asked for of ``target`` as a marker object in
    :data:`RESTORES_ACCOUNT`, so that
    ``cloudsync-status`` lists it without asking the remote. The marker
    is written once (``If-None-Match: *``: the first ask's time stays);
    its container is created when missing. A failure is logged, never
    the client's.
    """
    mapping = target.mapping
    path, container_path = _marker_path(target)
    headers = restore_marker_headers(
        mapping.remote.name if mapping.remote else '', target.bucket,
        target.key, mapping.cold_restore_tier, mapping.cold_restore_days,
        clock())
    headers['If-None-Match'] = '*'
    try:
        status = _marker_request(app, env, 'PUT', path, headers)
        if status == 404:
            created = _marker_request(app, env, 'PUT', container_path)
            if created // 100 == 2:
                status = _marker_request(app, env, 'PUT', path, headers)
        if status // 100 != 2 and status != 412:
            logger.warning('cloud_shunt: could not record the restore of '
                           '%s in %s: %s', target.name,
                           RESTORES_ACCOUNT, status)
            return False
    except Exception:  # noqa: BLE001 - never the client's failure
        logger.exception('cloud_shunt: could not record the restore of %s',
                         target.name)
        return False
    _MARKERS_GONE.pop(path, None)
    cache = env.get('swift.cache')
    if cache is not None:
        try:
            cache.delete(_gone_key(path))
        except Exception:  # noqa: BLE001 - memcache down
            pass
    return True


def forget_restore(app, env, target, logger, clock=time.time):
    """Delete the restore marker of ``target``, whose remote copy a read
    just found readable (best effort). Whether the marker is gone is then
    remembered for :data:`MARKER_GONE_TTL` seconds (in memcache, or in
    this process without it), so that reads of a restored copy look for
    it once.
    """
    path, _container = _marker_path(target)
    now = clock()
    cache = env.get('swift.cache')
    key = _gone_key(path)
    try:
        if cache is not None:
            if cache.get(key):
                return
        elif _MARKERS_GONE.get(path, 0) > now:
            return
        if _marker_request(app, env, 'HEAD', path) // 100 == 2:
            status = _marker_request(app, env, 'DELETE', path)
            if status // 100 != 2 and status != 404:
                logger.warning('cloud_shunt: could not delete the restore '
                               'marker of %s: %s', target.name, status)
                return
            logger.info('cloud_shunt: the restore of %s is done',
                        target.name)
        if cache is not None:
            cache.set(key, '1', time=MARKER_GONE_TTL)
        else:
            if len(_MARKERS_GONE) > 10000:
                for old in [p for p, until in _MARKERS_GONE.items()
                            if until <= now]:
                    del _MARKERS_GONE[old]
            _MARKERS_GONE[path] = now + MARKER_GONE_TTL
    except Exception:  # noqa: BLE001 - never the client's failure
        logger.exception('cloud_shunt: could not delete the restore marker '
                         'of %s', target.name)
