"""Evaluation of registered contents once their time has come: a score from the scorer the caller
passes (``apps.mlops.scoring``), candidate or rejected against the client's threshold, machine-made
title variants for candidates, one decision row each."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from apps.core.models import Client
from apps.core.services import decision_record
from apps.contents.models import AutoApprovePolicy, Content, ContentStatus, TitleTemplate, TitleVariant
from apps.contents.selectors import content_language, due_for_evaluation
from apps.contents.services.lifecycle import content_transition
from apps.contents.titles import TemplateSpec, dedupe_key, propose

EVALUATION_BATCH = 200
EVALUATION_MAX_BATCHES = 10  # per sweep tick; what is left waits one minute


def contents_evaluate_batch(*, scorer_for, features_of, now: datetime) -> tuple[int, list[int]]:
    """Evaluate up to ``EVALUATION_BATCH`` due contents in one transaction (rows locked, skipping
    rows another sweep holds; each leaves ``registered`` in it, so it is scored once per text).

    ``scorer_for(client_id)`` is the scorer of a client's contents (each client's own model);
    ``features_of(contents=, now=, scorer=)`` gives each content's decision-time features.
    Returns how many were evaluated and the new candidates their client's auto-approve policy
    would launch (the caller launches them).
    """
    with transaction.atomic():
        contents = list(due_for_evaluation(now).select_for_update(skip_locked=True)
                        .order_by("evaluate_at", "id")[:EVALUATION_BATCH])
        if not contents:
            return 0, []
        clients = {c.pk: c for c in Client.objects.filter(pk__in={c.client_id for c in contents}).select_related("policy")}
        scorers = {pk: scorer_for(pk) for pk in clients}
        inputs = {}
        for pk, scorer in scorers.items():
            inputs.update(features_of(contents=[c for c in contents if c.client_id == pk], now=now, scorer=scorer))
        templates = _templates_by_language()
        policies = {p.client_id: p for p in AutoApprovePolicy.objects.filter(client_id__in=clients, enabled=True)}
        candidates = []
        for content in contents:
            client = clients[content.client_id]
            became = _evaluate_one(content, client, scorers[content.client_id], inputs[content.pk], templates, now)
            policy = policies.get(content.client_id)
            if became == ContentStatus.CANDIDATE and policy and policy.applies_to(score=content.push_score, category=content.category):
                candidates.append(content.pk)
        return len(contents), candidates


def _templates_by_language() -> dict[str, list]:
    out: dict[str, list] = {"ko": [], "en": []}
    for t in TitleTemplate.objects.filter(is_active=True).order_by("priority", "name"):
        out.setdefault(t.language, []).append(TemplateSpec(t.name, t.pattern))
    return out


def _evaluate_one(content: Content, client: Client, scorer, features, templates, now: datetime) -> str:
    score, reasons = scorer.score(features, content=content)
    threshold = client.policy.candidate_threshold
    to = ContentStatus.CANDIDATE if score >= threshold else ContentStatus.REJECTED
    reason = "" if to == ContentStatus.CANDIDATE else (
        f"Predicted click improvement {score:.2f} is below the client's threshold {threshold:.2f}.")
    before = {"status": content.status, "push_score": content.push_score}
    content_transition(content=content, to=to, push_score=score, score_model_version=scorer.model_version,
                       score_reasons=reasons, evaluated_at=now, early_reads=features.early_reads,
                       early_read_share=features.early_read_share, rejection_reason=reason)
    variants = _variants_generate(content, templates, now) if to == ContentStatus.CANDIDATE else []
    decision_record(
        client=client, action="content_evaluate", actor_name=f"evaluator ({scorer.name})", content=content,
        subject=f"content:{content.pk}", before=before,
        after={"status": to, "push_score": round(score, 4), "model_version": scorer.name, "variants": variants},
        numbers={"threshold": threshold, "early_reads": features.early_reads, "early_clicks": features.early_clicks,
                 "age_minutes": round(features.age_minutes, 1),
                 "early_read_share": None if features.early_read_share is None else round(features.early_read_share, 5),
                 "early_read_share_typical": (None if features.early_read_share_typical is None
                                              else round(features.early_read_share_typical, 5)),
                 "early_readers_inactive_share": round(features.early_readers_inactive_share, 4),
                 "early_readers_mean_ctr": round(features.early_readers_mean_ctr, 5),
                 "reasons": reasons},
        note=reason, now=now,
    )
    return to


def _variants_generate(content: Content, templates: dict[str, list], now: datetime) -> list[str]:
    """Replace the machine-made title variants of a content (editors' own titles stay, back to pending)."""
    from recsys.text import extract_keyphrases

    language = content_language(content)
    keyphrases = extract_keyphrases(content.title, content.body[:5000], language=language, k=5)
    proposals = propose(title=content.title, category=content.category, language=language,
                        keyphrases=keyphrases, templates=templates.get(language, []))
    content.title_variants.exclude(source=TitleVariant.Source.EDITOR).delete()
    content.title_variants.update(review=TitleVariant.Review.PENDING, reviewed_by=None, reviewed_at=None)
    kept = {dedupe_key(t) for t in content.title_variants.values_list("text", flat=True)}
    new = [
        TitleVariant(content=content, text=p.text[:300], template_name=p.template_name,
                     source=TitleVariant.Source.TEMPLATE if p.template_name else TitleVariant.Source.ORIGINAL)
        for p in proposals if dedupe_key(p.text) not in kept
    ]
    TitleVariant.objects.bulk_create(new)
    return [v.text for v in new]
