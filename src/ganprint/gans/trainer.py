"""Adversarial training with periodic checkpoints and exact resume.

A GAN folder (``GAN_DIR``) holds, once training has finished::

    config.json                 architecture, options, training config, data summary, status
    generator.safetensors       generator weights
    discriminator.safetensors   discriminator weights

and while training is under way ``checkpoint/`` with everything needed to continue bit for bit:
both networks, both Adam states, the step counter and the three random streams (data order,
latent noise, dropout). A killed run started again with the same arguments resumes from the last
checkpoint and ends with the same weights as an uninterrupted run (on the same device and
thread count).
"""

from __future__ import annotations

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

from ganprint.gans.config import GanTrainConfig
from ganprint.gans.registry import GanSpec, create_gan
from ganprint.serialization import load_tensors, read_json, save_tensors, write_json

CHECKPOINT_DIR = "checkpoint"


def _rng_tensor(state: torch.Tensor) -> torch.Tensor:
    return state.clone().to(torch.uint8)


def _optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for idx, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            out[f"{prefix}.{idx}.{key}"] = torch.as_tensor(value)
    return out


def _load_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    sd = opt.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    sd["state"] = state
    opt.load_state_dict(sd)


def _prefixed(prefix: str, module: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}


def _unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


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


class GanTrainer:
    """Trains one registered GAN on an image tensor, checkpointing into ``out_dir``."""

    def __init__(self, config: GanTrainConfig, out_dir: str | Path, device: torch.device | str = "cpu",
                 data_info: dict[str, Any] | None = None) -> None:
        self.config = config
        self.out_dir = Path(out_dir)
        self.device = torch.device(device)
        self.data_info = data_info or {}

    # -- public -----------------------------------------------------------------------------
    def is_finished(self) -> bool:
        cfg = self.out_dir / "config.json"
        return cfg.is_file() and read_json(cfg).get("status") == "finished"

    def fit(self, images: np.ndarray | torch.Tensor, *, progress: bool = True,
            on_step: Callable[[int], None] | None = None,
            stop_when: Callable[[nn.Module, int], float | None] | None = None, check_every: int = 250) -> Path:
        """Train to the configured number of steps (resuming if a checkpoint exists).

        ``stop_when(generator, step)``, if given, is called every ``check_every`` steps; it returns
        a quality score when the generator is good enough (training stops there) and ``None``
        otherwise. It must not draw from torch's global random stream (use its own generator), so
        that a resumed run makes the same decisions.
        """
        if self.is_finished():
            return self.out_dir
        data = to_unit_tensor(images)
        if len(data) == 0:
            raise ValueError("no training images")
        cfg = self.config
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(cfg.seed)
            if self.device.type == "cuda":
                torch.cuda.manual_seed(cfg.seed)
            spec = create_gan(cfg.arch, **cfg.arch_options)
            if tuple(data.shape[1:]) != spec.image_shape:
                raise ValueError(f"{cfg.arch} expects images of shape {spec.image_shape}, "
                                 f"got {tuple(data.shape[1:])}")
            self._fit(spec, data, progress, on_step, stop_when, check_every)
        return self.out_dir

    # -- internals --------------------------------------------------------------------------
    def _fit(self, spec: GanSpec, data: torch.Tensor, progress: bool,
             on_step: Callable[[int], None] | None,
             stop_when: Callable[[nn.Module, int], float | None] | None, check_every: int) -> None:
        cfg, dev = self.config, self.device
        G = spec.generator.to(dev)
        D = spec.discriminator.to(dev)
        if dev.type == "cpu":
            G.to(memory_format=torch.channels_last)
            D.to(memory_format=torch.channels_last)
        opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        data_gen = torch.Generator().manual_seed(cfg.seed * 2 + 1)
        noise_gen = torch.Generator(device=dev).manual_seed(cfg.seed * 2 + 2)
        n = len(data)
        total = cfg.total_steps(n)
        order = torch.empty(0, dtype=torch.long)
        step = 0
        ckpt = self.out_dir / CHECKPOINT_DIR
        if (ckpt / "state.json").is_file():
            step, order = self._restore(ckpt, G, D, opt_g, opt_d, data_gen, noise_gen)
        data = data.to(dev)
        B = cfg.batch_size
        ones = torch.ones(B, 1, device=dev)
        d_target = torch.cat([torch.ones(B, 1, device=dev), torch.zeros(B, 1, device=dev)])
        started = time.perf_counter()
        losses = {"d": float("nan"), "g": float("nan")}
        bar = tqdm(total=total, initial=step, desc=f"train {self.out_dir.name}", disable=not progress,
                   unit="step", dynamic_ncols=True)
        G.train()
        D.train()
        while step < total:
            while len(order) < B:  # continue the permutation stream across epochs
                order = torch.cat([order, torch.randperm(n, generator=data_gen)])
            idx, order = order[:B], order[B:]
            real = data[idx]
            z = torch.randn(B, spec.latent_dim, generator=noise_gen, device=dev)
            fake = G(z)
            loss_d = F.binary_cross_entropy_with_logits(D(torch.cat([real, fake.detach()])), d_target)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            loss_g = F.binary_cross_entropy_with_logits(D(fake), ones)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            step += 1
            bar.update(1)
            if step % 25 == 0 or step == total:
                losses = {"d": loss_d.item(), "g": loss_g.item()}
                bar.set_postfix(d=f"{losses['d']:.3f}", g=f"{losses['g']:.3f}")
            if step % cfg.checkpoint_every == 0 and step < total:
                self._checkpoint(ckpt, step, order, G, D, opt_g, opt_d, data_gen, noise_gen)
            if on_step is not None:
                on_step(step)
            if stop_when is not None and step % check_every == 0 and step < total:
                with torch.no_grad():
                    G.eval()
                    score = stop_when(G, step)
                    G.train()
                if score is not None:
                    losses["stopped_with_score"] = score
                    break
        bar.close()
        self._finish(spec, G, D, step, n, losses, time.perf_counter() - started)
        shutil.rmtree(ckpt, ignore_errors=True)

    def _checkpoint(self, ckpt: Path, step: int, order: torch.Tensor, G: nn.Module, D: nn.Module,
                    opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                    data_gen: torch.Generator, noise_gen: torch.Generator) -> None:
        ckpt.mkdir(parents=True, exist_ok=True)
        tensors = {**_prefixed("G", G), **_prefixed("D", D),
                   **_optimizer_tensors("optG", opt_g), **_optimizer_tensors("optD", opt_d),
                   "rng.data": _rng_tensor(data_gen.get_state()),
                   "rng.noise": _rng_tensor(noise_gen.get_state()),
                   "rng.torch": _rng_tensor(torch.get_rng_state()),
                   "order": order.clone()}
        if self.device.type == "cuda":
            tensors["rng.cuda"] = _rng_tensor(torch.cuda.get_rng_state(self.device))
        save_tensors(ckpt / "state.safetensors", tensors)
        write_json(ckpt / "state.json", {"step": step, "train": self.config.to_dict()})

    def _restore(self, ckpt: Path, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer, data_gen: torch.Generator,
                 noise_gen: torch.Generator) -> tuple[int, torch.Tensor]:
        meta = read_json(ckpt / "state.json")
        if meta.get("train") != self.config.to_dict():
            raise ValueError(f"{ckpt} was written with a different training config; "
                             "use another output folder or delete the checkpoint")
        t = load_tensors(ckpt / "state.safetensors")
        G.load_state_dict(_unprefixed("G", t))
        D.load_state_dict(_unprefixed("D", t))
        _load_optimizer("optG", opt_g, t)
        _load_optimizer("optD", opt_d, t)
        data_gen.set_state(t["rng.data"])
        noise_gen.set_state(t["rng.noise"].to(noise_gen.device) if noise_gen.device.type == "cuda"
                            else t["rng.noise"])
        torch.set_rng_state(t["rng.torch"])
        if "rng.cuda" in t and self.device.type == "cuda":
            torch.cuda.set_rng_state(t["rng.cuda"], self.device)
        return int(meta["step"]), t["order"].long()

    def _finish(self, spec: GanSpec, G: nn.Module, D: nn.Module, steps: int, n: int,
                losses: dict[str, float], seconds: float) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        save_tensors(self.out_dir / "generator.safetensors", G.state_dict())
        save_tensors(self.out_dir / "discriminator.safetensors", D.state_dict())
        write_json(self.out_dir / "config.json", {
            "kind": "ganprint-gan",
            "arch": spec.name,
            "arch_options": spec.options,
            "latent_dim": spec.latent_dim,
            "image_shape": list(spec.image_shape),
            "train": self.config.to_dict(),
            "data": {**self.data_info, "n_images": n},
            "steps": steps,
            "stopped_early": steps < self.config.total_steps(n),
            "final_losses": losses,
            "train_seconds_last_session": round(seconds, 2),
            "status": "finished",
        })
