"""Persistence of fingerprints (Yu et al. 2019, seed 004 §"persistence"): do the traces a source
leaves survive when an attributor only sees part of the image's frequencies, or only a patch?

Each variant of the data is made once, the same way for train, validation and test images, and a
fresh attributor is trained and tested on it:

* ``lowpass`` r: only spatial frequencies with radius <= r x Nyquist kept (ideal radial mask on the
  centred 2-D FFT, per channel), clipped to [0, 255];
* ``highpass`` r: only frequencies with radius > r x Nyquist kept; the result (zero-mean) is
  shifted to mid-grey (+128) and clipped, so it stays a valid 8-bit image;
* ``patch`` s: one s x s crop per image at a random position (fixed seed per split), the
  attributor built for s x s inputs.

:func:`persistence_table` returns ``{"clean": acc, "lowpass": {r: acc}, "highpass": {r: acc},
"patch": {s: acc}, "fit_seconds": {...}}``; :func:`format_persistence` renders it as Markdown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ganprint.serialization import read_json, write_json

__all__ = ["FAMILIES", "PersistenceConfig", "format_persistence", "frequency_filter", "persistence_table",
           "persistence_variants", "random_patches"]

FAMILIES = ("lowpass", "highpass", "patch")


class _Estimator(Protocol):
    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = ..., y_val: np.ndarray | None = ...,
            **kwargs: Any) -> Any: ...

    def score(self, X: np.ndarray, y: np.ndarray) -> float: ...


EstimatorFactory = Callable[[tuple[int, int]], _Estimator]
"""``factory((height, width))`` -> an unfitted estimator for images of that size."""


@dataclass(frozen=True)
class PersistenceConfig:
    """Which variants to train: low-pass and high-pass cut-offs (fractions of the Nyquist
    frequency, in (0, 1)), patch sides in pixels, and the seed of the patch positions."""

    lowpass: tuple[float, ...] = (0.5, 0.25)
    highpass: tuple[float, ...] = (0.25, 0.5)
    patches: tuple[int, ...] = (8, 14, 20)
    seed: int = 0

    def __post_init__(self) -> None:
        if any(not 0 < r < 1 for r in (*self.lowpass, *self.highpass)):
            raise ValueError(f"frequency cut-offs must be in (0, 1) (fractions of Nyquist), got {self}")
        if any(s < 4 for s in self.patches):
            raise ValueError(f"patch sides must be >= 4 px, got {self.patches}")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PersistenceConfig:
        return cls(lowpass=tuple(float(v) for v in d.get("lowpass", cls.lowpass)),
                   highpass=tuple(float(v) for v in d.get("highpass", cls.highpass)),
                   patches=tuple(int(v) for v in d.get("patches", cls.patches)), seed=int(d.get("seed", 0)))


def _radius(h: int, w: int) -> np.ndarray:
    """Radial frequency of each centred FFT bin as a fraction of Nyquist (1 at the edge midpoints)."""
    fy = np.fft.fftshift(np.fft.fftfreq(h)) / 0.5
    fx = np.fft.fftshift(np.fft.fftfreq(w)) / 0.5
    return np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)


def frequency_filter(images: np.ndarray, kind: str, cutoff: float) -> np.ndarray:
    """Low-pass or high-pass filtered copy of uint8 images (N, H, W[, C]) (see the module doc)."""
    if kind not in ("lowpass", "highpass"):
        raise ValueError(f"kind must be 'lowpass' or 'highpass', got {kind!r}")
    images = np.asarray(images)
    x = images.astype(np.float64)
    axes = (1, 2)
    mask = _radius(images.shape[1], images.shape[2]) <= cutoff
    if kind == "highpass":
        mask = ~mask
    if images.ndim == 4:
        mask = mask[..., None]
    spectrum = np.fft.fftshift(np.fft.fft2(x, axes=axes), axes=axes)
    y = np.fft.ifft2(np.fft.ifftshift(spectrum * mask, axes=axes), axes=axes).real
    if kind == "highpass":
        y = y + 128.0
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def random_patches(images: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """One ``size`` x ``size`` crop of each uint8 image (N, H, W[, C]), at a position drawn from ``seed``."""
    images = np.asarray(images)
    h, w = images.shape[1:3]
    if not 1 <= size <= min(h, w):
        raise ValueError(f"patch side {size} does not fit in {h}x{w} images")
    rng = np.random.default_rng(seed)
    top = rng.integers(0, h - size + 1, len(images))
    left = rng.integers(0, w - size + 1, len(images))
    return np.stack([im[t:t + size, s:s + size] for im, t, s in zip(images, top, left, strict=True)]) \
        if len(images) else images[:, :size, :size]


def persistence_variants(config: PersistenceConfig) -> list[tuple[str, str, Callable[[np.ndarray, int], np.ndarray]]]:
    """``(family, key, transform(images, split_seed))`` for every variant of ``config``, ``clean`` first."""
    out: list[tuple[str, str, Callable[[np.ndarray, int], np.ndarray]]] = [("clean", "", lambda x, _s: x)]
    for kind in ("lowpass", "highpass"):
        for r in getattr(config, kind):
            out.append((kind, f"{r:g}", lambda x, _s, k=kind, c=r: frequency_filter(x, k, c)))
    for s in config.patches:
        out.append(("patch", str(s), lambda x, seed, size=s: random_patches(x, size, config.seed + seed)))
    return out


def persistence_table(factory: EstimatorFactory, train: tuple[np.ndarray, np.ndarray],
                      val: tuple[np.ndarray, np.ndarray] | None, test: tuple[np.ndarray, np.ndarray],
                      config: PersistenceConfig = PersistenceConfig(), *, cache_dir: str | Path | None = None,
                      log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train ``factory(size)`` on each variant of ``train`` (uint8 images, source names), early-stop
    on the same variant of ``val``, and report test accuracy on that variant of ``test``.

    With ``cache_dir``, each finished row is kept there as JSON and a rerun skips it (resume).
    """
    cache = Path(cache_dir) if cache_dir is not None else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    table: dict[str, Any] = {"clean": None, **{f: {} for f in FAMILIES}, "fit_seconds": {},
                             "config": config.to_dict()}
    for family, key, transform in persistence_variants(config):
        name = family if not key else f"{family}_{key}"
        row_file = cache / f"{name}.json" if cache is not None else None
        if row_file is not None and row_file.is_file():
            row = read_json(row_file)
        else:
            t0 = time.perf_counter()
            x_tr, x_te = transform(train[0], 0), transform(test[0], 2)
            x_va = transform(val[0], 1) if val is not None else None
            model = factory(tuple(x_tr.shape[1:3]))
            model.fit(x_tr, train[1], x_va, val[1] if val is not None else None)
            row = {"accuracy": float(model.score(x_te, test[1])), "fit_seconds": round(time.perf_counter() - t0, 2)}
            if row_file is not None:
                write_json(row_file, row)
        if log is not None:
            log(f"persistence {name}: accuracy {row['accuracy']:.4f} ({row['fit_seconds']:.0f} s)")
        if family == "clean":
            table["clean"] = row["accuracy"]
        else:
            table[family][key] = row["accuracy"]
        table["fit_seconds"][name] = row["fit_seconds"]
    return table


def format_persistence(table: Mapping[str, Any]) -> str:
    """Markdown table: variant, what the attributor sees, test accuracy."""
    what = {"lowpass": "frequencies <= {} x Nyquist", "highpass": "frequencies > {} x Nyquist",
            "patch": "one random {0}x{0} patch"}
    lines = ["| variant | attributor sees | test accuracy |", "|---|---|---|",
             f"| clean | the whole image | {table['clean']:.4f} |"]
    for family in FAMILIES:
        for key, acc in table.get(family, {}).items():
            lines.append(f"| {family} {key} | {what[family].format(key)} | {acc:.4f} |")
    return "\n".join(lines)
