"""The data of the ``families`` study: the real digits split between generator training and the real
source, the generators' training jobs, and every source's images written as
``data/<split>/<source>/NNNNNN.png`` from disjoint index ranges of its stream."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ganprint.data.mnist import Digits
from ganprint.experiments.mnist_data import split_ranges
from ganprint.gans.pool import worker_pool
from ganprint.gans.sampling import save_png

SPLITS = ("train", "val", "test")


@dataclasses.dataclass(frozen=True)
class SourceEntry:
    """One image source of the study: the generator that makes it (None for the real digits), its
    family (``real``, ``gan``, ``diffusion``, ``vae``, ``flow``), its sampler settings, and whether
    it is a class of the attribution."""

    name: str
    generator: str | None
    family: str
    sampler: dict[str, Any] = dataclasses.field(default_factory=dict)
    attribution: bool = True

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any], generators: Sequence[str]) -> SourceEntry:
        unknown = set(d) - {"generator", "family", "sampler", "attribution"}
        if unknown:
            raise ValueError(f"source {name}: unknown keys {sorted(unknown)}")
        if d.get("generator") not in generators:
            raise ValueError(f"source {name}: generator {d.get('generator')!r} is not one of {list(generators)}")
        family = str(d.get("family", ""))
        if not family or family == "real":
            raise ValueError(f"source {name}: needs a family (gan, diffusion, vae, flow, ...)")
        return cls(name, str(d["generator"]), family, dict(d.get("sampler") or {}), bool(d.get("attribution", True)))


REAL = SourceEntry("Real", None, "real")
"""The real source: held-out digits no generator trained on."""


def split_real(real: Digits, share: float, seed: int) -> tuple[Digits, Digits]:
    """``(generator training digits, held-out digits)``: ``share`` of each digit's images (drawn by
    ``seed``) train every generator; the rest are the real source's images."""
    if not 0 < share < 1:
        raise ValueError("generator_share must lie in (0, 1)")
    rng = np.random.default_rng([seed, 31])
    train, held = [], []
    for d in np.unique(real.labels):
        idx = np.flatnonzero(real.labels == d)
        idx = idx[rng.permutation(len(idx))]
        k = round(len(idx) * share)
        train.append(idx[:k])
        held.append(idx[k:])
    return real.take(np.sort(np.concatenate(train))), real.take(np.sort(np.concatenate(held)))


def write_real(held: Digits, root: Path, split: tuple[float, float, float], seed: int, n: int | None = None,
               name: str = "Real") -> dict[str, int]:
    """Write ``n`` (default: all) of the held-out digits, drawn and shuffled by ``seed``, as the real
    source's splits; returns the counts per split."""
    order = np.random.default_rng([seed, 37]).permutation(len(held.images))[:n]
    counts = {}
    for s, (lo, hi) in split_ranges(len(order), split).items():
        folder = root / s / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, j in enumerate(order[lo:hi]):
            path = folder / f"{i:06d}.png"
            if not path.is_file():
                save_png(held.images[j][..., None], path)
        counts[s] = hi - lo
    return counts


@dataclasses.dataclass(frozen=True)
class SampleTask:
    """Images ``lo .. hi - 1`` of stream ``stream`` of the model in ``model_dir`` (under ``sampler``
    for a non-GAN), written to ``out_dir`` as ``NNNNNN.png`` numbered from stream index ``first``
    (the first image of the split the folder holds)."""

    model_dir: str
    sampler: dict[str, Any]
    stream: int
    lo: int
    hi: int
    out_dir: str
    first: int = 0
    cost: float = 1.0


def run_sample_task(task: SampleTask, threads: int, device: str) -> int:
    """Worker entry point: write a task's images (existing files are kept); returns how many it wrote."""
    from ganprint.quality.model_quality import sample_folder_images

    if threads:
        torch.set_num_threads(threads)
    out = Path(task.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    missing = [i for i in range(task.lo, task.hi) if not (out / f"{i - task.first:06d}.png").is_file()]
    if not missing:
        return 0
    lo, hi = min(missing), max(missing) + 1
    images = sample_folder_images(task.model_dir, hi - lo, seed=task.stream, start_index=lo, device=device,
                                  **task.sampler)
    for i in missing:
        save_png(images[i - lo], out / f"{i - task.first:06d}.png")
    return len(missing)


def run_sample_tasks(tasks: Sequence[SampleTask], *, workers: int, device: str, progress: bool) -> None:
    """Run ``tasks`` costliest first: in ``workers`` processes of one thread each on a CPU, here otherwise."""
    todo = sorted(tasks, key=lambda t: -t.cost)
    if torch.device(device).type != "cpu" or workers <= 1:
        for task in tqdm(todo, desc="sampling", disable=not progress):
            run_sample_task(task, 0, device)
        return
    import os

    threads = max(1, (os.cpu_count() or 1) // workers)
    with worker_pool(workers) as pool:
        futures = [pool.submit(run_sample_task, t, threads, "cpu") for t in todo]
        for fut in tqdm(as_completed(futures), total=len(futures), desc="sampling", disable=not progress):
            fut.result()


def sample_cost(entry: SourceEntry, generator_options: Mapping[str, Any], n: int) -> float:
    """A rough relative cost of ``n`` images of a source (a diffusion sampler's steps dominate)."""
    steps = entry.sampler.get("steps") or generator_options.get("num_train_timesteps") or 1
    return n * (float(steps) if entry.family == "diffusion" else 1.0)


def source_tasks(entry: SourceEntry, model_dir: Path, root: Path, n: int, split: tuple[float, float, float],
                 stream: int, generator_options: Mapping[str, Any], block: int = 100) -> list[SampleTask]:
    """The sampling tasks of one source: each split's index range, in pieces of at most ``block`` x 5
    images (so two workers share a long source's images)."""
    tasks = []
    piece = block * 5
    for s, (lo, hi) in split_ranges(n, split).items():
        for a in range(lo, hi, piece):
            b = min(hi, a + piece)
            tasks.append(SampleTask(str(model_dir), dict(entry.sampler), stream, a, b, str(root / s / entry.name),
                                    lo, sample_cost(entry, generator_options, b - a)))
    return tasks
