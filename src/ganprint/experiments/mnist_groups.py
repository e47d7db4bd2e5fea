"""Runner for the MNIST authorship study (seed 000 §3.1).

Stages, each skipped when its output already exists (a rerun resumes):

1. real digits (bundled or torchvision), the GAN quality gate's digit classifier;
2. the 13 GANs, trained in parallel worker processes (small GANs use the CPU far better as
   several single-threaded processes than as one multi-threaded one);
3. per group, a folder dataset ``data/<group>/<split>/<source>/NNNNNN.png`` of GAN samples plus
   real digits where the group has a real class;
4. the quality gate per GAN; 5. the seed's authorship CNN per group (trained on the folders);
6. ``results.json`` and ``report.md`` with plots.
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ganprint.attribution.attributor import Attributor, Preprocessing
from ganprint.attribution.metrics import classification_report
from ganprint.data.folder import LoadedImages, load_images, scan_folder_dataset, split_indices
from ganprint.data.mnist import Digits, load_digits_source
from ganprint.device import resolve_device
from ganprint.experiments.protocol import MnistGroupsProtocol, Profile, load_protocol_dict
from ganprint.experiments.report import write_mnist_groups_report
from ganprint.gans.registry import create_gan
from ganprint.gans.sampling import chunk_latents, generate, load_generator, sample_generator_to_folder, save_png
from ganprint.gans.trainer import GanTrainer
from ganprint.quality.digits import DigitGate
from ganprint.serialization import read_json, write_json

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest
    from ganprint.gans.config import GanTrainConfig

REAL = "real"
QUALITY_CHECK_SEED = 987_654  # latents used to decide when a GAN is good enough (not the reported ones)
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
    the remedy for the within-class collapse of *conditional* generators (Mao et al. 2019), which
    the single-digit GANs do not show. Without ``conditional`` the config is returned as is, with
    no labels.
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


def _train_gan_job(config: dict[str, Any], out_dir: str, images: np.ndarray, labels: np.ndarray | None,
                   threads: int, device: str, data_info: dict[str, Any],
                   stop: dict[str, Any] | None = None) -> tuple[str, float]:
    """Worker-process entry point: train one GAN (resuming), return its wall time.

    With ``stop`` = {"gate": folder, "digits": [...], "target": q, "every": k}, training ends as
    soon as the GAN's quality gate (on a fixed set of latents) reaches ``target``: each GAN trains
    for the steps it really needs, up to the profile's maximum.
    """
    from ganprint.gans.config import GanTrainConfig

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    cfg = GanTrainConfig.from_dict(config)
    monitor = None
    if stop is not None:
        gate = DigitGate.load(stop["gate"], "cpu")
        latent_dim = create_gan(cfg.arch, **cfg.arch_options).latent_dim
        z = chunk_latents(QUALITY_CHECK_SEED, 0, latent_dim, stop.get("samples", 500))

        def monitor(G: torch.nn.Module, step: int) -> float:
            return gate.score(generate(G, z.to(next(G.parameters()).device))[..., 0], stop["digits"])

    GanTrainer(cfg, out_dir, device, data_info).fit(
        images, labels, progress=False, monitor=monitor, check_every=stop["every"] if stop else 250,
        stop_at=stop["target"] if stop else None)
    return out_dir, time.perf_counter() - t0


def _generate_job(gan_dir: str, parts: list[tuple[str, int, int]], seed: int, threads: int,
                  device: str) -> dict[str, dict[int, np.ndarray]]:
    """Worker-process entry point: write images ``lo .. hi - 1`` of the GAN's stream ``seed`` into
    each ``(folder, lo, hi)`` of ``parts``; returns, per folder, the images it wrote by index."""
    torch.set_num_threads(threads)
    G, config = load_generator(gan_dir, device)
    written: dict[str, dict[int, np.ndarray]] = {}
    for folder, lo, hi in parts:
        sample_generator_to_folder(G, config["latent_dim"], hi - lo, folder, seed=seed, start_index=lo,
                                   progress=False, written=written.setdefault(folder, {}))
    return written


def _finite(value: float) -> float | None:
    """``value``, or None where it is NaN (strict JSON has no NaN)."""
    return None if math.isnan(value) else value


def _split_counts(n: int, split: tuple[float, float, float]) -> dict[str, tuple[int, int]]:
    """Contiguous index ranges [lo, hi) per split for ``n`` generated images."""
    n_train = round(n * split[0])
    n_val = round(n * split[1])
    bounds = [0, n_train, n_train + n_val, n]
    return {s: (bounds[i], bounds[i + 1]) for i, s in enumerate(SPLITS)}


def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of ``mnist-groups`` protocols (see :mod:`ganprint.experiments.runners`)."""
    return MnistGroupsRun(request.out_dir, request.profile, protocol=request.protocol,
                          groups=list(request.groups) or None, workers=request.workers, device=request.device,
                          progress=request.progress, real_source=request.real_source).run()


def summary_lines(results: dict[str, Any]) -> list[str]:
    return [f"{name}: accuracy {g['accuracy']:.4f} (seed {g['seed_accuracy']})"
            for name, g in results["groups"].items()]


class MnistGroupsRun:
    """One run directory of the study. ``run()`` executes (or resumes) every stage."""

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path = "mnist-groups",
                 overrides: dict[str, Any] | None = None, groups: list[str] | None = None,
                 workers: int | None = None, device: str = "auto", progress: bool = True,
                 cache_dir: str | Path | None = None, real_source: str | None = None) -> None:
        self.out = Path(out_dir)
        self.protocol = MnistGroupsProtocol.from_dict(load_protocol_dict(protocol))
        if real_source is not None:
            self.protocol = dataclasses.replace(self.protocol, real_source=real_source)
        self.profile: Profile = self.protocol.profile(profile, overrides)
        unknown = sorted(set(groups or []) - set(self.protocol.groups))
        if unknown:
            raise ValueError(f"unknown groups {unknown}; known: {', '.join(self.protocol.groups)}")
        self.group_names = list(groups or self.protocol.groups)
        self.gan_names = [g for name in self.group_names for g in self.protocol.groups[name].gans]
        cores = os.cpu_count() or 1
        self.workers = max(1, workers or cores)
        self.device = resolve_device(device)
        self.progress = progress
        self.cache_dir = cache_dir
        self.stage_seconds: dict[str, float] = {}
        # folder -> {file index: image} for the PNGs this run wrote: the attributors read these
        # instead of decoding the same files back (a resumed run decodes what it did not write)
        self._written: dict[Path, dict[int, np.ndarray]] = {}

    # -- stages ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(self.out / "config.json", {"protocol": self.protocol.name, "real_source": self.protocol.real_source,
                                              "profile": self.profile.to_dict(),
                                              "groups": self.group_names, "workers": self.workers,
                                              "device": str(self.device)})
        gate, gates = self.prepare()
        groups = self._timed("attributor training + test", self._attribute)
        results = {
            "experiment": self.protocol.name,
            "profile": self.profile.name,
            "profile_config": self.profile.to_dict(),
            "groups": groups,
            "gans": gates,
            "gate_classifier": gate.report,
            "stage_seconds": {k: round(v, 2) for k, v in self.stage_seconds.items()},
            "wall_seconds": round(time.perf_counter() - t0, 2),
            "threads": torch.get_num_threads(),
            "workers": self.workers,
            "device": str(self.device),
        }
        write_json(self.out / "results.json", results)
        write_mnist_groups_report(self.out, results, self.protocol)
        return results

    def prepare(self) -> tuple[DigitGate, dict[str, Any]]:
        """Every stage up to the labelled datasets (``data/<group>/<split>/<source>/``) and the
        GANs' quality figures; resumes finished stages."""
        self.out.mkdir(parents=True, exist_ok=True)
        real = self._timed("real data", lambda: load_digits_source(self.protocol.real_source, self.cache_dir))
        gate = self._timed("quality-gate classifier", lambda: self._gate(real))
        self._timed("GAN training", lambda: self._train_gans(real))
        self._timed("dataset generation", lambda: self._generate(real))
        gates = self._timed("quality gate", lambda: self._quality(gate, real))
        return gate, gates

    def group_dir(self, group: str) -> Path:
        return self._group_dir(group)

    def _timed(self, stage: str, fn):
        t = time.perf_counter()
        try:
            return fn()
        finally:
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + time.perf_counter() - t

    def _gate(self, real: Digits) -> DigitGate:
        folder = self.out / "gate"
        if (folder / "config.json").is_file():
            gate = DigitGate.load(folder, self.device)
            parts = split_indices(real.labels, seed=gate.report.get("seed", 0))
            gate.held_out = real.take(parts["test"])
            return gate
        gate = DigitGate.train(real, epochs=self.profile.gate_epochs, seed=self.protocol.seed, device=self.device,
                               progress=self.progress, precision=self.profile.gate_precision)
        gate.save(folder)
        return gate

    def _gan_dir(self, name: str) -> Path:
        return self.out / "gans" / name

    def _train_gans(self, real: Digits) -> None:
        jobs = []
        for i, name in enumerate(self.protocol.gans):
            if name not in self.gan_names:
                continue
            entry = self.protocol.gans[name]
            data = gan_training_data(real, entry, self.protocol.seed)
            seed = entry.seed if entry.seed is not None else self.protocol.seed * 1000 + i + 1
            cfg = self.profile.gan_config(entry.arch or self.protocol.gan_arch, seed=seed, overrides=entry.gan)
            cfg, labels = conditioned(cfg, data, entry.digits)
            trainer = GanTrainer(cfg, self._gan_dir(name))
            if trainer.is_finished():
                continue
            info = {"source": self.protocol.real_source, "digits": list(entry.digits),
                    "partition": list(entry.partition) if entry.partition else None}
            stop = None
            if self.profile.stop_quality is not None:
                stop = {"gate": str(self.out / "gate"), "digits": list(entry.digits),
                        "target": self.profile.stop_quality, "every": self.profile.quality_check_every}
            jobs.append((cfg.to_dict(), str(self._gan_dir(name)), data.images, labels, info, stop))
        if not jobs:
            return
        if self.device.type != "cpu" or self.workers == 1:
            for cfg, out, images, labels, info, stop in tqdm(jobs, desc="GANs", disable=not self.progress):
                _train_gan_job(cfg, out, images, labels, torch.get_num_threads(), str(self.device), info, stop)
            return
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx) as pool:
            futures = [pool.submit(_train_gan_job, cfg, out, images, labels, threads, "cpu", info, stop)
                       for cfg, out, images, labels, info, stop in jobs]
            for fut in tqdm(as_completed(futures), total=len(futures), desc="GANs trained",
                            disable=not self.progress):
                fut.result()

    def _group_dir(self, group: str) -> Path:
        return self.out / "data" / group

    def _generate(self, real: Digits) -> None:
        ranges = _split_counts(self.profile.images_per_gan, self.profile.split)
        parts: dict[str, list[tuple[str, int, int]]] = {}
        for gname in self.group_names:
            for name in self.protocol.groups[gname].gans:
                parts.setdefault(name, []).extend((str(self._group_dir(gname) / split / name), lo, hi)
                                                  for split, (lo, hi) in ranges.items() if hi > lo)
        jobs = [(str(self._gan_dir(name)), todo, self.protocol.seed) for name, todo in parts.items()
                if not all((Path(folder) / f"{i:06d}.png").is_file() for folder, lo, hi in todo for i in range(lo, hi))]
        if self.device.type != "cpu" or self.workers == 1 or len(jobs) < 2:
            for job in jobs:
                self._keep(_generate_job(*job, torch.get_num_threads(), str(self.device)))
            self._write_real(real)
            return
        # PNG encoding is single-threaded Python work: one process per core, the real digits meanwhile
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(_generate_job, *job, threads, "cpu") for job in jobs]
            self._write_real(real)
            for fut in as_completed(futures):
                self._keep(fut.result())

    def _write_real(self, real: Digits) -> None:
        """Each group with a real class: its real digits (of the group's digits), split as the GANs'."""
        for gname in self.group_names:
            group = self.protocol.groups[gname]
            if not group.real:
                continue
            digits = sorted({d for n in group.gans for d in self.protocol.gans[n].digits})
            subset = real.subset(digits)
            parts = split_indices(subset.labels, fractions=self.profile.split, seed=self.protocol.seed)
            for split in SPLITS:
                folder = self._group_dir(gname) / split / REAL
                folder.mkdir(parents=True, exist_ok=True)
                written = self._written.setdefault(folder, {})
                for i in parts[split]:
                    path = folder / f"{int(i):06d}.png"
                    if not path.is_file():
                        save_png(subset.images[i][..., None], path)
                        written[int(i)] = subset.images[i][..., None]

    def _keep(self, written: dict[str, dict[int, np.ndarray]]) -> None:
        for folder, images in written.items():
            self._written.setdefault(Path(folder), {}).update(images)

    def _quality(self, gate: DigitGate, real: Digits) -> dict[str, Any]:
        out: dict[str, Any] = {}
        grids = self.out / "report" / "samples"
        grids.mkdir(parents=True, exist_ok=True)
        for name in self.gan_names:
            entry = self.protocol.gans[name]
            G, config = load_generator(self._gan_dir(name), self.device)
            n = self.profile.gate_samples
            z = torch.cat([chunk_latents(self.protocol.seed + 1, c, config["latent_dim"])
                           for c in range(-(-n // 500))])[:n]
            images = generate(G, z)[..., 0]
            held = gate.held_out.subset(entry.digits) if gate.held_out is not None else None
            figures = gate.assess(images, entry.digits, real)
            real_figures = gate.assess(held.images, entry.digits, real) if held is not None else {}
            out[name] = {
                "quality_gate": figures["quality_gate"],
                "mode_coverage": figures["mode_coverage"],
                "diversity": _finite(figures["diversity"]),
                "real_share": real_figures.get("quality_gate"),
                "real_diversity": _finite(real_figures["diversity"]) if real_figures else None,
                "digits": list(entry.digits),
                "partition": list(entry.partition) if entry.partition else None,
                "train_images": config["data"]["n_images"],
                "train_steps": config["steps"],
                "stopped_early": config.get("stopped_early", False),
                "kept_step": config.get("kept_step", config["steps"]),
            }
            save_grid(images[:64], grids / f"{name}.png")
        return out

    def _attribute(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        pre = Preprocessing(size=(28, 28), channels=1)
        for gname in self.group_names:
            model_dir = self.out / "models" / gname
            result_file = model_dir / "test_results.json"
            if result_file.is_file():
                results[gname] = read_json(result_file)
                continue
            ds = scan_folder_dataset(self._group_dir(gname))
            classes = np.asarray(ds.classes)
            load = {s: self._load(ds.split(s), pre.size, f"{gname} {s}") for s in SPLITS}
            t0 = time.perf_counter()
            att = Attributor(arch=self.protocol.attributor_arch, preprocessing=pre, fit_config=self.profile.attributor,
                             device=str(self.device))
            att.fit(load["train"].images, classes[load["train"].labels], load["val"].images,
                    classes[load["val"].labels], progress=self.progress)
            fit_seconds = time.perf_counter() - t0
            att.save(model_dir)
            test = load["test"]
            order = [list(att.classes_).index(c) for c in classes]
            pred = att.predict_proba(test.images).argmax(1)
            true = np.asarray([order[i] for i in test.labels])
            report = classification_report(true, pred, [str(c) for c in att.classes_])
            results[gname] = {**report, "fit_seconds": round(fit_seconds, 2),
                              "epochs_run": att.history_.get("epochs_run"),
                              "train_images": int(len(load["train"].images)),
                              "seed_accuracy": self.protocol.groups[gname].seed_accuracy}
            write_json(result_file, results[gname])
        return results

    def _load(self, items: list[tuple[Path, int]], size: tuple[int, int], desc: str) -> LoadedImages:
        """The images of ``items``: from what this run wrote when it wrote every one of them
        (the same pixels, without decoding them again), otherwise decoded from the files."""
        written = {folder: self._written.pop(folder, {}) for folder in {Path(path).parent for path, _ in items}}
        kept = []
        for path, _ in items:
            path = Path(path)
            image = written[path.parent].get(int(path.stem)) if path.stem.isdigit() else None
            if image is None or image.shape != (*size, 1):
                return load_images(items, channels=1, size=size, workers=0, progress=self.progress, desc=desc)
            kept.append(image)
        images = np.stack(kept) if kept else np.zeros((0, *size, 1), np.uint8)
        return LoadedImages(images=images, labels=np.asarray([label for _, label in items], dtype=np.int64),
                            paths=[Path(path) for path, _ in items], errors=[])


def save_grid(images: np.ndarray, path: Path, cols: int = 8) -> None:
    """Tile uint8 (N, H, W) images into one PNG, ``cols`` per row, 2-px gaps."""
    from PIL import Image

    n, h, w = images.shape
    rows = -(-n // cols)
    canvas = np.full((rows * (h + 2) + 2, cols * (w + 2) + 2), 64, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        canvas[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + c * (w + 2):2 + c * (w + 2) + w] = img
    Image.fromarray(canvas).resize((canvas.shape[1] * 2, canvas.shape[0] * 2), Image.Resampling.NEAREST).save(path)


def load_results(out_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(out_dir) / "results.json").read_text())
