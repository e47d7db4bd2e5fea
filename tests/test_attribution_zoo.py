"""Recipes, resumable training, input representations, calibration, unknown sources, the two-stage
model with add-source, and the eval / predict / add-source commands, on real MNIST digits standing
in for sources: "real" is digits 0, 1, 4 and 7 as they are; each generator is one digit carrying a
faint checkerboard, the upsampling artefact generators share (gan_a: 1, gan_b: 7); gan_c (digit 4)
carries a different artefact, faint stripes, that a detector trained on the others never saw; digit
3 with the checkerboard is a source no model is trained on."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganprint.attribution.attributor import Attributor
from ganprint.attribution.evaluation import detection_report
from ganprint.attribution.loading import load_model
from ganprint.attribution.training import FitConfig, fit_classifier, make_optimizer, recipe
from ganprint.attribution.two_stage import TwoStageAttributor
from ganprint.cli.main import cli
from ganprint.data.mnist import load_mnist_5k
from ganprint.models import create_model

GENERATORS = {"gan_a": 1, "gan_b": 7, "gan_c": 4, "unknown": 3}


def _artefact(images: np.ndarray, stripes: bool = False) -> np.ndarray:
    yy, xx = np.mgrid[:28, :28]
    pattern = (yy % 2 if stripes else (yy + xx) % 2) * 24
    return np.clip(images.astype(np.int16) + pattern.astype(np.int16)[None, :, :, None], 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def digits():
    d = load_mnist_5k()
    rng = np.random.default_rng(0)
    pools = {k: d.images[d.labels == k][rng.permutation(int((d.labels == k).sum()))][:, :, :, None]
             for k in (0, 1, 3, 4, 7)}
    out = {name: _artefact(pools[k][:300], stripes=name == "gan_c") for name, k in GENERATORS.items()}
    real = np.concatenate([pools[0][:150], pools[1][300:350], pools[4][300:350], pools[7][300:350]])
    out["real"] = real[rng.permutation(len(real))][:300]
    return out


def _xy(digits, names, part):
    sl = {"train": slice(0, 180), "val": slice(180, 230), "test": slice(230, 300)}[part]
    x = np.concatenate([digits[n][sl] for n in names])
    y = np.concatenate([[n] * len(digits[n][sl]) for n in names])
    return x, y


def test_seed002_recipe_gives_the_last_layer_its_own_rate():
    config = recipe("seed002")
    model = create_model("seed-mnist-cnn", num_classes=3)
    opt = make_optimizer(model, config)
    assert isinstance(opt, torch.optim.SGD)
    body, head = opt.param_groups
    assert (body["lr"], body["weight_decay"], head["lr"], head["weight_decay"]) == (1e-3, 1e-3, 5e-5, 1e-5)
    assert {id(p) for p in head["params"]} == {id(p) for p in model.head.parameters()}
    assert config.hflip and body["momentum"] == 0.9
    assert recipe("seed002", epochs=3).epochs == 3
    with pytest.raises(ValueError, match="known: adam, seed002"):
        recipe("nope")


def test_interrupted_training_resumes_to_the_same_weights(tmp_path, digits):
    x, y = _xy(digits, ["real", "gan_a"], "train")
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.from_numpy((y == "gan_a").astype(np.int64))
    xv, yv = xt[::5], yt[::5]
    config = FitConfig(epochs=3, batch_size=64, patience=None, seed=1)

    def train(checkpoint_dir=None, transform=None):
        torch.manual_seed(0)
        model = create_model("seed-mnist-cnn", num_classes=2)
        fit_classifier(model, xt, yt, xv, yv, config, progress=False, checkpoint_dir=checkpoint_dir,
                       batch_transform=transform)
        return model

    reference = train()
    calls = {"n": 0}

    def crash_in_epoch_two(xb, yb, gen):
        calls["n"] += 1
        if calls["n"] > 7:  # 6 batches per epoch: dies in the second epoch
            raise KeyboardInterrupt
        return xb, yb

    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "ckpt", crash_in_epoch_two)
    state = json.loads((tmp_path / "ckpt" / "state.json").read_text())
    assert len(state["history"]["train_loss"]) == 1
    resumed = train(tmp_path / "ckpt", lambda xb, yb, gen: (xb, yb))
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_paused_training_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path, digits):
    x, y = _xy(digits, ["real", "gan_a"], "train")
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.from_numpy((y == "gan_a").astype(np.int64))
    config = FitConfig(epochs=3, batch_size=64, patience=None, seed=1, schedule="warmup-cosine")

    def train(**kwargs):
        torch.manual_seed(0)
        model = create_model("seed-mnist-cnn", num_classes=2)
        return model, fit_classifier(model, xt, yt, xt[::5], yt[::5], config, progress=False, **kwargs)

    reference, _ = train()
    _, paused = train(checkpoint_dir=tmp_path / "ckpt", pause_after=1)
    assert paused["paused"] and paused["epochs_run"] == 1 and len(paused["val_accuracy"]) == 1
    resumed, history = train(checkpoint_dir=tmp_path / "ckpt")
    assert not history.get("paused") and history["epochs_run"] == 3
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="checkpoint_dir"):
        train(pause_after=1)


def test_bf16_training_learns_and_resumes_a_checkpoint_from_before_the_precision_field(tmp_path, digits):
    x, y = _xy(digits, ["real", "gan_a"], "train")
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.from_numpy((y == "gan_a").astype(np.int64))
    config = FitConfig(epochs=2, batch_size=64, patience=None, seed=1, precision="bf16")
    torch.manual_seed(0)
    model = create_model("seed-mnist-cnn", num_classes=2)
    history = fit_classifier(model, xt, yt, xt[::5], yt[::5], config, progress=False,
                             checkpoint_dir=tmp_path / "ckpt")
    assert history["val_accuracy"][-1] > 0.9  # the faint checkerboard is learnt under autocast too
    assert next(model.parameters()).dtype == torch.float32
    # a checkpoint written before FitConfig had `precision` resumes as fp32 (the old behaviour) ...
    state = json.loads((tmp_path / "ckpt" / "state.json").read_text())
    del state["config"]["precision"]
    (tmp_path / "ckpt" / "state.json").write_text(json.dumps(state))
    fp32 = FitConfig(epochs=2, batch_size=64, patience=None, seed=1)
    fit_classifier(create_model("seed-mnist-cnn", num_classes=2), xt, yt, xt[::5], yt[::5], fp32,
                   progress=False, checkpoint_dir=tmp_path / "ckpt")
    # ... and is not taken for a bf16 run's
    with pytest.raises(ValueError, match="different training config"):
        fit_classifier(create_model("seed-mnist-cnn", num_classes=2), xt, yt, None, None, config,
                       progress=False, checkpoint_dir=tmp_path / "ckpt")
    with pytest.raises(ValueError, match="precision must be one of"):
        FitConfig(precision="fp16")


def test_stop_accuracy_ends_training_at_the_first_epoch_that_reaches_it(tmp_path, digits):
    x, y = _xy(digits, ["real", "gan_c"], "train")  # stripes: learnt in an epoch or two
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.from_numpy((y == "gan_c").astype(np.int64))

    def fit(stop_accuracy, checkpoint_dir=None):
        config = FitConfig(epochs=6, batch_size=32, lr=3e-3, patience=None, seed=1, stop_accuracy=stop_accuracy)
        torch.manual_seed(0)
        return fit_classifier(create_model("seed-mnist-cnn", num_classes=2), xt, yt, xt[::3], yt[::3], config,
                              progress=False, checkpoint_dir=checkpoint_dir)

    full = fit(None)
    assert full["epochs_run"] == 6
    first_perfect = full["val_accuracy"].index(1.0) + 1  # a fixed seed: the same epochs in both runs
    assert first_perfect < 6
    stopped = fit(1.0, tmp_path / "ckpt")
    assert stopped["epochs_run"] == first_perfect
    assert stopped["val_accuracy"] == full["val_accuracy"][:first_perfect]
    # a resumed run that had stopped does not train on
    assert fit(1.0, tmp_path / "ckpt")["epochs_run"] == first_perfect
    with pytest.raises(ValueError, match="stop_accuracy"):
        FitConfig(stop_accuracy=1.5)


def test_dct_attributor_calibrates_and_detects(tmp_path, digits):
    names = ["real", "gan_a", "gan_b"]
    att = Attributor(representation="dct", fit_config=FitConfig(epochs=3, batch_size=64, patience=None),
                     device="cpu")
    att.fit(*_xy(digits, names, "train"), *_xy(digits, names, "val"), progress=False)
    x, y = _xy(digits, names, "test")
    assert att.score(x, y) > 0.75  # digit shapes are harder to read from spectra than artefacts
    cal = att.history_["calibration"]
    assert cal["temperature"] > 0 and cal["threshold"] is not None
    proba = att.predict_proba(x)
    p_fake = att.p_fake(proba)
    assert detection_report(y != "real", p_fake)["detection_auc"] > 0.85
    # the threshold accepts about the requested share of known-source images
    assert 0.8 < (att.predict_open(x) != "unknown").mean() <= 1.0
    # the feature-space score puts noise far below every known source; logit scores need not
    noise = np.random.default_rng(0).integers(0, 256, (40, 28, 28, 1), dtype=np.uint8)
    known, far = att.outputs(x), att.outputs(noise)
    maha_known = att.unknown_scores(known, "mahalanobis")
    maha_noise = att.unknown_scores(far, "mahalanobis")
    assert (maha_noise < np.quantile(maha_known, 0.05)).mean() > 0.9
    att.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m", device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(x[:20]), proba[:20], atol=1e-5)
    assert json.loads((tmp_path / "m" / "config.json").read_text())["representation"]["name"] == "dct"


def test_a_stacked_representation_doubles_the_model_input_and_survives_save_and_load(tmp_path, digits):
    names = ["real", "gan_a", "gan_b"]
    att = Attributor(arch="logreg", representation="pixels+dct", device="cpu",
                     fit_config=FitConfig(epochs=3, batch_size=64, patience=None))
    att.fit(*_xy(digits, names, "train"), *_xy(digits, names, "val"), progress=False)
    assert att.model_.num_features == 2 * 28 * 28
    x, y = _xy(digits, names, "test")
    assert att.score(x, y) > 0.75
    att.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m", device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(x[:20]), att.predict_proba(x[:20]), atol=1e-5)


@pytest.mark.parametrize("arch", ["seed-mnist-cnn", "logreg"])
def test_ensemble_score_flags_a_smooth_generator_that_the_logits_call_real(digits, arch):
    from scipy.ndimage import gaussian_filter
    from sklearn.metrics import roc_auc_score

    names = ["real", "gan_a", "gan_b"]
    att = Attributor(arch=arch, fit_config=FitConfig(epochs=3, batch_size=64, patience=None), device="cpu")
    att.fit(*_xy(digits, names, "train"), *_xy(digits, names, "val"), progress=False)
    # a network without a convolution has no stem; the image statistics need none
    parts = {"energy", "stem", "signal"} if arch != "logreg" else {"energy", "signal"}
    assert att.unknown_score == "ensemble" and set(att.score_scales_) == parts
    x, _ = _xy(digits, names, "test")
    # an unseen generator without the upsampling artefact whose digits are slightly smooth:
    # the classifier takes it for real, its first-layer statistics do not match any known source
    smooth = np.stack([gaussian_filter(im.astype(float), (0.8, 0.8, 0)) for im in digits["real"][230:300]])
    known, unknown = att.outputs(x), att.outputs(smooth.round().astype(np.uint8))

    def auroc(score):
        sk, su = att.unknown_scores(known, score), att.unknown_scores(unknown, score)
        return roc_auc_score(np.r_[np.ones(len(sk)), np.zeros(len(su))], np.r_[sk, su])

    assert auroc("energy") < 0.6 and auroc("ensemble") > 0.95
    np.testing.assert_allclose(known["known_scores"], att.unknown_scores(known, "ensemble"))


def test_two_stage_model_adds_a_source_without_touching_the_others(tmp_path, digits):
    names = ["real", "gan_a", "gan_b"]
    config = FitConfig(epochs=3, batch_size=64, patience=None)
    secondary = FitConfig(epochs=8, batch_size=32, lr=3e-3, patience=None)
    model = TwoStageAttributor(fit_config=config, secondary_config=secondary, width=16, secondary_width=16,
                               device="cpu")
    model.fit(*_xy(digits, names, "train"), *_xy(digits, names, "val"), progress=False)
    x, y = _xy(digits, names, "test")
    before = model.score(x, y)
    assert before > 0.9
    # unknown sources: smooth digits, unlike every known source, score below the known test images
    from scipy.ndimage import gaussian_filter
    from sklearn.metrics import roc_auc_score

    smooth = np.stack([gaussian_filter(im.astype(float), (0.8, 0.8, 0)) for im in digits["real"][230:300]])
    known, unknown = model.predict_with_scores(x)[1], model.predict_with_scores(smooth.round().astype(np.uint8))[1]
    assert set(model.score_scales_) == {"max_probability", "signal"}
    assert roc_auc_score(np.r_[np.ones(len(known)), np.zeros(len(unknown))], np.r_[known, unknown]) > 0.95
    frozen = {k: v.clone() for k, v in model.primary_.state_dict().items()}
    frozen_a = {k: v.clone() for k, v in model.secondary_["gan_a"].state_dict().items()}
    all_names = [*names, "gan_c"]
    model.add_source("gan_c", *_xy(digits, all_names, "train"), *_xy(digits, all_names, "val"), progress=False)
    assert list(model.classes_) == ["gan_a", "gan_b", "gan_c", "real"]
    for k, v in model.primary_.state_dict().items():
        assert torch.equal(v, frozen[k])
    for k, v in model.secondary_["gan_a"].state_dict().items():
        assert torch.equal(v, frozen_a[k])
    assert model.score(x, y) >= before - 0.03
    xc, yc = _xy(digits, ["gan_c"], "test")
    assert model.score(xc, yc) > 0.9  # although the primary never saw its artefact
    model.save(tmp_path / "two")
    loaded = load_model(tmp_path / "two", device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(x[:10]), model.predict_proba(x[:10]), atol=1e-6)
    np.testing.assert_allclose(loaded.predict_with_scores(xc)[1], model.predict_with_scores(xc)[1], atol=1e-6)
    assert (loaded.predict_open(xc) != "unknown").mean() > 0.8  # the added source is a known one now
    with pytest.raises(ValueError, match="needs real images"):
        TwoStageAttributor(device="cpu").fit(*_xy(digits, ["gan_a", "gan_b"], "train"), progress=False)


def _write(root, digits, names, parts=("train", "val", "test")):
    for part in parts:
        x, y = _xy(digits, names, part)
        for i, (img, name) in enumerate(zip(x, y, strict=True)):
            folder = root / part / name
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img[..., 0]).save(folder / f"{i:04d}.png")


def test_eval_predict_and_add_source_commands(tmp_path, digits):
    data = tmp_path / "data"
    _write(data, digits, ["real", "gan_a", "gan_b"])
    unknown = tmp_path / "unknown"
    unknown.mkdir()
    for i, img in enumerate(digits["unknown"][:60]):
        Image.fromarray(img[..., 0]).save(unknown / f"{i}.png")
    runner = CliRunner()
    model = tmp_path / "m"
    r = runner.invoke(cli, ["train", "--data", str(data), "--out", str(model), "--epochs", "2", "-q",
                            "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert not (model / ".checkpoint").exists()
    r = runner.invoke(cli, ["eval", "--model", str(model), "--data", str(data), "--unknown", str(unknown),
                            "--tta", "--audit-format", "--plots", str(tmp_path / "plots"), "--json", "-q"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    for key in ("accuracy", "balanced_accuracy", "ece", "ece_uncalibrated", "detection_auc", "unknown_auroc",
                "open_set_accuracy", "confusion_matrix", "tta", "format_audit"):
        assert key in report, key
    assert report["accuracy"] > 0.9 and report["detection_auc"] > 0.9 and report["unknown_auroc"] > 0.55
    assert report["open_set"]["known_accept_rate"] > 0.8
    assert (tmp_path / "plots" / "confusion_matrix.png").is_file()
    r = runner.invoke(cli, ["predict", "--model", str(model), "--heatmaps", str(tmp_path / "maps"),
                            str(data / "test" / "gan_a"), str(tmp_path / "missing.png")])
    assert r.exit_code == 1
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert "error" in lines[-1]
    ok = lines[:-1]
    assert all({"label", "probabilities", "p_fake", "known_score", "heatmap"} <= set(x) for x in ok)
    assert np.mean([x["p_fake"] > 0.5 for x in ok]) > 0.9
    assert len(list((tmp_path / "maps").glob("*.png"))) == len(ok)
    r = runner.invoke(cli, ["add-source", "--model", str(model), "--data", str(data), "--name", "gan_b"])
    assert r.exit_code == 2 and "two-stage" in r.output
    # two-stage model, then a new source
    two = tmp_path / "two"
    r = runner.invoke(cli, ["train", "--data", str(data), "--out", str(two), "--arch", "two-stage", "--epochs", "2",
                            "-q", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    more = tmp_path / "more"
    _write(more, digits, ["real", "gan_a", "gan_b", "gan_c"], parts=("train", "val"))
    r = runner.invoke(cli, ["add-source", "--model", str(two), "--data", str(more), "--name", "gan_c", "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads((two / "config.json").read_text())["sources"] == ["gan_a", "gan_b", "gan_c"]
    # an eval set with a generator the model never saw: detection only for it
    r = runner.invoke(cli, ["eval", "--model", str(model), "--data", str(more), "--split", "val", "--json", "-q"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["unseen_sources"] == ["gan_c"] and report["unseen_detection"]["detection_auc"] is not None


def test_recipe_settings_can_turn_early_stopping_off_while_unset_options_keep_them():
    config = recipe("adam", {"epochs": 30, "patience": None}, epochs=None, lr=0.01)
    assert (config.epochs, config.patience, config.lr) == (30, None, 0.01)
    assert recipe("adam", {"epochs": 30}, epochs=4).epochs == 4


def test_train_uses_the_architectures_measured_input_and_settings_unless_told_otherwise(tmp_path, digits):
    from ganprint.models import default_fit_options, default_representation

    data = tmp_path / "data"
    _write(data, digits, ["real", "gan_a"])
    runner = CliRunner()
    r = runner.invoke(cli, ["train", "--data", str(data), "--out", str(tmp_path / "a"), "--arch", "logreg",
                            "-q", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["representation"]["name"] == default_representation("logreg") == "pixels+dct"
    measured = default_fit_options("logreg")
    assert {k: config["fit"][k] for k in measured} == measured
    r = runner.invoke(cli, ["train", "--data", str(data), "--out", str(tmp_path / "b"), "--arch", "logreg",
                            "--representation", "pixels", "--epochs", "2", "--patience", "1", "-q", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    assert config["representation"]["name"] == "pixels"
    assert (config["fit"]["epochs"], config["fit"]["patience"]) == (2, 1)
    assert default_representation("seed-mnist-cnn") == default_representation("two-stage") == "pixels"
    r = runner.invoke(cli, ["models"])
    assert "logreg: pixels+dct" in r.output
