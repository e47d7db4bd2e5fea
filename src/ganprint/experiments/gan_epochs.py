"""Experiment ``gan-epochs`` (seed 000 §3.2, Fig. 10): does attribution depend on how long the GANs
trained? Each GAN saves a generator snapshot every K epochs; at every snapshot a classifier is
trained on images of the GANs' snapshots (and real images) and its validation and test accuracy
are recorded, beside each snapshot's quality figure.

Stages of its :class:`~ganprint.experiments.run.Run`: ``quality-model`` (when the profile has a
quality figure); ``gans/<GAN>`` (with snapshots, side by side); per snapshot step ``models/step_NNNNNNN``
(the classifier, fit on the snapshots' train and validation images) and the report stages
``assess/step_NNNNNNN`` (its test accuracy) and ``quality/step_NNNNNNN`` (sample grids and the
snapshots' quality figures on their test images). ``results.json`` and ``report.md`` with the
accuracy-against-epochs plot come last.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from ganprint.experiments.gan_studies import GanStudy, GanStudyProfile, gan_config
from ganprint.experiments.gan_study_data import REAL, save_image_grid
from ganprint.experiments.protocol import attributor_representation, fit_config
from ganprint.experiments.run import REPORT
from ganprint.experiments.runners import RunRequest, register_study
from ganprint.experiments.stages import SPLITS, attribution_stages, quality_model_stage

FIGURES = {
    "snapshots.*.test_accuracy": {"chosen_on": "validation images (the classifier's schedule; `best` is the "
                                               "snapshot of highest validation accuracy)",
                                  "reported_on": "test images: each snapshot's test latent stream, crops of the "
                                                 "test photos"},
    "snapshots.*.quality": {"chosen_on": "nothing", "reported_on": "each snapshot's test images against real "
                                                                   "training-photo crops no GAN trained on"},
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class GanEpochsProfile(GanStudyProfile):
    """One profile of the ``gan-epochs`` protocol (see ``protocols/gan-epochs.yaml``)."""

    gan_images: int
    snapshot_every_epochs: float
    quality_real: int

    @classmethod
    def own(cls, d: dict[str, Any]) -> dict[str, Any]:
        every = float(d["snapshot_every_epochs"])
        if every <= 0:
            raise ValueError("snapshot_every_epochs must be > 0")
        return {"gan_images": int(d["gan_images"]), "snapshot_every_epochs": every,
                "quality_real": int(d.get("quality_real", 0))}

    def steps_per_epoch(self) -> int:
        return math.ceil(self.gan_images / int(self.gan.get("batch_size", 256)))

    def snapshot_every_steps(self) -> int:
        return max(1, round(self.snapshot_every_epochs * self.steps_per_epoch()))


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


class GanEpochsRun(GanStudy):
    """One run directory of ``gan-epochs``; ``run()`` executes or resumes it."""

    name = "gan-epochs"
    profile_type = GanEpochsProfile

    @property
    def with_real(self) -> bool:
        """Whether real images are a class of the classifier (the protocol's ``real_class``)."""
        return bool(self.protocol.get("real_class", True))

    def run(self) -> dict[str, Any]:
        from ganprint.gans.trainer import list_snapshots

        run, p = self.start(), self.profile
        every = p.snapshot_every_steps()
        configs = {name: gan_config(entry, p.gan, snapshot_every=every) for name, entry in self.gans.items()}
        self.train_gans(configs, self.real("train", p.gan_images, self.seed),
                        {"source": self.real_source, "split": "train"}, draw={"n": p.gan_images, "seed": self.seed})
        self.quality_model = quality_model_stage(
            run, lambda: self.real("train", p.quality_real, self.seed + 7), {"source": self.real_source,
                                                                             "n": p.quality_real},
            seed=self.seed, device=self.device) if p.quality_real else None
        steps = sorted(set.intersection(*(set(list_snapshots(self.out / "gans" / n)) for n in self.gans)))
        rows = [self._snapshot(step) for step in steps]
        results = run.finish({
            "experiment": "gan-epochs", "profile": p.name, "real_source": self.real_source,
            "classes": [*self.gans, *([REAL] if self.with_real else [])],
            "steps_per_epoch": p.steps_per_epoch(), "snapshot_every_steps": every,
            "snapshots": rows,
            "best": max(rows, key=lambda r: r["val_accuracy"]) if rows else None,
            "deviations": list(p.deviations),
        }, figures=FIGURES, device=self.device)
        self._report(results)
        return results

    def _snapshot(self, step: int) -> dict[str, Any]:
        """The classifier of snapshot ``step`` (fit, then assessed on test images) and the snapshots'
        quality figures."""
        run, p, timer = self.run_, self.profile, "per-snapshot images, classifiers, quality"
        name = f"step_{step:07d}"

        def images(split: str) -> dict[str, np.ndarray]:
            out = {gan: self.images(gan, split, step) for gan in self.gans}
            if self.with_real:
                out[REAL] = self.real(split, p.images[split], self.seed + 1 + SPLITS.index(split))
            return out

        data = {"gans": self.gan_tokens(), "step": step, "real": self.with_real, "train": p.images["train"],
                "val": p.images["val"]}
        report = attribution_stages(run, name, images, data, {"test": p.images["test"]},
                                    arch=self.protocol.get("attributor_arch", "seed-cifar-cnn"),
                                    fit=fit_config(p.attributor, self.seed), device=self.device,
                                    representation=attributor_representation(p.attributor), progress=self.progress,
                                    timer=timer)
        quality = run.stage(f"quality/{name}", {"gans": self.gan_tokens(), "step": step, "test": p.images["test"],
                                                "model": run.token("quality-model") if p.quality_real else None},
                            lambda folder: self._quality(step), report=True, timer=timer)
        self.images.forget(step)
        row = {"step": step, "epoch": step / p.steps_per_epoch(), "val_accuracy": report["val_accuracy"],
               "test_accuracy": report["accuracy"], "confusion_matrix": report["confusion_matrix"],
               "labels": report["labels"], "fit_seconds": report["fit_seconds"]}
        return {**row, "quality": quality} if quality else row

    def _quality(self, step: int) -> dict[str, Any]:
        """Sample grids of the snapshots' test images and, with a quality model, their quality figures."""
        from ganprint.quality.frechet import quality_figure

        self.run_.read(REPORT, "the snapshots' test images")
        samples = {name: self.images(name, "test", step) for name in self.gans}
        for name, x in samples.items():
            save_image_grid(x[:32], self.out / "report" / "samples" / f"{name}_step_{step:07d}.png")
        if self.quality_model is None:
            return {}
        reference = self.real("train", self.profile.quality_real, self.seed + 8)
        return {name: {k: float(v) if k != "passed" else bool(v)
                       for k, v in quality_figure(self.quality_model, reference, x, seed=self.seed).items()}
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
        self.write_report([*lines, ""], results, timing=False)


@register_study("gan-epochs")
def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of the ``gan-epochs`` protocol (see :mod:`ganprint.experiments.runners`)."""
    return GanEpochsRun.run_experiment(request)
