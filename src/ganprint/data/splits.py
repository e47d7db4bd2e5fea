"""Which images of a folder dataset train, validate and evaluate a model.

The rules every command follows (``train``, ``add-source``, ``immunise``, ``eval``, ``robustness``):

* **Training and validation.** ``DIR/train`` and ``DIR/val`` when both exist. Otherwise the images
  of ``DIR/train`` (split layout without ``val``) or of every source folder (flat layout
  ``DIR/<source>/``) are split per source, 85 % training and 15 % validation
  (:data:`VAL_FRACTION`, stratified and seeded by :func:`~ganprint.data.folder.split_indices`).
  ``DIR/test`` is never read for training.
* **Evaluation.** The split asked for; by default ``test`` when the folder has one, else the only
  split there is, which for a flat folder is every image: the images the model trained on, unless
  the folder is not the training folder. :mod:`ganprint.data.provenance` tells the two apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ganprint.data.folder import FolderDataset, LoadedImages, load_images, split_indices

__all__ = [
    "VAL_FRACTION",
    "TrainValData",
    "evaluation_split",
    "load_labelled",
    "load_train_val",
    "training_files",
]

VAL_FRACTION = 0.15
"""Share of each source held out for validation when the folder has no ``val`` split."""

_DECODE_WORKERS = 4


@dataclass
class TrainValData:
    """Decoded training and validation images with source names as labels.

    Attributes:
        x_train, y_train: ``(N, H, W, C)`` ``uint8`` images and their source names.
        x_val, y_val: The same for validation (possibly empty).
        classes: Every source folder of the dataset, sorted (a source may have no images).
        layout: ``"split"`` (``DIR/train|val|test/<source>/``) or ``"flat"`` (``DIR/<source>/``).
        errors: ``(path, reason)`` of the files that could not be decoded.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    classes: tuple[str, ...]
    layout: str
    errors: list[tuple[Path, str]] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{"train": {source: n}, "val": {source: n}}`` over every source of the dataset."""
        return {name: {c: int(np.sum(y == c)) for c in self.classes}
                for name, y in (("train", self.y_train), ("val", self.y_val))}


def load_labelled(dataset: FolderDataset, split: str, *, channels: int, size: tuple[int, int],
                  progress: bool = True) -> tuple[LoadedImages, np.ndarray]:
    """Decode split ``split`` of ``dataset``: the images (with paths and per-file errors) and
    their source names.

    Raises:
        KeyError: If the dataset has no such split (the message lists those it has).
    """
    loaded = load_images(dataset.split(split), channels=channels, size=size, progress=progress,
                         desc=f"decoding {split}", workers=_DECODE_WORKERS)
    return loaded, np.asarray(dataset.classes)[loaded.labels]


def training_files(dataset: FolderDataset) -> list[tuple[Path, int]]:
    """The ``(path, class index)`` items :func:`load_train_val` reads (training and validation
    together): ``train`` and ``val`` of a split folder, or every image of a flat one."""
    if not dataset.has_splits:
        return list(dataset.splits["all"])
    return [item for name in ("train", "val") for item in dataset.splits.get(name, [])]


def load_train_val(dataset: FolderDataset, *, channels: int, size: tuple[int, int], seed: int = 0,
                   val_fraction: float = VAL_FRACTION, progress: bool = True) -> TrainValData:
    """The training and validation images of ``dataset`` (see the module docstring for the rules).

    Raises:
        ValueError: If the dataset has split folders but no ``train``.
    """
    classes = np.asarray(dataset.classes)
    layout = "split" if dataset.has_splits else "flat"
    if dataset.has_splits and "train" not in dataset.splits:
        raise ValueError(f"{dataset.root} has split folders ({', '.join(dataset.splits)}) but no train/ "
                         "to train on")
    if dataset.has_splits and "val" in dataset.splits:
        train, y_train = load_labelled(dataset, "train", channels=channels, size=size, progress=progress)
        val, y_val = load_labelled(dataset, "val", channels=channels, size=size, progress=progress)
        return TrainValData(train.images, y_train, val.images, y_val, dataset.classes, layout,
                            train.errors + val.errors)
    everything, y = load_labelled(dataset, "train" if dataset.has_splits else "all", channels=channels,
                                  size=size, progress=progress)
    parts = split_indices(everything.labels, fractions=(1.0 - val_fraction, val_fraction, 0.0), seed=seed)
    tr, va = parts["train"], parts["val"]
    return TrainValData(everything.images[tr], classes[everything.labels[tr]], everything.images[va],
                        classes[everything.labels[va]], dataset.classes, layout, everything.errors)


def evaluation_split(dataset: FolderDataset, split: str | None = None) -> str:
    """The split an evaluation scores: ``split`` when given, else ``test`` when the dataset has
    one, else its first split (``all`` for a flat folder)."""
    if split is not None:
        return split
    return "test" if "test" in dataset.splits else next(iter(dataset.splits))

