"""Building blocks shared by the GAN studies of seed 000 §3.1.6 and §3.2 (``cifar-gans``,
``gan-epochs``, ``pairs``): train a GAN into a folder (resuming), draw the classifier's
train/val/test images from separate latent streams of a generator or of one of its snapshots,
and fit and score an attributor on per-class image sets, caching every result as JSON so that a
rerun skips it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganprint.attribution.training import FitConfig
from ganprint.serialization import read_json, write_json

SPLITS = ("train", "val", "test")
SPLIT_STREAMS = {"train": 11, "val": 12, "test": 13}
"""Latent streams (``ganprint gan sample --seed``) of the classifier's splits: no latent is in two splits."""


@dataclasses.dataclass(frozen=True)
class GanEntry:
    """One GAN of a study: a registered architecture, its options, a training seed and overrides of
    the profile's training settings."""

    name: str
    arch: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    seed: int = 0
    train: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any], default_seed: int = 0) -> GanEntry:
        unknown = set(d) - {"arch", "options", "seed", "train"}
        if unknown:
            raise ValueError(f"GAN {name}: unknown keys {sorted(unknown)}")
        if "arch" not in d:
            raise ValueError(f"GAN {name}: 'arch' is required")
        return cls(name, str(d["arch"]), dict(d.get("options", {})), int(d.get("seed", default_seed)),
                   dict(d.get("train", {})))


def gan_config(entry: GanEntry, profile_gan: Mapping[str, Any], *, snapshot_every: int | None = None,
               checkpoint_every: int = 100):
    """The :class:`~ganprint.gans.config.GanTrainConfig` of ``entry`` under a profile's ``gan`` settings
    (``width`` and ``disc_width`` there are architecture options; the entry's own options win)."""
    from ganprint.gans.config import GanTrainConfig

    settings = {**profile_gan, **entry.train}
    options = {k: settings.pop(k) for k in ("width", "disc_width") if k in settings}
    return GanTrainConfig(arch=entry.arch, arch_options={**options, **entry.options}, seed=entry.seed,
                          snapshot_every=snapshot_every, checkpoint_every=checkpoint_every, **settings)


def finished_gan_info(out_dir: Path, config) -> dict[str, Any]:
    """The ``config.json`` of a finished GAN folder, checked against the training ``config`` it
    should have been trained with (a changed profile needs another run folder)."""
    import json

    info = read_json(Path(out_dir) / "config.json")
    if info.get("train") != json.loads(json.dumps(config.to_dict())):
        raise ValueError(f"{out_dir} holds a GAN trained with other settings; use another output folder")
    return info


def sample_images(gan_dir: Path, n: int, stream: int, *, step: int | None = None,
                  device: str = "cpu") -> np.ndarray:
    """Images ``0 .. n-1`` of latent stream ``stream`` of a GAN folder (or of its snapshot at
    ``step``) as uint8 (N, H, W, C), exactly as ``ganprint gan sample --seed stream`` writes them."""
    from ganprint.gans.sampling import load_generator
    from ganprint.inversion.verification import generator_samples

    G, config = load_generator(gan_dir, device, step=step)
    return generator_samples(G, int(config["latent_dim"]), n, stream)


def gan_splits(gan_dir: Path, counts: Mapping[str, int], *, step: int | None = None,
               device: str = "cpu") -> dict[str, np.ndarray]:
    """The classifier's train/val/test images of one generator, each split from its own latent stream."""
    return {split: sample_images(gan_dir, int(counts[split]), SPLIT_STREAMS[split], step=step, device=device)
            for split in SPLITS}


def attribute(arch: str, data: Mapping[str, Mapping[str, np.ndarray]], fit: FitConfig, *,
              device: str = "cpu", progress: bool = True, model_dir: Path | None = None,
              representation: str = "pixels") -> dict[str, Any]:
    """Fit attributor ``arch`` on ``data[class][split]`` (uint8 (N, H, W[, C]) images; input
    ``representation``) and score it on the test split: accuracy, per-class figures, confusion
    matrix (labels in ``data``'s order), fit seconds and epochs run. The model is saved to
    ``model_dir`` when one is given."""
    from ganprint.attribution.attributor import Attributor, Preprocessing
    from ganprint.attribution.metrics import classification_report

    classes = list(data)
    sample = next(iter(data.values()))["train"]
    channels = 1 if sample.ndim == 3 else int(sample.shape[-1])
    pre = Preprocessing(size=(int(sample.shape[1]), int(sample.shape[2])), channels=channels)

    def stack(split: str) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([data[c][split] for c in classes])
        y = np.concatenate([np.full(len(data[c][split]), c, dtype=object) for c in classes])
        return x, y.astype(str)

    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (stack(s) for s in SPLITS)
    model = Attributor(arch=arch, preprocessing=pre, fit_config=fit, device=device, representation=representation)
    t0 = time.perf_counter()
    model.fit(x_tr, y_tr, x_va, y_va, progress=progress)
    seconds = time.perf_counter() - t0
    if model_dir is not None:
        model.save(model_dir)
    order = [classes.index(str(c)) for c in model.classes_]
    pred = np.asarray(order)[model.predict_proba(x_te).argmax(1)]
    true = np.asarray([classes.index(c) for c in y_te])
    report = classification_report(true, pred, classes)
    return {**report, "val_accuracy": float(model.score(x_va, y_va)), "fit_seconds": round(seconds, 2),
            "epochs_run": model.history_.get("epochs_run"), "train_images": int(len(x_tr)),
            "representation": representation}


def cached(path: Path, compute: Callable[[], dict[str, Any]], settings: Any = None) -> dict[str, Any]:
    """``compute()``'s result, stored as JSON at ``path`` with the ``settings`` it was computed
    under; read back instead of recomputed on a rerun with the same settings."""
    import json

    key = json.loads(json.dumps(settings))
    if path.is_file():
        stored = read_json(path)
        if stored.pop("settings", None) == key:
            return stored
    result = compute()
    if result:  # an empty result (a stage that could not run) is computed again next time
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {**result, "settings": key})
    return result


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


def quality_figures(real_train: np.ndarray | None, real_reference: np.ndarray, samples: Mapping[str, np.ndarray], *,
                    seed: int = 0, device: str = "cpu", model=None) -> dict[str, dict[str, Any]]:
    """Each generator's quality figures (:func:`ganprint.quality.figures.gan_quality`: a Fréchet
    distance on the features of a small network trained on ``real_train`` and the network-free
    sliced Wasserstein distance, both against ``real_reference`` images of the GANs' training
    distribution that no GAN trained on, with the real floor, the trivial failures and the pass
    rule). ``model``, when given, is the Fréchet feature network to use instead of training one on
    ``real_train``."""
    from ganprint.quality.figures import quality_scorer
    from ganprint.quality.frechet import fit_quality_model

    if model is None:
        model = fit_quality_model(real_train, seed=seed, device=device)
    score = quality_scorer(model, real_reference, seed=seed)
    return {name: _plain(score(x)) for name, x in samples.items()}


def _plain(d: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-ready copy of a flat result mapping (NumPy scalars to Python)."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in d.items()}


def threads() -> int:
    return torch.get_num_threads()
