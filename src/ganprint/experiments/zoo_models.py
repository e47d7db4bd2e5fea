"""The zoo's rows: one entry (architecture, input representation, recipe), its fit stage (train and
validation splits: early stopping, calibration and the validation accuracy that picks the best
model) and its report stage (the test split and the unknown sources' images)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganprint.attribution.assess import assess
from ganprint.attribution.attributor import Attributor
from ganprint.attribution.training import recipe
from ganprint.attribution.two_stage import SECONDARY_FIT, TwoStageAttributor
from ganprint.experiments.stages import FolderSplits, fit_and_save, load_stage_model

if TYPE_CHECKING:
    from ganprint.experiments.zoo import ZooRun


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One row of the zoo: an architecture, its input representation and training settings."""

    arch: str
    representation: str = "pixels"
    recipe: str = "adam"
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.arch}+{self.representation}+{self.recipe}"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ZooEntry:
        """An entry from the protocol; without a representation, the architecture's recommended one."""
        from ganprint.models import default_representation

        known = {"arch", "representation", "recipe", "options"}
        representation = d.get("representation") or default_representation(d["arch"])
        return cls(arch=d["arch"], representation=representation, recipe=d.get("recipe", "adam"),
                   overrides={k: v for k, v in d.items() if k not in known}, options=dict(d.get("options", {})))


def _model(study: ZooRun, entry: ZooEntry):
    config = recipe(entry.recipe, entry.overrides, arch=entry.arch)  # the arch's measured settings first
    if study.seed:
        config = dataclasses.replace(config, seed=config.seed + study.seed)
    if entry.arch == "two-stage":
        return TwoStageAttributor(preprocessing=study.pre, fit_config=config, secondary_config=SECONDARY_FIT,
                                  device=study.device, **entry.options)
    return Attributor(arch=entry.arch, preprocessing=study.pre, fit_config=config,
                      representation=entry.representation, arch_options=entry.options, device=study.device)


def _accuracy(model, images: np.ndarray, sources: np.ndarray) -> float:
    return float(np.mean(np.asarray(model.classes_)[model.predict_proba(images).argmax(1)] == sources))


def fit_entry(study: ZooRun, entry: ZooEntry, splits: FolderSplits, folder: Path) -> dict[str, Any]:
    """Fit ``entry`` on the train split (validation: early stopping, calibration) into ``folder``;
    its accuracy on the validation split (the training split where there is none) ranks it."""
    train, val = splits("train"), splits("val")
    model = _model(study, entry)
    options = {} if entry.arch == "two-stage" else {"checkpoint_dir": folder / "checkpoint"}
    seconds = fit_and_save(model, folder, train, val, progress=study.progress, **options)
    chosen_on = "val" if val[0] is not None else "train"
    return {"fit_seconds": round(seconds, 2), "epochs_run": _epochs(model), "parameters": _parameters(model),
            "selection_split": chosen_on,
            "selection_accuracy": _accuracy(model, *(val if chosen_on == "val" else train)[:2])}


def assess_entry(study: ZooRun, entry: ZooEntry, splits: FolderSplits) -> dict[str, Any]:
    """The fitted ``entry`` on the test split and the unknown sources (report data)."""
    model = load_stage_model(study.run_, f"models/{entry.key}", device=study.device)
    x_te, y_te, paths = splits("test")
    unknown = {name: splits.images(folder) for name, folder in study.unknown_dirs.items()}
    report = assess(model, x_te, y_te, paths=paths, unknown_images=unknown or None)
    return {
        "accuracy": report["accuracy"], "balanced_accuracy": report["balanced_accuracy"], "ece": report["ece"],
        "ece_uncalibrated": report.get("ece_uncalibrated"), "detection_auc": report.get("detection_auc"),
        "images_per_second": report["images_per_second"], "confusion_matrix": report["confusion_matrix"],
        "labels": report["labels"],
        "unknown": {name: {"unknown_auroc": u["unknown_auroc"], "open_set_accuracy": u["open_set_accuracy"],
                           "unknown_reject_rate": u["unknown_reject_rate"]}
                    for name, u in report.get("open_set_by_unknown", {}).items()},
    }


def _parameters(model) -> int:
    if isinstance(model, TwoStageAttributor):
        return sum(p.numel() for p in model.primary_.parameters()) + sum(
            p.numel() for m in model.secondary_.values() for p in m.parameters())
    return sum(p.numel() for p in model.model_.parameters())


def _epochs(model) -> int | None:
    h = model.history_
    if "epochs_run" in h:
        return h["epochs_run"]
    return h.get("primary", {}).get("epochs_run")
