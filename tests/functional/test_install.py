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
"""A wheel of the working tree installs as doc/source/install.rst says.

The test builds a wheel of the files of this checkout, creates a fresh
virtualenv with ``--system-site-packages`` over an environment that
already has Swift, installs the wheel there the two ways the guide gives
for a Swift from distribution packages (``pip install --no-deps``, and
``pip install`` held by a constraints file of what is installed), and
checks that nothing but cloudsync went into the virtualenv, that Swift is
the one below it, and that the commands and the paste entry points load.

The test cannot install a Swift into this machine's system Python; it
stands in for it with a directory that holds the test environment's own
packages (Swift and every dependency, without cloudsync) and that a
``.pth`` file of the virtualenv puts on ``sys.path``: for Python and pip
the same as a system site-packages directory (importable, installed,
never replaced).

The module is also the release-file check of ``tox -e build``::

    python tests/functional/test_install.py check dist

checks that the wheel and the source tarball in ``dist`` are
``swift-cloudsync``, hold both packages, the entry points of
``setup.cfg`` and the sample files.
"""

import configparser
import email.parser
import importlib.metadata
import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAME = 'swift-cloudsync'
FILE_NAME = 'swift_cloudsync'
PACKAGES = ('cloudsync', 'cloudsync_providers')
SAMPLES = ('cloudsync.conf.sample', 'cloudsync-config-generator.conf',
           'proxymc.conf-sample', 'proxy-server.conf-sample-shunt',
           'cloudsync-sync@.service', 'cloudsync-proxymc.service',
           'logrotate.d-cloudsync')


# -- the release files --------------------------------------------------------

def setup_cfg_entry_points():
    """``{group: {name: value}}`` of setup.cfg's ``[entry_points]``."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / 'setup.cfg')
    points = {}
    for group, text in parser.items('entry_points'):
        points[group] = dict(
            (part.strip() for part in line.split('=', 1))
            for line in text.strip().splitlines() if line.strip())
    return points


def _metadata_name(text):
    return email.parser.Parser().parsestr(text)['Name']


def check_wheel(path):
    """The problems of the wheel at ``path`` (none: an empty list)."""
    problems = []
    with zipfile.ZipFile(path) as whl:
        names = set(whl.namelist())
        info = [n for n in names if n.endswith('.dist-info/METADATA')]
        if len(info) != 1:
            return ['%s: %d METADATA files' % (path, len(info))]
        dist_info = info[0].rsplit('/', 1)[0]
        name = _metadata_name(whl.read(info[0]).decode('utf-8'))
        if name != NAME:
            problems.append('%s: distribution %r, not %r'
                            % (path, name, NAME))
        points = configparser.ConfigParser(delimiters=('=',))
        points.optionxform = str
        try:
            points.read_string(whl.read(
                dist_info + '/entry_points.txt').decode('utf-8'))
        except KeyError:
            problems.append('%s: no entry_points.txt' % path)
        for group, entries in setup_cfg_entry_points().items():
            for entry, value in entries.items():
                if not points.has_option(group, entry):
                    problems.append('%s: entry point %s %s missing'
                                    % (path, group, entry))
                elif points.get(group, entry).strip() != value:
                    problems.append('%s: entry point %s %s is %r'
                                    % (path, group, entry,
                                       points.get(group, entry)))
    for package in PACKAGES:
        if package + '/__init__.py' not in names:
            problems.append('%s: package %s missing' % (path, package))
    for sample in SAMPLES:
        if not any(n.endswith('.data/data/share/cloudsync/etc/' + sample)
                   for n in names):
            problems.append('%s: share/cloudsync/etc/%s missing'
                            % (path, sample))
    return problems


def check_sdist(path):
    """The problems of the source tarball at ``path``."""
    problems = []
    with tarfile.open(path) as tar:
        names = tar.getnames()
        top = names[0].split('/', 1)[0]
        if not top.startswith(FILE_NAME + '-'):
            problems.append('%s: top directory %r' % (path, top))
        try:
            pkg_info = tar.extractfile(top + '/PKG-INFO').read()
        except KeyError:
            return problems + ['%s: no PKG-INFO' % path]
        name = _metadata_name(pkg_info.decode('utf-8'))
        if name != NAME:
            problems.append('%s: distribution %r, not %r'
                            % (path, name, NAME))
        wanted = ['setup.cfg', 'setup.py', 'pyproject.toml',
                  'requirements.txt', 'etc/proxy-server.conf-sample-shunt',
                  'etc/cloudsync/cloudsync.conf.sample']
        wanted += [p + '/__init__.py' for p in PACKAGES]
        for member in wanted:
            if '%s/%s' % (top, member) not in names:
                problems.append('%s: %s missing' % (path, member))
    return problems


def check_dist_dir(dist_dir):
    dist_dir = pathlib.Path(dist_dir)
    wheels = sorted(dist_dir.glob('*.whl'))
    sdists = sorted(dist_dir.glob('*.tar.gz'))
    problems = []
    if len(wheels) != 1 or len(sdists) != 1:
        problems.append('%s: %d wheels and %d source tarballs, not one each'
                        % (dist_dir, len(wheels), len(sdists)))
    for wheel in wheels:
        problems += check_wheel(wheel)
    for sdist in sdists:
        problems += check_sdist(sdist)
    return [str(p) for p in wheels + sdists], problems


# -- installing it ------------------------------------------------------------

def _source_files():
    out = subprocess.run(
        ['git', 'ls-files', '-z', '--cached', '--others',
         '--exclude-standard'], cwd=ROOT, check=True,
        capture_output=True).stdout.decode('utf-8')
    return [f for f in out.split('\0') if f and (ROOT / f).is_file()]


def build_wheel(out_dir, work_dir):
    """A wheel of this checkout's files (committed or not), in ``out_dir``.

    Built from a copy, so that the checkout is left alone; without the git
    history there, pbr takes the version of the installed distribution.
    """
    src = work_dir / 'src'
    for name in _source_files():
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    env = dict(os.environ, PBR_VERSION=importlib.metadata.version(NAME))
    subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--quiet', '--no-deps',
         '--wheel-dir', str(out_dir), str(src)],
        check=True, env=env, cwd=work_dir)
    wheels = list(out_dir.glob('*.whl'))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _stand_in_system(path):
    """A directory with this environment's packages, without cloudsync."""
    path.mkdir()
    site_dirs = {sysconfig.get_paths()['purelib'],
                 sysconfig.get_paths()['platlib']}
    for site_dir in site_dirs:
        for entry in pathlib.Path(site_dir).iterdir():
            lower = entry.name.lower()
            if (lower.startswith(('cloudsync', 'swift_cloudsync',
                                  'swift-cloudsync', '__editable__', 'pip',
                                  '_virtualenv', '__pycache__'))
                    or lower.endswith('.pth')
                    or (path / entry.name).exists()):
                continue
            (path / entry.name).symlink_to(entry)
    return path


def _distributions(site):
    return {p.name for p in site.iterdir() if p.name.endswith('.dist-info')}


def make_venv(path, system):
    subprocess.run([sys.executable, '-m', 'venv', '--system-site-packages',
                    str(path)], check=True)
    python = path / 'bin' / 'python'
    site = subprocess.run(
        [str(python), '-c',
         'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        check=True, capture_output=True, text=True).stdout.strip()
    pathlib.Path(site, 'zz_stand_in_system.pth').write_text(
        '%s\n' % system)
    site = pathlib.Path(site)
    return python, site, _distributions(site)


def pip(python, *args):
    return subprocess.run(
        [str(python), '-m', 'pip', '--disable-pip-version-check',
         '--no-input'] + list(args), check=True, capture_output=True,
        text=True)


CHECK = textwrap.dedent('''\
    import json, sys
    import cloudsync, cloudsync_providers, swift
    from paste.deploy import loadwsgi
    shunt = loadwsgi.loadcontext(
        loadwsgi.FILTER, 'egg:swift-cloudsync#cloud_shunt').object
    app = loadwsgi.loadcontext(
        loadwsgi.APP, 'egg:swift-cloudsync#proxymc').object
    slo = loadwsgi.loadcontext(
        loadwsgi.FILTER, 'egg:swift-cloudsync#proxymc_slo').object
    print(json.dumps({
        'cloudsync': cloudsync.__file__,
        'cloudsync_providers': cloudsync_providers.__file__,
        'swift': swift.__file__,
        'version': cloudsync.__version__,
        'shunt': shunt.__module__ + ':' + shunt.__name__,
        'proxymc': app.__module__ + ':' + app.__name__,
        'proxymc_slo': slo.__module__ + ':' + slo.__name__,
    }))
''')


def check_installed(python, site, system, before):
    import cloudsync  # not needed, nor installed, to check release files
    # Run outside the checkout, whose packages would come first.
    out = subprocess.run([str(python), '-c', CHECK], check=True,
                         capture_output=True, text=True,
                         cwd=system.parent).stdout
    found = json.loads(out)
    assert found['cloudsync'].startswith(str(site)), found
    assert found['cloudsync_providers'].startswith(str(site)), found
    assert found['swift'].startswith(str(system)), found
    assert found['shunt'] == 'cloudsync.shunt.middleware:filter_factory'
    assert found['proxymc'] == 'cloudsync.proxymc.app:app_factory'
    assert found['proxymc_slo'] == (
        'cloudsync.proxymc.app:slo_filter_factory')
    assert found['version'] == cloudsync.__version__
    # Nothing but cloudsync went into the virtualenv.
    added = _distributions(site) - before
    assert [n.split('-')[0] for n in added] == [FILE_NAME], added
    assert not (site / 'swift').exists()
    bin_dir = python.parent
    for command in ('cloudsync-sync', 'cloudsync-proxymc',
                    'cloudsync-status', 'cloudsync-verify',
                    'cloudsync-config-convert', 'cloudsync-restore',
                    'cloudsync-migrate', 'cloudsync-failback'):
        result = subprocess.run([str(bin_dir / command), '--help'],
                                capture_output=True, text=True,
                                cwd=system.parent)
        assert result.returncode == 0, (command, result.stderr)
        assert 'usage' in result.stdout.lower(), (command, result.stdout)


def test_the_wheel_installs_over_an_existing_swift(tmp_path):
    wheel = build_wheel(tmp_path / 'dist', tmp_path)
    assert wheel.name.startswith(FILE_NAME + '-')
    assert check_wheel(wheel) == []
    system = _stand_in_system(tmp_path / 'system')

    # pip install --no-deps: only cloudsync, whatever is installed below.
    python, site, before = make_venv(tmp_path / 'no-deps', system)
    pip(python, 'install', '--no-deps', '--no-index', str(wheel))
    check_installed(python, site, system, before)

    # pip install held by a constraints file of everything installed: pip
    # finds every dependency installed below and adds nothing.
    python, site, before = make_venv(tmp_path / 'constrained', system)
    frozen = pip(python, 'freeze', '--exclude-editable').stdout
    assert 'swift==' in frozen.lower()
    constraints = tmp_path / 'installed.txt'
    constraints.write_text(frozen)
    pip(python, 'install', '--no-index', '-c', str(constraints), str(wheel))
    check_installed(python, site, system, before)


def main(argv):
    if len(argv) != 2 or argv[0] != 'check':
        sys.stderr.write('usage: %s check DIST_DIR\n' % sys.argv[0])
        return 2
    files, problems = check_dist_dir(argv[1])
    for problem in problems:
        print('FAIL %s' % problem)
    if not problems:
        print('OK %s: %s, both packages, every entry point of setup.cfg, '
              'the sample files' % (', '.join(files), NAME))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
