"""Plots of the GAN studies: accuracy against GAN training epochs (seed 000 Figs. 4-6 and 10) and the
reconstruction-distance histogram of verification by inversion (seed 000 Fig. 12)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ganprint.plots import pyplot

COLORS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple")


def plot_curves(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: Path, *, title: str,
                xlabel: str = "GAN training epochs", ylabel: str = "test accuracy",
                reference: Mapping[str, float] | None = None, ylim: tuple[float, float] | None = (0.0, 1.02)) -> None:
    """One line per curve ``name -> (x, y)``; dashed horizontal lines for ``reference`` values."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    for (name, (x, y)), color in zip(curves.items(), COLORS * 4, strict=False):
        ax.plot(x, y, "o-", color=color, label=name)
    for (name, value), color in zip((reference or {}).items(), COLORS[::-1] * 4, strict=False):
        ax.axhline(value, color=color, ls="--", lw=1, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def plot_distance_histogram(distances: Mapping[str, Sequence[float]], threshold: float, path: Path, *,
                            title: str) -> None:
    """Histograms of reconstruction distances per image set, with the threshold (seed Fig. 12)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    top = max(float(np.max(v)) for v in distances.values() if len(v))
    bins = np.linspace(0, top * 1.02, 60)
    for (name, values), color in zip(distances.items(), COLORS, strict=False):
        ax.hist(np.asarray(values), bins=bins, alpha=0.6, color=color, label=name)
    ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold:.2f}")
    ax.set_xlabel("reconstruction distance ||G(z) - x||_2 (pixels in [0, 1])")
    ax.set_ylabel("images")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
