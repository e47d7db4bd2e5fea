"""Model cards: `ganprint card` on a tiny trained model, with and without a training-data record."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from ganprint.attribution.attributor import Attributor
from ganprint.attribution.card import format_card, model_card, read_model_card
from ganprint.attribution.training import FitConfig
from ganprint.cli.main import cli
from ganprint.data.mnist import load_mnist_5k
from ganprint.serialization import read_json, write_json

pytestmark = pytest.mark.usefixtures("one_thread")

TRAINING_DATA = {"path": "/data/digits", "layout": "split", "splits": {"train": 300, "val": 30},
                 "classes": {"ones": 315, "real": 15}, "fingerprint": "0123abcd",
                 "created": "2026-12-08T10:00:00+00:00", "ganprint_version": "0.1.0"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A one-epoch model on 0s ("real") and 1s ("ones"), with validation images (so calibrated)."""
    d = load_mnist_5k().subset([0, 1])
    pick = np.random.default_rng(0).permutation(len(d))[:360]
    X, y = d.images[pick, :, :, None], np.where(d.labels[pick] == 0, "real", "ones")
    att = Attributor(fit_config=FitConfig(epochs=1, batch_size=64, patience=None), device="cpu")
    att.fit(X[:300], y[:300], X[300:], y[300:], progress=False)
    return att.save(tmp_path_factory.mktemp("card") / "m")


def test_card_of_a_trained_model(model_dir):
    card = read_model_card(model_dir)
    assert card["model"]["classes"] == ["ones", "real"] and card["model"]["real_classes"] == ["real"]
    assert card["model"]["arch"] == "seed-mnist-cnn" and card["model"]["arch_description"]
    assert card["input"]["size"] == [28, 28] and card["input"]["channels"] == 1
    cal = card["calibration"]
    assert cal["calibrated"] and cal["temperature"] > 0 and cal["threshold"] is not None
    assert cal["val_ece"] is not None and cal["fake_threshold"] is not None
    assert card["validation"]["epochs"] == 1 and 0 <= card["validation"]["accuracy"] <= 1
    assert card["training"]["epochs_run"] == 1 and card["training"]["optimizer"] == "adam"
    assert set(card["model"]["files"]) >= {"config.json", "model.safetensors"}
    # an older folder: no record of its data, said as a limit rather than an error
    assert card["training_data"] is None and card["model"]["ganprint_version"] is None
    assert any("does not record its training data" in text for text in card["limits"])
    text = format_card(card)
    for needle in ("seed-mnist-cnn", "ones, real", "temperature", "Known limits", "28x28 grey", "not recorded"):
        assert needle in text, needle


def test_card_reads_the_training_data_record(model_dir, tmp_path):
    config = read_json(model_dir / "config.json")
    card = model_card({**config, "training_data": TRAINING_DATA})
    assert card["training_data"]["fingerprint"] == "0123abcd"
    assert card["model"]["ganprint_version"] == "0.1.0" and card["model"]["created"] == TRAINING_DATA["created"]
    # no test split held out, 15 real images, 30 validation images for 2 sources: known limits
    limits = " ".join(card["limits"])
    assert "no test split" in limits and "real (15)" in limits and "only 30 validation images" in limits
    text = format_card(card)
    assert "/data/digits (split layout" in text and "ones 315, real 15" in text and "ganprint 0.1.0" in text
    # the warnings train recorded are shown as they were written, and not derived a second time
    warned = model_card({**config, "training_data": TRAINING_DATA, "warnings": ["few training images for real (15)"]})
    limits = " ".join(warned["limits"])
    assert warned["limits"][0] == "few training images for real (15)"
    assert "real (15) (fewer than" not in limits and "only 30 validation images" not in limits


def test_card_command_json_and_text(model_dir, tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["card", "--model", str(model_dir), "--json"])
    assert r.exit_code == 0, r.output
    card = json.loads(r.stdout)
    assert card["model"]["classes"] == ["ones", "real"] and card["model"]["path"] == str(model_dir)
    report = tmp_path / "eval.json"
    write_json(report, {"split": "test", "n": 100, "accuracy": 0.97, "balanced_accuracy": 0.96, "ece": 0.02,
                        "warnings": ["all 100 images scored trained or validated this model"]})
    r = runner.invoke(cli, ["card", "--model", str(model_dir), "--eval", str(report)])
    assert r.exit_code == 0, r.output
    assert "split test, 100 images: accuracy 0.9700" in r.stdout
    assert "warning: all 100 images scored trained" in r.stdout  # the evaluation's own warning travels along
    assert "no test figures recorded" not in r.stdout


def test_card_command_refuses_what_is_not_a_model(tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["card", "--model", str(tmp_path)])
    assert r.exit_code == 2 and "not a model folder" in r.output
    write_json(tmp_path / "config.json", {"kind": "ganprint-inverter"})
    r = runner.invoke(cli, ["card", "--model", str(tmp_path)])
    assert r.exit_code == 2 and "not a ganprint attributor" in r.output and "Traceback" not in r.output


def test_card_without_validation_or_real_class():
    """A config from a fit without validation images and without a real class: the card says what
    that costs instead of showing empty figures."""
    config = {"kind": "ganprint-attributor", "arch": "logreg", "classes": ["gan-a", "gan-b"], "real_classes": ["real"],
              "preprocessing": {"size": [8, 8], "channels": 3}, "representation": {"name": "dct"},
              "calibration": {"temperature": 1.0, "threshold": None}, "fit": {"epochs": 2},
              "history": {"train_loss": [1.0, 0.5], "val_loss": [], "val_accuracy": [], "epochs_run": 2}}
    card = model_card(config)
    assert card["validation"] is None and not card["calibration"]["calibrated"]
    limits = " ".join(card["limits"])
    assert "never answers 'unknown'" in limits and "no real class" in limits and "frequencies" in limits
    text = format_card(card)
    assert "8x8 RGB, representation dct" in text and "no validation figures" in text


def test_card_of_a_training_free_model(tmp_path):
    from ganprint.fingerprints.correlation import ResidualCorrelationAttributor

    d = load_mnist_5k().subset([0, 1])
    pick = np.random.default_rng(1).permutation(len(d))[:200]
    X, y = d.images[pick, :, :, None], np.where(d.labels[pick] == 0, "real", "ones")
    ResidualCorrelationAttributor().fit(X[:150], y[:150], X[150:], y[150:]).save(tmp_path / "rc")
    card = read_model_card(tmp_path / "rc")
    assert card["model"]["kind"] == "ganprint-residual-correlation" and card["training"] is None
    assert card["calibration"]["unknown_score"] == "max_correlation"
    assert "Training\n" not in format_card(card)


def test_card_of_a_two_stage_config():
    """A two-stage model names one ``real_class`` and keeps one history per module."""
    module = {"val_loss": [0.3, 0.2], "val_accuracy": [0.9, 0.95], "epochs_run": 2, "best_val_loss": 0.2}
    config = {"kind": "ganprint-two-stage", "arch": "two-stage", "classes": ["gan_a", "real"], "real_class": "real",
              "preprocessing": {"size": [28, 28], "channels": 1}, "fit": {"epochs": 5},
              "calibration": {"unknown_score": "ensemble", "threshold": -3.0, "accept_rate": 0.95},
              "history": {"primary": module, "secondary": {"gan_a": {**module, "val_accuracy": [0.8, 0.85]}},
                          "fit_seconds": 4.0}}
    card = model_card(config)
    assert card["model"]["real_classes"] == ["real"]
    assert card["training"]["epochs_run"] == 2
    assert card["validation"]["accuracy"] == 0.95 and card["validation"]["secondary"] == {"gan_a": 0.85}
    assert not any("no real class" in text for text in card["limits"])
    text = format_card(card)
    assert "primary (real vs fake) module: accuracy 0.9500" in text and "gan_a 0.8500" in text
