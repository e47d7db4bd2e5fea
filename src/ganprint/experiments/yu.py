"""Experiments ``yu-sources`` and ``yu-seeds``: Yu, Davis & Fritz (ICCV 2019, seed 004) on ganprint's zoo.

``yu-sources``: real images plus the four GAN families of seed 004 (ProGAN, SNGAN, CramerGAN,
MMDGAN) trained on the same real images; ``yu-seeds``: real images plus ten ProGANs that differ only
in their training seed. Both attribute a test split among all sources with Yu et al.'s classifier
(``postpool``, seed 003's post-pooling variant of the GANFingerprints network) and the
training-free residual-correlation fingerprint attributor, and score every GAN with the Fréchet
and the network-free SWD quality figures (:mod:`ganprint.quality.figures`) so that accuracy is not
won on GANs that never learned.

A run directory holds::

    gans/<name>/            GAN folders (GanTrainer; resume exactly)
    data/<split>/<source>/  the labelled dataset as PNG files (real crops, GAN samples)
    models/<attributor>/    model folder + result.json
    quality-model/          the feature network of the quality figure; quality.json the figures
    results.json, report.md, figures/

Every stage is skipped when its output exists, so a rerun resumes.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganprint.experiments.protocol import load_protocol_dict, with_seed_offset
from ganprint.quality.figures import describe
from ganprint.serialization import read_json, write_json

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest

SPLITS = ("train", "val", "test")
REAL = "real"
SAMPLING_SEEDS = {"train": 1000, "val": 1001, "test": 1002}
"""Latent stream per split: a GAN's train, val and test images never share a latent vector."""
REAL_ROLES = {"gan": 0, "attr": 1, "quality": 7, "reference": 8, "monitor": 9}
"""Offset per role of real images (added to the run's seed; times the GANs' image count skipped on
CelebA): the GANs, the attributor's real class, the quality figure and the training monitor never
share real images."""


@dataclasses.dataclass(frozen=True)
class GanSource:
    """One generator of the study: its source name, registered architecture, training seed and
    overrides of the profile's training settings."""

    name: str
    arch: str
    seed: int
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)


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

    def gan_config(self, gan: GanSource):
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
        merged = _merge(_merge(base, settings), gan.overrides)
        merged.update(arch=gan.arch, seed=gan.seed)
        merged.setdefault("checkpoint_every", 100)
        return GanTrainConfig(**merged)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclasses.dataclass(frozen=True)
class YuProtocol:
    """A ``yu-sources`` / ``yu-seeds`` / ``seed001`` protocol file, validated."""

    name: str
    title: str
    real_source: str
    seed: int
    primary: str
    gans: tuple[GanSource, ...]
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
                g = dict(g or {})
                gans.append(GanSource(gname, str(g["arch"]), int(g.get("seed", seed + i)), dict(g.get("gan", {}))))
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


def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of ``yu-sources`` and ``yu-seeds`` protocols (see :mod:`ganprint.experiments.runners`)."""
    return YuRun(request.out_dir, request.profile, protocol=request.protocol, real_source=request.real_source,
                 device=request.device, progress=request.progress, seed=request.seed).run()


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The primary attributor's accuracy against the study's target, each attributor's accuracy,
    and the seed's figures that name a value (:func:`seed_figures`)."""
    out = {"accuracy (primary attributor)": {"value": results["accuracy"], "target": results["target"]}}
    out.update({f"accuracy {name}": {"value": row["accuracy"], "target": None}
                for name, row in results["attributors"].items()})
    return {**out, **seed_figures(results)}


def seed_figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The protocol's ``seed_figures`` that give a value, with ours (the results' entry their ``ours``
    names) beside it."""
    from ganprint.experiments.yu_report import _lookup

    out = {}
    for name, entry in (results.get("seed_figures") or {}).items():
        if isinstance(entry, dict) and entry.get("value") is not None:
            ours = _lookup(results, entry.get("ours"))
            if isinstance(ours, (int, float)):
                out[name] = {"value": float(ours), "target": float(entry["value"])}
    return out


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines = [f"{name}: accuracy {row['accuracy']:.4f} ({row['fit_seconds']:.0f} s)"
             for name, row in results["attributors"].items()]
    for name, g in results["gans"].items():
        q = g["quality"]
        lines.append(f"{name}: quality {describe(q)}, "
                     f"FD {q['fd']:.3g} (real {q['fd_real']:.3g}, trivial {q['fd_trivial']:.3g})")
    lines.append(f"wall {results['wall_seconds']:.0f} s")
    return lines


class YuRun:
    """One run directory of a Yu-style attribution study; ``run()`` executes or resumes it."""

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
        self.stage_seconds: dict[str, float] = {}
        self.sources = [REAL, *(g.name for g in self.protocol.gans)]

    # -- stages -------------------------------------------------------------------------------
    def gan_dir(self, name: str) -> Path:
        """Where GAN ``name`` is trained (subclasses may point at another run's finished GAN)."""
        return self.out / "gans" / name

    def _timed(self, stage: str, fn, *args, **kwargs):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        self.stage_seconds[stage] = round(self.stage_seconds.get(stage, 0.0) + time.perf_counter() - t, 2)
        return out

    def real(self, split: str, n: int, role: str) -> np.ndarray:
        """Real images for a ``role``: ``gan`` (what the GANs train on), ``attr`` (the attributor's
        real class), ``quality`` / ``reference`` (the quality figure's network and reference)."""
        from ganprint.experiments.yu_data import load_real

        skip = 0 if role == "gan" or split != "train" else self.profile.gan_train_images * REAL_ROLES[role]
        if self.real_source == "photos":  # the protocol's photo split (a region of the photos, or other photos)
            split = self.protocol.photo_splits[split]
        return load_real(self.real_source, split, n, self.seed + REAL_ROLES[role], skip=skip)

    def unseen_photo_figures(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """Per attributor, how it labels real crops of photos that no split of the study shows (the
        protocol's ``unseen_photos``, a split of :func:`ganprint.data.photos.photo_split`): the share
        called real and the count per predicted source. Empty unless the real source is ``photos``
        and the protocol names such a split."""
        if self.real_source != "photos" or not self.protocol.unseen_photos:
            return {}
        from ganprint.attribution.loading import load_model
        from ganprint.data.photos import photo_split
        from ganprint.experiments.yu_data import load_real

        split = self.protocol.unseen_photos
        images = load_real("photos", split, self.profile.images_per_source["test"], self.seed + REAL_ROLES["attr"])
        out = {}
        for name in names:
            predicted = np.asarray(load_model(self.out / "models" / name, device=self.device).predict(images))
            sources, counts = np.unique(predicted, return_counts=True)
            out[name] = {"photos": list(photo_split(split)[0]), "images": int(len(images)),
                         "real_accuracy": float(np.mean(predicted == REAL)),
                         "predicted": {str(k): int(v) for k, v in zip(sources, counts, strict=True)}}
        return out

    def train_gans(self) -> dict[str, dict[str, Any]]:
        """Train (or resume) every GAN, side by side (one process per core on a CPU,
        :mod:`ganprint.gans.pool`), each scored by the profile's ``monitor`` while it
        trains when there is one; returns per GAN its folder, config, steps and kept step."""
        from ganprint.gans.pool import GanJob, train_gan_jobs
        from ganprint.gans.trainer import GanTrainer

        configs = {gan.name: self.profile.gan_config(gan) for gan in self.protocol.gans}
        pending = {name: cfg for name, cfg in configs.items() if not GanTrainer(cfg, self.gan_dir(name)).is_finished()}
        jobs = []
        if pending:
            images = self.real("train", self.profile.gan_train_images, "gan")
            stops = self.quality_stops(pending)
            jobs = [GanJob(self.gan_dir(name), cfg, images, self.gan_data_info(), stops[name])
                    for name, cfg in pending.items()]
        for name, seconds in train_gan_jobs(jobs, device=self.device, progress=self.progress).items():
            self.stage_seconds[f"gan {name}"] = seconds
        info = {}
        for gan in self.protocol.gans:
            folder = self.gan_dir(gan.name)
            cfg = read_json(folder / "config.json")
            info[gan.name] = {"arch": gan.arch, "seed": gan.seed, "folder": str(folder), "steps": cfg.get("steps"),
                              "kept_step": cfg.get("kept_step"), "train": cfg.get("train")}
        return info

    def gan_data_info(self) -> dict[str, Any]:
        """What the GANs train on, as written in each GAN's ``config.json`` under ``data``."""
        info: dict[str, Any] = {"source": self.real_source, "n_images": self.profile.gan_train_images}
        if self.real_source == "photos":
            info["split"] = self.protocol.photo_splits["train"]
        return info

    def quality_model(self):
        """The Fréchet figure's feature networks (the profile's ``quality.networks``, default 1; seeds
        from the run's), trained once on real crops and saved in ``quality-model/``."""
        from ganprint.quality.frechet import QualityConfig, cached_quality_model

        q = self.profile.quality
        return cached_quality_model(self.out / "quality-model",
                                    lambda: self.real("train", q.get("train_images", 4000), "quality"),
                                    seed=self.seed, device=self.device, networks=q.get("networks", 1),
                                    config=QualityConfig(epochs=q.get("epochs", 4), seed=self.seed))

    def quality_stops(self, configs: dict[str, Any]) -> dict[str, Any]:
        """The training monitor of each GAN (the profile's ``monitor``; all against one set of real
        crops), or None for each when the profile has none."""
        from ganprint.quality.monitor import quality_stops

        if self.profile.monitor:
            self.quality_model()  # the monitors read the saved networks
        return quality_stops(self.profile.monitor, self.out / "quality-model",
                             lambda n: self.real("train", n, "monitor"), configs, seed=self.seed)

    def build_dataset(self) -> Path:
        """Write ``data/<split>/<source>/*.png`` (resumable: a complete source folder is kept)."""
        from ganprint.gans.sampling import chunk_latents, generate, load_generator, save_png

        root = self.out / "data"
        done = root / "done.json"
        if done.is_file():
            return root
        counts = self.profile.images_per_source

        def write(folder: Path, images_fn) -> None:
            n = counts[folder.parent.name]
            if len(list(folder.glob("*.png"))) >= n:
                return
            folder.mkdir(parents=True, exist_ok=True)
            for i, img in enumerate(images_fn(n)):
                save_png(img, folder / f"{i:06d}.png")

        for split in SPLITS:
            if counts[split]:
                write(root / split / REAL, lambda n, split=split: self.real(split, n, "attr"))
        for gan in self.protocol.gans:
            G, cfg = load_generator(self.gan_dir(gan.name), device=self.device)
            for split in SPLITS:
                if counts[split]:
                    # exactly n latents of the split's own stream (never shared between splits)
                    write(root / split / gan.name, lambda n, split=split, G=G, dim=cfg["latent_dim"]: generate(
                        G, chunk_latents(SAMPLING_SEEDS[split], 0, dim, n)))
        write_json(done, {"images_per_source": counts, "sources": self.sources})
        return root

    def load_split(self, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Images uint8 (N, 32, 32, 3), source names and paths of one split of the dataset."""
        from ganprint.data.folder import load_images, scan_folder_dataset

        ds = scan_folder_dataset(self.out / "data")
        if split not in ds.splits:
            return np.zeros((0, 32, 32, 3), np.uint8), np.zeros(0, dtype=object), []
        loaded = load_images(ds.split(split), channels=3, size=(32, 32), workers=0, progress=False)
        return loaded.images, np.asarray(ds.classes)[loaded.labels], [str(p) for p in loaded.paths]

    def fit_attributor(self, name: str, spec: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """Train (or load) one attributor and assess it on the test split; cached in result.json."""
        from ganprint.attribution.assess import assess

        folder = self.out / "models" / name
        result_file = folder / "result.json"
        x_va, y_va, _ = data["val"]
        if result_file.is_file():
            row = read_json(result_file)
            if "val_accuracy" not in row and len(y_va):  # a run of an earlier version: score it on val
                from ganprint.attribution.loading import load_model

                row["val_accuracy"] = float(load_model(folder, device=self.device).score(x_va, y_va))
                write_json(result_file, row)
            return row
        x_tr, y_tr, _ = data["train"]
        x_te, y_te, _ = data["test"]
        t0 = time.perf_counter()
        model = make_attributor(spec, device=self.device, seed=self.seed)
        model.fit(x_tr, y_tr, x_va if len(x_va) else None, y_va if len(y_va) else None, progress=self.progress,
                  checkpoint_dir=folder / "checkpoint")
        fit_seconds = time.perf_counter() - t0
        model.save(folder)
        report = assess(model, x_te, y_te)
        row = {"kind": spec.get("kind", name), "fit_seconds": round(fit_seconds, 2),
               "accuracy": report["accuracy"], "balanced_accuracy": report["balanced_accuracy"],
               "labels": report["labels"], "confusion_matrix": report["confusion_matrix"],
               "detection_auc": report.get("detection_auc"), "ece": report.get("ece"),
               "test_images": int(len(y_te)), "train_images": int(len(y_tr)),
               "val_accuracy": float(model.score(x_va, y_va)) if len(y_va) else None}
        losses = getattr(model, "history_", {}).get("train_loss") or []
        if losses:  # a fit whose loss never left chance (ln of the number of sources) learned nothing
            chance = float(np.log(len(report["labels"])))
            row.update(final_train_loss=float(losses[-1]), chance_loss=chance,
                       fit_failed=bool(losses[-1] > 0.9 * chance))
        write_json(result_file, row)
        import shutil

        shutil.rmtree(folder / "checkpoint", ignore_errors=True)
        return row

    def quality(self, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The quality figures of every GAN (:func:`ganprint.quality.figures.gan_quality`: Fréchet and
        SWD, of its test images against held-out real crops of the GANs' training photos); the
        Fréchet figure's feature networks are trained once and saved. A figure saved by an older run
        without the SWD figure, or under another number of networks, is computed again."""
        from ganprint.quality.figures import quality_scorer

        path = self.out / "quality.json"
        done = read_json(path) if path.is_file() else {}
        q = self.profile.quality
        networks = q.get("networks", 1)
        # a figure of a run from before the SWD figure, or under another number of feature networks,
        # is computed again
        missing = [g.name for g in self.protocol.gans if g.name not in done or "swd" not in done[g.name]
                   or len(done[g.name].get("networks", [None])) != networks]
        if not missing:
            return done
        model = self.quality_model()
        reference = self.real("train", q.get("reference_images", 1000), "reference")
        x_te, y_te, _ = data["test"]
        score = quality_scorer(model, reference, seed=self.seed)
        for name in missing:
            done[name] = score(x_te[y_te == name][:q.get("samples", 1000)])
            write_json(path, done)
        done_model = {"quality_model": model.report}
        write_json(self.out / "quality-model.json", done_model)
        return done

    # -- whole run ----------------------------------------------------------------------------
    def prepare(self) -> dict[str, Any]:
        """GANs, dataset and decoded splits (shared with seed 001's runner)."""
        self.out.mkdir(parents=True, exist_ok=True)
        gans = self._timed("gans", self.train_gans)
        self._timed("dataset", self.build_dataset)
        data = {s: self._timed("decoding", self.load_split, s) for s in SPLITS}
        return {"gans": gans, "data": data}

    def run(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        prepared = self.prepare()
        data = prepared["data"]
        attributors = {name: self._timed(f"attributor {name}", self.fit_attributor, name, spec, data)
                       for name, spec in self.profile.attributors.items()}
        quality = self._timed("quality", self.quality, data)
        unseen = self._timed("unseen photos", self.unseen_photo_figures, list(attributors))
        primary_name = choose_primary(self.protocol.primary, attributors)
        primary = attributors[primary_name]
        gans = {name: {**g, "quality": quality[name]} for name, g in prepared["gans"].items()}
        results = {
            "experiment": self.protocol.name, "title": self.protocol.title, "profile": self.profile.name,
            "real_source": self.real_source, "primary": primary_name,
            "accuracy": primary["accuracy"], "labels": primary["labels"],
            "confusion_matrix": primary["confusion_matrix"],
            "target": self.protocol.target, "target_met": bool(primary["accuracy"] >= self.protocol.target),
            "all_gans_pass_quality": all(g["quality"]["passed"] for g in gans.values()),
            "attributors": attributors, "gans": gans, "unseen_photos": unseen,
            "images_per_source": self.profile.images_per_source, "gan_train_images": self.profile.gan_train_images,
            "seed_figures": self.protocol.seed_figures, "deviations": list(self.profile.deviations),
            "stage_seconds": self.stage_seconds, "wall_seconds": round(time.perf_counter() - t0, 2),
            "threads": torch.get_num_threads(), "device": self.device,
        }
        write_json(self.out / "results.json", results)
        from ganprint.experiments.yu_report import write_yu_report

        write_yu_report(self.out, results)
        return results


def choose_primary(rule: str, attributors: dict[str, dict[str, Any]]) -> str:
    """The attributor whose accuracy is the run's headline: ``best-val`` picks the highest
    validation accuracy (never the test figure); any other value names an attributor."""
    if rule == "best-val":
        return max(attributors, key=lambda k: attributors[k].get("val_accuracy") or -1.0)
    if rule not in attributors:
        raise ValueError(f"primary attributor {rule!r} is not in the profile: {', '.join(attributors)}")
    return rule


def make_attributor(spec: dict[str, Any], *, device: str, seed: int):
    """An unfitted attributor from a profile entry: ``kind`` ``postpool`` (or any registered
    architecture; training settings ``epochs``, ``lr``, ... over the architecture's measured
    defaults; ``representation`` its input representation, default ``pixels``) or
    ``residual-correlation``."""
    from ganprint.attribution.attributor import Attributor, Preprocessing

    pre = Preprocessing(size=(32, 32), channels=3)
    spec = dict(spec)
    kind = spec.pop("kind", "postpool")
    if kind == "residual-correlation":
        from ganprint.fingerprints.correlation import ResidualCorrelationAttributor

        return ResidualCorrelationAttributor(preprocessing=pre, **spec)
    from ganprint.attribution.training import recipe

    options = spec.pop("options", {})
    representation = spec.pop("representation", "pixels")
    fit = recipe("adam", {**spec, "seed": seed}, arch=kind)
    return Attributor(arch=kind, preprocessing=pre, fit_config=fit, arch_options=options, device=device,
                      representation=representation)
