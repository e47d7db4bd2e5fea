"""Experiment ``gan-epochs`` (seed 000 §3.2, Fig. 10): does attribution depend on how long the GANs
trained? Each GAN saves a generator snapshot every K epochs; at every snapshot a classifier is
trained on images of the GANs' snapshots (and real images) and its validation and test accuracy
are recorded, beside each snapshot's quality figure.

Stages, each skipped on a rerun when its output exists: real images; the GANs with snapshots;
per snapshot step the images, the classifier and the quality figures (``steps/step_NNNNNNN.json``);
``results.json`` and ``report.md`` with the accuracy-against-epochs plot.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganprint.experiments.gan_studies import (
    SPLITS,
    GanEntry,
    attribute,
    cached,
    finished_gan_info,
    gan_config,
    gan_splits,
    save_image_grid,
)
from ganprint.experiments.protocol import (
    attributor_representation,
    fit_config,
    load_protocol_dict,
    profile_settings,
    with_seed_offset,
)
from ganprint.gans.pool import GanJob, train_gan_jobs
from ganprint.serialization import write_json

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest

REAL = "real"


@dataclasses.dataclass(frozen=True)
class GanEpochsProfile:
    """One profile of the ``gan-epochs`` protocol (see ``protocols/gan-epochs.yaml``)."""

    name: str
    gan: dict[str, Any]
    gan_images: int
    snapshot_every_epochs: float
    images: dict[str, int]
    attributor: dict[str, Any]
    quality_real: int
    deviations: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> GanEpochsProfile:
        every = float(d["snapshot_every_epochs"])
        if every <= 0:
            raise ValueError("snapshot_every_epochs must be > 0")
        return cls(name, dict(d["gan"]), int(d["gan_images"]), every,
                   {s: int(d["images_per_class"][s]) for s in SPLITS}, dict(d["attributor"]),
                   int(d.get("quality_real", 0)), tuple(d.get("deviations", ())))

    def steps_per_epoch(self) -> int:
        return math.ceil(self.gan_images / int(self.gan.get("batch_size", 256)))

    def snapshot_every_steps(self) -> int:
        return max(1, round(self.snapshot_every_epochs * self.steps_per_epoch()))


def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of the ``gan-epochs`` protocol (see :mod:`ganprint.experiments.runners`)."""
    return GanEpochsRun(request.out_dir, request.profile, protocol=request.protocol, device=request.device,
                        real_source=request.real_source, progress=request.progress, seed=request.seed).run()


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The classifier's test accuracy at each snapshot (the study sets no target)."""
    return {f"test accuracy, GAN epoch {row['epoch']:.3g}": {"value": row["test_accuracy"], "target": None}
            for row in results["snapshots"]}


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for row in results["snapshots"]:
        q = ", ".join(f"{k} {v['relative']:.2f}" for k, v in row.get("quality", {}).items())
        lines.append(f"epoch {row['epoch']:.3g} (step {row['step']}): val accuracy {row['val_accuracy']:.4f}, "
                     f"test accuracy {row['test_accuracy']:.4f}" + (f"; quality (relative FD) {q}" if q else ""))
    return lines


class GanEpochsRun:
    """One run directory of ``gan-epochs``; ``run()`` executes or resumes it."""

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path = "gan-epochs",
                 device: str = "auto", real_source: str | None = None, progress: bool = True,
                 seed: int | None = None) -> None:
        from ganprint.device import resolve_device

        self.out = Path(out_dir)
        self.protocol = with_seed_offset(load_protocol_dict(protocol), seed)
        self.profile = GanEpochsProfile.from_dict(profile, profile_settings(self.protocol, profile))
        self.seed = int(self.protocol.get("seed", 0))
        self.gans = {name: GanEntry.from_dict(name, d, self.seed + i)
                     for i, (name, d) in enumerate(self.protocol["gans"].items())}
        self.with_real = bool(self.protocol.get("real_class", True))
        self.real_source = real_source or self.protocol.get("real_source", "photos")
        self.device = str(resolve_device(device))
        self.progress = progress
        self._quality_model = None

    def real(self, split: str, n: int, seed: int) -> np.ndarray:
        from ganprint.data.photos import load_color_source

        return load_color_source(self.real_source, split, n=n, seed=seed)

    def run(self) -> dict[str, Any]:
        from ganprint.gans.trainer import list_snapshots

        t0 = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        p = self.profile
        every = p.snapshot_every_steps()
        gan_train = self.real("train", p.gan_images, self.seed)
        t = time.perf_counter()
        configs = {name: gan_config(entry, p.gan, snapshot_every=every) for name, entry in self.gans.items()}
        train_gan_jobs([GanJob(self.out / "gans" / name, cfg, gan_train, {"source": self.real_source, "split": "train"})
                        for name, cfg in configs.items()], device=self.device, progress=self.progress)
        for name, cfg in configs.items():
            finished_gan_info(self.out / "gans" / name, cfg)
        gan_seconds = time.perf_counter() - t
        steps = sorted(set.intersection(*(set(list_snapshots(self.out / "gans" / n)) for n in self.gans)))
        real = {s: self.real(s, p.images[s], self.seed + 1 + i) for i, s in enumerate(SPLITS)} if self.with_real \
            else None
        t = time.perf_counter()
        settings = [p.gan, p.images, p.attributor, p.quality_real, self.with_real]
        rows = [cached(self.out / "steps" / f"step_{step:07d}.json", lambda s=step: self._snapshot(s, real), settings)
                for step in steps]
        results = {
            "experiment": "gan-epochs", "profile": p.name, "real_source": self.real_source,
            "classes": [*self.gans, *([REAL] if self.with_real else [])],
            "steps_per_epoch": p.steps_per_epoch(), "snapshot_every_steps": every,
            "snapshots": rows,
            "best": max(rows, key=lambda r: r["val_accuracy"]) if rows else None,
            "deviations": list(p.deviations),
            "stage_seconds": {"GAN training": round(gan_seconds, 2),
                              "per-snapshot images, classifiers, quality": round(time.perf_counter() - t, 2)},
            "wall_seconds": round(time.perf_counter() - t0, 2), "threads": torch.get_num_threads(),
            "device": self.device,
        }
        write_json(self.out / "results.json", results)
        self._report(results)
        return results

    def _snapshot(self, step: int, real: dict[str, np.ndarray] | None) -> dict[str, Any]:
        p = self.profile
        images = {name: gan_splits(self.out / "gans" / name, p.images, step=step, device=self.device)
                  for name in self.gans}
        for name, x in images.items():
            save_image_grid(x["test"][:32], self.out / "report" / "samples" / f"{name}_step_{step:07d}.png")
        data = {**images, **({REAL: real} if real is not None else {})}
        report = attribute(self.protocol.get("attributor_arch", "seed-cifar-cnn"), data,
                           fit_config(p.attributor, self.seed), device=self.device, progress=self.progress,
                           representation=attributor_representation(p.attributor))
        row = {"step": step, "epoch": step / p.steps_per_epoch(), "val_accuracy": report["val_accuracy"],
               "test_accuracy": report["accuracy"], "confusion_matrix": report["confusion_matrix"],
               "labels": report["labels"], "fit_seconds": report["fit_seconds"]}
        if p.quality_real:
            row["quality"] = self._quality({name: x["test"] for name, x in images.items()})
        return row

    def _quality(self, samples: dict[str, np.ndarray]) -> dict[str, Any]:
        try:
            from ganprint.quality.frechet import fit_quality_model, quality_figure
        except ModuleNotFoundError:
            return {}
        if self._quality_model is None:
            self._quality_model = fit_quality_model(self.real("train", self.profile.quality_real, self.seed + 7),
                                                    seed=self.seed, device=self.device)
            self._reference = self.real("train", self.profile.quality_real, self.seed + 8)
        return {name: {k: float(v) if k != "passed" else bool(v)
                       for k, v in quality_figure(self._quality_model, self._reference, x, seed=self.seed).items()}
                for name, x in samples.items()}

    def _report(self, results: dict[str, Any]) -> None:
        from ganprint.experiments.gan_study_plots import plot_curves

        rows = results["snapshots"]
        fig = self.out / "report"
        epochs = [r["epoch"] for r in rows]
        plot_curves({"validation accuracy": (epochs, [r["val_accuracy"] for r in rows]),
                     "test accuracy": (epochs, [r["test_accuracy"] for r in rows])},
                    fig / "accuracy_vs_epochs.png",
                    title=f"classifier accuracy ({', '.join(results['classes'])}) vs GAN epochs",
                    reference={"chance": 1 / len(results["classes"])})
        quality_names = list(rows[0].get("quality", {})) if rows else []
        if quality_names:
            plot_curves({n: (epochs, [r["quality"][n]["relative"] for r in rows]) for n in quality_names},
                        fig / "quality_vs_epochs.png", title="GAN quality vs epochs (lower is better)",
                        ylabel="relative Fréchet distance", ylim=None,
                        reference={"pass threshold": rows[0]["quality"][quality_names[0]]["threshold"]})
        lines = [f"# {self.protocol.get('title', 'gan-epochs')}", "",
                 f"Profile **{results['profile']}**, wall time {results['wall_seconds']:.0f} s on "
                 f"{results['device']} ({results['threads']} thread(s)); a snapshot every "
                 f"{results['snapshot_every_steps']} steps ({results['steps_per_epoch']} steps per epoch).", "",
                 "| GAN epoch | step | val accuracy | test accuracy | " + " | ".join(
                     f"{n} relative FD" for n in quality_names) + (" |" if quality_names else ""),
                 "|---|---|---|---|" + "---|" * len(quality_names)]
        for r in rows:
            q = "".join(f" {r['quality'][n]['relative']:.3f} |" for n in quality_names)
            lines.append(f"| {r['epoch']:.3g} | {r['step']} | {r['val_accuracy']:.4f} | {r['test_accuracy']:.4f} |{q}")
        lines += ["", "![accuracy](report/accuracy_vs_epochs.png)"]
        if quality_names:
            lines += ["", "![quality](report/quality_vs_epochs.png)"]
        lines += ["", "## Deviations of this profile from the seed", ""]
        lines += [f"- {d}" for d in results["deviations"]] or ["- none"]
        (self.out / "report.md").write_text("\n".join(lines) + "\n")
