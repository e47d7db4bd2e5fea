"""Denoising diffusion: a small ``diffusers`` UNet trained to predict the noise, sampled with DDPM or DDIM.

The network is a :class:`diffusers.UNet2DModel` and the noise schedule a :class:`diffusers.DDPMScheduler`,
both built from keyword arguments (nothing is downloaded). One trained model gives two image sources:
DDPM ancestral sampling (Ho et al. 2020) and DDIM (Song et al. 2021), chosen by the ``sampler``
setting; the DDIM scheduler is built from the same schedule config as the DDPM one.

Images are ``[0, 1]`` floats outside and ``[-1, 1]`` inside the model. Every random draw (training
noise and timesteps, the initial sampling noise, the noise of each DDPM step) comes from the CPU
generator the caller passes: the schedulers' ``step(..., generator=)`` draw through
``diffusers.utils.torch_utils.randn_tensor``, which makes the tensor on the CPU when the generator is
a CPU one and then moves it to the model's device, so the images do not depend on the device's own
random state.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel

from ganprint.generative.registry import GENERATIVE, GenerativeModel

BETA_SCHEDULES = ("linear", "squaredcos_cap_v2")
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
SAMPLERS = ("ddpm", "ddim")
DDIM_DEFAULT_STEPS = 50


def _multiple_above(size: int, factor: int) -> int:
    return -(-size // factor) * factor


@GENERATIVE.register("ddpm-unet")
class DiffusionModel(GenerativeModel):
    """A denoising diffusion model: a small ``diffusers.UNet2DModel`` trained with the epsilon (or
    v / sample) prediction loss at uniformly drawn timesteps of a ``DDPMScheduler`` schedule.

    Options: ``channels`` (1 or 3), ``size`` (the square image side, e.g. 28 or 32),
    ``block_out_channels`` (one width per UNet level; each level but the last halves the resolution,
    so 28 runs at 28 -> 14 -> 7 with three levels; a side the levels do not divide is padded to the
    next multiple inside the model), ``layers_per_block``, ``norm_num_groups`` (must divide every
    width), ``attention`` (self-attention in the UNet's middle block, at the lowest resolution),
    ``dropout``, ``num_train_timesteps``, ``beta_schedule`` (``linear`` or ``squaredcos_cap_v2``),
    ``prediction_type`` (``epsilon``, ``v_prediction`` or ``sample``).

    Samplers: ``sampler="ddpm"`` (ancestral sampling; ``steps=None`` runs every training timestep,
    fewer steps run diffusers' respaced DDPM) or ``"ddim"`` (``steps=None`` -> 50, stochasticity
    ``eta``, 0 = deterministic given the initial noise; ``eta`` is ignored by DDPM).
    """

    family = "diffusion"
    samplers = {"sampler": "ddpm", "steps": None, "eta": 0.0}
    sampler_choices = SAMPLERS
    train_defaults = {"steps": 2000, "batch_size": 64, "lr": 1e-3, "warmup_steps": 100, "ema": 0.995,
                      "grad_clip": 1.0}
    """:class:`~ganprint.generative.config.GenerativeTrainConfig` settings that train the default
    28x28 model on 3,000 MNIST digits to the judge's 0.9 line (DDPM, 100 steps) in 2,000 steps
    (docs/lab/diffusion.md); a training front end lays the user's own settings on top."""

    def __init__(self, *, channels: int = 1, size: int = 28,
                 block_out_channels: tuple[int, ...] | list[int] = (16, 32, 32), layers_per_block: int = 1,
                 norm_num_groups: int = 8, attention: bool = True, dropout: float = 0.0,
                 num_train_timesteps: int = 1000, beta_schedule: str = "linear",
                 prediction_type: str = "epsilon") -> None:
        widths = [int(w) for w in block_out_channels]
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {channels}")
        if size < 4:
            raise ValueError(f"size must be >= 4, not {size}")
        if not widths:
            raise ValueError("block_out_channels needs at least one width")
        if any(w % norm_num_groups for w in widths):
            raise ValueError(f"norm_num_groups={norm_num_groups} must divide every width in {widths}")
        if beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"unknown beta_schedule {beta_schedule!r}; known: {', '.join(BETA_SCHEDULES)}")
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"unknown prediction_type {prediction_type!r}; known: {', '.join(PREDICTION_TYPES)}")
        if num_train_timesteps < 2:
            raise ValueError("num_train_timesteps must be >= 2")
        options = {"channels": int(channels), "size": int(size), "block_out_channels": widths,
                   "layers_per_block": int(layers_per_block), "norm_num_groups": int(norm_num_groups),
                   "attention": bool(attention), "dropout": float(dropout),
                   "num_train_timesteps": int(num_train_timesteps), "beta_schedule": beta_schedule,
                   "prediction_type": prediction_type}
        super().__init__((channels, size, size), options)
        self.inner_size = _multiple_above(size, 2 ** (len(widths) - 1))
        self.unet = UNet2DModel(
            sample_size=self.inner_size, in_channels=channels, out_channels=channels,
            block_out_channels=tuple(widths), layers_per_block=int(layers_per_block),
            down_block_types=("DownBlock2D",) * len(widths), up_block_types=("UpBlock2D",) * len(widths),
            norm_num_groups=int(norm_num_groups), add_attention=bool(attention),
            attention_head_dim=min(widths[-1], 8) if attention else None, dropout=float(dropout))
        self.schedule_config = dict(num_train_timesteps=int(num_train_timesteps), beta_schedule=beta_schedule,
                                    prediction_type=prediction_type, clip_sample=True, clip_sample_range=1.0)

    # -- the schedule -------------------------------------------------------------------------------------

    def ddpm_scheduler(self) -> DDPMScheduler:
        """A fresh DDPM scheduler of this model's schedule (schedulers hold per-sampling state)."""
        return DDPMScheduler(**self.schedule_config)

    def scheduler(self, sampler: str) -> DDPMScheduler | DDIMScheduler:
        """A fresh scheduler for ``sampler`` (``ddpm`` or ``ddim``), both from the same schedule config."""
        ddpm = self.ddpm_scheduler()
        if sampler == "ddpm":
            return ddpm
        if sampler == "ddim":
            return DDIMScheduler.from_config(ddpm.config)
        raise ValueError(f"unknown diffusion sampler {sampler!r}; known: {', '.join(SAMPLERS)}")

    # -- the network --------------------------------------------------------------------------------------

    def denoiser(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The UNet's prediction for noisy images ``x`` (``[-1, 1]`` scale) at timesteps ``t``."""
        pad = self.inner_size - self.image_shape[1]
        if pad:
            x = F.pad(x, (0, pad, 0, pad), mode="replicate")
        out = self.unet(x, t).sample
        return out[..., :self.image_shape[1], :self.image_shape[2]] if pad else out

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """MSE between the UNet's prediction and its target (the noise for ``epsilon``) at timesteps
        drawn uniformly from the training schedule."""
        sched = self.ddpm_scheduler()
        x0 = x * 2 - 1
        noise = torch.randn(x0.shape, generator=generator).to(x.device, x.dtype)
        t = torch.randint(0, sched.config.num_train_timesteps, (len(x0),), generator=generator).to(x.device)
        noisy = sched.add_noise(x0, noise, t)
        kind = sched.config.prediction_type
        target = noise if kind == "epsilon" else sched.get_velocity(x0, noise, t) if kind == "v_prediction" else x0
        return F.mse_loss(self.denoiser(noisy, t), target)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, **sampler: Any) -> torch.Tensor:
        """``n`` images in ``[0, 1]`` by the settings ``sampler`` (see the class docstring)."""
        s = self.sampler_settings(**sampler)
        sched = self.scheduler(s["sampler"])
        T = sched.config.num_train_timesteps
        steps = int(s["steps"]) if s["steps"] is not None else (T if s["sampler"] == "ddpm" else DDIM_DEFAULT_STEPS)
        if not 1 <= steps <= T:
            raise ValueError(f"steps must be in [1, {T}], not {steps}")
        sched.set_timesteps(steps)
        param = next(self.parameters())
        x = torch.randn((n, *self.image_shape), generator=generator).to(param.device, param.dtype)
        extra = {"eta": float(s["eta"])} if s["sampler"] == "ddim" else {}
        for t in sched.timesteps:
            pred = self.denoiser(x, t.to(param.device))
            x = sched.step(pred, t, x, generator=generator, **extra).prev_sample
        return ((x + 1) / 2).clamp(0, 1)
