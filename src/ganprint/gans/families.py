"""The four GAN families of Yu, Davis & Fritz (ICCV 2019) and their quick-profile training settings.

:data:`QUICK_TRAIN` gives, per family, :class:`~ganprint.gans.config.GanTrainConfig` keyword
arguments that train it on about 5,000 32x32 photo crops in a few minutes on a 2-core CPU (see
``docs/lab/gan-families.md`` for the measured times and samples). Experiments copy them::

    GanTrainConfig(seed=s, **quick_train_kwargs("progan"))
"""

from __future__ import annotations

import copy
from typing import Any

FAMILIES = ("progan", "sngan", "cramergan", "mmdgan")
"""The four families of seed 004, by their registered names."""

QUICK_TRAIN: dict[str, dict[str, Any]] = {
    # ProGAN's own Adam settings (lr 1e-3, beta1 0, beta2 0.99), minibatch 16 and a generator EMA;
    # half the steps grow 4 -> 32, the other half train at 32x32. The critic learns at 4x the
    # generator's rate: with equalised learning rate Adam moves weights by ~lr relative to their
    # size, too slowly for a critic that has only ~100 steps per phase (the paper: 600k images).
    # 4,800 steps: the first family to pass both quality figures (Fréchet 0.15, SWD 0.19 against
    # 0.51 and 0.40 at 1,200; 143 s on two threads, docs/lab/gan-families.md).
    "progan": {"arch_options": {"width": 0.0625}, "steps": 4800, "batch_size": 16, "lr": 1e-3, "lr_d": 4e-3,
               "beta1": 0.0, "beta2": 0.99, "ema": 0.99},
    # SNGAN's standard-CNN CIFAR setting (Adam beta1 0.5, beta2 0.999) with two critic steps per
    # generator step (the paper's settings use one or five), the critic at 4x the generator's rate
    # (TTUR, Heusel et al. 2017), the transposed convolutions started as resize-convolutions, a
    # generator EMA with exact batch-norm statistics, and the rates decaying to 0 over the second
    # half. 6,000 steps: Fréchet 0.187 / 0.152 (median of five feature networks), SWD 0.241 / 0.211
    # for training seeds 0 / 1 with the training monitor; one critic step at 5,000 steps scored
    # 0.53 (docs/lab/gan-families.md).
    "sngan": {"arch_options": {"width": 0.125, "resize_init": True}, "steps": 6000, "batch_size": 32, "lr": 2e-4,
              "lr_d": 8e-4, "n_critic": 2, "beta1": 0.5, "beta2": 0.999, "ema": 0.999, "precise_bn": True,
              "lr_decay_start": 0.5, "precision": "auto"},
    # WGAN-GP-style Adam (beta1 0.5, beta2 0.9), one critic step per generator step, 4,800 steps;
    # with SNGAN's additions (critic at 4x, resize-convolution start, EMA with exact batch-norm
    # statistics, rates decaying over the second half): Fréchet 0.169 (median of five feature
    # networks), SWD 0.192 with the training monitor; 0.222 / 0.192 at 3,200 steps, and 0.53 / 0.32
    # at 3,200 without the additions (one network).
    "cramergan": {"arch_options": {"width": 0.125, "resize_init": True}, "steps": 4800, "batch_size": 32,
                  "lr": 2e-4, "lr_d": 8e-4, "beta1": 0.5, "beta2": 0.9, "ema": 0.999, "precise_bn": True,
                  "lr_decay_start": 0.5, "precision": "auto"},
    # MMD GAN needs a stronger critic than one step at the generator's rate: three critic steps per
    # generator step (the paper: five) at 8x its rate (1.6e-3), with SNGAN's other additions:
    # Fréchet 0.103, SWD 0.226 (passes both) after 3,000 steps in 373 s on one thread; one critic
    # step at 1,000 steps 2.78 / 0.74 (docs/lab/gan-families.md).
    "mmdgan": {"arch_options": {"width": 0.125, "resize_init": True}, "steps": 3000, "batch_size": 32, "lr": 2e-4,
               "lr_d": 1.6e-3, "n_critic": 3, "beta1": 0.5, "beta2": 0.9, "ema": 0.999, "precise_bn": True,
               "lr_decay_start": 0.5, "precision": "auto"},
}
"""Quick-profile :class:`GanTrainConfig` keyword arguments per family (without ``arch`` and ``seed``)."""


def quick_train_kwargs(family: str) -> dict[str, Any]:
    """A fresh copy of ``QUICK_TRAIN[family]`` with ``arch`` set (safe to modify)."""
    if family not in QUICK_TRAIN:
        raise KeyError(f"no quick settings for {family!r}; known: {', '.join(QUICK_TRAIN)}")
    return {"arch": family, **copy.deepcopy(QUICK_TRAIN[family])}
