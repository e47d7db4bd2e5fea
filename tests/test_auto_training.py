"""Training that converges on any folder: schedule, time budget, input shape from the data, the
default candidate selection, the unknown-score choice and the p_fake operating point."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganprint.attribution.evaluation import fit_fpr_threshold, operating_point
from ganprint.attribution.openset import choose_score, knn_score, normalise_features
from ganprint.attribution.training import FitConfig, fit_classifier, warmup_cosine_factor
from ganprint.cli.main import cli
from ganprint.cli.options import Duration
from ganprint.data.inspect import profile_dataset
from ganprint.data.mnist import load_mnist_5k
from ganprint.models import create_model
from ganprint.models.gpnet import stage_count


def test_warmup_cosine_schedule():
    f = [warmup_cosine_factor(step, 100, 10) for step in range(101)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[9:], f[10:], strict=False))  # non-increasing after warm-up
    assert f[100] == pytest.approx(0.0, abs=1e-12) and f[55] == pytest.approx(0.5, abs=0.02)


def test_fit_respects_the_time_budget():
    torch.manual_seed(0)
    x = (torch.rand(512, 1, 28, 28) * 255).to(torch.uint8)
    y = torch.randint(0, 3, (512,))
    model = create_model("gpnet-s", num_classes=3, input_size=28, seed=0)
    budget = 1.5
    config = FitConfig(epochs=500, batch_size=64, patience=None, schedule="warmup-cosine", time_budget=budget)
    history = fit_classifier(model, x, y, x[:64], y[:64], config, progress=False)
    assert 1 <= history["epochs_run"] < 500
    # it never starts an epoch that its last epoch's time says would overrun the budget
    spent = sum(history["epoch_seconds"])
    assert spent <= budget + max(history["epoch_seconds"])


def test_fpr_threshold_and_operating_point():
    real = np.linspace(0.0, 0.99, 100)
    t = fit_fpr_threshold(real, 0.05)
    assert (real > t).sum() == 5
    assert fit_fpr_threshold(real, 0.0) == pytest.approx(0.99)
    fake = np.r_[np.full(9, 0.999), [0.1]]
    point = operating_point(np.r_[np.zeros(100), np.ones(10)], np.r_[real, fake], t)
    assert point["false_positive_rate"] == pytest.approx(0.05) and point["detection_rate"] == pytest.approx(0.9)
    with pytest.raises(ValueError):
        fit_fpr_threshold([], 0.01)


def test_knn_score_matches_brute_force():
    rng = np.random.default_rng(0)
    bank = normalise_features(rng.normal(size=(50, 8)))
    f = rng.normal(size=(7, 8))
    fn = f / np.linalg.norm(f, axis=1, keepdims=True)
    dist = np.sort(np.linalg.norm(fn[:, None] - bank[None], axis=2), axis=1)
    np.testing.assert_allclose(knn_score(f, bank, k=3), -dist[:, 2], atol=1e-5)
    # a point on the bank is closer than any random direction
    assert knn_score(bank[:1], bank, k=1)[0] == pytest.approx(0.0, abs=1e-3)


def test_choose_score_takes_the_best_mean_and_breaks_ties_in_order():
    assert choose_score({"energy": [0.8, 0.9], "knn": [0.95, 0.9]}) == "knn"
    assert choose_score({"max_probability": [0.9], "energy": [0.9]}) == "max_probability"


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("1.5m", 90)])
def test_duration(text, seconds):
    assert Duration().convert(text, None, None) == seconds


@pytest.mark.parametrize("bad", ["", "ten minutes", "5x", "0s", "-3m"])
def test_duration_refuses_nonsense(bad):
    import click

    with pytest.raises(click.BadParameter):
        Duration().convert(bad, None, None)


@pytest.mark.parametrize(("size", "chans", "stages"), [(28, 1, 3), (32, 3, 3), (64, 3, 4), (100, 1, 5)])
def test_gpnet_takes_any_size(size, chans, stages):
    assert stage_count(size) == stages
    model = create_model("gpnet-s", num_classes=4, in_chans=chans, input_size=size, seed=0)
    x = torch.rand(2, chans, size, size, requires_grad=True)
    out = model(x)
    assert out.shape == (2, 4)
    out.sum().backward()
    assert x.grad is not None


def _write(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:04d}.png")


def test_profile_reads_size_and_colour_from_the_pixels(tmp_path):
    rng = np.random.default_rng(0)
    grey_as_rgb = np.repeat(rng.integers(0, 255, (6, 20, 20, 1), dtype=np.uint8), 3, axis=3)
    _write(tmp_path / "a", grey_as_rgb)
    _write(tmp_path / "b", grey_as_rgb[..., 0])
    files = [(p, 0) for p in sorted((tmp_path / "a").iterdir())] + [(p, 1) for p in sorted((tmp_path / "b").iterdir())]
    profile = profile_dataset(files, ["a", "b"])
    assert profile.size == (20, 20) and profile.channels == 1 and not profile.warnings
    _write(tmp_path / "c", rng.integers(0, 255, (6, 24, 24, 3), dtype=np.uint8))
    files += [(p, 2) for p in sorted((tmp_path / "c").iterdir())]
    profile = profile_dataset(files, ["a", "b", "c"])
    assert profile.channels == 3
    assert any("differ in image size" in w for w in profile.warnings)
    assert any("grey" in w for w in profile.warnings)


@pytest.fixture(scope="module")
def colour_folder(tmp_path_factory):
    """Three 'sources' of 32x32 RGB images: digits tinted three ways (real pixels, small)."""
    d = load_mnist_5k()
    root = tmp_path_factory.mktemp("colour")
    tints = {"real": (1.0, 0.6, 0.3), "gan_a": (0.3, 1.0, 0.6), "gan_b": (0.6, 0.3, 1.0)}
    for k, (name, tint) in enumerate(tints.items()):
        digits = d.images[k * 90:(k + 1) * 90]
        padded = np.pad(digits, ((0, 0), (2, 2), (2, 2)))
        rgb = (padded[..., None] * np.asarray(tint)[None, None, None]).astype(np.uint8)
        _write(root / "train" / name, rgb[:70])
        _write(root / "test" / name, rgb[70:])
    return root


def test_train_reads_the_input_from_the_data_and_chooses_on_validation(tmp_path, colour_folder):
    model = tmp_path / "m"
    r = CliRunner().invoke(cli, ["train", "--data", str(colour_folder), "--out", str(model), "--epochs", "2",
                                 "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    config = json.loads((model / "config.json").read_text())
    assert config["preprocessing"]["size"] == [32, 32] and config["preprocessing"]["channels"] == 3
    selection = config["history"]["selection"]
    assert [c["candidate"] for c in selection["candidates"]] == [
        "gpnet-s/residual+photometric", "gpnet-s/pixels+none", "logreg/pixels+dct"]
    assert sum(c["chosen"] for c in selection["candidates"]) == 1
    chosen = next(c for c in selection["candidates"] if c["chosen"])
    assert chosen["arch"] == config["arch"] and chosen["representation"] == config["representation"]["name"]
    # the race: every candidate ran its first epoch(s); the best so far on validation was finished
    key = [(c["race_val_accuracy"], -c["race_val_loss"]) for c in selection["candidates"]]
    assert key[selection["candidates"].index(chosen)] == max(key)
    assert chosen["epochs"] == 2 and "val_accuracy" in chosen
    assert all(c["epochs"] == 1 for c in selection["candidates"] if not c["chosen"] and c["arch"] == "gpnet-s")
    loso = config["history"]["unknown_score_selection"]
    assert len(loso["folds"]) == 3 and loso["chosen"] == config["calibration"]["unknown_score"]
    assert config["calibration"]["fake_threshold"] is not None
    r = CliRunner().invoke(cli, ["eval", "--model", str(model), "--data", str(colour_folder), "-q"])
    assert r.exit_code == 0, r.output
    assert "candidates (chosen on validation" in r.output and "leave-one-source-out AUROC" in r.output
    assert "operating point" in r.output
    r = CliRunner().invoke(cli, ["predict", "--model", str(model), str(colour_folder / "test" / "real")])
    assert r.exit_code == 0
    assert all("fake" in json.loads(line) for line in r.stdout.splitlines())


def test_train_with_a_named_arch_and_a_given_unknown_score(tmp_path, colour_folder):
    model = tmp_path / "m"
    r = CliRunner().invoke(cli, ["train", "--data", str(colour_folder), "--out", str(model), "--arch", "logreg",
                                 "--unknown-score", "energy", "--size", "28", "--channels", "1", "--epochs", "2",
                                 "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    config = json.loads((model / "config.json").read_text())
    assert config["arch"] == "logreg" and config["calibration"]["unknown_score"] == "energy"
    assert config["preprocessing"]["size"] == [28, 28] and config["preprocessing"]["channels"] == 1
    assert "unknown_score_selection" not in config["history"]


def test_train_refuses_to_overwrite_a_model_without_force(tmp_path, colour_folder):
    model = tmp_path / "m"
    args = ["train", "--data", str(colour_folder), "--out", str(model), "--arch", "logreg", "--unknown-score",
            "energy", "--epochs", "1", "--device", "cpu", "-q"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    before = (model / "config.json").read_text()
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2 and "--force" in r.output
    assert (model / "config.json").read_text() == before
    r = CliRunner().invoke(cli, [*args, "--force", "--arch", "gpnet-s"])
    assert r.exit_code == 0, r.output
    assert json.loads((model / "config.json").read_text())["arch"] == "gpnet-s"
    assert not (model / "representation.safetensors").exists()  # the replaced model's files are gone
