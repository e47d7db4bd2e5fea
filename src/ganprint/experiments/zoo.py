"""Experiment ``zoo``: every listed architecture and input representation trained and assessed on one
folder dataset, with the table of parameters, training time, accuracy, calibration, unknown-source
AUROC and inference throughput, and a report with plots.

Default data: group 1 of the MNIST authorship study plus two generators no model sees (see
``protocols/zoo.yaml``), built with the ``mnist-groups`` machinery. ``data_dir`` replaces it with
any folder dataset (``unknown_dirs`` then name the unknown sources).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganprint.attribution.assess import assess
from ganprint.attribution.attributor import Attributor, Preprocessing
from ganprint.attribution.training import recipe
from ganprint.attribution.two_stage import SECONDARY_FIT, TwoStageAttributor
from ganprint.data.decode import iter_image_paths
from ganprint.data.folder import load_images, scan_folder_dataset
from ganprint.experiments.protocol import load_protocol_dict, profile_settings, seeded_protocol_file
from ganprint.serialization import read_json, write_json

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest

SPLITS = ("train", "val", "test")


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One row of the zoo: an architecture, its input representation and training settings."""

    arch: str
    representation: str = "pixels"
    recipe: str = "adam"
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.arch}+{self.representation}+{self.recipe}"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ZooEntry:
        """An entry from the protocol; without a representation, the architecture's recommended one."""
        from ganprint.models import default_representation

        known = {"arch", "representation", "recipe", "options"}
        representation = d.get("representation") or default_representation(d["arch"])
        return cls(arch=d["arch"], representation=representation, recipe=d.get("recipe", "adam"),
                   overrides={k: v for k, v in d.items() if k not in known}, options=dict(d.get("options", {})))


def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of ``zoo`` protocols (see :mod:`ganprint.experiments.runners`)."""
    return ZooRun(request.out_dir, request.profile, protocol=request.protocol, data_dir=request.data_dir,
                  unknown_dirs=request.unknown_dirs, only=list(request.only) or None, workers=request.workers,
                  device=request.device, progress=request.progress, seed=request.seed).run()


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The figures the report's targets judge: the best model's accuracy, the lowest accuracy of an
    architecture at its defaults, and per unknown source the best unknown-source AUROC."""
    from ganprint.experiments.zoo_report import TARGETS, architecture_rows

    rows = results["models"]
    out = {"best accuracy": {"value": rows[results["best"]]["accuracy"], "target": TARGETS["accuracy_best"]}}
    arch_rows = architecture_rows(rows)
    if arch_rows:
        out["lowest accuracy of an architecture"] = {"value": min(r["accuracy"] for r in arch_rows.values()),
                                                     "target": TARGETS["accuracy_each"]}
    for n in sorted({n for r in rows.values() for n in r["unknown"]}):
        out[f"best unknown-source AUROC, {n}"] = {
            "value": max(r["unknown"][n]["unknown_auroc"] for r in rows.values() if n in r["unknown"]),
            "target": TARGETS["unknown_auroc"]}
    return out


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for key, row in sorted(results["models"].items(), key=lambda kv: -kv[1]["accuracy"]):
        auroc = ", ".join(f"{k} {v['unknown_auroc']:.3f}" for k, v in row["unknown"].items())
        lines.append(f"{key}: accuracy {row['accuracy']:.4f}, ECE {row['ece']:.4f}, {row['fit_seconds']:.0f} s"
                     + (f", unknown AUROC {auroc}" if auroc else ""))
    return lines


class ZooRun:
    """One run directory of the zoo experiment; ``run()`` executes or resumes it."""

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path = "zoo",
                 data_dir: str | Path | None = None, unknown_dirs: dict[str, str | Path] | None = None,
                 only: list[str] | None = None, size: int = 28, channels: int = 1, workers: int | None = None,
                 device: str = "auto", progress: bool = True, seed: int | None = None) -> None:
        self.out = Path(out_dir)
        self.protocol_name = protocol
        self.protocol = load_protocol_dict(protocol)
        spec = profile_settings(self.protocol, profile)
        self.profile = profile
        defaults = spec.get("model_defaults", {})
        entries = [ZooEntry.from_dict({**defaults, **e}) for e in spec.get("models", [])]
        if only:
            entries = [e for e in entries if e.arch in only or e.key in only]
        if not entries:
            raise ValueError("no models to run (the profile lists none, or --only matched none)")
        self.entries = entries
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.unknown_dirs = {k: Path(v) for k, v in (unknown_dirs or {}).items()}
        self.pre = Preprocessing(size=(size, size), channels=channels)
        self.workers = workers
        self.device = device
        self.progress = progress
        self.stage_seconds: dict[str, float] = {}
        self.seed = seed  # offset of the protocol's seed (the GANs of the default data) and the models' fit seeds

    def run(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        gan_quality = None
        if self.data_dir is None:
            t = time.perf_counter()
            gan_quality = self._build_default_data()
            self.stage_seconds["data (GANs, generation, quality)"] = time.perf_counter() - t
        t = time.perf_counter()
        data = self._load()
        self.stage_seconds["decoding"] = time.perf_counter() - t
        rows = {}
        for entry in self.entries:
            t = time.perf_counter()
            rows[entry.key] = self._run_entry(entry, data)
            self.stage_seconds[entry.key] = time.perf_counter() - t
        results = {
            "experiment": "zoo", "profile": self.profile, "data": str(self.data_dir),
            "classes": data["classes"], "train_images": int(len(data["train"][0])),
            "test_images": int(len(data["test"][0])),
            "unknown_sources": {k: int(len(v)) for k, v in data["unknown"].items()},
            "models": rows, "gans": gan_quality,
            "best": max(rows, key=lambda k: rows[k]["accuracy"]),
            "stage_seconds": {k: round(v, 2) for k, v in self.stage_seconds.items()},
            "wall_seconds": round(time.perf_counter() - t0, 2), "threads": torch.get_num_threads(),
        }
        write_json(self.out / "results.json", results)
        from ganprint.experiments.zoo_report import write_zoo_report

        write_zoo_report(self.out, results)
        return results

    # -- data -----------------------------------------------------------------------------------
    def _build_default_data(self) -> dict[str, Any]:
        from ganprint.experiments.mnist_groups import MnistGroupsRun

        group, unknown_group = self.protocol["group"], self.protocol["unknown_group"]
        protocol = seeded_protocol_file(self.protocol_name, self.seed, self.out)
        mg = MnistGroupsRun(self.out / "data-run", self.profile, protocol=protocol,
                            groups=[group, unknown_group], workers=self.workers, device=self.device,
                            progress=self.progress)
        mg.prepare()
        gates = mg.quality()
        self.data_dir = mg.group_dir(group)
        for name, gan in self.protocol["unknown_sources"].items():
            self.unknown_dirs.setdefault(name, mg.group_dir(unknown_group) / "test" / gan)
        return gates

    def _load(self) -> dict[str, Any]:
        ds = scan_folder_dataset(self.data_dir)
        if not ds.has_splits or not {"train", "test"} <= set(ds.splits):
            raise ValueError(f"{self.data_dir} needs train/ and test/ splits (val/ recommended)")
        classes = np.asarray(ds.classes)
        out: dict[str, Any] = {"classes": list(ds.classes), "unknown": {}}
        for split in SPLITS:
            if split not in ds.splits:
                out[split] = (None, None, [])
                continue
            loaded = load_images(ds.split(split), channels=self.pre.channels, size=self.pre.size, workers=4,
                                 progress=self.progress, desc=f"decoding {split}")
            out[split] = (loaded.images, classes[loaded.labels], loaded.paths)
        for name, folder in self.unknown_dirs.items():
            files = [(p, 0) for p in iter_image_paths([folder])]
            out["unknown"][name] = load_images(files, channels=self.pre.channels, size=self.pre.size, workers=4,
                                               progress=False).images
        return out

    # -- one model ------------------------------------------------------------------------------
    def _fit(self, entry: ZooEntry, x_tr, y_tr, x_va, y_va, folder: Path):
        config = recipe(entry.recipe, entry.overrides, arch=entry.arch)  # the arch's measured settings first
        if self.seed:
            config = dataclasses.replace(config, seed=config.seed + self.seed)
        if entry.arch == "two-stage":
            return TwoStageAttributor(preprocessing=self.pre, fit_config=config, secondary_config=SECONDARY_FIT,
                                      device=self.device, **entry.options).fit(x_tr, y_tr, x_va, y_va,
                                                                               progress=self.progress)
        model = Attributor(arch=entry.arch, preprocessing=self.pre, fit_config=config,
                           representation=entry.representation, arch_options=entry.options, device=self.device)
        return model.fit(x_tr, y_tr, x_va, y_va, progress=self.progress, checkpoint_dir=folder / "checkpoint")

    def _run_entry(self, entry: ZooEntry, data: dict[str, Any]) -> dict[str, Any]:
        folder = self.out / "models" / entry.key
        result_file = folder / "zoo_result.json"
        if result_file.is_file():
            return read_json(result_file)
        x_tr, y_tr, _ = data["train"]
        x_va, y_va, _ = data["val"]
        x_te, y_te, paths = data["test"]
        if (folder / "config.json").is_file():  # trained by an interrupted run: assess it again
            from ganprint.attribution.loading import load_model

            model = load_model(folder, device=self.device)
            fit_seconds = float(model.history_.get("fit_seconds", float("nan")))
        else:
            t0 = time.perf_counter()
            model = self._fit(entry, x_tr, y_tr, x_va, y_va, folder)
            fit_seconds = time.perf_counter() - t0
            model.history_["fit_seconds"] = fit_seconds
            model.save(folder)
        n_params = _parameters(model)
        report = assess(model, x_te, y_te, paths=paths, unknown_images=data["unknown"] or None)
        row = {
            "arch": entry.arch, "representation": entry.representation, "recipe": entry.recipe,
            "parameters": int(n_params), "fit_seconds": round(fit_seconds, 2),
            "epochs_run": _epochs(model), "accuracy": report["accuracy"],
            "balanced_accuracy": report["balanced_accuracy"], "ece": report["ece"],
            "ece_uncalibrated": report.get("ece_uncalibrated"), "detection_auc": report.get("detection_auc"),
            "images_per_second": report["images_per_second"], "confusion_matrix": report["confusion_matrix"],
            "labels": report["labels"],
            "unknown": {name: {"unknown_auroc": u["unknown_auroc"], "open_set_accuracy": u["open_set_accuracy"],
                               "unknown_reject_rate": u["unknown_reject_rate"]}
                        for name, u in report.get("open_set_by_unknown", {}).items()},
        }
        write_json(result_file, row)
        import shutil

        shutil.rmtree(folder / "checkpoint", ignore_errors=True)
        return row


def _parameters(model) -> int:
    if isinstance(model, TwoStageAttributor):
        return sum(p.numel() for p in model.primary_.parameters()) + sum(
            p.numel() for m in model.secondary_.values() for p in m.parameters())
    return sum(p.numel() for p in model.model_.parameters())


def _epochs(model) -> int | None:
    h = model.history_
    if "epochs_run" in h:
        return h["epochs_run"]
    return h.get("primary", {}).get("epochs_run")
