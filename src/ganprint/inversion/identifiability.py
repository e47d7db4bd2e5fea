"""How much of a latent vector can an image reveal? A ceiling on the inverse model's cosine proximity.

A generator that barely reacts to some latent directions maps latents differing along them to
images that differ by less than the 8-bit rounding of an image file: no inverse model, and no
latent search, can recover those components, and the cosine between the estimated and the true
latent is bounded below 1 however well the inverse model is trained.

:func:`jacobian_singular_values` measures this at sample latents (the singular values of
``dG/dz``, image pixels in [0, 1]); :func:`linear_cosine_ceiling` turns them into the cosine that
the Bayes-optimal estimator reaches for a generator that is linear around each latent, with
rounding noise of standard deviation ``1 / (255 * sqrt(12))`` per pixel: a component along a
singular direction of gain ``s`` is recovered with weight ``s^2 / (s^2 + noise^2)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

ROUNDING_STD = 1.0 / (255.0 * math.sqrt(12.0))
"""Standard deviation of rounding a [0, 1] pixel to 8 bits (uniform error of one grey level)."""


def jacobian_singular_values(G: nn.Module, z: torch.Tensor) -> np.ndarray:
    """Singular values (descending) of the Jacobian of the flattened image ``G(z)`` with respect to
    ``z``, one row per latent in ``z`` (N, latent_dim). ``G`` is used in eval mode, weights frozen."""
    from torch.func import jacfwd

    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    rows = []
    try:
        for latent in z.to(device).float():
            J = jacfwd(lambda v: G(v[None]).flatten())(latent)       # (pixels, latent_dim)
            rows.append(torch.linalg.svdvals(J.detach().double()).cpu().numpy())
    finally:
        G.train(was_training)
    return np.stack(rows) if rows else np.zeros((0, z.shape[1]))


def linear_cosine_ceiling(singular_values: np.ndarray, noise_std: float = ROUNDING_STD, *, draws: int = 2000,
                          seed: int = 0) -> float:
    """Expected cosine between the posterior-mean latent and the true latent z ~ N(0, I) when the
    image is ``J z`` plus Gaussian noise of ``noise_std`` per pixel, averaged over the Jacobians
    whose singular values are the rows of ``singular_values`` (N, latent_dim)."""
    s = np.atleast_2d(np.asarray(singular_values, float))
    rng = np.random.default_rng(seed)
    out = []
    for row in s:
        z = rng.standard_normal((draws, row.size))
        e = rng.standard_normal((draws, row.size)) * noise_std
        # observation in the singular basis: y_i = s_i z_i + e_i; posterior mean s_i y_i / (s_i^2 + noise^2)
        est = row * (row * z + e) / (row ** 2 + noise_std ** 2)
        cos = (est * z).sum(1) / np.maximum(np.linalg.norm(est, axis=1) * np.linalg.norm(z, axis=1), 1e-300)
        out.append(cos.mean())
    return float(np.mean(out))


def identifiability_report(G: nn.Module, latent_dim: int, *, n: int = 8, seed: int = 0) -> dict[str, float]:
    """Jacobian spectrum at ``n`` latents from N(0, I): the median singular values (largest, 10th,
    50th, smallest), the mean number of latent directions whose gain exceeds the rounding noise of
    the whole image, and the linearised cosine ceiling."""
    z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))
    sv = jacobian_singular_values(G, z)
    idx = {"largest": 0, "10th": min(9, latent_dim - 1), "50th": min(49, latent_dim - 1), "smallest": latent_dim - 1}
    return {
        **{f"singular_value_{k}": float(np.median(sv[:, i])) for k, i in idx.items()},
        "directions_above_rounding_noise": float((sv > ROUNDING_STD).sum(1).mean()),
        "cosine_ceiling": linear_cosine_ceiling(sv, seed=seed),
        "n_latents": int(n),
    }
