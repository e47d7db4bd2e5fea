"""Verification by inversion (seed 000 §3.3): inverse model, latent optimisation, thresholded distance."""

from ganprint.inversion.encoder import InverseModel
from ganprint.inversion.search import LatentSearchConfig, l2_distance, search_latents
from ganprint.inversion.training import InverterTrainConfig, cosine_proximity, fit_inverse_model
from ganprint.inversion.verification import (
    FitInverterConfig,
    Verifier,
    assess_verifier,
    choose_threshold,
    fit_verifier,
    verification_metrics,
    verify_paths,
)

__all__ = [
    "FitInverterConfig",
    "InverseModel",
    "InverterTrainConfig",
    "LatentSearchConfig",
    "Verifier",
    "assess_verifier",
    "choose_threshold",
    "cosine_proximity",
    "fit_inverse_model",
    "fit_verifier",
    "l2_distance",
    "search_latents",
    "verification_metrics",
    "verify_paths",
]
