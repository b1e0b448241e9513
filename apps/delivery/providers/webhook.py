"""The webhook provider: each push is one signed HTTPS POST of JSON to ``WEBHOOK_URL``.

Payload (UTF-8 JSON, keys sorted, no spaces)::

    {"body": ..., "campaign_id": 7, "content_external_id": "c-1", "data": {...},
     "event": "push", "platform": "android", "push_token": ..., "send_id": 42,
     "subscriber_external_id": "u-1", "title": ..., "url": ...}

Headers:

- ``Content-Type: application/json``
- ``Idempotency-Key: <send_id>``: the same on every attempt, so a receiver can drop repeats (a
  timed-out attempt may have been processed).
- ``X-Pushadmin-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``:
  signed anew on each attempt.
- ``X-Pushadmin-Attempt: <n>`` (1-based).

The receiver's answer: any 2xx accepts; a JSON body with a string ``id`` (or ``message_id``) is
kept as the provider message id.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from urllib.parse import urlsplit

import requests
from django.core.exceptions import ImproperlyConfigured

from .base import PushMessage
from .transport import PERMANENT, AttemptFailed, HttpProvider, Outcome

SIGNATURE_HEADER = "X-Pushadmin-Signature"
LOOPBACK_NAMES = {"localhost"}


def webhook_payload(message: PushMessage) -> bytes:
    document = {
        "event": "push",
        "send_id": message.send_id,
        "campaign_id": message.campaign_id,
        "content_external_id": message.content_external_id,
        "subscriber_external_id": message.subscriber_external_id,
        "push_token": message.push_token,
        "platform": message.platform,
        "title": message.title,
        "body": message.body,
        "url": message.url,
        "data": dict(message.data),
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Pushadmin-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance: float = 300) -> bool:
    """The receiver's check (also in docs/delivery.md): the signature matches and is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookProvider(HttpProvider):
    name = "webhook"
    label = "webhook"

    def __init__(self, *, url: str, secret: str, **kwargs):
        if not url:
            raise ImproperlyConfigured("The webhook provider needs PUSHADMIN_WEBHOOK_URL.")
        if not secret:
            raise ImproperlyConfigured("The webhook provider needs PUSHADMIN_WEBHOOK_SECRET (it signs every push).")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ImproperlyConfigured(f"PUSHADMIN_WEBHOOK_URL is not an http(s) URL: {url!r}")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ImproperlyConfigured(
                "PUSHADMIN_WEBHOOK_URL must be https (push tokens travel in the payload); "
                "plain http is accepted only for localhost."
            )
        super().__init__(**kwargs)
        self.url = url
        self._secret = secret

    def _prepare(self, message: PushMessage, attempt: int) -> tuple[str, dict[str, str], bytes]:
        try:
            body = webhook_payload(message)
        except (TypeError, ValueError) as exc:
            raise AttemptFailed(Outcome(PERMANENT, f"webhook: the message cannot be encoded as JSON: {exc}")) from exc
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": str(message.send_id),
            SIGNATURE_HEADER: sign(self._secret, int(self._clock()), body),
            "X-Pushadmin-Attempt": str(attempt),
        }
        return self.url, headers, body

    def _message_id(self, response: requests.Response) -> str:
        try:
            document = response.json()
        except ValueError:
            return ""
        if isinstance(document, dict):
            for key in ("id", "message_id"):
                if isinstance(document.get(key), str):
                    return document[key][:200]
        return ""
