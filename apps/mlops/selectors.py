"""Reads of models: the active version of a kind, and the active models loaded for use (cached
per process)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from django.conf import settings

from apps.mlops.models import ModelKind, ModelVersion

_mf_cache: dict[tuple, tuple] = {}
_mf_lock = threading.Lock()


def artifacts_root() -> Path:
    return Path(settings.PUSHADMIN["ARTIFACTS_DIR"])


def active_version(kind: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=kind, is_active=True).first()


def active_versions() -> dict[str, int]:
    """The version number active now of each kind (kinds with none are left out)."""
    return dict(ModelVersion.objects.filter(is_active=True).values_list("kind", "version"))


def _cache_key(version: ModelVersion) -> tuple:
    """A loaded artifact is reused only for the very same version: row, place and creation time
    (a row id alone can come back, e.g. after a rolled-back transaction)."""
    return version.pk, str(artifacts_root() / version.artifact_path), version.created_at


def load_mf(version: ModelVersion):
    """(ALSModel, subscriber ids, content ids) of a version, cached per process."""
    from recsys.mf import ALSModel

    key = _cache_key(version)
    with _mf_lock:
        hit = _mf_cache.get(key)
        if hit is None:
            base = artifacts_root() / version.artifact_path
            ids = np.load(base / "ids.npz")
            hit = (ALSModel.load(base / "model"), ids["subscribers"], ids["contents"])
            _mf_cache.clear()
            _mf_cache[key] = hit
        return hit


_click_cache: dict[tuple, object] = {}


def load_click(version: ModelVersion):
    """The ``recsys.click.ClickModel`` of a version, cached per process."""
    from recsys.click import ClickModel

    key = _cache_key(version)
    with _mf_lock:
        hit = _click_cache.get(key)
        if hit is None:
            hit = ClickModel.load(artifacts_root() / version.artifact_path / "model")
            _click_cache.clear()
            _click_cache[key] = hit
        return hit


def click_delay_model():
    """The active click-delay curve (``recsys.ramp.ClickDelayModel``), else the library's default."""
    from recsys.ramp import ClickDelayModel

    active = active_version(ModelKind.CLICK_DELAY)
    return ClickDelayModel.from_dict(active.params) if active and active.params else ClickDelayModel.default()
