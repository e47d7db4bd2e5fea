"""The attributor: an image classifier over sources, with the scikit-learn estimator API.

``Attributor(arch=...).fit(X, y)`` where ``X`` is uint8 images (N, H, W, C) and ``y`` the source
names; ``classes_`` are the sorted source names; ``predict_proba`` columns follow ``classes_``.
A fitted attributor saves to and loads from a model folder (safetensors + JSON config holding the
architecture, class names and preprocessing), so that predict-time preprocessing is the
training-time preprocessing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganprint.attribution.training import INFERENCE_BATCH, FitConfig, fit_classifier, predict_logits
from ganprint.device import resolve_device
from ganprint.models import create_model
from ganprint.serialization import load_folder, save_folder

MODEL_KIND = "ganprint-attributor"


class NotFittedError(RuntimeError):
    """The attributor was used before ``fit`` (or ``load``)."""


@dataclass(frozen=True)
class Preprocessing:
    """How any image becomes model input: decoded to ``channels`` (1 = luma, 3 = RGB), resized to
    ``size`` (height, width) with bilinear filtering when it differs, scaled to [0, 1]."""

    size: tuple[int, int] = (28, 28)
    channels: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"size": list(self.size), "channels": self.channels, "scale": "uint8/255",
                "resize": "bilinear (only when the size differs)"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessing:
        return cls(size=(int(d["size"][0]), int(d["size"][1])), channels=int(d["channels"]))


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, C) -> uint8 tensor (N, C, H, W)."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        x = x.permute(0, 3, 1, 2)
    else:
        raise ValueError(f"expected images (N, H, W[, C]), got shape {tuple(x.shape)}")
    return x.contiguous()


@dataclass
class Attributor:
    """Which source made this image? A trainable, saveable image classifier over sources."""

    arch: str = "seed-mnist-cnn"
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    fit_config: FitConfig = field(default_factory=FitConfig)
    arch_options: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"

    def __post_init__(self) -> None:
        self.model_: torch.nn.Module | None = None
        self.classes_: np.ndarray | None = None
        self.history_: dict[str, Any] = {}

    # -- estimator API --------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray | list, X_val: np.ndarray | None = None,
            y_val: np.ndarray | list | None = None, *, progress: bool = True) -> Attributor:
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two sources to attribute, got {list(self.classes_)}")
        x_train = images_to_tensor(X)
        self._check_input(x_train)
        y_train = torch.from_numpy(np.searchsorted(self.classes_, y)).long()
        x_v = y_v = None
        if X_val is not None and y_val is not None and len(X_val):
            y_val = np.asarray(y_val)
            unknown = set(np.unique(y_val)) - set(self.classes_)
            if unknown:
                raise ValueError(f"validation labels not seen in training: {sorted(unknown)}")
            x_v = images_to_tensor(X_val)
            y_v = torch.from_numpy(np.searchsorted(self.classes_, y_val)).long()
        model = create_model(self.arch, num_classes=len(self.classes_), in_chans=self.preprocessing.channels,
                             **self.arch_options)
        t0 = time.perf_counter()
        self.history_ = fit_classifier(model, x_train, y_train, x_v, y_v, self.fit_config,
                                       device=resolve_device(self.device), progress=progress,
                                       desc=f"fit {self.arch}")
        self.history_["fit_seconds"] = time.perf_counter() - t0
        self.model_ = model
        return self

    def predict_proba(self, X: np.ndarray, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
        model = self._fitted()
        x = images_to_tensor(X)
        self._check_input(x)
        device = next(model.parameters()).device
        return torch.softmax(predict_logits(model, x, batch_size, device), 1).numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]

    def score(self, X: np.ndarray, y: np.ndarray | list) -> float:
        return float((self.predict(X) == np.asarray(y)).mean())

    # -- persistence ------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        model = self._fitted()
        config = {
            "kind": MODEL_KIND,
            "arch": self.arch,
            "arch_options": self.arch_options,
            "classes": [str(c) for c in self.classes_],
            "preprocessing": self.preprocessing.to_dict(),
            "fit": self.fit_config.to_dict(),
            "history": {k: v for k, v in self.history_.items() if k != "best_state"},
        }
        return save_folder(folder, config, {"model": model.state_dict()})

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> Attributor:
        config, weights = load_folder(folder, ["model"])
        if config.get("kind") != MODEL_KIND:
            raise ValueError(f"{folder} is not a ganprint attributor (config kind {config.get('kind')!r})")
        pre = Preprocessing.from_dict(config["preprocessing"])
        self = cls(arch=config["arch"], preprocessing=pre, arch_options=config.get("arch_options", {}),
                   device=device)
        self.classes_ = np.asarray(config["classes"])
        model = create_model(self.arch, num_classes=len(self.classes_), in_chans=pre.channels,
                             **self.arch_options)
        model.load_state_dict(weights["model"])
        dev = resolve_device(device)
        model.to(dev)
        if dev.type == "cpu":
            model.to(memory_format=torch.channels_last)
        self.model_ = model.eval()
        self.history_ = config.get("history", {})
        return self

    # -- helpers --------------------------------------------------------------------------------
    def _fitted(self) -> torch.nn.Module:
        if self.model_ is None or self.classes_ is None:
            raise NotFittedError("this Attributor is not fitted yet; call fit() or Attributor.load()")
        return self.model_

    def _check_input(self, x: torch.Tensor) -> None:
        expected = (self.preprocessing.channels, *self.preprocessing.size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected images of shape (C, H, W) = {expected}, got {tuple(x.shape[1:])}")
