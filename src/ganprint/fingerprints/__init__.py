"""Fingerprints of image sources: signal statistics (spectra, noise residuals) and the
training-free residual-correlation attributor."""

from ganprint.fingerprints.correlation import ResidualCorrelationAttributor
from ganprint.fingerprints.signal import (
    denoise,
    images_to_float,
    log_spectrum,
    noise_residual,
    signal_fingerprints,
    source_means,
)

__all__ = ["ResidualCorrelationAttributor", "denoise", "images_to_float", "log_spectrum", "noise_residual",
           "signal_fingerprints", "source_means"]
