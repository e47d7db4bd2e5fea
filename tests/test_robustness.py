"""`ganprint robustness` and `ganprint immunise` on a tiny real folder dataset (digits 0 vs 1)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganprint.attribution.attributor import Attributor
from ganprint.attribution.loading import load_model
from ganprint.attribution.training import FitConfig
from ganprint.cli.main import cli
from ganprint.data.mnist import load_mnist_5k
from ganprint.robustness import ImmuniseConfig, immunise, robustness_report, target_check


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """DIR/train|val|test/{zeros,ones}/*.png (240 / 80 / 80 images) and a model trained on it."""
    digits = load_mnist_5k().subset([0, 1])
    pick = np.random.default_rng(0).permutation(len(digits))[:400]
    root = tmp_path_factory.mktemp("robust") / "data"
    for i, (img, label) in enumerate(zip(digits.images[pick], digits.labels[pick], strict=True)):
        split = ("train", "train", "train", "val", "test")[i % 5]
        folder = root / split / ("zeros" if label == 0 else "ones")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{i:04d}.png")
    y = np.where(digits.labels[pick] == 0, "zeros", "ones")
    X = digits.images[pick][..., None]
    train, val = np.arange(400) % 5 < 3, np.arange(400) % 5 == 3
    model = Attributor(fit_config=FitConfig(epochs=1, batch_size=32, patience=None), device="cpu")
    model.fit(X[train], y[train], X[val], y[val], progress=False)
    model.save(root.parent / "model")
    return root, root.parent / "model", X, y


def test_report_shape_and_targets(data):
    _, model_dir, X, y = data
    model = load_model(model_dir, device="cpu")
    r = robustness_report(model, X[:60], y[:60], perturbations={"jpeg": (90, 10), "crop": (0.8,)})
    assert set(r) == {"clean", "perturbations"}
    assert set(r["perturbations"]) == {"jpeg", "crop"} and list(r["perturbations"]["jpeg"]) == ["90", "10"]
    assert all(0 <= a <= 1 for row in r["perturbations"].values() for a in row.values())
    assert r == robustness_report(model, X[:60], y[:60], perturbations={"jpeg": (90, 10), "crop": (0.8,)})
    # jpeg 10 lies outside the immunisation range (quality >= 50): not a target
    assert set(target_check(r)["jpeg"]) == {"90"}
    with pytest.raises(ValueError, match="not known"):
        robustness_report(model, X[:2], ["zeros", "twos"])


def test_cli_robustness_json_table_and_plot(data, tmp_path):
    root, model_dir, _, _ = data
    runner = CliRunner()
    args = ["robustness", "--model", str(model_dir), "--data", str(root), "--device", "cpu", "-q",
            "--perturb", "jpeg=75,50", "--perturb", "blur=0.5", "--perturb", "brightness=-0.3"]
    r = runner.invoke(cli, [*args, "--json", "--plot", str(tmp_path / "r.png")])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert set(report) == {"clean", "perturbations", "warnings"} and isinstance(report["clean"], float)
    assert report["warnings"] == []  # a model saved by the library records no training data
    assert report["perturbations"].keys() == {"jpeg", "blur", "brightness"}
    assert list(report["perturbations"]["jpeg"]) == ["75", "50"]
    assert list(report["perturbations"]["brightness"]) == ["-0.3"]
    assert (tmp_path / "r.png").stat().st_size > 1000
    r = runner.invoke(cli, [*args, "--plots", str(tmp_path / "plots")])
    assert r.exit_code == 0 and (tmp_path / "plots" / "robustness.png").is_file()
    assert r.exit_code == 0 and "jpeg" in r.stdout and "clean" in r.stdout
    r = runner.invoke(cli, [*args[:-2], "--perturb", "pixelate=2"])
    assert r.exit_code == 2 and "unknown perturbation 'pixelate'" in r.output


def test_cli_immunise_writes_a_loadable_model_and_tables(data, tmp_path):
    root, model_dir, X, y = data
    out = tmp_path / "immune"
    r = CliRunner().invoke(cli, ["immunise", "--model", str(model_dir), "--data", str(root), "--out", str(out),
                                 "--epochs", "2", "--perturb", "jpeg=50", "--perturb", "noise=0.05",
                                 "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    model = load_model(out, device="cpu")
    assert list(model.classes_) == ["ones", "zeros"] and model.threshold_ is not None
    config = json.loads((out / "config.json").read_text())
    assert config["history"]["immunisation"]["epochs_run"] >= 1
    tables = json.loads((out / "robustness.json").read_text())
    before, after = tables["before"], tables["after"]
    assert tables["n"] == 80 and set(after) == {"clean", "perturbations"}
    # 0 vs 1 is easy: the immunised model stays accurate, and is no worse under JPEG than before
    # (beyond one image of 80)
    assert after["clean"] >= 0.9
    assert after["perturbations"]["jpeg"]["50"] >= before["perturbations"]["jpeg"]["50"] - 1.5 / 80
    assert (out / "robustness.png").is_file()


def test_immunise_refuses_other_models_and_unknown_sources(data):
    _, model_dir, X, y = data
    model = load_model(model_dir, device="cpu")
    with pytest.raises(TypeError):
        immunise(object(), X, y, X, y)
    with pytest.raises(ValueError, match="not known"):
        immunise(model, X[:4], ["a", "b", "a", "b"], X[:4], y[:4], ImmuniseConfig(epochs=1), progress=False)


def test_report_works_for_a_two_stage_model():
    import dataclasses

    from ganprint.attribution.two_stage import SECONDARY_FIT, TwoStageAttributor

    d = load_mnist_5k().subset([0, 1, 2])
    pick = np.random.default_rng(0).permutation(len(d))[:180]
    X, y = d.images[pick][..., None], np.asarray(["real", "gan_a", "gan_b"])[d.labels[pick]]
    model = TwoStageAttributor(fit_config=FitConfig(epochs=1, batch_size=64, patience=None),
                               secondary_config=dataclasses.replace(SECONDARY_FIT, epochs=1), width=16,
                               secondary_width=16, device="cpu")
    model.fit(X[:120], y[:120], X[120:150], y[120:150], progress=False)
    r = robustness_report(model, X[150:], y[150:], perturbations={"jpeg": (50,), "blur": (1,)})
    assert set(r) == {"clean", "perturbations"} and set(r["perturbations"]) == {"jpeg", "blur"}
    assert 0 <= r["perturbations"]["blur"]["1"] <= 1
