"""The MNIST GAN of seed 000 §3.1.1 (a Keras DCGAN), layer for layer.

Generator (1,164,289 parameters at ``width=1``)::

    Dense 100 -> 7*7*128, LeakyReLU(0.2), reshape (128, 7, 7)
    ConvTranspose 128, 4x4, stride 2 -> 14x14, LeakyReLU(0.2)
    ConvTranspose 128, 4x4, stride 2 -> 28x28, LeakyReLU(0.2)
    Conv 1, 7x7, same -> 28x28, sigmoid

Discriminator (40,705 parameters)::

    Conv 64, 3x3, stride 2 -> 14x14, LeakyReLU(0.2), Dropout(0.4)
    Conv 64, 3x3, stride 2 -> 7x7, LeakyReLU(0.2), Dropout(0.4)
    Flatten, Dense 1 (logit; the seed's sigmoid is folded into the BCE-with-logits loss)

``width`` scales the generator's 128 channels (and the discriminator's 64) for fast profiles;
``output="tanh"`` gives the tanh-output variant of seed 000 §3.1.6 (rescaled to [0, 1]).
Weights start as in Keras (Glorot-uniform, zero bias). The options ``norm``, ``disc_dropout``,
``objective`` and ``prior`` are documented deviations for fast profiles; their defaults are the
seed's network.
"""

from __future__ import annotations

import torch
from torch import nn

from ganprint.gans.priors import build_prior
from ganprint.gans.registry import GANS, GanSpec
from ganprint.nn.layers import ByteDropout, glorot_uniform_

LATENT_DIM = 100


class _TanhToUnit(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(x) + 1.0) * 0.5


class MnistGenerator(nn.Module):
    def __init__(self, width: float = 1.0, latent_dim: int = LATENT_DIM, output: str = "sigmoid",
                 norm: str = "none", prior: str = "normal", prior_components: int = 10,
                 prior_sigma: float = 0.5):
        super().__init__()
        if output not in ("sigmoid", "tanh"):
            raise ValueError(f"output must be 'sigmoid' or 'tanh', got {output!r}")
        if norm not in ("none", "batch"):
            raise ValueError(f"norm must be 'none' or 'batch', got {norm!r}")
        c = max(1, round(128 * width))
        self.channels = c
        bn = norm == "batch"
        self.fc = nn.Linear(latent_dim, c * 7 * 7, bias=not bn)
        self.up1 = nn.ConvTranspose2d(c, c, 4, stride=2, padding=1, bias=not bn)
        self.up2 = nn.ConvTranspose2d(c, c, 4, stride=2, padding=1, bias=not bn)
        self.out = nn.Conv2d(c, 1, 7, padding=3)
        self.norm0 = nn.BatchNorm2d(c) if bn else nn.Identity()
        self.norm1 = nn.BatchNorm2d(c) if bn else nn.Identity()
        self.norm2 = nn.BatchNorm2d(c) if bn else nn.Identity()
        self.act = nn.LeakyReLU(0.2)
        self.squash = nn.Sigmoid() if output == "sigmoid" else _TanhToUnit()
        glorot_uniform_(self)
        self.prior = build_prior(prior, latent_dim, prior_components, prior_sigma)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(self.prior(z)).view(z.shape[0], self.channels, 7, 7)
        x = self.act(self.norm0(x.contiguous(memory_format=torch.channels_last)))
        x = self.act(self.norm1(self.up1(x)))
        x = self.act(self.norm2(self.up2(x)))
        return self.squash(self.out(x))


class MnistDiscriminator(nn.Module):
    def __init__(self, width: float = 1.0, dropout: float = 0.4):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        c = max(1, round(64 * width))
        drop = (lambda: ByteDropout(dropout)) if dropout > 0 else nn.Identity
        self.features = nn.Sequential(
            nn.Conv2d(1, c, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            drop(),
            nn.Conv2d(c, c, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            drop(),
            nn.Flatten(),
        )
        self.head = nn.Linear(c * 7 * 7, 1)
        glorot_uniform_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@GANS.register("mnist-dcgan")
def mnist_dcgan(width: float = 1.0, disc_width: float = 1.0, output: str = "sigmoid", norm: str = "none",
                disc_dropout: float = 0.4, objective: str = "bce", prior: str = "normal",
                prior_components: int = 10, prior_sigma: float = 0.5) -> GanSpec:
    """Seed 000's MNIST DCGAN (28x28 grayscale); ``norm="batch"`` adds batch normalisation to the
    generator (a documented deviation that trains several times faster); ``disc_dropout`` is the
    discriminator's dropout rate (the seed's 0.4); ``objective`` the loss (the seed's ``bce``, or
    ``hinge``); ``prior="mixture"`` puts a learned Gaussian-mixture latent prior of
    ``prior_components`` components (DeLiGAN, :mod:`ganprint.gans.priors`) in front of the
    generator's first layer."""
    if objective not in ("bce", "hinge"):
        raise ValueError(f"objective must be 'bce' or 'hinge', got {objective!r}")
    return GanSpec(
        name="mnist-dcgan",
        latent_dim=LATENT_DIM,
        image_shape=(1, 28, 28),
        generator=MnistGenerator(width=width, output=output, norm=norm, prior=prior,
                                 prior_components=prior_components, prior_sigma=prior_sigma),
        discriminator=MnistDiscriminator(width=disc_width, dropout=disc_dropout),
        options={"width": width, "disc_width": disc_width, "output": output, "norm": norm,
                 "disc_dropout": disc_dropout, "objective": objective, "prior": prior,
                 "prior_components": prior_components, "prior_sigma": prior_sigma},
        objective=objective,
    )
