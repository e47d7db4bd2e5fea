"""The generative-model (diffusion, VAE, flow) branch of ``ganprint gan train`` / ``sample``.

``gan train --arch NAME`` trains a registered generative model when ``NAME`` is one (``gan list``
shows each architecture's family). The options a GAN has and these models lack (critic steps,
gradient penalty, augmentation, ...) are refused when given; the options both have take, unless
given, the model's measured ``train_defaults`` and else the generative config's own defaults
(:class:`~ganprint.generative.config.GenerativeTrainConfig`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ganprint.cli.common import fail

SHARED = {"epochs": "epochs", "steps": "steps", "batch_size": "batch_size", "lr": "lr", "beta1": "beta1",
          "beta2": "beta2", "seed": "seed", "checkpoint_every": "checkpoint_every", "ema": "ema",
          "lr_decay_start": "lr_decay_start"}
"""``gan train`` options that a generative model's training config also has (option -> field)."""

GAN_ONLY = ("n_critic", "gp_weight", "lr_d", "augment", "mode_seeking", "latent_regression", "precise_bn",
            "precision", "width")
"""``gan train`` options that only GANs have."""

SOURCE_SHAPES = {"mnist5k": (1, 28), "mnist": (1, 28), "photos": (3, 32), "cifar10": (3, 32)}
"""The image shape (channels, side) of each named real source."""


def given(ctx: click.Context, name: str) -> bool:
    """Whether option ``name`` was given on the command line (not its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def generative_config(ctx: click.Context, arch: str, arch_options: dict[str, Any], image_size: str | None,
                      source: str | None) -> Any:
    """The training config of generative model ``arch`` from ``gan train``'s options: the shared
    options where given, the config's defaults elsewhere; a GAN-only option given is an error. The
    model's channels and size follow a named real source (or ``--image-size``) unless
    ``--arch-option`` sets them."""
    from ganprint.generative.config import GenerativeTrainConfig
    from ganprint.generative.registry import create_generative

    refused = [f"--{n.replace('_', '-')}" for n in GAN_ONLY if given(ctx, n) and ctx.params.get(n) not in ((), False)]
    if refused:
        fail(f"{', '.join(refused)} only apply to GANs; {arch} is a generative model of another family")
    if arch_options.get("conditional"):
        fail(f"{arch} is not class-conditional")
    options = dict(arch_options)
    if source in SOURCE_SHAPES:
        options.setdefault("channels", SOURCE_SHAPES[source][0])
        options.setdefault("size", SOURCE_SHAPES[source][1])
    if image_size is not None:
        options.setdefault("size", int(image_size))
    try:
        model = create_generative(arch, **options)
        train = {**getattr(model, "train_defaults", {}),
                 **{field: ctx.params[opt] for opt, field in SHARED.items() if given(ctx, opt)}}
        if given(ctx, "epochs") and not given(ctx, "steps"):
            train["steps"] = None  # --epochs alone: train that many passes, not the model's default steps
        return GenerativeTrainConfig(arch=arch, arch_options=model.options, **train), model.image_shape
    except (KeyError, ValueError, TypeError) as exc:
        fail(str(exc))


def train_generative(config: Any, out_dir: Path, images: Any, data_info: dict[str, Any], device: Any,
                     quiet: bool) -> None:
    """Train (or resume) a generative model into ``out_dir`` and print the folder."""
    from ganprint.generative.trainer import GenerativeTrainer

    click.echo(f"training {config.arch} on {len(images)} images from {data_info.get('source')}", err=True)
    try:
        GenerativeTrainer(config, out_dir, device, data_info=data_info).fit(images, progress=not quiet)
    except ValueError as exc:
        fail(str(exc))
    click.echo(str(out_dir))


def sampler_settings(sampler: str | None, steps: int | None, temperature: float | None,
                     eta: float | None) -> dict[str, Any]:
    """``gan sample``'s sampler options that were given, by the models' setting names."""
    settings = {"sampler": sampler, "steps": steps, "temperature": temperature, "eta": eta}
    return {k: v for k, v in settings.items() if v is not None}
