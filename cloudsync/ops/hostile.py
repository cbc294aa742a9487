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
"""A hostile-remote kit: objects that anyone who can write to a bucket may
leave there, and what the cloud shunt and proxymc must answer for them.

The bucket is not trusted: proxymc's users, a ``merge_namespaces``
mapping, another cluster or any tool holding the bucket's keys write to
it (see the security page of the documentation). The cases below are
data, so that a third-party provider can run them against its own store:
:func:`write_case` stores one through the provider's own
:meth:`~cloudsync.providers.Provider.put_object`, at the key the mapping's
layout gives the case's name, with the remote metadata exactly as given
(not encoded by :mod:`cloudsync.metadata`: these are the bytes a hostile
writer chose). cloudsync's functional tests
(``tests/functional/test_hostile_remote.py``) then read, list and delete
each case through a real Swift proxy with the cloud shunt and through
proxymc, and check that:

* the answer has the case's status, never a 500 and never a traceback
  in the logs;
* no response header carries a control character, and the headers a
  case names in :attr:`HostileObject.absent` (a ``Set-Cookie`` smuggled
  in a decoded value, for instance) are not there;
* the headers in :attr:`HostileObject.present` are, with their values:
  what could be sent is sent, the object is still served;
* a DELETE removes the case's own key and nothing else.

A provider author runs them by writing each case with
:func:`write_case` into a bucket that a cloud shunt (``merge_namespaces =
true``) and a proxymc serve, making the same requests, and checking each
answer with :func:`answer_problems`.
"""

import base64
import dataclasses
import typing
import urllib.parse

from cloudsync import metadata as md


def encoded(text):
    """``text`` as an RFC 2047 word, as cloudsync stores any value that is
    not plain ASCII: what :func:`cloudsync.metadata.decode_value` turns
    back into ``text``, control characters included.
    """
    return '=?UTF-8?B?%s?=' % base64.b64encode(
        text.encode('utf-8', 'surrogateescape')).decode('ascii')


def escaped_key(key):
    """A user metadata key stored percent-encoded, as cloudsync stores a
    key that is not a plain header name.
    """
    return md.KEY_ESCAPE_PREFIX + urllib.parse.quote(key, safe='').lower()


SMUGGLED = '\r\nSet-Cookie: hostile=1'


@dataclasses.dataclass(frozen=True)
class HostileObject:
    """One object a hostile writer leaves in the bucket."""

    #: a short identifier, for test names
    id: str
    #: the object's name in its container
    name: str
    #: the remote metadata, as stored (lower-case keys)
    metadata: typing.Dict[str, str]
    body: bytes = b'hostile but harmless'
    content_type: str = 'text/plain'
    #: the status of a GET or HEAD through the shunt and through proxymc
    status: int = 200
    #: response headers (lower case) that must not be there
    absent: typing.Tuple[str, ...] = ()
    #: response headers (lower case) that must be there, with their value
    present: typing.Dict[str, str] = dataclasses.field(default_factory=dict)


#: what every object of the kit carries besides its hostile part
_GOOD = {'color': 'blue'}
_SERVED = {'x-object-meta-color': 'blue'}


def _case(id, hostile, **kwargs):
    meta = dict(_GOOD)
    meta.update(hostile)
    kwargs.setdefault('present', _SERVED)
    return HostileObject(id=id, name='hostile/%s' % id, metadata=meta,
                         **kwargs)


CASES = (
    # -- response splitting: decoded values and keys with CR and LF --------
    _case('crlf-value', {'note': encoded('x' + SMUGGLED)},
          absent=('set-cookie', 'x-object-meta-note')),
    _case('lf-value', {'note': encoded('x\nSet-Cookie: hostile=1')},
          absent=('set-cookie', 'x-object-meta-note')),
    _case('crlf-key', {escaped_key('k' + SMUGGLED): 'v'},
          absent=('set-cookie',)),
    _case('crlf-slo-header', {md.SLO_KEY: encoded('True' + SMUGGLED)},
          absent=('set-cookie', 'x-static-large-object')),
    _case('crlf-dlo-header', {md.DLO_KEY: encoded('c/p' + SMUGGLED)},
          absent=('set-cookie', 'x-object-manifest')),
    _case('crlf-sysmeta', {'cloudsync-sysmeta-s3api-etag': encoded(
        'x' + SMUGGLED)}, absent=('set-cookie',)),
    _case('crlf-manifest-etag', {
        md.SLO_KEY: 'True', 'cloudsync-manifest-etag': encoded(
            'x' + SMUGGLED)}, absent=('set-cookie', 'x-manifest-etag')),
    _case('crlf-etag', {md.ETAG_KEY: encoded('x' + SMUGGLED)},
          absent=('set-cookie',)),
    # -- other characters no header may carry ------------------------------
    _case('nul-value', {'note': encoded('a\x00b')},
          absent=('x-object-meta-note',)),
    _case('control-value', {'note': encoded('a\x04b')},
          absent=('x-object-meta-note',)),
    _case('c1-value', {'note': encoded('a\x85b')},
          absent=('x-object-meta-note',)),
    _case('line-separator-value', {'note': encoded('a\u2028b')},
          absent=('x-object-meta-note',)),
    _case('invalid-utf8-value', {'note': '=?UTF-8?B?7aCA/w==?='}),
    _case('undecodable-charset', {'note': '=?UTF-16-BE?B?2AA=?='},
          present=dict(_SERVED, **{
              'x-object-meta-note': '=?UTF-16-BE?B?2AA=?='})),
    _case('space-in-key', {escaped_key('a b'): 'v'}),
    _case('colon-in-key', {escaped_key('a:b'): 'v'}),
    # -- numbers that are not -------------------------------------------
    _case('timestamp-inf', {md.TIMESTAMP_KEY: 'inf'}),
    _case('timestamp-1e400', {md.TIMESTAMP_KEY: '1e400'}),
    _case('timestamp-nan', {md.TIMESTAMP_KEY: 'nan'}),
    _case('timestamp-negative', {md.TIMESTAMP_KEY: '-5'}),
    _case('timestamp-text', {md.TIMESTAMP_KEY: 'yesterday'}),
    _case('delete-at-inf', {md.DELETE_AT_KEY: 'inf'}),
    _case('delete-at-1e400', {md.DELETE_AT_KEY: '1e400'}),
    _case('delete-at-nan', {md.DELETE_AT_KEY: 'nan'}),
    _case('deleted-at-1e400', {md.DELETED_AT_KEY: '1e400'}),
    # -- ETags ----------------------------------------------------------
    _case('etag-with-quotes-and-spaces', {md.ETAG_KEY: 'a" b'}),
    _case('slo-without-etag-or-manifest', {md.SLO_KEY: 'True'}),
    _case('slo-etag-garbage', {md.SLO_KEY: 'True',
                               md.SLO_ETAG_KEY: encoded('\x01')}),
    # -- sizes ----------------------------------------------------------
    _case('long-value', {'note': 'v' * 1800},
          present=dict(_SERVED, **{'x-object-meta-note': 'v' * 1800})),
    _case('undecodable-word', {'note': '=?NO-SUCH-CHARSET?B?eA==?='},
          present=dict(_SERVED, **{
              'x-object-meta-note': '=?NO-SUCH-CHARSET?B?eA==?='})),
)

#: names in the namespaces a layout keeps for side objects: never served,
#: changed or deleted as user objects
RESERVED_CASES = (
    HostileObject(id='reserved-manifest',
                  name='.manifests/%s.swift_slo_manifest' % ('0' * 64),
                  metadata={}, body=b'[]', status=404),
    HostileObject(id='reserved-dlo', name='.dlo/segments/part-1',
                  metadata={}, status=404),
)


def write_case(provider, bucket, layout, case):
    """Store ``case`` at the key ``layout`` gives its name.

    :returns: the key.
    """
    key = layout.object_key(case.name)
    provider.put_object(bucket, key, case.body, len(case.body),
                        content_type=case.content_type,
                        metadata=dict(case.metadata))
    return key


def answer_problems(case, method, status, headers, body):
    """What is wrong with the answer to a GET or HEAD of ``case``.

    :param method: ``GET`` or ``HEAD``.
    :param headers: ``(name, value)`` pairs as sent (see
        :func:`header_problems`).
    :returns: a list of descriptions; empty when the answer is right.
    """
    out = []
    if status != case.status:
        out.append('%s %s: status %s, not %s' % (
            method, case.id, status, case.status))
    out.extend(header_problems(headers))
    names = {name.lower(): value for name, value in headers}
    for name in case.absent:
        if name in names:
            out.append('%s %s: %s was sent' % (method, case.id, name))
    for name, value in case.present.items():
        if names.get(name) != value:
            out.append('%s %s: %s is %r, not %r' % (
                method, case.id, name, names.get(name), value))
    if method == 'GET' and case.status == 200 and body != case.body:
        out.append('GET %s: not the object\'s bytes' % case.id)
    return out


def header_problems(headers):
    """The response headers that should not have been sent.

    :param headers: ``(name, value)`` pairs as sent, decoded as
        ISO-8859-1 (what :mod:`http.client` does).
    :returns: a list of descriptions; empty when all is well.
    """
    out = []
    for name, value in headers:
        # NOTE: bytes from 0x80 up are UTF-8 (or obs-text) on the wire;
        # a client that parses headers takes CTLs for what they are.
        for char in name + value:
            if (ord(char) < 0x20 and char != '\t') or ord(char) == 0x7f:
                out.append('%r: %r' % (name, value))
                break
        if not name or name != name.strip() or ' ' in name:
            out.append('a header line without a name: %r' % (name,))
    return out
