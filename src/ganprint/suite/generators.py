"""Small generative models of designs the GAN zoo does not have, for the generalisation suite.

The zoo (:mod:`ganprint.gans`) holds transposed-convolution DCGANs, an MLP GAN, ProGAN, SNGAN,
CramerGAN and MMDGAN. An attributor whose defaults were chosen on the zoo alone may have learned
the zoo's upsampling artefacts rather than anything general, so the generalisation suite needs sources
made differently. Each design here changes at least one of the things that leave fingerprints in
generated images -- how the generator upsamples, how it normalises, what loss it is trained with,
whether it is a GAN at all:

==========================  =============================================  ==============  ====================
name                        generator                                      normalisation   objective, critic
==========================  =============================================  ==============  ====================
``vae-conv``                VAE, transposed-conv decoder (sigmoid mean)    none            MSE + KL
``vae-mlp``                 VAE, MLP decoder (Bernoulli / sigmoid)         none            BCE + KL
``gan-bilinear-gn``         bilinear upsampling + 3x3 conv, tanh           GroupNorm       non-saturating
``gan-pixelshuffle-hinge``  sub-pixel conv (PixelShuffle), tanh            GroupNorm       hinge, SN critic
``gan-nearest-in-lsgan``    nearest-neighbour upsampling + 3x3 conv, tanh  InstanceNorm    least squares
``gan-mlp-wgangp``          fully connected, tanh                          LayerNorm       WGAN-GP, MLP critic
``gan-style-adain``         mapping net, learned constant, noise, AdaIN,   AdaIN (style)   non-saturating,
                            bilinear upsampling, tanh                                      minibatch-std critic
==========================  =============================================  ==============  ====================

Every model works on any ``(channels, height, width)`` with height and width divisible by 4 (the
suite uses 1x28x28 and 3x32x32), takes uint8 ``(N, C, H, W)`` images, and is trained by
:func:`train_generator` with all randomness drawn from generators seeded by ``seed``: the global
random state is left as it was, and the same call gives the same weights. :func:`sample_images`
returns the images of latents ``z ~ N(0, I)`` drawn from ``seed`` (for a VAE, the decoder's mean).
The models are small on purpose: each trains in about a minute on one CPU core with the steps of
its :attr:`SuiteModel.default_train` (measured in ``benchmarks/suite_data.py``).
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm
from tqdm.auto import tqdm

from ganprint.registry import Registry
from ganprint.serialization import load_tensors, read_json, save_tensors, write_json

ImageShape = tuple[int, int, int]
MODEL_KIND = "ganprint-suite-generator"


@dataclass(frozen=True)
class SuiteTrainConfig:
    """How a suite model is trained: ``steps`` optimiser steps (generator steps for a GAN) of
    ``batch_size`` images with Adam (``lr``, ``betas``); a GAN's critic takes ``critic_steps``
    steps per generator step (5 for WGAN-GP, as in Gulrajani et al.) with learning rate
    ``critic_lr`` (None: ``lr``; a larger one is the two time-scale rule of Heusel et al. 2017)."""

    steps: int
    batch_size: int = 64
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    critic_steps: int = 1
    critic_lr: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if self.steps < 0 or self.batch_size < 1 or self.critic_steps < 1 or self.lr <= 0:
            raise ValueError(f"invalid training config {self}")


class SuiteModel(nn.Module, ABC):
    """A generative model of the suite: ``decode(z)`` maps latents (N, latent_dim) to images in [0, 1].

    Subclasses implement :meth:`decode`, :meth:`make_optimizers` and :meth:`train_step`.
    ``family`` is the registered name, ``options`` the factory's keyword arguments (saved with the
    weights so :func:`load_suite_model` rebuilds the same network), ``default_train`` the measured
    training settings; :func:`train_generator` records the settings it used (``trained_with``) and
    its wall time (``train_seconds``).
    """

    def __init__(self, family: str, image_shape: ImageShape, latent_dim: int, default_train: SuiteTrainConfig,
                 options: dict[str, Any]) -> None:
        super().__init__()
        self.family = family
        self.image_shape = tuple(int(v) for v in image_shape)
        self.latent_dim = latent_dim
        self.default_train = default_train
        self.options = options
        self.trained_with: SuiteTrainConfig | None = None  # set by train_generator
        self.train_seconds: float | None = None

    @abstractmethod
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) in [0, 1] from latents (N, latent_dim)."""

    @abstractmethod
    def make_optimizers(self, cfg: SuiteTrainConfig) -> list[torch.optim.Optimizer]:
        """The optimisers :meth:`train_step` steps, built from ``cfg``."""

    @abstractmethod
    def train_step(self, batches: Callable[[], torch.Tensor], optimizers: list[torch.optim.Optimizer],
                   noise: torch.Generator, cfg: SuiteTrainConfig) -> dict[str, float]:
        """One training step; ``batches()`` returns the next real batch in [0, 1]; all noise from ``noise``."""


SUITE_GENERATORS: Registry[SuiteModel] = Registry("suite generator")


def create_suite_generator(name: str, image_shape: ImageShape = (1, 28, 28), **options: Any) -> SuiteModel:
    """A freshly initialised suite model of family ``name`` for images of ``image_shape``."""
    c, h, w = image_shape
    if c < 1 or h % 4 or w % 4 or h < 8 or w < 8:
        raise ValueError(f"suite generators need (C, H, W) with H and W divisible by 4, got {image_shape}")
    return SUITE_GENERATORS.create(name, image_shape=tuple(image_shape), **options)


def _randn(noise: torch.Generator, *shape: int, device: torch.device) -> torch.Tensor:
    """Standard normal noise drawn on ``noise``'s device (the CPU), moved to ``device``: the same numbers anywhere."""
    return torch.randn(*shape, generator=noise).to(device)


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


# -- VAEs ------------------------------------------------------------------------------------------
class VAE(SuiteModel):
    """Variational auto-encoder (Kingma & Welling 2014). ``likelihood`` 'gaussian': the decoder's
    output is the mean of a Gaussian with fixed ``sigma`` (loss ``||x - mu||^2 / (2 sigma^2)`` + KL);
    'bernoulli': the output is a probability per pixel (loss BCE + KL). The images of a latent are
    the decoder's mean, never a sample of the pixel noise."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, likelihood: str, sigma: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if likelihood not in ("gaussian", "bernoulli"):
            raise ValueError(f"unknown likelihood {likelihood!r}")
        self.encoder, self.decoder = encoder, decoder
        self.likelihood, self.sigma = likelihood, sigma

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))

    def make_optimizers(self, cfg: SuiteTrainConfig) -> list[torch.optim.Optimizer]:
        return [torch.optim.Adam(self.parameters(), lr=cfg.lr, betas=cfg.betas)]

    def train_step(self, batches, optimizers, noise, cfg):
        (opt,) = optimizers
        x = batches()
        mu, logvar = self.encoder(x * 2 - 1).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * logvar) * _randn(noise, *mu.shape, device=x.device)
        logits = self.decoder(z)
        if self.likelihood == "bernoulli":
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        else:
            recon = (torch.sigmoid(logits) - x).square().sum() / (2 * self.sigma**2 * len(x))
        kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum() / len(x)
        loss = recon + kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"recon": recon.item(), "kl": kl.item()}


class ConvEncoder(nn.Module):
    """Two stride-2 4x4 convolutions and a linear layer to ``2 * latent_dim`` (mean, log-variance)."""

    def __init__(self, image_shape: ImageShape, width: int, out_features: int) -> None:
        super().__init__()
        c, h, w = image_shape
        self.net = nn.Sequential(
            nn.Conv2d(c, width, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * width * (h // 4) * (w // 4), out_features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TransposedConvDecoder(nn.Module):
    """Linear to (2w, H/4, W/4), then two stride-2 4x4 transposed convolutions (logits out)."""

    def __init__(self, image_shape: ImageShape, width: int, latent_dim: int) -> None:
        super().__init__()
        c, h, w = image_shape
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 2 * width * (h // 4) * (w // 4)), nn.ReLU(),
            nn.Unflatten(1, (2 * width, h // 4, w // 4)),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(width, c, 4, 2, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def _mlp(sizes: list[int], activation: Callable[[], nn.Module], norm: bool = False) -> list[nn.Module]:
    """Linear layers between ``sizes``, each but the last followed by (LayerNorm if ``norm``) and ``activation``."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.LayerNorm(b)] if norm else []
            layers.append(activation())
    return layers


@SUITE_GENERATORS.register("vae-conv")
def vae_conv(image_shape: ImageShape = (1, 28, 28), width: int = 32, latent_dim: int = 16,
             sigma: float = 0.3) -> VAE:
    """Convolutional VAE, Gaussian decoder of fixed ``sigma`` (MSE + KL), transposed-conv decoder.
    (With ``sigma`` 0.15 the reconstructions were sharper but decoded prior samples often fell between
    digits; 0.3 trades sharpness for samples that look like digits.)"""
    return VAE(ConvEncoder(image_shape, width, 2 * latent_dim), TransposedConvDecoder(image_shape, width, latent_dim),
               "gaussian", sigma, family="vae-conv", image_shape=image_shape, latent_dim=latent_dim,
               default_train=SuiteTrainConfig(steps=1500, lr=1e-3, betas=(0.9, 0.999)),
               options={"width": width, "latent_dim": latent_dim, "sigma": sigma})


@SUITE_GENERATORS.register("vae-mlp")
def vae_mlp(image_shape: ImageShape = (1, 28, 28), hidden: int = 400, latent_dim: int = 20) -> VAE:
    """MLP VAE with a Bernoulli (sigmoid) decoder, trained on BCE + KL (Kingma & Welling's MNIST model)."""
    d = math.prod(image_shape)
    encoder = nn.Sequential(nn.Flatten(), *_mlp([d, hidden, 2 * latent_dim], nn.ReLU))
    decoder = nn.Sequential(*_mlp([latent_dim, hidden, d], nn.ReLU), nn.Unflatten(1, tuple(image_shape)))
    return VAE(encoder, decoder, "bernoulli", 1.0, family="vae-mlp", image_shape=image_shape, latent_dim=latent_dim,
               default_train=SuiteTrainConfig(steps=6000 if image_shape[0] == 1 else 3000, lr=1e-3, betas=(0.9, 0.999)),
               options={"hidden": hidden, "latent_dim": latent_dim})


# -- GANs ------------------------------------------------------------------------------------------
def _d_loss(loss: str, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    if loss == "bce":
        return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    if loss == "hinge":
        return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
    if loss == "lsgan":
        return 0.5 * ((d_real - 1).square().mean() + d_fake.square().mean())
    if loss == "wgan-gp":
        return d_fake.mean() - d_real.mean()
    raise ValueError(f"unknown GAN loss {loss!r}")


def _g_loss(loss: str, d_fake: torch.Tensor) -> torch.Tensor:
    if loss == "bce":
        return F.softplus(-d_fake).mean()  # non-saturating
    if loss in ("hinge", "wgan-gp"):
        return -d_fake.mean()
    if loss == "lsgan":
        return 0.5 * (d_fake - 1).square().mean()
    raise ValueError(f"unknown GAN loss {loss!r}")


GAN_LOSSES = ("bce", "hinge", "lsgan", "wgan-gp")
"""The adversarial losses: non-saturating BCE (Goodfellow et al. 2014), hinge (Lim & Ye 2017; Miyato
et al. 2018), least squares with targets 0/1 (Mao et al. 2017), Wasserstein with gradient penalty
(Gulrajani et al. 2017, weight 10)."""


class GAN(SuiteModel):
    """Generator (latent -> images in [-1, 1]) and critic (images in [-1, 1] -> one score each)
    trained with one of :data:`GAN_LOSSES`."""

    def __init__(self, generator: nn.Module, critic: nn.Module, loss: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if loss not in GAN_LOSSES:
            raise ValueError(f"unknown GAN loss {loss!r}; known: {', '.join(GAN_LOSSES)}")
        self.generator, self.critic, self.loss = generator, critic, loss

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return ((self.generator(z) + 1) / 2).clamp(0, 1)

    def make_optimizers(self, cfg: SuiteTrainConfig) -> list[torch.optim.Optimizer]:
        return [torch.optim.Adam(self.generator.parameters(), lr=cfg.lr, betas=cfg.betas),
                torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr or cfg.lr, betas=cfg.betas)]

    def train_step(self, batches, optimizers, noise, cfg):
        opt_g, opt_d = optimizers
        for _ in range(cfg.critic_steps):
            real = batches() * 2 - 1
            n = len(real)
            with torch.no_grad():
                fake = self.generator(_randn(noise, n, self.latent_dim, device=real.device))
            d_out = self.critic(torch.cat([real, fake]))
            d_loss = _d_loss(self.loss, d_out[:n], d_out[n:])
            if self.loss == "wgan-gp":
                eps = torch.rand(n, 1, 1, 1, generator=noise).to(real.device)
                points = (eps * real + (1 - eps) * fake).requires_grad_(True)
                (grad,) = torch.autograd.grad(self.critic(points).sum(), points, create_graph=True)
                d_loss = d_loss + 10.0 * (grad.flatten(1).norm(dim=1) - 1).square().mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        self.critic.requires_grad_(False)
        fake = self.generator(_randn(noise, cfg.batch_size, self.latent_dim, device=real.device))
        g_loss = _g_loss(self.loss, self.critic(fake))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        self.critic.requires_grad_(True)
        return {"d": d_loss.item(), "g": g_loss.item()}


class MinibatchStd(nn.Module):
    """Appends one channel: the standard deviation over each group of ``group`` consecutive images,
    averaged over features (ProGAN, Karras et al. 2018), so the critic can see a lack of variety.
    Groups are consecutive, so a batch of ``n`` real then ``n`` generated images (``n`` a multiple of
    ``group``) never mixes the two in one group."""

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = math.gcd(n, self.group)
        std = x.view(n // g, g, c, h, w).var(dim=1, unbiased=False).add(1e-8).sqrt().mean(dim=(1, 2, 3))
        return torch.cat([x, std.repeat_interleave(g).view(n, 1, 1, 1).expand(n, 1, h, w)], dim=1)


class ConvCritic(nn.Module):
    """Plain convolutional critic: a stride-2 4x4 conv per scale, LeakyReLU(0.2), a linear score; every
    layer spectrally normalised when ``spectral`` (Miyato et al. 2018); a minibatch standard-deviation
    channel in the last feature map if ``minibatch_std``."""

    def __init__(self, image_shape: ImageShape, width: int, spectral: bool = False,
                 minibatch_std: bool = False) -> None:
        super().__init__()
        c, h, w = image_shape
        sn = spectral_norm if spectral else (lambda m: m)
        layers: list[nn.Module] = []
        chans = [c, width, 2 * width]
        for a, b in zip(chans[:-1], chans[1:], strict=True):
            layers += [sn(nn.Conv2d(a, b, 4, 2, 1)), nn.LeakyReLU(0.2)]
        last = 2 * width + int(minibatch_std)
        self.features = nn.Sequential(*layers, *([MinibatchStd()] if minibatch_std else []), nn.Flatten())
        self.score = sn(nn.Linear(last * (h // 4) * (w // 4), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(x))


class UpsampleGenerator(nn.Module):
    """Linear to (2w, H/4, W/4), then two x2 upsampling blocks and a 3x3 conv to the image (tanh).

    ``upsample``: 'bilinear' or 'nearest' (interpolation, then a 3x3 conv) or 'pixelshuffle' (a 3x3
    conv to 4x the channels, then a sub-pixel shuffle; Shi et al. 2016). ``norm``: 'group',
    'instance' (affine) or 'none', after every convolution but the last. A sub-pixel convolution starts
    as nearest-neighbour upsampling (ICNR initialisation, Aitken et al. 2017).
    """

    def __init__(self, image_shape: ImageShape, width: int, latent_dim: int, upsample: str, norm: str,
                 activation: Callable[[], nn.Module]) -> None:
        super().__init__()
        c, h, w = image_shape

        def normalise(ch: int) -> nn.Module:
            if norm == "group":
                return nn.GroupNorm(_groups(ch), ch)
            if norm == "instance":
                return nn.InstanceNorm2d(ch, affine=True)
            if norm == "none":
                return nn.Identity()
            raise ValueError(f"unknown norm {norm!r}")

        def up(a: int, b: int) -> list[nn.Module]:
            if upsample == "pixelshuffle":
                return [nn.Conv2d(a, 4 * b, 3, 1, 1), nn.PixelShuffle(2)]
            if upsample in ("bilinear", "nearest"):
                align = {"align_corners": False} if upsample == "bilinear" else {}
                return [nn.Upsample(scale_factor=2, mode=upsample, **align), nn.Conv2d(a, b, 3, 1, 1)]
            raise ValueError(f"unknown upsampling {upsample!r}")

        self.net = nn.Sequential(
            nn.Linear(latent_dim, 2 * width * (h // 4) * (w // 4)), activation(),
            nn.Unflatten(1, (2 * width, h // 4, w // 4)),
            *up(2 * width, width), normalise(width), activation(),
            *up(width, width // 2), normalise(width // 2), activation(),
            nn.Conv2d(width // 2, c, 3, 1, 1), nn.Tanh(),
        )
        if upsample == "pixelshuffle":  # ICNR (Aitken et al. 2017): start as nearest upsampling, no checkerboard
            for i, m in enumerate(self.net[:-1]):
                if isinstance(m, nn.Conv2d) and isinstance(self.net[i + 1], nn.PixelShuffle):
                    with torch.no_grad():
                        m.weight.copy_(m.weight[: m.out_channels // 4].repeat_interleave(4, dim=0))
                        m.bias.copy_(m.bias[: m.out_channels // 4].repeat_interleave(4))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def _gan(family: str, generator: nn.Module, critic: nn.Module, loss: str, image_shape: ImageShape, latent_dim: int,
         train: SuiteTrainConfig, options: dict[str, Any]) -> GAN:
    return GAN(generator, critic, loss, family=family, image_shape=image_shape, latent_dim=latent_dim,
               default_train=train, options=options)


def _conv_gan_train(image_shape: ImageShape) -> SuiteTrainConfig:
    """Measured settings of the convolutional GANs: batch 32 and lr 5e-4 (as the zoo's quick MNIST
    GANs), steps for about a minute on one CPU core (28x28 grey: 1,000; 32x32 RGB: 700)."""
    return SuiteTrainConfig(steps=1000 if image_shape[0] == 1 else 700, batch_size=32, lr=5e-4)


@SUITE_GENERATORS.register("gan-bilinear-gn")
def gan_bilinear_gn(image_shape: ImageShape = (1, 28, 28), width: int = 32, latent_dim: int = 64) -> GAN:
    """Bilinear upsampling + 3x3 conv, GroupNorm, LeakyReLU; non-saturating loss; plain conv critic."""
    G = UpsampleGenerator(image_shape, width, latent_dim, "bilinear", "group", lambda: nn.LeakyReLU(0.2))
    return _gan("gan-bilinear-gn", G, ConvCritic(image_shape, width), "bce", image_shape, latent_dim,
                _conv_gan_train(image_shape), {"width": width, "latent_dim": latent_dim})


@SUITE_GENERATORS.register("gan-pixelshuffle-hinge")
def gan_pixelshuffle_hinge(image_shape: ImageShape = (1, 28, 28), width: int = 32, latent_dim: int = 64) -> GAN:
    """PixelShuffle (sub-pixel) upsampling with ICNR initialisation, GroupNorm, LeakyReLU; hinge loss;
    spectral-norm critic.

    The suite's design called for this family without normalisation. Without it the generator failed within the
    one-minute budget: with PyTorch's initialisation it collapsed to one image; with He initialisation
    and a tanh output it saturated to all-black digits; with a linear output it drew noisy digits and,
    on photo crops, oscillated and collapsed (also with a moving average of its weights, a lower
    learning rate, two time scales, or pixel or layer norm instead). With GroupNorm it trains; the
    family still differs from ``gan-bilinear-gn`` by its upsampling, loss and critic."""
    G = UpsampleGenerator(image_shape, width, latent_dim, "pixelshuffle", "group", lambda: nn.LeakyReLU(0.2))
    train = replace(_conv_gan_train(image_shape), lr=2e-4)
    D = ConvCritic(image_shape, width, spectral=True, minibatch_std=True)
    return _gan("gan-pixelshuffle-hinge", G, D, "hinge", image_shape,
                latent_dim, train, {"width": width, "latent_dim": latent_dim})


@SUITE_GENERATORS.register("gan-nearest-in-lsgan")
def gan_nearest_in_lsgan(image_shape: ImageShape = (1, 28, 28), width: int = 32, latent_dim: int = 64) -> GAN:
    """Nearest-neighbour upsampling + 3x3 conv, InstanceNorm, ReLU; least-squares loss; plain conv critic."""
    G = UpsampleGenerator(image_shape, width, latent_dim, "nearest", "instance", nn.ReLU)
    return _gan("gan-nearest-in-lsgan", G, ConvCritic(image_shape, width), "lsgan", image_shape, latent_dim,
                _conv_gan_train(image_shape), {"width": width, "latent_dim": latent_dim})


@SUITE_GENERATORS.register("gan-mlp-wgangp")
def gan_mlp_wgangp(image_shape: ImageShape = (1, 28, 28), hidden: int = 512, latent_dim: int = 64) -> GAN:
    """Fully connected generator (LayerNorm, ReLU, tanh) and critic; WGAN-GP with 5 critic steps per generator step."""
    d = math.prod(image_shape)
    G = nn.Sequential(*_mlp([latent_dim, hidden // 2, hidden, d], nn.ReLU, norm=True), nn.Tanh(),
                      nn.Unflatten(1, tuple(image_shape)))
    D = nn.Sequential(nn.Flatten(), *_mlp([d, hidden, hidden // 2, 1], lambda: nn.LeakyReLU(0.2)))
    grey = image_shape[0] == 1
    train = SuiteTrainConfig(steps=800 if grey else 500, batch_size=64 if grey else 32, lr=1e-4, betas=(0.5, 0.9),
                             critic_steps=5)
    return _gan("gan-mlp-wgangp", G, D, "wgan-gp", image_shape, latent_dim, train,
                {"hidden": hidden, "latent_dim": latent_dim})


# -- a style-based generator -----------------------------------------------------------------------
class AdaIN(nn.Module):
    """Instance norm whose scale and bias come from the style vector ``w`` (Huang & Belongie 2017)."""

    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.style = nn.Linear(style_dim, 2 * channels)
        # unit-variance outputs for a unit-RMS style: the style changes every channel from the first step
        # (PyTorch's default initialisation gave scales within 1 +- 0.1, and the generator collapsed)
        nn.init.normal_(self.style.weight, std=style_dim**-0.5)
        nn.init.zeros_(self.style.bias)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, bias = self.style(w)[:, :, None, None].chunk(2, dim=1)
        return self.norm(x) * (1 + scale) + bias


def _pixel_norm(v: torch.Tensor) -> torch.Tensor:
    """Each row scaled to unit root-mean-square (ProGAN's pixel norm on a vector)."""
    return v * torch.rsqrt(v.square().mean(dim=1, keepdim=True) + 1e-8)


class StyleGenerator(nn.Module):
    """A small StyleGAN-like generator (Karras et al. 2019): an MLP maps ``z`` to a style ``w``; a
    learned constant (2w, H/4, W/4) is upsampled bilinearly twice; every 3x3 conv gets a noise map
    (scaled per channel) and AdaIN from ``w``. The noise maps are a fixed random projection of ``z``
    through a sine (buffers drawn at initialisation), not fresh random numbers, so an image is a
    function of its latent alone and sampling needs no random state."""

    def __init__(self, image_shape: ImageShape, width: int, latent_dim: int) -> None:
        super().__init__()
        c, h, w = image_shape
        self.mapping = nn.Sequential(*_mlp([latent_dim] * 3, lambda: nn.LeakyReLU(0.2)))
        self.const = nn.Parameter(torch.randn(1, 2 * width, h // 4, w // 4))
        chans = [2 * width, 2 * width, width, width // 2]
        sizes = [(h // 4, w // 4), (h // 2, w // 2), (h, w)]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, 1, 1) for a, b in zip(chans[:-1], chans[1:], strict=True))
        self.adains = nn.ModuleList(AdaIN(b, latent_dim) for b in chans[1:])
        self.noise_scales = nn.ParameterList(nn.Parameter(torch.full((1, b, 1, 1), 0.1)) for b in chans[1:])
        for i, (sh, sw) in enumerate(sizes):
            self.register_buffer(f"noise_proj{i}", torch.randn(latent_dim, sh * sw) * 3)
            self.register_buffer(f"noise_phase{i}", torch.rand(sh * sw) * 2 * math.pi)
        self.to_image = nn.Conv2d(chans[-1], c, 1)

    def noise(self, z: torch.Tensor, layer: int, size: tuple[int, int]) -> torch.Tensor:
        """Noise map (N, 1, H, W) of ``layer``, unit variance over latents, a function of ``z``."""
        proj, phase = getattr(self, f"noise_proj{layer}"), getattr(self, f"noise_phase{layer}")
        return (math.sqrt(2) * torch.sin(z @ proj + phase)).view(len(z), 1, *size)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = _pixel_norm(self.mapping(_pixel_norm(z)))
        x = self.const.expand(len(z), -1, -1, -1)
        for i, (conv, adain, scale) in enumerate(zip(self.convs, self.adains, self.noise_scales, strict=True)):
            if i > 0:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = conv(x)
            x = x + scale * self.noise(z, i, tuple(x.shape[2:]))
            x = F.leaky_relu(adain(x, w), 0.2)
        return torch.tanh(self.to_image(x))


@SUITE_GENERATORS.register("gan-style-adain")
def gan_style_adain(image_shape: ImageShape = (1, 28, 28), width: int = 32, latent_dim: int = 64) -> GAN:
    """Style-based generator (mapping net, learned constant, AdaIN, noise, bilinear upsampling);
    non-saturating loss; conv critic with a minibatch standard-deviation channel (without it the
    generator collapsed to one image)."""
    D = ConvCritic(image_shape, width, minibatch_std=True)
    return _gan("gan-style-adain", StyleGenerator(image_shape, width, latent_dim), D,
                "bce", image_shape, latent_dim,
                SuiteTrainConfig(steps=800 if image_shape[0] == 1 else 600, batch_size=32, lr=2e-4, betas=(0.0, 0.99)),
                {"width": width, "latent_dim": latent_dim})


# -- training, sampling, saving ----------------------------------------------------------------------
def _check_images(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images))
    if x.dtype != torch.uint8 or x.ndim != 4:
        raise ValueError(f"expected uint8 images (N, C, H, W), got {x.dtype} {tuple(x.shape)}")
    if len(x) == 0:
        raise ValueError("no training images")
    return x


def train_generator(name: str, images: np.ndarray | torch.Tensor, *, steps: int | None = None,
                    batch_size: int | None = None, lr: float | None = None, seed: int = 0,
                    device: torch.device | str = "cpu", progress: bool = False, **options: Any) -> SuiteModel:
    """Train suite model ``name`` on uint8 ``images`` (N, C, H, W) and return it (in eval mode).

    ``steps``, ``batch_size`` and ``lr`` default to the family's :attr:`SuiteModel.default_train`;
    ``options`` go to the factory. The initial weights come from ``torch.manual_seed(seed)`` inside
    :func:`torch.random.fork_rng` (the caller's random state is untouched), the order of the
    training images and all noise from CPU generators seeded from ``seed``: one call, one result.
    The seconds the training took are in the model's attribute ``train_seconds``.
    """
    data = _check_images(images)
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        model = create_suite_generator(name, tuple(data.shape[1:]), **options)
    cfg = model.default_train
    cfg = replace(cfg, steps=cfg.steps if steps is None else steps,
                  batch_size=cfg.batch_size if batch_size is None else batch_size, lr=cfg.lr if lr is None else lr)
    model.to(device).train()
    if device.type == "cpu":
        model.to(memory_format=torch.channels_last)
    optimizers = model.make_optimizers(cfg)
    data_gen = torch.Generator().manual_seed((2 * seed + 1) % 2**64)
    noise = torch.Generator().manual_seed((2 * seed + 2) % 2**64)
    data = data.to(device)
    order: list[torch.Tensor] = []

    def batches() -> torch.Tensor:
        nonlocal order
        if not order:
            order = list(torch.randperm(len(data), generator=data_gen).split(cfg.batch_size))
            if len(order) > 1 and len(order[-1]) < cfg.batch_size:
                order.pop()  # every batch full: same statistics at every step
        return data[order.pop(0).to(device)].float().div_(255)

    start = time.perf_counter()
    bar = tqdm(range(cfg.steps), desc=f"train {name}", disable=not progress, mininterval=10, dynamic_ncols=True)
    for _ in bar:
        stats = model.train_step(batches, optimizers, noise, cfg)
        bar.set_postfix({k: f"{v:.3g}" for k, v in stats.items()}, refresh=False)
    bar.close()
    model.train_seconds = time.perf_counter() - start
    model.trained_with = cfg
    return model.eval()


@torch.inference_mode()
def sample_images(model: SuiteModel, n: int, seed: int = 0, batch: int = 250) -> np.ndarray:
    """``n`` images of ``model`` as uint8 (N, C, H, W): ``decode(z)`` of ``z ~ N(0, I)`` from a CPU generator
    seeded with ``seed``, rounded from [0, 1]. Deterministic for a seed; the batch size does not
    change which latents are used (only, rarely, a pixel by one level where float sums round differently).
    Ask for all the images of a stream in one call: the first ``k`` latents of ``n`` are not always
    those of ``k`` (PyTorch draws normals in vectorised blocks)."""
    model.eval()
    device = next(model.parameters()).device
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    out = np.empty((n, *model.image_shape), dtype=np.uint8)
    for lo in range(0, n, batch):
        x = model.decode(z[lo:lo + batch].to(device)).float().clamp_(0, 1)
        out[lo:lo + len(x)] = (x * 255 + 0.5).to(torch.uint8).cpu().numpy()
    return out


def save_suite_model(model: SuiteModel, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``folder/model.safetensors`` and ``folder/config.json`` (family, image shape, options,
    training settings and ``extra``); the config is written last, so its presence marks a finished save."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_tensors(folder / "model.safetensors", model.state_dict())
    write_json(folder / "config.json", {
        "kind": MODEL_KIND, "family": model.family, "image_shape": list(model.image_shape),
        "options": model.options, "train": asdict(model.trained_with) if model.trained_with else None,
        "train_seconds": model.train_seconds, **(extra or {}),
    })
    return folder


def load_suite_model(folder: str | Path, device: torch.device | str = "cpu") -> tuple[SuiteModel, dict[str, Any]]:
    """A model saved by :func:`save_suite_model`, in eval mode on ``device``, and its config."""
    folder = Path(folder)
    config = read_json(folder / "config.json")
    if config.get("kind") != MODEL_KIND:
        raise ValueError(f"{folder} is not a suite generator folder")
    model = create_suite_generator(config["family"], tuple(config["image_shape"]), **config["options"])
    model.load_state_dict(load_tensors(folder / "model.safetensors"))
    return model.to(device).eval(), config
