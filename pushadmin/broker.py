"""The Redis broker transport, with one repair: a worker survives losing the broker while it runs
tasks.

When the broker connection breaks, Celery 5.7's consumer *collects* the connection (closes its
channel and detaches the transport from it), closes it once more and connects anew. The old
channel is left without a connection, and kombu's Redis channel then fails with
``AttributeError`` wherever it still needs one, which the worker takes for an unrecoverable error:
it exits instead of working on. Two places do:

- closing it again: when the first close failed part-way (reading from the dead socket), the
  second one tries to put the unacknowledged messages back in their queues;
- acknowledging a message it delivered, once the task that was running finishes. Every task here
  is acknowledged late, so a worker running any task when Redis restarted would die.

On a channel without a connection both are skipped here. Nothing is lost by it: such a message
stays in Redis's set of unacknowledged messages, which kombu puts back in its queue after the
visibility timeout (the task runs again; tasks are safe to run twice), and when Redis itself lost
it, the beat's sweep finds the work in the database again (``pushadmin.celery``).
"""

from __future__ import annotations

import logging

from kombu.transport import redis

log = logging.getLogger(__name__)


class Channel(redis.Channel):
    def _detached(self) -> bool:
        return self.connection is None or self.connection.client is None

    def close(self):
        if self._detached():
            self.do_restore = False
        super().close()

    def basic_ack(self, delivery_tag, multiple=False):
        if self._detached():
            log.warning("Message %s came on a broker connection that is gone: not acknowledged, Redis gives it "
                        "again after the visibility timeout unless it lost it.", delivery_tag)
            return
        super().basic_ack(delivery_tag, multiple=multiple)

    def basic_reject(self, delivery_tag, requeue=False):
        if self._detached():
            log.warning("Message %s came on a broker connection that is gone: not rejected, Redis gives it "
                        "again after the visibility timeout unless it lost it.", delivery_tag)
            return
        super().basic_reject(delivery_tag, requeue=requeue)


class Transport(redis.Transport):
    Channel = Channel
