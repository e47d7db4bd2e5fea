"""The scan's progress record: what is being scanned (a fingerprint of the inputs) and which shards
are finished, kept in ``OUT/manifest.json`` and always replaced atomically.

The shard files themselves are the ground truth of what is finished (each appears under its final
name only once complete, see :mod:`ganprint.scan.shards`); the manifest's ``done`` list mirrors
them for people and tools, and its fingerprint is what makes a rerun with other arguments refuse
to mix results.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ScanSettings:
    """Everything that decides a scan's rows; two runs with equal settings give equal rows.

    ``batch_size`` is one: the model's float sums may round differently in batches of other sizes
    (a score can move in its sixth decimal), and a scan's rows must not depend on where it was
    resumed. ``engine``, ``device`` and thread counts are not: a scan started on one engine can be
    finished on the other.
    """

    sources: tuple[str, ...]
    model: str
    model_digest: str
    shard_size: int
    batch_size: int

    def fingerprint(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class Manifest:
    """``OUT/manifest.json``: the settings, how many files and shards, which shards are done."""

    settings: dict[str, Any]
    fingerprint: str
    n_files: int | None = None
    n_shards: int | None = None
    done: list[int] = field(default_factory=list)
    version: int = FORMAT_VERSION

    @property
    def complete(self) -> bool:
        return self.n_shards is not None and len(self.done) == self.n_shards

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "complete": self.complete}, indent=1)


def model_digest(folder: str | os.PathLike[str]) -> str:
    """SHA-256 over the model folder's top-level files (names and bytes): a retrained model in the
    same folder is another model."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and not path.name.startswith("."):
            digest.update(path.name.encode() + b"\0")
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:32]


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader (or a rerun after a crash) sees either the old
    file or the new one, never a part: temp file in the same folder, fsync, rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_manifest(out: Path) -> Manifest | None:
    path = out / MANIFEST_NAME
    if not path.is_file():
        return None
    d = json.loads(path.read_text())
    d.pop("complete", None)
    return Manifest(**d)


def write_manifest(out: Path, manifest: Manifest) -> None:
    write_atomic(out / MANIFEST_NAME, manifest.to_json().encode())


def describe_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Which settings differ, for the refusal message."""
    new = json.loads(json.dumps(new))  # as the manifest holds them (lists, not tuples)
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return "; ".join(f"{k}: {old.get(k)!r} then, {new.get(k)!r} now" for k in keys) or "format version"
