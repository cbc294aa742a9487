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
"""No two mappings may reach the same remote key.

Two mappings that could write the same key of one bucket (or remote
container) would overwrite each other's copies, serve each other's bytes
through the shunt, and delete or archive each other's only copy. The
loader refuses such a configuration; :func:`conflicts` finds them.

What a mapping may write is described as *addresses*: the store (the
provider's endpoint, and for Swift remotes the remote account), then a
list of ``/``-separated *segments*: the bucket (or remote container)
name, then the segments of a key prefix under which everything the
mapping writes lies (its objects, its SLO manifests under ``.manifests/``,
its DLO segments under ``.dlo/``, and on Swift remotes its segments
container). A segment is a literal, the hash of the ``hashed`` layout
(1 to 6 hexadecimal digits) when the container is not known, or a
pattern ``<before>{container}<after>`` for a mapping of every container.
Two addresses overlap when they are in the same store and every segment
the shorter one has can be the same string as the other's: everything
under a prefix is the mapping's, so a shorter prefix covers the longer.

Two remote sections are one store when they have the same provider
family, endpoint and, on remotes that keep Swift containers, account;
credentials do not matter (two users of one bucket write the same keys).
"""

import re
import urllib.parse

from cloudsync import layout as layout_mod

#: stands for the container's name while a template is split in segments
_MARK = '\x00'
_HEX = re.compile(r'[0-9a-f]{1,6}\Z')
#: the providers that talk S3 to the same kind of store
_S3_FAMILY = {'s3': 's3', 's3-clone': 's3', 'gcs': 's3'}


class _Hex:
    """The ``hashed`` layout's hash, for a container not known yet."""

    def __repr__(self):
        return '<hash>'


class _Pattern:
    """``before`` + a container name (no ``/``, not empty) + ``after``."""

    def __init__(self, before, after):
        self.before = before
        self.after = after

    def __repr__(self):
        return '%s{container}%s' % (self.before, self.after)

    def name_in(self, literal):
        """The container name that makes this pattern ``literal``, or
        None.
        """
        if len(literal) <= len(self.before) + len(self.after) or \
                not literal.startswith(self.before) or \
                not literal.endswith(self.after):
            return None
        return literal[len(self.before):len(literal) - len(self.after)]


HEX = _Hex()


def _pattern(text):
    """A segment of ``text`` where ``_MARK`` stands for the container."""
    if _MARK not in text:
        return text
    before, _, rest = text.partition(_MARK)
    after = rest.rpartition(_MARK)[2]
    return _Pattern(before, after)


def _segments(text):
    return [_pattern(part) for part in text.split('/')]


def store_of(remote):
    """What identifies the store a remote section writes to."""
    endpoint = remote.endpoint
    if endpoint:
        parsed = urllib.parse.urlparse(endpoint)
        port = parsed.port or (443 if parsed.scheme == 'https' else 80)
        where = '%s:%s%s' % ((parsed.hostname or '').lower(), port,
                             parsed.path.rstrip('/'))
    else:
        where = ''
    family = _S3_FAMILY.get(remote.provider_name, remote.provider_name)
    if not remote.provider_cls.BUCKET_PER_CONTAINER:
        return (family, where)
    conf = remote.conf

    def get(name):
        try:
            return getattr(conf, name, None)
        except Exception:  # noqa: BLE001 - an option this provider lacks
            return None
    account = get('remote_account') or get('project_name') or \
        get('tenant_name') or (get('access_key') or '').split(':')[0]
    return (family, where, account)


def _segments_suffix(remote):
    try:
        suffix = getattr(remote.conf, 'segments_suffix', None)
    except Exception:  # noqa: BLE001 - an option this provider lacks
        suffix = None
    return suffix if isinstance(suffix, str) else None


def addresses(mapping, container=None):
    """``[(what, segments)]``: the prefixes under which ``mapping``
    writes, for local ``container``, or for any of its containers when
    None (only a mapping of every container is not concrete then).
    """
    if container is None and not mapping.is_wildcard:
        container = mapping.container
    name = _MARK if container is None else container
    per_container = mapping.remote.provider_cls.BUCKET_PER_CONTAINER
    bucket = mapping.bucket + name if (
        per_container and mapping.is_wildcard) else mapping.bucket
    if mapping.layout == 'hashed':
        hashed = HEX if container is None else layout_mod.hashed_prefix(
            mapping.account, container)
        tail = [_pattern(mapping.account), _pattern(name)]
        keys = [('objects', [hashed] + tail),
                ('SLO manifests', [hashed, layout_mod.MANIFEST_DIR] + tail),
                ('DLO segments', [hashed, layout_mod.DLO_DIR] + tail)]
    elif mapping.layout == 'prefix':
        prefix = mapping.key_prefix.replace(_MARK, '').format(
            account=mapping.account, container=name).strip('/')
        keys = [('objects', _segments(prefix) if prefix else [])]
    else:
        keys = [('objects', [])]
    result = [('%s in bucket %s' % (what, _show(bucket)),
               [_pattern(bucket)] + segs) for what, segs in keys]
    suffix = _segments_suffix(mapping.remote) if per_container else None
    if suffix:
        seg_bucket = bucket + suffix
        result.extend(('segments in container %s' % _show(seg_bucket),
                       [_pattern(seg_bucket)] + segs) for _, segs in keys)
    return result


def _show(text):
    return text.replace(_MARK, '{container}')


def _compatible(one, other):
    """Whether two segments can be the same string."""
    if isinstance(one, str) and isinstance(other, str):
        return one == other
    if isinstance(one, str) or isinstance(other, str):
        lit, pat = (one, other) if isinstance(one, str) else (other, one)
        if pat is HEX:
            return bool(_HEX.match(lit))
        return '/' not in lit and pat.name_in(lit) is not None
    if one is HEX and other is HEX:
        return True
    if one is HEX or other is HEX:
        pat = other if one is HEX else one
        fixed = pat.before + pat.after
        return len(fixed) <= 5 and (not fixed or bool(_HEX.match(fixed)))
    shorter, longer = sorted((one.before, other.before), key=len)
    if not longer.startswith(shorter):
        return False
    shorter, longer = sorted((one.after, other.after), key=len)
    return longer.endswith(shorter)


def _overlap(one, other):
    return all(_compatible(a, b) for a, b in zip(one, other))


def _names_in(pattern_segs, literal_segs):
    """The container names that can make the pattern segments literal."""
    names = set()
    for seg, lit in zip(pattern_segs, literal_segs):
        if isinstance(seg, _Pattern) and isinstance(lit, str):
            name = seg.name_in(lit)
            if name is None or '/' in name:
                return set()
            names.add(name)
    return names


def _wildcard_meets(wild, exact, taken):
    """Where a mapping of every container (``wild``) can write what the
    concrete mapping ``exact`` writes: ``(container, what, what)`` or
    None. ``taken`` are the containers of ``wild``'s account that have
    mappings of their own (``wild`` never handles them).
    """
    for what_e, segs_e in addresses(exact):
        for index, (what_w, segs_w) in enumerate(addresses(wild)):
            if not _overlap(segs_w, segs_e):
                continue
            names = _names_in(segs_w, segs_e)
            if not names:
                return ('any container', what_w, what_e)
            for name in sorted(names):
                if name in taken:
                    continue
                what_c, segs_c = addresses(wild, name)[index]
                if _overlap(segs_c, segs_e):
                    return (name, what_c, what_e)
    return None


def conflicts(mappings):
    """``[(one, other, message)]`` for each pair of ``mappings`` that
    could write the same remote key.
    """
    taken = {}
    for mapping in mappings:
        if not mapping.is_wildcard:
            taken.setdefault(mapping.account, set()).add(mapping.container)
    found = []
    for i, one in enumerate(mappings):
        for other in mappings[i + 1:]:
            message = _conflict(one, other, taken)
            if message:
                found.append((one, other, message))
    return found


def _conflict(one, other, taken):
    if store_of(one.remote) != store_of(other.remote):
        return None
    store = 'remote %s' % one.remote.name
    if other.remote.name != one.remote.name:
        store = 'remotes %s and %s (the same store: same provider, ' \
            'endpoint and bucket)' % (one.remote.name, other.remote.name)
    met = None
    if one.is_wildcard != other.is_wildcard:
        wild, exact = (one, other) if one.is_wildcard else (other, one)
        found = _wildcard_meets(wild, exact,
                                taken.get(wild.account, set()))
        if found is not None:
            name, what_w, what_e = found
            where = {wild.name: '%s (container %s)' % (what_w, name),
                     exact.name: what_e}
            met = (where[one.name], where[other.name])
    else:
        met = next(((what_a, what_b)
                    for what_a, segs_a in addresses(one)
                    for what_b, segs_b in addresses(other)
                    if _overlap(segs_a, segs_b)), None)
    if met is None:
        return None
    return ('%s and %s can write the same keys of %s: %s and %s; give '
            'them different buckets, or key prefixes that keep them apart '
            '(with {account} and {container})' % (
                _label(one), _label(other), store, met[0], met[1]))


def _label(mapping):
    return '[%s] (%s/%s, layout %s%s)' % (
        mapping.section, mapping.account, mapping.container, mapping.layout,
        ', key_prefix %s' % mapping.key_prefix
        if mapping.layout == 'prefix' else '')
