"""Per-topic text from real corpora that ship in installed packages.

English: gensim's ``test/test_data/lee_background.cor`` (300 Australian news stories, 2001).
Korean: konlpy's ``data/corpus`` (the Constitution of the Republic of Korea and ten National
Assembly bills). Each corpus is cut into units (an English story; four consecutive Korean
sentences of one chapter or bill), the units are tokenised with :func:`recsys.text.tokenize`
(kiwipiepy for Korean) and clustered into topics with spherical k-means on tf-idf (best of ten
seeded restarts, so the topics are the same in every process). A topic is named after its two
heaviest words (``"fire-sydney"``, ``"육아-휴직"``).

A content's text is a window of consecutive sentences from one unit of its main topic, some
sentences swapped for sentences of a secondary topic; its title is the first sentence cut to
headline length. So the words carry the topic (a bag-of-words classifier recovers it, see the
tests), the text reads like the source, and the product's tokenizer and keyphrases work on it.

Pure library: numpy/scipy and :mod:`recsys.text`.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys.text import tokenize

__all__ = ["MAX_TOPICS", "Topic", "Vocabulary", "build_vocabulary", "corpus_paths", "headline"]

MAX_TOPICS = {"en": 10, "ko": 8}
_RESTARTS = 10
_KO_CHUNK = 4
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


@dataclass(frozen=True)
class Topic:
    index: int                       # global topic index in the world
    language: str
    name: str                        # category name shown to the product
    top_words: tuple[str, ...]       # heaviest words of the topic (tf-idf centroid), best first
    word_weights: tuple[float, ...]  # their centroid weights
    units: tuple[tuple[str, ...], ...]  # coherent runs of sentences

    @property
    def n_sentences(self) -> int:
        return sum(len(u) for u in self.units)


@dataclass(frozen=True)
class Vocabulary:
    topics: tuple[Topic, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.topics)

    def by_language(self, language: str) -> tuple[int, ...]:
        return tuple(t.index for t in self.topics if t.language == language)


# ------------------------------------------------------------------------------------ corpora


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {name!r} is not installed; the simulator's corpora ship with it")
    return Path(list(spec.submodule_search_locations)[0])


def corpus_paths() -> dict[str, list[Path]]:
    """The corpus files used, by language."""
    lee = _package_dir("gensim") / "test" / "test_data" / "lee_background.cor"
    ko_root = _package_dir("konlpy") / "data" / "corpus"
    ko = [ko_root / "kolaw" / "constitution.txt"] + sorted((ko_root / "kobill").glob("*.txt"))
    return {"en": [lee], "ko": ko}


def _en_units(path: Path) -> list[list[str]]:
    units = []
    for doc in path.read_text(encoding="utf-8").split("\n"):
        sents = [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'])", doc.strip())]
        sents = [s for s in sents if 30 <= len(s) <= 300]
        if len(sents) >= 2:
            units.append(sents)
    return units


def _ko_clean(s: str) -> str:
    s = re.sub(r"^\s*<[^>]*>\s*", "", s)               # <신 설> markers of amended articles
    s = re.sub(r"^\s*제\d+조(의\d+)?(\([^)]*\))?\s*", "", s)
    s = re.sub(r"[\u2460-\u2473]\s*", "", s)          # circled numbers
    s = re.sub(r"^\s*(?:[가-하]|\d+)\.\s+", "", s)        # list markers
    return re.sub(r"\s+", " ", s).strip()


def _ko_ok(s: str) -> bool:
    if not 15 <= len(s) <= 160 or not s.endswith(".") or "--" in s or "생  략" in s:
        return False
    letters = len(re.sub(r"\s", "", s))
    return len(_HANGUL.findall(s)) >= 0.6 * letters


def _ko_units(paths: list[Path]) -> list[list[str]]:
    sections: list[list[str]] = []
    constitution, bills = paths[0], paths[1:]
    current: list[str] | None = None
    for line in constitution.read_text(encoding="utf-8").split("\n"):
        s = line.strip()
        if not s:
            continue
        if re.match(r"제\d+장", s) or s.startswith("부칙"):
            current = []
            sections.append(current)
            continue
        if current is None:
            continue  # the preamble: one very long sentence
        current.extend(x for x in (_ko_clean(p) for p in re.split(r"(?<=다\.)\s+", _ko_clean(s))) if _ko_ok(x))
    for path in bills:
        text = path.read_text(encoding="utf-8")
        i = text.find("제안이유")
        body = text[i + 4:] if i >= 0 else text
        for marker in ("신ㆍ구조문대비표", "신·구조문대비표"):
            j = body.find(marker)
            if j >= 0:
                body = body[:j]
        body = re.sub(r"-\s*\d+\s*-", "", body)
        body = "".join(body.split("\n"))   # the bills wrap lines inside words
        sents = [_ko_clean(x) for x in re.split(r"(?<=[다함음임]\.)\s*", body)]
        sections.append([x for x in sents if _ko_ok(x)])
    units = []
    for sec in sections:
        for k in range(0, len(sec), _KO_CHUNK):
            chunk = sec[k:k + _KO_CHUNK]
            if len(chunk) >= 2 or (chunk and not units):
                units.append(chunk)
            elif chunk:
                units[-1] = units[-1] + chunk
    return units


# --------------------------------------------------------------------------------- clustering


def _features(tokens: list[list[str]]):
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, toks in enumerate(tokens):
        for w in toks:
            if w.isdigit() or len(w) < 2:
                continue
            rows.append(i)
            cols.append(vocab.setdefault(w, len(vocab)))
    x = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(tokens), len(vocab)))
    x.sum_duplicates()
    df = np.asarray((x > 0).sum(0)).ravel()
    x = sp.csr_matrix(x.multiply(np.log(len(tokens) / df)))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(1)).ravel())
    norms[norms == 0] = 1.0
    x = sp.csr_matrix(sp.diags(1.0 / norms) @ x)
    words = [None] * len(vocab)
    for w, j in vocab.items():
        words[j] = w
    return x, words


def _skmeans(x, k: int, rng: np.random.Generator, iters: int = 40):
    n = x.shape[0]
    chosen = [int(rng.integers(n))]
    for _ in range(k - 1):  # k-means++ on cosine distance
        sim = np.asarray((x @ x[chosen].T).todense()).max(1)
        d2 = np.clip(1.0 - sim, 0.0, None) ** 2
        chosen.append(int(rng.choice(n, p=d2 / d2.sum())) if d2.sum() > 0 else int(rng.integers(n)))
    centers = x[chosen].toarray()
    assign = None
    for _ in range(iters):
        sims = np.asarray(x @ centers.T)
        new = sims.argmax(1)
        if assign is not None and np.array_equal(new, assign):
            break
        assign = new
        for j in range(k):
            members = assign == j
            if members.any():
                v = np.asarray(x[members].sum(0)).ravel()
                centers[j] = v / (np.linalg.norm(v) or 1.0)
    objective = float(np.asarray(x @ centers.T)[np.arange(n), assign].sum())
    return assign, centers, objective


def _cluster(units: list[list[str]], language: str, k: int):
    tokens = [tokenize(" ".join(u), language) for u in units]
    x, words = _features(tokens)
    best = None
    for seed in range(_RESTARTS):
        assign, centers, obj = _skmeans(x, k, np.random.default_rng(seed))
        sizes = np.bincount(assign, minlength=k)
        n_sent = np.bincount(assign, weights=[len(u) for u in units], minlength=k)
        usable = sizes.min() >= 2 and n_sent.min() >= 10
        key = (usable, obj)
        if best is None or key > best[0]:
            best = (key, assign, centers)
    (usable, _), assign, centers = best
    if not usable:
        raise ValueError(f"the {language} corpus cannot carry {k} topics")
    return assign, centers, words


@lru_cache(maxsize=8)
def build_vocabulary(topics_per_language: tuple[tuple[str, int], ...]) -> Vocabulary:
    """Topics for ``(("ko", 6), ("en", 4))``: Korean topics get indices 0-5, English 6-9.

    Within a language, topics are ordered by the number of sentences they hold (largest first).
    The result is cached per process; it does not depend on any world's seed.
    """
    paths = corpus_paths()
    topics: list[Topic] = []
    used_names: set[str] = set()
    for language, k in topics_per_language:
        if language not in MAX_TOPICS:
            raise ValueError(f"unknown language {language!r}; the simulator has corpora for {sorted(MAX_TOPICS)}")
        if not 1 <= k <= MAX_TOPICS[language]:
            raise ValueError(f"{language}: between 1 and {MAX_TOPICS[language]} topics, got {k}")
        units = _en_units(paths["en"][0]) if language == "en" else _ko_units(paths["ko"])
        if k == 1:
            assign = np.zeros(len(units), int)
            x, words = _features([tokenize(" ".join(u), language) for u in units])
            c = np.asarray(x.sum(0)).ravel()
            centers = (c / np.linalg.norm(c))[None, :]
        else:
            assign, centers, words = _cluster(units, language, k)
        n_sent = np.bincount(assign, weights=[len(u) for u in units], minlength=k)
        order = sorted(range(k), key=lambda j: (-n_sent[j], j))
        for j in order:
            heavy = np.argsort(-centers[j], kind="stable")[:30]
            top = tuple(words[i] for i in heavy)
            # the name: words heavy here and light in the other topics
            contrast = centers[j] - (np.delete(centers, j, 0).mean(0) if k > 1 else 0.0)
            label = tuple(words[i] for i in np.argsort(-contrast, kind="stable")[:6])
            name = "-".join(label[:2])
            extra = 2
            while name in used_names and extra < len(label):
                name = "-".join(label[:2] + (label[extra],))
                extra += 1
            used_names.add(name)
            topics.append(Topic(
                index=len(topics), language=language, name=name, top_words=top,
                word_weights=tuple(float(centers[j][i]) for i in heavy),
                units=tuple(tuple(units[i]) for i in np.flatnonzero(assign == j)),
            ))
    return Vocabulary(tuple(topics))


# ------------------------------------------------------------------------------------- texts


def headline(sentence: str, language: str) -> str:
    """A sentence cut to headline length at a word boundary, without the final stop."""
    s = sentence.strip().strip("\"'“”‘’").rstrip(".!?")
    limit = 80 if language == "en" else 40
    if len(s) <= limit:
        return s
    cut = s[:limit]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:·")


def compose(vocab: Vocabulary, main: int, secondary: int | None, n_body: int, secondary_share: float,
            rng: np.random.Generator) -> tuple[str, str, np.ndarray]:
    """Title, body and the topic of every sentence (title first) of one content."""
    topic = vocab.topics[main]
    unit = topic.units[int(rng.integers(len(topic.units)))]
    start = int(rng.integers(len(unit)))
    sents = list(unit[start:start + n_body + 1])
    while len(sents) < n_body + 1:  # continue with another story of the same topic
        nxt = topic.units[int(rng.integers(len(topic.units)))]
        sents.extend(nxt[: n_body + 1 - len(sents)])
    labels = [main] * len(sents)
    if secondary is not None and secondary_share > 0:
        other = vocab.topics[secondary]
        swap = rng.random(len(sents)) < secondary_share
        swap[0] = False  # the title stays on the main topic
        for i in np.flatnonzero(swap):
            u = other.units[int(rng.integers(len(other.units)))]
            sents[i] = u[int(rng.integers(len(u)))]
            labels[i] = secondary
    title = headline(sents[0], topic.language)
    body = " ".join(sents[1:])
    return title, body, np.asarray(labels, np.int64)
