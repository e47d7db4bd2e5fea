"""An independent judge of digit GANs: a second digit classifier that never steers training.

The quality gate (:class:`ganprint.quality.digits.DigitGate`) stops GAN training, so a GAN is
selected for pleasing that one network; reporting its quality with the same network would grade
the GAN on its own exam. The judge is built to disagree where the gate can be fooled: another
architecture (a LeNet-style CNN with 5x5 valid convolutions, max pooling and a dense feature layer,
no batch norm, against the gate's 3x3 conv-BN blocks and global pooling), another random seed (so
another train/validation/test split and initialisation), and its own kinds of *not a digit*
examples (uniform noise, smoothed noise, pixel-shuffled digits). Its rejection is measured on the
gate's kinds of junk, which it never saw.

It reports two things: the share of samples it recognises, confidently, as digits of the GAN's
subset (:meth:`DigitJudge.recognised`), and the improved k-NN precision and recall
(:mod:`ganprint.quality.knn`) in its feature space, each beside the figure real digits score at the
same sample size (:func:`judge_figures`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganprint.attribution.training import FitConfig, fit_classifier, predict_logits
from ganprint.calibration import calibrated_probabilities, fit_temperature
from ganprint.data.folder import split_indices
from ganprint.data.mnist import Digits
from ganprint.models.base import FeatureHeadClassifier
from ganprint.quality.digits import random_affine, synth_non_digits
from ganprint.quality.knn import DEFAULT_K, precision_recall, split_halves
from ganprint.serialization import load_folder, save_folder

JUDGE_SEED = 1
"""The judge's default seed; the gate's is 0."""
NOT_A_DIGIT = 10
CONFIDENCE = 0.9
KIND = "ganprint-digit-judge"


class JudgeCNN(FeatureHeadClassifier):
    """LeNet-style: conv 16 5x5 valid + ReLU, max pool 2, conv 32 5x5 valid + ReLU, max pool 2,
    flatten (512), dense 128 + ReLU (the features), dropout 0.2, dense ``num_classes``.
    80,331 parameters for 11 classes."""

    def __init__(self, num_classes: int = NOT_A_DIGIT + 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(32 * 4 * 4, 128), nn.ReLU(inplace=True),
        )
        self.cam_target = self.features[4]
        self.num_features = 128
        self.head = self.make_head(num_classes)

    def make_head(self, num_classes: int) -> nn.Module:
        return nn.Sequential(nn.Dropout(0.2), nn.Linear(self.num_features, num_classes))


def judge_junk(like: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One non-digit per image of ``like`` (N, 1, 28, 28) in [0, 1]: uniform or smoothed noise at a
    random contrast, or the image's own pixels shuffled (same ink, no shape)."""
    n = len(like)
    noise = torch.rand(n, 1, 28, 28, generator=gen)
    smooth = F.avg_pool2d(torch.rand(n, 1, 32, 32, generator=gen), 5, stride=1)
    lo, hi = smooth.amin((2, 3), keepdim=True), smooth.amax((2, 3), keepdim=True)
    smooth = (smooth - lo) / (hi - lo + 1e-6)
    order = torch.rand(n, 28 * 28, generator=gen).argsort(1)
    shuffled = like.reshape(n, -1).gather(1, order).view(n, 1, 28, 28)
    kind = torch.randint(0, 3, (n, 1, 1, 1), generator=gen)
    contrast = 0.3 + 0.7 * torch.rand(n, 1, 1, 1, generator=gen)
    return torch.where(kind == 0, noise * contrast, torch.where(kind == 1, smooth * contrast, shuffled))


def _jitter_and_junk(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Training batch transform: small random affine jitter, plus one junk image per ten digits."""
    x = random_affine(x, gen)
    junk = judge_junk(x[: max(1, len(x) // 10)], gen)
    return torch.cat([x, junk]), torch.cat([y, torch.full((len(junk),), NOT_A_DIGIT, dtype=y.dtype)])


def _as_uint8(images: torch.Tensor) -> np.ndarray:
    return (images * 255).round().to(torch.uint8)[:, 0].numpy()


def _batch(images: np.ndarray) -> torch.Tensor:
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 digits (N, 28, 28), got {images.dtype} {images.shape}")
    return torch.from_numpy(np.ascontiguousarray(images))[:, None]


def _ready(model: JudgeCNN, device: torch.device | str) -> JudgeCNN:
    """Evaluation mode in the standard memory format (training leaves CPU weights channels-last), so
    a trained judge and the same judge loaded from its folder compute bit-identical features."""
    return model.to(device, memory_format=torch.contiguous_format).eval()


@dataclass
class DigitJudge:
    """A trained :class:`JudgeCNN` with its calibration and training report."""

    model: JudgeCNN
    report: dict[str, Any]
    device: torch.device

    @classmethod
    def train(cls, digits: Digits, *, epochs: int = 15, seed: int = JUDGE_SEED, device: torch.device | str = "cpu",
              progress: bool = True) -> DigitJudge:
        """Train on 70% of ``digits`` (split by ``seed``), calibrate the temperature on 15% plus junk,
        and report on the held-out 15%: ``test_accuracy`` (argmax over the ten digits),
        ``test_recognised`` (share recognised as their own digit at confidence 0.9) and
        ``foreign_junk_recognised`` (share of the gate's kinds of non-digits, never seen in
        training, recognised as some digit at 0.9)."""
        device = torch.device(device)
        t0 = time.perf_counter()
        parts = split_indices(digits.labels, seed=seed)
        x, y = torch.from_numpy(digits.images)[:, None], torch.from_numpy(digits.labels)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = JudgeCNN()
        history = fit_classifier(
            model, x[parts["train"]], y[parts["train"]], x[parts["val"]], y[parts["val"]],
            FitConfig(epochs=epochs, batch_size=64, lr=3e-3, patience=None, seed=seed, schedule="cosine"),
            device=device, progress=progress, desc="digit judge", batch_transform=_jitter_and_junk)
        judge = cls(_ready(model, device), {}, device)
        val = digits.images[parts["val"]]
        junk = _as_uint8(judge_junk(torch.from_numpy(val)[:, None] / 255.0, torch.Generator().manual_seed(seed + 2)))
        temperature = fit_temperature(judge.logits(np.concatenate([val, junk])),
                                      np.concatenate([digits.labels[parts["val"]], np.full(len(junk), NOT_A_DIGIT)]))
        judge.report = {"temperature": temperature}
        test = digits.take(parts["test"])
        p = judge.probabilities(test.images)
        foreign = _as_uint8(synth_non_digits(len(test), torch.Generator().manual_seed(seed + 1)))
        judge.report.update({
            "test_accuracy": float((p[:, :NOT_A_DIGIT].argmax(1) == test.labels).mean()),
            "test_recognised": float(((p.argmax(1) == test.labels) & (p.max(1) >= CONFIDENCE)).mean()),
            "test_size": len(test),
            "foreign_junk_recognised": judge.recognised(foreign, range(NOT_A_DIGIT)),
            "epochs_run": history["epochs_run"],
            "seed": seed,
            "train_seconds": time.perf_counter() - t0,
        })
        return judge

    @property
    def temperature(self) -> float:
        return float(self.report.get("temperature", 1.0))

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Raw logits over 0-9 and 'not a digit' for uint8 (N, 28, 28) images."""
        return predict_logits(self.model, _batch(images), device=self.device).numpy()

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Calibrated probabilities over 0-9 and 'not a digit'."""
        return calibrated_probabilities(self.logits(images), self.temperature)

    def features(self, images: np.ndarray) -> np.ndarray:
        """The 128 penultimate activations (N, 128) float32, the space of the k-NN figures."""
        return predict_logits(self.model.features, _batch(images), device=self.device).numpy()

    def recognised(self, images: np.ndarray, digits: Iterable[int], confidence: float = CONFIDENCE) -> float:
        """Share of ``images`` classified as one of ``digits`` with probability >= ``confidence``
        (NaN for no images)."""
        if len(images) == 0:
            return float("nan")
        p = self.probabilities(images)
        return float((np.isin(p.argmax(1), list(digits)) & (p.max(1) >= confidence)).mean())

    def save(self, folder: str | Path) -> None:
        save_folder(folder, {"kind": KIND, "arch": "judge-cnn", "report": self.report},
                    {"model": self.model.state_dict()})

    @classmethod
    def load(cls, folder: str | Path, device: torch.device | str = "cpu") -> DigitJudge:
        config, weights = load_folder(folder, ["model"], kind=KIND, what="a digit judge")
        model = JudgeCNN()
        model.load_state_dict(weights["model"])
        return cls(_ready(model, device), config["report"], torch.device(device))


def judge_figures(judge: DigitJudge, samples: np.ndarray, digits: Iterable[int], real_reference: Digits | np.ndarray, *,
                  k: int = DEFAULT_K, seed: int = 0) -> dict[str, float]:
    """The judge's figures for a GAN's ``samples`` (uint8 (M, 28, 28)) of subset ``digits``.

    ``judge_recognised`` is :meth:`DigitJudge.recognised`. For the k-NN figures ``real_reference``
    (real digits of the subset, none of them the GAN's training digits ideally) is split in random
    halves (:func:`ganprint.quality.knn.split_halves`): the first half is the real set; ``n = min(M,
    second half)`` samples and ``n`` digits of the second half are drawn (by ``seed``) and scored
    against it: ``knn_precision`` / ``knn_recall`` for the samples and ``real_knn_precision`` /
    ``real_knn_recall`` for the real digits, what a perfect GAN scores at the same sizes. With
    ``M`` at least half the reference the real figures are
    :func:`ganprint.quality.knn.real_recall_floor`'s.
    """
    real = real_reference.images if isinstance(real_reference, Digits) else real_reference
    fake_features, real_features = judge.features(samples), judge.features(real)
    reference, held_out = split_halves(len(real_features), seed)
    n = min(len(fake_features), len(held_out))
    rng = np.random.default_rng([seed, 1])
    real_fake = np.sort(rng.choice(held_out, n, replace=False))
    fake = np.sort(rng.choice(len(fake_features), n, replace=False))
    ours = precision_recall(real_features[reference], fake_features[fake], k=k)
    floor = precision_recall(real_features[reference], real_features[real_fake], k=k)
    return {"judge_recognised": judge.recognised(samples, digits), "knn_precision": ours["precision"],
            "knn_recall": ours["recall"], "real_knn_precision": floor["precision"], "real_knn_recall": floor["recall"]}
