"""Evaluation metrics: pure functions of true and predicted labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def classification_report(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix.

    ``y_true``/``y_pred`` are class indices into ``labels``; ``confusion_matrix[i][j]`` counts
    images of class ``labels[i]`` predicted as ``labels[j]``.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support  # here: scoring needs no sklearn

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    idx = list(range(len(labels)))
    cm = confusion_matrix(y_true, y_pred, labels=idx) if len(y_true) else np.zeros((len(idx),) * 2, int)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=idx, zero_division=0)
    return {
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else float("nan"),
        "n": int(len(y_true)),
        "labels": list(labels),
        "per_class": {
            str(name): {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(labels)
        },
        "confusion_matrix": cm.astype(int).tolist(),
    }


def format_report(report: dict[str, Any]) -> str:
    """A plain-text rendering of :func:`classification_report` for terminals."""
    labels = report["labels"]
    width = max(8, *(len(str(label)) for label in labels))
    lines = [f"accuracy: {report['accuracy']:.4f}  (n={report['n']})", "",
             f"{'source':<{width}}  precision  recall  f1      support"]
    for name in labels:
        c = report["per_class"][name]
        lines.append(f"{name:<{width}}  {c['precision']:.4f}     {c['recall']:.4f}  {c['f1']:.4f}  {c['support']}")
    lines += ["", "confusion matrix (rows: true, columns: predicted)",
              " " * width + "  " + " ".join(f"{str(n)[:8]:>8}" for n in labels)]
    for name, row in zip(labels, report["confusion_matrix"], strict=False):
        lines.append(f"{name:<{width}}  " + " ".join(f"{v:>8d}" for v in row))
    return "\n".join(lines)
