"""Building blocks that several studies' stages share (see :class:`~ganprint.experiments.run.Run`)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganprint.experiments.run import REPORT, SELECTION, Run

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from ganprint.attribution.attributor import Preprocessing
    from ganprint.attribution.training import FitConfig
    from ganprint.experiments.mnist_groups import MnistGroupsRun
    from ganprint.gans.pool import GanJob

SPLITS = ("train", "val", "test")


def split_kind(split: str) -> str:
    """The kind of data a split is: the test split is report data, the others selection data."""
    return REPORT if split == "test" else SELECTION


class FolderSplits:
    """The splits of a folder dataset (``root/<split>/<source>/``), each decoded on first use; every
    read is declared to ``run`` (:func:`split_kind`), so the test split is read only by report stages."""

    def __init__(self, run: Run, root: str | Path, pre: Preprocessing, *, required: tuple[str, ...] = SPLITS,
                 workers: int = 2, progress: bool = True) -> None:
        from ganprint.data.folder import scan_folder_dataset

        self.run, self.root, self.pre, self.workers, self.progress = run, Path(root), pre, workers, progress
        self.dataset = scan_folder_dataset(self.root)
        if not self.dataset.has_splits or not set(required) <= set(self.dataset.splits):
            raise ValueError(f"{self.root} needs {', '.join(f'{s}/' for s in required)} splits")
        self.classes = [str(c) for c in self.dataset.classes]
        self._loaded: dict[str, tuple[Any, Any, list[Path]]] = {}
        self._folders: dict[Path, np.ndarray] = {}

    def __call__(self, split: str) -> tuple[np.ndarray | None, np.ndarray | None, list[Path]]:
        """``(images, source names, paths)`` of ``split``; ``(None, None, [])`` when the dataset has none."""
        from ganprint.data.folder import load_images

        self.run.read(split_kind(split), f"{split} split")
        if split not in self._loaded:
            if split not in self.dataset.splits:
                return None, None, []
            with self.run.timed("decoding"):
                loaded = load_images(self.dataset.split(split), channels=self.pre.channels, size=self.pre.size,
                                     workers=self.workers, progress=self.progress, desc=f"decoding {split}")
            self._loaded[split] = (loaded.images, np.asarray(self.classes)[loaded.labels], loaded.paths)
        return self._loaded[split]

    def images(self, folder: str | Path, kind: str = REPORT) -> np.ndarray:
        """Every image under ``folder`` (e.g. an unknown source's test images), declared as ``kind``."""
        from ganprint.data.decode import iter_image_paths
        from ganprint.data.folder import load_images

        self.run.read(kind, str(folder))
        key = Path(folder)
        if key not in self._folders:
            files = [(p, 0) for p in iter_image_paths([key])]
            self._folders[key] = load_images(files, channels=self.pre.channels, size=self.pre.size,
                                             workers=self.workers, progress=False).images
        return self._folders[key]


def mnist_group_data(out: Path, profile: str, protocol: str | Path, groups: list[str], *, seed: int | None,
                     workers: int | None, device: str, progress: bool) -> MnistGroupsRun:
    """The labelled datasets of ``groups`` of an mnist-groups-style ``protocol``, built (or resumed) by
    the MNIST study's own stages in ``out/data-run``; ``seed`` is the run's seed offset (applied there,
    once). ``run.run_.token(f"data/{group}")`` identifies a group's data for downstream stages."""
    from ganprint.experiments.mnist_groups import MnistGroupsRun

    mg = MnistGroupsRun(Path(out) / "data-run", profile, protocol=protocol, groups=groups, workers=workers,
                        device=device, progress=progress, seed=seed or 0)
    mg.prepare()
    return mg


def fit_and_save(model: Any, folder: Path, train: tuple[Any, ...], val: tuple[Any, ...], **fit_options: Any) -> float:
    """Fit ``model`` on ``train`` (images, labels) with ``val`` (its early stopping and calibration;
    ``(None, None)`` for none), save it into ``folder`` (its stage's) without checkpoints and return
    the fit seconds (also kept in its history)."""
    t0 = time.perf_counter()
    model.fit(*train[:2], *val[:2], **fit_options)
    seconds = time.perf_counter() - t0
    model.history_["fit_seconds"] = seconds
    model.save(folder)
    shutil.rmtree(folder / "checkpoint", ignore_errors=True)
    return seconds


def load_stage_model(run: Run, stage: str, device: str = "auto") -> Any:
    """The model saved by stage ``stage`` of ``run`` (a folder :func:`fit_and_save` wrote)."""
    from ganprint.attribution.loading import load_model

    return load_model(run.out / stage, device=device)


class FolderStudy:
    """What a study on one folder dataset holds (zoo, fingerprints): its protocol and profile, its data
    (None: the default, built by :func:`mnist_group_data`), its device and its :class:`Run`. ``seed``
    is an offset of the protocol's seed and of the fit seeds."""

    def __init__(self, out_dir: str | Path, profile: str, protocol: str | Path, *, data_dir: str | Path | None,
                 pre: Preprocessing, workers: int | None, device: str, progress: bool, seed: int | None) -> None:
        from ganprint.experiments.protocol import load_protocol_dict, profile_settings

        self.out, self.protocol_name, self.profile = Path(out_dir), protocol, profile
        self.protocol = load_protocol_dict(protocol)
        self.spec = profile_settings(self.protocol, profile)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.pre, self.workers, self.device, self.progress, self.seed = pre, workers, device, progress, seed or 0
        self.run_: Run | None = None

    def start(self, **config: Any) -> Run:
        """Open the run folder; ``config`` adds to the saved configuration."""
        self.run_ = Run(self.out, {"protocol": str(self.protocol_name), "profile": self.profile, "seed": self.seed,
                                   "data": str(self.data_dir), "device": self.device, **config})
        return self.run_


def train_gans(run: Run, jobs: Sequence[tuple[GanJob, Mapping[str, Any]]], *, device: str, workers: int | None = None,
               progress: bool = True, rebalance: bool = True, timer: str = "GAN training") -> dict[str, Any]:
    """One stage per GAN, named by its folder under ``run.out`` (``gans/<name>``), with the settings
    given beside its job; the unfinished ones train side by side in one pool
    (:func:`~ganprint.gans.pool.train_gan_jobs`; one whose settings did not change resumes from its
    checkpoint). Returns each GAN's stage result (its training seconds) by folder name."""
    from ganprint.gans.pool import train_gan_jobs

    stages, todo = [], []
    for job, settings in jobs:
        stage = run.open(Path(job.out_dir).relative_to(run.out).as_posix(), settings)
        stages.append(stage)
        if not stage.finished:
            stage.reads.add(SELECTION)  # its training images
            todo.append(job)
    with run.timed(timer):
        seconds = train_gan_jobs(todo, device=device, workers=workers, progress=progress, rebalance=rebalance)
    return {s.folder.name: s.result if s.finished else run.close(s, {"train_seconds": seconds.get(s.folder.name)})
            for s in stages}


def quality_model_stage(run: Run, real_train: Callable[[], np.ndarray], settings: Mapping[str, Any], *, seed: int,
                        device: str, networks: int = 1, config: Any = None, timer: str = "quality model") -> Any:
    """Stage ``quality-model``: the Fréchet figure's feature network(s) trained on ``real_train()``
    (selection data; ``settings`` say which images it draws). Returns them
    (:class:`~ganprint.quality.frechet.QualityEnsemble`)."""
    import dataclasses

    from ganprint.quality.frechet import cached_quality_model, load_quality_models

    def compute(folder: Path) -> dict[str, Any]:
        run.read(SELECTION, "real training images")
        return cached_quality_model(folder, real_train, seed=seed, device=device, networks=networks,
                                    config=config).report

    run.stage("quality-model", {**settings, "seed": seed, "networks": networks,
                                "config": dataclasses.asdict(config) if config is not None else None},
              compute, timer=timer)
    return load_quality_models(run.out / "quality-model", device)


def labelled(images: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Images per class name stacked into ``(images, class names)``."""
    x = np.concatenate(list(images.values()))
    y = np.concatenate([np.full(len(v), c, dtype=object) for c, v in images.items()]).astype(str)
    return x, y


def attribution_stages(run: Run, name: str, images: Callable[[str], Mapping[str, np.ndarray]],
                       settings: Mapping[str, Any], test_settings: Mapping[str, Any], *, arch: str, fit: FitConfig,
                       representation: str = "pixels", device: str = "cpu", progress: bool = True,
                       timer: str | None = None) -> dict[str, Any]:
    """Stages ``models/<name>`` (attributor ``arch`` fit on ``images("train")``, its schedule and stop
    on ``images("val")``: selection data) and ``assess/<name>`` (a report stage: the saved model on
    ``images("test")``). ``images(split)`` maps class name to uint8 (N, H, W[, C]) images of ``split``
    and declares the read to ``run``; ``settings`` and ``test_settings`` say what those images are.
    Returns the test report (accuracy, per class, confusion matrix; labels in ``images``' class
    order) with the fit's validation accuracy, seconds, epochs run and training images."""
    from ganprint.attribution.attributor import Attributor, Preprocessing
    from ganprint.attribution.metrics import classification_report

    def fit_model(folder: Path) -> dict[str, Any]:
        train, val = labelled(images("train")), labelled(images("val"))
        x = train[0]
        pre = Preprocessing(size=(int(x.shape[1]), int(x.shape[2])), channels=1 if x.ndim == 3 else int(x.shape[-1]))
        model = Attributor(arch=arch, preprocessing=pre, fit_config=fit, device=device, representation=representation)
        seconds = fit_and_save(model, folder, train, val, progress=progress)
        return {"val_accuracy": float(model.score(*val)), "fit_seconds": round(seconds, 2),
                "epochs_run": model.history_.get("epochs_run"), "train_images": int(len(x)),
                "representation": representation}

    def assess(folder: Path) -> dict[str, Any]:
        test = images("test")
        classes = list(test)
        x, y = labelled(test)
        model = load_stage_model(run, f"models/{name}", device)
        order = np.asarray([classes.index(str(c)) for c in model.classes_])
        return classification_report([classes.index(c) for c in y], order[model.predict_proba(x).argmax(1)], classes)

    fitted = run.stage(f"models/{name}", {**settings, "arch": arch, "fit": fit.to_dict(),
                                          "representation": representation}, fit_model, timer=timer)
    tested = run.stage(f"assess/{name}", {**test_settings, "model": run.token(f"models/{name}")}, assess,
                       report=True, timer=timer)
    return {**tested, **fitted}
