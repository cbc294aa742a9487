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
"""``cloudsync-config-convert``: swift-s3-sync's JSON to cloudsync.conf.

::

    cloudsync-config-convert /etc/swift-s3-sync/sync.json \\
        -o /etc/cloudsync/cloudsync.conf

Writes the converted configuration (mode 0600: it holds credentials),
prints on stderr one warning per option that could not be carried over,
and exits 0 when every profile was converted, 1 when a profile had to be
left out (the rest is written), 2 when nothing could be written, which
includes a converted configuration that cloudsync's configuration loader
refuses (its problems are printed; the output is left alone). An
existing output file is only replaced with ``--force``; ``-o -`` prints
the configuration, credentials included, on stdout. See
:mod:`cloudsync.ops.convert` for what becomes what.
"""

import argparse
import os
import sys

from cloudsync.ops import convert


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='cloudsync-config-convert',
        description='Convert a swift-s3-sync JSON configuration into a '
                    'cloudsync configuration file.')
    parser.add_argument('source', metavar='OLD.json',
                        help='swift-s3-sync\'s configuration (sync.json)')
    parser.add_argument('-o', '--output', default='cloudsync.conf',
                        help='where to write the cloudsync configuration '
                             '(default: cloudsync.conf; "-" for stdout)')
    parser.add_argument('--force', action='store_true',
                        help='replace the output file if it exists')
    return parser.parse_args(argv)


def main(argv=None, stdout=None, stderr=None):
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = parse_args(argv)

    def say(message):
        print('cloudsync-config-convert: %s' % message, file=stderr)

    if args.output != '-' and os.path.exists(args.output) and \
            not args.force:
        say('%s exists; use --force to replace it' % args.output)
        return convert.EXIT_ERROR
    try:
        result = convert.convert(convert.load_json(args.source))
        text = result.render(args.source)
    except convert.ConversionError as exc:
        say(str(exc))
        return convert.EXIT_ERROR

    def mask(text):
        # NOTE(cloudsync): warnings and problems quote option values, never
        # a secret; masking is the second line of defence.
        for secret in result.secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, '***')
        return text

    for warning in result.warnings:
        say('warning: %s' % mask(warning))
    problems = convert.validate(text)
    if problems:
        say('the converted configuration would not load, so it is not '
            'written:')
        for problem in problems:
            say('  %s' % mask(problem))
        return convert.EXIT_ERROR
    if args.output == '-':
        stdout.write(text)
    else:
        try:
            convert.write_private(args.output, text)
        except OSError as exc:
            say('cannot write %s: %s' % (args.output, exc))
            return convert.EXIT_ERROR
        say('wrote %s: %d remote(s), %d mapping(s)' % (
            args.output, len(result.remotes), len(result.mappings)))
    if result.partial:
        say('some profiles were left out (see the warnings above)')
        return convert.EXIT_PARTIAL
    return convert.EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
