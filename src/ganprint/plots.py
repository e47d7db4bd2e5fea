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
