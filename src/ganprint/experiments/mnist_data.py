"""The data of the MNIST authorship study: each GAN's training digits and labels, the split of its
generated images, the real-digit class, and the images a run wrote (so it need not decode them)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ganprint.data.folder import LoadedImages, load_images, split_indices
from ganprint.data.mnist import Digits
from ganprint.gans.pool import worker_pool
from ganprint.gans.sampling import load_generator, sample_generator_to_folder, save_png

if TYPE_CHECKING:
    from ganprint.experiments.mnist_groups import MnistGroupsRun
    from ganprint.gans.config import GanTrainConfig

SPLITS = ("train", "val", "test")


def gan_training_data(real: Digits, entry, seed: int) -> Digits:
    """The digits a GAN trains on: its subset, or the k-th of n disjoint stratified parts of it."""
    subset = real.subset(entry.digits)
    if entry.partition is None:
        return subset
    k, n = entry.partition
    rng = np.random.default_rng(seed)
    keep = []
    for d in entry.digits:
        idx = np.flatnonzero(subset.labels == d)
        idx = idx[rng.permutation(len(idx))]
        keep.append(np.array_split(idx, n)[k])
    return subset.take(np.sort(np.concatenate(keep)))


def conditioned(cfg: GanTrainConfig, data: Digits, digits: list[int] | tuple[int, ...]
                ) -> tuple[GanTrainConfig, np.ndarray | None]:
    """The config and training labels of one GAN of the study.

    Under a profile whose GAN settings say ``conditional: true``, a GAN of two or more digits is
    class-conditional on the digit: one mixture component of its prior per digit of its subset
    (``prior_components`` = the subset's size) and a projection discriminator, trained on the
    digits' labels (their index in the subset). A single-digit GAN has nothing to condition on and
    stays unconditional, and it trains without the profile's ``mode_seeking`` term: MSGAN's term is
    the remedy for the within-class collapse of *conditional* generators (Mao et al. 2019).
    Without ``conditional`` the config is returned as is, with no labels.
    """
    options = dict(cfg.arch_options)
    if not options.get("conditional"):
        return cfg, None
    if len(digits) < 2:
        options["conditional"] = False
        return dataclasses.replace(cfg, arch_options=options, mode_seeking=0.0), None
    options["prior_components"] = len(digits)
    index = {d: i for i, d in enumerate(digits)}
    labels = np.array([index[int(d)] for d in data.labels], dtype=np.int64)
    return dataclasses.replace(cfg, arch_options=options), labels


def split_ranges(n: int, split: tuple[float, float, float]) -> dict[str, tuple[int, int]]:
    """Contiguous index ranges [lo, hi) per split for ``n`` generated images: a GAN's splits are
    drawn from disjoint latents of its stream."""
    n_train = round(n * split[0])
    n_val = round(n * split[1])
    bounds = [0, n_train, n_train + n_val, n]
    return {s: (bounds[i], bounds[i + 1]) for i, s in enumerate(SPLITS)}


def generate_parts(gan_dir: str, parts: list[tuple[str, int, int]], seed: int, threads: int,
                   device: str) -> dict[str, dict[int, np.ndarray]]:
    """Worker entry point: write images ``lo .. hi - 1`` of the GAN's stream ``seed`` into each
    ``(folder, lo, hi)`` of ``parts``; returns, per folder, the images it wrote by index."""
    torch.set_num_threads(threads)
    G, config = load_generator(gan_dir, device)
    written: dict[str, dict[int, np.ndarray]] = {}
    for folder, lo, hi in parts:
        sample_generator_to_folder(G, config["latent_dim"], hi - lo, folder, seed=seed, start_index=lo,
                                   progress=False, written=written.setdefault(folder, {}))
    return written


def write_real_digits(real: Digits, digits: list[int], root: Path, split: tuple[float, float, float],
                      seed: int) -> dict[str, dict[int, np.ndarray]]:
    """The real class of a group: its digits split as the GANs' images (``root/<split>/real``);
    returns the images written per folder."""
    subset = real.subset(digits)
    parts = split_indices(subset.labels, fractions=split, seed=seed)
    written: dict[str, dict[int, np.ndarray]] = {}
    for name in SPLITS:
        folder = root / name / "real"
        folder.mkdir(parents=True, exist_ok=True)
        images = written.setdefault(str(folder), {})
        for i in parts[name]:
            path = folder / f"{int(i):06d}.png"
            if not path.is_file():
                save_png(subset.images[i][..., None], path)
                images[int(i)] = subset.images[i][..., None]
    return written


def generate_group_data(study: MnistGroupsRun) -> None:
    """Stage ``data/<group>`` of each group of ``study``: every member GAN's images of the disjoint
    latent ranges of each split, and the real class where the group has one. PNG encoding is
    single-threaded Python work: on a CPU one process per core writes the GANs' images while this one
    writes the real digits. The images written are kept in ``study.written``."""
    run, p = study.run_, study.profile
    ranges = split_ranges(p.images_per_gan, p.split)
    todo: dict[str, list[tuple[str, int, int]]] = {}
    stages = []
    for gname in study.group_names:
        group = study.protocol.groups[gname]
        stage = run.open(f"data/{gname}", {"gans": {n: run.token(f"gans/{n}") for n in group.gans},
                                           "ranges": ranges, "seed": study.seed, "real": group.real,
                                           "real_source": study.protocol.real_source})
        if not stage.finished:
            stages.append((stage, group))
            for name in group.gans:
                todo.setdefault(name, []).extend((str(stage.folder / s / name), lo, hi)
                                                 for s, (lo, hi) in ranges.items() if hi > lo)

    def write_real() -> None:
        for stage, group in stages:
            if group.real:
                digits = sorted({d for n in group.gans for d in study.protocol.gans[n].digits})
                study.written.keep(write_real_digits(study.real, digits, stage.folder, p.split, study.seed))

    jobs = [(str(study.out / "gans" / name), parts, study.seed) for name, parts in todo.items()]
    if study.device.type != "cpu" or study.workers == 1 or len(jobs) < 2:
        for job in jobs:
            study.written.keep(generate_parts(*job, torch.get_num_threads(), str(study.device)))
        write_real()
    else:
        with worker_pool(study.workers) as pool:
            threads = max(1, (os.cpu_count() or 1) // study.workers)
            futures = [pool.submit(generate_parts, *job, threads, "cpu") for job in jobs]
            write_real()
            for fut in futures:
                study.written.keep(fut.result())
    for stage, _ in stages:
        run.close(stage, {"images_per_gan": p.images_per_gan})


@dataclasses.dataclass
class WrittenImages:
    """The PNGs a run wrote, by folder and file index: the attributors read these instead of
    decoding the same files back (a resumed run decodes what it did not write)."""

    images: dict[Path, dict[int, np.ndarray]] = dataclasses.field(default_factory=dict)

    def keep(self, written: dict[str, dict[int, np.ndarray]]) -> None:
        for folder, images in written.items():
            self.images.setdefault(Path(folder), {}).update(images)

    def load(self, items: list[tuple[Path, int]], size: tuple[int, int], *, progress: bool,
             desc: str) -> LoadedImages:
        """The images of ``items``: from memory when this run wrote every one of them (the same
        pixels), otherwise decoded from the files."""
        written = {folder: self.images.pop(folder, {}) for folder in {Path(path).parent for path, _ in items}}
        kept = []
        for path, _ in items:
            path = Path(path)
            image = written[path.parent].get(int(path.stem)) if path.stem.isdigit() else None
            if image is None or image.shape != (*size, 1):
                return load_images(items, channels=1, size=size, workers=0, progress=progress, desc=desc)
            kept.append(image)
        images = np.stack(kept) if kept else np.zeros((0, *size, 1), np.uint8)
        return LoadedImages(images=images, labels=np.asarray([label for _, label in items], dtype=np.int64),
                            paths=[Path(path) for path, _ in items], errors=[])
