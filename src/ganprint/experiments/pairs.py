"""Experiment ``pairs`` (seed 000 §3.1.6): logistic regression between the images of two GANs.

The seed's three studies, each a pair of GANs trained on MNIST:

(a) two architectures: the seed's DCGAN against an "SGAN" (``mnist-sgan``: Keras-GAN's
    semi-supervised GAN networks, see :mod:`ganprint.gans.mnist_sgan`);
(b) one architecture, sigmoid against tanh output (``mnist-dcgan`` ``output``);
(c) one architecture and setting, two training seeds, accuracy against training epochs.

Every GAN saves generator snapshots; for every study and snapshot step a logistic regression
(``logreg``) is trained on the two GANs' images of that step, so each study has an
accuracy-against-epochs curve (seed Figs. 4-6) and its figure is the last step's accuracy.
GANs shared between studies are trained once. Every stage is skipped on a rerun when its output
exists.
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
from ganprint.experiments.protocol import fit_config, load_protocol_dict, profile_settings, with_seed_offset
from ganprint.gans.pool import GanJob, train_gan_jobs
from ganprint.serialization import write_json

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest


@dataclasses.dataclass(frozen=True)
class PairStudy:
    """Two GANs whose images a classifier tells apart, with the seed's figure where it gives one."""

    name: str
    title: str
    pair: tuple[str, str]
    seed_accuracy: float | None = None


@dataclasses.dataclass(frozen=True)
class PairsProfile:
    """One profile of the ``pairs`` protocol (see ``protocols/pairs.yaml``)."""

    name: str
    gan: dict[str, Any]
    snapshot_every: int
    images: dict[str, int]
    attributor: dict[str, Any]
    deviations: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> PairsProfile:
        return cls(name, dict(d["gan"]), int(d["snapshot_every"]), {s: int(d["images_per_gan"][s]) for s in SPLITS},
                   dict(d["attributor"]), tuple(d.get("deviations", ())))


def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of the ``pairs`` protocol (see :mod:`ganprint.experiments.runners`)."""
    return PairsRun(request.out_dir, request.profile, protocol=request.protocol, device=request.device,
                    real_source=request.real_source, progress=request.progress, seed=request.seed).run()


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each study's accuracy at the last snapshot, against the seed's."""
    return {s["title"]: {"value": s["accuracy"], "target": s["seed_accuracy"]} for s in results["studies"].values()}


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for s in results["studies"].values():
        best = max(s["curve"], key=lambda r: r["val_accuracy"])
        lines.append(f"{s['title']} ({' vs '.join(s['pair'])}): accuracy {s['accuracy']:.4f} at epoch "
                     f"{s['curve'][-1]['epoch']:.3g} (seed {s['seed_accuracy']}); best on validation: "
                     f"{best['accuracy']:.4f} at epoch {best['epoch']:.3g}")
    return lines


class PairsRun:
    """One run directory of ``pairs``; ``run()`` executes or resumes it."""

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path = "pairs",
                 device: str = "auto", real_source: str | None = None, progress: bool = True,
                 seed: int | None = None) -> None:
        from ganprint.device import resolve_device

        self.out = Path(out_dir)
        self.protocol = with_seed_offset(load_protocol_dict(protocol), seed)
        self.profile = PairsProfile.from_dict(profile, profile_settings(self.protocol, profile))
        self.seed = int(self.protocol.get("seed", 0))
        self.gans = {name: GanEntry.from_dict(name, d, self.seed) for name, d in self.protocol["gans"].items()}
        self.studies = {}
        for name, d in self.protocol["studies"].items():
            pair = tuple(d["pair"])
            if len(pair) != 2 or any(g not in self.gans for g in pair):
                raise ValueError(f"study {name}: 'pair' must name two GANs of the protocol")
            self.studies[name] = PairStudy(name, d.get("title", name), pair, d.get("seed_accuracy"))
        self.real_source = real_source or self.protocol.get("real_source", "mnist5k")
        self.device = str(resolve_device(device))
        self.progress = progress

    def run(self) -> dict[str, Any]:
        from ganprint.data.mnist import load_digits_source
        from ganprint.gans.trainer import list_snapshots

        t0 = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        p = self.profile
        digits = load_digits_source(self.real_source).images
        steps_per_epoch = math.ceil(len(digits) / int(p.gan.get("batch_size", 256)))
        needed = sorted({g for s in self.studies.values() for g in s.pair})
        configs = {name: gan_config(self.gans[name], p.gan, snapshot_every=p.snapshot_every) for name in needed}
        gan_seconds = train_gan_jobs([GanJob(self.out / "gans" / name, cfg, digits, {"source": self.real_source})
                                      for name, cfg in configs.items()], device=self.device, progress=self.progress)
        for name, cfg in configs.items():
            finished_gan_info(self.out / "gans" / name, cfg)
        snapshots = {name: set(list_snapshots(self.out / "gans" / name)) for name in needed}
        t = time.perf_counter()
        images: dict[tuple[str, int], dict[str, np.ndarray]] = {}

        def splits(name: str, step: int) -> dict[str, np.ndarray]:
            if (name, step) not in images:
                images[name, step] = gan_splits(self.out / "gans" / name, p.images, step=step, device=self.device)
            return images[name, step]

        fit = fit_config(p.attributor, self.seed)
        arch = self.protocol.get("attributor_arch", "logreg")
        studies = {}
        for sname, study in self.studies.items():
            a, b = study.pair
            curve = []
            for step in sorted(snapshots[a] & snapshots[b]):
                row = cached(self.out / "studies" / sname / f"step_{step:07d}.json", lambda s=step, a=a, b=b: attribute(
                    arch, {a: splits(a, s), b: splits(b, s)}, fit, device=self.device, progress=False),
                    settings=[arch, p.gan, p.images, fit.to_dict()])
                curve.append({"step": step, "epoch": step / steps_per_epoch, "accuracy": row["accuracy"],
                              "val_accuracy": row["val_accuracy"], "confusion_matrix": row["confusion_matrix"]})
            if not curve:
                raise RuntimeError(f"study {sname}: the GANs {a} and {b} share no snapshot step")
            studies[sname] = {"title": study.title, "pair": list(study.pair), "seed_accuracy": study.seed_accuracy,
                              "accuracy": curve[-1]["accuracy"], "curve": curve}
        for name in needed:
            last = max(snapshots[name])
            save_image_grid(splits(name, last)["test"][:64], self.out / "report" / "samples" / f"{name}.png")
        results = {
            "experiment": "pairs", "profile": p.name, "real_source": self.real_source,
            "attributor_arch": arch, "steps_per_epoch": steps_per_epoch, "snapshot_every_steps": p.snapshot_every,
            "gans": {n: {"arch": self.gans[n].arch, "options": self.gans[n].options, "seed": self.gans[n].seed}
                     for n in needed},
            "studies": studies, "deviations": list(p.deviations),
            "stage_seconds": {**{f"train {k}": v for k, v in gan_seconds.items()},
                              "images and classifiers": round(time.perf_counter() - t, 2)},
            "wall_seconds": round(time.perf_counter() - t0, 2), "threads": torch.get_num_threads(),
            "device": self.device,
        }
        write_json(self.out / "results.json", results)
        self._report(results)
        return results

    def _report(self, results: dict[str, Any]) -> None:
        from ganprint.experiments.gan_study_plots import plot_curves

        fig = self.out / "report"
        studies = results["studies"]
        plot_curves({s["title"]: ([r["epoch"] for r in s["curve"]], [r["accuracy"] for r in s["curve"]])
                     for s in studies.values()}, fig / "accuracy_vs_epochs.png",
                    title=f"{results['attributor_arch']} between two GANs vs GAN epochs", ylim=(0.4, 1.02))
        lines = [f"# {self.protocol.get('title', 'pairs')}", "",
                 f"Profile **{results['profile']}**, wall time {results['wall_seconds']:.0f} s on "
                 f"{results['device']} ({results['threads']} thread(s)); classifier `{results['attributor_arch']}`; "
                 f"a GAN snapshot every {results['snapshot_every_steps']} steps "
                 f"({results['steps_per_epoch']} steps per epoch).", "",
                 "| study | GANs | seed | ours (last snapshot) | best snapshot on validation (test accuracy) |",
                 "|---|---|---|---|---|"]
        for s in studies.values():
            best = max(s["curve"], key=lambda r: r["val_accuracy"])
            lines.append(f"| {s['title']} | {' vs '.join(s['pair'])} | {s['seed_accuracy'] or '-'} | "
                         f"{s['accuracy']:.4f} | {best['accuracy']:.4f} at epoch {best['epoch']:.3g} |")
        lines += ["", "![accuracy vs epochs](report/accuracy_vs_epochs.png)", "", "## Accuracy per snapshot", "",
                  "| study | " + " | ".join(f"epoch {r['epoch']:.3g}" for r in next(iter(studies.values()))["curve"])
                  + " |", "|---|" + "---|" * len(next(iter(studies.values()))["curve"])]
        for s in studies.values():
            lines.append(f"| {s['title']} | " + " | ".join(f"{r['accuracy']:.4f}" for r in s["curve"]) + " |")
        lines += ["", "## Samples (last snapshot)", ""]
        lines += [f"**{n}** ({g['arch']} {g['options'] or ''})  \n![{n}](report/samples/{n}.png)\n"
                  for n, g in results["gans"].items()]
        lines += ["## Deviations of this profile from the seed", ""]
        lines += [f"- {d}" for d in results["deviations"]] or ["- none"]
        lines += ["", "## Where the time goes", "", "| stage | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.1f} |" for k, v in results["stage_seconds"].items()]
        (self.out / "report.md").write_text("\n".join(lines) + "\n")
