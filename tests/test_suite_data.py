"""The generalisation suite: its generator families and the folder datasets built from them (tiny settings)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganprint.registry import UnknownNameError
from ganprint.suite.datasets import SUITE_DATASETS, RealSpec, SourceSpec, SuiteDatasetSpec, build_dataset, sample_grid
from ganprint.suite.generators import (
    SUITE_GENERATORS,
    create_suite_generator,
    load_suite_model,
    sample_images,
    save_suite_model,
    train_generator,
)

SHAPES = [(1, 28, 28), (3, 32, 32)]


pytestmark = pytest.mark.usefixtures("one_thread")


def _images(shape, n=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def test_registry_has_the_families_of_the_issue():
    for name in ("vae-conv", "vae-mlp", "gan-bilinear-gn", "gan-pixelshuffle-hinge", "gan-nearest-in-lsgan"):
        assert name in SUITE_GENERATORS
    assert len(SUITE_GENERATORS.names()) >= 6
    with pytest.raises(UnknownNameError, match="known: gan-bilinear-gn"):
        create_suite_generator("no-such-family")


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", SUITE_GENERATORS.names())
def test_family_trains_and_samples_deterministically(name, shape):
    state = torch.random.get_rng_state()
    data = _images(shape)
    a = train_generator(name, data, steps=2, batch_size=4, seed=3)
    b = train_generator(name, data, steps=2, batch_size=4, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # global random state untouched
    x = sample_images(a, 5, seed=7)
    assert x.shape == (5, *shape) and x.dtype == np.uint8
    np.testing.assert_array_equal(x, sample_images(b, 5, seed=7))
    rebatched = sample_images(a, 5, seed=7, batch=2)  # the same latents; float rounding may move a pixel by one level
    assert np.abs(x.astype(int) - rebatched).max() <= 1
    assert not np.array_equal(x, sample_images(a, 5, seed=8))
    assert a.trained_with.steps == 2 and a.default_train.steps > 100


def test_save_and_load_round_trip(tmp_path):
    model = train_generator("gan-pixelshuffle-hinge", _images((3, 32, 32)), steps=1, batch_size=4, seed=0)
    save_suite_model(model, tmp_path / "g", {"note": "x"})
    loaded, config = load_suite_model(tmp_path / "g")
    assert config["family"] == "gan-pixelshuffle-hinge" and config["note"] == "x"
    np.testing.assert_array_equal(sample_images(model, 4, seed=1), sample_images(loaded, 4, seed=1))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="uint8"):
        train_generator("vae-mlp", np.zeros((4, 1, 28, 28), np.float32), steps=1)
    with pytest.raises(ValueError, match="divisible by 4"):
        create_suite_generator("vae-conv", (1, 30, 30))


def test_named_datasets_keep_the_unknown_family_out_of_the_sources():
    assert {"grey-a", "grey-b", "rgb-a", "rgb-b"} <= set(SUITE_DATASETS)
    for spec in SUITE_DATASETS.values():
        assert spec.unknown.family not in {s.family for s in spec.sources}
    with pytest.raises(ValueError, match="also a source"):
        SuiteDatasetSpec("x", "", RealSpec("mnist"), (SourceSpec("a", "vae-mlp"),), SourceSpec("b", "vae-mlp"))


def _tiny_spec(kind: str) -> SuiteDatasetSpec:
    digits = (0, 1) if kind == "mnist" else None
    return SuiteDatasetSpec(
        "tiny", "test", RealSpec(kind, test_rescale=(0.5,) if kind == "photos" else ()),
        (SourceSpec("v", "vae-mlp", steps=2, batch_size=4),
         SourceSpec("g", "gan-nearest-in-lsgan", seed=1, digits=digits, steps=2, batch_size=4)),
        SourceSpec("u", "gan-bilinear-gn", steps=2, batch_size=4), n_train=6, n_test=4, n_unknown=3)


@pytest.mark.parametrize("kind", ["mnist", "photos"])
def test_build_dataset_layout_and_resume(tmp_path, kind):
    spec = _tiny_spec(kind)
    first = build_dataset(spec, tmp_path, seed=0, progress=False)
    for split, n in (("train", 6), ("test", 4)):
        for source in ("real", "v", "g"):
            files = sorted(p.name for p in (tmp_path / split / source).iterdir())
            assert files == [f"{i:06d}.png" for i in range(n)]
    assert len(list((tmp_path / "unknown" / "u").glob("*.png"))) == 3
    assert sorted(first.trained) == ["g", "u", "v"]
    info = json.loads((tmp_path / "dataset.json").read_text())
    assert info["classes"] == ["real", "v", "g"] and set(info["unknown"]) == {"u"}
    assert info["sources"]["g"]["settings"]["seed"] == 1
    side = 28 if kind == "mnist" else 32
    grid, names = sample_grid(tmp_path)
    assert names == ["g", "real", "v", "unknown/u"] and grid.shape == (4 * (side + 1) + 1, 8 * (side + 1) + 1, 3)

    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    second = build_dataset(spec, tmp_path, seed=0, progress=False)
    assert second.trained == [] and second.written == {}
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == stamps

    # a deleted image is restored, identical, without retraining
    victim = tmp_path / "test" / "g" / "000002.png"
    before = victim.read_bytes()
    victim.unlink()
    third = build_dataset(spec, tmp_path, seed=0, progress=False)
    assert third.trained == [] and third.written["test/g"] == 1 and victim.read_bytes() == before

    with pytest.raises(ValueError, match="other settings"):
        build_dataset(spec, tmp_path, seed=1, progress=False)


def test_real_test_images_are_held_out(tmp_path):
    from ganprint.suite.datasets import load_real_images

    real = load_real_images(RealSpec("mnist"), 1500, seed=0)
    pool = {im.tobytes() for im in real.pool}
    assert len(real.pool) == 3500 and not any(im.tobytes() in pool for im in real.test)
