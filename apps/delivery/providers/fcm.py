"""The FCM provider: Firebase Cloud Messaging HTTP v1, one request per message.

``POST {FCM_BASE_URL}/v1/projects/{FCM_PROJECT_ID}/messages:send`` with ``Authorization: Bearer
<token>``. The content id is the collapse key and the notification tag on every platform, so a
second push of the same content (or a retried request) replaces the first on the device instead of
stacking. See docs/delivery.md for the full mapping.

The access token is ``FCM_ACCESS_TOKEN`` or a callable returning a current token (called before
every request; it should cache and refresh the token itself). Obtaining one from a service account
(OAuth 2.0) is out of scope here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from urllib.parse import quote, urlsplit

import requests
from django.core.exceptions import ImproperlyConfigured

from .base import PushMessage, clip
from .transport import DEFER, HALT, OK, PERMANENT, RETRY, AttemptFailed, HttpProvider, Outcome, body_excerpt

# The FcmError codes (google.firebase.fcm.v1.FcmError) and what each means for the message.
ERROR_KINDS = {
    "UNREGISTERED": PERMANENT,  # the token is gone (app uninstalled, token expired)
    "INVALID_ARGUMENT": PERMANENT,  # the token or the message is malformed
    "SENDER_ID_MISMATCH": PERMANENT,  # the token belongs to another project
    "QUOTA_EXCEEDED": RETRY,
    "UNAVAILABLE": RETRY,
    "INTERNAL": RETRY,
    "THIRD_PARTY_AUTH_ERROR": DEFER,  # the project's APNs / web push credentials: other platforms may work
}
COLLAPSE_ID_MAX_BYTES = 64  # apns-collapse-id's limit; the same id is used everywhere
RESERVED_DATA_KEYS = {"from", "message_type"}
RESERVED_DATA_PREFIXES = ("google", "gcm")


def collapse_id(content_external_id: str) -> str:
    """The content id, or its SHA-256 (hex, 64 characters) when longer than APNs allows."""
    if len(content_external_id.encode("utf-8")) <= COLLAPSE_ID_MAX_BYTES:
        return content_external_id
    return hashlib.sha256(content_external_id.encode("utf-8")).hexdigest()


def fcm_message(message: PushMessage, *, android_click_action: str = "") -> dict:
    """The request body for one message."""
    key = collapse_id(message.content_external_id)
    data = dict(message.data)
    data.update({
        "send_id": str(message.send_id),
        "campaign_id": str(message.campaign_id),
        "content_id": message.content_external_id,
        "url": message.url,
    })
    android_notification = {"tag": key}
    if android_click_action:
        android_notification["click_action"] = android_click_action
    webpush: dict = {"notification": {"tag": key}}
    if message.url.startswith("https://"):  # FCM refuses any other link
        webpush["fcm_options"] = {"link": message.url}
    return {
        "message": {
            "token": message.push_token,
            "notification": {"title": message.title, "body": message.body},
            "data": data,
            "android": {"collapse_key": key, "notification": android_notification},
            "apns": {"headers": {"apns-collapse-id": key}},
            "webpush": webpush,
        }
    }


class FcmProvider(HttpProvider):
    name = "fcm"
    label = "FCM"

    def __init__(self, *, project_id: str, access_token: str | Callable[[], str],
                 base_url: str = "https://fcm.googleapis.com", android_click_action: str = "", **kwargs):
        if not project_id:
            raise ImproperlyConfigured("The fcm provider needs PUSHADMIN_FCM_PROJECT_ID.")
        if not access_token:
            raise ImproperlyConfigured("The fcm provider needs PUSHADMIN_FCM_ACCESS_TOKEN or an access-token callable.")
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ImproperlyConfigured(
                "PUSHADMIN_FCM_BASE_URL must be an https:// URL (the access token and the push tokens travel "
                f"in every request), got {base_url!r}."
            )
        super().__init__(**kwargs)
        self.project_id = project_id
        self.url = f"{base_url.rstrip('/')}/v1/projects/{quote(project_id, safe='')}/messages:send"
        self._access_token = access_token
        self.android_click_action = android_click_action

    def _validate(self, message: PushMessage) -> str | None:
        if not message.push_token:
            return "FCM: the subscriber has no push token"
        for key, value in message.data.items():
            if not isinstance(key, str) or not isinstance(value, str):
                return f"FCM: data must map strings to strings; {key!r} -> {type(value).__name__}"
            if key in RESERVED_DATA_KEYS or key.startswith(RESERVED_DATA_PREFIXES):
                return f"FCM: data key {key!r} is reserved by FCM"
        return None

    def _token(self) -> str:
        if not callable(self._access_token):
            return self._access_token
        try:
            token = self._access_token()
        except Exception as exc:  # whatever the token source raises, this batch cannot be sent now
            raise AttemptFailed(Outcome(HALT, clip(f"FCM access token unavailable: {type(exc).__name__}: {exc}"))) from exc
        if not token:
            raise AttemptFailed(Outcome(HALT, "FCM access token unavailable: the token source returned nothing"))
        return token

    def _prepare(self, message: PushMessage, attempt: int) -> tuple[str, dict[str, str], bytes]:
        try:
            body = json.dumps(fcm_message(message, android_click_action=self.android_click_action),
                              ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise AttemptFailed(Outcome(PERMANENT, f"FCM: the message cannot be encoded as JSON: {exc}")) from exc
        headers = {
            "Authorization": f"Bearer {self._token()}",
            "Content-Type": "application/json; charset=UTF-8",
        }
        return self.url, headers, body

    def _message_id(self, response: requests.Response) -> str:
        try:
            name = response.json().get("name", "")
        except (ValueError, AttributeError):
            return ""
        return name[:200] if isinstance(name, str) else ""

    def _classify(self, response: requests.Response) -> Outcome:
        status = response.status_code
        if 200 <= status < 300:
            return Outcome(OK, message_id=self._message_id(response))
        code, reason = _fcm_error(response)
        retry_after = self._retry_after(response)
        # Without a known FcmError code, the status decides: UNAUTHENTICATED (401) and
        # PERMISSION_DENIED (403) are our token or project setup and stop the batch.
        kind = ERROR_KINDS.get(code) or self._kind_for_status(status)
        return Outcome(kind, f"FCM HTTP {status} {code}: {reason}" if code else f"FCM HTTP {status}: {reason}", retry_after)


def _fcm_error(response: requests.Response) -> tuple[str, str]:
    """(error code, message) from FCM's JSON error: the FcmError detail's ``errorCode`` when
    present, else the Google ``status``; the body excerpt when the body is not that shape."""
    try:
        error = response.json()["error"]
        message = str(error.get("message") or "")
        code = ""
        for detail in error.get("details") or []:
            if isinstance(detail, dict) and detail.get("errorCode"):
                code = str(detail["errorCode"])
                break
        code = code or str(error.get("status") or "")
        return code, clip(message or body_excerpt(response), 300)
    except (ValueError, KeyError, TypeError, AttributeError):
        return "", body_excerpt(response)
