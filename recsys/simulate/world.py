"""The simulated world: subscribers, a stream of contents, organic reads, push clicks.

See ``docs/simulator.md`` for the model and the calibration. Time is seconds since
``WorldConfig.start`` (a timezone-aware datetime). Everything random is drawn from streams keyed
by ``(seed, purpose, index)`` -- hour ``h``'s opens, day ``d``'s contents, content ``c``'s click
uniforms -- so the same seed gives the same numbers however ``advance`` is sliced, and two
strategies pushing the same content to the same person at the same moment see the same outcome
(common random numbers).

Truth of one push of content ``c`` to subscriber ``u`` at time ``t``::

    p = min(p_max, usual_ctr[u](state at t) * affinity[u, c] * quality[c] * 1 / (1 + age / 24 h))
    affinity = ((1 - w) + w * (taste[u] . mix[c]) / (pi . mix[c])) * exp(s z[u, c] - s^2 / 2)

where ``pi`` is the CTR-weighted mean taste, so a random audience's affinity averages 1 and a
random audience's click improvement averages the contents' mean quality, 1.

Pure library: numpy only (and the standard library's zoneinfo).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from recsys.simulate.calibration import (
    ACTIVE, LAPSING, STATES, Calibration, Resolved, difficulty_value, resolve,
)
from recsys.simulate.vocab import MAX_TOPICS, Vocabulary, build_vocabulary, compose

__all__ = ["Activity", "ContentSpec", "Events", "PushLog", "Subscribers", "World", "WorldConfig",
           "STATES", "WEEK", "DAY", "HOUR"]

HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY
_STREAM = {"subscribers": 1, "contents": 2, "hour": 3, "noise": 4, "push": 5, "week": 6, "topics": 7}
_CACHE_BYTES = 64 << 20  # per-(subscriber, content) interest kept in memory, about 64 MB


# ---------------------------------------------------------------------------------- types


@dataclass(frozen=True)
class WorldConfig:
    """Settings of one world. Frozen; ``World(config)`` is deterministic given ``seed``."""

    n_subscribers: int = 20_000
    seed: int = 0
    difficulty: float | str = "default"      # 0..1, or "easy" (0), "default" (0.5), "hard" (1)
    n_topics: int = 10
    contents_per_day: float = 48.0
    languages: tuple[str, ...] = ("ko", "en")
    language_weights: tuple[float, ...] = (0.6, 0.4)
    start: datetime = datetime(2025, 3, 2, 15, 0, tzinfo=timezone.utc)   # Monday 00:00 in Seoul
    holdout_share: float = 0.05
    calibration: Calibration = Calibration()

    def __post_init__(self):
        if int(self.n_subscribers) != self.n_subscribers or self.n_subscribers < 10:
            raise ValueError("n_subscribers must be an integer >= 10")
        difficulty_value(self.difficulty)
        if not self.languages or len(set(self.languages)) != len(self.languages):
            raise ValueError("languages must be distinct and not empty")
        for lang in self.languages:
            if lang not in MAX_TOPICS:
                raise ValueError(f"languages: no corpus for {lang!r} (have {sorted(MAX_TOPICS)})")
        if len(self.language_weights) != len(self.languages) or min(self.language_weights) <= 0:
            raise ValueError("language_weights: one positive weight per language")
        if not len(self.languages) <= self.n_topics <= sum(MAX_TOPICS[lang] for lang in self.languages):
            raise ValueError(f"n_topics must be between {len(self.languages)} and "
                             f"{sum(MAX_TOPICS[lang] for lang in self.languages)} for these languages")
        if not self.contents_per_day > 0:
            raise ValueError("contents_per_day must be > 0")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if not 0 <= self.holdout_share < 1:
            raise ValueError("holdout_share must be in [0, 1)")

    def topics_per_language(self) -> tuple[tuple[str, int], ...]:
        """Split ``n_topics`` by language weight (largest remainder, at least one each, capped)."""
        w = np.asarray(self.language_weights, float) / sum(self.language_weights)
        caps = np.array([MAX_TOPICS[lang] for lang in self.languages])
        k = np.ones(len(w), int)
        for _ in range(self.n_topics - len(w)):
            room = k < caps
            gap = np.where(room, w * self.n_topics - k, -np.inf)
            k[int(np.argmax(gap))] += 1
        return tuple(zip(self.languages, (int(x) for x in k)))


@dataclass(frozen=True, eq=False)
class Subscribers:
    """Everyone, as arrays (index = position). ``initial_state``/``usual_ctr`` are at time 0."""

    external_id: np.ndarray        # str
    timezone: np.ndarray           # str, IANA names
    language: np.ndarray           # str
    platform: np.ndarray           # "ios" | "android"
    push_opt_in: np.ndarray        # bool
    holdout: np.ndarray            # bool: never to be pushed (measurement group)
    taste: np.ndarray              # (n, n_topics), rows sum to 1 (hidden truth)
    initial_state: np.ndarray      # int8 index into STATES
    usual_ctr: np.ndarray          # truth at time 0
    history_sends: np.ndarray      # content pushes before time 0
    history_clicks: np.ndarray
    last_active_at: np.ndarray     # seconds (<= 0) of the last app open before time 0
    open_rate: np.ndarray          # hidden: person's activity multiplier
    base_ctr: np.ndarray           # hidden: CTR when active / state factor

    def __len__(self) -> int:
        return len(self.external_id)


@dataclass(frozen=True)
class ContentSpec:
    """One content as the product receives it, plus the hidden truth (last four fields)."""

    index: int
    external_id: str
    title: str
    body: str
    language: str
    category: str
    created_at: float              # seconds since start
    created_dt: datetime
    topic_mix: tuple[float, ...]   # truth: share of each topic in the text
    main_topic: int
    quality: float                 # truth: multiplies every push click probability
    pull: float                    # truth: organic attractiveness (quality x noise)


@dataclass(frozen=True, eq=False)
class Events:
    subscriber: np.ndarray         # int64 indices
    content: np.ndarray            # int64 content indices (-1 for opens)
    time: np.ndarray               # float64 seconds, sorted

    def __len__(self) -> int:
        return len(self.time)


@dataclass(frozen=True, eq=False)
class Activity:
    """What happened in ``[start, end)``: new contents, app opens, organic reads, and the push
    clicks whose time falls in it (each click is reported once, by the first ``advance`` that
    passes it, even if the push was sent late)."""

    start: float
    end: float
    contents: tuple[ContentSpec, ...]
    opens: Events
    reads: Events
    clicks: Events


@dataclass(frozen=True, eq=False)
class PushLog:
    """Every push so far, in call order (the truth at send time is kept for measurement)."""

    content: np.ndarray
    subscriber: np.ndarray
    sent_at: np.ndarray
    clicked_at: np.ndarray         # NaN: no click (ever)
    p: np.ndarray                  # true click probability at send
    usual_ctr: np.ndarray          # truth at send
    state: np.ndarray              # activity state at send
    delivered: np.ndarray          # False: subscriber had opted out, nothing happened
    repeat: np.ndarray             # True: this person had this content pushed before

    def __len__(self) -> int:
        return len(self.content)

    def select(self, mask) -> "PushLog":
        return PushLog(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})


# ---------------------------------------------------------------------------------- helpers


def _lognormal_mean1(rng, sd, size):
    return np.exp(sd * rng.standard_normal(size) - 0.5 * sd * sd)


def _attention(age_s, cal: Calibration):
    a = np.maximum(age_s, 0.0) / (cal.attention_tau_h * HOUR)
    return (1.0 + a) ** (-cal.attention_beta)


class _Clock:
    """UTC offsets of a few IANA zones, cached per zone and hour."""

    def __init__(self, names, epoch: float):
        self.names = list(names)
        self.zones = [ZoneInfo(n) for n in self.names]
        self.epoch = epoch
        self._cache: dict[tuple[int, int], float] = {}

    def offset(self, code: int, t: float) -> float:
        h = int(math.floor(t / HOUR))
        key = (code, h)
        off = self._cache.get(key)
        if off is None:
            dt = datetime.fromtimestamp(self.epoch + h * HOUR, timezone.utc)
            off = self.zones[code].utcoffset(dt).total_seconds()
            self._cache[key] = off
        return off

    def local_seconds(self, codes: np.ndarray, t) -> np.ndarray:
        """Seconds since local midnight, for each (zone code, time)."""
        codes = np.asarray(codes)
        t = np.broadcast_to(np.asarray(t, float), codes.shape)
        out = np.empty(codes.shape, float)
        hours = np.floor(t / HOUR).astype(np.int64)
        pairs = np.unique(np.stack([codes, hours]), axis=1) if codes.size else np.empty((2, 0), int)
        for code, h in pairs.T:
            m = (codes == code) & (hours == h)
            out[m] = t[m] + self.offset(int(code), h * HOUR)
        return np.mod(out + self.epoch, DAY)


# ------------------------------------------------------------------------------------ world


class World:
    """The simulated world. Mutable: ``advance`` moves time, ``push`` changes people."""

    def __init__(self, config: WorldConfig = WorldConfig()):
        self.config = config
        self.params: Resolved = resolve(config.calibration, config.difficulty)
        self.vocab: Vocabulary = build_vocabulary(config.topics_per_language())
        self.n_topics = len(self.vocab.topics)
        self._epoch = config.start.timestamp()
        self.now = 0.0
        self._build_population()
        self._build_contents_state()
        self._state = self.subscribers.initial_state.copy()
        self._fragile = np.zeros(self.n, bool)
        self._wau: list[np.ndarray] = [np.zeros(self.n, bool)]
        self._hours_done = 0
        self._buffer: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []   # (sub, content, time)
        self._pending_sub = np.empty(0, np.int64)
        self._pending_t = np.empty(0, float)
        self._unreported: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []   # clicks
        self._pushed: dict[int, np.ndarray] = {}     # content -> int8 per subscriber: 0 no, 1 pushed, 2 clicked
        self._log: list[dict] = []
        self._draws: OrderedDict[int, dict] = OrderedDict()

    # -- construction --------------------------------------------------------------------

    def _rng(self, purpose: str, index: int = 0) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.config.seed, _STREAM[purpose], index]))

    def _build_population(self):
        cfg, cal = self.config, self.params.cal
        n = cfg.n_subscribers
        self.n = n
        rng = self._rng("subscribers")
        langs = np.asarray(cfg.languages)
        lw = np.asarray(cfg.language_weights, float) / sum(cfg.language_weights)
        lang_code = rng.choice(len(langs), size=n, p=lw)
        language = langs[lang_code]
        android = rng.random(n) < np.array([cal.get("android_share", lang) for lang in langs])[lang_code]
        platform = np.where(android, "android", "ios")
        opt_in = rng.random(n) < np.where(android, cal.get("opt_in", "android"), cal.get("opt_in", "ios"))
        holdout = rng.random(n) < cfg.holdout_share
        # time zones by language
        tz_names: list[str] = []
        tz_code = np.empty(n, np.int64)
        for li, lang in enumerate(langs):
            names, probs = zip(*cal.get("timezones", lang))
            codes = []
            for name in names:
                if name not in tz_names:
                    tz_names.append(name)
                codes.append(tz_names.index(name))
            m = lang_code == li
            tz_code[m] = np.asarray(codes)[rng.choice(len(names), size=int(m.sum()), p=np.asarray(probs) / sum(probs))]
        self._tz_code = tz_code
        self._clock = _Clock(tz_names, self._epoch)
        # topic popularity: Zipf within each language over a seed-dependent order
        trng = self._rng("topics")
        k = self.n_topics
        within = np.zeros(k)
        self._lang_topics = {}
        for lang in langs:
            idx = np.asarray(self.vocab.by_language(str(lang)))
            order = trng.permutation(len(idx))
            pop = (np.arange(1, len(idx) + 1, dtype=float) ** -cal.topic_zipf)[np.argsort(order)]
            within[idx] = pop / pop.sum()
            self._lang_topics[str(lang)] = idx
        self._within_pop = within
        lang_of_topic = np.array([t.language for t in self.vocab.topics])
        self._topic_freq = within * np.array([lw[list(langs).index(l)] for l in lang_of_topic])
        appeal = np.exp(cal.topic_appeal_sd * trng.standard_normal(k))
        self._appeal = appeal / float(self._topic_freq @ appeal)
        # tastes: Dirichlet over own-language topics, a little weight on the others
        taste = np.zeros((n, k))
        other_w = cal.other_language_weight if len(langs) > 1 else 0.0
        for li, lang in enumerate(langs):
            m = np.flatnonzero(lang_code == li)
            own = self._lang_topics[str(lang)]
            alpha = np.maximum(cal.taste_concentration * within[own], 1e-3)
            taste[np.ix_(m, own)] = (1 - other_w) * rng.dirichlet(alpha, size=len(m))
            for lang2 in langs:
                if lang2 == lang:
                    continue
                oth = self._lang_topics[str(lang2)]
                alpha2 = np.maximum(cal.taste_concentration * within[oth], 1e-3)
                taste[np.ix_(m, oth)] = other_w / (len(langs) - 1) * rng.dirichlet(alpha2, size=len(m))
        taste = np.nan_to_num(taste)
        taste /= np.maximum(taste.sum(1, keepdims=True), 1e-12)
        # states, activity, CTRs
        state = rng.choice(3, size=n, p=self.params.stationary).astype(np.int8)
        open_rate = _lognormal_mean1(rng, cal.open_rate_sd, n)
        h = _lognormal_mean1(rng, cal.ctr_user_sd, n)
        plat_ctr = np.where(android, cal.get("push_ctr", "android"), cal.get("push_ctr", "ios"))
        base_ctr = plat_ctr * cal.ctr_multiplier * h
        usual = np.minimum(cal.p_max, base_ctr * self.params.state_ratio[state])
        lo, hi = cal.history_weeks
        tenure = rng.uniform(lo, hi, n)
        sends = np.where(opt_in, rng.poisson(tenure * cal.history_pushes_per_week), 0)
        clicks = rng.binomial(sends, usual)
        last = np.select(
            [state == ACTIVE, state == LAPSING],
            [-rng.uniform(0, 3 * DAY, n), -rng.uniform(7 * DAY, 21 * DAY, n)],
            -rng.uniform(21 * DAY, 180 * DAY, n),
        )
        self.subscribers = Subscribers(
            external_id=np.array([f"s{cfg.seed}-{i:07d}" for i in range(n)]),
            timezone=np.asarray(tz_names)[tz_code], language=language, platform=platform,
            push_opt_in=opt_in, holdout=holdout, taste=taste, initial_state=state, usual_ctr=usual,
            history_sends=sends.astype(np.int64), history_clicks=clicks.astype(np.int64),
            last_active_at=last, open_rate=open_rate, base_ctr=base_ctr,
        )
        self._android = android
        # pi: CTR-weighted mean taste -> a random audience's affinity averages 1
        self._pi = (usual @ taste) / usual.sum()
        open_hours = np.asarray(cal.open_hours, float)
        self._open_hours = open_hours / open_hours.mean()

    def _build_contents_state(self):
        self._contents: list[ContentSpec] = []
        self._by_external: dict[str, int] = {}
        self._days_done = 0
        k = self.n_topics
        self._c_created = np.empty(0)
        self._c_mix = np.empty((0, k))
        self._c_quality = np.empty(0)
        self._c_pull = np.empty(0)
        self._c_denom = np.empty(0)
        self._released = 0

    def _gen_day(self, d: int):
        cfg, cal = self.config, self.params.cal
        rng = self._rng("contents", d)
        count = int(rng.poisson(cfg.contents_per_day))
        pub_zone = ZoneInfo(cal.publish_timezone)
        weights = np.empty(24)
        for hh in range(24):
            dt = datetime.fromtimestamp(self._epoch + d * DAY + hh * HOUR, timezone.utc).astimezone(pub_zone)
            weights[hh] = cal.publish_hours[dt.hour]
        slots = rng.choice(24, size=count, p=weights / weights.sum())
        times = np.sort(d * DAY + slots * HOUR + rng.random(count) * HOUR)
        langs = list(cfg.languages)
        lw = np.asarray(cfg.language_weights, float) / sum(cfg.language_weights)
        lo, hi = cal.body_sentences
        new = []
        for t in times:
            lang = langs[int(rng.choice(len(langs), p=lw))]
            idx = self._lang_topics[lang]
            pop = self._within_pop[idx] / self._within_pop[idx].sum()
            main = int(idx[rng.choice(len(idx), p=pop)])
            secondary = None
            if len(idx) > 1:
                rest = idx[idx != main]
                pr = self._within_pop[rest] / self._within_pop[rest].sum()
                secondary = int(rest[rng.choice(len(rest), p=pr)])
            n_body = int(rng.integers(lo, hi + 1))
            title, body, labels = compose(self.vocab, main, secondary, n_body, cal.secondary_share, rng)
            mix = np.bincount(labels, minlength=self.n_topics) / len(labels)
            quality = float(self._appeal[main] * _lognormal_mean1(rng, cal.quality_sd, 1)[0])
            pull = float(quality * _lognormal_mean1(rng, cal.popularity_noise_sd, 1)[0])
            i = len(self._contents) + len(new)
            ext = f"c{cfg.seed}-{i:06d}"
            new.append(ContentSpec(
                index=i, external_id=ext, title=title, body=body, language=lang,
                category=self.vocab.topics[main].name, created_at=float(t),
                created_dt=self.config.start + timedelta(seconds=float(t)),
                topic_mix=tuple(float(x) for x in mix), main_topic=main, quality=quality, pull=pull,
            ))
        if new:
            mix = np.array([c.topic_mix for c in new])
            self._contents.extend(new)
            self._by_external.update({c.external_id: c.index for c in new})
            self._c_created = np.concatenate([self._c_created, [c.created_at for c in new]])
            self._c_mix = np.vstack([self._c_mix, mix])
            self._c_quality = np.concatenate([self._c_quality, [c.quality for c in new]])
            self._c_pull = np.concatenate([self._c_pull, [c.pull for c in new]])
            self._c_denom = np.concatenate([self._c_denom, mix @ self._pi])
        self._days_done = d + 1

    # -- per-content draws ---------------------------------------------------------------------

    def _noise(self, c: int) -> np.ndarray:
        """Per-subscriber interest in content ``c`` that no topic explains (mean 1), cached."""
        got = self._draws.get(c)
        if got is not None:
            self._draws.move_to_end(c)
            return got
        sd = self.params.cal.idiosyncratic_sd
        got = np.exp(sd * self._rng("noise", c).standard_normal(self.n) - 0.5 * sd * sd).astype(np.float32)
        self._draws[c] = got
        if len(self._draws) > max(200, _CACHE_BYTES // (4 * self.n)):
            self._draws.popitem(last=False)
        return got

    def _push_draws(self, c: int) -> dict:
        """Content ``c``'s click and delay uniforms for everyone (the same for every push of c)."""
        rp = self._rng("push", c)
        return {"u_click": rp.random(self.n), "u_fast": rp.random(self.n),
                "z_delay": rp.standard_normal(self.n), "u_wake": rp.random(self.n)}

    def _affinity(self, c: int, subs: np.ndarray) -> np.ndarray:
        w = self.params.cal.taste_weight
        ratio = (self.subscribers.taste[subs] @ self._c_mix[c]) / self._c_denom[c]
        return ((1.0 - w) + w * ratio) * self._noise(c)[subs]

    def _ctr_now(self, subs) -> np.ndarray:
        return np.minimum(self.params.cal.p_max,
                          self.subscribers.base_ctr[subs] * self.params.state_ratio[self._state[subs]])

    def _freshness(self, c: int, at) -> np.ndarray:
        age = np.maximum(np.asarray(at, float) - self._c_created[c], 0.0)
        return 1.0 / (1.0 + age / (self.params.cal.push_freshness_h * HOUR))

    def _content_index(self, content) -> int:
        if isinstance(content, (str, np.str_)):
            try:
                return self._by_external[str(content)]
            except KeyError:
                raise KeyError(f"unknown content {content!r}") from None
        c = int(content)
        if not 0 <= c < self._released:
            raise KeyError(f"content {content!r} has not been published yet")
        return c

    def _subs(self, subscribers) -> np.ndarray:
        s = np.asarray(subscribers, dtype=np.int64).ravel()
        if s.size and (s.min() < 0 or s.max() >= self.n):
            raise IndexError("subscriber index out of range")
        return s

    # -- time ------------------------------------------------------------------------------------

    def datetime(self, t: float) -> datetime:
        return self.config.start + timedelta(seconds=float(t))

    def seconds(self, when) -> float:
        if isinstance(when, datetime):
            if when.tzinfo is None:
                raise ValueError("datetimes must be timezone-aware")
            return (when - self.config.start).total_seconds()
        return float(when)

    @staticmethod
    def week_of(t) -> np.ndarray:
        return np.floor_divide(np.asarray(t, float), WEEK).astype(np.int64)

    def advance(self, until) -> Activity:
        """Move time to ``until`` (seconds or aware datetime) and return what happened since ``now``.

        Opens and reads of hour ``h`` are drawn when the hour begins, from the states at that
        moment; push clicks change states at their click time and take effect from the next
        hour. Weekly state transitions happen at every multiple of 7 days.
        """
        until = self.seconds(until)
        if until < self.now:
            raise ValueError(f"cannot go back in time (now={self.now}, until={until})")
        start = self.now
        while self._hours_done * HOUR < until:
            h = self._hours_done
            t0 = h * HOUR
            self._apply_clicks(t0)
            if h > 0 and h % 168 == 0:
                self._weekly_transition(h // 168)
            while self._days_done * DAY <= t0 + HOUR:
                self._gen_day(self._days_done)
            self._gen_hour(h)
            self._hours_done += 1
        self._apply_clicks(until)
        self.now = until
        # release contents and buffered events
        first = self._released
        while self._released < len(self._contents) and self._contents[self._released].created_at < until:
            self._released += 1
        contents = tuple(self._contents[first:self._released])
        subs, cont, times = ([np.concatenate(x) for x in zip(*self._buffer)]
                             if self._buffer else (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)))
        due = times < until
        order = np.argsort(times[due], kind="stable")
        s, c, t = subs[due][order], cont[due][order], times[due][order]
        self._buffer = [(subs[~due], cont[~due], times[~due])] if (~due).any() else []
        is_open = c < 0
        opens = Events(s[is_open], c[is_open], t[is_open])
        reads = Events(s[~is_open], c[~is_open], t[~is_open])
        return Activity(start, until, contents, opens, reads, self._report_clicks(until))

    def _report_clicks(self, until: float) -> Events:
        if not self._unreported:
            return Events(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
        s, c, t = (np.concatenate(x) for x in zip(*self._unreported))
        due = t < until
        order = np.argsort(t[due], kind="stable")
        self._unreported = [(s[~due], c[~due], t[~due])] if (~due).any() else []
        return Events(s[due][order], c[due][order], t[due][order])

    def _week_row(self, week: int) -> np.ndarray:
        while len(self._wau) <= week:
            self._wau.append(np.zeros(self.n, bool))
        return self._wau[week]

    def _apply_clicks(self, until: float):
        if not len(self._pending_t):
            return
        due = self._pending_t < until
        if not due.any():
            return
        subs, times = self._pending_sub[due], self._pending_t[due]
        order = np.argsort(times, kind="stable")
        subs, times = subs[order], times[order]
        weeks = self.week_of(times)
        for w in np.unique(weeks):
            self._week_row(int(w))[subs[weeks == w]] = True
        back = self._state[subs] != ACTIVE
        self._fragile[subs[back]] = True
        self._state[subs] = ACTIVE
        self._pending_sub, self._pending_t = self._pending_sub[~due], self._pending_t[~due]

    def _weekly_transition(self, week: int):
        cal = self.params.cal
        rng = self._rng("week", week)
        p = np.asarray(cal.transition, float)
        row = self._state.astype(np.int64)
        row = np.where(self._fragile & (row == ACTIVE), STATES.index(cal.reactivated_transition), row)
        cum = np.cumsum(p, axis=1)[row]
        u = rng.random(self.n)[:, None]
        self._state = np.minimum((u > cum).sum(1), 2).astype(np.int8)
        self._fragile[:] = False
        self._week_row(week)

    def _gen_hour(self, h: int):
        cal = self.params.cal
        rng = self._rng("hour", h)
        t0 = h * HOUR
        local_h = (self._clock.local_seconds(np.arange(len(self._clock.names)), t0 + 1800.0) // HOUR).astype(int)
        rate = (np.asarray(cal.opens_per_week)[self._state] * self.subscribers.open_rate
                * self._open_hours[local_h[self._tz_code]] * cal.organic_multiplier / 168.0)
        k = rng.poisson(rate)
        subs = np.repeat(np.arange(self.n), k)
        if not len(subs):
            return
        t_open = t0 + rng.random(len(subs)) * HOUR
        self._week_row(h // 168)[subs] = True
        n_reads = rng.poisson(cal.reads_per_open, len(subs))
        parts = [(subs, np.full(len(subs), -1, np.int64), t_open)]
        live = np.flatnonzero((self._c_created < t0 + HOUR) & (self._c_created > t0 - cal.live_window_h * HOUR))
        reader = np.flatnonzero(n_reads > 0)
        if len(live) and len(reader):
            u, tr, kr = subs[reader], t_open[reader], n_reads[reader]
            w = cal.taste_weight
            ratio = (self.subscribers.taste[u] @ self._c_mix[live].T) / self._c_denom[live]
            noise = np.stack([self._noise(int(c))[u] for c in live], axis=1)
            age = tr[:, None] - self._c_created[live][None, :]
            weight = ((1 - w) + w * ratio) * noise * self._c_pull[live] * _attention(age, cal)
            with np.errstate(divide="ignore"):
                key = np.where(age > 0, np.log(weight), -np.inf) + rng.gumbel(size=weight.shape)
            order = np.argsort(-key, axis=1, kind="stable")
            kmax = int(min(kr.max(), len(live)))
            top = order[:, :kmax]
            take = (np.arange(kmax)[None, :] < kr[:, None]) & np.isfinite(np.take_along_axis(key, top, 1))
            rows, cols = np.nonzero(take)
            gaps = rng.exponential(60.0, size=take.shape)
            t_read = tr[:, None] + np.cumsum(gaps, axis=1)
            parts.append((u[rows], live[top[rows, cols]].astype(np.int64), t_read[rows, cols]))
        self._buffer.append(tuple(np.concatenate(x) for x in zip(*parts)))

    # -- pushes ----------------------------------------------------------------------------------

    def push(self, content, subscribers, sent_at) -> np.ndarray:
        """Send ``content`` to ``subscribers`` at ``sent_at`` (scalar or one per subscriber).

        Returns click times in seconds (NaN = no click, ever). Clicks are drawn from the truth
        with their delays; a click makes the clicker weekly active in the click's week and active
        from then on (see ``docs/simulator.md``). Opted-out subscribers receive nothing (NaN). A
        person never clicks the same content twice; a repeated push that was not clicked is
        judged again with the same random draw. Pushing a holdout subscriber is an error.
        """
        c = self._content_index(content)
        subs = self._subs(subscribers)
        sent = np.asarray(self.seconds(sent_at) if isinstance(sent_at, datetime) else sent_at, float)
        try:
            sent = np.broadcast_to(sent, subs.shape).copy()
        except ValueError:
            raise ValueError("sent_at must be a scalar or have one value per subscriber") from None
        if not np.isfinite(sent).all():
            raise ValueError("sent_at must be finite")
        if (sent < self._c_created[c] - 1e-6).any():
            raise ValueError(f"sent_at before the content was created ({self._c_created[c]})")
        if self.subscribers.holdout[subs].any():
            raise ValueError("holdout subscribers must never be pushed")
        cal = self.params.cal
        d = self._push_draws(c)
        status = self._pushed.setdefault(c, np.zeros(self.n, np.int8))
        # within one call, a duplicate counts as a repeat of the first
        first = np.zeros(len(subs), bool)
        first[np.unique(subs, return_index=True)[1]] = True
        repeat = (status[subs] > 0) | ~first
        delivered = self.subscribers.push_opt_in[subs].copy()
        ctr = self._ctr_now(subs)
        p = np.minimum(cal.p_max, ctr * self._affinity(c, subs) * self._c_quality[c] * self._freshness(c, sent))
        can = delivered & (status[subs] < 2) & first
        click = can & (d["u_click"][subs] < p)
        clicked_at = np.full(len(subs), np.nan)
        if click.any():
            cs = subs[click]
            fast = d["u_fast"][cs] < np.where(self._android[cs], self.params.delay_fast["android"],
                                              self.params.delay_fast["ios"])
            med = np.where(fast, cal.delay_fast_median_s, cal.delay_slow_median_s)
            sig = np.where(fast, cal.delay_fast_sigma, cal.delay_slow_sigma)
            delay = med * np.exp(sig * d["z_delay"][cs])
            seen = sent[click] + self._wake_wait(cs, sent[click], d["u_wake"][cs])
            clicked_at[click] = seen + delay
            status[cs] = 2
            self._pending_sub = np.concatenate([self._pending_sub, cs])
            self._pending_t = np.concatenate([self._pending_t, clicked_at[click]])
            self._unreported.append((cs, np.full(len(cs), c, np.int64), clicked_at[click]))
        status[subs[delivered & (status[subs] == 0)]] = 1
        self._log.append(dict(content=np.full(len(subs), c, np.int64), subscriber=subs, sent_at=sent,
                              clicked_at=clicked_at, p=np.where(delivered, p, 0.0), usual_ctr=ctr,
                              state=self._state[subs].copy(), delivered=delivered, repeat=repeat))
        self._apply_clicks(self.now)   # clicks already in the past (a push sent late) take effect now
        return clicked_at

    def _wake_wait(self, subs, t, u) -> np.ndarray:
        """Seconds until a person sees a push delivered at ``t``: 0 when awake."""
        start, end = self.params.cal.sleep_hours
        if start == end:
            return np.zeros(len(subs))
        local = self._clock.local_seconds(self._tz_code[subs], t)
        s, e = start * HOUR, end * HOUR
        if s < e:
            asleep = (local >= s) & (local < e)
            wait = e - local
        else:  # the window wraps midnight
            asleep = (local >= s) | (local < e)
            wait = np.where(local >= s, DAY - local + e, e - local)
        return np.where(asleep, wait + u * 1800.0, 0.0)   # up to half an hour to pick up the phone

    # -- truth and measurement -------------------------------------------------------------

    @property
    def contents(self) -> tuple[ContentSpec, ...]:
        """Contents published so far."""
        return tuple(self._contents[: self._released])

    @property
    def topics(self):
        return self.vocab.topics

    def activity_state(self) -> np.ndarray:
        """Current activity state of everyone (index into STATES)."""
        return self._state.copy()

    def history_reads(self, rng: np.random.Generator, *, weeks: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What people read before time 0, drawn from the reading model with ``rng``: as much as
        an active person reads in ``weeks`` weeks, each read's topic in proportion to taste, in
        the ``weeks`` before each one's last app open. Returns (subscriber, topic, seconds <= 0):
        a product's history (``manage.py simulate`` registers it; the ranking yardstick
        estimates tastes from it)."""
        subs, cal = self.subscribers, self.params.cal
        k = len(self.vocab.topics)
        counts = rng.poisson(cal.opens_per_week[0] * subs.open_rate * weeks * cal.reads_per_open)
        who = np.repeat(np.arange(len(subs)), counts)
        w = cal.taste_weight
        cum = np.cumsum((1 - w) / k + w * subs.taste, axis=1)
        cum /= cum[:, -1:]
        topic = (cum[who] < rng.random(len(who))[:, None]).sum(axis=1)
        when = np.minimum(subs.last_active_at[who], 0.0) - rng.uniform(0, 7 * 86400 * weeks, len(who))
        return who, topic, when

    def taste_affinity(self, content, subscribers) -> np.ndarray:
        """The part of a push's click probability over the usual CTR that taste explains: the
        affinity without the interest in this one story that no topic explains (which nobody
        can know before the person reads it). Ranking by it is what a ranker that knew
        everyone's taste exactly would do."""
        c, subs = self._content_index(content), self._subs(subscribers)
        w = self.params.cal.taste_weight
        return (1.0 - w) + w * (self.subscribers.taste[subs] @ self._c_mix[c]) / self._c_denom[c]

    def content_quality(self, content) -> float:
        """The content's true quality: the factor every push click probability of it carries."""
        return float(self._c_quality[self._content_index(content)])

    def usual_ctr(self, subscribers=None) -> np.ndarray:
        """True usual push CTR now (depends on the current activity state)."""
        subs = np.arange(self.n) if subscribers is None else self._subs(subscribers)
        return self._ctr_now(subs)

    def true_click_prob(self, content, subscribers, at=None) -> np.ndarray:
        """Click probability of a push sent ``at`` (default: at the content's creation), given
        everyone's current state."""
        return self._click_prob(self._content_index(content), self._subs(subscribers), at)

    def _click_prob(self, c: int, subs: np.ndarray, at=None) -> np.ndarray:
        if at is None:
            at = self._c_created[c]
        else:  # one time, or one per subscriber (seconds)
            at = np.asarray(at, float) if isinstance(at, np.ndarray) else self.seconds(at)
        cal = self.params.cal
        return np.minimum(cal.p_max, self._ctr_now(subs) * self._affinity(c, subs)
                          * self._c_quality[c] * self._freshness(c, at))

    # -- the future, for references that know it ------------------------------------------------

    def upcoming(self, until, since=None) -> tuple[ContentSpec, ...]:
        """The contents created from ``since`` (default: now) until ``until``, published or not:
        for references that know the future (the hindsight optimum). Nothing else is drawn: each
        day's contents come from that day's own random stream, so a world that peeks is the same
        world as one that does not."""
        until = self.seconds(until)
        since = self.now if since is None else self.seconds(since)
        while self._days_done * DAY < until:
            self._gen_day(self._days_done)
        return tuple(c for c in self._contents if since <= c.created_at < until)

    def click_prob_ahead(self, content: int, subscribers, at) -> np.ndarray:
        """``true_click_prob`` of a content returned by ``upcoming`` (published or not), with
        everyone's current state; ``at``: one time, or an array of one per subscriber."""
        c = int(content)
        if not 0 <= c < len(self._contents):
            raise KeyError(f"content {content!r} is not known yet: ask upcoming() first")
        return self._click_prob(c, self._subs(subscribers), at)

    def true_improvement(self, content, subscribers, at=None) -> float:
        """Expected clicks / sum of usual CTRs for this audience (the ramp's true improvement)."""
        subs = self._subs(subscribers)
        if not len(subs):
            return float("nan")
        return float(self.true_click_prob(content, subs, at).sum() / self._ctr_now(subs).sum())

    def oracle_rank(self, content, candidates, k: int, at=None, *, by: str = "improvement") -> np.ndarray:
        """The ``k`` candidates with the highest true click probability / usual CTR (``by`` =
        "improvement") or true click probability ("probability"), best first."""
        if by not in ("improvement", "probability"):
            raise ValueError(f"by must be 'improvement' or 'probability', not {by!r}")
        cand = self._subs(candidates)
        if k <= 0 or not len(cand):
            return np.empty(0, np.int64)
        score = self.true_click_prob(content, cand, at)
        if by == "improvement":
            score = score / self._ctr_now(cand)
        k = min(int(k), len(cand))
        part = np.argpartition(-score, k - 1)[:k]
        return cand[part[np.lexsort((cand[part], -score[part]))]]

    def weekly_active(self, week: int) -> np.ndarray:
        """Who had an app open or a push click in week ``week`` (so far, if it is running)."""
        if week < 0:
            raise ValueError("week must be >= 0")
        if week >= len(self._wau):
            return np.zeros(self.n, bool)
        return self._wau[week].copy()

    def push_log(self) -> PushLog:
        if not self._log:
            z = np.empty(0)
            zi = np.empty(0, np.int64)
            zb = np.empty(0, bool)
            return PushLog(zi, zi, z, z, z, z, np.empty(0, np.int8), zb, zb)
        return PushLog(**{k: np.concatenate([e[k] for e in self._log]) for k in self._log[0]})

    def content(self, content) -> ContentSpec:
        return self._contents[self._content_index(content)]
