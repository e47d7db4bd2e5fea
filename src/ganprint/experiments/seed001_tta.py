"""The two stages of seed 001's test-time augmentation: the views the vote uses, chosen on the
validation split, and the test on 15 / 150 / all test images without and with the vote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def choose_views(model, x_val: np.ndarray, y_val: np.ndarray, candidates: tuple[str, ...],
                 tolerance: float) -> dict[str, Any]:
    """Validation accuracy per candidate view; the views within ``tolerance`` of identity."""
    from ganprint.attribution.attributor import images_to_tensor
    from ganprint.attribution.tta import apply_view

    x = images_to_tensor(x_val)
    acc = {}
    for view in candidates:
        xv = apply_view(view, x).permute(0, 2, 3, 1).contiguous().numpy()
        acc[view] = float((model.predict(xv) == y_val).mean())
    base = acc.get("identity", max(acc.values()))
    kept = [v for v in candidates if acc[v] >= base - tolerance]
    if "identity" not in kept:
        kept.insert(0, "identity")
    return {"val_accuracy_by_view": acc, "views": kept, "tolerance": tolerance}


def _changed(items, idx, paths, y, plain, tta_pred, votes) -> list[dict[str, Any]]:
    return [{"index": int(idx[i]), "path": str(paths[idx[i]]), "true": str(y[i]), "plain": str(plain[i]),
             "tta": str(tta_pred[i]), "votes": votes[i].tolist()} for i in items]


def tta_tests(model, test: tuple[np.ndarray, np.ndarray, list], views: list[str], sizes: tuple[int, ...],
              seed: int, fig_dir: Path) -> dict[str, dict[str, Any]]:
    """Per test sample (``sizes`` images drawn at random, equal numbers per source, then the whole
    split): accuracy and confusion matrix without and with the vote over ``views``, and the images
    the vote fixed and broke (their grids saved in ``fig_dir``)."""
    from ganprint.attribution.metrics import classification_report
    from ganprint.attribution.tta import tta_effect, tta_predict_proba
    from ganprint.experiments.yu_report import save_grid

    x_te, y_te, paths = test
    classes = [str(c) for c in model.classes_]
    rng = np.random.default_rng(seed)
    tests: dict[str, Any] = {}
    for size in (*sizes, None):
        if size is None:
            idx, key = np.arange(len(y_te)), f"all {len(y_te)}"
        else:
            per = size // len(classes)
            idx = np.sort(np.concatenate([rng.choice(np.flatnonzero(y_te == c), per, replace=False)
                                          for c in classes]))
            key = str(size)
        x, y = x_te[idx], y_te[idx]
        plain = np.asarray(classes)[model.predict_proba(x).argmax(1)]
        voted = tta_predict_proba(model.predict_proba, x, views=views)
        tta_pred = np.asarray(classes)[voted["label_index"]]
        effect = tta_effect(y, plain, tta_pred)
        y_idx = [classes.index(v) for v in y]
        changed = {what: _changed(effect[what], idx, paths, y, plain, tta_pred, voted["votes"])
                   for what in ("fixed", "broken")}
        tests[key] = {"n": int(len(y)), "accuracy_plain": effect["accuracy_plain"],
                      "accuracy_tta": effect["accuracy_tta"], "changed": effect["changed"],
                      "correct_plain": int((plain == y).sum()), "correct_tta": int((tta_pred == y).sum()),
                      "confusion_matrix_plain": classification_report(
                          y_idx, [classes.index(v) for v in plain], classes)["confusion_matrix"],
                      "confusion_matrix_tta": classification_report(
                          y_idx, [classes.index(v) for v in tta_pred], classes)["confusion_matrix"],
                      **changed, "indices": idx.tolist()}
        for what, items in changed.items():
            if items:
                save_grid(x_te[[f["index"] for f in items]], fig_dir / f"tta_{what}_{key.replace(' ', '_')}.png",
                          scale=4)
    return tests
