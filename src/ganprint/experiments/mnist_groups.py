"""Runner for the MNIST authorship study (seed 000 §3.1), in the stages of a :class:`Run`:

``gate`` (the digit classifier that steers GAN training) and ``judge`` (another architecture and
seed that reports sample quality and steers nothing); ``gans/<GAN>`` (trained side by side in a
:func:`~ganprint.gans.pool.train_gan_jobs` pool); ``data/<group>`` (``<split>/<source>/NNNNNN.png``:
GAN samples of disjoint latent ranges per split, plus real digits where the group has a real
class); ``models/<group>`` (the seed's authorship CNN, fit on train and val); then the report
stages: ``quality`` (gate and judge on reported latents and held-out real digits) and
``assess/<group>`` (the test split). ``results.json`` and ``report.md`` come last.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganprint.data.mnist import load_digits_source
from ganprint.device import resolve_device
from ganprint.experiments.mnist_assess import assess_group, fit_group, gan_quality, train_judge
from ganprint.experiments.mnist_data import WrittenImages, conditioned, gan_training_data, generate_group_data
from ganprint.experiments.protocol import MnistGroupsProtocol, Profile, load_protocol_dict, with_seed_offset
from ganprint.experiments.report import SEED_TOLERANCE, write_mnist_groups_report
from ganprint.experiments.run import SELECTION, Run
from ganprint.experiments.runners import register_study
from ganprint.experiments.stages import train_gans
from ganprint.gans.pool import GanJob
from ganprint.quality.digits import DigitGate, GateStop

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest

FIGURES = {
    "groups.*.accuracy": {"chosen_on": "validation split (the attributor's training schedule and stop)",
                          "reported_on": "test split: each GAN's images from latents no other split uses, "
                                         "real digits no other split holds"},
    "gans.*.quality_gate": {"chosen_on": "the gate on the monitor's latent stream (training stop, snapshot)",
                            "reported_on": "the same gate on other latents: it steered training"},
    "gans.*.judge_*": {"chosen_on": "nothing: the judge steers no choice",
                       "reported_on": "the judge on reported latents against held-out real digits"},
}


@register_study("mnist-groups")
def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of ``mnist-groups`` protocols (see :mod:`ganprint.experiments.runners`)."""
    return MnistGroupsRun(request.out_dir, request.profile, protocol=request.protocol,
                          groups=list(request.groups) or None, workers=request.workers, device=request.device,
                          progress=request.progress, real_source=request.real_source,
                          seed=request.seed or 0).run()


def summary_lines(results: dict[str, Any]) -> list[str]:
    return [f"{name}: accuracy {g['accuracy']:.4f} (seed {g['seed_accuracy']})"
            for name, g in results["groups"].items()]


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The figures a repeated run aggregates: each group's accuracy against the seed's, and each
    GAN's judged quality."""
    out = {f"{name} accuracy": {"value": g["accuracy"], "target": g["seed_accuracy"], "tolerance": SEED_TOLERANCE}
           for name, g in results["groups"].items()}
    for name, g in results["gans"].items():
        for key in ("judge_recognised", "judge_knn_recall"):
            if g.get(key) is not None:
                out[f"{name} {key.removeprefix('judge_')}"] = {"value": g[key], "target": None}
    return out


class MnistGroupsRun:
    """One run folder of the study; ``run()`` executes or resumes every stage. ``seed`` offsets the
    protocol's seeds (:func:`~ganprint.experiments.protocol.with_seed_offset`: GAN training, latents,
    attributor initialisation)."""

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path = "mnist-groups",
                 overrides: dict[str, Any] | None = None, groups: list[str] | None = None,
                 workers: int | None = None, device: str = "auto", progress: bool = True,
                 cache_dir: str | Path | None = None, real_source: str | None = None, seed: int = 0) -> None:
        self.protocol = MnistGroupsProtocol.from_dict(with_seed_offset(load_protocol_dict(protocol), seed))
        self.profile: Profile = self.protocol.profile(profile, overrides)
        self.protocol = dataclasses.replace(
            self.protocol, real_source=real_source or self.profile.real_source or self.protocol.real_source)
        unknown = sorted(set(groups or []) - set(self.protocol.groups))
        if unknown:
            raise ValueError(f"unknown groups {unknown}; known: {', '.join(self.protocol.groups)}")
        self.group_names = list(groups or self.protocol.groups)
        self.gan_names = [g for g in self.protocol.gans
                          if any(g in self.protocol.groups[n].gans for n in self.group_names)]
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.device = resolve_device(device)
        self.progress = progress
        self.cache_dir = cache_dir
        self.out = Path(out_dir)
        self.written = WrittenImages()
        self.run_: Run | None = None

    @property
    def seed(self) -> int:
        return self.protocol.seed

    def group_dir(self, group: str) -> Path:
        return self.out / "data" / group

    def run(self) -> dict[str, Any]:
        run = self._start()
        self.prepare()
        gans = self.quality()
        groups = {g: self._assess(g) for g in self.group_names}
        results = run.finish({"experiment": self.protocol.name, "profile": self.profile.name,
                              "profile_config": self.profile.to_dict(), "seed": self.seed, "groups": groups,
                              "gans": gans, "gate_classifier": self.gate_info, "workers": self.workers},
                             figures=FIGURES, device=str(self.device))
        write_mnist_groups_report(self.out, results, self.protocol)
        return results

    def _start(self) -> Run:
        if self.run_ is None:
            self.run_ = Run(self.out, {"protocol": self.protocol.name, "real_source": self.protocol.real_source,
                                       "seed": self.seed, "profile": self.profile.to_dict(),
                                       "groups": self.group_names, "workers": self.workers,
                                       "device": str(self.device)})
        return self.run_

    # -- selection stages -------------------------------------------------------------------------
    def prepare(self) -> None:
        """Every stage up to the labelled datasets (``data/<group>/<split>/<source>/``)."""
        run = self._start()
        with run.timed("real data"):
            self.real = load_digits_source(self.protocol.real_source, self.cache_dir)
        self.gate_info = run.stage("gate", self._settings("gate"), self._train_gate, timer="quality-gate classifier")
        self._train_gans()
        with run.timed("dataset generation"):
            generate_group_data(self)

    def _settings(self, what: str) -> dict[str, Any]:
        p = self.profile
        base = {"real_source": self.protocol.real_source, "seed": self.seed}
        if what == "gate":
            return {**base, "epochs": p.gate_epochs, "precision": p.gate_precision}
        return {**base, "epochs": p.judge_epochs}  # the judge trains in fp32 whatever the gate's precision

    def _train_gate(self, folder: Path) -> dict[str, Any]:
        self._start().read(SELECTION, "real digits")
        gate = DigitGate.train(self.real, epochs=self.profile.gate_epochs, seed=self.seed, device=self.device,
                               progress=self.progress, precision=self.profile.gate_precision)
        gate.save(folder)
        return gate.report

    def _gan_config(self, index: int, name: str):
        entry = self.protocol.gans[name]
        seed = entry.seed if entry.seed is not None else self.seed * 1000 + index + 1
        cfg = self.profile.gan_config(entry.arch or self.protocol.gan_arch, seed=seed,
                                      overrides={**entry.train, **entry.options})
        data = gan_training_data(self.real, entry, self.seed)
        return (*conditioned(cfg, data, entry.digits), data)

    def _train_gans(self) -> None:
        run, p, jobs = self._start(), self.profile, []
        for i, name in enumerate(self.protocol.gans):
            if name not in self.gan_names:
                continue
            entry = self.protocol.gans[name]
            cfg, labels, data = self._gan_config(i, name)
            stop = None if p.stop_quality is None else GateStop(
                str(self.out / "gate"), entry.digits, p.stop_quality, p.quality_check_every, p.stop_from)
            info = {"source": self.protocol.real_source, "digits": list(entry.digits),
                    "partition": list(entry.partition) if entry.partition else None}
            jobs.append((GanJob(self.out / "gans" / name, cfg, data.images, info, stop, labels),
                         {"train": cfg.to_dict(), "gate": run.token("gate"), "data": info,
                          "stop": dataclasses.asdict(stop) if stop else None}))
        train_gans(run, jobs, device=str(self.device), workers=self.workers, progress=self.progress,
                   rebalance=False)

    # -- report stages ----------------------------------------------------------------------------
    def quality(self) -> dict[str, Any]:
        """Each GAN's quality figures (:func:`ganprint.experiments.mnist_assess.gan_quality`)."""
        run = self._start()
        run.stage("judge", self._settings("judge"), lambda folder: train_judge(self, folder), timer="judge")
        settings = {"gans": {n: run.token(f"gans/{n}") for n in self.gan_names}, "gate": run.token("gate"),
                    "judge": run.token("judge"), "samples": self.profile.gate_samples, "seed": self.seed}
        return run.stage("quality", settings, lambda folder: gan_quality(self, folder), report=True,
                         timer="quality gate")

    def _assess(self, gname: str) -> dict[str, Any]:
        run = self._start()
        fit = run.stage(f"models/{gname}", {"data": run.token(f"data/{gname}"),
                                            "fit": self.profile.attributor.to_dict(),
                                            "arch": self.protocol.attributor_arch},
                        lambda folder: fit_group(self, gname, folder), timer="attributor training")
        result = run.stage(f"assess/{gname}", {"model": run.token(f"models/{gname}")},
                           lambda folder: assess_group(self, gname), report=True, timer="attributor test")
        return {**result, **fit, "seed_accuracy": self.protocol.groups[gname].seed_accuracy}
