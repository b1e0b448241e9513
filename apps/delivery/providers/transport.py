"""What the HTTP providers share: a pooled session, the retry loop, backoff with jitter,
``Retry-After``, the shared rate limit, and the rules that decide permanent versus retry.

One message is one HTTP request. A message is tried up to ``max_attempts`` times in all within
one ``send_batch`` (the ``HTTP_ATTEMPTS`` setting; the dispatcher's own retries of a send, with
``SEND_ATTEMPTS``, come on top):

- 2xx: accepted.
- 408, 429, 5xx, timeouts and connection errors: tried again after ``Retry-After`` when the
  response has one (seconds or an HTTP date), otherwise after an exponential backoff with jitter.
  A ``Retry-After`` longer than ``retry_after_max`` is not waited for inline: the message (and the
  rest of the batch) comes back as a non-permanent failure carrying ``retry_after``, for the
  dispatcher to schedule.
- a provider may also answer "not now, but go on with the others" (FCM's
  ``THIRD_PARTY_AUTH_ERROR``): a non-permanent failure without inline retries.
- 401 and 403 (our credentials or the endpoint's configuration), 3xx (a moved URL) and TLS
  errors: nothing is wrong with the message, so it is a non-permanent failure and the rest of the
  batch is not attempted.
- any other 4xx: a permanent failure, with the status and an excerpt of the body.

A batch protects the worker's time: once a message has used all its attempts, the next message
gets a single probe attempt; if that also fails for a retryable reason, the remaining messages come
back unattempted (non-permanent) instead of each waiting through its own retries.

So do the batches after it: a batch that stops that way pauses the provider instance (one per
worker process, see ``get_provider``) for ``Retry-After`` or ``cooldown`` seconds, during which
``send_batch`` returns every message unattempted at once. The first message after the pause is a
probe again.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timezone

import redis
import requests
from requests.adapters import HTTPAdapter

from .base import DeliveryResult, PushMessage, clip
from .ratelimit import RateLimitTimeout

logger = logging.getLogger("apps.delivery.providers")

OK, PERMANENT, RETRY, DEFER, HALT = "ok", "permanent", "retry", "defer", "halt"
LOCAL = "local"  # a message refused before any request
USER_AGENT = "pushadmin-delivery/1"
BODY_EXCERPT_CHARS = 200


class AttemptFailed(Exception):
    """Raised by ``_prepare`` when an attempt cannot even be made (e.g. no access token)."""

    def __init__(self, outcome: "Outcome"):
        super().__init__(outcome.error)
        self.outcome = outcome


@dataclass(frozen=True)
class Outcome:
    """The verdict on one HTTP attempt."""

    kind: str  # ok | permanent | retry | defer | halt
    error: str = ""
    retry_after: float | None = None
    message_id: str = ""


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date. ``None``
    when absent or unreadable; never negative."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def body_excerpt(response: requests.Response) -> str:
    raw = response.content[: BODY_EXCERPT_CHARS * 2].decode("utf-8", "replace")
    return clip(raw, BODY_EXCERPT_CHARS) or "(empty body)"


def pooled_session(pool_size: int = 10) -> requests.Session:
    session = requests.Session()
    # No retries inside urllib3: the provider counts and paces every attempt itself.
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


class HttpProvider:
    """Base of the webhook and FCM providers. Subclasses give ``_prepare`` (the request for one
    attempt) and may refine ``_validate``, ``_classify`` and ``_message_id``."""

    name = "http"
    label = "HTTP"

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        max_attempts: int = 2,
        limiter=None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        retry_after_max: float = 10.0,
        retry_after_report_max: float = 3600.0,
        cooldown: float = 30.0,
    ):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.timeout = float(timeout)
        self.max_attempts = int(max_attempts)
        self.limiter = limiter
        self.session = session if session is not None else pooled_session()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.retry_after_max = float(retry_after_max)
        self.retry_after_report_max = float(retry_after_report_max)
        self.cooldown = float(cooldown)
        self._paused_until = 0.0
        self._pause_reason = ""  # non-empty: the last batch stopped; probe before trusting again

    # --- the batch -------------------------------------------------------------------------
    def send_batch(self, messages: Sequence[PushMessage]) -> list[DeliveryResult]:
        now = self._clock()
        if now < self._paused_until:
            wait = self._paused_until - now
            return [self._unattempted(m, f"{self._pause_reason} (sending paused {wait:.1f} s more)", wait)
                    for m in messages]
        results: list[DeliveryResult] = []
        halted: DeliveryResult | None = None
        probing = bool(self._pause_reason)
        for message in messages:
            if halted is not None:
                results.append(self._unattempted(message, halted.error, halted.retry_after))
                continue
            result, verdict = self._deliver(message, attempts=1 if probing else self.max_attempts)
            results.append(result)
            if verdict == HALT or (verdict == RETRY and probing):
                halted = result
                pause = result.retry_after if result.retry_after is not None else self.cooldown
                self._paused_until = self._clock() + pause
                self._pause_reason = result.error
                logger.warning("%s: stopping at send %s, %d left unattempted, paused %.1f s: %s",
                               self.name, message.send_id, len(messages) - len(results), pause, result.error)
            elif verdict != LOCAL:
                probing = verdict == RETRY
                self._pause_reason = ""
        return results

    @staticmethod
    def _unattempted(message: PushMessage, reason: str, retry_after: float | None) -> DeliveryResult:
        return DeliveryResult(send_id=message.send_id, ok=False, permanent=False,
                              error=clip(f"not attempted: {reason}"), retry_after=retry_after, attempted=False)

    # --- one message -----------------------------------------------------------------------
    def _deliver(self, message: PushMessage, *, attempts: int) -> tuple[DeliveryResult, str]:
        """Returns the result and the verdict for the batch: ok/permanent/defer (the endpoint
        works), retry (attempts used up), halt (do not try the rest now), local (refused without
        a request)."""
        problem = self._validate(message)
        if problem:  # refused here: says nothing about the endpoint
            return self._fail(message, problem, permanent=True), LOCAL
        last: Outcome | None = None
        for attempt in range(1, attempts + 1):
            # Refused by the limiter before the first request: the push never left, and the
            # hand-over does not count against it (as for the rest of the batch, unattempted).
            try:
                if self.limiter is not None:
                    self.limiter.acquire(1)
            except RateLimitTimeout as exc:
                return self._fail(message, str(exc), retry_after=exc.retry_after, attempted=attempt > 1), HALT
            except (redis.RedisError, OSError) as exc:  # the limiter's Redis is unreachable: do not send unpaced
                return self._fail(message, f"rate limiter unavailable: {type(exc).__name__}: {exc}",
                                  attempted=attempt > 1), HALT

            outcome = self._attempt(message, attempt)
            if outcome.kind == OK:
                return DeliveryResult(send_id=message.send_id, ok=True, provider_message_id=outcome.message_id), OK
            if outcome.kind == PERMANENT:
                return self._fail(message, outcome.error, permanent=True), PERMANENT
            if outcome.kind == HALT:
                return self._fail(message, outcome.error, retry_after=outcome.retry_after), HALT
            if outcome.kind == DEFER:
                return self._fail(message, outcome.error, retry_after=outcome.retry_after), DEFER

            last = outcome
            if outcome.retry_after is not None and outcome.retry_after > self.retry_after_max:
                return self._fail(
                    message, f"{outcome.error} (asked to wait {outcome.retry_after:g} s)",
                    retry_after=outcome.retry_after,
                ), HALT
            if attempt == attempts:
                break
            wait = outcome.retry_after if outcome.retry_after is not None else self._backoff(attempt)
            logger.info("%s: send %s attempt %d/%d failed (%s); again in %.2f s",
                        self.name, message.send_id, attempt, attempts, outcome.error, wait)
            self._sleep(wait)
        assert last is not None
        plural = "attempt" if attempts == 1 else "attempts"
        logger.warning("%s: send %s failed after %d %s: %s", self.name, message.send_id, attempts, plural, last.error)
        return self._fail(message, f"{last.error} (gave up after {attempts} {plural})", retry_after=last.retry_after), RETRY

    def _attempt(self, message: PushMessage, attempt: int) -> Outcome:
        try:
            url, headers, body = self._prepare(message, attempt)
        except AttemptFailed as exc:
            return exc.outcome
        try:
            response = self.session.post(url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False)
            response.content  # read it all now, so the connection goes back to the pool
        except requests.Timeout as exc:
            kind = "connect" if isinstance(exc, requests.ConnectTimeout) else "read"
            return Outcome(RETRY, f"{self.label} timeout after {self.timeout:g} s ({kind})")
        except requests.exceptions.SSLError as exc:
            return Outcome(HALT, f"{self.label} TLS error: {exc}")
        except requests.RequestException as exc:
            return Outcome(RETRY, f"{self.label} connection error: {type(exc).__name__}: {exc}")
        return self._classify(response)

    def _classify(self, response: requests.Response) -> Outcome:
        status = response.status_code
        if 200 <= status < 300:
            return Outcome(OK, message_id=self._message_id(response))
        error = f"{self.label} HTTP {status}: {body_excerpt(response)}"
        return Outcome(self._kind_for_status(status), error, self._retry_after(response))

    @staticmethod
    def _kind_for_status(status: int) -> str:
        if status in (408, 429) or status >= 500:
            return RETRY
        if status in (401, 403) or 300 <= status < 400:
            return HALT
        return PERMANENT

    def _retry_after(self, response: requests.Response) -> float | None:
        seconds = parse_retry_after(response.headers.get("Retry-After"), now=self._clock())
        return None if seconds is None else min(seconds, self.retry_after_report_max)

    def _backoff(self, attempt: int) -> float:
        """Exponential, capped, with "equal jitter": between half and all of
        ``min(backoff_max, backoff_base * 2 ** (attempt - 1))``."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    def _fail(self, message: PushMessage, error: str, *, permanent: bool = False,
              retry_after: float | None = None, attempted: bool = True) -> DeliveryResult:
        return DeliveryResult(send_id=message.send_id, ok=False, permanent=permanent,
                              error=clip(error), retry_after=retry_after, attempted=attempted)

    # --- what subclasses give ---------------------------------------------------------------
    def _validate(self, message: PushMessage) -> str | None:
        """A reason to refuse the message without sending it (a permanent failure), or None."""
        return None

    def _prepare(self, message: PushMessage, attempt: int) -> tuple[str, dict[str, str], bytes]:
        raise NotImplementedError

    def _message_id(self, response: requests.Response) -> str:
        return ""

    def close(self) -> None:
        self.session.close()
