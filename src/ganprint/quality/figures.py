"""A color GAN's quality figures together: the Fréchet figure and the network-free SWD figure.

A GAN passes only when both pass. The Fréchet figure (:mod:`ganprint.quality.frechet`) sees content
through a small network trained on the real images, but moves with that network's seed; the sliced
Wasserstein figure (:mod:`ganprint.quality.swd`) has nothing to train and is stable across seeds to
within 0.08, but sees only local patch statistics. Each covers the other's blind spot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class QualityFigures:
    """Both figures against one real reference, prepared once for ``n_samples`` samples at a time
    (:class:`~ganprint.quality.frechet.FrechetFigure`, :class:`~ganprint.quality.swd.SwdFigure`):
    calling it on samples gives what :func:`gan_quality` gives, at the cost of the samples alone."""

    def __init__(self, model, real_reference: np.ndarray, n_samples: int, *, seed: int = 0) -> None:
        from ganprint.quality.frechet import FrechetFigure
        from ganprint.quality.swd import SwdFigure

        self.frechet = FrechetFigure(model, real_reference, n_samples, seed=seed)
        self.swd = SwdFigure(real_reference, n_samples, seed=seed)

    def __call__(self, samples: np.ndarray) -> dict[str, Any]:
        fd, swd = self.frechet(samples), self.swd(samples)
        return {**fd, "fd_passed": fd["passed"], "swd": swd, "passed": bool(fd["passed"] and swd["passed"])}


def gan_quality(model, real_reference: np.ndarray, samples: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    """The Fréchet figure's keys (``fd``, ``fd_real``, ..., ``relative``, ``threshold``), its own
    verdict as ``fd_passed``, the SWD figure under ``swd`` (``relative``, ``threshold``,
    ``passed``, ...), and ``passed``: both passed. ``model`` is the Fréchet figure's
    :class:`~ganprint.quality.frechet.QualityModel` or
    :class:`~ganprint.quality.frechet.QualityEnsemble` (then the median network's figure, with
    every network's under ``networks``)."""
    samples = np.asarray(samples)
    return QualityFigures(model, real_reference, len(samples), seed=seed)(samples)


def quality_scorer(model, real_reference: np.ndarray, *, seed: int = 0) -> Callable[[np.ndarray], dict[str, Any]]:
    """``samples -> gan_quality(model, real_reference, samples, seed=seed)`` for many sample sets
    (the GANs of a study), the reference side prepared once per sample count."""
    prepared: dict[int, QualityFigures] = {}

    def score(samples: np.ndarray) -> dict[str, Any]:
        samples = np.asarray(samples)
        if len(samples) not in prepared:
            prepared[len(samples)] = QualityFigures(model, real_reference, len(samples), seed=seed)
        return prepared[len(samples)](samples)

    return score


def swd_cell(q: dict[str, Any]) -> str:
    """The SWD figure for a report table, ``"relative (threshold)"``, or ``"–"`` for a figure
    computed before the SWD figure existed."""
    swd = q.get("swd")
    return f"{swd['relative']:.3f} ({swd['threshold']})" if swd else "–"


def describe(q: dict[str, Any]) -> str:
    """One line: both relative figures and the verdict (a figure computed before the SWD figure
    existed shows the Fréchet one only)."""
    text = f"Fréchet relative {q['relative']:.3f}"
    if "swd" in q:
        text += f", SWD relative {q['swd']['relative']:.3f}"
    return text + (" (passed)" if q["passed"] else " (FAILED)")


def worst_ratio(q: dict[str, Any]) -> float:
    """How far the worse of the two figures is along its threshold: ``max(fd / fd threshold,
    swd / swd threshold)`` (relative figures). Both pass exactly when this is at most 1."""
    return max(q["relative"] / q["threshold"], q["swd"]["relative"] / q["swd"]["threshold"])
