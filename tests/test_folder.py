"""Folder datasets: both layouts, class naming and order, clear errors, and stratified splits."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganprint.data.folder import (
    FolderDataset,
    load_images,
    scan_folder_dataset,
    split_indices,
)


def image_bytes(value: int = 7, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8), value).save(buf, format=fmt)
    return buf.getvalue()


def put(path: Path, data: bytes | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes() if data is None else data)
    return path


def rel(ds: FolderDataset, split: str) -> list[tuple[str, str]]:
    """A split as (relative path, class name) pairs, for readable assertions."""
    return [(p.relative_to(ds.root).as_posix(), ds.classes[c]) for p, c in ds.split(split)]


# --------------------------------------------------------------------------------------------
# layouts


def test_flat_layout(tmp_path: Path) -> None:
    put(tmp_path / "real" / "b.png")
    put(tmp_path / "real" / "a.JPG", image_bytes(fmt="JPEG"))
    put(tmp_path / "GAN_2" / "deeper" / "x.webp", image_bytes(fmt="WEBP"))
    put(tmp_path / "GAN_1" / "c.png")
    put(tmp_path / "GAN_1" / "notes.txt", b"not an image")  # wrong extension: ignored
    put(tmp_path / "GAN_1" / ".hidden.png")  # hidden: ignored
    put(tmp_path / ".cache" / "junk.png")  # hidden folder: not a class
    put(tmp_path / "loose.png")  # not inside a source folder: ignored
    ds = scan_folder_dataset(tmp_path)
    assert ds.root == tmp_path and not ds.has_splits
    assert ds.classes == ("GAN_1", "GAN_2", "real")  # sorted
    assert list(ds.splits) == ["all"]
    assert rel(ds, "all") == [
        ("GAN_1/c.png", "GAN_1"),
        ("GAN_2/deeper/x.webp", "GAN_2"),
        ("real/a.JPG", "real"),
        ("real/b.png", "real"),
    ]


def test_split_layout_with_class_union(tmp_path: Path) -> None:
    put(tmp_path / "train" / "real" / "r1.png")
    put(tmp_path / "train" / "GAN_1" / "g1.png")
    put(tmp_path / "train" / "GAN_1" / "g2.png")
    put(tmp_path / "validation" / "GAN_1" / "g3.png")  # alias of "val"
    put(tmp_path / "test" / "GAN_2" / "g4.png")  # a source seen only in test
    put(tmp_path / "test" / "real" / "r2.png")
    ds = scan_folder_dataset(str(tmp_path))
    assert ds.has_splits
    assert ds.classes == ("GAN_1", "GAN_2", "real")
    assert list(ds.splits) == ["train", "val", "test"]
    assert rel(ds, "train") == [
        ("train/GAN_1/g1.png", "GAN_1"),
        ("train/GAN_1/g2.png", "GAN_1"),
        ("train/real/r1.png", "real"),
    ]
    assert rel(ds, "val") == [("validation/GAN_1/g3.png", "GAN_1")]
    assert rel(ds, "test") == [("test/GAN_2/g4.png", "GAN_2"), ("test/real/r2.png", "real")]
    assert ds.split("valid") == ds.split("val") == ds.split("VALIDATION")


def test_split_folder_names_are_case_insensitive(tmp_path: Path) -> None:
    put(tmp_path / "Train" / "a" / "x.png")
    put(tmp_path / "TEST" / "b" / "y.png")
    ds = scan_folder_dataset(tmp_path)
    assert list(ds.splits) == ["train", "test"] and ds.classes == ("a", "b")


def test_scan_is_deterministic(tmp_path: Path) -> None:
    for i in (3, 1, 2):
        put(tmp_path / "src_b" / f"{i}.png")
        put(tmp_path / "src_a" / f"{i}.png")
    assert scan_folder_dataset(tmp_path) == scan_folder_dataset(tmp_path)
    labels = [c for _, c in scan_folder_dataset(tmp_path).split("all")]
    assert labels == [0, 0, 0, 1, 1, 1]


def test_unknown_split_is_a_clear_key_error(tmp_path: Path) -> None:
    put(tmp_path / "train" / "a" / "x.png")
    put(tmp_path / "test" / "a" / "y.png")
    ds = scan_folder_dataset(tmp_path)
    with pytest.raises(KeyError, match="has no split 'holdout'.*available splits: train, test"):
        ds.split("holdout")
    flat = tmp_path / "flat"
    put(flat / "a" / "x.png")
    with pytest.raises(KeyError, match="available splits: all"):
        scan_folder_dataset(flat).split("train")


# --------------------------------------------------------------------------------------------
# errors


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such folder"):
        scan_folder_dataset(tmp_path / "missing")


def test_root_is_a_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a folder"):
        scan_folder_dataset(put(tmp_path / "file.png"))


def test_root_without_source_folders(tmp_path: Path) -> None:
    put(tmp_path / "loose.png")
    with pytest.raises(ValueError, match="no source folders"):
        scan_folder_dataset(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no source folders"):
        scan_folder_dataset(tmp_path / "empty")


def test_split_folders_without_sources(tmp_path: Path) -> None:
    put(tmp_path / "train" / "loose.png")
    with pytest.raises(ValueError, match="no source folders"):
        scan_folder_dataset(tmp_path)


def test_source_folders_without_images(tmp_path: Path) -> None:
    put(tmp_path / "a" / "readme.txt", b"hello")
    (tmp_path / "b" / "sub").mkdir(parents=True)
    with pytest.raises(ValueError, match="no image files"):
        scan_folder_dataset(tmp_path)


def test_mixed_layout_is_refused(tmp_path: Path) -> None:
    put(tmp_path / "train" / "a" / "x.png")
    put(tmp_path / "real" / "y.png")
    with pytest.raises(
        ValueError, match=r"mixes split folders \(train\) with other folders \(real\)"
    ):
        scan_folder_dataset(tmp_path)


def test_two_folders_for_one_split_are_refused(tmp_path: Path) -> None:
    put(tmp_path / "val" / "a" / "x.png")
    put(tmp_path / "valid" / "a" / "y.png")
    with pytest.raises(ValueError, match="two folders for the 'val' split"):
        scan_folder_dataset(tmp_path)


# --------------------------------------------------------------------------------------------
# loading a scanned split


def test_loading_a_split_reports_broken_files(tmp_path: Path) -> None:
    put(tmp_path / "a" / "good.png", image_bytes(50))
    put(tmp_path / "a" / "broken.png", b"")
    put(tmp_path / "b" / "good.jpg", image_bytes(200, "JPEG"))
    ds = scan_folder_dataset(tmp_path)
    out = load_images(ds.split("all"), channels=3, size=(4, 4), workers=2, progress=False)
    assert out.images.shape == (2, 4, 4, 3)
    assert out.labels.tolist() == [0, 1]
    assert [p.name for p in out.paths] == ["good.png", "good.jpg"]
    assert [(p.name, reason) for p, reason in out.errors] == [("broken.png", "empty file")]


# --------------------------------------------------------------------------------------------
# split_indices


LABELS = np.repeat([0, 1, 2, 3], [100, 10, 3, 1])


def test_split_indices_is_deterministic() -> None:
    a = split_indices(LABELS, seed=1)
    b = split_indices(list(LABELS), seed=1)
    assert list(a) == ["train", "val", "test"]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = split_indices(LABELS, seed=2)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_split_indices_partition_every_index_exactly_once() -> None:
    parts = split_indices(LABELS, seed=0)
    everything = np.concatenate(list(parts.values()))
    assert sorted(everything.tolist()) == list(range(len(LABELS)))
    for part in parts.values():
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)  # sorted, no repeats


def test_split_indices_is_stratified() -> None:
    parts = split_indices(LABELS, seed=0)
    counts = {k: np.bincount(LABELS[v], minlength=4).tolist() for k, v in parts.items()}
    assert counts["train"][0] == 70 and counts["val"][0] == 15 and counts["test"][0] == 15
    for cls in (0, 1, 2):  # every class with at least three items is in every split
        assert all(counts[k][cls] >= 1 for k in parts)
    assert counts["train"][2] == counts["val"][2] == counts["test"][2] == 1
    assert counts["train"][3] == 1  # a class of one goes to train
    assert sum(counts["train"]) + sum(counts["val"]) + sum(counts["test"]) == len(LABELS)


def test_split_indices_zero_fraction_gives_an_empty_split() -> None:
    parts = split_indices(LABELS, fractions=(0.85, 0.15, 0.0), seed=0)
    assert len(parts["test"]) == 0 and parts["test"].dtype == np.int64
    assert len(parts["train"]) + len(parts["val"]) == len(LABELS)
    assert set(LABELS[parts["val"]].tolist()) == {0, 1, 2}


def test_split_indices_accepts_any_labels_and_no_labels() -> None:
    named = split_indices(["real", "gan", "real", "gan", "real", "gan"], seed=0)
    assert sorted(np.concatenate(list(named.values())).tolist()) == list(range(6))
    empty = split_indices([], seed=0)
    assert all(v.shape == (0,) and v.dtype == np.int64 for v in empty.values())


@pytest.mark.parametrize(
    "fractions", [(0.5, 0.5), (0.7, 0.2, 0.2), (1.2, -0.1, -0.1), (float("nan"), 0.5, 0.5)]
)
def test_split_indices_rejects_bad_fractions(fractions: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="fractions"):
        split_indices(LABELS, fractions=fractions)
