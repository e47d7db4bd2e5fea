"""The attributor: an image classifier over sources, with the scikit-learn estimator API.

``Attributor(arch=...).fit(X, y)`` where ``X`` is uint8 images (N, H, W, C) and ``y`` the source
names; ``classes_`` are the sorted source names; ``predict_proba`` columns follow ``classes_``.
A fitted attributor saves to and loads from a model folder (safetensors + JSON config holding the
architecture, class names, preprocessing, input representation and calibration), so that
predict-time preprocessing is the training-time preprocessing.

When validation images are given, ``fit`` also calibrates the answer (Guo et al. 2017): a
temperature for the probabilities, and a rejection threshold on the unknown-source score that
accepts ``accept_rate`` of the known sources' validation images; below it ``predict_open``
answers ``unknown``. Detection comes from every attributor: P(fake) = 1 - P(real classes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganprint.attribution.defaults import TARGET_FPR
from ganprint.attribution.training import (
    INFERENCE_BATCH,
    FitConfig,
    as_float_images,
    fit_classifier,
    predict_logits,
    predict_views,
)
from ganprint.device import resolve_device
from ganprint.distributed import DistContext
from ganprint.models import create_model
from ganprint.models.base import stem_module
from ganprint.serialization import load_folder, save_folder

MODEL_KIND = "ganprint-attributor"
DENSITY_IMAGES = 10_000  # training images whose features give the class means and covariance
MAX_DENSITY_DIM = 2048  # widest feature vector given a Mahalanobis density
KNN_BANK_BYTES = 16 * 2**20  # training features kept for the knn score (float32), at most


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


def signal_view(x: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """:func:`~ganprint.attribution.openset.image_statistics` of images (N, C, H, W), uint8 or float
    in [0, 1], in chunks: the network-independent view of the ensemble unknown-source score."""
    from ganprint.attribution.openset import image_statistics

    parts = [image_statistics(as_float_images(x[i:i + chunk].cpu())) for i in range(0, len(x), chunk)]
    return torch.cat(parts) if parts else torch.zeros(0, 0)


UNKNOWN = "unknown"


class SourceEstimator:
    """What ganprint's estimators share: predict/score, detection, the open-set answer and the
    input-shape check. Subclasses provide ``classes_``, ``real_classes``, ``preprocessing``,
    ``threshold_``, ``predict_proba`` and ``predict_with_scores``."""

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]

    def score(self, X: np.ndarray, y: np.ndarray | list) -> float:
        return float((self.predict(X) == np.asarray(y)).mean())

    def p_fake(self, probabilities: np.ndarray) -> np.ndarray | None:
        """P(made by a generator) = 1 - P(real classes); None when no class is real."""
        from ganprint.attribution.evaluation import detection_scores

        return detection_scores(probabilities, [str(c) for c in self.classes_], self.real_classes)

    def predict_open(self, X: np.ndarray) -> np.ndarray:
        """Like ``predict``, but ``"unknown"`` where the score is below the calibrated threshold."""
        proba, known = self.predict_with_scores(X)
        labels = self.classes_[proba.argmax(1)].astype(object)
        if self.threshold_ is not None:
            labels[known < self.threshold_] = UNKNOWN
        return labels

    def _check_input(self, x: torch.Tensor) -> None:
        expected = (self.preprocessing.channels, *self.preprocessing.size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected images of shape (C, H, W) = {expected}, got {tuple(x.shape[1:])}")


@dataclass
class Attributor(SourceEstimator):
    """Which source made this image? A trainable, saveable image classifier over sources."""

    arch: str = "seed-mnist-cnn"
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    fit_config: FitConfig = field(default_factory=FitConfig)
    arch_options: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    representation: str = "pixels"
    real_classes: tuple[str, ...] = ("real",)
    accept_rate: float = 0.95
    unknown_score: str = "ensemble"
    target_fpr: float = TARGET_FPR

    def __post_init__(self) -> None:
        self.model_: torch.nn.Module | None = None
        self.classes_: np.ndarray | None = None
        self.representation_ = None
        self.temperature_: float = 1.0
        self.threshold_: float | None = None
        self.fake_threshold_: float | None = None
        self.density_: dict[str, np.ndarray] | None = None
        self.score_scales_: dict[str, list[float]] | None = None
        self.history_: dict[str, Any] = {}

    # -- estimator API --------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray | list, X_val: np.ndarray | None = None,
            y_val: np.ndarray | list | None = None, *, progress: bool = True,
            checkpoint_dir: str | Path | None = None, pause_after: int | None = None,
            dist: DistContext | None = None) -> Attributor:
        """Train on ``X``/``y``, then fit the unknown-source densities and calibrate on ``X_val``.

        ``pause_after`` (with ``checkpoint_dir``) stops after that many epochs, before densities
        and calibration (``history_["paused"]``); fitting again without it resumes and finishes.
        ``dist`` trains the network in several processes (:func:`~ganprint.attribution.training.fit_classifier`);
        every process then ends with the same model."""
        from ganprint.data.representations import create_representation

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
        device = resolve_device(self.device)
        self.representation_ = create_representation(self.representation)
        self.representation_.fit(as_float_images(x_train))
        model = create_model(self.arch, num_classes=len(self.classes_),
                             in_chans=self.representation_.out_channels(self.preprocessing.channels),
                             input_size=self.preprocessing.size, seed=self.fit_config.seed, **self.arch_options)
        t0 = time.perf_counter()
        self.history_ = fit_classifier(model, x_train, y_train, x_v, y_v, self.fit_config, device=device,
                                       progress=progress, desc=f"fit {self.arch}", transform=self._transform,
                                       checkpoint_dir=checkpoint_dir, pause_after=pause_after, dist=dist)
        self.history_["fit_seconds"] = time.perf_counter() - t0
        self.model_ = model
        if self.history_.get("paused"):
            return self
        self.fit_density(X, y)
        if x_v is not None:
            self.calibrate(X_val, y_val)
        return self

    def fit_density(self, X: np.ndarray, y: np.ndarray | list, max_images: int = DENSITY_IMAGES) -> Attributor:
        """Class means and shared covariance of the training images' penultimate features, stem
        statistics and image statistics, for the ``mahalanobis`` and ``ensemble`` unknown-source scores; also a first
        scale for the ensemble's parts (from these training images), which :meth:`calibrate`
        replaces with one fitted on validation images."""
        from ganprint.attribution.openset import fit_feature_density, fit_score_scales, normalise_features

        self._fitted()
        y = np.asarray(y)
        idx = np.random.default_rng(0).permutation(len(X))[:max_images]
        views = self._views(X[idx])
        labels = np.searchsorted(self.classes_, y[idx])
        # a shared covariance of thousands of dimensions (a linear model's features are its pixels)
        # costs minutes and says little with a few thousand images: no feature density then
        features = views["features"]
        self.density_ = (fit_feature_density(features, labels, len(self.classes_))
                         if features.shape[1] <= MAX_DENSITY_DIM else {})
        for view in ("stem", "signal"):
            if view in views:
                density = fit_feature_density(views[view], labels, len(self.classes_))
                self.density_.update({f"{view}_{k}": v for k, v in density.items()})
        self.score_scales_ = fit_score_scales(self._score_parts(views)) if len(idx) else None
        bank_rows = max(1, min(len(features), KNN_BANK_BYTES // (4 * features.shape[1])))
        self.density_["knn_bank"] = normalise_features(features[:bank_rows])
        return self

    def calibrate(self, X_val: np.ndarray, y_val: np.ndarray | list) -> Attributor:
        """Fit the temperature, the scale of the unknown-source score's parts and the unknown-source
        threshold on held-out known-source images."""
        from ganprint.attribution.openset import fit_rejection_threshold, fit_score_scales
        from ganprint.calibration import calibrated_probabilities, expected_calibration_error, fit_temperature

        self._fitted()
        labels = np.searchsorted(self.classes_, np.asarray(y_val))
        views = self._views(X_val)
        logits = views["logits"]
        self.temperature_ = fit_temperature(logits, labels)
        self.score_scales_ = fit_score_scales(self._score_parts(views))
        scores = self.unknown_scores(views)
        self.threshold_ = float(fit_rejection_threshold(scores, self.accept_rate))
        self.fit_fake_threshold(views["logits"], labels)
        self.history_["calibration"] = {
            "temperature": self.temperature_,
            "val_ece_uncalibrated": expected_calibration_error(calibrated_probabilities(logits, 1.0), labels),
            "val_ece": expected_calibration_error(calibrated_probabilities(logits, self.temperature_), labels),
            "unknown_score": self.unknown_score, "threshold": self.threshold_, "accept_rate": self.accept_rate,
            "fake_threshold": self.fake_threshold_, "target_fpr": self.target_fpr,
        }
        return self

    def fit_fake_threshold(self, logits: np.ndarray, labels: np.ndarray) -> Attributor:
        """The operating threshold of ``p_fake`` at which ``target_fpr`` of the real validation images
        are called fake (None when the model has no real class or no real validation image)."""
        from ganprint.attribution.evaluation import fit_fpr_threshold
        from ganprint.calibration import calibrated_probabilities

        p_fake = self.p_fake(calibrated_probabilities(logits, self.temperature_))
        real = np.isin(self.classes_[labels], self.real_classes)
        self.fake_threshold_ = (float(fit_fpr_threshold(p_fake[real], self.target_fpr))
                                if p_fake is not None and real.any() else None)
        return self

    def decision_function(self, X: np.ndarray, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
        """Raw logits (N, n_classes), before temperature scaling."""
        model = self._fitted()
        x = images_to_tensor(X)
        self._check_input(x)
        device = next(model.parameters()).device
        return predict_logits(model, x, batch_size, device, transform=self._transform).numpy()

    def predict_proba(self, X: np.ndarray, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
        """Calibrated probabilities (N, n_classes), columns in ``classes_`` order."""
        logits = torch.from_numpy(self.decision_function(X, batch_size))
        return torch.softmax(logits / self.temperature_, 1).numpy()

    # -- detection and open set -----------------------------------------------------------------
    def unknown_scores(self, views: dict[str, np.ndarray], score: str | None = None) -> np.ndarray:
        """How much each image looks like a known source (higher = more known), from the network's
        views of it (:meth:`outputs`): ``max_probability`` and ``energy`` use the logits,
        ``mahalanobis`` the penultimate features, ``ensemble`` energy plus the Mahalanobis scores of the
        stem statistics and the image statistics, each standardised on validation (see
        :mod:`ganprint.attribution.openset`)."""
        from ganprint.attribution.openset import (
            ENSEMBLE_SCORE,
            FEATURE_SCORE,
            KNN_SCORE,
            SCORES,
            combine_scores,
            knn_score,
        )

        score = score or self.unknown_score
        if score == FEATURE_SCORE:
            return self._mahalanobis(views, "features", "")
        if score == KNN_SCORE:
            if self.density_ is None or "knn_bank" not in self.density_:
                raise ValueError("the knn score needs the training features (fit_density)")
            return knn_score(views["features"], self.density_["knn_bank"])
        if score == ENSEMBLE_SCORE:
            if self.score_scales_ is None:
                raise ValueError("the ensemble score needs calibration on validation images (calibrate)")
            return combine_scores(self._score_parts(views), self.score_scales_)
        return SCORES[score](views["logits"], self.temperature_)

    def _score_parts(self, views: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from ganprint.attribution.openset import energy_score

        parts = {"energy": energy_score(views["logits"], self.temperature_)}
        for view in ("stem", "signal"):  # a model saved before a view existed has no density for it
            if view in views and self.density_ is not None and f"{view}_means" in self.density_:
                parts[view] = self._mahalanobis(views, view, f"{view}_")
        return parts

    def _mahalanobis(self, views: dict[str, np.ndarray], view: str, prefix: str) -> np.ndarray:
        from ganprint.attribution.openset import mahalanobis_score

        if view not in views or self.density_ is None or f"{prefix}means" not in self.density_:
            raise ValueError(f"this score needs the {view} view and a fitted density (fit_density)")
        return mahalanobis_score(views[view], self.density_[f"{prefix}means"], self.density_[f"{prefix}precision"])

    def outputs(self, X: np.ndarray, batch_size: int = INFERENCE_BATCH) -> dict[str, np.ndarray]:
        """The network's views of the images (raw ``logits``, penultimate ``features``), calibrated
        ``probabilities`` and ``known_scores``; also the ``stem`` statistics and the image statistics
        (``signal``) when the unknown-source score uses them (``ensemble``).
        Those two views cost about a third of a small network's inference, so they are not computed
        for nothing."""
        from ganprint.attribution.openset import ENSEMBLE_SCORE
        from ganprint.calibration import calibrated_probabilities

        views = self._views(X, extra=self.unknown_score == ENSEMBLE_SCORE, batch_size=batch_size)
        return {**views, "probabilities": calibrated_probabilities(views["logits"], self.temperature_),
                "known_scores": self.unknown_scores(views)}

    def _views(self, X: np.ndarray, extra: bool = True, batch_size: int = INFERENCE_BATCH) -> dict[str, np.ndarray]:
        """``logits`` and ``features``; with ``extra`` also ``stem`` and ``signal``."""
        model = self._fitted()
        x = images_to_tensor(X)
        self._check_input(x)
        device = next(model.parameters()).device
        views = predict_views(model, x, batch_size, device, transform=self._transform,
                              stem=stem_module(model) if extra else None)
        if extra:
            views["signal"] = signal_view(x)
        return {k: v.numpy() for k, v in views.items()}

    def predict_with_scores(self, X: np.ndarray, batch_size: int = INFERENCE_BATCH) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and known-source scores (one forward pass)."""
        out = self.outputs(X, batch_size)
        return out["probabilities"], out["known_scores"]

    # -- persistence ------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        model = self._fitted()
        config = {
            "kind": MODEL_KIND,
            "arch": self.arch,
            "arch_options": self.arch_options,
            "classes": [str(c) for c in self.classes_],
            "preprocessing": self.preprocessing.to_dict(),
            "representation": self.representation_.to_config(),
            "calibration": {"temperature": self.temperature_, "unknown_score": self.unknown_score,
                            "score_scales": self.score_scales_, "threshold": self.threshold_,
                            "accept_rate": self.accept_rate, "fake_threshold": self.fake_threshold_,
                            "target_fpr": self.target_fpr},
            "real_classes": list(self.real_classes),
            "fit": self.fit_config.to_dict(),
            "history": {k: v for k, v in self.history_.items() if k != "best_state"},
        }
        weights = {"model": model.state_dict()}
        rep_state = self.representation_.state_tensors()
        if rep_state:
            weights["representation"] = rep_state
        if self.density_ is not None:
            weights["openset"] = {k: torch.from_numpy(np.asarray(v)) for k, v in self.density_.items()}
        return save_folder(folder, config, weights)

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> Attributor:
        from ganprint.data.representations import create_representation

        config, weights = load_folder(folder, ["model"])
        if config.get("kind") != MODEL_KIND:
            raise ValueError(f"{folder} is not a ganprint attributor (config kind {config.get('kind')!r})")
        pre = Preprocessing.from_dict(config["preprocessing"])
        rep_config = config.get("representation", "pixels")
        cal = config.get("calibration", {})
        self = cls(arch=config["arch"], preprocessing=pre, arch_options=config.get("arch_options", {}),
                   device=device, representation=rep_config if isinstance(rep_config, str) else rep_config["name"],
                   real_classes=tuple(config.get("real_classes", ("real",))),
                   accept_rate=float(cal.get("accept_rate", 0.95)),
                   unknown_score=cal.get("unknown_score", "max_probability"),
                   target_fpr=float(cal.get("target_fpr", TARGET_FPR)),
                   fit_config=FitConfig.from_dict(config.get("fit", {})))
        self.classes_ = np.asarray(config["classes"])
        self.temperature_ = float(cal.get("temperature", 1.0))
        self.threshold_ = cal.get("threshold")
        self.fake_threshold_ = cal.get("fake_threshold")
        self.score_scales_ = cal.get("score_scales")
        dev = resolve_device(device)
        self.representation_ = create_representation(rep_config)
        if (Path(folder) / "representation.safetensors").is_file():
            _, rep = load_folder(folder, ["representation"])
            self.representation_.load_state_tensors({k: v.to(dev) for k, v in rep["representation"].items()})
        if (Path(folder) / "openset.safetensors").is_file():
            _, extra = load_folder(folder, ["openset"])
            self.density_ = {k: v.double().numpy() for k, v in extra["openset"].items()}
        model = create_model(self.arch, num_classes=len(self.classes_),
                             in_chans=self.representation_.out_channels(pre.channels),
                             input_size=pre.size, **self.arch_options)
        model.load_state_dict(weights["model"])
        model.to(dev)
        if dev.type == "cpu":
            model.to(memory_format=torch.channels_last)
        self.model_ = model.eval()
        self.history_ = config.get("history", {})
        return self

    # -- helpers --------------------------------------------------------------------------------
    @property
    def _transform(self):
        rep = self.representation_
        return None if rep is None or rep.name == "pixels" else rep.transform

    def _fitted(self) -> torch.nn.Module:
        if self.model_ is None or self.classes_ is None:
            raise NotFittedError("this Attributor is not fitted yet; call fit() or Attributor.load()")
        return self.model_
