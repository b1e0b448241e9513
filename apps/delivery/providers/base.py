"""The provider contract: what the dispatcher hands over and what it gets back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

# Send.error is a CharField(max_length=500); every error string fits in it.
MAX_ERROR_CHARS = 480


@dataclass(frozen=True)
class PushMessage:
    """One push to one device, as the dispatcher built it from an outbox row."""

    send_id: int
    campaign_id: int
    content_external_id: str
    subscriber_external_id: str
    push_token: str
    platform: str  # android | ios | web
    title: str
    body: str
    url: str
    data: Mapping[str, str] = field(default_factory=dict)  # extra key-values for the app


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one message.

    ``ok``: the provider accepted it. Otherwise ``permanent`` says whether trying again can help
    (False: the dispatcher may retry later, after ``retry_after`` seconds when the provider asked
    for a wait); ``error`` is the human-readable reason, with the HTTP status when there was one.
    """

    send_id: int
    ok: bool
    provider_message_id: str = ""
    permanent: bool = False
    error: str = ""
    retry_after: float | None = None
    attempted: bool = True  # False: not handed to the provider at all (paused, rate limit); no attempt used


@runtime_checkable
class Provider(Protocol):
    name: str

    def send_batch(self, messages: Sequence[PushMessage]) -> list[DeliveryResult]:
        """One result per message, in the same order. Delivery problems are results, not
        exceptions."""
        ...


def clip(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
