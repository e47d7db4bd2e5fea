"""Verification by inversion (seed 000 §3.3): was this image made by *this* generator?

An image ``x`` is mapped to a latent by the inverse model, the latent is refined by latent
optimisation (:mod:`ganprint.inversion.search`), and the reconstruction distance
``||G(z) - x||_2`` is compared with a threshold: images the generator made can be reproduced
almost exactly, other images cannot. The threshold is chosen on validation images — fresh samples
of the generator as positives, images of other generators and real images as negatives.

The inverse model and the threshold live inside the GAN folder::

    GAN_DIR/inverter/model.safetensors   the inverse model's weights
    GAN_DIR/inverter/config.json         threshold, search settings, validation figures, and the
                                         SHA-256 of the generator weights it was fitted to
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganprint.data.decode import decode_or_error, iter_image_paths
from ganprint.gans.sampling import chunk_latents, generate, load_generator
from ganprint.gans.trainer import ENCODER_FILE
from ganprint.inversion.encoder import InverseModel
from ganprint.inversion.search import LatentSearchConfig, search_latents
from ganprint.inversion.training import InverterTrainConfig, fit_inverse_model, predict_latents
from ganprint.serialization import load_tensors, read_json, save_tensors, write_json

INVERTER_DIR = "inverter"
VALIDATION_SEED = 7_000_003
"""Latent stream (as in ``ganprint gan sample --seed``) of the validation positives."""


# ---------------------------------------------------------------------------------------------
# pure functions on distances


def choose_threshold(positive: np.ndarray, negative: np.ndarray) -> float:
    """The distance threshold (``match`` iff ``distance <= threshold``) with the best balanced
    accuracy on ``positive`` (own images) and ``negative`` distances; among equally good
    thresholds, the middle of the widest gap between neighbouring distances."""
    pos, neg = np.asarray(positive, float), np.asarray(negative, float)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("choosing a threshold needs positive and negative distances")
    values = np.unique(np.concatenate([pos, neg]))
    if values.size == 1:
        return float(values[0])
    lows, highs = values[:-1], values[1:]
    candidates = (lows + highs) / 2
    tpr = (pos[None, :] <= candidates[:, None]).mean(axis=1)
    tnr = (neg[None, :] > candidates[:, None]).mean(axis=1)
    balanced = (tpr + tnr) / 2
    best = np.flatnonzero(balanced >= balanced.max() - 1e-12)
    widest = best[np.argmax((highs - lows)[best])]
    return float(candidates[widest])


def verification_metrics(positive: np.ndarray, negative: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, balanced accuracy, true-positive and true-negative rates at ``threshold``, and
    ROC-AUC of the score ``-distance`` (own images should have the smaller distances)."""
    from sklearn.metrics import roc_auc_score

    pos, neg = np.asarray(positive, float), np.asarray(negative, float)
    tpr = float((pos <= threshold).mean()) if pos.size else float("nan")
    tnr = float((neg > threshold).mean()) if neg.size else float("nan")
    correct = int((pos <= threshold).sum() + (neg > threshold).sum())
    auc = float("nan")
    if pos.size and neg.size:
        labels = np.r_[np.ones(pos.size), np.zeros(neg.size)]
        auc = float(roc_auc_score(labels, -np.r_[pos, neg]))
    return {"accuracy": correct / max(1, pos.size + neg.size), "balanced_accuracy": (tpr + tnr) / 2,
            "tpr": tpr, "tnr": tnr, "auc": auc}


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# the verifier


@dataclass
class Verifier:
    """A generator with its inverse model, search settings and threshold."""

    generator: nn.Module
    encoder: InverseModel
    latent_dim: int
    image_shape: tuple[int, int, int]
    threshold: float
    search: LatentSearchConfig = field(default_factory=LatentSearchConfig)

    def distances(self, images: np.ndarray | torch.Tensor) -> np.ndarray:
        """Reconstruction distances for uint8 images (N, H, W, C) or (N, C, H, W), or [0, 1] floats."""
        x = _to_nchw_float(images)
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"expected images of shape {self.image_shape}, got {tuple(x.shape[1:])}")
        z0 = predict_latents(self.encoder, x)
        return search_latents(self.generator, x, z0, self.search)[1]

    def verify(self, images: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``(match, distance)`` per image: match is ``distance <= threshold``."""
        d = self.distances(images)
        return d <= self.threshold, d

    @classmethod
    def load(cls, gan_dir: str | Path, device: torch.device | str = "cpu") -> Verifier:
        """The verifier stored in ``GAN_DIR/inverter`` by :func:`fit_verifier`."""
        gan_dir = Path(gan_dir)
        folder = gan_dir / INVERTER_DIR
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"{gan_dir} has no inverse model; run `ganprint gan fit-inverter --gan {gan_dir}`")
        cfg = read_json(folder / "config.json")
        if cfg.get("kind") != "ganprint-inverter":
            raise ValueError(f"{folder} is not a ganprint inverter folder")
        if cfg.get("generator_sha256") != sha256_file(gan_dir / "generator.safetensors"):
            raise ValueError(f"{gan_dir}: the generator changed since its inverse model was fitted; "
                             "run `ganprint gan fit-inverter` again")
        G, gan_cfg = load_generator(gan_dir, device)
        shape = tuple(int(s) for s in gan_cfg["image_shape"])
        encoder = InverseModel(shape, gan_cfg["latent_dim"])  # type: ignore[arg-type]
        encoder.load_state_dict(load_tensors(folder / "model.safetensors"))
        return cls(G, encoder.to(device).eval(), int(gan_cfg["latent_dim"]), shape,  # type: ignore[arg-type]
                   float(cfg["threshold"]), LatentSearchConfig(**cfg["search"]))


@dataclass(frozen=True)
class FitInverterConfig:
    """Everything :func:`fit_verifier` does: the inverse model's training, the latent search, and
    ``n_validation`` fresh generator samples (stream :data:`VALIDATION_SEED`) as validation positives."""

    train: InverterTrainConfig = field(default_factory=InverterTrainConfig)
    search: LatentSearchConfig = field(default_factory=LatentSearchConfig)
    n_validation: int = 200

    def __post_init__(self) -> None:
        if self.n_validation < 1:
            raise ValueError("n_validation must be >= 1")


def generator_samples(G: nn.Module, latent_dim: int, n: int, seed: int) -> np.ndarray:
    """Images ``0 .. n-1`` of latent stream ``seed``, exactly as ``ganprint gan sample --seed`` writes them."""
    from ganprint.gans.sampling import CHUNK

    chunks = [generate(G, chunk_latents(seed, k, latent_dim)) for k in range((n + CHUNK - 1) // CHUNK)]
    return np.concatenate(chunks)[:n]


def fit_verifier(gan_dir: str | Path, negatives: np.ndarray, config: FitInverterConfig = FitInverterConfig(),  # noqa: B008
                 *, device: torch.device | str = "cpu", progress: bool = True) -> dict[str, Any]:
    """Fit the inverse model of ``GAN_DIR``'s generator, choose the threshold on validation
    (fresh samples vs ``negatives``, uint8 (N, H, W, C) images of other sources), and store both
    in ``GAN_DIR/inverter``. Returns what was written to its ``config.json``."""
    gan_dir = Path(gan_dir)
    if len(negatives) == 0:
        raise ValueError("fitting a verifier needs negative images (other generators, real images)")
    G, gan_cfg = load_generator(gan_dir, device)
    latent_dim = int(gan_cfg["latent_dim"])
    shape = tuple(int(s) for s in gan_cfg["image_shape"])
    warm = gan_dir / ENCODER_FILE
    init = load_tensors(warm) if config.train.warm_start and warm.is_file() else None
    encoder, summary = fit_inverse_model(G, latent_dim, shape, config.train, progress=progress,  # type: ignore[arg-type]
                                         init=init)
    verifier = Verifier(G, encoder, latent_dim, shape, float("nan"), config.search)  # type: ignore[arg-type]
    pos = verifier.distances(generator_samples(G, latent_dim, config.n_validation, VALIDATION_SEED))
    neg = verifier.distances(negatives)
    threshold = choose_threshold(pos, neg)
    info = {
        "kind": "ganprint-inverter",
        "arch": "seed000-inverse",
        "generator_sha256": sha256_file(gan_dir / "generator.safetensors"),
        "distance": "l2",
        "threshold": threshold,
        "search": config.search.to_dict(),
        "train": config.train.to_dict(),
        "warm_started": init is not None,
        "cosine": summary["holdout_cosine"],
        "train_cosine": summary["train_cosine"],
        "history": summary["history"],
        "validation": {
            "n_positive": int(pos.size), "n_negative": int(neg.size),
            "positive_distance": _describe(pos), "negative_distance": _describe(neg),
            **verification_metrics(pos, neg, threshold),
        },
    }
    folder = gan_dir / INVERTER_DIR
    folder.mkdir(exist_ok=True)
    save_tensors(folder / "model.safetensors", encoder.state_dict())
    write_json(folder / "config.json", info)
    return info


def assess_verifier(verifier: Verifier, own: np.ndarray, negatives: dict[str, np.ndarray]) -> dict[str, Any]:
    """Test figures of a fitted verifier: ``own`` are images its generator made (positives),
    ``negatives`` named sets of other images (other generators, real images). Returns accuracy and
    ROC-AUC over all negatives, the same per negative set, and every image's distance (for plots)."""
    d_own = verifier.distances(own)
    d_neg = {name: verifier.distances(images) for name, images in negatives.items()}
    pooled = np.concatenate(list(d_neg.values())) if d_neg else np.zeros(0)
    return {
        **verification_metrics(d_own, pooled, verifier.threshold),
        "threshold": verifier.threshold,
        "by_negative": {name: verification_metrics(d_own, d, verifier.threshold) for name, d in d_neg.items()},
        "distance_median": {"own": float(np.median(d_own)), **{k: float(np.median(v)) for k, v in d_neg.items()}},
        "distances": {"own": d_own.tolist(), **{k: v.tolist() for k, v in d_neg.items()}},
    }


def verify_paths(verifier: Verifier, paths: Iterable[str | os.PathLike], *, batch_size: int = 256,
                 workers: int | None = None) -> Iterator[dict[str, Any]]:
    """One record per image file under ``paths`` (files or folders), in order:
    ``{"path", "match", "distance", "threshold"}``, or ``{"path", "error"}`` for a file that
    cannot be decoded (the batch goes on)."""
    channels, height, width = verifier.image_shape
    files = iter_image_paths(paths)
    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for chunk in iter(lambda: list(islice(files, batch_size)), []):
            decoded = list(pool.map(lambda p: decode_or_error(p, channels, (height, width)), chunk))
            good = [image for _, image, _ in decoded if image is not None]
            distances = iter(verifier.distances(np.stack(good)) if good else [])
            for path, image, error in decoded:
                if image is None:
                    yield {"path": str(path), "error": error}
                else:
                    d = float(next(distances))
                    yield {"path": str(path), "match": bool(d <= verifier.threshold), "distance": d,
                           "threshold": verifier.threshold}


def _to_nchw_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    if x.ndim != 4:
        raise ValueError(f"expected a batch of images (N, H, W, C) or (N, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
    return (x.float() / 255.0 if x.dtype == torch.uint8 else x.float()).contiguous()


def _describe(d: np.ndarray) -> dict[str, float]:
    return {"min": float(d.min()), "median": float(np.median(d)), "max": float(d.max())}
