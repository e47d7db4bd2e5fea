"""Inception-ResNet-v2 with a width multiplier and configurable depth.

timm's ``inception_resnet_v2`` hard-codes every width; this re-implementation follows its layout
module for module (stem, Mixed-5b, 10 x block A (Block35), Mixed-6a, 20 x block B (Block17),
Mixed-7a, 9 x block C (Block8), a final block C without ReLU, 1x1 convolution to 1536) with all
widths multiplied by ``width``, so that ``width=1, repeats=(10, 20, 9)`` gives exactly timm's network
(same parameter count, checked by a test) and smaller settings keep its structure. Convolutions
are conv (no bias) + BatchNorm (eps 1e-3) + ReLU as in timm; residual branches are scaled by
0.17, 0.10 and 0.20 before the addition.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Width = Callable[[int], int]


def _cbr(cin: int, cout: int, kernel: int | tuple[int, int], stride: int = 1,
         padding: int | tuple[int, int] = 0) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding, bias=False),
                         nn.BatchNorm2d(cout, eps=1e-3), nn.ReLU(inplace=True))


class _Mixed5b(nn.Module):
    def __init__(self, cin: int, c: Width) -> None:
        super().__init__()
        self.branch0 = _cbr(cin, c(96), 1)
        self.branch1 = nn.Sequential(_cbr(cin, c(48), 1), _cbr(c(48), c(64), 5, padding=2))
        self.branch2 = nn.Sequential(_cbr(cin, c(64), 1), _cbr(c(64), c(96), 3, padding=1),
                                     _cbr(c(96), c(96), 3, padding=1))
        self.branch3 = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                                     _cbr(cin, c(64), 1))
        self.out_channels = c(96) + c(64) + c(96) + c(64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class _BlockA(nn.Module):  # timm Block35 (35x35 grid in v2)
    def __init__(self, cin: int, c: Width, scale: float = 0.17) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = _cbr(cin, c(32), 1)
        self.branch1 = nn.Sequential(_cbr(cin, c(32), 1), _cbr(c(32), c(32), 3, padding=1))
        self.branch2 = nn.Sequential(_cbr(cin, c(32), 1), _cbr(c(32), c(48), 3, padding=1),
                                     _cbr(c(48), c(64), 3, padding=1))
        self.conv2d = nn.Conv2d(c(32) + c(32) + c(64), cin, 1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2d(torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1))
        return self.act(out * self.scale + x)


class _ReductionA(nn.Module):  # timm Mixed_6a
    def __init__(self, cin: int, c: Width) -> None:
        super().__init__()
        self.branch0 = _cbr(cin, c(384), 3, stride=2)
        self.branch1 = nn.Sequential(_cbr(cin, c(256), 1), _cbr(c(256), c(256), 3, padding=1),
                                     _cbr(c(256), c(384), 3, stride=2))
        self.branch2 = nn.MaxPool2d(3, stride=2)
        self.out_channels = c(384) + c(384) + cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class _BlockB(nn.Module):  # timm Block17
    def __init__(self, cin: int, c: Width, scale: float = 0.10) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = _cbr(cin, c(192), 1)
        self.branch1 = nn.Sequential(_cbr(cin, c(128), 1), _cbr(c(128), c(160), (1, 7), padding=(0, 3)),
                                     _cbr(c(160), c(192), (7, 1), padding=(3, 0)))
        self.conv2d = nn.Conv2d(c(192) + c(192), cin, 1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2d(torch.cat([self.branch0(x), self.branch1(x)], 1))
        return self.act(out * self.scale + x)


class _ReductionB(nn.Module):  # timm Mixed_7a
    def __init__(self, cin: int, c: Width) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(_cbr(cin, c(256), 1), _cbr(c(256), c(384), 3, stride=2))
        self.branch1 = nn.Sequential(_cbr(cin, c(256), 1), _cbr(c(256), c(288), 3, stride=2))
        self.branch2 = nn.Sequential(_cbr(cin, c(256), 1), _cbr(c(256), c(288), 3, padding=1),
                                     _cbr(c(288), c(320), 3, stride=2))
        self.branch3 = nn.MaxPool2d(3, stride=2)
        self.out_channels = c(384) + c(288) + c(320) + cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class _BlockC(nn.Module):  # timm Block8
    def __init__(self, cin: int, c: Width, scale: float = 0.20, relu: bool = True) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = _cbr(cin, c(192), 1)
        self.branch1 = nn.Sequential(_cbr(cin, c(192), 1), _cbr(c(192), c(224), (1, 3), padding=(0, 1)),
                                     _cbr(c(224), c(256), (3, 1), padding=(1, 0)))
        self.conv2d = nn.Conv2d(c(192) + c(256), cin, 1)
        self.act = nn.ReLU() if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2d(torch.cat([self.branch0(x), self.branch1(x)], 1))
        return self.act(out * self.scale + x)


class InceptionResNetV2(nn.Module):
    """Inception-ResNet-v2 feature extractor: ``forward_features`` gives the final (N, C, h, w) map.

    Args:
        in_chans: Image channels.
        width: Multiplier of every layer's width (rounded, at least 1 channel).
        repeats: Number of residual blocks A, B and C (v2: 10, 20, 9; plus the final block C).
        small_stem: For 28-64 px inputs: padded stride-1 stem convolutions and one padded max
            pooling (the A blocks run at 1/2 resolution; v2's valid stride-2 stem reaches 1/8
            and needs >= 75 px inputs).
    """

    def __init__(self, in_chans: int = 3, *, width: float = 1.0, repeats: tuple[int, int, int] = (10, 20, 9),
                 small_stem: bool = False) -> None:
        super().__init__()

        def c(n: int) -> int:
            return max(1, round(n * width))

        if small_stem:
            self.stem = nn.Sequential(
                _cbr(in_chans, c(32), 3, padding=1), _cbr(c(32), c(32), 3, padding=1),
                _cbr(c(32), c(64), 3, padding=1), _cbr(c(64), c(80), 1), _cbr(c(80), c(192), 3, padding=1),
                nn.MaxPool2d(3, stride=2, padding=1))
        else:
            self.stem = nn.Sequential(
                _cbr(in_chans, c(32), 3, stride=2), _cbr(c(32), c(32), 3), _cbr(c(32), c(64), 3, padding=1),
                nn.MaxPool2d(3, stride=2), _cbr(c(64), c(80), 1), _cbr(c(80), c(192), 3),
                nn.MaxPool2d(3, stride=2))
        mixed_5b = _Mixed5b(c(192), c)
        ch = mixed_5b.out_channels
        mixed_6a = _ReductionA(ch, c)
        blocks_a = [_BlockA(ch, c) for _ in range(repeats[0])]
        ch = mixed_6a.out_channels
        mixed_7a = _ReductionB(ch, c)
        blocks_b = [_BlockB(ch, c) for _ in range(repeats[1])]
        ch = mixed_7a.out_channels
        blocks_c = [_BlockC(ch, c) for _ in range(repeats[2])]
        self.blocks = nn.Sequential(mixed_5b, *blocks_a, mixed_6a, *blocks_b, mixed_7a, *blocks_c,
                                    _BlockC(ch, c, relu=False))
        self.conv2d_7b = _cbr(ch, c(1536), 1)
        self.num_features = c(1536)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d_7b(self.blocks(self.stem(x)))

    forward = forward_features
