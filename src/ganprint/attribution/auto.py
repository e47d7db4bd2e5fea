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

import contextlib
import dataclasses
import tempfile
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
from ganprint.distributed import SINGLE, DistContext
from ganprint.serialization import read_json, write_json

__all__ = ["AUTO_ARCH", "DEFAULT_CANDIDATES", "AutoConfig", "Candidate", "train_auto"]


@dataclass(frozen=True)
class Candidate:
    """An architecture with an input representation, and its share of the candidates' time budget."""

    arch: str
    representation: str = "pixels"
    share: float = 1.0
    augment: str | None = None  # None: the architecture's measured setting

    @property
    def label(self) -> str:
        return f"{self.arch}/{self.representation}" + (f"+{self.augment}" if self.augment else "")


DEFAULT_CANDIDATES: tuple[Candidate, ...] = (
    Candidate("gpnet-s", "residual", share=0.45, augment="photometric"),
    Candidate("gpnet-s", "pixels", share=0.45, augment="none"),
    Candidate("logreg", "pixels+dct", share=0.1),
)
"""The default candidate set: ganprint's general-purpose CNN on the high-pass residual with
photometric augmentation (what an image shows removed, how it was made kept), the same CNN on
pixels, and a linear model on pixels and their DCT spectrum (Frank et al. 2020), which wins where a
source's trace is a fixed spectral peak and costs a few seconds. Measured on the generalisation
suite (``benchmarks/defaults_suite.py``, docs/defaults.md): on photo crops the pixel CNN also learns
what the training photos look like and calls a quarter to a third of the real images of unseen
photos fake, where the residual CNN calls 1-3 %; on grey digits the pixel CNN is 1-1.5 points more
accurate. The validation split told the two apart on every suite dataset after a fifth of the
training, hence the race (:attr:`AutoConfig.race_fraction`)."""


@dataclass(frozen=True)
class AutoConfig:
    """What ``--arch auto`` trains and how long.

    Candidates **race** (successive halving with one rung): each trains for ``race_fraction`` of its
    epochs (at least one) and pauses; the best on validation so far (highest accuracy, then lowest
    loss, over the epochs run) resumes and finishes, exactly as if it had never paused. The others
    cost only their first epochs. ``race_fraction`` 1 trains every candidate in full.

    ``time_budget`` (seconds, None: each candidate trains to convergence) covers the candidates and
    the unknown-score folds; the folds get ``unknown_share`` of it, and each candidate the share of
    the rest that leaves room for the others' race. ``fit_overrides`` (epochs, lr, ...) apply to
    every candidate's recipe. Without a budget, all folds together train for ``fold_epochs`` times
    the winner's epochs (each fold at least 2), so choosing the score costs about half the winner's
    training.
    """

    candidates: tuple[Candidate, ...] = DEFAULT_CANDIDATES
    time_budget: float | None = None
    recipe: str = "adam"
    fit_overrides: dict[str, Any] = field(default_factory=dict)
    unknown_score: str = AUTO_SCORE
    unknown_share: float = 0.2
    fold_epochs: float = 0.5
    race_fraction: float = 0.2
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
        if not 0.0 < self.race_fraction <= 1.0:
            raise ValueError(f"race_fraction must be in (0, 1], got {self.race_fraction}")


def candidate_fit(candidate: Candidate, config: AutoConfig, time_budget: float | None) -> FitConfig:
    """The candidate's measured recipe with the user's overrides and its share of the budget."""
    overrides = {k: v for k, v in config.fit_overrides.items() if v is not None}
    if candidate.augment is not None:
        overrides.setdefault("augment", candidate.augment)
    return recipe(config.recipe, arch=candidate.arch, seed=config.seed, time_budget=time_budget, **overrides)


def _budgets(config: AutoConfig, n_sources: int) -> tuple[list[float | None], float | None]:
    """Per-candidate budgets and the budget of all unknown-score folds together."""
    if config.time_budget is None:
        return [None] * len(config.candidates), None
    folds = config.time_budget * config.unknown_share if _choose_score(config, n_sources) else 0.0
    rest = config.time_budget - folds
    total = sum(c.share for c in config.candidates)
    race = config.race_fraction if len(config.candidates) > 1 else 1.0
    # the winner's budget, leaving room for the others' race: b_c + race * sum of the others' b ~ rest
    return ([rest * c.share / (c.share + race * (total - c.share)) for c in config.candidates],
            folds or None)


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
               checkpoint_dir: str | Path | None = None, log: Callable[[str], None] | None = None,
               dist: DistContext | None = None) -> Attributor:
    """Train every candidate, keep the best on validation, choose its unknown-source score.

    Without validation images the first candidate is trained and kept (nothing to choose on).

    ``dist`` (several processes, each calling with the same arguments) trains every candidate in
    all of them (:func:`~ganprint.attribution.training.fit_classifier`); rank 0 alone writes the
    checkpoint folder and chooses the winner for everyone. The unknown-source score is then
    chosen on rank 0 alone (its folds are small trainings): only rank 0's model is complete, and
    only rank 0 should save it.
    """
    from ganprint.models import arch_info

    log = log or (lambda _msg: None)
    ctx = dist or SINGLE
    has_val = X_val is not None and y_val is not None and len(X_val) > 0
    n_sources = len(np.unique(y))
    candidates = config.candidates if has_val else config.candidates[:1]
    budgets, fold_budget = _budgets(dataclasses.replace(config, candidates=candidates), n_sources)
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    for c in candidates:
        arch_info(c.arch)  # an unknown name fails before any training
    race = has_val and len(candidates) > 1 and config.race_fraction < 1.0
    with contextlib.ExitStack() as stack:
        if ckpt is None and race:  # pausing needs somewhere to resume from
            if ctx.distributed:
                raise ValueError("racing candidates in several processes needs a checkpoint_dir they share")
            ckpt = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ganprint-race-")))
        fitted: list[Attributor | None] = []
        table: list[dict[str, Any]] = []
        for candidate, budget in zip(candidates, budgets, strict=True):
            model, row = _train_candidate(candidate, budget, X, y, X_val, y_val, config=config, race=race,
                                          preprocessing=preprocessing, device=device, real_classes=real_classes,
                                          accept_rate=accept_rate, target_fpr=target_fpr, progress=progress,
                                          folder=_candidate_dir(ckpt, candidate), log=log, ctx=ctx)
            fitted.append(model)
            table.append(row)
        best = max(range(len(table)), key=lambda i: _rank(table[i]))
        if ctx.distributed:  # rank 0's choice is everyone's
            best = int(ctx.broadcast_floats(best)[0])
        winner = candidates[best]
        model = fitted[best]
        if model is None or model.history_.get("paused"):  # resume the race's winner and finish it
            model, row = _train_candidate(winner, budgets[best], X, y, X_val, y_val, config=config, race=False,
                                          preprocessing=preprocessing, device=device, real_classes=real_classes,
                                          accept_rate=accept_rate, target_fpr=target_fpr, progress=progress,
                                          folder=_candidate_dir(ckpt, winner), log=log, ctx=ctx)
            table[best] = {**table[best], **row, "seconds": table[best]["seconds"] + row["seconds"]}
    for i, row in enumerate(table):
        row["chosen"] = i == best
    rule = "highest validation accuracy, then lowest validation loss; test data never read"
    if race:
        rule = (f"race: every candidate trained for {config.race_fraction:.0%} of its epochs, the best on "
                f"validation so far ({rule}) finished")
    model.history_["selection"] = {"rule": rule, "candidates": table}
    if _choose_score(config, n_sources) and has_val and ctx.is_main:
        choose_unknown_score(model, X, y, X_val, y_val, winner=winner, config=config, fold_budget=fold_budget,
                             device=device, log=log,
                             checkpoint_dir=Path(checkpoint_dir) / "unknown-score" if checkpoint_dir else None)
    elif config.unknown_score not in (AUTO_SCORE, model.unknown_score) and has_val:
        model.unknown_score = config.unknown_score
        model.calibrate(X_val, y_val)
    return model


def _candidate_dir(checkpoint_dir: Path | None, candidate: Candidate) -> Path | None:
    return checkpoint_dir / "candidates" / candidate.label.replace("/", "--") if checkpoint_dir else None


def _rank(row: dict[str, Any]) -> tuple[float, float]:
    """Race order: validation accuracy, then minus loss (the race's figures when it paused)."""
    acc = row.get("race_val_accuracy", row.get("val_accuracy", 0.0))
    loss = row.get("race_val_loss", row.get("val_loss", 0.0))
    return acc, -loss


def _train_candidate(candidate: Candidate, budget: float | None, X: np.ndarray, y: np.ndarray,
                     X_val: np.ndarray | None, y_val: np.ndarray | None, *, config: AutoConfig, race: bool,
                     preprocessing: Preprocessing, device: str, real_classes: Sequence[str], accept_rate: float,
                     target_fpr: float, progress: bool, folder: Path | None,
                     log: Callable[[str], None], ctx: DistContext = SINGLE) -> tuple[Attributor | None, dict[str, Any]]:
    """Train ``candidate`` in full, or (``race``) for its race epochs, where ``folder`` keeps what a
    rerun needs: a finished model with its row (``selection.json``), or a paused race's row
    (``race.json``; the model is then None) beside the training checkpoint (``<folder>.fit``).
    Only rank 0 of ``ctx`` writes there."""
    has_val = X_val is not None and y_val is not None and len(X_val) > 0
    if folder is not None and ctx.agree((folder / "selection.json").is_file(), f"{folder / 'selection.json'}"):
        return Attributor.load(folder, device=device), read_json(folder / "selection.json")
    if race and folder is not None and ctx.agree((folder / "race.json").is_file(), f"{folder / 'race.json'}"):
        return None, read_json(folder / "race.json")
    fit = candidate_fit(candidate, config, budget)
    model = Attributor(arch=candidate.arch, preprocessing=preprocessing, device=device, fit_config=fit,
                       representation=candidate.representation, real_classes=tuple(real_classes),
                       accept_rate=accept_rate, unknown_score=ENSEMBLE_SCORE, target_fpr=target_fpr)
    pause = max(1, round(config.race_fraction * fit.epochs)) if race else None
    log(f"candidate {candidate.label}" + (f" (budget {budget:.0f}s)" if budget else "")
        + (f": race of {pause} epochs" if pause else ""))
    t0 = time.perf_counter()
    model.fit(X, y, X_val, y_val, progress=progress, pause_after=pause,
              checkpoint_dir=folder.parent / (folder.name + ".fit") if folder else None, dist=ctx)
    history = model.history_
    row: dict[str, Any] = {"candidate": candidate.label, "arch": candidate.arch,
                           "representation": candidate.representation, "augment": fit.augment,
                           "parameters": int(sum(p.numel() for p in model.model_.parameters())),
                           "epochs": int(history.get("epochs_run", 0)), "seconds": time.perf_counter() - t0}
    if race and history.get("val_accuracy"):
        row.update(race_epochs=len(history["val_accuracy"]), race_val_accuracy=float(max(history["val_accuracy"])),
                   race_val_loss=float(min(history["val_loss"])))
    if history.get("paused"):
        log(f"candidate {candidate.label}: paused after {row['epochs']} epochs, best val accuracy "
            f"{row['race_val_accuracy']:.4f}, val loss {row['race_val_loss']:.4f}, {row['seconds']:.0f}s")
        if folder is not None and ctx.is_main:
            folder.mkdir(parents=True, exist_ok=True)
            write_json(folder / "race.json", row)
        ctx.barrier()
        return model, row
    row["stopped_by"] = history.get("stopped_by", "epochs")
    row.update(validation_figures(model, X_val, y_val) if has_val else {})
    if folder is not None and ctx.is_main:
        model.save(folder)
        write_json(folder / "selection.json", row)
    ctx.barrier()
    log(f"candidate {candidate.label}: " + (f"val accuracy {row['val_accuracy']:.4f}, val loss "
                                            f"{row['val_loss']:.4f}, " if has_val else "")
        + f"{row['epochs']} epochs, {row['seconds']:.0f}s")
    return model, row


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
