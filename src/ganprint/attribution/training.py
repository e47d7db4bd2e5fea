"""A supervised training loop for image classifiers, with early stopping on validation loss."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

BatchTransform = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


INFERENCE_BATCH = 256
"""Default inference batch: on a 2-core CPU the seed CNN scores ~3,900 img/s at 256 against ~1,500
at 1,024 (activations of a 256-image batch stay in cache); measured by ``benchmarks/bench.py``."""


@dataclass(frozen=True)
class FitConfig:
    """Optimisation settings. ``patience`` epochs without a better validation loss stop training
    (the best weights are kept); ``None`` trains all epochs."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int | None = 3
    seed: int = 0
    hflip: bool = False
    schedule: str = "constant"  # or "cosine": learning rate annealed to 0 over ``epochs``

    def __post_init__(self) -> None:
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and lr > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_float_images(x: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [0, 1]."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


@torch.inference_mode()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = INFERENCE_BATCH,
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """Logits for uint8/float images (N, C, H, W), in eval mode, batched."""
    model.eval()
    out = []
    for start in range(0, len(x), batch_size):
        xb = as_float_images(x[start:start + batch_size].to(device))
        out.append(model(xb.contiguous(memory_format=torch.channels_last)).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, 0)


def fit_classifier(model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor,
                   x_val: torch.Tensor | None, y_val: torch.Tensor | None, config: FitConfig, *,
                   device: torch.device | str = "cpu", progress: bool = True, desc: str = "fit",
                   batch_transform: BatchTransform | None = None) -> dict[str, Any]:
    """Train ``model`` in place (Adam, cross-entropy). Returns the history.

    Images are uint8 (N, C, H, W) tensors kept on the CPU and moved per batch.
    ``batch_transform`` (e.g. augmentation) receives float batches in [0, 1].
    """
    device = torch.device(device)
    model.to(device)
    if device.type == "cpu":
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = -(-len(x_train) // config.batch_size)
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, epochs=config.epochs,
                                                 steps_per_epoch=steps_per_epoch, pct_start=0.15)
             if config.schedule == "cosine" else None)
    history: dict[str, Any] = {"train_loss": [], "val_loss": [], "val_accuracy": [], "epoch_seconds": []}
    best_loss, best_state, since_best = float("inf"), None, 0
    n = len(x_train)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        for epoch in range(config.epochs):
            t0 = time.perf_counter()
            model.train()
            perm = torch.randperm(n, generator=gen)
            total = 0.0
            bar = tqdm(range(0, n, config.batch_size), desc=f"{desc} epoch {epoch + 1}/{config.epochs}",
                       disable=not progress, leave=False, unit="batch", dynamic_ncols=True)
            for start in bar:
                idx = perm[start:start + config.batch_size]
                xb = as_float_images(x_train[idx])
                yb = y_train[idx]
                if config.hflip:
                    flip = torch.rand(len(xb), generator=gen) < 0.5
                    xb[flip] = xb[flip].flip(-1)
                if batch_transform is not None:
                    xb, yb = batch_transform(xb, yb, gen)
                xb = xb.to(device).contiguous(memory_format=torch.channels_last)
                loss = F.cross_entropy(model(xb), yb.to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                total += loss.item() * len(idx)
            history["train_loss"].append(total / max(n, 1))
            history["epoch_seconds"].append(time.perf_counter() - t0)
            if x_val is None or y_val is None or len(x_val) == 0:
                continue
            logits = predict_logits(model, x_val, device=device)
            val_loss = F.cross_entropy(logits, y_val).item()
            acc = (logits.argmax(1) == y_val).float().mean().item()
            history["val_loss"].append(val_loss)
            history["val_accuracy"].append(acc)
            if progress:
                tqdm.write(f"{desc} epoch {epoch + 1}: train loss {history['train_loss'][-1]:.4f} "
                           f"val loss {val_loss:.4f} val acc {acc:.4f}")
            if val_loss < best_loss - 1e-6:
                best_loss, since_best = val_loss, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                since_best += 1
                if config.patience is not None and since_best >= config.patience:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    history["epochs_run"] = len(history["train_loss"])
    history["best_val_loss"] = best_loss if best_state is not None else None
    model.eval()
    return history
