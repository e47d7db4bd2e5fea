"""The MNIST GAN of seed 000 §3.1.1 (a Keras DCGAN), layer for layer.

Generator (1,164,289 parameters at ``width=1``)::

    Dense 100 -> 7*7*128, LeakyReLU(0.2), reshape (128, 7, 7)
    ConvTranspose 128, 4x4, stride 2 -> 14x14, LeakyReLU(0.2)
    ConvTranspose 128, 4x4, stride 2 -> 28x28, LeakyReLU(0.2)
    Conv 1, 7x7, same -> 28x28, sigmoid

Discriminator (40,705 parameters)::

    Conv 64, 3x3, stride 2 -> 14x14, LeakyReLU(0.2), Dropout(0.4)
    Conv 64, 3x3, stride 2 -> 7x7, LeakyReLU(0.2), Dropout(0.4)
    Flatten, Dense 1 (logit; the seed's sigmoid is folded into the BCE-with-logits loss)

``width`` scales the generator's 128 channels (and the discriminator's 64) for fast profiles;
``output="tanh"`` gives the tanh-output variant of seed 000 §3.1.6 (rescaled to [0, 1]).
Weights start as in Keras (Glorot-uniform, zero bias). The options ``norm``, ``disc_dropout``,
``objective`` and ``prior`` are documented deviations for fast profiles; their defaults are the
seed's network.
"""

from __future__ import annotations

import torch
from torch import nn

from ganprint.gans.priors import build_prior
from ganprint.gans.registry import GANS, GanSpec
from ganprint.nn.layers import ByteDropout, NarrowConv2d, glorot_uniform_

LATENT_DIM = 100


class _TanhToUnit(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(x) + 1.0) * 0.5


class MnistGenerator(nn.Module):
    def __init__(self, width: float = 1.0, latent_dim: int = LATENT_DIM, output: str = "sigmoid",
                 norm: str = "none", prior: str = "normal", prior_components: int = 10,
                 prior_sigma: float = 0.5):
        super().__init__()
        if output not in ("sigmoid", "tanh"):
            raise ValueError(f"output must be 'sigmoid' or 'tanh', got {output!r}")
        if norm not in ("none", "batch"):
            raise ValueError(f"norm must be 'none' or 'batch', got {norm!r}")
        c = max(1, round(128 * width))
        self.channels = c
        bn = norm == "batch"
        self.fc = nn.Linear(latent_dim, c * 7 * 7, bias=not bn)
        self.up1 = nn.ConvTranspose2d(c, c, 4, stride=2, padding=1, bias=not bn)
        self.up2 = nn.ConvTranspose2d(c, c, 4, stride=2, padding=1, bias=not bn)
        self.out = NarrowConv2d(c, 1, 7, padding=3)  # nn.Conv2d, run as a GEMM and a fold
        self.norm0 = nn.BatchNorm2d(c) if bn else nn.Identity()
        self.norm1 = nn.BatchNorm2d(c) if bn else nn.Identity()
        self.norm2 = nn.BatchNorm2d(c) if bn else nn.Identity()
        self.act = nn.LeakyReLU(0.2)
        self.squash = nn.Sigmoid() if output == "sigmoid" else _TanhToUnit()
        glorot_uniform_(self)
        self.prior = build_prior(prior, latent_dim, prior_components, prior_sigma)

    def label_of(self, z: torch.Tensor) -> torch.Tensor:
        """The class a latent is drawn for (its mixture component), for a class-conditional GAN."""
        if not hasattr(self.prior, "component"):
            raise ValueError("a class-conditional generator needs the mixture prior (one component per class)")
        return self.prior.component(z)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(self.prior(z)).view(z.shape[0], self.channels, 7, 7)
        x = self.act(self.norm0(x.contiguous(memory_format=torch.channels_last)))
        x = self.act(self.norm1(self.up1(x)))
        x = self.act(self.norm2(self.up2(x)))
        return self.squash(self.out(x))


class MnistDiscriminator(nn.Module):
    """The seed's discriminator; ``pack > 1`` makes it a PacGAN discriminator (Lin et al. 2018).

    A packing discriminator judges ``pack`` images of one kind at once, stacked as channels, so it
    sees whether a *set* of samples is as varied as a set of real ones: a generator that drops modes
    is caught. Its first convolution takes ``pack`` channels; everything else is unchanged. The
    output keeps one logit per image (each pack's logit repeated ``pack`` times), so a loss averaged
    over images equals PacGAN's average over packs, and a batch of real images followed by one of
    generated images can be judged in one call as long as each is a multiple of ``pack``.

    ``classes > 0`` makes it a projection discriminator (Miyato & Koyama, "cGANs with Projection
    Discriminator", ICLR 2018): ``forward(x, onehot)`` adds ``<embed(y), phi(x)>`` to the logit, so it
    judges whether an image is a real image *of its class*. The one-hot rows may be soft (a mix of
    classes gives the mix of their embeddings).
    """

    def __init__(self, width: float = 1.0, dropout: float = 0.4, pack: int = 1, classes: int = 0):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if not isinstance(pack, int) or pack < 1:
            raise ValueError(f"pack must be a positive integer, got {pack!r}")
        if not isinstance(classes, int) or classes < 0:
            raise ValueError(f"classes must be a non-negative integer, got {classes!r}")
        if classes and pack > 1:
            raise ValueError("a packing discriminator cannot be class-conditional")
        self.pack = pack
        self.classes = classes
        c = max(1, round(64 * width))
        drop = (lambda: ByteDropout(dropout)) if dropout > 0 else nn.Identity
        self.features = nn.Sequential(
            nn.Conv2d(pack, c, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            drop(),
            nn.Conv2d(c, c, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            drop(),
            nn.Flatten(),
        )
        self.head = nn.Linear(c * 7 * 7, 1)
        self.embed = nn.Linear(classes, c * 7 * 7, bias=False) if classes else None
        glorot_uniform_(self)

    def forward(self, x: torch.Tensor, onehot: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if onehot is None or onehot.shape != (x.shape[0], self.classes):
                raise ValueError(f"a class-conditional discriminator needs (N, {self.classes}) one-hot labels")
            h = self.features(x)
            return self.head(h) + (self.embed(onehot.to(h.dtype)) * h).sum(1, keepdim=True)
        if self.pack == 1:
            return self.head(self.features(x))
        n, ch, h, w = x.shape
        if n % self.pack:
            raise ValueError(f"a packing discriminator (pack={self.pack}) needs a batch that is a multiple "
                             f"of {self.pack}, got {n} images")
        logits = self.head(self.features(x.reshape(n // self.pack, self.pack * ch, h, w)))
        return logits.repeat_interleave(self.pack, dim=0)


@GANS.register("mnist-dcgan")
def mnist_dcgan(width: float = 1.0, disc_width: float = 1.0, output: str = "sigmoid", norm: str = "none",
                disc_dropout: float = 0.4, objective: str = "bce", prior: str = "normal",
                prior_components: int = 10, prior_sigma: float = 0.5, disc_pack: int = 1,
                conditional: bool = False) -> GanSpec:
    """Seed 000's MNIST DCGAN (28x28 grayscale); ``norm="batch"`` adds batch normalisation to the
    generator (a documented deviation that trains several times faster); ``disc_dropout`` is the
    discriminator's dropout rate (the seed's 0.4); ``objective`` the loss (the seed's ``bce``, or
    ``hinge``); ``prior="mixture"`` puts a learned Gaussian-mixture latent prior of
    ``prior_components`` components (DeLiGAN, :mod:`ganprint.gans.priors`) in front of the
    generator's first layer; ``disc_pack`` > 1 makes the discriminator judge packs of that many
    images (PacGAN, Lin et al. 2018), against mode dropping. ``conditional=True`` makes it a
    class-conditional GAN with ``prior_components`` classes: mixture component ``k`` of the prior is
    class ``k``, and the discriminator is a projection discriminator (trained on labelled images)."""
    if objective not in ("bce", "hinge"):
        raise ValueError(f"objective must be 'bce' or 'hinge', got {objective!r}")
    if conditional and prior != "mixture":
        raise ValueError("conditional=True needs prior='mixture' (one mixture component per class)")
    classes = prior_components if conditional else 0
    return GanSpec(
        name="mnist-dcgan",
        latent_dim=LATENT_DIM,
        image_shape=(1, 28, 28),
        generator=MnistGenerator(width=width, output=output, norm=norm, prior=prior,
                                 prior_components=prior_components, prior_sigma=prior_sigma),
        discriminator=MnistDiscriminator(width=disc_width, dropout=disc_dropout, pack=disc_pack,
                                         classes=classes),
        options={"width": width, "disc_width": disc_width, "output": output, "norm": norm,
                 "disc_dropout": disc_dropout, "objective": objective, "prior": prior,
                 "prior_components": prior_components, "prior_sigma": prior_sigma, "disc_pack": disc_pack,
                 "conditional": conditional},
        objective=objective,
        classes=classes,
    )
