"""Image perturbations for robustness tests and immunisation (Yu et al. 2019, seed 004 §immunisation).

Every perturbation is a small frozen dataclass whose call maps float images (N, C, H, W) in [0, 1]
to perturbed images of the same shape, dtype and device, clipped to [0, 1]. Randomness (noise, the
position of a random crop) comes only from the ``generator`` argument (a CPU
:class:`torch.Generator`; a fresh one seeded 0 when omitted), so a call is a pure function of its
inputs and a composition is deterministic under a seed.

The families and what their strength means (:data:`PERTURBATIONS` holds the default grids):

* ``noise``: additive Gaussian noise, std ``sigma`` as a fraction of the [0, 1] range;
* ``blur``: Gaussian blur, std ``sigma`` in pixels (kernel ``2 * ceil(3 sigma) + 1``, reflect padding);
* ``jpeg``: a real JPEG encode/decode with Pillow (libjpeg) at ``quality``, per image, on the
  image quantised to 8 bits;
* ``crop``: keep ``keep`` of each side (centre, or a random position), resize back (bilinear,
  antialiased);
* ``brightness`` / ``gamma``: relighting, ``x * (1 + s)`` and ``x ** (1 + s)`` for a relative
  change ``s`` (e.g. ``-0.3`` = 30 % darker, or gamma 0.7).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

from ganprint.registry import UnknownNameError

__all__ = [
    "JPEG",
    "PERTURBATIONS",
    "Compose",
    "CropResize",
    "GaussianBlur",
    "GaussianNoise",
    "Perturbation",
    "PerturbationSpec",
    "Relight",
    "create_perturbation",
    "default_grid",
    "get_spec",
    "perturb_uint8",
    "strength_key",
]

Perturbation = Callable[..., torch.Tensor]
"""``perturbation(x, generator=None) -> x'`` on float images (N, C, H, W) in [0, 1]."""


def _generator(generator: torch.Generator | None) -> torch.Generator:
    return generator if generator is not None else torch.Generator().manual_seed(0)


def _check(x: torch.Tensor) -> None:
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"expected float images (N, C, H, W) in [0, 1], got {x.dtype} {tuple(x.shape)}")


@dataclass(frozen=True)
class GaussianNoise:
    """Add N(0, sigma^2) per pixel; ``sigma`` is a fraction of the [0, 1] range."""

    sigma: float

    def __post_init__(self) -> None:
        if not self.sigma >= 0:
            raise ValueError(f"noise sigma must be >= 0, got {self.sigma}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check(x)
        if self.sigma == 0:
            return x.clone()
        noise = torch.randn(x.shape, generator=_generator(generator), dtype=torch.float32)
        return (x + self.sigma * noise.to(device=x.device, dtype=x.dtype)).clamp_(0, 1)


@dataclass(frozen=True)
class GaussianBlur:
    """Gaussian blur with std ``sigma`` pixels; ``sigma = 0`` is the identity."""

    sigma: float

    def __post_init__(self) -> None:
        if not self.sigma >= 0:
            raise ValueError(f"blur sigma must be >= 0, got {self.sigma}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check(x)
        if self.sigma == 0:
            return x.clone()
        k = 2 * math.ceil(3 * self.sigma) + 1
        return TF.gaussian_blur(x, [k, k], [float(self.sigma)] * 2).clamp_(0, 1)


@dataclass(frozen=True)
class JPEG:
    """Encode each image as JPEG at ``quality`` (1..100) with Pillow and decode it again."""

    quality: int

    def __post_init__(self) -> None:
        if isinstance(self.quality, bool) or not 1 <= int(self.quality) <= 100:
            raise ValueError(f"JPEG quality must be in 1..100, got {self.quality!r}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        from ganprint.attribution.format_audit import reencode

        _check(x)
        if x.shape[1] not in (1, 3):
            raise ValueError(f"JPEG needs 1 or 3 channels, got {x.shape[1]}")
        u8 = to_uint8(x).permute(0, 2, 3, 1).cpu().numpy()
        out = torch.from_numpy(reencode(u8, "jpeg", int(self.quality))).permute(0, 3, 1, 2)
        return out.to(device=x.device, dtype=x.dtype).div_(255.0)


@dataclass(frozen=True)
class CropResize:
    """Crop ``keep`` of the height and width (centre, or at a uniformly random position per image
    when ``random``) and resize back to the input size (bilinear, antialiased)."""

    keep: float
    random: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.keep <= 1:
            raise ValueError(f"crop keep must be in (0, 1], got {self.keep}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check(x)
        h, w = x.shape[-2:]
        ch, cw = max(1, round(h * self.keep)), max(1, round(w * self.keep))
        if (ch, cw) == (h, w):
            return x.clone()
        if not self.random:
            top, left = (h - ch) // 2, (w - cw) // 2
            return TF.resized_crop(x, top, left, ch, cw, [h, w], antialias=True).clamp_(0, 1)
        gen = _generator(generator)
        tops = torch.randint(0, h - ch + 1, (len(x),), generator=gen).tolist()
        lefts = torch.randint(0, w - cw + 1, (len(x),), generator=gen).tolist()
        return torch.cat([TF.resized_crop(x[i:i + 1], t, left, ch, cw, [h, w], antialias=True)
                          for i, (t, left) in enumerate(zip(tops, lefts, strict=True))]).clamp_(0, 1)


@dataclass(frozen=True)
class Relight:
    """``clip((x ** gamma) * brightness, 0, 1)``: a global brightness factor and a gamma curve."""

    brightness: float = 1.0
    gamma: float = 1.0

    def __post_init__(self) -> None:
        if not (self.brightness >= 0 and self.gamma > 0):
            raise ValueError(f"need brightness >= 0 and gamma > 0, got {self.brightness}, {self.gamma}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check(x)
        out = x.clamp(0, 1)
        if self.gamma != 1:
            out = out.pow(self.gamma)
        return (out * self.brightness).clamp_(0, 1)


@dataclass(frozen=True)
class Compose:
    """Apply ``transforms`` in order, all drawing from the same generator."""

    transforms: tuple[Perturbation, ...]

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        gen = _generator(generator)
        out = x.clone()
        for t in self.transforms:
            out = t(out, gen)
        return out


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] -> uint8, rounded to the nearest level."""
    return x.clamp(0, 1).mul(255.0).round_().to(torch.uint8)


def perturb_uint8(images: np.ndarray, perturbation: Perturbation, seed: int = 0) -> np.ndarray:
    """Apply ``perturbation`` to uint8 images (N, H, W) or (N, H, W, C) as a saved file would hold
    them: scaled to [0, 1], perturbed, quantised back to uint8. Same shape; deterministic for a seed."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(f"expected uint8 images (N, H, W[, C]), got {images.dtype} {images.shape}")
    x = torch.from_numpy(np.ascontiguousarray(images.reshape(*images.shape[:3], -1))).permute(0, 3, 1, 2)
    out = perturbation(x.float().div_(255.0), torch.Generator().manual_seed(seed))
    return to_uint8(out).permute(0, 2, 3, 1).numpy().reshape(images.shape)


# -- registry --------------------------------------------------------------------------------------

def uniform_strength(lo: float, hi: float, u: float, side: int) -> float:
    """``lo + (hi - lo) * u``: a strength uniform on [lo, hi] for ``u`` uniform on [0, 1)."""
    return lo + (hi - lo) * u


def _jpeg_quality(lo: float, hi: float, u: float, side: int) -> float:
    return round(uniform_strength(lo, hi, u, side))


def _crop_keep(lo: float, hi: float, u: float, side: int) -> float:
    """The kept fraction of a random crop: a whole number of pixels drawn uniformly from
    ``round(lo * side) .. round(hi * side)``, as a fraction of ``side``.

    A crop keeps whole pixels, so a fraction drawn uniformly from [lo, hi] would make the range's
    ends rare: at 28 px and lo = 0.8, only 2 % of the draws round to the target's own 22 px. Drawn
    in pixels, every crop size of the range is trained equally often.
    """
    small, large = max(1, round(lo * side)), max(1, round(hi * side))
    size = min(large, small + int(u * (large - small + 1)))
    return size / side


@dataclass(frozen=True)
class PerturbationSpec:
    """A perturbation family: how a strength becomes a transform, the default evaluation grid
    (mildest first), the strength range immunisation draws from (the robustness target), and how a
    random strength in a range is drawn (``draw(lo, hi, u, side)`` for ``u`` uniform on [0, 1) and
    images ``side`` pixels high: uniform, or uniform over the values the family can realise)."""

    name: str
    make: Callable[[float], Perturbation]
    strengths: tuple[float, ...]
    immunise_range: tuple[float, float]
    unit: str
    draw: Callable[[float, float, float, int], float] = uniform_strength

    def create(self, strength: float, *, random: bool = False) -> Perturbation:
        """The transform at ``strength``; ``random`` picks a random crop position (``crop`` only)."""
        if random and self.name == "crop":
            return CropResize(float(strength), random=True)
        return self.make(strength)


def _jpeg(quality: float) -> JPEG:
    if float(quality) != int(quality):
        raise ValueError(f"JPEG quality must be an integer, got {quality}")
    return JPEG(int(quality))


PERTURBATIONS: Mapping[str, PerturbationSpec] = {s.name: s for s in (
    PerturbationSpec("noise", lambda s: GaussianNoise(float(s)), (0.01, 0.02, 0.05, 0.1), (0.0, 0.05),
                     "sigma, fraction of the [0, 1] range"),
    PerturbationSpec("blur", lambda s: GaussianBlur(float(s)), (0.5, 1.0, 1.5, 2.0), (0.0, 1.0), "sigma, pixels"),
    PerturbationSpec("jpeg", _jpeg, (95, 90, 75, 50, 30, 10), (50, 100), "quality", draw=_jpeg_quality),
    PerturbationSpec("crop", lambda s: CropResize(float(s)), (0.95, 0.9, 0.8, 0.7), (0.8, 1.0),
                     "fraction of each side kept, then resized back", draw=_crop_keep),
    PerturbationSpec("brightness", lambda s: Relight(brightness=1 + float(s)), (-0.3, -0.15, 0.15, 0.3),
                     (-0.3, 0.3), "relative change of brightness (x * (1 + s))"),
    PerturbationSpec("gamma", lambda s: Relight(gamma=1 + float(s)), (-0.3, -0.15, 0.15, 0.3), (-0.3, 0.3),
                     "relative change of gamma (x ** (1 + s))"),
)}
"""The registered perturbation families by name (see the module docstring)."""


def get_spec(name: str) -> PerturbationSpec:
    """The family ``name``; an unknown name is an error listing the known ones."""
    try:
        return PERTURBATIONS[name]
    except KeyError:
        raise UnknownNameError(f"unknown perturbation {name!r}; known: {', '.join(PERTURBATIONS)}") from None


def create_perturbation(name: str, strength: float) -> Perturbation:
    """The transform of family ``name`` at ``strength`` (e.g. ``create_perturbation("jpeg", 50)``)."""
    return get_spec(name).create(strength)


def default_grid(names: Sequence[str] | None = None) -> dict[str, tuple[float, ...]]:
    """``{name: default strengths}`` for ``names`` (all families when None)."""
    return {n: get_spec(n).strengths for n in (names if names is not None else PERTURBATIONS)}


def strength_key(strength: float) -> str:
    """A strength as a JSON key: ``50.0`` -> ``"50"``, ``0.05`` -> ``"0.05"``."""
    return f"{float(strength):g}"
