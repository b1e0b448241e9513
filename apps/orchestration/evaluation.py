"""Evaluation when its time comes, and the launch of the candidates a client's policy approves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from apps.contents.selectors import due_for_evaluation
from apps.contents.services import EVALUATION_BATCH, EVALUATION_MAX_BATCHES, contents_evaluate_batch
from apps.mlops.features import evaluation_inputs
from apps.mlops.scoring import active_scorer
from apps.orchestration.engine import RankerFor
from apps.orchestration.launch import content_auto_launch

# client id -> the scorer of its contents (``apps.mlops.scoring.Scorer``: ``score(features,
# content=)``, ``name``, ``model_version``, ``needs_text``); the simulator's truth-fed yardstick
# puts its own in, as it does rankers
ScorerFor = Callable[[int], object]


def contents_evaluate_due(*, now: datetime, ranker_for: RankerFor | None = None,
                          scorer_for: ScorerFor | None = None) -> int:
    """Evaluate every registered content whose evaluation time has come, with each client's active scorer
    (``scorer_for``'s when given); launch the candidates that match their client's auto-approve policy. Returns how many were
    evaluated (at most ``EVALUATION_MAX_BATCHES`` batches a call; the rest wait for the next)."""
    if not due_for_evaluation(now).exists():  # the usual minute: nothing due, no model loading
        return 0
    scorers: dict[int, object] = {}
    lookup = scorer_for or active_scorer

    def cached(client_id: int):  # each client's own push-worthiness model, looked up once a sweep
        if client_id not in scorers:
            scorers[client_id] = lookup(client_id)
        return scorers[client_id]

    total = 0
    for _ in range(EVALUATION_MAX_BATCHES):
        evaluated, candidates = contents_evaluate_batch(scorer_for=cached, features_of=evaluation_inputs, now=now)
        total += evaluated
        for content_id in candidates:
            content_auto_launch(content_id=content_id, now=now, ranker_for=ranker_for)
        if evaluated < EVALUATION_BATCH:
            break
    return total
