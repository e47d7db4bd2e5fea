"""``ganprint train --arch auto``: a few candidates trained within the time budget, the best kept.

The candidates (architecture x input representation) each train with their measured settings on
the training split and are compared on the validation split only: highest validation accuracy,
then lowest validation loss. The test split, if the data has one, is never read. The winner's
unknown-source score is then chosen by leaving each known source out in turn
(:mod:`ganprint.attribution.unknown_selection`). The selection table (candidate, validation
accuracy and loss, epochs, seconds) and the score choice travel in the model's config, and
``ganprint eval`` prints them.

Interrupted runs resume: each finished candidate is saved under the checkpoint folder, an unfinished
one resumes from its last epoch, and every finished leave-one-source-out fold is kept.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganprint.attribution.attributor import Attributor, Preprocessing
from ganprint.attribution.defaults import AUTO_ARCH, TARGET_FPR
from ganprint.attribution.openset import AUTO_SCORE, ENSEMBLE_SCORE
from ganprint.attribution.training import FitConfig, recipe
from ganprint.serialization import read_json, write_json

__all__ = ["AUTO_ARCH", "DEFAULT_CANDIDATES", "AutoConfig", "Candidate", "train_auto"]


@dataclass(frozen=True)
class Candidate:
    """An architecture with an input representation, and its share of the candidates' time budget."""

    arch: str
    representation: str = "pixels"
    share: float = 1.0

    @property
    def label(self) -> str:
        return f"{self.arch}/{self.representation}"


DEFAULT_CANDIDATES: tuple[Candidate, ...] = (
    Candidate("gpnet-s", "pixels", share=0.85),
    Candidate("logreg", "pixels+dct", share=0.15),
)
"""The default candidate set: ganprint's general-purpose CNN on pixels, and a linear model on pixels
and their DCT spectrum (Frank et al. 2020), which wins where a source's trace is a fixed spectral
peak and costs a few seconds. Chosen on the generalisation suite (``benchmarks/defaults_suite.py``,
docs/defaults.md)."""


@dataclass(frozen=True)
class AutoConfig:
    """What ``--arch auto`` trains and how long.

    ``time_budget`` (seconds, None: each candidate trains to convergence) covers the candidates and
    the unknown-score folds; the folds get ``unknown_share`` of it. ``fit_overrides`` (epochs, lr,
    ...) apply to every candidate's recipe. Without a budget, all folds together train for
    ``fold_epochs`` times the winner's epochs (each fold at least 2), so choosing the score costs
    about half the winner's training.
    """

    candidates: tuple[Candidate, ...] = DEFAULT_CANDIDATES
    time_budget: float | None = None
    recipe: str = "adam"
    fit_overrides: dict[str, Any] = field(default_factory=dict)
    unknown_score: str = AUTO_SCORE
    unknown_share: float = 0.2
    fold_epochs: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.candidates:
            raise ValueError("need at least one candidate")
        if any(c.share <= 0 for c in self.candidates):
            raise ValueError("candidate shares must be > 0")
        if self.time_budget is not None and self.time_budget <= 0:
            raise ValueError(f"time_budget must be > 0 seconds, got {self.time_budget}")
        if not 0.0 <= self.unknown_share < 1.0:
            raise ValueError(f"unknown_share must be in [0, 1), got {self.unknown_share}")


def candidate_fit(candidate: Candidate, config: AutoConfig, time_budget: float | None) -> FitConfig:
    """The candidate's measured recipe with the user's overrides and its share of the budget."""
    overrides = {k: v for k, v in config.fit_overrides.items() if v is not None}
    return recipe(config.recipe, arch=candidate.arch, seed=config.seed, time_budget=time_budget, **overrides)


def _budgets(config: AutoConfig, n_sources: int) -> tuple[list[float | None], float | None]:
    """Per-candidate budgets and the budget of all unknown-score folds together."""
    if config.time_budget is None:
        return [None] * len(config.candidates), None
    folds = config.time_budget * config.unknown_share if _choose_score(config, n_sources) else 0.0
    rest = config.time_budget - folds
    total = sum(c.share for c in config.candidates)
    return [rest * c.share / total for c in config.candidates], folds or None


def _choose_score(config: AutoConfig, n_sources: int) -> bool:
    from ganprint.attribution.unknown_selection import MIN_SOURCES

    return config.unknown_score == AUTO_SCORE and n_sources >= MIN_SOURCES


def validation_figures(model: Attributor, X_val: np.ndarray, y_val: np.ndarray) -> dict[str, float]:
    """Accuracy and cross-entropy (before temperature scaling) of ``model`` on validation images."""
    from scipy.special import log_softmax

    logits = model.decision_function(X_val)
    labels = np.searchsorted(model.classes_, np.asarray(y_val))
    return {"val_accuracy": float((logits.argmax(1) == labels).mean()),
            "val_loss": float(-log_softmax(logits, axis=1)[np.arange(len(labels)), labels].mean())}


def train_auto(X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None, y_val: np.ndarray | None, *,
               preprocessing: Preprocessing, config: AutoConfig = AutoConfig(),  # noqa: B008 - frozen
               device: str = "auto", real_classes: Sequence[str] = ("real",), accept_rate: float = 0.95,
               target_fpr: float = TARGET_FPR, progress: bool = True,
               checkpoint_dir: str | Path | None = None, log: Callable[[str], None] | None = None) -> Attributor:
    """Train every candidate, keep the best on validation, choose its unknown-source score.

    Without validation images the first candidate is trained and kept (nothing to choose on).
    """
    from ganprint.models import arch_info

    log = log or (lambda _msg: None)
    has_val = X_val is not None and y_val is not None and len(X_val) > 0
    n_sources = len(np.unique(y))
    candidates = config.candidates if has_val else config.candidates[:1]
    budgets, fold_budget = _budgets(dataclasses.replace(config, candidates=candidates), n_sources)
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    for c in candidates:
        arch_info(c.arch)  # an unknown name fails before any training
    table, fitted = [], []
    for candidate, budget in zip(candidates, budgets, strict=True):
        done = ckpt / "candidates" / candidate.label.replace("/", "--") if ckpt else None
        t0 = time.perf_counter()
        if done is not None and (done / "selection.json").is_file():
            model = Attributor.load(done, device=device)
            row = read_json(done / "selection.json")
        else:
            model = Attributor(arch=candidate.arch, preprocessing=preprocessing, device=device,
                               fit_config=candidate_fit(candidate, config, budget),
                               representation=candidate.representation, real_classes=tuple(real_classes),
                               accept_rate=accept_rate, unknown_score=ENSEMBLE_SCORE, target_fpr=target_fpr)
            log(f"candidate {candidate.label}" + (f" (budget {budget:.0f}s)" if budget else ""))
            model.fit(X, y, X_val, y_val, progress=progress,
                      checkpoint_dir=done.parent / (done.name + ".fit") if done else None)
            row = {"candidate": candidate.label, "arch": candidate.arch, "representation": candidate.representation,
                   "parameters": int(sum(p.numel() for p in model.model_.parameters())),
                   "epochs": int(model.history_.get("epochs_run", 0)), "seconds": time.perf_counter() - t0,
                   "stopped_by": model.history_.get("stopped_by", "epochs"),
                   **(validation_figures(model, X_val, y_val) if has_val else {})}
            if done is not None:
                model.save(done)
                write_json(done / "selection.json", row)
        log(f"candidate {candidate.label}: " + (f"val accuracy {row['val_accuracy']:.4f}, val loss "
                                                f"{row['val_loss']:.4f}, " if has_val else "")
            + f"{row['epochs']} epochs, {row['seconds']:.0f}s")
        table.append(row)
        fitted.append(model)
    best = max(range(len(table)), key=lambda i: (table[i].get("val_accuracy", 0.0), -table[i].get("val_loss", 0.0)))
    for i, row in enumerate(table):
        row["chosen"] = i == best
    model, winner = fitted[best], candidates[best]
    model.history_["selection"] = {"rule": "highest validation accuracy, then lowest validation loss; test data "
                                           "never read", "candidates": table}
    if _choose_score(config, n_sources) and has_val:
        choose_unknown_score(model, X, y, X_val, y_val, winner=winner, config=config, fold_budget=fold_budget,
                             device=device, checkpoint_dir=ckpt / "unknown-score" if ckpt else None, log=log)
    elif config.unknown_score not in (AUTO_SCORE, model.unknown_score) and has_val:
        model.unknown_score = config.unknown_score
        model.calibrate(X_val, y_val)
    return model


def choose_unknown_score(model: Attributor, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, *,
                         winner: Candidate, config: AutoConfig, fold_budget: float | None, device: str,
                         checkpoint_dir: Path | None, log: Callable[[str], None]) -> None:
    """Leave each known source out in turn with ``winner``'s architecture, set ``model``'s unknown
    score to the best on average and recalibrate its threshold; the folds go in its history."""
    from ganprint.attribution.unknown_selection import LosoConfig, fold_sources, leave_one_source_out

    loso = LosoConfig(seed=config.seed)
    n_folds = len(fold_sources(sorted(set(np.asarray(y).tolist())), loso.max_folds))
    epochs = max(2, round(model.history_.get("epochs_run", 3) * config.fold_epochs / n_folds))
    base = candidate_fit(winner, config, fold_budget / n_folds if fold_budget else None)
    fold_fit = dataclasses.replace(base, epochs=min(base.epochs, epochs) if fold_budget is None else base.epochs)

    def make(_held_out: str) -> Attributor:
        return Attributor(arch=winner.arch, preprocessing=model.preprocessing, device=device, fit_config=fold_fit,
                          representation=winner.representation, real_classes=model.real_classes,
                          accept_rate=model.accept_rate, unknown_score=ENSEMBLE_SCORE)

    result = leave_one_source_out(make, X, y, X_val, y_val, loso, progress=log, cache_dir=checkpoint_dir)
    model.history_["unknown_score_selection"] = result
    if "chosen" in result:
        model.unknown_score = result["chosen"]
        model.calibrate(X_val, y_val)
        log(f"unknown-source score: {result['chosen']} (leave-one-source-out AUROC "
            f"{result['estimated_auroc']:.3f}; " + ", ".join(f"{k} {v:.3f}" for k, v in result["mean_auroc"].items())
            + ")")
    else:
        log(f"unknown-source score: kept {model.unknown_score} ({result['skipped']})")
