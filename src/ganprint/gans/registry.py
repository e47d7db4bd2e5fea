"""The GAN zoo: architectures registered by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from ganprint.registry import Registry


@dataclass(frozen=True)
class GanSpec:
    """What a registered GAN architecture builds and what it expects.

    ``image_shape`` is (channels, height, width); images are float tensors in ``[0, 1]``
    (generators end in a sigmoid, or a tanh rescaled to [0, 1]).
    """

    name: str
    latent_dim: int
    image_shape: tuple[int, int, int]
    generator: nn.Module
    discriminator: nn.Module
    options: dict[str, Any]


GANS: Registry[GanSpec] = Registry("GAN architecture")


def create_gan(name: str, **options: Any) -> GanSpec:
    """Build generator and discriminator of a registered GAN architecture."""
    return GANS.create(name, **options)
