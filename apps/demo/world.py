"""A small demo world, made through the product's own services (the same paths the API takes).

Real texts: English news from gensim's Lee corpus and Korean bills from konlpy's kobill corpus,
both shipped inside installed packages.
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from apps.audience.services import subscribers_bulk_upsert
from apps.contents.services import content_upsert
from apps.core import clock
from apps.core.models import Client, Membership, Preference
from apps.core.permissions import Role
from apps.core.services import api_key_create, client_create, person_create, preference_set
from apps.events.services import events_ingest

DEMO_PEOPLE = (("admin", Role.ADMIN), ("editor", Role.EDITOR), ("operator", Role.OPERATOR))
# Language and time zone of each demo account (README, "The demo"): the newsroom's editor and
# operator read Korean on Seoul's clock; the admin gets the browser's language and UTC, the
# clock of the servers and their logs. Set when an account is made; a person's own change stays.
DEMO_PREFERENCES = {"editor": ("ko", "Asia/Seoul"), "operator": ("ko", "Asia/Seoul"), "admin": ("", "UTC")}
CATEGORIES = ("politics", "economy", "society", "world", "sports", "culture")
ZONES = ("Asia/Seoul", "Asia/Seoul", "Asia/Seoul", "UTC", "America/New_York", "Europe/London")


def english_texts(limit: int = 40) -> list[tuple[str, str]]:
    import gensim

    path = Path(gensim.__file__).parent / "test" / "test_data" / "lee_background.cor"
    out = []
    for line in path.read_text(encoding="latin-1").splitlines():
        line = line.strip()
        if not line:
            continue
        first, _, rest = line.partition(". ")
        out.append((first[:120].strip().rstrip("."), line))
        if len(out) >= limit:
            break
    return out


def korean_texts(limit: int = 10) -> list[tuple[str, str]]:
    import konlpy

    folder = Path(konlpy.__file__).parent / "data" / "corpus" / "kobill"
    out = []
    for path in sorted(folder.glob("*.txt"))[:limit]:
        text = path.read_text(encoding="utf-8")
        lines = [l.strip() for l in text.splitlines() if l.strip()]
        body = " ".join(lines[1:])[:2000]
        out.append((lines[0], body))
    return out


def people_reset(*, client: Client) -> dict[str, str]:
    """Create (or reset) the demo accounts and return their new passwords."""
    User = get_user_model()
    passwords = {}
    for username, role in DEMO_PEOPLE:
        password = secrets.token_urlsafe(9)
        user = User.objects.filter(username=username).first()
        if user is None:
            user = person_create(username=username, password=password, role=role,
                                 clients=[client] if role != Role.ADMIN else [])
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
            if role != Role.ADMIN:
                Membership.objects.get_or_create(user=user, client=client)
        if not Preference.objects.filter(user=user).exists():
            language, time_zone = DEMO_PREFERENCES[username]
            preference_set(user=user, language=language, time_zone=time_zone)
        passwords[username] = password
    return passwords


@transaction.atomic
def demo_world_load(*, subscribers: int = 2000, seed: int = 7, now=None) -> dict:
    """The demo client with subscribers, contents of the last hours and their first reads."""
    now = now or clock.now()
    rng = random.Random(seed)
    client = Client.objects.filter(slug="demo-news").first() or client_create(
        slug="demo-news", name="Demo News", evaluation_delay=timedelta(minutes=30), candidate_threshold=0.2
    )
    from apps.contents.models import AutoApprovePolicy

    # The demo newsroom lets the system launch candidates predicted at least at their usual rate;
    # the others wait in the editors' queue.
    AutoApprovePolicy.objects.update_or_create(client=client, defaults={
        "enabled": True, "min_score": 0.3, "categories": [], "updated_at": now})
    _, key = api_key_create(client=client, name="demo")
    if subscribers == 0:  # the live world brings its own subscribers and contents through the API
        return {"client": client, "api_key": key, "contents": 0, "reads": 0, "subscribers": 0}
    subscribers_bulk_upsert(client=client, now=now, items=[
        {"external_id": f"demo-{i:05d}", "timezone": rng.choice(ZONES), "platform": rng.choice(["android", "ios"]),
         "last_activity_at": (now - timedelta(days=rng.expovariate(1 / 6))).isoformat()}
        for i in range(subscribers)
    ])
    texts = [(t, b, "en") for t, b in english_texts(30)] + [(t, b, "ko") for t, b in korean_texts(10)]
    events, n = [], 0
    for i, (title, body, lang) in enumerate(texts):
        created = now - timedelta(minutes=rng.randint(0, 200))
        content_upsert(client=client, external_id=f"demo-content-{i:03d}", now=now,
                       data={"title": title, "body": body, "language": lang, "category": rng.choice(CATEGORIES),
                             "url": f"https://news.example.com/{i}", "created_at": created})
        for _ in range(rng.randint(0, 40)):
            n += 1
            events.append({"event_id": f"demo-read-{i}-{n}", "type": "read", "content": f"demo-content-{i:03d}",
                           "subscriber": f"demo-{rng.randrange(subscribers):05d}",
                           "occurred_at": (created + timedelta(minutes=rng.uniform(0, 20))).isoformat()})
    accepted = events_ingest(client=client, items=events, now=now)["accepted"] if events else 0
    return {"client": client, "api_key": key, "contents": len(texts), "reads": accepted, "subscribers": subscribers}
