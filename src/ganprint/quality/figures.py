"""A color GAN's quality figures together: the Fréchet figure and the network-free SWD figure.

A GAN passes only when both pass. The Fréchet figure (:mod:`ganprint.quality.frechet`) sees content
through a small network trained on the real images, but moves with that network's seed; the sliced
Wasserstein figure (:mod:`ganprint.quality.swd`) has nothing to train and is stable across seeds to
within 0.08, but sees only local patch statistics. Each covers the other's blind spot.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def gan_quality(model, real_reference: np.ndarray, samples: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    """The Fréchet figure's keys (``fd``, ``fd_real``, ..., ``relative``, ``threshold``), its own
    verdict as ``fd_passed``, the SWD figure under ``swd`` (``relative``, ``threshold``,
    ``passed``, ...), and ``passed``: both passed. ``model`` is the Fréchet figure's
    :class:`~ganprint.quality.frechet.QualityModel`."""
    from ganprint.quality.frechet import quality_figure
    from ganprint.quality.swd import swd_quality_figure

    fd = quality_figure(model, real_reference, samples, seed=seed)
    swd = swd_quality_figure(real_reference, samples, seed=seed)
    return {**fd, "fd_passed": fd["passed"], "swd": swd, "passed": bool(fd["passed"] and swd["passed"])}


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
