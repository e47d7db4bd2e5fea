"""ProGAN: progressive growing with fade-in (Karras, Aila, Laine, Lehtinen, ICLR 2018).

What is faithful to the paper:

* **Progressive growing.** Both networks start at 4x4 and gain one resolution at a time
  (4 -> 8 -> 16 -> 32, and on to 64 or 128 with ``image_size``). A new resolution is *faded in*:
  the generator's output is ``lerp(upsample(rgb_{L-1}), rgb_L, alpha)`` and the critic's input
  path ``lerp(from_rgb_{L-1}(downsample(x)), block_L(from_rgb_L(x)), alpha)`` with ``alpha``
  rising linearly from 0 to 1; real images are faded the same way (:meth:`ProCritic.prepare_real`).
  Every fade is followed by a stable phase of the same length, as in the paper.
* **Equalised learning rate** (weights drawn from N(0, 1) and scaled at run time by He's constant),
  **pixelwise feature normalisation** in the generator, **minibatch standard deviation** (groups of
  4) as an extra feature map before the critic's last convolution, leaky ReLU 0.2, nearest-neighbour
  upsampling and average-pool downsampling, and the **WGAN-GP loss with the drift term**
  ``0.001 * E[D(x)^2]`` (objective ``wgan-gp``).
* The stage is a pure function of the training step (:func:`progan_stage`); the trainer calls
  ``set_progress(step, total)`` before each step, so a resumed run grows exactly like an
  uninterrupted one. The generator always returns ``image_size`` pixels (lower stages are
  nearest-upsampled, as the official code does), so sampling needs no special case; a freshly
  built or loaded network is fully grown. A training monitor (``GanTrainer.fit(monitor=...)``)
  scores the generator only once it is fully grown, so the kept generator is a grown one;
  ``snapshot_every`` snapshots taken during growth hold weights of a partly grown network and
  load as if fully grown (take snapshots after ``growth * steps`` for studies).

What is scaled down: channel counts (256 at most at ``width=1`` where the paper has 512; the quick
profile uses a quarter of that), latent size 128 (paper 512), and the schedule is compressed into
the training run: ``growth`` (default 0.5) of the steps are spent growing, split evenly between
the stable and fade phases, and the rest at full resolution (the paper shows 800k images per
phase). The generator ends in ``tanh`` mapped to [0, 1] (the paper's output is linear) because the
zoo's generators promise images in [0, 1].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganprint.gans.registry import GANS, GanSpec

LATENT_DIM = 128
IMAGE_SIZES = (32, 64, 128)


def n_levels(image_size: int) -> int:
    """Number of resolutions from 4x4 up to ``image_size`` (32 -> 4: 4, 8, 16, 32)."""
    if image_size < 4 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two >= 4, got {image_size}")
    return int(math.log2(image_size)) - 1


def progan_stage(step: int, total: int, levels: int, growth: float = 0.5) -> tuple[int, float]:
    """(level, alpha) at ``step`` of ``total``: which resolution (0 = 4x4) and how far it is faded in.

    The first ``growth * total`` steps are cut into ``2 * (levels - 1)`` equal phases: stable at 4x4,
    fade in 8x8, stable at 8x8, ..., fade in the last resolution; the remaining steps are stable at
    full resolution. ``alpha`` rises linearly over a fade phase and is 1 otherwise.
    """
    if levels < 1:
        raise ValueError("levels must be >= 1")
    if not 0.0 <= growth < 1.0:
        raise ValueError("growth must be in [0, 1): the run must end fully grown")
    phases = 2 * (levels - 1)
    if phases == 0 or total <= 0 or growth == 0.0:
        return levels - 1, 1.0
    position = step * phases / (growth * total)
    if position >= phases:
        return levels - 1, 1.0
    phase = int(position)
    if phase % 2 == 0:  # stable phase of level phase / 2
        return phase // 2, 1.0
    return (phase + 1) // 2, position - phase


def _channels(resolution: int, width: float) -> int:
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    return max(4, round(min(256, 4096 // resolution) * width))


class EqConv2d(nn.Module):
    """Convolution with equalised learning rate: N(0, 1) weights scaled by ``gain / sqrt(fan_in)`` at run time."""

    def __init__(self, cin: int, cout: int, kernel: int, gain: float = math.sqrt(2.0)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = gain / math.sqrt(cin * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqLinear(nn.Module):
    """Dense layer with equalised learning rate."""

    def __init__(self, cin: int, cout: int, gain: float = math.sqrt(2.0)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = gain / math.sqrt(cin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalise each pixel's feature vector to unit mean square (Karras et al. 2018, §4.2)."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append the mean standard deviation over groups of ``group_size`` consecutive samples as a feature map (§3).

    Groups are consecutive, so a batch of real images followed by as many generated ones (a
    multiple of the group size each) never mixes the two in one group.
    """
    n, c, h, w = x.shape
    g = math.gcd(group_size, n)
    y = x.reshape(n // g, g, c, h, w)
    std = (y - y.mean(dim=1, keepdim=True)).square().mean(dim=1).add(1e-8).sqrt()  # (n/g, c, h, w)
    std = std.mean(dim=(1, 2, 3)).repeat_interleave(g).view(n, 1, 1, 1).expand(n, 1, h, w)
    return torch.cat([x, std.to(x.dtype)], dim=1)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class _Staged(nn.Module):
    """The stage (level, alpha) shared by generator and critic; fully grown unless told otherwise."""

    def __init__(self, image_size: int, growth: float) -> None:
        super().__init__()
        self.image_size = image_size
        self.levels = n_levels(image_size)
        self.growth = growth
        self.level, self.alpha = self.levels - 1, 1.0

    def set_stage(self, level: int, alpha: float) -> None:
        if not 0 <= level < self.levels or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"stage ({level}, {alpha}) outside 0..{self.levels - 1} x [0, 1]")
        self.level, self.alpha = level, float(alpha)

    def set_progress(self, step: int, total: int) -> None:
        """The stage of training step ``step`` of ``total`` (:func:`progan_stage`)."""
        self.set_stage(*progan_stage(step, total, self.levels, self.growth))

    @property
    def is_grown(self) -> bool:
        """At full resolution with the last fade complete (the stage a loaded network has)."""
        return self.level == self.levels - 1 and self.alpha >= 1.0

    def resolution(self, level: int) -> int:
        return 4 * 2**level

    def extra_repr(self) -> str:
        return f"image_size={self.image_size}, level={self.level}, alpha={self.alpha:.3f}"


class ProGenerator(_Staged):
    def __init__(self, image_size: int = 32, width: float = 1.0, latent_dim: int = LATENT_DIM,
                 growth: float = 0.5) -> None:
        super().__init__(image_size, growth)
        ch = [_channels(self.resolution(i), width) for i in range(self.levels)]
        self.c0 = ch[0]
        self.fc = EqLinear(latent_dim, ch[0] * 16, gain=math.sqrt(2.0) / 4)
        self.conv0 = EqConv2d(ch[0], ch[0], 3)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqConv2d(ch[i - 1], ch[i], 3), EqConv2d(ch[i], ch[i], 3)]) for i in range(1, self.levels))
        self.to_rgb = nn.ModuleList(EqConv2d(c, 3, 1, gain=1.0) for c in ch)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = pixel_norm(_lrelu(self.fc(pixel_norm(z))).view(len(z), self.c0, 4, 4))
        h = pixel_norm(_lrelu(self.conv0(h)))
        prev = h
        for conv_a, conv_b in self.blocks[: self.level]:
            prev = h
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = pixel_norm(_lrelu(conv_b(pixel_norm(_lrelu(conv_a(h))))))
        rgb = self.to_rgb[self.level](h)
        if self.level > 0 and self.alpha < 1.0:  # fade-in: blend with the previous resolution's output
            rgb = torch.lerp(F.interpolate(self.to_rgb[self.level - 1](prev), scale_factor=2, mode="nearest"),
                             rgb, self.alpha)
        img = (torch.tanh(rgb) + 1.0) * 0.5
        factor = self.image_size // self.resolution(self.level)
        return img if factor == 1 else F.interpolate(img, scale_factor=factor, mode="nearest")


class ProCritic(_Staged):
    def __init__(self, image_size: int = 32, width: float = 1.0, growth: float = 0.5) -> None:
        super().__init__(image_size, growth)
        ch = [_channels(self.resolution(i), width) for i in range(self.levels)]
        self.from_rgb = nn.ModuleList(EqConv2d(3, c, 1) for c in ch)
        # blocks[i - 1] takes level i (resolution 4 * 2^i) down to level i - 1
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqConv2d(ch[i], ch[i], 3), EqConv2d(ch[i], ch[i - 1], 3)]) for i in range(1, self.levels))
        self.conv_last = EqConv2d(ch[0] + 1, ch[0], 3)
        self.fc1 = EqLinear(ch[0] * 16, ch[0])
        self.fc2 = EqLinear(ch[0], 1, gain=1.0)

    def _at_level(self, x: torch.Tensor, level: int) -> torch.Tensor:
        factor = x.shape[-1] // self.resolution(level)
        return x if factor == 1 else F.avg_pool2d(x, factor)

    def prepare_real(self, x: torch.Tensor) -> torch.Tensor:
        """Real images at the current stage: during a fade, blended with their half-resolution version."""
        if self.level == 0 or self.alpha >= 1.0:
            return x
        cur = self._at_level(x, self.level)
        low = F.interpolate(F.avg_pool2d(cur, 2), scale_factor=2, mode="nearest")
        faded = torch.lerp(low, cur, self.alpha)
        factor = self.image_size // self.resolution(self.level)
        return faded if factor == 1 else F.interpolate(faded, scale_factor=factor, mode="nearest")

    def _block(self, i: int, h: torch.Tensor) -> torch.Tensor:
        conv_a, conv_b = self.blocks[i - 1]
        return F.avg_pool2d(_lrelu(conv_b(_lrelu(conv_a(h)))), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        level = self.level
        x_cur = self._at_level(x, level)
        h = _lrelu(self.from_rgb[level](x_cur))
        if level > 0:
            h = self._block(level, h)
            if self.alpha < 1.0:
                skip = _lrelu(self.from_rgb[level - 1](F.avg_pool2d(x_cur, 2)))
                h = torch.lerp(skip, h, self.alpha)
            for i in range(level - 1, 0, -1):
                h = self._block(i, h)
        h = _lrelu(self.conv_last(minibatch_stddev(h)))
        return self.fc2(_lrelu(self.fc1(h.flatten(1))))


@GANS.register("progan")
def progan(image_size: int = 32, width: float = 1.0, latent_dim: int = LATENT_DIM, growth: float = 0.5,
           drift: float = 0.001, gp_target: float = 1.0) -> GanSpec:
    """Progressive GAN (Karras et al. 2018): growing 4x4 -> ``image_size`` with fade-in, WGAN-GP + drift."""
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {image_size}")
    return GanSpec(
        name="progan",
        latent_dim=latent_dim,
        image_shape=(3, image_size, image_size),
        generator=ProGenerator(image_size, width, latent_dim, growth),
        discriminator=ProCritic(image_size, width, growth),
        options={"image_size": image_size, "width": width, "latent_dim": latent_dim, "growth": growth,
                 "drift": drift, "gp_target": gp_target},
        objective="wgan-gp",
        objective_options={"drift": drift, "gp_target": gp_target},
    )
