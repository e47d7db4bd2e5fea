"""The data stages of Yu et al.'s studies and of ``seed001``: the GANs (trained side by side in one
pool, or reused from another run), the labelled dataset per split; and the reported GAN quality and
sample grids. The functions run inside stages of the study's :class:`~ganprint.experiments.run.Run`
and declare what they read."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganprint.experiments.run import REPORT
from ganprint.experiments.stages import split_kind
from ganprint.experiments.stages import train_gans as train_gan_stages
from ganprint.experiments.yu_data import gan_images, write_source
from ganprint.experiments.yu_protocol import REAL
from ganprint.serialization import read_json

if TYPE_CHECKING:
    from ganprint.experiments.yu import YuRun
    from ganprint.experiments.yu_protocol import GanEntry


def gan_info(folder: Path, gan: GanEntry) -> dict[str, Any]:
    """What the results say of a trained GAN: its folder, config, steps and kept step."""
    cfg = read_json(folder / "config.json")
    return {"arch": gan.arch, "seed": gan.seed, "folder": str(folder), "steps": cfg.get("steps"),
            "kept_step": cfg.get("kept_step"), "train": cfg.get("train")}


def train_gans(study: YuRun) -> dict[str, dict[str, Any]]:
    """Stages ``gans/<name>``: every GAN trained (or resumed) side by side (one process per core on a
    CPU, :func:`ganprint.experiments.stages.train_gans`), each scored by the profile's ``monitor``
    while it trains when there is one, unless its settings say ``reused_from`` (another run's
    finished GAN); returns :func:`gan_info` per GAN with its training seconds."""
    from ganprint.gans.pool import GanJob

    run, gans = study.run_, study.protocol.gans
    settings = {g.name: study.gan_stage_settings(g) for g in gans}
    results = {name: run.stage(f"gans/{name}", s, lambda _: {"train_seconds": None})
               for name, s in settings.items() if "reused_from" in s}
    own = {g.name: study.profile.gan_config(g) for g in gans if g.name not in results}
    if own:
        images = study.real("train", study.profile.gan_train_images, "gan")
        stops = study.quality_stops(own)
        jobs = [(GanJob(study.out / "gans" / name, cfg, images, study.gan_data_info(), stops[name]), settings[name])
                for name, cfg in own.items()]
        results.update(train_gan_stages(run, jobs, device=study.device, progress=study.progress, timer="gans"))
    return {g.name: {**gan_info(Path(settings[g.name].get("reused_from", study.out / "gans" / g.name)), g),
                     "train_seconds": results[g.name]["train_seconds"]} for g in gans}


def write_split(study: YuRun, split: str, folder: Path) -> dict[str, Any]:
    """``data/<split>/<source>/NNNNNN.png``: real crops of the attributor's role and each GAN's images
    of the split's own latent stream, ``images_per_source[split]`` of each."""
    n = study.profile.images_per_source[split]
    study.run_.read(split_kind(split), f"{split} split (real crops, GAN images)")
    write_source(folder / REAL, n, lambda k: study.real(split, k, "attr"))
    for g in study.protocol.gans:
        write_source(folder / g.name, n, lambda k, g=g: gan_images(study.gan_dir(g.name), split, k, study.device))
    return {"images_per_source": n, "sources": study.sources}


def gan_quality(study: YuRun) -> dict[str, dict[str, Any]]:
    """The quality figures of every GAN (:func:`ganprint.quality.figures.gan_quality`: Fréchet and
    SWD) of its test images against held-out real crops of the GANs' training photos."""
    from ganprint.quality.figures import quality_scorer

    q = study.profile.quality
    reference = study.real("train", q.get("reference_images", 1000), "reference")
    x_te, y_te, _ = study.splits("test")
    score = quality_scorer(study.quality_networks, reference, seed=study.seed)
    return {g.name: score(x_te[y_te == g.name][:q.get("samples", 1000)]) for g in study.protocol.gans}


def sample_grids(study: YuRun, sources: list[str]) -> dict[str, str]:
    """``figures/samples_<source>.png``: the first test images of each source; source -> file name."""
    from ganprint.experiments.yu_report import sample_grids as grids

    study.run_.read(REPORT, "test split")
    return grids(study.out / "data", "test", sources, study.out / "figures")
