"""Operators' pages: overview, campaigns, contents, models, system. Each view checks the
permission, calls one selector (or one service for the POST actions) and renders; the numbers
come from ``apps.dashboards.selectors``, the charts' configurations from ``charts``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest, HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.core import clock, csvsafe
from apps.core.errors import ApiError
from apps.core.labels import label
from apps.core.permissions import Action, can, require
from apps.core.validation import DATETIME_MAX, DATETIME_MIN, Invalid, clean_text
from apps.dashboards import charts, selectors


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class BadFilter(ValueError):
    """A filter of a page's query string that cannot be applied: answered 400, naming it."""


def _date(value, name: str) -> date | None:
    """A date filter (``from``, ``to``): empty means none; anything else must be a date within the
    range the API supports (``to=9999-12-31`` overflowed when made the next day's midnight)."""
    if not value:
        return None
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise BadFilter(_("The filter '%(name)s' must be a date such as 2026-11-28.") % {"name": name}) from None
    if not DATETIME_MIN.date() <= day <= DATETIME_MAX.date():
        raise BadFilter(_("The filter '%(name)s' must be a date between %(min)s and %(max)s.") % {
            "name": name, "min": DATETIME_MIN.date(), "max": DATETIME_MAX.date()})
    return day


def _text(value: str, name: str) -> str:
    try:
        return clean_text(value)
    except Invalid as exc:
        raise BadFilter(_("The filter '%(name)s': %(reason)s") % {"name": name, "reason": exc.message}) from None


def _bad_filter(exc: BadFilter) -> HttpResponseBadRequest:
    return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")


def _client_filter(request, clients) -> int | None:
    client_id = _int(request.GET.get("client"))
    return client_id if client_id in {c.pk for c in clients} else None


@require_GET
@require(Action.VIEW_DASHBOARDS)
def overview(request):
    now = clock.now()
    clients = selectors.visible_client_choices(user=request.user)
    client_id = _client_filter(request, clients)
    data = selectors.overview(user=request.user, now=now, client_id=client_id)
    return render(request, "dashboards/overview.html", {
        **data, "clients": clients, "client_id": client_id,
        "charts": {
            "weekly": charts.weekly_actives(data["weeks"]),
            "daily": charts.daily_pushes(data["days"]),
            "improvement": charts.daily_improvement(data["days"], target=data["rules"].target),
            "slot": charts.slot_share(data["subscribers"]),
        },
    })


@require_GET
@require(Action.VIEW_CAMPAIGNS)
def campaigns(request):
    now = clock.now()
    clients = selectors.visible_client_choices(user=request.user)
    client_id = _client_filter(request, clients)
    data = selectors.contents_table(user=request.user, now=now, client_id=client_id, sort="newest",
                                    page=_int(request.GET.get("page"), 1))
    return render(request, "dashboards/campaigns.html", {
        **data, "running": selectors.running_campaigns(user=request.user, client_id=client_id),
        "clients": clients, "client_id": client_id})


@require_GET
@require(Action.VIEW_CAMPAIGNS)
def campaign(request, pk: int):
    now = clock.now()
    data = selectors.campaign_page(user=request.user, pk=pk, now=now)
    c = data["campaign"]
    reach = data["reach"]
    page_charts = {"improvement": charts.wave_improvement(data), "sizes": charts.wave_sizes(data)}
    if data["variants"]:
        page_charts["variants"] = charts.variant_shares(data)
    if reach.get("computed"):
        page_charts["states"] = charts.breakdown(reach["activity_states"], label=_("recipients"))
        page_charts["categories"] = charts.breakdown(reach["categories"], label=_("recipients"), color=charts.PURPLE)
    return render(request, "dashboards/campaign.html", {
        **data, "charts": page_charts,
        "can_stop": can(request.user, Action.CONTROL_CAMPAIGNS, c.client_id) and c.state == "running",
        "can_control": can(request.user, Action.CONTROL_CAMPAIGNS, c.client_id),
    })


@require_POST
@require(Action.CONTROL_CAMPAIGNS)
def campaign_stop(request, pk: int):
    from apps.orchestration.engine import campaign_stop as stop

    c = selectors.campaign_for_user(user=request.user, pk=pk)
    if not can(request.user, Action.CONTROL_CAMPAIGNS, c.client_id):
        raise PermissionDenied
    reason = (request.POST.get("reason") or "").strip()[:300]
    try:
        stop(campaign=c, user=request.user,
             reason=f"stopped by {request.user.get_username()}" + (f": {reason}" if reason else ""))
    except ApiError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("Campaign #%(id)s stopped: no further wave, unsent pushes cancelled.") % {"id": c.pk})
    return HttpResponseRedirect(reverse("dashboards:campaign", args=[pk]))


def _contents_filters(request, clients) -> dict:
    sort = request.GET.get("sort", "newest")
    days = request.GET.get("days", "")
    if days and days not in selectors.PERIODS:
        raise BadFilter(_("The filter '%(name)s' must be one of %(values)s (or absent for any time).") % {
            "name": "days", "values": ", ".join(selectors.PERIODS)})
    return {
        "client_id": _client_filter(request, clients),
        "category": _text(request.GET.get("category", "").strip()[:64], "category"),
        "date_from": _date(request.GET.get("from"), "from"),
        "date_to": _date(request.GET.get("to"), "to"),
        "sort": sort if sort in selectors.CONTENT_SORTS else "newest",
        "mine": request.GET.get("mine") in ("1", "on", "true"),
        "days": selectors.PERIODS[days] if days else None,
    }


@require_GET
@require(Action.VIEW_CAMPAIGNS)
def contents(request):
    """Pushed contents and their results. Editors see it too ("My contents": ``?mine=1&days=30``):
    results, no controls."""
    now = clock.now()
    clients = selectors.visible_client_choices(user=request.user)
    try:
        filters = _contents_filters(request, clients)
    except BadFilter as exc:
        return _bad_filter(exc)
    data = selectors.contents_table(user=request.user, now=now, page=_int(request.GET.get("page"), 1), **filters)
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("sort", None)
    return render(request, "dashboards/contents.html", {
        **data, "clients": clients, "filters": filters, "query": query.urlencode(), "periods": selectors.PERIODS.values(),
        "csv_query": request.GET.urlencode(),
    })


class _Echo:
    def write(self, value):
        return value


def _fmt(x, nd=4):
    """A number for the CSV (floats to ``nd`` places, kept numbers so that csvsafe leaves a
    negative value alone); empty when missing."""
    if x is None:
        return ""
    return Decimal(f"{x:.{nd}f}") if isinstance(x, float) else x


@require_GET
@require(Action.VIEW_CAMPAIGNS)
def contents_csv(request):
    clients = selectors.visible_client_choices(user=request.user)
    try:
        filters = _contents_filters(request, clients)
    except BadFilter as exc:
        return _bad_filter(exc)
    writer = csvsafe.writer(_Echo())  # titles and other text cannot run as spreadsheet formulas

    def rows():
        yield writer.writerow(selectors.CSV_COLUMNS)
        for r in selectors.contents_csv_rows(user=request.user, now=clock.now(), **filters):
            span = r["interval"] or {}
            yield writer.writerow([r["campaign_id"], r["client"], r["content_external_id"], r["title"], r["category"],
                                   r["launched_at"].isoformat(), r["launched_by"], r["state"],
                                   _fmt(r["predicted_improvement"]), _fmt(r["achieved_improvement"]),
                                   _fmt(span.get("lo")), _fmt(span.get("hi")), r["sends"], r["clicks"],
                                   _fmt(r["expected_clicks"]),
                                   _fmt(r["inactive_recipients"]), _fmt(r["reactivated"]),
                                   *(_fmt(r["incremental"][k], 1) if r["incremental"] else "" for k in ("value", "lo", "hi"))])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="pushed-contents-{clock.now():%Y%m%d-%H%M}.csv"'
    return response


@require_GET
@require(Action.VIEW_CAMPAIGNS)
def content_results(request, content_pk: int):
    """The results block of a content page (loaded into it by htmx): its campaign's improvement so
    far with the interval, clicks, reactivations and those because of the push."""
    row = selectors.content_results(user=request.user, content_id=content_pk)
    return render(request, "dashboards/_content_results.html", {"r": row, "content_pk": content_pk})


@require_GET
@require(Action.VIEW_CAMPAIGNS)
def recent_results(request):
    """The queue's "Launched" tab (loaded into it by htmx): the last 30 days' pushes of the
    person's clients, theirs first when ``mine=1``."""
    now = clock.now()
    mine = request.GET.get("mine") in ("1", "on", "true")
    data = selectors.contents_table(user=request.user, now=now, days=30, mine=mine, per_page=20)
    return render(request, "dashboards/_recent_results.html", {**data, "mine": mine})


def _visible_client(request, value):
    """(the client ``value`` names (an id) among the user's clients, else the first of them; the
    user's clients). 404 for a client the user cannot see, 403 with none."""
    clients = selectors.visible_client_choices(user=request.user)
    if not clients:
        raise PermissionDenied
    if value in (None, ""):
        return clients[0], clients
    client = next((c for c in clients if str(c.pk) == str(value)), None)
    if client is None:
        raise Http404("No such client.")
    return client, clients


def _models_url(client) -> str:
    return f"{reverse('dashboards:models')}?client={client.pk}"


@require_GET
@require(Action.VIEW_DASHBOARDS)
def models(request):
    """A client's models (``?client=``; the first of the user's clients by default)."""
    client, clients = _visible_client(request, request.GET.get("client"))
    data = selectors.models_page(client=client, now=clock.now())
    return render(request, "dashboards/models.html", {**data, "clients": clients,
                                                       "can_manage": can(request.user, Action.MANAGE_MODELS)})


@require_GET
@require(Action.VIEW_DASHBOARDS)
def training_runs(request):
    """The runs table alone, polled by the models page while a run is queued or running."""
    client = _visible_client(request, request.GET.get("client"))[0]
    data = selectors.training_runs(client=client)
    return render(request, "dashboards/_runs.html", {**data, "client": client})


@require_POST
@require(Action.MANAGE_MODELS)
def model_retrain(request):
    from apps.mlops.models import ModelKind
    from apps.mlops.services import training_run_request

    client = _visible_client(request, request.POST.get("client"))[0]
    kind = request.POST.get("kind", "")
    if kind not in ModelKind.values:
        messages.error(request, _("Unknown model kind '%(kind)s'.") % {"kind": kind})
    else:
        try:
            run = training_run_request(client=client, kind=kind, user=request.user)
        except ApiError as exc:
            messages.error(request, str(exc.detail))
        else:
            messages.success(request, _("Training run #%(id)s for %(kind)s queued.") % {"id": run.pk, "kind": label("model_kind", kind)})
    return HttpResponseRedirect(_models_url(client))


@require_POST
@require(Action.MANAGE_MODELS)
def model_activate(request, pk: int):
    """Activate (roll back to) a version; ``pin=1`` also pins it: training will not replace it."""
    from apps.mlops.models import ModelVersion
    from apps.mlops.services import model_version_activate

    version = get_object_or_404(ModelVersion.objects.select_related("client"), pk=pk)
    _visible_client(request, version.client_id)  # 404 unless the user sees the client
    pin = request.POST.get("pin") in ("1", "on", "true")
    try:
        model_version_activate(version=version, user=request.user, pin=pin,
                               reason=f"{'pinned' if pin else 'activated'} by hand by {request.user.get_username()}")
    except ApiError as exc:
        messages.error(request, str(exc.detail))
    else:
        text = (_("%(kind)s v%(version)s is active and pinned.") if pin else _("%(kind)s v%(version)s is active."))
        messages.success(request, text % {"kind": label("model_kind", version.kind), "version": version.version})
    return HttpResponseRedirect(_models_url(version.client))


@require_POST
@require(Action.MANAGE_MODELS)
def model_unpin(request, pk: int):
    """Let training replace a pinned version again."""
    from apps.mlops.models import ModelVersion
    from apps.mlops.services import model_version_unpin

    version = get_object_or_404(ModelVersion.objects.select_related("client"), pk=pk)
    _visible_client(request, version.client_id)
    model_version_unpin(version=version, user=request.user)
    messages.success(request, _("%(kind)s v%(version)s is no longer pinned.") % {
        "kind": label("model_kind", version.kind), "version": version.version})
    return HttpResponseRedirect(_models_url(version.client))


@require(Action.MANAGE_CLIENTS)
def client_settings(request, client_id: int | None = None):
    """A client's settings (its policy and auto-approve rule): admins only. A change is one decision
    row per rule with before and after; invalid values are shown on their fields, nothing saved."""
    from django.core.exceptions import ValidationError

    from apps.contents.models import AutoApprovePolicy
    from apps.core.models import Decision, Policy
    from apps.dashboards.forms import ClientSettingsForm, change_rows
    from apps.dashboards.services import client_settings_save

    client, clients = _visible_client(request, client_id)
    if client_id is None:
        return HttpResponseRedirect(reverse("dashboards:client_settings", args=[client.pk]))
    policy = Policy.objects.get(client=client)
    auto = AutoApprovePolicy.objects.filter(client=client).first()
    if request.method == "POST":
        form = ClientSettingsForm(request.POST)
        if form.is_valid():
            try:
                changed = client_settings_save(
                    client=client, user=request.user, policy_values=form.policy_values(),
                    auto_enabled=form.cleaned_data["auto_enabled"], auto_min_score=form.cleaned_data["auto_min_score"],
                    auto_categories=form.cleaned_data["auto_categories"])
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            except ApiError as exc:
                form.add_error(f"auto_{exc.field}" if f"auto_{exc.field}" in form.fields else None, str(exc.detail))
            else:
                if changed:
                    messages.success(request, _("%(client)s: settings saved (%(fields)s).") % {
                        "client": client.name, "fields": ", ".join(changed)})
                else:
                    messages.info(request, _("%(client)s: nothing changed.") % {"client": client.name})
                return HttpResponseRedirect(reverse("dashboards:client_settings", args=[client.pk]))
    elif request.method == "GET":
        form = ClientSettingsForm(initial=ClientSettingsForm.initial_of(policy, auto))
    else:
        return HttpResponseNotAllowed(["GET", "POST"])
    history = list(Decision.objects.filter(client=client, action__in=["policy_set", "auto_approve_policy_set"])
                   .select_related("actor_user").order_by("-at", "-id")[:20])
    for d in history:
        d.changes = change_rows(d.before, d.after)
    return render(request, "dashboards/settings.html", {
        "client": client, "clients": clients, "form": form, "history": history},
        status=400 if request.method == "POST" else 200)


@require_GET
@require(Action.VIEW_SYSTEM)
def system(request):
    data = selectors.system_page(user=request.user, now=clock.now())
    return render(request, "dashboards/system.html", {
        **data, "can_pause": can(request.user, Action.PAUSE_SENDING),
        "charts": {"hourly": charts.hourly_delivery(data["hours"]), "queues": charts.queue_depths(data["queues"])},
    })


@require_POST
@require(Action.PAUSE_SENDING)
def sending_pause(request):
    """Hold or release pushes: ``client`` is a client's id (an operator's, for the clients they
    work for) or ``all`` (every client's: superusers only)."""
    from apps.core.models import Client
    from apps.core.services import sending_pause_set

    paused = request.POST.get("paused") == "1"
    whose = request.POST.get("client", "")
    if whose == "all":
        if not request.user.is_superuser:
            raise PermissionDenied(_("Only a superuser pauses sending for every client."))
        sending_pause_set(paused=paused, client=None, user=request.user)
        messages.success(request, _("All sending is paused, for every client: no push leaves until someone resumes.")
                         if paused else _("Sending resumed for every client."))
        return HttpResponseRedirect(reverse("dashboards:system"))
    if not whose.isdigit():
        return HttpResponseBadRequest(_("client: give a client's id, or 'all'."))
    client = Client.objects.filter(pk=int(whose)).first()
    if client is None or not can(request.user, Action.PAUSE_SENDING, client):
        raise PermissionDenied(_("You do not work for this client."))
    sending_pause_set(paused=paused, client=client, user=request.user)
    messages.success(request, (_("Sending for %(client)s is paused: none of its pushes leaves until someone resumes.")
                               if paused else _("Sending resumed for %(client)s.")) % {"client": client.name})
    return HttpResponseRedirect(reverse("dashboards:system"))
