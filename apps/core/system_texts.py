"""The product's own stored sentences, shown in the active language.

Some rows keep a sentence the system wrote when it decided: a wave's decision reason, a
campaign's end reason, a decision's note, a training run's progress message, an evaluation's
rejection reason. They are stored in English (the decision log is the record, and the API and
the logs read it as written); a page shows them through ``translate``, which recognizes each
sentence the product writes by its pattern and says it again in the active language with the
same numbers. A sentence it does not recognize (an editor's own words, a provider's error) is
shown as it is. ``tests/core/test_i18n.py`` writes each sentence with the producers' code and
checks that it is recognized.
"""

from __future__ import annotations

import re

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from apps.core.labels import label

N = r"-?[\d.,]+|inf|nan"  # a number as the producers print it

_PATTERNS: list[tuple[re.Pattern, object]] = [(re.compile(p + r"\Z"), msg) for p, msg in [
    # recsys.ramp.decide: what it saw, then what it decided
    (rf"(?P<clicks>{N}) clicks vs (?P<expected>{N}) expected by now \(improvement (?P<improvement>{N}), anytime "
     rf"(?P<level>\d+%) interval (?P<lo>{N})-(?P<hi>{N}), normal (?P<nlo>{N})-(?P<nhi>{N})\)",
     _("%(clicks)s clicks vs %(expected)s expected by now (improvement %(improvement)s, anytime %(level)s interval "
       "%(lo)s-%(hi)s, normal %(nlo)s-%(nhi)s)")),
    (rf"expand to (?P<n>{N}): confident improvement > floor (?P<floor>{N}) \(e-value (?P<e>{N}) >= (?P<need>{N})\)",
     _("expand to %(n)s: confident improvement > floor %(floor)s (e-value %(e)s >= %(need)s)")),
    (rf"stop: confident improvement < target (?P<target>{N}) \(e-value (?P<e>{N}) >= (?P<need>{N})\)",
     _("stop: confident improvement < target %(target)s (e-value %(e)s >= %(need)s)")),
    (rf"re-send (?P<n>{N}): not yet confident either way \(e-values (?P<up>{N}) and (?P<down>{N}), need (?P<need>{N})\)",
     _("re-send %(n)s: not yet confident either way (e-values %(up)s and %(down)s, need %(need)s)")),
    (rf"stop: budget of (?P<n>{N}) waves used without a confident answer",
     _("stop: budget of %(n)s waves used without a confident answer")),
    (rf"stop: above the floor (?P<floor>{N}) but the content's cap is reached",
     _("stop: above the floor %(floor)s but the content's cap is reached")),
    (r"stop: the content's cap is reached", _("stop: the content's cap is reached")),
    # the wait: its parenthesis holds a "; ", so ``translate`` sees its halves as two parts
    (r"wait: late clicks still to come \(evidence (?P<m>\d+%) mature, need (?P<need>\d+%) before stopping",
     _("wait: late clicks still to come (evidence %(m)s mature, need %(need)s before stopping")),
    (r"wait: late clicks still to come \(evidence (?P<m>\d+%) mature, need (?P<need>\d+%) before sending more",
     _("wait: late clicks still to come (evidence %(m)s mature, need %(need)s before sending more")),
    (rf"e-values (?P<up>{N}) and (?P<down>{N}), need (?P<need>{N})\)", _("e-values %(up)s and %(down)s, need %(need)s)")),
    # apps.orchestration: other ends of a campaign
    (r"No push of this campaign was delivered\.", _("No push of this campaign was delivered.")),
    (r"No eligible subscriber left for this content\.", _("No eligible subscriber left for this content.")),
    (r"Nobody eligible valued this content above the price of their weekly slot\.",
     _("Nobody eligible valued this content above the price of their weekly slot.")),
    (r"content expired", _("content expired")),
    (r"stopped by an operator", _("stopped by an operator")),
    (r"stopped by (?P<user>[^:]+): (?P<reason>.*)", _("stopped by %(user)s: %(reason)s")),
    (r"stopped by (?P<user>[^:]+)", _("stopped by %(user)s")),
    # apps.contents: evaluation and the editorial log
    (rf"Predicted click improvement (?P<score>{N}) is below the client's threshold (?P<threshold>{N})\.",
     _("Predicted click improvement %(score)s is below the client's threshold %(threshold)s.")),
    (r"text changed before any push", _("text changed before any push")),
    (rf"score (?P<score>{N}) >= (?P<min>{N})", _("score %(score)s >= %(min)s")),
    # a launch the auto-approve policy could not make (its decision's note)
    (r"Only an approved content can be launched; this one is (?P<status>\w+)\.",
     _("Only an approved content can be launched; this one is %(status)s.")),
    (r"The content has expired\.", _("The content has expired.")),
    (r"Approve at least one title first\.", _("Approve at least one title first.")),
    (r"Approve at least one title before launching\.", _("Approve at least one title before launching.")),
    (r"This content has a campaign already\.", _("This content has a campaign already.")),
    # apps.mlops: model versions and training runs
    (rf"(?P<metric>[\w@.-]+) (?P<new>{N}) beats nothing active", _("%(metric)s %(new)s beats nothing active")),
    (rf"(?P<metric>[\w@.-]+) (?P<new>{N}) beats (?P<old>{N})", _("%(metric)s %(new)s beats %(old)s")),
    (rf"not activated: (?P<metric>[\w@.-]+) (?P<new>{N}) <= (?P<old>{N})", _("not activated: %(metric)s %(new)s <= %(old)s")),
    (r"activated by hand by (?P<user>.+)", _("activated by hand by %(user)s")),
    (r"pinned by hand by (?P<user>.+)", _("pinned by hand by %(user)s")),
    (r"not activated: v(?P<v>\d+) is pinned", _("not activated: v%(v)s is pinned")),
    (rf"not activated: (?P<metric>[\w@.-]+) (?P<new>{N}) is not above (?P<floor>{N})",
     _("not activated: %(metric)s %(new)s is not above %(floor)s")),
    (r"first version, not yet judged on held-out contents", _("first version, not yet judged on held-out contents")),
    (r"not activated: no held-out contents to judge it on", _("not activated: no held-out contents to judge it on")),
    (rf"(?P<n>{N}) contents have had their horizon, need (?P<need>{N})",
     _("%(n)s contents have had their horizon, need %(need)s")),
    (rf"(?P<n>{N}) contents after the split, need (?P<need>{N})", _("%(n)s contents after the split, need %(need)s")),
    (r"too few events before the split", _("too few events before the split")),
    (r"comparing configurations on a time split", _("comparing configurations on a time split")),
    (rf"fitting ALS on (?P<n>{N}) events \((?P<subs>{N}) subscribers x (?P<contents>{N}) contents\)",
     _("fitting ALS on %(n)s events (%(subs)s subscribers x %(contents)s contents)")),
    (r"queued", _("queued")),
    (r"starting", _("starting")),
    (r"failed", _("failed")),
    (r"trained v(?P<v>\d+) \(active\)", _("trained v%(v)s (active)")),
    (r"trained v(?P<v>\d+) \(kept the active version\)", _("trained v%(v)s (kept the active version)")),
    (r"reading interactions", _("reading interactions")),
    (rf"only (?P<n>{N}) interactions; need (?P<need>{N})", _("only %(n)s interactions; need %(need)s")),
    (rf"fitting ALS on (?P<pairs>{N}) pairs \((?P<subs>{N}) subscribers x (?P<contents>{N}) contents\)",
     _("fitting ALS on %(pairs)s pairs (%(subs)s subscribers x %(contents)s contents)")),
    (r"evaluating on the held-out 10%", _("evaluating on the held-out 10%%")),
    (rf"only (?P<n>{N}) clicks; need (?P<need>{N})", _("only %(n)s clicks; need %(need)s")),
    (r"reading the waves' features and clicks", _("reading the waves' features and clicks")),
    (r"no wave with features has finished its click horizon", _("no wave with features has finished its click horizon")),
    (rf"only (?P<n>{N}) clicks on sends with features; need (?P<need>{N})",
     _("only %(n)s clicks on sends with features; need %(need)s")),
    (r"no send with features has matured since the active click model",
     _("no send with features has matured since the active click model")),
    (rf"(?P<n>{N}) clicks to train on and (?P<test>{N}) after them that neither model trained on; "
     rf"need (?P<need>{N}) and (?P<need_test>{N})",
     _("%(n)s clicks to train on and %(test)s after them that neither model trained on; need %(need)s and %(need_test)s")),
    (rf"fitting on (?P<n>{N}) sends \((?P<clicks>{N}) clicks\)", _("fitting on %(n)s sends (%(clicks)s clicks)")),
    (rf"only (?P<n>{N}) finished campaigns; need (?P<need>{N})", _("only %(n)s finished campaigns; need %(need)s")),
    (rf"features of (?P<n>{N}) campaigns", _("features of %(n)s campaigns")),
]]


def _one(text: str) -> str | None:
    for pattern, message in _PATTERNS:
        m = pattern.match(text)
        if m:
            values = m.groupdict()
            if "status" in values:  # a content's status, stored as its code
                values["status"] = label("content_status", values["status"])
            if "metric" in values:  # a model's offline metric, by its name
                values["metric"] = label("metric", values["metric"])
            return str(message) % values
    return None


def translate(text: str) -> str:
    """``text`` in the active language when the product wrote it, else ``text`` itself. A
    decision reason is several sentences joined by "; " (what was decided; what it saw)."""
    if not text or (get_language() or "en").split("-")[0] == "en":
        return text  # stored in English: shown as written
    whole = _one(text)
    if whole is not None:
        return whole
    parts = text.split("; ")
    if len(parts) > 1:
        out = [_one(p) for p in parts]
        if any(o is not None for o in out):
            return "; ".join(o if o is not None else p for o, p in zip(out, parts))
    return text
