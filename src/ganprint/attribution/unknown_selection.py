"""Choose the unknown-source score without ever seeing an unknown source.

A user's training folders hold only known sources, yet the "unknown" answer must work on sources
nobody has. The data can still tell which score generalises: hold each known source out in turn,
train on the others, and ask how well every score separates the held-out source's images from the
remaining sources' validation images (leave-one-source-out, LOSO). The score with the best mean
AUROC over the folds is the one the final model uses, and that mean is stored as the estimate of
its AUROC on a new source. Only training and validation images are read.

Each fold trains a model of the same architecture and recipe, for fewer epochs (or a share of the
time budget): the folds rank the scores, they do not have to be as accurate as the final model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganprint.attribution.openset import ALL_SCORES, choose_score

MIN_SOURCES = 3
"""A fold needs two known sources left to train on."""

UNKNOWN_IMAGES = 500
"""Held-out-source images scored per fold (validation first, then training images)."""


@dataclass(frozen=True)
class LosoConfig:
    """``max_folds`` held-out sources at most (spread evenly over the sorted sources); each fold's
    model is built by the caller's factory."""

    max_folds: int = 5
    scores: tuple[str, ...] = ALL_SCORES
    seed: int = 0


def fold_sources(classes: Sequence[str], max_folds: int) -> list[str]:
    """The sources held out, one per fold: all of them, or ``max_folds`` spread evenly."""
    classes = list(classes)
    if len(classes) <= max_folds:
        return classes
    idx = np.unique(np.linspace(0, len(classes) - 1, max_folds).round().astype(int))
    return [classes[i] for i in idx]


def leave_one_source_out(make_model: Callable[[str], Any], X: np.ndarray, y: np.ndarray, X_val: np.ndarray,
                         y_val: np.ndarray, config: LosoConfig = LosoConfig(),  # noqa: B008 - frozen
                         progress: Callable[[str], None] | None = None,
                         cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Per fold and score, the AUROC of known (validation images of the other sources) against
    unknown (the held-out source's images); the mean per score and the chosen score.

    ``make_model(held_out)`` returns an unfitted estimator with ``fit(X, y, X_val, y_val, progress=)``,
    ``_views`` and ``unknown_scores(views, score)`` (an :class:`~ganprint.attribution.attributor.Attributor`).
    Returns ``{"skipped": reason}`` when there are fewer than :data:`MIN_SOURCES` sources or no
    validation images. With ``cache_dir``, each finished fold is kept there and not trained again.
    """
    from sklearn.metrics import roc_auc_score

    from ganprint.serialization import read_json, write_json

    y, y_val = np.asarray(y), np.asarray(y_val) if y_val is not None else None
    classes = sorted(set(y.tolist()))
    if len(classes) < MIN_SOURCES:
        return {"skipped": f"needs at least {MIN_SOURCES} sources to hold one out, got {len(classes)}"}
    if X_val is None or y_val is None or len(X_val) == 0:
        return {"skipped": "needs validation images"}
    folds, aurocs = [], {s: [] for s in config.scores}
    for held_out in fold_sources(classes, config.max_folds):
        t0 = time.perf_counter()
        keep, keep_val = y != held_out, y_val != held_out
        if len(set(y_val[keep_val].tolist())) < 2:
            continue
        cached = Path(cache_dir) / f"fold-{len(folds)}.json" if cache_dir is not None else None
        if cached is not None and cached.is_file() and read_json(cached).get("held_out") == str(held_out):
            fold = read_json(cached)
            folds.append(fold)
            for score, value in fold["auroc"].items():
                aurocs.setdefault(score, []).append(value)
            continue
        model = make_model(held_out)
        model.fit(X[keep], y[keep], X_val[keep_val], y_val[keep_val], progress=False)
        unknown = np.concatenate([X_val[~keep_val], X[~keep]])[:UNKNOWN_IMAGES]
        known_views, unknown_views = model._views(X_val[keep_val]), model._views(unknown)
        labels = np.r_[np.ones(int(keep_val.sum())), np.zeros(len(unknown))]
        fold = {"held_out": str(held_out), "known_images": int(keep_val.sum()), "unknown_images": len(unknown),
                "val_accuracy": float(model.history_.get("val_accuracy", [float("nan")])[-1]
                                      if model.history_.get("val_accuracy") else float("nan")),
                "auroc": {}}
        for score in config.scores:
            try:
                s = np.r_[model.unknown_scores(known_views, score), model.unknown_scores(unknown_views, score)]
            except ValueError:  # a score this model cannot give (no stem, no density)
                continue
            if not np.isfinite(s).all():
                continue
            fold["auroc"][score] = float(roc_auc_score(labels, s))
            aurocs[score].append(fold["auroc"][score])
        fold["seconds"] = time.perf_counter() - t0
        folds.append(fold)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            write_json(cached, fold)
        if progress is not None:
            best = max(fold["auroc"].items(), key=lambda kv: kv[1], default=("-", float("nan")))
            progress(f"unknown-score fold without {held_out}: best {best[0]} AUROC {best[1]:.3f} "
                     f"({fold['seconds']:.0f}s)")
    complete = {s: v for s, v in aurocs.items() if v and len(v) == len(folds)}
    if not complete:
        return {"skipped": "no fold could be scored", "folds": folds}
    chosen = choose_score(complete)
    return {"folds": folds, "mean_auroc": {s: float(np.mean(v)) for s, v in complete.items()},
            "chosen": chosen, "estimated_auroc": float(np.mean(complete[chosen]))}
