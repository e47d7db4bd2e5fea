"""Typed training configuration of a generative (non-GAN) model."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class GenerativeTrainConfig:
    """How to train one registered generative model (:mod:`ganprint.generative.registry`).

    Adam at ``lr`` (``beta1``, ``beta2``, ``weight_decay``) on batches of ``batch_size`` images, for
    ``steps`` steps (or ``epochs`` passes over the data when ``steps`` is None), with the rate warmed
    up linearly over ``warmup_steps`` and, from the fraction ``lr_decay_start`` of the steps on
    (None: never), decayed linearly to 0. ``grad_clip`` clips the gradients' global norm (None: no
    clipping). ``ema`` keeps an exponential moving average of the weights with this decay (ramped up
    as ``min(ema, (1 + t) / (10 + t))``); the average is the model that is saved and sampled, as
    DDPM does (Ho et al. 2020: decay 0.9999). ``checkpoint_every`` steps the full training state is
    written to ``OUT/checkpoint/``, from where an interrupted run resumes exactly.
    """

    arch: str = "ddpm-unet"
    arch_options: dict[str, Any] = field(default_factory=dict)
    steps: int | None = 2000
    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    warmup_steps: int = 0
    lr_decay_start: float | None = None
    grad_clip: float | None = 1.0
    ema: float | None = 0.999
    seed: int = 0
    checkpoint_every: int = 250

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.steps is not None and self.steps < 1:
            raise ValueError("steps must be >= 1")
        if self.steps is None and self.epochs < 1:
            raise ValueError("epochs must be >= 1")
        if self.lr <= 0:
            raise ValueError("lr must be > 0")
        if self.ema is not None and not 0 < self.ema < 1:
            raise ValueError("ema must be in (0, 1)")
        if self.lr_decay_start is not None and not 0 <= self.lr_decay_start < 1:
            raise ValueError("lr_decay_start must be in [0, 1)")
        if self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")

    def total_steps(self, n_images: int) -> int:
        if self.steps is not None:
            return self.steps
        return self.epochs * max(1, math.ceil(n_images / self.batch_size))

    def lr_factor(self, step: int, total: int) -> float:
        """The learning-rate multiplier at ``step`` (0-based) of ``total``."""
        factor = 1.0
        if self.warmup_steps and step < self.warmup_steps:
            factor = (step + 1) / self.warmup_steps
        if self.lr_decay_start is not None:
            start = int(self.lr_decay_start * total)
            if step >= start:
                factor *= max(0.0, 1.0 - (step - start) / max(1, total - start))
        return factor

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GenerativeTrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown generative training settings {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)
