"""The interactions a training read, kept beside its model version for the next training.

A nightly MF refresh reads the client's whole window of events (180 days), all but the last day
of which the night before read too. Each training keeps the rows it read through a *settled*
event id (the client's largest event id received at least ``SETTLED`` before the training's
``now``) in its version's artifact (``KEPT``, one ``.npy`` file per column and ``meta.json``);
the next training loads them, drops the rows that left its window or whose subscriber or content
has been deleted since, and reads from the database only the events with a larger id. The rows
are those one read of the whole window gives (their order aside).

What it assumes, and when it reads everything again:

- An event with an id below a settled one is committed by the time the next training reads: the
  ingestion's transactions last far less than ``SETTLED``.
- Events are never updated, and deleted only with their subscriber or content (the foreign
  keys' cascade), whose rows are dropped here, or by the events' retention (``apps.events``:
  whole months older than ``EVENT_RETENTION_DAYS``, which the system check holds to at least
  the longest training window, so those rows have left every window here by their time anyway).
  Whoever deletes events some other way removes the kept rows of the client's versions
  (``forget``).
- Kept rows made with other kind weights or for a window that began later are not used:
  everything is read. So are rows whose last full read is ``REREAD`` old: once a week the window
  is read whole, so that whatever broke an assumption lasts a week at most.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from django.db import connection

from apps.audience.models import Subscriber
from apps.contents.models import Content
from apps.events.models import Event
from apps.mlops import artifacts, readers
from apps.mlops.artifacts import artifacts_root
from apps.mlops.models import ModelKind, ModelVersion

KEPT = artifacts.TRAINER_ONLY  # the folder in a version's artifact, on the training machine only
SETTLED = timedelta(hours=1)
REREAD = timedelta(days=7)  # the kept rows serve until their first read is this old
FORMAT = 1
_COLUMNS = (("subscribers", np.int64), ("contents", np.int64), ("weights", np.float64), ("times", np.float64))
_CHUNK = 1 << 20


def settled_through(client, until: datetime) -> int:
    """The client's largest event id received at least ``SETTLED`` before ``until`` (0: none)."""
    got = (Event.objects.filter(client=client, received_at__lte=until - SETTLED)
           .order_by("-pk").values_list("pk", flat=True).first())
    return int(got or 0)


def _meta(folder: Path | None, *, client_id: int, since: float, until: float, weights: dict) -> dict | None:
    """The kept rows' description when they can serve this read, else None."""
    if folder is None:
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or meta.get("client") != client_id or meta.get("weights") != weights:
        return None
    if float(meta.get("since", np.inf)) > since or int(meta.get("through_id", -1)) < 0:
        return None
    if until - float(meta.get("read_whole_at", -np.inf)) >= REREAD.total_seconds():
        return None
    return meta


def _load_into(path: Path, out: np.ndarray) -> None:
    """The ``.npy`` file's rows read straight into ``out`` (its dtype and length)."""
    with open(path, "rb") as f:
        major, _ = np.lib.format.read_magic(f)
        header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = header(f)
        if shape != (len(out),) or dtype != out.dtype or fortran:
            raise ValueError(f"{path.name}: {shape} {dtype}, expected ({len(out)},) {out.dtype}")
        if f.readinto(memoryview(out).cast("B")) != out.nbytes:
            raise ValueError(f"{path.name}: cut short")


def _ids(model, client) -> np.ndarray:
    """The client's row ids of ``model``, ascending."""
    qs = model.objects.filter(client=client).order_by().values_list("pk")
    got = readers._copy_rows(qs, (">i8",)) if connection.vendor == "postgresql" else None
    if got is None:
        got = readers._arrays(qs, (np.int64,))
    return np.sort(got[0])


def _member(sorted_ids: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Whether each of ``x`` is one of ``sorted_ids``, a chunk at a time (by a table over the
    ids' span when it is not much larger than their number, else by a sorted search)."""
    out = np.zeros(len(x), bool)
    if not len(sorted_ids) or not len(x):
        return out
    lo, hi = int(sorted_ids[0]), int(sorted_ids[-1])
    table = None
    if hi - lo + 1 <= max(8 * len(sorted_ids), 1 << 20):
        table = np.zeros(hi - lo + 1, bool)
        table[sorted_ids - lo] = True
    for start in range(0, len(x), _CHUNK):
        part = x[start:start + _CHUNK]
        if table is not None:
            inside = (part >= lo) & (part <= hi)
            out[start:start + _CHUNK][inside] = table[part[inside] - lo]
        else:
            at = np.minimum(np.searchsorted(sorted_ids, part), len(sorted_ids) - 1)
            out[start:start + _CHUNK] = sorted_ids[at] == part
    return out


def _compact(arrays: list[np.ndarray], keep: np.ndarray) -> int:
    """The rows where ``keep`` is True moved to the front of each array, in order, a chunk at a
    time (no second array of any column); returns their number."""
    if keep.all():
        return len(keep)
    n = 0
    for start in range(0, len(keep), _CHUNK):
        k = keep[start:start + _CHUNK]
        m = int(k.sum())
        for arr in arrays:
            arr[n:n + m] = arr[start:start + _CHUNK][k]
        n += m
    return n


def _grown(arr: np.ndarray, n: int) -> np.ndarray:
    """``arr`` (1-d) with room for ``n`` rows, its own first: resized in place when it (or the
    array it is a whole view of) owns its memory, else copied. The caller drops ``arr``."""
    owner = arr if arr.base is None else arr.base
    if isinstance(owner, np.ndarray) and owner.base is None and owner.ndim == 1 and owner.nbytes == arr.nbytes \
            and owner.itemsize == arr.itemsize and arr.flags.c_contiguous and owner.flags.owndata:
        owner.resize(n, refcheck=False)
        return owner if owner is arr else owner.view(arr.dtype)
    out = np.empty(n, arr.dtype)
    out[:len(arr)] = arr
    return out


def interactions(*, client, since: datetime, until: datetime, weights: dict[str, float], streams: int = 1,
                 previous: Path | None = None, keep: Path | None = None) -> tuple[readers.Interactions, dict]:
    """The client's events of the kinds in ``weights`` from ``since`` to ``until``, as
    ``readers.interactions`` reads them, with the rows kept in ``previous`` (a ``KEPT`` folder;
    None or unusable: everything from the database), and the rows through the settled id
    written to ``keep`` (a new folder) for the next read. Returns (the rows, what was read:
    ``kept`` rows loaded, ``dropped`` of them, ``read`` from the database, ``through_id``)."""
    weights = {k: float(v) for k, v in weights.items()}
    since_s, until_s = since.timestamp(), until.timestamp()
    meta = _meta(previous, client_id=client.pk, since=since_s, until=until_s, weights=weights)
    after = int(meta["through_id"]) if meta else None
    # (a training back in time keeps what the kept rows hold: every row through their id is in)
    through = max(settled_through(client, until), after or 0)
    newer = readers.interactions(client=client, since=since, weights=weights, streams=streams, after_id=after,
                                 through_id=through)
    recent = readers.interactions(client=client, since=since, weights=weights, streams=streams, after_id=through)
    n_new, n_recent = len(newer), len(recent)
    info = {"kept": 0, "dropped": 0, "read": n_new + n_recent, "through_id": through}
    recent_cols = [recent.subscribers, recent.contents, recent.weights, recent.times]
    del recent
    if meta is None and not n_new:  # nothing settled yet: the recent rows are all there is
        cols, recent_cols, n_kept = recent_cols, None, 0
    elif meta is None:  # the big read's arrays grow to hold the recent rows
        cols = [newer.subscribers, newer.contents, newer.weights, newer.times]
        del newer
        cols = [_grown(c, n_new + n_recent) for c in cols]
        n_kept = n_new
    else:
        n_prev = int(meta["rows"])
        cols = [np.empty(n_prev + n_new + n_recent, dtype) for _, dtype in _COLUMNS]
        try:
            for (name, _), arr in zip(_COLUMNS, cols):
                _load_into(previous / f"{name}.npy", arr[:n_prev])
        except (OSError, ValueError):  # gone or damaged meanwhile: read everything instead
            return interactions(client=client, since=since, until=until, weights=weights, streams=streams, keep=keep)
        view = [c[:n_prev] for c in cols]
        ok = view[3] >= since_s
        ok &= _member(_ids(Subscriber, client), view[0])
        ok &= _member(_ids(Content, client), view[1])
        n_kept = _compact(view, ok)
        del view, ok
        info.update(kept=n_prev, dropped=n_prev - n_kept)
        for c, part in zip(cols, (newer.subscribers, newer.contents, newer.weights, newer.times)):
            c[n_kept:n_kept + n_new] = part
        del newer
        n_kept += n_new
    if recent_cols is not None:
        for c, part in zip(cols, recent_cols):
            c[n_kept:n_kept + n_recent] = part
        del recent_cols
    n = n_kept + n_recent
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        for (name, dtype), c in zip(_COLUMNS, cols):
            np.save(keep / f"{name}.npy", c[:n_kept].astype(dtype, copy=False))
        (keep / "meta.json").write_text(json.dumps({"format": FORMAT, "client": client.pk, "weights": weights,
                                                    "since": since_s, "through_id": through, "rows": n_kept,
                                                    "read_whole_at": float(meta["read_whole_at"]) if meta else until_s}))
    # the window's end: an event dated after ``until`` is kept for later but not read now
    cols = [c[:n] for c in cols]
    n = _compact(cols, cols[3] <= until_s)
    subs, cons, w, t = (c[:n] for c in cols)
    return readers.Interactions(subs, cons, w, t), info


def newest(client) -> Path | None:
    """The kept rows of the client's newest MF version that has them (None: everything is read)."""
    for path in (ModelVersion.objects.filter(client=client, kind=ModelKind.MF).order_by("-version")
                 .values_list("artifact_path", flat=True)[:3]):
        folder = artifacts_root() / path / KEPT
        if (folder / "meta.json").exists():
            return folder
    return None


def forget(paths) -> None:
    """Remove the kept rows of these artifact folders (the next training reads everything)."""
    for path in paths:
        shutil.rmtree(Path(path) / KEPT, ignore_errors=True)


def forget_all_but(version) -> None:
    """Only the newest MF version keeps its rows: the others' are never read again."""
    forget(artifacts_root() / path for path in ModelVersion.objects.filter(client=version.client_id, kind=ModelKind.MF)
           .exclude(pk=version.pk).values_list("artifact_path", flat=True))
