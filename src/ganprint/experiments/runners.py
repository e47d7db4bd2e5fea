"""Which code runs which experiment.

A protocol's ``name`` (the ``name:`` key of its YAML file) selects a study. Each study module
registers its runner with the :func:`register_study` decorator; :data:`STUDY_MODULES` says which
module registers which study, so a module is imported only when an experiment of its kind runs (the
CLI starts fast and a runner's heavy imports never happen at ``import ganprint``). Adding a study is
a YAML file, one module with a decorated runner, and its line in :data:`STUDY_MODULES`.

A runner is a function ``run(request: RunRequest) -> dict`` that executes or resumes the run
in ``request.out_dir`` (writing ``results.json`` and ``report.md`` there) and returns the results.
Its module may define ``summary_lines(results) -> list[str]``: the lines the CLI prints at the end,
and ``figures(results) -> {name: {"value": float, "target": float | None}}``: its headline figures,
which ``RunRequest.seeds`` > 1 repeats and summarises (:mod:`ganprint.experiments.repeats`). A runner
honours ``RunRequest.seed``: an offset added to the protocol's ``seed`` (and, for a GAN that fixes its
own, :func:`ganprint.experiments.protocol.with_seed_offset`).
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganprint.experiments.protocol import load_protocol_dict
from ganprint.registry import Registry

STUDY_MODULES: dict[str, str] = {
    "mnist-groups": "ganprint.experiments.mnist_groups",
    "zoo": "ganprint.experiments.zoo",
    "cifar-gans": "ganprint.experiments.cifar_gans",
    "gan-epochs": "ganprint.experiments.gan_epochs",
    "pairs": "ganprint.experiments.pairs",
    "fingerprints": "ganprint.experiments.fingerprints",
    "yu-sources": "ganprint.experiments.yu",
    "yu-seeds": "ganprint.experiments.yu",
    "seed001": "ganprint.experiments.seed001",
    "families": "ganprint.experiments.families",
}
"""Where each study's runner is registered (imported only when that study runs)."""


@dataclasses.dataclass(frozen=True)
class Study:
    """A registered study: its runner and the module that holds its hooks."""

    name: str
    run: Callable[[RunRequest], dict[str, Any]]
    module: str

    def hook(self, attr: str) -> Callable[..., Any] | None:
        return getattr(importlib.import_module(self.module), attr, None)


STUDIES: Registry[Study] = Registry("experiment runner")


def register_study(*names: str) -> Callable[[Callable[[RunRequest], dict[str, Any]]],
                                            Callable[[RunRequest], dict[str, Any]]]:
    """Decorator: register a module's ``run_experiment`` as the runner of the studies ``names`` (the
    ``name:`` of their YAML); the module's ``figures`` and ``summary_lines`` are its hooks."""
    def decorator(run: Callable[[RunRequest], dict[str, Any]]) -> Callable[[RunRequest], dict[str, Any]]:
        for name in names:
            STUDIES.register(name)(Study(name, run, run.__module__))
        return run

    return decorator


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """Everything the ``experiment run`` command can pass to a runner; runners ignore what they do not use.

    ``protocol`` is a shipped protocol name or a path to a YAML file; ``data_dir`` and
    ``unknown_dirs`` replace an experiment's default data where the runner supports it.

    ``seed`` is an offset added to the protocol's seed (None: the protocol's own seed, as 0 is);
    ``seeds`` > 1 runs the study that many times, with offsets ``seed`` (or 0) upwards, into
    ``out_dir/seed-<offset>/``, and summarises each headline figure over the runs in ``out_dir``.
    """

    protocol: str
    out_dir: Path
    profile: str = "quick"
    groups: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    workers: int | None = None
    data_dir: Path | None = None
    unknown_dirs: dict[str, Path] = dataclasses.field(default_factory=dict)
    real_source: str | None = None
    device: str = "auto"
    progress: bool = True
    seed: int | None = None
    seeds: int = 1


def study(kind: str) -> Study:
    """The registered study ``kind`` (importing the module that registers it)."""
    module_name = STUDY_MODULES.get(kind)
    if module_name is None:
        raise ValueError(f"experiment kind {kind!r} has no runner in this version")
    importlib.import_module(module_name)
    return STUDIES.get(kind)


def experiment_kind(protocol: str | Path) -> str:
    """The runner name a protocol asks for (its ``name`` key); a clear error when none is known."""
    kind = load_protocol_dict(protocol).get("name")
    if kind not in STUDY_MODULES:
        raise ValueError(f"experiment {protocol!s} names the runner {kind!r}; "
                         f"known runners: {', '.join(sorted(STUDY_MODULES))}")
    return str(kind)


def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Execute or resume one experiment run; returns its results (also in ``out_dir/results.json``).

    With ``request.seeds`` > 1, execute or resume each run in its ``seed-<offset>`` folder, then write
    the figures over the runs to ``out_dir/results.json`` and ``report.md`` and return them."""
    kind = experiment_kind(request.protocol)
    entry = study(kind)
    runner = entry.run
    if request.seeds == 1:
        return runner(request)
    if request.seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {request.seeds}")
    figures = entry.hook("figures")
    if figures is None:
        raise ValueError(f"experiment kind {kind!r} names no figures to repeat; run it with one seed")
    from ganprint.experiments.repeats import CONFIDENCE, aggregate, write_repeats_report
    from ganprint.serialization import write_json

    t0 = time.perf_counter()
    out = Path(request.out_dir)
    first = request.seed or 0
    folders, per_seed = [], []
    for k in range(first, first + request.seeds):
        folders.append(f"seed-{k}")
        if request.progress:
            print(f"run {len(folders)} of {request.seeds}: seed offset {k} into {out / folders[-1]}", file=sys.stderr)
        results = runner(dataclasses.replace(request, out_dir=out / folders[-1], seed=k, seeds=1))
        per_seed.append(figures(results))
    aggregated = aggregate(per_seed, CONFIDENCE)
    protocol = load_protocol_dict(request.protocol)
    title = str(protocol.get("title", kind))
    summary = {"experiment": kind, "title": title, "profile": request.profile, "seeds": request.seeds,
               "seed_offsets": list(range(first, first + request.seeds)), "runs": folders,
               "confidence": CONFIDENCE, "figures": aggregated,
               "wall_seconds": round(time.perf_counter() - t0, 2)}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", summary)
    write_repeats_report(out, title, folders, aggregated)
    return summary


def summary_lines(request: RunRequest, results: dict[str, Any]) -> list[str]:
    """The runner's short summary of ``results`` (empty when it defines none); over several runs,
    one line per figure with its mean, interval and mark."""
    if request.seeds > 1:
        lines = []
        for name, a in results["figures"].items():
            span = "" if a["low"] is None else f", {a['confidence']:.0%} interval [{a['low']:.4f}, {a['high']:.4f}]"
            target = "" if a["target"] is None else f"; target {a['target']:g} {a['mark']}"
            lines.append(f"{name}: mean {a['mean']:.4f}{span} over {a['n']} runs{target}")
        return lines
    fn = study(experiment_kind(request.protocol)).hook("summary_lines")
    return list(fn(results)) if fn is not None else []
