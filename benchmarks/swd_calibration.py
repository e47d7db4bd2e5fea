"""Calibration of the network-free quality figure (``ganprint.quality.swd``) on degraded real images.

    python benchmarks/swd_calibration.py [--seeds 0 1 2] [--n 1000] [--threads N]

The reference is held-out crops of the bundled training photos (as the `yu-*` and `cifar-gans`
experiments use it); every other set is scored against it with ``swd_quality_figure``: more crops
of the same photos (real), the same crops blurred, noised or re-encoded, crops of the photos no
GAN trains on (other content) and one crop repeated (total mode collapse). Printed per seed, with
the time per figure, so that the pass threshold can be read off real images only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ganprint.data.photos import PhotoCropConfig, load_photo_crops
from ganprint.quality.swd import PASS_RELATIVE, swd_quality_figure
from ganprint.robustness.perturbations import create_perturbation, perturb_uint8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n", type=int, default=1000, help="images per set")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    crops = load_photo_crops("train", PhotoCropConfig(n=4 * args.n, seed=7))
    reference, held_out = crops[:2 * args.n], crops[2 * args.n:3 * args.n]
    other = load_photo_crops("test", PhotoCropConfig(n=args.n, seed=7))
    sets = {
        "real (more crops)": held_out,
        "blur sigma 1": perturb_uint8(held_out, create_perturbation("blur", 1.0)),
        "blur sigma 2": perturb_uint8(held_out, create_perturbation("blur", 2.0)),
        "noise sigma 0.08 (20 grey levels)": perturb_uint8(held_out, create_perturbation("noise", 20 / 255)),
        "JPEG quality 50": perturb_uint8(held_out, create_perturbation("jpeg", 50)),
        "other photos": other,
        "one crop repeated": np.repeat(held_out[:1], args.n, axis=0),
    }
    rows: dict[str, list[float]] = {name: [] for name in sets}
    seconds = []
    for seed in args.seeds:
        for name, images in sets.items():
            t = time.perf_counter()
            rows[name].append(swd_quality_figure(reference, images, seed=seed)["relative"])
            seconds.append(time.perf_counter() - t)
    print(f"threads {torch.get_num_threads()}, {args.n} images per set, pass at relative <= {PASS_RELATIVE}; "
          f"{np.mean(seconds):.1f} s per figure")
    print("set | " + " | ".join(f"seed {s}" for s in args.seeds) + " | spread")
    for name, values in rows.items():
        print(f"{name} | " + " | ".join(f"{v:.3f}" for v in values) + f" | {max(values) - min(values):.3f}")


if __name__ == "__main__":
    main()
