"""Languages and time zones: how a request's language and clock are chosen, the Korean
catalogue (complete, compiled, nothing left to extract), and the words for stored codes and
sentences. The pages walked in Korean and English with a browser: tests/browser/test_i18n_pages.py."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client as WebClient
from django.utils import translation

from apps.core.models import Preference
from apps.core.services import preference_set

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "ko" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# The options of bin/messages: the project's own code and templates, not the tests or the library.
MAKEMESSAGES = ["makemessages", "-l", "ko", "--no-obsolete", "--no-location", "-i", "tests/*", "-i", "bench/*",
                "-i", "recsys/*", "-i", "scripts/*", "-i", "docs/*", "-i", "var/*", "-i", "staticfiles/*",
                "-i", "test-output/*"]


# --- The catalogue -----------------------------------------------------------------------------

def parse_po(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (a list: one per plural
    form), flags. Enough of the format for the files makemessages writes (no polib here)."""

    def unquote(s: str) -> str:
        return re.sub(r'\\(["\\nt])', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s)

    entries, cur, key = [], None, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if cur is not None and "msgid" in cur:
                entries.append(cur)
            cur, key = None, None
            continue
        cur = cur if cur is not None else {"flags": set(), "msgctxt": None, "msgid_plural": None, "msgstr": {}}
        if line.startswith("#,"):
            cur["flags"] |= {f.strip() for f in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif m := re.match(r'(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?) "(.*)"$', line):
            if m.group(1).startswith("msgstr"):
                key = ("msgstr", int(m.group(2) or 0))
                cur["msgstr"][key[1]] = unquote(m.group(3))
            else:
                key = (m.group(1), None)
                cur[m.group(1)] = unquote(m.group(3))
        else:
            text = unquote(re.match(r'"(.*)"$', line).group(1))
            if key[0] == "msgstr":
                cur["msgstr"][key[1]] += text
            else:
                cur[key[0]] += text
    for e in entries:
        e["msgstr"] = [e["msgstr"][i] for i in sorted(e["msgstr"])]
    return [e for e in entries if e["msgid"]]  # not the header


def _placeholders(s: str) -> list[str]:
    return sorted(re.findall(r"%\([a-z_]+\)[sdr]|%\([a-z_]+\)0?\d*d", s))


def test_every_korean_string_is_translated_and_keeps_its_placeholders():
    entries = parse_po(PO)
    assert len(entries) > 400
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"]) or not e["msgstr"]]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not untranslated, f"untranslated in {PO.name}: {untranslated[:10]}"
    assert not fuzzy, f"fuzzy in {PO.name} (check them, then drop the flag): {fuzzy[:10]}"
    for e in entries:
        for form in e["msgstr"]:
            assert _placeholders(form) == _placeholders(e["msgid_plural"] or e["msgid"]) or \
                _placeholders(form) == _placeholders(e["msgid"]), (e["msgid"], form)


def test_the_compiled_catalogue_says_what_the_po_says():
    """django.mo is committed (nothing needs gettext to run the product): it must be the .po
    compiled, not an older one. Compared by content, not by file times (a checkout sets those)."""
    with MO.open("rb") as f:
        catalog = gettext.GNUTranslations(f)._catalog
    expected = {}
    for e in parse_po(PO):
        key = f"{e['msgctxt']}\x04{e['msgid']}" if e["msgctxt"] is not None else e["msgid"]
        if e["msgid_plural"] is not None:
            for i, form in enumerate(e["msgstr"]):
                expected[(key, i)] = form
        else:
            expected[key] = e["msgstr"][0]
    compiled = {k: v for k, v in catalog.items() if k != ""}
    stale = sorted(str(k) for k in set(expected) ^ set(compiled) if k != "")
    assert not stale, f"{MO.name} is not {PO.name} compiled: run bin/messages ({stale[:5]})"
    assert {k: compiled[k] for k in expected} == expected, f"{MO.name} is not {PO.name} compiled: run bin/messages"


@pytest.mark.slow
def test_makemessages_finds_no_new_string(tmp_path):
    """Every string wrapped in the code and templates is in the catalogue, and nothing else:
    makemessages, run on a copy of the project, writes the same msgids."""
    if not shutil.which("xgettext"):
        pytest.fail("GNU gettext (xgettext, msgmerge) is needed to extract the strings: apt-get install gettext")
    for name in ("apps", "pushadmin", "templates", "locale"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "pushadmin.settings.test", "PYTHONPATH": str(ROOT),
           "PUSHADMIN_VAR_DIR": str(tmp_path / "var"), "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "manage.py", *MAKEMESSAGES], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr[-2000:]

    def ids(path):
        return {(e["msgctxt"], e["msgid"]) for e in parse_po(path)}

    fresh, ours = ids(tmp_path / "locale" / "ko" / "LC_MESSAGES" / "django.po"), ids(PO)
    assert not fresh - ours, f"new strings, not in {PO.name} yet (run bin/messages, translate, commit): {sorted(fresh - ours, key=str)[:10]}"
    assert not ours - fresh, f"strings no longer used, still in {PO.name} (run bin/messages): {sorted(ours - fresh, key=str)[:10]}"


# --- Which language and clock a request gets ---------------------------------------------------


@pytest.mark.django_db
def test_english_without_preference_or_accept_language():
    r = WebClient().get("/login/")
    body = r.content.decode()
    assert '<html lang="en">' in body and "Log in" in body and "로그인" not in body


@pytest.mark.django_db
def test_accept_language_picks_korean_for_an_anonymous_login_page():
    r = WebClient().get("/login/", HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9,en;q=0.5")
    body = r.content.decode()
    assert r["Content-Language"] == "ko" and '<html lang="ko">' in body
    assert "로그인" in body and "사용자 이름" in body and "Log in" not in body
    # a language the product does not speak: the default, English
    assert "Log in" in WebClient().get("/login/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").content.decode()


@pytest.mark.django_db
def test_the_preference_wins_over_the_browser(people):
    preference_set(user=people["editor"], language="en")
    web = WebClient(HTTP_ACCEPT_LANGUAGE="ko")
    web.force_login(people["editor"])
    assert "Push candidates" in web.get("/contents/").content.decode()
    preference_set(user=people["editor"], language="ko")
    body = web.get("/contents/").content.decode()
    assert "푸시 후보" in body and "Push candidates" not in body


@pytest.mark.django_db
def test_the_preference_activates_language_and_time_zone(people, client_a, content_factory, now):
    """A date on a page is on the person's clock: Asia/Seoul is 9 hours ahead of UTC."""
    created = now.replace(hour=3, minute=7) - timedelta(days=1)  # 03:07 UTC = 12:07 in Seoul
    content = content_factory(client_a, "tz-1", created_at=created)
    web = WebClient()
    web.force_login(people["editor"])
    utc_page = web.get(f"/contents/{content.pk}/").content.decode()
    assert "created 03:07 UTC" in utc_page

    preference_set(user=people["editor"], language="ko", time_zone="Asia/Seoul")
    page = web.get(f"/contents/{content.pk}/").content.decode()
    seoul = created.astimezone(ZoneInfo("Asia/Seoul"))
    assert seoul.hour == 12 and "12:07 KST 등록" in page and "03:07" not in page
    assert '<html lang="ko">' in page and "푸시 제목" in page


@pytest.mark.django_db
def test_the_time_zone_is_not_left_active_for_the_next_request(people, client_a, content_factory, now):
    from django.utils import timezone

    preference_set(user=people["editor"], language="ko", time_zone="Asia/Seoul")
    web = WebClient()
    web.force_login(people["editor"])
    web.get("/contents/")
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE
    assert "Log in" in WebClient().get("/login/").content.decode()  # nor the language, for someone else


@pytest.mark.django_db
def test_the_switch_changes_the_language_and_keeps_it_as_the_preference(people):
    web = WebClient(enforce_csrf_checks=True)
    web.force_login(people["editor"])
    page = web.get("/contents/")
    token = page.cookies["csrftoken"].value
    assert 'action="/i18n/setlang/"' in page.content.decode()
    assert web.post("/i18n/setlang/", {"language": "ko", "next": "/contents/"}).status_code == 403  # CSRF
    r = web.post("/i18n/setlang/", {"language": "ko", "next": "/contents/", "csrfmiddlewaretoken": token})
    assert r.status_code == 302 and r["Location"] == "/contents/"
    assert r.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ko"
    assert Preference.objects.get(user=people["editor"]).language == "ko"
    assert "푸시 후보" in web.get("/contents/").content.decode()
    # on another browser too, without the cookie
    other = WebClient()
    other.force_login(people["editor"])
    assert "푸시 후보" in other.get("/contents/").content.decode()
    # and back
    web.post("/i18n/setlang/", {"language": "en", "next": "/contents/", "csrfmiddlewaretoken": token})
    assert Preference.objects.get(user=people["editor"]).language == "en"
    assert "Push candidates" in other.get("/contents/").content.decode()


@pytest.mark.django_db
def test_the_switch_for_someone_not_logged_in_sets_the_cookie_only():
    web = WebClient()
    r = web.post("/i18n/setlang/", {"language": "ko", "next": "/login/"})
    assert r.status_code == 302 and r.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ko"
    assert "로그인" in web.get("/login/").content.decode()
    assert not Preference.objects.exists()


@pytest.mark.django_db
def test_my_settings_sets_language_and_time_zone(people):
    web = WebClient()
    web.force_login(people["operator"])
    page = web.get("/preferences/").content.decode()
    assert "My settings" in page and 'value="Asia/Seoul"' in page
    r = web.post("/preferences/", {"language": "ko", "time_zone": "Asia/Seoul"})
    assert r.status_code == 302 and r.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ko"
    p = Preference.objects.get(user=people["operator"])
    assert (p.language, p.time_zone) == ("ko", "Asia/Seoul")
    assert "설정을 저장했습니다." in web.get(r["Location"]).content.decode()
    bad = web.post("/preferences/", {"language": "ko", "time_zone": "Mars/Olympus"})
    assert bad.status_code == 200 and Preference.objects.get(user=people["operator"]).time_zone == "Asia/Seoul"
    # back to the browser's language: the cookie goes too
    r = web.post("/preferences/", {"language": "", "time_zone": ""})
    assert Preference.objects.get(user=people["operator"]).language == ""
    assert r.cookies[settings.LANGUAGE_COOKIE_NAME].value == ""
    assert web.get("/preferences/", HTTP_ACCEPT_LANGUAGE="ko").content.decode().count("내 설정") >= 1


@pytest.mark.django_db
def test_a_preference_is_checked():
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ValidationError

    user = get_user_model().objects.create_user("x", password="pw-x-123456")
    with pytest.raises(ValidationError) as caught:
        preference_set(user=user, time_zone="Asia/Nowhere")
    assert "time_zone" in caught.value.message_dict
    with pytest.raises(ValidationError):
        preference_set(user=user, language="fr")
    assert preference_set(user=user, language="ko").time_zone == ""


@pytest.mark.django_db
def test_the_api_answers_in_english_whatever_the_request_says(api):
    r = api.get("/api/v1/campaigns/999999/", HTTP_ACCEPT_LANGUAGE="ko-KR,ko")
    assert r.status_code == 404 and r.json()["message"] == "Not found."
    r = api.put("/api/v1/contents/n-1/", {"title": ""}, format="json", HTTP_ACCEPT_LANGUAGE="ko")
    assert r.status_code == 400 and re.fullmatch(r"[ -~]+", r.json()["message"]), r.json()


@pytest.mark.django_db
def test_the_demo_people_get_their_language_and_clock(settings):
    from apps.core.services import client_create
    from apps.demo.world import DEMO_PREFERENCES, people_reset

    people_reset(client=client_create(slug="demo-news", name="Demo News"))
    got = {p.user.username: (p.language, p.time_zone) for p in Preference.objects.select_related("user")}
    assert got == DEMO_PREFERENCES and got["editor"] == ("ko", "Asia/Seoul")


# --- Words for codes and stored sentences -----------------------------------------------------

def test_every_stored_code_a_page_shows_has_its_words():
    from apps.audience.models import Subscriber
    from apps.campaigns.models import Campaign, Wave
    from apps.contents.models import ContentStatus, TitleVariant
    from apps.core.labels import LABELS
    from apps.core.permissions import Role
    from apps.dashboards.services import ACTIVITY_STATES
    from apps.mlops.models import ModelKind, TrainingRun

    kinds = {"content_status": ContentStatus, "campaign_state": Campaign.State, "wave_state": Wave.State,
             "wave_decision": Wave.Decision, "review": TitleVariant.Review, "title_source": TitleVariant.Source,
             "run_state": TrainingRun.State, "platform": Subscriber.Platform, "model_kind": ModelKind, "role": Role}
    for kind, codes in kinds.items():
        assert set(LABELS[kind]) == {str(c.value if hasattr(c, "value") else c) for c in codes}, kind
    assert set(LABELS["activity_state"]) == {key for key, *_ in ACTIVITY_STATES}
    from recsys.audience import SINGLE_RANKINGS

    assert set(LABELS["ranking"]) == set(SINGLE_RANKINGS)


def test_a_waves_ranker_in_words_names_the_order_it_took():
    from apps.core.labels import ranker_label

    with translation.override("en"):
        assert ranker_label("model:mf v3+click v2") == "matrix factorization v3 + click model v2"
        assert ranker_label("model:mf v3 (activity alone)") == \
            "matrix factorization v3, by long-term reading habit (days with a read) alone"
    with translation.override("ko"):
        assert ranker_label("model:mf v3 (lookalike alone)") == "행렬 분해 v3, 초기 독자 유사 사용자 단독 정렬"


def test_english_words_for_codes_are_what_the_pages_said_before():
    from apps.core.labels import LABELS, label

    with translation.override("en"):
        for kind in ("content_status", "campaign_state", "wave_state", "wave_decision", "review", "run_state"):
            for code in LABELS[kind]:
                assert label(kind, code) == code


# Sentences as the product writes them (recsys.ramp.decide, apps.orchestration, apps.contents,
# apps.mlops), with the numbers they carry.
STORED = [
    "expand to 90: confident improvement > floor 1.5 (e-value 31.2 >= 20); 14 clicks vs 3.1 expected by now "
    "(improvement 4.52, anytime 90% interval 1.71-9.80, normal 2.10-6.90)",
    "re-send 30: not yet confident either way (e-values 2.4 and 0.3, need 20); 2 clicks vs 0.9 expected by now "
    "(improvement 2.22, anytime 90% interval 0.00-inf, normal 0.00-5.30)",
    "stop: confident improvement < target 2.4 (e-value 25.0 >= 20); 3 clicks vs 4.0 expected by now "
    "(improvement 0.75, anytime 90% interval 0.10-1.90, normal 0.20-1.70)",
    "stop: budget of 6 waves used without a confident answer; 9 clicks vs 5.0 expected by now "
    "(improvement 1.80, anytime 90% interval 0.60-3.90, normal 0.90-2.70)",
    "stop: the content's cap is reached; 9 clicks vs 5.0 expected by now (improvement 1.80, anytime 90% interval "
    "0.60-3.90, normal 0.90-2.70)",
    "wait: late clicks still to come (evidence 69% mature, need 90% before stopping; e-values 2.1 and 0.3, need 20); "
    "4 clicks vs 1.1 expected by now (improvement 3.61, anytime 90% interval 0.90-9.80, normal 1.20-6.10)",
    "wait: late clicks still to come (evidence 40% mature, need 60% before sending more; e-values 1.0 and 0.5, need "
    "20); 1 clicks vs 0.5 expected by now (improvement 2.00, anytime 90% interval 0.00-inf, normal 0.00-5.00)",
    "No push of this campaign was delivered.", "No eligible subscriber left for this content.",
    "Nobody eligible valued this content above the price of their weekly slot.", "content expired",
    "stopped by op: a duplicate story", "stopped by op",
    "Predicted click improvement 0.42 is below the client's threshold 1.00.",
    "text changed before any push", "score 4.10 >= 3.00",
    "sampled_auc 0.7412 beats nothing active", "auc 0.7100 beats 0.6900", "not activated: spearman 0.1000 <= 0.2000",
    "activated by hand by adm", "queued", "starting", "failed", "trained v3 (active)", "reading interactions",
    "only 12 interactions; need 200", "fitting ALS on 5000 pairs (800 subscribers x 120 contents)",
    "evaluating on the held-out 10%", "only 3 finished campaigns; need 8",
    "Only an approved content can be launched; this one is candidate.",
]


@pytest.mark.parametrize("text", STORED)
def test_the_sentences_the_product_stores_are_shown_in_korean(text):
    from apps.core.system_texts import translate

    with translation.override("ko"):
        shown = translate(text)
    assert shown != text and re.search(r"[가-힣]", shown), shown
    words = set(re.findall(r"[A-Za-z]{2,}", shown)) - {"op", "adm", "inf", "AUC"}  # names, infinity, a unit
    assert words <= {"a", "duplicate", "story"}, (text, shown)  # what the operator typed stays as typed
    with translation.override("en"):
        assert translate(text) == text


def test_a_sentence_nobody_recognizes_is_shown_as_it_is():
    from apps.core.system_texts import translate

    with translation.override("ko"):
        assert translate("UNREGISTERED: the device token is no longer valid") == \
            "UNREGISTERED: the device token is no longer valid"
        assert translate("중복 기사") == "중복 기사"


def test_the_lockout_duration_in_korean():
    from datetime import timedelta as td

    from apps.core.login import duration_text

    with translation.override("ko"):
        assert duration_text(td(minutes=30)) == "30분" and duration_text(td(hours=1)) == "1시간"
    with translation.override("en"):
        assert duration_text(td(minutes=30)) == "30 minutes" and duration_text(td(seconds=1)) == "1 second"


@pytest.mark.django_db
def test_the_404_page_speaks_the_readers_language(client):
    r = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="ko")
    assert r.status_code == 404 and "찾을 수 없음" in r.content.decode()
    r = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 404 and "Not Found" in r.content.decode()
    api = client.get("/api/v1/nothing/", HTTP_ACCEPT_LANGUAGE="ko")
    assert api.status_code == 404 and api.json()["code"] == "not_found"  # the API stays JSON and English
