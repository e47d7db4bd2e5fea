"""The model folder records its training data; eval and robustness warn when they score it;
train warns about empty, tiny and under-validated sources."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganprint.cli.main import cli
from ganprint.data.folder import scan_folder_dataset
from ganprint.data.provenance import (
    TRAINING_DATA_KEY,
    file_fingerprint,
    file_keys,
    read_training_data,
    training_overlap,
    training_warnings,
)
from ganprint.data.splits import TrainValData, evaluation_split, load_train_val, training_files

TRAIN = ["train", "--arch", "residual-correlation", "--image-size", "16", "-q"]


def _write(root, sources: dict[str, int], seed: int = 0):
    """``root/<source>/NNN.png``: 16x16 grey images, a faint fixed pattern per source."""
    rng = np.random.default_rng(seed)
    for s, (name, n) in enumerate(sources.items()):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        pattern = np.random.default_rng(100 + s).standard_normal((16, 16)) * 12
        for i in range(n):
            img = np.clip(rng.uniform(60, 190, (16, 16)) + pattern, 0, 255).astype(np.uint8)
            Image.fromarray(img).save(folder / f"{i:03d}.png")
    return root


@pytest.fixture
def flat(tmp_path):
    return _write(tmp_path / "flat", {"gan_a": 30, "real": 30})


@pytest.fixture
def split(tmp_path):
    root = tmp_path / "split"
    for name, n in (("train", 24), ("val", 8), ("test", 8)):
        _write(root / name, {"gan_a": n, "real": n}, seed=len(name))
    return root


def test_fingerprint_is_the_sorted_path_size_list(tmp_path):
    _write(tmp_path / "d", {"a": 2, "b": 1})
    keys = file_keys(tmp_path / "d", sorted((tmp_path / "d").rglob("*.png"), reverse=True))
    assert [k[0] for k in keys] == ["a/000.png", "a/001.png", "b/000.png"]
    import hashlib

    text = "".join(f"{rel}\t{size}\n" for rel, size in keys)
    assert file_fingerprint(keys) == hashlib.sha256(text.encode()).hexdigest() == file_fingerprint(keys[::-1])


def test_splits_rules(flat, split):
    data = load_train_val(scan_folder_dataset(flat), channels=1, size=(16, 16), progress=False)
    assert data.layout == "flat" and len(data.y_train) + len(data.y_val) == 60
    assert data.counts()["val"] == {"gan_a": 4, "real": 4}  # 15 % of each source, rounded
    dataset = scan_folder_dataset(split)
    assert evaluation_split(dataset) == "test" and evaluation_split(scan_folder_dataset(flat)) == "all"
    assert len(training_files(dataset)) == 64  # train and val, never test
    data = load_train_val(dataset, channels=1, size=(16, 16), progress=False)
    assert data.layout == "split" and (len(data.y_train), len(data.y_val)) == (48, 16)


def test_training_warnings_name_the_sources():
    def data(train, val):
        y_tr = np.asarray([c for c, n in train.items() for _ in range(n)])
        y_va = np.asarray([c for c, n in val.items() for _ in range(n)])
        return TrainValData(np.zeros(len(y_tr)), y_tr, np.zeros(len(y_va)), y_va, ("a", "b", "empty"), "flat")

    warnings = training_warnings(data({"a": 100, "b": 3}, {"a": 30, "b": 1}))
    assert any("without images: empty" in w for w in warnings)
    assert any("few training images for b (3)" in w for w in warnings)
    assert any("few validation images for b (1)" in w and "a (" not in w for w in warnings)
    assert any("no validation images" in w for w in training_warnings(data({"a": 1, "b": 1}, {})))
    assert training_warnings(data({"a": 100, "b": 100, "empty": 100}, {"a": 20, "b": 20, "empty": 20})) == []


def test_train_records_its_data_and_eval_warns_on_the_training_folder(flat, tmp_path):
    runner = CliRunner()
    model = tmp_path / "m"
    r = runner.invoke(cli, [*TRAIN, "--data", str(flat), "--out", str(model)])
    assert r.exit_code == 0, r.output
    record = json.loads((model / "config.json").read_text())[TRAINING_DATA_KEY]
    assert record == read_training_data(model)
    assert record["path"] == str(flat.resolve()) and record["layout"] == "flat"
    assert record["splits"] == {"train": 52, "val": 8}
    assert record["classes"] == {"gan_a": 30, "real": 30}
    assert len(record["fingerprint"]) == 64 and len(record["files_sha"]) == 64
    assert record["created"].endswith("+00:00") and record["ganprint_version"]
    assert "few validation images" in r.stderr  # 4 per source
    assert any("few validation images" in w for w in json.loads((model / "config.json").read_text())["warnings"])

    r = runner.invoke(cli, ["eval", "--model", str(model), "--data", str(flat), "--json", "-q"])
    assert r.exit_code == 0, r.output
    (warning,) = json.loads(r.stdout)["warnings"]
    assert "all 60 images scored" in warning and "test" in warning
    assert "warning: all 60 images" in r.stderr

    copy = tmp_path / "copy"  # a copy of the training folder is recognised by its fingerprint
    shutil.copytree(flat, copy)
    r = runner.invoke(cli, ["robustness", "--model", str(model), "--data", str(copy), "--json", "-q",
                            "--perturb", "blur=1"])
    assert r.exit_code == 0, r.output
    assert "all 60 images" in json.loads(r.stdout)["warnings"][0]

    other = _write(tmp_path / "other", {"gan_a": 10, "real": 10}, seed=7)
    r = runner.invoke(cli, ["eval", "--model", str(model), "--data", str(other), "--json", "-q"])
    assert r.exit_code == 0 and json.loads(r.stdout)["warnings"] == []

    r = runner.invoke(cli, [*TRAIN, "--data", str(flat), "--out", str(model)])
    assert r.exit_code == 2 and "--force" in r.stderr


def test_eval_of_the_test_split_is_clean_and_of_train_warns(split, tmp_path):
    runner = CliRunner()
    model = tmp_path / "m"
    assert runner.invoke(cli, [*TRAIN, "--data", str(split), "--out", str(model)]).exit_code == 0
    assert read_training_data(model)["splits"] == {"train": 48, "val": 16, "test": 16}
    r = runner.invoke(cli, ["eval", "--model", str(model), "--data", str(split), "--json", "-q"])
    assert r.exit_code == 0 and json.loads(r.stdout)["warnings"] == []
    r = runner.invoke(cli, ["eval", "--model", str(model), "--data", str(split), "--split", "val", "--json", "-q"])
    assert "all 16 images" in json.loads(r.stdout)["warnings"][0]
    dataset = scan_folder_dataset(split / "train")  # a folder inside the training folder
    assert len(training_overlap(read_training_data(model), dataset, [p for p, _ in dataset.splits["all"]])) == 48


def test_train_names_empty_sources_and_refuses_one_source(tmp_path):
    root = _write(tmp_path / "d", {"gan_a": 30, "real": 30})
    (root / "gan_b").mkdir()
    r = CliRunner().invoke(cli, [*TRAIN, "--data", str(root), "--out", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    assert "without images: gan_b" in r.stderr
    one = _write(tmp_path / "one", {"real": 5})
    r = CliRunner().invoke(cli, [*TRAIN, "--data", str(one), "--out", str(tmp_path / "m1")])
    assert r.exit_code == 2 and "at least two sources" in r.stderr and "np.str_" not in r.stderr
