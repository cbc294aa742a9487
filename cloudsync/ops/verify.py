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
"""Proving a mapping before trusting it, and comparing both sides after.

Checking a mapping's remote (:func:`check_mapping`)
    Before any data moves, prove that the credentials and the target work,
    with the same provider, bucket and key layout the daemon will use.
    Each step is one request; the first that fails ends the check (a
    probe object already written is still deleted):

    ``target``
        the bucket (remote container) exists and the credentials may use it
    ``list``
        list the mapping's key prefix
    ``write``
        write a small probe object under the mapping's key prefix
        (``.cloudsync-verify-probe-<random>``)
    ``read``
        read it back, byte for byte
    ``metadata``
        replace its metadata and see the change on a HEAD
    ``delete``
        delete it, and see it gone

    In read-only mode (for credentials that may only read, as proxymc's
    or a restore-only setup's may): ``target``, ``list``, then ``head``
    and ``read`` of the first object listed under the prefix (skipped
    when there is none).

Comparing a container with its remote copy (:func:`compare_container`)
    Walk the container's listing (through Swift's internal client, as the
    daemon reads it) and the remote listing under the container's key
    prefix side by side, in name order, and sort every object into:

    ``in_sync``
        same size and ETag (for a large object: the remote's
        ``swift-slo-etag``, or the Swift ETag cloudsync keeps beside a
        remote ETag that cannot match, checked with a HEAD)
    ``missing``
        only in Swift (objects that ``exclude_pattern`` or
        ``selection_criteria`` keep out are counted apart)
    ``differing``
        on both sides, but not the same (the reason says how)
    ``only_remote``
        only on the remote: normal for an ``archive`` mapping, whose
        objects leave Swift once copied, and for deletes that are not
        propagated
    ``unchecked``
        dynamic large objects, whose remote copy (their concatenation)
        cannot be compared with the listing
    ``unreadable``
        listed in Swift, but a HEAD (with ``deep``, or to apply
        ``selection_criteria``) answered 404 without a delete at or after
        the listed version: Swift's proxy answers 404 too when the
        replicas that hold the object cannot be reached, so the object
        could not be read locally and is not counted as deleted. An
        object deleted since the listing (its 404 carries a tombstone at
        or after the listed version) is taken as gone, as the daemon
        takes it. On a cluster that encrypts objects at rest, an object
        listed (or HEADed) still encrypted, because the internal client
        does not decrypt, is unreadable too, with the setting to fix
        (``keymaster_config_path``, see :mod:`cloudsync.local`)

    With ``deep``, every object on both sides is also HEADed on both
    sides: content type, user metadata and the Swift timestamp the
    remote copy was made from are compared too. Nothing is ever changed.
"""

# NOTE(cloudsync): over 600 lines: the mapping check and the container
# comparison are the two halves of cloudsync-verify and share its result
# types; whether a remote copy's bytes are current is decided in
# cloudsync.sync.current, as the daemon decides it.

import dataclasses
import hashlib
import json
import typing
import urllib.parse
import uuid

from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import exceptions
from cloudsync import large_objects as lo
from cloudsync import local
from cloudsync import metadata as md
from cloudsync import symlinks
from cloudsync.sync import current

PROBE_PREFIX = '.cloudsync-verify-probe-'
PROBE_BODY = b'cloudsync verify probe\n'
PROBE_META_KEY = 'cloudsync-verify'
#: the container whose layout a wildcard mapping is checked with
WILDCARD_PROBE_CONTAINER = '.cloudsync-verify'
LIST_LIMIT = 1000


@dataclasses.dataclass
class StepResult:
    """The outcome of one step of :func:`check_mapping`."""

    mapping: str
    step: str
    #: True, False, or None when skipped
    ok: typing.Optional[bool]
    message: str = ''

    def line(self):
        state = {True: 'ok', False: 'FAILED', None: 'skipped'}[self.ok]
        text = 'mapping %s: %s: %s' % (self.mapping, self.step, state)
        return text + (': %s' % self.message if self.message else '')


def _timestamp(value):
    try:
        return swift_utils.Timestamp(value) if value else None
    except ValueError:
        return None


def _answer(exc):
    """The remote's answer, for a person: one line, no secret."""
    if isinstance(exc, exceptions.RemoteError):
        text = exc.message or str(exc)
        answer = ' '.join(str(part) for part in (exc.status, exc.code)
                          if part and str(part) not in text)
        if answer:
            text = '%s (%s)' % (text, answer)
    else:
        text = '%s: %s' % (type(exc).__name__, exc)
    return ' '.join(str(text).split())


class LocalUnreadable(Exception):
    """Swift answered 404 to a HEAD without a delete that explains it."""


class _Checker:
    def __init__(self, mapping, provider, bucket, layout):
        self.mapping = mapping
        self.provider = provider
        self.bucket = bucket
        self.layout = layout
        self.results = []

    def where(self, key=None):
        text = 'remote %s bucket %s' % (self.mapping.remote.name,
                                        self.bucket)
        return text + (' key %s' % key if key is not None else '')

    def step(self, name, func, *args):
        """Run one step; returns (ok, value)."""
        try:
            value = func(*args)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            self.results.append(StepResult(
                self.mapping.name, name, False,
                '%s: %s' % (self.where(), _answer(exc))))
            return False, None
        if isinstance(value, str):
            self.results.append(StepResult(self.mapping.name, name, False,
                                           value))
            return False, None
        self.results.append(StepResult(self.mapping.name, name, True,
                                       getattr(value, 'note', '')))
        return True, value


class _Done:
    def __init__(self, note='', value=None):
        self.note = note
        self.value = value


def probe_container(mapping, container=None):
    """The container whose remote bucket and layout a check uses."""
    if container:
        return container
    return (WILDCARD_PROBE_CONTAINER if mapping.is_wildcard
            else mapping.container)


def check_mapping(mapping, provider=None, container=None, read_only=False):
    """Prove ``mapping``'s credentials and target, a step at a time.

    :param provider: the provider to use (default: the mapping's remote's).
    :param container: for a mapping of every container, the container
        whose bucket and key prefix to check.
    :returns: a list of :class:`StepResult`; the check passed when none
        has ``ok`` False.
    """
    provider = provider or mapping.remote.provider(max_connections=2)
    container = probe_container(mapping, container)
    where = mapping.target(container)
    bucket, layout = where.bucket, where.layout
    checker = _Checker(mapping, provider, bucket, layout)
    prefix = layout.listing_prefix()

    def target():
        provider.check_target(bucket)
        return _Done()

    def listing():
        page = provider.list_objects(bucket, prefix=prefix, limit=10)
        first = next((e for e in page.entries if not e.is_prefix and
                      not layout.is_internal_key(e.key)), None)
        return _Done('prefix %r listed' % prefix, first)

    ok, _ = checker.step('target', target)
    if not ok:
        return checker.results
    ok, listed = checker.step('list', listing)
    if not ok:
        return checker.results
    if read_only:
        _read_only(checker, listed.value)
    else:
        _read_write(checker)
    return checker.results


def _read_only(checker, first):
    provider, bucket = checker.provider, checker.bucket
    name = checker.mapping.name
    if first is None:
        note = ('nothing under %r to read; HEAD and GET are not proven'
                % checker.layout.listing_prefix())
        checker.results.append(StepResult(name, 'head', None, note))
        checker.results.append(StepResult(name, 'read', None, note))
        return
    key = first.key

    def head():
        provider.head_object(bucket, key)
        return _Done('key %s' % key)

    def read():
        with provider.get_object(bucket, key) as body:
            for _chunk in body:
                break
        return _Done('key %s' % key)

    ok, _ = checker.step('head', head)
    if ok:
        checker.step('read', read)


def _read_write(checker):
    provider, bucket = checker.provider, checker.bucket
    name = PROBE_PREFIX + uuid.uuid4().hex[:12]
    key = checker.layout.object_key(name)
    md5 = hashlib.md5(PROBE_BODY, usedforsecurity=False).hexdigest()

    def write():
        provider.put_object(bucket, key, PROBE_BODY, len(PROBE_BODY),
                            content_type='text/plain',
                            metadata={PROBE_META_KEY: 'written'}, md5=md5)
        return _Done('key %s' % key)

    def read():
        data = provider.get_object(bucket, key).read_all()
        if data != PROBE_BODY:
            return ('%s: read back %d bytes that differ from the %d '
                    'written' % (checker.where(key), len(data),
                                 len(PROBE_BODY)))
        return _Done()

    def metadata():
        provider.update_metadata(bucket, key, content_type='text/plain',
                                 metadata={PROBE_META_KEY: 'updated'})
        info = provider.head_object(bucket, key)
        have = info.metadata.get(PROBE_META_KEY)
        if have != 'updated':
            return ('%s: the metadata did not change: %s is %r, not '
                    '\'updated\'' % (checker.where(key), PROBE_META_KEY,
                                     have))
        return _Done()

    def delete():
        provider.delete_object(bucket, key)
        try:
            provider.head_object(bucket, key)
        except exceptions.NotFound:
            return _Done()
        return '%s: still there after the delete' % checker.where(key)

    ok, _ = checker.step('write', write)
    if not ok:
        return
    for step_name, func in (('read', read), ('metadata', metadata)):
        ok, _ = checker.step(step_name, func)
        if not ok:
            break
    checker.step('delete', delete)


# -- comparing -------------------------------------------------------------

@dataclasses.dataclass
class Difference:
    name: str
    kind: str
    reason: str = ''


@dataclasses.dataclass
class Comparison:
    """What :func:`compare_container` found in one container."""

    mapping: str
    account: str
    container: str
    bucket: str
    prefix: str
    archive: bool = False
    local: int = 0
    remote: int = 0
    in_sync: int = 0
    missing: int = 0
    differing: int = 0
    only_remote: int = 0
    unchecked: int = 0
    excluded: int = 0
    unreadable: int = 0
    #: every object that is not in sync, when asked for
    details: list = dataclasses.field(default_factory=list)

    @property
    def clean(self):
        return not (self.missing or self.differing or self.unreadable)

    def summary(self):
        text = ('mapping %s: %s/%s <-> %s %s: %d local, %d remote; %d in '
                'sync, %d missing remotely, %d differing, %d only remotely'
                % (self.mapping, self.account, self.container, self.bucket,
                   self.prefix or '(no prefix)', self.local, self.remote,
                   self.in_sync, self.missing, self.differing,
                   self.only_remote))
        if self.archive and self.only_remote:
            text += ' (archived)'
        if self.unchecked:
            text += ', %d not comparable (DLO)' % self.unchecked
        if self.excluded:
            text += ', %d kept out by the mapping' % self.excluded
        if self.unreadable:
            text += ', %d could not be read locally' % self.unreadable
        return text

    def to_dict(self):
        data = dataclasses.asdict(self)
        data['details'] = [dataclasses.asdict(d) for d in self.details]
        return data


@dataclasses.dataclass
class _Local:
    name: str
    size: int
    etag: str
    slo_etag: typing.Optional[str]
    content_type: str
    #: the listed version's time, when the listing gives it
    timestamp: typing.Optional[swift_utils.Timestamp] = None
    #: the listing's ETag is still encrypted (no decryption on the path)
    encrypted: bool = False


def _parse_listing_item(item):
    etag, _, params = (item.get('hash') or '').partition(';')
    slo_etag = item.get('slo_etag')
    for param in params.split(';'):
        key, _, value = param.strip().partition('=')
        if key == 'slo_etag':
            slo_etag = value
    content_type = item.get('content_type') or ''
    size = item.get('bytes') or 0
    version = symlinks.listed_version(item.get('hash'))
    if version is not None:
        # NOTE(cloudsync): object versioning's link to the current
        # version, which is what the remote copy holds.
        etag, size = version
    if 'swift_bytes=' in content_type:
        base, _, swift_bytes = content_type.partition(';swift_bytes=')
        content_type = base
        size = int(swift_bytes.split(';')[0])
    try:
        timestamp = swift_utils.Timestamp.from_isoformat(
            item['last_modified'])
    except (KeyError, TypeError, ValueError):
        timestamp = None
    return _Local(item['name'], int(size), lo.normalize_etag(etag.strip()),
                  lo.normalize_etag(slo_etag) if slo_etag else None,
                  content_type, timestamp,
                  local.is_encrypted_etag(item.get('hash')))


def iter_local(internal_client, account, container):
    """The container's listing through the internal client, in order.

    :raises exceptions.NotFound: the container does not exist.
    """
    headers = {local.SHUNT_BYPASS_HEADER: 'true'}
    marker = ''
    while True:
        path = '%s?format=json&marker=%s' % (
            internal_client.make_path(account, container),
            urllib.parse.quote(marker.encode('utf-8')))
        resp = internal_client.make_request('GET', path, headers, (2, 404))
        if resp.status_int == 404:
            raise exceptions.NotFound('container %s/%s does not exist'
                                      % (account, container), status=404)
        page = json.loads(resp.body)
        if not page:
            return
        for item in page:
            if 'name' in item:
                yield _parse_listing_item(item)
        marker = page[-1].get('name') or page[-1].get('subdir')


def head_local(internal_client, account, container, name, since=None):
    """The local object's headers, or None when it is gone.

    It is gone when Swift's 404 carries a tombstone (its
    ``X-Backend-Timestamp``) at or after ``since``, the listed version's
    time (any tombstone when it is not known).

    :raises LocalUnreadable: a 404 without such a tombstone: the proxy
        answers 404 too when the replicas that hold the object cannot be
        reached (a node down), so it may well be there.
    """
    path = internal_client.make_path(account, container, name)
    resp = internal_client.make_request(
        'HEAD', path, {local.SHUNT_BYPASS_HEADER: 'true'}, (2, 404))
    if resp.status_int == 404:
        tombstone = _timestamp(swob.wsgi_to_str(
            resp.headers.get('X-Backend-Timestamp') or ''))
        if tombstone is not None and (since is None or tombstone >= since):
            return None
        raise LocalUnreadable(
            'could not be read locally: Swift answered 404 without a delete '
            'at or after the listed version (%s); a replica that holds it '
            'may be unreachable' % (since.isoformat if since else 'unknown'))
    found = local.encrypted_headers(resp.headers)
    if found:
        raise LocalUnreadable(str(local.EncryptedObject(
            'HEAD %s/%s/%s' % (account, container, name), found)))
    return {k.lower(): swob.wsgi_to_str(v) for k, v in resp.headers.items()}


def _merge(local_items, remote_items):
    """Pairs (local, remote) in name order; either may be None."""
    left = next(local_items, None)
    right = next(remote_items, None)
    while left is not None or right is not None:
        if right is None or (left is not None and left.name < right[0]):
            yield left, None
            left = next(local_items, None)
        elif left is None or right[0] < left.name:
            yield None, right[1]
            right = next(remote_items, None)
        else:
            yield left, right[1]
            left = next(local_items, None)
            right = next(remote_items, None)


class _Comparer:
    def __init__(self, mapping, container, provider, internal_client,
                 deep, keep_details):
        self.mapping = mapping
        self.account = mapping.account
        self.container = container
        self.provider = provider
        self.ic = internal_client
        self.deep = deep
        self.keep_details = keep_details
        where = mapping.target(container)
        self.bucket, self.layout = where.bucket, where.layout
        self.result = Comparison(
            mapping.name, self.account, container, self.bucket,
            self.layout.listing_prefix(),
            archive=mapping.removes_local_data)

    def note(self, kind, name, reason=''):
        setattr(self.result, kind, getattr(self.result, kind) + 1)
        if self.keep_details and kind not in ('in_sync', 'excluded'):
            self.result.details.append(Difference(name, kind, reason))

    def remote_items(self):
        prefix = self.layout.listing_prefix()
        for entry in self.provider.list_all(self.bucket, prefix=prefix):
            if entry.is_prefix or self.layout.is_internal_key(entry.key):
                continue
            yield self.layout.object_name(entry.key), entry

    def head_remote(self, name):
        try:
            return self.provider.head_object(
                self.bucket, self.layout.object_key(name))
        except exceptions.TargetNotFound:
            raise
        except exceptions.NotFound:
            return None

    def kept_out(self, item):
        if self.mapping.excludes(item.name):
            return True
        if self.mapping.selection_criteria:
            headers = head_local(self.ic, self.account, self.container,
                                 item.name, item.timestamp)
            return headers is not None and not self.mapping.selects(headers)
        return False

    def content_differs(self, item, entry):
        """Why the bytes differ, '' when they are the same, or None when
        they cannot be compared (a DLO).
        """
        plain = (item.slo_etag is None and
                 current.listed_copy_matches(entry, item.size, item.etag))
        if plain:
            return ''
        info = entry if hasattr(entry, 'metadata') else \
            self.head_remote(item.name)
        if info is None:
            return 'gone from the remote during the comparison'
        if md.DLO_KEY in info.metadata:
            return None
        if info.size != item.size:
            return 'size %d locally, %d remotely' % (item.size, info.size)
        if item.slo_etag is not None:
            have = current.kept_etag(info, md.SLO_ETAG_KEY)
            if have is None:
                return 'a static large object locally, not remotely'
            if have != item.slo_etag:
                return 'SLO ETag %s locally, %s remotely' % (
                    item.slo_etag, have)
            return ''
        if current.kept_etag_matches(info, md.ETAG_KEY, item.etag):
            return ''
        return 'ETag %s locally, %s remotely' % (
            item.etag, current.kept_etag(info, md.ETAG_KEY) or
            lo.normalize_etag(info.etag))

    def metadata_differs(self, item, info):
        headers = head_local(self.ic, self.account, self.container,
                             item.name, item.timestamp)
        if headers is None:
            return ''
        content_type = lo.strip_swift_bytes(
            headers.get('content-type') or item.content_type)
        if info.content_type != content_type:
            return 'content type %r locally, %r remotely' % (
                content_type, info.content_type)
        if not md.same_metadata(headers, info.metadata):
            return 'user metadata differs'
        local_ts = _timestamp(headers.get('x-backend-timestamp') or
                              headers.get('x-timestamp'))
        remote_ts = _timestamp(md.internal_values(info.metadata).get(
            md.TIMESTAMP_KEY))
        if local_ts and remote_ts and remote_ts < local_ts:
            return ('the remote copy was made from an older version (%s) '
                    'than the local object (%s)'
                    % (remote_ts.isoformat, local_ts.isoformat))
        return ''

    def pair(self, item, entry):
        if item is None:
            self.result.remote += 1
            self.note('only_remote', self.layout.object_name(entry.key))
            return
        self.result.local += 1
        if item.encrypted:
            if entry is not None:
                self.result.remote += 1
            self.note('unreadable', item.name, str(local.EncryptedObject(
                'listing %s/%s' % (self.account, self.container))))
            return
        if entry is None:
            try:
                kept_out = self.kept_out(item)
            except LocalUnreadable as exc:
                self.note('unreadable', item.name, str(exc))
                return
            if kept_out:
                self.note('excluded', item.name)
            else:
                self.note('missing', item.name)
            return
        self.result.remote += 1
        if self.deep:
            entry = self.head_remote(item.name) or entry
        why = self.content_differs(item, entry)
        if why is None:
            self.note('unchecked', item.name, 'dynamic large object')
            return
        if not why and self.deep:
            try:
                why = self.metadata_differs(item, entry)
            except LocalUnreadable as exc:
                self.note('unreadable', item.name, str(exc))
                return
        if why:
            self.note('differing', item.name, why)
        else:
            self.note('in_sync', item.name)

    def run(self):
        local_items = iter_local(self.ic, self.account, self.container)
        for item, entry in _merge(local_items, self.remote_items()):
            self.pair(item, entry)
        return self.result


def compare_container(mapping, container, provider, internal_client,
                      deep=False, details=False):
    """Compare one container of ``mapping`` with its remote copy.

    :returns: a :class:`Comparison`. Nothing is changed on either side.
    :raises exceptions.RemoteError: the remote could not be listed.
    :raises exceptions.NotFound: the local container does not exist.
    """
    return _Comparer(mapping, container, provider, internal_client, deep,
                     details).run()


def mapped_containers(config, mapping, internal_client):
    """The containers of a mapping of every container, from the account
    listing (those another mapping covers exactly are left out).
    """
    if not mapping.is_wildcard:
        return [mapping.container]
    names, marker = [], ''
    headers = {local.SHUNT_BYPASS_HEADER: 'true'}
    while True:
        path = '%s?format=json&marker=%s' % (
            internal_client.make_path(mapping.account),
            urllib.parse.quote(marker.encode('utf-8')))
        resp = internal_client.make_request('GET', path, headers, (2, 404))
        if resp.status_int != 200:
            return names
        page = json.loads(resp.body)
        if not page:
            return names
        for item in page:
            name = item['name']
            if not name.startswith('\x00') and config.mapping_for(
                    mapping.account, name) is mapping:
                names.append(name)
        marker = page[-1]['name']
