"""Experiment ``families``: attribution and detection across generator families (GANs, denoising
diffusion sampled with DDPM and DDIM, a VAE, a normalising flow) on MNIST digits.

Stages of its :class:`~ganprint.experiments.run.Run`, in order:

- ``gate`` and ``judge``: the digit classifier that steers the GANs' training stop, and another
  (architecture and seed) that reports sample quality and steers nothing; both train on the
  generators' training digits only;
- ``generators/<name>``: every generator trained side by side in one process pool
  (:func:`ganprint.generative.pool.train_model_jobs`);
- ``data``: each source's images from disjoint index ranges per split, and the real source's
  held-out digits (``data/<split>/<source>/NNNNNN.png``);
- ``spectra``: per-source mean spectra and noise residuals and a sample grid (train split);
- ``models/attribution`` / ``models/seed-level`` / ``models/detector-<name>-<seed>``: classifiers fit
  on the train split, scheduled and stopped on the validation split;
- report stages: ``quality`` (the judge's recognised share and k-NN precision and recall of each
  source's test images against held-out real digits), ``assess/*`` (the test split).

``results.json`` holds ``attribution_accuracy``, ``cross_family`` (``{trained_on: {tested_on:
{"auroc", "ap", ...}}}``, the mean over detector seeds with its 95% interval), ``seed_level_accuracy``
and per source its quality figures; ``report.md`` the tables and the pictures' paths.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganprint.experiments.families_data import REAL, SourceEntry
from ganprint.experiments.protocol import GanEntry, fit_config, load_protocol_dict, profile_settings, with_seed_offset
from ganprint.experiments.run import REPORT, SELECTION, Run
from ganprint.experiments.runners import register_study

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest

__all__ = ["FIGURES", "FamiliesRun", "figures", "run_experiment", "summary_lines"]

TARGETS = {"attribution_accuracy": 0.99, "judge_recognised": 0.9, "knn_recall": 0.5}
"""The issue's targets: attribution across every family, and each MNIST generator's quality."""

JUDGE_SEED_OFFSET = 7_919
GAN_FAMILY = "gan"

FIGURES = {
    "attribution_accuracy": {"chosen_on": "validation split (the attributor's schedule and stop)",
                             "reported_on": "test split: each source's images from indices no other split uses"},
    "seed_level_accuracy": {"chosen_on": "validation split", "reported_on": "test split"},
    "cross_family.*": {"chosen_on": "validation split of the detector's own families (schedule and stop)",
                       "reported_on": "test split of every family and of the real digits"},
    "sources.*.judge_*": {"chosen_on": "nothing: the judge steers no choice",
                          "reported_on": "the judge on each source's test images against held-out real digits"},
}


@register_study("families")
def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of ``families`` protocols (see :mod:`ganprint.experiments.runners`)."""
    return FamiliesRun(request.out_dir, request.profile, protocol=request.protocol, workers=request.workers,
                       device=request.device, progress=request.progress, real_source=request.real_source,
                       seed=request.seed or 0).run()


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The figures a repeated run aggregates: attribution and seed-level accuracy, each cross-family
    AUROC and AP (mean over the run's detector seeds), and each source's judged quality."""
    out = {"attribution accuracy": {"value": results["attribution_accuracy"],
                                    "target": TARGETS["attribution_accuracy"]},
           "seed-level accuracy": {"value": results["seed_level_accuracy"], "target": None}}
    for trained, row in results["cross_family"].items():
        for tested, cell in row.items():
            out[f"AUROC {trained} -> {tested}"] = {"value": cell["auroc"], "target": None}
            out[f"AP {trained} -> {tested}"] = {"value": cell["ap"], "target": None}
    for name, q in results["sources"].items():
        if q.get("judge_recognised") is not None and name != REAL.name:
            out[f"{name} recognised"] = {"value": q["judge_recognised"], "target": TARGETS["judge_recognised"]}
            out[f"{name} knn recall"] = {"value": q["knn_recall"], "target": TARGETS["knn_recall"]}
    return out


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines = [f"attribution accuracy {results['attribution_accuracy']:.4f} over {len(results['attribution_classes'])} "
             f"sources; seed-level accuracy {results['seed_level_accuracy']:.4f}"]
    for trained, row in results["cross_family"].items():
        cells = ", ".join(f"{t} {c['auroc']:.3f}" for t, c in row.items())
        lines.append(f"detector trained on {trained}: AUROC {cells}")
    return lines


@dataclasses.dataclass(frozen=True)
class GeneratorEntry:
    """A trained model of the study: a GAN (``gan`` is its zoo entry) or a generative model."""

    name: str
    arch: str
    gan: GanEntry | None
    options: dict[str, Any]
    seed: int | None

    @property
    def family_kind(self) -> str:
        return "gan" if self.gan is not None else "generative"


class FamiliesRun:
    """One run folder of the study; ``run()`` executes or resumes every stage. ``seed`` offsets the
    protocol's seed (:func:`~ganprint.experiments.protocol.with_seed_offset`)."""

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path = "families",
                 workers: int | None = None, device: str = "auto", progress: bool = True,
                 real_source: str | None = None, seed: int = 0) -> None:
        from ganprint.device import resolve_device
        from ganprint.gans.registry import GANS

        self.protocol = with_seed_offset(load_protocol_dict(protocol), seed)
        if self.protocol.get("name") != "families":
            raise ValueError(f"{protocol} is not a families protocol")
        self.profile = profile
        self.spec = profile_settings(self.protocol, profile)
        self.seed = int(self.protocol.get("seed", 0))
        self.real_source = real_source or self.spec.get("real_source") or self.protocol.get("real_source", "mnist5k")
        self.out = Path(out_dir)
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.device = resolve_device(device)
        self.progress = progress
        self.generators = {}
        for name, d in (self.protocol.get("generators") or {}).items():
            arch = str(d.get("arch", ""))
            if arch in GANS:
                gan = GanEntry.from_dict(name, d, require=("digits",))
                self.generators[name] = GeneratorEntry(name, arch, gan, gan.options, gan.seed)
            else:
                unknown = set(d) - {"arch", "options", "seed"}
                if unknown:
                    raise ValueError(f"generator {name}: unknown keys {sorted(unknown)}")
                self.generators[name] = GeneratorEntry(name, arch, None, dict(d.get("options") or {}),
                                                       None if d.get("seed") is None else int(d["seed"]))
        self.sources = {n: SourceEntry.from_dict(n, d, list(self.generators))
                        for n, d in (self.protocol.get("sources") or {}).items()}
        for name, over in (self.spec.get("samplers") or {}).items():
            if name not in self.sources:
                raise ValueError(f"profile {profile}: samplers names the unknown source {name!r}")
            src = self.sources[name]
            self.sources[name] = dataclasses.replace(src, sampler={**src.sampler, **over})
        self.pair = tuple(self.protocol.get("seed_level") or ())
        if len(self.pair) != 2 or any(p not in self.sources for p in self.pair):
            raise ValueError("seed_level must name two sources")
        self.detectors = {k: tuple(v) for k, v in (self.protocol.get("detectors") or {}).items()}
        self.families = sorted({s.family for s in self.sources.values()})
        for name, fams in self.detectors.items():
            if not set(fams) <= set(self.families):
                raise ValueError(f"detector {name}: families {sorted(set(fams) - set(self.families))} have no source")
        self.split = tuple(float(x) for x in self.spec["split"])
        self.n = int(self.spec["images_per_source"])
        self.run_: Run | None = None

    # -- the run ------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        from ganprint.experiments.families_report import write_families_report

        run = self._start()
        self.prepare()
        quality = run.stage("quality", {"data": run.token("data"), "judge": run.token("judge")},
                            self._quality, report=True, timer="quality")
        spectra = run.stage("spectra", {"data": run.token("data")}, self._spectra, timer="spectra")
        attribution = self._attribution("attribution", [REAL.name] + self.attribution_sources)
        seed_level = self._attribution("seed-level", list(self.pair))
        cross = {name: self._detector(name) for name in self.detectors}
        results = run.finish({
            "experiment": "families", "profile": self.profile, "seed": self.seed, "real_source": self.real_source,
            "attribution_accuracy": attribution["accuracy"], "attribution_classes": attribution["labels"],
            "attribution": attribution, "seed_level_accuracy": seed_level["accuracy"], "seed_level": seed_level,
            "seed_level_pair": list(self.pair),
            "cross_family": {n: d["summary"] for n, d in cross.items()},
            "cross_family_per_source": {n: d["per_source"] for n, d in cross.items()},
            "detector_seeds": int(self.spec.get("detector_seeds", 3)),
            "sources": quality, "source_entries": {n: dataclasses.asdict(s) for n, s in self.sources.items()},
            "generators": self.trained, "pictures": spectra, "deviations": list(self.spec.get("deviations", ())),
            "targets": TARGETS,
        }, figures=FIGURES, device=str(self.device))
        write_families_report(self.out, results)
        return results

    def _start(self) -> Run:
        if self.run_ is None:
            self.run_ = Run(self.out, {"protocol": "families", "profile": self.profile, "seed": self.seed,
                                       "real_source": self.real_source, "settings": self.spec,
                                       "workers": self.workers, "device": str(self.device)})
        return self.run_

    @property
    def attribution_sources(self) -> list[str]:
        return [n for n, s in self.sources.items() if s.attribution]

    # -- selection stages -----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Every stage up to the written data."""
        from ganprint.data.mnist import load_digits_source
        from ganprint.experiments.families_data import split_real

        run = self._start()
        with run.timed("real data"):
            real = load_digits_source(self.real_source)
            self.gen_digits, self.held_digits = split_real(real, float(self.protocol.get("generator_share", 0.6)),
                                                           self.seed)
        base = {"real_source": self.real_source, "seed": self.seed,
                "share": self.protocol.get("generator_share", 0.6)}
        run.stage("gate", {**base, "gate": self.spec.get("gate", {})}, self._train_gate,
                  timer="quality-gate classifier")
        run.stage("judge", {**base, "judge": self.spec.get("judge", {})}, self._train_judge, timer="judge")
        self.trained = self._train_generators()
        run.stage("data", {"generators": {n: run.token(f"generators/{n}") for n in self.generators},
                           "sources": {n: dataclasses.asdict(s) for n, s in self.sources.items()},
                           "n": self.n, "split": list(self.split), "real": base}, self._write_data,
                  timer="sampling")

    def _train_gate(self, folder: Path) -> dict[str, Any]:
        from ganprint.quality.digits import DigitGate

        self.run_.read(SELECTION, "generator training digits")
        g = self.spec.get("gate", {})
        gate = DigitGate.train(self.gen_digits, epochs=int(g.get("epochs", 8)), seed=self.seed, device=self.device,
                               progress=self.progress, precision=str(g.get("precision", "fp32")))
        gate.save(folder)
        return gate.report

    def _train_judge(self, folder: Path) -> dict[str, Any]:
        from ganprint.quality.judge import DigitJudge

        self.run_.read(SELECTION, "generator training digits")
        judge = DigitJudge.train(self.gen_digits, epochs=int(self.spec.get("judge", {}).get("epochs", 15)),
                                 seed=self.seed + JUDGE_SEED_OFFSET, device=self.device, progress=self.progress)
        judge.save(folder)
        return {"seed": self.seed + JUDGE_SEED_OFFSET, **judge.report}

    def _generator_seed(self, index: int, entry: GeneratorEntry) -> int:
        return entry.seed if entry.seed is not None else self.seed * 1000 + index + 1

    def _jobs(self) -> list[tuple[Any, dict[str, Any]]]:
        from ganprint.experiments.mnist_data import conditioned
        from ganprint.gans.config import GanTrainConfig, split_arch_options
        from ganprint.gans.pool import GanJob
        from ganprint.generative.config import GenerativeTrainConfig
        from ganprint.generative.pool import GenerativeJob
        from ganprint.quality.digits import GateStop

        run, jobs = self.run_, []
        gate = self.spec.get("gate", {})
        gan_arch = self.protocol.get("gan_arch", "mnist-dcgan")
        data_info = {"source": self.real_source, "share": self.protocol.get("generator_share", 0.6),
                     "n_images": int(len(self.gen_digits.images))}
        for i, (name, entry) in enumerate(self.generators.items()):
            seed = self._generator_seed(i, entry)
            if entry.gan is not None:
                settings = {**self.spec["gan"], **(self.spec.get("gan_overrides") or {}).get(name, {})}
                train, arch_options = split_arch_options(settings)
                if entry.arch != gan_arch:  # the profile's architecture options are its GAN architecture's
                    arch_options = {}
                cfg = GanTrainConfig(arch=entry.arch, arch_options={"width": 1.0, **arch_options, **entry.options},
                                     seed=seed, **train)
                cfg, labels = conditioned(cfg, self.gen_digits, entry.gan.digits)
                stop = None if gate.get("stop_quality") is None else GateStop(
                    str(self.out / "gate"), entry.gan.digits, gate["stop_quality"], int(gate.get("check_every", 100)),
                    int(gate.get("stop_from", 0)))
                job = GanJob(self.out / "generators" / name, cfg, self.gen_digits.images, data_info, stop, labels)
                jobs.append((job, {"train": cfg.to_dict(), "gate": run.token("gate"), "data": data_info,
                                   "stop": dataclasses.asdict(stop) if stop else None}))
            else:
                from ganprint.generative.registry import create_generative

                options = {"channels": 1, "size": 28, **(self.spec.get("generator_options") or {}).get(entry.arch, {}),
                           **entry.options}
                model = create_generative(entry.arch, **options)  # its measured defaults, under the profile's
                train = {**getattr(model, "train_defaults", {}),
                         **(self.spec.get("generative") or {}).get(entry.arch, {})}
                cfg = GenerativeTrainConfig(arch=entry.arch, arch_options=model.options, seed=seed, **train)
                steps = cfg.total_steps(len(self.gen_digits.images))
                cost = steps * {"diffusion": 4.0, "flow": 2.0}.get(_family(entry.arch), 0.5)
                job = GenerativeJob(self.out / "generators" / name, cfg, self.gen_digits.images, data_info, cost)
                jobs.append((job, {"train": cfg.to_dict(), "data": data_info}))
        return jobs

    def _train_generators(self) -> dict[str, Any]:
        from ganprint.generative.pool import train_model_jobs
        from ganprint.serialization import read_json

        run = self._start()
        stages, todo = [], []
        for job, settings in self._jobs():
            stage = run.open(Path(job.out_dir).relative_to(run.out).as_posix(), settings)
            stages.append(stage)
            if not stage.finished:
                stage.reads.add(SELECTION)
                todo.append(job)
        with run.timed("generator training"):
            seconds = train_model_jobs(todo, device=str(self.device), workers=self.workers, progress=self.progress)
        out = {}
        for s in stages:
            result = s.result if s.finished else run.close(s, {"train_seconds": seconds.get(s.folder.name)})
            cfg = read_json(s.folder / "config.json")
            parameters = cfg.get("parameters")
            if parameters is None and (s.folder / "generator.safetensors").is_file():  # a GAN: its generator's
                from ganprint.serialization import load_tensors

                parameters = sum(int(t.numel()) for t in load_tensors(s.folder / "generator.safetensors").values())
            out[s.folder.name] = {**(result or {}), "arch": cfg.get("arch"), "family": cfg.get("family", "gan"),
                                  "steps": cfg.get("steps"), "kept_step": cfg.get("kept_step"),
                                  "parameters": parameters}
        return out

    def _write_data(self, folder: Path) -> dict[str, Any]:
        from ganprint.experiments.families_data import run_sample_tasks, source_tasks, write_real

        self.run_.read(SELECTION, "held-out real digits (all splits are written here)")
        counts = {REAL.name: write_real(self.held_digits, folder, self.split, self.seed, self.n)}
        tasks = []
        for k, (name, src) in enumerate(self.sources.items()):
            entry = self.generators[src.generator]
            stream = self.seed * 1000 + 100 + k
            tasks += source_tasks(src, self.out / "generators" / src.generator, folder, self.n, self.split, stream,
                                  entry.options)
            counts[name] = {s: hi - lo for s, (lo, hi) in _ranges(self.n, self.split).items()}
        run_sample_tasks(tasks, workers=self.workers, device=str(self.device), progress=self.progress)
        return {"images": counts}

    # -- reading the data ------------------------------------------------------------------------------
    def images(self, split: str, sources: list[str]) -> dict[str, np.ndarray]:
        """uint8 (N, 28, 28) images of ``split`` per source, read as selection or report data."""
        from ganprint.data.decode import iter_image_paths
        from ganprint.data.folder import load_images

        self.run_.read(REPORT if split == "test" else SELECTION, f"{split} split")
        cache = self.__dict__.setdefault("_cache", {})
        out = {}
        for name in sources:
            key = (split, name)
            if key not in cache:
                files = [(p, 0) for p in iter_image_paths([self.out / "data" / split / name])]
                cache[key] = load_images(files, channels=1, size=(28, 28), workers=0, progress=False).images[..., 0]
            out[name] = cache[key]
        return out

    # -- stages after the data ---------------------------------------------------------------------------
    def _quality(self, folder: Path) -> dict[str, Any]:
        from ganprint.quality.judge import DigitJudge, judge_figures

        judge = DigitJudge.load(self.out / "judge", self.device)
        reference = np.concatenate([*self.images("val", [REAL.name]).values(),
                                    *self.images("test", [REAL.name]).values()])
        out = {}
        for name in [REAL.name, *self.sources]:
            samples = self.images("test", [name])[name]
            out[name] = {**judge_figures(judge, samples, range(10), reference, seed=self.seed),
                         "family": REAL.family if name == REAL.name else self.sources[name].family,
                         "images": int(len(samples))}
        return out

    def _spectra(self, folder: Path) -> dict[str, str]:
        from ganprint.experiments.families_report import save_sample_grid
        from ganprint.fingerprints.spectra import save_signal_fingerprints, signal_fingerprint_rows

        names = [REAL.name, *self.sources]
        train = self.images("train", names)
        x = np.concatenate([v[..., None] for v in train.values()])
        y = np.concatenate([[n] * len(v) for n, v in train.items()])
        rows = signal_fingerprint_rows(x, y)
        spectra = save_signal_fingerprints(rows, folder, title="spectra and residuals per source (train split)")
        grid = save_sample_grid({n: v[:12] for n, v in train.items()}, folder / "samples.png")
        return {"spectra": str(spectra.relative_to(self.out)), "samples": str(grid.relative_to(self.out))}

    def _fit(self) -> Any:
        return fit_config(self.spec["attributor"], self.seed)

    def _attribution(self, name: str, sources: list[str]) -> dict[str, Any]:
        from ganprint.experiments.stages import attribution_stages

        run = self.run_
        data = run.token("data")
        return attribution_stages(run, name, lambda split: self.images(split, sources),
                                  {"data": data, "sources": sources}, {"data": data},
                                  arch=self.protocol.get("attributor_arch", "seed-mnist-cnn"), fit=self._fit(),
                                  device=str(self.device), progress=self.progress, timer=name)

    def _detector(self, name: str) -> dict[str, Any]:
        """Detectors trained on real vs the families of ``name`` (one per detector seed), each scored on
        every family's and every source's test images against the real test digits."""
        from ganprint.experiments.families_detection import fit_detector, score_detector, summarise

        run, families = self.run_, self.detectors[name]
        fakes = [n for n in self.attribution_sources if self.sources[n].family in families]
        data = run.token("data")
        base = fit_config(self.spec.get("detector", self.spec["attributor"]), self.seed)
        per_seed = []
        for k in range(int(self.spec.get("detector_seeds", 3))):
            fit = dataclasses.replace(base, seed=base.seed + 1000 * (k + 1))
            stage = f"detector-{name}-{k}"
            run.stage(f"models/{stage}", {"data": data, "fakes": fakes, "fit": fit.to_dict(),
                                          "arch": self.protocol.get("attributor_arch", "seed-mnist-cnn")},
                      lambda folder, fit=fit: fit_detector(self, fakes, fit, folder), timer="detectors")
            per_seed.append(run.stage(f"assess/{stage}", {"model": run.token(f"models/{stage}")},
                                      lambda folder, stage=stage: score_detector(self, stage), report=True,
                                      timer="detectors"))
        return summarise(per_seed, self.families, list(self.sources))


def _family(arch: str) -> str:
    from ganprint.generative.registry import GENERATIVE, generative_names

    return getattr(GENERATIVE.get(arch), "family", "") if arch in generative_names() else "gan"


def _ranges(n: int, split: tuple[float, ...]) -> dict[str, tuple[int, int]]:
    from ganprint.experiments.mnist_data import split_ranges

    return split_ranges(n, split)

