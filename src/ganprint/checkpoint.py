"""Flattening training state (module and optimizer state, RNG states) into safetensors-ready
tensors and back, so that checkpoints never need pickle."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def rng_tensor(state: torch.Tensor) -> torch.Tensor:
    return state.clone().to(torch.uint8)


def optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """``{prefix.<param index>.<key>: tensor}`` for every per-parameter optimizer state entry."""
    out = {}
    for idx, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            out[f"{prefix}.{idx}.{key}"] = torch.as_tensor(value)
    return out


def load_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    """Inverse of :func:`optimizer_tensors` (hyperparameters come from ``opt`` itself)."""
    sd = opt.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    sd["state"] = state
    opt.load_state_dict(sd)


def prefixed(prefix: str, module: nn.Module | dict[str, torch.Tensor] | Any) -> dict[str, torch.Tensor]:
    state = module.state_dict() if hasattr(module, "state_dict") else module
    return {f"{prefix}.{k}": v for k, v in state.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}
