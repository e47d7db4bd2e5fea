"""Scoring a colour GAN while it trains, by its two quality figures.

GAN training oscillates: the same run passes the quality figures at one check and fails them at
the next (a ``cifar-gan2`` on the photo crops went 0.16 -> 0.67 -> 0.17 in 250-step intervals). The
trainer's monitor (:meth:`ganprint.gans.trainer.GanTrainer.fit`) therefore scores the generator
every few hundred steps and keeps the snapshot that scores highest. Here a snapshot whose worse
figure is within ``pass_fraction`` of its threshold (:func:`ganprint.quality.figures.worst_ratio`
<= ``pass_fraction``) *passes* and scores its step, so the latest passing snapshot is kept (the
latest has had the most training, e.g. for the latent-regression encoder that is saved with it);
any other scores ``-worst_ratio`` (< 0), so when none passes the one closest to passing is kept.
With ``stop`` training ends at the first passing snapshot.

The monitor draws its own latent stream (:data:`MONITOR_STREAM`) and is meant to compare against
real images that the reported figure does not use, so that choosing a snapshot does not tune the
figure that is reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

MONITOR_STREAM = 4_000_037
"""Latent stream of the monitor's samples (no experiment split uses it)."""

SETTINGS = frozenset({"every_images", "from_images", "samples", "reference", "pass_fraction", "stop"})
"""Keys of an experiment profile's ``monitor``: score every ``every_images`` training images once
``from_images`` have been seen (default 0), on ``samples`` samples against ``reference`` real
images; ``pass_fraction`` and ``stop`` as in :class:`QualityStop`."""


def check_settings(settings: dict[str, Any]) -> None:
    """Refuse a profile's ``monitor`` mapping with keys outside :data:`SETTINGS`."""
    unknown = set(settings) - SETTINGS
    if unknown:
        raise ValueError(f"unknown monitor settings {sorted(unknown)}; known: {sorted(SETTINGS)}")


def profile_monitor(profile: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of an experiment profile's ``monitor`` mapping, checked (:func:`check_settings`), or
    None when the profile has none."""
    if not profile.get("monitor"):
        return None
    settings = dict(profile["monitor"])
    check_settings(settings)
    return settings


@dataclass(frozen=True)
class QualityStop:
    """How a colour GAN is scored while it trains: every ``every`` steps, ``samples`` images against
    the ``reference`` real images (uint8 NHWC) with the Fréchet network(s) saved in ``quality_model``
    (:func:`~ganprint.quality.frechet.load_quality_models`: with an ensemble, the median network's
    figure, as reported).
    Scoring starts at step ``start`` (the last step is always scored). A snapshot passes when both
    figures are at most ``pass_fraction`` of their thresholds (a margin for the figures' sampling
    noise); the latest passing snapshot is kept, and with ``stop`` training ends at the first one
    (module docstring)."""

    quality_model: str
    reference: np.ndarray
    every: int = 250
    start: int = 0
    samples: int = 500
    pass_fraction: float = 0.9
    stop: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.every < 1 or self.start < 0 or self.samples < 10:
            raise ValueError("every must be >= 1, start >= 0 and samples >= 10")
        if not 0 < self.pass_fraction <= 1:
            raise ValueError("pass_fraction must be in (0, 1]")

    @classmethod
    def from_settings(cls, settings: dict[str, Any], quality_model: str | Path, reference: np.ndarray, *,
                      batch_size: int, seed: int = 0) -> QualityStop:
        """From an experiment profile's ``monitor`` mapping (:data:`SETTINGS`): ``every_images`` and
        ``from_images`` are turned into steps of ``batch_size``; ``reference`` is drawn by the caller (``settings``'
        ``reference`` is its size)."""
        check_settings(settings)
        every = max(1, math.ceil(int(settings.get("every_images", 8000)) / batch_size))
        start = math.ceil(int(settings.get("from_images", 0)) / batch_size)
        return cls(str(quality_model), reference, every=every, start=start, samples=int(settings.get("samples", 500)),
                   pass_fraction=float(settings.get("pass_fraction", 0.9)), stop=bool(settings.get("stop", False)),
                   seed=seed)

    @property
    def stop_at(self) -> float | None:
        """The monitor score at which training stops (passing snapshots score their step >= 1)."""
        return 1.0 if self.stop else None

    def build(self, latent_dim: int, device: torch.device | str = "cpu") -> Callable[[nn.Module, int], float]:
        """The trainer's monitor (:class:`ganprint.gans.pool.Monitor`): :func:`quality_monitor`."""
        return quality_monitor(self, latent_dim, device)


def quality_stops(settings: dict[str, Any] | None, quality_model: str | Path, reference: Callable[[int], np.ndarray],
                  configs: dict[str, Any], *, seed: int = 0) -> dict[str, QualityStop | None]:
    """Each GAN's monitor from a profile's ``monitor`` mapping (None for each when there is none),
    all against one set of real crops: ``reference(n)`` is called once, only when there is a
    monitor. ``configs`` maps GAN name to its :class:`~ganprint.gans.config.GanTrainConfig`."""
    if not settings:
        return dict.fromkeys(configs)
    images = reference(int(settings.get("reference", 1000)))
    return {name: QualityStop.from_settings(settings, quality_model, images, batch_size=cfg.batch_size, seed=seed)
            for name, cfg in configs.items()}


def quality_monitor(stop: QualityStop, latent_dim: int,
                    device: torch.device | str = "cpu") -> Callable[[nn.Module, int], float]:
    """A trainer monitor: ``(generator, step) -> score`` (higher is kept): the step for a snapshot that
    passes (``QualityStop.pass_fraction``), else ``-worst_ratio`` of its samples. Deterministic and
    free of torch's global random stream (resumed runs decide the same)."""
    from ganprint.gans.sampling import chunk_latents, generate
    from ganprint.quality.figures import QualityFigures, worst_ratio
    from ganprint.quality.frechet import load_quality_models

    model = load_quality_models(Path(stop.quality_model), device=device)
    z = chunk_latents(MONITOR_STREAM, 0, latent_dim, stop.samples)
    figures = QualityFigures(model, stop.reference, stop.samples, seed=stop.seed)  # the reference side, once

    def score(G: nn.Module, step: int) -> float:
        q: dict[str, Any] = figures(generate(G, z.to(device)))
        ratio = worst_ratio(q)
        return float(step) if ratio <= stop.pass_fraction else -ratio

    return score
