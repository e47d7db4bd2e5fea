"""Experiment ``zoo``: every listed architecture and input representation trained and assessed on one
folder dataset, with the table of parameters, training time, accuracy, calibration, unknown-source
AUROC and inference throughput, and a report with plots.

Default data: group 1 of the MNIST authorship study plus two generators no model sees (see
``protocols/zoo.yaml``), built with the ``mnist-groups`` stages in ``OUT/data-run``. ``data_dir``
replaces it with any folder dataset (``unknown_dirs`` then name the unknown sources).

Stages of its :class:`~ganprint.experiments.run.Run`: ``models/<key>`` (fit on train, validation for
early stopping, calibration and the accuracy that picks the best model) and the report stages
``assess/<key>`` (the test split and the unknown sources' images).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganprint.attribution.attributor import Preprocessing
from ganprint.experiments.runners import register_study
from ganprint.experiments.stages import FolderSplits, FolderStudy, mnist_group_data
from ganprint.experiments.zoo_models import ZooEntry, assess_entry, fit_entry

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest

__all__ = ["FIGURES", "ZooEntry", "ZooRun", "figures", "run_experiment", "summary_lines"]

_BEST = "validation accuracy of every model (the best model); each model's early stopping and calibration"
FIGURES = {
    "best accuracy": {"chosen_on": _BEST, "reported_on": "test split"},
    "lowest accuracy of an architecture": {"chosen_on": "nothing: each architecture at its defaults (early "
                                                        "stopping and calibration on the validation split)",
                                           "reported_on": "test split"},
    "best unknown-source AUROC, *": {"chosen_on": _BEST + "; the threshold on the validation split",
                                     "reported_on": "test split and the unknown sources' test images"},
    "gans.*": {"chosen_on": "the mnist-groups gate (GAN training stop, snapshot)",
               "reported_on": "the gate and judge on reported latents (data-run)"},
}


@register_study("zoo")
def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of ``zoo`` protocols (see :mod:`ganprint.experiments.runners`)."""
    return ZooRun(request.out_dir, request.profile, protocol=request.protocol, data_dir=request.data_dir,
                  unknown_dirs=request.unknown_dirs, only=list(request.only) or None, workers=request.workers,
                  device=request.device, progress=request.progress, seed=request.seed).run()


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The figures the report's targets judge: the best model's accuracy (chosen on validation), the
    lowest accuracy of an architecture at its defaults, and per unknown source the best model's
    unknown-source AUROC."""
    from ganprint.experiments.zoo_report import TARGETS, architecture_rows

    rows = results["models"]
    best = rows[results["best"]]
    out = {"best accuracy": {"value": best["accuracy"], "target": TARGETS["accuracy_best"]}}
    arch_rows = architecture_rows(rows)
    if arch_rows:
        out["lowest accuracy of an architecture"] = {"value": min(r["accuracy"] for r in arch_rows.values()),
                                                     "target": TARGETS["accuracy_each"]}
    for n in sorted(best["unknown"]):
        out[f"best unknown-source AUROC, {n}"] = {"value": best["unknown"][n]["unknown_auroc"],
                                                  "target": TARGETS["unknown_auroc"]}
    return out


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for key, row in sorted(results["models"].items(), key=lambda kv: -kv[1]["accuracy"]):
        auroc = ", ".join(f"{k} {v['unknown_auroc']:.3f}" for k, v in row["unknown"].items())
        lines.append(f"{key}: accuracy {row['accuracy']:.4f}, ECE {row['ece']:.4f}, {row['fit_seconds']:.0f} s"
                     + (f", unknown AUROC {auroc}" if auroc else ""))
    return lines


class ZooRun(FolderStudy):
    """One run directory of the zoo experiment; ``run()`` executes or resumes it. ``seed`` is an
    offset of the protocol's seed (the GANs of the default data) and of the models' fit seeds."""

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path = "zoo",
                 data_dir: str | Path | None = None, unknown_dirs: dict[str, str | Path] | None = None,
                 only: list[str] | None = None, size: int = 28, channels: int = 1, workers: int | None = None,
                 device: str = "auto", progress: bool = True, seed: int | None = None) -> None:
        super().__init__(out_dir, profile, protocol, data_dir=data_dir, workers=workers, device=device,
                         progress=progress, seed=seed, pre=Preprocessing(size=(size, size), channels=channels))
        defaults = self.spec.get("model_defaults", {})
        entries = [ZooEntry.from_dict({**defaults, **e}) for e in self.spec.get("models", [])]
        if only:
            entries = [e for e in entries if e.arch in only or e.key in only]
        if not entries:
            raise ValueError("no models to run (the profile lists none, or --only matched none)")
        self.entries = entries
        self.unknown_dirs = {k: Path(v) for k, v in (unknown_dirs or {}).items()}

    def run(self) -> dict[str, Any]:
        from ganprint.data.decode import iter_image_paths
        from ganprint.device import resolve_device
        from ganprint.experiments.zoo_report import write_zoo_report

        run = self.start(unknown={k: str(v) for k, v in self.unknown_dirs.items()},
                         models=[e.key for e in self.entries], size=list(self.pre.size), channels=self.pre.channels)
        gans, data = None, {"data_dir": str(self.data_dir),
                            "unknown": {k: str(v) for k, v in self.unknown_dirs.items()}}
        if self.data_dir is None:
            with run.timed("data (GANs, generation, quality)"):
                gans, data = self._default_data()
        splits = FolderSplits(run, self.data_dir, self.pre, required=("train", "test"), workers=4,
                              progress=self.progress)
        rows = {e.key: self._entry(e, data, splits) for e in self.entries}
        best = max(rows, key=lambda k: rows[k]["selection_accuracy"])
        results = run.finish({
            "experiment": "zoo", "profile": self.profile, "data": str(self.data_dir), "seed": self.seed,
            "classes": splits.classes, "train_images": len(splits.dataset.split("train")),
            "test_images": len(splits.dataset.split("test")),
            "unknown_sources": {k: len(list(iter_image_paths([v]))) for k, v in self.unknown_dirs.items()},
            "models": rows, "gans": gans, "best": best, "best_chosen_on": rows[best]["selection_split"],
        }, figures=FIGURES, device=str(resolve_device(self.device)))
        write_zoo_report(self.out, results)
        return results

    def _entry(self, entry: ZooEntry, data: dict[str, Any], splits: FolderSplits) -> dict[str, Any]:
        run = self.run_
        fit = run.stage(f"models/{entry.key}", {"data": data["data_dir"], "entry": dataclasses.asdict(entry),
                                                "seed": self.seed,
                                                "preprocessing": self.pre.to_dict()},
                        lambda folder: fit_entry(self, entry, splits, folder), timer=entry.key)
        test = run.stage(f"assess/{entry.key}", {"model": run.token(f"models/{entry.key}"),
                                                 "unknown": data["unknown"]},
                         lambda folder: assess_entry(self, entry, splits), report=True, timer=entry.key)
        return {"arch": entry.arch, "representation": entry.representation, "recipe": entry.recipe, **fit, **test}

    def _default_data(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Build (or resume) the default data; returns the GANs' quality and the data's identity."""
        group, unknown_group = self.protocol["group"], self.protocol["unknown_group"]
        mg = mnist_group_data(self.out, self.profile, self.protocol_name, [group, unknown_group], seed=self.seed,
                              workers=self.workers, device=self.device, progress=self.progress)
        gates = mg.quality()
        self.data_dir = mg.group_dir(group)
        for name, gan in self.protocol["unknown_sources"].items():
            self.unknown_dirs.setdefault(name, mg.group_dir(unknown_group) / "test" / gan)
        unknown = mg.run_.token(f"data/{unknown_group}")
        return gates, {"data_dir": mg.run_.token(f"data/{group}"),
                       "unknown": {k: f"{unknown}:{v}" for k, v in self.unknown_dirs.items()}}
