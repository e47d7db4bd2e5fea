"""The registry of non-adversarial generative models and the interface they share."""

from __future__ import annotations

import abc
import importlib
from typing import Any

import torch
from torch import nn

from ganprint.registry import Registry

FAMILY_MODULES = ("ganprint.generative.diffusion", "ganprint.generative.vae", "ganprint.generative.flow")
"""The modules that register the families (imported on first use of the registry)."""


class GenerativeModel(nn.Module, metaclass=abc.ABCMeta):
    """What every registered generative model is: one network trained by minimising :meth:`loss` on
    image batches, and sampled by :meth:`sample`.

    Images are float tensors in ``[0, 1]`` of shape ``(N, *image_shape)``. ``family`` names the kind
    of model (``diffusion``, ``vae``, ``flow``); ``samplers`` the sampler settings :meth:`sample`
    accepts with their defaults (the first key, ``sampler``, names the sampling procedure where a
    family has several). ``options`` are the keyword arguments the model was built with (saved in the
    model folder, so that it can be built again).
    """

    family: str = ""
    samplers: dict[str, Any] = {}

    def __init__(self, image_shape: tuple[int, int, int], options: dict[str, Any]) -> None:
        super().__init__()
        self.image_shape = tuple(int(v) for v in image_shape)
        self.options = dict(options)

    @abc.abstractmethod
    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The training loss (a scalar) on the batch ``x``; every random draw comes from ``generator``
        (a CPU generator: a resumed run draws the same noise)."""

    @abc.abstractmethod
    def sample(self, n: int, generator: torch.Generator, **sampler: Any) -> torch.Tensor:
        """``n`` images in ``[0, 1]`` on the model's device; every random draw from ``generator`` (CPU)."""

    def sampler_settings(self, **given: Any) -> dict[str, Any]:
        """The family's sampler defaults with ``given`` (None values ignored) laid on top; an unknown
        setting or an unknown sampler name is a clear error."""
        unknown = set(given) - set(self.samplers)
        if unknown:
            raise ValueError(f"{self.family} models take the sampler settings {sorted(self.samplers)}, "
                             f"not {sorted(unknown)}")
        out = {**self.samplers, **{k: v for k, v in given.items() if v is not None}}
        choices = getattr(self, "sampler_choices", None)
        if choices and out.get("sampler") not in choices:
            raise ValueError(f"unknown {self.family} sampler {out.get('sampler')!r}; known: {', '.join(choices)}")
        return out


GENERATIVE: Registry[GenerativeModel] = Registry("generative model")


def _load_families() -> None:
    for module in FAMILY_MODULES:
        importlib.import_module(module)


def create_generative(name: str, **options: Any) -> GenerativeModel:
    """Build the registered generative model ``name`` with ``options``."""
    _load_families()
    return GENERATIVE.create(name, **options)


def generative_names() -> list[str]:
    """The registered generative models' names."""
    _load_families()
    return GENERATIVE.names()


def is_generative(name: str) -> bool:
    """Whether ``name`` is a registered generative (non-GAN) model."""
    return name in generative_names()


