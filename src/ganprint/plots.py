"""Plots shared by reports and commands (matplotlib, Agg backend, written to PNG files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(matrix: list[list[int]], labels: list[str], title: str, path: Path) -> None:
    """A confusion-matrix heatmap with counts in the cells (rows: true, columns: predicted)."""
    plt = pyplot()
    cm = np.asarray(matrix, dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(labels), 1.0 + 0.8 * len(labels)), dpi=110)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of row")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)



def plot_reliability(bins: dict[str, Any], title: str, path: Path) -> None:
    """A reliability diagram from :func:`ganprint.calibration.reliability_bins`."""
    plt = pyplot()
    edges = np.asarray(bins["edges"])
    centers = (edges[:-1] + edges[1:]) / 2
    acc = np.nan_to_num(np.asarray(bins["accuracy"], dtype=float))
    fig, ax = plt.subplots(figsize=(4, 4), dpi=110)
    ax.bar(centers, acc, width=edges[1] - edges[0], edgecolor="black", alpha=0.7, label="accuracy")
    ax.plot([0, 1], [0, 1], "k--", label="perfect calibration")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_robustness(reports: dict[str, dict[str, Any]], title: str, path: Path, *,
                    target_ranges: dict[str, tuple[float, float]] | None = None,
                    units: dict[str, str] | None = None, ratio: float = 0.95):
    """Accuracy vs strength, one panel per perturbation and one line per report (e.g. ``before`` and
    ``after``), from :func:`ganprint.robustness.robustness_report`.

    Per report, in its colour: solid with dots, accuracy at each strength; dashed, its clean
    accuracy; dotted, ``ratio`` x clean accuracy (the immunisation target). Shaded:
    ``target_ranges[name]``, the strengths over which the target must hold. A legend below the panels
    says all of this; each panel's x axis names its family's unit (``units[name]``, by default
    :attr:`PerturbationSpec.unit <ganprint.robustness.perturbations.PerturbationSpec>` of the
    registered family). Returns the figure (written to ``path`` and closed) for callers to inspect.
    """
    import textwrap

    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plt = pyplot()
    names = list(next(iter(reports.values()))["perturbations"])
    units = {**_perturbation_units(names), **(units or {})}
    cols = min(3, max(len(names), 1))
    rows = -(-max(len(names), 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.1 * rows + 0.9), dpi=110, squeeze=False,
                             layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    shaded = False
    for ax, name in zip(axes.flat, names, strict=False):
        for k, report in enumerate(reports.values()):
            row = report["perturbations"].get(name, {})
            color = colors[k % len(colors)]
            ax.plot([float(s) for s in row], list(row.values()), "o-", color=color, ms=3)
            ax.axhline(report["clean"], color=color, ls="--", lw=0.8)
            ax.axhline(ratio * report["clean"], color=color, ls=":", lw=0.8)
        if target_ranges and name in target_ranges:
            ax.axvspan(*sorted(target_ranges[name]), color="0.92", zorder=0)
            shaded = True
        ax.set_title(name)
        unit = units.get(name)
        ax.set_xlabel(textwrap.fill(f"strength: {unit}" if unit else "strength", 52), fontsize=8)
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    handles = [Line2D([], [], color=colors[k % len(colors)], marker="o", ms=3, label=label)
               for k, label in enumerate(reports)]
    handles += [Line2D([], [], color="0.3", ls="--", lw=0.8, label="clean accuracy (no perturbation)"),
                Line2D([], [], color="0.3", ls=":", lw=0.8,
                       label=f"{ratio:.0%} of clean accuracy (the immunisation target)")]
    if shaded:
        handles.append(Patch(facecolor="0.92", edgecolor="0.6", label="strengths the target must hold over"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 3), fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.savefig(path)
    plt.close(fig)
    return fig


def _perturbation_units(names: list[str]) -> dict[str, str]:
    """The unit of each registered perturbation family among ``names``."""
    from ganprint.robustness.perturbations import PERTURBATIONS

    return {n: PERTURBATIONS[n].unit for n in names if n in PERTURBATIONS}


def plot_source_maps(rows: dict[str, dict[str, np.ndarray]], title: str, path: Path, *,
                     diverging: tuple[str, ...] = ("residual",)) -> None:
    """A grid of per-source maps, e.g. :func:`ganprint.fingerprints.signal_fingerprints`: one row per
    statistic (``{"residual": {source: (C, H, W)}, "fft": ..., "dct": ...}``), one column per source,
    channels averaged. Each row shares one colour scale; rows named in ``diverging`` use a
    symmetric red-blue scale around 0."""
    plt = pyplot()
    names = list(rows)
    sources = list(next(iter(rows.values())))
    fig, axes = plt.subplots(len(names), len(sources), figsize=(1.9 * len(sources) + 0.8, 1.9 * len(names) + 0.5),
                             dpi=110, squeeze=False)
    for r, name in enumerate(names):
        maps = [np.asarray(rows[name][s], dtype=np.float64) for s in sources]
        maps = [m.mean(0) if m.ndim == 3 else m for m in maps]
        if name in diverging:
            vmax = max(float(np.abs(m).max()) for m in maps) or 1.0
            style = {"cmap": "RdBu_r", "vmin": -vmax, "vmax": vmax}
        else:
            style = {"cmap": "viridis", "vmin": min(float(m.min()) for m in maps),
                     "vmax": max(float(m.max()) for m in maps)}
        for c, (source, m) in enumerate(zip(sources, maps, strict=True)):
            ax = axes[r, c]
            im = ax.imshow(m, interpolation="nearest", **style)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(source, fontsize=9)
            if c == 0:
                ax.set_ylabel(name)
        fig.colorbar(im, ax=list(axes[r]), fraction=0.02, pad=0.01)
    fig.suptitle(title)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
