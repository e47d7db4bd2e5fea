"""Small layers used by several architectures."""

from __future__ import annotations

import torch
from torch import nn


class ByteDropout(nn.Module):
    """Inverted dropout whose mask is drawn from random bytes.

    Same semantics as :class:`torch.nn.Dropout` (zero with probability ``p`` in training, scale the
    kept values by ``1 / (1 - p)``), but the mask costs one 64-bit random draw per 8 elements
    instead of one float draw per element, which is 4-8x cheaper on the CPU where the random
    number generator dominates the cost of dropout. ``p`` is rounded to a multiple of 1/256.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.threshold = round(p * 256)
        self.p = self.threshold / 256

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 0:
            return x
        n = x.numel()
        words = torch.randint(
            -(2**63), 2**63 - 1, ((n + 7) // 8,), dtype=torch.int64, device=x.device
        )
        raw = words.view(torch.uint8)[:n]
        if x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last):
            # lay the mask out like x: mixed-layout elementwise ops are ~10x slower on the CPU
            b, c, h, w = x.shape
            raw = raw.view(b, h, w, c).permute(0, 3, 1, 2)
        else:
            raw = raw.view(x.shape)
        return x * (raw >= self.threshold).to(x.dtype).mul_(1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def glorot_uniform_(module: nn.Module) -> None:
    """Keras' default initialisation (Glorot-uniform weights, zero biases) for conv and dense."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
