"""Training GANs and generative models of other families side by side in one process pool.

:func:`train_model_jobs` takes :class:`~ganprint.gans.pool.GanJob` and :class:`GenerativeJob`
alike: the unfinished ones run in worker processes (one per core, each with its share of the cores'
threads, re-shared as jobs end), the longest first, as :func:`ganprint.gans.pool.train_gan_jobs`
does for GANs alone.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ganprint.gans.pool import CoreShare, GanJob, _manager, worker_pool
from ganprint.gans.pool import _train as train_gan_job
from ganprint.generative.config import GenerativeTrainConfig


@dataclass
class GenerativeJob:
    """One generative (non-GAN) model to train: its folder, config and training images (uint8 NHW or NHWC).
    ``cost`` orders the pool's queue (the costliest first)."""

    out_dir: Path
    config: GenerativeTrainConfig
    images: np.ndarray = field(repr=False)
    data_info: dict[str, Any] = field(default_factory=dict)
    cost: float = 1.0


def train_generative_job(config: dict[str, Any], out_dir: str, images: np.ndarray, data_info: dict[str, Any],
                         threads: int, device: str, share: CoreShare | None = None) -> float:
    """Worker entry point: train (or resume) one generative model; returns its wall seconds."""
    from ganprint.generative.trainer import GenerativeTrainer

    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    try:
        GenerativeTrainer(GenerativeTrainConfig.from_dict(config), out_dir, device, data_info).fit(
            images, progress=False, on_step=share)
    finally:
        if share is not None:
            share.done()
    return time.perf_counter() - t0


def _finished(job: GanJob | GenerativeJob) -> bool:
    cfg = Path(job.out_dir) / "config.json"
    if not cfg.is_file():
        return False
    from ganprint.serialization import read_json

    return read_json(cfg).get("status") == "finished"


def _submit(pool: Any, job: GanJob | GenerativeJob, threads: int, device: str, share: CoreShare | None) -> Any:
    if isinstance(job, GenerativeJob):
        return pool.submit(train_generative_job, job.config.to_dict(), str(job.out_dir), job.images,
                           job.data_info, threads, device, share)
    return pool.submit(train_gan_job, job.config.to_dict(), str(job.out_dir), job.images, job.labels,
                       job.data_info, job.stop, threads, device, share)


def _run_here(job: GanJob | GenerativeJob, device: str) -> float:
    if isinstance(job, GenerativeJob):
        return train_generative_job(job.config.to_dict(), str(job.out_dir), job.images, job.data_info, 0, device)
    return train_gan_job(job.config.to_dict(), str(job.out_dir), job.images, job.labels, job.data_info, job.stop,
                         0, device)


def train_model_jobs(jobs: Sequence[GanJob | GenerativeJob], *, device: str | torch.device = "cpu",
                     workers: int | None = None, progress: bool = True) -> dict[str, float]:
    """Train every unfinished job; returns the wall seconds per job (by folder name). On a CPU the jobs
    run in ``workers`` processes (default one per core), costliest first; on an accelerator, or with
    one worker, one after the other in this process."""
    todo = [j for j in jobs if not _finished(j)]
    todo.sort(key=lambda j: -(j.cost if isinstance(j, GenerativeJob) else 1.0))
    if not todo:
        return {}
    cores = os.cpu_count() or 1
    workers = max(1, min(len(todo), workers or cores))
    seconds: dict[str, float] = {}
    if torch.device(device).type != "cpu" or workers == 1:
        for job in tqdm(todo, desc="generators", disable=not progress):
            seconds[Path(job.out_dir).name] = round(_run_here(job, str(device)), 2)
        return seconds
    with contextlib.ExitStack() as stack:
        manager = stack.enter_context(_manager())
        share = CoreShare(manager.Value("i", len(todo)), manager.Lock(), cores, workers)
        pool = stack.enter_context(worker_pool(workers))
        futures = {_submit(pool, job, max(1, cores // workers), "cpu", share): Path(job.out_dir).name
                   for job in todo}
        for fut in tqdm(as_completed(futures), total=len(futures), desc="generators trained", disable=not progress):
            seconds[futures[fut]] = round(fut.result(), 2)
    return seconds
