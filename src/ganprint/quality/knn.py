"""Improved precision and recall of generative models (Kynkäänniemi et al., NeurIPS 2019).

Each set of feature vectors stands for the manifold its distribution lies on: the union of balls
around its points, each ball reaching to the point's k-th nearest neighbour in its own set (the
point itself excluded). **Precision** is the share of fake points inside at least one real ball
(are the samples realistic?); **recall** the share of real points inside at least one fake ball
(do the samples cover the variety of the real data?). A generator that collapsed onto a few
prototypes scores high precision and low recall; one drawing noise scores low precision.

Both figures depend on the sample sizes (balls shrink as a set grows), so a figure is read against
:func:`real_recall_floor`: one random half of the real features scored against the other, what a
perfect generator would score at that size. Distances are exact Euclidean distances in float64,
computed a block of rows at a time (memory ``batch_size x N`` floats), so the figures do not depend
on the machine or its thread count, and repeated points are at distance exactly 0.
"""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_K = 3
BATCH = 1024


def _as_features(name: str, x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``x`` as a float64 CPU tensor (N, D), after checking its shape and values."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).detach().cpu()
    if t.ndim != 2:
        raise ValueError(f"{name} features must be a 2-D array (N, D), got shape {tuple(t.shape)}")
    if t.shape[1] == 0:
        raise ValueError(f"{name} features have no dimensions (shape {tuple(t.shape)})")
    t = t.to(torch.float64)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} features contain NaN or infinite values")
    return t


def _check_k(what: str, n: int, k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k >= n:
        raise ValueError(f"k-NN radii need more than k {what} (a point is not its own neighbour); "
                         f"got k={k} with {n}")


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def knn_radii(features: np.ndarray | torch.Tensor, k: int = DEFAULT_K, *, batch_size: int = BATCH) -> np.ndarray:
    """Distance (N,) from each point to its ``k``-th nearest neighbour in the same set, itself excluded
    (a point with ``k`` or more exact copies has radius 0)."""
    x = _as_features("input", features)
    _check_k("points", len(x), k)
    radii = torch.empty(len(x), dtype=torch.float64)
    for start in range(0, len(x), batch_size):
        d = _distances(x[start:start + batch_size], x)
        rows = torch.arange(len(d))
        d[rows, rows + start] = float("inf")
        radii[start:start + len(d)] = d.kthvalue(k, dim=1).values
    return radii.numpy()


def precision_recall(real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor, *, k: int = DEFAULT_K,
                     batch_size: int = BATCH) -> dict[str, float]:
    """``{"precision", "recall"}`` of ``fake`` (M, D) against ``real`` (N, D), each in [0, 1].

    A point is inside a ball when its distance to the centre is at most the radius (Kynkäänniemi et
    al.'s ``<=``). Raises ValueError unless both are finite 2-D arrays of the same width with more
    than ``k`` points each.
    """
    r, f = _as_features("real", real), _as_features("fake", fake)
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"real and fake features differ in width: {r.shape[1]} vs {f.shape[1]}")
    _check_k("real points", len(r), k)
    _check_k("fake points", len(f), k)
    real_radii = torch.from_numpy(knn_radii(r, k, batch_size=batch_size))
    fake_radii = torch.from_numpy(knn_radii(f, k, batch_size=batch_size))
    fake_inside = torch.zeros(len(f), dtype=torch.bool)
    real_inside = torch.zeros(len(r), dtype=torch.bool)
    for start in range(0, len(f), batch_size):  # one pass over the fake-by-real distances serves both
        d = _distances(f[start:start + batch_size], r)
        fake_inside[start:start + len(d)] = (d <= real_radii[None, :]).any(1)
        real_inside |= (d <= fake_radii[start:start + len(d), None]).any(0)
    return {"precision": float(fake_inside.double().mean()), "recall": float(real_inside.double().mean())}


def split_halves(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random split of ``range(n)`` into two halves (the first gets the odd one), each sorted."""
    order = np.random.default_rng(seed).permutation(n)
    first = (n + 1) // 2
    return np.sort(order[:first]), np.sort(order[first:])


def real_recall_floor(real_features: np.ndarray | torch.Tensor, seed: int = 0, *, k: int = DEFAULT_K,
                      batch_size: int = BATCH) -> dict[str, float]:
    """``{"precision", "recall"}`` of one random half of ``real_features`` (the fake side) against the
    other (the real side, :func:`split_halves`): what a generator drawing exactly the real
    distribution scores with that many samples. Needs at least ``2 * (k + 1)`` points."""
    x = _as_features("real", real_features)
    if len(x) < 2 * (k + 1):
        raise ValueError(f"splitting real features in halves with k={k} needs at least {2 * (k + 1)} "
                         f"points, got {len(x)}")
    reference, held_out = split_halves(len(x), seed)
    return precision_recall(x[reference], x[held_out], k=k, batch_size=batch_size)
