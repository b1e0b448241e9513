"""Editors' pages: the queue of candidates and the content page (server-rendered, htmx for the
small title actions). Views check permissions, call one selector or service, and render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.contents import selectors, services
from apps.contents.models import TitleVariant
from apps.contents.titles import PLATFORM_TITLE_LIMITS, fits
from apps.core import clock
from apps.core.errors import ApiError
from apps.core.permissions import Action, can, require, roles_of, visible_clients


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


@require_GET
@require(Action.VIEW_CONTENTS)
def home(request):
    """The landing page: the person's roles and each of their clients with its contents by status."""
    return render(request, "home.html", {
        "roles": sorted(r.value for r in roles_of(request.user)),
        "clients": selectors.client_overview(clients=visible_clients(request.user)),
    })


@require_GET
@require(Action.VIEW_CONTENTS)
def queue(request):
    now = clock.now()
    client_id = _int(request.GET.get("client"))
    category = request.GET.get("category", "").strip()[:64]
    sort = request.GET.get("sort", "score")
    sort = sort if sort in selectors.QUEUE_SORTS else "score"
    status = request.GET.get("status", "candidate")
    # "launched": the results of the last 30 days' pushes, served by the dashboards (loaded by htmx).
    status = status if status in (*selectors.QUEUE_STATUSES, "launched") else "candidate"
    clients = selectors.policies_of_clients(clients=visible_clients(request.user))
    if client_id not in {c.pk for c in clients}:
        client_id = None
    for c in clients:
        c.can_set_policy = can(request.user, Action.SET_POLICIES, c)
    context = {
        "now": now,
        "clients": clients,
        "filters": {"client": client_id, "category": category, "sort": sort, "status": status,
                    "mine": request.GET.get("mine", "1") == "1"},
        "can_review": can(request.user, Action.REVIEW_CONTENTS),
    }
    if status != "launched":
        result = selectors.queue_page(user=request.user, now=now, client_id=client_id, category=category, sort=sort,
                                      status=status, page=_int(request.GET.get("page"), 1))
        context.update(page=result["page"], count=result["count"],
                       categories=selectors.queue_categories(user=request.user, now=now, client_id=client_id, status=status))
    return render(request, "contents/queue.html", context)


def _detail_context(request, content, now, **extra) -> dict:
    variants = list(content.title_variants.all())
    for v in variants:
        v.fits = list(fits(v.text).values())
        v.is_cut = any(f.cut for f in v.fits)
        v.tightest = min((f for f in v.fits if f.cut), key=lambda f: f.limit, default=None)
    approved = [v for v in variants if v.review == TitleVariant.Review.APPROVED]
    preview = approved[0] if approved else next((v for v in variants if v.review == TitleVariant.Review.PENDING), None)
    live = content.status in services.REVIEWABLE_STATUSES and content.expires_at > now
    return {
        "content": content,
        "now": now,
        "variants": variants,
        "approved_count": len(approved),
        "preview": preview,
        "preview_fits": fits(preview.text if preview else content.title),
        "limits": PLATFORM_TITLE_LIMITS,
        "can_review": can(request.user, Action.REVIEW_CONTENTS, content.client) and live,
        "live": live,
        "campaign": getattr(content, "campaign", None) if hasattr(content, "campaign") else None,
        "decisions": selectors.content_decisions(content=content),
        **extra,
    }


@require_GET
@require(Action.VIEW_CONTENTS)
def detail(request, pk: int):
    now = clock.now()
    content = selectors.content_for_user(user=request.user, pk=pk)
    return render(request, "contents/detail.html", _detail_context(request, content, now))


def _review_guard(request, content_client_id: int) -> None:
    if not can(request.user, Action.REVIEW_CONTENTS, content_client_id):
        raise PermissionDenied


def _after_action(request, pk: int, *, error: ApiError | None = None, error_variant: int | None = None, ok: str = ""):
    """htmx: the review panel again (422 with the message when refused); otherwise back to the page."""
    if _is_htmx(request):
        now = clock.now()
        content = selectors.content_for_user(user=request.user, pk=pk)
        ctx = _detail_context(request, content, now, error=str(error.detail) if error else "",
                              error_variant=error_variant, ok=ok)
        return render(request, "contents/_review.html", ctx, status=422 if error else 200)
    if error:
        messages.error(request, str(error.detail))
    elif ok:
        messages.success(request, ok)
    return HttpResponseRedirect(reverse("contents:detail", args=[pk]))


def _variant_action(request, pk: int, vid: int, action):
    variant = selectors.variant_for_user(user=request.user, content_pk=pk, pk=vid)
    _review_guard(request, variant.content.client_id)
    try:
        message = action(variant)
    except ApiError as exc:
        return _after_action(request, pk, error=exc, error_variant=vid)
    return _after_action(request, pk, ok=message)


@require_POST
@require(Action.REVIEW_CONTENTS)
def variant_edit(request, pk: int, vid: int):
    def act(variant):
        services.title_edit(variant=variant, text=request.POST.get("text", ""), user=request.user)
        return _("Title saved; approve it to use it.")

    return _variant_action(request, pk, vid, act)


@require_POST
@require(Action.REVIEW_CONTENTS)
def variant_approve(request, pk: int, vid: int):
    def act(variant):
        services.title_approve(variant=variant, user=request.user)
        return _("Title approved.")

    return _variant_action(request, pk, vid, act)


@require_POST
@require(Action.REVIEW_CONTENTS)
def variant_reject(request, pk: int, vid: int):
    def act(variant):
        services.title_reject(variant=variant, user=request.user)
        return _("Title rejected.")

    return _variant_action(request, pk, vid, act)


@require_POST
@require(Action.REVIEW_CONTENTS)
def variant_add(request, pk: int):
    content = selectors.content_for_user(user=request.user, pk=pk)
    _review_guard(request, content.client_id)
    try:
        services.title_add(content=content, text=request.POST.get("text", ""), user=request.user)
    except ApiError as exc:
        return _after_action(request, pk, error=exc, error_variant=0)
    return _after_action(request, pk, ok=_("Title added; approve it to use it."))


@require_POST
@require(Action.REVIEW_CONTENTS)
def reject(request, pk: int):
    content = selectors.content_for_user(user=request.user, pk=pk)
    _review_guard(request, content.client_id)
    try:
        services.content_reject(content=content, user=request.user, reason=request.POST.get("reason", ""))
    except ApiError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("Content rejected: it gets no push."))
    return HttpResponseRedirect(reverse("contents:detail", args=[pk]))


@require_POST
@require(Action.SET_POLICIES)
def policy_set(request, client_id: int):
    client = get_object_or_404(visible_clients(request.user), pk=client_id)
    if not can(request.user, Action.SET_POLICIES, client):
        raise PermissionDenied
    try:
        policy = services.auto_approve_policy_set(
            client=client, enabled=request.POST.get("enabled") in ("on", "true", "1"),
            min_score=request.POST.get("min_score", ""), categories=request.POST.get("categories", ""),
            user=request.user)
    except ApiError as exc:
        messages.error(request, f"{client.name}: {exc.detail}")
    else:
        messages.success(request, (_("%(client)s: auto-approve is on.") if policy.enabled
                                   else _("%(client)s: auto-approve is off.")) % {"client": client.name})
    return HttpResponseRedirect(request.POST.get("next") if str(request.POST.get("next", "")).startswith("/contents/")
                                else reverse("contents:queue"))

