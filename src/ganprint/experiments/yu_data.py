"""The data of Yu et al.'s studies (seed 004): real images (the bundled photo crops offline, CelebA
faces cropped as in seed 004 through torchvision for users with internet), each GAN's images of a
split, and the source folders of the labelled dataset."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
from PIL import Image

from ganprint.data.photos import PhotoCropConfig, load_photo_crops

REAL_SOURCES = ("photos", "celeba")

SAMPLING_SEEDS = {"train": 1000, "val": 1001, "test": 1002}
"""Latent stream per split: a GAN's train, val and test images never share a latent vector."""
REAL_ROLES = {"gan": 0, "attr": 1, "quality": 7, "reference": 8, "monitor": 9}
"""Offset per role of real images (added to the run's seed; times the GANs' image count skipped on
CelebA): the GANs, the attributor's real class, the quality figure and the training monitor never
share real images."""

CELEBA_CROP_CENTER = (89, 121)
"""Seed 004: "We crop each image centered at (x,y) = (89,121) with size 128x128" (aligned CelebA)."""
CELEBA_CROP_SIZE = 128


def celeba_face_crop(image: np.ndarray, size: int) -> np.ndarray:
    """Seed 004's CelebA crop (128x128 centred at x=89, y=121 of the aligned 178x218 image),
    resized to ``size`` x ``size`` with area averaging. uint8 (H, W, 3) -> uint8 (size, size, 3)."""
    cx, cy = CELEBA_CROP_CENTER
    half = CELEBA_CROP_SIZE // 2
    crop = np.asarray(image)[cy - half:cy + half, cx - half:cx + half]
    if crop.shape[:2] != (CELEBA_CROP_SIZE, CELEBA_CROP_SIZE):
        raise ValueError(f"expected an aligned CelebA image of 178x218, got {np.asarray(image).shape}")
    if size != CELEBA_CROP_SIZE:
        crop = np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.BOX))
    return crop


def load_celeba_crops(split: str, n: int, *, skip: int = 0, size: int = 32, root: str | Path | None = None,
                      timeout: float = 30.0) -> np.ndarray:
    """Images ``skip .. skip + n - 1`` of CelebA's ``split`` ('train', 'val', 'test') as seed-004 face crops,
    uint8 (n, size, size, 3). Downloads through torchvision on first use; offline this fails within
    ``timeout`` seconds with a clear RuntimeError instead of hanging."""
    from torchvision.datasets import CelebA

    from ganprint.data.mnist import default_cache_dir

    names = {"train": "train", "val": "valid", "test": "test"}
    if split not in names:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(names)}")
    root = Path(root) if root is not None else default_cache_dir() / "torchvision"
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        try:
            ds = CelebA(str(root), split=names[split], download=False)
        except RuntimeError:
            ds = CelebA(str(root), split=names[split], download=True)
    except Exception as exc:  # URLError, socket errors, gdown quota, RuntimeError from torchvision
        raise RuntimeError(
            f"could not get CelebA through torchvision into {root} ({exc}); without internet "
            "use the bundled photo crops (real_source 'photos')") from None
    finally:
        socket.setdefaulttimeout(previous)
    stop = min(skip + n, len(ds))
    return np.stack([celeba_face_crop(np.asarray(ds[i][0].convert("RGB")), size) for i in range(skip, stop)]) \
        if stop > skip else np.zeros((0, size, size, 3), np.uint8)


def load_real(source: str, split: str, n: int, seed: int, *, skip: int = 0, size: int = 32,
              cache_dir: str | Path | None = None) -> np.ndarray:
    """Real images uint8 (n, size, size, 3) of ``split`` from a named source.

    ``photos``: random multi-scale crops of the bundled photos; the splits use different photos
    (:data:`ganprint.data.photos.PHOTO_SPLITS`), and different ``seed`` values give different crops
    of the same photos (the GANs train on one seed, the attributor's real class on another).
    ``celeba``: CelebA's own splits; ``skip`` images are passed over (disjoint sets for the GANs and
    the attributor), ``seed`` selects nothing."""
    if source == "photos":
        return load_photo_crops(split, PhotoCropConfig(n=n, size=size, seed=seed), cache_dir)
    if source == "celeba":
        root = None if cache_dir is None else Path(cache_dir) / "torchvision"
        return load_celeba_crops(split, n, skip=skip, size=size, root=root)
    raise ValueError(f"unknown real source {source!r}; known: {', '.join(REAL_SOURCES)}")


def gan_images(gan_dir: str | Path, split: str, n: int, device: str) -> np.ndarray:
    """Exactly ``n`` images of a GAN folder from the split's own latent stream (:data:`SAMPLING_SEEDS`),
    uint8 (n, H, W, C)."""
    from ganprint.gans.sampling import chunk_latents, generate, load_generator

    G, cfg = load_generator(gan_dir, device=device)
    return generate(G, chunk_latents(SAMPLING_SEEDS[split], 0, cfg["latent_dim"], n))


def write_source(folder: Path, n: int, images_fn) -> None:
    """``folder/000000.png ...``: the ``n`` images of ``images_fn(n)``, unless the folder holds them
    already (an interrupted stage resumes source by source)."""
    from ganprint.gans.sampling import save_png

    if folder.is_dir() and len(list(folder.glob("*.png"))) >= n:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images_fn(n)):
        save_png(img, folder / f"{i:06d}.png")
