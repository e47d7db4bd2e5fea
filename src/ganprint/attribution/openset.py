"""Open-set attribution: answer "unknown source" instead of forcing a known one.

An image is accepted (attributed to its argmax class) when its score is at least a threshold, and
rejected as coming from an unknown source otherwise. The threshold is fitted on validation images of
the known sources so that a chosen share of them (``accept_rate``, 95% by default) is accepted.

Scores (higher = more like the known sources), functions of the logits and the temperature:

* ``max_probability``: the largest calibrated probability ``max softmax(z / T)`` (Hendrycks &
  Gimpel, "A Baseline for Detecting Misclassified and Out-of-Distribution Examples", ICLR 2017);
* ``energy``: the negative free energy ``T * logsumexp(z / T)`` (Liu et al., "Energy-based
  Out-of-distribution Detection", NeurIPS 2020), which keeps the logits' magnitude that the
  softmax normalises away.

The default is ``ensemble`` (below): energy plus the low-level statistics of the network's first
convolution and of the image itself. Energy alone beat the maximum probability on unseen *generators* (zoo experiment:
MNIST group 1 known, a fully connected GAN and GAN_1 retrained with another seed unknown; seed CNN
on pixels 0.862 / 0.842 vs 0.682 / 0.757), though not on unseen *digit classes* (0.874 vs 0.902),
and the ensemble lifts the fully connected GAN to 0.966 (``benchmarks/unknown_scores.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

ScoreFunction = Callable[[np.ndarray, float], np.ndarray]


def _logits(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 1:
        raise ValueError(f"need logits (N, K), got shape {z.shape}")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be positive and finite, got {temperature}")
    return z / temperature


def max_probability_score(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``max softmax(logits / temperature)`` per image (the calibrated confidence)."""
    from scipy.special import softmax

    return softmax(_logits(logits, temperature), axis=1).max(1)


def energy_score(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Negative free energy ``temperature * logsumexp(logits / temperature)`` per image
    (Liu et al. 2020); large for inputs like the training data."""
    from scipy.special import logsumexp

    return temperature * logsumexp(_logits(logits, temperature), axis=1)


SCORES: dict[str, ScoreFunction] = {"max_probability": max_probability_score, "energy": energy_score}
DEFAULT_SCORE = "ensemble"  # defined below; see ENSEMBLE_SCORE


def score_function(name: str) -> ScoreFunction:
    """The score function called ``name``; an unknown name is a clear error listing the known ones."""
    try:
        return SCORES[name]
    except KeyError:
        raise ValueError(f"unknown open-set score {name!r}; known: {', '.join(sorted(SCORES))}") from None


def fit_rejection_threshold(scores_val: np.ndarray, accept_rate: float = 0.95) -> float:
    """The largest threshold accepting (``score >= threshold``) at least ``accept_rate`` of the
    known-source validation scores: the ``ceil(accept_rate * n)``-th largest score. With distinct
    scores exactly that many are accepted; ties at the threshold are all accepted."""
    s = np.asarray(scores_val, dtype=np.float64).ravel()
    if len(s) == 0:
        raise ValueError("need at least one validation score to fit a rejection threshold")
    if not np.isfinite(s).all():
        raise ValueError("validation scores must be finite")
    if not 0.0 < accept_rate <= 1.0:
        raise ValueError(f"accept_rate must be in (0, 1], got {accept_rate}")
    k = max(1, math.ceil(accept_rate * len(s) - 1e-9))  # 1e-9: 0.07 * 100 is 7.000000000000001
    return float(np.sort(s)[::-1][k - 1])


def open_set_report(scores_known: np.ndarray, y_known: np.ndarray, pred_known: np.ndarray,
                    scores_unknown: np.ndarray, threshold: float) -> dict[str, Any]:
    """How well known and unknown sources are told apart at ``threshold``.

    * ``unknown_auroc``: ROC AUC of the score separating known (higher) from unknown images,
      threshold-free; ``None`` unless both kinds are present;
    * ``open_set_accuracy``: share of all images answered right: a known image accepted with the
      right class, an unknown image rejected;
    * ``known_accept_rate`` / ``unknown_reject_rate``: shares accepted / rejected;
    * ``closed_set_accuracy`` (all known images, no rejection) and ``accepted_accuracy`` (the
      accepted known images), for context.
    """
    from sklearn.metrics import roc_auc_score

    sk = np.asarray(scores_known, dtype=np.float64).ravel()
    su = np.asarray(scores_unknown, dtype=np.float64).ravel()
    yk, pk = np.asarray(y_known).ravel(), np.asarray(pred_known).ravel()
    if not (len(sk) == len(yk) == len(pk)):
        raise ValueError(f"scores_known, y_known and pred_known differ in length: {len(sk)}, {len(yk)}, {len(pk)}")
    n_known, n_unknown = len(sk), len(su)
    accepted = sk >= threshold
    right = yk == pk
    rejected = su < threshold
    total = n_known + n_unknown
    both = n_known > 0 and n_unknown > 0
    auroc = roc_auc_score(np.r_[np.ones(n_known), np.zeros(n_unknown)], np.r_[sk, su]) if both else None
    return {
        "unknown_auroc": None if auroc is None else float(auroc),
        "open_set_accuracy": float(((accepted & right).sum() + rejected.sum()) / total) if total else None,
        "known_accept_rate": float(accepted.mean()) if n_known else None,
        "unknown_reject_rate": float(rejected.mean()) if n_unknown else None,
        "closed_set_accuracy": float(right.mean()) if n_known else None,
        "accepted_accuracy": float(right[accepted].mean()) if accepted.any() else None,
        "threshold": float(threshold),
        "n_known": int(n_known),
        "n_unknown": int(n_unknown),
    }


# -- feature-space score ------------------------------------------------------------------------
FEATURE_SCORE = "mahalanobis"
"""A third score, on the network's penultimate features rather than its logits (Lee et al., "A
Simple Unified Framework for Detecting Out-of-Distribution Samples and Adversarial Attacks",
NeurIPS 2018): minus the smallest Mahalanobis distance to a known class's mean, with one shared
covariance (Ledoit-Wolf shrinkage). Logit scores can be confidently wrong on inputs far from every
class (noise, another generator family), because the softmax only compares classes; a distance in
feature space does not have that blind spot."""


def fit_feature_density(features: np.ndarray, labels: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Class means (K, D) and the shared precision matrix (D, D) of training features."""
    from sklearn.covariance import LedoitWolf

    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2 or labels.shape != (len(features),):
        raise ValueError(f"need features (N, D) and labels (N,), got {features.shape} and {labels.shape}")
    means = np.stack([features[labels == k].mean(0) if (labels == k).any() else np.zeros(features.shape[1])
                      for k in range(n_classes)])
    centred = features - means[labels]
    precision = LedoitWolf(assume_centered=True).fit(centred).precision_
    return {"means": means, "precision": precision}


def mahalanobis_score(features: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """``-min_k (f - mu_k)^T P (f - mu_k)`` per row of ``features`` (higher = more known)."""
    f = np.asarray(features, dtype=np.float64)
    # (f - mu) @ P through BLAS: ten times faster than a three-operand einsum
    d = np.stack([(((f - m) @ precision) * (f - m)).sum(1) for m in np.asarray(means)], 1)
    return -d.min(1)


SPECTRUM_BINS = 8
"""Radial frequency bands of :func:`image_statistics`' power spectrum."""


def image_statistics(x: torch.Tensor, bins: int = SPECTRUM_BINS) -> torch.Tensor:
    """Low-level statistics of float images (N, C, H, W) in [0, 1], per channel: (N, C * (20 + bins + 5)).

    A description of how an image was *made* that does not depend on any trained network, for the
    ensemble unknown-source score: mean, std, mean absolute value and share of near-zero values of
    the image, its high-pass residual (image minus 3x3 mean), Laplacian and horizontal and vertical
    differences (20); the log mean power in ``bins`` radial bands of the 2-D spectrum (a band with
    no frequency at this size gets 0); the share of pixels in five intensity ranges (saturated
    black and white, dark, mid, bright). A generator leaves its trace in these (upsampling
    periodicities, smoothness, noise floor, how often it hits exact black) whatever the classifier
    learned to look at.
    """
    import torch
    import torch.nn.functional as F

    if x.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    x = x.to(torch.float32).reshape(n * c, 1, h, w)
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    rows = p[..., :-2, :] + p[..., 1:-1, :] + p[..., 2:, :]
    box = (rows[..., :-2] + rows[..., 1:-1] + rows[..., 2:]) / 9.0  # 3x3 mean (slices beat a 1-channel conv)
    laplace = p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:] - 4.0 * x
    maps = [x, x - box, laplace, x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]]
    stats = []
    for m in maps:
        f = m.flatten(1)
        var, mean = torch.var_mean(f, 1, correction=0)
        magnitude = f.abs()
        stats += [mean, var.sqrt(), magnitude.mean(1), (magnitude < 1e-3).float().mean(1)]
    power = torch.fft.rfft2(x[:, 0]).abs().square().flatten(1)  # the other half mirrors it
    radius = (torch.fft.fftfreq(h)[:, None].square() + torch.fft.rfftfreq(w)[None, :].square()).sqrt().flatten()
    band = torch.bucketize(radius, torch.linspace(0.0, float(radius.max()) + 1e-6, bins + 1)[1:-1], right=True)
    members = F.one_hot(band, bins).to(torch.float32)  # (frequencies, bins)
    counts = members.sum(0)
    band_power = (power @ members) / counts.clamp(min=1)
    stats += list(torch.where(counts > 0, torch.log(band_power + 1e-8), torch.zeros(())).T)
    for lo, hi in ((-1.0, 0.02), (0.02, 0.2), (0.2, 0.8), (0.8, 0.98), (0.98, 2.0)):
        stats.append(((x >= lo) & (x < hi)).float().flatten(1).mean(1))
    return torch.stack(stats, 1).reshape(n, -1)


# -- ensemble score ------------------------------------------------------------------------------
ENSEMBLE_SCORE = "ensemble"
"""Energy plus two low-level views (Lee et al. 2018's feature ensemble, without the weights they
fit on out-of-distribution data, which a user does not have): the Mahalanobis scores of the
per-channel mean and standard deviation of the network's first convolution (its stem) and of the
network-independent :func:`image_statistics`, each part standardised on known-source validation
images (median 0, unit spread) and summed. The logits see only what separates the known sources;
an unseen generator of another family can land confidently in one of them (a fully connected GAN's
digits look "real" to a detector trained on convolutional GANs), while its low-level statistics
(smoothness, noise, no upsampling traces) still differ from every known source's. How much the
stem says depends on the architecture (three channels in gandct-conv, none in logreg); the image
statistics say the same whatever the classifier."""

# -- nearest-neighbour score ---------------------------------------------------------------------
KNN_SCORE = "knn"
"""Minus the distance from an image's L2-normalised penultimate features to its ``k``-th nearest
training image's (Sun et al., "Out-of-Distribution Detection with Deep Nearest Neighbors", ICML
2022). Unlike Mahalanobis it assumes no Gaussian class shape, and unlike the logit scores it does
not ask whether the image is *between* known sources but whether anything like it was seen."""

KNN_K = 5


def normalise_features(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32)."""
    f = np.asarray(features, dtype=np.float32)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def knn_score(features: np.ndarray, bank: np.ndarray, k: int = KNN_K, chunk: int = 1024) -> np.ndarray:
    """``-||f - b_(k)||`` per row of ``features`` against the unit-norm ``bank`` (training features,
    :func:`normalise_features`), with ``b_(k)`` its ``k``-th nearest row (k clipped to the bank)."""
    bank = np.asarray(bank, dtype=np.float32)
    if bank.ndim != 2 or len(bank) == 0:
        raise ValueError(f"need a non-empty feature bank (M, D), got shape {bank.shape}")
    f = normalise_features(features)
    k = max(1, min(k, len(bank)))
    out = np.empty(len(f), dtype=np.float64)
    for start in range(0, len(f), chunk):
        sim = f[start:start + chunk] @ bank.T  # unit vectors: distance^2 = 2 - 2 cos
        kth = -np.partition(-sim, k - 1, axis=1)[:, k - 1]
        out[start:start + chunk] = -np.sqrt(np.maximum(2.0 - 2.0 * kth, 0.0))
    return out


ALL_SCORES = (*SCORES, FEATURE_SCORE, ENSEMBLE_SCORE, KNN_SCORE)
AUTO_SCORE = "auto"
"""Let the data choose among :data:`ALL_SCORES` by leaving each known source out in turn
(:mod:`ganprint.attribution.unknown_selection`)."""


def choose_score(aurocs: dict[str, list[float]]) -> str:
    """The score with the highest mean leave-one-source-out AUROC (ties: the first in
    :data:`ALL_SCORES` order). ``aurocs`` maps a score to its AUROC per held-out source."""
    ranked = [(float(np.mean(v)), -ALL_SCORES.index(name), name) for name, v in aurocs.items() if v]
    if not ranked:
        raise ValueError("no AUROC to choose a score from")
    return max(ranked)[2]


def fit_score_scales(parts: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """``{part: [median, scale]}`` of each part's validation scores; the scale is the standard
    deviation (1 when the scores are constant)."""
    scales = {}
    for name, values in parts.items():
        v = np.asarray(values, dtype=np.float64).ravel()
        if len(v) == 0 or not np.isfinite(v).all():
            raise ValueError(f"need finite validation scores for {name!r}")
        spread = float(v.std())
        scales[name] = [float(np.median(v)), spread if spread > 0 else 1.0]
    return scales


def combine_scores(parts: dict[str, np.ndarray], scales: dict[str, list[float]]) -> np.ndarray:
    """Sum of the parts standardised with ``scales`` (:func:`fit_score_scales`); parts without a
    scale are ignored, a scaled part that is missing is an error."""
    missing = set(scales) - set(parts)
    if missing:
        raise ValueError(f"score parts missing: {sorted(missing)}")
    return np.sum([(np.asarray(parts[n], dtype=np.float64) - m) / s for n, (m, s) in scales.items()], axis=0)
