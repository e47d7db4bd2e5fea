"""Run a scan: settle the file list and the manifest, skip finished shards, score the others on the
chosen engine, write each shard atomically, record it, summarise."""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ganprint.scan.files import FILES_NAME, list_files, load_file_list, save_file_list
from ganprint.scan.manifest import (
    MANIFEST_NAME,
    Manifest,
    ScanSettings,
    describe_difference,
    model_digest,
    read_manifest,
    write_manifest,
)
from ganprint.scan.shards import SHARDS_DIR, finished_shards, read_shards, remove_partials, write_shard

ENGINES = ("local", "ray")


class ScanError(ValueError):
    """A scan that cannot start (another scan's folder, a bad engine); the message says what to do."""


@dataclass(frozen=True)
class ScanConfig:
    """One scan. ``sources``, ``model_dir``, ``shard_size`` and ``batch_size`` decide the rows
    (:class:`~ganprint.scan.manifest.ScanSettings`); the rest only speed.

    Attributes:
        model_dir: Model folder (``ganprint train``).
        sources: Files and folders to scan (folders walked recursively, sorted by name).
        out: Results folder (``manifest.json``, ``files.parquet``, ``shards/part-NNNNNN.parquet``).
        engine: ``local`` (this process plus decoding workers) or ``ray`` (Ray Data).
        ray_address: Ray cluster to join (``ray start --head`` prints it); None: a local Ray.
        batch_size: Images per model call.
        shard_size: Files per result shard: the unit of resumption.
        device: Where the model runs (``auto``: CUDA when present).
        workers: Decoding processes (local engine) or Ray actors (ray engine); None: by CPU count.
        force: Replace the results of a scan with other settings in ``out``.
    """

    model_dir: Path
    sources: tuple[str, ...]
    out: Path
    engine: str = "local"
    ray_address: str | None = None
    batch_size: int = 512
    shard_size: int = 4096
    device: str = "auto"
    workers: int | None = None
    force: bool = False

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ScanError(f"unknown engine {self.engine!r}; known: {', '.join(ENGINES)}")
        if self.batch_size < 1 or self.shard_size < 1:
            raise ScanError("batch_size and shard_size must be positive")
        if not self.sources:
            raise ScanError("nothing to scan: give at least one file or folder")

    def settings(self) -> ScanSettings:
        return ScanSettings(sources=tuple(os.path.abspath(s) for s in self.sources),
                            model=os.path.abspath(self.model_dir), model_digest=model_digest(self.model_dir),
                            shard_size=self.shard_size, batch_size=self.batch_size)


@dataclass
class ScanSummary:
    """What a scan found: files in all, scored by this run, per label, errors, speed."""

    out: str
    files: int
    shards: int
    scanned_now: int
    seconds: float
    labels: dict[str, int] = field(default_factory=dict)
    errors: int = 0

    @property
    def files_per_second(self) -> float | None:
        return self.scanned_now / self.seconds if self.seconds > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "files_per_second": self.files_per_second}


@dataclass
class _State:
    manifest: Manifest
    files: list[bytes]
    pending: list[int]


def prepare(config: ScanConfig) -> _State:
    """Open or start the scan in ``config.out``: the manifest, the file list, the shards still to do.

    Raises :class:`ScanError` when ``out`` holds a scan with other settings (unless ``force``) or
    is a non-empty folder that is not a scan.
    """
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = config.settings()
    manifest = read_manifest(out)
    if manifest is not None and manifest.fingerprint != settings.fingerprint():
        if not config.force:
            raise ScanError(f"{out} holds another scan ({describe_difference(manifest.settings, asdict(settings))}); "
                            "rerun with that scan's arguments to finish it, choose another --out, "
                            "or pass --force to replace its results")
        _clear(out)
        manifest = None
    if manifest is None:
        ours = {MANIFEST_NAME, FILES_NAME, SHARDS_DIR}
        strangers = [n for n in os.listdir(out) if n not in ours and not n.startswith(".")]
        if strangers and not config.force:
            raise ScanError(f"{out} is not empty and holds no scan ({strangers[0]} ...); choose an empty or new folder")
        _clear(out)
        manifest = Manifest(settings=asdict(settings), fingerprint=settings.fingerprint())
        write_manifest(out, manifest)  # first, so a folder with our files always says whose they are
    remove_partials(out)
    files = load_file_list(out) if manifest.n_files is not None else None
    if files is None:
        files = list_files(config.sources)
        save_file_list(out, files)
        manifest.n_files = len(files)
        manifest.n_shards = -(-len(files) // config.shard_size)
    done = {s for s in finished_shards(out) if s < manifest.n_shards}
    manifest.done = sorted(done)
    write_manifest(out, manifest)
    return _State(manifest, files, [s for s in range(manifest.n_shards) if s not in done])


def _clear(out: Path) -> None:
    for name in (MANIFEST_NAME, FILES_NAME):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / SHARDS_DIR, ignore_errors=True)


def run_scan(config: ScanConfig, progress: Callable[[int, int, int], None] | None = None) -> ScanSummary:
    """Scan ``config.sources`` into ``config.out``, resuming a previous run with the same settings.

    ``progress(done_files, total_files, scanned_this_run)`` is called once at the start and after
    each shard. Killed at any moment, a rerun with the same config finishes with exactly one row
    per file.
    """
    t0 = time.perf_counter()
    state = prepare(config)
    out, manifest, files = Path(config.out), state.manifest, state.files
    n_done = sum(_shard_len(s, config.shard_size, len(files)) for s in manifest.done)
    if progress is not None:
        progress(n_done, len(files), 0)
    scanned = 0
    if state.pending:
        for shard, table in _engine(config, files, state.pending):
            write_shard(out, shard, table)
            manifest.done = sorted({*manifest.done, shard})
            write_manifest(out, manifest)
            scanned += table.num_rows
            if progress is not None:
                progress(n_done + scanned, len(files), scanned)
    return summarise(out, time.perf_counter() - t0, scanned)


def _shard_len(shard: int, shard_size: int, n_files: int) -> int:
    return max(0, min(n_files, (shard + 1) * shard_size) - shard * shard_size)


def _engine(config: ScanConfig, files: list[bytes], pending: Sequence[int]):
    if config.engine == "ray":
        from ganprint.scan.ray_engine import scan_ray

        return scan_ray(config.model_dir, files, pending, config.shard_size, batch_size=config.batch_size,
                        device=config.device, address=config.ray_address, actors=config.workers)
    from ganprint.data.pool import DecodePlan
    from ganprint.scan.local import scan_local

    return scan_local(config.model_dir, files, pending, config.shard_size, batch_size=config.batch_size,
                      device=config.device, plan=DecodePlan(workers=config.workers))


def summarise(out: str | os.PathLike[str], seconds: float = 0.0, scanned_now: int = 0) -> ScanSummary:
    """Counts per label and errors over every finished shard of the scan in ``out``."""
    out = Path(out)
    manifest = read_manifest(out)
    table = read_shards(out, columns=["label", "error"])
    labels: Counter[str] = Counter()
    errors = 0
    if table is not None:
        labels.update(v for v in table.column("label").to_pylist() if v is not None)
        errors = table.num_rows - table.column("error").null_count
    return ScanSummary(out=str(out), files=(manifest.n_files or 0) if manifest else 0,
                       shards=(manifest.n_shards or 0) if manifest else 0, scanned_now=scanned_now,
                       seconds=seconds, labels=dict(sorted(labels.items())), errors=errors)
