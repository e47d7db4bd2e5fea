"""Typed training configuration for the GAN zoo."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GanTrainConfig:
    """How to train one GAN. Defaults are seed 000's (Adam 2e-4, batch 256, 200 epochs).

    ``steps`` overrides ``epochs`` when set (one epoch is ``ceil(N / batch_size)`` steps).
    ``beta1=0.5`` follows the Keras DCGAN the seed's architecture comes from.
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

    def total_steps(self, n_images: int) -> int:
        if self.steps is not None:
            return self.steps
        return self.epochs * math.ceil(n_images / self.batch_size)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GanTrainConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown GAN training options: {sorted(unknown)}")
        return cls(**d)
