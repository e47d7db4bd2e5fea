"""The GAN zoo: architectures registered by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ganprint.registry import Registry


@dataclass(frozen=True)
class GanSpec:
    """What a registered GAN architecture builds and what it expects.

    ``image_shape`` is (channels, height, width); images are float tensors in ``[0, 1]``
    (generators end in a sigmoid, or a tanh rescaled to [0, 1]).

    ``objective`` names the adversarial loss the family is trained with
    (:mod:`ganprint.gans.objectives`), with ``objective_options`` passed to it. A family whose
    networks change during training (progressive growing) gives them a method
    ``set_progress(step, total)``; the trainer calls it before every step, so the networks' stage
    is a function of the step counter and a resumed run is exact. A discriminator may also have
    ``prepare_real(images)``, applied to every real batch (ProGAN fades real images between
    resolutions as it fades generated ones).

    ``classes`` > 0 makes the GAN class-conditional: it is trained on labelled images
    (``GanTrainer.fit(images, labels)``), the generator's method ``label_of(z)`` gives the class of
    each latent (so the generator stays a function of the latent alone, and sampling is unchanged),
    and the discriminator is called as ``discriminator(images, onehot)`` with the (N, classes)
    one-hot labels.
    """

    name: str
    latent_dim: int
    image_shape: tuple[int, int, int]
    generator: nn.Module
    discriminator: nn.Module
    options: dict[str, Any]
    objective: str = "bce"
    objective_options: dict[str, Any] = field(default_factory=dict)
    classes: int = 0


GANS: Registry[GanSpec] = Registry("GAN architecture")


def create_gan(name: str, **options: Any) -> GanSpec:
    """Build generator and discriminator of a registered GAN architecture."""
    return GANS.create(name, **options)
