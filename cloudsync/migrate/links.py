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
"""Static symlinks of a Swift source, kept static.

A static symlink (``X-Symlink-Target-Etag``) names an object and the ETag
it must have. Swift's ``symlink`` middleware accepts one only when its
target is there with that ETag (it checks at the PUT), so the migrator
copies a static link once its target is in Swift:

* the target is in Swift with the link's ETag: the copy is pinned to it;
* it is a static large object the migrator copied: the copy is pinned to
  the ETag of the manifest the migrator wrote (a manifest written anew
  need not have the source manifest's ETag);
* it is not in Swift yet: the link fails in this pass, saying so, and a
  later pass copies it (its target comes first);
* it is gone at the source too: the link is copied as a link to that name
  (it reads 404 in Swift as at the source);
* the source's target has another ETag (the link reads 409 at the
  source), or Swift holds another object under the target's name: the
  link fails, saying so.
"""

from cloudsync import exceptions
from cloudsync.migrate import marks


class StaticLinkError(Exception):
    """A static symlink that cannot be copied as one now (the message says
    why).
    """


def static_link_headers(source, target, link, source_container, container,
                        name, etag):
    """The headers that make the copy of static symlink ``link``
    (``<bucket>/<key>``, for messages) static: its target is ``name`` in
    Swift ``container`` (in ``source_container`` at the source), pinned
    to ``etag`` at the source.

    :param source: the :class:`~cloudsync.migrate.source.MigrationSource`.
    :param target: the :class:`~cloudsync.migrate.target.SwiftTarget`.
    :returns: ``{'X-Symlink-Target-Etag': ...}``, or {} for a link whose
        target is gone at the source too.
    :raises StaticLinkError: see the module's documentation.
    """
    head = target.head(container, name)
    if head is None:
        try:
            found = source.head(source_container, name)
        except exceptions.NotFound:
            return {}
        if found.etag != etag and found.parts_count is None:
            raise StaticLinkError(
                '%s: a static symlink to %s/%s pins ETag %s; the source\'s '
                'target has ETag %s (the link is broken at the source)' % (
                    link, source_container, name, etag, found.etag))
        raise StaticLinkError(
            '%s: a static symlink whose target %s/%s is not in Swift yet; '
            'a later pass copies it' % (link, container, name))
    have = (head.get('etag') or '').strip('"')
    if have != etag and not (
            'x-static-large-object' in head and
            not marks.SwiftCopy.of(head).changed_in_swift):
        raise StaticLinkError(
            '%s: a static symlink to %s/%s pins ETag %s; Swift holds ETag '
            '%s there' % (link, container, name, etag, have))
    return {'X-Symlink-Target-Etag': have}
