"""SNGAN: spectral normalisation in the discriminator and the hinge loss (Miyato et al., ICLR 2018).

Faithful: every convolution and the dense layer of the discriminator is spectrally normalised
(``torch.nn.utils.parametrizations.spectral_norm``: one power iteration per forward pass, as in the
paper), the losses are the hinge loss (objective ``hinge``), and the networks are the paper's
"standard CNN" for 32x32 images (:mod:`ganprint.gans.standard_cnn`), grown by one stride-2 stage
per doubling for 64 and 128. The paper's CIFAR-10 settings with this network are Adam
(lr 2e-4, beta1 0.5, beta2 0.999) with one discriminator update per generator update
(its setting "B" for the standard CNN), which is also the cheapest on a CPU; the paper's ResNet
needs five discriminator updates per generator update and residual blocks at full width, about
ten times the cost per generator step, so the DCGAN-style network is the one built here.

Scaled down in the quick profile: channel width (``width``) and training length.
"""

from __future__ import annotations

from ganprint.gans.registry import GANS, GanSpec
from ganprint.gans.standard_cnn import StandardCritic, StandardGenerator, n_stages

LATENT_DIM = 128


@GANS.register("sngan")
def sngan(image_size: int = 32, width: float = 1.0, disc_width: float | None = None,
          latent_dim: int = LATENT_DIM, resize_init: bool = False) -> GanSpec:
    """SNGAN with the standard CNN (spectrally normalised critic, hinge loss)."""
    n_stages(image_size)
    disc_width = width if disc_width is None else disc_width
    return GanSpec(
        name="sngan",
        latent_dim=latent_dim,
        image_shape=(3, image_size, image_size),
        generator=StandardGenerator(image_size, width, latent_dim, resize_init),
        discriminator=StandardCritic(image_size, disc_width, out_dim=1, sn=True),
        options={"image_size": image_size, "width": width, "disc_width": disc_width, "latent_dim": latent_dim,
                 "resize_init": resize_init},
        objective="hinge",
    )
