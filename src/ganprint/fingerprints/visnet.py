"""visNet (Yu et al. 2019, seed 004 "fingerprint visualisation"; seed 001): an attributor that learns
one *model fingerprint* per source and an *image fingerprint* per image, and classifies an image by
their correlation.

Formulation (Yu et al. §3.3 and their ``classifier_visNet`` code):

* an autoencoder ``R`` (convolutional encoder down to a small latent map, decoder back to the
  image size, a linear output convolution as ProGAN's ``toRGB``) reconstructs the image ``I``
  (scaled to [-1, 1]);
* the image fingerprint is the reconstruction residual ``F_im(I) = I - R(I)`` (same shape as the image);
* each source ``y`` owns a free parameter ``F_mod(y)`` of the image's shape, its model fingerprint;
* the response of the image to source ``y`` is ``F_im(I) * F_mod(y)`` (per pixel), and the logit
  of ``y`` is its sum, the correlation ``<F_im(I), F_mod(y)>`` (the released code's "valid
  convolution" with a kernel the size of the image, no bias);
* the loss is cross-entropy on those logits plus ``rec_weight`` x the L1 reconstruction error
  (the released code's weight is 20; 2 here, chosen on validation), so that the autoencoder keeps
  the image content and the residual carries mostly what tells the sources apart.

CPU scaling (deviations, also in ``docs/fingerprints.md``): the encoder has ``depth`` stages of
``width`` .. ``width * 2**(depth-1)`` channels, one convolution each (the paper: ProGAN's 128x128 encoder, up to 512
channels, latent 4x4); the adversarial (WGAN-GP patch discriminator, weight 0.1) and perceptual
terms on the reconstruction are left out; Adam with early stopping on the validation
classification loss (:func:`ganprint.attribution.training.fit_classifier`).

:class:`VisNetAttributor` is a ganprint estimator (``fit``/``predict_proba``/``save``/``load``,
temperature and unknown-source threshold on validation), saved as a model folder (``config.json``
+ ``model.safetensors``) that :func:`ganprint.attribution.loading.load_model` opens, so ``eval``,
``predict`` and ``robustness`` work on it; :meth:`VisNetAttributor.fingerprints` returns what
``ganprint fingerprint`` draws.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganprint.attribution.attributor import NotFittedError, Preprocessing, SourceEstimator, images_to_tensor
from ganprint.attribution.training import INFERENCE_BATCH, FitConfig, as_float_images, fit_classifier
from ganprint.device import resolve_device
from ganprint.serialization import load_folder, save_folder

__all__ = ["ARCH", "MODEL_KIND", "VISNET_FIT", "VisNet", "VisNetAttributor", "VisNetConfig"]

MODEL_KIND = "ganprint-visnet"
ARCH = "visnet"
VISNET_FIT = FitConfig(epochs=25, batch_size=64, lr=3e-3, patience=5)
"""Training settings measured on the six MNIST groups (docs/lab/fingerprints.md): at 15 epochs visNet
was still improving on groups 2 and 3 and fell short of the study's 12-epoch seed CNN there."""


@dataclass(frozen=True)
class VisNetConfig:
    """Network settings: encoder ``depth`` (stages that halve the size) and ``width`` (channels of
    the first stage, doubled per stage), ``rec_weight`` (weight of the L1 reconstruction loss).
    Each stage is one 3x3 convolution + leaky ReLU (the paper's ProGAN blocks have two)."""

    width: int = 16
    depth: int = 2
    rec_weight: float = 2.0  # released code: 20; 2 measured better on MNIST group 1 (docs/lab/fingerprints.md)
    output: str = "linear"
    """The reconstruction's last activation: ``linear`` (ProGAN's toRGB), or ``tanh``, which models
    saved before 2026-12 use: trained jointly with the classification loss it saturated at -1
    (MNIST group 1: after training, the reconstruction of every image was the same constant
    image, with no gradient left to revive it), so those models were linear classifiers on pixels
    (0.93 test accuracy on MNIST group 1; 0.996 with the linear output)."""

    def __post_init__(self) -> None:
        if self.width < 1 or self.depth < 1 or self.rec_weight < 0:
            raise ValueError(f"width and depth must be >= 1 and rec_weight >= 0, got {self}")
        if self.output not in ("linear", "tanh"):
            raise ValueError(f"output must be 'linear' or 'tanh', got {self.output!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VisNetConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @classmethod
    def from_saved(cls, d: dict[str, Any]) -> VisNetConfig:
        """The config of a saved model folder; one without ``output`` predates it and had the tanh
        output."""
        return cls.from_dict({"output": "tanh", **d})


class _AddLoss(torch.autograd.Function):
    """Identity on ``output`` whose backward also sends gradient 1 into the scalar ``loss``: the
    training objective becomes ``outer_loss(output) + loss`` while the network still returns logits
    (so the generic classifier training loop trains the reconstruction term too)."""

    @staticmethod
    def forward(ctx, output: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.loss_shape = loss.shape
        return output.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        return grad, torch.ones(ctx.loss_shape, dtype=grad.dtype, device=grad.device)


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="reflect"), nn.LeakyReLU(0.2))


class VisNet(nn.Module):
    """Autoencoder + model fingerprints. ``forward`` maps float images (N, C, H, W) in [0, 1] to the
    logits (N, num_classes); in training mode the L1 reconstruction loss rides along in the
    gradient (:class:`_AddLoss`). :meth:`forward_all` returns every intermediate."""

    def __init__(self, num_classes: int, in_chans: int = 1, input_size: tuple[int, int] = (28, 28),
                 config: VisNetConfig = VisNetConfig()) -> None:
        super().__init__()
        self.config = config
        self.input_size = (int(input_size[0]), int(input_size[1]))
        widths = [config.width * 2 ** i for i in range(config.depth)]
        enc, c = [], in_chans
        for w in widths:
            enc.append(_conv(c, w))
            c = w
        self.encoder = nn.ModuleList(enc)
        self.bottleneck = _conv(c, c)
        dec = []
        for w in reversed(widths):
            dec.append(_conv(c, w))
            c = w
        self.decoder = nn.ModuleList(dec)
        self.to_image = nn.Conv2d(c, in_chans, 3, padding=1, padding_mode="reflect")
        n = in_chans * self.input_size[0] * self.input_size[1]
        self.model_fingerprints = nn.Parameter(torch.randn(num_classes, in_chans, *self.input_size) / n ** 0.5)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``R(x)`` for images scaled to [-1, 1]: encoder (each stage halves the size), decoder
        (each stage restores the size its encoder stage saw), linear (or legacy ``tanh``) output."""
        sizes = []
        h = x
        for stage in self.encoder:
            h = stage(h)
            sizes.append(h.shape[-2:])
            h = F.avg_pool2d(h, 2, ceil_mode=True)
        h = self.bottleneck(h)
        for stage, size in zip(self.decoder, reversed(sizes), strict=True):
            h = stage(F.interpolate(h, size=tuple(size), mode="nearest"))
        out = self.to_image(h)
        return torch.tanh(out) if self.config.output == "tanh" else out

    def forward_all(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``reconstruction`` and ``image_fingerprint`` (both in the [-1, 1] image scale, (N, C, H, W))
        and ``logits`` (N, K) for float images in [0, 1]."""
        if tuple(x.shape[-2:]) != self.input_size:
            raise ValueError(f"visNet was built for {self.input_size} images, got {tuple(x.shape[-2:])}")
        xs = x * 2 - 1
        rec = self.reconstruct(xs)
        fp = xs - rec
        logits = torch.einsum("nchw,kchw->nk", fp, self.model_fingerprints)
        return {"reconstruction": rec, "image_fingerprint": fp, "logits": logits}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.forward_all(x)
        if self.training and self.config.rec_weight > 0:
            rec_loss = (out["reconstruction"] - (x * 2 - 1)).abs().mean()
            return _AddLoss.apply(out["logits"], self.config.rec_weight * rec_loss)
        return out["logits"]


@dataclass
class VisNetAttributor(SourceEstimator):
    """Which source's learned model fingerprint does this image's fingerprint correlate with best?"""

    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    config: VisNetConfig = field(default_factory=VisNetConfig)
    fit_config: FitConfig = VISNET_FIT
    real_classes: tuple[str, ...] = ("real",)
    accept_rate: float = 0.95
    device: str = "auto"

    def __post_init__(self) -> None:
        self.model_: VisNet | None = None
        self.classes_: np.ndarray | None = None
        self.temperature_: float = 1.0
        self.threshold_: float | None = None
        self.history_: dict[str, Any] = {}

    @property
    def arch(self) -> str:
        return ARCH

    def _build(self) -> VisNet:
        return VisNet(len(self.classes_), self.preprocessing.channels, self.preprocessing.size, self.config)

    def fit(self, X: np.ndarray, y: np.ndarray | list, X_val: np.ndarray | None = None,
            y_val: np.ndarray | list | None = None, *, progress: bool = True,
            checkpoint_dir: str | Path | None = None) -> VisNetAttributor:
        """Train on uint8 images ``X`` (N, H, W[, C]) with source names ``y``; with validation images,
        early stopping and calibration (temperature, unknown-source threshold)."""
        y = np.asarray([str(v) for v in y])
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two sources to attribute, got {list(self.classes_)}")
        x = images_to_tensor(X)
        self._check_input(x)
        x_v = y_v = None
        if X_val is not None and y_val is not None and len(X_val):
            y_val = np.asarray([str(v) for v in y_val])
            unknown = set(y_val) - set(self.classes_)
            if unknown:
                raise ValueError(f"validation labels not seen in training: {sorted(unknown)}")
            x_v = images_to_tensor(X_val)
            y_v = torch.from_numpy(np.searchsorted(self.classes_, y_val)).long()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.fit_config.seed)
            model = self._build()
        t0 = time.perf_counter()
        self.history_ = fit_classifier(model, x, torch.from_numpy(np.searchsorted(self.classes_, y)).long(), x_v, y_v,
                                       self.fit_config, device=resolve_device(self.device), progress=progress,
                                       desc="fit visnet", checkpoint_dir=checkpoint_dir)
        self.history_["fit_seconds"] = time.perf_counter() - t0
        self.model_ = model.eval()
        if x_v is not None:
            self.calibrate(X_val, y_val)
        return self

    def calibrate(self, X_val: np.ndarray, y_val: np.ndarray | list) -> VisNetAttributor:
        """Temperature (Guo et al. 2017) and the unknown-source threshold on the energy score, from
        held-out known-source images."""
        from ganprint.attribution.openset import energy_score, fit_rejection_threshold
        from ganprint.calibration import fit_temperature

        labels = np.searchsorted(self.classes_, np.asarray([str(v) for v in y_val]))
        logits = self.decision_function(X_val)
        self.temperature_ = fit_temperature(logits, labels)
        self.threshold_ = float(fit_rejection_threshold(energy_score(logits, self.temperature_), self.accept_rate))
        self.history_["calibration"] = {"temperature": self.temperature_, "threshold": self.threshold_,
                                        "accept_rate": self.accept_rate, "unknown_score": "energy"}
        return self

    @torch.inference_mode()
    def _forward(self, X: np.ndarray, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
        model = self._fitted()
        x = images_to_tensor(X)
        self._check_input(x)
        device = next(model.parameters()).device
        out: dict[str, list[np.ndarray]] = {k: [] for k in keys}
        for start in range(0, len(x), INFERENCE_BATCH):
            res = model.forward_all(as_float_images(x[start:start + INFERENCE_BATCH].to(device)))
            for k in keys:
                out[k].append(res[k].float().cpu().numpy())
        empty = {"logits": (0, len(self.classes_))}
        return {k: np.concatenate(v) if v else np.zeros(empty.get(k, (0, *x.shape[1:])), np.float32)
                for k, v in out.items()}

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Raw logits (N, K): the correlation of each image fingerprint with each model fingerprint."""
        return self._forward(X, ("logits",))["logits"]

    def outputs(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Logits, calibrated probabilities and known-source scores (energy)."""
        from ganprint.attribution.openset import energy_score
        from ganprint.calibration import calibrated_probabilities

        logits = self.decision_function(X)
        return {"logits": logits, "probabilities": calibrated_probabilities(logits, self.temperature_),
                "known_scores": energy_score(logits, self.temperature_)}

    def predict_proba(self, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        return self.outputs(X)["probabilities"]

    def predict_with_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = self.outputs(X)
        return out["probabilities"], out["known_scores"]

    @property
    def model_fingerprints(self) -> np.ndarray:
        """The learned model fingerprints (K, C, H, W), rows in ``classes_`` order."""
        return self._fitted().model_fingerprints.detach().float().cpu().numpy()

    def fingerprints(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """What the fingerprint pictures show, for uint8 images ``X``: ``image_fingerprint`` and
        ``reconstruction`` (N, C, H, W), ``responses`` (N, K, C, H, W: the image fingerprint times
        each model fingerprint), ``logits`` (N, K: the responses' sums) and calibrated
        ``probabilities``."""
        from ganprint.calibration import calibrated_probabilities

        out = self._forward(X, ("reconstruction", "image_fingerprint", "logits"))
        out["responses"] = out["image_fingerprint"][:, None] * self.model_fingerprints[None]
        out["probabilities"] = calibrated_probabilities(out["logits"], self.temperature_)
        return out

    def save(self, folder: str | Path) -> Path:
        model = self._fitted()
        config = {"kind": MODEL_KIND, "arch": ARCH, "classes": [str(c) for c in self.classes_],
                  "preprocessing": self.preprocessing.to_dict(), "visnet": self.config.to_dict(),
                  "fit": self.fit_config.to_dict(),
                  "calibration": {"temperature": self.temperature_, "unknown_score": "energy",
                                  "threshold": self.threshold_, "accept_rate": self.accept_rate},
                  "real_classes": list(self.real_classes),
                  "history": {k: v for k, v in self.history_.items() if k != "best_state"}}
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        return save_folder(folder, config, {"model": state})

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> VisNetAttributor:
        config, weights = load_folder(folder, ["model"])
        if config.get("kind") != MODEL_KIND:
            raise ValueError(f"{folder} is not a {ARCH} model (config kind {config.get('kind')!r})")
        cal = config.get("calibration", {})
        self = cls(preprocessing=Preprocessing.from_dict(config["preprocessing"]),
                   config=VisNetConfig.from_saved(config.get("visnet", {})),
                   fit_config=FitConfig.from_dict(config.get("fit", {})),
                   real_classes=tuple(config.get("real_classes", ("real",))),
                   accept_rate=float(cal.get("accept_rate", 0.95)), device=device)
        self.classes_ = np.asarray(config["classes"])
        model = self._build()
        model.load_state_dict(weights["model"])
        self.model_ = model.to(resolve_device(device)).eval()
        self.temperature_ = float(cal.get("temperature", 1.0))
        self.threshold_ = cal.get("threshold")
        self.history_ = config.get("history", {})
        return self

    def _fitted(self) -> VisNet:
        if self.model_ is None or self.classes_ is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit() or load()")
        return self.model_
