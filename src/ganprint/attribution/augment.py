"""Photometric training augmentation for attributors: change what an image shows, keep how it was made.

An attributor trained on the real crops of a few photos learns, besides the generators' traces, what
those photos look like; the real crops of an unseen photo (a dark blue sky, say) then fall nearer a
GAN that drew similar colours. ``photometric`` varies each training image's exposure, contrast,
gamma and saturation at random, for *every* class alike, so colour and tone stop telling the
sources apart and the classifier has to rely on the spatial and spectral traces that survive such
changes (the generator's upsampling pattern, the camera's noise). The result is quantised back to
8-bit levels, as every image the attributor is shown at test time is.

Each function is pure: ``(x, generator) -> x'`` on float (N, C, H, W) batches in [0, 1], drawing its
randomness from an explicit :class:`torch.Generator` (training stays reproducible and resumable).
"""

from __future__ import annotations

import torch

AUGMENTATIONS = ("none", "photometric")
"""Training augmentations an attributor's :class:`~ganprint.attribution.training.FitConfig` may name."""


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, 1, 1, 1, generator=gen)


def photometric(x: torch.Tensor, gen: torch.Generator, *, strength: float = 1.0) -> torch.Tensor:
    """Random per-image gamma (x ** 2**u, u in ±0.5 strength), contrast about the image mean
    (x 1 ± 0.35 strength), brightness (± 0.08 strength) and, for colour images, saturation
    (x 1 ± 0.5 strength); clamped to [0, 1] and rounded to 1/255. ``x`` float (N, C, H, W) in [0, 1]."""
    if strength < 0:
        raise ValueError("strength must be >= 0")
    n = len(x)
    if n == 0 or strength == 0:
        return x
    out = x.clamp(0, 1) ** torch.exp2(_uniform(n, -0.5 * strength, 0.5 * strength, gen))
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = mean + (out - mean) * _uniform(n, 1 - 0.35 * strength, 1 + 0.35 * strength, gen)
    out = out + _uniform(n, -0.08 * strength, 0.08 * strength, gen)
    if out.shape[1] == 3:
        grey = (out * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        out = grey + (out - grey) * _uniform(n, max(0.0, 1 - 0.5 * strength), 1 + 0.5 * strength, gen)
    return out.clamp_(0, 1).mul_(255).round_().div_(255)


def augment_batch(name: str, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Apply the named augmentation (:data:`AUGMENTATIONS`) to a float batch in [0, 1]."""
    if name == "none":
        return x
    if name == "photometric":
        return photometric(x, gen)
    raise ValueError(f"unknown augmentation {name!r}; known: {', '.join(AUGMENTATIONS)}")
