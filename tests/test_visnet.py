"""visNet: learned model and image fingerprints (Yu et al. 2019), its model folder and the
`ganprint train --arch visnet` / `ganprint fingerprint` commands."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganprint.attribution.attributor import NotFittedError, Preprocessing
from ganprint.attribution.loading import load_model
from ganprint.attribution.training import FitConfig
from ganprint.cli.main import cli
from ganprint.data.mnist import load_mnist_5k
from ganprint.fingerprints.visnet import VisNet, VisNetAttributor, VisNetConfig

SMALL = VisNetConfig(width=16, depth=2)
FAST = FitConfig(epochs=10, batch_size=16, lr=3e-3, patience=None)


def marked_digits(n_per=160, seed=0):
    """Three 'sources' of real digits: untouched, and two with their own faint fixed pattern (+-12
    grey levels), the way a generator leaves a trace on everything it makes."""
    digits = load_mnist_5k().images[: 3 * n_per]
    rng = np.random.default_rng(seed)
    patterns = {"real": 0, "gan_a": rng.choice([-12, 12], (28, 28)), "gan_b": rng.choice([-12, 12], (28, 28))}
    images, labels = [], []
    for i, (name, pattern) in enumerate(patterns.items()):
        part = digits[i * n_per:(i + 1) * n_per].astype(np.int16) + pattern
        images.append(np.clip(part, 0, 255).astype(np.uint8))
        labels += [name] * n_per
    order = rng.permutation(3 * n_per)
    return np.concatenate(images)[order][..., None], np.asarray(labels)[order]


@pytest.fixture(scope="module")
def data():
    x, y = marked_digits()
    return {"train": (x[:300], y[:300]), "val": (x[300:390], y[300:390]), "test": (x[390:], y[390:])}


@pytest.fixture(scope="module")
def fitted(data):
    model = VisNetAttributor(config=SMALL, fit_config=FAST, device="cpu")
    return model.fit(*data["train"], *data["val"], progress=False)


def test_visnet_learns_the_sources_from_their_fingerprints(fitted, data):
    assert list(fitted.classes_) == ["gan_a", "gan_b", "real"]
    assert fitted.score(*data["test"]) >= 0.85
    proba = fitted.predict_proba(data["test"][0])
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-5)
    assert fitted.threshold_ is not None and fitted.temperature_ > 0


def test_responses_are_the_image_fingerprint_times_each_model_fingerprint(fitted, data):
    x = data["test"][0][:5]
    fp = fitted.fingerprints(x)
    k = len(fitted.classes_)
    assert fp["image_fingerprint"].shape == (5, 1, 28, 28) and fp["responses"].shape == (5, k, 1, 28, 28)
    # the logit of a source is the summed response (the correlation of the two fingerprints)
    np.testing.assert_allclose(fp["responses"].sum((2, 3, 4)), fp["logits"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fp["logits"], fitted.decision_function(x), rtol=1e-5, atol=1e-5)
    # the image fingerprint is the autoencoder's residual in the [-1, 1] scale
    xs = x.transpose(0, 3, 1, 2) / 127.5 - 1
    np.testing.assert_allclose(fp["image_fingerprint"] + fp["reconstruction"], xs, atol=1e-5)


def test_reconstruction_loss_trains_the_autoencoder():
    """The L1 term rides in the gradient: with rec_weight the reconstruction improves even when the
    classification loss gives the autoencoder no signal (one source's two copies)."""
    torch.manual_seed(0)
    x = torch.from_numpy(load_mnist_5k().images[:32]).float().div(255)[:, None]
    errors = {}
    for weight in (0.0, 20.0):
        torch.manual_seed(0)
        net = VisNet(2, 1, (28, 28), VisNetConfig(width=8, depth=2, rec_weight=weight)).train()
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        for _ in range(20):
            loss = torch.nn.functional.cross_entropy(net(x), torch.zeros(32, dtype=torch.long))
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            errors[weight] = (net.forward_all(x)["reconstruction"] - (x * 2 - 1)).abs().mean().item()
    assert errors[20.0] < 0.5 * errors[0.0]


@pytest.mark.parametrize("output", ["linear", "tanh"])
def test_a_fitted_visnet_reconstructs_each_image(data, output):
    """Trained jointly with the classifier, the autoencoder must stay alive: each image gets its own
    reconstruction, closer to it than the best single constant image. (The legacy tanh output,
    kept for old model folders, saturates into one constant image here.)"""
    config = dataclasses.replace(SMALL, output=output)
    model = VisNetAttributor(config=config, fit_config=FAST, device="cpu").fit(*data["train"], *data["val"],
                                                                             progress=False)
    x = data["test"][0]
    rec = model.fingerprints(x)["reconstruction"]
    target = x.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1
    error = np.abs(rec - target).mean()
    constant_error = np.abs(target - np.median(target)).mean()
    alive = rec.std(0).mean() > 0.05 and error < 0.5 * constant_error
    assert alive == (output == "linear"), (rec.std(0).mean(), error, constant_error)


def test_old_visnet_model_folders_keep_their_tanh_output_and_new_settings_get_the_linear_one():
    assert VisNetConfig.from_saved({"width": 8, "depth": 2, "rec_weight": 2.0}).output == "tanh"
    assert VisNetConfig.from_saved(VisNetConfig().to_dict()).output == "linear"
    assert VisNetConfig.from_dict({"width": 8, "depth": 2}).output == "linear"


def test_save_load_round_trip_and_unfitted_error(fitted, data, tmp_path):
    fitted.save(tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"config.json", "model.safetensors"}
    loaded = load_model(tmp_path / "m", device="cpu")
    assert isinstance(loaded, VisNetAttributor)
    x = data["test"][0]
    np.testing.assert_allclose(loaded.predict_proba(x), fitted.predict_proba(x), atol=1e-5)  # float32 conv order
    np.testing.assert_array_equal(loaded.predict_open(x), fitted.predict_open(x))
    with pytest.raises(NotFittedError):
        VisNetAttributor().predict(x)
    with pytest.raises(ValueError, match="expected images of shape"):
        fitted.predict(np.zeros((2, 16, 16, 1), np.uint8))


def _write_dataset(root, data):
    for split, (x, y) in data.items():
        for i, (img, label) in enumerate(zip(x, y, strict=True)):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img[..., 0]).save(folder / f"{i:04d}.png")


def test_cli_train_visnet_then_eval_robustness_and_fingerprint(data, tmp_path):
    root = tmp_path / "data"
    _write_dataset(root, {"train": data["train"], "val": data["val"], "test": (data["test"][0][:30],
                                                                               data["test"][1][:30])})
    runner = CliRunner()
    res = runner.invoke(cli, ["train", "--data", str(root), "--out", str(tmp_path / "m"), "--arch", "visnet",
                              "--epochs", "2", "--batch-size", "32", "--lr", "3e-3", "-q", "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "m" / "config.json").read_text())["kind"] == "ganprint-visnet"
    res = runner.invoke(cli, ["eval", "--model", str(tmp_path / "m"), "--data", str(root), "--json", "-q"])
    assert res.exit_code == 0, res.output
    assert 0 <= json.loads(res.output.strip().splitlines()[-1])["accuracy"] <= 1
    res = runner.invoke(cli, ["robustness", "--model", str(tmp_path / "m"), "--data", str(root), "--json", "-q",
                              "--perturb", "jpeg=50"])
    assert res.exit_code == 0, res.output
    assert set(json.loads(res.output.strip().splitlines()[-1])["perturbations"]) == {"jpeg"}

    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    good = sorted((root / "test" / "gan_a").iterdir())[:2]
    res = runner.invoke(cli, ["predict", "--model", str(tmp_path / "m"), str(good[0])])
    assert res.exit_code == 0, res.output
    record = json.loads(res.output.strip().splitlines()[-1])
    assert set(record["probabilities"]) == {"gan_a", "gan_b", "real"} and 0 <= record["p_fake"] <= 1
    out = tmp_path / "fp"
    # `images` is the default subcommand: `fingerprint --model ...` works without naming it
    res = runner.invoke(cli, ["fingerprint", "--model", str(tmp_path / "m"), str(good[0]), str(bad), str(good[1]),
                              "--out", str(out)])
    assert res.exit_code == 1  # one file failed, the others were still drawn
    records = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
    assert [("error" in r) for r in records] == [False, True, False]
    assert records[0]["true_source"] == "gan_a" and set(records[0]["responses"]) == {"gan_a", "gan_b", "real"}
    assert (out / "model_fingerprints.png").is_file()
    assert all(Image.open(r["panel"]).size[0] > 100 for r in records if "panel" in r)


def test_cli_fingerprint_needs_a_visnet_model(data, tmp_path):
    from ganprint.fingerprints import ResidualCorrelationAttributor

    ResidualCorrelationAttributor(preprocessing=Preprocessing()).fit(*data["train"]).save(tmp_path / "rc")
    res = CliRunner().invoke(cli, ["fingerprint", "images", "--model", str(tmp_path / "rc"), str(tmp_path),
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "visNet" in res.output


def test_cli_fingerprint_spectra(data, tmp_path):
    root = tmp_path / "data"
    _write_dataset(root, {"train": data["train"]})
    res = CliRunner().invoke(cli, ["fingerprint", "spectra", "--data", str(root), "--out", str(tmp_path / "s"),
                                   "--max-per-source", "20", "-q"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "s" / "signal_fingerprints.png").is_file()
    from ganprint.serialization import load_tensors

    maps = load_tensors(tmp_path / "s" / "signal_fingerprints.safetensors")
    assert {"residual/gan_a", "fft/real", "dct - mean/gan_b"} <= set(maps)
    # the mean residual of a marked source carries its pattern; the real one's does not
    assert maps["residual/gan_a"].abs().mean() > 2 * maps["residual/real"].abs().mean()
