"""Test-time augmentation: predict on several views of each image and vote (seed 001).

Seed 001 scores rotated and flipped copies of an image and keeps the class most views agree on;
ties here go to the class with the highest mean probability. The views are the symmetries of the
pixel grid (flips and quarter turns), which move no pixel value and interpolate nothing, so a
fingerprint made of pixel-level correlations survives them, merely reoriented.

:data:`DEFAULT_VIEWS` is ``identity, hflip, vflip, rot180``: the four symmetries that keep rows as rows
and columns as columns. They apply to any aspect ratio (one default for every model), and they
form a group (any two compose to a third), so no view is favoured. Quarter turns (``rot90``,
``rot270``) swap height and width: they are used only for square images and skipped, and listed in
the result's ``skipped``, otherwise.

TTA helps only a model that is (nearly) invariant to the views, e.g. one trained with flips; a
model that reads orientation (upright digits) can get worse. Measure it with :func:`tta_effect`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ganprint.attribution.attributor import images_to_tensor

__all__ = ["DEFAULT_VIEWS", "VIEWS", "apply_view", "tta_effect", "tta_predict_proba", "usable_views"]

View = Callable[[torch.Tensor], torch.Tensor]

VIEWS: dict[str, View] = {
    "identity": lambda x: x,
    "hflip": lambda x: x.flip(-1),
    "vflip": lambda x: x.flip(-2),
    "rot90": lambda x: x.rot90(1, (-2, -1)),
    "rot180": lambda x: x.rot90(2, (-2, -1)),
    "rot270": lambda x: x.rot90(3, (-2, -1)),
}
"""Views as pure functions of images (..., H, W) (e.g. (N, C, H, W)); rotations are counter-clockwise."""

SHAPE_CHANGING = frozenset({"rot90", "rot270"})
DEFAULT_VIEWS: tuple[str, ...] = ("identity", "hflip", "vflip", "rot180")


def apply_view(name: str, x: torch.Tensor) -> torch.Tensor:
    """The view ``name`` of images ``x`` (..., H, W)."""
    if name not in VIEWS:
        raise ValueError(f"unknown view {name!r}; known views: {', '.join(VIEWS)}")
    return VIEWS[name](x)


def usable_views(views: Sequence[str], height: int, width: int) -> tuple[list[str], list[str]]:
    """Split ``views`` into those that apply to (height, width) images and those skipped
    (quarter turns of non-square images, which would change the input shape)."""
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        raise ValueError(f"unknown view(s) {unknown}; known views: {', '.join(VIEWS)}")
    if not views:
        raise ValueError("need at least one view")
    used = [v for v in views if height == width or v not in SHAPE_CHANGING]
    skipped = [v for v in views if v not in used]
    return used, skipped


def _to_nchw(images: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, Callable[[torch.Tensor], np.ndarray]]:
    """uint8 images -> (N, C, H, W) tensor, and the function turning a tensor of that layout back
    into the numpy layout the predict function receives (the caller's layout for numpy input,
    (N, H, W, C) for tensor input)."""
    if isinstance(images, torch.Tensor):
        if images.ndim != 4:
            raise ValueError(f"expected a tensor of images (N, C, H, W), got shape {tuple(images.shape)}")
        return images.detach().cpu(), lambda t: t.permute(0, 2, 3, 1).contiguous().numpy()
    images = np.asarray(images)
    x = images_to_tensor(images)
    if images.ndim == 3:
        return x, lambda t: t[:, 0].contiguous().numpy()
    return x, lambda t: t.permute(0, 2, 3, 1).contiguous().numpy()


def tta_predict_proba(predict_proba_fn: Callable[[np.ndarray], np.ndarray], images: np.ndarray | torch.Tensor,
                      views: Sequence[str] = DEFAULT_VIEWS) -> dict[str, Any]:
    """Class probabilities averaged over views of each image, and a majority vote.

    Args:
        predict_proba_fn: Maps uint8 images, numpy (N, H, W) or (N, H, W, C) as
            ``Attributor.predict_proba`` takes them, to probabilities (N, K).
        images: uint8 images, numpy (N, H, W) or (N, H, W, C) (passed on in the same layout), or a
            tensor (N, C, H, W) (passed on as (N, H, W, C)).
        views: Names from :data:`VIEWS`; quarter turns are skipped for non-square images.

    Returns:
        ``probabilities`` (N, K) mean over views; ``votes`` (N, K) int, how many views' argmax
        chose each class; ``label_index`` (N,) the most voted class, ties broken by the mean
        probability; ``per_view`` (V, N, K); ``views`` the views used and ``skipped`` the others.
    """
    x, to_numpy = _to_nchw(images)
    used, skipped = usable_views(views, x.shape[-2], x.shape[-1])
    per_view = np.stack([np.asarray(predict_proba_fn(to_numpy(apply_view(v, x))), dtype=np.float64)
                         for v in used])
    if per_view.ndim != 3 or per_view.shape[1] != len(x):
        raise ValueError(f"predict_proba_fn must return (N, K) = ({len(x)}, K) probabilities, "
                         f"got {per_view.shape[1:]}")
    mean = per_view.mean(0)
    votes = np.zeros(mean.shape, dtype=np.int64)
    label_index = np.zeros(len(x), dtype=np.int64)
    if mean.size:
        rows = np.arange(len(x))
        for choice in per_view.argmax(2):
            votes[rows, choice] += 1
        top = votes == votes.max(1, keepdims=True)
        label_index = np.where(top, mean, -np.inf).argmax(1)
    return {"probabilities": mean, "votes": votes, "label_index": label_index, "per_view": per_view,
            "views": used, "skipped": skipped}


def tta_effect(y_true: Sequence | np.ndarray, plain_pred: Sequence | np.ndarray,
               tta_pred: Sequence | np.ndarray) -> dict[str, Any]:
    """What test-time augmentation changed: accuracies without and with it, the indices it fixed
    (wrong before, right after) and those it broke (right before, wrong after)."""
    y, plain, tta = np.asarray(y_true), np.asarray(plain_pred), np.asarray(tta_pred)
    if not len(y) == len(plain) == len(tta):
        raise ValueError(f"lengths differ: y_true {len(y)}, plain_pred {len(plain)}, tta_pred {len(tta)}")
    ok_plain, ok_tta = plain == y, tta == y
    n = len(y)
    return {
        "n": n,
        "accuracy_plain": float(ok_plain.mean()) if n else float("nan"),
        "accuracy_tta": float(ok_tta.mean()) if n else float("nan"),
        "fixed": np.flatnonzero(~ok_plain & ok_tta).tolist(),
        "broken": np.flatnonzero(ok_plain & ~ok_tta).tolist(),
        "changed": int((plain != tta).sum()),
    }
