"""Chollet's Xception with configurable widths and depth, built from timm's ``legacy_xception`` blocks.

timm's ``legacy_xception`` has fixed widths and depth; this class wires the same blocks
(``timm.models.xception.Block`` and ``SeparableConv2d``) from a configuration, so that the default
configuration is exactly timm's network (same modules, same parameter count) and smaller ones keep
its structure: stem of two 3x3 convolutions, entry-flow blocks (two separable convolutions, max
pooling, strided 1x1 shortcut), middle-flow blocks (three separable convolutions, identity
shortcut), one exit block and two separable convolutions with BatchNorm + ReLU.
"""

from __future__ import annotations

import torch
from torch import nn


class Xception(nn.Module):
    """Xception feature extractor: ``forward_features`` gives the final (N, exit[-1], h, w) map.

    Args:
        in_chans: Image channels.
        stem: Widths of the two stem convolutions.
        entry: Widths of the entry-flow blocks (each halves the resolution).
        middle: Number of middle-flow blocks (width ``entry[-1]``).
        exit: Width of the exit block (halves the resolution), then of the two separable convolutions.
        small_stem: Stride-1, padded stem convolutions (for 28-64 px inputs) instead of Xception's
            stride-2 and valid ones.
    """

    def __init__(self, in_chans: int = 3, *, stem: tuple[int, int] = (32, 64),
                 entry: tuple[int, ...] = (128, 256, 728), middle: int = 8,
                 exit: tuple[int, int, int] = (1024, 1536, 2048), small_stem: bool = False) -> None:
        super().__init__()
        from timm.models.xception import Block, SeparableConv2d

        s1, s2 = stem
        stride, pad = (1, 1) if small_stem else (2, 0)
        self.conv1 = nn.Conv2d(in_chans, s1, 3, stride, pad, bias=False)
        self.bn1 = nn.BatchNorm2d(s1)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(s1, s2, 3, 1, 1 if small_stem else 0, bias=False)
        self.bn2 = nn.BatchNorm2d(s2)
        self.act2 = nn.ReLU(inplace=True)
        blocks: list[nn.Module] = []
        cin = s2
        for i, width in enumerate(entry):
            blocks.append(Block(cin, width, 2, 2, start_with_relu=i > 0))
            cin = width
        blocks += [Block(cin, cin, 3, 1) for _ in range(middle)]
        e1, e2, e3 = exit
        blocks.append(Block(cin, e1, 2, 2, grow_first=False))
        self.blocks = nn.Sequential(*blocks)
        self.conv3 = SeparableConv2d(e1, e2, 3, 1, 1)
        self.bn3 = nn.BatchNorm2d(e2)
        self.act3 = nn.ReLU(inplace=True)
        self.conv4 = SeparableConv2d(e2, e3, 3, 1, 1)
        self.bn4 = nn.BatchNorm2d(e3)
        self.act4 = nn.ReLU(inplace=True)
        self.num_features = e3
        for m in self.modules():  # timm's initialisation of legacy_xception
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        x = self.blocks(x)
        x = self.act3(self.bn3(self.conv3(x)))
        return self.act4(self.bn4(self.conv4(x)))

    forward = forward_features
