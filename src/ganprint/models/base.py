"""The interface every attributor architecture implements, and helpers shared by several of them.

A :class:`FeatureHeadClassifier` is split into ``forward_features`` (image -> vector of
``num_features``) and ``head`` (vector -> logits), timm-style, so the head can be replaced for
another number of sources and trained with its own learning rate (seed 002 gives the last layer a
smaller one). Heatmaps need two more things: ``cam_target``, the module whose output is the last
spatial feature map (Grad-CAM hooks it), and ``cam_weights()``, the head's weight matrix when the
head is one linear layer on the global average of that map (CAM applies), else ``None``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F
from torch import nn


def as_hw(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``28`` or ``(28, 28)`` -> ``(28, 28)``."""
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def upsample_to_min(x: torch.Tensor, min_size: int) -> torch.Tensor:
    """Nearest-neighbour upsampling by the smallest integer factor that makes both sides >= ``min_size``.

    Integer nearest-neighbour upsampling repeats every pixel k x k times: it adds no interpolation
    artefacts and loses none of the pixel-level traces a GAN leaves, which bilinear resizing would
    smooth away. Inputs already large enough pass through untouched.
    """
    side = min(x.shape[-2:])
    if min_size <= 0 or side >= min_size:
        return x
    factor = math.ceil(min_size / side)
    return F.interpolate(x, scale_factor=factor, mode="nearest")


class FeatureHeadClassifier(nn.Module):
    """A classifier split into ``features`` (image -> vector of ``num_features``) and ``head``
    (vector -> logits), so the head can be replaced for another number of sources (timm-style).

    Subclasses set ``features`` (or override :meth:`forward_features`), ``num_features``, ``head``
    (the last layer(s) only) and ``cam_target`` (a parameter-free module whose output is the last
    spatial feature map, so registering it twice adds nothing to the state dict).
    """

    features: nn.Module
    head: nn.Module
    num_features: int
    cam_target: nn.Module

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def make_head(self, num_classes: int) -> nn.Module:
        return nn.Linear(self.num_features, num_classes)

    def reset_classifier(self, num_classes: int) -> None:
        self.head = self.make_head(num_classes)

    def cam_weights(self) -> torch.Tensor | None:
        """(num_classes, C) weights of a linear head on the global average of ``cam_target``'s
        output, when the architecture has that shape (class activation mapping applies); else None."""
        return None


class PooledClassifier(FeatureHeadClassifier, ABC):
    """Feature map -> global average pooling -> one linear layer: the CAM topology.

    Subclasses implement :meth:`forward_map` (image -> (N, num_features, h, w)). ``cam_target`` is
    an identity placed on that map, so Grad-CAM can hook it whatever produced the map.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cam_target = nn.Identity()

    @abstractmethod
    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last spatial feature map (N, num_features, h, w) of images (N, C, H, W)."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.cam_target(self.forward_map(x)).mean((2, 3))

    def cam_weights(self) -> torch.Tensor | None:
        return self.head.weight if isinstance(self.head, nn.Linear) else None


def stem_module(model: nn.Module) -> nn.Module | None:
    """The first convolution of ``model`` (its stem), or None for a network without one: its output
    carries the low-level image statistics (noise, smoothness, upsampling traces) that the
    unknown-source score compares with the training images'."""
    return next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
