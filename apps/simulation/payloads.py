"""What the simulated world tells the product, as the items of the product's own API: the same
payloads for the fast mode (services called in process) and the live demo (``apps.demo.live``, sent over HTTP)."""

from __future__ import annotations

from datetime import timedelta


def subscriber_items(world) -> list[dict]:
    """Everyone, for the subscribers' bulk upsert. The holdout is never pushed: the product keeps
    it out through its opt-in."""
    subs, start = world.subscribers, world.config.start
    return [{"external_id": str(subs.external_id[i]), "timezone": str(subs.timezone[i]), "platform": str(subs.platform[i]),
             "push_opt_in": bool(subs.push_opt_in[i] and not subs.holdout[i]), "locale": str(subs.language[i]),
             "last_activity_at": (start + timedelta(seconds=float(subs.last_active_at[i]))).isoformat()}
            for i in range(len(subs))]


def content_data(c, *, iso: bool = False) -> dict:
    """A new content, for the contents PUT (``iso``: created_at as text, for JSON)."""
    return {"title": c.title, "body": c.body, "language": c.language, "category": c.category,
            "created_at": c.created_dt.isoformat() if iso else c.created_dt,
            "url": f"https://news.example.com/{c.external_id}"}


def activity_items(world, act) -> list[dict]:
    """App opens, as each subscriber's latest activity (subscribers' bulk upsert)."""
    subs = world.subscribers
    last = dict(zip(act.opens.subscriber.tolist(), act.opens.time.tolist()))
    return [{"external_id": str(subs.external_id[s]), "last_activity_at": world.datetime(t).isoformat()} for s, t in last.items()]


def world_events(world, act, clicks, *, seq: int, prefix: str = "") -> tuple[list[dict], int]:
    """Organic reads of ``act`` and the due ``clicks`` ((time s, send id) pairs), as events with
    ids numbered from ``seq``; returns them and the next number."""
    subs, contents = world.subscribers, world.contents
    events = []
    for s, c, t in zip(act.reads.subscriber.tolist(), act.reads.content.tolist(), act.reads.time.tolist()):
        seq += 1
        events.append({"event_id": f"{prefix}r{seq}", "type": "read", "subscriber": str(subs.external_id[s]),
                       "content": contents[c].external_id, "occurred_at": world.datetime(t).isoformat()})
    for t, send_id in clicks:
        seq += 1
        events.append({"event_id": f"{prefix}k{seq}", "type": "click", "send_id": send_id,
                       "occurred_at": world.datetime(t).isoformat()})
    return events, seq
