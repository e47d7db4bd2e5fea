"""Speed benchmarks, printed as a table.

    python benchmarks/bench.py [--threads N] [--quick]

Each figure is measured here and now, beside the FLOP rate it achieves (FLOPs counted by
torch.utils.flop_counter) and this machine's measured float32 matmul rate.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ganprint.attribution.attributor import Attributor, Preprocessing
from ganprint.attribution.predict import predict_paths
from ganprint.device import has_fast_bf16
from ganprint.gans import create_gan
from ganprint.gans.sampling import generate, save_png
from ganprint.models import create_model


def best_time(fn, repeat: int = 5, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def count_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def matmul_rate(n: int = 2048, dtype: torch.dtype = torch.float32) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n**3 / best_time(lambda: a @ b)


def gan_step(width: float, batch: int, bf16: bool = False):
    spec = create_gan("mnist-dcgan", width=width)
    G = spec.generator.to(memory_format=torch.channels_last)
    D = spec.discriminator.to(memory_format=torch.channels_last)
    og = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    real = torch.rand(batch, 1, 28, 28)
    t_d = torch.cat([torch.ones(batch, 1), torch.zeros(batch, 1)])

    def amp():  # the trainer's precision "bf16": autocast passes, fp32 weights and losses
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)

    def step():
        with amp():
            fake = G(torch.randn(batch, 100)).float()
            out = D(torch.cat([real, fake.detach()])).float()
        loss_d = F.binary_cross_entropy_with_logits(out, t_d)
        od.zero_grad()
        loss_d.backward()
        od.step()
        with amp():
            out = D(fake).float()
        loss_g = F.binary_cross_entropy_with_logits(out, torch.ones(batch, 1))
        og.zero_grad()
        loss_g.backward()
        og.step()

    return step


def seed_cnn_attributors(images: np.ndarray) -> tuple[Attributor, Attributor]:
    """Two seed-CNN attributors sharing one untrained network, for speed figures: one uncalibrated
    with the max-probability unknown score (no validation fit needed), and one as ``ganprint
    train`` saves it, calibrated on ``images[2048:4096]`` with the ensemble unknown-source score
    (which also reads the stem statistics and the image statistics of every image)."""
    plain = Attributor(arch="seed-mnist-cnn", preprocessing=Preprocessing((28, 28), 1), device="cpu",
                       unknown_score="max_probability")
    plain.model_ = create_model("seed-mnist-cnn", num_classes=4).to(memory_format=torch.channels_last).eval()
    plain.classes_ = np.array(["GAN_1", "GAN_2", "GAN_3", "real"])
    ensemble = Attributor(arch="seed-mnist-cnn", preprocessing=Preprocessing((28, 28), 1), device="cpu")
    ensemble.model_, ensemble.classes_ = plain.model_, plain.classes_
    labels = ensemble.classes_[np.arange(2048) % len(ensemble.classes_)]
    ensemble.fit_density(images[:2048], labels).calibrate(images[2048:4096], labels)
    return plain, ensemble


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rep = 2 if args.quick else 5
    peak = matmul_rate()
    rows = [("float32 matmul 2048^2", "-", f"{peak / 1e9:.1f}", "100%", "")]

    fp32_seconds = {}  # (width, batch) -> seconds per fp32 step, for the bf16 rows
    for width in (1.0, 0.25):
        step = gan_step(width, 256)
        flops = count_flops(step)
        t = fp32_seconds[width, 256] = best_time(step, repeat=rep)
        ideal = flops / peak
        rows.append((f"GAN train step, batch 256, width {width}", f"{t * 1000:.0f} ms/step",
                     f"{flops / t / 1e9:.1f}", f"{flops / t / peak:.0%}", f"{t / ideal:.2f}x the FLOP time"))
    if has_fast_bf16(torch.device("cpu")):  # precision "auto" trains in bf16 here
        peak16 = matmul_rate(dtype=torch.bfloat16)
        rows.append(("bfloat16 matmul 2048^2", "-", f"{peak16 / 1e9:.1f}", f"{peak16 / peak:.0%}", "native bf16"))
        for width, batch in ((1.0, 256), (0.25, 256), (0.25, 64)):
            t32 = fp32_seconds.get((width, batch)) or best_time(gan_step(width, batch), repeat=rep)
            step = gan_step(width, batch, bf16=True)
            flops = count_flops(step)
            t = best_time(step, repeat=rep)
            rows.append((f"GAN train step bf16, batch {batch}, width {width}", f"{t * 1000:.0f} ms/step",
                         f"{flops / t / 1e9:.1f}", f"{flops / t / peak:.0%}",
                         f"{t32 / t:.2f}x faster than fp32; {t / (flops / peak16):.2f}x the bf16 FLOP time"))

    for width in (1.0, 0.25):
        G = create_gan("mnist-dcgan", width=width).generator.eval()
        z = torch.randn(2000, 100)
        with torch.inference_mode():
            flops = count_flops(lambda g=G, z=z: g(z[:1000])) / 1000
        t = best_time(lambda g=G, z=z: generate(g, z), repeat=rep) / len(z)
        rows.append((f"generate, width {width} (tensor -> uint8)", f"{1 / t:.0f} img/s", f"{flops / t / 1e9:.1f}",
                     f"{flops / t / peak:.0%}", ""))

    images = (np.random.default_rng(0).random((8192, 28, 28, 1)) * 255).astype(np.uint8)
    att, ensemble = seed_cnn_attributors(images)
    with torch.inference_mode():
        flops = count_flops(lambda: att.model_(torch.rand(64, 1, 28, 28))) / 64
    t = best_time(lambda: att.predict_proba(images), repeat=rep) / len(images)
    rows.append(("seed CNN inference (model only)", f"{1 / t:.0f} img/s", f"{flops / t / 1e9:.1f}",
                 f"{flops / t / peak:.0%}", "target >= 3000 img/s"))

    t = best_time(lambda: ensemble.predict_with_scores(images), repeat=rep) / len(images)
    rows.append(("seed CNN inference + ensemble unknown score", f"{1 / t:.0f} img/s", f"{flops / t / 1e9:.1f}",
                 f"{flops / t / peak:.0%}", "`ganprint train`'s default model"))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        n_files = 4000
        for i in range(n_files):
            save_png(images[i], folder / f"{i:06d}.png")

        for name, model in (("", att), (" (ensemble score)", ensemble)):
            def files_to_json(model=model):
                with open("/dev/null", "w") as sink:
                    for rec in predict_paths(model, [folder]):
                        sink.write(json.dumps(rec) + "\n")

            t = best_time(files_to_json, repeat=max(1, rep // 2), warmup=1) / n_files
            rows.append((f"seed CNN predict, PNG files -> JSON lines{name}", f"{1 / t:.0f} img/s",
                         f"{flops / t / 1e9:.1f}", f"{flops / t / peak:.0%}", "target >= 1500 img/s"))

    head = ("benchmark", "speed", "GFLOP/s", "of matmul", "note")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    print(f"threads: {torch.get_num_threads()}, torch {torch.__version__}")
    for r in [head, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)))
    if args.json:
        args.json.write_text(json.dumps([dict(zip(head, r, strict=False)) for r in rows], indent=2))


if __name__ == "__main__":
    main()
