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
"""``cloudsync-restore``: put archived objects back into Swift.

Run it anywhere the daemon runs (it reads the local cluster through
Swift's internal client, as the daemon does) with the daemon's
configuration file, naming objects as ``ACCOUNT/CONTAINER/OBJECT``::

    cloudsync-restore --config-file /etc/cloudsync/cloudsync.conf \\
        AUTH_test/photos/2019/beach.jpg AUTH_test/photos/2019/sea.jpg

Each object is read from its remote copy through the cloud shunt, as a
client's GET through a proxy with the shunt would be, and written back
into Swift as it is read by the shunt's own restore on read
(:mod:`cloudsync.shunt.restore`), whatever the mapping's
``restore_object`` says:

* over an archive stub, one timestamp offset step after the stub's
  current timestamp, with the stub's user metadata and content type (a
  POST on the stub included): Swift refuses the write when the object
  was overwritten or deleted since, so nothing newer is ever replaced;
* for an object archived by deleting it (``archive_as = delete``, or
  archived by swift-s3-sync), through Swift's 404, one offset step after
  the archive's tombstone, while ``serve_deleted_archives`` is on;
* a static large object segment by segment, then its manifest; a dynamic
  large object is never restored (see the shunt's page).

The restored object keeps its ``X-Timestamp`` and ``Last-Modified``. On
a mapping that still archives (``lifecycle = archive``), the daemon
archives it again on its next pass once it is ``copy_after`` old, as it
archived it the first time: restore after changing the mapping's
lifecycle (to ``sync``), or to read the object locally for a while.

``--pending`` restores nothing: it lists, for the containers named
(``ACCOUNT/CONTAINER``), the archived objects whose remote copy is in a
cold storage class and where their restore stands (``needed``,
``in-progress`` or ``done``), one HEAD per object and one remote HEAD per
such object::

    cloudsync-restore --config-file ... --pending AUTH_test/photos

One line per object: ``restored``, ``not archived`` (Swift has the
object itself), ``waiting`` (its remote copy is in a cold storage class:
its restore was asked for, run the command again once it is done), or
``FAILED`` with the reason. Exit status: 0 when every
object was restored or not archived, 1 when any failed, 2 for a
configuration or usage error.
"""

import dataclasses
import logging
import sys
import typing
import urllib.parse

from oslo_config import cfg
from swift.common.middleware import slo
from swift.common import swob
from swift.common import utils as swift_utils

from cloudsync import cmd
from cloudsync import concurrency
from cloudsync import conf as conf_mod
from cloudsync import exceptions
from cloudsync import local
from cloudsync import log as log_mod
from cloudsync import providers
from cloudsync.shunt import config as shunt_config
from cloudsync.shunt import middleware as shunt
from cloudsync.shunt import objects as shunt_object
from cloudsync.shunt import restore as restore_mod
from cloudsync import stubs

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = cmd.EXIT_CONFIG

cli_opts = [
    cfg.MultiStrOpt('objects', positional=True, metavar='ACCOUNT/C/OBJ',
                    default=[], required=False,
                    help='The objects to restore: account, container and '
                         'object name, separated by slashes (the object '
                         'name may hold more); with --pending, containers '
                         '(ACCOUNT/CONTAINER).'),
    cfg.BoolOpt('pending', default=False,
                help='Restore nothing: list the archived objects of the '
                     'containers named whose remote copy is in a cold '
                     'storage class, and where their restore stands.'),
]


class Restorer(object):
    """Restores objects through a cloud shunt built over the internal
    client's pipeline.

    :param config: the :class:`cloudsync.conf.Config`.
    :param internal_client: Swift's ``InternalClient`` for the local
        cluster.
    :param logger: where the shunt says why a restore failed.
    """

    def __init__(self, config, internal_client, logger):
        self.config = config
        self.ic = internal_client
        self.logger = logger
        self.shunt = shunt.CloudShuntMiddleware(
            with_slo(internal_client.app), {},
            shunt_config.LoadedConfig(config, logger), logger=logger)

    def head(self, account, container, obj):
        resp = self.ic.make_request(
            'HEAD', self.ic.make_path(account, container, obj), {},
            (2, 404))
        return resp.status_int, resp.headers

    def restore(self, account, container, obj):
        """Restore one object; returns ``(ok, message)``."""
        mapping = self.config.mapping_for(account, container)
        if mapping is None or not mapping.shunted:
            return False, 'FAILED: no mapping archives %s/%s' % (
                account, container)
        status, headers = self.head(account, container, obj)
        if status // 100 == 2 and not stubs.is_stub(headers):
            return True, 'not archived: Swift has the object'
        if status == 404 and not mapping.serves_deleted:
            return False, ('FAILED: Swift has no such object (and '
                           'serve_deleted_archives is off)')
        path = swob.wsgi_quote(swob.str_to_wsgi(
            '/v1/%s/%s/%s' % (account, container, obj)))
        req = swob.Request.blank(path, environ={
            restore_mod.EXPLICIT_RESTORE: True,
            'swift.trans_id': 'cloudsync-restore'})
        resp = req.get_response(self.shunt)
        try:
            waiting = resp.headers.get(shunt_object.RESTORE_STATE_HEADER)
            if resp.status_int == 503 and waiting:
                return False, (
                    'waiting: its remote copy is in a cold storage class '
                    'and being restored (%s); run again after %s seconds'
                    % (waiting, resp.headers.get('Retry-After')))
            if resp.status_int != 200:
                return False, 'FAILED: reading the remote copy: %s' % (
                    resp.status)
            for _chunk in resp.app_iter:
                pass
        finally:
            swift_utils.close_if_possible(resp.app_iter)
        status, headers = self.head(account, container, obj)
        if status // 100 == 2 and not stubs.is_stub(headers):
            return True, 'restored'
        return False, 'FAILED: not written back (see the messages above)'

    def pending(self, account, container):
        """``(name, state)`` of every archived object of ``container``
        whose remote copy is in a cold storage class (one HEAD per
        object, one remote HEAD per such object).
        """
        mapping = self.config.mapping_for(account, container)
        if mapping is None or not mapping.shunted:
            return
        provider = None
        for entry in self.ic.iter_objects(account, container):
            name = entry['name']
            status, headers = self.head(account, container, name)
            stub = stubs.ArchiveStub.from_headers(headers) \
                if status // 100 == 2 else None
            if stub is None or not shunt_object.is_cold(stub.storage_class):
                continue
            if provider is None:
                provider = mapping.remote.provider(max_connections=1)
            if not providers.restores_cold(provider):
                return
            try:
                state = provider.cold_state(stub.bucket, stub.key)
            except exceptions.RemoteError as exc:
                yield name, 'unknown: %s' % exc
                continue
            yield name, '%s (%s)' % (shunt_object.restore_state(state),
                                     state.storage_class or
                                     stub.storage_class)


def make_internal_client(config):
    """The daemon's internal client for the local cluster, as the
    configuration ``config`` (a :class:`cloudsync.conf.Config`) says
    (``swift_dir``, ``internal_client_conf_path``,
    ``keymaster_config_path``).

    :raises ConfigError: the keymaster configuration is wrong.
    """
    problems = local.keymaster_problems(config.conf)
    if problems:
        raise exceptions.ConfigError(problems)
    return local.make_internal_client(config.conf)


@dataclasses.dataclass
class RestoresReport:
    """The pending cold restores, or why they could not be listed."""

    #: :class:`cloudsync.stubs.PendingRestore` s, oldest first
    pending: list
    #: why they could not be listed, or None
    error: typing.Optional[str] = None

    def to_dict(self, now):
        entries = []
        for item in self.pending:
            entry = item.to_dict()
            entry['age'] = None if item.asked_at is None else round(
                max(0.0, now - item.asked_at), 3)
            entries.append(entry)
        return entries


def collect_restores(config, make_client, mapping_names=None, now=None):
    """The cold restores the shunt asked for that no read found done yet,
    for the (selected) mappings the shunt serves: a
    :class:`RestoresReport`, or None when no such mapping is configured.

    :param make_client: makes the daemon's internal client from
        ``config``; when it cannot (no Swift configuration on this host),
        the report says why and the rest of the status is unaffected.
    """
    selected = [m for m in config.mappings
                if m.shunted and (not mapping_names or
                                  m.name in mapping_names)]
    if not selected:
        return None
    try:
        client = make_client(config)
    except Exception as exc:  # noqa: BLE001 - any reason: say it
        return RestoresReport([], 'the internal client to the local Swift '
                                  'cannot be built: %s' % exc)
    try:
        found = stubs.pending_restores(client, now=now)
    except Exception as exc:  # noqa: BLE001 - any reason: say it
        return RestoresReport([], 'cannot list the account %s: %s' % (
            stubs.RESTORES_ACCOUNT, exc))
    names = {m.name for m in selected}
    pending = []
    for item in found:
        mapping = config.mapping_for(item.account, item.container)
        if mapping_names and (mapping is None or
                              mapping.name not in names):
            continue
        pending.append(item)
    pending.sort(key=lambda p: (p.asked_at or 0, p.name))
    return RestoresReport(pending)


def with_slo(app):
    """``app`` with Swift's SLO middleware in front, unless its pipeline
    has it: an SLO is restored with ``?multipart-manifest=put``, which
    only that middleware understands.
    """
    below = app
    while below is not None:
        if isinstance(below, slo.StaticLargeObject):
            return app
        below = getattr(below, 'app', None)
    return slo.filter_factory({})(app)


def split(path):
    """``(account, container, object)`` of ``ACCOUNT/C/OBJ``, or None."""
    parts = urllib.parse.unquote(path).lstrip('/').split('/', 2)
    if len(parts) != 3 or not all(parts):
        return None
    return tuple(parts)


def split_container(path):
    """``(account, container)`` of ``ACCOUNT/CONTAINER``, or None."""
    parts = urllib.parse.unquote(path).strip('/').split('/')
    if len(parts) != 2 or not all(parts):
        return None
    return tuple(parts)


def run(argv=None, stdout=None, internal_client=None, logger=None):
    """The command, without process set-up; returns the exit status."""
    stdout = stdout or sys.stdout
    config = cmd.load_config('cloudsync-restore', argv, cli_opts)
    if config is None:
        return EXIT_USAGE
    names = list(config.conf.objects)
    listing = config.conf.pending
    targets = [(n, split_container(n) if listing else split(n))
               for n in names]
    bad = [n for n, t in targets if t is None]
    if not names or bad:
        print('cloudsync-restore: name %s%s' % (
            'containers as ACCOUNT/CONTAINER' if listing else
            'objects as ACCOUNT/CONTAINER/OBJECT',
            ': not %s' % ', '.join(bad) if bad else ''), file=sys.stderr)
        return EXIT_USAGE
    log_mod.add_secrets(config.secrets())
    if internal_client is None:
        try:
            internal_client = make_internal_client(config)
        except exceptions.ConfigError as exc:
            conf_mod.report_problems('cloudsync-restore', exc.problems)
            return EXIT_USAGE
    if logger is None:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                            format='cloudsync-restore: %(message)s')
        logger = logging.getLogger('cloudsync-restore')
    restorer = Restorer(config, internal_client, logger)
    if listing:
        for name, (account, container) in targets:
            for obj, state in restorer.pending(account, container):
                print('%s/%s: %s' % (name, obj, state), file=stdout)
        return EXIT_OK
    failed = False
    for name, (account, container, obj) in targets:
        ok, message = restorer.restore(account, container, obj)
        failed = failed or not ok
        print('%s: %s' % (name, message), file=stdout)
    return EXIT_FAILED if failed else EXIT_OK


def main(argv=None):
    # NOTE(cloudsync): like the daemon: Swift's in-process proxy (the
    # internal client) and boto3 share green sockets.
    concurrency.monkey_patch()
    sys.exit(run(argv))


if __name__ == '__main__':
    main()
