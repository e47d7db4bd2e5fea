"""How many steps does each GAN of the MNIST study need to pass the quality gate?

Trains every GAN of the ``mnist-groups`` protocol under one or more training configurations and
records the quality gate (share of samples a digit classifier recognises, with confidence >= 0.9,
as a digit of the GAN's own subset) every ``--every`` steps. This is the measurement behind the
``quick`` profile's choice of width, batch, learning rates and augmentation: the cost of a
profile is (steps a GAN needs) x (time per step), and the second is measured by ``bench.py``.

Example::

    python benchmarks/gan_convergence.py --steps 3000 --every 250 --jobs 2 \\
        --config base '{}' --config aug '{"augment": ["translation", "cutout"]}' --out conv.json

Each ``--config NAME JSON`` overrides the quick profile's GAN settings (keys of
:class:`ganprint.gans.config.GanTrainConfig`; any other key is an architecture option, such as
``width``, ``norm`` or ``prior``). The result is a JSON file and a table: per configuration and GAN, the first step
whose gate reaches 0.75 and 0.85, and the best gate.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch

from ganprint.data.mnist import Digits, load_digits_source
from ganprint.device import resolve_device
from ganprint.experiments.mnist_data import conditioned, gan_training_data
from ganprint.experiments.protocol import MnistGroupsProtocol, load_protocol_dict
from ganprint.gans.config import GanTrainConfig, split_arch_options
from ganprint.gans.registry import create_gan
from ganprint.gans.sampling import chunk_latents, generate
from ganprint.gans.trainer import GanTrainer
from ganprint.quality.digits import GATE_MONITOR_STREAM, DigitGate

THRESHOLDS = (0.75, 0.85)


def _config(base: dict[str, Any], overrides: dict[str, Any], seed: int) -> GanTrainConfig:
    d = dict(base)
    train, arch = split_arch_options(overrides)
    d.update(train)
    d["arch_options"] = {**d.get("arch_options", {}), **arch}
    d["seed"] = seed
    return GanTrainConfig.from_dict(d)


def _job(cfg: dict[str, Any], images, labels, reference: Digits, digits: list[int], gate_dir: str, device: str,
         threads: int, samples: int, every: int, keep: str | None = None) -> dict[str, Any]:
    torch.set_num_threads(threads)
    gate = DigitGate.load(gate_dir, device)
    config = GanTrainConfig.from_dict(cfg)
    z = chunk_latents(GATE_MONITOR_STREAM, 0, create_gan(config.arch, **config.arch_options).latent_dim, samples)
    z = z.to(device)

    coverage, diversity = [], []

    def monitor(G, step):
        figures = gate.assess(generate(G, z)[..., 0], digits, reference)
        coverage.append(figures["mode_coverage"])
        diversity.append(figures["diversity"])
        return figures["quality_gate"]

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(keep) if keep else Path(tmp) / "gan"
        GanTrainer(GanTrainConfig.from_dict(cfg), out, device).fit(
            images, labels, progress=False, monitor=monitor, check_every=every)
        history = json.loads((out / "config.json").read_text())["quality_history"]
    return {"history": history, "coverage": coverage, "diversity": diversity,
            "seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", nargs=2, action="append", metavar=("NAME", "JSON"), default=[])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--every", type=int, default=250)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--gans", nargs="*", help="GAN names (default: all 13)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 1)))
    ap.add_argument("--out", default="gan_convergence.json")
    ap.add_argument("--keep", help="keep each trained GAN folder (the kept snapshot) as KEEP/CONFIG/GAN, "
                                   "and the quality-gate classifier as KEEP/gate")
    args = ap.parse_args(argv)

    configs = [(name, json.loads(text)) for name, text in args.config] or [("quick", {})]
    protocol = MnistGroupsProtocol.from_dict(load_protocol_dict("mnist-groups"))
    profile = protocol.profile("quick")
    base = profile.gan_config(protocol.gan_arch, seed=0).to_dict()
    base["steps"] = args.steps
    device = str(resolve_device(args.device))
    real = load_digits_source(protocol.real_source)
    names = args.gans or list(protocol.gans)

    with tempfile.TemporaryDirectory() as tmp:
        gate_dir = str(Path(args.keep or tmp) / "gate")
        DigitGate.train(real, epochs=profile.gate_epochs, seed=protocol.seed, device=device,
                        progress=False).save(gate_dir)
        jobs = {}
        with ProcessPoolExecutor(max_workers=args.jobs,
                                 mp_context=torch.multiprocessing.get_context("spawn")) as pool:
            for cname, overrides in configs:
                for i, gname in enumerate(protocol.gans):
                    if gname not in names:
                        continue
                    entry = protocol.gans[gname]
                    settings = dict(overrides)
                    seed = protocol.seed * 1000 + i + 1 + settings.pop("seed_offset", 0)
                    cfg = _config(base, settings, seed)
                    data = gan_training_data(real, entry, protocol.seed)
                    cfg, labels = conditioned(cfg, data, entry.digits)
                    fut = pool.submit(_job, cfg.to_dict(), data.images, labels, data, list(entry.digits), gate_dir,
                                      device, args.threads, args.samples, args.every,
                                      str(Path(args.keep) / cname / gname) if args.keep else None)
                    jobs[fut] = (cname, gname, cfg.to_dict())
            results: dict[str, dict[str, Any]] = {}
            for fut in as_completed(jobs):
                cname, gname, cfg = jobs[fut]
                r = fut.result()
                results.setdefault(cname, {})[gname] = {**r, "config": cfg}
                Path(args.out).write_text(json.dumps({"device": device, "steps": args.steps, "results": results}))
                best = max(range(len(r["history"])), key=lambda i: r["history"][i][1])
                print(f"{cname:>12} {gname:>6} ({r['seconds']:.0f} s): "
                      + " ".join(f"{q:.2f}" for _, q in r["history"])
                      + " | diversity " + " ".join(f"{d:.2f}" for d in r["diversity"])
                      + f" | mode coverage at the best check {r['coverage'][best]:.2f}", flush=True)

    print()
    print("| config | GAN | " + " | ".join(f"step to {t}" for t in THRESHOLDS) + " | best (step) |")
    print("|---|---|" + "---|" * (len(THRESHOLDS) + 1))
    for cname, _ in configs:
        for gname in names:
            h = results[cname][gname]["history"]
            firsts = [next((s for s, q in h if q >= t), None) for t in THRESHOLDS]
            best = max(h, key=lambda x: x[1])
            cells = " | ".join("-" if f is None else str(f) for f in firsts)
            print(f"| {cname} | {gname} | {cells} | {best[1]:.3f} ({best[0]}) |")


if __name__ == "__main__":
    main()
