"""What a model was trained on, and whether an evaluation scores those same images.

``ganprint train`` records its data in the model folder's ``config.json`` under
``"training_data"``::

    {"path": "/abs/DIR", "layout": "flat" | "split",
     "splits": {"train": 850, "val": 150, "test": 200},   # images read; test: files left for eval
     "classes": {"real": 500, "gan_a": 500},               # training + validation images per source
     "fingerprint": "<sha256>", "files_sha": "<sha256>" | null,
     "created": "2026-12-08T10:00:00+00:00", "ganprint_version": "0.1.0"}

``fingerprint`` is the SHA-256 of the sorted ``(path relative to DIR, size in bytes)`` pairs of
every training and validation file (:func:`file_fingerprint`), cheap to recompute from a folder
scan; ``files_sha`` also covers the files' bytes, when they total at most
:data:`FILES_SHA_MAX_BYTES`.

Beside it, ``"warnings"`` lists what ``train`` warned about the data (sources that differ in size,
colour or format; empty, tiny or under-validated sources), for the model card.

``eval`` and ``robustness`` call :func:`training_overlap` to find the scored images the model
trained or was validated on: those of the recorded folder (or a folder inside it) that are still
there with the same relative path and size, or those of a copy of it (a folder whose training
files have the recorded fingerprint). Scoring them flatters every figure.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ganprint.data.folder import FolderDataset, scan_folder_dataset
from ganprint.data.splits import TrainValData, training_files
from ganprint.serialization import CONFIG_NAME, read_json, write_json

__all__ = [
    "FILES_SHA_MAX_BYTES",
    "MIN_TRAIN_PER_SOURCE",
    "MIN_VAL_PER_SOURCE",
    "TRAINING_DATA_KEY",
    "WARNINGS_KEY",
    "file_fingerprint",
    "file_keys",
    "holdout_advice",
    "overlap_warning",
    "read_training_data",
    "read_warnings",
    "training_data_record",
    "training_overlap",
    "training_warnings",
    "write_training_data",
]

TRAINING_DATA_KEY = "training_data"
WARNINGS_KEY = "warnings"
FILES_SHA_MAX_BYTES = 256 * 2**20
"""``files_sha`` is computed when the training files total at most this many bytes."""
MIN_TRAIN_PER_SOURCE = 20
"""Fewer training images than this for a source draws a warning."""
MIN_VAL_PER_SOURCE = 20
"""Fewer validation images than this for a source draws a warning: the temperature, the
unknown-source threshold and the choice between candidates are all fitted on validation images."""

FileKey = tuple[str, int]


def _file_key(root: Path, path: Path) -> FileKey | None:
    """``(path relative to root, POSIX-style; size in bytes)``, or None when ``path`` is not under
    ``root`` or cannot be read."""
    try:
        return path.relative_to(root).as_posix(), path.stat().st_size
    except (ValueError, OSError):
        return None


def file_keys(root: str | os.PathLike[str], paths: Iterable[str | os.PathLike[str]]) -> list[FileKey]:
    """Sorted ``(path relative to root, POSIX-style; size in bytes)`` of ``paths`` under ``root``
    (a file that vanished is left out)."""
    keys = (_file_key(Path(root), Path(path)) for path in paths)
    return sorted(key for key in keys if key is not None)


def file_fingerprint(keys: Iterable[FileKey]) -> str:
    """Hex SHA-256 over the sorted ``(relative path, size)`` pairs, one ``path\\tsize\\n`` line each."""
    digest = hashlib.sha256()
    for rel, size in sorted(keys):
        digest.update(f"{rel}\t{size}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _files_sha(root: Path, keys: Sequence[FileKey], max_bytes: int) -> str | None:
    """Hex SHA-256 over each file's relative path and the SHA-256 of its bytes; None above ``max_bytes``."""
    if sum(size for _, size in keys) > max_bytes:
        return None
    digest = hashlib.sha256()
    for rel, _ in keys:
        try:
            content = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        except OSError:
            return None
        digest.update(f"{rel}\t{content}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def training_data_record(dataset: FolderDataset, data: TrainValData, *,
                         files_sha_max_bytes: int = FILES_SHA_MAX_BYTES) -> dict[str, Any]:
    """The ``"training_data"`` record of a model trained on ``data`` from ``dataset``."""
    from ganprint import __version__

    keys = file_keys(dataset.root, (p for p, _ in training_files(dataset)))
    splits = {"train": len(data.y_train), "val": len(data.y_val)}
    if "test" in dataset.splits:
        splits["test"] = len(dataset.splits["test"])
    counts = data.counts()
    return {
        "path": str(dataset.root.resolve()),
        "layout": data.layout,
        "splits": splits,
        "classes": {c: counts["train"][c] + counts["val"][c] for c in data.classes},
        "fingerprint": file_fingerprint(keys),
        "files_sha": _files_sha(dataset.root, keys, files_sha_max_bytes),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "ganprint_version": __version__,
    }


def write_training_data(model_dir: str | os.PathLike[str], record: dict[str, Any] | None,
                        warnings: Sequence[str] | None = None) -> None:
    """Store ``record`` under ``"training_data"`` in the model folder's config (None: nothing), and
    ``warnings`` (what training warned about the data) under ``"warnings"`` when given."""
    if record is None and warnings is None:
        return
    path = Path(model_dir) / CONFIG_NAME
    config = read_json(path)
    if record is not None:
        config[TRAINING_DATA_KEY] = record
    if warnings is not None:
        config[WARNINGS_KEY] = list(warnings)
    write_json(path, config)


def read_training_data(model_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The model's ``"training_data"`` record, or None (a model saved before it was recorded)."""
    try:
        record = read_json(Path(model_dir) / CONFIG_NAME).get(TRAINING_DATA_KEY)
    except (FileNotFoundError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def read_warnings(model_dir: str | os.PathLike[str]) -> list[str] | None:
    """The warnings ``train`` recorded in the model folder, or None."""
    try:
        warnings = read_json(Path(model_dir) / CONFIG_NAME).get(WARNINGS_KEY)
    except (FileNotFoundError, ValueError):
        return None
    return [str(w) for w in warnings] if isinstance(warnings, list) else None


def training_overlap(record: dict[str, Any] | None, dataset: FolderDataset,
                     scored: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The ``scored`` files (of ``dataset``) that the model recorded by ``record`` trained or was
    validated on; see the module docstring for how they are recognised."""
    if not record or "path" not in record:
        return []
    here, recorded = dataset.root.resolve(), Path(record["path"])
    scored_keys = [(Path(p), _file_key(dataset.root, Path(p))) for p in scored]
    if recorded == here:
        known = set(file_keys(dataset.root, (p for p, _ in training_files(dataset))))
    elif recorded in here.parents:  # e.g. --data DIR/train of a model trained on DIR
        try:
            seen = scan_folder_dataset(recorded)
        except ValueError:
            return []
        known = set(file_keys(recorded, (p for p, _ in training_files(seen))))
        prefix = here.relative_to(recorded).as_posix()
        scored_keys = [(p, None if k is None else (f"{prefix}/{k[0]}", k[1])) for p, k in scored_keys]
    else:  # a copy of the training folder?
        keys = file_keys(dataset.root, (p for p, _ in training_files(dataset)))
        if not keys or file_fingerprint(keys) != record.get("fingerprint"):
            return []
        known = set(keys)
    return [p for p, key in scored_keys if key is not None and key in known]


def holdout_advice(root: str | os.PathLike[str]) -> str:
    """How to hold out a test split of ``root``."""
    return (f"hold out a test split: move the images to {Path(root)}/train/<source>/ (optionally "
            f"{Path(root)}/val/<source>/) and images the model never sees to {Path(root)}/test/<source>/, "
            "then train again; eval and robustness score test/ by default")


def overlap_warning(record: dict[str, Any] | None, dataset: FolderDataset, split: str,
                    scored: Sequence[str | os.PathLike[str]]) -> str | None:
    """A warning when any of ``scored`` (split ``split`` of ``dataset``) trained or validated the
    model, else None."""
    hits = training_overlap(record, dataset, scored)
    if not hits:
        return None
    share = "all" if len(hits) == len(scored) else f"{len(hits)} of"
    return (f"{share} {len(scored)} images scored ({split} split of {dataset.root}) trained or validated this "
            f"model (trained on {record['path']}), so the figures for them flatter it and test nothing; to test it, "
            + holdout_advice(record["path"]))


def training_warnings(data: TrainValData, *, min_train: int = MIN_TRAIN_PER_SOURCE,
                      min_val: int = MIN_VAL_PER_SOURCE) -> list[str]:
    """What a forensic user must know about ``data`` before trusting a model trained on it: sources
    without images, sources with few training images, and too little validation data to calibrate
    probabilities or to answer "unknown"."""
    counts = data.counts()
    train, val = counts["train"], counts["val"]
    warnings = []
    empty = [c for c in data.classes if train[c] + val[c] == 0]
    if empty:
        warnings.append(f"source folder(s) without images: {', '.join(empty)}; the model will not know "
                        f"{'this source' if len(empty) == 1 else 'these sources'}")
    tiny = [f"{c} ({train[c]})" for c in data.classes if 0 < train[c] < min_train]
    if tiny:
        warnings.append(f"few training images for {', '.join(tiny)} (fewer than {min_train}): the model "
                        "learns little about these sources")
    present = [c for c in data.classes if train[c] + val[c] > 0]
    if not len(data.y_val):
        warnings.append("no validation images: probabilities are not calibrated, no unknown-source threshold "
                        "is fitted (the model never answers 'unknown'), and nothing checks training; add images "
                        "(15% of each source is held out) or a val/<source>/ folder")
    else:
        short = [f"{c} ({val[c]})" for c in present if val[c] < min_val]
        if short:
            warnings.append(f"few validation images for {', '.join(short)} (fewer than {min_val} per source): "
                            "calibration and the 'unknown' threshold rest on too few images to be trusted")
    return warnings
