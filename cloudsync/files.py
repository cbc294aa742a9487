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
"""Files replaced all or nothing: the daemon's progress and status files,
and the configurations the conversion tool writes.
"""

import os
import uuid


def fsync_dir(path):
    """Make a rename in directory ``path`` durable, where that is possible."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_file(path, text, mode=0o666):
    """Replace ``path`` with ``text`` (UTF-8), all or nothing.

    The text goes to a temporary file beside it, created with ``mode``
    (less the umask: 0600 for a file holding secrets), which is flushed to
    disk and renamed over ``path``; a reader sees the old file or the new
    one, never a part. A failure leaves ``path`` as it was and no
    temporary file behind.
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, '.%s.%d.%s.tmp' % (
        os.path.basename(path), os.getpid(), uuid.uuid4().hex[:8]))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(directory)
