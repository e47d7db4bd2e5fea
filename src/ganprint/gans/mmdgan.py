"""MMD GAN with gradient penalty (Bińkowski, Sutherland, Arbel, Gretton, ICLR 2018, "Demystifying MMD GANs").

Faithful: the loss is the squared maximum mean discrepancy between real and generated images
under a *learned* kernel ``k(x, y) = k_rq(h(x), h(y))``: the critic ``h`` maps images to features
(the paper uses 16 at 32x32) and ``k_rq`` is the mixture of rational-quadratic kernels with
``alpha`` in {0.2, 0.5, 1, 2, 5} (the paper's choice). The generator minimises the unbiased
MMD^2 estimate; the critic maximises it minus a gradient penalty
``lambda (||grad w(x_hat)|| - 1)^2`` (lambda 1) on the MMD *witness function*
``w(t) = mean_i k(t, x_i) - mean_j k(t, g_j)`` at real/generated interpolates, as in the paper
(objective ``mmd-gp``). No batch normalisation in the critic.

Networks: the "standard CNN" of :mod:`ganprint.gans.standard_cnn` (the paper's DCGAN-type
networks). Scaled down: channel ``width`` and training length; one critic update per generator
update in the quick profile (the paper: 5), Adam (lr 1e-4, beta1 0.5, beta2 0.9).
"""

from __future__ import annotations

from ganprint.gans.registry import GANS, GanSpec
from ganprint.gans.standard_cnn import StandardCritic, StandardGenerator, n_stages

LATENT_DIM = 128


@GANS.register("mmdgan")
def mmdgan(image_size: int = 32, width: float = 1.0, disc_width: float | None = None,
           latent_dim: int = LATENT_DIM, features: int = 16, resize_init: bool = False) -> GanSpec:
    """MMD GAN: rational-quadratic kernel on learned critic features, gradient penalty on the witness."""
    n_stages(image_size)
    disc_width = width if disc_width is None else disc_width
    return GanSpec(
        name="mmdgan",
        latent_dim=latent_dim,
        image_shape=(3, image_size, image_size),
        generator=StandardGenerator(image_size, width, latent_dim, resize_init),
        discriminator=StandardCritic(image_size, disc_width, out_dim=features),
        options={"image_size": image_size, "width": width, "disc_width": disc_width, "latent_dim": latent_dim,
                 "features": features, "resize_init": resize_init},
        objective="mmd-gp",
    )
