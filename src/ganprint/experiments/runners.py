"""Which code runs which experiment.

A protocol's ``name`` (the ``name:`` key of its YAML file) selects a runner. Runners are named
here as ``"module:function"`` and imported only when an experiment of that kind runs, so the CLI
starts fast and a runner's heavy imports never happen at ``import ganprint``.

A runner is a function ``run(request: RunRequest) -> dict`` that executes or resumes the run
in ``request.out_dir`` (writing ``results.json`` and ``report.md`` there) and returns the results.
Its module may define ``summary_lines(results) -> list[str]``: the lines the CLI prints at the end.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganprint.experiments.protocol import load_protocol_dict

RUNNERS: dict[str, str] = {
    "mnist-groups": "ganprint.experiments.mnist_groups:run_experiment",
    "zoo": "ganprint.experiments.zoo:run_experiment",
    "cifar-gans": "ganprint.experiments.cifar_gans:run_experiment",
    "gan-epochs": "ganprint.experiments.gan_epochs:run_experiment",
    "pairs": "ganprint.experiments.pairs:run_experiment",
    "fingerprints": "ganprint.experiments.fingerprints:run_experiment",
    "yu-sources": "ganprint.experiments.yu:run_experiment",
    "yu-seeds": "ganprint.experiments.yu:run_experiment",
    "seed001": "ganprint.experiments.seed001:run_experiment",
}


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """Everything the ``experiment run`` command can pass to a runner; runners ignore what they do not use.

    ``protocol`` is a shipped protocol name or a path to a YAML file; ``data_dir`` and
    ``unknown_dirs`` replace an experiment's default data where the runner supports it.
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


def _resolve(kind: str, attr: str) -> Callable[..., Any] | None:
    module_name, _, default_attr = RUNNERS[kind].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise ValueError(f"experiment kind {kind!r} has no runner in this version") from None
        raise
    return getattr(module, attr or default_attr, None)


def experiment_kind(protocol: str | Path) -> str:
    """The runner name a protocol asks for (its ``name`` key); a clear error when none is known."""
    kind = load_protocol_dict(protocol).get("name")
    if kind not in RUNNERS:
        raise ValueError(f"experiment {protocol!s} names the runner {kind!r}; "
                         f"known runners: {', '.join(sorted(RUNNERS))}")
    return str(kind)


def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Execute or resume one experiment run; returns its results (also in ``out_dir/results.json``)."""
    runner = _resolve(experiment_kind(request.protocol), "")
    assert runner is not None
    return runner(request)


def summary_lines(request: RunRequest, results: dict[str, Any]) -> list[str]:
    """The runner's short summary of ``results`` (empty when it defines none)."""
    fn = _resolve(experiment_kind(request.protocol), "summary_lines")
    return list(fn(results)) if fn is not None else []
