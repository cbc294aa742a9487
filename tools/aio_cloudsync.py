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
"""cloudsync configurations for the all-in-one.

One builder for the ``cloudsync.conf`` files of the functional tests and
the benchmarks: the ``[DEFAULT]`` block of the cluster (:func:`defaults`),
the remotes the cluster offers, by kind (:func:`remote`), mappings given as
dicts of options (:func:`sections`), all in one text (:func:`conf_text`,
:func:`write_conf`); and the one per-node configuration (:func:`node_options`,
:func:`write_node_conf`): a container node's devices, container server port
and status directory, given as a second ``--config-file`` to
``cloudsync-sync``.

Everything takes the cluster's state (``AllInOne.state``, or the state
file's contents), so that a process that only reads the state file can use
it too.

    >>> remotes = {'moto': 'moto', 'dr': remote(state, 'swift')}
    >>> write_conf(path, state, {
    ...     'archive': {'container': 'c', 'bucket': 'b',
    ...                 'lifecycle': 'archive', 'copy_after': 0},
    ...     'to-swift': {'container': 'd', 'remote': 'dr', 'bucket': 'e'},
    ... }, remotes, part_size=5242880)
"""

import os

#: What a mapping says when it does not say otherwise.
MAPPING_DEFAULTS = (('account', 'AUTH_test'), ('remote', 'moto'))


def remote(state, kind='moto', **options):
    """The options of one of the all-in-one's remotes, with ``options``:

    * ``moto``: the moto S3 server (``provider = s3``);
    * ``swift``: account ``test2`` of the cluster itself, through the Swift
      API (``provider = swift``, tempauth user ``test2:tester2``);
    * ``s3api``: account ``test2`` of the cluster, through Swift's s3api
      (``provider = s3``), which keeps its data across a restart, as moto
      does not;
    * ``clone``: account ``test`` through Swift's s3api as an S3 clone
      (``provider = s3-clone``, signature version 2).
    """
    if kind == 'moto':
        found = {'provider': 's3', 'endpoint': state['moto_endpoint'],
                 'access_key': state['moto_access_key'],
                 'secret_key': state['moto_secret_key']}
    elif kind == 'swift':
        found = {'provider': 'swift', 'endpoint': state['auth_url'],
                 'access_key': 'test2:tester2', 'secret_key': 'testing2'}
    elif kind == 's3api':
        found = {'provider': 's3', 'endpoint': state['s3api_endpoint'],
                 'access_key': 'test2:tester2', 'secret_key': 'testing2'}
    elif kind == 'clone':
        found = {'provider': 's3-clone', 'endpoint': state['s3api_endpoint'],
                 'access_key': 'test:tester', 'secret_key': 'testing',
                 'signature_version': 's3'}
    else:
        raise ValueError('the all-in-one offers no remote %r' % kind)
    found.update(options)
    return found


def defaults(state, **options):
    """The ``[DEFAULT]`` options of a cloudsync on the all-in-one, with
    ``options`` (one whose value is None is left out).
    """
    found = {
        'swift_dir': state['swift_dir'],
        'internal_client_conf_path': state['internal_client_conf'],
        'mount_check': 'false',
        'bind_ip': '127.0.0.1',
        'poll_interval': 0,
    }
    found.update(options)
    return found


def node_options(node, work_dir):
    """What a container node's daemon needs of its own: its devices, its
    container server's address and its own status directory (in
    ``work_dir``).
    """
    return {'devices': node['devices'], 'bind_ip': node['ip'],
            'bind_port': node['container_port'],
            'status_dir': os.path.join(str(work_dir),
                                       'status%d' % node['index'])}


def section(name, options):
    """One section; an option whose value is None is left out."""
    lines = ['[%s]' % name]
    lines += ['%s = %s' % (key, value) for key, value in options.items()
              if value is not None]
    return '\n'.join(lines) + '\n'


def sections(state, mappings=None, remotes=None):
    """The ``[remote:...]`` and ``[mapping:...]`` sections.

    :param mappings: ``{name: options}``; a mapping's ``account`` is
        ``AUTH_test`` and its ``remote`` ``moto`` unless it says otherwise.
    :param remotes: ``{name: options or kind}``, a kind as :func:`remote`
        names it; default: the moto server as ``moto``.
    """
    if remotes is None:
        remotes = {'moto': 'moto'}
    parts = []
    for name, options in remotes.items():
        if isinstance(options, str):
            options = remote(state, options)
        parts.append(section('remote:%s' % name, options))
    for name, options in (mappings or {}).items():
        full = dict(MAPPING_DEFAULTS)
        full.update(options)
        parts.append(section('mapping:%s' % name, full))
    return '\n'.join(parts)


def conf_text(state, mappings=None, remotes=None, **options):
    """A whole ``cloudsync.conf``: :func:`defaults` with ``options``, then
    :func:`sections`.
    """
    return section('DEFAULT', defaults(state, **options)) + '\n' + \
        sections(state, mappings, remotes)


def write_conf(path, state, mappings=None, remotes=None, **options):
    """:func:`conf_text` written to ``path``; returns ``path``."""
    with open(path, 'w') as f:
        f.write(conf_text(state, mappings, remotes, **options))
    return path


def write_node_conf(node, work_dir, **options):
    """``node<N>.conf`` in ``work_dir``: the ``[DEFAULT]`` of
    :func:`node_options` with ``options``, for a second ``--config-file``;
    returns its path.
    """
    found = node_options(node, work_dir)
    found.update(options)
    path = os.path.join(str(work_dir), 'node%d.conf' % node['index'])
    with open(path, 'w') as f:
        f.write(section('DEFAULT', found))
    return path
