"""Regularisers a generator's loss can carry besides its adversarial objective.

* :func:`mode_seeking_penalty` -- the mode-seeking term of MSGAN (Mao, Lee, Tseng, Ma & Yang,
  "Mode Seeking Generative Adversarial Networks for Diverse Image Synthesis", CVPR 2019): two
  latents far apart must give images far apart. A generator that maps a whole region of its latent
  space onto one image (mode collapse) makes the ratio of image distance to latent distance small
  and the penalty, its inverse, large.
"""

from __future__ import annotations

import torch


def mode_seeking_penalty(images: torch.Tensor, z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Mean over pairs ``(i, i + N/2)`` of ``1 / (d_x / d_z + eps)``.

    ``d_x`` is the mean absolute difference of the two images, ``d_z`` that of their latents, as in
    MSGAN. MSGAN takes the ratio of two batch means; here the ratio is taken per pair and then
    averaged, so that the few pairs that fall in one collapsed region of the latent space (e.g. one
    component of a mixture prior) are not outweighed by the many pairs that do not. ``images`` is
    (N, ...) and ``z`` (N, latent_dim) with N >= 2; an odd last sample is left unpaired.
    """
    if len(images) != len(z):
        raise ValueError(f"images and latents differ in number: {len(images)} and {len(z)}")
    half = len(images) // 2
    if half < 1:
        raise ValueError("the mode-seeking penalty needs at least two samples")
    d_x = (images[:half] - images[half: 2 * half]).abs().flatten(1).mean(1)
    d_z = (z[:half] - z[half: 2 * half]).abs().flatten(1).mean(1)
    return (1.0 / (d_x / d_z + eps)).mean()
