"""Robustness: the perturbation suite, the accuracy-under-perturbation table, immunisation (seed 004)."""

from ganprint.robustness.evaluate import format_robustness, parse_perturb_options, robustness_report, target_check
from ganprint.robustness.immunise import (
    ImmuniseConfig,
    RandomPerturbation,
    immunise,
    parse_family_ranges,
    parse_family_weights,
)
from ganprint.robustness.perturbations import (
    JPEG,
    PERTURBATIONS,
    Compose,
    CropResize,
    GaussianBlur,
    GaussianNoise,
    PerturbationSpec,
    Relight,
    create_perturbation,
    default_grid,
    perturb_uint8,
    strength_key,
)

__all__ = [
    "JPEG", "PERTURBATIONS", "Compose", "CropResize", "GaussianBlur", "GaussianNoise", "ImmuniseConfig",
    "PerturbationSpec", "RandomPerturbation", "Relight", "create_perturbation", "default_grid",
    "format_robustness", "immunise", "parse_family_ranges", "parse_family_weights", "parse_perturb_options",
    "perturb_uint8", "robustness_report", "strength_key", "target_check",
]
