"""Diffusion training-step time and sampling throughput, beside the machine's fp32 matmul rate.

For the quick 28x28 grey UNet (the ``ddpm-unet`` defaults) and a 32x32 RGB one: seconds per training
step at ``--batch`` (64), and sampling throughput at ``--sample-batch`` (100, the sampling block) in
image-steps/s, converted to images/s at the step counts the ``families`` experiment samples with
(DDPM ``--ddpm-steps``, DDIM ``--ddim-steps``). A sampling step costs the same whatever the step count,
so a few steps are timed and the rest extrapolated. The matmul rate (GFLOP/s of a 1024x1024 fp32
``torch.mm``) says how fast this machine is, so figures from two machines can be compared.
Timings on a shared machine are disturbed by whatever else runs. Takes about a minute at 1 thread.

    python benchmarks/diffusion_step.py --threads 1 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from ganprint.generative.registry import create_generative

MODELS = {
    "mnist-28x28x1": {"channels": 1, "size": 28},
    "rgb-32x32x3": {"channels": 3, "size": 32, "block_out_channels": (32, 64, 64)},
}


def matmul_gflops(n: int = 1024, reps: int = 10) -> float:
    """fp32 GFLOP/s of an ``n x n`` matmul (best of ``reps``)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def train_step_seconds(model: Any, batch: int, steps: int) -> float:
    """Median seconds per Adam step on random images (one warm-up step first)."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, *model.image_shape, generator=gen)
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        loss = model.loss(x, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return sorted(times[1:])[len(times[1:]) // 2]


def image_steps_per_second(model: Any, sampler: str, batch: int, steps: int) -> float:
    """Image-steps per second of ``sampler`` run for ``steps`` steps on ``batch`` images."""
    model.eval()
    model.sample(2, torch.Generator().manual_seed(0), sampler=sampler, steps=1)  # warm-up
    t = time.perf_counter()
    model.sample(batch, torch.Generator().manual_seed(0), sampler=sampler, steps=steps)
    return batch * steps / (time.perf_counter() - t)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"threads": torch.get_num_threads(), "matmul_gflops_1024": round(matmul_gflops(), 1),
                           "batch": args.batch, "sample_batch": args.sample_batch, "models": {}}
    for name, options in MODELS.items():
        torch.manual_seed(0)
        model = create_generative("ddpm-unet", **options)
        row: dict[str, Any] = {"options": model.options, "parameters": sum(p.numel() for p in model.parameters()),
                               "train_step_s": round(train_step_seconds(model, args.batch, args.train_steps), 4)}
        for sampler, steps in (("ddpm", args.ddpm_steps), ("ddim", args.ddim_steps)):
            rate = image_steps_per_second(model, sampler, args.sample_batch, args.timed_steps)
            row[sampler] = {"steps": steps, "image_steps_per_s": round(rate, 1), "images_per_s": round(rate / steps, 2)}
        out["models"][name] = row
    return out


def table(r: dict[str, Any]) -> str:
    lines = [f"threads {r['threads']}, fp32 matmul 1024x1024: {r['matmul_gflops_1024']} GFLOP/s",
             f"{'model':<15} {'params':>8} {'train s/step':>13} "
             f"{'DDPM img-steps/s':>17} {'img/s':>7} {'DDIM img-steps/s':>17} {'img/s':>7}"]
    for name, m in r["models"].items():
        lines.append(f"{name:<15} {m['parameters']:>8,} {m['train_step_s']:>13.3f} "
                     f"{m['ddpm']['image_steps_per_s']:>17.0f} {m['ddpm']['images_per_s']:>7.2f} "
                     f"{m['ddim']['image_steps_per_s']:>17.0f} {m['ddim']['images_per_s']:>7.2f}")
    lines.append(f"(train at batch {r['batch']}; sampling at batch {r['sample_batch']}, images/s at DDPM "
                 f"{r['models'][next(iter(r['models']))]['ddpm']['steps']} / DDIM "
                 f"{r['models'][next(iter(r['models']))]['ddim']['steps']} steps)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64, help="training batch")
    ap.add_argument("--train-steps", type=int, default=5, help="timed training steps")
    ap.add_argument("--sample-batch", type=int, default=100)
    ap.add_argument("--timed-steps", type=int, default=10, help="sampling steps timed per sampler")
    ap.add_argument("--ddpm-steps", type=int, default=100)
    ap.add_argument("--ddim-steps", type=int, default=50)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    result = measure(args)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
