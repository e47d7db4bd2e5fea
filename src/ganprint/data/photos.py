"""Real color images offline: random 32x32 crops of the photos bundled with scikit-image and scikit-learn.

The color GANs of seed 000 §3.2 train on CIFAR-10. Without a network, the real source is crops of
the ten color photographs that ship inside the installed ``scikit-image`` and ``scikit-learn``
packages (no download). Each crop is a random square of side ``s`` (``s`` drawn from several
scales, so that the crops hold both fine texture and whole objects), resized to 32x32 with area
averaging, and flipped left-right at random. The photos are split by *photo*, so that train,
validation and test crops never share a picture (see :data:`PHOTO_SPLITS`). Crops are
deterministic for a seed and cached once as a ``.npz`` array file (loaded with
``allow_pickle=False``), like the bundled MNIST digits in :mod:`ganprint.data.mnist`.

CIFAR-10 itself comes through torchvision for users with internet (:func:`load_cifar10_torchvision`);
offline that fails fast with a clear error instead of hanging.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from ganprint.data.mnist import default_cache_dir

COLOR_SOURCES = ("photos", "cifar10")
"""Named color sources of real images: ``photos`` (bundled, offline) and ``cifar10`` (torchvision)."""


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[0] if isinstance(image, tuple) else image  # stereo_motorcycle -> left view

    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "coffee": _skimage("coffee"),
    "hubble_deep_field": _skimage("hubble_deep_field"),
    "retina": _skimage("retina"),
    "immunohistochemistry": _skimage("immunohistochemistry"),
    "motorcycle": _skimage("stereo_motorcycle"),
    "china": _sklearn("china.jpg"),
    "chelsea": _skimage("chelsea"),
    "rocket": _skimage("rocket"),
    "flower": _sklearn("flower.jpg"),
}
"""The bundled color photographs by name (each loader returns uint8 (H, W, 3) and needs no network)."""

PHOTO_SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("astronaut", "coffee", "hubble_deep_field", "retina", "immunohistochemistry", "motorcycle", "china"),
    "val": ("chelsea",),
    "test": ("rocket", "flower"),
}
"""Which photos each split's crops come from; no photo is in two splits."""

HELD_OUT_COLUMNS = 0.75
"""Where the region splits cut each training photo: columns left of this fraction are ``region-train``."""

REGION_SPLITS: dict[str, tuple[tuple[str, ...], tuple[float, float, float, float]]] = {
    "region-train": (PHOTO_SPLITS["train"], (0.0, 0.0, 1.0, HELD_OUT_COLUMNS)),
    "region-val": (PHOTO_SPLITS["train"], (0.0, HELD_OUT_COLUMNS, 0.5, 1.0)),
    "region-test": (PHOTO_SPLITS["train"], (0.5, HELD_OUT_COLUMNS, 1.0, 1.0)),
}
"""Splits of the *same* seven training photos by region, ``(photos, (top, left, bottom, right))`` as
fractions of each photo: the left three quarters train, the right quarter's upper half validates and
its lower half tests. Their crops never overlap, yet come from one distribution, as the real test
images of a study on one dataset do (seed 004: CelebA's own test faces). The photo splits of
:data:`PHOTO_SPLITS` instead test on photos never seen at all."""


WHOLE_PHOTO = (0.0, 0.0, 1.0, 1.0)
"""The box (top, left, bottom, right) of a whole photo."""


def photo_split(split: str) -> tuple[tuple[str, ...], tuple[float, float, float, float]]:
    """``(photo names, box)`` of a split of :data:`PHOTO_SPLITS` (whole photos) or :data:`REGION_SPLITS`."""
    if split in REGION_SPLITS:
        return REGION_SPLITS[split]
    if split in PHOTO_SPLITS:
        return PHOTO_SPLITS[split], WHOLE_PHOTO
    raise ValueError(f"unknown photo split {split!r}; known: {', '.join([*PHOTO_SPLITS, *REGION_SPLITS])}")


@dataclass(frozen=True)
class PhotoCropConfig:
    """How crops are drawn: ``n`` crops of ``size`` x ``size`` pixels from squares whose side is
    drawn uniformly from ``scales`` (source pixels; sides larger than a photo are skipped for it),
    spread evenly over the split's photos, flipped left-right with probability 1/2 if ``flip``,
    all inside the region ``box`` (top, left, bottom, right; fractions of each photo)."""

    n: int = 10_000
    size: int = 32
    scales: tuple[int, ...] = (32, 48, 64, 96, 128, 192)
    flip: bool = True
    seed: int = 0
    box: tuple[float, float, float, float] = WHOLE_PHOTO

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("n must be >= 0")
        if self.size < 1:
            raise ValueError("size must be >= 1")
        object.__setattr__(self, "scales", tuple(int(s) for s in self.scales))
        if not self.scales or min(self.scales) < 1:
            raise ValueError("scales must be positive crop sides")
        object.__setattr__(self, "box", tuple(float(v) for v in self.box))
        top, left, bottom, right = self.box
        if len(self.box) != 4 or not (0.0 <= top < bottom <= 1.0 and 0.0 <= left < right <= 1.0):
            raise ValueError(f"box must be (top, left, bottom, right) fractions with top < bottom, left < right, "
                             f"got {self.box}")


def photo_crops(photos: Sequence[np.ndarray], config: PhotoCropConfig) -> np.ndarray:
    """Random square crops of ``photos`` (uint8 (H, W, 3) each) -> uint8 (n, size, size, 3).

    Crop ``i`` comes from (the ``box`` region of) photo ``i % len(photos)``; everything else is drawn from
    ``numpy.random.default_rng(config.seed)``, so the result depends only on its arguments.
    """
    if not photos:
        raise ValueError("no photos to crop")
    rng = np.random.default_rng(config.seed)
    out = np.empty((config.n, config.size, config.size, 3), dtype=np.uint8)
    top, left, bottom, right = config.box
    regions = []
    for photo in photos:
        h, w = photo.shape[:2]
        regions.append(photo[round(top * h):round(bottom * h), round(left * w):round(right * w)])
    for i in range(config.n):
        photo = regions[i % len(regions)]
        h, w = photo.shape[:2]
        sides = [s for s in config.scales if s <= min(h, w)] or [min(h, w)]
        side = sides[rng.integers(len(sides))]
        top, left = rng.integers(h - side + 1), rng.integers(w - side + 1)
        crop = photo[top:top + side, left:left + side]
        if side != config.size:
            crop = np.asarray(Image.fromarray(crop).resize((config.size, config.size), Image.Resampling.BOX))
        if config.flip and rng.random() < 0.5:
            crop = crop[:, ::-1]
        out[i] = crop
    return out


def load_photo(name: str) -> np.ndarray:
    """One bundled photo as uint8 (H, W, 3)."""
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; known: {', '.join(sorted(PHOTOS))}")
    try:
        image = np.asarray(PHOTOS[name]())
    except ImportError as exc:
        raise RuntimeError(f"the bundled photo {name!r} needs scikit-image and scikit-learn ({exc})") from None
    if image.ndim != 3 or image.shape[2] < 3 or image.dtype != np.uint8:
        raise ValueError(f"photo {name!r}: expected uint8 (H, W, 3), got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image[..., :3])


def load_photo_crops(split: str = "train", config: PhotoCropConfig | None = None,
                     cache_dir: str | Path | None = None) -> np.ndarray:
    """Crops of the bundled photos of ``split`` ('train', 'val', 'test' of :data:`PHOTO_SPLITS`, or a
    region split of :data:`REGION_SPLITS`), cached as an array file.

    Returns uint8 (n, size, size, 3). The cache file's name holds a digest of the split, its
    photos and the config, so a different request never reads a stale file.
    """
    names, box = photo_split(split)
    config = replace(config or PhotoCropConfig(), box=box)
    fields = asdict(config)
    if config.box == WHOLE_PHOTO:
        del fields["box"]  # the whole photo: the same cache key as before regions existed
    key = json.dumps({"split": split, "photos": names, **fields, "v": 1}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cache / f"photos_{split}_{config.n}x{config.size}_{digest}.npz"
    if cached.is_file():
        with np.load(cached, allow_pickle=False) as z:
            return z["images"]
    crops = photo_crops([load_photo(name) for name in names], config)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f"{cached.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, images=crops)
    os.replace(tmp, cached)
    return crops


def load_cifar10_torchvision(root: str | Path | None = None, *, train: bool = True, download: bool = True,
                             timeout: float = 30.0) -> np.ndarray:
    """CIFAR-10 images through torchvision as uint8 (N, 32, 32, 3) (downloads on first use).

    Offline, the download fails within ``timeout`` seconds with a clear RuntimeError.
    """
    import socket

    from torchvision.datasets import CIFAR10

    root = Path(root) if root is not None else default_cache_dir() / "torchvision"
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        ds = CIFAR10(str(root), train=train, download=download)
    except Exception as exc:  # URLError, socket errors, RuntimeError from torchvision
        raise RuntimeError(
            f"could not get CIFAR-10 through torchvision into {root} ({exc}); without internet "
            "use the bundled photo crops (source 'photos') or a folder of images"
        ) from None
    finally:
        socket.setdefaulttimeout(previous)
    return np.asarray(ds.data, dtype=np.uint8)


def load_color_source(name: str = "photos", split: str = "train", n: int = 10_000, seed: int = 0,
                      cache_dir: str | Path | None = None) -> np.ndarray:
    """Real 32x32 RGB images by source name: 'photos' (bundled crops, offline) or 'cifar10'
    (torchvision; its 'test' split is CIFAR-10's test set, 'val' the last 5,000 training images).
    Returns uint8 (N, 32, 32, 3), at most ``n`` images."""
    if name == "photos":
        return load_photo_crops(split, PhotoCropConfig(n=n, seed=seed), cache_dir)
    if name == "cifar10":
        if split not in ("train", "val", "test"):
            raise ValueError(f"unknown split {split!r}; known: train, val, test")
        images = load_cifar10_torchvision(None if cache_dir is None else Path(cache_dir) / "torchvision",
                                          train=split != "test")
        if split != "test":
            images = images[:-5000] if split == "train" else images[-5000:]
        return images[:n]
    raise ValueError(f"unknown color source {name!r}; known: {', '.join(COLOR_SOURCES)}")
