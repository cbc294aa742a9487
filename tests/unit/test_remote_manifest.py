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

import hashlib
import json

import pytest

from cloudsync import layout
from cloudsync import metadata as md
from cloudsync import providers
from cloudsync import remote_manifest as rm


def md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


SEGMENTS = [{'name': '/c_segments/big/0', 'hash': 'a' * 32, 'bytes': 3},
            {'name': '/c_segments/big/1', 'hash': 'b' * 32, 'bytes': 2}]
RAW = json.dumps(SEGMENTS).encode('ascii')


def info(raw=RAW, size=5, **meta):
    metadata = {md.SLO_KEY: 'True', rm.MANIFEST_ETAG_KEY: md5(raw)}
    metadata.update(meta)
    return providers.ObjectInfo(key='k', size=size, etag='e' * 32 + '-2',
                                last_modified=1.0, metadata=metadata)


def test_the_manifest_the_object_names_is_trusted():
    assert rm.trusted_entries(RAW, info(), 'c', 'big') == SEGMENTS


def test_a_manifest_written_over_the_real_one_is_not():
    forged = json.dumps([dict(SEGMENTS[0], name='/victim/x'),
                         SEGMENTS[1]]).encode('ascii')
    with pytest.raises(rm.UntrustedManifest) as err:
        rm.trusted_entries(forged, info(), 'c', 'big')
    assert 'not the one the object names' in str(err.value)


@pytest.mark.parametrize('entries, why', [
    ([dict(SEGMENTS[0], bytes=4), SEGMENTS[1]], 'names 6 bytes'),
    ([dict(SEGMENTS[0], name='/c/.manifests/x'), SEGMENTS[1]], 'reserved'),
    ([dict(SEGMENTS[0], name='/c/big'), SEGMENTS[1]], 'itself'),
    ([dict(SEGMENTS[0], name='/c\r\n/x'), SEGMENTS[1]], 'control'),
    ([dict(SEGMENTS[0], name='c/x'), SEGMENTS[1]], '/container/object'),
    ([dict(SEGMENTS[0], bytes='3'), SEGMENTS[1]], 'size'),
    ([dict(SEGMENTS[0], hash=None), SEGMENTS[1]], 'ETag'),
    ({'not': 'a list'}, 'not a list'),
    ([], 'not a list'),
])
def test_a_bound_manifest_must_still_make_sense(entries, why):
    raw = json.dumps(entries).encode('ascii')
    with pytest.raises(rm.UntrustedManifest) as err:
        rm.trusted_entries(raw, info(raw), 'c', 'big')
    assert why in str(err.value)


def test_an_object_that_names_no_manifest_has_none():
    with pytest.raises(rm.UntrustedManifest):
        rm.trusted_entries(RAW, providers.ObjectInfo(
            key='k', size=5, etag='e', last_modified=1.0,
            metadata={md.SLO_KEY: 'True'}), 'c', 'big')


def test_a_swift_s3_sync_manifest_is_checked_against_the_slo_etag():
    slo_etag = md5(('a' * 32 + 'b' * 32).encode('ascii'))
    legacy = providers.ObjectInfo(
        key='k', size=5, etag='e', last_modified=1.0,
        metadata={md.SLO_KEY: 'True', md.SLO_ETAG_KEY: '"%s"' % slo_etag})
    assert rm.trusted_entries(RAW, legacy, 'c', 'big') == SEGMENTS
    other = json.dumps([SEGMENTS[1], SEGMENTS[0]]).encode('ascii')
    with pytest.raises(rm.UntrustedManifest):
        rm.trusted_entries(other, legacy, 'c', 'big')


@pytest.mark.parametrize('name', ['.manifests/x', '.dlo/c/s', '.dlo/'])
def test_side_object_namespaces_are_reserved_in_every_layout(name):
    assert layout.is_reserved_name(name)
    for kind in layout.LAYOUTS:
        lay = layout.RemoteLayout('AUTH_a', 'c', kind, key_prefix='p')
        assert lay.name_problem(name)
        assert lay.is_internal_key(lay.object_key(name))


@pytest.mark.parametrize('name', ['.manifests', 'a/.manifests/x',
                                  '.dlox/y', 'manifests/x'])
def test_other_names_are_not(name):
    assert not layout.is_reserved_name(name)
    lay = layout.RemoteLayout('AUTH_a', 'c', 'native')
    assert not lay.is_internal_key(lay.object_key(name))


class _Lister:
    def __init__(self, entries):
        self.entries = entries

    def list_all(self, bucket, prefix='', delimiter=None, marker=None):
        return [e for e in self.entries if e.key.startswith(prefix)]


def test_proxymc_listings_leave_out_what_swift_could_not_list():
    from swift.common import swob

    from cloudsync.proxymc import listing as proxymc_listing

    lay = layout.RemoteLayout('AUTH_a', 'c', 'prefix', key_prefix='c')
    lister = proxymc_listing.ContainerLister(_Lister([
        providers.ListingEntry(key='c/.dlo/c/seg', etag='a' * 32),
        providers.ListingEntry(key='c/.manifests/x', etag='a' * 32),
        providers.ListingEntry(key='c/good', etag='a' * 32),
        providers.ListingEntry(key='c/nul\x00name', etag='a' * 32),
        providers.ListingEntry(key='c/odd-etag', etag='x"\r\ny'),
    ]), 'bucket', lay)
    params = proxymc_listing.ListingParams(swob.Request.blank('/'), 100)

    entries = lister.entries(params)

    assert [(e['name'], e['hash']) for e in entries] == [
        ('good', 'a' * 32), ('odd-etag', '')]


def test_a_swift_s3_sync_gcs_manifest_is_bound_by_its_md5():
    legacy = providers.ObjectInfo(
        key='k', size=5, etag='e' * 32, last_modified=1.0,
        metadata={md.SLO_KEY: 'True', md.SLO_ETAG_KEY: md5(RAW)})
    assert rm.trusted_entries(RAW, legacy, 'c', 'big') == SEGMENTS


def test_a_swift_s3_sync_s3_manifest_is_bound_by_the_multipart_etag():
    from cloudsync import large_objects

    legacy = providers.ObjectInfo(
        key='k', size=5, last_modified=1.0, metadata={md.SLO_KEY: 'True'},
        etag=large_objects.multipart_etag(['a' * 32, 'b' * 32]))
    assert rm.trusted_entries(RAW, legacy, 'c', 'big') == SEGMENTS
    swapped = json.dumps([SEGMENTS[1], SEGMENTS[0]]).encode('ascii')
    with pytest.raises(rm.UntrustedManifest):
        rm.trusted_entries(swapped, legacy, 'c', 'big')
