"""Experiment ``fingerprints`` (Yu et al. 2019 and the GAN-fingerprinting project) on one folder dataset:

1. signal fingerprints: per-source mean noise residual and FFT / DCT log spectra (picture);
2. the training-free residual-correlation baseline;
3. the seed CNN (``seed-mnist-cnn``) and visNet (learned model and image fingerprints), with the
   model-fingerprint picture and one demo panel per source;
4. robustness of the seed CNN before and after immunisation, and of visNet and the baseline;
5. persistence: attributors trained on low-pass / high-pass filtered images and on patches.

Default data: group 1 of the MNIST authorship study (real digits, GAN_1..GAN_3), built with the
``mnist-groups`` machinery into ``OUT/data-run`` as :mod:`ganprint.experiments.zoo` does;
``data_dir`` replaces it with any folder dataset (``DIR/train|val|test/<source>/``). Every stage
keeps its result under ``OUT`` and a rerun skips it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganprint.attribution.attributor import Preprocessing
from ganprint.attribution.training import FitConfig
from ganprint.experiments.protocol import load_protocol_dict, profile_settings, seeded_protocol_file
from ganprint.serialization import read_json, write_json

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest

SPLITS = ("train", "val", "test")
CNN = "seed-mnist-cnn"


def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of ``fingerprints`` protocols (see :mod:`ganprint.experiments.runners`)."""
    return FingerprintsRun(request.out_dir, request.profile, protocol=request.protocol, data_dir=request.data_dir,
                           workers=request.workers, device=request.device, progress=request.progress,
                           seed=request.seed).run()


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each attributor's test accuracy and the immunised seed CNN's clean accuracy (no targets: the
    report sets none)."""
    out = {f"accuracy {name}": {"value": a, "target": None} for name, a in results["accuracy"].items()}
    out["accuracy immunised seed CNN"] = {"value": results["robustness"]["immunised"]["clean"], "target": None}
    return out


def summary_lines(results: dict[str, Any]) -> list[str]:
    acc = results["accuracy"]
    rob = results["robustness"]
    lines = [", ".join(f"{k} {v:.4f}" for k, v in acc.items()),
             f"immunised seed CNN: clean {rob['immunised']['clean']:.4f} (was {rob['seed_cnn']['clean']:.4f}), "
             f"targets met: {results['immunisation_targets_met']}",
             "persistence: " + ", ".join(f"{f} {k} {v:.3f}" for f in ("lowpass", "highpass", "patch")
                                         for k, v in results["persistence"][f].items()),
             f"wall time {results['wall_seconds'] / 60:.1f} min"]
    return lines


class FingerprintsRun:
    """One run directory of the fingerprints experiment; ``run()`` executes or resumes it."""

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path = "fingerprints",
                 data_dir: str | Path | None = None, workers: int | None = None, device: str = "auto",
                 progress: bool = True, seed: int | None = None) -> None:
        self.out = Path(out_dir)
        self.protocol_name = protocol
        self.protocol = load_protocol_dict(protocol)
        self.spec = profile_settings(self.protocol, profile)
        self.profile = profile
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.pre = Preprocessing(size=(28, 28), channels=1)
        self.workers = workers
        self.device = device
        self.progress = progress
        self.stage_seconds: dict[str, float] = {}
        self.seed = seed  # offset of the protocol's seed (the GANs of the default data) and of the fit seeds

    def _seeded(self, settings: dict[str, Any]) -> dict[str, Any]:
        """``settings`` (of a fit, immunisation or persistence) with their ``seed`` moved by the offset."""
        return {**settings, "seed": int(settings.get("seed", 0)) + self.seed} if self.seed else settings

    # -- stages ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        if self.data_dir is None:
            self._timed("data (GANs, generation)", self._build_default_data)
        data = self._timed("decoding", self._load)
        signal = self._timed("signal fingerprints", lambda: self._signal(data))
        models = {}
        for name in ("residual-correlation", CNN, "visnet"):
            models[name] = self._timed(f"fit {name}", lambda n=name: self._model(n, data))
        pictures = self._timed("visnet pictures", lambda: self._visnet_pictures(models["visnet"], data))
        robustness = self._timed("robustness + immunisation", lambda: self._robustness(models, data))
        persistence = self._timed("persistence", lambda: self._persistence(data))
        from ganprint.robustness import target_check

        checks = target_check(robustness["immunised"])
        clean_drop = robustness["seed_cnn"]["clean"] - robustness["immunised"]["clean"]
        results = {
            "experiment": "fingerprints", "profile": self.profile, "data": str(self.data_dir),
            "classes": data["classes"], "train_images": int(len(data["train"][0])),
            "test_images": int(len(data["test"][0])),
            "accuracy": {name: m["accuracy"] for name, m in models.items()},
            "fit_seconds": {name: m["fit_seconds"] for name, m in models.items()},
            "signal": signal, "visnet_pictures": pictures, "robustness": robustness,
            "immunisation_targets": checks,
            "immunisation_targets_met": bool(all(all(v.values()) for v in checks.values()) and clean_drop <= 0.01),
            "immunisation_clean_drop": clean_drop,
            "persistence": persistence,
            "stage_seconds": {k: round(v, 2) for k, v in self.stage_seconds.items()},
            "wall_seconds": round(time.perf_counter() - t0, 2), "threads": torch.get_num_threads(),
        }
        write_json(self.out / "results.json", results)
        write_report(self.out, results, self.spec.get("deviations", []))
        return results

    def _timed(self, stage: str, fn):
        t = time.perf_counter()
        try:
            return fn()
        finally:
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + time.perf_counter() - t

    # -- data -----------------------------------------------------------------------------------
    def _build_default_data(self) -> None:
        from ganprint.experiments.mnist_groups import MnistGroupsRun

        group = self.protocol["group"]
        protocol = seeded_protocol_file(self.protocol_name, self.seed, self.out)
        mg = MnistGroupsRun(self.out / "data-run", self.profile, protocol=protocol, groups=[group],
                            workers=self.workers, device=self.device, progress=self.progress)
        mg.prepare()
        self.data_dir = mg.group_dir(group)

    def _load(self) -> dict[str, Any]:
        from ganprint.data.folder import load_images, scan_folder_dataset

        ds = scan_folder_dataset(self.data_dir)
        if not ds.has_splits or not set(SPLITS) <= set(ds.splits):
            raise ValueError(f"{self.data_dir} needs train/, val/ and test/ splits")
        classes = np.asarray(ds.classes)
        out: dict[str, Any] = {"classes": list(ds.classes)}
        for split in SPLITS:
            loaded = load_images(ds.split(split), channels=self.pre.channels, size=self.pre.size, workers=2,
                                 progress=self.progress, desc=f"decoding {split}")
            out[split] = (loaded.images, classes[loaded.labels])
        return out

    def _signal(self, data: dict[str, Any]) -> dict[str, Any]:
        from ganprint.fingerprints.spectra import save_signal_fingerprints, signal_fingerprint_rows

        png = self.out / "report" / "signal_fingerprints.png"
        if not png.is_file():
            rows = signal_fingerprint_rows(*data["train"], denoiser="median")
            save_signal_fingerprints(rows, png.parent, title="signal fingerprints (train split)")
        return {"picture": str(png.relative_to(self.out))}

    # -- models ---------------------------------------------------------------------------------
    def _fit_config(self, key: str) -> FitConfig:
        return FitConfig.from_dict(self._seeded({"patience": None, **self.spec.get(key, {})}))

    def _make(self, name: str, size: tuple[int, int] = (28, 28), fit: FitConfig | None = None):
        pre = replace(self.pre, size=size)
        if name == "residual-correlation":
            from ganprint.fingerprints.correlation import ResidualCorrelationAttributor

            return ResidualCorrelationAttributor(preprocessing=pre)
        if name == "visnet":
            from ganprint.fingerprints.visnet import VisNetAttributor, VisNetConfig

            return VisNetAttributor(preprocessing=pre, config=VisNetConfig.from_dict(self.spec.get("visnet", {})),
                                    fit_config=fit or self._fit_config("visnet"), device=self.device)
        from ganprint.attribution.attributor import Attributor

        return Attributor(arch=name, preprocessing=pre, fit_config=fit or self._fit_config("attributor"),
                          device=self.device)

    def _model(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        folder = self.out / "models" / name
        result_file = folder / "result.json"
        if result_file.is_file():
            return read_json(result_file)
        t0 = time.perf_counter()
        model = self._make(name)
        kwargs = {} if name == "residual-correlation" else {"progress": self.progress,
                                                            "checkpoint_dir": folder / "checkpoint"}
        model.fit(*data["train"], *data["val"], **kwargs)
        fit_seconds = time.perf_counter() - t0
        model.save(folder)
        row = {"accuracy": float(model.score(*data["test"])), "fit_seconds": round(fit_seconds, 2),
               "epochs_run": model.history_.get("epochs_run")}
        write_json(result_file, row)
        import shutil

        shutil.rmtree(folder / "checkpoint", ignore_errors=True)
        return row

    def _load_model(self, name: str):
        from ganprint.attribution.loading import load_model

        return load_model(self.out / "models" / name, device=self.device)

    def _visnet_pictures(self, _row: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """The model fingerprints and one demo panel for the first test image of each source."""
        from ganprint.fingerprints.pictures import plot_fingerprint_panel, plot_model_fingerprints

        folder = self.out / "report"
        folder.mkdir(parents=True, exist_ok=True)
        model = self._load_model("visnet")
        classes = [str(c) for c in model.classes_]
        out = {"model_fingerprints": "report/visnet_model_fingerprints.png", "panels": {}}
        if not (self.out / out["model_fingerprints"]).is_file():
            plot_model_fingerprints(model.model_fingerprints, classes, self.out / out["model_fingerprints"])
        x, y = data["test"]
        for source in classes:
            idx = np.flatnonzero(y == source)
            if not len(idx):
                continue
            rel = f"report/visnet_panel_{source}.png"
            if not (self.out / rel).is_file():
                fp = model.fingerprints(x[idx[:1]])
                plot_fingerprint_panel(x[idx[0]], fp["image_fingerprint"][0], model.model_fingerprints,
                                       fp["responses"][0], fp["logits"][0], classes, self.out / rel,
                                       true_label=source)
            out["panels"][source] = rel
        return out

    def _robustness(self, models: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        from ganprint.robustness import ImmuniseConfig, immunise, robustness_report

        cache = self.out / "robustness.json"
        done = read_json(cache) if cache.is_file() else {}
        grid = {k: tuple(v) for k, v in self.spec["robustness"]["perturbations"].items()}
        x_te, y_te = data["test"]
        for key, name in (("seed_cnn", CNN), ("visnet", "visnet"), ("residual_correlation", "residual-correlation")):
            if key not in done:
                done[key] = robustness_report(self._load_model(name), x_te, y_te, perturbations=grid)
                write_json(cache, done)
        if "immunised" not in done:
            folder = self.out / "models" / f"{CNN}-immunised"
            if (folder / "config.json").is_file():
                model = self._load_model(f"{CNN}-immunised")
            else:
                model = self._load_model(CNN)
                config = ImmuniseConfig(**self._seeded(self.spec["robustness"].get("immunise", {})))
                immunise(model, *data["train"], *data["val"], config, progress=self.progress)
                model.save(folder)
            done["immunised"] = robustness_report(model, x_te, y_te, perturbations=grid)
            write_json(cache, done)
        from ganprint.plots import plot_robustness
        from ganprint.robustness.perturbations import PERTURBATIONS

        png = self.out / "report" / "robustness.png"
        png.parent.mkdir(parents=True, exist_ok=True)
        plot_robustness({"seed CNN": done["seed_cnn"], "seed CNN immunised": done["immunised"],
                         "visNet": done["visnet"], "residual correlation": done["residual_correlation"]},
                        "accuracy under perturbations (test split)", png,
                        target_ranges={n: s.immunise_range for n, s in PERTURBATIONS.items()})
        return done

    def _persistence(self, data: dict[str, Any]) -> dict[str, Any]:
        from ganprint.robustness.persistence import PersistenceConfig, persistence_table

        spec = dict(self.spec["persistence"])
        arch = spec.pop("arch", CNN)
        fit = FitConfig.from_dict(self._seeded({"patience": None, **spec.pop("fit", {})}))
        config = PersistenceConfig.from_dict(self._seeded(spec))

        def factory(size: tuple[int, int]):
            return self._make(arch, size=size, fit=fit)

        log = print if self.progress else None
        table = persistence_table(factory, data["train"], data["val"], data["test"], config,
                                  cache_dir=self.out / "persistence", log=log)
        table["arch"] = arch
        return table


def _robustness_markdown(reports: dict[str, dict[str, Any]]) -> list[str]:
    labels = list(reports)
    lines = ["| perturbation | strength | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels),
             "| clean | | " + " | ".join(f"{reports[lb]['clean']:.4f}" for lb in labels) + " |"]
    for name, row in reports[labels[0]]["perturbations"].items():
        for key in row:
            cells = " | ".join(f"{reports[lb]['perturbations'][name][key]:.4f}" for lb in labels)
            lines.append(f"| {name} | {key} | {cells} |")
    return lines


def write_report(out_dir: Path, results: dict[str, Any], deviations: list[str]) -> Path:
    """``report.md``: accuracies, the pictures, robustness before/after immunisation, persistence."""
    from ganprint.robustness.persistence import format_persistence

    acc, fit = results["accuracy"], results["fit_seconds"]
    rob = results["robustness"]
    pics = results["visnet_pictures"]
    lines = [f"# Fingerprints ({results['profile']} profile)", "",
             f"Data: `{results['data']}`; sources {', '.join(results['classes'])}; {results['train_images']} "
             f"training and {results['test_images']} test images; wall time {results['wall_seconds'] / 60:.1f} min "
             f"on {results['threads']} thread(s).", "",
             "## Attributors (test accuracy)", "", "| attributor | test accuracy | fit s |", "|---|---|---|"]
    lines += [f"| {name} | {a:.4f} | {fit[name]:.0f} |" for name, a in acc.items()]
    lines += ["", "## Learned fingerprints (visNet)", "",
              "Model fingerprints (one per source, learned with the autoencoder; each tile scaled to its own range):",
              "", f"![model fingerprints]({pics['model_fingerprints']})", "",
              "Per source, the first test image: input and image fingerprint (autoencoder residual) on the left; "
              "model fingerprints (title green: true source; red: a wrong prediction), the image fingerprint's "
              "response to each, and the response intensities (bar plot; the largest is the prediction).", ""]
    lines += [f"![{source}]({rel})" for source, rel in pics["panels"].items()]
    lines += ["", "## Signal fingerprints", "",
              "Rows: mean noise residual (image minus 3x3 median), mean FFT and DCT log spectra, and the spectra "
              "minus their mean over sources; one column per source (train split).", "",
              f"![signal fingerprints]({results['signal']['picture']})", "",
              "## Robustness before and after immunisation", "",
              f"Targets (Yu et al. ranges) met by the immunised seed CNN: **{results['immunisation_targets_met']}** "
              f"(clean accuracy change {-results['immunisation_clean_drop']:+.4f}).", "",
              "![robustness](report/robustness.png)", ""]
    lines += _robustness_markdown({"seed CNN": rob["seed_cnn"], "seed CNN immunised": rob["immunised"],
                                   "visNet": rob["visnet"], "residual correlation": rob["residual_correlation"]})
    per = results["persistence"]
    lines += ["", f"## Persistence ({per['arch']} trained and tested on each variant)", "", format_persistence(per),
              "", "## Stage times (s)", "", *[f"- {k}: {v:.0f}" for k, v in results["stage_seconds"].items()]]
    if deviations:
        lines += ["", "## Deviations", "", *[f"- {d}" for d in deviations]]
    path = Path(out_dir) / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
