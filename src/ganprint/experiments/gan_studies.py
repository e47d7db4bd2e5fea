"""What the GAN studies of seed 000 §3.1.6 and §3.2 (``cifar-gans``, ``gan-epochs``, ``pairs``) share:
a protocol's GAN entries and their training configs, the profile base, and the runner base
(:class:`GanStudy`: protocol, profile, device, the study's :class:`~ganprint.experiments.run.Run`,
its GAN stages, its images (:mod:`ganprint.experiments.gan_study_data`) and the end of its report).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ganprint.experiments.gan_study_data import REAL, GanImages, sample_images, save_image_grid
from ganprint.experiments.protocol import GanEntry, load_protocol_dict, profile_settings, with_seed_offset
from ganprint.experiments.run import Run
from ganprint.experiments.stages import SPLITS, split_kind, train_gans

__all__ = ["REAL", "GanEntry", "GanImages", "GanStudy", "GanStudyProfile", "gan_config", "quality_figures",
           "sample_images", "save_image_grid"]

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest


@dataclasses.dataclass(frozen=True, kw_only=True)
class GanStudyProfile:
    """What every GAN study's profile holds: the GANs' training settings, the classifier's images per
    split (under :attr:`images_key`) and attributor settings, and the deviations from the seed; a
    study's own settings come from :meth:`own`."""

    images_key: ClassVar[str] = "images_per_class"
    name: str
    gan: dict[str, Any]
    images: dict[str, int]
    attributor: dict[str, Any]
    deviations: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> Any:
        return cls(name=name, gan=dict(d["gan"]), images={s: int(d[cls.images_key][s]) for s in SPLITS},
                   attributor=dict(d["attributor"]), deviations=tuple(d.get("deviations", ())), **cls.own(d))

    @classmethod
    def own(cls, d: dict[str, Any]) -> dict[str, Any]:
        """The study's own fields from the profile mapping ``d``."""
        return {}


def gan_config(entry: GanEntry, profile_gan: Mapping[str, Any], *, snapshot_every: int | None = None,
               checkpoint_every: int = 100):
    """The :class:`~ganprint.gans.config.GanTrainConfig` of ``entry`` under a profile's ``gan`` settings
    (``width`` and ``disc_width`` there are architecture options; the entry's own options win)."""
    from ganprint.gans.config import GanTrainConfig

    settings = {**profile_gan, **entry.train}
    options = {k: settings.pop(k) for k in ("width", "disc_width") if k in settings}
    return GanTrainConfig(arch=entry.arch, arch_options={**options, **entry.options}, seed=entry.seed,
                          snapshot_every=snapshot_every, checkpoint_every=checkpoint_every, **settings)


class GanStudy:
    """A run folder of one GAN study: its protocol (with the run's seed offset), profile
    (``profile_type.from_dict``), GAN entries (GAN ``i`` trains with seed ``seed + i * gan_seed_step``
    unless its entry sets one), real source and device; :meth:`start` opens its :class:`Run`."""

    name: ClassVar[str]
    default_source: ClassVar[str] = "photos"
    gan_seed_step: ClassVar[int] = 1
    profile_type: ClassVar[Any]

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path | None = None,
                 device: str = "auto", real_source: str | None = None, progress: bool = True,
                 seed: int | None = None) -> None:
        from ganprint.device import resolve_device

        self.out = Path(out_dir)
        self.protocol = with_seed_offset(load_protocol_dict(protocol or self.name), seed)
        self.profile = self.profile_type.from_dict(profile, profile_settings(self.protocol, profile))
        self.seed = int(self.protocol.get("seed", 0))
        self.gans = {name: GanEntry.from_dict(name, d, default_seed=self.seed + i * self.gan_seed_step,
                                                require=("arch",))
                     for i, (name, d) in enumerate(self.protocol["gans"].items())}
        self.real_source = real_source or self.protocol.get("real_source", self.default_source)
        self.device = str(resolve_device(device))
        self.progress = progress
        self._real: dict[tuple[str, int, int], np.ndarray] = {}

    @classmethod
    def run_experiment(cls, request: RunRequest) -> dict[str, Any]:
        """Runner of the study's protocols (see :mod:`ganprint.experiments.runners`)."""
        return cls(request.out_dir, request.profile, protocol=request.protocol, device=request.device,
                   real_source=request.real_source, progress=request.progress, seed=request.seed).run()

    def start(self) -> Run:
        self.run_ = Run(self.out, {"protocol": self.protocol.get("name", self.name), "seed": self.seed,
                                   "real_source": self.real_source, "device": self.device,
                                   "profile": dataclasses.asdict(self.profile)})
        self.images = GanImages(self.run_, self.profile.images, self.device)
        return self.run_

    def real(self, split: str, n: int, seed: int) -> np.ndarray:
        """``n`` real colour images of ``split`` drawn with ``seed`` (kept; the read is declared)."""
        from ganprint.data.photos import load_color_source

        self.run_.read(split_kind(split), f"real {split} images")
        if (split, n, seed) not in self._real:
            self._real[split, n, seed] = load_color_source(self.real_source, split, n=n, seed=seed)
        return self._real[split, n, seed]

    def train_gans(self, configs: Mapping[str, Any], images: np.ndarray, info: Mapping[str, Any], *,
                   draw: Mapping[str, Any] | None = None, stops: Mapping[str, Any] | None = None,
                   monitor: Any = None) -> dict[str, Any]:
        """Stages ``gans/<name>``: each GAN of ``configs`` trained on ``images`` (their source ``info``,
        written with the GAN, and how they were ``draw``n), under its monitor in ``stops`` (whose
        settings are ``monitor``). Returns each GAN's training seconds."""
        from ganprint.gans.pool import GanJob

        jobs = [(GanJob(self.out / "gans" / name, cfg, images, dict(info), (stops or {}).get(name)),
                 {"train": cfg.to_dict(), "data": {**info, **(draw or {})}, "monitor": monitor})
                for name, cfg in configs.items()]
        return train_gans(self.run_, jobs, device=self.device, progress=self.progress)

    def gan_tokens(self, names: list[str] | None = None) -> dict[str, str]:
        return {n: self.run_.token(f"gans/{n}") for n in names or self.gans}

    def write_report(self, lines: list[str], results: Mapping[str, Any], *, timing: bool = True) -> None:
        """``report.md``: ``lines``, then the profile's deviations from the seed and, with ``timing``,
        where the time went."""
        lines = [*lines, "## Deviations of this profile from the seed", ""]
        lines += [f"- {d}" for d in results["deviations"]] or ["- none"]
        if timing:
            lines += ["", "## Where the time goes", "", "| stage | seconds |", "|---|---|"]
            lines += [f"| {k} | {v:.1f} |" for k, v in results["stage_seconds"].items()]
        (self.out / "report.md").write_text("\n".join(lines) + "\n")


def quality_figures(model, real_reference: np.ndarray, samples: Mapping[str, np.ndarray], *,
                    seed: int = 0) -> dict[str, dict[str, Any]]:
    """Each generator's quality figures (:func:`ganprint.quality.figures.gan_quality`: a Fréchet
    distance on the features of ``model``, the quality network, and the network-free sliced
    Wasserstein distance, both against ``real_reference`` images of the GANs' training distribution
    that no GAN trained on, with the real floor, the trivial failures and the pass rule)."""
    from ganprint.quality.figures import quality_scorer

    score = quality_scorer(model, real_reference, seed=seed)
    return {name: {k: (v.item() if isinstance(v, np.generic) else v) for k, v in score(x).items()}
            for name, x in samples.items()}
