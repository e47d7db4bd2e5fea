"""Attributor architectures, created by name.

Every factory has the signature ``factory(num_classes, in_chans=1, input_size=28, **options)`` and
returns a :class:`~ganprint.models.base.FeatureHeadClassifier` mapping float images (N, C, H, W) in
[0, 1] to logits (N, num_classes). Architectures are registered with :func:`register_model`, which
also records descriptive tags and the training settings measured to work for them
(:func:`default_fit_options`). Tags: ``seed`` (a seed's own classifier), ``baseline`` (seed 003's
baselines), ``standard`` (seed 002's ImageNet networks at full size: GPU), ``small`` (their small
variants), the family (``resnet``, ``densenet``, ``xception``, ``nasnet``, ``inception-resnet``),
and ``quick``: measured to reach >= 0.95 test accuracy on MNIST-GAN group 1 (28x28 grey, 4
sources, 8,100 training images) with its default settings in about 2-3 CPU-minutes or less.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganprint.registry import Registry

MODELS: Registry[nn.Module] = Registry("attributor architecture")


@dataclass(frozen=True)
class ArchInfo:
    """What the registry knows about an architecture besides its factory."""

    name: str
    tags: frozenset[str] = frozenset()
    fit: dict[str, Any] = field(default_factory=dict)
    representation: str = "pixels"
    description: str = ""


_INFO: dict[str, ArchInfo] = {}


def register_model(name: str, *, tags: tuple[str, ...] = (), fit: dict[str, Any] | None = None,
                   representation: str = "pixels",
                   description: str | None = None) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register ``factory`` under ``name`` in :data:`MODELS`, with its tags, recommended training
    settings (keyword arguments of :class:`~ganprint.attribution.training.FitConfig`), recommended
    input representation (a name in :data:`ganprint.data.representations.REPRESENTATIONS`) and a
    one-line description (default: the first line of the factory's docstring)."""

    def decorator(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS.register(name)(factory)
        text = description or (factory.__doc__ or "").strip().split("\n")[0]
        _INFO[name] = ArchInfo(name, frozenset(tags), dict(fit or {}), representation, text)
        return factory

    return decorator


def arch_info(name: str) -> ArchInfo:
    """Tags and recommended training settings of a registered architecture."""
    MODELS.get(name)  # a clear error listing the known names
    return _INFO.get(name, ArchInfo(name))


def default_fit_options(name: str) -> dict[str, Any]:
    """Recommended ``FitConfig`` keyword arguments for ``name`` (a copy; empty means the defaults).

    These are what ``benchmarks/zoo_archs.py`` measured to train the architecture to high accuracy
    on 28x28 grey MNIST-GAN data within about 90 s on 2 CPU threads (see the tag ``small``)."""
    return dict(arch_info(name).fit)


def default_representation(name: str) -> str:
    """The input representation recommended for ``name`` (``pixels`` unless its registration says
    otherwise); ``pixels`` for names outside this registry (two-stage, visnet, residual-correlation),
    which take pixels."""
    return _INFO[name].representation if name in _INFO else "pixels"


def names_with_tag(tag: str) -> list[str]:
    """Registered architectures carrying ``tag`` (e.g. ``small``, ``standard``, ``seed``), sorted."""
    return sorted(n for n in MODELS.names() if tag in arch_info(n).tags)


def create_model(name: str, *, num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
                 seed: int | None = None, **options) -> nn.Module:
    """Build architecture ``name`` for ``num_classes`` sources and ``in_chans``-channel images of
    ``input_size`` pixels (an int or (height, width); most architectures accept other sizes too).
    With ``seed``, the initial weights are a function of it alone (the global random state is
    neither read nor changed)."""
    if num_classes < 1 or in_chans < 1:
        raise ValueError(f"num_classes and in_chans must be >= 1, got {num_classes} and {in_chans}")
    if seed is None:
        return MODELS.create(name, num_classes=num_classes, in_chans=in_chans, input_size=input_size, **options)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MODELS.create(name, num_classes=num_classes, in_chans=in_chans, input_size=input_size, **options)


def model_cost(name: str, *, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
               num_classes: int = 5) -> tuple[int, int]:
    """(parameters, FLOPs of one forward pass of one image) of architecture ``name``."""
    from torch.utils.flop_counter import FlopCounterMode

    model = create_model(name, num_classes=num_classes, in_chans=in_chans, input_size=input_size, seed=0).eval()
    h, w = (input_size, input_size) if isinstance(input_size, int) else input_size
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, in_chans, h, w))
    return sum(p.numel() for p in model.parameters()), int(counter.get_total_flops())
