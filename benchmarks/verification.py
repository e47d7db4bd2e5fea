"""Verification by inversion (seed 000 §3.3) measured on two trained color GANs.

Fits the inverse model of ``--gan`` (stored in ``GAN/inverter`` as ``ganprint gan fit-inverter``
does), chooses the threshold on validation images — fresh samples of the GAN against samples of
``--other`` and real photo crops of the validation photos — and reports, on a held-out test set
(new latent streams, the test photos), the inverse model's cosine proximity, verification accuracy
and ROC-AUC, with and without latent optimisation, a histogram of the distances (seed Fig. 12), and
the generator's identifiability report (Jacobian spectrum, linearised cosine ceiling).

Example::

    OMP_NUM_THREADS=1 python benchmarks/verification.py --gan runs/gan1 --other runs/gan2 \\
        --out runs/verification.json --plot runs/verification.png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ganprint.data.photos import PhotoCropConfig, load_photo_crops
from ganprint.experiments.gan_study_plots import plot_distance_histogram
from ganprint.gans.sampling import load_generator
from ganprint.inversion import (
    FitInverterConfig,
    InverterTrainConfig,
    LatentSearchConfig,
    Verifier,
    assess_verifier,
    fit_verifier,
)
from ganprint.inversion.identifiability import identifiability_report
from ganprint.inversion.verification import generator_samples

# latent streams (``ganprint gan sample --seed``) of the validation and test images
OTHER_VAL_SEED, OWN_TEST_SEED, OTHER_TEST_SEED = 101, 202, 303


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gan", type=Path, required=True, help="GAN folder to verify against")
    ap.add_argument("--other", type=Path, required=True, help="another GAN folder (negatives)")
    ap.add_argument("--n-pairs", type=int, default=20_000)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--search-steps", type=int, default=40)
    ap.add_argument("--n-val", type=int, default=150, help="validation images per class")
    ap.add_argument("--n-test", type=int, default=300, help="test images per class")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--jacobian-latents", type=int, default=8, help="latents for the identifiability report")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    G_other, other_cfg = load_generator(args.other)
    latent_other = int(other_cfg["latent_dim"])
    val_negatives = np.concatenate([
        generator_samples(G_other, latent_other, args.n_val, OTHER_VAL_SEED),
        load_photo_crops("val", PhotoCropConfig(n=args.n_val, seed=0)),
    ])
    config = FitInverterConfig(train=InverterTrainConfig(n_pairs=args.n_pairs, epochs=args.epochs),
                               search=LatentSearchConfig(steps=args.search_steps), n_validation=args.n_val)
    t0 = time.perf_counter()
    info = fit_verifier(args.gan, val_negatives, config)
    fit_seconds = time.perf_counter() - t0

    verifier = Verifier.load(args.gan)
    own = generator_samples(verifier.generator, verifier.latent_dim, args.n_test, OWN_TEST_SEED)
    negatives = {"other_gan": generator_samples(G_other, latent_other, args.n_test, OTHER_TEST_SEED),
                 "real": load_photo_crops("test", PhotoCropConfig(n=args.n_test, seed=1))}
    t0 = time.perf_counter()
    test = assess_verifier(verifier, own, negatives)
    search_seconds = time.perf_counter() - t0
    encoder_only = Verifier(verifier.generator, verifier.encoder, verifier.latent_dim, verifier.image_shape,
                            verifier.threshold, LatentSearchConfig(steps=0))
    test0 = assess_verifier(encoder_only, own, negatives)
    dist = test.pop("distances")
    result = {
        "gan": str(args.gan), "other": str(args.other),
        "cosine": info["cosine"], "train_cosine": info["train_cosine"],
        "identifiability": identifiability_report(verifier.generator, verifier.latent_dim, n=args.jacobian_latents),
        "threshold": verifier.threshold,
        "validation": info["validation"],
        "test": {**test, "vs_other_gan": test["by_negative"]["other_gan"], "vs_real": test["by_negative"]["real"],
                 "n_per_class": args.n_test,
                 "distance_range": {k: [float(np.min(v)), float(np.max(v))] for k, v in dist.items()}},
        "encoder_only_auc": test0["auc"],
        "encoder_only_distance_median": test0["distance_median"],
        "config": {"n_pairs": args.n_pairs, "epochs": args.epochs, "search_steps": args.search_steps,
                   "n_val": args.n_val, "threads": args.threads},
        "seconds": {"fit_inverter": round(fit_seconds, 1),
                    "verify_per_image": round(search_seconds / (len(own) + sum(map(len, negatives.values()))), 4)},
    }
    print(json.dumps({k: result[k] for k in ("cosine", "train_cosine", "identifiability", "threshold",
                                             "encoder_only_auc", "seconds")}, indent=1))
    print(json.dumps(result["test"], indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.plot:
        plot_distance_histogram(dist, verifier.threshold, args.plot, title=f"verifying {args.gan.name}")


if __name__ == "__main__":
    main()
