"""Experiments ``yu-sources`` and ``yu-seeds``: Yu, Davis & Fritz (ICCV 2019, seed 004) on ganprint's zoo.

``yu-sources``: real images plus the four GAN families of seed 004 (ProGAN, SNGAN, CramerGAN,
MMDGAN) trained on the same real images; ``yu-seeds``: real images plus ten ProGANs that differ only
in their training seed. Both attribute a test split among all sources with Yu et al.'s classifier
(``postpool``, seed 003's post-pooling variant of the GANFingerprints network) and the
training-free residual-correlation fingerprint attributor, and score every GAN with the Fréchet
and the network-free SWD quality figures (:mod:`ganprint.quality.figures`) so that accuracy is not
won on GANs that never learned.

The stages of a run (:class:`~ganprint.experiments.run.Run`; a rerun skips the finished ones whose
settings did not change): ``quality-model`` (the Fréchet figure's feature networks, on real crops
of their own role), ``gans/<name>`` (trained side by side; scored by the monitor while they train),
``data/<split>`` (``data/<split>/<source>/*.png``: real crops, GAN samples of the split's latent
stream), ``models/<attributor>`` (fit on train, steered by val); then the report stages
``assess/<attributor>`` (the test split), ``quality``, ``unseen-photos`` and ``samples``.
``results.json`` and ``report.md`` (with ``figures/``) come last.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from ganprint.experiments.run import REPORT
from ganprint.experiments.runners import register_study
from ganprint.experiments.stages import SPLITS, FolderSplits, quality_model_stage, split_kind
from ganprint.experiments.yu_attributors import (
    assess_attributor,
    choose_primary,
    fit_attributor,
    make_attributor,
    unseen_photo_figures,
)
from ganprint.experiments.yu_data import REAL_ROLES, SAMPLING_SEEDS
from ganprint.experiments.yu_protocol import REAL, GanEntry, YuProfile, YuProtocol
from ganprint.experiments.yu_report import lookup
from ganprint.experiments.yu_stages import gan_quality, sample_grids, train_gans, write_split
from ganprint.experiments.yu_study import YuStudy
from ganprint.quality.figures import describe
from ganprint.quality.frechet import QualityConfig

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest

__all__ = ["REAL", "REAL_ROLES", "SAMPLING_SEEDS", "SPLITS", "GanEntry", "YuProfile", "YuProtocol", "YuRun",
           "choose_primary", "figures", "make_attributor", "run_experiment", "seed_figures", "summary_lines"]

TEST_DATA = "test split: GAN images of a latent stream no other split uses, real crops of a region no other split shows"
FIGURES = {
    "accuracy": {"chosen_on": "validation split (the primary attributor: best validation accuracy; each "
                              "attributor's schedule and stop)", "reported_on": TEST_DATA},
    "attributors.*.accuracy": {"chosen_on": "validation split (schedule and stop)", "reported_on": TEST_DATA},
    "gans.*.quality": {"chosen_on": "monitor crops and the monitor's latent stream (the snapshot kept)",
                       "reported_on": "each GAN's test images against reference crops of the GANs' training photos"},
    "unseen_photos": {"chosen_on": "nothing", "reported_on": "crops of photos no split shows"},
}


@register_study("yu-sources", "yu-seeds")
def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of ``yu-sources`` and ``yu-seeds`` protocols (see :mod:`ganprint.experiments.runners`)."""
    return YuRun(request.out_dir, request.profile, protocol=request.protocol, real_source=request.real_source,
                 device=request.device, progress=request.progress, seed=request.seed).run()


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The primary attributor's accuracy against the study's target, each attributor's accuracy,
    and the seed's figures that name a value (:func:`seed_figures`)."""
    out = {"accuracy (primary attributor)": {"value": results["accuracy"], "target": results["target"]}}
    out.update({f"accuracy {name}": {"value": row["accuracy"], "target": None}
                for name, row in results["attributors"].items()})
    return {**out, **seed_figures(results)}


def seed_figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The protocol's ``seed_figures`` that give a value, with ours (the results' entry their ``ours``
    names) beside it."""
    out = {}
    for name, entry in (results.get("seed_figures") or {}).items():
        if isinstance(entry, dict) and entry.get("value") is not None:
            ours = lookup(results, entry.get("ours"))
            if isinstance(ours, (int, float)):
                out[name] = {"value": float(ours), "target": float(entry["value"])}
    return out


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines = [f"{name}: accuracy {row['accuracy']:.4f} ({row['fit_seconds']:.0f} s)"
             for name, row in results["attributors"].items()]
    for name, g in results["gans"].items():
        q = g["quality"]
        lines.append(f"{name}: quality {describe(q)}, "
                     f"FD {q['fd']:.3g} (real {q['fd_real']:.3g}, trivial {q['fd_trivial']:.3g})")
    lines.append(f"wall {results['wall_seconds']:.0f} s")
    return lines


class YuRun(YuStudy):
    """One run directory of a Yu-style attribution study; ``run()`` executes or resumes it."""

    FIGURES = FIGURES

    def prepare(self) -> dict[str, dict[str, Any]]:
        """The selection stages up to the dataset (shared with seed 001's runner); returns the GANs."""
        from ganprint.attribution.attributor import Preprocessing

        run = self.start()
        q = self.profile.quality
        self.quality_networks = quality_model_stage(
            run, lambda: self.real("train", q.get("train_images", 4000), "quality"),
            self.quality_model_settings(),
            seed=self.seed, device=self.device, networks=q.get("networks", 1),
            config=QualityConfig(epochs=q.get("epochs", 4), seed=self.seed))
        self.gan_info = train_gans(self)
        for split in SPLITS:
            n = self.profile.images_per_source[split]
            if not n:
                shutil.rmtree(self.out / "data" / split, ignore_errors=True)
                self.data_tokens[split] = None
                continue
            settings = {"gans": {name: run.token(f"gans/{name}") for name in self.gan_info}, "n": n,
                        "real": self.real_settings(split, "attr"), "stream": SAMPLING_SEEDS[split]}
            run.stage(f"data/{split}", settings, lambda folder, split=split: write_split(self, split, folder),
                      report=split_kind(split) == REPORT, timer="dataset")
            self.data_tokens[split] = run.token(f"data/{split}")
        self.splits = FolderSplits(run, self.out / "data", Preprocessing(size=(32, 32), channels=3),
                                   required=("train", "test"), workers=0, progress=False)
        return self.gan_info

    def attribute(self) -> tuple[str, dict[str, dict[str, Any]]]:
        """Fit every attributor (selection stages ``models/<name>``), choose the primary one on
        validation accuracy, then assess each on the test split (report stages ``assess/<name>``)."""
        run, fits = self.start(), {}
        for name, spec in self.profile.attributors.items():
            settings = {"spec": spec, "seed": self.seed, "train": self.data_tokens["train"],
                        "val": self.data_tokens["val"]}
            fits[name] = run.stage(f"models/{name}", settings,
                                   lambda folder, spec=spec: fit_attributor(self, spec, folder),
                                   timer=f"attributor {name}")
        primary = choose_primary(self.protocol.primary, fits)
        attributors = {}
        for name, fit in fits.items():
            settings = {"model": run.token(f"models/{name}"), "test": self.data_tokens["test"]}
            attributors[name] = {**fit, **run.stage(f"assess/{name}", settings,
                                                    lambda _, name=name: assess_attributor(self, name),
                                                    report=True, timer=f"assess {name}")}
        return primary, attributors

    def report_stages(self, attributors: list[str], sources: list[str]) -> dict[str, Any]:
        """The GANs' quality figures, the attributors on unseen photos and the sample grids."""
        run, q = self.start(), self.profile.quality
        quality = run.stage("quality", {"gans": {n: run.token(f"gans/{n}") for n in self.gan_info},
                                        "networks": run.token("quality-model"), "test": self.data_tokens["test"],
                                        "reference": [self.real_settings("train", "reference"),
                                                      q.get("reference_images", 1000)],
                                        "samples": q.get("samples", 1000)},
                            lambda _: gan_quality(self), report=True)
        unseen = {}
        if self.real_source == "photos" and self.protocol.unseen_photos:
            unseen = run.stage("unseen-photos", {"models": {n: run.token(f"models/{n}") for n in attributors},
                                                 "split": self.protocol.unseen_photos, "seed": self.seed,
                                                 "n": self.profile.images_per_source["test"]},
                               lambda _: unseen_photo_figures(self, attributors), report=True, timer="unseen photos")
        grids = run.stage("samples", {"test": self.data_tokens["test"], "sources": sources},
                          lambda _: sample_grids(self, sources), report=True)
        gans = {name: {**g, "quality": quality[name]} for name, g in self.gan_info.items()}
        return {"gans": gans, "unseen_photos": unseen, "grids": grids}

    def results(self, primary: str, attributors: dict[str, Any], reported: dict[str, Any]) -> dict[str, Any]:
        """The results both runners share (beside their headline figures)."""
        return {"experiment": self.protocol.name, "title": self.protocol.title, "profile": self.profile.name,
                "real_source": self.real_source, "primary": primary,
                "all_gans_pass_quality": all(g["quality"]["passed"] for g in reported["gans"].values()),
                "attributors": attributors, "gans": reported["gans"], "unseen_photos": reported["unseen_photos"],
                "images_per_source": self.profile.images_per_source,
                "gan_train_images": self.profile.gan_train_images, "seed_figures": self.protocol.seed_figures,
                "deviations": list(self.profile.deviations)}

    def run(self) -> dict[str, Any]:
        from ganprint.experiments.yu_report import write_yu_report

        self.prepare()
        primary, attributors = self.attribute()
        reported = self.report_stages(list(attributors), self.sources)
        row = attributors[primary]
        results = {**self.results(primary, attributors, reported), "accuracy": row["accuracy"],
                   "labels": row["labels"], "confusion_matrix": row["confusion_matrix"],
                   "target": self.protocol.target, "target_met": bool(row["accuracy"] >= self.protocol.target)}
        results = self.start().finish(results, figures=self.FIGURES, device=self.device)
        write_yu_report(self.out, results, reported["grids"])
        return results
