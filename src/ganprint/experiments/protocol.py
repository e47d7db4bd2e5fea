"""Experiment protocols: YAML files shipped in ``ganprint/experiments/protocols``, validated into
typed objects once and passed explicitly."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ganprint.attribution.training import FitConfig
from ganprint.gans.config import GanTrainConfig, split_arch_options


def list_protocols() -> list[str]:
    files = resources.files("ganprint.experiments").joinpath("protocols")
    return sorted(p.name.removesuffix(".yaml") for p in files.iterdir() if p.name.endswith(".yaml"))


def load_protocol_dict(name_or_path: str | Path) -> dict[str, Any]:
    """A protocol by name (shipped) or by path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        text = path.read_text()
    else:
        res = resources.files("ganprint.experiments").joinpath("protocols", f"{name_or_path}.yaml")
        if not res.is_file():
            raise ValueError(f"unknown experiment {name_or_path!r}; known: {', '.join(list_protocols())}")
        text = res.read_text()
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"experiment file {name_or_path} must hold a mapping")
    return data


GAN_SEED_STRIDE = 1000
"""How far a repeat's seed offset moves a GAN's own ``seed:`` (offset x stride; the protocol's seed
moves by the offset): where a protocol fixes its GANs' seeds (yu-seeds' ten ProGANs 0..9), one repeat
never trains a GAN of another."""


def with_seed_offset(protocol: dict[str, Any], offset: int | None) -> dict[str, Any]:
    """A loaded protocol for repeat ``offset`` of its study (``RunRequest.seed``): its ``seed`` plus
    ``offset`` and each entry of ``gans`` that sets its own ``seed``, that seed plus
    ``offset * GAN_SEED_STRIDE``. None or 0: ``protocol`` itself, unchanged."""
    if not offset:
        return protocol
    out = copy.deepcopy(protocol)
    out["seed"] = int(out.get("seed", 0)) + int(offset)
    for gan in (out.get("gans") or {}).values():
        if isinstance(gan, dict) and gan.get("seed") is not None:
            gan["seed"] = int(gan["seed"]) + int(offset) * GAN_SEED_STRIDE
    return out


def profile_settings(protocol: dict[str, Any], profile: str) -> dict[str, Any]:
    """The settings of ``profile`` in a loaded protocol; an unknown profile is a clear error
    listing the protocol's profiles."""
    profiles = protocol.get("profiles") or {}
    if profile not in profiles:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(profiles)}")
    return profiles[profile]


GAN_KEYS = frozenset({"arch", "options", "seed", "train", "digits", "partition"})
"""The keys of a GAN entry in every study's YAML (:class:`GanEntry`)."""


@dataclass(frozen=True)
class GanEntry:
    """One GAN of a study, the same schema in every YAML: ``arch`` (a registered GAN architecture;
    a study may give a default), ``options`` (its architecture options), ``seed`` (its training seed;
    None: the study derives one), ``train`` (overrides of the profile's GAN training settings) and,
    for GANs of real digits, ``digits`` (the training subset) and ``partition`` ``[k, n]`` (the k-th
    of n disjoint parts of it)."""

    name: str
    arch: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    train: dict[str, Any] = field(default_factory=dict)
    digits: tuple[int, ...] = ()
    partition: tuple[int, int] | None = None

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any], *, default_seed: int | None = None,
                  require: tuple[str, ...] = ()) -> GanEntry:
        """A checked entry: unknown keys, keys in ``require`` that are missing, digits outside 0..9
        and a partition [k, n] without 0 <= k < n are errors naming the GAN."""
        if not isinstance(d, dict):
            raise ValueError(f"GAN {name}: expected a mapping of {sorted(GAN_KEYS)}")
        unknown, missing = set(d) - GAN_KEYS, [k for k in require if k not in d]
        if unknown or missing:
            raise ValueError(f"GAN {name}: " + "; ".join(
                ([f"unknown keys {sorted(unknown)} (known: {sorted(GAN_KEYS)})"] if unknown else [])
                + ([f"missing {missing}"] if missing else [])))
        digits = tuple(int(x) for x in d.get("digits") or ())
        if "digits" in d and (not digits or any(x < 0 or x > 9 for x in digits)):
            raise ValueError(f"GAN {name}: digits must be in 0..9")
        part = d.get("partition")
        if part is not None:
            k, n = (int(v) for v in part)
            if not 0 <= k < n:
                raise ValueError(f"GAN {name}: partition [k, n] needs 0 <= k < n")
            part = (k, n)
        seed = d.get("seed", default_seed)
        return cls(name, str(d["arch"]) if d.get("arch") else None, dict(d.get("options") or {}),
                   None if seed is None else int(seed), dict(d.get("train") or {}), digits, part)


@dataclass(frozen=True)
class GroupEntry:
    name: str
    gans: tuple[str, ...]
    real: bool
    seed_accuracy: float | None


@dataclass(frozen=True)
class Profile:
    name: str
    gan: dict[str, Any]
    images_per_gan: int
    split: tuple[float, float, float]
    attributor: FitConfig
    gate_epochs: int
    gate_samples: int
    gate_precision: str = "fp32"
    deviations: tuple[str, ...] = ()
    stop_quality: float | None = None
    quality_check_every: int = 250
    stop_from: int = 0
    judge_epochs: int = 15
    real_source: str | None = None  # the profile's real digits, when not the protocol's

    def gan_config(self, arch: str, seed: int, checkpoint_every: int = 250,
                   overrides: dict[str, Any] | None = None) -> GanTrainConfig:
        train, arch_options = split_arch_options({**self.gan, **(overrides or {})})
        return GanTrainConfig(arch=arch, arch_options={"width": 1.0, **arch_options}, seed=seed,
                              checkpoint_every=checkpoint_every, **train)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "gan": self.gan, "images_per_gan": self.images_per_gan,
                "split": list(self.split), "attributor": self.attributor.to_dict(),
                "gate": {"epochs": self.gate_epochs, "samples_per_gan": self.gate_samples,
                         "precision": self.gate_precision, "stop_quality": self.stop_quality,
                         "check_every": self.quality_check_every, "stop_from": self.stop_from},
                "judge": {"epochs": self.judge_epochs},
                "real_source": self.real_source, "deviations": list(self.deviations)}


@dataclass(frozen=True)
class MnistGroupsProtocol:
    name: str
    title: str
    real_source: str
    gan_arch: str
    attributor_arch: str
    seed: int
    gans: dict[str, GanEntry]
    groups: dict[str, GroupEntry]
    profiles: dict[str, dict[str, Any]] = field(repr=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MnistGroupsProtocol:
        try:
            gans = {}
            for name, g in d["gans"].items():
                gans[name] = GanEntry.from_dict(name, g, require=("digits",))
            groups = {}
            for name, g in d["groups"].items():
                members = tuple(g["gans"])
                missing = [m for m in members if m not in gans]
                if missing:
                    raise ValueError(f"{name}: unknown GANs {missing}")
                groups[name] = GroupEntry(name, members, bool(g.get("real", False)), g.get("seed_accuracy"))
            return cls(name=d["name"], title=d.get("title", d["name"]), real_source=d.get("real_source", "mnist5k"),
                       gan_arch=d.get("gan_arch", "mnist-dcgan"),
                       attributor_arch=d.get("attributor_arch", "seed-mnist-cnn"), seed=int(d.get("seed", 0)),
                       gans=gans, groups=groups, profiles=d["profiles"])
        except KeyError as exc:
            raise ValueError(f"experiment file is missing the key {exc}") from None

    def profile(self, name: str, overrides: dict[str, Any] | None = None) -> Profile:
        if name not in self.profiles:
            raise ValueError(f"unknown profile {name!r}; known: {', '.join(self.profiles)}")
        p = merge_settings(self.profiles[name], overrides or {})
        split = tuple(float(x) for x in p["split"])
        if len(split) != 3 or abs(sum(split) - 1) > 1e-6 or min(split) < 0:
            raise ValueError("split must be three non-negative fractions summing to 1")
        return Profile(name=name, gan=dict(p["gan"]), images_per_gan=int(p["images_per_gan"]), split=split,
                       attributor=fit_config(p["attributor"], self.seed),
                       gate_epochs=int(p["gate"]["epochs"]), gate_samples=int(p["gate"]["samples_per_gan"]),
                       gate_precision=str(p["gate"].get("precision", "fp32")),
                       stop_quality=p["gate"].get("stop_quality"),
                       quality_check_every=int(p["gate"].get("check_every", 250)),
                       stop_from=int(p["gate"].get("stop_from", 0)),
                       judge_epochs=int((p.get("judge") or {}).get("epochs", 15)),
                       real_source=p.get("real_source"),
                       deviations=tuple(p.get("deviations", ())))


def fit_config(d: dict[str, Any], seed: int = 0) -> FitConfig:
    """A :class:`FitConfig` from a protocol's ``attributor`` mapping; a setting FitConfig does not
    have is an error, not silently dropped (``seed`` defaults to the protocol's). The mapping's
    ``representation`` (the classifier's input, see :func:`attributor_representation`) is not a
    training setting and is left out."""
    d = {k: v for k, v in d.items() if k != "representation"}
    unknown = set(d) - set(FitConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown attributor settings {sorted(unknown)}")
    return FitConfig(**{"seed": seed, **d})


def merge_settings(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` laid on top, mappings merged key by key (neither is changed)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge_settings(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def attributor_representation(d: dict[str, Any]) -> str:
    """The input representation a protocol's ``attributor`` mapping names (``pixels`` when none:
    see :mod:`ganprint.data.representations`)."""
    return str(d.get("representation", "pixels"))
