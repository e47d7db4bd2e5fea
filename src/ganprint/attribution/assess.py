"""Assess a fitted model on labelled images: attribution, detection, calibration, unknown sources,
test-time augmentation and the file-format audit, as one JSON-able report.

This is what ``ganprint eval`` prints and what the ``zoo`` experiment tabulates; the metrics are
the pure functions of :mod:`ganprint.attribution.evaluation` and :mod:`ganprint.attribution.openset`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganprint.attribution.evaluation import detection_report, evaluation_report, operating_point
from ganprint.attribution.openset import open_set_report
from ganprint.calibration import reliability_bins


def model_outputs(model, images: np.ndarray) -> dict[str, np.ndarray]:
    """Probabilities (calibrated), known-source scores and, where the model has them, raw logits."""
    if hasattr(model, "outputs"):
        return model.outputs(images)
    proba, known = model.predict_with_scores(images)
    return {"probabilities": proba, "known_scores": known}


def assess(model, images: np.ndarray, sources: Sequence[str], *,
           unknown_images: np.ndarray | Mapping[str, np.ndarray] | None = None,
           tta: bool = False, audit_format: bool = False, paths: Sequence[str | Path] | None = None,
           plots_dir: str | Path | None = None) -> dict[str, Any]:
    """Evaluate ``model`` on ``images`` whose true source names are ``sources``.

    Images of sources the model does not know count, when the model has a real class, as fakes of
    an unseen generator: they enter the detection metrics (``unseen_detection``) but not the
    attribution metrics. ``unknown_images`` (from sources the model never saw) give the
    unknown-source AUROC and open-set accuracy at the model's calibrated threshold; given as a
    mapping ``{name: images}``, each unknown source also gets its own report
    (``open_set_by_unknown``) beside the pooled one.
    """
    classes = [str(c) for c in model.classes_]
    sources = np.asarray([str(s) for s in sources])
    known = np.isin(sources, classes)
    t0 = time.perf_counter()
    out = model_outputs(model, images)
    seconds = time.perf_counter() - t0
    proba, scores = out["probabilities"], out["known_scores"]
    y = np.asarray([classes.index(s) for s in sources[known]], dtype=int)
    report = evaluation_report(y, proba[known], classes, real_classes=model.real_classes,
                               logits=out["logits"][known] if "logits" in out else None,
                               temperature=getattr(model, "temperature_", None))
    report["temperature"] = getattr(model, "temperature_", None)
    report["images_per_second"] = len(images) / seconds if seconds > 0 else None
    real = [c for c in classes if c in model.real_classes]
    if not known.all():
        report["unseen_sources"] = sorted(set(sources[~known]))
        if real:
            p_fake = model.p_fake(proba)
            is_fake = ~np.isin(sources, real)
            unseen = ~known
            real_mask = np.isin(sources, real)
            report["unseen_detection"] = detection_report(is_fake[unseen | real_mask], p_fake[unseen | real_mask])
            report["detection_all"] = detection_report(is_fake, p_fake)
    fake_threshold = getattr(model, "fake_threshold_", None)
    if real and fake_threshold is not None:
        p_fake = model.p_fake(proba)
        report["operating_point"] = {**operating_point(~np.isin(sources, real), p_fake, fake_threshold),
                                     "target_fpr": getattr(model, "target_fpr", None)}
    groups = dict(unknown_images) if isinstance(unknown_images, Mapping) else {"unknown": unknown_images}
    groups = {k: v for k, v in groups.items() if v is not None and len(v)}
    if groups:
        threshold = getattr(model, "threshold_", None)
        if threshold is None:
            raise ValueError("the model has no unknown-source threshold (it was trained without validation images)")
        pred = proba[known].argmax(1)
        unknown_scores = {name: model_outputs(model, imgs)["known_scores"] for name, imgs in groups.items()}
        by_group = {name: open_set_report(scores[known], y, pred, s, threshold) for name, s in unknown_scores.items()}
        report["open_set"] = open_set_report(scores[known], y, pred, np.concatenate(list(unknown_scores.values())),
                                             threshold)
        if isinstance(unknown_images, Mapping):
            report["open_set_by_unknown"] = by_group
        report["unknown_auroc"] = report["open_set"]["unknown_auroc"]
        report["open_set_accuracy"] = report["open_set"]["open_set_accuracy"]
    if tta:
        from ganprint.attribution.tta import tta_effect, tta_predict_proba

        voted = tta_predict_proba(model.predict_proba, images[known])
        report["tta"] = {k: v for k, v in tta_effect(y, proba[known].argmax(1), voted["label_index"]).items()}
    if audit_format:
        from ganprint.attribution.format_audit import audit_format as run_audit

        report["format_audit"] = run_audit(model.predict, images[known], sources[known],
                                           paths=[paths[i] for i in np.flatnonzero(known)] if paths else None)
    if plots_dir is not None and len(y):
        from ganprint.plots import plot_confusion, plot_reliability

        plots = Path(plots_dir)
        plots.mkdir(parents=True, exist_ok=True)
        plot_confusion(report["confusion_matrix"], classes, f"accuracy {report['accuracy']:.4f}",
                       plots / "confusion_matrix.png")
        plot_reliability(reliability_bins(proba[known], y), f"ECE {report['ece']:.4f}", plots / "reliability.png")
        report["plots"] = [str(plots / "confusion_matrix.png"), str(plots / "reliability.png")]
    return report
