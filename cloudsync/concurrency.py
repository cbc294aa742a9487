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
"""The daemon's concurrency model, in one place.

cloudsync-sync works the way Swift's own container daemons (container-sync,
the replicators) do: one process, eventlet green threads, cooperative I/O.
Two pools bound the work on a node:

* a *container* pool (``container_workers``): how many container databases
  are crawled at once;
* a *row* pool (``workers``), shared by every container being crawled: how
  many objects are being copied, updated or deleted at once.

Everything else in cloudsync imports its concurrency primitives from this
module rather than from eventlet directly, so that the model stays one
decision in one file. :func:`monkey_patch` must run first thing in a
command, before any library opens a socket.
"""

import os
import warnings

# NOTE(cloudsync): as Swift's daemons do, use the system's resolver rather
# than eventlet's green DNS resolver (dnspython): importing it costs about
# a tenth of a second of CPU in every process, and the daemon resolves
# only its few remote endpoints, once per connection. This must be set
# before eventlet is first imported; an operator may still set
# EVENTLET_NO_GREENDNS=no in the environment to keep the green resolver.
os.environ.setdefault('EVENTLET_NO_GREENDNS', 'yes')

# NOTE: eventlet warns at import that new projects should not use it;
# Swift's own daemons do, and so does cloudsync, consistently with them.
# Operators should not see that on every command.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated',
                        category=Warning)

import eventlet  # noqa: E402
from eventlet import event  # noqa: E402
from eventlet import greenpool  # noqa: E402
from eventlet import semaphore  # noqa: E402
from eventlet import timeout as eventlet_timeout  # noqa: E402

GreenPool = greenpool.GreenPool
GreenPile = greenpool.GreenPile
Timeout = eventlet_timeout.Timeout
Event = event.Event
Semaphore = semaphore.Semaphore
sleep = eventlet.sleep
spawn = eventlet.spawn

__all__ = ['GreenPool', 'GreenPile', 'Timeout', 'Event', 'Semaphore',
           'sleep', 'spawn', 'monkey_patch', 'WorkerPool', 'StopFlag']

_patched = False


def monkey_patch():
    """Make sockets, select, threads and time cooperative.

    The same set Swift's daemons patch (``eventlet_monkey_patch``), plus
    ``time``: boto3/urllib3, the Swift internal client and the statsd client
    then all yield to other green threads while they wait on the network.
    Safe to call more than once.
    """
    global _patched
    if not _patched:
        eventlet.monkey_patch(all=False, socket=True, select=True,
                              thread=True, time=True)
        _patched = True


class WorkerPool(object):
    """A bounded green pool that runs calls and hands back their results.

    ``run(func, *args)`` blocks while the pool is full (back-pressure),
    then returns a :class:`GreenPile`-like handle; :meth:`results` waits
    for every call started through one :class:`Batch`.
    """

    def __init__(self, size):
        self.size = size
        self._pool = GreenPool(size)

    def batch(self):
        """A set of calls whose results are collected together."""
        return Batch(self._pool)

    def spawn(self, func, *args, **kwargs):
        return self._pool.spawn(func, *args, **kwargs)

    def running(self):
        return self._pool.running()

    def free(self):
        return self._pool.free()

    def waitall(self, timeout=None):
        """Wait for every green thread in the pool.

        :returns: True when all finished, False when ``timeout`` seconds
            passed first.
        """
        if timeout is None:
            self._pool.waitall()
            return True
        try:
            with Timeout(timeout):
                self._pool.waitall()
        except Timeout:
            return False
        return True


class Batch(object):
    """Calls started in a shared pool, whose results are wanted together."""

    def __init__(self, pool):
        self._pile = GreenPile(pool)
        self._count = 0

    def spawn(self, func, *args, **kwargs):
        self._count += 1
        self._pile.spawn(func, *args, **kwargs)

    def __len__(self):
        return self._count

    def results(self):
        """Wait for every call; their results, in the order started.

        ``func`` must not raise: wrap it so that it returns its failure.
        """
        if not self._count:
            return []
        return list(self._pile)


class StopFlag(object):
    """Set once (by a signal handler) to ask every loop to wind down."""

    def __init__(self):
        self._set = False
        self.reason = None

    def set(self, reason='stop requested'):
        self._set = True
        self.reason = reason

    def is_set(self):
        return self._set

    def wait(self, seconds, step=0.5):
        """Sleep up to ``seconds``; return early (True) when set."""
        remaining = seconds
        while remaining > 0 and not self._set:
            chunk = min(step, remaining)
            sleep(chunk)
            remaining -= chunk
        return self._set
