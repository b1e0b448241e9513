"""Audience selection over 1,000,000 candidates with 64 factors: time and memory.

    .venv/bin/python bench/bench_audience.py [--n 1000000] [--factors 64] [--repeats 7] [--threads 2]
        [--batch 16] [--rerank-depth 20000]

Times are medians over ``--repeats`` runs, each also given as a ratio to one baseline measured
in the same run: a single numpy matrix-vector product over the factor matrix (the least any
scorer must do). Memory is the peak of Python-visible allocations (tracemalloc, which numpy
reports to) during one selection, as a ratio to the factor matrix's size. The candidate side
carries factors, 64-dim profile vectors, baseline CTRs and days since activity; the content
side a fold-in vector, a text vector and a 5-member seed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recsys.audience import Candidates, Content, select_audience, select_audience_batch  # noqa: E402
from recsys.click import CLICK_FEATURES, ClickModel, ClickParams  # noqa: E402


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--k", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rerank-depth", type=int, default=20_000)
    a = ap.parse_args()
    threadpool_limits(a.threads)
    rng = np.random.default_rng(0)
    n, f = a.n, a.factors
    factors = rng.standard_normal((n, f), dtype=np.float32)
    cands = Candidates(
        ids=np.arange(n, dtype=np.int64),
        factors=factors,
        profiles=rng.standard_normal((n, 64), dtype=np.float32),
        baseline_ctr=rng.random(n, dtype=np.float32) * 0.1,
        days_inactive=rng.random(n, dtype=np.float32) * 60,
    )

    def content(s):
        r = np.random.default_rng(s)
        return Content(
            factors=r.standard_normal(f),
            text_vector=r.standard_normal(64),
            seed_factors=factors[r.integers(0, n, 5)],
            exclude_ids=r.integers(0, n, 5),
        )

    one = content(1)
    many = [content(s) for s in range(a.batch)]
    y = np.asarray(one.factors, np.float32)
    base = _median_time(lambda: factors @ y, a.repeats)
    single = _median_time(lambda: select_audience(cands, one, a.k), a.repeats)
    batch = _median_time(lambda: select_audience_batch(cands, many, a.k), max(3, a.repeats // 2))

    # a click model of realistic size (trained on random rows: only its cost matters here)
    x = rng.standard_normal((20_000, len(CLICK_FEATURES))).astype(np.float32)
    y = (rng.random(20_000) < 1 / (1 + np.exp(3 - x[:, 1] - x[:, 2]))).astype(np.float32)
    click = ClickModel(ClickParams(n_estimators=200, early_stopping_rounds=200, num_threads=a.threads)).fit(x, y)
    rerank = _median_time(lambda: select_audience(cands, one, a.k, reranker=click, rerank_depth=a.rerank_depth), a.repeats)

    tracemalloc.start()
    select_audience(cands, one, a.k)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    matrix = factors.nbytes

    blas = [(i.get("internal_api"), i.get("num_threads"), i.get("architecture")) for i in threadpool_info() if i.get("user_api") == "blas"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, numpy {np.__version__}, BLAS {blas}")
    print(f"candidates {n:,} x {f} factors (+64-dim profiles), k={a.k:,}, threads={a.threads}, median of {a.repeats}")
    print(f"baseline: one factors @ vector             {base * 1000:8.1f} ms")
    print(f"select_audience, one content               {single * 1000:8.1f} ms   = {single / base:5.1f} x baseline")
    print(f"  + click-model re-rank of the best {a.rerank_depth:,}   {rerank * 1000:8.1f} ms   = {rerank / base:5.1f} x baseline ({click.booster.num_trees()} trees)")
    print(f"select_audience_batch, {a.batch} contents         {batch * 1000:8.1f} ms   = {batch / a.batch * 1000:6.1f} ms per content")
    print(f"peak extra memory of one selection         {peak / 2**20:8.1f} MiB = {peak / matrix:5.2f} x factor matrix ({matrix / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
