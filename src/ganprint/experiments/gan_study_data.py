"""The images of the GAN studies (``cifar-gans``, ``gan-epochs``, ``pairs``): the classifier's
train/val/test images drawn on demand from separate latent streams of a generator or of one of its
snapshots, each read declared to the study's :class:`~ganprint.experiments.run.Run`, and image grids."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ganprint.experiments.run import Run
from ganprint.experiments.stages import split_kind

REAL = "real"
"""The class name of real images."""
SPLIT_STREAMS = {"train": 11, "val": 12, "test": 13}
"""Latent streams (``ganprint gan sample --seed``) of the classifier's splits: no latent is in two splits."""


def sample_images(gan_dir: Path, n: int, stream: int, *, step: int | None = None,
                  device: str = "cpu") -> np.ndarray:
    """Images ``0 .. n-1`` of latent stream ``stream`` of a GAN folder (or of its snapshot at
    ``step``) as uint8 (N, H, W, C), exactly as ``ganprint gan sample --seed stream`` writes them."""
    from ganprint.gans.sampling import load_generator
    from ganprint.inversion.verification import generator_samples

    G, config = load_generator(gan_dir, device, step=step)
    return generator_samples(G, int(config["latent_dim"]), n, stream)


class GanImages:
    """The classifier's images of a run's GANs: ``counts[split]`` images of GAN ``name`` (at snapshot
    ``step``) from the split's latent stream, drawn on first use and kept; every read is declared to
    the run (:func:`~ganprint.experiments.stages.split_kind`: test images are report data)."""

    def __init__(self, run: Run, counts: Mapping[str, int], device: str) -> None:
        self.run, self.counts, self.device = run, counts, device
        self._kept: dict[tuple[str, str, int | None], np.ndarray] = {}

    def __call__(self, name: str, split: str, step: int | None = None) -> np.ndarray:
        self.run.read(split_kind(split), f"{name} {split} images")
        key = (name, split, step)
        if key not in self._kept:
            self._kept[key] = sample_images(self.run.out / "gans" / name, int(self.counts[split]),
                                            SPLIT_STREAMS[split], step=step, device=self.device)
        return self._kept[key]

    def forget(self, step: int | None) -> None:
        """Drop the kept images of snapshot ``step``."""
        self._kept = {k: v for k, v in self._kept.items() if k[2] != step}


def save_image_grid(images: np.ndarray, path: Path, cols: int = 8, scale: int = 2) -> None:
    """Tile uint8 (N, H, W) or (N, H, W, C) images into one PNG, ``cols`` per row, 2-px gaps."""
    from PIL import Image

    x = images if images.ndim == 4 else images[..., None]
    n, h, w, c = x.shape
    rows = -(-n // cols)
    canvas = np.full((rows * (h + 2) + 2, cols * (w + 2) + 2, c), 64, np.uint8)
    for i, img in enumerate(x):
        r, k = divmod(i, cols)
        canvas[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + k * (w + 2):2 + k * (w + 2) + w] = img
    pic = Image.fromarray(canvas[..., 0] if c == 1 else canvas)
    path.parent.mkdir(parents=True, exist_ok=True)
    pic.resize((pic.width * scale, pic.height * scale), Image.Resampling.NEAREST).save(path)
