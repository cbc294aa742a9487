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
"""The distribution's name, and paste pipelines that load cloudsync by it.

The import packages are ``cloudsync`` and ``cloudsync_providers``; the
distribution is ``swift-cloudsync`` (``cloudsync`` on the package index is
an unrelated project). paste.deploy resolves ``egg:NAME#ENTRY`` by the
distribution's name, so every pipeline names ``swift-cloudsync``.
"""

import configparser
import importlib.metadata
import pathlib
import re
import subprocess
import sys
import textwrap

from paste import deploy
from paste.deploy import loadwsgi
import pytest

import cloudsync
from cloudsync.proxymc import app as proxymc
from cloudsync.shunt import middleware as shunt
from tests.unit import shunt_fakes

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAME = 'swift-cloudsync'

CONF = """
[remote:moto]
provider = s3
endpoint = http://127.0.0.1:1
access_key = a
secret_key = topsecret

[mapping:archive]
account = AUTH_test
container = c
remote = moto
bucket = b
lifecycle = archive
"""


def local_swift_factory(global_conf, root, **local_conf):
    """A paste app factory: the pipeline below the shunt."""
    return shunt_fakes.LocalSwift(pathlib.Path(root))


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / 'cloudsync.conf'
    path.write_text(CONF)
    return path


def test_setup_cfg_names_the_distribution():
    parser = configparser.ConfigParser()
    parser.read(ROOT / 'setup.cfg')
    assert parser.get('metadata', 'name') == NAME
    assert parser.get('files', 'packages').split() == [
        'cloudsync', 'cloudsync_providers']


def test_the_installed_distribution_is_this_one():
    dist = importlib.metadata.distribution(NAME)
    assert dist.metadata['Name'] == NAME
    assert cloudsync.__version__
    points = {(ep.group, ep.name): ep.value for ep in dist.entry_points}
    assert points[('paste.filter_factory', 'cloud_shunt')] == (
        'cloudsync.shunt.middleware:filter_factory')
    assert points[('paste.app_factory', 'proxymc')] == (
        'cloudsync.proxymc.app:app_factory')
    assert points[('paste.filter_factory', 'proxymc_slo')] == (
        'cloudsync.proxymc.app:slo_filter_factory')


@pytest.mark.parametrize('spec', [NAME, 'swift_cloudsync', 'Swift-CloudSync'])
def test_paste_finds_the_factories_by_the_distribution_name(spec):
    shunt_ctx = loadwsgi.loadcontext(
        loadwsgi.FILTER, 'egg:%s#cloud_shunt' % spec)
    app_ctx = loadwsgi.loadcontext(loadwsgi.APP, 'egg:%s#proxymc' % spec)
    slo_ctx = loadwsgi.loadcontext(
        loadwsgi.FILTER, 'egg:%s#proxymc_slo' % spec)

    assert shunt_ctx.object is shunt.filter_factory
    assert app_ctx.object is proxymc.app_factory
    assert slo_ctx.object is proxymc.slo_filter_factory


def test_the_old_name_does_not_load_the_shunt():
    # Not installed, or the unrelated project of that name: either way
    # paste does not find cloud_shunt there.
    with pytest.raises((LookupError, importlib.metadata.PackageNotFoundError)):
        loadwsgi.loadcontext(loadwsgi.FILTER, 'egg:cloudsync#cloud_shunt')


def _write(tmp_path, text, **values):
    path = tmp_path / 'pipeline.conf'
    path.write_text(textwrap.dedent(text) % values)
    return 'config:%s' % path


def test_a_pipeline_loads_the_shunt_by_egg_name(tmp_path, conf):
    uri = _write(tmp_path, '''\
        [pipeline:main]
        pipeline = cloud_shunt swift

        [filter:cloud_shunt]
        use = egg:%(name)s#cloud_shunt
        conf_file = %(conf)s

        [app:swift]
        paste.app_factory = tests.unit.test_distribution:local_swift_factory
        root = %(root)s
    ''', name=NAME, conf=conf, root=tmp_path)

    app = deploy.loadapp(uri)

    assert isinstance(app, shunt.CloudShuntMiddleware)
    assert isinstance(app.app, shunt_fakes.LocalSwift)
    assert app.config.get().mapping_for('AUTH_test', 'c').shunted


def test_a_pipeline_loads_the_shunt_by_factory_path(tmp_path, conf):
    # Independent of the distribution's name: what a proxy-server.conf can
    # use where the distribution's metadata is not to be relied on.
    uri = _write(tmp_path, '''\
        [pipeline:main]
        pipeline = cloud_shunt swift

        [filter:cloud_shunt]
        paste.filter_factory = cloudsync.shunt.middleware:filter_factory
        conf_file = %(conf)s

        [app:swift]
        paste.app_factory = tests.unit.test_distribution:local_swift_factory
        root = %(root)s
    ''', conf=conf, root=tmp_path)

    app = deploy.loadapp(uri)

    assert isinstance(app, shunt.CloudShuntMiddleware)


def test_a_pipeline_loads_proxymc_by_egg_name(tmp_path, conf):
    uri = _write(tmp_path, '''\
        [pipeline:main]
        pipeline = slo proxy-server

        [filter:slo]
        use = egg:%(name)s#proxymc_slo

        [app:proxy-server]
        use = egg:%(name)s#proxymc
        conf_file = %(conf)s
    ''', name=NAME, conf=conf)

    app = deploy.loadapp(uri)

    assert isinstance(app, proxymc.ProxyMC)
    assert [m.name for m in app.config.mappings] == ['archive']


def test_a_pipeline_loads_proxymc_by_factory_path(tmp_path, conf):
    uri = _write(tmp_path, '''\
        [app:proxy-server]
        paste.app_factory = cloudsync.proxymc.app:app_factory
        conf_file = %(conf)s
    ''', conf=conf)

    app = deploy.loadapp(uri, name='proxy-server')

    assert isinstance(app, proxymc.ProxyMC)


def test_the_sample_shunt_section_loads(tmp_path, conf):
    text = (ROOT / 'etc' / 'proxy-server.conf-sample-shunt').read_text()
    path = tmp_path / 'proxy-server.conf'
    path.write_text(text.replace('/etc/cloudsync/cloudsync.conf', str(conf)))

    factory = deploy.loadfilter('config:%s' % path, name='cloud_shunt')

    assert isinstance(factory(shunt_fakes.LocalSwift(tmp_path)),
                      shunt.CloudShuntMiddleware)


def _egg_names(text):
    # All capitals: a placeholder (``egg:NAME#ENTRY``), not a name.
    return {name for name in re.findall(r'egg:([A-Za-z0-9_.-]+)#', text)
            if not name.isupper()}


SHIPPED = ['etc', 'devstack', 'doc/source', 'tools', 'benchmarks', 'tests',
           'README.rst']


def test_every_shipped_egg_name_is_swift_or_this_distribution():
    found = {}
    for top in SHIPPED:
        base = ROOT / top
        paths = [base] if base.is_file() else [
            p for p in base.rglob('*') if p.is_file() and (
                p.suffix in ('', '.py', '.rst', '.sh', '.conf', '.txt')
                or 'sample' in p.name)]
        for path in paths:
            if path.resolve() == pathlib.Path(__file__).resolve():
                continue
            try:
                names = _egg_names(path.read_text())
            except (UnicodeDecodeError, IsADirectoryError):
                continue
            for name in names - {'swift', NAME}:
                found.setdefault(name, []).append(
                    str(path.relative_to(ROOT)))
    assert found == {}


def test_the_version_is_looked_up_only_when_asked_for():
    # NOTE: pbr's lookup costs every process tens of milliseconds of CPU
    # at start-up; the daemon never asks for the version.
    code = ('import sys, cloudsync.cmd.sync\n'
            'print("pbr" in sys.modules)\n'
            'import cloudsync\n'
            'print(cloudsync.__version__ == cloudsync.version_info.'
            'version_string())\n')
    out = subprocess.run([sys.executable, '-c', code], check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == ['False', 'True']
