"""The signal-fingerprint picture of a dataset: per-source mean noise residual and mean FFT / DCT
log spectra, plus each spectrum minus the mean over sources (where a generator's periodic traces
stand out against the content every source shares). Used by ``ganprint fingerprint spectra`` and
the ``fingerprints`` experiment."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ganprint.fingerprints.signal import images_to_float, signal_fingerprints

__all__ = ["DIVERGING_ROWS", "save_signal_fingerprints", "signal_fingerprint_rows"]

DIVERGING_ROWS = ("residual", "fft - mean", "dct - mean")
PICTURE = "signal_fingerprints.png"


def signal_fingerprint_rows(images: np.ndarray, labels: Sequence[str] | np.ndarray, *,
                            denoiser: str = "median") -> dict[str, dict[str, np.ndarray]]:
    """``{"residual" | "fft" | "dct" | "fft - mean" | "dct - mean": {source: (C, H, W)}}`` from uint8
    images (N, H, W[, C]) and their source names."""
    rows = signal_fingerprints(images_to_float(images), np.asarray([str(v) for v in labels]), denoiser=denoiser)
    for kind in ("fft", "dct"):
        mean = np.mean(list(rows[kind].values()), axis=0)
        rows[f"{kind} - mean"] = {s: m - mean for s, m in rows[kind].items()}
    return rows


def save_signal_fingerprints(rows: dict[str, dict[str, np.ndarray]], out_dir: str | Path, *,
                             title: str = "signal fingerprints") -> Path:
    """Write ``signal_fingerprints.png`` (rows x sources) and ``signal_fingerprints.safetensors``
    (tensor ``<row>/<source>``) into ``out_dir``; returns the PNG's path."""
    from ganprint.plots import plot_source_maps
    from ganprint.serialization import save_tensors

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plot_source_maps(rows, title, out / PICTURE, diverging=DIVERGING_ROWS)
    save_tensors(out / "signal_fingerprints.safetensors",
                 {f"{row}/{source}": torch.from_numpy(np.ascontiguousarray(m, dtype=np.float32))
                  for row, maps in rows.items() for source, m in maps.items()})
    return out / PICTURE
