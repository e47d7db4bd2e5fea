"""Experiment ``pairs`` (seed 000 §3.1.6): logistic regression between the images of two GANs.

The seed's three studies, each a pair of GANs trained on MNIST:

(a) two architectures: the seed's DCGAN against an "SGAN" (``mnist-sgan``: Keras-GAN's
    semi-supervised GAN networks, see :mod:`ganprint.gans.mnist_sgan`);
(b) one architecture, sigmoid against tanh output (``mnist-dcgan`` ``output``);
(c) one architecture and setting, two training seeds, accuracy against training epochs.

Every GAN saves generator snapshots; for every study and snapshot step a logistic regression
(``logreg``) is trained on the two GANs' images of that step, so each study has an
accuracy-against-epochs curve (seed Figs. 4-6) and its figure is the last step's accuracy.
GANs shared between studies are trained once. Stages of its
:class:`~ganprint.experiments.run.Run`: ``gans/<GAN>`` (side by side); per study and step
``models/<study>/step_NNNNNNN`` (fit on train and validation images) and the report stage
``assess/<study>/step_NNNNNNN`` (test images); the report stage ``samples`` (grids of each GAN's
last snapshot); ``results.json`` and ``report.md`` last.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ganprint.experiments.gan_studies import GanStudy, GanStudyProfile, gan_config
from ganprint.experiments.gan_study_data import save_image_grid
from ganprint.experiments.protocol import fit_config
from ganprint.experiments.run import REPORT
from ganprint.experiments.runners import RunRequest, register_study
from ganprint.experiments.stages import attribution_stages

FIGURES = {
    "studies.*.accuracy": {"chosen_on": "nothing (the last snapshot; the classifier's schedule on validation "
                                        "images)",
                           "reported_on": "test images: each GAN's test latent stream"},
    "studies.*.curve.*.accuracy": {"chosen_on": "validation images (the best snapshot on validation)",
                                   "reported_on": "test images: each GAN's test latent stream"},
}


@dataclasses.dataclass(frozen=True)
class PairStudy:
    """Two GANs whose images a classifier tells apart, with the seed's figure where it gives one."""

    name: str
    title: str
    pair: tuple[str, str]
    seed_accuracy: float | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PairsProfile(GanStudyProfile):
    """One profile of the ``pairs`` protocol (see ``protocols/pairs.yaml``)."""

    images_key = "images_per_gan"
    snapshot_every: int

    @classmethod
    def own(cls, d: dict[str, Any]) -> dict[str, Any]:
        return {"snapshot_every": int(d["snapshot_every"])}


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


class PairsRun(GanStudy):
    """One run directory of ``pairs``; ``run()`` executes or resumes it."""

    name = "pairs"
    default_source = "mnist5k"
    gan_seed_step = 0
    profile_type = PairsProfile

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.studies = {}
        for name, d in self.protocol["studies"].items():
            pair = tuple(d["pair"])
            if len(pair) != 2 or any(g not in self.gans for g in pair):
                raise ValueError(f"study {name}: 'pair' must name two GANs of the protocol")
            self.studies[name] = PairStudy(name, d.get("title", name), pair, d.get("seed_accuracy"))

    def run(self) -> dict[str, Any]:
        from ganprint.data.mnist import load_digits_source
        from ganprint.gans.trainer import list_snapshots

        run, p = self.start(), self.profile
        digits = load_digits_source(self.real_source).images
        steps_per_epoch = math.ceil(len(digits) / int(p.gan.get("batch_size", 256)))
        needed = sorted({g for s in self.studies.values() for g in s.pair})
        configs = {name: gan_config(self.gans[name], p.gan, snapshot_every=p.snapshot_every) for name in needed}
        self.train_gans(configs, digits, {"source": self.real_source})
        snapshots = {name: set(list_snapshots(self.out / "gans" / name)) for name in needed}
        arch = self.protocol.get("attributor_arch", "logreg")
        studies = {}
        for sname, study in self.studies.items():
            curve = [{"step": step, "epoch": step / steps_per_epoch, **self._classifier(sname, study.pair, step, arch)}
                     for step in sorted(snapshots[study.pair[0]] & snapshots[study.pair[1]])]
            if not curve:
                raise RuntimeError(f"study {sname}: the GANs {' and '.join(study.pair)} share no snapshot step")
            studies[sname] = {"title": study.title, "pair": list(study.pair), "seed_accuracy": study.seed_accuracy,
                              "accuracy": curve[-1]["accuracy"], "curve": curve}
        run.stage("samples", {"gans": self.gan_tokens(needed), "test": p.images["test"]},
                  lambda folder: self._samples({n: max(snapshots[n]) for n in needed}), report=True,
                  timer="images and classifiers")
        results = run.finish({
            "experiment": "pairs", "profile": p.name, "real_source": self.real_source,
            "attributor_arch": arch, "steps_per_epoch": steps_per_epoch, "snapshot_every_steps": p.snapshot_every,
            "gans": {n: {"arch": self.gans[n].arch, "options": self.gans[n].options, "seed": self.gans[n].seed}
                     for n in needed},
            "studies": studies, "deviations": list(p.deviations),
        }, figures=FIGURES, device=self.device)
        self._report(results)
        return results

    def _classifier(self, study: str, pair: tuple[str, str], step: int, arch: str) -> dict[str, Any]:
        """The classifier between the pair's snapshots at ``step``: fit, then assessed on test images."""
        p = self.profile
        data = {"gans": self.gan_tokens(list(pair)), "step": step, "train": p.images["train"], "val": p.images["val"]}
        row = attribution_stages(self.run_, f"{study}/step_{step:07d}",
                                 lambda split: {g: self.images(g, split, step) for g in pair}, data,
                                 {"test": p.images["test"]}, arch=arch, fit=fit_config(p.attributor, self.seed),
                                 device=self.device, progress=False, timer="images and classifiers")
        return {k: row[k] for k in ("accuracy", "val_accuracy", "confusion_matrix")}

    def _samples(self, last: dict[str, int]) -> None:
        """Grids of each GAN's test images at its last snapshot."""
        self.run_.read(REPORT, "test images of the last snapshots")
        for name, step in last.items():
            save_image_grid(self.images(name, "test", step)[:64], self.out / "report" / "samples" / f"{name}.png")

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
        self.write_report(lines, results)


@register_study("pairs")
def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of the ``pairs`` protocol (see :mod:`ganprint.experiments.runners`)."""
    return PairsRun.run_experiment(request)
