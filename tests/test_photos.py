"""The offline color source: crops of the photos bundled with scikit-image and scikit-learn."""

import numpy as np
import pytest

from ganprint.data import photos
from ganprint.data.photos import (
    PHOTO_SPLITS,
    PHOTOS,
    PhotoCropConfig,
    load_cifar10_torchvision,
    load_color_source,
    load_photo,
    load_photo_crops,
    photo_crops,
)


def test_splits_use_disjoint_bundled_photos():
    seen = [name for names in PHOTO_SPLITS.values() for name in names]
    assert len(seen) == len(set(seen)) and set(seen) == set(PHOTOS)
    assert all(PHOTO_SPLITS[s] for s in ("train", "val", "test"))


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_every_photo_loads_offline_as_rgb(name):
    image = load_photo(name)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert min(image.shape[:2]) >= 192


def test_crops_are_deterministic_for_a_seed():
    pics = [np.random.default_rng(i).integers(0, 256, size=(80, 100, 3), dtype=np.uint8) for i in range(2)]
    cfg = PhotoCropConfig(n=20, scales=(32, 64), seed=3)
    a, b = photo_crops(pics, cfg), photo_crops(pics, cfg)
    assert a.shape == (20, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, photo_crops(pics, PhotoCropConfig(n=20, scales=(32, 64), seed=4)))


def test_unscaled_crops_are_windows_of_their_own_photo():
    pics = [np.random.default_rng(i).integers(0, 256, size=(40, 50, 3), dtype=np.uint8) for i in range(3)]
    crops = photo_crops(pics, PhotoCropConfig(n=9, scales=(32,), flip=False, seed=0))
    for i, crop in enumerate(crops):
        photo = pics[i % 3]
        windows = np.lib.stride_tricks.sliding_window_view(photo, (32, 32, 3))[..., 0, :, :, :]
        assert (windows == crop).all(axis=(-3, -2, -1)).any()


def test_crops_are_cached_as_an_array_file(tmp_path, monkeypatch):
    cfg = PhotoCropConfig(n=12, seed=0)
    first = load_photo_crops("val", cfg, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("photos_val_*.npz"))) == 1

    def boom(*_a, **_k):
        raise AssertionError("should have read the cache")

    monkeypatch.setattr(photos, "photo_crops", boom)
    np.testing.assert_array_equal(load_photo_crops("val", cfg, cache_dir=tmp_path), first)
    assert first.shape == (12, 32, 32, 3)


def test_named_sources_and_errors(tmp_path):
    assert load_color_source("photos", "test", n=5, cache_dir=tmp_path).shape == (5, 32, 32, 3)
    with pytest.raises(ValueError, match="photos"):
        load_color_source("nope")
    with pytest.raises(ValueError, match="train"):
        load_photo_crops("nope")


def test_cifar10_offline_fails_fast_with_a_clear_error(tmp_path, monkeypatch):
    import torchvision.datasets

    class Offline:
        def __init__(self, *a, **k):
            raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", Offline)
    with pytest.raises(RuntimeError, match="photos"):
        load_cifar10_torchvision(tmp_path)


def test_region_splits_never_overlap_and_share_the_training_photos():
    from ganprint.data.photos import REGION_SPLITS

    names = {photos for photos, _ in REGION_SPLITS.values()}
    assert names == {PHOTO_SPLITS["train"]}
    boxes = [box for _, box in REGION_SPLITS.values()]
    for i, (t1, l1, b1, r1) in enumerate(boxes):
        for t2, l2, b2, r2 in boxes[i + 1:]:
            assert min(b1, b2) <= max(t1, t2) or min(r1, r2) <= max(l1, l2)  # disjoint rectangles


def test_crops_stay_inside_their_box():
    from ganprint.data.photos import PhotoCropConfig, photo_crops

    photo = np.zeros((100, 200, 3), np.uint8)
    photo[:, 150:] = 255  # only the right quarter is white
    right = photo_crops([photo], PhotoCropConfig(n=20, scales=(16, 24), size=8, box=(0.0, 0.75, 1.0, 1.0)))
    left = photo_crops([photo], PhotoCropConfig(n=20, scales=(16, 24), size=8, box=(0.0, 0.0, 1.0, 0.75)))
    assert right.min() == 255 and left.max() == 0
    with pytest.raises(ValueError, match="box"):
        PhotoCropConfig(box=(0.5, 0.0, 0.2, 1.0))
