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
"""The capabilities providers declare, and the core reading only those."""

import pathlib
import re

from oslo_config import cfg
import pytest

from cloudsync import conformance
from cloudsync import exceptions
from cloudsync import large_objects
from cloudsync import providers
from cloudsync_providers.gcs import GCSProvider
from cloudsync_providers.s3.provider import S3Provider
from cloudsync_providers.s3_clone import S3CloneProvider
from cloudsync_providers.swift.provider import SwiftProvider
from tests.unit import fakes

MiB = 1024 * 1024


class Minimal(providers.Provider):
    """A provider written before the declarations: the abstract methods
    and nothing else.
    """

    def check_target(self, bucket, create=False):
        pass

    def put_object(self, bucket, key, body, size, content_type=None,
                   metadata=None, md5=None, expires_at=None):
        return ''

    def put_multipart(self, bucket, key, parts, content_type=None,
                      metadata=None, expires_at=None):
        return ''

    def update_metadata(self, bucket, key, content_type=None,
                        metadata=None):
        return ''

    def delete_object(self, bucket, key):
        return True

    def head_object(self, bucket, key):
        raise exceptions.NotFound('missing')

    def get_object(self, bucket, key, range=None, if_match=None,
                   if_none_match=None, if_modified_since=None,
                   if_unmodified_since=None):
        raise exceptions.NotFound('missing')

    def list_objects(self, bucket, prefix='', delimiter=None, marker=None,
                     limit=1000):
        return providers.ListingPage(entries=[], truncated=False)


def test_a_provider_written_before_the_declarations_gets_the_defaults():
    provider = Minimal('old', fakes.FakeConf())
    assert not providers.takes_expiry(provider)
    assert provider.etag_is_md5 is True
    assert provider.creates_containers is True
    assert provider.DEFAULT_LAYOUT is None
    assert not (provider.KEEPS_DLO or provider.KEEPS_SYMLINKS or
                provider.BUCKET_PER_CONTAINER)
    provider.check_key('bucket', 'k' * 5000)
    for size in (0, 1, 100 * MiB, 10 ** 12):
        plan = provider.plan_parts(size)
        assert plan == large_objects.plan_parts(
            size, provider.MIN_PART_SIZE, provider.MAX_PART_SIZE,
            provider.MAX_PARTS)
        provider.check_parts('bucket', 'key', [
            providers.Part(number=n, size=length, open=None)
            for n, (_offset, length) in enumerate(plan, 1)])


def test_the_default_part_check_refuses_what_the_limits_refuse():
    provider = Minimal('old', fakes.FakeConf())

    def parts(*sizes, first=1):
        return [providers.Part(number=n, size=s, open=None)
                for n, s in enumerate(sizes, first)]
    for bad in ([], parts(1, 1), parts(6 * MiB, first=2),
                parts(6 * 1024 * MiB)):
        with pytest.raises(exceptions.InvalidObject):
            provider.check_parts('bucket', 'key', bad)


def test_creates_containers_follows_the_remote_option():
    conf = cfg.ConfigOpts()
    conf.register_opts([cfg.BoolOpt('create_containers', default=True)],
                       group='remote:r')
    conf([], project='test')
    group = conf['remote:r']
    assert Minimal('r', group).creates_containers is True
    conf.set_override('create_containers', False, group='remote:r')
    assert Minimal('r', group).creates_containers is False
    conf.register_opts([cfg.StrOpt('endpoint')], group='remote:other')
    assert Minimal('o', conf['remote:other']).creates_containers is True


@pytest.mark.parametrize('cls, declared', [
    (S3Provider, dict(UPDATE_METADATA_TAKES_EXPIRY=True, ETAG_IS_MD5=True,
                      DEFAULT_LAYOUT=None, KEEPS_DLO=False)),
    (GCSProvider, dict(UPDATE_METADATA_TAKES_EXPIRY=True, KEEPS_DLO=False)),
    (S3CloneProvider, dict(UPDATE_METADATA_TAKES_EXPIRY=True,
                           KEEPS_SYMLINKS=False)),
    (SwiftProvider, dict(UPDATE_METADATA_TAKES_EXPIRY=True,
                         DEFAULT_LAYOUT='native', KEEPS_DLO=True,
                         KEEPS_SYMLINKS=True, BUCKET_PER_CONTAINER=True)),
])
def test_the_shipped_providers_declare_what_they_do(cls, declared):
    for name, value in declared.items():
        assert getattr(cls, name) == value, name


def test_the_conformance_kit_refuses_a_capability_without_its_methods():
    class Liar(fakes.FakeProvider):
        KEEPS_DLO = True

    with pytest.raises(AssertionError, match='put_dlo'):
        conformance.ProviderConformance().test_declared_capabilities(
            Liar())
    conformance.ProviderConformance().test_declared_capabilities(
        fakes.FakeProvider())


def test_the_core_probes_no_provider():
    """The core reads declared capabilities, never getattr/hasattr or
    inspect on a provider (the conformance kit, which checks providers'
    declarations, excepted).
    """
    probing = re.compile(r'getattr\(self\.provider|getattr\(provider\b|'
                         r'hasattr\([^)]*provider|getattr\([^)]*provider_cls|'
                         r'\binspect\.')
    root = pathlib.Path(providers.__file__).parent
    found = ['%s:%d: %s' % (path.relative_to(root.parent), number,
                            line.strip())
             for path in sorted(root.rglob('*.py'))
             if path.name != 'conformance.py'
             for number, line in enumerate(
                 path.read_text().splitlines(), 1)
             if probing.search(line)]
    assert found == []
