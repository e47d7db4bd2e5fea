"""Repeated runs of a study (``ganprint experiment run ... --seeds N``): each figure's mean, standard
deviation and Student-t confidence interval over the runs, and a verdict read from the interval.

A study's runner module exposes its headline figures with ``figures(results) -> {name: figure}``,
a figure being ``{"value": float, "target": float | None}`` (optionally ``"tolerance"``: how far
below the target one run may fall and still count as near it, :func:`ganprint.experiments.report.mark`).
Everything here is pure: numbers in, numbers and Markdown out.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ganprint.experiments.report import MET, MISSED, NEAR, mark

CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class Interval:
    """The mean of ``n`` values, their sample standard deviation (n - 1 in the denominator) and the
    two-sided Student-t confidence interval of the mean, ``mean -/+ t * std / sqrt(n)``.

    With one value there is no spread to measure: ``std``, ``low`` and ``high`` are None."""

    mean: float
    std: float | None
    low: float | None
    high: float | None
    n: int
    confidence: float = CONFIDENCE

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The :class:`Interval` of ``values`` at ``confidence`` (0 < confidence < 1); an error when empty."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        raise ValueError("no values: an interval needs at least one")
    mean = math.fsum(xs) / n
    if n == 1:
        return Interval(mean, None, None, None, 1, confidence)
    from scipy.stats import t

    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
    return Interval(mean, std, mean - half, mean + half, n, confidence)


def interval_mark(iv: Interval, target: float, tolerance: float = 0.0) -> str:
    """The verdict "at or above the target", read from the interval: ``MET`` (✅) when its low end is
    at or above ``target``, ``MISSED`` (❌) when its high end is below it, else ``NEAR`` (≈): the
    target lies inside the interval and the runs cannot tell the two apart. With one run (no
    interval) the single value is marked by :func:`ganprint.experiments.report.mark` with ``tolerance``."""
    if iv.low is None or iv.high is None:
        return mark(iv.mean, target, tolerance)
    if iv.low >= target:
        return MET
    return MISSED if iv.high < target else NEAR


def interval_legend(confidence: float = CONFIDENCE) -> str:
    """One line that says what the marks of :func:`interval_mark` mean."""
    pct = f"{confidence:.0%}"
    return (f"Marks: {MET} the whole {pct} interval is at or above the target; {NEAR} the target lies inside the "
            f"interval (the runs cannot tell our figure from it); {MISSED} the whole interval is below the target. "
            "With a single run, the run's value is marked against the target instead.")


def aggregate(per_seed: Sequence[Mapping[str, Mapping[str, Any]]],
              confidence: float = CONFIDENCE) -> dict[str, dict[str, Any]]:
    """Per figure name (in first-seen order), over the runs: its ``target`` (the first run's that has
    one), the per-run ``values`` (None where a run lacks the figure), the :class:`Interval` fields of
    the values present and the ``mark`` (None without a target)."""
    names: dict[str, None] = {}
    for figs in per_seed:
        names.update(dict.fromkeys(figs))
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        entries = [figs.get(name) for figs in per_seed]
        values = [None if e is None or e.get("value") is None else float(e["value"]) for e in entries]
        present = [v for v in values if v is not None]
        if not present:
            continue
        target = next((e["target"] for e in entries if e is not None and e.get("target") is not None), None)
        tolerance = next((e["tolerance"] for e in entries if e is not None and e.get("tolerance") is not None), 0.0)
        iv = interval(present, confidence)
        out[name] = {"target": target, "values": values, **iv.to_dict(),
                     "mark": None if target is None else interval_mark(iv, float(target), float(tolerance))}
    return out


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def write_repeats_report(out_dir: str | Path, protocol_title: str, seeds: Sequence[str],
                         aggregated: Mapping[str, Mapping[str, Any]]) -> Path:
    """``out_dir/report.md``: one row per figure (target, mean, standard deviation, interval, the
    value of each run in the order of ``seeds``, the run folders' names, and the mark) and the legend."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    confidence = next((float(a["confidence"]) for a in aggregated.values()), CONFIDENCE)
    pct = f"{confidence:.0%}"
    lines = [f"# {protocol_title}: {len(seeds)} runs", "",
             f"Each run repeats the study's random parts with another seed (its folder: "
             f"{', '.join(f'`{s}/`' for s in seeds)}, each with its own report.md). Mean, sample standard deviation "
             f"and the {pct} Student-t interval of the mean over the runs.", "",
             f"| figure | target | mean | sd | {pct} interval | per run ({', '.join(seeds)}) | mark |",
             "|---|---|---|---|---|---|---|"]
    for name, a in aggregated.items():
        span = "-" if a["low"] is None else f"[{a['low']:.4f}, {a['high']:.4f}]"
        target = "-" if a["target"] is None else f"{a['target']:g}"
        per = ", ".join(_f(v) for v in a["values"])
        lines.append(f"| {name} | {target} | {a['mean']:.4f} | {_f(a['std'])} | {span} | {per} | {a['mark'] or ''} |")
    lines += ["", interval_legend(confidence) + " No mark: the study sets no target for the figure."]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
