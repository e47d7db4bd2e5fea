"""Typed training configuration for the GAN zoo."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ganprint.device import PRECISIONS
from ganprint.gans.augment import AUGMENTS


@dataclass(frozen=True)
class GanTrainConfig:
    """How to train one GAN. Defaults are seed 000's (Adam 2e-4, batch 256, 200 epochs).

    ``steps`` overrides ``epochs`` when set (one epoch is ``ceil(N / batch_size)`` steps).
    ``beta1=0.5`` follows the Keras DCGAN the seed's architecture comes from. ``lr_d`` is the
    discriminator's learning rate (default: ``lr``). ``augment`` names DiffAugment policies
    (:mod:`ganprint.gans.augment`) applied to every image the discriminator sees; empty (the
    seed's setting) means none. ``ema`` keeps an exponential moving average of the generator's
    weights with this decay (ramped up as ``min(ema, (1 + t) / (10 + t))`` at step ``t``); the
    average is the generator that is evaluated and saved (Karras et al. 2018; Yazici et al. 2019).
    ``snapshot_every`` (steps) also saves that generator every so many steps to
    ``GAN_DIR/snapshots/step_NNNNNNN.safetensors`` (for studies of attribution against GAN epochs).
    ``n_critic`` is the number of critic (discriminator) updates per generator update, each on a
    fresh real batch (a step is one generator update); ``gp_weight`` the gradient-penalty weight of
    the family's objective (default: the objective's own, e.g. 10 for WGAN-GP, 1 for MMD-GP; for
    BCE it is the R1 penalty's gamma, default 0).
    ``precision`` is the arithmetic of the training passes: ``fp32``, ``bf16`` (autocast: the
    convolutions and matrix products in bfloat16, the weights, optimiser and losses in fp32), or
    ``auto`` (bf16 where the device computes it natively, see :func:`ganprint.device.has_fast_bf16`).
    ``mode_seeking`` is the weight of MSGAN's mode-seeking term in the generator's loss (Mao et al.
    2019, :func:`ganprint.gans.regularizers.mode_seeking_penalty`), against mode collapse; 0 (the
    seed's setting) means none.
    ``latent_regression`` is the weight of a latent-reconstruction term in the generator's loss
    (InfoGAN's mutual-information term with every latent as a continuous code; Chen et al. 2016):
    the seed's inverse model (:class:`ganprint.inversion.encoder.InverseModel`) trains beside the
    networks on each step's (z, G(z)) pairs with Adam at ``encoder_lr``, and the generator is
    penalised by ``latent_regression * mean((E(G(z)) - z)^2)``, so that every latent direction stays
    readable from the image (verification by inversion, seed 000 §3.3). The encoder is saved as
    ``GAN_DIR/encoder.safetensors``, where ``ganprint gan fit-inverter`` starts from it. 0 (the
    seed's setting) means none.
    ``lr_decay_start`` (a fraction of the steps, when set) decays the generator's and the
    discriminator's learning rates linearly from their value at that point to 0 at the last step (as
    pix2pix and CycleGAN do), so that a run ends in a settled state instead of wherever its
    oscillation happens to be; the latent-regression encoder keeps its rate.
    ``precise_bn`` recomputes the batch-norm statistics of the generator that is scored and saved
    as exact averages over a fixed latent stream before every score and before saving
    (:func:`ganprint.gans.batch_norm.recalibrate_batch_norm`); off, it keeps the running averages
    of the last training batches, as Keras does.
    """

    arch: str = "mnist-dcgan"
    arch_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 200
    steps: int | None = None
    batch_size: int = 256
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    checkpoint_every: int = 250
    lr_d: float | None = None
    augment: tuple[str, ...] = ()
    ema: float | None = None
    snapshot_every: int | None = None
    n_critic: int = 1
    gp_weight: float | None = None
    precision: str = "fp32"
    mode_seeking: float = 0.0
    latent_regression: float = 0.0
    encoder_lr: float = 1e-3
    precise_bn: bool = False
    lr_decay_start: float | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.epochs < 1 and self.steps is None:
            raise ValueError("epochs must be >= 1")
        if self.steps is not None and self.steps < 1:
            raise ValueError("steps must be >= 1")
        if self.lr <= 0:
            raise ValueError("lr must be > 0")
        if self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")
        if self.snapshot_every is not None and self.snapshot_every < 1:
            raise ValueError("snapshot_every must be >= 1")
        if self.n_critic < 1:
            raise ValueError("n_critic must be >= 1")
        if self.gp_weight is not None and self.gp_weight < 0:
            raise ValueError("gp_weight must be >= 0")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.mode_seeking < 0:
            raise ValueError("mode_seeking must be >= 0")
        if self.latent_regression < 0:
            raise ValueError("latent_regression must be >= 0")
        if self.encoder_lr <= 0:
            raise ValueError("encoder_lr must be > 0")
        if self.lr_decay_start is not None and not 0.0 <= self.lr_decay_start < 1.0:
            raise ValueError("lr_decay_start must be in [0, 1)")
        if self.lr_d is not None and self.lr_d <= 0:
            raise ValueError("lr_d must be > 0")
        if self.ema is not None and not 0.0 < self.ema < 1.0:
            raise ValueError("ema must be in (0, 1)")
        if isinstance(self.augment, str):
            raise ValueError("augment must be a list of policy names, not a string")
        object.__setattr__(self, "augment", tuple(self.augment))
        for name in self.augment:
            AUGMENTS.get(name)  # raises UnknownNameError listing the known policies

    @property
    def discriminator_lr(self) -> float:
        return self.lr if self.lr_d is None else self.lr_d

    def lr_factor(self, step: int, total: int) -> float:
        """The learning-rate multiplier of step ``step`` (0-based) of ``total`` (``lr_decay_start``)."""
        if self.lr_decay_start is None:
            return 1.0
        start = self.lr_decay_start * total
        return 1.0 if step < start else max(0.0, (total - step) / max(total - start, 1.0))

    def total_steps(self, n_images: int) -> int:
        if self.steps is not None:
            return self.steps
        return self.epochs * math.ceil(n_images / self.batch_size)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``from_dict(to_dict())`` gives an equal config)."""
        d = asdict(self)
        d["augment"] = list(self.augment)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GanTrainConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown GAN training options: {sorted(unknown)}")
        return cls(**d)


def split_arch_options(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split flat GAN settings (as in an experiment profile) into :class:`GanTrainConfig` fields
    and architecture options (every other key, e.g. ``width`` or ``norm``)."""
    fields = set(GanTrainConfig.__dataclass_fields__)
    train = {k: v for k, v in settings.items() if k in fields}
    arch = {k: v for k, v in settings.items() if k not in fields}
    return train, arch
