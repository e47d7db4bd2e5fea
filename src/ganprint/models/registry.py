"""Attributor architectures, created by name.

Every factory takes ``num_classes`` and ``in_chans`` (and optional keyword options) and returns a
module mapping float images (N, C, H, W) in [0, 1] to logits (N, num_classes). Modules expose
``forward_features`` / ``forward_head`` and ``reset_classifier`` like timm models.
"""

from __future__ import annotations

from torch import nn

from ganprint.registry import Registry

MODELS: Registry[nn.Module] = Registry("attributor architecture")


def create_model(name: str, *, num_classes: int, in_chans: int = 1, **options) -> nn.Module:
    return MODELS.create(name, num_classes=num_classes, in_chans=in_chans, **options)
