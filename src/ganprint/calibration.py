"""Probability calibration: temperature scaling and expected calibration error.

Pure functions on arrays. Temperature scaling (Guo et al., "On Calibration of Modern Neural
Networks", ICML 2017) divides a classifier's logits by one scalar ``T`` fitted on held-out data
by minimising the negative log-likelihood; it changes confidences, never the predicted class.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, softmax


def _check(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if logits.ndim != 2 or labels.shape != (len(logits),):
        raise ValueError(f"need logits (N, C) and labels (N,), got {logits.shape} and {labels.shape}")
    if len(logits) == 0:
        raise ValueError("need at least one example")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError("labels out of range")
    return logits, labels.astype(np.int64)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)``."""
    logits, labels = _check(logits, labels)
    logp = log_softmax(logits / temperature, axis=1)
    return float(-logp[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature ``T`` in ``bounds`` minimising the NLL of ``softmax(logits / T)``."""
    from scipy.optimize import minimize_scalar  # here: scoring files needs no optimiser (0.5 s to import)

    logits, labels = _check(logits, labels)
    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    res = minimize_scalar(lambda log_t: nll(logits, labels, float(np.exp(log_t))), bounds=(lo, hi),
                          method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def _bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width bins over [0, 1], right-closed: bin ``b`` holds ``b/n < c <= (b+1)/n`` (bin 0 also 0)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins
    weighted by their share of examples (Naeini et al. 2015; Guo et al. 2017)."""
    p, labels = _check(probabilities, labels)
    conf = p.max(1)
    correct = (p.argmax(1) == labels).astype(np.float64)
    bins = _bin_index(conf, n_bins)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def calibrated_probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)``."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> dict[str, np.ndarray]:
    """Data for a reliability diagram, binned as :func:`expected_calibration_error`.

    Returns ``edges`` (n_bins + 1,) and, per bin, ``confidence`` (mean max-probability),
    ``accuracy`` (share of argmax predictions that are right) and ``count``; empty bins have NaN
    confidence and accuracy. ``ECE = sum(count / N * |accuracy - confidence|)`` over non-empty bins.
    """
    p, labels = _check(probabilities, labels)
    conf = p.max(1)
    correct = (p.argmax(1) == labels).astype(np.float64)
    bins = _bin_index(conf, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(bins, weights=conf, minlength=n_bins) / count
        accuracy = np.bincount(bins, weights=correct, minlength=n_bins) / count
    return {"edges": np.linspace(0.0, 1.0, n_bins + 1), "confidence": confidence, "accuracy": accuracy,
            "count": count.astype(np.int64)}
