"""A training-free baseline attributor: correlation of an image's noise residual with each source's
mean residual (Marra et al. 2019; the ``residual`` fingerprint of :mod:`ganprint.fingerprints.signal`).

``fit`` only averages: each source's fingerprint is the mean noise residual of its training images,
centred and scaled to unit norm. An image's scores are the Pearson correlations of its (centred,
unit-norm) residual with the fingerprints; the logits are those correlations in percent, so that
the usual temperature calibration (bounds 0.05..20) covers the scale. The known-source score is the
largest correlation, and the unknown-source threshold accepts ``accept_rate`` of the known sources'
validation images, as for the other attributors. Saved as a model folder: ``config.json`` plus
``fingerprints.safetensors``; ``ganprint eval`` and ``predict`` load it through
:func:`ganprint.attribution.loading.load_model`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganprint.attribution.attributor import NotFittedError, Preprocessing, SourceEstimator
from ganprint.fingerprints.signal import DENOISERS, images_to_float, noise_residual, source_means
from ganprint.serialization import load_folder, save_folder

MODEL_KIND = "ganprint-residual-correlation"
ARCH = "residual-correlation"
LOGIT_SCALE = 100.0
CHUNK = 2048


def _normalise(v: np.ndarray) -> np.ndarray:
    """Each row centred and scaled to unit norm (a zero row stays zero)."""
    v = v.reshape(len(v), -1)
    v = v - v.mean(1, keepdims=True)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


@dataclass
class ResidualCorrelationAttributor(SourceEstimator):
    """Which source's mean noise residual does this image's residual correlate with best?"""

    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    denoiser: str = "median"  # measured better than a Gaussian on MNIST group 1 (docs/lab/robustness.md)
    sigma: float = 1.0        # gaussian denoiser only
    size: int = 3             # median denoiser only
    real_classes: tuple[str, ...] = ("real",)
    accept_rate: float = 0.95
    device: str = "cpu"  # numpy on the CPU; kept for the common constructor signature

    def __post_init__(self) -> None:
        if self.denoiser not in DENOISERS:
            raise ValueError(f"unknown denoiser {self.denoiser!r}; known: {', '.join(DENOISERS)}")
        self.classes_: np.ndarray | None = None
        self.fingerprints_: np.ndarray | None = None  # (K, C, H, W), centred, unit norm
        self.temperature_: float = 1.0
        self.threshold_: float | None = None
        self.history_: dict[str, Any] = {}

    @property
    def arch(self) -> str:
        return ARCH

    def _residual(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        return noise_residual(x, self.denoiser, sigma=self.sigma, size=self.size)

    def _as_input(self, X: np.ndarray) -> np.ndarray:
        x = images_to_float(X)
        self._check_input(torch.from_numpy(x[:1]) if len(x) else torch.zeros(1, *x.shape[1:]))
        return x

    def fit(self, X: np.ndarray, y: np.ndarray | list, X_val: np.ndarray | None = None,
            y_val: np.ndarray | list | None = None, **_: Any) -> ResidualCorrelationAttributor:
        y = np.asarray([str(v) for v in y])
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two sources to attribute, got {list(self.classes_)}")
        x = self._as_input(X)
        means = source_means(self._residual, x, y, self.classes_)
        stacked = np.stack([means[str(c)] for c in self.classes_])
        self.fingerprints_ = _normalise(stacked).reshape(stacked.shape)
        self.history_ = {"train_images": len(y)}
        if X_val is not None and y_val is not None and len(X_val):
            self.calibrate(X_val, y_val)
        return self

    def calibrate(self, X_val: np.ndarray, y_val: np.ndarray | list) -> ResidualCorrelationAttributor:
        """Temperature and unknown-source threshold from held-out known-source images."""
        from ganprint.attribution.openset import fit_rejection_threshold
        from ganprint.calibration import fit_temperature

        y_val = np.asarray([str(v) for v in y_val])
        unknown = set(y_val) - set(self.classes_)
        if unknown:
            raise ValueError(f"validation labels not seen in training: {sorted(unknown)}")
        logits = self.decision_function(X_val)
        self.temperature_ = fit_temperature(logits, np.searchsorted(self.classes_, y_val))
        self.threshold_ = float(fit_rejection_threshold(logits.max(1) / LOGIT_SCALE, self.accept_rate))
        self.history_["calibration"] = {"temperature": self.temperature_, "threshold": self.threshold_,
                                        "accept_rate": self.accept_rate, "unknown_score": "max_correlation"}
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Correlations with each source's fingerprint, in percent (N, K)."""
        fp = self._fitted()
        x = self._as_input(X)
        f = fp.reshape(len(fp), -1)
        out = [_normalise(self._residual(x[i:i + CHUNK])) @ f.T
               for i in range(0, len(x), CHUNK)]
        return LOGIT_SCALE * (np.concatenate(out) if out else np.zeros((0, len(f))))

    def outputs(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Logits (correlations in percent), calibrated probabilities and known-source scores."""
        from ganprint.calibration import calibrated_probabilities

        logits = self.decision_function(X)
        return {"logits": logits, "probabilities": calibrated_probabilities(logits, self.temperature_),
                "known_scores": logits.max(1) / LOGIT_SCALE if len(logits) else np.zeros(0)}

    def predict_proba(self, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        return self.outputs(X)["probabilities"]

    def predict_with_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = self.outputs(X)
        return out["probabilities"], out["known_scores"]

    def save(self, folder: str | Path) -> Path:
        fp = self._fitted()
        config = {"kind": MODEL_KIND, "arch": ARCH, "classes": [str(c) for c in self.classes_],
                  "preprocessing": self.preprocessing.to_dict(),
                  "residual": {"denoiser": self.denoiser, "sigma": self.sigma, "size": self.size},
                  "calibration": {"temperature": self.temperature_, "unknown_score": "max_correlation",
                                  "threshold": self.threshold_, "accept_rate": self.accept_rate},
                  "real_classes": list(self.real_classes), "history": self.history_}
        return save_folder(folder, config, {"fingerprints": {"fingerprints": torch.from_numpy(fp)}})

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> ResidualCorrelationAttributor:
        config, weights = load_folder(folder, ["fingerprints"])
        if config.get("kind") != MODEL_KIND:
            raise ValueError(f"{folder} is not a {ARCH} model (config kind {config.get('kind')!r})")
        cal, res = config.get("calibration", {}), config.get("residual", {})
        self = cls(preprocessing=Preprocessing.from_dict(config["preprocessing"]),
                   denoiser=res.get("denoiser", "median"), sigma=float(res.get("sigma", 1.0)),
                   size=int(res.get("size", 3)),
                   real_classes=tuple(config.get("real_classes", ("real",))),
                   accept_rate=float(cal.get("accept_rate", 0.95)), device=device)
        self.classes_ = np.asarray(config["classes"])
        self.fingerprints_ = weights["fingerprints"]["fingerprints"].double().numpy()
        if len(self.fingerprints_) != len(self.classes_):
            raise ValueError(f"{folder}: {len(self.fingerprints_)} fingerprints for {len(self.classes_)} classes")
        self.temperature_ = float(cal.get("temperature", 1.0))
        self.threshold_ = cal.get("threshold")
        self.history_ = config.get("history", {})
        return self

    def _fitted(self) -> np.ndarray:
        if self.fingerprints_ is None or self.classes_ is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit() or load()")
        return self.fingerprints_
