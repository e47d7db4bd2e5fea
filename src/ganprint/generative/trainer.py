"""Training one registered generative model on an image tensor, with exact checkpoint and resume.

The model folder holds ``config.json`` (``kind: ganprint-generative``, the architecture, its
options, the training config and, once finished, ``status: finished``) and ``model.safetensors``
(the weights that are sampled: the EMA average when the config keeps one). While training,
``checkpoint/state.safetensors`` + ``state.json`` hold the weights, the average, the optimiser and
every random stream, so an interrupted run resumes where it stopped and ends with the same weights.
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
from tqdm.auto import tqdm

from ganprint.checkpoint import load_optimizer, optimizer_tensors, prefixed, rng_tensor, unprefixed
from ganprint.gans.trainer import to_unit_tensor
from ganprint.generative.config import GenerativeTrainConfig
from ganprint.generative.registry import GenerativeModel, create_generative
from ganprint.serialization import load_tensors, read_json, save_tensors, write_json

KIND = "ganprint-generative"
MODEL_FILE = "model.safetensors"
CHECKPOINT_DIR = "checkpoint"


def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters(), strict=True):
            e.lerp_(p, 1.0 - decay)
        for e, b in zip(ema.buffers(), model.buffers(), strict=True):
            e.copy_(b)


class GenerativeTrainer:
    """Trains one registered generative model, checkpointing into ``out_dir``."""

    def __init__(self, config: GenerativeTrainConfig, out_dir: str | Path, device: torch.device | str = "cpu",
                 data_info: dict[str, Any] | None = None) -> None:
        self.config = config
        self.out_dir = Path(out_dir)
        self.device = torch.device(device)
        self.data_info = data_info or {}

    def is_finished(self) -> bool:
        cfg = self.out_dir / "config.json"
        return cfg.is_file() and read_json(cfg).get("status") == "finished"

    def fit(self, images: np.ndarray | torch.Tensor, *, progress: bool = True,
            on_step: Callable[[int], None] | None = None) -> Path:
        """Train to the configured number of steps (resuming from a checkpoint); returns the folder.
        ``images``: uint8 (N, H, W[, C]) or floats in [0, 1] (N, C, H, W)."""
        if self.is_finished():
            return self.out_dir
        data = to_unit_tensor(images)
        if len(data) == 0:
            raise ValueError("no training images")
        cfg = self.config
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(cfg.seed)
            model = create_generative(cfg.arch, **cfg.arch_options)
            if tuple(data.shape[1:]) != model.image_shape:
                raise ValueError(f"{cfg.arch} expects images of shape {model.image_shape}, got {tuple(data.shape[1:])}")
            self._fit(model, data, progress, on_step)
        return self.out_dir

    def _fit(self, model: GenerativeModel, data: torch.Tensor, progress: bool,
             on_step: Callable[[int], None] | None) -> None:
        cfg, dev = self.config, self.device
        model.to(dev).train()
        ema = copy.deepcopy(model).eval() if cfg.ema is not None else None
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                               weight_decay=cfg.weight_decay)
        data_gen = torch.Generator().manual_seed(cfg.seed * 2 + 1)
        noise_gen = torch.Generator().manual_seed(cfg.seed * 2 + 2)
        n, total = len(data), cfg.total_steps(len(data))
        order, step, losses = torch.empty(0, dtype=torch.long), 0, []
        ckpt = self.out_dir / CHECKPOINT_DIR
        if (ckpt / "state.json").is_file():
            step, order = self._restore(ckpt, model, ema, opt, data_gen, noise_gen)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if not (self.out_dir / "config.json").is_file():
            write_json(self.out_dir / "config.json", self._record(model, "training", step, n, {}, 0.0))
        started = time.perf_counter()
        bar = tqdm(total=total, initial=step, desc=f"train {self.out_dir.name}", disable=not progress,
                   unit="step", dynamic_ncols=True)
        batch = min(cfg.batch_size, n)
        while step < total:
            if len(order) < batch:
                order = torch.cat([order, torch.randperm(n, generator=data_gen)])
            idx, order = order[:batch], order[batch:]
            for group in opt.param_groups:
                group["lr"] = cfg.lr * cfg.lr_factor(step, total)
            loss = model.loss(data[idx].to(dev, non_blocking=True), noise_gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            if ema is not None:
                _ema_update(ema, model, min(cfg.ema, (1 + step) / (10 + step)))
            step += 1
            losses.append(float(loss.detach()))
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
            if on_step is not None:
                on_step(step)
            if step % cfg.checkpoint_every == 0 and step < total:
                self._checkpoint(ckpt, step, order, model, ema, opt, data_gen, noise_gen)
        bar.close()
        final = ema if ema is not None else model
        save_tensors(self.out_dir / MODEL_FILE,
                     {k: v.detach().cpu().contiguous() for k, v in final.state_dict().items()})
        loss_tail = {"loss_last_100": round(float(np.mean(losses[-100:])), 6)} if losses else {}
        write_json(self.out_dir / "config.json",
                   self._record(model, "finished", step, n, loss_tail, time.perf_counter() - started))
        shutil.rmtree(ckpt, ignore_errors=True)

    def _record(self, model: GenerativeModel, status: str, steps: int, n: int, losses: dict[str, float],
                seconds: float) -> dict[str, Any]:
        return {"kind": KIND, "family": model.family, "arch": self.config.arch, "arch_options": model.options,
                "image_shape": list(model.image_shape), "samplers": model.samplers,
                "parameters": sum(p.numel() for p in model.parameters()),
                "train": self.config.to_dict(), "data": {**self.data_info, "n_images": n}, "steps": steps,
                "final_losses": losses, "train_seconds_last_session": round(seconds, 2), "status": status}

    def _checkpoint(self, ckpt: Path, step: int, order: torch.Tensor, model: torch.nn.Module,
                    ema: torch.nn.Module | None, opt: torch.optim.Optimizer, data_gen: torch.Generator,
                    noise_gen: torch.Generator) -> None:
        ckpt.mkdir(parents=True, exist_ok=True)
        tensors = {**prefixed("M", model), **optimizer_tensors("opt", opt),
                   "rng.data": rng_tensor(data_gen.get_state()), "rng.noise": rng_tensor(noise_gen.get_state()),
                   "rng.torch": rng_tensor(torch.get_rng_state()), "order": order.clone()}
        if ema is not None:
            tensors.update(prefixed("EMA", ema))
        save_tensors(ckpt / "state.safetensors", {k: v.detach().cpu().contiguous() for k, v in tensors.items()})
        write_json(ckpt / "state.json", {"step": step, "train": self.config.to_dict()})

    def _restore(self, ckpt: Path, model: torch.nn.Module, ema: torch.nn.Module | None,
                 opt: torch.optim.Optimizer, data_gen: torch.Generator,
                 noise_gen: torch.Generator) -> tuple[int, torch.Tensor]:
        meta = read_json(ckpt / "state.json")
        if json.loads(json.dumps(meta.get("train"))) != json.loads(json.dumps(self.config.to_dict())):
            raise ValueError(f"{ckpt} was written with a different training config; "
                             "use another output folder or delete the checkpoint")
        t = load_tensors(ckpt / "state.safetensors")
        model.load_state_dict(unprefixed("M", t))
        if ema is not None:
            ema.load_state_dict(unprefixed("EMA", t))
        load_optimizer("opt", opt, t)
        data_gen.set_state(t["rng.data"])
        noise_gen.set_state(t["rng.noise"])
        torch.set_rng_state(t["rng.torch"])
        return int(meta["step"]), t["order"].long()
