"""How the latent search's length, learning rate and precision trade speed for separation.

For a GAN folder with a fitted inverter (``ganprint gan fit-inverter``, or a ``cifar-gans`` run's
``gans/GAN_k``), searches from the inverse model's guess for ``--n`` images of the GAN (own), of
``--other`` and real crops of the test photos, once per setting ``STEPS:LR:PRECISION``, and prints
per setting the wall time, the ROC-AUC of ``-distance`` (own against both negatives), the best
balanced accuracy over all thresholds (against both, and against the other GAN only), the median
distances and the largest own / smallest negative distance. The images come from the latent streams
the ``cifar-gans`` test set uses.

Example (docs/lab/verification.md)::

    python benchmarks/latent_search.py --gan RUN/gans/GAN_2 --other RUN/gans/GAN_1 --n 100 \\
        30:0.05:fp32 30:0.05:bf16 100:0.05:bf16 100:0.02:bf16 150:0.02:bf16
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from ganprint.data.photos import PhotoCropConfig, load_photo_crops
from ganprint.experiments.cifar_gans import OTHER_TEST_STREAM, OWN_TEST_STREAM
from ganprint.experiments.gan_studies import sample_images
from ganprint.inversion import LatentSearchConfig, Verifier


def best_balanced_accuracy(pos: np.ndarray, neg: np.ndarray) -> float:
    """The best balanced accuracy of ``match iff distance <= t`` over every threshold t."""
    return max(0.5 * ((pos <= t).mean() + (neg > t).mean()) for t in np.r_[pos, neg])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gan", required=True, help="GAN folder with an inverter")
    ap.add_argument("--other", required=True, help="another GAN folder (negatives)")
    ap.add_argument("--n", type=int, default=100, help="images per set")
    ap.add_argument("--real-seed", type=int, default=12)
    ap.add_argument("settings", nargs="+", help="STEPS:LR:PRECISION (fp32, bf16 or auto)")
    args = ap.parse_args()

    verifier = Verifier.load(args.gan)
    sets = {"own": sample_images(args.gan, args.n, OWN_TEST_STREAM),
            "other": sample_images(args.other, args.n, OTHER_TEST_STREAM),
            "real": load_photo_crops("test", PhotoCropConfig(n=args.n, seed=args.real_seed))}
    for setting in args.settings:
        steps, lr, precision = setting.split(":")
        verifier.search = LatentSearchConfig(steps=int(steps), lr=float(lr), precision=precision)
        t0 = time.perf_counter()
        d = {name: verifier.distances(images) for name, images in sets.items()}
        seconds = time.perf_counter() - t0
        neg = np.r_[d["other"], d["real"]]
        auc = roc_auc_score(np.r_[np.ones(len(d["own"])), np.zeros(len(neg))], -np.r_[d["own"], neg])
        print(f"{setting}: {seconds:.0f} s, ROC-AUC {auc:.4f}, best balanced accuracy "
              f"{best_balanced_accuracy(d['own'], neg):.4f} (vs other GAN "
              f"{best_balanced_accuracy(d['own'], d['other']):.4f}), median own / other / real "
              f"{np.median(d['own']):.3f} / {np.median(d['other']):.3f} / {np.median(d['real']):.3f}, "
              f"max own {d['own'].max():.3f}, min negative {neg.min():.3f}", flush=True)


if __name__ == "__main__":
    main()
