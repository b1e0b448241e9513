"""Where model artifacts live: Django's storage ``artifacts`` (``settings.STORAGES``).

By default that is the local folder ``PUSHADMIN["ARTIFACTS_DIR"]`` (``LocalArtifactStorage``),
and a version's files are read where training wrote them. With several machines it is an
S3-compatible bucket (``storages.backends.s3.S3Storage``, configured from
``PUSHADMIN_ARTIFACTS_S3_*``): training writes a version in the local folder, then ``publish``
uploads its files and, last, a manifest naming them; any worker's ``local`` finds the version in
its own ``ARTIFACTS_DIR`` (its cache) or fetches it there first, whole or not at all, from the
manifest. Loaders read plain local files either way (numpy, LightGBM, implicit need paths), and
the loaded models stay cached per process by version (``apps.mlops.selectors``).

A version's folder is never written again once registered (``model_version_register`` gives
each registration a new name), so a cached copy never goes stale. What a training keeps for the
next one only (``TRAINER_ONLY``: the MF interactions, ``apps.mlops.kept``) stays in the local
folder of the machine that trained: it is not uploaded, and a training elsewhere reads the
database instead.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages

log = logging.getLogger(__name__)

MANIFEST = "artifact.json"  # uploaded last: a version without it in the store is not complete
TRAINER_ONLY = "interactions"  # a folder of a version's artifact kept on the training machine only
_FETCHING = ".fetching"  # downloads in progress, renamed into place when whole


class LocalArtifactStorage(FileSystemStorage):
    """The artifacts in the local folder ``PUSHADMIN["ARTIFACTS_DIR"]``, read at each use (tests
    and the simulator point it elsewhere for a while)."""

    @property
    def base_location(self):
        return str(settings.PUSHADMIN["ARTIFACTS_DIR"])

    @property
    def location(self):
        return os.path.abspath(self.base_location)


def artifacts_root() -> Path:
    """This machine's folder of artifacts: the store itself by default, else its cache."""
    return Path(settings.PUSHADMIN["ARTIFACTS_DIR"])


def artifact_storage() -> Storage:
    return storages["artifacts"]


def is_shared() -> bool:
    """Whether versions live in a store of their own (uploaded, fetched), not in the local folder."""
    return not isinstance(artifact_storage(), LocalArtifactStorage)


def _files(folder: Path) -> dict[str, int]:
    """The files under ``folder`` (relative names with '/', sizes), ``TRAINER_ONLY`` and the
    manifest left out."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and rel.parts[0] != TRAINER_ONLY and rel.as_posix() != MANIFEST:
            out[rel.as_posix()] = path.stat().st_size
    return out


def publish(rel: str, folder: Path) -> dict[str, int]:
    """Make the version written in ``folder`` (``artifacts_root() / rel``) readable by every
    worker: its manifest written, and with a shared store its files uploaded, the manifest last.
    Returns the manifest's files."""
    files = _files(folder)
    manifest = json.dumps({"files": files}, sort_keys=True).encode()
    storage = artifact_storage()
    if is_shared():
        for name in files:
            with open(folder / name, "rb") as f:
                stored = storage.save(f"{rel}/{name}", File(f, name=name))
            if stored != f"{rel}/{name}":  # a store that renames instead of overwriting would lose the file
                raise RuntimeError(f"the artifact store saved {rel}/{name} as {stored}")
        storage.save(f"{rel}/{MANIFEST}", ContentFile(manifest, name=MANIFEST))
    (folder / MANIFEST).write_bytes(manifest)
    return files


def local(rel: str) -> Path:
    """The version's folder on this machine (``artifacts_root() / rel``): with a shared store,
    fetched whole into the cache first when it is not there yet."""
    folder = artifacts_root() / rel
    if not is_shared() or (folder / MANIFEST).exists():
        return folder
    storage = artifact_storage()
    try:
        with storage.open(f"{rel}/{MANIFEST}", "rb") as f:
            files = json.loads(f.read())["files"]
    except FileNotFoundError as e:
        raise FileNotFoundError(f"artifact {rel}: not in the store (no {MANIFEST})") from e
    staging = artifacts_root() / _FETCHING / uuid.uuid4().hex
    staging.mkdir(parents=True)
    try:
        for name, size in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with storage.open(f"{rel}/{name}", "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            if target.stat().st_size != size:
                raise OSError(f"artifact {rel}: {name} is {target.stat().st_size} bytes, the manifest says {size}")
        (staging / MANIFEST).write_text(json.dumps({"files": files}, sort_keys=True))
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(folder)
        except OSError:  # another process of this machine fetched it meanwhile
            if not (folder / MANIFEST).exists():
                raise
        else:
            log.info("artifact %s fetched from the store (%d files)", rel, len(files))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def publish_kept(rel: str) -> str:
    """Upload a version this machine holds to a shared store, unless the store has it whole
    already (an installation moving to several machines: its versions were trained here, into
    the local folder). Returns "in store", "published" or "missing" (neither here nor there)."""
    if artifact_storage().exists(f"{rel}/{MANIFEST}"):
        return "in store"
    folder = artifacts_root() / rel
    if not folder.is_dir():
        return "missing"
    publish(rel, folder)
    return "published"
