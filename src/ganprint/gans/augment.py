"""Differentiable augmentation for data-efficient GAN training (Zhao et al., NeurIPS 2020).

A discriminator that sees a few hundred real images memorises them within a few hundred steps,
its loss goes to zero, and the generator stops receiving gradient (it "dies"). DiffAugment
applies the *same kind* of random, differentiable transform to real and generated images, both
when the discriminator is trained and when the generator is, so the discriminator cannot
memorise the real set while the generator still learns the un-augmented distribution.

Each policy is a pure function ``(x, generator) -> x'`` on ``(N, C, H, W)`` tensors, drawing its
randomness from an explicit :class:`torch.Generator` so that training stays reproducible and
resumable. Gradients flow through every policy.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ganprint.registry import Registry

AUGMENTS: Registry[torch.Tensor] = Registry("augmentation")


def _uniform_int(n: int, low: int, high: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """n integers uniform on [low, high] (inclusive), drawn on ``gen``'s device, moved to ``device``."""
    return torch.randint(low, high + 1, (n,), generator=gen, device=gen.device).to(device)


@AUGMENTS.register("translation")
def translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size in x and y, filling with zeros."""
    n, _, h, w = x.shape
    sy, sx = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    dy = _uniform_int(n, -sy, sy, gen, x.device)
    dx = _uniform_int(n, -sx, sx, gen, x.device)
    rows = torch.arange(h, device=x.device)[None, :] - dy[:, None]  # (n, h): source row of each row
    cols = torch.arange(w, device=x.device)[None, :] - dx[:, None]
    valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    rows = rows.clamp(0, h - 1)
    cols = cols.clamp(0, w - 1)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = x.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c)
    out = out * valid[..., None].to(x.dtype)
    return out.permute(0, 3, 1, 2)


@AUGMENTS.register("cutout")
def cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of ``ratio`` of the image size at a random position in each image."""
    n, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    cy = _uniform_int(n, 0, h - 1, gen, x.device)
    cx = _uniform_int(n, 0, w - 1, gen, x.device)
    ys = torch.arange(h, device=x.device)[None, :] - (cy[:, None] - ch // 2)
    xs = torch.arange(w, device=x.device)[None, :] - (cx[:, None] - cw // 2)
    inside = ((ys >= 0) & (ys < ch))[:, :, None] & ((xs >= 0) & (xs < cw))[:, None, :]
    return x * (~inside)[:, None].to(x.dtype)


@AUGMENTS.register("color")
def color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """DiffAugment's colour policy on images in [0, 1]: a random brightness shift (up to a quarter
    of the range either way, the original's +-0.5 on [-1, 1]), saturation scaled by a factor in
    [0, 2) around each pixel's channel mean, and contrast by a factor in [0.5, 1.5) around the
    image's mean."""
    n = x.shape[0]

    def factor() -> torch.Tensor:
        return torch.rand(n, 1, 1, 1, generator=gen, device=gen.device).to(x.device, x.dtype)

    x = x + (factor() - 0.5) * 0.5
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (factor() * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (factor() + 0.5) + mean


def diff_augment(x: torch.Tensor, policies: Sequence[str], gen: torch.Generator) -> torch.Tensor:
    """Apply the named policies in order (an empty sequence returns ``x`` unchanged)."""
    for name in policies:
        x = AUGMENTS.get(name)(x, gen)
    return x
