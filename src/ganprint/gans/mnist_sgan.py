"""The "SGAN" of seed 000 §3.1.6: the generator and discriminator of Keras-GAN's Semi-Supervised GAN
(Odena 2016; Linder-Norén's ``sgan/sgan.py``), the Keras-GAN family the seed's CIFAR GAN 2 comes from.

Generator (Keras: 856,705 parameters, 640 of them batch-norm moving statistics)::

    Dense 100 -> 7*7*128, ReLU, reshape (128, 7, 7), BN
    Upsample x2, Conv 128 3x3, ReLU, BN -> 14x14
    Upsample x2, Conv 64 3x3, ReLU, BN -> 28x28
    Conv 1 3x3, tanh (rescaled to [0, 1])

Discriminator (Keras-GAN's, as for GAN 2 but at 28x28 grayscale)::

    Conv 32, 3x3, stride 2 -> 14x14, LeakyReLU(0.2), Dropout(0.25)
    Conv 64, 3x3, stride 2 -> 7x7, zero-pad bottom/right -> 8x8, LeakyReLU(0.2), Dropout(0.25), BN
    Conv 128, 3x3, stride 2 -> 4x4, LeakyReLU(0.2), Dropout(0.25), BN
    Conv 256, 3x3, same -> 4x4, LeakyReLU(0.2), Dropout(0.25)
    Flatten 4096, Dense 1 (validity logit)

Keras-GAN's discriminator also has an 11-way class head (10 digits + fake) trained on labelled
real digits. The generator's loss uses only the validity output, and ganprint's GAN trainer is
unsupervised, so the class head is left out (``docs/cifar-experiments.md``): what differs from the
seed's DCGAN, the generator family (upsample + convolution with batch norm against transposed
convolutions), is kept. Batch norm uses Keras' momentum 0.8 and epsilon 1e-3.
"""

from __future__ import annotations

import torch
from torch import nn

from ganprint.gans.cifar_dcgan import KERAS_BN, TanhToUnit
from ganprint.gans.registry import GANS, GanSpec
from ganprint.nn.layers import ByteDropout, glorot_uniform_

LATENT_DIM = 100


def _c(base: int, width: float) -> int:
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    return max(1, round(base * width))


class SganGenerator(nn.Module):
    def __init__(self, width: float = 1.0, latent_dim: int = LATENT_DIM) -> None:
        super().__init__()
        c1, c2 = _c(128, width), _c(64, width)
        self.c1 = c1
        self.fc = nn.Linear(latent_dim, c1 * 7 * 7)
        self.body = nn.Sequential(
            nn.ReLU(), nn.BatchNorm2d(c1, **KERAS_BN),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c1, c1, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(c1, **KERAS_BN),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(c2, **KERAS_BN),
            nn.Conv2d(c2, 1, 3, padding=1),
            TanhToUnit(),
        )
        glorot_uniform_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.fc(z).view(z.shape[0], self.c1, 7, 7))


class SganDiscriminator(nn.Module):
    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c1, c2, c3, c4 = (_c(b, width) for b in (32, 64, 128, 256))
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1), nn.LeakyReLU(0.2), ByteDropout(0.25),        # 14x14
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ZeroPad2d((0, 1, 0, 1)),                 # 8x8
            nn.LeakyReLU(0.2), ByteDropout(0.25), nn.BatchNorm2d(c2, **KERAS_BN),
            nn.Conv2d(c2, c3, 3, stride=2, padding=1),                                             # 4x4
            nn.LeakyReLU(0.2), ByteDropout(0.25), nn.BatchNorm2d(c3, **KERAS_BN),
            nn.Conv2d(c3, c4, 3, padding=1), nn.LeakyReLU(0.2), ByteDropout(0.25),                 # 4x4
            nn.Flatten(),
        )
        self.head = nn.Linear(c4 * 4 * 4, 1)
        glorot_uniform_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@GANS.register("mnist-sgan")
def mnist_sgan(width: float = 1.0, disc_width: float = 1.0) -> GanSpec:
    """Keras-GAN's semi-supervised GAN's networks on 28x28 grayscale (seed 000 §3.1.6's "SGAN")."""
    return GanSpec(
        name="mnist-sgan",
        latent_dim=LATENT_DIM,
        image_shape=(1, 28, 28),
        generator=SganGenerator(width=width),
        discriminator=SganDiscriminator(width=disc_width),
        options={"width": width, "disc_width": disc_width},
    )
