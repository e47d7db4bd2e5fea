"""Verification by inversion in ``cifar-gans`` (seed 000 §3.3): the stage that fits the seed's inverse
model of one GAN and chooses its threshold on validation images, and the report stage that verifies
test images with it (new latent streams of both GANs, crops of the test photos)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ganprint.experiments.gan_study_data import REAL, sample_images
from ganprint.experiments.run import REPORT, SELECTION

if TYPE_CHECKING:
    from ganprint.experiments.cifar_gans import CifarGansRun

# latent streams of the verification images (validation positives use VALIDATION_SEED of fit_verifier)
OTHER_VAL_STREAM, OWN_TEST_STREAM, OTHER_TEST_STREAM = 101, 202, 303
VAL_REAL_OFFSET, TEST_REAL_OFFSET = 11, 12


def _sizes(study: CifarGansRun, name: str) -> tuple[dict[str, Any], int, int]:
    cfg = study.profile.inversion_settings(name)
    return cfg, int(cfg.get("n_val", 150)), int(cfg.get("n_test", 300))


def fit_inversion(study: CifarGansRun, name: str, other: str) -> dict[str, Any]:
    """Fit GAN ``name``'s inverse model (stored in its folder) and choose the threshold on validation:
    fresh own samples against ``other``'s validation stream and crops of the validation photo; with
    the generator's Jacobian spectrum at random latents (why the cosine is what it is)."""
    from ganprint.gans.sampling import load_generator
    from ganprint.inversion import FitInverterConfig, InverterTrainConfig, LatentSearchConfig, fit_verifier
    from ganprint.inversion.identifiability import identifiability_report

    cfg, n_val, n_test = _sizes(study, name)
    study.run_.read(SELECTION, "validation images of the other GAN and the validation photo")
    val_negatives = np.concatenate([sample_images(study.gan_dir(other), n_val, OTHER_VAL_STREAM),
                                    study.real("val", n_val, study.seed + VAL_REAL_OFFSET)])
    config = FitInverterConfig(
        train=InverterTrainConfig(**{k: cfg[k] for k in ("n_pairs", "epochs", "lr", "batch_size", "warm_start",
                                                          "precision") if k in cfg}),
        search=LatentSearchConfig(**{k.removeprefix("search_"): cfg[k] for k in ("search_steps", "search_lr",
                                                                                 "search_precision") if k in cfg}),
        n_validation=n_val)
    t0 = time.perf_counter()
    info = fit_verifier(study.gan_dir(name), val_negatives, config, device=study.device, progress=study.progress)
    fit_seconds = time.perf_counter() - t0
    G, gan_cfg = load_generator(study.gan_dir(name), study.device)
    spectrum = identifiability_report(G, int(gan_cfg["latent_dim"]), n=int(cfg.get("jacobian_latents", 4)),
                                      seed=study.seed)
    return {"gan": name, "negatives": [other, REAL], "cosine": info["cosine"], "identifiability": spectrum,
            "warm_started": info["warm_started"],
            "latent_regression": float(gan_cfg["train"].get("latent_regression", 0.0)),
            "train_cosine": info["train_cosine"], "threshold": info["threshold"],
            "validation_accuracy": info["validation"]["accuracy"], "fit_seconds": round(fit_seconds, 2),
            "config": {"train": config.train.to_dict(), "search": config.search.to_dict(),
                       "n_val": n_val, "n_test": n_test}}


def verify(study: CifarGansRun, name: str, other: str) -> dict[str, Any]:
    """GAN ``name``'s verifier on test images: its own new latent stream against ``other``'s and crops
    of the test photos (accuracy, ROC-AUC, per negative set, every distance)."""
    from ganprint.inversion import Verifier, assess_verifier

    _, _, n_test = _sizes(study, name)
    study.run_.read(REPORT, "test latent streams, crops of the test photos")
    verifier = Verifier.load(study.gan_dir(name), device=study.device)
    t0 = time.perf_counter()
    test = assess_verifier(verifier, sample_images(study.gan_dir(name), n_test, OWN_TEST_STREAM),
                           {f"other GAN ({other})": sample_images(study.gan_dir(other), n_test, OTHER_TEST_STREAM),
                            REAL: study.real("test", n_test, study.seed + TEST_REAL_OFFSET)})
    return {"verification_accuracy": test["accuracy"], "verification_auc": test["auc"], "test": test,
            "verify_seconds_per_image": round((time.perf_counter() - t0) / (3 * n_test), 4)}
