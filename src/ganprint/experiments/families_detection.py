"""Cross-family detection (Ricker et al., VISAPP 2024): real-vs-fake detectors trained on the
sources of some families, scored on every family. Pure functions for the scores and their summary
over detector seeds; the two stage bodies fit and score one detector."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganprint.experiments.families_data import REAL

if TYPE_CHECKING:
    from ganprint.attribution.training import FitConfig
    from ganprint.experiments.families import FamiliesRun

FAKE = "fake"


def detection_scores(p_fake_real: np.ndarray, p_fake_fake: np.ndarray) -> dict[str, float]:
    """AUROC and average precision of ``p_fake`` with the fakes as positives, and the accuracy at 0.5."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.concatenate([np.zeros(len(p_fake_real)), np.ones(len(p_fake_fake))])
    s = np.concatenate([p_fake_real, p_fake_fake])
    return {"auroc": float(roc_auc_score(y, s)), "ap": float(average_precision_score(y, s)),
            "accuracy": float(np.mean((s >= 0.5) == (y == 1))), "real": int(len(p_fake_real)),
            "fake": int(len(p_fake_fake))}


def balanced_fakes(images: dict[str, np.ndarray], n: int, seed: int) -> np.ndarray:
    """``n`` images drawn (by ``seed``) in equal shares from every source of ``images``."""
    names = list(images)
    shares = [n // len(names) + (1 if i < n % len(names) else 0) for i in range(len(names))]
    rng = np.random.default_rng(seed)
    parts = []
    for name, k in zip(names, shares, strict=True):
        pool = images[name]
        parts.append(pool[np.sort(rng.choice(len(pool), min(k, len(pool)), replace=False))])
    return np.concatenate(parts)


def fit_detector(study: FamiliesRun, fakes: list[str], fit: FitConfig, folder: Path) -> dict[str, Any]:
    """Fit a real-vs-fake detector: the real train digits against as many fake images, drawn equally
    from ``fakes``; its schedule and stop on the same kind of validation set."""
    from ganprint.attribution.attributor import Attributor, Preprocessing
    from ganprint.experiments.stages import fit_and_save

    sets = {}
    for split in ("train", "val"):
        real = study.images(split, [REAL.name])[REAL.name]
        fake = balanced_fakes(study.images(split, fakes), len(real), fit.seed)
        sets[split] = (np.concatenate([real, fake]), np.array([REAL.name] * len(real) + [FAKE] * len(fake)))
    model = Attributor(arch=study.protocol.get("attributor_arch", "seed-mnist-cnn"),
                       preprocessing=Preprocessing(size=(28, 28), channels=1), fit_config=fit,
                       device=str(study.device), real_classes=(REAL.name,))
    seconds = fit_and_save(model, folder, sets["train"], sets["val"], progress=study.progress)
    return {"fit_seconds": round(seconds, 2), "val_accuracy": float(model.score(*sets["val"])),
            "train_images": int(len(sets["train"][0])), "fakes": fakes}


def score_detector(study: FamiliesRun, stage: str) -> dict[str, Any]:
    """A fitted detector's scores on the test split: per source and per family (its sources pooled),
    each against the real test digits."""
    from ganprint.experiments.stages import load_stage_model

    model = load_stage_model(study.run_, f"models/{stage}", str(study.device))
    column = list(model.classes_).index(FAKE)
    names = list(study.sources)
    test = study.images("test", [REAL.name, *names])
    p = {n: model.predict_proba(x)[:, column] for n, x in test.items()}
    per_source = {n: detection_scores(p[REAL.name], p[n]) for n in names}
    per_family = {}
    for family in sorted({s.family for s in study.sources.values()}):
        members = [n for n in study.attribution_sources if study.sources[n].family == family] or \
                  [n for n in names if study.sources[n].family == family]
        per_family[family] = detection_scores(p[REAL.name], np.concatenate([p[n] for n in members]))
    return {"per_family": per_family, "per_source": per_source}


def summarise(per_seed: Sequence[dict[str, Any]], families: Sequence[str], sources: Sequence[str]) -> dict[str, Any]:
    """Mean AUROC and AP over detector seeds with their 95% Student-t intervals, per family and per
    source, and each seed's values."""
    from ganprint.experiments.repeats import interval

    def cell(rows: list[dict[str, float]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for metric in ("auroc", "ap"):
            iv = interval([r[metric] for r in rows])
            out.update({metric: iv.mean, f"{metric}_low": iv.low, f"{metric}_high": iv.high,
                        f"{metric}_runs": [r[metric] for r in rows]})
        out["n"] = len(rows)
        return out

    return {"summary": {f: cell([s["per_family"][f] for s in per_seed]) for f in families},
            "per_source": {n: cell([s["per_source"][n] for s in per_seed]) for n in sources}}
