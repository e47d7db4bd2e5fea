"""Pictures of learned fingerprints, laid out as in the GANFingerprints visNet demo (seed 004):
the input and its image fingerprint on the left; the model fingerprints in the first row, the
image fingerprint's response to each in the second, and a bar plot of the response intensities
in the third, the predicted source's bar in red (green when it is also the true source)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ganprint.plots import pyplot

__all__ = ["plot_fingerprint_panel", "plot_model_fingerprints", "to_grey"]


def to_grey(m: np.ndarray) -> np.ndarray:
    """A (C, H, W) or (H, W) map -> (H, W) (channels averaged) or (H, W, 3) for RGB, scaled to [0, 1]
    around its own range (a fingerprint has no natural scale)."""
    m = np.asarray(m, dtype=np.float64)
    if m.ndim == 3:
        m = m[0] if m.shape[0] == 1 else np.moveaxis(m, 0, -1)
    lo, hi = float(m.min()), float(m.max())
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


def _show(ax, m: np.ndarray, title: str = "", color: str = "black") -> None:
    img = to_grey(m)
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8, color=color)


def plot_model_fingerprints(fingerprints: np.ndarray, classes: Sequence[str], path: str | Path) -> Path:
    """One tile per source: its learned model fingerprint (K, C, H, W)."""
    plt = pyplot()
    k = len(classes)
    fig, axes = plt.subplots(1, k, figsize=(1.8 * k, 2.1), dpi=110, squeeze=False)
    for i, name in enumerate(classes):
        _show(axes[0, i], fingerprints[i], str(name))
    fig.suptitle("model fingerprints")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_fingerprint_panel(image: np.ndarray, image_fingerprint: np.ndarray, model_fingerprints: np.ndarray,
                           responses: np.ndarray, intensities: np.ndarray, classes: Sequence[str],
                           path: str | Path, *, true_label: str | None = None, title: str = "") -> Path:
    """The demo panel for one image. ``image`` uint8 (H, W[, C]); ``image_fingerprint`` (C, H, W);
    ``model_fingerprints`` and ``responses`` (K, C, H, W); ``intensities`` (K,) the response
    intensities (the logits). Titles: the true source in green, a wrong prediction in red."""
    plt = pyplot()
    k = len(classes)
    pred = int(np.argmax(intensities))
    fig = plt.figure(figsize=(1.7 * (k + 1) + 0.4, 5.6), dpi=110)
    grid = fig.add_gridspec(3, k + 1, height_ratios=[1, 1, 1.1])
    ax = fig.add_subplot(grid[0, 0])
    img = np.asarray(image)
    ax.imshow(img if img.ndim == 3 and img.shape[-1] == 3 else img.reshape(img.shape[:2]), cmap="gray",
              interpolation="nearest", vmin=0, vmax=255)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("input" + (f" ({true_label})" if true_label else ""), fontsize=8)
    _show(fig.add_subplot(grid[1, 0]), image_fingerprint, "image fingerprint")
    colors = []
    for i, name in enumerate(classes):
        color = "green" if true_label is not None and name == true_label else "red" if i == pred else "black"
        colors.append(color if (i == pred or color == "green") else "lightgray")
        _show(fig.add_subplot(grid[0, i + 1]), model_fingerprints[i], str(name), color)
        _show(fig.add_subplot(grid[1, i + 1]), responses[i], f"response {intensities[i]:.2f}")
    bars = fig.add_subplot(grid[2, 1:])
    bars.bar(range(k), intensities, color=colors)
    bars.set_xticks(range(k), [str(c) for c in classes], fontsize=8)
    bars.axhline(0, color="black", linewidth=0.5)
    bars.set_ylabel("response intensity")
    outcome = "" if true_label is None else (" (correct)" if classes[pred] == true_label else " (wrong)")
    fig.suptitle(title or f"predicted {classes[pred]}{outcome}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
