"""Small layers used by several architectures."""

from __future__ import annotations

import torch
import torch.nn.functional as F
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


FOLD_MIN_TAPS = 4096  # input taps per output pixel from which NarrowConv2d's GEMM-and-fold path pays


class NarrowConv2d(nn.Conv2d):
    """A :class:`torch.nn.Conv2d` for few output channels and a large kernel (a generator's last
    layer: 128 channels to 1 through a 7x7 kernel), computed as one matrix product and a fold.

    A convolution with one output channel is a GEMM of width 1 in the CPU libraries, which run it
    at a tenth of the machine's matmul rate. Here every input pixel is first multiplied by all
    ``out_channels * k * k`` kernel taps at once (``(N, HW, C) @ (C, out * k * k)``, a GEMM the
    libraries run at full rate), and :func:`torch.nn.functional.fold` adds the products into the
    output pixels they belong to; its backward is an unfold. The result is the convolution's, up
    to float rounding, and the weights and their names are those of ``nn.Conv2d``, so saved models
    load either way. Measured on a 2-core Xeon (1 thread, batch 256, 128 -> 1 channels, 7x7 at
    28x28): forward 283 -> 89 ms, forward and backward 669 -> 263 ms.

    The path pays off when each output pixel reads many inputs: measured on that machine (fp32 and
    bfloat16 autocast, 1 and 2 threads, batch 64 and 256), 128 channels x 7 x 7 taps was 1.3-2.3x
    faster every time, 32 x 7 x 7 anywhere from 1.7x faster to 2x slower (slower under bfloat16,
    where the library's own kernel is good). So only layers with at least :data:`FOLD_MIN_TAPS`
    input taps per output (``in_channels * k_h * k_w``) take it, and only with stride 1, dilation 1,
    one group and zero padding of at most ``k - 1``; anything else is an ordinary ``nn.Conv2d``.
    """

    def _fold_applies(self) -> bool:
        k_h, k_w = self.kernel_size
        return (self.in_channels * k_h * k_w >= FOLD_MIN_TAPS
                and self.stride == (1, 1) and self.dilation == (1, 1) and self.groups == 1
                and self.padding_mode == "zeros" and isinstance(self.padding, tuple)
                and self.padding[0] <= k_h - 1 and self.padding[1] <= k_w - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or not self._fold_applies():
            return super().forward(x)
        n, c, h, w = x.shape
        (k_h, k_w), (p_h, p_w) = self.kernel_size, self.padding
        out_h, out_w = h + 2 * p_h - k_h + 1, w + 2 * p_w - k_w + 1
        # fold scatters each pixel's products where a convolution would gather them: flip the taps
        taps = self.weight.flip(2, 3).permute(1, 0, 2, 3).reshape(c, -1)  # (C, out * k_h * k_w)
        pixels = x.permute(0, 2, 3, 1).reshape(n, h * w, c)                # free for channels-last x
        products = (pixels @ taps).transpose(1, 2)                          # (N, out * k_h * k_w, HW)
        y = F.fold(products, (out_h, out_w), (k_h, k_w), padding=(k_h - 1 - p_h, k_w - 1 - p_w))
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1).to(y.dtype)
