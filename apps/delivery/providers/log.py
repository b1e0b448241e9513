"""The development provider: logs each push and keeps the latest ones in memory."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence

import redis

from .base import DeliveryResult, PushMessage
from .ratelimit import RateLimitTimeout

logger = logging.getLogger("apps.delivery.providers.log")


class LogProvider:
    """Accepts everything: one INFO line per message, the last ``keep`` messages in ``sent``
    (newest last), and a synthetic provider id ``log-<send_id>``. With a limiter it takes the
    batch's tokens before "sending", so development paces like production."""

    name = "log"

    def __init__(self, *, keep: int = 1000, limiter=None):
        self.sent: deque[PushMessage] = deque(maxlen=keep)
        self.limiter = limiter

    def send_batch(self, messages: Sequence[PushMessage]) -> list[DeliveryResult]:
        if self.limiter is not None and messages:
            try:
                self.limiter.acquire(len(messages))
            except RateLimitTimeout as exc:
                return [DeliveryResult(send_id=m.send_id, ok=False, error=str(exc), retry_after=exc.retry_after,
                                       attempted=False) for m in messages]
            except (redis.RedisError, OSError) as exc:
                error = f"rate limiter unavailable: {type(exc).__name__}: {exc}"[:480]
                return [DeliveryResult(send_id=m.send_id, ok=False, error=error, attempted=False) for m in messages]
        info = logger.isEnabledFor(logging.INFO)
        results = []
        for m in messages:
            if info:
                logger.info("push send=%s campaign=%s content=%s subscriber=%s platform=%s title=%r",
                            m.send_id, m.campaign_id, m.content_external_id, m.subscriber_external_id,
                            m.platform, m.title)
            results.append(DeliveryResult(send_id=m.send_id, ok=True, provider_message_id=f"log-{m.send_id}"))
        self.sent.extend(messages)
        return results

    def close(self) -> None:
        pass
