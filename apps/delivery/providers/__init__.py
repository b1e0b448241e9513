"""Push delivery providers: where the dispatcher hands pushes over.

    from apps.delivery.providers import PushMessage, get_provider

    provider = get_provider()                 # PUSHADMIN["DELIVERY"]["PROVIDER"]: log | webhook | fcm
    results = provider.send_batch(messages)   # one DeliveryResult per message, same order

``send_batch`` does not raise for delivery problems: each one is a result, ``permanent`` when
retrying cannot help. Every provider draws from one token bucket per provider name on the shared
Redis (``RATE_PER_SECOND``), so all workers together stay under the provider's rate. See
docs/delivery.md.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import DeliveryResult, Provider, PushMessage
from .fcm import FcmProvider, collapse_id, fcm_message
from .log import LogProvider
from .ratelimit import RateLimitTimeout, RedisRateLimiter
from .transport import HttpProvider, parse_retry_after
from .webhook import SIGNATURE_HEADER, WebhookProvider, sign, verify, webhook_payload

__all__ = [
    "DeliveryResult", "FcmProvider", "HttpProvider", "LogProvider", "PROVIDERS", "Provider", "PushMessage",
    "RateLimitTimeout", "RedisRateLimiter", "SIGNATURE_HEADER", "WebhookProvider", "collapse_id",
    "fcm_message", "get_provider", "parse_retry_after", "sign", "verify", "webhook_payload",
]

PROVIDERS = {"log": LogProvider, "webhook": WebhookProvider, "fcm": FcmProvider}

# Setting (or option) name -> constructor keyword, per family. Options may also carry the keys
# in OPTIONAL and the lower-case injectables in INJECTABLE.
_COMMON = {"PROVIDER", "RATE_PER_SECOND", "RATE_BURST", "RATE_LIMIT_MAX_WAIT_SECONDS"}
_HTTP = {
    "TIMEOUT_SECONDS": "timeout",
    "HTTP_ATTEMPTS": "max_attempts",
    "BACKOFF_BASE_SECONDS": "backoff_base",
    "BACKOFF_MAX_SECONDS": "backoff_max",
    "RETRY_AFTER_MAX_SECONDS": "retry_after_max",
    "COOLDOWN_SECONDS": "cooldown",
}
_PER_PROVIDER = {
    "log": {"LOG_KEEP": "keep"},
    "webhook": {**_HTTP, "WEBHOOK_URL": "url", "WEBHOOK_SECRET": "secret"},
    "fcm": {**_HTTP, "FCM_PROJECT_ID": "project_id", "FCM_ACCESS_TOKEN": "access_token",
            "FCM_BASE_URL": "base_url", "FCM_ANDROID_CLICK_ACTION": "android_click_action"},
}
_KNOWN = _COMMON | {key for table in _PER_PROVIDER.values() for key in table}
INJECTABLE = {"sleep", "clock", "rng", "session", "limiter", "redis", "access_token"}
_NOT_GIVEN = object()

_cache = threading.local()


def get_provider(name: str | None = None, *, options: Mapping | None = None) -> Provider:
    """The provider ``name`` (default: the ``PROVIDER`` setting), configured from
    ``settings.PUSHADMIN["DELIVERY"]`` with ``options`` laid over it.

    ``options`` takes the same upper-case keys as the settings (plus ``RATE_BURST``,
    ``RATE_LIMIT_MAX_WAIT_SECONDS``, ``BACKOFF_BASE_SECONDS``, ``BACKOFF_MAX_SECONDS``,
    ``RETRY_AFTER_MAX_SECONDS``, ``COOLDOWN_SECONDS``, ``LOG_KEEP``, ``FCM_ANDROID_CLICK_ACTION``) and these lower-case
    injectables: ``sleep``, ``clock`` (also the limiter's clock; without it the limiter uses the
    Redis server's), ``rng``, ``session``, ``redis``, ``limiter`` (an object with
    ``acquire(n)``, or None for no rate limit) and ``access_token`` (FCM: a callable returning a
    token). An unknown key is an error.

    Without options the instance is reused within a process and thread (a pooled HTTP session
    survives between batches); with options it is new every time.
    """
    config = dict(settings.PUSHADMIN["DELIVERY"])
    if options:
        unknown = set(options) - _KNOWN - INJECTABLE
        if unknown:
            raise ImproperlyConfigured(f"Unknown delivery option(s): {', '.join(sorted(unknown))}")
        config.update(options)
    name = name or config.get("PROVIDER") or "log"
    if name not in PROVIDERS:
        raise ImproperlyConfigured(f"Unknown push provider {name!r}; choose one of: {', '.join(PROVIDERS)}")
    if options:
        return _build(name, config)

    key = (os.getpid(), name, tuple(sorted((k, repr(v)) for k, v in config.items())))
    cached = getattr(_cache, "providers", None)
    if cached is None:
        cached = _cache.providers = {}
    provider = cached.get(key)
    if provider is None:
        for stale in [k for k in cached if k[1] == name]:  # settings changed: drop the old one
            getattr(cached.pop(stale), "close", lambda: None)()
        provider = cached[key] = _build(name, config)
    return provider


def _build(name: str, config: dict) -> Provider:
    kwargs = {kw: config[key] for key, kw in _PER_PROVIDER[name].items() if key in config}
    sleep = config.get("sleep", time.sleep)
    for injectable in ("sleep", "clock", "rng", "session"):
        if injectable in config and name != "log":
            kwargs[injectable] = config[injectable]
    if name == "fcm" and config.get("access_token") is not None:
        kwargs["access_token"] = config["access_token"]

    limiter = config.get("limiter", _NOT_GIVEN)
    if limiter is _NOT_GIVEN:
        limiter = RedisRateLimiter(
            name,
            float(config["RATE_PER_SECOND"]),
            burst=config.get("RATE_BURST"),
            redis=config.get("redis"),
            clock=config.get("clock"),
            sleep=sleep,
            max_wait=float(config.get("RATE_LIMIT_MAX_WAIT_SECONDS", 30.0)),
        )
    kwargs["limiter"] = limiter
    return PROVIDERS[name](**kwargs)
