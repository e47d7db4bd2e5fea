"""Folder datasets: ``DIR/<source>/...`` or ``DIR/<split>/<source>/...``; no conversion step."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ganprint.data.decode import ImageDecodeError, decode_image, iter_image_paths

SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


@dataclass(frozen=True)
class FolderDataset:
    """Image files by split and class. Without split folders the one split is ``"all"``."""

    root: Path
    classes: tuple[str, ...]
    splits: dict[str, list[tuple[Path, int]]]

    @property
    def has_splits(self) -> bool:
        return "all" not in self.splits

    def split(self, name: str) -> list[tuple[Path, int]]:
        try:
            return self.splits[name]
        except KeyError:
            raise KeyError(f"{self.root} has no split {name!r}; it has: {', '.join(self.splits)}") from None


def _class_dirs(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith(".")}


def scan_folder_dataset(root: str | Path) -> FolderDataset:
    """Find images by source (and split). Classes are source folder names, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder")
    top = _class_dirs(root)
    split_dirs = {SPLIT_ALIASES[n.lower()]: p for n, p in top.items() if n.lower() in SPLIT_ALIASES}
    layout = {s: _class_dirs(p) for s, p in split_dirs.items()} if split_dirs else {"all": top}
    classes = tuple(sorted({c for per in layout.values() for c in per}))
    if not classes:
        raise ValueError(f"{root} has no source folders (expected DIR/<source>/ or DIR/<split>/<source>/)")
    index = {c: i for i, c in enumerate(classes)}
    splits = {s: [(f, index[c]) for c, d in per.items() for f in iter_image_paths([d])] for s, per in layout.items()}
    if not any(splits.values()):
        raise ValueError(f"{root} holds no image files")
    return FolderDataset(root, classes, splits)


def split_indices(labels: Sequence[int], fractions: Sequence[float] = (0.7, 0.15, 0.15),
                  seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic stratified split of indices into train/val/test (sorted index arrays).

    Each class is shuffled with ``numpy.random.default_rng(seed)`` and cut by ``fractions``; a
    class with at least three items gets at least one in every split with a non-zero fraction.
    """
    labels = np.asarray(labels)
    fr = np.asarray(fractions, dtype=float)
    if fr.shape != (3,) or fr.min() < 0 or abs(fr.sum() - 1) > 1e-6:
        raise ValueError("fractions must be three non-negative numbers summing to 1")
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n = len(idx)
        n_val = int(round(n * fr[1]))
        n_test = int(round(n * fr[2]))
        if n >= 3:
            n_val = max(n_val, 1) if fr[1] > 0 else 0
            n_test = max(n_test, 1) if fr[2] > 0 else 0
        n_train = max(n - n_val - n_test, 0)
        out["train"].append(idx[:n_train])
        out["val"].append(idx[n_train:n_train + n_val])
        out["test"].append(idx[n_train + n_val:])
    return {k: np.sort(np.concatenate(v)) if v else np.zeros(0, int) for k, v in out.items()}


@dataclass
class LoadedImages:
    images: np.ndarray
    labels: np.ndarray
    paths: list[Path]
    errors: list[tuple[Path, str]]


def load_images(items: Sequence[tuple[Path, int]], *, channels: int, size: tuple[int, int], workers: int = 0,
                progress: bool = True, desc: str = "decoding") -> LoadedImages:
    """Decode many files into one array; failures are recorded in ``errors``, never raised."""

    def one(item: tuple[Path, int]):
        path, label = item
        try:
            return path, label, decode_image(path, channels=channels, size=size), None
        except ImageDecodeError as exc:
            return path, label, None, str(exc)

    bar = tqdm(total=len(items), desc=desc, disable=not progress, unit="img", leave=False, dynamic_ncols=True)
    images, labels, paths, errors = [], [], [], []

    def collect(results):
        for path, label, array, error in results:
            if error is None:
                images.append(array)
                labels.append(label)
                paths.append(path)
            else:
                errors.append((path, error))
            bar.update(1)

    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            collect(pool.map(one, items))
    else:
        collect(map(one, items))
    bar.close()
    stacked = np.stack(images) if images else np.zeros((0, size[0], size[1], channels), np.uint8)
    return LoadedImages(stacked, np.asarray(labels, dtype=np.int64), paths, errors)
