"""Key phrases on the hand-written test set: pass rates per language and split, time per title.

    .venv/bin/python bench/bench_keyphrases.py [--split tuned|heldout|all] [--details] [--repeats 5]
        [--against REV]

The metric is defined in tests/recsys/keyphrase_set.py. Time per title is the median over
``--repeats`` passes of the mean time of ``extract_keyphrases(title, body, k=5)`` over the
language's 50 titles, after one warm-up pass (which loads kiwipiepy's model). ``--against REV``
also loads ``recsys/text.py`` as it was at git revision REV and reports its pass rates and
times, measured in the same passes (alternating), since times on a shared machine drift.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recsys.text import extract_keyphrases  # noqa: E402
from tests.recsys.keyphrase_set import K, evaluate, load, pass_rate  # noqa: E402


def load_revision(rev: str):
    """``extract_keyphrases`` of recsys/text.py as it was at git revision ``rev``."""
    source = subprocess.run(["git", "show", f"{rev}:recsys/text.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "text_at_revision.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("text_at_revision", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.extract_keyphrases


def per_title_ms(language: str, extractors: dict, repeats: int) -> dict[str, float]:
    items = load(language)
    for extract in extractors.values():  # warm-up
        for it in items:
            extract(it.title, it.body, language=language, k=K)
    means: dict[str, list[float]] = {name: [] for name in extractors}
    for _ in range(repeats):
        for name, extract in extractors.items():
            t = time.perf_counter()
            for it in items:
                extract(it.title, it.body, language=language, k=K)
            means[name].append((time.perf_counter() - t) / len(items) * 1000)
    return {name: statistics.median(m) for name, m in means.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="tuned", choices=["tuned", "heldout", "all"])
    ap.add_argument("--details", action="store_true", help="print every title's phrases and problems")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--against", metavar="REV", help="also measure recsys/text.py at this git revision")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, CPython {platform.python_version()}")
    extractors = {"now": extract_keyphrases}
    if args.against:
        extractors[args.against] = load_revision(args.against)
    splits = ["tuned", "heldout"] if args.split == "all" else [args.split]
    for language in ("ko", "en"):
        for name, extract in extractors.items():
            for split in splits:
                outcomes = evaluate(extract, language, split)
                n_ok = sum(o.passed for o in outcomes)
                print(f"{language} {split} ({name}): {n_ok}/{len(outcomes)} = {pass_rate(outcomes):.0%}")
                if args.details and name == "now":
                    for o in outcomes:
                        mark = "ok  " if o.passed else "FAIL"
                        print(f"  {mark} {o.item.id} {o.item.title}\n       -> {o.phrases}")
                        for p in o.problems:
                            print(f"       ! {p}")
        times = per_title_ms(language, extractors, args.repeats)
        print(f"{language}: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in times.items())
              + f" per title (title + body, k={K}, median of {args.repeats})")


if __name__ == "__main__":
    main()
