"""Folder datasets: images sorted into one folder per source (GAN or real), optionally by split.

Two layouts are accepted under a root folder ``DIR``:

* ``DIR/<source>/...`` (no split): every image belongs to the single split ``"all"``;
* ``DIR/<split>/<source>/...`` where each ``<split>`` is ``train``, ``val`` or ``test``
  (``valid`` and ``validation`` are accepted for ``val``; names are case-insensitive).

Images are found recursively inside each source folder with the rules of
:func:`ganprint.data.decode.iter_image_paths` (image extensions only, hidden entries skipped,
sorted by name), so a scan is deterministic. Files lying directly in ``DIR`` or in a split folder
belong to no source and are ignored. The files are not opened while scanning: decoding happens in
:func:`load_images`, where a broken file becomes a per-file error instead of an exception.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from tqdm import tqdm

from ganprint.data.decode import (
    IMAGE_EXTENSIONS,
    ImageDecodeError,
    decode_image,
    iter_image_paths,
)

__all__ = [
    "SPLIT_ALIASES",
    "SPLITS",
    "FolderDataset",
    "LoadedImages",
    "load_images",
    "scan_folder_dataset",
    "split_indices",
]

SPLITS: tuple[str, ...] = ("train", "val", "test")
"""Canonical split names, in the order they are reported."""

SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
}
"""Accepted split folder names (lower-cased) and the canonical split each one stands for."""

_NO_SPLIT = "all"

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class FolderDataset:
    """The image files of a folder dataset, by split and source.

    Attributes:
        root: The dataset's root folder.
        classes: Source folder names, the union over all splits, sorted; a label is an index
            into this tuple.
        splits: Split name -> list of ``(file path, class index)``, in scan order. Splits are
            among ``train``, ``val`` and ``test`` (in that order); the no-split layout has the
            one split ``"all"``.
    """

    root: Path
    classes: tuple[str, ...]
    splits: dict[str, list[tuple[Path, int]]]

    @property
    def has_splits(self) -> bool:
        """Whether the dataset uses the ``DIR/<split>/<source>/`` layout."""
        return set(self.splits) != {_NO_SPLIT}

    def split(self, name: str) -> list[tuple[Path, int]]:
        """The ``(path, class index)`` items of split ``name`` (aliases such as ``valid`` work).

        Raises:
            KeyError: If the dataset has no such split; the message lists those it has.
        """
        key = SPLIT_ALIASES.get(name.lower(), name) if self.has_splits else name
        try:
            return self.splits[key]
        except KeyError:
            available = ", ".join(self.splits) or "none"
            raise KeyError(
                f"{self.root} has no split {name!r}; available splits: {available}"
            ) from None


def scan_folder_dataset(root: str | os.PathLike[str]) -> FolderDataset:
    """Find the image files of a folder dataset (see the module docstring for the layouts).

    Args:
        root: The dataset's root folder.

    Returns:
        The dataset's files, by split and source.

    Raises:
        ValueError: If ``root`` is not a folder, holds no source folders, mixes split folders
            with other folders, has two folders for the same split (``val`` and ``valid``), or
            holds no image files at all.
    """
    root = Path(root)
    if not root.exists():
        raise ValueError(f"{root}: no such folder")
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder")
    top = _subfolders(root)
    split_names = {
        name: SPLIT_ALIASES[name.lower()] for name in top if name.lower() in SPLIT_ALIASES
    }
    if split_names:
        others = sorted(set(top) - set(split_names))
        if others:
            raise ValueError(
                f"{root} mixes split folders ({', '.join(sorted(split_names))}) with other "
                f"folders ({', '.join(others)}); use either DIR/<source>/ or "
                "DIR/<split>/<source>/ with splits named train, val and test"
            )
        by_split: dict[str, Path] = {}
        for name, split in sorted(split_names.items()):
            if split in by_split:
                raise ValueError(
                    f"{root} has two folders for the {split!r} split: "
                    f"{by_split[split].name!r} and {name!r}"
                )
            by_split[split] = top[name]
        layout = {s: _subfolders(by_split[s]) for s in SPLITS if s in by_split}
    else:
        layout = {_NO_SPLIT: top}

    classes = tuple(sorted({source for sources in layout.values() for source in sources}))
    if not classes:
        raise ValueError(
            f"{root} has no source folders (expected DIR/<source>/ or DIR/<split>/<source>/)"
        )
    index = {name: i for i, name in enumerate(classes)}
    splits = {
        split: [
            (path, index[source])
            for source, folder in sources.items()
            for path in iter_image_paths([folder])
        ]
        for split, sources in layout.items()
    }
    if not any(splits.values()):
        raise ValueError(
            f"{root} holds no image files (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    return FolderDataset(root=root, classes=classes, splits=splits)


def split_indices(
    labels: Sequence[int] | np.ndarray,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Deterministic stratified split of ``range(len(labels))`` into train, val and test.

    Each class is shuffled with ``numpy.random.default_rng(seed)`` (classes in sorted order, so
    the same labels and seed always give the same split) and cut by ``fractions`` using
    largest-remainder rounding, so that the three parts of a class add up exactly. A class with
    at least as many items as there are non-zero fractions (three, by default) gets at least one
    item in every split whose fraction is non-zero; smaller classes go to train first. A split
    whose fraction is zero is always empty.

    Args:
        labels: One class label per item.
        fractions: Fractions of each class for train, val and test; non-negative, summing to 1.
        seed: Seed of the shuffle.

    Returns:
        ``{"train", "val", "test"}`` -> sorted ``int64`` index arrays; they are disjoint and
        together cover every index exactly once.

    Raises:
        ValueError: If ``fractions`` is not three non-negative numbers summing to 1, or
            ``labels`` is not one-dimensional.
    """
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.shape != (3,) or not np.all(np.isfinite(fr)) or fr.min() < 0 or abs(fr.sum() - 1) > 1e-6:
        raise ValueError(
            f"fractions must be three non-negative numbers summing to 1, got {tuple(fractions)}"
        )
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {y.shape}")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        bounds = np.cumsum(_allocate(len(members), fr))
        for name, chunk in zip(SPLITS, np.split(members, bounds[:-1]), strict=True):
            parts[name].append(chunk)
    return {
        name: np.sort(np.concatenate(chunks)).astype(np.int64)
        if chunks
        else np.zeros(0, dtype=np.int64)
        for name, chunks in parts.items()
    }


@dataclass
class LoadedImages:
    """Decoded images with their labels, plus the files that could not be decoded.

    Attributes:
        images: ``(N, H, W, C)`` ``uint8`` array of the decoded images, in input order.
        labels: ``(N,)`` ``int64`` labels of ``images``.
        paths: The N files of ``images``.
        errors: ``(path, reason)`` for each file that could not be decoded, in input order.
    """

    images: np.ndarray
    labels: np.ndarray
    paths: list[Path]
    errors: list[tuple[Path, str]]


def load_images(
    items: Sequence[tuple[Path, int]],
    *,
    channels: int,
    size: tuple[int, int],
    workers: int = 0,
    progress: bool = True,
    desc: str = "decoding",
) -> LoadedImages:
    """Decode many files into one array with :func:`~ganprint.data.decode.decode_image`.

    A file that cannot be decoded is recorded in ``errors`` and left out of ``images``,
    ``labels`` and ``paths``; it never raises, so one bad file cannot sink a dataset.

    Args:
        items: ``(path, label)`` pairs, e.g. :meth:`FolderDataset.split`.
        channels: 1 (gray) or 3 (RGB).
        size: ``(height, width)`` every image is resized to.
        workers: With more than one, decode in that many threads (PIL releases the GIL while
            decoding); results keep the input order either way.
        progress: Show a progress bar on stderr.
        desc: The progress bar's label.

    Returns:
        The decoded images (an ``(0, H, W, C)`` array when none could be decoded) and the errors.

    Raises:
        ValueError: If ``channels``, ``size`` or ``workers`` are invalid.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    if (
        len(size) != 2
        or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in size)
    ):
        raise ValueError(f"size must be two positive integers (height, width), got {size!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be a non-negative integer, got {workers!r}")
    height, width = int(size[0]), int(size[1])

    def decode(item: tuple[Path, int]) -> np.ndarray | str:
        try:
            return decode_image(item[0], channels=channels, size=(height, width))
        except ImageDecodeError as exc:
            return exc.reason

    # Filled in place: stacking a list of arrays would need twice the memory at the end.
    images = np.empty((len(items), height, width, channels), dtype=np.uint8)
    labels: list[int] = []
    paths: list[Path] = []
    errors: list[tuple[Path, str]] = []
    with tqdm(
        total=len(items), desc=desc, unit="img", disable=not progress, file=sys.stderr, leave=False
    ) as bar:
        for (path, label), result in zip(items, _map(decode, items, workers), strict=True):
            if isinstance(result, str):
                errors.append((Path(path), result))
            else:
                images[len(paths)] = result
                labels.append(int(label))
                paths.append(Path(path))
            bar.update(1)
    return LoadedImages(
        images=images[: len(paths)],
        labels=np.asarray(labels, dtype=np.int64),
        paths=paths,
        errors=errors,
    )


# --------------------------------------------------------------------------------------------
# helpers


def _subfolders(folder: Path) -> dict[str, Path]:
    """Non-hidden subfolders of ``folder`` by name, sorted (symbolic links followed)."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda entry: entry.name)
    except OSError as exc:
        raise ValueError(f"{folder}: cannot list folder ({exc.strerror or exc})") from None
    found: dict[str, Path] = {}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                found[entry.name] = Path(entry.path)
        except OSError:
            continue
    return found


def _allocate(n: int, fractions: np.ndarray) -> np.ndarray:
    """Split ``n`` items into per-split counts by largest remainder; see :func:`split_indices`."""
    raw = fractions * n
    counts = np.floor(raw).astype(np.int64)
    positive = fractions > 0
    remainder = np.where(positive, raw - counts, -1.0)  # zero-fraction splits never get one
    short = n - int(counts.sum())
    if short > 0:
        counts[np.argsort(-remainder, kind="stable")[:short]] += 1
    wanted = np.flatnonzero(positive)
    if n >= len(wanted):
        for i in wanted:
            if counts[i] == 0:  # pigeonhole: some other split holds at least two
                counts[int(np.argmax(counts))] -= 1
                counts[i] += 1
    return counts


def _map(fn: Callable[[_T], _R], items: Sequence[_T], workers: int) -> Iterator[_R]:
    """``map(fn, items)``, in a thread pool when ``workers > 1``; results in input order.

    Leaving early (an exception, Ctrl-C) cancels the files not yet started instead of decoding
    the rest of the dataset first.
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ganprint-decode")
    try:
        yield from pool.map(fn, items)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

