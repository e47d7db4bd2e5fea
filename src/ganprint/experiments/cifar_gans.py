"""Experiment ``cifar-gans`` (seed 000 §3.2-3.3): two color GANs, attribution among them and real
images, each GAN's quality figure, and verification by inversion, in the stages of a :class:`Run`:

``quality-model`` (the quality figure's feature network, trained on real training crops);
``gans/<GAN>`` (both GANs side by side, one process per core, :mod:`ganprint.gans.pool`; with the
profile's ``monitor`` each is scored by both quality figures every so many training images on real
crops the report does not use, and the latest snapshot within a margin of both thresholds is kept,
:mod:`ganprint.quality.monitor`); ``models/three_class`` and ``models/two_class`` (the seed's
classifier on GAN 1 / GAN 2 / real and on GAN 1 / GAN 2, fit on train and validation images, each
GAN's from its own latent streams); ``inversion/<GAN>`` (the seed's inverse model and the threshold
chosen on validation: fresh own samples against the other GAN's and real validation images); then
the report stages ``assess/three_class``, ``assess/two_class`` (test images), ``quality`` (both
quality figures of each GAN) and ``verify/<GAN>`` (new latent streams, the test photos).
``results.json`` and ``report.md`` (:mod:`ganprint.experiments.cifar_report`) come last.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ganprint.experiments.cifar_inversion import OTHER_TEST_STREAM, OWN_TEST_STREAM, fit_inversion, verify
from ganprint.experiments.cifar_report import write_cifar_gans_report
from ganprint.experiments.gan_studies import GanStudy, GanStudyProfile, gan_config, quality_figures
from ganprint.experiments.gan_study_data import REAL, save_image_grid
from ganprint.experiments.protocol import attributor_representation, fit_config
from ganprint.experiments.run import REPORT
from ganprint.experiments.runners import RunRequest, register_study
from ganprint.experiments.stages import SPLITS, attribution_stages, quality_model_stage
from ganprint.quality.figures import describe
from ganprint.quality.monitor import profile_monitor, quality_stops

__all__ = ["OTHER_TEST_STREAM", "OWN_TEST_STREAM", "CifarGansRun", "figures", "run_experiment", "summary_lines"]

MONITOR_REAL_OFFSET = 9  # real crops of the training monitor: seed + 9 (the report's reference is seed + 8)
QUALITY_MODEL_OFFSET, QUALITY_REFERENCE_OFFSET = 7, 8

FIGURES = {
    "three_class_accuracy, two_class_accuracy": {
        "chosen_on": "validation images (the classifier's schedule; the GANs' kept snapshots: the monitor on real "
                     "training crops the report does not use)",
        "reported_on": "test images: each GAN's own test latent stream, crops of the test photos"},
    "quality.*": {"chosen_on": "nothing: the monitor compared against other real crops",
                  "reported_on": "all of each GAN's classifier images against real training-photo crops no GAN "
                                 "trained on"},
    "inversion_by_gan.*.verification_accuracy, verification_auc": {
        "chosen_on": "validation: the threshold on fresh own samples against the other GAN's validation stream "
                     "and crops of the validation photo",
        "reported_on": "test: new latent streams of both GANs, crops of the test photos"},
    "inversion_by_gan.*.cosine": {"chosen_on": "nothing", "reported_on": "held-out (z, G(z)) pairs of the fit"},
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class CifarGansProfile(GanStudyProfile):
    """One profile of the ``cifar-gans`` protocol (see ``protocols/cifar-gans.yaml``)."""

    gan_images: int
    quality_real: int
    inversion: dict[str, Any]
    gan_by_name: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    monitor: dict[str, Any] | None = None

    @classmethod
    def own(cls, d: dict[str, Any]) -> dict[str, Any]:
        return {"gan_images": int(d["gan_images"]), "quality_real": int(d.get("quality_real", 2000)),
                "inversion": dict(d.get("inversion", {})), "monitor": profile_monitor(d),
                "gan_by_name": {k: dict(v or {}) for k, v in (d.get("gans") or {}).items()}}

    def gan_settings(self, name: str) -> dict[str, Any]:
        """The profile's ``gan`` settings with GAN ``name``'s own (``gans: {name: {...}}``) over them."""
        return {**self.gan, **self.gan_by_name.get(name, {})}

    def inversion_settings(self, name: str) -> dict[str, Any]:
        """The ``inversion`` settings for one GAN: the shared ones with its ``by_gan`` entry on top."""
        shared = {k: v for k, v in self.inversion.items() if k != "by_gan"}
        return {**shared, **dict((self.inversion.get("by_gan") or {}).get(name) or {})}


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The figures the report sets beside the seed's: both classifiers' accuracy, and per verified GAN
    the inverse model's cosine and the verification accuracy."""
    seed = results["seed_figures"]
    out = {title: {"value": results[key], "target": seed.get(key)}
           for key, title in (("three_class_accuracy", "three-class accuracy (GAN 1, GAN 2, real)"),
                              ("two_class_accuracy", "two-class accuracy (GAN 1, GAN 2)"))}
    for name, inv in results["inversion_by_gan"].items():
        out[f"inversion cosine {name}"] = {"value": inv["cosine"], "target": seed.get("inversion_cosine")}
        out[f"verification accuracy {name}"] = {"value": inv["verification_accuracy"],
                                                "target": seed.get("verification_accuracy")}
    return out


def summary_lines(results: dict[str, Any]) -> list[str]:
    seed = results["seed_figures"]
    lines = [f"three-class (GAN 1, GAN 2, real): {results['three_class_accuracy']:.4f} "
             f"(seed {seed['three_class_accuracy']})",
             f"two-class (GAN 1 vs GAN 2): {results['two_class_accuracy']:.4f} (seed {seed['two_class_accuracy']})"]
    for name, q in results["quality"].items():
        lines.append(f"quality {name}: FD {q['fd']:.2f} (real floor {q['fd_real']:.2f}), {describe(q)}")
    for name, inv in results["inversion_by_gan"].items():
        lines.append(f"inversion {name}: cosine {inv['cosine']:.3f}, verification accuracy "
                     f"{inv['verification_accuracy']:.4f}, ROC-AUC {inv['verification_auc']:.4f}")
    return lines


class CifarGansRun(GanStudy):
    """One run directory of ``cifar-gans``; ``run()`` executes or resumes it."""

    name = "cifar-gans"
    profile_type = CifarGansProfile

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if len(self.gans) != 2:
            raise ValueError("cifar-gans compares exactly two GANs")

    def gan_dir(self, name: str):
        return self.out / "gans" / name

    def run(self) -> dict[str, Any]:
        run, p = self.start(), self.profile
        q_model = quality_model_stage(run, lambda: self.real("train", p.quality_real, self.seed + QUALITY_MODEL_OFFSET),
                                      {"source": self.real_source, "n": p.quality_real}, seed=self.seed,
                                      device=self.device)
        configs = {name: gan_config(e, p.gan_settings(name)) for name, e in self.gans.items()}
        stops = quality_stops(p.monitor, self.out / "quality-model",
                              lambda n: self.real("train", n, self.seed + MONITOR_REAL_OFFSET), configs, seed=self.seed)
        monitor = p.monitor and {**p.monitor, "model": run.token("quality-model")}
        seconds = self.train_gans(configs, self.real("train", p.gan_images, self.seed),
                                  {"source": self.real_source, "split": "train"},
                                  draw={"n": p.gan_images, "seed": self.seed}, stops=stops, monitor=monitor)
        names = list(self.gans)
        three = self._attribution("three_class", [*names, REAL])
        two = self._attribution("two_class", names)
        quality = run.stage("quality", {"gans": self.gan_tokens(), "model": run.token("quality-model"),
                                        "images": p.images, "reference": p.quality_real},
                            lambda folder: self._quality(q_model), report=True, timer="quality")
        inversion = {}
        for name in p.inversion.get("gans", names[:1]):
            other = next(n for n in names if n != name)
            settings = {"gans": self.gan_tokens([name, other]), **p.inversion_settings(name)}
            fitted = run.stage(f"inversion/{name}", settings, lambda f, n=name, o=other: fit_inversion(self, n, o),
                               timer=f"inversion {name}")
            tested = run.stage(f"verify/{name}", {"inversion": run.token(f"inversion/{name}")},
                               lambda f, n=name, o=other: verify(self, n, o), report=True,
                               timer=f"inversion {name}")
            inversion[name] = {**fitted, **tested}
        first = inversion[next(iter(inversion))] if inversion else {}
        results = run.finish({
            "experiment": "cifar-gans", "profile": p.name, "real_source": self.real_source,
            "seed_figures": self.protocol.get("seed_figures", {}),
            "three_class_accuracy": three["accuracy"], "two_class_accuracy": two["accuracy"],
            "three_class": three, "two_class": two, "gans": self._gan_info(seconds), "quality": quality,
            "all_gans_pass_quality": bool(quality) and all(bool(quality[n]["passed"]) for n in names),
            "inversion": {k: first.get(k) for k in ("gan", "cosine", "verification_accuracy", "verification_auc")},
            "inversion_by_gan": {n: {k: v for k, v in inv.items() if k != "test"} | {
                "test": {k: v for k, v in inv["test"].items() if k != "distances"}} for n, inv in inversion.items()},
            "deviations": list(p.deviations),
        }, figures=FIGURES, device=self.device)
        write_cifar_gans_report(self, results, inversion)
        return results

    def _attribution(self, name: str, classes: list[str]) -> dict[str, Any]:
        p = self.profile

        def images(split: str) -> dict[str, np.ndarray]:
            real = {REAL: self.real(split, p.images[split], self.seed + 1 + SPLITS.index(split))}
            return {c: real[c] if c == REAL else self.images(c, split) for c in classes}

        data = {"gans": self.gan_tokens([c for c in classes if c != REAL]), "real": REAL in classes,
                "train": p.images["train"], "val": p.images["val"]}
        return attribution_stages(self.run_, name, images, data, {"test": p.images["test"]}, arch=self.protocol.get(
            "attributor_arch", "seed-cifar-cnn"), fit=fit_config(p.attributor, self.seed),
            representation=attributor_representation(p.attributor), device=self.device, progress=self.progress,
            timer=f"{name.replace('_', '-')} classifier")

    def _quality(self, model) -> dict[str, Any]:
        """Both quality figures of each GAN on all its classifier images; sample grids of the test images."""
        self.run_.read(REPORT, "every split's images")
        samples = {name: np.concatenate([self.images(name, s) for s in SPLITS]) for name in self.gans}
        grids = self.out / "report" / "samples"
        for name in self.gans:
            save_image_grid(self.images(name, "test")[:64], grids / f"{name}.png")
        save_image_grid(self.real("test", self.profile.images["test"], self.seed + 3)[:64], grids / f"{REAL}.png")
        return quality_figures(model, self.real("train", self.profile.quality_real,
                                                self.seed + QUALITY_REFERENCE_OFFSET), samples, seed=self.seed)

    def _gan_info(self, seconds: dict[str, Any]) -> dict[str, Any]:
        from ganprint.serialization import read_json

        out = {}
        for name in self.gans:
            info = read_json(self.gan_dir(name) / "config.json")
            out[name] = {**{k: info.get(k) for k in ("arch", "arch_options", "steps", "kept_step", "train",
                                                      "quality_history")},
                         "train_seconds": (seconds.get(name) or {}).get("train_seconds")}
        return out


@register_study("cifar-gans")
def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of the ``cifar-gans`` protocol (see :mod:`ganprint.experiments.runners`)."""
    return CifarGansRun.run_experiment(request)
