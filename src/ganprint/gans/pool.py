"""Training several GANs at once, one process per CPU core, and the worker pool they run in.

The GANs of a study are independent, and a small GAN does not keep two cores busy (its layers are
too small for PyTorch's intra-op threads to pay off), so on a CPU they train side by side, one
single-threaded process each; on a GPU they train one after the other in this process. When jobs
end and fewer remain than workers, the jobs still running take over the freed cores (every
:data:`REBALANCE_EVERY` steps a worker reads how many jobs remain and sets its thread count to its
share), so a study whose GANs differ in length does not leave a core idle. Every job resumes from
its own checkpoint, so an interrupted pool picks up where it stopped.

Every process of a pool (:func:`worker_pool`) ends with the process that started it, however that
one ends (an exception, SIGTERM, SIGKILL): on Linux the kernel sends it SIGKILL when its parent dies
(``PR_SET_PDEATHSIG``), and everywhere a watcher thread exits it within a second of seeing its parent
gone. A killed study therefore leaves no process behind, and its rerun resumes.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from ganprint.gans.config import GanTrainConfig

REBALANCE_EVERY = 25
"""Steps between a worker's looks at how many jobs remain."""

PARENT_POLL_SECONDS = 0.5
"""How often a pool process checks that its parent is still alive (where the kernel cannot tell it)."""


class Monitor(Protocol):
    """What scores a GAN while it trains (picklable: it travels to a worker process). ``build``
    returns the trainer's ``(generator, step) -> score`` callable (higher is kept); scoring happens
    every ``every`` steps from step ``start``; training ends once a score reaches ``stop_at``."""

    every: int
    start: int

    @property
    def stop_at(self) -> float | None: ...

    def build(self, latent_dim: int, device: torch.device | str) -> Callable[[torch.nn.Module, int], float]: ...


@dataclass(frozen=True)
class GanJob:
    """One GAN to train: its folder, training config, training images (uint8 NHWC or NHW), their
    class labels for a conditional GAN and, when set, the monitor that keeps the best snapshot and
    may stop it early."""

    out_dir: Path
    config: GanTrainConfig
    images: np.ndarray = field(repr=False)
    data_info: dict[str, Any] = field(default_factory=dict)
    stop: Monitor | None = None
    labels: np.ndarray | None = field(default=None, repr=False)


def _exit_with_parent(parent: int) -> None:
    """Pool-process initializer: end this process when ``parent`` ends (module docstring)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="ganprint-parent-watch", daemon=True).start()


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` spawned processes that end with this one (module docstring)."""
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_exit_with_parent,
                             initargs=(os.getpid(),)) as pool:
        yield pool


@contextlib.contextmanager
def _manager() -> Iterator[SyncManager]:
    """A manager process (shared counters between workers) that ends with this process."""
    manager = SyncManager(ctx=mp.get_context("spawn"))
    manager.start(_exit_with_parent, (os.getpid(),))
    try:
        yield manager
    finally:
        manager.shutdown()


@dataclass
class CoreShare:
    """A worker's share of the pool's cores: ``cores`` over the jobs running, which are the
    ``workers`` or, once fewer jobs remain (``remaining``, a counter shared by the pool's processes),
    those; applied to torch's intra-op threads every :data:`REBALANCE_EVERY` steps (``on_step``)."""

    remaining: Any
    lock: Any
    cores: int
    workers: int

    def __call__(self, step: int) -> None:
        if step % REBALANCE_EVERY == 0:
            threads = max(1, self.cores // max(1, min(self.workers, self.remaining.value)))
            if threads != torch.get_num_threads():
                torch.set_num_threads(threads)

    def done(self) -> None:
        with self.lock:
            self.remaining.value -= 1


def _train(config: dict[str, Any], out_dir: str, images: np.ndarray, labels: np.ndarray | None,
           data_info: dict[str, Any], stop: Monitor | None, threads: int, device: str,
           share: CoreShare | None = None) -> float:
    """Worker entry point: train (or resume) one GAN; returns the wall seconds it took. With ``share``
    the worker's threads follow its share of the cores, and it counts itself out when it ends."""
    from ganprint.gans.registry import create_gan
    from ganprint.gans.trainer import GanTrainer

    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    cfg = GanTrainConfig.from_dict(config)
    trainer = GanTrainer(cfg, out_dir, device, data_info)
    try:
        if not trainer.is_finished():
            monitor = None
            if stop is not None:
                monitor = stop.build(create_gan(cfg.arch, **cfg.arch_options).latent_dim, device)
            trainer.fit(images, labels, progress=False, on_step=share, monitor=monitor,
                        check_every=stop.every if stop else 250, check_from=stop.start if stop else 0,
                        stop_at=stop.stop_at if stop else None)
    finally:
        if share is not None:
            share.done()
    return time.perf_counter() - t0


def train_gan_jobs(jobs: Sequence[GanJob], *, device: str | torch.device = "cpu", workers: int | None = None,
                   progress: bool = True, rebalance: bool = True) -> dict[str, float]:
    """Train every job that is not finished; returns the wall seconds per job (by folder name).

    On a CPU the jobs run in ``workers`` processes (default: one per core, at most one per job), each
    with its share of the cores' threads, re-shared as jobs end when ``rebalance`` (module
    docstring; a change of thread count can change a run's last bits, so pass False where runs
    must be bitwise reproducible); elsewhere, or with one worker, one after the other here.
    """
    from ganprint.gans.trainer import GanTrainer

    todo = [j for j in jobs if not GanTrainer(j.config, j.out_dir).is_finished()]
    if not todo:
        return {}
    cores = os.cpu_count() or 1
    workers = max(1, min(len(todo), workers or cores))
    seconds: dict[str, float] = {}
    if torch.device(device).type != "cpu" or workers == 1:
        for job in tqdm(todo, desc="GANs", disable=not progress):
            seconds[job.out_dir.name] = _train(job.config.to_dict(), str(job.out_dir), job.images, job.labels,
                                               job.data_info, job.stop, 0, str(device))
        return seconds
    with contextlib.ExitStack() as stack:
        share = None
        if rebalance:
            manager = stack.enter_context(_manager())
            share = CoreShare(manager.Value("i", len(todo)), manager.Lock(), cores, workers)
        pool = stack.enter_context(worker_pool(workers))
        futures = {pool.submit(_train, job.config.to_dict(), str(job.out_dir), job.images, job.labels,
                               job.data_info, job.stop, max(1, cores // workers), "cpu", share): job.out_dir.name
                   for job in todo}
        for fut in tqdm(as_completed(futures), total=len(futures), desc="GANs trained", disable=not progress):
            seconds[futures[fut]] = round(fut.result(), 2)
    return seconds
