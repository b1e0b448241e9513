"""Work split by subscriber ranges over Celery workers (docs/several-machines.md, "Sharded work").

A job (the ranking of a large wave, the slots' prices of every subscriber) covers a client's
subscribers in fixed id ranges, its shards. Each shard runs in two steps:

1. ``stats``: read the shard's rows and compute its part of the job's statistics (sums that
   merge exactly: ``recsys.audience.Moments``, the pooled CTR pairs);
2. ``finish``: once every shard's part is merged, the shard's part of the result with the whole
   set's statistics (its partial top-k; or the prices it wrote).

Whoever runs a job (the coordinator: the wave's planner, the pricing step) publishes it in Redis,
sends one ``apps.mlops.tasks.shards_work`` per extra worker wanted on the ``shards`` queue, and
works on the job itself like any worker: it claims the shards nobody has claimed, and takes over
a shard whose claim has lapsed (its worker died or stalled): a shard's work is deterministic, so
doing it twice is harmless (idempotent per shard, safe to retry). The coordinator merges the
parts in shard order. The shards' bounds and the merge order do not depend on who computed
what: one process or many give the same result, bit for bit.

Nothing here must outlive the job: its keys expire (``KEEP_SECONDS``), the result is the
coordinator's return value, and a job whose coordinator died is abandoned (its caller, a
planning transaction or a pricing run, failed with it and runs again).

A kind of job (``KINDS``) is a class with ``stats(spec, lo, hi) -> (state, arrays)``,
``merge(spec, [arrays]) -> arrays`` and ``finish(spec, state, merged, lo, hi) -> arrays``
(state: whatever ``finish`` needs of ``stats``' work, kept in the process that did it; None
makes ``finish`` start over). Specs and parts travel as ``np.savez`` archives: arrays and a
JSON header, no pickle.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)

KINDS = {
    "rank": "apps.mlops.ranking.RankShards",
    "price": "apps.mlops.slots.PriceShards",
}
PREFIX = "pushadmin:shards"
RECENT = f"{PREFIX}:recent"  # sorted set: job id -> started (the system page's list)
KEEP_SECONDS = 3600
POLL_SECONDS = 0.05


class ShardJobFailed(RuntimeError):
    pass


def _cfg() -> dict:
    return settings.PUSHADMIN["SHARDS"]


def _redis():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def _key(job: str, *parts) -> str:
    return ":".join([PREFIX, job, *map(str, parts)])


def pack(arrays: dict[str, np.ndarray], header: dict | None = None) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, __header__=np.frombuffer(json.dumps(header or {}).encode(), dtype=np.uint8), **arrays)
    return buf.getvalue()


def unpack(blob: bytes) -> tuple[dict[str, np.ndarray], dict]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "__header__"}
        header = json.loads(z["__header__"].tobytes().decode()) if "__header__" in z.files else {}
    return arrays, header


def shard_bounds(lo: int, hi: int, rows: int) -> list[tuple[int, int]]:
    """Subscriber id ranges ``[a, b)`` covering ``[lo, hi]`` in shards of about
    ``SHARDS["SUBSCRIBERS"]`` ids each (``rows``: how many subscribers the range holds): fixed by
    the data, whoever computes them."""
    per = max(int(_cfg()["SUBSCRIBERS"]), 1)
    count = max(1, -(-int(rows) // per))
    edges = np.linspace(lo, hi + 1, count + 1).round().astype(np.int64)
    edges = np.unique(edges)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class _Job:
    id: str
    kind: str
    spec_arrays: dict
    spec: dict
    bounds: list[tuple[int, int]]
    # what the coordinating process already holds of the job's rows (None in a worker): a kind
    # may take its shards' rows from it instead of reading them again
    local: object = None

    @property
    def impl(self):
        return import_string(KINDS[self.kind])()


def _load(job_id: str) -> _Job | None:
    blob = _redis().get(_key(job_id, "spec"))
    if blob is None:
        return None
    arrays, header = unpack(blob)
    return _Job(job_id, header["kind"], arrays, header["spec"], [tuple(b) for b in header["bounds"]])


def _claim(r, job: _Job, i: int, owner: str) -> bool:
    lease_ms = int(_cfg()["LEASE_SECONDS"] * 1000)
    return bool(r.set(_key(job.id, "claim", i), owner, nx=True, px=lease_ms))


def _renew(r, job: _Job, held, owner: str) -> None:
    lease_ms = int(_cfg()["LEASE_SECONDS"] * 1000)
    for i in held:
        key = _key(job.id, "claim", i)
        if r.get(key) in (owner.encode(), None):
            r.set(key, owner, px=lease_ms)


def _progress(r, job: _Job, i: int, step: str, owner: str, seconds: float) -> None:
    r.hset(_key(job.id, "progress"), str(i), json.dumps({"step": step, "by": owner, "seconds": round(seconds, 3),
                                                         "at": time.time()}))
    r.expire(_key(job.id, "progress"), KEEP_SECONDS)


def _run_stats(r, job: _Job, i: int, owner: str):
    lo, hi = job.bounds[i]
    t = time.perf_counter()
    state, arrays = job.impl.stats(job, lo, hi)
    r.set(_key(job.id, "stats", i), pack(arrays), ex=KEEP_SECONDS, nx=True)
    _progress(r, job, i, "stats", owner, time.perf_counter() - t)
    return state


def _run_finish(r, job: _Job, i: int, state, merged: dict, owner: str) -> None:
    lo, hi = job.bounds[i]
    t = time.perf_counter()
    if state is None:
        state, _ = job.impl.stats(job, lo, hi)
    arrays = job.impl.finish(job, state, merged, lo, hi)
    r.set(_key(job.id, "result", i), pack(arrays), ex=KEEP_SECONDS, nx=True)
    _progress(r, job, i, "done", owner, time.perf_counter() - t)


def _missing(r, job: _Job, what: str) -> list[int]:
    pipe = r.pipeline(transaction=False)
    for i in range(len(job.bounds)):
        pipe.exists(_key(job.id, what, i))
    return [i for i, there in enumerate(pipe.execute()) if not there]


def _merged(r, job: _Job) -> dict | None:
    blob = r.get(_key(job.id, "merged"))
    return None if blob is None else unpack(blob)[0]


def work(job_id: str) -> int:
    """A worker's part of a job (``apps.mlops.tasks.shards_work``): claim free shards and compute
    their statistics, wait for the coordinator's merge, finish the shards held. Returns how many
    shards it finished (0: the job was done or gone, or the others had every shard)."""
    r = _redis()
    job = _load(job_id)
    if job is None:
        return 0
    owner = _owner()
    held: dict[int, object] = {}
    for i in range(len(job.bounds)):
        if r.exists(_key(job.id, "stats", i)) or not _claim(r, job, i, owner):
            continue
        held[i] = _run_stats(r, job, i, owner)
    if not held:
        return 0
    deadline = time.monotonic() + _cfg()["LEASE_SECONDS"]
    while (merged := _merged(r, job)) is None:
        if time.monotonic() > deadline or not r.exists(_key(job.id, "spec")):
            return 0  # the coordinator is gone or slow: it takes the shards over when the claims lapse
        _renew(r, job, held, owner)
        time.sleep(POLL_SECONDS)
    for i, state in sorted(held.items()):
        if not r.exists(_key(job.id, "result", i)):
            _renew(r, job, [i], owner)
            _run_finish(r, job, i, state, merged, owner)
    return len(held)


def publish(kind: str, *, spec: dict, arrays: dict[str, np.ndarray] | None = None, bounds: list[tuple[int, int]],
            client_id: int | None = None, label: str = "") -> _Job:
    """Put a job of ``kind`` over ``bounds`` in Redis, where workers find it (``run`` does the rest)."""
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    r = _redis()
    job = _Job(uuid.uuid4().hex, kind, arrays or {}, spec, [tuple(map(int, b)) for b in bounds])
    started = time.time()
    r.set(_key(job.id, "spec"), pack(job.spec_arrays, {"kind": kind, "spec": spec, "bounds": job.bounds}),
          ex=KEEP_SECONDS)
    r.set(_key(job.id, "info"), json.dumps({"kind": kind, "label": label, "client": client_id, "shards": len(job.bounds),
                                            "started": started, "by": _owner()}), ex=KEEP_SECONDS)
    r.zadd(RECENT, {job.id: started})
    r.zremrangebyrank(RECENT, 0, -51)  # the last 50 jobs
    return job


def run(kind: str, *, spec: dict, arrays: dict[str, np.ndarray] | None = None, bounds: list[tuple[int, int]],
        client_id: int | None = None, label: str = "", workers: int | None = None,
        local: object = None) -> tuple[dict, list[dict]]:
    """Run a job of ``kind`` over ``bounds`` and return (the merged statistics, every shard's
    result in shard order). ``workers``: how many ``shards_work`` tasks to send (default
    ``SHARDS["WORKERS"]``; 0 or an eager Celery: this process does every shard). ``local``: the
    job's rows as this process holds them (``_Job.local``)."""
    job = publish(kind, spec=spec, arrays=arrays, bounds=bounds, client_id=client_id, label=label)
    job.local = local
    wanted = _cfg()["WORKERS"] if workers is None else workers
    wanted = min(int(wanted), len(job.bounds))
    if wanted > 0 and not settings.CELERY_TASK_ALWAYS_EAGER:
        from apps.core.queues import Queue
        from apps.mlops.tasks import shards_work

        for _ in range(wanted):
            shards_work.apply_async(args=[job.id], queue=Queue.SHARDS.value, expires=KEEP_SECONDS)
    return coordinate(job, leave_to_workers=_cfg()["LEAVE_SECONDS"] if wanted > 0 else 0.0)


def coordinate(job: _Job, *, leave_to_workers: float = 0.0) -> tuple[dict, list[dict]]:
    """Drive a published job to its end in this process: take the shards nobody claimed (after
    ``leave_to_workers`` seconds, which leaves them to the workers first) and those whose claim
    lapsed, merge the statistics in shard order, finish the shards held, collect every result."""
    r = _redis()
    owner = _owner()
    held: dict[int, object] = {}
    started = time.monotonic()
    deadline = started + _cfg()["TIMEOUT_SECONDS"]
    try:
        while missing := _missing(r, job, "stats"):
            took = False
            if time.monotonic() - started >= leave_to_workers:
                for i in missing:
                    if _claim(r, job, i, owner):  # free, or its claim lapsed
                        held[i] = _run_stats(r, job, i, owner)
                        took = True
            _renew(r, job, held, owner)
            if not took:
                if time.monotonic() > deadline:
                    raise ShardJobFailed(f"{job.kind} job {job.id}: shards {missing} gave no statistics in time")
                time.sleep(POLL_SECONDS)
        parts = [unpack(r.get(_key(job.id, "stats", i)))[0] for i in range(len(job.bounds))]
        merged = job.impl.merge(job, parts)
        r.set(_key(job.id, "merged"), pack(merged), ex=KEEP_SECONDS)
        for i, state in sorted(held.items()):
            if not r.exists(_key(job.id, "result", i)):
                _run_finish(r, job, i, state, merged, owner)
        held.clear()
        while missing := _missing(r, job, "result"):
            took = False
            for i in missing:
                if _claim(r, job, i, owner):  # its worker died after its statistics: redo it here
                    _run_finish(r, job, i, None, merged, owner)
                    took = True
            if not took:
                if time.monotonic() > deadline:
                    raise ShardJobFailed(f"{job.kind} job {job.id}: shards {missing} gave no result in time")
                time.sleep(POLL_SECONDS)
        results = [unpack(r.get(_key(job.id, "result", i)))[0] for i in range(len(job.bounds))]
    finally:
        r.delete(_key(job.id, "spec"))  # late tasks find nothing to do
        r.set(_key(job.id, "ended"), json.dumps({"at": time.time()}), ex=KEEP_SECONDS)
        for i in range(len(job.bounds)):
            r.delete(_key(job.id, "stats", i), _key(job.id, "result", i))
    return merged, results


def recent_jobs(limit: int = 10) -> list[dict]:
    """The last sharded jobs, newest first, with each shard's step and who did it (the system
    page)."""
    r = _redis()
    ids = [job_id.decode() for job_id in r.zrevrange(RECENT, 0, limit - 1)]
    pipe = r.pipeline(transaction=False)  # one round trip for every job's three keys
    for job_id in ids:
        pipe.get(_key(job_id, "info"))
        pipe.get(_key(job_id, "ended"))
        pipe.hgetall(_key(job_id, "progress"))
    got = pipe.execute()
    out = []
    for n, job_id in enumerate(ids):
        info, ended, progress = got[3 * n:3 * n + 3]
        if info is None:
            continue
        info = json.loads(info)
        shards = {int(k): json.loads(v) for k, v in progress.items()}
        out.append({"id": job_id, **info, "ended": json.loads(ended)["at"] if ended else None,
                    "done": sum(1 for s in shards.values() if s["step"] == "done"),
                    "workers": sorted({s["by"] for s in shards.values()}),
                    "shard_steps": [shards.get(i, {"step": "waiting", "by": "", "seconds": None})
                                    for i in range(info["shards"])]})
    return out
