"""Every page in Korean, then in English, in a real headless Chromium, on a world with data.

An admin whose preference is Korean on Seoul's clock walks every page the navigation reaches
(home, the queue and its rejected tab, a candidate's page and a launched content's page, the
overview, the campaigns, a finished and the running campaign, the pushed contents, models and
their training runs, the system page, My settings), takes one action (approving a title), and
meets the 403 page (as an editor), the login page and the lockout page (as someone not logged
in, whose browser asks for Korean). On each page the visible text (``innerText``, with closed
<details> opened), the title / placeholder / aria-label attributes and the charts' labels, with
the world's data taken out (titles, bodies, external ids, categories, client and user names,
title texts, provider errors, worker and queue names, time-zone names; numbers and dates),
must hold no ASCII word of two letters or more outside ``ALLOWED``. Then an admin on English
walks the same pages: no Hangul outside the data.

Screenshots of the queue, a content page, a campaign page, the overview and the models page in both languages go
to $PUSHADMIN_TEST_OUTPUT (i18n-ko-*.png, i18n-en-*.png)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import BROWSER_MARKS, CHROMIUM_ARGS, PASSWORDS, VIEWPORT  # noqa: F401

pytestmark = [*BROWSER_MARKS, pytest.mark.slow,
              pytest.mark.one_database("postgresql", "every page's wording in two languages; the pages' queries run on both elsewhere")]

# ASCII words a Korean page may show, each for a reason. Keep it short.
ALLOWED = {
    "pushadmin",  # the product's name
    "API",  # the menu link to the API's documentation; Korean UIs write the acronym
    "CSV",  # the export's file format
    "AUC",  # a metric's name, as written in Korean too
    "UTC", "KST",  # the time zone after a time, so that nobody wonders which clock it is
    "English",  # the language switch names each language in that language
    "iOS", "Android",  # platforms, by their names (title widths, the phone preview)
    "Redis",  # a component, by its name (the system page)
}
TYPED_REASON = "중복 기사"
WORD = re.compile(r"[A-Za-z]{2,}")
HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]+")

VISIBLE_TEXT = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  // pieces of a title, shown where a platform cuts it: data, and not whole strings of it
  document.querySelectorAll('.cut-preview .shown, .cut-preview .lost').forEach(e => { e.textContent = ''; });
  const attrs = [...document.querySelectorAll('[title], [placeholder], [aria-label]')].flatMap(
    e => ['title', 'placeholder', 'aria-label'].map(a => e.getAttribute(a)).filter(Boolean));
  const charts = [];
  if (window.Chart) {
    document.querySelectorAll('canvas[data-chart]').forEach(c => {
      const ch = Chart.getChart(c); if (!ch) return;
      charts.push(...(ch.data.labels || []).map(String));
      ch.data.datasets.forEach(d => { if (d.label) charts.push(d.label); });
      Object.values(ch.options.scales || {}).forEach(s => { if (s.title && s.title.text) charts.push(s.title.text); });
    });
  }
  return [document.title, document.body.innerText, ...attrs, ...charts].join('\\n');
}"""


def _norm(s: str) -> str:
    return " ".join(str(s).split())


class Data:
    """The world's data strings, taken out of a page's text before its words are checked: whole
    (not inside a longer word), case-insensitively (CSS may change the case), and cut short with
    "…" (the first 12 characters, then anything up to the "…")."""

    def __init__(self, strings):
        strings = sorted({_norm(s) for s in strings if s and _norm(s)}, key=len, reverse=True)
        edge = r"(?<![A-Za-z0-9]){}(?![A-Za-z0-9])"
        self.patterns = [re.compile(re.escape(s[:12]) + r"[^…\n]{0,200}…", re.I) for s in strings if len(s) > 12]
        self.patterns += [re.compile(edge.format(re.escape(s)), re.I) for s in strings]

    def strip(self, text: str) -> str:
        text = "\n".join(_norm(line) for line in text.splitlines())
        for pattern in self.patterns:
            text = pattern.sub(" ", text)
        return text


def world_data(people) -> Data:
    from zoneinfo import available_timezones

    from apps.contents.models import Content, TitleVariant
    from apps.core.models import Client
    from apps.delivery.models import Send

    strings = []
    for c in Content.objects.all():
        strings += [c.title, c.external_id, c.category, c.url]
        strings += c.body.split("\n")
    strings += list(TitleVariant.objects.values_list("text", flat=True))
    strings += list(TitleVariant.objects.values_list("template_name", flat=True))
    for client in Client.objects.all():
        strings += [client.name, client.slug]
    strings += [p.get_username() for p in people.values()] + ["nobody"]
    strings += list(Send.objects.exclude(error="").values_list("error", flat=True).distinct())
    strings += list(Send.objects.exclude(provider="").values_list("provider", flat=True).distinct())
    strings += ["celery@web-1", "default", "sends", "ml", "shards"]  # the worker's name and the queues
    strings += sorted(available_timezones())  # My settings lists the time zones by name
    strings += [TYPED_REASON]  # what the editor typed
    return Data(strings)


def _words(text: str, data: Data) -> list[str]:
    left = data.strip(text)
    allowed = {a.lower() for a in ALLOWED}  # CSS may show a word in capitals
    return sorted({w for w in WORD.findall(left) if w.lower() not in allowed})


def _context_of(word: str, text: str) -> str:
    i = text.find(word)
    return text[max(0, i - 60):i + 60].replace("\n", " | ")


def _build(people, client_a, candidate, t0):
    from apps.contents.services import content_reject
    from apps.core import health
    from apps.mlops.models import TrainingRun
    from apps.mlops.services import model_version_register
    from tests.dashboards.world import build_world

    world = build_world(client=client_a, editor=people["editor"])
    fresh = candidate("i18n-cand", title="Chipmaker shares jump on record quarterly orders",
                      body="Orders for memory chips hit a record in the quarter as data-centre spending keeps growing.")
    other = candidate("i18n-rej", title="서울 지하철 요금 내달부터 150원 인상", language="ko", category="society",
                      body="서울시는 지하철 기본요금을 다음 달부터 150원 올린다고 밝혔다.")
    content_reject(content=other, user=people["editor"], reason=TYPED_REASON, now=t0 + timedelta(minutes=32))
    health.worker_heartbeat(hostname="celery@web-1", queues=["default", "sends"], interval=10)
    health.beat_tick_record()
    split = (t0 - timedelta(days=1)).timestamp()
    mf = model_version_register(client=client_a, kind="mf", build=None, metrics={
        "lift_at_k": 2.4133, "pairs": 5000, "subscriber_coverage": 1.0,
        "promotion": {"lift_at_k": 2.4133, "active_lift_at_k": 2.5012, "diff": -0.0879, "diff_ci": [-0.31, 0.12],
                      "window": {"split": split, "cases": 41, "k": 300}},
        # the check of the orders a client without a click model can take (the models page's table)
        "rankings": {"split": split, "cases": 41, "k": 300, "chosen": "activity", "checked_at": split, "by": {
            "affinity": {"lift": 2.41, "improvement": 1.12},
            "mf": {"lift": 2.02, "improvement": 1.05, "diff": -0.07, "diff_ci": [-0.2, 0.05]},
            "lookalike": {"lift": 2.2, "improvement": 1.1, "diff": -0.02, "diff_ci": [-0.1, 0.06]},
            "activity": {"lift": 3.1, "improvement": 1.31, "diff": 0.19, "diff_ci": [0.04, 0.33]}}}})
    type(mf).objects.filter(pk=mf.pk).update(is_active=True)
    # a click model kept out, with the off-policy estimates beside its AUC
    model_version_register(client=client_a, kind="click", build=None, metrics={"auc": 0.7012, "promotion": {
        "auc": 0.7012, "active_auc": 0.7177, "window": {"split": split, "test_sends": 900, "test_clicks": 31},
        "ope": {"challenger": {"estimate": 1.91, "interval": [1.2, 2.8], "waves": 12, "explored_clicks": 3, "level": 0.9},
                "champion": {"estimate": 2.05, "interval": [1.4, 2.9], "waves": 12, "explored_clicks": 4, "level": 0.9}}}})
    now = world.now
    TrainingRun.objects.create(client=client_a, kind="click", state="succeeded", progress=1.0, message="trained v1 (kept the active version)",
                               created_at=now - timedelta(hours=5), finished_at=now - timedelta(hours=5))
    TrainingRun.objects.create(client=client_a, kind="mf", state="running", progress=0.2, requested_by=people["admin"],
                               message="fitting ALS on 5000 pairs (800 subscribers x 120 contents)",
                               created_at=now - timedelta(minutes=3))
    finished = next(c for c in world.campaigns if c.state != "running" and c.waves.count() > 1)
    return world, fresh, finished


def _pages(world, fresh, finished) -> list[tuple[str, str]]:
    return [
        ("home", "/"),
        ("queue", "/contents/"),
        ("queue-rejected", "/contents/?status=rejected"),
        ("content", f"/contents/{fresh.pk}/"),
        ("content-launched", f"/contents/{world.running.content_id}/"),
        ("overview", "/dashboards/"),
        ("campaigns", "/dashboards/campaigns/"),
        ("campaign", f"/dashboards/campaigns/{finished.pk}/"),
        ("campaign-running", f"/dashboards/campaigns/{world.running.pk}/"),
        ("contents", "/dashboards/contents/"),
        ("models", f"/dashboards/models/?client={world.client.pk}"),
        ("training-runs", f"/dashboards/models/runs/?client={world.client.pk}"),
        ("system", "/dashboards/system/"),
        ("my-settings", "/preferences/"),
    ]


SHOTS = {"queue", "content", "campaign", "overview", "models"}


def _login(browser, live_url, username, password, *, locale):
    context = browser.new_context(viewport=VIEWPORT, locale=locale, timezone_id="UTC")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(live_url("/login/"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(live_url("/"))
    return context, page


def _read(page, live_url, path, shot=None) -> str:
    response = page.goto(live_url(path))
    assert response is not None and response.status in (200, 403, 429), (path, response and response.status)
    page.wait_for_load_state("load")
    if shot:
        shot(page)  # before the reading opens the <details> and blanks the cut titles' pieces
    return page.evaluate(VISIBLE_TEXT)


def test_every_page_in_korean_then_in_english(browser, live_url, people, client_a, candidate, t0, screenshot):
    from apps.core.services import preference_set

    world, fresh, finished = _build(people, client_a, candidate, t0)
    data = world_data(people)
    pages = _pages(world, fresh, finished)

    # --- Korean, on Seoul's clock ---------------------------------------------------------------
    preference_set(user=people["admin"], language="ko", time_zone="Asia/Seoul")
    context, page = _login(browser, live_url, "adm", PASSWORDS["admin"], locale="en-US")  # the preference wins
    found: dict[str, list[str]] = {}
    texts = {}
    for name, path in pages:
        shot = (lambda p, n=name: screenshot(p, f"i18n-ko-{n}")) if name in SHOTS else None
        text = _read(page, live_url, path, shot)
        texts[name] = text
        assert HANGUL.search(text), f"{name}: no Korean at all"
        if words := _words(text, data):
            found[name] = [f"{w}: …{_context_of(w, text)}…" for w in words]
    assert "KST" in texts["content"] and "UTC" not in texts["content"].replace("UTC(기본값)", "")

    # one action: approve a title (htmx), the panel answers in Korean
    page.goto(live_url(f"/contents/{fresh.pk}/"))
    page.locator("li.variant.pending:not(.is-cut) button.approve").first.click()
    expect(page.locator("#review .flash.ok")).to_have_text("제목을 승인했습니다.")
    if words := _words(page.evaluate(VISIBLE_TEXT), data):
        found["content-after-approve"] = words
    context.close()

    # the 403 page, as an editor on Korean
    preference_set(user=people["editor"], language="ko")
    context, page = _login(browser, live_url, "ed", PASSWORDS["editor"], locale="en-US")
    text = _read(page, live_url, "/dashboards/system/")
    assert "권한 없음" in text
    found.update({"403": _words(text, data)} if _words(text, data) else {})
    context.close()

    # the login page and the lockout page, for a browser that asks for Korean
    context = browser.new_context(viewport=VIEWPORT, locale="ko-KR", timezone_id="Asia/Seoul")
    page = context.new_page()
    text = _read(page, live_url, "/login/")
    assert "로그인" in text
    found.update({"login": _words(text, data)} if _words(text, data) else {})
    from django.conf import settings

    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.fill("input[name=username]", "nobody")
        page.fill("input[name=password]", "wrong-password")
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
    expect(page.locator("#login-locked")).to_be_visible()
    text = page.evaluate(VISIBLE_TEXT)
    assert "30분" in text
    found.update({"lockout": _words(text, data)} if _words(text, data) else {})
    screenshot(page, "i18n-ko-lockout")
    context.close()

    assert not found, "English words on Korean pages:\n" + "\n".join(f"{k}: {v}" for k, v in found.items())

    # --- English, on UTC ----------------------------------------------------------------------------
    preference_set(user=people["admin"], language="en", time_zone="")
    context, page = _login(browser, live_url, "adm", PASSWORDS["admin"], locale="ko-KR")  # the preference wins
    hangul = {}
    for name, path in pages:
        shot = (lambda p, n=name: screenshot(p, f"i18n-en-{n}")) if name in SHOTS else None
        text = _read(page, live_url, path, shot)
        left = HANGUL.findall(data.strip(text).replace("한국어", ""))  # the switch names Korean in Korean
        if left:
            hangul[name] = left[:10]
    context.close()
    assert not hangul, f"Korean words on English pages: {hangul}"
