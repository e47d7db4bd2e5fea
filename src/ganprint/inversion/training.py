"""Training the inverse model on (z, G(z)) pairs drawn from a trained generator (seed 000 §3.3)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ganprint.device import PRECISIONS, resolve_precision
from ganprint.gans.sampling import generation_batch
from ganprint.inversion.encoder import InverseModel


@dataclass(frozen=True)
class InverterTrainConfig:
    """How to fit the inverse model.

    ``n_pairs`` latents are drawn from N(0, I) (the generators' prior) with ``seed``; their images
    are rounded to 8 bits, as the image files a user checks are. ``n_holdout`` further pairs
    measure the cosine proximity. Adam with a cosine-decaying learning rate minimises the mean
    squared error between predicted and true latents (the seed trains for 100 epochs on 20,000
    pairs; fewer epochs reach its cosine here). ``warm_start`` starts from the encoder a GAN trained
    beside its networks (``GanTrainConfig.latent_regression``; ``GAN_DIR/encoder.safetensors``)
    where there is one, instead of from a fresh initialisation. ``precision`` ``"bf16"`` runs the
    training passes under bfloat16 autocast (``"auto"``: where the device computes it natively).
    """

    n_pairs: int = 20_000
    n_holdout: int = 1_000
    epochs: int = 15
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    warm_start: bool = True
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.n_pairs < 1 or self.n_holdout < 1:
            raise ValueError("n_pairs and n_holdout must be >= 1")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and lr > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def quantize(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats -> uint8, rounded as :func:`ganprint.gans.sampling.generate` does for PNG files."""
    return (images.float().clamp(0, 1) * 255 + 0.5).to(torch.uint8)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [0, 1]."""
    return images.float() / 255.0


@torch.no_grad()
def sample_pairs(G: nn.Module, n: int, latent_dim: int, *, seed: int,
                 batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` latents from N(0, I) (CPU generator seeded with ``seed``) and their generated images
    as uint8 (N, C, H, W) on the CPU, ``batch_size`` (default
    :func:`~ganprint.gans.sampling.generation_batch`) at a time. ``G`` must be in eval mode."""
    device = next(G.parameters()).device
    batch_size = batch_size or generation_batch(device)
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, latent_dim, generator=gen)
    images = [quantize(G(z[i:i + batch_size].to(device))).cpu() for i in range(0, n, batch_size)]
    return z, torch.cat(images)


def cosine_proximity(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Mean cosine similarity between rows of ``pred`` and ``true`` (the seed's 'cosine proximity')."""
    return float(F.cosine_similarity(pred.float(), true.float(), dim=1).mean())


@torch.no_grad()
def predict_latents(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Latent estimates for uint8 or [0, 1] float images (N, C, H, W), on the CPU."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        x = to_float(x) if x.dtype == torch.uint8 else x.float()
        out.append(model(x.to(device)).cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, getattr(model, "latent_dim", 0))


def fit_inverse_model(G: nn.Module, latent_dim: int, image_shape: tuple[int, int, int],
                      config: InverterTrainConfig, *, progress: bool = True,
                      init: dict[str, torch.Tensor] | None = None) -> tuple[InverseModel, dict[str, Any]]:
    """Train the seed's inverse model for generator ``G`` (on G's device), from the weights
    ``init`` when given (e.g. the encoder the GAN trained with), else from a fresh initialisation.

    Returns the model (eval mode) and a summary: ``holdout_cosine`` (cosine proximity on
    ``n_holdout`` unseen pairs), ``train_cosine`` and the per-epoch loss.
    """
    device = next(G.parameters()).device
    G.eval()
    z, images = sample_pairs(G, config.n_pairs + config.n_holdout, latent_dim, seed=config.seed)
    z_train, x_train = z[:config.n_pairs], images[:config.n_pairs]
    z_hold, x_hold = z[config.n_pairs:], images[config.n_pairs:]
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        model = InverseModel(image_shape, latent_dim)
        if init is not None:
            model.load_state_dict(init)
        model.to(device)
        bf16 = resolve_precision(config.precision, device) == "bf16"
        order_gen = torch.Generator().manual_seed(config.seed + 1)
        steps_per_epoch = math.ceil(config.n_pairs / config.batch_size)
        total = steps_per_epoch * config.epochs
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * t / total)))
        history = []
        model.train()
        bar = tqdm(total=total, desc="fit inverter", unit="step", disable=not progress, dynamic_ncols=True)
        for epoch in range(config.epochs):
            perm = torch.randperm(config.n_pairs, generator=order_gen)
            running = 0.0
            for i in range(0, config.n_pairs, config.batch_size):
                idx = perm[i:i + config.batch_size]
                x = to_float(x_train[idx]).to(device)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    pred = model(x)
                loss = F.mse_loss(pred.float(), z_train[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                running += loss.item() * len(idx)
                bar.update(1)
            history.append({"epoch": epoch + 1, "loss": running / config.n_pairs})
            bar.set_postfix(loss=f"{history[-1]['loss']:.4f}")
        bar.close()
    model.eval()
    summary = {
        "holdout_cosine": cosine_proximity(predict_latents(model, x_hold), z_hold),
        "train_cosine": cosine_proximity(predict_latents(model, x_train[:2000]), z_train[:2000]),
        "history": history,
    }
    return model, summary
