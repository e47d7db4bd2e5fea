"""Evaluation of an attributor's probabilities: attribution, calibration and real-vs-fake detection.

Pure functions on numpy arrays, on top of scikit-learn's metrics. Detection treats the attributor
as a detector: ``P(fake) = 1 - P(any real class)``; it is reported when at least one class is real.
Undefined values (an AUC with a single class present, anything on zero images) are ``None``, so
that reports stay valid JSON.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ganprint.attribution.defaults import TARGET_FPR
from ganprint.attribution.metrics import classification_report, format_report
from ganprint.calibration import calibrated_probabilities, expected_calibration_error

REAL_CLASSES = ("real",)
DETECTION_THRESHOLD = 0.5
"""An image is called fake when ``P(fake) > 0.5`` (scikit-learn's binary ``predict`` convention)."""


def _probabilities(probabilities: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"need probabilities (N, K), got shape {p.shape}")
    if n_classes is not None and p.shape[1] != n_classes:
        raise ValueError(f"probabilities have {p.shape[1]} columns but there are {n_classes} classes")
    return p


def detection_scores(probabilities: np.ndarray, classes: Sequence[str],
                     real_classes: Sequence[str] = REAL_CLASSES) -> np.ndarray | None:
    """``P(fake) = 1 - sum of the probabilities of the real classes`` per image, or ``None`` when no
    class in ``classes`` (the probability columns) is named in ``real_classes``."""
    p = _probabilities(probabilities, len(classes))
    real = np.isin(np.asarray(classes, dtype=str), np.asarray(list(real_classes), dtype=str))
    if not real.any():
        return None
    return np.clip(1.0 - p[:, real].sum(1), 0.0, 1.0)


def detection_report(y_true_fake: np.ndarray, p_fake: np.ndarray) -> dict[str, Any]:
    """Real-vs-fake detection: ROC AUC, average precision (fake is the positive class) and accuracy
    at ``P(fake) > 0.5``. AUC and AP are ``None`` unless both real and fake images are present."""
    from sklearn.metrics import average_precision_score, roc_auc_score  # here: scoring files needs no sklearn

    y = np.asarray(y_true_fake).astype(bool)
    s = np.asarray(p_fake, dtype=np.float64)
    if y.ndim != 1 or s.shape != y.shape:
        raise ValueError(f"need y_true_fake (N,) and p_fake (N,), got {y.shape} and {s.shape}")
    n_fake = int(y.sum())
    n_real = int(len(y) - n_fake)
    both = n_fake > 0 and n_real > 0
    return {
        "detection_auc": float(roc_auc_score(y, s)) if both else None,
        "detection_ap": float(average_precision_score(y, s)) if both else None,
        "detection_accuracy": float(((s > DETECTION_THRESHOLD) == y).mean()) if len(y) else None,
        "n_real": n_real,
        "n_fake": n_fake,
    }


def fit_fpr_threshold(p_fake_real: np.ndarray, target_fpr: float = TARGET_FPR) -> float:
    """The smallest threshold ``t`` such that at most ``target_fpr`` of the real images' ``p_fake``
    lie above it (an image is called fake when ``p_fake > t``): with ``n`` real images,
    ``floor(target_fpr * n)`` may be. Fit it on validation reals; report it on test reals."""
    s = np.sort(np.asarray(p_fake_real, dtype=np.float64).ravel())[::-1]
    if len(s) == 0:
        raise ValueError("need at least one real image to fit the operating threshold")
    if not 0.0 <= target_fpr < 1.0:
        raise ValueError(f"target_fpr must be in [0, 1), got {target_fpr}")
    allowed = int(np.floor(target_fpr * len(s) + 1e-9))
    return float(s[allowed])


def operating_point(y_true_fake: np.ndarray, p_fake: np.ndarray, threshold: float) -> dict[str, Any]:
    """False-positive rate on real images and detection rate on fakes when ``p_fake > threshold``
    is called fake (``None`` where there is no image of that kind)."""
    y = np.asarray(y_true_fake).astype(bool)
    called = np.asarray(p_fake, dtype=np.float64) > threshold
    return {"threshold": float(threshold),
            "false_positive_rate": float(called[~y].mean()) if (~y).any() else None,
            "detection_rate": float(called[y].mean()) if y.any() else None,
            "n_real": int((~y).sum()), "n_fake": int(y.sum())}


def evaluation_report(y_true: Sequence[int], probabilities: np.ndarray, labels: Sequence[str], *,
                      real_classes: Sequence[str] = REAL_CLASSES, logits: np.ndarray | None = None,
                      temperature: float | None = None, n_bins: int = 15) -> dict[str, Any]:
    """:func:`~ganprint.attribution.metrics.classification_report` of the argmax predictions, plus

    * ``balanced_accuracy``: mean per-class recall over the classes present in ``y_true``;
    * ``ece``: expected calibration error of ``probabilities`` (``n_bins`` equal-width bins);
    * with ``logits``: ``ece_uncalibrated``, the ECE of ``softmax(logits)`` (before temperature
      scaling), and ``temperature`` when given;
    * the :func:`detection_report` keys when a class is named in ``real_classes``, else
      ``detection_auc = None``.
    """
    from sklearn.metrics import balanced_accuracy_score  # here: scoring files needs no sklearn

    y = np.asarray(y_true).astype(np.int64)
    p = _probabilities(probabilities, len(labels))
    if y.shape != (len(p),):
        raise ValueError(f"need y_true (N,) for probabilities (N, K), got {y.shape} and {p.shape}")
    if len(y) and (y.min() < 0 or y.max() >= len(labels)):
        raise ValueError(f"y_true holds class indices outside 0..{len(labels) - 1}")
    pred = p.argmax(1)
    report = classification_report(y, pred, labels)
    if len(y):
        with warnings.catch_warnings():  # "y_pred contains classes not in y_true": expected on subsets
            warnings.simplefilter("ignore", UserWarning)
            report["balanced_accuracy"] = float(balanced_accuracy_score(y, pred))
        report["ece"] = expected_calibration_error(p, y, n_bins)
    else:
        report["balanced_accuracy"] = None
        report["ece"] = None
    if logits is not None:
        logits = np.asarray(logits, dtype=np.float64)
        if logits.shape != p.shape:
            raise ValueError(f"logits {logits.shape} and probabilities {p.shape} differ in shape")
        report["ece_uncalibrated"] = (expected_calibration_error(calibrated_probabilities(logits, 1.0), y, n_bins)
                                      if len(y) else None)
    if temperature is not None:
        report["temperature"] = float(temperature)
    p_fake = detection_scores(p, labels, real_classes)
    if p_fake is None:
        report["detection_auc"] = None
    else:
        is_fake = ~np.isin(np.asarray(labels, dtype=str)[y], np.asarray(list(real_classes), dtype=str))
        report.update(detection_report(is_fake, p_fake))
    return report


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4f}"


def format_evaluation(report: dict[str, Any]) -> str:
    """A plain-text rendering of :func:`evaluation_report`: :func:`format_report` plus calibration
    and detection lines."""
    lines = [format_report(report), ""]
    lines.append(f"balanced accuracy: {_fmt(report.get('balanced_accuracy'))}")
    ece = f"ECE {_fmt(report.get('ece'))}"
    if "ece_uncalibrated" in report:
        ece += f", before temperature scaling {_fmt(report['ece_uncalibrated'])}"
    if "temperature" in report:
        ece += f", temperature {report['temperature']:.3f}"
    lines.append("calibration: " + ece)
    if "n_real" in report:
        lines.append(f"detection (real vs fake, n_real={report['n_real']}, n_fake={report['n_fake']}): "
                     f"AUC {_fmt(report['detection_auc'])}  AP {_fmt(report['detection_ap'])}  "
                     f"accuracy@0.5 {_fmt(report['detection_accuracy'])}")
    else:
        lines.append("detection: n/a (no real class)")
    return "\n".join(lines)
