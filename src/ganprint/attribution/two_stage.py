"""Seed 003's two-stage attributor ("Transferable Class-Modelling for Decentralized Source Attribution
of GAN-Generated Images"): a primary module trained for real-vs-fake detection, and one secondary
one-vs-rest module per generator built on the primary's intermediate features.

Only a secondary module is trained for a source, on frozen primary features, so a new source is
added (``add_source``) without touching the primary or the other sources' modules. The
multiclass answer is the argmax over the secondary outputs; when the primary says *real*, the
primary wins (seed 003: "the primary module is customarily prioritized in the inevitable event of
self-contradictory predictions"). Probabilities: ``P(real) = 1 - p_fake`` and
``P(source k) = p_fake * s_k / sum_j s_j`` where ``s_k`` are the secondary sigmoid outputs.

A source added later was never shown to the primary, which may well call its images real (a
detector does not generalise to every unseen generator). Its module, though, was trained with the
real images among its negatives, so it is a detector for that one source. The fake probability
therefore combines the primary with the added modules as a noisy-OR:
``p_fake = 1 - (1 - p_primary) * prod_{k added} (1 - s_k)``: the primary still decides for the
sources it was trained on, and each added module vouches for its own.

Unknown sources: the known-source score is the maximum probability plus the Mahalanobis score of
the image statistics (:func:`~ganprint.attribution.openset.image_statistics`), each standardised on
validation images, as the single-network ensemble does; a source added later gets its class mean
from its own images (the shared covariance stays the one fitted on the training sources).

The primary follows seed 003's description: gandct-conv-like, strided convolutions instead of
pooling, batch normalisation in every layer but the first, global average pooling before the
output layer (so it produces CAM heatmaps); its width is scaled to small inputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganprint.attribution.attributor import (
    NotFittedError,
    Preprocessing,
    SourceEstimator,
    images_to_tensor,
    signal_view,
)
from ganprint.attribution.training import INFERENCE_BATCH, FitConfig, as_float_images, fit_classifier
from ganprint.checkpoint import prefixed, unprefixed
from ganprint.device import resolve_device
from ganprint.serialization import load_folder, save_folder

MODEL_KIND = "ganprint-two-stage"
DENSITY_IMAGES = 10_000  # training images whose statistics give the class means and covariance

SECONDARY_FIT = FitConfig(epochs=8, batch_size=64, lr=3e-3, patience=2)
"""Secondary modules are small and train on precomputed features; one one-vs-rest task each
converges within a few epochs (each epoch costs about what an epoch of the seed CNN does)."""


def _conv_bn(cin: int, cout: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2, inplace=True)]


class PrimaryModule(nn.Module):
    """Real-vs-fake detector whose ``trunk`` output (an intermediate feature map) feeds the
    secondary modules. One output logit: > 0 means fake."""

    def __init__(self, in_chans: int = 1, width: int = 32) -> None:
        super().__init__()
        w = width
        self.trunk = nn.Sequential(
            nn.Conv2d(in_chans, w, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),  # no BN in the first layer
            *_conv_bn(w, w, 1), *_conv_bn(w, 2 * w, 2),
        )
        self.body = nn.Sequential(*_conv_bn(2 * w, 4 * w, 2), *_conv_bn(4 * w, 4 * w, 2))
        self.head = nn.Linear(4 * w, 1)
        self.trunk_channels = 2 * w

    @property
    def cam_target(self) -> nn.Module:
        return self.body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.trunk(x)).mean((2, 3)))

    def cam_weights(self) -> torch.Tensor:
        return self.head.weight


class SecondaryModule(nn.Module):
    """One-vs-rest module for one source, on the primary's trunk features. One output logit."""

    def __init__(self, in_channels: int, width: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(*_conv_bn(in_channels, width, 1), *_conv_bn(width, 2 * width, 2))
        self.head = nn.Linear(2 * width, 1)

    @property
    def cam_target(self) -> nn.Module:
        return self.body

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(features).mean((2, 3)))


def _platt(logits: torch.Tensor, positive: np.ndarray) -> tuple[float, float]:
    """Platt scaling (a, b): ``sigmoid(a * logit + b)`` fitted by maximum likelihood (L-BFGS)."""
    z = logits.double()
    t = torch.from_numpy(np.asarray(positive, dtype=np.float64))
    params = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([params], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(params[0] * z + params[1], t)
        loss.backward()
        return loss

    opt.step(closure)
    a, b = (float(v) for v in params.detach())
    return (a, b) if np.isfinite([a, b]).all() else (1.0, 0.0)


def _bce(pos_weight: float):
    weight = torch.tensor(pos_weight)

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits[:, 0], y.float(), pos_weight=weight.to(logits.device))

    return loss


@dataclass
class TwoStageAttributor(SourceEstimator):
    """Estimator API like :class:`~ganprint.attribution.attributor.Attributor`; the classes are the
    real class (``real_class``) and one class per generator."""

    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    fit_config: FitConfig = field(default_factory=lambda: FitConfig(epochs=10, patience=3))
    secondary_config: FitConfig = field(default_factory=lambda: SECONDARY_FIT)
    real_class: str = "real"
    width: int = 32
    secondary_width: int = 32
    device: str = "auto"
    accept_rate: float = 0.95

    def __post_init__(self) -> None:
        self.primary_: PrimaryModule | None = None
        self.secondary_: dict[str, SecondaryModule] = {}
        self.added_: list[str] = []  # sources the primary never saw (added by add_source)
        self.platt_: dict[str, tuple[float, float]] = {}  # their modules' Platt scaling (a, b)
        self.threshold_: float | None = None
        self.signal_density_: dict[str, np.ndarray] | None = None  # class means (in classes_ order), precision
        self.score_scales_: dict[str, list[float]] | None = None
        self.history_: dict[str, Any] = {}

    @property
    def arch(self) -> str:
        return "two-stage"

    @property
    def real_classes(self) -> tuple[str, ...]:
        return (self.real_class,)

    @property
    def classes_(self) -> np.ndarray | None:
        if self.primary_ is None:
            return None
        return np.asarray(sorted([self.real_class, *self.secondary_]))

    # -- training -------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray | list, X_val: np.ndarray | None = None,
            y_val: np.ndarray | list | None = None, *, progress: bool = True) -> TwoStageAttributor:
        y = np.asarray(y).astype(str)
        sources = sorted(set(y) - {self.real_class})
        if self.real_class not in set(y) or not sources:
            raise ValueError(f"the two-stage model needs real images (class {self.real_class!r}) and at least one "
                             f"generator; got classes {sorted(set(y))}")
        x = images_to_tensor(X)
        self._check_input(x)
        xv = images_to_tensor(X_val) if X_val is not None and len(X_val) else None
        yv = np.asarray(y_val).astype(str) if xv is not None else None
        device = resolve_device(self.device)
        t0 = time.perf_counter()
        primary = PrimaryModule(self.preprocessing.channels, self.width)
        fake = torch.from_numpy(y != self.real_class).long()
        n_fake = int(fake.sum())
        self.history_ = {"primary": fit_classifier(
            primary, x, fake, xv, torch.from_numpy(yv != self.real_class).long() if xv is not None else None,
            self.fit_config, device=device, progress=progress, desc="fit primary (real vs fake)",
            loss_fn=_bce((len(y) - n_fake) / max(n_fake, 1)))}
        self.primary_ = primary.eval()
        self.secondary_ = {}
        self.added_ = []
        self.platt_ = {}
        feats = self._features(x)
        feats_val = self._features(xv) if xv is not None else None
        for source in sources:
            self._fit_secondary(source, feats, y, feats_val, yv, progress)
        self._fit_signal_density(x, y)
        self.history_["fit_seconds"] = time.perf_counter() - t0
        if xv is not None:
            self.calibrate(X_val, yv)
        return self

    def add_source(self, name: str, X: np.ndarray, y: np.ndarray | list, X_val: np.ndarray | None = None,
                   y_val: np.ndarray | list | None = None, *, progress: bool = True) -> TwoStageAttributor:
        """Train a secondary module for the new source ``name`` (images of ``name`` in ``X`` are the
        positives, all other images the negatives). The primary and the other modules are untouched."""
        self._fitted()
        y = np.asarray(y).astype(str)
        if name in self.secondary_ or name == self.real_class:
            raise ValueError(f"the model already has a source named {name!r}")
        if not (y == name).any():
            raise ValueError(f"no images of the new source {name!r} in the data")
        if (y == name).all():
            raise ValueError(f"add-source needs negatives too: images of other sources besides {name!r}")
        x = images_to_tensor(X)
        self._check_input(x)
        xv = images_to_tensor(X_val) if X_val is not None and len(X_val) else None
        yv = np.asarray(y_val).astype(str) if xv is not None else None
        feats = self._features(x)
        feats_val = self._features(xv) if xv is not None else None
        self._fit_secondary(name, feats, y, feats_val, yv, progress)
        self.added_.append(name)
        self._add_signal_mean(name, x[torch.from_numpy(y == name)])
        # the module was trained class-balanced; for the noisy-OR its output must be a probability
        # at the data's own prior (Platt scaling on validation, else on the training images)
        cal_feats, cal_y = (feats_val, yv) if feats_val is not None else (feats, y)
        self.platt_[name] = _platt(self._secondary_logits(name, cal_feats), cal_y == name)
        if xv is not None and set(np.unique(yv)) <= set(self.classes_):
            self.calibrate(X_val, yv)
        return self

    def _fit_secondary(self, source: str, feats: torch.Tensor, y: np.ndarray, feats_val: torch.Tensor | None,
                       y_val: np.ndarray | None, progress: bool) -> None:
        target = torch.from_numpy(y == source).long()
        pos = int(target.sum())
        module = SecondaryModule(self.primary_.trunk_channels, self.secondary_width)
        config = self.secondary_config
        self.history_.setdefault("secondary", {})[source] = fit_classifier(
            module, feats, target, feats_val,
            torch.from_numpy(y_val == source).long() if feats_val is not None else None,
            config, device=resolve_device(self.device), progress=progress, desc=f"fit secondary {source}",
            loss_fn=_bce((len(y) - pos) / max(pos, 1)))
        self.secondary_[source] = module.eval()

    def _fit_signal_density(self, x: torch.Tensor, y: np.ndarray) -> None:
        from ganprint.attribution.openset import fit_feature_density

        idx = torch.from_numpy(np.random.default_rng(0).permutation(len(x))[:DENSITY_IMAGES])
        labels = np.searchsorted(self.classes_, y[idx.numpy()])
        self.signal_density_ = fit_feature_density(signal_view(x[idx]).numpy(), labels, len(self.classes_))

    def _add_signal_mean(self, name: str, x_new: torch.Tensor) -> None:
        if self.signal_density_ is None:
            return
        old = [c for c in self.classes_ if c != name]
        means = dict(zip(old, self.signal_density_["means"], strict=True))
        means[name] = signal_view(x_new[:DENSITY_IMAGES]).double().mean(0).numpy()
        self.signal_density_["means"] = np.stack([means[c] for c in self.classes_])

    def calibrate(self, X_val: np.ndarray, y_val: np.ndarray | list) -> TwoStageAttributor:
        from ganprint.attribution.openset import fit_rejection_threshold, fit_score_scales

        proba, _ = self._proba(X_val)
        parts = self._score_parts(X_val, proba)
        self.score_scales_ = fit_score_scales(parts)
        self.threshold_ = float(fit_rejection_threshold(self._known_scores(parts), self.accept_rate))
        return self

    def _score_parts(self, X: np.ndarray, proba: np.ndarray) -> dict[str, np.ndarray]:
        from ganprint.attribution.openset import mahalanobis_score

        parts = {"max_probability": proba.max(1)}
        if self.signal_density_ is not None:
            signal = signal_view(images_to_tensor(X)).numpy()
            parts["signal"] = mahalanobis_score(signal, self.signal_density_["means"],
                                                self.signal_density_["precision"])
        return parts

    def _known_scores(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        from ganprint.attribution.openset import combine_scores

        if self.score_scales_ is None:  # a model saved before the ensemble: the maximum probability alone
            return parts["max_probability"]
        return combine_scores(parts, self.score_scales_)

    @torch.inference_mode()
    def _secondary_logits(self, name: str, feats: torch.Tensor) -> torch.Tensor:
        module = self.secondary_[name]
        device = next(module.parameters()).device
        return torch.cat([module(feats[i:i + INFERENCE_BATCH].to(device))[:, 0].cpu()
                          for i in range(0, len(feats), INFERENCE_BATCH)])

    # -- inference ------------------------------------------------------------------------------
    @torch.inference_mode()
    def _features(self, x: torch.Tensor) -> torch.Tensor:
        device = next(self.primary_.parameters()).device
        out = [self.primary_.trunk(as_float_images(x[i:i + INFERENCE_BATCH].to(device))).cpu()
               for i in range(0, len(x), INFERENCE_BATCH)]
        return torch.cat(out)

    @torch.inference_mode()
    def _proba(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._fitted()
        x = images_to_tensor(X)
        self._check_input(x)
        device = next(self.primary_.parameters()).device
        classes = list(self.classes_)
        p_all, fake_all = [], []
        for i in range(0, len(x), INFERENCE_BATCH):
            xb = as_float_images(x[i:i + INFERENCE_BATCH].to(device))
            trunk = self.primary_.trunk(xb)
            p_fake = torch.sigmoid(self.primary_.head(self.primary_.body(trunk).mean((2, 3))))[:, 0]
            logits = torch.stack([m(trunk)[:, 0] for m in self.secondary_.values()], 1)
            s = torch.sigmoid(logits)
            names = list(self.secondary_)
            for name in self.added_:  # noisy-OR with the modules of sources the primary never saw
                a, b = self.platt_.get(name, (1.0, 0.0))
                p_fake = 1 - (1 - p_fake) * (1 - torch.sigmoid(a * logits[:, names.index(name)] + b))
            share = s / s.sum(1, keepdim=True).clamp_min(1e-12)
            p = torch.zeros(len(xb), len(classes), device=device)
            p[:, classes.index(self.real_class)] = 1 - p_fake
            for j, name in enumerate(self.secondary_):
                p[:, classes.index(name)] = p_fake * share[:, j]
            p_all.append(p.cpu())
            fake_all.append(p_fake.cpu())
        if not p_all:
            return np.zeros((0, len(classes))), np.zeros(0)
        return torch.cat(p_all).double().numpy(), torch.cat(fake_all).double().numpy()

    def predict_proba(self, X: np.ndarray, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
        return self._proba(X)[0]

    def predict_with_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and known-source scores (the ensemble of the maximum probability and the
        image statistics' Mahalanobis score; higher = more like a known source)."""
        proba = self.predict_proba(X)
        return proba, self._known_scores(self._score_parts(X, proba))

    # -- persistence ----------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        self._fitted()
        sources = list(self.secondary_)
        config = {
            "kind": MODEL_KIND, "arch": "two-stage", "classes": [str(c) for c in self.classes_],
            "real_class": self.real_class, "sources": sources, "added_sources": list(self.added_),
            "added_platt": {k: list(v) for k, v in self.platt_.items()},
            "width": self.width,
            "secondary_width": self.secondary_width, "preprocessing": self.preprocessing.to_dict(),
            "calibration": {"unknown_score": "ensemble" if self.score_scales_ else "max_probability",
                            "threshold": self.threshold_, "accept_rate": self.accept_rate,
                            "score_scales": self.score_scales_},
            "fit": self.fit_config.to_dict(), "secondary_fit": self.secondary_config.to_dict(),
            "history": self.history_,
        }
        secondary: dict[str, torch.Tensor] = {}
        for i, name in enumerate(sources):
            secondary.update(prefixed(str(i), self.secondary_[name]))
        weights = {"primary": self.primary_.state_dict(), "secondary": secondary}
        if self.signal_density_ is not None:
            weights["openset"] = {f"signal_{k}": torch.from_numpy(np.ascontiguousarray(v))
                                  for k, v in self.signal_density_.items()}
        return save_folder(folder, config, weights)

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> TwoStageAttributor:
        config, weights = load_folder(folder, ["primary", "secondary"])
        if config.get("kind") != MODEL_KIND:
            raise ValueError(f"{folder} is not a two-stage model (config kind {config.get('kind')!r})")
        pre = Preprocessing.from_dict(config["preprocessing"])
        self = cls(preprocessing=pre, real_class=config["real_class"], width=int(config["width"]),
                   secondary_width=int(config["secondary_width"]), device=device,
                   fit_config=FitConfig.from_dict(config.get("fit", {})),
                   secondary_config=FitConfig.from_dict(config.get("secondary_fit", {})),
                   accept_rate=float(config["calibration"].get("accept_rate", 0.95)))
        dev = resolve_device(device)
        self.primary_ = PrimaryModule(pre.channels, self.width)
        self.primary_.load_state_dict(weights["primary"])
        self.primary_.to(dev).eval()
        for i, name in enumerate(config["sources"]):
            module = SecondaryModule(self.primary_.trunk_channels, self.secondary_width)
            module.load_state_dict(unprefixed(str(i), weights["secondary"]))
            self.secondary_[name] = module.to(dev).eval()
        self.added_ = [str(name) for name in config.get("added_sources", [])]
        self.platt_ = {k: (float(v[0]), float(v[1])) for k, v in config.get("added_platt", {}).items()}
        self.threshold_ = config["calibration"].get("threshold")
        self.score_scales_ = config["calibration"].get("score_scales")
        if (Path(folder) / "openset.safetensors").is_file():
            _, extra = load_folder(folder, ["openset"])
            self.signal_density_ = {k.removeprefix("signal_"): v.double().numpy() for k, v in extra["openset"].items()}
        self.history_ = config.get("history", {})
        return self

    # -- helpers --------------------------------------------------------------------------------
    def _fitted(self) -> PrimaryModule:
        if self.primary_ is None:
            raise NotFittedError("this TwoStageAttributor is not fitted yet; call fit() or load()")
        return self.primary_
