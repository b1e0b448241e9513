"""The words the pages show for the codes the product stores (states, decisions, roles, actions).

The rows keep their codes (``running``, ``wave_expand``); a page shows ``label(kind, code)``, the
code's word in the active language. In English each word is the code as the pages always showed
it (lowercase, underscores as spaces), so English pages read as before. Codes from every app are
listed here, in the lowest layer, because pages of several apps show them (a campaign's state on
the content page); ``tests/core/test_i18n.py`` checks that every code of the models' choices has
its word.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

LABELS: dict[str, dict[str, object]] = {
    "role": {
        "editor": pgettext_lazy("role", "editor"),
        "operator": pgettext_lazy("role", "operator"),
        "admin": pgettext_lazy("role", "admin"),
    },
    "content_status": {
        "registered": pgettext_lazy("content status", "registered"),
        "candidate": pgettext_lazy("content status", "candidate"),
        "rejected": pgettext_lazy("content status", "rejected"),
        "approved": pgettext_lazy("content status", "approved"),
        "sending": pgettext_lazy("content status", "sending"),
        "done": pgettext_lazy("content status", "done"),
        "expired": pgettext_lazy("content status", "expired"),
    },
    "campaign_state": {
        "running": pgettext_lazy("campaign state", "running"),
        "stopped": pgettext_lazy("campaign state", "stopped"),
        "done": pgettext_lazy("campaign state", "done"),
    },
    "wave_state": {
        "planned": pgettext_lazy("wave state", "planned"),
        "sending": pgettext_lazy("wave state", "sending"),
        "observing": pgettext_lazy("wave state", "observing"),
        "decided": pgettext_lazy("wave state", "decided"),
    },
    "wave_decision": {
        "expand": pgettext_lazy("wave decision", "expand"),
        "resend": pgettext_lazy("wave decision", "resend"),
        "stop": pgettext_lazy("wave decision", "stop"),
    },
    # Why a wave was decided as it was (``Wave.decision_numbers["code"]``).
    "decision_code": {
        "above_floor": pgettext_lazy("decision code", "above floor"),
        "futility": pgettext_lazy("decision code", "futility"),
        "budget": pgettext_lazy("decision code", "wave budget"),
        "cap": pgettext_lazy("decision code", "cap reached"),
        "undecided": pgettext_lazy("decision code", "undecided"),
        "undelivered": pgettext_lazy("decision code", "undelivered"),
        "nobody_left": pgettext_lazy("decision code", "nobody left"),
        "priced_out": pgettext_lazy("decision code", "not worth anyone's slot"),
        "stopped": pgettext_lazy("decision code", "stopped"),
        "expired": pgettext_lazy("decision code", "expired"),
        "immature": pgettext_lazy("decision code", "waiting for late clicks"),
    },
    "review": {
        "pending": pgettext_lazy("title review", "pending"),
        "approved": pgettext_lazy("title review", "approved"),
        "rejected": pgettext_lazy("title review", "rejected"),
    },
    "title_source": {
        "original": _("original title"),
        "template": pgettext_lazy("title source", "template"),
        "editor": _("editor's title"),
    },
    "run_state": {
        "queued": pgettext_lazy("training run state", "queued"),
        "running": pgettext_lazy("training run state", "running"),
        "succeeded": pgettext_lazy("training run state", "succeeded"),
        "failed": pgettext_lazy("training run state", "failed"),
    },
    "platform": {
        "android": pgettext_lazy("platform", "Android"),
        "ios": pgettext_lazy("platform", "iOS"),
        "web": pgettext_lazy("platform", "Web"),
    },
    "activity_state": {
        "active": _("active in the last 7 days"),
        "7-13d": _("inactive 7-13 days"),
        "14-29d": _("inactive 14-29 days"),
        "30d+": _("inactive 30+ days"),
        "never": _("never active"),
    },
    "model_kind": {
        "push_worthiness": pgettext_lazy("model kind", "push-worthiness"),
        "click": pgettext_lazy("model kind", "click model"),
        "mf": pgettext_lazy("model kind", "matrix factorization"),
        "embeddings": pgettext_lazy("model kind", "text embeddings"),
        "click_delay": pgettext_lazy("model kind", "click delay"),
    },
    # The fields a logged decision changed (``Decision.before`` / ``after``), on the content page.
    "field": {
        "status": pgettext_lazy("field", "status"),
        "push_score": pgettext_lazy("field", "push score"),
        "model_version": pgettext_lazy("field", "model version"),
        "text": pgettext_lazy("field", "text"),
        "review": pgettext_lazy("field", "review"),
        "source": pgettext_lazy("field", "source"),
        "rejection_reason": pgettext_lazy("field", "rejection reason"),
        "state": pgettext_lazy("field", "state"),
        "initial_size": pgettext_lazy("field", "initial size"),
        "segment": pgettext_lazy("field", "segment"),
        "decision": pgettext_lazy("field", "decision"),
        "next_size": pgettext_lazy("field", "next size"),
        "sends": pgettext_lazy("field", "sends"),
    },
    # The push-worthiness scorers' reasons, by feature (``Content.score_reasons``).
    "score_reason": {
        "early_reads": _("early reads"),
        "early_reads_per_hour": _("early reads per hour"),
        "early_read_share_relative": _("share of the site's reads, against a typical content's"),
        "campaign_level": _("what the client's campaigns reached against the rule"),
        "early_clicks": _("early clicks"),
        "early_readers_inactive_share": _("inactive early readers"),
        "early_readers_mean_ctr": _("early readers' usual push CTR"),
        "created_hour": _("hour of day"),
        "weekday": _("day of week"),
        "age_minutes": pgettext_lazy("score reason", "age"),
        "category": pgettext_lazy("score reason", "category"),
        "text": pgettext_lazy("score reason", "text"),
    },
    # The orders a client's waves can take before its click model is trained
    # (``recsys.audience.SINGLE_RANKINGS``).
    "ranking": {
        "affinity": pgettext_lazy("ranking", "matrix factorization affinity with the early readers' look-alikes and the category"),
        "mf": pgettext_lazy("ranking", "matrix factorization affinity"),
        "lookalike": pgettext_lazy("ranking", "the early readers' look-alikes"),
        "activity": pgettext_lazy("ranking", "long-term reading habit (days with a read)"),
        "category": pgettext_lazy("ranking", "long-term reading of the content's category"),
    },
    # The offline metrics of model versions (``ModelVersion.metrics``), as column heads.
    "metric": {
        "sampled_auc": pgettext_lazy("metric", "sampled AUC"),
        "auc": pgettext_lazy("metric", "AUC"),
        "pairs": pgettext_lazy("metric", "pairs"),
        "clicks": pgettext_lazy("metric", "clicks"),
        "sends": pgettext_lazy("metric", "sends"),
        "median_s": pgettext_lazy("metric", "median delay (s)"),
        "spearman": pgettext_lazy("metric", "Spearman"),
        "squared_log_error": pgettext_lazy("metric", "squared log error (held out)"),
        "campaigns": pgettext_lazy("metric", "campaigns"),
        "lift_at_k": pgettext_lazy("metric", "lift@k (held out)"),
        "subscribers": pgettext_lazy("metric", "subscribers"),
        "contents": pgettext_lazy("metric", "contents"),
        "subscriber_coverage": pgettext_lazy("metric", "subscribers with a vector"),
    },
    # Which of push-worthiness's challengers a version is (``ModelVersion.metrics["challenger"]``).
    "challenger": {
        "model": pgettext_lazy("challenger", "LightGBM"),
        "calibrated rule": pgettext_lazy("challenger", "the interim rule at the campaigns' level"),
    },
    # Why a training run was queued (``TrainingRun.reason``).
    "training_reason": {
        "requested": pgettext_lazy("training reason", "requested"),
        "first": pgettext_lazy("training reason", "first version"),
        "nightly": pgettext_lazy("training reason", "nightly"),
        "campaigns": pgettext_lazy("training reason", "campaigns ended"),
    },
    # Who decided, when not a person (``Decision.actor_name`` of the system's components).
    "actor": {
        "system": pgettext_lazy("actor", "system"),
        "ramp": pgettext_lazy("actor", "ramp"),
        "planner": pgettext_lazy("actor", "planner"),
        "sweep": pgettext_lazy("actor", "sweep"),
        "trainer": pgettext_lazy("actor", "trainer"),
        "api": pgettext_lazy("actor", "API"),
        "auto-approve": pgettext_lazy("actor", "auto-approve"),
        "auto-approve policy": pgettext_lazy("actor", "auto-approve policy"),
    },
    # What was decided (``Decision.action``), as a verb phrase after who decided.
    "action": {
        "content_evaluate": _("evaluated"),
        "content_reevaluate": _("text changed: evaluate again"),
        "content_reject": _("rejected the content"),
        "content_approve": _("approved the content"),
        "content_expire": _("expired"),
        "campaign_launch": _("launched the campaign"),
        "campaign_end": _("ended the campaign"),
        "campaign_stop": _("stopped the campaign"),
        "title_edit": _("edited a title"),
        "title_add": _("wrote a title"),
        "title_approve": _("approved a title"),
        "title_reject": _("rejected a title"),
        "auto_approve_failed": _("auto-approve could not launch"),
        "auto_approve_policy_set": _("changed the auto-approve policy"),
        "wave_plan": _("planned a wave"),
        "wave_expand": _("expanded the campaign"),
        "wave_resend": _("sent another wave of the same size"),
        "wave_stop": _("stopped after a wave"),
        "policy_set": _("changed the client's policy"),
        "wave_wait": _("waited for late clicks"),
        "sending_pause": _("paused sending"),
        "sending_resume": _("resumed sending"),
        "model_activate": _("activated a model version"),
        "model_keep": _("kept the active model version"),
        "model_unpin": _("unpinned a model version"),
        "login_unlock": _("unlocked a login"),
    },
}


def label(kind: str, code) -> str:
    """The word for ``code`` in the active language; the code itself (underscores as spaces)
    when it has none."""
    if code is None or code == "":
        return ""
    word = LABELS.get(kind, {}).get(str(code))
    return str(word) if word is not None else str(code).replace("_", " ")


def segment_label(segment) -> str:
    """Who a campaign is for (``Campaign.segment``: activity and inactive_days), in words."""
    if not isinstance(segment, dict):
        return str(segment or "")
    activity, days = segment.get("activity"), segment.get("inactive_days")
    if activity == "any":
        return str(_("everyone"))
    if activity == "active":
        return str(_("active in the last %(days)s days") % {"days": days})
    if activity == "inactive":
        return str(_("inactive for %(days)s+ days") % {"days": days})
    return str(segment)


_SUBJECTS = {
    "campaign": _("campaign #%(id)s"),
    "content": _("content #%(id)s"),
    "wave": _("wave %(id)s"),
    "title_variant": _("title #%(id)s"),
    "policy": _("policy of %(id)s"),
}


def subject_label(subject: str) -> str:
    """What a decision was about (``Decision.subject``, e.g. ``wave:2``), in words; as stored
    when it is of another kind (``model:click:v3``, a switch, a login)."""
    kind, sep, rest = (subject or "").partition(":")
    if sep and kind in _SUBJECTS and ":" not in rest:
        return str(_SUBJECTS[kind]) % {"id": rest}
    if kind == "model" and rest.count(":") == 1:
        model, version = rest.split(":")
        return f"{label('model_kind', model)} {version}"
    if kind == "switch":
        whose = rest.rpartition(":")[2]
        return str(_("every client's sending")) if whose == "all" else str(_("a client's sending"))
    return subject or ""


def ranker_label(name: str) -> str:
    """A wave's ranker (``Wave.ranker``: ``interim:category+coreading``, ``model:mf v3+click v2``,
    ``uniform``) in words."""
    if name.startswith("interim:"):
        return str(_("interim ranker (category and co-reading)"))
    if name == "uniform":
        return str(_("uniform random"))
    if name.startswith("model:"):
        models, _sep, alone = name[len("model:"):].partition(" (")
        parts = []
        for part in models.split("+"):
            kind, _sep, version = part.partition(" ")
            parts.append(f"{label('model_kind', kind)} {version}".strip())
        if alone.endswith(" alone)"):  # ordered by one ranking (no click model yet)
            return str(_("%(models)s, by %(ranking)s alone") % {"models": " + ".join(parts),
                                                              "ranking": label("ranking", alone[:-len(" alone)")])})
        return " + ".join(parts)
    return name


def actor_label(name: str) -> str:
    """Who decided: a person's user name as it is; a component of the system in words
    (``evaluator (interim scorer)`` -> the evaluator with its scorer in words)."""
    if name.startswith("evaluator (") and name.endswith(")"):
        return str(_("evaluator (%(scorer)s)") % {"scorer": scorer_label(name[len("evaluator ("):-1])})
    word = LABELS["actor"].get(name)
    return str(word) if word is not None else name


def scorer_label(name: str) -> str:
    """``interim scorer`` or ``push_worthiness v3`` in words."""
    if name == "interim scorer":
        return str(_("interim scorer"))
    kind, _sep, version = name.rpartition(" ")
    if kind in LABELS["model_kind"] and version.startswith("v"):
        return f"{label('model_kind', kind)} {version}"
    return name
