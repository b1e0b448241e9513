"""Writes of the core: clients, API keys, people and their preferences, login unlocks, and the
decision log."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from apps.core import clock
from apps.core.api_auth import KEY_PREFIX, hash_secret
from apps.core.models import ApiKey, Client, Decision, Membership, Policy, Preference, Switch
from apps.core.permissions import Role
from apps.core.selectors import PAUSE_SWITCH


@transaction.atomic
def client_create(*, slug: str, name: str = "", api_rate: str = "", **policy) -> Client:
    """A client with its policy: the defaults (``apps.core.policy``), with ``policy`` laid over them."""
    client = Client(slug=slug, name=name or slug, api_rate=api_rate)
    client.full_clean()
    client.save()
    rules = Policy(client=client, **policy)
    rules.full_clean()
    rules.save()
    return client


@transaction.atomic
def policy_set(*, client: Client, user=None, now=None, **changes) -> Policy:
    """Change some of a client's rules; logged with before and after. A ValidationError names
    the field when a value is out of range."""
    policy = Policy.objects.select_for_update().get(client=client)
    names = [f.name for f in Policy._meta.fields if f.name not in ("client", "updated_at")]
    unknown = set(changes) - set(names)
    if unknown:
        raise ValueError(f"not a policy field: {', '.join(sorted(unknown))}")
    before = {name: getattr(policy, name) for name in changes}
    for name, value in changes.items():
        setattr(policy, name, value)
    policy.full_clean()
    policy.save()
    changed = [name for name in changes if getattr(policy, name) != before[name]]
    if changed:
        decision_record(client=client, action="policy_set", actor_user=user, actor_name="" if user else "system",
                        subject=f"policy:{client.slug}", before=_plain({n: before[n] for n in changed}),
                        after=_plain({n: getattr(policy, n) for n in changed}), now=now)
    return policy


def _plain(values: dict) -> dict:
    return {k: (v.total_seconds() if hasattr(v, "total_seconds") else v) for k, v in values.items()}


def api_key_create(*, client: Client, name: str = "") -> tuple[ApiKey, str]:
    """Create a key and return it with its plain text, which is shown once and never stored."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(client=client, name=name, prefix=prefix, hashed_key=hash_secret(secret))
    return key, f"{KEY_PREFIX}{prefix}_{secret}"


def api_key_revoke(*, key: ApiKey, now=None) -> None:
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now or clock.now())


@transaction.atomic
def person_create(*, username: str, password: str, role: Role, clients=(), email: str = ""):
    """A person with one role; admins get the admin site, the others work for ``clients``."""
    User = get_user_model()
    user = User.objects.create_user(username=username, password=password, email=email)
    user.groups.add(Group.objects.get(name=role.value))
    if role == Role.ADMIN:
        user.is_staff = True
        user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    for client in clients:
        Membership.objects.get_or_create(user=user, client=client)
    return user


_UNCHANGED = object()


@transaction.atomic
def preference_set(*, user, language=_UNCHANGED, time_zone=_UNCHANGED) -> Preference:
    """Set a person's language (``ko``, ``en``, or empty: the browser's) and/or time zone (a
    name such as ``Asia/Seoul``, or empty: UTC); what is not given stays. A ValidationError
    names the field when a value is not one of those."""
    preference, _ = Preference.objects.select_for_update().get_or_create(user=user)
    if language is not _UNCHANGED:
        preference.language = (language or "").strip()
    if time_zone is not _UNCHANGED:
        preference.time_zone = (time_zone or "").strip()
    preference.full_clean()
    preference.save()
    return preference


@transaction.atomic
def login_lockout_clear(*, attempts, user=None, now=None) -> int:
    """Unlock logins: forget the failed attempts ``attempts`` (a queryset of django-axes'
    ``AccessAttempt``, one row per user name, address and browser), so that user name may log in
    again from that address at once. One decision row each, with the failures it had. Returns
    how many rows were cleared."""
    from axes.models import AccessAttempt

    now = now or clock.now()
    rows = list(attempts.select_for_update().order_by("pk"))
    for row in rows:
        decision_record(client=None, action="login_unlock", actor_user=user, actor_name="" if user else "system",
                        subject=f"login:{row.username}@{row.ip_address}"[:200],
                        before={"failures": row.failures_since_start, "last_failure_at": row.attempt_time.isoformat()},
                        after={"failures": 0}, now=now)
    AccessAttempt.objects.filter(pk__in=[row.pk for row in rows]).delete()
    return len(rows)


def decision_record(
    *,
    client: Client | int | None,
    action: str,
    actor_user=None,
    actor_name: str = "",
    content=None,
    campaign=None,
    subject: str = "",
    before: dict | None = None,
    after: dict | None = None,
    numbers: dict | None = None,
    note: str = "",
    now=None,
) -> Decision:
    """Append one row to the decision log: who or what decided, on what, and the numbers seen."""
    if actor_user is not None:
        actor_type, actor_name = Decision.Actor.USER, actor_name or actor_user.get_username()
    else:
        actor_type, actor_name = Decision.Actor.SYSTEM, actor_name or "system"
    return Decision.objects.create(
        client_id=getattr(client, "pk", client),  # None: a system-wide decision
        at=now or clock.now(),
        actor_type=actor_type,
        actor_user=actor_user,
        actor_name=actor_name,
        action=action,
        content=content,
        campaign=campaign,
        subject=subject,
        before=before or {},
        after=after or {},
        numbers=numbers or {},
        note=note,
    )


@transaction.atomic
def sending_pause_set(*, paused: bool, client=None, user=None, now=None):
    """Hold (or release) the pushes of one client, or with ``client=None`` of every client; logged
    as a decision of that client (or a system-wide one). Who may do which is the caller's check:
    an operator for the clients they work for, only a superuser for every client."""
    now = now or clock.now()
    client_id = getattr(client, "pk", client)
    switch, _ = Switch.objects.select_for_update().get_or_create(name=PAUSE_SWITCH, client_id=client_id)
    before = switch.on
    switch.on, switch.changed_at, switch.changed_by = paused, now, user
    switch.save()
    decision_record(client=client_id, action="sending_pause" if paused else "sending_resume", actor_user=user,
                    actor_name="" if user else "system", subject=f"switch:{PAUSE_SWITCH}:{client_id or 'all'}",
                    before={"on": before}, after={"on": paused}, now=now)
    return switch
