"""Cramér GAN (Bellemare, Danihelka, Dabney, Mohamed, Lakshminarayanan, Hoyer, Munos, 2017).

Faithful: the critic is a feature map ``h`` (images -> R^``features``; the paper uses 256) and the
losses are those of the paper's Algorithm 1 (objective ``cramer-gp``): with a real batch ``x_r``
and two *independent* generator batches ``x_g, x'_g``, the generator minimises the energy-distance
estimate ``||h(x_r)-h(x_g)|| + ||h(x_r)-h(x'_g)|| - ||h(x_g)-h(x'_g)||`` and the critic maximises
``f(x_r) - f(x_g)`` with ``f(x) = ||h(x)-h(x'_g)|| - ||h(x)||``, minus a gradient penalty
``lambda (||grad f(x_hat)|| - 1)^2`` (lambda 10) at random interpolates of real and generated images.
The critic has no batch normalisation (the penalty is per sample).

Networks: the "standard CNN" of :mod:`ganprint.gans.standard_cnn` (the paper's image experiments
used DCGAN-like networks too). Scaled down: ``features`` (default 64, paper 256), channel
``width``, training length; Adam (lr 1e-4, beta1 0.5, beta2 0.9 as in WGAN-GP, which the paper
follows) with one critic update per generator update in the quick profile (the paper: 5).
"""

from __future__ import annotations

from ganprint.gans.registry import GANS, GanSpec
from ganprint.gans.standard_cnn import StandardCritic, StandardGenerator, n_stages

LATENT_DIM = 128


@GANS.register("cramergan")
def cramergan(image_size: int = 32, width: float = 1.0, disc_width: float | None = None,
              latent_dim: int = LATENT_DIM, features: int = 64, resize_init: bool = False) -> GanSpec:
    """Cramér GAN: feature-space critic ``h`` with gradient penalty, two generator batches per step."""
    n_stages(image_size)
    disc_width = width if disc_width is None else disc_width
    return GanSpec(
        name="cramergan",
        latent_dim=latent_dim,
        image_shape=(3, image_size, image_size),
        generator=StandardGenerator(image_size, width, latent_dim, resize_init),
        discriminator=StandardCritic(image_size, disc_width, out_dim=features),
        options={"image_size": image_size, "width": width, "disc_width": disc_width, "latent_dim": latent_dim,
                 "features": features, "resize_init": resize_init},
        objective="cramer-gp",
    )
