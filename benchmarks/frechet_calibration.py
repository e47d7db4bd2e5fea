"""Calibration of the Fréchet quality figure (``ganprint.quality.frechet``) on degraded real images,
under each feature network of an ensemble and under their median (the figure the yu studies report).

    python benchmarks/frechet_calibration.py --cache /tmp/qm5 [--nets 5] [--n 500] [--threads N]

The networks are trained as ``yu-sources`` trains them (its quick profile's ``quality`` settings, its
real crops and seeds), or loaded from ``--cache`` when a run or an earlier call saved them there
(a run's ``quality-model/`` folder works). The reference is the experiment's reference crops; every
other set is scored against it at the experiment's sample size: more crops of the same region of
the same photos (real), the same crops blurred, noised or re-encoded, crops of photos no split shows
(other content) and one crop repeated (total mode collapse). The pass threshold is meant to be read
off real images only: degraded real images that a small GAN would be glad to draw should pass, other
content and collapse should not.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ganprint.data.photos import PhotoCropConfig, load_photo_crops
from ganprint.experiments.yu import REAL_ROLES, YuProtocol
from ganprint.quality.frechet import PASS_RELATIVE, FrechetFigure, QualityConfig, cached_quality_model
from ganprint.robustness.perturbations import create_perturbation, perturb_uint8

HELD_OUT_SEED = 101
"""Crop seed of the probe sets (no role of the experiment uses it)."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, required=True, help="the ensemble's folder (trained there when missing)")
    ap.add_argument("--protocol", default="yu-sources")
    ap.add_argument("--nets", type=int, default=None, help="default: the protocol's quality.networks")
    ap.add_argument("--n", type=int, default=None, help="images per set (default: the protocol's samples)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    protocol = YuProtocol.load(args.protocol)
    q = protocol.profile("quick").quality
    splits = protocol.photo_splits
    nets = args.nets or q.get("networks", 1)
    n = args.n or q.get("samples", 500)
    t = time.perf_counter()
    ensemble = cached_quality_model(
        args.cache, lambda: load_photo_crops(splits["train"], PhotoCropConfig(n=q["train_images"],
                                                                              seed=REAL_ROLES["quality"])),
        networks=nets, config=QualityConfig(epochs=q.get("epochs", 4)))
    print(f"{nets} networks ready in {time.perf_counter() - t:.0f} s", flush=True)
    reference = load_photo_crops(splits["train"], PhotoCropConfig(n=q.get("reference_images", 1000),
                                                                  seed=REAL_ROLES["reference"]))
    held_out = load_photo_crops(splits["train"], PhotoCropConfig(n=n, seed=HELD_OUT_SEED))
    sets = {
        "real (more crops)": held_out,
        **{f"blur sigma {s}": perturb_uint8(held_out, create_perturbation("blur", s)) for s in (0.7, 1.0, 1.5, 2.0)},
        "noise sigma 0.08 (20 grey levels)": perturb_uint8(held_out, create_perturbation("noise", 20 / 255)),
        "JPEG quality 50": perturb_uint8(held_out, create_perturbation("jpeg", 50)),
        "other photos": load_photo_crops(protocol.unseen_photos or "test", PhotoCropConfig(n=n, seed=HELD_OUT_SEED)),
        "one crop repeated": np.repeat(held_out[:1], n, axis=0),
    }
    figure = FrechetFigure(ensemble, reference, n)
    print(f"\n{n} images per set, pass at relative <= {PASS_RELATIVE}\n")
    print("| set | " + " | ".join(f"network {k}" for k in range(nets)) + " | median | networks passing |")
    print("|---|" + "---|" * (nets + 2))
    for name, images in sets.items():
        f = figure(images)
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in f["networks"]) +
              f" | **{f['relative']:.3f}** | {f['networks_passing']} / {nets} |", flush=True)


if __name__ == "__main__":
    main()
