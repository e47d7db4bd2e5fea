"""The protocol files of Yu et al.'s studies (``yu-sources``, ``yu-seeds``) and of ``seed001``: the
GANs, the profiles (GAN training, dataset sizes, attributors, the quality figure), validated."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from ganprint.experiments.protocol import GanEntry, load_protocol_dict, merge_settings, with_seed_offset
from ganprint.experiments.stages import SPLITS

REAL = "real"


QUALITY_SETTINGS = frozenset({"networks", "train_images", "epochs", "reference_images", "samples"})
"""Keys of a profile's ``quality``: how many Fréchet feature networks (their median decides), how
many real crops and epochs train each, and the reference and sample counts of the figures."""


@dataclasses.dataclass(frozen=True)
class YuProfile:
    """A protocol profile: GAN training, dataset sizes, attributors and the quality figure."""

    name: str
    gan: dict[str, Any]
    gan_train_images: int
    images_per_source: dict[str, int]
    attributors: dict[str, dict[str, Any]]
    quality: dict[str, int]
    deviations: tuple[str, ...] = ()
    monitor: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> YuProfile:
        from ganprint.quality.monitor import profile_monitor

        per = d["images_per_source"]
        if isinstance(per, int):
            raise ValueError("images_per_source must map split -> count, e.g. {train: 1200, val: 300, test: 500}")
        counts = {s: int(per.get(s, 0)) for s in SPLITS}
        unknown = set(d.get("quality", {})) - QUALITY_SETTINGS
        if unknown:
            raise ValueError(f"unknown quality settings {sorted(unknown)}; known: {sorted(QUALITY_SETTINGS)}")
        if counts["train"] < 1 or counts["test"] < 1:
            raise ValueError("images_per_source needs train and test counts >= 1")
        return cls(name=name, gan=dict(d.get("gan", {})), gan_train_images=int(d["gan_train_images"]),
                   images_per_source=counts, attributors={k: dict(v or {}) for k, v in d["attributors"].items()},
                   quality={k: int(v) for k, v in d.get("quality", {}).items()},
                   deviations=tuple(d.get("deviations", ())), monitor=profile_monitor(d))

    def gan_config(self, gan: GanEntry):
        """The :class:`GanTrainConfig` of one GAN: the family's quick settings when the profile says
        ``preset: quick`` (:data:`ganprint.gans.families.QUICK_TRAIN`), then the profile's and the
        GAN's own overrides."""
        from ganprint.gans.config import GanTrainConfig

        settings = copy.deepcopy(self.gan)
        preset = settings.pop("preset", None)
        base: dict[str, Any] = {}
        if preset == "quick":
            from ganprint.gans.families import quick_train_kwargs

            base = quick_train_kwargs(gan.arch)
        elif preset is not None:
            raise ValueError(f"unknown GAN preset {preset!r}; known: quick")
        merged = merge_settings(merge_settings(base, settings), gan.train)
        merged.update(arch=gan.arch, seed=gan.seed)
        if gan.options:
            merged["arch_options"] = {**merged.get("arch_options", {}), **gan.options}
        merged.setdefault("checkpoint_every", 100)
        return GanTrainConfig(**merged)


@dataclasses.dataclass(frozen=True)
class YuProtocol:
    """A ``yu-sources`` / ``yu-seeds`` / ``seed001`` protocol file, validated."""

    name: str
    title: str
    real_source: str
    seed: int
    primary: str
    gans: tuple[GanEntry, ...]
    seed_figures: dict[str, Any]
    target: float
    profiles: dict[str, dict[str, Any]] = dataclasses.field(repr=False)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    photo_splits: dict[str, str] = dataclasses.field(default_factory=lambda: {s: s for s in SPLITS})
    unseen_photos: str | None = None

    @classmethod
    def load(cls, name_or_path: str | Path, seed: int | None = None) -> YuProtocol:
        """The protocol, its seeds moved by the offset ``seed`` (:func:`with_seed_offset`)."""
        d = with_seed_offset(load_protocol_dict(name_or_path), seed)
        try:
            seed = int(d.get("seed", 0))
            gans = []
            for i, (gname, g) in enumerate(d["gans"].items()):
                gans.append(GanEntry.from_dict(gname, g or {}, default_seed=seed + i, require=("arch",)))
            if REAL in {g.name for g in gans}:
                raise ValueError(f"a GAN may not be called {REAL!r}")
            photo_splits = {s: s for s in SPLITS} | {str(k): str(v) for k, v in (d.get("photo_splits") or {}).items()}
            if set(photo_splits) != set(SPLITS):
                raise ValueError(f"photo_splits maps the splits {', '.join(SPLITS)} to photo splits, "
                                 f"got {sorted(photo_splits)}")
            from ganprint.data.photos import photo_split

            for value in [*photo_splits.values(), *([d["unseen_photos"]] if d.get("unseen_photos") else [])]:
                photo_split(value)  # raises on an unknown split
            known = {"name", "title", "real_source", "seed", "primary", "gans", "seed_figures", "target", "profiles",
                     "photo_splits", "unseen_photos"}
            return cls(name=d["name"], title=d.get("title", d["name"]), real_source=d.get("real_source", "photos"),
                       seed=seed, primary=d.get("primary", "postpool"), gans=tuple(gans),
                       seed_figures=dict(d.get("seed_figures", {})), target=float(d.get("target", 0.99)),
                       profiles=d["profiles"], extra={k: v for k, v in d.items() if k not in known},
                       photo_splits=photo_splits, unseen_photos=d.get("unseen_photos"))
        except KeyError as exc:
            raise ValueError(f"experiment file is missing the key {exc}") from None

    def profile(self, name: str) -> YuProfile:
        if name not in self.profiles:
            raise ValueError(f"unknown profile {name!r}; known: {', '.join(self.profiles)}")
        return YuProfile.from_dict(name, self.profiles[name])

