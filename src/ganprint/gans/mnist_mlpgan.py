"""A fully connected MNIST GAN (Goodfellow et al. 2014, in the common PyTorch-examples layout): a
generator of a different architecture family from seed 000's DCGAN, used as an unseen source
(e.g. the unknown generator of the ``zoo`` experiment).

Generator::

    Dense 100 -> 256, LeakyReLU(0.2), Dense 512, LeakyReLU(0.2), Dense 1024, LeakyReLU(0.2),
    Dense 784, sigmoid, reshape (1, 28, 28)

Discriminator::

    Flatten, Dense 512, LeakyReLU(0.2), Dense 256, LeakyReLU(0.2), Dense 1 (logit)

``width`` scales the generator's hidden sizes, ``disc_width`` the discriminator's; ``norm="batch"``
adds batch normalisation after the generator's hidden layers; ``output="tanh"`` is rescaled to [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from ganprint.gans.registry import GANS, GanSpec

LATENT_DIM = 100


class MlpGenerator(nn.Module):
    def __init__(self, width: float = 1.0, latent_dim: int = LATENT_DIM, output: str = "sigmoid",
                 norm: str = "none") -> None:
        super().__init__()
        if output not in ("sigmoid", "tanh") or norm not in ("none", "batch"):
            raise ValueError("output must be sigmoid|tanh and norm none|batch")
        sizes = [latent_dim, *(max(8, round(s * width)) for s in (256, 512, 1024))]
        layers: list[nn.Module] = []
        for cin, cout in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(cin, cout), *([nn.BatchNorm1d(cout)] if norm == "batch" else []),
                       nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers, nn.Linear(sizes[-1], 28 * 28))
        self.output = output

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.body(z).view(-1, 1, 28, 28)
        return torch.sigmoid(x) if self.output == "sigmoid" else (torch.tanh(x) + 1) / 2


class MlpDiscriminator(nn.Module):
    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        a, b = max(8, round(512 * width)), max(8, round(256 * width))
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, a), nn.LeakyReLU(0.2), nn.Linear(a, b),
                                  nn.LeakyReLU(0.2), nn.Linear(b, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@GANS.register("mnist-mlpgan")
def mnist_mlpgan(width: float = 1.0, disc_width: float = 1.0, output: str = "sigmoid", norm: str = "none") -> GanSpec:
    """Fully connected MNIST GAN (28x28 grayscale)."""
    return GanSpec(
        name="mnist-mlpgan",
        latent_dim=LATENT_DIM,
        image_shape=(1, 28, 28),
        generator=MlpGenerator(width=width, output=output, norm=norm),
        discriminator=MlpDiscriminator(width=disc_width),
        options={"width": width, "disc_width": disc_width, "output": output, "norm": norm},
    )
