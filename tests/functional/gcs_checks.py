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
"""What the conformance kit checks differently for GCS.

GCS keeps a large object as one object (see :mod:`cloudsync_providers.gcs`),
so its ETag is the MD5 of the whole, not S3's ``md5-of-md5s-N``: these
checks replace the kit's multipart ones, for the proxy and for real GCS.
"""

import hashlib
import io
import os

from cloudsync import conformance
from cloudsync import metadata as metadata_mod
from cloudsync import providers


def _md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _parts(datas):
    return [providers.Part(number=n, size=len(d), md5=_md5(d),
                           open=lambda d=d: io.BytesIO(d))
            for n, d in enumerate(datas, 1)]


class GCSSemantics:
    """Mix in before :class:`cloudsync.conformance.ProviderConformance`."""

    def test_multipart(self, provider, prefix):
        datas = [os.urandom(self.part_size) for _ in range(3)] + [b'end']
        whole = b''.join(datas)
        key = prefix + 'multipart \U0001F600'
        meta = metadata_mod.swift_to_remote(conformance.AWKWARD_METADATA)
        etag = provider.put_multipart(self.bucket, key, _parts(datas),
                                      content_type='video/x-test',
                                      metadata=meta)
        assert etag == _md5(whole)
        info = provider.head_object(self.bucket, key)
        assert (info.etag, info.size, info.content_type, info.metadata) == (
            etag, len(whole), 'video/x-test', meta)
        assert not info.is_multipart
        assert self.get(provider, key) == whole
        provider.update_metadata(self.bucket, key, content_type='text/x-new',
                                 metadata={'new': 'value'})
        info = provider.head_object(self.bucket, key)
        assert (info.etag, info.metadata, info.content_type) == (
            etag, {'new': 'value'}, 'text/x-new')

    def test_multipart_single_part(self, provider, prefix):
        key = prefix + 'one-part'
        etag = provider.put_multipart(self.bucket, key,
                                      _parts([b'only part']))
        assert etag == _md5(b'only part')
        assert self.get(provider, key) == b'only part'
