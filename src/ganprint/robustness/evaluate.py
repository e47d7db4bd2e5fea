"""Accuracy of a fitted model under each perturbation and strength (the robustness table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ganprint.robustness.perturbations import default_grid, get_spec, perturb_uint8, strength_key

__all__ = ["format_robustness", "parse_perturb_options", "robustness_report", "target_check"]


def _accuracy(model, images: np.ndarray, y: np.ndarray) -> float:
    proba = model.predict_proba(images)
    return float((proba.argmax(1) == y).mean()) if len(y) else float("nan")


def robustness_report(model, images: np.ndarray, sources: Sequence[str], *,
                      perturbations: Mapping[str, Sequence[float]] | None = None,
                      seed: int = 0) -> dict[str, Any]:
    """``{"clean": acc, "perturbations": {name: {strength_key: acc}}}`` of ``model`` on uint8
    ``images`` (N, H, W[, C]) whose true source names are ``sources``.

    ``model`` is any fitted ganprint estimator (``predict_proba`` columns follow ``classes_``).
    Each perturbed copy is quantised to uint8 like a saved file (:func:`perturb_uint8`), and drawn
    with ``seed`` (the same noise for every model). ``perturbations`` maps family names to
    strengths; None means every family at its default grid. Strength keys are strings
    (:func:`strength_key`). Every source must be one the model knows.
    """
    classes = [str(c) for c in model.classes_]
    sources = [str(s) for s in sources]
    unknown = sorted(set(sources) - set(classes))
    if unknown:
        raise ValueError(f"sources not known to the model: {unknown} (model knows {classes})")
    if len(sources) != len(images):
        raise ValueError(f"{len(images)} images but {len(sources)} source labels")
    y = np.asarray([classes.index(s) for s in sources], dtype=np.int64)
    grid = default_grid() if perturbations is None else {k: tuple(v) for k, v in perturbations.items()}
    table: dict[str, dict[str, float]] = {}
    for name, strengths in grid.items():
        spec = get_spec(name)
        table[name] = {strength_key(s): _accuracy(model, perturb_uint8(images, spec.create(s), seed), y)
                       for s in strengths}
    return {"clean": _accuracy(model, images, y), "perturbations": table}


def parse_perturb_options(options: Sequence[str]) -> dict[str, tuple[float, ...]] | None:
    """``["jpeg=90,50", "blur"]`` -> ``{"jpeg": (90.0, 50.0), "blur": <default grid>}``; an empty
    list -> None (every family at its default grid)."""
    if not options:
        return None
    out: dict[str, tuple[float, ...]] = {}
    for option in options:
        name, _, values = option.partition("=")
        name = name.strip()
        spec = get_spec(name)
        if not values.strip():
            out[name] = spec.strengths
            continue
        try:
            strengths = tuple(float(v) for v in values.split(",") if v.strip())
        except ValueError:
            raise ValueError(f"--perturb {option!r}: strengths must be numbers, e.g. {name}=0.5,1") from None
        for s in strengths:
            spec.create(s)  # validates the strength now, not halfway through the run
        out[name] = strengths
    return out


def target_check(report: Mapping[str, Any], *, ratio: float = 0.95) -> dict[str, dict[str, bool]]:
    """For each family, whether accuracy at each of its strengths inside the immunisation range is
    at least ``ratio`` x clean accuracy (Yu et al.'s targets); strengths outside the range are left out."""
    clean = report["clean"]
    out: dict[str, dict[str, bool]] = {}
    for name, row in report["perturbations"].items():
        lo, hi = sorted(get_spec(name).immunise_range)
        out[name] = {k: bool(acc >= ratio * clean) for k, acc in row.items() if lo <= float(k) <= hi}
    return out


def format_robustness(reports: Mapping[str, Mapping[str, Any]]) -> str:
    """Plain-text table: one row per (perturbation, strength), one accuracy column per report
    (e.g. ``{"before": r0, "after": r1}``)."""
    labels = list(reports)
    first = reports[labels[0]]
    width = max(len(lb) for lb in labels) + 2
    head = f"{'perturbation':<12} {'strength':>8}" + "".join(f"{lb:>{max(width, 9)}}" for lb in labels)
    lines = [head, f"{'clean':<12} {'':>8}" + "".join(f"{reports[lb]['clean']:>{max(width, 9)}.4f}" for lb in labels)]
    for name, row in first["perturbations"].items():
        for key in row:
            cells = "".join(f"{reports[lb]['perturbations'].get(name, {}).get(key, float('nan')):>{max(width, 9)}.4f}"
                            for lb in labels)
            lines.append(f"{name:<12} {key:>8}{cells}")
    return "\n".join(lines)
