"""Adversarial training with periodic checkpoints and exact resume.

A GAN folder (``GAN_DIR``) holds, once training has finished::

    config.json                 architecture, options, training config, data summary, status
    generator.safetensors       generator weights
    discriminator.safetensors   discriminator weights
    encoder.safetensors         the latent-regression encoder, when trained with one

and while training is under way ``checkpoint/`` with everything needed to continue bit for bit:
both networks, both Adam states, the step counter and the three random streams (data order,
latent noise, dropout). A killed run started again with the same arguments resumes from the last
checkpoint and ends with the same weights as an uninterrupted run (on the same device and
thread count).

The losses come from the family's objective (:mod:`ganprint.gans.objectives`: BCE, WGAN-GP, hinge,
Cramér, MMD); a step is one generator update after ``n_critic`` critic updates. Families that grow
(ProGAN) get their stage from the step counter through ``set_progress(step, total)``.

In several processes (a :class:`~ganprint.distributed.DistContext`, e.g. under ``torchrun``) every
process draws the same global batch of real images and latents and computes on its share (rows
``rank::world_size``); the gradients of G, D (and the encoder) are averaged over the processes
before each optimiser step, as DistributedDataParallel does. The averaging is done here rather
than by DDP's reducer because a GAN step is outside what the reducer follows: the critic is called
several times before one backward pass, it is frozen during the generator's step, and gradient
penalties differentiate through gradients. All random streams stay the same on every process, so
a checkpoint holds no per-process state; rank 0 alone writes snapshots, checkpoints and the GAN
folder, and runs the quality monitor, whose stop decision it sends to the others.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ganprint.checkpoint import load_optimizer, optimizer_tensors, prefixed, rng_tensor, unprefixed
from ganprint.device import resolve_precision
from ganprint.distributed import SINGLE, DistContext
from ganprint.gans.augment import diff_augment
from ganprint.gans.batch_norm import recalibrate_batch_norm
from ganprint.gans.config import GanTrainConfig
from ganprint.gans.objectives import create_objective
from ganprint.gans.registry import GanSpec, create_gan
from ganprint.gans.regularizers import mode_seeking_penalty
from ganprint.serialization import load_tensors, read_json, save_tensors, write_json

CHECKPOINT_DIR = "checkpoint"
PRECISE_BN_STREAM = 5_000_011  # latent stream of the batch-norm recalibration, offset by the training seed
ENCODER_FILE = "encoder.safetensors"
"""The latent-regression encoder a GAN trained with (``GanTrainConfig.latent_regression``) leaves in its folder."""
SNAPSHOT_DIR = "snapshots"


def snapshot_path(gan_dir: str | Path, step: int) -> Path:
    """Where the generator snapshot of ``step`` is saved (``GanTrainConfig.snapshot_every``)."""
    return Path(gan_dir) / SNAPSHOT_DIR / f"step_{step:07d}.safetensors"


def list_snapshots(gan_dir: str | Path) -> dict[int, Path]:
    """The generator snapshots a GAN folder holds, by training step."""
    folder = Path(gan_dir) / SNAPSHOT_DIR
    if not folder.is_dir():
        return {}
    return {int(p.stem.removeprefix("step_")): p for p in sorted(folder.glob("step_*.safetensors"))}


def to_unit_tensor(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W), (N, H, W, C) or (N, C, H, W) / float in [0, 1] -> float (N, C, H, W) in [0, 1]."""
    x = torch.as_tensor(images)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    return x.float().contiguous()


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema <- decay * ema + (1 - decay) * model`` for parameters; buffers (BN statistics) copied."""
    for pe, p in zip(ema.parameters(), model.parameters(), strict=True):
        pe.lerp_(p, 1.0 - decay)
    for be, b in zip(ema.buffers(), model.buffers(), strict=True):
        be.copy_(b)


def _onehot_labels(labels: np.ndarray | torch.Tensor | None, n: int, classes: int,
                   arch: str) -> torch.Tensor | None:
    """The (n, classes) one-hot training labels of a conditional GAN; None for an unconditional one."""
    if classes == 0:
        if labels is not None:
            raise ValueError(f"{arch} with these options is not class-conditional; it takes no labels")
        return None
    if labels is None:
        raise ValueError(f"{arch} is class-conditional ({classes} classes): training needs labels")
    y = torch.as_tensor(np.asarray(labels)).long().reshape(-1)
    if len(y) != n:
        raise ValueError(f"{len(y)} labels for {n} images")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise ValueError(f"labels must be class indices in [0, {classes}), got [{int(y.min())}, {int(y.max())}]")
    return F.one_hot(y, classes).float()


def _with_label_channels(images: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """``images`` (N, C, H, W) with the (N, K) one-hot labels appended as K constant channels."""
    n, _, h, w = images.shape
    planes = onehot.to(images.dtype)[:, :, None, None].expand(n, -1, h, w)
    return torch.cat([images, planes], 1)


def latent_regression_loss(E: nn.Module, images: torch.Tensor, z: torch.Tensor,
                           autocast: Callable[[], Any]) -> torch.Tensor:
    """``mean((E(images) - z)^2)`` in fp32 (the encoder's pass under the trainer's autocast)."""
    with autocast():
        pred = E(images)
    return F.mse_loss(pred.float(), z.float())


class _StateHolder:
    """Adapts a plain state dict to ``prefixed`` (which calls ``.state_dict()``)."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        self._state = state

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self._state


class _Monitor:
    """Scores the generator periodically, remembers the best snapshot, decides when to stop.

    A ``companion`` (the latent-regression encoder) is snapshotted with the best generator, so that
    the two saved together belong together."""

    def __init__(self, fn: Callable[[nn.Module, int], float] | None, every: int, stop_at: float | None,
                 companion: nn.Module | None = None, start: int = 0) -> None:
        self.fn = fn
        self.every = every
        self.start = start
        self.stop_at = stop_at
        self.companion = companion
        self.history: list[tuple[int, float]] = []
        self.best: tuple[int, float] | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_companion: dict[str, torch.Tensor] | None = None

    @property
    def active(self) -> bool:
        return self.fn is not None

    def due(self, step: int, total: int) -> bool:
        """Whether ``step`` is scored: every ``every`` steps from ``start`` on, and the last step."""
        return self.active and (step == total or (step >= self.start and step % self.every == 0))

    def check(self, G: nn.Module, step: int) -> bool:
        """Score ``G`` at ``step``; keep it if it is the best so far; True when training should stop."""
        assert self.fn is not None
        if self.history and self.history[-1][0] == step:  # already scored (a resumed final step)
            score = self.history[-1][1]
        else:
            was_training = G.training
            G.eval()
            with torch.no_grad():
                score = float(self.fn(G, step))
            G.train(was_training)
            self.history.append((step, score))
        if self.best is None or score >= self.best[1]:
            self.best = (step, score)
            self.best_state = _clone_state(G)
            if self.companion is not None:
                self.best_companion = _clone_state(self.companion)
        return self.stop_at is not None and score >= self.stop_at

    def restore(self, history: list[tuple[int, float]], best_state: dict[str, torch.Tensor] | None,
                best_companion: dict[str, torch.Tensor] | None = None) -> None:
        self.history = [(int(s), float(q)) for s, q in history]
        if self.history and best_state is not None:
            self.best = max(reversed(self.history), key=lambda h: h[1])
            self.best_state = best_state
            self.best_companion = best_companion

    def load_best(self, G: nn.Module) -> None:
        """Put the best snapshot back into ``G`` (and its companion)."""
        assert self.best_state is not None
        G.load_state_dict(self.best_state)
        if self.companion is not None and self.best_companion is not None:
            self.companion.load_state_dict(self.best_companion)


def _clone_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class GanTrainer:
    """Trains one registered GAN on an image tensor, checkpointing into ``out_dir``."""

    def __init__(self, config: GanTrainConfig, out_dir: str | Path, device: torch.device | str = "cpu",
                 data_info: dict[str, Any] | None = None, dist: DistContext | None = None) -> None:
        self.config = config
        self.out_dir = Path(out_dir)
        self.device = torch.device(device)
        self.data_info = data_info or {}
        self.dist = dist or SINGLE

    # -- public -----------------------------------------------------------------------------
    def is_finished(self) -> bool:
        cfg = self.out_dir / "config.json"
        return cfg.is_file() and read_json(cfg).get("status") == "finished"

    def fit(self, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor | None = None, *,
            progress: bool = True,
            on_step: Callable[[int], None] | None = None,
            monitor: Callable[[nn.Module, int], float] | None = None, check_every: int = 250,
            stop_at: float | None = None, check_from: int = 0) -> Path:
        """Train to the configured number of steps (resuming if a checkpoint exists).

        ``monitor(generator, step)``, if given, scores the generator (higher is better) every
        ``check_every`` steps from step ``check_from`` on, and at the end. The generator that is
        saved is then the best-scoring snapshot, not merely the last one (GAN training oscillates
        and can collapse), and training stops early once a score reaches ``stop_at``. The scores go to
        ``config.json`` as ``quality_history``. ``monitor`` must not draw from torch's global
        random stream (it should use its own generator), so that a resumed run makes the same
        decisions.

        ``labels`` (N,) class indices in ``[0, classes)`` are required by a class-conditional
        architecture (``GanSpec.classes > 0``) and refused by any other.
        """
        if stop_at is not None and monitor is None:
            raise ValueError("stop_at needs a monitor")
        if check_every < 1 or check_from < 0:
            raise ValueError("check_every must be >= 1 and check_from >= 0")
        ctx = self.dist
        if ctx.agree(self.is_finished(), f"a finished GAN in {self.out_dir}"):
            return self.out_dir
        data = to_unit_tensor(images)
        if len(data) == 0:
            raise ValueError("no training images")
        cfg = self.config
        if cfg.batch_size % ctx.world_size:
            raise ValueError(f"the batch of {cfg.batch_size} images does not split evenly between "
                             f"{ctx.world_size} processes")
        progress = progress and ctx.is_main
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(cfg.seed)
            if self.device.type == "cuda":
                torch.cuda.manual_seed(cfg.seed)
            spec = create_gan(cfg.arch, **cfg.arch_options)
            if tuple(data.shape[1:]) != spec.image_shape:
                raise ValueError(f"{cfg.arch} expects images of shape {spec.image_shape}, "
                                 f"got {tuple(data.shape[1:])}")
            onehot = _onehot_labels(labels, len(data), spec.classes, cfg.arch)
            self._fit(spec, data, onehot, progress, on_step, _Monitor(monitor, check_every, stop_at,
                                                                               start=check_from))
        return self.out_dir

    # -- internals --------------------------------------------------------------------------
    def _fit(self, spec: GanSpec, data: torch.Tensor, onehot: torch.Tensor | None, progress: bool,
             on_step: Callable[[int], None] | None, monitor: _Monitor) -> None:
        cfg, dev, ctx = self.config, self.device, self.dist
        G = spec.generator.to(dev)
        D = spec.discriminator.to(dev)
        if dev.type == "cpu":
            G.to(memory_format=torch.channels_last)
            D.to(memory_format=torch.channels_last)
        G_ema = copy.deepcopy(G) if cfg.ema is not None else None
        G_out = G if G_ema is None else G_ema  # the generator that is scored and saved
        opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        opt_d = torch.optim.Adam(D.parameters(), lr=cfg.discriminator_lr, betas=(cfg.beta1, cfg.beta2))
        E, opt_e = None, None  # the latent-regression encoder (GanTrainConfig.latent_regression)
        if cfg.latent_regression > 0:
            from ganprint.inversion.encoder import InverseModel

            E = InverseModel(spec.image_shape, spec.latent_dim).to(dev)
            if dev.type == "cpu":
                E.to(memory_format=torch.channels_last)
            opt_e = torch.optim.Adam(E.parameters(), lr=cfg.encoder_lr)
            monitor.companion = E  # kept with the best generator snapshot
        data_gen = torch.Generator().manual_seed(cfg.seed * 2 + 1)
        noise_gen = torch.Generator(device=dev).manual_seed(cfg.seed * 2 + 2)
        n = len(data)
        total = cfg.total_steps(n)
        order = torch.empty(0, dtype=torch.long)
        step = 0
        ckpt = self.out_dir / CHECKPOINT_DIR
        if ctx.agree((ckpt / "state.json").is_file(), f"a checkpoint in {ckpt}"):
            step, order = self._restore(ckpt, G, D, opt_g, opt_d, data_gen, noise_gen, monitor, G_ema, E, opt_e)
        for m in (G, D, G_ema, E):  # rank 0's weights everywhere (the same seed made them equal already)
            if m is not None:
                ctx.broadcast_module(m)
        data = data.to(dev)
        onehot = onehot.to(dev) if onehot is not None else None
        channels = spec.image_shape[0]
        B = cfg.batch_size
        b = B // ctx.world_size  # this process's share of every batch
        objective = create_objective(spec.objective, **spec.objective_options)
        gp_weight = objective.default_gp_weight if cfg.gp_weight is None else cfg.gp_weight
        # batch norm must not see real and fake in one batch (it would tell them apart)
        joint = not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules())
        staged = [m for m in (G, D, G_ema) if m is not None and hasattr(m, "set_progress")]
        prepare_real = getattr(D, "prepare_real", None)
        d_params = [p for p in D.parameters() if p.requires_grad]
        frozen_for_g = d_params + (list(E.parameters()) if E is not None else [])
        g_params = list(G.parameters())

        precision = resolve_precision(cfg.precision, dev)
        bf16 = precision == "bf16"

        def autocast() -> torch.autocast:
            return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)

        def critic(x: torch.Tensor) -> torch.Tensor:
            # a conditional GAN's images carry their one-hot class as constant extra channels, so that
            # the objectives (which concatenate, split and interpolate batches) keep image and label
            # together; the label channels are neither augmented nor part of a penalty's gradient
            y = None
            if onehot is not None:
                x, y = x[:, :channels], x[:, channels:, 0, 0].detach()
            with autocast():
                x = diff_augment(x, cfg.augment, noise_gen) if cfg.augment else x
                out = D(x) if y is None else D(x, y)
            return out.float()  # losses (and penalties) in fp32

        def precise_bn() -> None:
            if cfg.precise_bn:  # a function of the weights alone (fixed latent stream): resume stays exact
                recalibrate_batch_norm(G_out, spec.latent_dim, seed=cfg.seed + PRECISE_BN_STREAM, device=dev)

        started = time.perf_counter()
        losses: dict[str, float] = {"d": float("nan"), "g": float("nan")}
        bar = tqdm(total=total, initial=step, desc=f"train {self.out_dir.name}", disable=not progress,
                   unit="step", dynamic_ncols=True)
        G.train()
        D.train()
        stopped = False
        while step < total:
            for m in staged:  # the networks' stage is a function of the step (exact resume)
                m.set_progress(step, total)
            if cfg.lr_decay_start is not None:  # a function of the step too
                factor = cfg.lr_factor(step, total)
                for opt, lr in ((opt_g, cfg.lr), (opt_d, cfg.discriminator_lr)):
                    for group in opt.param_groups:
                        group["lr"] = lr * factor
            for _ in range(cfg.n_critic):
                while len(order) < B:  # continue the permutation stream across epochs
                    order = torch.cat([order, torch.randperm(n, generator=data_gen)])
                idx, order = order[:B], order[B:]
                z = torch.randn(objective.n_fakes * B, spec.latent_dim, generator=noise_gen, device=dev)
                if ctx.distributed:  # the global batch's rows rank, rank + world_size, ...
                    idx = idx[ctx.rank::ctx.world_size]
                    z = z.view(objective.n_fakes, B, -1)[:, ctx.rank::ctx.world_size].reshape(-1, spec.latent_dim)
                real = data[idx] if prepare_real is None else prepare_real(data[idx])
                with autocast():
                    fake = G(z).float()
                if onehot is not None:
                    real = _with_label_channels(real, onehot[idx])
                    fake = _with_label_channels(fake, F.one_hot(G.label_of(z), spec.classes).float())
                fakes = fake.split(b)
                loss_d = objective.critic_loss(critic, real, [f.detach() for f in fakes], joint=joint,
                                               gp_weight=gp_weight, gen=noise_gen)
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                ctx.average_gradients(d_params)
                opt_d.step()
            if E is not None:  # the encoder learns this step's (z, G(z)) pairs
                loss_e = latent_regression_loss(E, fakes[0][:, :channels].detach(), z[:b], autocast)
                opt_e.zero_grad(set_to_none=True)
                loss_e.backward()
                ctx.average_gradients(list(E.parameters()))
                opt_e.step()
            # the generator's step uses the last critic step's samples (drawn before that update)
            for p in frozen_for_g:  # no parameter gradients for D (or E) here: only the input's are needed
                p.requires_grad_(False)
            loss_g = objective.generator_loss(critic, real, fakes, joint=joint)
            if cfg.mode_seeking > 0:
                loss_g = loss_g + cfg.mode_seeking * mode_seeking_penalty(fakes[0][:, :channels], z[:b])
            if E is not None:
                loss_g = loss_g + cfg.latent_regression * latent_regression_loss(
                    E, fakes[0][:, :channels], z[:b], autocast)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            ctx.average_gradients(g_params)
            opt_g.step()
            for p in frozen_for_g:
                p.requires_grad_(True)
            step += 1
            if G_ema is not None:
                _ema_update(G_ema, G, min(cfg.ema, (1 + step) / (10 + step)))
            bar.update(1)
            if step % 25 == 0 or step == total:
                losses = {"d": loss_d.item(), "g": loss_g.item()}
                if ctx.distributed:  # the global batch's losses
                    d, g = ctx.all_reduce_mean(torch.tensor([losses["d"], losses["g"]], dtype=torch.float64)).tolist()
                    losses = {"d": d, "g": g}
                bar.set_postfix(d=f"{losses['d']:.3f}", g=f"{losses['g']:.3f}")
            if on_step is not None:
                on_step(step)
            if cfg.snapshot_every is not None and step % cfg.snapshot_every == 0 and ctx.is_main:
                path = snapshot_path(self.out_dir, step)
                path.parent.mkdir(parents=True, exist_ok=True)
                precise_bn()
                save_tensors(path, G_out.state_dict())
            grown = all(getattr(m, "is_grown", True) for m in staged)  # a growing G is scored once grown
            if grown and monitor.due(step, total):
                if ctx.is_main:
                    precise_bn()
                    stopped = monitor.check(G_out, step)
                if ctx.distributed:  # rank 0 scores, everyone stops with it
                    stopped = bool(ctx.broadcast_floats(float(stopped))[0])
                if monitor.best is not None:
                    bar.set_postfix(d=f"{losses['d']:.3f}", g=f"{losses['g']:.3f}", q=f"{monitor.best[1]:.3f}")
                if stopped:
                    break
            if step % cfg.checkpoint_every == 0 and step < total:
                if ctx.is_main:
                    self._checkpoint(ckpt, step, order, G, D, opt_g, opt_d, data_gen, noise_gen, monitor, G_ema,
                                     E, opt_e)
                ctx.barrier()
        bar.close()
        if ctx.is_main:
            if monitor.best_state is not None:
                monitor.load_best(G_out)
            else:
                precise_bn()
            self._finish(spec, G_out, D, step, n, losses, time.perf_counter() - started, monitor, precision, E)
            shutil.rmtree(ckpt, ignore_errors=True)
        ctx.barrier()  # the GAN folder is complete when fit returns, on every process

    def _checkpoint(self, ckpt: Path, step: int, order: torch.Tensor, G: nn.Module, D: nn.Module,
                    opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                    data_gen: torch.Generator, noise_gen: torch.Generator, monitor: _Monitor,
                    G_ema: nn.Module | None, E: nn.Module | None = None,
                    opt_e: torch.optim.Optimizer | None = None) -> None:
        ckpt.mkdir(parents=True, exist_ok=True)
        tensors = {**prefixed("G", G), **prefixed("D", D),
                   **optimizer_tensors("optG", opt_g), **optimizer_tensors("optD", opt_d),
                   "rng.data": rng_tensor(data_gen.get_state()),
                   "rng.noise": rng_tensor(noise_gen.get_state()),
                   "rng.torch": rng_tensor(torch.get_rng_state()),
                   "order": order.clone()}
        if self.device.type == "cuda":
            tensors["rng.cuda"] = rng_tensor(torch.cuda.get_rng_state(self.device))
        if monitor.best_state is not None:
            tensors.update(prefixed("Gbest", _StateHolder(monitor.best_state)))
        if monitor.best_companion is not None:
            tensors.update(prefixed("Ebest", _StateHolder(monitor.best_companion)))
        if G_ema is not None:
            tensors.update(prefixed("Gema", G_ema))
        if E is not None and opt_e is not None:
            tensors.update({**prefixed("E", E), **optimizer_tensors("optE", opt_e)})
        save_tensors(ckpt / "state.safetensors", tensors)
        write_json(ckpt / "state.json", {"step": step, "train": self.config.to_dict(),
                                         "quality_history": monitor.history})

    def _restore(self, ckpt: Path, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer, data_gen: torch.Generator,
                 noise_gen: torch.Generator, monitor: _Monitor,
                 G_ema: nn.Module | None, E: nn.Module | None = None,
                 opt_e: torch.optim.Optimizer | None = None) -> tuple[int, torch.Tensor]:
        meta = read_json(ckpt / "state.json")
        try:  # a checkpoint from before a field was added holds that field's default
            saved = json.loads(json.dumps(GanTrainConfig.from_dict(meta.get("train", {})).to_dict()))
        except (TypeError, ValueError):
            saved = None
        if saved != json.loads(json.dumps(self.config.to_dict())):
            raise ValueError(f"{ckpt} was written with a different training config; "
                             "use another output folder or delete the checkpoint")
        t = load_tensors(ckpt / "state.safetensors")
        G.load_state_dict(unprefixed("G", t))
        D.load_state_dict(unprefixed("D", t))
        load_optimizer("optG", opt_g, t)
        load_optimizer("optD", opt_d, t)
        data_gen.set_state(t["rng.data"])
        noise_gen.set_state(t["rng.noise"].to(noise_gen.device) if noise_gen.device.type == "cuda"
                            else t["rng.noise"])
        torch.set_rng_state(t["rng.torch"])
        if "rng.cuda" in t and self.device.type == "cuda":
            torch.cuda.set_rng_state(t["rng.cuda"], self.device)
        if G_ema is not None:
            G_ema.load_state_dict(unprefixed("Gema", t))
        if E is not None and opt_e is not None:
            E.load_state_dict(unprefixed("E", t))
            load_optimizer("optE", opt_e, t)
        best, best_e = unprefixed("Gbest", t), unprefixed("Ebest", t)
        monitor.restore([tuple(h) for h in meta.get("quality_history", [])],
                        {k: v.to(self.device) for k, v in best.items()} or None,
                        {k: v.to(self.device) for k, v in best_e.items()} or None)
        return int(meta["step"]), t["order"].long()

    def _finish(self, spec: GanSpec, G: nn.Module, D: nn.Module, steps: int, n: int,
                losses: dict[str, float], seconds: float, monitor: _Monitor, precision: str,
                E: nn.Module | None = None) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        save_tensors(self.out_dir / "generator.safetensors", G.state_dict())
        save_tensors(self.out_dir / "discriminator.safetensors", D.state_dict())
        if E is not None:
            save_tensors(self.out_dir / ENCODER_FILE, E.state_dict())
        write_json(self.out_dir / "config.json", {
            "kind": "ganprint-gan",
            "arch": spec.name,
            "arch_options": spec.options,
            "latent_dim": spec.latent_dim,
            "image_shape": list(spec.image_shape),
            "train": self.config.to_dict(),
            "precision": precision,
            "data": {**self.data_info, "n_images": n},
            "steps": steps,
            "stopped_early": steps < self.config.total_steps(n),
            "final_losses": losses,
            "quality_history": [list(h) for h in monitor.history],
            "kept_step": monitor.best[0] if monitor.best is not None else steps,
            "train_seconds_last_session": round(seconds, 2),
            **({"processes": self.dist.world_size} if self.dist.distributed else {}),
            "status": "finished",
        })
