"""Who may do what, in one place.

Three roles, as Django groups: ``editor`` (reviews contents and titles, approves and launches),
``operator`` (watches campaigns, models and the system, stops campaigns, pauses all sending) and
``admin`` (everything, the admin site, templates and models). Editors and operators work for the
clients of their memberships; admins for all. Pages and actions ask ``can(user, action, client)``;
the permission-matrix test checks every role against every page and action.
"""

from __future__ import annotations

from enum import StrEnum
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


class Role(StrEnum):
    EDITOR = "editor"
    OPERATOR = "operator"
    ADMIN = "admin"


class Action(StrEnum):
    VIEW_CONTENTS = "view_contents"
    REVIEW_CONTENTS = "review_contents"  # edit, approve, reject titles and contents; launch
    VIEW_CAMPAIGNS = "view_campaigns"
    CONTROL_CAMPAIGNS = "control_campaigns"  # stop a campaign
    VIEW_DASHBOARDS = "view_dashboards"
    VIEW_SYSTEM = "view_system"
    PAUSE_SENDING = "pause_sending"
    MANAGE_MODELS = "manage_models"  # retrain, activate
    EDIT_TEMPLATES = "edit_templates"
    SET_POLICIES = "set_policies"  # auto-approve policy of a client
    MANAGE_CLIENTS = "manage_clients"  # a client's settings: its whole policy
    ADMIN_SITE = "admin_site"


E, O, A = Role.EDITOR, Role.OPERATOR, Role.ADMIN
POLICY: dict[Action, frozenset[Role]] = {
    Action.VIEW_CONTENTS: frozenset({E, O, A}),
    Action.REVIEW_CONTENTS: frozenset({E, A}),
    Action.VIEW_CAMPAIGNS: frozenset({E, O, A}),
    Action.CONTROL_CAMPAIGNS: frozenset({O, A}),
    Action.VIEW_DASHBOARDS: frozenset({O, A}),
    Action.VIEW_SYSTEM: frozenset({O, A}),
    Action.PAUSE_SENDING: frozenset({O, A}),
    Action.MANAGE_MODELS: frozenset({A}),
    Action.EDIT_TEMPLATES: frozenset({A}),
    Action.SET_POLICIES: frozenset({E, A}),
    Action.MANAGE_CLIENTS: frozenset({A}),
    Action.ADMIN_SITE: frozenset({A}),
}


def roles_of(user) -> frozenset[Role]:
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_pushadmin_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = frozenset(r for r in Role if r.value in names)
        if user.is_superuser:
            cached = cached | {Role.ADMIN}
        user._pushadmin_roles = cached
    return cached


def client_ids_of(user) -> frozenset[int] | None:
    """The clients a person works for; ``None`` means every client (admins)."""
    if Role.ADMIN in roles_of(user):
        return None
    cached = getattr(user, "_pushadmin_client_ids", None)
    if cached is None:
        cached = frozenset(user.memberships.values_list("client_id", flat=True)) if user.is_authenticated else frozenset()
        user._pushadmin_client_ids = cached
    return cached


def can(user, action: Action, client=None) -> bool:
    """May ``user`` do ``action`` (on ``client``, a Client or its id, when given)?"""
    if not roles_of(user) & POLICY[action]:
        return False
    if client is None:
        return True
    ids = client_ids_of(user)
    return ids is None or (getattr(client, "pk", client) in ids)


def visible_clients(user):
    from apps.core.models import Client

    ids = client_ids_of(user)
    return Client.objects.all() if ids is None else Client.objects.filter(pk__in=ids)


def scope_to_user(queryset, user, field: str = "client_id"):
    """Restrict a queryset to the clients ``user`` works for."""
    ids = client_ids_of(user)
    return queryset if ids is None else queryset.filter(**{f"{field}__in": ids})


def require(action: Action):
    """View decorator: anonymous people go to the login page, the others need ``action``."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not can(request.user, action):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_action = action
        return wrapped

    return decorator
