"""The MNIST study's fitting and assessment stages: the independent judge, each GAN's quality
figures, each group's attributor (fit on train and validation) and its test figures. The functions
run inside a stage of the study's :class:`~ganprint.experiments.run.Run` and declare what they read."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganprint.attribution.attributor import Attributor, Preprocessing
from ganprint.attribution.metrics import classification_report
from ganprint.data.folder import scan_folder_dataset, split_indices
from ganprint.experiments.gan_studies import save_image_grid
from ganprint.experiments.run import REPORT, SELECTION
from ganprint.gans.sampling import chunk_latents, generate, load_generator
from ganprint.quality.digits import DigitGate

if TYPE_CHECKING:
    from ganprint.experiments.mnist_groups import MnistGroupsRun

JUDGE_SEED_OFFSET = 7_919
"""The judge trains with the study's seed plus this: not the gate's seed."""


def _finite(value: float | None) -> float | None:
    """``value``, or None where it is NaN (strict JSON has no NaN)."""
    return None if value is None or math.isnan(value) else float(value)


def train_judge(study: MnistGroupsRun, folder: Path) -> dict[str, Any]:
    """Train the judge (:class:`~ganprint.quality.judge.DigitJudge`) on the real digits, with its own
    architecture and seed; it takes part in no choice of the study."""
    from ganprint.quality.judge import DigitJudge

    study.run_.read(SELECTION, "real digits")
    judge = DigitJudge.train(study.real, epochs=study.profile.judge_epochs, seed=study.seed + JUDGE_SEED_OFFSET,
                             device=study.device, progress=study.progress)
    judge.save(folder)
    return {"seed": study.seed + JUDGE_SEED_OFFSET}


def gan_quality(study: MnistGroupsRun, folder: Path) -> dict[str, Any]:
    """Per GAN: the gate's share, mode coverage and diversity of samples from reported latents (the
    gate steered training), beside the judge's recognised share and k-NN precision and recall against
    held-out real digits of the GAN's subset (Kynkäänniemi et al. 2019; the judge steered nothing),
    and the same figures for held-out real digits. Sample grids go to ``report/samples``."""
    from ganprint.quality.judge import DigitJudge, judge_figures

    study.run_.read(REPORT, "samples of reported latents, held-out real digits")
    gate = DigitGate.load(study.out / "gate", study.device)
    judge = DigitJudge.load(study.out / "judge", study.device)
    held_out = study.real.take(split_indices(study.real.labels, seed=study.gate_info.get("seed", 0))["test"])
    grids = study.out / "report" / "samples"
    out: dict[str, Any] = {}
    for name in study.gan_names:
        entry = study.protocol.gans[name]
        G, config = load_generator(study.out / "gans" / name, study.device)
        n = study.profile.gate_samples
        z = torch.cat([chunk_latents(study.seed + 1, c, config["latent_dim"]) for c in range(-(-n // 500))])[:n]
        images = generate(G, z)[..., 0]
        held = held_out.subset(entry.digits)
        figures = gate.assess(images, entry.digits, study.real)
        real_figures = gate.assess(held.images, entry.digits, study.real)
        judged = judge_figures(judge, images, entry.digits, held.images, seed=study.seed)
        out[name] = {
            "quality_gate": figures["quality_gate"], "mode_coverage": figures["mode_coverage"],
            "diversity": _finite(figures["diversity"]), "real_share": real_figures.get("quality_gate"),
            "real_diversity": _finite(real_figures.get("diversity")),
            **{f"judge_{k.removeprefix('judge_')}": _finite(v) for k, v in judged.items()},
            "digits": list(entry.digits), "partition": list(entry.partition) if entry.partition else None,
            "train_images": config["data"]["n_images"], "train_steps": config["steps"],
            "stopped_early": config.get("stopped_early", False),
            "kept_step": config.get("kept_step", config["steps"]),
        }
        save_image_grid(images[:64], grids / f"{name}.png")
    return out


def _splits(study: MnistGroupsRun, gname: str, *splits: str):
    """The group's images of each of ``splits`` (one scan of its folder) and its class names."""
    ds = scan_folder_dataset(study.group_dir(gname))
    loaded = [study.written.load(ds.split(s), (28, 28), progress=study.progress, desc=f"{gname} {s}") for s in splits]
    return loaded, np.asarray(ds.classes)


def fit_group(study: MnistGroupsRun, gname: str, folder: Path) -> dict[str, Any]:
    """Fit the group's attributor on its train split, its schedule and stop on the validation split."""
    study.run_.read(SELECTION, "train and validation splits")
    (train, val), classes = _splits(study, gname, "train", "val")
    t0 = time.perf_counter()
    att = Attributor(arch=study.protocol.attributor_arch, preprocessing=Preprocessing(size=(28, 28), channels=1),
                     fit_config=study.profile.attributor, device=str(study.device))
    att.fit(train.images, classes[train.labels], val.images, classes[val.labels], progress=study.progress)
    att.save(folder)
    return {"fit_seconds": round(time.perf_counter() - t0, 2), "epochs_run": att.history_.get("epochs_run"),
            "train_images": int(len(train.images))}


def assess_group(study: MnistGroupsRun, gname: str) -> dict[str, Any]:
    """The group's attributor on its test split: accuracy, per-class figures, confusion matrix."""
    study.run_.read(REPORT, "test split")
    (test,), classes = _splits(study, gname, "test")
    att = Attributor.load(study.out / "models" / gname, device=str(study.device))
    order = [list(att.classes_).index(c) for c in classes]
    pred = att.predict_proba(test.images).argmax(1)
    true = np.asarray([order[i] for i in test.labels])
    return classification_report(true, pred, [str(c) for c in att.classes_])
