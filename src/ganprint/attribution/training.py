"""A supervised training loop for image classifiers: Adam or seed 002's SGD recipe, early stopping on
validation loss, progress bars, and per-epoch checkpoints that resume exactly."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ganprint.attribution.augment import AUGMENTATIONS, augment_batch
from ganprint.checkpoint import load_optimizer, optimizer_tensors, prefixed, rng_tensor, unprefixed
from ganprint.device import PRECISIONS, resolve_precision
from ganprint.distributed import SINGLE, DistContext, shard_range
from ganprint.serialization import load_tensors, read_json, save_tensors, write_json

BatchTransform = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
InputTransform = Callable[[torch.Tensor], torch.Tensor]


INFERENCE_BATCH = 128
"""Default inference batch. On a 2-core CPU the seed CNN scores 5,650 img/s at 128, 4,360 at 256
and 3,170 at 1,024 (with the ensemble unknown-source score 4,530, 2,970 and 2,470), and PNG files
stream through ``predict`` at 2,660 img/s in chunks of 128 against 1,780 in chunks of 256: a small
batch's activations stay in cache (2026-12-04, AMD EPYC, ``benchmarks/batch_sizes.py``)."""

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "warmup-cosine")


def warmup_cosine_factor(step: int, total: int, warmup: int) -> float:
    """Learning-rate factor at optimiser ``step`` of ``total``: linear warm-up from ``1/warmup`` to 1
    over the first ``warmup`` steps, then a half cosine from 1 down to 0 at ``total`` (Loshchilov &
    Hutter 2017; Goyal et al. 2017's warm-up)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    t = min(1.0, (step - warmup) / span)
    return 0.5 * (1.0 + math.cos(math.pi * t))


@dataclass(frozen=True)
class FitConfig:
    """Optimisation settings. ``patience`` epochs without a better validation loss stop training
    (the best weights are kept); ``None`` trains all epochs. ``stop_accuracy`` (when set) ends
    training after the first epoch whose validation accuracy reaches it: ``1.0`` stops as soon as
    an epoch makes no validation error, where further epochs can only lower a loss already near 0.

    ``head_lr`` / ``head_weight_decay`` (when set) apply to the model's last layer (``model.head``)
    instead of ``lr`` / ``weight_decay``: seed 002 trains the body at lr 1e-3 and the last layer at
    5e-5. ``weight_decay`` is PyTorch's (the gradient gets ``weight_decay * w``).

    ``precision`` ``"bf16"`` runs the training forward passes under bfloat16 autocast (weights,
    gradients, optimiser state and losses stay float32; validation and inference stay float32);
    ``"auto"`` does so where the device computes bf16 natively (:func:`ganprint.device.has_fast_bf16`:
    a CPU with AVX512-BF16 or AMX, where a small CNN trains about twice as fast, or a GPU).

    ``augment`` ``"photometric"`` varies every training image's exposure, contrast, gamma and
    saturation (:mod:`ganprint.attribution.augment`), so that tone and colour stop telling the
    sources apart.
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int | None = 3
    seed: int = 0
    hflip: bool = False
    schedule: str = "constant"  # or "cosine": one-cycle over ``epochs``; or "warmup-cosine" (below)
    optimizer: str = "adam"     # or "adamw" (decoupled weight decay), or "sgd"
    momentum: float = 0.9       # SGD only
    head_lr: float | None = None
    head_weight_decay: float | None = None
    precision: str = "fp32"     # or "bf16", or "auto": bf16 autocast where it is native
    stop_accuracy: float | None = None
    augment: str = "none"       # or "photometric" (ganprint.attribution.augment), every class alike
    warmup_epochs: float = 1.0  # warmup-cosine only
    time_budget: float | None = None  # seconds for the whole loop, validation included

    def __post_init__(self) -> None:
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {self.augment!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 (or None: no early stopping), got {self.patience}")
        if self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        if self.time_budget is not None and not self.time_budget > 0:
            raise ValueError(f"time_budget must be > 0 seconds, got {self.time_budget}")
        if self.head_lr is not None and self.head_lr <= 0:
            raise ValueError("head_lr must be > 0")
        if self.stop_accuracy is not None and not 0.0 < self.stop_accuracy <= 1.0:
            raise ValueError(f"stop_accuracy must be in (0, 1], got {self.stop_accuracy!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FitConfig:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


RECIPES: dict[str, FitConfig] = {
    # ganprint's default: Adam, early stopping on validation loss
    "adam": FitConfig(),
    # seed 002 (Khan, "Detecting GAN generated images using CNNs"): SGD momentum 0.9; body lr 1e-3,
    # L2 1e-3; last layer lr 5e-5, L2 1e-5; random horizontal flips; early stopping on val loss
    "seed002": FitConfig(optimizer="sgd", momentum=0.9, lr=1e-3, weight_decay=1e-3, head_lr=5e-5,
                         head_weight_decay=1e-5, hflip=True, epochs=30, patience=5),
}
"""Named training recipes; :func:`recipe` builds a config from one."""


def recipe(name: str, settings: Mapping[str, Any] | None = None, *, arch: str | None = None,
           **overrides: Any) -> FitConfig:
    """The recipe ``name``; under ``adam``, a registered ``arch``'s measured settings
    (:func:`ganprint.models.default_fit_options`); then ``settings`` applied as given
    (``patience: None`` turns early stopping off); then the ``overrides`` that are not None (unset
    command-line options)."""
    from ganprint.models import MODELS, default_fit_options

    try:
        base = RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown training recipe {name!r}; known: {', '.join(sorted(RECIPES))}") from None
    measured = default_fit_options(arch) if name == "adam" and arch is not None and arch in MODELS else {}
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(base, **{**measured, **dict(settings or {}), **given})


def as_float_images(x: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [0, 1]."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def parameter_groups(model: nn.Module, config: FitConfig) -> list[dict[str, Any]]:
    """One group for the body and, when the config gives the last layer its own settings, one for
    ``model.head``."""
    head = getattr(model, "head", None)
    if (config.head_lr is None and config.head_weight_decay is None) or not isinstance(head, nn.Module):
        return [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": config.weight_decay}]
    head_ids = {id(p) for p in head.parameters()}
    body = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]
    last = [p for p in head.parameters() if p.requires_grad]
    return [
        {"params": body, "lr": config.lr, "weight_decay": config.weight_decay},
        {"params": last, "lr": config.head_lr if config.head_lr is not None else config.lr,
         "weight_decay": config.head_weight_decay if config.head_weight_decay is not None else config.weight_decay},
    ]


def make_optimizer(model: nn.Module, config: FitConfig) -> torch.optim.Optimizer:
    groups = parameter_groups(model, config)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    return torch.optim.Adam(groups, lr=config.lr)


@torch.inference_mode()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = INFERENCE_BATCH,
                   device: torch.device | str = "cpu", transform: InputTransform | None = None) -> torch.Tensor:
    """Logits for uint8/float images (N, C, H, W), in eval mode, batched. ``transform`` (the input
    representation, e.g. DCT) is applied to the float batch in [0, 1] before the model."""
    model.eval()
    out = []
    for start in range(0, len(x), batch_size):
        xb = as_float_images(x[start:start + batch_size].to(device))
        if transform is not None:
            xb = transform(xb)
        out.append(model(xb.contiguous(memory_format=torch.channels_last)).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, 0)


def channel_statistics(activations: torch.Tensor) -> torch.Tensor:
    """Per-channel spatial mean and standard deviation of a feature map (N, C, H, W) -> (N, 2C)."""
    a = activations.float()
    # two passes (mean, then the mean of the centred squares): exact, and in either memory format
    # global average pooling is about eight times faster than reductions over a permuted view
    mean = F.adaptive_avg_pool2d(a, 1)
    std = F.adaptive_avg_pool2d((a - mean).square_(), 1).sqrt_()
    return torch.cat([mean.flatten(1), std.flatten(1)], 1)


@torch.inference_mode()
def predict_views(model: nn.Module, x: torch.Tensor, batch_size: int = INFERENCE_BATCH,
                  device: torch.device | str = "cpu", transform: InputTransform | None = None,
                  stem: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """One inference pass returning ``logits``, the penultimate ``features`` (``forward_features``)
    and, when ``stem`` (a module of ``model``) is given, ``stem``: :func:`channel_statistics` of its
    output, the low-level view the unknown-source score uses."""
    model.eval()
    out: dict[str, list[torch.Tensor]] = {"features": [], "logits": [], "stem": []}
    captured: list[torch.Tensor] = []  # statistics taken in the hook, before any in-place activation

    def keep(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        captured.append(channel_statistics(output).cpu())

    hook = stem.register_forward_hook(keep) if stem is not None else None
    try:
        for start in range(0, len(x), batch_size):
            xb = as_float_images(x[start:start + batch_size].to(device))
            if transform is not None:
                xb = transform(xb)
            captured.clear()
            f = model.forward_features(xb.contiguous(memory_format=torch.channels_last))
            out["features"].append(f.float().cpu())
            out["logits"].append(model.forward_head(f).float().cpu())
            if captured:
                out["stem"].append(captured[0])
    finally:
        if hook is not None:
            hook.remove()
    return {k: torch.cat(v) if v else torch.zeros(0, 0) for k, v in out.items() if v or k != "stem"}


BN_REFRESH_IMAGES = 2048


@torch.no_grad()
def refresh_batchnorm(model: nn.Module, x: torch.Tensor, *, device: torch.device | str = "cpu",
                      transform: InputTransform | None = None, max_images: int = BN_REFRESH_IMAGES,
                      batch_size: int = INFERENCE_BATCH, seed: int = 0) -> None:
    """Recompute batch-norm running statistics as exact averages over (up to ``max_images``)
    training images under the current weights ("precise BN", Wu & Johnson 2021).

    Short trainings change the weights faster than the running averages follow, so the
    evaluation-mode network can disagree badly with the training-mode one; this removes the lag.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms or len(x) == 0:
        return
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:max_images]
    momenta = [m.momentum for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    with torch.random.fork_rng(devices=[]):  # dropout draws must not shift the training RNG
        for start in range(0, len(idx), batch_size):
            xb = as_float_images(x[idx[start:start + batch_size]].to(device))
            if transform is not None:
                xb = transform(xb)
            model(xb.contiguous(memory_format=torch.channels_last))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.train(was_training)


def fit_classifier(model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor,
                   x_val: torch.Tensor | None, y_val: torch.Tensor | None, config: FitConfig, *,
                   device: torch.device | str = "cpu", progress: bool = True, desc: str = "fit",
                   batch_transform: BatchTransform | None = None, transform: InputTransform | None = None,
                   checkpoint_dir: str | Path | None = None, loss_fn: Callable | None = None,
                   pause_after: int | None = None, dist: DistContext | None = None) -> dict[str, Any]:
    """Train ``model`` in place (cross-entropy unless ``loss_fn``). Returns the history.

    ``pause_after`` (needs ``checkpoint_dir``) returns once that many epochs have run, with
    ``history["paused"]`` True and the weights of the last epoch; the same call without it then
    resumes from the checkpoint and ends exactly as an uninterrupted run (a race between candidates
    pauses each after a few epochs and finishes only the winner).

    Images are uint8 (N, C, H, W) tensors kept on the CPU and moved per batch. ``batch_transform``
    (augmentation) receives float batches in [0, 1]; ``transform`` (the input representation) runs
    after it, on the device. With ``checkpoint_dir``, the full training state is written there after
    every epoch and an interrupted call with the same arguments resumes where it stopped, ending with
    the same weights as an uninterrupted run.

    ``dist`` (a context of several processes, :mod:`ganprint.distributed`; every process calls
    with the same arguments) trains with DistributedDataParallel on the recipe of one process:
    every process draws the same epoch order and prepares the same global batch of
    ``config.batch_size`` images (flips, augmentation), then computes on its share (rows
    ``rank::world_size``), so that the shares cover each epoch exactly once and the optimiser
    takes the same steps; the gradient is the global batch's mean. Validation images are split
    between the processes and their logits gathered; rank 0's figures and timings decide early
    stopping, the best weights and the time budget on every process. Only rank 0 writes the
    checkpoint, every process resumes from it (it holds no per-process state, so a run may resume
    with another number of processes).
    """
    if pause_after is not None and checkpoint_dir is None:
        raise ValueError("pause_after needs a checkpoint_dir to resume from")
    device = torch.device(device)
    ctx = dist or SINGLE
    progress = progress and ctx.is_main
    loss_fn = loss_fn or F.cross_entropy
    bf16 = resolve_precision(config.precision, device) == "bf16"
    model.to(device)
    if device.type == "cpu":
        model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, config)
    gen = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = -(-len(x_train) // config.batch_size)
    # epochs the schedule spans: all of them, or under a time budget what fits (set after epoch 1)
    horizon = [config.epochs]
    sched = _make_scheduler(opt, config, steps_per_epoch, horizon)
    history: dict[str, Any] = {"train_loss": [], "val_loss": [], "val_accuracy": [], "epoch_seconds": []}
    best_loss, best_state, since_best, start_epoch = float("inf"), None, 0, 0
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if ckpt is not None and ctx.agree((ckpt / "state.json").is_file(), f"a checkpoint in {ckpt}"):
            state = read_json(ckpt / "state.json")
            if FitConfig.from_dict(state.get("config") or {}) != config:  # fields added later: defaults
                raise ValueError(f"{ckpt} holds a checkpoint of a different training config; remove it to restart")
            tensors = load_tensors(ckpt / "state.safetensors")
            model.load_state_dict(unprefixed("model", tensors))
            load_optimizer("opt", opt, {k: v.to(device) for k, v in tensors.items() if k.startswith("opt.")})
            if sched is not None:
                sched.last_epoch = state["scheduler_last_epoch"]
                sched._step_count = state["scheduler_last_epoch"] + 1
                for group, lr in zip(opt.param_groups, state["lrs"], strict=True):
                    group["lr"] = lr
            gen.set_state(tensors["rng.data"])
            torch.set_rng_state(tensors["rng.torch"])
            best = unprefixed("best", tensors)
            best_state = best or None
            history, best_loss, since_best = state["history"], state["best_loss"], state["since_best"]
            horizon[0] = int(state.get("horizon", config.epochs))
            start_epoch = len(history["train_loss"])
            if state.get("stopped"):
                start_epoch = config.epochs
        net = _data_parallel(model, device) if ctx.distributed else model
        for epoch in range(start_epoch, config.epochs):
            if epoch >= horizon[0]:
                break  # the schedule has reached its end: what fits in the time budget is done
            spent = sum(history["epoch_seconds"])
            if (config.time_budget is not None and history["epoch_seconds"]
                    and spent + history["epoch_seconds"][-1] > config.time_budget):
                history["stopped_by"] = "time budget"
                break
            t0 = time.perf_counter()
            model.train()
            n = len(x_train)
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
                if config.augment != "none":
                    xb = augment_batch(config.augment, xb, gen)
                if batch_transform is not None:
                    xb, yb = batch_transform(xb, yb, gen)
                count, weight = len(idx), 1.0
                if ctx.distributed:
                    xb, yb, count, weight = _share_of_batch(xb, yb, ctx)
                xb = xb.to(device)
                if transform is not None:
                    xb = transform(xb)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    out = net(xb.contiguous(memory_format=torch.channels_last))
                loss = loss_fn(out.float(), yb.to(device))
                opt.zero_grad(set_to_none=True)
                (loss * weight if ctx.distributed else loss).backward()
                opt.step()
                if sched is not None:
                    sched.step()
                total += loss.item() * count
            if ctx.distributed:
                total = ctx.all_reduce_sum(torch.tensor([total], dtype=torch.float64)).item()
            history["train_loss"].append(total / max(n, 1))
            refresh_batchnorm(model, x_train, device=device, transform=transform, seed=config.seed)
            ctx.broadcast_module(model, buffers_only=True)  # identical statistics on every process
            stop = False
            if x_val is not None and y_val is not None and len(x_val):
                logits = _validation_logits(model, x_val, device, transform, ctx)
                val_loss = loss_fn(logits, y_val).item()
                acc = ((logits.argmax(1) if logits.shape[1] > 1 else (logits[:, 0] > 0).long())
                       == y_val.long().view(-1)).float().mean().item()
                if ctx.distributed:  # rank 0's figures make every process's decisions
                    val_loss, acc = ctx.broadcast_floats(val_loss, acc)
                history["val_loss"].append(val_loss)
                history["val_accuracy"].append(acc)
                if val_loss < best_loss - 1e-6:
                    best_loss, since_best = val_loss, 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    since_best += 1
                    stop = config.patience is not None and since_best >= config.patience
                stop = stop or (config.stop_accuracy is not None and acc >= config.stop_accuracy)
                if stop:
                    history["stopped_by"] = "early stopping" if since_best else "validation accuracy"
            seconds = time.perf_counter() - t0
            history["epoch_seconds"].append(ctx.broadcast_floats(seconds)[0] if ctx.distributed else seconds)
            if config.time_budget is not None and len(history["epoch_seconds"]) == 1:
                horizon[0] = max(1, min(config.epochs, int(config.time_budget // history["epoch_seconds"][0])))
            if progress:
                tqdm.write(_epoch_line(desc, epoch, horizon[0], history, config.time_budget))
            if ckpt is not None:
                if ctx.is_main:
                    _save_checkpoint(ckpt, model, opt, sched, gen, best_state, config, history, best_loss,
                                     since_best, stop, horizon[0])
                ctx.barrier()  # nobody reads the checkpoint before rank 0 has written it
            if stop:
                break
            if pause_after is not None and epoch + 1 >= pause_after and epoch + 1 < min(config.epochs, horizon[0]):
                history["epochs_run"] = len(history["train_loss"])
                history["paused"] = True
                model.eval()
                return history
    if best_state is not None:
        model.load_state_dict(best_state)
    history["epochs_run"] = len(history["train_loss"])
    if ctx.distributed:
        history["processes"] = ctx.world_size
    history["best_val_loss"] = best_loss if best_state is not None else None
    model.eval()
    return history


def _data_parallel(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` wrapped in DistributedDataParallel (which copies rank 0's weights to every process)."""
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def _share_of_batch(xb: torch.Tensor, yb: torch.Tensor,
                    ctx: DistContext) -> tuple[torch.Tensor, torch.Tensor, int, float]:
    """This process's rows of a global batch (``rank::world_size``), how many they are, and the
    factor that makes DistributedDataParallel's mean of the processes' mean losses the global
    batch's mean loss when the shares differ in size. A process left without rows (a last batch
    smaller than the number of processes) computes one row with weight 0, so that every process
    still takes part in the gradient's all-reduce."""
    rows = torch.arange(ctx.rank, len(xb), ctx.world_size)
    count = len(rows)
    if count == 0:
        return xb[:1], yb[:1], 0, 0.0
    return xb[rows], yb[rows], count, count * ctx.world_size / len(xb)


def _validation_logits(model: nn.Module, x_val: torch.Tensor, device: torch.device,
                       transform: InputTransform | None, ctx: DistContext) -> torch.Tensor:
    """Logits of every validation image, in order: each process scores its contiguous share and
    the shares are gathered (one process: all of them here)."""
    if not ctx.distributed:
        return predict_logits(model, x_val, device=device, transform=transform)
    start, stop = shard_range(len(x_val), ctx.rank, ctx.world_size)
    if stop > start:
        mine = predict_logits(model, x_val[start:stop], device=device, transform=transform)
    else:  # no share: the right width, no rows
        mine = predict_logits(model, x_val[:1], device=device, transform=transform)[:0]
    return ctx.all_gather_rows(mine, len(x_val))


def _make_scheduler(opt: torch.optim.Optimizer, config: FitConfig, steps_per_epoch: int,
                    horizon: list[int]) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The per-step scheduler of ``config.schedule`` (None for constant). ``warmup-cosine`` reads
    ``horizon[0]`` (epochs) at every step, so a time budget can shorten it after the first epoch."""
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in opt.param_groups],
                                                   epochs=config.epochs, steps_per_epoch=steps_per_epoch,
                                                   pct_start=0.15)
    if config.schedule == "warmup-cosine":
        warmup = round(config.warmup_epochs * steps_per_epoch)
        return torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: warmup_cosine_factor(step, horizon[0] * steps_per_epoch, warmup))
    return None


def _epoch_line(desc: str, epoch: int, horizon: int, history: dict[str, Any], budget: float | None) -> str:
    """One progress line per epoch: losses, validation accuracy and what is left of the time budget."""
    line = f"{desc} epoch {epoch + 1}/{horizon}: train loss {history['train_loss'][-1]:.4f}"
    if len(history["val_loss"]) == len(history["train_loss"]):
        line += f" | val loss {history['val_loss'][-1]:.4f} acc {history['val_accuracy'][-1]:.4f}"
    line += f" | {history['epoch_seconds'][-1]:.1f}s"
    if budget is not None:
        left = max(0.0, budget - sum(history["epoch_seconds"]))
        line += f", {format_seconds(left)} of the time budget left"
    return line


def format_seconds(seconds: float) -> str:
    """``75.2`` -> ``1m15s``; ``3700`` -> ``1h01m``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _save_checkpoint(ckpt: Path, model: nn.Module, opt: torch.optim.Optimizer, sched, gen: torch.Generator,
                     best_state: dict[str, torch.Tensor] | None, config: FitConfig, history: dict[str, Any],
                     best_loss: float, since_best: int, stopped: bool, horizon: int) -> None:
    ckpt.mkdir(parents=True, exist_ok=True)
    tensors = {**prefixed("model", model), **optimizer_tensors("opt", opt),
               "rng.data": rng_tensor(gen.get_state()), "rng.torch": rng_tensor(torch.get_rng_state())}
    if best_state is not None:
        tensors.update(prefixed("best", copy.copy(best_state)))
    save_tensors(ckpt / "state.safetensors", tensors)
    write_json(ckpt / "state.json", {
        "config": config.to_dict(), "history": history, "best_loss": best_loss, "since_best": since_best,
        "stopped": stopped, "horizon": horizon,
        "scheduler_last_epoch": sched.last_epoch if sched is not None else 0,
        "lrs": [g["lr"] for g in opt.param_groups]})
