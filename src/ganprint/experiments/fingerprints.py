"""Experiment ``fingerprints`` (Yu et al. 2019 and the GAN-fingerprinting project) on one folder dataset:

1. signal fingerprints: per-source mean noise residual and FFT / DCT log spectra (picture);
2. the training-free residual-correlation baseline;
3. the seed CNN (``seed-mnist-cnn``) and visNet (learned model and image fingerprints), with the
   model-fingerprint picture and one demo panel per source;
4. robustness of the seed CNN before and after immunisation, and of visNet and the baseline;
5. persistence: attributors trained on low-pass / high-pass filtered images and on patches.

Default data: group 1 of the MNIST authorship study (real digits, GAN_1..GAN_3), built with the
``mnist-groups`` stages into ``OUT/data-run``; ``data_dir`` replaces it with any folder dataset
(``DIR/train|val|test/<source>/``).

Stages of its :class:`~ganprint.experiments.run.Run` (:mod:`ganprint.experiments.fingerprints_stages`):
``signal`` and ``models/<model>`` (residual-correlation, seed-mnist-cnn, visnet,
seed-mnist-cnn-immunised) read selection data; the report stages ``assess/<model>``, ``pictures``,
``robustness/<model>`` and ``persistence`` read the test split. A rerun skips every finished stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganprint.attribution.attributor import Preprocessing
from ganprint.experiments import fingerprints_stages as st
from ganprint.experiments.fingerprints_report import write_report
from ganprint.experiments.runners import register_study
from ganprint.experiments.stages import FolderSplits, FolderStudy, mnist_group_data

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest

__all__ = ["FIGURES", "FingerprintsRun", "figures", "run_experiment", "summary_lines", "write_report"]

FIGURES = {
    "accuracy.*": {"chosen_on": "validation split (each attributor's early stopping and calibration)",
                   "reported_on": "test split"},
    "robustness.*": {"chosen_on": "validation split (each model's and the immunisation's early stopping)",
                     "reported_on": "test split under each perturbation"},
    "persistence.*": {"chosen_on": "the same variant of the validation split (early stopping)",
                      "reported_on": "the same variant of the test split"},
}


@register_study("fingerprints")
def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of ``fingerprints`` protocols (see :mod:`ganprint.experiments.runners`)."""
    return FingerprintsRun(request.out_dir, request.profile, protocol=request.protocol, data_dir=request.data_dir,
                           workers=request.workers, device=request.device, progress=request.progress,
                           seed=request.seed).run()


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each attributor's test accuracy and the immunised seed CNN's clean accuracy (no targets: the
    report sets none)."""
    out = {f"accuracy {name}": {"value": a, "target": None} for name, a in results["accuracy"].items()}
    out["accuracy immunised seed CNN"] = {"value": results["robustness"]["immunised"]["clean"], "target": None}
    return out


def summary_lines(results: dict[str, Any]) -> list[str]:
    acc = results["accuracy"]
    rob = results["robustness"]
    lines = [", ".join(f"{k} {v:.4f}" for k, v in acc.items()),
             f"immunised seed CNN: clean {rob['immunised']['clean']:.4f} (was {rob['seed_cnn']['clean']:.4f}), "
             f"targets met: {results['immunisation_targets_met']}",
             "persistence: " + ", ".join(f"{f} {k} {v:.3f}" for f in ("lowpass", "highpass", "patch")
                                         for k, v in results["persistence"][f].items()),
             f"wall time {results['wall_seconds'] / 60:.1f} min"]
    return lines


class FingerprintsRun(FolderStudy):
    """One run directory of the fingerprints experiment; ``run()`` executes or resumes it. ``seed`` is
    an offset of the protocol's seed (the GANs of the default data) and of the fit seeds."""

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path = "fingerprints",
                 data_dir: str | Path | None = None, workers: int | None = None, device: str = "auto",
                 progress: bool = True, seed: int | None = None) -> None:
        super().__init__(out_dir, profile, protocol, data_dir=data_dir, workers=workers, device=device,
                         progress=progress, seed=seed, pre=Preprocessing(size=(28, 28), channels=1))

    def run(self) -> dict[str, Any]:
        from ganprint.device import resolve_device
        from ganprint.robustness import target_check

        run = self.start(spec=self.spec)
        data = str(self.data_dir)
        if self.data_dir is None:
            with run.timed("data (GANs, generation)"):
                data = self._default_data()
        splits = FolderSplits(run, self.data_dir, self.pre, progress=self.progress)
        signal = run.stage("signal", {"data": data}, lambda _: st.signal_fingerprints(self, splits),
                           timer="signal fingerprints")
        models = {name: self._model(name, data, splits) for name in st.MODELS}
        pictures = run.stage("pictures", {"model": run.token("models/visnet")},
                             lambda _: st.visnet_pictures(self, splits), report=True, timer="visnet pictures")
        run.stage(f"models/{st.IMMUNISED}", {"model": run.token(f"models/{st.CNN}"),
                                             "immunise": st.seeded(self, self.spec["robustness"].get("immunise", {}))},
                  lambda folder: st.immunise_cnn(self, splits, folder), timer="robustness + immunisation")
        grid = self.spec["robustness"]["perturbations"]
        robustness = {key: run.stage(f"robustness/{key}", {"model": run.token(f"models/{name}"), "grid": grid},
                                     lambda _, k=key: st.robustness(self, k, splits), report=True,
                                     timer="robustness + immunisation")
                      for key, name in st.ROBUSTNESS.items()}
        arch, fit, config = st.persistence_settings(self)
        persistence = run.stage("persistence", {"data": data, "arch": arch, "fit": fit.to_dict(),
                                                "config": config.to_dict()},
                                lambda folder: st.persistence(self, splits, folder), report=True)
        checks = target_check(robustness["immunised"])
        clean_drop = robustness["seed_cnn"]["clean"] - robustness["immunised"]["clean"]
        results = run.finish({
            "experiment": "fingerprints", "profile": self.profile, "data": str(self.data_dir), "seed": self.seed,
            "classes": splits.classes, "train_images": len(splits.dataset.split("train")),
            "test_images": len(splits.dataset.split("test")),
            "accuracy": {name: m["accuracy"] for name, m in models.items()},
            "fit_seconds": {name: m["fit_seconds"] for name, m in models.items()},
            "signal": signal, "visnet_pictures": pictures, "robustness": robustness,
            "immunisation_targets": checks,
            "immunisation_targets_met": bool(all(all(v.values()) for v in checks.values()) and clean_drop <= 0.01),
            "immunisation_clean_drop": clean_drop, "persistence": persistence,
        }, figures=FIGURES, device=str(resolve_device(self.device)))
        write_report(self.out, results, self.spec.get("deviations", []))
        return results

    def _model(self, name: str, data: str, splits: FolderSplits) -> dict[str, Any]:
        """Fit model ``name`` (a selection stage) and test it (a report stage)."""
        run = self.run_
        fit = run.stage(f"models/{name}", {"data": data, **st.fit_settings(self, name)},
                        lambda folder: st.fit_model(self, name, splits, folder), timer=f"fit {name}")
        accuracy = run.stage(f"assess/{name}", {"model": run.token(f"models/{name}")},
                             lambda _: st.accuracy_on_test(self, name, splits), report=True, timer=f"fit {name}")
        return {**fit, "accuracy": accuracy}

    def _default_data(self) -> str:
        """Build (or resume) the default data; returns what identifies it."""
        group = self.protocol["group"]
        mg = mnist_group_data(self.out, self.profile, self.protocol_name, [group], seed=self.seed,
                              workers=self.workers, device=self.device, progress=self.progress)
        self.data_dir = mg.group_dir(group)
        return mg.run_.token(f"data/{group}")
