"""Generative models beyond GANs: denoising diffusion, variational autoencoders and normalising flows.

They sit beside the GAN zoo (:mod:`ganprint.gans`): registered by name in :data:`GENERATIVE`, trained
on any folder of images by :class:`~ganprint.generative.trainer.GenerativeTrainer` (the same
``ganprint gan train`` command, also reachable as ``ganprint generator train``), checkpointed and
resumed, and sampled deterministically per (model, stream seed, image index) by
:mod:`ganprint.generative.sampling`, with the sampler (DDPM or DDIM for a diffusion model, the
temperature for a flow) as a setting, so one trained model gives several sources.

Submodules import torch (and diffusers for the diffusion family); this package's ``__init__`` does
not import them, so ``import ganprint.generative`` is cheap.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "GENERATIVE": "ganprint.generative.registry",
    "GenerativeModel": "ganprint.generative.registry",
    "create_generative": "ganprint.generative.registry",
    "generative_names": "ganprint.generative.registry",
    "GenerativeTrainConfig": "ganprint.generative.config",
    "GenerativeTrainer": "ganprint.generative.trainer",
    "load_generative": "ganprint.generative.sampling",
    "sample_generative_to_folder": "ganprint.generative.sampling",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ganprint.generative' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
