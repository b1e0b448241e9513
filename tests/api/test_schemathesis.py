"""Schemathesis against the live schema: every operation, generated requests, never a 5xx.

The schema is the one the app serves at ``/api/schema/``, loaded through the project's own WSGI
application (``pushadmin.wsgi``), and every request goes through that same application
in-process: middleware, authentication with a real API key of a test client, throttling,
parsers, views, services and the test database (SQLite in the first pass of ``bin/test``,
PostgreSQL in the second). The world seeded below gives the lists rows to return; the hooks make
about half of the detail and PUT requests name an existing content or campaign, and a share of
the batch items name real subscribers, contents, sends and time zones, so that requests get past
"unknown" to the writes.

Generation runs schemathesis's pytest phases: examples from the schema (it has none yet), the
deterministic coverage cases at the edges of every parameter (wrong methods and content types
included), and fuzzing, in both modes: ``positive`` (requests the schema allows) and
``negative`` (requests it forbids: wrong types, missing required fields, values past the
limits). Derandomized: the same cases every run, unless ``PUSHADMIN_SCHEMATHESIS_SEED`` is set.

The checks enforced are ``CHECKS``: no 5xx (and the suite's ``_no_server_errors`` guard on top),
and every answer as the schema documents it: status, content type, headers, body.

The counts (operations, cases, by status, mode, phase and operation, time) go to
``$PUSHADMIN_TEST_OUTPUT/schemathesis-<database>.json`` (default ``test-output/``), and the last
test fails a run in which an operation got fewer than ``MIN_CASES_PER_OPERATION`` cases, so an
empty or silently shrunken run cannot pass. docs/security.md has the numbers and what the run
does not cover.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from django.db import connection
from hypothesis import HealthCheck, settings, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pushadmin.wsgi import application

# The checks every response must pass: no server error, and the answer the schema documents.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]

# Fuzzing cases per operation, shared between the two modes; the coverage phase adds its own
# deterministic cases on top. A longer hunt with another seed, locally:
#   PUSHADMIN_SCHEMATHESIS_EXAMPLES=2000 PUSHADMIN_SCHEMATHESIS_SEED=11 bin/test -k schemathesis
MAX_EXAMPLES = int(os.environ.get("PUSHADMIN_SCHEMATHESIS_EXAMPLES", "250"))
SEED = os.environ.get("PUSHADMIN_SCHEMATHESIS_SEED")  # unset: derandomized, the same cases every run
# An operation with fewer cases than this has lost its generator (fuzzing alone makes about MAX_EXAMPLES).
MIN_CASES_PER_OPERATION = max(1, MAX_EXAMPLES // 2)
OPERATIONS = {
    "GET /api/v1/campaigns/", "GET /api/v1/campaigns/{id}/", "GET /api/v1/contents/",
    "GET /api/v1/contents/{external_id}/", "PUT /api/v1/contents/{external_id}/",
    "POST /api/v1/events/", "POST /api/v1/subscribers/bulk/",
}

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    deterministic=SEED is None,
    database="none",
    # The key is sent with every case; refused or missing keys are tests/api/test_auth.py's.
    with_security_parameters=False,
)
if SEED is not None:
    schema.config.seed = int(SEED)

# What the seeded world holds, for the hooks below: filled by the ``world`` fixture, read while
# cases are drawn (ids differ between databases and runs).
SEEDED: dict[str, list] = {"contents": [], "campaigns": [], "subscribers": [], "sends": []}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Half the cases name a row that exists, so that detail and PUT reach past the 404."""
    if not path_parameters:
        return st.just(path_parameters)
    if "external_id" in path_parameters:
        pool, name = SEEDED["contents"], "external_id"
    elif "id" in path_parameters:
        pool, name = SEEDED["campaigns"], "id"
    else:
        return st.just(path_parameters)
    return st.one_of(st.just(path_parameters), st.sampled_from(pool).map(lambda v: {**path_parameters, name: v}))


ZONES = ["UTC", "Asia/Seoul", "Europe/Berlin", "America/Sao_Paulo"]
SUBSCRIBER_FIELDS = {"external_id", "push_opt_in", "timezone", "platform", "push_token", "locale", "last_activity_at"}


@schema.hook
def flatmap_body(context, body):
    """In a share of the cases, batch items that name real rows and a real time zone, so that
    events are stored and clicks attributed and subscribers inserted and updated, instead of every
    generated name being refused as unknown (the schema cannot say which names exist)."""
    label = context.operation.label if context.operation else ""
    if label == "POST /api/v1/events/" and _is_batch(body, "events"):
        # Each event has its own verdict: rewire item by item.
        picks = st.lists(st.tuples(st.sampled_from(["keep", "names", "send"]), st.integers(0, 63)),
                         min_size=len(body["events"]), max_size=len(body["events"]))
        return picks.map(lambda chosen: {**body, "events": [
            _event(item, kind, i) for item, (kind, i) in zip(body["events"], chosen)]})
    if label == "POST /api/v1/subscribers/bulk/" and _is_batch(body, "subscribers"):
        # One bad item refuses the batch: keep it as generated, or make every item one the API takes.
        def rewired(offset: int) -> dict:
            return {**body, "subscribers": [_subscriber(item, offset + i) for i, item in enumerate(body["subscribers"])]}

        return st.one_of(st.just(body), st.integers(0, 63).map(rewired))
    return st.just(body)


def _is_batch(body, key: str) -> bool:
    return isinstance(body, dict) and isinstance(body.get(key), list)


def _pick(pool: str, i: int):
    return SEEDED[pool][i % len(SEEDED[pool])]


def _event(item, kind: str, i: int):
    if not isinstance(item, dict) or kind == "keep":
        return item
    if kind == "names":
        return {**item, "subscriber": _pick("subscribers", i), "content": _pick("contents", i)}
    return {**{k: v for k, v in item.items() if k not in ("subscriber", "content")}, "send_id": _pick("sends", i)}


def _subscriber(item, i: int):
    if not isinstance(item, dict):
        return item
    item = {k: v for k, v in item.items() if k in SUBSCRIBER_FIELDS}
    if "timezone" in item:
        item["timezone"] = ZONES[i % len(ZONES)]
    if i % 2:  # every other one an update of a stored subscriber
        item["external_id"] = _pick("subscribers", i)
    return item


@pytest.fixture
def world(make_client, content_factory, subscriber_factory, now):
    """A client with an API key, contents with and without campaigns, subscribers and sends."""
    from apps.audience.models import Subscriber
    from apps.campaigns.models import Campaign, Wave
    from apps.contents.models import TitleVariant
    from apps.delivery.models import Send

    client = make_client("news", api_rate="1000000/min")  # the run is not about throttling
    subs = subscriber_factory(client, 12)
    contents = [content_factory(client, f"c{i}", created_at=now - timedelta(minutes=10 + i)) for i in range(1, 7)]
    campaigns, sends = [], []
    for content in contents[:3]:
        variant = TitleVariant.objects.create(content=content, text=content.title, source="original", review="approved")
        campaign = Campaign.objects.create(client=client, content=content, created_at=now, sends=4, clicks=1,
                                           expected_clicks=0.5)
        wave = Wave.objects.create(campaign=campaign, number=1, planned_size=4, sends=4, clicks=1, expected_clicks=0.5,
                                   created_at=now, sent_at=now, state="observing")
        Wave.objects.create(campaign=campaign, number=2, planned_size=16, created_at=now)
        sends += Send.objects.bulk_create([  # (each send counted in its subscriber's push history, as dispatch does)
            Send(campaign=campaign, wave=wave, subscriber=s, title_variant=variant, state="sent", baseline_ctr=0.05,
                 created_at=now, sent_at=now) for s in subs[:4]])
        campaigns.append(campaign)
    Subscriber.objects.filter(pk__in=[s.pk for s in subs[:4]]).update(push_sends=len(campaigns))
    other = make_client("blog")  # rows of another client: never visible, never touched
    content_factory(other, "c1")
    subscriber_factory(other, 2)

    SEEDED.update(contents=[c.external_id for c in contents], campaigns=[c.pk for c in campaigns],
                  subscribers=[s.external_id for s in subs], sends=[s.pk for s in sends])
    yield {"Authorization": f"Api-Key {client.plain_key}"}
    for pool in SEEDED.values():
        pool.clear()


class Tally:
    """Cases per operation, by status, mode (positive / negative) and phase (coverage / fuzzing)."""

    def __init__(self):
        self.cases: dict[str, Counter] = defaultdict(Counter)
        self.started: float | None = None  # wall clock and CPU time of the first case
        self.started_cpu = 0.0
        self.request_seconds = 0.0

    def add(self, case, status: int, seconds: float) -> None:
        meta = case.meta
        self.cases[case.operation.label].update([
            "cases", f"{status // 100}xx", f"status:{status}",
            meta.generation.mode.value if meta else "mode:unknown",
            f"phase:{meta.phase.name.value}" if meta else "phase:unknown",
        ])
        self.request_seconds += seconds

    def summary(self) -> dict:
        total = sum(self.cases.values(), Counter())

        def prefixed(prefix: str) -> dict:
            return {k.removeprefix(prefix): v for k, v in sorted(total.items()) if k.startswith(prefix)}

        return {
            "database": connection.vendor,
            "schemathesis": schemathesis.__version__,
            "max_examples": MAX_EXAMPLES,
            "seed": SEED or "derandomized",
            "operations": len(self.cases),
            "cases": total["cases"],
            "by_status_class": {k: total[k] for k in ("2xx", "3xx", "4xx", "5xx")},
            "by_status": prefixed("status:"),
            "by_mode": {k: total[k] for k in ("positive", "negative")},
            "by_phase": prefixed("phase:"),
            "seconds": round(time.monotonic() - self.started, 1) if self.started else 0.0,
            "cpu_seconds": round(time.process_time() - self.started_cpu, 1) if self.started else 0.0,
            "request_seconds": round(self.request_seconds, 1),
            "by_operation": {label: dict(sorted(counts.items())) for label, counts in sorted(self.cases.items())},
        }


TALLY = Tally()
TEST_PREFIX = "test_no_server_error["


@pytest.mark.django_db
@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # the world is seeded once per operation
def test_no_server_error(case, world, in_process_requests):
    if TALLY.started is None:
        TALLY.started, TALLY.started_cpu = time.monotonic(), time.process_time()
    started = time.perf_counter()
    response = case.call_and_validate(headers=world, checks=CHECKS)
    TALLY.add(case, response.status_code, time.perf_counter() - started)


def test_every_operation_ran_with_enough_cases(request):
    """Writes the counts, and fails a run that lost operations or cases (must stay the module's last test)."""
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert labels >= OPERATIONS, f"operations missing from the live schema: {sorted(OPERATIONS - labels)}"
    selected = {item.name[len(TEST_PREFIX):-1] for item in request.session.items if item.name.startswith(TEST_PREFIX)}
    if not selected:
        pytest.skip("no schemathesis operation was selected")

    summary = TALLY.summary()
    out = Path(os.environ.get("PUSHADMIN_TEST_OUTPUT", "test-output"))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"schemathesis-{summary['database']}.json").write_text(json.dumps(summary, indent=2) + "\n")

    assert set(summary["by_operation"]) == selected, "some selected operations generated no case"
    thin = {label: counts["cases"] for label, counts in summary["by_operation"].items()
            if counts["cases"] < MIN_CASES_PER_OPERATION}
    assert not thin, f"fewer than {MIN_CASES_PER_OPERATION} cases: {thin}"
    assert summary["by_status_class"]["5xx"] == 0
