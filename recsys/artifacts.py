"""Versioned model artifacts: every model saves into a directory the caller gives.

Each directory holds the model's native files (implicit ``.npz``, LightGBM text, gensim native)
and a ``meta.json`` naming the kind, the artifact format, the library versions, the
parameters and the offline metrics the model was trained with. The Django side records the
directory in a ``ModelVersion`` row and promotes a version only when its metrics beat the active one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, is_dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["ArtifactError", "write_meta", "read_meta"]

FORMAT = 1
_LIBS = ("numpy", "scipy", "implicit", "gensim", "lightgbm")


class ArtifactError(ValueError):
    """The directory does not hold an artifact of the expected kind or format."""


def _versions() -> dict[str, str]:
    out = {}
    for lib in _LIBS:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:  # pragma: no cover - every lib is pinned
            out[lib] = "missing"
    return out


def write_meta(directory: str | os.PathLike, kind: str, params: Any = None, **extra: Any) -> Path:
    """Create ``directory`` if needed and write its ``meta.json``; returns the directory."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    if is_dataclass(params):
        params = asdict(params)
    meta = {"kind": kind, "format": FORMAT, "libraries": _versions(), "params": params or {}, **extra}
    (path / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=float))
    return path


def read_meta(directory: str | os.PathLike, kind: str) -> dict[str, Any]:
    """Read ``meta.json`` and check it describes an artifact of ``kind`` in a known format."""
    path = Path(directory) / "meta.json"
    if not path.is_file():
        raise ArtifactError(f"{directory}: no meta.json, not a model artifact")
    meta = json.loads(path.read_text())
    if meta.get("kind") != kind:
        raise ArtifactError(f"{directory}: holds a {meta.get('kind')!r} model, expected {kind!r}")
    if meta.get("format") != FORMAT:
        raise ArtifactError(f"{directory}: artifact format {meta.get('format')!r}, expected {FORMAT}")
    return meta
