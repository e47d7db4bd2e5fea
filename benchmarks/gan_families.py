"""Train the four GAN families of seed 004 on the bundled photo crops with their quick defaults.

For each family (``ganprint.gans.families.QUICK_TRAIN``, optionally overridden) this trains one
GAN on ``--n-real`` 32x32 crops of the training photos, records the wall time and seconds per step,
writes an 8x8 sample grid, and scores the samples against held-out crops (the experiment's
validation split) with a simple figure that tells images from noise: the squared MMD (rational-quadratic kernel
mixture, unbiased) between 8x8 average-pooled samples and real validation crops, next to the same
figure for uniform noise and for a second set of real training crops. Lower is better; a GAN
clearly better than noise scores far below the noise baseline. Each family also gets the quality
figures of the ``yu-sources`` experiment (:func:`ganprint.quality.figures.gan_quality`: the Fréchet
distance on a self-supervised feature network and the network-free sliced Wasserstein distance,
each relative to real images (0) and trivial failures (1); a GAN passes when the first is <= 0.25
and the second <= 0.35), computed exactly as that experiment does (same crops, seeds, sample
sizes and latent stream; the Fréchet figure is the median over the experiment's feature networks,
every network's figure listed beside it), so a change of ``QUICK_TRAIN`` can be judged before a full
run. With ``--monitor`` each GAN is scored while it trains and the snapshot the experiment would keep
is kept (the experiment's ``monitor`` settings); without it the last snapshot is scored. Finished
GANs and the feature networks are reused (rerun after an interruption resumes).

Example (single thread, as on a shared machine)::

    python benchmarks/gan_families.py --out /tmp/families --threads 1
    python benchmarks/gan_families.py --out /tmp/f --families progan --override progan='{"steps": 600}'
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganprint.data.photos import load_color_source
from ganprint.experiments.protocol import load_protocol_dict
from ganprint.experiments.yu import REAL_ROLES, SAMPLING_SEEDS, YuProtocol
from ganprint.gans.config import GanTrainConfig
from ganprint.gans.families import FAMILIES, quick_train_kwargs
from ganprint.gans.objectives import mmd2_unbiased
from ganprint.gans.registry import create_gan
from ganprint.gans.sampling import chunk_latents, generate, load_generator
from ganprint.gans.trainer import GanTrainer
from ganprint.quality.figures import gan_quality
from ganprint.quality.frechet import QualityConfig, cached_quality_model
from ganprint.quality.monitor import profile_monitor, quality_monitor, quality_stops

N_SCORE = 500  # images per side of the MMD figure


def grid(images: np.ndarray, cols: int = 8) -> np.ndarray:
    """uint8 (N, H, W, C) -> one (rows*H, cols*W, C) image with a 1-pixel white border."""
    n, h, w, c = images.shape
    rows = (n + cols - 1) // cols
    out = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1, c), 255, np.uint8)
    for i, im in enumerate(images):
        r, q = divmod(i, cols)
        out[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + q * (w + 1):1 + q * (w + 1) + w] = im
    return out


def pooled(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 32, 32, 3) -> float (N, 192): 8x8 average-pooled colour images in [0, 1]."""
    x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255.0
    return F.adaptive_avg_pool2d(x, 8).flatten(1)


def mmd_figure(images: np.ndarray, reference: np.ndarray) -> float:
    return float(mmd2_unbiased(pooled(images), pooled(reference)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    ap.add_argument("--override", action="append", default=[], metavar="FAMILY=JSON",
                    help="GanTrainConfig keyword overrides for one family (repeatable)")
    ap.add_argument("--n-real", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--monitor", action="store_true", help="keep the snapshot the experiment's monitor keeps")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    overrides: dict[str, dict] = {}
    for item in args.override:
        name, _, text = item.partition("=")
        overrides[name] = json.loads(text)

    args.out.mkdir(parents=True, exist_ok=True)
    protocol = load_protocol_dict("yu-sources")  # the experiment's own photo splits and quality settings
    splits = YuProtocol.load("yu-sources").photo_splits
    real = load_color_source("photos", splits["train"], n=args.n_real, seed=args.seed)
    val = load_color_source("photos", splits["val"], n=N_SCORE, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    noise = rng.integers(0, 256, size=(N_SCORE, 32, 32, 3), dtype=np.uint8)
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    q = protocol["profiles"]["quick"]["quality"]
    qmodel = cached_quality_model(
        args.out / "quality-model",
        lambda: load_color_source("photos", splits["train"], n=q["train_images"],
                                  seed=args.seed + REAL_ROLES["quality"]),
        seed=args.seed, config=QualityConfig(epochs=q["epochs"], seed=args.seed), networks=q.get("networks", 1))
    reference = load_color_source("photos", splits["train"], n=q["reference_images"],
                                  seed=args.seed + REAL_ROLES["reference"])
    results["baselines"] = {
        "mmd_noise": mmd_figure(noise, val),
        "mmd_real_train": mmd_figure(real[:N_SCORE], val),
        "n_real": args.n_real, "threads": args.threads,
    }
    for family in args.families:
        kwargs = quick_train_kwargs(family)
        kwargs.update(overrides.get(family, {}))
        cfg = GanTrainConfig(seed=args.seed, **kwargs)
        gan_dir = args.out / family
        started = time.perf_counter()
        trainer = GanTrainer(cfg, gan_dir, data_info={"source": "photos", "split": splits["train"]})
        fresh = not trainer.is_finished()
        if args.monitor and fresh:
            stop = quality_stops(profile_monitor(protocol["profiles"]["quick"]), args.out / "quality-model",
                                 lambda n: load_color_source("photos", splits["train"], n=n,
                                                             seed=args.seed + REAL_ROLES["monitor"]),
                                 {family: cfg}, seed=args.seed)[family]
            trainer.fit(real, progress=False, monitor=quality_monitor(stop, create_gan(cfg.arch, **cfg.arch_options)
                                                                       .latent_dim),
                        check_every=stop.every, check_from=stop.start, stop_at=stop.stop_at)
        else:
            trainer.fit(real, progress=False)
        seconds = time.perf_counter() - started
        G, info = load_generator(gan_dir)
        samples = generate(G, chunk_latents(1000 + args.seed, 0, info["latent_dim"])[:N_SCORE])
        test_samples = generate(G, chunk_latents(SAMPLING_SEEDS["test"], 0, info["latent_dim"], q["samples"]))
        quality = gan_quality(qmodel, reference, test_samples, seed=args.seed)
        Image.fromarray(grid(samples[:64])).save(args.out / f"{family}_grid.png")
        entry = {
            "config": cfg.to_dict(),
            "generator_params": sum(p.numel() for p in G.parameters()),
            "steps": info["steps"],
            "mmd_val": mmd_figure(samples, val),
            "quality_relative": round(quality["relative"], 4),
            "quality_networks": [round(v, 3) for v in quality["networks"]],
            "swd_relative": round(quality["swd"]["relative"], 4),
            "quality_passed": quality["passed"],  # both figures
        }
        if fresh:
            entry.update(train_seconds=round(seconds, 1), seconds_per_step=round(seconds / info["steps"], 4))
        else:
            entry.update({k: results.get(family, {}).get(k) for k in ("train_seconds", "seconds_per_step")})
        results[family] = entry
        results_path.write_text(json.dumps(results, indent=2))
        print(family, json.dumps({k: v for k, v in entry.items() if k != "config"}), flush=True)
    Image.fromarray(grid(real[:64])).save(args.out / "real_grid.png")
    print("baselines", json.dumps(results["baselines"]), flush=True)


if __name__ == "__main__":
    main()
