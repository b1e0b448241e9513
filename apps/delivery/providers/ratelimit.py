"""A token bucket on the shared Redis, so every worker process of one provider draws from one
budget of ``RATE_PER_SECOND``.

The bucket is one hash (``tokens``, ``ts``) updated by a Lua script, atomically. Time is the Redis
server's clock (``TIME``), so workers on different hosts agree; tests pass a clock instead and move
it through their fake ``sleep``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings

# KEYS[1] bucket; ARGV: rate/s, burst, tokens wanted, now (empty: the Redis clock).
# Returns {granted, seconds to wait before asking for the rest}.
_TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
local granted = math.min(want, math.floor(tokens))
if granted < 0 then granted = 0 end
tokens = tokens - granted
local wait = 0
if granted < want then
  wait = (math.min(want - granted, burst) - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.6f', ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {granted, string.format('%.17g', wait)}
"""


class RateLimitTimeout(Exception):
    """Waiting for the shared budget would take longer than ``max_wait`` seconds."""

    def __init__(self, waited: float, retry_after: float):
        super().__init__(f"rate limit: waited {waited:.2f} s, the shared budget needs {retry_after:.2f} s more")
        self.waited = waited
        self.retry_after = retry_after


class RedisRateLimiter:
    """``acquire(n)`` returns once ``n`` tokens are taken from the bucket named ``name``.

    ``burst`` (default: one second of ``rate``) is how many tokens an idle bucket holds. A caller
    never waits more than ``max_wait`` seconds in total: it gets ``RateLimitTimeout`` instead, with
    the time still needed, so a Celery task is not held for minutes.
    """

    def __init__(
        self,
        name: str,
        rate_per_second: float,
        *,
        burst: float | None = None,
        redis=None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 30.0,
        key_prefix: str | None = None,
    ):
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.name = name
        self.rate = float(rate_per_second)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate)
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        self._redis = redis
        self._clock = clock
        self._sleep = sleep
        self.max_wait = max_wait
        if key_prefix is None:
            key_prefix = settings.CACHES.get("default", {}).get("KEY_PREFIX") or "pushadmin"
        self.key = f"{key_prefix}:push-rate:{name}"
        self._script = None

    @property
    def redis(self):
        if self._redis is None:
            from django_redis import get_redis_connection

            self._redis = get_redis_connection("default")
        return self._redis

    def _take(self, want: int) -> tuple[int, float]:
        if self._script is None:
            self._script = self.redis.register_script(_TOKEN_BUCKET)
        now = "" if self._clock is None else repr(float(self._clock()))
        granted, wait = self._script(keys=[self.key], args=[repr(self.rate), repr(self.burst), want, now])
        return int(granted), float(wait)

    def acquire(self, n: int = 1) -> float:
        """Take ``n`` tokens, waiting (through ``sleep``) while the bucket is empty. Returns the
        seconds waited. Raises ``RateLimitTimeout`` or a Redis error."""
        waited = 0.0
        while n > 0:
            granted, wait = self._take(n)
            n -= granted
            if n <= 0:
                break
            wait = max(wait, 1e-3)
            if waited + wait > self.max_wait:
                raise RateLimitTimeout(waited, wait)
            self._sleep(wait)
            waited += wait
        return waited

    def reset(self) -> None:
        self.redis.delete(self.key)
