import numpy as np
import pytest
from PIL import Image

from ganprint.data.folder import scan_folder_dataset, split_indices
from ganprint.data.mnist import load_mnist_5k


def test_bundled_mnist_is_real_and_cached(tmp_path):
    d = load_mnist_5k(tmp_path)
    assert d.images.shape == (5000, 28, 28) and d.images.dtype == np.uint8
    assert np.bincount(d.labels).tolist() == [500] * 10
    assert (tmp_path / "mnist_5k.npz").is_file()
    again = load_mnist_5k(tmp_path)
    assert np.array_equal(again.images, d.images)
    assert d.images.mean() == pytest.approx(33, abs=5)  # MNIST's mean intensity


def _img(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), 7).save(path)


def test_split_layout(tmp_path):
    for split in ("train", "val", "test"):
        _img(tmp_path / split / "GAN_1" / "a.png")
    _img(tmp_path / "train" / "real" / "b.png")
    ds = scan_folder_dataset(tmp_path)
    assert ds.classes == ("GAN_1", "real") and ds.has_splits
    assert len(ds.split("train")) == 2 and len(ds.split("test")) == 1
    with pytest.raises(KeyError, match="has no split"):
        ds.split("holdout")


def test_flat_layout_and_errors(tmp_path):
    _img(tmp_path / "b_src" / "x.png")
    _img(tmp_path / "a_src" / "sub" / "y.jpg")
    ds = scan_folder_dataset(tmp_path)
    assert ds.classes == ("a_src", "b_src") and not ds.has_splits
    assert [label for _, label in ds.split("all")] == [0, 1]
    with pytest.raises(ValueError):
        scan_folder_dataset(tmp_path / "missing")
    (tmp_path / "empty" / "src").mkdir(parents=True)
    with pytest.raises(ValueError, match="no image files"):
        scan_folder_dataset(tmp_path / "empty")


def test_split_indices_stratified_disjoint_deterministic():
    labels = np.repeat([0, 1, 2], [100, 10, 3])
    a = split_indices(labels, seed=1)
    b = split_indices(labels, seed=1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    allidx = np.concatenate(list(a.values()))
    assert sorted(allidx.tolist()) == list(range(len(labels)))
    for c in (0, 1, 2):
        assert all((labels[a[k]] == c).any() for k in a)
    assert abs(len(a["train"]) - 0.7 * len(labels)) <= 3
