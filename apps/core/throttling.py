"""Per-client request throttling on the shared Redis cache (fixed windows, atomic INCR).

Every web worker counts into the same key, so a client's limit holds across processes. Over
the limit: 429 with ``Retry-After`` (seconds to the next window).
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    count, _, unit = rate.partition("/")
    return int(count), _UNITS[unit]


class ClientRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        principal = getattr(request, "user", None)
        client = getattr(principal, "client", None)
        if client is None:
            return True
        limit, window = parse_rate(client.api_rate or settings.PUSHADMIN["API_DEFAULT_RATE"])
        now = time.time()
        start = int(now // window) * window
        key = f"throttle:{client.pk}:{window}:{start}"
        cache.add(key, 0, timeout=window + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # the window's key expired between add and incr
            cache.set(key, 1, timeout=window + 5)
            count = 1
        self._wait = (start + window) - now
        return count <= limit

    def wait(self):
        return max(1, math.ceil(self._wait))
