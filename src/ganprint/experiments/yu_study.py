"""The configuration and data access of one run of Yu et al.'s studies or of ``seed001``: the protocol
and profile, the run folder, which real images each role gets, and the settings of the stages that
make the data (:mod:`ganprint.experiments.yu_stages`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ganprint.experiments.run import Run
from ganprint.experiments.stages import FolderSplits, split_kind
from ganprint.experiments.yu_data import REAL_ROLES, load_real
from ganprint.experiments.yu_protocol import REAL, GanEntry, YuProtocol


class YuStudy:
    """A run directory of a Yu-style study: what its stages read and depend on."""

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path = "yu-sources",
                 real_source: str | None = None, device: str = "auto", progress: bool = True,
                 seed: int | None = None) -> None:
        from ganprint.device import resolve_device

        self.out = Path(out_dir)
        self.protocol = YuProtocol.load(protocol, seed)
        self.profile = self.protocol.profile(profile)
        self.real_source = real_source or self.protocol.real_source
        self.device = str(resolve_device(device))
        self.progress = progress
        self.seed = self.protocol.seed
        self.sources = [REAL, *(g.name for g in self.protocol.gans)]
        self.run_: Run | None = None
        self.splits: FolderSplits | None = None
        self.gan_info: dict[str, dict[str, Any]] = {}
        self.data_tokens: dict[str, str | None] = {}
        self.quality_networks = None  # the Fréchet figure's feature networks, once their stage ran

    def start(self) -> Run:
        if self.run_ is None:
            self.run_ = Run(self.out, {"protocol": self.protocol.name, "profile": self.profile.name,
                                       "profile_config": self.protocol.profiles[self.profile.name],
                                       "real_source": self.real_source, "seed": self.seed, "device": self.device})
        return self.run_

    def gan_dir(self, name: str) -> Path:
        """Where GAN ``name`` is (its stage's result, which may name another run's finished GAN)."""
        return Path(self.gan_info[name]["folder"]) if name in self.gan_info else self.out / "gans" / name

    def real_settings(self, split: str, role: str) -> dict[str, Any]:
        """Which real images :meth:`real` gives for ``split`` and ``role`` (the photo split, seed, skip)."""
        skip = 0 if role == "gan" or split != "train" else self.profile.gan_train_images * REAL_ROLES[role]
        photos = self.protocol.photo_splits[split] if self.real_source == "photos" else split
        return {"source": self.real_source, "split": photos, "seed": self.seed + REAL_ROLES[role], "skip": skip}

    def real(self, split: str, n: int, role: str):
        """Real images for a ``role``: ``gan`` (what the GANs train on), ``attr`` (the attributor's
        real class), ``quality`` / ``reference`` / ``monitor`` (the quality figure's networks, its
        reference, the training monitor), declared to the run as ``split``'s kind of data."""
        s = self.real_settings(split, role)
        if self.run_ is not None:
            self.run_.read(split_kind(split), f"real crops ({role}, {split} split)")
        return load_real(s["source"], s["split"], n, s["seed"], skip=s["skip"])

    def load_split(self, split: str):
        """Images uint8 (N, 32, 32, 3), source names and paths of one split of a finished run's
        dataset, for tools outside the run (the stages read through :attr:`splits`)."""
        from ganprint.data.folder import load_images, scan_folder_dataset

        ds = scan_folder_dataset(self.out / "data")
        loaded = load_images(ds.split(split), channels=3, size=(32, 32), workers=0, progress=False)
        return loaded.images, np.asarray(ds.classes)[loaded.labels], [str(p) for p in loaded.paths]

    def gan_data_info(self) -> dict[str, Any]:
        """What the GANs train on, as written in each GAN's ``config.json`` under ``data``."""
        info: dict[str, Any] = {"source": self.real_source, "n_images": self.profile.gan_train_images}
        if self.real_source == "photos":
            info["split"] = self.protocol.photo_splits["train"]
        return info

    def quality_model_settings(self) -> dict[str, Any]:
        """Which real crops train the Fréchet figure's feature networks, how many networks and epochs."""
        q = self.profile.quality
        return {"real": self.real_settings("train", "quality"), "train_images": q.get("train_images", 4000),
                "networks": q.get("networks", 1), "epochs": q.get("epochs", 4), "seed": self.seed}

    def gan_stage_settings(self, gan: GanEntry) -> dict[str, Any]:
        """``gan``: what the GAN's training depends on (its config but for how often it checkpoints,
        its real crops, the monitor with its crops and feature networks); ``quality_model``: the
        token of those networks when there is a monitor."""
        cfg = self.profile.gan_config(gan).to_dict()
        cfg.pop("checkpoint_every", None)
        monitor = self.profile.monitor
        watch = monitor and {**monitor, "networks": self.quality_model_settings(),
                             "crops": self.real_settings("train", "monitor")}
        content = {"train": cfg, "data": self.gan_data_info(), "real": self.real_settings("train", "gan"),
                   "monitor": watch}
        return {"gan": json.loads(json.dumps(content, default=str)),
                "quality_model": self.run_.token("quality-model") if monitor else None}

    def quality_stops(self, configs: dict[str, Any]) -> dict[str, Any]:
        """The training monitor of each GAN (the profile's ``monitor``; all against one set of real
        crops), or None for each when the profile has none."""
        from ganprint.quality.monitor import quality_stops

        return quality_stops(self.profile.monitor, self.out / "quality-model",
                             lambda n: self.real("train", n, "monitor"), configs, seed=self.seed)

