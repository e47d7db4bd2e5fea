"""Worker processes that each hold a model and turn batches of files into ``predict``'s records.

On CPU a long job runs fastest as N independent single-threaded scorers, one per core, each
reading, decoding and scoring whole batches, rather than one multi-threaded model beside decoding
workers: nothing shares a core, so no OpenMP thread waits at a barrier for a thread that lost its
core to a decoder (measured on a busy 2-core machine: PyTorch's two threads beside one decoding
process used 2.7 times the CPU of one thread). Batches are the caller's, scored whole, so the
records are exactly those of one process scoring the same batches.

This module imports nothing heavy at the top: a worker sets ``OMP_NUM_THREADS=1`` (its own
environment) before PyTorch starts its thread pool, in :func:`load_worker`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

MAX_DEFAULT_WORKERS = 16
"""Each worker holds PyTorch and a model (a few hundred MB): the default stops here on big machines."""


def default_workers() -> int:
    """One scoring process per CPU, at most :data:`MAX_DEFAULT_WORKERS`."""
    return max(1, min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1))


# One model per worker process, set by the pool's initializer: the process is the actor.
_worker: dict[str, Any] = {}


def load_worker(model_dir: str, unknown: bool = True) -> None:
    """Pool initializer: load the model once, on CPU, with one PyTorch thread."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    from ganprint.attribution.loading import load_model
    from ganprint.attribution.predict import Scorer

    torch.set_num_threads(1)
    model = load_model(model_dir, device="cpu")
    _worker["model"] = model
    _worker["scorer"] = Scorer(model, tta=False, unknown=unknown, heatmaps_dir=None)


def worker_scorer():
    """This worker's model and :class:`~ganprint.attribution.predict.Scorer` (after :func:`load_worker`)."""
    return _worker["model"], _worker["scorer"]


def predict_batch(paths: list[Path]) -> list[dict[str, Any]]:
    """``predict``'s records for one batch of files, decoded here and scored as one model call."""
    from ganprint.data.decode import decode_or_error

    model, scorer = worker_scorer()
    pre = model.preprocessing
    return list(scorer(decode_or_error(p, pre.channels, pre.size) for p in paths))


def predict_in_workers(model_dir: str | os.PathLike[str], batches: Iterable[list[Path]], workers: int, *,
                       unknown: bool = True) -> Iterator[dict[str, Any]]:
    """Records for every file of ``batches``, in order, from ``workers`` processes."""
    from ganprint.data.pool import map_in_processes

    for records in map_in_processes(predict_batch, batches, workers, initializer=load_worker,
                                    initargs=(str(Path(model_dir).resolve()), unknown)):
        yield from records
