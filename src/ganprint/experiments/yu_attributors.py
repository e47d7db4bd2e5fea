"""The attributors of Yu et al.'s studies and of ``seed001``: made from a profile entry, fit on the
train split (schedule and stop on the validation split), the primary one chosen on validation
accuracy, and assessed on the test split and on crops of photos no split shows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganprint.experiments.run import REPORT
from ganprint.experiments.stages import fit_and_save, load_stage_model
from ganprint.experiments.yu_data import REAL_ROLES, load_real
from ganprint.experiments.yu_protocol import REAL

if TYPE_CHECKING:
    from ganprint.experiments.yu import YuRun


def make_attributor(spec: dict[str, Any], *, device: str, seed: int):
    """An unfitted attributor from a profile entry: ``kind`` ``postpool`` (or any registered
    architecture; training settings ``epochs``, ``lr``, ... over the architecture's measured
    defaults; ``representation`` its input representation, default ``pixels``) or
    ``residual-correlation``."""
    from ganprint.attribution.attributor import Attributor, Preprocessing

    pre = Preprocessing(size=(32, 32), channels=3)
    spec = dict(spec)
    kind = spec.pop("kind", "postpool")
    if kind == "residual-correlation":
        from ganprint.fingerprints.correlation import ResidualCorrelationAttributor

        return ResidualCorrelationAttributor(preprocessing=pre, **spec)
    from ganprint.attribution.training import recipe

    options = spec.pop("options", {})
    representation = spec.pop("representation", "pixels")
    fit = recipe("adam", {**spec, "seed": seed}, arch=kind)
    return Attributor(arch=kind, preprocessing=pre, fit_config=fit, arch_options=options, device=device,
                      representation=representation)


def choose_primary(rule: str, attributors: dict[str, dict[str, Any]]) -> str:
    """The attributor whose accuracy is the run's headline: ``best-val`` picks the highest
    validation accuracy (never the test figure); any other value names an attributor."""
    if rule == "best-val":
        return max(attributors, key=lambda k: attributors[k].get("val_accuracy") or -1.0)
    if rule not in attributors:
        raise ValueError(f"primary attributor {rule!r} is not in the profile: {', '.join(attributors)}")
    return rule


def fit_attributor(study: YuRun, spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Fit one attributor on the train split (the validation split steers its schedule and stop) and
    save it in ``folder``; its validation accuracy, and whether its loss ever left chance."""
    train, val = study.splits("train"), study.splits("val")
    model = make_attributor(spec, device=study.device, seed=study.seed)
    seconds = fit_and_save(model, folder, train, val, progress=study.progress, checkpoint_dir=folder / "checkpoint")
    row = {"kind": spec.get("kind", folder.name), "fit_seconds": round(seconds, 2),
           "train_images": int(len(train[1])),
           "val_accuracy": float(model.score(*val[:2])) if val[1] is not None and len(val[1]) else None}
    losses = getattr(model, "history_", {}).get("train_loss") or []
    if losses:  # a fit whose loss never left chance (ln of the number of sources) learned nothing
        chance = float(np.log(len(model.classes_)))
        row.update(final_train_loss=float(losses[-1]), chance_loss=chance, fit_failed=bool(losses[-1] > 0.9 * chance))
    return row


def assess_attributor(study: YuRun, name: str) -> dict[str, Any]:
    """Attributor ``name`` on the test split: accuracy, balanced accuracy, confusion matrix, detection
    AUC and calibration error."""
    from ganprint.attribution.assess import assess

    x_te, y_te, _ = study.splits("test")
    report = assess(load_stage_model(study.run_, f"models/{name}", study.device), x_te, y_te)
    return {"accuracy": report["accuracy"], "balanced_accuracy": report["balanced_accuracy"],
            "labels": report["labels"], "confusion_matrix": report["confusion_matrix"],
            "detection_auc": report.get("detection_auc"), "ece": report.get("ece"), "test_images": int(len(y_te))}


def unseen_photo_figures(study: YuRun, names: list[str]) -> dict[str, dict[str, Any]]:
    """Per attributor, how it labels real crops of photos that no split of the study shows (the
    protocol's ``unseen_photos``, a split of :func:`ganprint.data.photos.photo_split`): the share
    called real and the count per predicted source."""
    from ganprint.data.photos import photo_split

    split = study.protocol.unseen_photos
    study.run_.read(REPORT, f"crops of the photos of {split!r}")
    images = load_real("photos", split, study.profile.images_per_source["test"], study.seed + REAL_ROLES["attr"])
    out = {}
    for name in names:
        predicted = np.asarray(load_stage_model(study.run_, f"models/{name}", study.device).predict(images))
        sources, counts = np.unique(predicted, return_counts=True)
        out[name] = {"photos": list(photo_split(split)[0]), "images": int(len(images)),
                     "real_accuracy": float(np.mean(predicted == REAL)),
                     "predicted": {str(k): int(v) for k, v in zip(sources, counts, strict=True)}}
    return out
