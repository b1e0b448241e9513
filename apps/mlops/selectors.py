"""Reads of models: a client's active version of a kind, and the active models loaded for use
(cached per process, a few versions at a time: one per client and kind in use)."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from apps.mlops.artifacts import artifacts_root, local
from apps.mlops.models import ModelKind, ModelVersion

_mf_cache: OrderedDict[tuple, tuple] = OrderedDict()
_mf_lock = threading.Lock()
CACHED_VERSIONS = 8  # loaded artifacts kept per kind and process (least recently used dropped)


def client_id_of(client) -> int:
    """A ``Client`` or its id, as the id."""
    return client if isinstance(client, int) else client.pk


def active_version(client, kind: str) -> ModelVersion | None:
    """The client's active version of ``kind`` (a ``Client`` or its id), None before any."""
    return ModelVersion.objects.filter(client_id=client_id_of(client), kind=kind, is_active=True).first()


def active_versions(client) -> dict[str, int]:
    """The version number active now of each kind for the client (kinds with none are left out)."""
    return dict(ModelVersion.objects.filter(client_id=client_id_of(client), is_active=True).values_list("kind", "version"))


def _cache_key(version: ModelVersion) -> tuple:
    """A loaded artifact is reused only for the very same version: row, place and creation time.
    A row id and a creation time can both come back (a rolled-back transaction, the simulator's
    runs on the same simulated clock); the place cannot: every registration has a folder of its
    own (``model_version_register``)."""
    return version.pk, str(artifacts_root() / version.artifact_path), version.created_at


def load_mf(version: ModelVersion):
    """(ALSModel, subscriber ids, content ids) of a version, cached per process."""
    from recsys.mf import ALSModel

    key = _cache_key(version)
    with _mf_lock:
        hit = _mf_cache.get(key)
        if hit is None:
            base = local(version.artifact_path)
            ids = np.load(base / "ids.npz")
            hit = (ALSModel.load(base / "model"), ids["subscribers"], ids["contents"])
        _remember(_mf_cache, key, hit)
        return hit


_categories_cache: OrderedDict[tuple, tuple] = OrderedDict()


def load_categories(version: ModelVersion) -> tuple[np.ndarray | None, list[str]]:
    """(Each subscriber's category profile, in the order of ``load_mf``'s subscriber ids; the
    categories' names, in column order) of an MF version, cached per process; (None, []) for a
    version trained before it kept them."""
    key = _cache_key(version)
    with _mf_lock:
        hit = _categories_cache.get(key)
        if hit is None:
            path = local(version.artifact_path) / "categories.npz"
            if path.exists():
                got = np.load(path)
                hit = (got["profiles"], [str(n) for n in got["names"].tolist()])
            else:
                hit = (None, [])
        _remember(_categories_cache, key, hit)
        return hit


_click_cache: OrderedDict[tuple, object] = OrderedDict()


def _remember(cache: OrderedDict, key, value) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > CACHED_VERSIONS:
        cache.popitem(last=False)


def load_click(version: ModelVersion):
    """The ``recsys.click.ClickModel`` of a version, cached per process."""
    from recsys.click import ClickModel

    key = _cache_key(version)
    with _mf_lock:
        hit = _click_cache.get(key)
        if hit is None:
            hit = ClickModel.load(local(version.artifact_path) / "model")
        _remember(_click_cache, key, hit)
        return hit


def click_delay_model(client):
    """The client's active click-delay curves, one per platform with a pooled one for the rest
    (``recsys.ramp.PlatformDelays``), else the library's default curve for every platform."""
    from recsys.ramp import ClickDelayModel, PlatformDelays

    active = active_version(client, ModelKind.CLICK_DELAY)
    return PlatformDelays.from_dict(active.params) if active and active.params else PlatformDelays(ClickDelayModel.default())
