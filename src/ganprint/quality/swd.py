"""A quality figure without any network: the sliced Wasserstein distance between Laplacian-pyramid
patches of a GAN's samples and of real images (ProGAN, Karras et al., ICLR 2018, appendix D).

Why a second figure. The Fréchet figure (:mod:`ganprint.quality.frechet`) depends on a feature
network trained for a few epochs on the real images, and its value moves with that network's
seed: one run's threshold describes one network. This figure has nothing to train. Each image is
split into a Laplacian pyramid (5-tap binomial filter; for 32x32 images the bands at 32, 16 and 8
pixels, the last one the low-pass remainder, which holds colour and layout). From every band,
``descriptors_per_image`` random 7x7 patches (x 3 channels) are taken per image; each band's
patches are standardised per channel with the mean and standard deviation of the *reference*
patches (ProGAN standardises each set by its own statistics; using the reference's keeps a GAN
whose contrast or colour is off from being forgiven). The distance between two sets of patches is
the sliced Wasserstein distance: the mean, over ``directions`` random unit directions, of the 1-D
Wasserstein-1 distance between the two sets projected on it (sort both, average the absolute
differences). The figure is the mean over the bands, times 1,000 (ProGAN's scale).

:func:`swd_quality_figure` normalises it exactly as the Fréchet figure is normalised, at one sample
size: ``relative = (swd - swd_real) / (swd_trivial - swd_real)``, where ``swd_real`` is a disjoint
half of the real reference (what a perfect GAN would score) and ``swd_trivial`` the nearer of
uniform colour noise and smooth colour blobs (:func:`ganprint.quality.frechet.trivial_failures`).
A GAN **passes** at ``relative <= PASS_RELATIVE`` (0.35). The threshold comes from degraded real
images only, before any GAN was scored (``python benchmarks/swd_calibration.py``, 1,000 held-out
crops of the bundled training photos per set, seeds 0, 1, 2): more real crops -0.04 to 0.02; a
Gaussian blur of 1 pixel 0.32-0.34 and of 2 pixels 0.61-0.64; Gaussian noise of 20 grey levels
0.49-0.56; JPEG at quality 50 -0.02 to 0.00 (at 32x32 the figure does not see JPEG); crops of
the photos no GAN trains on 0.94-1.01; one crop repeated (total mode collapse) 0.96-1.02. The
spread across seeds is at most 0.08. So a GAN passes when its samples are at least as close to
the real images as those images blurred by one pixel, and fails when they are as far as a 2-pixel
blur, visible noise, other content or a collapse.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ganprint.quality.frechet import ComparisonSets, relative_figure, unit_nchw

PASS_RELATIVE = 0.35
"""A GAN passes when ``(swd - swd_real) / (swd_trivial - swd_real) <= PASS_RELATIVE`` (see the module docstring)."""


@dataclass(frozen=True)
class SwdConfig:
    """How patches are drawn and compared: ProGAN's 7x7 patches, with 32 patches per image and band
    and 256 directions instead of 128 and 4 x 512, which makes a comparison of 1,000 images take
    about a second on two cores (``benchmarks/swd_calibration.py`` gives the spread across seeds)."""

    patch: int = 7
    descriptors_per_image: int = 32
    directions: int = 256
    min_side: int = 8
    chunk: int = 128  # directions projected at once (memory: descriptors x chunk floats per set)

    def __post_init__(self) -> None:
        for name in ("patch", "descriptors_per_image", "directions", "min_side", "chunk"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"SwdConfig.{name} must be a positive integer, got {value!r}")
        if self.min_side < self.patch:
            raise ValueError(f"SwdConfig.min_side ({self.min_side}) must be at least the patch size ({self.patch})")


def _binomial(x: torch.Tensor) -> torch.Tensor:
    """5x5 binomial blur ([1, 4, 6, 4, 1] / 16 in each direction), per channel, reflected borders."""
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=x.dtype, device=x.device) / 16.0
    c = x.shape[1]
    x = F.pad(x, (2, 2, 2, 2), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, 5).expand(c, 1, 1, 5), groups=c)
    return F.conv2d(x, k.view(1, 1, 5, 1).expand(c, 1, 5, 1), groups=c)


def laplacian_pyramid(x: torch.Tensor, min_side: int = 8) -> list[torch.Tensor]:
    """The Laplacian pyramid of float images (N, C, H, W): band-pass levels from full size down, each
    half the size of the last, while a level's smaller side is at least ``min_side``; the last entry
    is the low-pass remainder. Summing the upsampled levels gives the images back."""
    levels = []
    current = x
    while min(current.shape[-2:]) // 2 >= min_side and min(current.shape[-2:]) >= 5:
        low = _binomial(current)[..., ::2, ::2]
        up = F.interpolate(low, size=current.shape[-2:], mode="bilinear", align_corners=False)
        levels.append(current - up)
        current = low
    levels.append(current)
    return levels


def patch_descriptors(level: torch.Tensor, count: int, patch: int, gen: torch.Generator) -> torch.Tensor:
    """``count`` random ``patch`` x ``patch`` patches per image of ``level`` (N, C, H, W), flattened:
    (N * count, C * patch * patch)."""
    n, c, h, w = level.shape
    if h < patch or w < patch:
        raise ValueError(f"a {h}x{w} level has no {patch}x{patch} patch")
    ys = torch.randint(0, h - patch + 1, (n, count), generator=gen)
    xs = torch.randint(0, w - patch + 1, (n, count), generator=gen)
    offsets = torch.arange(patch)
    rows = (ys[..., None] + offsets)[..., :, None]  # (n, count, patch, 1)
    cols = (xs[..., None] + offsets)[..., None, :]  # (n, count, 1, patch)
    images = torch.arange(n)[:, None, None, None]
    patches = level.permute(0, 2, 3, 1)[images, rows, cols]  # (n, count, patch, patch, C)
    return patches.permute(0, 1, 4, 2, 3).reshape(n * count, c * patch * patch)


def _sorted_projections(x: torch.Tensor, directions: torch.Tensor, chunk: int) -> list[torch.Tensor]:
    """``x`` (n, d) projected on each unit direction (D, d) and sorted: one (chunk, n) tensor per
    block of ``chunk`` directions (sorting along the contiguous last dimension is the fast way)."""
    return [torch.sort(directions[start:start + chunk] @ x.T, dim=1).values
            for start in range(0, len(directions), chunk)]


def _w1(sorted_a: list[torch.Tensor], sorted_b: list[torch.Tensor]) -> float:
    """Mean over directions of the mean absolute difference of two equal-sized sorted projections."""
    total = sum(float((pa - pb).abs().mean(1).sum()) for pa, pb in zip(sorted_a, sorted_b, strict=True))
    return total / sum(len(pa) for pa in sorted_a)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, directions: torch.Tensor, chunk: int = 128) -> float:
    """Mean over the unit ``directions`` (D, d) of the Wasserstein-1 distance between the projections
    of the descriptor sets ``a`` and ``b`` (n, d) on them. Both sets must have the same size, so
    that each 1-D distance is the mean absolute difference of the sorted projections."""
    if a.shape != b.shape:
        raise ValueError(f"descriptor sets must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return _w1(_sorted_projections(a, directions, chunk), _sorted_projections(b, directions, chunk))


class SwdReference:
    """A set of real images prepared once (pyramid, patches, standardisation, directions), to
    measure the sliced Wasserstein distance of other sets of the same size against it."""

    def __init__(self, images: np.ndarray, config: SwdConfig = SwdConfig(),  # noqa: B008 - frozen
                 seed: int = 0) -> None:
        self.config = config
        self.seed = seed
        x = unit_nchw(images)
        self.n, self.shape = len(x), tuple(x.shape[1:])
        if min(self.shape[-2:]) < config.patch:
            raise ValueError(f"images of {self.shape[-2]}x{self.shape[-1]} are smaller than a "
                             f"{config.patch}x{config.patch} patch")
        gen = torch.Generator().manual_seed(seed)
        levels = self._descriptors(x, gen)
        self.mean = [d.view(len(d), self.shape[0], -1).mean((0, 2)) for d in levels]
        self.std = [d.view(len(d), self.shape[0], -1).std((0, 2)).clamp(min=1e-8) for d in levels]
        descriptors = [self._standardise(d, i) for i, d in enumerate(levels)]
        directions = torch.randn(len(levels), config.directions, descriptors[0].shape[1], generator=gen)
        self.directions = directions / directions.norm(dim=2, keepdim=True)
        # the reference side of every comparison, sorted once
        self.sorted = [_sorted_projections(d, self.directions[i], config.chunk) for i, d in enumerate(descriptors)]

    def _descriptors(self, x: torch.Tensor, gen: torch.Generator) -> list[torch.Tensor]:
        cfg = self.config
        return [patch_descriptors(level, cfg.descriptors_per_image, cfg.patch, gen)
                for level in laplacian_pyramid(x, cfg.min_side)]

    def _standardise(self, d: torch.Tensor, level: int) -> torch.Tensor:
        c = self.shape[0]
        return ((d.view(len(d), c, -1) - self.mean[level][:, None]) / self.std[level][:, None]).reshape(len(d), -1)

    def levels(self, images: np.ndarray, seed: int | None = None) -> list[float]:
        """The distance of ``images`` (as many as the reference, of its size) per pyramid level, x 1,000."""
        x = unit_nchw(images)
        if len(x) != self.n or tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"need {self.n} images of shape {self.shape} (C, H, W), "
                             f"got {len(x)} of {tuple(x.shape[1:])}")
        gen = torch.Generator().manual_seed(self.seed + 1 if seed is None else seed)
        return [1e3 * _w1(ref, _sorted_projections(self._standardise(d, i), self.directions[i], self.config.chunk))
                for i, (ref, d) in enumerate(zip(self.sorted, self._descriptors(x, gen), strict=True))]

    def distance(self, images: np.ndarray, seed: int | None = None) -> float:
        """The sliced Wasserstein distance of ``images`` to the reference: the mean over the levels."""
        return float(np.mean(self.levels(images, seed)))


class SwdFigure:
    """The SWD figure against one real reference, prepared for ``n_samples`` samples at a time (the
    reference's patches and the real and trivial-failure distances once; see
    :class:`ganprint.quality.frechet.FrechetFigure`). ``SwdFigure(ref, len(samples), seed=s)(samples)``
    equals :func:`swd_quality_figure` ``(ref, samples, seed=s)``."""

    def __init__(self, real_reference: np.ndarray, n_samples: int, *, seed: int = 0,
                 threshold: float = PASS_RELATIVE, config: SwdConfig = SwdConfig(),  # noqa: B008 - frozen
                 max_images: int = 1000) -> None:
        self.threshold, self.config = threshold, config
        self.sets = ComparisonSets.draw(real_reference, n_samples, seed=seed, max_images=max_images)
        self.reference = SwdReference(self.sets.reference, config, seed=seed)
        self.swd_real, self.swd_noise, self.swd_blobs = (self.reference.distance(x) for x in
                                                         (self.sets.real, self.sets.noise, self.sets.blobs))

    def __call__(self, samples: np.ndarray) -> dict[str, Any]:
        per_level = self.reference.levels(self.sets.samples(samples))
        swd = float(np.mean(per_level))
        swd_trivial, relative = relative_figure(swd, self.swd_real, self.swd_noise, self.swd_blobs)
        return {"swd": swd, "swd_real": self.swd_real, "swd_noise": self.swd_noise, "swd_blobs": self.swd_blobs,
                "swd_trivial": swd_trivial, "swd_levels": [float(v) for v in per_level],
                "relative": float(relative), "threshold": self.threshold, "passed": bool(relative <= self.threshold),
                "n": self.sets.n, "config": asdict(self.config)}


def swd_quality_figure(real_reference: np.ndarray, samples: np.ndarray, *, seed: int = 0,
                       threshold: float = PASS_RELATIVE, config: SwdConfig = SwdConfig(),  # noqa: B008 - frozen
                       max_images: int = 1000) -> dict[str, Any]:
    """The network-free quality figure of a GAN's ``samples`` against held-out ``real_reference``
    images (both RGB NHWC, uint8 or float in [0, 1]), with the same split and normalisation as
    :func:`ganprint.quality.frechet.quality_figure`: the reference's two disjoint halves A and B of
    ``n`` = min(half the reference, number of samples, ``max_images``) images; every set (B, the
    samples, noise, blobs) is compared with A at ``n`` images.

    Returns ``swd``, ``swd_real``, ``swd_noise``, ``swd_blobs``, ``swd_trivial``, ``swd_levels``
    (the samples' distance per pyramid level), ``relative``, ``threshold``, ``passed``, ``n`` and
    ``config``.
    """
    samples = np.asarray(samples)
    return SwdFigure(real_reference, len(samples), seed=seed, threshold=threshold, config=config,
                     max_images=max_images)(samples)
