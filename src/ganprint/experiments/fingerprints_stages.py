"""The fingerprints study's stages: the models it fits (selection data: train and validation splits)
and what it measures on the test split (report stages: accuracy, visNet's pictures, robustness,
persistence). Each function runs inside a stage of the study's :class:`~ganprint.experiments.run.Run`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganprint.attribution.training import FitConfig
from ganprint.experiments.stages import FolderSplits, fit_and_save, load_stage_model

if TYPE_CHECKING:
    from ganprint.experiments.fingerprints import FingerprintsRun

CNN = "seed-mnist-cnn"
IMMUNISED = f"{CNN}-immunised"
MODELS = ("residual-correlation", CNN, "visnet")
ROBUSTNESS = {"seed_cnn": CNN, "visnet": "visnet", "residual_correlation": "residual-correlation",
              "immunised": IMMUNISED}
"""The models whose robustness is reported, by their key in the results."""


def seeded(study: FingerprintsRun, settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` (of a fit, immunisation or persistence) with their ``seed`` moved by the offset."""
    return {**settings, "seed": int(settings.get("seed", 0)) + study.seed} if study.seed else settings


def fit_settings(study: FingerprintsRun, name: str) -> dict[str, Any]:
    """What a model's fit depends on besides the data."""
    if name == "residual-correlation":
        return {}
    key = "visnet" if name == "visnet" else "attributor"
    return {"fit": _fit_config(study, key).to_dict(), **({"visnet": study.spec.get("visnet", {})}
                                                         if name == "visnet" else {})}


def _fit_config(study: FingerprintsRun, key: str) -> FitConfig:
    return FitConfig.from_dict(seeded(study, {"patience": None, **study.spec.get(key, {})}))


def make_model(study: FingerprintsRun, name: str, size: tuple[int, int] = (28, 28), fit: FitConfig | None = None):
    pre = replace(study.pre, size=size)
    if name == "residual-correlation":
        from ganprint.fingerprints.correlation import ResidualCorrelationAttributor

        return ResidualCorrelationAttributor(preprocessing=pre)
    if name == "visnet":
        from ganprint.fingerprints.visnet import VisNetAttributor, VisNetConfig

        return VisNetAttributor(preprocessing=pre, config=VisNetConfig.from_dict(study.spec.get("visnet", {})),
                                fit_config=fit or _fit_config(study, "visnet"), device=study.device)
    from ganprint.attribution.attributor import Attributor

    return Attributor(arch=name, preprocessing=pre, fit_config=fit or _fit_config(study, "attributor"),
                      device=study.device)


def fit_model(study: FingerprintsRun, name: str, splits: FolderSplits, folder: Path) -> dict[str, Any]:
    """Fit model ``name`` on the train split (validation: early stopping) into ``folder``."""
    model = make_model(study, name)
    options = {} if name == "residual-correlation" else {"progress": study.progress,
                                                         "checkpoint_dir": folder / "checkpoint"}
    seconds = fit_and_save(model, folder, splits("train"), splits("val"), **options)
    return {"fit_seconds": round(seconds, 2), "epochs_run": model.history_.get("epochs_run")}


def immunise_cnn(study: FingerprintsRun, splits: FolderSplits, folder: Path) -> dict[str, Any]:
    """The seed CNN immunised against perturbations on the train split (validation: its stop)."""
    from ganprint.robustness import ImmuniseConfig, immunise

    model = load_stage_model(study.run_, f"models/{CNN}", device=study.device)
    config = ImmuniseConfig(**seeded(study, study.spec["robustness"].get("immunise", {})))
    immunise(model, *splits("train")[:2], *splits("val")[:2], config, progress=study.progress)
    model.save(folder)
    return {"epochs_run": model.history_.get("epochs_run")}


def accuracy_on_test(study: FingerprintsRun, name: str, splits: FolderSplits) -> float:
    model = load_stage_model(study.run_, f"models/{name}", device=study.device)
    return float(model.score(*splits("test")[:2]))


def robustness(study: FingerprintsRun, key: str, splits: FolderSplits) -> dict[str, Any]:
    """Accuracy of model ``ROBUSTNESS[key]`` on the test split under each perturbation of the grid."""
    from ganprint.robustness import robustness_report

    grid = {k: tuple(v) for k, v in study.spec["robustness"]["perturbations"].items()}
    model = load_stage_model(study.run_, f"models/{ROBUSTNESS[key]}", device=study.device)
    return robustness_report(model, *splits("test")[:2], perturbations=grid)


def signal_fingerprints(study: FingerprintsRun, splits: FolderSplits) -> dict[str, Any]:
    """The per-source residual and spectra picture of the train split."""
    from ganprint.fingerprints.spectra import save_signal_fingerprints, signal_fingerprint_rows

    png = study.out / "report" / "signal_fingerprints.png"
    rows = signal_fingerprint_rows(*splits("train")[:2], denoiser="median")
    save_signal_fingerprints(rows, png.parent, title="signal fingerprints (train split)")
    return {"picture": str(png.relative_to(study.out))}


def visnet_pictures(study: FingerprintsRun, splits: FolderSplits) -> dict[str, Any]:
    """visNet's model fingerprints and one demo panel for the first test image of each source."""
    from ganprint.fingerprints.pictures import plot_fingerprint_panel, plot_model_fingerprints

    (study.out / "report").mkdir(parents=True, exist_ok=True)
    model = load_stage_model(study.run_, "models/visnet", device=study.device)
    classes = [str(c) for c in model.classes_]
    out: dict[str, Any] = {"model_fingerprints": "report/visnet_model_fingerprints.png", "panels": {}}
    plot_model_fingerprints(model.model_fingerprints, classes, study.out / out["model_fingerprints"])
    x, y, _ = splits("test")
    for source in classes:
        idx = np.flatnonzero(y == source)
        if len(idx):
            out["panels"][source] = rel = f"report/visnet_panel_{source}.png"
            fp = model.fingerprints(x[idx[:1]])
            plot_fingerprint_panel(x[idx[0]], fp["image_fingerprint"][0], model.model_fingerprints,
                                   fp["responses"][0], fp["logits"][0], classes, study.out / rel, true_label=source)
    return out


def persistence_settings(study: FingerprintsRun) -> tuple[str, FitConfig, Any]:
    from ganprint.robustness.persistence import PersistenceConfig

    spec = dict(study.spec["persistence"])
    arch = spec.pop("arch", CNN)
    fit = FitConfig.from_dict(seeded(study, {"patience": None, **spec.pop("fit", {})}))
    return arch, fit, PersistenceConfig.from_dict(seeded(study, spec))


def persistence(study: FingerprintsRun, splits: FolderSplits, folder: Path) -> dict[str, Any]:
    """Attributors trained on filtered images and patches (train; validation: early stopping) and
    their test accuracy: a report stage, as fitting and testing are one call per variant."""
    from ganprint.robustness.persistence import persistence_table

    arch, fit, config = persistence_settings(study)
    train, val, test = (splits(s)[:2] for s in ("train", "val", "test"))
    table = persistence_table(lambda size: make_model(study, arch, size=size, fit=fit), train, val, test, config,
                              cache_dir=folder, log=print if study.progress else None)
    return {**table, "arch": arch}
