"""Latent priors a generator can put in front of its first layer.

A GAN maps one connected latent distribution onto its data. When the data are several separate
modes (the digits of a subset), the generator must also map the latent space *between* the modes
somewhere, and it draws shapes between two digits there until training has made the map sharp,
which takes many steps. DeLiGAN (Gurumurthy, Sarvadevabhatla & Babu, "DeLiGAN: Generative
Adversarial Networks for Diverse and Limited Data", CVPR 2017) instead learns a Gaussian mixture
as the prior: ``z' = mu_k + sigma_k * z`` with a component ``k`` drawn uniformly and the means and
scales learned with the generator, so each component can settle on one mode.

:class:`MixturePrior` takes the component from the latent itself (the largest of the first ``K``
coordinates, uniform over components for ``z ~ N(0, I)``), so the generator stays a deterministic
function of a standard normal latent: sampling, seeded latent streams and exact resume need no
change.
"""

from __future__ import annotations

import math

import torch
from torch import nn

PRIORS = ("normal", "mixture")


class MixturePrior(nn.Module):
    """A learned mixture of ``components`` axis-aligned Gaussians over the latent space.

    ``forward(z)`` maps standard normal latents ``z`` (N, latent_dim) to ``mu_k + sigma_k * z``,
    ``k = argmax(z[:, :components])``. The means start uniform in [-1, 1] (as in DeLiGAN), the
    scales at ``sigma``; both are trained with the generator.
    """

    def __init__(self, latent_dim: int, components: int = 10, sigma: float = 0.5) -> None:
        super().__init__()
        if not 2 <= components <= latent_dim:
            raise ValueError(f"components must be in [2, latent_dim={latent_dim}], got {components!r}")
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        self.components = components
        self.mu = nn.Parameter(torch.rand(components, latent_dim) * 2.0 - 1.0)
        self.log_sigma = nn.Parameter(torch.full((components, latent_dim), math.log(sigma)))

    def component(self, z: torch.Tensor) -> torch.Tensor:
        """The mixture component each latent is drawn from (N,) int64."""
        return z[:, : self.components].argmax(1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        k = self.component(z)
        return self.mu[k] + self.log_sigma[k].exp() * z


def build_prior(name: str, latent_dim: int, components: int = 10, sigma: float = 0.5) -> nn.Module:
    """``normal`` (the identity: the standard normal latent as is) or a learned ``mixture``."""
    if name == "normal":
        return nn.Identity()
    if name == "mixture":
        return MixturePrior(latent_dim, components, sigma)
    raise ValueError(f"prior must be one of {PRIORS}, got {name!r}")
