"""The "standard CNN" of Miyato et al. (2018, Table 3), shared by SNGAN, Cramér GAN and MMD GAN.

A DCGAN-style pair sized by ``image_size`` (32, 64, 128) and a channel multiplier ``width``::

    generator   z -> dense 4x4x(512 w) -> BN, ReLU
                -> [4x4 stride-2 transposed conv, channels halving (256, 128, 64 at 32x32), BN, ReLU] x n
                -> 3x3 conv to RGB -> tanh, mapped to [0, 1]
    critic      [3x3 conv c_i, lReLU 0.1; 4x4 stride-2 conv c_i, lReLU 0.1] x n   (c_i = 64, 128, 256 ...)
                -> 3x3 conv 512 w, lReLU 0.1 -> dense -> out_dim

with ``n = log2(image_size) - 2`` (3 at 32x32, as in the paper's CIFAR-10 network) and channels
capped at 512 (at 64 and 128 the extra stages keep 512 channels at the low resolutions). The same
critic body serves all three families so that they differ only in what defines them: spectral
normalisation and the hinge loss (SNGAN), a feature-space critic under the Cramér or MMD loss with
a gradient penalty (Cramér GAN, MMD GAN). The paper's 32x32 network is ``width=1``.

``resize_init`` starts every transposed convolution as a *resize-convolution*: nearest-neighbour
upsampling followed by a 3x3 convolution (Odena, Dumoulin & Olah, "Deconvolution and Checkerboard
Artifacts", Distill 2016; the same idea as ICNR, Aitken et al. 2017). A 4x4 stride-2 transposed
convolution can express that map exactly (:func:`resize_conv_kernel`), so the architecture and its
parameter count do not change, only the starting point: from a random 4x4 kernel the four output
phases start unrelated and the generator draws a checkerboard that short CPU runs do not train
away (docs/lab/gan-families.md).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

IMAGE_SIZES = (32, 64, 128)


def n_stages(image_size: int) -> int:
    """Stride-2 stages between 4x4 and ``image_size`` (32 -> 3)."""
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {image_size}")
    return int(math.log2(image_size)) - 2


def scaled(base: int, width: float) -> int:
    """``base`` channels times ``width`` (at least 4)."""
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    return max(4, round(base * width))


_PHASES = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
"""Row ``a`` of the 4x4 transposed kernel sums the taps of a 3x3 kernel that land on it."""


def resize_conv_kernel(kernel3: torch.Tensor) -> torch.Tensor:
    """The weight (in, out, 4, 4) of a ``ConvTranspose2d(k=4, stride=2, padding=1)`` that computes
    exactly ``conv2d(upsample_nearest_2x(x), kernel3, padding=1)`` for a 3x3 kernel (out, in, 3, 3)."""
    if kernel3.dim() != 4 or tuple(kernel3.shape[-2:]) != (3, 3):
        raise ValueError(f"need a (out, in, 3, 3) kernel, got {tuple(kernel3.shape)}")
    m = _PHASES.to(kernel3)
    return torch.einsum("ak,oikl,bl->ioab", m, kernel3, m)


@torch.no_grad()
def resize_conv_init_(module: nn.ConvTranspose2d) -> None:
    """Set a 4x4 stride-2 transposed convolution to a resize-convolution with a 3x3 kernel drawn as
    PyTorch draws a ``Conv2d``'s (Kaiming uniform); the bias is kept."""
    if module.kernel_size != (4, 4) or module.stride != (2, 2) or module.padding != (1, 1):
        raise ValueError("resize-convolution init needs ConvTranspose2d(kernel 4, stride 2, padding 1)")
    cin, cout = module.weight.shape[:2]
    kernel3 = torch.empty(cout, cin, 3, 3)
    nn.init.kaiming_uniform_(kernel3, a=math.sqrt(5))
    module.weight.copy_(resize_conv_kernel(kernel3))


class StandardGenerator(nn.Module):
    def __init__(self, image_size: int = 32, width: float = 1.0, latent_dim: int = 128,
                 resize_init: bool = False) -> None:
        super().__init__()
        n = n_stages(image_size)
        ch = [scaled(min(512, 64 * 2**(n - i)), width) for i in range(n + 1)]  # 512, 256, 128, 64 at 32x32
        self.c0 = ch[0]
        self.fc = nn.Linear(latent_dim, ch[0] * 16)
        self.bn0 = nn.BatchNorm2d(ch[0])
        layers: list[nn.Module] = [nn.ReLU()]
        for cin, cout in zip(ch[:-1], ch[1:], strict=True):
            layers += [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
        layers.append(nn.Conv2d(ch[-1], 3, 3, padding=1))
        self.body = nn.Sequential(*layers)
        if resize_init:
            for m in self.body:
                if isinstance(m, nn.ConvTranspose2d):
                    resize_conv_init_(m)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.bn0(self.fc(z).view(len(z), self.c0, 4, 4))
        return (torch.tanh(self.body(h)) + 1.0) * 0.5


class StandardCritic(nn.Module):
    """The critic body; ``sn`` wraps every layer in spectral normalisation; ``out_dim`` > 1 gives features."""

    def __init__(self, image_size: int = 32, width: float = 1.0, out_dim: int = 1, sn: bool = False) -> None:
        super().__init__()
        n = n_stages(image_size)
        wrap = spectral_norm if sn else (lambda m: m)
        layers: list[nn.Module] = []
        cin = 3
        for i in range(n):
            c = scaled(min(512, 64 * 2**i), width)
            layers += [wrap(nn.Conv2d(cin, c, 3, padding=1)), nn.LeakyReLU(0.1),
                       wrap(nn.Conv2d(c, c, 4, stride=2, padding=1)), nn.LeakyReLU(0.1)]
            cin = c
        c_last = scaled(512, width)
        layers += [wrap(nn.Conv2d(cin, c_last, 3, padding=1)), nn.LeakyReLU(0.1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = wrap(nn.Linear(c_last * 16, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
