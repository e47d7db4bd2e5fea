"""Input representations: what the attributor's classifier sees instead of (or as) the pixels.

* ``pixels``: the float image in [0, 1], unchanged.
* ``dct``: the representation of Frank et al., "Leveraging Frequency Analysis for Deep Fake Image
  Recognition" (ICML 2020; code: RUB-SysSec/GANDCTAnalysis): per channel the 2-D DCT-II with
  orthonormal scaling, log-scaled as ``log(|d| + eps)`` with ``eps = 1e-12`` (their ``log_scale``),
  then each coefficient (channel, row, column) standardised with the mean and standard deviation of
  the training split. GAN upsampling leaves periodic artefacts that show up as a grid of strong
  high-frequency coefficients; the log makes them comparable with the low frequencies and the
  standardisation removes the average spectrum that every natural image shares.
* ``pixels-std``: the pixels, each (channel, row, column) standardised with the training split's
  mean and std. What a linear model needs (as scikit-learn's ``StandardScaler`` before a logistic
  regression): it puts the faint generator noise where real images are constant (an MNIST digit's
  black border) on the scale of the strokes.
* ``pixels+dct``: ``pixels-std`` and ``dct`` stacked as channels (2C channels): the pixels keep the
  spatial layout of an artefact, the log-DCT its periodic frequency signature.
* ``residual``: the high-pass residual, each channel minus its 3x3 local mean (reflected at the
  border), scaled by :data:`RESIDUAL_GAIN`: the noise-residual view of camera and GAN fingerprint
  work (Marra et al. 2019), which drops what an image shows (colour, tone, shapes) and keeps how it
  was made (noise floor, upsampling periodicities, smoothness).

Every representation maps float images (N, C, H, W) in [0, 1] to float32 tensors (N, C', H, W) on
the same device, with ``C' = out_channels(C)`` (C except for stacked representations). Fitted
statistics travel in the model's safetensors file (:meth:`Representation.state_tensors`) and the
settings in its JSON config (:meth:`Representation.to_config`), so that prediction uses exactly the
training-time transform.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch

from ganprint.registry import Registry

DCT_EPS = 1e-12
"""Added to ``|d|`` before the log, as in GANDCTAnalysis' ``log_scale``: keeps exact zeros finite."""

MIN_STD = 1e-6
"""A coefficient whose training-split std is below this (constant over the training images) is
only centred, not scaled, so that it cannot blow up at prediction time."""

CHUNK_ELEMENTS = 1 << 22
RESIDUAL_GAIN = 8.0
"""Scale of the ``residual`` representation: brings a photo's residual (a few hundredths) near unit range."""
"""Images are transformed in chunks of about this many values (32 MiB in float64), so that fitting
on 100k images needs memory for the statistics only."""


class NotFittedError(RuntimeError):
    """A representation that needs training-split statistics was used before ``fit``."""


# -- pure functions -------------------------------------------------------------------------------
def dct_matrix(n: int, *, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> torch.Tensor:
    """The orthonormal DCT-II basis ``D`` (n, n): ``D @ v`` is ``scipy.fft.dct(v, norm='ortho')``.

    ``D[k, i] = s_k cos(pi (2i + 1) k / (2n))`` with ``s_0 = sqrt(1/n)`` and ``s_k = sqrt(2/n)``.
    """
    if n < 1:
        raise ValueError(f"DCT size must be positive, got {n}")
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    basis[0] /= math.sqrt(2.0)
    return basis.to(device=device, dtype=dtype)


def _compute_dtype(device: torch.device) -> torch.dtype:
    # float64 wherever the device has it: float32 (or TF32 on GPUs) loses the smallest
    # coefficients, whose logs are part of the representation. Apple's MPS has no float64.
    return torch.float32 if device.type == "mps" else torch.float64


def _dct2_torch(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    return rows @ x @ cols.T


def _as_tensor(x: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, bool]:
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x)), True
    if isinstance(x, torch.Tensor):
        return x, False
    raise TypeError(f"expected a numpy array or a torch tensor, got {type(x).__name__}")


def _dct2_work(x: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.dtype, bool]:
    """The DCT in the compute dtype, the dtype to return and whether the input was numpy."""
    t, was_numpy = _as_tensor(x)
    if t.ndim < 2:
        raise ValueError(f"need at least two dimensions (H, W), got shape {tuple(t.shape)}")
    out_dtype = torch.float64 if t.dtype == torch.float64 else torch.float32
    work = _compute_dtype(t.device)
    h, w = t.shape[-2:]
    rows = dct_matrix(h, dtype=work, device=t.device)
    cols = rows if w == h else dct_matrix(w, dtype=work, device=t.device)
    return _dct2_torch(t.to(work), rows, cols), out_dtype, was_numpy


def dct2(x: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """2-D DCT-II with orthonormal scaling over the last two axes (``scipy.fft.dctn(x, axes=(-2, -1),
    norm='ortho')``), as two matrix products computed in float64 (float32 on MPS).

    Returns the input's type (numpy or torch, same device), with float64 for float64 input and
    float32 otherwise.
    """
    y, out_dtype, was_numpy = _dct2_work(x)
    y = y.to(out_dtype)
    return y.numpy() if was_numpy else y


def dct2_log(x: np.ndarray | torch.Tensor, eps: float = DCT_EPS) -> np.ndarray | torch.Tensor:
    """``log(|dct2(x)| + eps)`` over the last two axes: Frank et al.'s log-scaled DCT spectrum
    (types as :func:`dct2`)."""
    y, out_dtype, was_numpy = _dct2_work(x)
    y = torch.log(y.abs_() + eps).to(out_dtype)
    return y.numpy() if was_numpy else y


def elementwise_moments(fn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and population std of ``fn(x)`` over the images, per element (C, H, W), as float32 CPU tensors.

    ``x`` is processed in chunks (Chan et al.'s pairwise update of mean and sum of squared
    deviations, in float64), so that many images need memory for the statistics only. A std below
    :data:`MIN_STD` (an element constant over the images) is replaced by 1: that element is only centred.
    """
    count, mean, m2 = 0, None, None
    step = _chunk(tuple(x.shape[1:]))
    for start in range(0, len(x), step):
        d = fn(x[start:start + step]).double()
        n_b = len(d)
        mean_b = d.mean(0)
        m2_b = ((d - mean_b) ** 2).sum(0)
        if mean is None:
            count, mean, m2 = n_b, mean_b, m2_b
        else:
            delta = mean_b - mean
            total = count + n_b
            mean = mean + delta * (n_b / total)
            m2 = m2 + m2_b + delta**2 * (count * n_b / total)
            count = total
    std = (m2 / count).sqrt()  # population std, as numpy's default (GANDCTAnalysis' welford)
    std = torch.where(std < MIN_STD, torch.ones_like(std), std)
    return mean.float().cpu(), std.float().cpu()


# -- representations ------------------------------------------------------------------------------
REPRESENTATIONS: Registry[Representation] = Registry("input representation")


def _check_images(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch tensor of images (N, C, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"expected float images in [0, 1], got dtype {x.dtype} (convert uint8 with x.float() / 255)")


def _chunk(shape: tuple[int, ...]) -> int:
    return max(1, CHUNK_ELEMENTS // max(1, math.prod(shape)))


class Representation(ABC):
    """Base class: float images (N, C, H, W) in [0, 1] -> float32 tensors of the same shape."""

    name: str = ""

    def __init__(self, shape: tuple[int, int, int] | list[int] | None = None) -> None:
        self.shape: tuple[int, int, int] | None = None if shape is None else _shape(shape)

    @property
    def fitted(self) -> bool:
        return True

    def fit(self, x: torch.Tensor) -> Representation:
        """Learn what the transform needs from the training images; returns ``self``."""
        _check_images(x)
        self.shape = tuple(x.shape[1:])
        return self

    @abstractmethod
    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """The representation of float images (N, C, H, W) in [0, 1]."""

    def out_channels(self, in_channels: int) -> int:
        """Channels of the transformed images, for images of ``in_channels`` channels."""
        return in_channels

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Fitted statistics (CPU tensors) for the model's safetensors file."""
        return {}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> Representation:
        if tensors:
            raise ValueError(f"representation {self.name!r} has no state, got tensors {sorted(tensors)}")
        return self

    def to_config(self) -> dict[str, Any]:
        """JSON-able settings; :func:`create_representation` rebuilds the (unfitted) object."""
        return {"name": self.name, "shape": None if self.shape is None else list(self.shape)}

    def _check_shape(self, x: torch.Tensor) -> None:
        _check_images(x)
        if self.shape is not None and tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"representation {self.name!r} was set up for images (C, H, W) = {self.shape}, "
                             f"got {tuple(x.shape[1:])}")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _shape(shape: tuple[int, ...] | list[int]) -> tuple[int, int, int]:
    s = tuple(int(v) for v in shape)
    if len(s) != 3 or min(s) < 1:
        raise ValueError(f"shape must be (C, H, W) with positive sizes, got {shape}")
    return s


@REPRESENTATIONS.register("pixels")
class Pixels(Representation):
    """The image itself, as float32 in [0, 1]."""

    name = "pixels"

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        self._check_shape(x)
        return x.to(torch.float32)


@REPRESENTATIONS.register("residual")
class Residual(Representation):
    """Each channel minus its 3x3 local mean (reflect padding), times :data:`RESIDUAL_GAIN`."""

    name = "residual"

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        self._check_shape(x)
        x = x.to(torch.float32)
        padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect" if min(x.shape[-2:]) > 1 else "replicate")
        return (x - torch.nn.functional.avg_pool2d(padded, 3, stride=1)) * RESIDUAL_GAIN


@REPRESENTATIONS.register("dct")
class DCT(Representation):
    """Frank et al.'s log-scaled, per-coefficient standardised 2-D DCT (see the module docstring)."""

    name = "dct"

    def __init__(self, eps: float = DCT_EPS, shape: tuple[int, int, int] | list[int] | None = None) -> None:
        super().__init__(shape)
        eps = float(eps)
        if not eps > 0 or not math.isfinite(eps):
            raise ValueError(f"eps must be positive and finite, got {eps}")
        self.eps = eps
        self.mean_: torch.Tensor | None = None  # float32 (C, H, W), CPU
        self.std_: torch.Tensor | None = None
        self._bases: dict[tuple, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    @property
    def fitted(self) -> bool:
        return self.mean_ is not None and self.std_ is not None

    def _log_dct(self, x: torch.Tensor) -> torch.Tensor:
        """log(|DCT| + eps) of a chunk, in the compute dtype of x's device."""
        work = _compute_dtype(x.device)
        rows, cols, _, _ = self._basis(x.device, work, x.shape[-2], x.shape[-1])
        return torch.log(_dct2_torch(x.to(work), rows, cols).abs_() + self.eps)

    def _basis(self, device: torch.device, dtype: torch.dtype, h: int, w: int):
        key = (str(device), dtype, h, w)
        if key not in self._bases:
            with torch.inference_mode(False):  # cached: usable later under autograd (heatmaps) too
                self._bases[key] = self._make_basis(device, dtype, h, w)
        return self._bases[key]

    def _make_basis(self, device: torch.device, dtype: torch.dtype, h: int, w: int):
        rows = dct_matrix(h, dtype=dtype, device=device)
        cols = rows if w == h else dct_matrix(w, dtype=dtype, device=device)
        mean = self.mean_.to(device=device, dtype=dtype) if self.mean_ is not None else None
        std = self.std_.to(device=device, dtype=dtype) if self.std_ is not None else None
        return rows, cols, mean, std

    def fit(self, x: torch.Tensor) -> DCT:
        """Per-coefficient mean and std of the log-DCT over ``x``."""
        _check_images(x)
        if len(x) < 2:
            raise ValueError(f"need at least two training images to standardise the DCT, got {len(x)}")
        self.shape = tuple(x.shape[1:])
        self.mean_, self.std_ = elementwise_moments(self._log_dct, x)
        self._bases.clear()
        return self

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fitted:
            raise NotFittedError("the 'dct' representation is not fitted: call fit() on the training images "
                                 "or load_state_tensors() from a saved model")
        self._check_shape(x)
        work = _compute_dtype(x.device)
        _, _, mean, std = self._basis(x.device, work, x.shape[-2], x.shape[-1])
        out = torch.empty(x.shape, dtype=torch.float32, device=x.device)
        step = _chunk(self.shape)
        for start in range(0, len(x), step):
            d = self._log_dct(x[start:start + step])
            out[start:start + step] = ((d - mean) / std).to(torch.float32)
        return out

    def state_tensors(self) -> dict[str, torch.Tensor]:
        if not self.fitted:
            raise NotFittedError("the 'dct' representation is not fitted: nothing to save")
        return {"mean": self.mean_.clone(), "std": self.std_.clone()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> DCT:
        self.mean_, self.std_ = _checked_moments(self.name, tensors, self.shape)
        self.shape = tuple(self.mean_.shape)
        self._bases.clear()
        return self

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name, "eps": self.eps, "shape": None if self.shape is None else list(self.shape)}


def create_representation(config: dict[str, Any] | str) -> Representation:
    """A representation from its name (``"dct"``) or its :meth:`Representation.to_config` dict.

    The result is unfitted; a ``dct`` needs :meth:`~DCT.fit` or :meth:`~DCT.load_state_tensors`.
    """
    if isinstance(config, str):
        return REPRESENTATIONS.create(config)
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError(f"a representation config is a name or a dict with a 'name', got {config!r}")
    options = {k: v for k, v in config.items() if k != "name"}
    factory = REPRESENTATIONS.get(str(config["name"]))
    try:
        return factory(**options)
    except TypeError as exc:
        raise ValueError(f"bad options for representation {config['name']!r}: {exc}") from None


class _Standardised(Representation):
    """Shared code of representations that standardise each element with training-split moments.

    Subclasses define :meth:`_raw` (the transform before standardisation).
    """

    def __init__(self, shape: tuple[int, int, int] | list[int] | None = None) -> None:
        super().__init__(shape)
        self.mean_: torch.Tensor | None = None  # float32 (C, H, W), CPU
        self.std_: torch.Tensor | None = None

    @property
    def fitted(self) -> bool:
        return self.mean_ is not None and self.std_ is not None

    @abstractmethod
    def _raw(self, x: torch.Tensor) -> torch.Tensor:
        """The unstandardised values whose per-element moments are fitted."""

    def fit(self, x: torch.Tensor) -> _Standardised:
        _check_images(x)
        if len(x) < 2:
            raise ValueError(f"need at least two training images to standardise {self.name!r}, got {len(x)}")
        self.shape = tuple(x.shape[1:])
        self.mean_, self.std_ = elementwise_moments(self._raw, x)
        return self

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fitted:
            raise NotFittedError(f"the {self.name!r} representation is not fitted: call fit() on the training "
                                 "images or load_state_tensors() from a saved model")
        self._check_shape(x)
        mean = self.mean_.to(x.device)
        std = self.std_.to(x.device)
        return ((self._raw(x) - mean) / std).to(torch.float32)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        if not self.fitted:
            raise NotFittedError(f"the {self.name!r} representation is not fitted: nothing to save")
        return {"mean": self.mean_.clone(), "std": self.std_.clone()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> _Standardised:
        self.mean_, self.std_ = _checked_moments(self.name, tensors, self.shape)
        self.shape = tuple(self.mean_.shape)
        return self


def _checked_moments(name: str, tensors: dict[str, torch.Tensor],
                     shape: tuple[int, int, int] | None) -> tuple[torch.Tensor, torch.Tensor]:
    missing = {"mean", "std"} - set(tensors)
    if missing:
        raise ValueError(f"the {name!r} representation needs tensors 'mean' and 'std', missing {sorted(missing)}")
    mean, std = tensors["mean"], tensors["std"]
    if mean.ndim != 3 or mean.shape != std.shape:
        raise ValueError(f"'mean' and 'std' must both be (C, H, W), got {tuple(mean.shape)} and {tuple(std.shape)}")
    if shape is not None and tuple(mean.shape) != shape:
        raise ValueError(f"statistics of shape {tuple(mean.shape)} do not match the configured shape {shape}")
    if not (torch.isfinite(mean).all() and torch.isfinite(std).all() and (std > 0).all()):
        raise ValueError("'mean' must be finite and 'std' finite and positive")
    return mean.detach().to("cpu", torch.float32).clone(), std.detach().to("cpu", torch.float32).clone()


@REPRESENTATIONS.register("pixels-std")
class StandardisedPixels(_Standardised):
    """Each pixel (channel, row, column) standardised with the training split's mean and std."""

    name = "pixels-std"

    def _raw(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.float32)


@REPRESENTATIONS.register("pixels+dct")
class PixelsAndDCT(Representation):
    """``pixels-std`` and ``dct`` stacked as channels: (N, 2C, H, W)."""

    name = "pixels+dct"

    def __init__(self, eps: float = DCT_EPS, shape: tuple[int, int, int] | list[int] | None = None) -> None:
        super().__init__(shape)
        self.pixels = StandardisedPixels(shape)
        self.dct = DCT(eps, shape)

    @property
    def fitted(self) -> bool:
        return self.pixels.fitted and self.dct.fitted

    def out_channels(self, in_channels: int) -> int:
        return 2 * in_channels

    def fit(self, x: torch.Tensor) -> PixelsAndDCT:
        self.pixels.fit(x)
        self.dct.fit(x)
        self.shape = self.dct.shape
        return self

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fitted:
            raise NotFittedError("the 'pixels+dct' representation is not fitted: call fit() on the training "
                                 "images or load_state_tensors() from a saved model")
        return torch.cat([self.pixels.transform(x), self.dct.transform(x)], dim=1)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {**{f"pixels.{k}": v for k, v in self.pixels.state_tensors().items()},
                **{f"dct.{k}": v for k, v in self.dct.state_tensors().items()}}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> PixelsAndDCT:
        parts = {"pixels": {}, "dct": {}}
        for key, value in tensors.items():
            part, _, name = key.partition(".")
            if part not in parts:
                raise ValueError(f"the 'pixels+dct' representation got an unexpected tensor {key!r}")
            parts[part][name] = value
        self.pixels.load_state_tensors(parts["pixels"])
        self.dct.load_state_tensors(parts["dct"])
        self.shape = self.dct.shape
        return self

    def to_config(self) -> dict[str, Any]:
        return {**super().to_config(), "eps": self.dct.eps}
