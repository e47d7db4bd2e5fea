"""The local engine, two ways, the same rows:

* on CPU, for long scans: ``workers`` processes (one per CPU by default, at most 16) each load the model once
  and read, hash, decode and score whole batches with one PyTorch thread, like Ray's actors
  (:mod:`ganprint.attribution.scoring_workers` says why); while one decodes another runs the
  model, so every core stays busy;
* on a GPU, or for short scans (no process start-up): this process runs the model and decoding
  runs ahead of it (:func:`ganprint.data.pool.map_batches`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

import pyarrow as pa

from ganprint.attribution.scoring_workers import default_workers, load_worker
from ganprint.data.pool import DecodePlan, map_batches, map_in_processes
from ganprint.scan.files import read_and_decode
from ganprint.scan.score import make_scorer, score_rows


def scan_local(model_dir: str | os.PathLike[str], files: Sequence[bytes], shards: Sequence[int], shard_size: int, *,
               batch_size: int, device: str = "auto",
               plan: DecodePlan = DecodePlan()) -> Iterator[tuple[int, pa.Table]]:  # noqa: B008
    """Yield ``(shard, table)`` for each of ``shards`` in order, as soon as each is scored.

    Model batches start at each shard's first file (:func:`shard_batches`), so a resumed scan runs
    the model on exactly the batches an uninterrupted one would: the same rows to the last bit,
    whichever way they are computed.
    """
    batches = shard_batches(len(files), shards, shard_size, batch_size)
    device = _resolve(device)
    if device == "cpu" and sum(len(b) for _, b in batches) >= plan.min_files_for_processes:
        workers = plan.workers or default_workers()
        tables = map_in_processes(_score_batch, ((b, [files[i] for i in b]) for _, b in batches), workers,
                                  initializer=load_worker, initargs=(str(Path(model_dir).resolve()),))
    else:
        tables = _score_here(model_dir, files, batches, device, plan)
    parts: dict[int, list[pa.Table]] = {}
    for (shard, batch), table in zip(batches, tables, strict=True):
        parts.setdefault(shard, []).append(table)
        if batch[-1] == min(len(files), (shard + 1) * shard_size) - 1:
            yield shard, pa.concat_tables(parts.pop(shard))


def _score_here(model_dir, files: Sequence[bytes], batches: list[tuple[int, list[int]]], device: str,
                plan: DecodePlan) -> Iterator[pa.Table]:
    from ganprint.attribution.loading import load_model

    model = load_model(model_dir, device=device)
    pre = model.preprocessing
    scorer = make_scorer(model)
    decode = partial(read_and_decode, channels=pre.channels, size=pre.size)
    items = ([files[i] for i in batch] for _, batch in batches)
    for (_, batch), decoded in zip(batches, map_batches(decode, items, plan), strict=True):
        yield score_rows(scorer, batch, decoded)


def _resolve(device: str) -> str:
    """``auto`` -> ``cpu`` without importing PyTorch here (a second of start-up the CPU workers do
    not need) when this machine has no NVIDIA device node; else PyTorch decides."""
    if device == "auto" and not any(Path("/dev").glob("nvidia[0-9]*")) and not Path("/dev/dxg").exists():
        return "cpu"
    from ganprint.device import resolve_device

    return str(resolve_device(device))


def _score_batch(task: tuple[list[int], list[bytes]]) -> pa.Table:
    """Worker side: one batch of files to rows, with the model :func:`load_worker` loaded."""
    from ganprint.attribution.scoring_workers import worker_scorer

    indices, paths = task
    model, scorer = worker_scorer()
    decoded = [read_and_decode(p, model.preprocessing.channels, model.preprocessing.size) for p in paths]
    return score_rows(scorer, indices, decoded)


def shard_batches(n_files: int, shards: Sequence[int], shard_size: int,
                  batch_size: int) -> list[tuple[int, list[int]]]:
    """``(shard, file indices)`` of every model batch: ``batch_size`` files from each shard's start,
    the last batch of a shard shorter. Both engines score exactly these batches."""
    out = []
    for shard in shards:
        stop = min(n_files, (shard + 1) * shard_size)
        out.extend((shard, list(range(start, min(stop, start + batch_size))))
                   for start in range(shard * shard_size, stop, batch_size))
    return out
