"""Operators at work in a real headless Chromium, on a database filled by the world builder:
every page's charts are drawn (a canvas with pixels, a Chart with data, no console error), the
CSV export downloads the rows the table shows, the stop button and the pause switch work, an
editor sees the campaign read-only, the training progress bar moves by itself. Screenshots go
to $PUSHADMIN_TEST_OUTPUT (dashboard-*.png)."""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from apps.campaigns.models import Campaign
from apps.core import clock
from apps.dashboards import selectors
from tests.browser.conftest import BROWSER_MARKS

pytestmark = [*BROWSER_MARKS, pytest.mark.one_database(
    "postgresql", "the pages in Chromium; their queries run on both in tests/dashboards/test_pages.py and test_selectors.py")]

PIXELS = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n; }"""
CHART_POINTS = """c => { const ch = Chart.getChart(c); if (!ch) return -1;
  return ch.data.datasets.reduce((s, ds) => s + ds.data.filter(v => v !== null && v !== undefined).length, 0); }"""


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def assert_charts_drawn(page, expected: int) -> None:
    canvases = page.locator("canvas[data-chart]")
    expect(canvases).to_have_count(expected)
    for i in range(expected):
        c = canvases.nth(i)
        name = c.get_attribute("data-chart")
        assert c.evaluate(CHART_POINTS) > 0, f"{name}: no chart or no data"
        assert c.evaluate(PIXELS) > 500, f"{name}: nothing drawn"


@pytest.fixture
def world(people, client_a):
    from tests.dashboards.world import build_world

    return build_world(client=client_a, editor=people["editor"])


def test_an_operator_reads_every_page(world, operator_page, live_url, screenshot, people, tmp_path, make_campaign):
    from apps.core import health

    health.worker_heartbeat(hostname="celery@web-1", queues=["default", "sends"], interval=10)
    health.beat_tick_record()
    # the weekly slot's prices and what the planner held back for them, as the click model's
    # pricing and the planner would have written them (tests/campaigns/test_click_model_loop.py
    # makes them for real)
    from apps.audience.models import Subscriber
    from apps.core.services import decision_record

    opted = list(Subscriber.objects.filter(client=world.client, push_opt_in=True).values_list("pk", flat=True).order_by("pk"))
    for n, price in enumerate((0.004, 0.015, 0.03, 0.03, 0.07, 0.12, 0.25)):
        Subscriber.objects.filter(pk__in=opted[n::7]).update(slot_price=price)
    for campaign, held in zip(world.campaigns[-3:], (40, 0, 12)):
        decision_record(client=world.client, action="wave_plan", actor_name="planner", subject="wave:1", campaign=campaign,
                        numbers={"held_back_by_price": held, "slot_lost": 2}, now=clock.now() - timedelta(hours=1))
    page = operator_page
    errors = watch_errors(page)

    # Overview
    page.goto(live_url("/dashboards/"))
    expect(page.locator("h1")).to_have_text("Are pushes bringing people back?")
    assert_charts_drawn(page, 4)
    data = selectors.overview(user=people["operator"], now=clock.now())
    expect(page.locator("#kpi-active")).to_have_text(f"{data['subscribers']['active_7d']:,}")
    expect(page.locator("#slot-share")).to_have_text(f"{data['subscribers']['slot_share'] * 100:.1f}%")
    expect(page.locator(".alert[data-kind=provider_errors]")).to_be_visible()
    expect(page.locator(".alert[data-kind=opt_outs]")).to_be_visible()
    expect(page.locator("table.running tbody tr")).to_have_count(1)
    weekly = page.locator("canvas[data-chart=chart-weekly]").evaluate("c => Chart.getChart(c).data.datasets[0].data")
    assert weekly == [w["active"] for w in data["weeks"]] and sum(x or 0 for x in weekly) > 0
    expect(page.locator("#slot-price-distribution tbody tr")).to_have_count(6)
    expect(page.locator("#slot-contents tbody tr")).to_have_count(2)
    screenshot(page, "dashboard-overview")

    # The running campaign
    page.locator("table.running a.title").click()
    page.wait_for_url(live_url(f"/dashboards/campaigns/{world.running.pk}/"))
    expect(page.locator("h1")).to_have_text(world.running.content.title)
    waves = world.running.waves.count()
    expect(page.locator("table.waves tbody tr[id^=wave-]")).to_have_count(waves)
    charts = 4 + (1 if page.locator("canvas[data-chart=chart-variants]").count() else 0)
    assert_charts_drawn(page, charts)
    expect(page.get_by_role("button", name="Stop campaign")).to_be_visible()
    expect(page.locator(".decision-log tbody tr").first).to_be_visible()
    band = page.locator("canvas[data-chart=chart-improvement]").evaluate(
        "c => Chart.getChart(c).data.datasets.map(d => d.label)")
    assert any("Anytime-valid" in b for b in band) and any("one look only" in b for b in band)
    assert any(b.startswith("Floor") for b in band) and any(b.startswith("Target") for b in band)
    screenshot(page, "dashboard-campaign")

    # A finished campaign with more waves
    longest = max(world.campaigns[:-1], key=lambda c: c.waves.count())
    page.goto(live_url(f"/dashboards/campaigns/{longest.pk}/"))
    expect(page.locator("table.waves tbody tr[id^=wave-]")).to_have_count(longest.waves.count())
    expect(page.get_by_role("button", name="Stop campaign")).to_have_count(0)
    assert_charts_drawn(page, page.locator("canvas[data-chart]").count())
    short = [w for w in selectors.campaign_page(user=people["operator"], pk=longest.pk, now=clock.now())["waves"] if w["short"]]
    expect(page.locator(".shortfall")).to_have_count(len(short))
    screenshot(page, "dashboard-campaign-finished")


    # Contents: sort, filter, export
    page.goto(live_url("/dashboards/contents/"))
    rows = page.locator("table.contents-table tbody tr")
    expect(rows).to_have_count(len(world.campaigns))
    page.locator("th a.sort", has_text="Achieved").click()
    expect(page.locator("th a.sort.on")).to_contain_text("Achieved")
    achieved = [r.get_attribute("data-campaign") for r in rows.all()]
    ranked = sorted(world.campaigns, key=lambda c: (-(c.clicks / c.expected_clicks) if c.expected_clicks else 1e9, -c.pk))
    assert achieved == [str(c.pk) for c in ranked]
    screenshot(page, "dashboard-contents")
    category = world.campaigns[0].content.category
    page.select_option("select[name=category]", category)
    page.get_by_role("button", name="Apply").click()
    wanted = [c for c in world.campaigns if c.content.category == category]
    expect(rows).to_have_count(len(wanted))
    with page.expect_download() as download:
        page.locator("#csv-export").click()
    path = tmp_path / "export.csv"
    download.value.save_as(path)
    exported = list(csv.DictReader(path.open(encoding="utf-8")))
    assert sorted(int(r["campaign_id"]) for r in exported) == sorted(c.pk for c in wanted)
    for r in exported:
        c = Campaign.objects.get(pk=r["campaign_id"])
        assert (int(r["sends"]), int(r["clicks"]), r["category"]) == (c.sends, c.clicks, category)
    assert [int(r["campaign_id"]) for r in exported] == [int(x.get_attribute("data-campaign")) for x in rows.all()]

    # System
    page.goto(live_url("/dashboards/system/"))
    assert_charts_drawn(page, 2)
    expect(page.locator("#workers-alive")).to_have_text("1")
    expect(page.locator("table.providers tbody tr")).to_have_count(1)
    expect(page.locator("table.providers")).to_contain_text("log")
    screenshot(page, "dashboard-system")

    # A wave smaller than planned says why
    short = make_campaign(world.client, created_at=clock.now() - timedelta(hours=3), title="Short of people", waves=[
        {"sends": 400, "clicks": 9, "expected": 4.0, "decision": "expand",
         "plan": {"planned": 400, "target": 400, "eligible": 9000, "chosen": 400}},
        {"sends": 150, "planned": 1200, "clicks": 2, "expected": 1.5, "decision": "stop",
         "plan": {"planned": 1200, "target": 600, "eligible": 180, "chosen": 170, "held_back_by_price": 12,
                  "held_out": 8, "slot_lost": 12}}])
    page.goto(live_url(f"/dashboards/campaigns/{short.pk}/"))
    expect(page.locator("#wave-2 + tr .shortfall")).to_contain_text("of 1,200 planned: the campaign's maximum left room for 600")
    expect(page.locator(".shortfall")).to_have_count(1)
    screenshot(page, "dashboard-campaign-short")

    assert errors == []


def test_stop_button_pause_switch_and_the_editors_read_only_view(world, login_as, live_url, screenshot):
    from apps.core.models import Switch

    editor = login_as("editor")
    errors = watch_errors(editor)
    editor.goto(live_url(f"/dashboards/campaigns/{world.running.pk}/"))
    expect(editor.locator(".readonly")).to_contain_text("Read-only")
    expect(editor.get_by_role("button", name="Stop campaign")).to_have_count(0)
    assert_charts_drawn(editor, editor.locator("canvas[data-chart]").count())
    assert errors == []
    assert editor.goto(live_url("/dashboards/")).status == 403  # the overview is for operators
    errors.clear()

    operator = login_as("operator")
    errors += watch_errors(operator)
    operator.goto(live_url(f"/dashboards/campaigns/{world.running.pk}/"))
    operator.on("dialog", lambda d: d.accept())
    operator.fill(".stop-form input[name=reason]", "wrong audience")
    operator.get_by_role("button", name="Stop campaign").click()
    expect(operator.locator(".messages")).to_contain_text("stopped")
    expect(operator.locator(".status").first).to_have_text("stopped")
    running = Campaign.objects.get(pk=world.running.pk)
    assert running.state == "stopped" and running.end_reason == "stopped by op: wrong audience"

    # the operator's switch is their client's: paused, the row says so; every client's is not theirs
    operator.goto(live_url("/dashboards/system/"))
    expect(operator.get_by_role("button", name="Pause every client")).to_have_count(0)
    name = world.client.name
    operator.get_by_role("button", name=f"Pause {name}").click()
    row = operator.locator(f"#client-switches tr[data-client='{world.client.slug}']")
    expect(row.locator(".state")).to_have_text("paused")
    expect(operator.locator(".messages")).to_contain_text(f"Sending for {name} is paused")
    expect(operator.locator("#pause h2")).to_have_text(f"Sending is paused for {name}")
    assert Switch.objects.get(name="sending_paused", client=world.client).on
    screenshot(operator, "dashboard-system-paused")
    operator.get_by_role("button", name=f"Resume {name}").click()
    expect(row.locator(".state")).to_have_text("on")
    expect(operator.locator("#pause h2")).to_have_text("Sending is on")
    assert not Switch.objects.get(name="sending_paused", client=world.client).on
    assert errors == []


def test_training_progress_moves_without_a_reload_and_admins_retrain_and_activate(admin_page, live_url, screenshot, client_a):
    from apps.mlops.models import ModelVersion, TrainingRun

    now = clock.now()
    for kind, metric, values in (("mf", "recall_at_20", (0.182, 0.201, 0.197)), ("click_delay", "log_likelihood", (-2.91, -2.87)),
                                 ("push_worthiness", "auc", (0.71, 0.74))):
        for i, value in enumerate(values, start=1):
            ModelVersion.objects.create(client=client_a, kind=kind, version=i, artifact_path=f"{kind}/v{i}", metrics={metric: value},
                                        created_at=now - timedelta(days=len(values) - i), is_active=(value == max(values)))
    run = TrainingRun.objects.create(client=client_a, kind="mf", state="running", progress=0.3, message="epoch 3 of 10", created_at=now,
                                     started_at=now)
    page = admin_page
    errors = watch_errors(page)
    page.goto(live_url(f"/dashboards/models/?client={client_a.pk}"))
    bar = page.locator(f"#run-{run.pk} .progress")
    expect(bar).to_have_attribute("aria-valuenow", "30")
    TrainingRun.objects.filter(pk=run.pk).update(progress=0.8, message="epoch 8 of 10")
    expect(page.locator(f"#run-{run.pk} .progress")).to_have_attribute("aria-valuenow", "80", timeout=8000)
    expect(page.locator(f"#run-{run.pk}")).to_contain_text("epoch 8 of 10")
    screenshot(page, "dashboard-models")

    page.on("dialog", lambda d: d.accept())
    older = ModelVersion.objects.get(kind="mf", version=3)
    page.locator(f"#version-{older.pk}").get_by_role("button", name="Activate", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("v3 is active")
    assert ModelVersion.objects.get(kind="mf", is_active=True).version == 3
    page.locator("#model-click_delay").get_by_role("button", name="Retrain").click()
    expect(page.locator(".messages")).to_contain_text("queued")
    assert TrainingRun.objects.filter(kind="click_delay", state="queued").count() == 1
    assert errors == []
