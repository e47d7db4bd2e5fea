"""The two CIFAR-10 GANs of seed 000 §3.2, layer for layer (32x32 RGB, latent size 100).

Both are Keras models in the seed; they are rebuilt here with Keras semantics where it matters:
``padding="same"`` with stride 2 on an even input pads one pixel at the bottom/right only,
batch normalisation uses Keras' momentum 0.8 (PyTorch ``momentum=0.2``) and epsilon 1e-3, and
weights start Glorot-uniform with zero biases. The seed's sigmoid outputs are folded into the
BCE-with-logits loss; the generators' tanh is rescaled to images in [0, 1].

GAN 1 (§3.2.1; the Keras CIFAR-10 GAN of Brownlee 2019)::

    generator (1,466,115 parameters)
        Dense 100 -> 4*4*256, LeakyReLU(0.2), reshape (256, 4, 4)
        ConvTranspose 128, 4x4, stride 2 -> 8x8, LeakyReLU(0.2)
        ConvTranspose 128, 4x4, stride 2 -> 16x16, LeakyReLU(0.2)
        ConvTranspose 128, 4x4, stride 2 -> 32x32, LeakyReLU(0.2)
        Conv 3, 3x3, same -> 32x32, tanh
    discriminator (522,497 parameters)
        Conv 64, 3x3, same -> 32x32, LeakyReLU(0.2)
        Conv 128 / 128 / 256, 3x3, stride 2 -> 16 / 8 / 4, each LeakyReLU(0.2)
        Flatten 4096, Dropout(0.4), Dense 1

GAN 2 (§3.2.2; the Keras-GAN DCGAN of Linder-Norén, widened to 32x32 RGB)::

    generator (1,051,267 parameters in Keras' count, 384 of them BN running statistics)
        Dense 100 -> 8*8*128, ReLU, reshape (128, 8, 8)
        Upsample x2, Conv 128 3x3, BN, ReLU -> 16x16
        Upsample x2, Conv 64 3x3, BN, ReLU -> 32x32
        Conv 3, 3x3, tanh
    discriminator (396,609 in Keras' count, 896 of them BN running statistics)
        Conv 32, 3x3, stride 2 -> 16x16, LeakyReLU(0.2), Dropout(0.25)
        Conv 64, 3x3, stride 2 -> 8x8, zero-pad bottom/right -> 9x9, BN, LeakyReLU(0.2), Dropout(0.25)
        Conv 128, 3x3, stride 2 -> 5x5, BN, LeakyReLU(0.2), Dropout(0.25)
        Conv 256, 3x3, same -> 5x5, BN, LeakyReLU(0.2), Dropout(0.25)
        Flatten 6400, Dense 1

Keras counts batch-norm moving mean and variance as (non-trainable) parameters; PyTorch keeps
them as buffers. :func:`keras_parameter_count` gives the Keras figure, which is what the seed's
tables state. ``width`` scales the generators' channels and ``disc_width`` the discriminators'
for fast tests and profiles; at 1.0 (the default) the networks are the seed's.
"""

from __future__ import annotations

import torch
from torch import nn

from ganprint.gans.registry import GANS, GanSpec
from ganprint.nn.layers import ByteDropout, glorot_uniform_

LATENT_DIM = 100
IMAGE_SHAPE = (3, 32, 32)
KERAS_BN = {"eps": 1e-3, "momentum": 0.2}  # Keras BatchNormalization(momentum=0.8), epsilon 1e-3


def keras_parameter_count(module: nn.Module) -> int:
    """Parameters as Keras counts them: trainable weights plus batch-norm running mean and variance."""
    n = sum(p.numel() for p in module.parameters())
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            n += m.running_mean.numel() + m.running_var.numel()
    return n


def _channels(base: int, width: float) -> int:
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    return max(1, round(base * width))


class TanhToUnit(nn.Module):
    """tanh rescaled to [0, 1]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(x) + 1.0) * 0.5


def _conv_s2_same(cin: int, cout: int) -> nn.Sequential:
    """Keras ``Conv2D(k=3, strides=2, padding="same")`` on an even input: pad bottom/right by one."""
    return nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(cin, cout, 3, stride=2))


class Gan1Generator(nn.Module):
    def __init__(self, width: float = 1.0, latent_dim: int = LATENT_DIM) -> None:
        super().__init__()
        c0, c = _channels(256, width), _channels(128, width)
        self.c0 = c0
        self.fc = nn.Linear(latent_dim, c0 * 4 * 4)
        self.body = nn.Sequential(
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(c0, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(c, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(c, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(c, 3, 3, padding=1),
            TanhToUnit(),
        )
        glorot_uniform_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # Keras reshapes (4, 4, 256) channels-last; the order is a fixed permutation of the
        # dense layer's outputs, so it changes nothing but the meaning of each output unit.
        return self.body(self.fc(z).view(z.shape[0], self.c0, 4, 4))


class Gan1Discriminator(nn.Module):
    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c1, c2, c3 = _channels(64, width), _channels(128, width), _channels(256, width)
        self.features = nn.Sequential(
            nn.Conv2d(3, c1, 3, padding=1), nn.LeakyReLU(0.2),
            _conv_s2_same(c1, c2), nn.LeakyReLU(0.2),
            _conv_s2_same(c2, c2), nn.LeakyReLU(0.2),
            _conv_s2_same(c2, c3), nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(ByteDropout(0.4), nn.Linear(c3 * 4 * 4, 1))
        glorot_uniform_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class Gan2Generator(nn.Module):
    def __init__(self, width: float = 1.0, latent_dim: int = LATENT_DIM) -> None:
        super().__init__()
        c1, c2 = _channels(128, width), _channels(64, width)
        self.c1 = c1
        self.fc = nn.Linear(latent_dim, c1 * 8 * 8)
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c1, c1, 3, padding=1), nn.BatchNorm2d(c1, **KERAS_BN), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2, **KERAS_BN), nn.ReLU(),
            nn.Conv2d(c2, 3, 3, padding=1),
            TanhToUnit(),
        )
        glorot_uniform_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.fc(z).view(z.shape[0], self.c1, 8, 8))


class Gan2Discriminator(nn.Module):
    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c1, c2, c3, c4 = (_channels(b, width) for b in (32, 64, 128, 256))
        self.features = nn.Sequential(
            _conv_s2_same(3, c1), nn.LeakyReLU(0.2), ByteDropout(0.25),                       # 16x16
            _conv_s2_same(c1, c2), nn.ZeroPad2d((0, 1, 0, 1)),                                 # 9x9
            nn.BatchNorm2d(c2, **KERAS_BN), nn.LeakyReLU(0.2), ByteDropout(0.25),
            nn.Conv2d(c2, c3, 3, stride=2, padding=1),                                         # 5x5
            nn.BatchNorm2d(c3, **KERAS_BN), nn.LeakyReLU(0.2), ByteDropout(0.25),
            nn.Conv2d(c3, c4, 3, padding=1),                                                   # 5x5
            nn.BatchNorm2d(c4, **KERAS_BN), nn.LeakyReLU(0.2), ByteDropout(0.25),
            nn.Flatten(),
        )
        self.head = nn.Linear(c4 * 5 * 5, 1)
        glorot_uniform_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@GANS.register("cifar-gan1")
def cifar_gan1(width: float = 1.0, disc_width: float = 1.0) -> GanSpec:
    """Seed 000 §3.2.1: transposed-convolution generator, strided-convolution discriminator (32x32 RGB)."""
    return GanSpec(
        name="cifar-gan1",
        latent_dim=LATENT_DIM,
        image_shape=IMAGE_SHAPE,
        generator=Gan1Generator(width=width),
        discriminator=Gan1Discriminator(width=disc_width),
        options={"width": width, "disc_width": disc_width},
    )


@GANS.register("cifar-gan2")
def cifar_gan2(width: float = 1.0, disc_width: float = 1.0) -> GanSpec:
    """Seed 000 §3.2.2: upsample + convolution generator with batch norm (32x32 RGB)."""
    return GanSpec(
        name="cifar-gan2",
        latent_dim=LATENT_DIM,
        image_shape=IMAGE_SHAPE,
        generator=Gan2Generator(width=width),
        discriminator=Gan2Discriminator(width=disc_width),
        options={"width": width, "disc_width": disc_width},
    )
