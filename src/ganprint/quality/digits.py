"""The MNIST GAN quality gate.

A digit classifier is trained on real digits plus an eleventh class, *not a digit*, made of
synthetic noise and blobs, then calibrated by temperature scaling on validation digits (so that
"confidence 0.9" means what it says: trained on jittered digits and junk, the raw network is
under-confident on clean digits). A GAN's gate is the share of its samples that the classifier
recognises with confidence >= 0.9 as a digit of the GAN's own training subset. A GAN producing
noise, blobs or digits it never saw scores near 0; a well-trained GAN scores near the real digits'
own share. Mode coverage (:meth:`DigitGate.coverage`) reports, beside it, whether a GAN draws all
the digits of its subset, and within-digit diversity (:meth:`DigitGate.diversity`) whether the
samples that pass are as varied as real digits or a few prototypes drawn again and again (mode
collapse, which the share alone would reward).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ganprint.attribution.training import FitConfig, fit_classifier, predict_logits
from ganprint.calibration import calibrated_probabilities, expected_calibration_error, fit_temperature
from ganprint.data.folder import split_indices
from ganprint.data.mnist import Digits
from ganprint.models import create_model
from ganprint.serialization import load_folder, save_folder

NOT_A_DIGIT = 10
GATE_CONFIDENCE = 0.9


def within_class_diversity(images: np.ndarray, labels: np.ndarray, reference: np.ndarray,
                           reference_labels: np.ndarray, classes: list[int] | tuple[int, ...]) -> float:
    """Mean over ``classes`` of (pixel spread of ``images`` of the class) / (that of ``reference``).

    The pixel spread of a set of images is the mean over pixels of their standard deviation
    (``ddof=1``, intensities in [0, 1]). Classes with fewer than two images on either side are
    skipped; NaN when none is left.
    """
    ratios = []
    for c in classes:
        mine, ref = images[labels == c], reference[reference_labels == c]
        if len(mine) < 2 or len(ref) < 2:
            continue
        spread = mine.astype(np.float64).std(0, ddof=1).mean()
        ratios.append(spread / max(ref.astype(np.float64).std(0, ddof=1).mean(), 1e-12))
    return float(np.mean(ratios)) if ratios else float("nan")


def _smooth(x: torch.Tensor, k: int) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, stride=1)[..., :28, :28]


def synth_non_digits(n: int, gen: torch.Generator) -> torch.Tensor:
    """``n`` images in [0, 1], (n, 1, 28, 28), that are not digits: uniform and Gaussian noise,
    smoothed noise, salt and pepper, Gaussian blobs, filled rectangles, stripes, flat images."""
    kinds = torch.randint(0, 8, (n,), generator=gen)
    out = torch.empty(n, 1, 28, 28)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    for i in range(n):
        k = int(kinds[i])
        r = lambda *s: torch.rand(*s, generator=gen)  # noqa: E731
        if k == 0:
            img = r(1, 28, 28) * r(1)
        elif k == 1:
            img = (0.5 + 0.5 * torch.randn(1, 28, 28, generator=gen) * r(1)).clamp(0, 1)
        elif k == 2:
            img = _smooth(r(1, 1, 28, 28), int(torch.randint(2, 6, (1,), generator=gen)))[0]
            img = ((img - img.min()) / (img.max() - img.min() + 1e-6))
        elif k == 3:
            img = (r(1, 28, 28) < r(1) * 0.3).float()
        elif k == 4:
            img = torch.zeros(1, 28, 28)
            for _ in range(int(torch.randint(1, 5, (1,), generator=gen))):
                cy, cx, s = r(1) * 20 + 4, r(1) * 20 + 4, r(1) * 5 + 1.5
                img[0] += torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
            img = img.clamp(0, 1)
        elif k == 5:
            img = torch.zeros(1, 28, 28)
            y0, x0 = (r(2) * 18).long().tolist()
            h, w = (r(2) * 14 + 4).long().tolist()
            img[0, y0:y0 + h, x0:x0 + w] = r(1) * 0.5 + 0.5
        elif k == 6:
            f, phase, ang = r(1) * 1.2 + 0.3, r(1) * 6.3, r(1) * 3.14
            img = (0.5 + 0.5 * torch.sin(f * (xx * torch.cos(ang) + yy * torch.sin(ang)) + phase))[None]
        else:
            img = torch.full((1, 28, 28), float(r(1)))
        out[i] = img
    return out


def random_affine(x: torch.Tensor, gen: torch.Generator, max_shift: float = 2.0, max_rotate: float = 12.0,
                  max_scale: float = 0.1) -> torch.Tensor:
    """Small random translations (px), rotations (degrees) and scalings of a batch (N, 1, H, W)."""
    n, _, h, _ = x.shape
    u = torch.rand(n, 4, generator=gen) * 2 - 1
    angle = u[:, 0] * math.radians(max_rotate)
    scale = 1 + u[:, 1] * max_scale
    shift = u[:, 2:] * (2 * max_shift / h)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def _with_junk(images: np.ndarray, labels: np.ndarray, seed: int, n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Real digits plus ``n`` synthetic non-digits (labelled :data:`NOT_A_DIGIT`), as uint8."""
    junk = (synth_non_digits(n, torch.Generator().manual_seed(seed)) * 255).round().to(torch.uint8)[:, 0].numpy()
    return np.concatenate([images, junk]), np.concatenate([labels, np.full(n, NOT_A_DIGIT, dtype=labels.dtype)])


def shift_and_reject(fraction: float = 1 / 11):
    """Batch transform: small random affine jitter, plus a share of synthetic non-digit images
    labelled :data:`NOT_A_DIGIT`."""

    def transform(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(x)
        x = random_affine(x, gen)
        m = max(1, math.ceil(n * fraction))
        junk = synth_non_digits(m, gen)
        return torch.cat([x, junk]), torch.cat([y, torch.full((m,), NOT_A_DIGIT, dtype=y.dtype)])

    return transform


@dataclass
class DigitGate:
    """A trained digit classifier with a reject class, and the gate computed from it."""

    model: torch.nn.Module
    report: dict[str, Any]
    device: torch.device
    held_out: Digits | None = None

    @classmethod
    def train(cls, digits: Digits, *, epochs: int = 12, seed: int = 0, device: torch.device | str = "cpu",
              progress: bool = True, width: int = 32, precision: str = "fp32") -> DigitGate:
        """Train on 70% of ``digits``; validate and calibrate on 15%; report accuracy on the held-out 15%.

        ``precision`` is :class:`FitConfig`'s: ``"auto"`` trains under bf16 autocast where the
        device computes it natively (calibration and scoring stay float32)."""
        device = torch.device(device)
        parts = split_indices(digits.labels, seed=seed)
        x = torch.from_numpy(digits.images)[:, None]
        y = torch.from_numpy(digits.labels)
        model = create_model("digit-cnn", num_classes=11, width=width, seed=seed)
        history = fit_classifier(
            model, x[parts["train"]], y[parts["train"]], x[parts["val"]], y[parts["val"]],
            FitConfig(epochs=epochs, batch_size=128, lr=3e-3, patience=None, seed=seed, schedule="cosine",
                      precision=precision),
            device=device, progress=progress, desc="digit classifier",
            batch_transform=shift_and_reject())
        test = parts["test"]
        gate = cls(model.eval(), {"width": width}, device, digits.take(test))
        # Calibrate on the validation digits plus synthetic non-digits: the augmented training
        # leaves the network under-confident on clean digits, and the gate thresholds confidence.
        val_x, val_y = _with_junk(digits.images[parts["val"]], digits.labels[parts["val"]], seed + 2)
        temperature = fit_temperature(gate.logits(val_x), val_y)
        test_x, test_y = _with_junk(digits.images[test], digits.labels[test], seed + 1)
        test_logits = gate.logits(test_x)
        raw, calibrated = calibrated_probabilities(test_logits, 1.0), calibrated_probabilities(test_logits, temperature)
        real = test_y != NOT_A_DIGIT
        gate.report = {
            "test_accuracy": float((calibrated[real, :10].argmax(1) == test_y[real]).mean()),
            "test_size": int(real.sum()),
            "non_digit_rejection": float((calibrated[~real].argmax(1) == NOT_A_DIGIT).mean()),
            "temperature": temperature,
            "test_ece_uncalibrated": expected_calibration_error(raw, test_y),
            "test_ece": expected_calibration_error(calibrated, test_y),
            "epochs_run": history["epochs_run"],
            "seed": seed,
            "width": width,
        }
        return gate

    @property
    def temperature(self) -> float:
        return float(self.report.get("temperature", 1.0))

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Raw logits over 0-9 and 'not a digit' for uint8 (N, 28, 28) images."""
        x = torch.from_numpy(np.ascontiguousarray(images))[:, None]
        return predict_logits(self.model, x, device=self.device).numpy()

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Calibrated probabilities over 0-9 and 'not a digit' for uint8 (N, 28, 28) images."""
        return calibrated_probabilities(self.logits(images), self.temperature)

    def coverage(self, images: np.ndarray, allowed_digits: list[int] | tuple[int, ...],
                 confidence: float = GATE_CONFIDENCE) -> float:
        """Mode coverage: the share of ``allowed_digits`` that the images actually produce.

        A digit counts as produced when at least a quarter of its fair share (1/k of the images
        recognised as allowed digits, for k allowed digits) is recognised as that digit. A GAN
        that collapsed onto one digit of a four-digit subset scores 0.25 however crisp it is.
        """
        return self.assess(images, allowed_digits, confidence=confidence)["mode_coverage"]

    def score(self, images: np.ndarray, allowed_digits: list[int] | tuple[int, ...]) -> float:
        """Gate share times mode coverage: what a GAN's training is steered by (it is never
        rewarded for collapsing onto the one digit it draws best)."""
        figures = self.assess(images, allowed_digits)
        return figures["quality_gate"] * figures["mode_coverage"]

    def share(self, images: np.ndarray, allowed_digits: list[int] | tuple[int, ...],
              confidence: float = GATE_CONFIDENCE) -> float:
        """Share of ``images`` recognised with probability >= ``confidence`` as an allowed digit."""
        return self.assess(images, allowed_digits, confidence=confidence)["quality_gate"]

    def diversity(self, images: np.ndarray, allowed_digits: list[int] | tuple[int, ...], reference: Digits,
                  confidence: float = GATE_CONFIDENCE) -> float:
        """Within-digit diversity of the samples that pass the gate, relative to real digits.

        Per allowed digit, the images recognised as it (with ``confidence``) are compared with the
        ``reference`` digits of that class by :func:`within_class_diversity`; 1 is as varied as the
        real digits, near 0 a generator that draws one prototype per digit. NaN when no digit has
        two passing samples.
        """
        return self.assess(images, allowed_digits, reference, confidence=confidence)["diversity"]

    def assess(self, images: np.ndarray, allowed_digits: list[int] | tuple[int, ...],
               reference: Digits | None = None, confidence: float = GATE_CONFIDENCE) -> dict[str, float]:
        """The gate's figures from one pass of the classifier: ``quality_gate`` (:meth:`share`),
        ``mode_coverage`` (:meth:`coverage`) and, given real ``reference`` digits, ``diversity``
        (:meth:`diversity`). NaN for each where there are no images."""
        allowed = np.asarray(sorted(set(allowed_digits)))
        figures = {"quality_gate": float("nan"), "mode_coverage": float("nan")}
        if reference is not None:
            figures["diversity"] = float("nan")
        if len(images) == 0:
            return figures
        p = self.probabilities(images)
        top = p.argmax(1)
        ok = np.isin(top, allowed) & (p.max(1) >= confidence)
        figures["quality_gate"] = float(ok.mean())
        if len(allowed):
            counts = np.array([(top[ok] == d).sum() for d in allowed])
            figures["mode_coverage"] = float((counts >= 0.25 * ok.sum() / len(allowed)).mean()) if ok.any() else 0.0
        if reference is not None:
            figures["diversity"] = within_class_diversity(images, np.where(ok, top, -1), reference.images,
                                                          reference.labels, allowed.tolist())
        return figures

    def save(self, folder: str | Path) -> None:
        save_folder(folder, {"kind": "ganprint-digit-gate", "arch": "digit-cnn", "report": self.report},
                    {"model": self.model.state_dict()})

    @classmethod
    def load(cls, folder: str | Path, device: torch.device | str = "cpu") -> DigitGate:
        config, weights = load_folder(folder, ["model"])
        model = create_model("digit-cnn", num_classes=11, width=config["report"].get("width", 32))
        model.load_state_dict(weights["model"])
        return cls(model.to(device).eval(), config["report"], torch.device(device))


GATE_MONITOR_STREAM = 987_654
"""Latent stream of the samples that decide when a digit GAN is good enough (no reported figure uses it)."""


@dataclass(frozen=True)
class GateStop:
    """A digit GAN's training monitor (:class:`ganprint.gans.pool.Monitor`): every ``every`` steps from
    step ``start``, the gate's :meth:`DigitGate.score` of ``samples`` samples of the monitor's own
    latent stream; training ends once it reaches ``target`` (the best-scoring snapshot is kept).
    ``start`` keeps a GAN training past the first steps where it draws one recognisable stroke
    again and again; the gate steers training, so it never reports quality alone
    (:mod:`ganprint.quality.judge` does, beside it)."""

    gate: str
    digits: tuple[int, ...]
    target: float | None
    every: int = 100
    start: int = 0
    samples: int = 500

    @property
    def stop_at(self) -> float | None:
        return self.target

    def build(self, latent_dim: int, device: torch.device | str):
        from ganprint.gans.sampling import chunk_latents, generate

        gate = DigitGate.load(self.gate, device)
        z = chunk_latents(GATE_MONITOR_STREAM, 0, latent_dim, self.samples)
        digits = list(self.digits)

        def score(G: torch.nn.Module, step: int) -> float:
            return gate.score(generate(G, z.to(next(G.parameters()).device))[..., 0], digits)

        return score
