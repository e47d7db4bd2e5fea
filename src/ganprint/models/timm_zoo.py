"""Seed 002's ImageNet families (ResNet, DenseNet, Xception, NASNet, Inception-ResNet-v2) as attributors.

Each is a timm body (``timm.create_model(..., pretrained=False, num_classes=0)``, trained from
scratch as in seed 002) followed by global average pooling and our own linear ``head`` (seed 002's
"last layer", which its recipe trains with a smaller learning rate). Two variants per family:

- the standard network (``resnet50``, ``densenet121``, ``xception``, ``nasnet-large``,
  ``inception-resnet-v2``), layer for layer as timm builds it. Inputs smaller than the network
  accepts (DenseNet-121 needs 32 px, Inception-ResNet-v2 75 px) are upsampled inside the model by
  an integer nearest-neighbour factor (``min_size`` option; see :func:`upsample_to_min`), which keeps
  every pixel-level trace. These are slow on a CPU: use them on a GPU or for fidelity checks.
- a small variant (``*-small``) of the same family for 28-32 px images that trains in about a
  minute on two CPU cores: fewer blocks and narrower layers through timm's own constructor
  arguments where timm has them (ResNet, DenseNet, NASNet), otherwise a re-implementation that
  reproduces timm's network exactly at full size (Xception, Inception-ResNet-v2; a test checks the
  parameter counts), and a stride-1 3x3 stem instead of the ImageNet stem's 4x (or 8x)
  downsampling, so a 28 px image still leaves a 2x2 to 7x7 map for the heatmaps.

``timm`` is imported when a model is built, not when ganprint is imported.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganprint.models.base import PooledClassifier, upsample_to_min
from ganprint.models.registry import register_model


class TimmClassifier(PooledClassifier):
    """A timm body's final feature map -> global average pooling -> linear head.

    ``min_size``: inputs whose shorter side is below it are upsampled by an integer
    nearest-neighbour factor first (0 = never).
    """

    def __init__(self, body: nn.Module, num_classes: int, min_size: int = 0) -> None:
        super().__init__()
        self.body = body
        self.min_size = min_size
        self.num_features = int(body.num_features)
        self.head = self.make_head(num_classes)

    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.body.forward_features(upsample_to_min(x, self.min_size))


def timm_body(name: str, in_chans: int, **kwargs: Any) -> nn.Module:
    """A randomly initialised timm model without classifier (``num_classes=0``)."""
    import timm

    return timm.create_model(name, pretrained=False, in_chans=in_chans, num_classes=0, **kwargs)


def _stem3x3(in_chans: int, out_chans: int) -> nn.Conv2d:
    """The small-input stem convolution: 3x3, stride 1, no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_chans, out_chans, 3, stride=1, padding=1, bias=False)


# -- standard networks --------------------------------------------------------------------------
_STANDARD_FIT = {"epochs": 10, "lr": 1e-3}


@register_model("resnet50", tags=("standard", "resnet"), fit=_STANDARD_FIT)
def resnet50(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
             min_size: int = 0) -> nn.Module:
    """ResNet-50 (bottleneck blocks 3-4-6-3, seed 002's ResNet), timm ``resnet50``; any input >= 1 px."""
    return TimmClassifier(timm_body("resnet50", in_chans), num_classes, min_size)


@register_model("densenet121", tags=("standard", "densenet"), fit=_STANDARD_FIT)
def densenet121(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
                min_size: int = 32) -> nn.Module:
    """DenseNet-121 (growth 32, blocks 6-12-24-16), timm ``densenet121``; upsamples below 32 px."""
    return TimmClassifier(timm_body("densenet121", in_chans), num_classes, min_size)


@register_model("xception", tags=("standard", "xception"), fit=_STANDARD_FIT)
def xception(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
             min_size: int = 0) -> nn.Module:
    """Chollet's Xception (entry, 8 middle, exit flow), timm ``legacy_xception``."""
    return TimmClassifier(timm_body("legacy_xception", in_chans), num_classes, min_size)


@register_model("nasnet-large", tags=("standard", "nasnet"), fit=_STANDARD_FIT)
def nasnet_large(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
                 min_size: int = 0) -> nn.Module:
    """NASNet-A Large (6 @ 4032), timm ``nasnetalarge``."""
    return TimmClassifier(timm_body("nasnetalarge", in_chans), num_classes, min_size)


@register_model("inception-resnet-v2", tags=("standard", "inception-resnet"), fit=_STANDARD_FIT)
def inception_resnet_v2(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
                        min_size: int = 75) -> nn.Module:
    """Inception-ResNet-v2, timm ``inception_resnet_v2``; its valid-padded stem needs >= 75 px, so
    28 px inputs are upsampled 3x (to 84 px) and 32 px inputs 3x (to 96 px)."""
    return TimmClassifier(timm_body("inception_resnet_v2", in_chans), num_classes, min_size)


# -- small variants -----------------------------------------------------------------------------
@register_model("resnet-small", tags=("small", "resnet", "quick"),
                fit={"epochs": 3, "lr": 1e-3, "schedule": "cosine"})
def resnet_small(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
                 layers: tuple[int, ...] = (1, 1, 1, 1), channels: tuple[int, ...] = (16, 32, 64, 128)
                 ) -> nn.Module:
    """A narrow bottleneck ResNet: timm ``ResNet`` with one bottleneck per stage (ResNet-50: 3-4-6-3)
    and 1/4 of ResNet-50's widths (output 512 channels instead of 2048), and the CIFAR-style stem
    (3x3 stride-1 convolution, no max pooling) instead of 7x7/2 + max pool. 28 px -> 4x4 final map."""
    body = timm_body("resnet50", in_chans, layers=tuple(layers), channels=tuple(channels))
    body.conv1 = _stem3x3(in_chans, body.bn1.num_features)
    body.maxpool = nn.Identity()
    return TimmClassifier(body, num_classes)


@register_model("densenet-small", tags=("small", "densenet", "quick"),
                fit={"epochs": 3, "lr": 1e-3, "schedule": "cosine"})
def densenet_small(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
                   growth_rate: int = 12, block_config: tuple[int, ...] = (2, 4, 4)) -> nn.Module:
    """A small DenseNet-BC: timm ``DenseNet`` with growth rate 12 and three dense blocks (2-4-4
    bottleneck layers, 1x1 + 3x3, halving transitions; DenseNet-121: growth 32, four blocks
    6-12-24-16), the three-block layout of DenseNet-BC for CIFAR, and a 3x3 stride-1 stem instead of
    7x7/2 + max pool. 28 px -> 7x7 final map."""
    body = timm_body("densenet121", in_chans, growth_rate=growth_rate, block_config=tuple(block_config))
    body.features.conv0 = _stem3x3(in_chans, 2 * growth_rate)
    body.features.pool0 = nn.Identity()
    return TimmClassifier(body, num_classes)


@register_model("xception-small", tags=("small", "xception", "quick"),
                fit={"epochs": 2, "lr": 1e-3, "schedule": "cosine"})
def xception_small(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
                   middle: int = 2) -> nn.Module:
    """A small Xception (see :class:`~ganprint.models.xception.Xception`): stem 16-32 at stride 1,
    two entry blocks (64, 128), ``middle`` middle blocks at 128, exit block 192 and separable
    convolutions 256, 384 (Xception: stem 32-64 at stride 2, entry 128-256-728, 8 middle blocks,
    exit 1024 then 1536, 2048). 28 px -> 4x4 final map."""
    from ganprint.models.xception import Xception

    body = Xception(in_chans, stem=(16, 32), entry=(64, 128), middle=middle, exit=(192, 256, 384), small_stem=True)
    return TimmClassifier(body, num_classes)


# measured on MNIST group 1 (benchmarks/zoo_archs.py, validation accuracy): 3 epochs at 3e-3 0.94-0.95,
# 5 at 3e-3 0.959, 6 at 3e-3 0.970, 5 at 1e-3 0.884, 5 at 6e-3 0.981
@register_model("nasnet-small", tags=("small", "nasnet", "quick"),
                fit={"epochs": 5, "lr": 6e-3, "schedule": "cosine"})
def nasnet_small(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
                 stem_size: int = 32, num_features: int = 384, stem_stride: int = 1) -> nn.Module:
    """A narrow NASNet-A: timm ``NASNetALarge`` (same 18 cells: 6 normal cells per stage, two
    reduction cells) at ``num_features`` = 384 instead of 4032 (16 instead of 168 filters per
    branch) and a 32-filter stem (96), with the first 3x3 convolution at stride 1 with padding
    instead of stride 2 valid (``stem_stride=2`` keeps timm's). 28 px -> 2x2 final map.

    The slowest small variant on a CPU (about twice the others per epoch): the backward pass of its
    many depthwise 3x3-7x7 convolutions dominates, whatever the map size; narrower settings
    (``num_features=192``) are faster but learn markedly slower."""
    body = timm_body("nasnetalarge", in_chans, stem_size=stem_size, num_features=num_features)
    if stem_stride == 1:
        body.conv0.conv = _stem3x3(in_chans, stem_size)
    return TimmClassifier(body, num_classes)


@register_model("inception-resnet-small", tags=("small", "inception-resnet", "quick"),
                fit={"epochs": 2, "lr": 1e-3, "schedule": "cosine"})
def inception_resnet_small(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
                           width: float = 0.25, repeats: tuple[int, int, int] = (2, 4, 2)) -> nn.Module:
    """A small Inception-ResNet-v2 (see :class:`~ganprint.models.inception_resnet.InceptionResNetV2`):
    every width x ``width`` (1/4), ``repeats`` residual blocks of types A, B, C (v2 has 10, 20, 9)
    and a padded stride-1 stem that reaches the A blocks at 1/2 (v2: 1/8) resolution. 28 px -> 2x2."""
    from ganprint.models.inception_resnet import InceptionResNetV2

    body = InceptionResNetV2(in_chans, width=width, repeats=tuple(repeats), small_stem=True)
    return TimmClassifier(body, num_classes)
