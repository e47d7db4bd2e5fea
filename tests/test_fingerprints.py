"""Signal fingerprints (spectra, noise residuals) and the residual-correlation attributor."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from scipy import ndimage

from ganprint.attribution.loading import load_model
from ganprint.cli.main import cli
from ganprint.data.representations import dct2_log
from ganprint.fingerprints import (
    ResidualCorrelationAttributor,
    denoise,
    images_to_float,
    log_spectrum,
    noise_residual,
    signal_fingerprints,
    source_means,
)
from ganprint.plots import plot_source_maps


def synthetic_sources(n_per=60, seed=0):
    """Two 'generators': smooth random content plus a fixed faint high-frequency pattern each."""
    rng = np.random.default_rng(seed)
    patterns = {"gan_a": rng.standard_normal((16, 16)) * 12, "gan_b": rng.standard_normal((16, 16)) * 12}
    images, labels = [], []
    for name, pattern in patterns.items():
        for _ in range(n_per):
            content = ndimage.gaussian_filter(rng.uniform(0, 255, (16, 16)), 3)
            images.append(np.clip(content + pattern, 0, 255).astype(np.uint8))
            labels.append(name)
    order = rng.permutation(len(images))
    return np.asarray(images)[order][..., None], np.asarray(labels)[order]


def test_fft_spectrum_matches_numpy_and_dct_matches_the_representation():
    x = np.random.default_rng(0).uniform(0, 1, (3, 2, 8, 10))
    want = np.log(np.abs(np.fft.fftshift(np.fft.fft2(x, norm="ortho"), axes=(-2, -1))) + 1e-12)
    np.testing.assert_allclose(log_spectrum(x, "fft"), want, atol=1e-9)
    np.testing.assert_allclose(log_spectrum(x, "dct"), dct2_log(x), atol=1e-9)
    flat = np.full((1, 1, 8, 8), 0.5)
    spec = log_spectrum(flat, "fft")[0, 0]
    assert np.unravel_index(spec.argmax(), spec.shape) == (4, 4)  # zero frequency at the centre
    with pytest.raises(ValueError, match="known: fft, dct"):
        log_spectrum(x, "wavelet")


def test_denoisers_match_scipy_and_residuals_vanish_on_flat_images():
    x = np.random.default_rng(1).uniform(0, 1, (2, 1, 12, 12))
    np.testing.assert_allclose(denoise(x, "gaussian", sigma=1.0),
                               ndimage.gaussian_filter(x, (0, 0, 1.0, 1.0), mode="mirror", truncate=3.0), atol=1e-12)
    np.testing.assert_allclose(denoise(x, "median", size=3),
                               ndimage.median_filter(x, size=(1, 1, 3, 3), mode="mirror"), atol=1e-12)
    flat = np.full((1, 3, 9, 9), 0.3)
    for method in ("gaussian", "median"):
        np.testing.assert_allclose(noise_residual(flat, method), 0, atol=1e-12)
    impulse = np.zeros((1, 1, 9, 9))
    impulse[0, 0, 4, 4] = 1
    np.testing.assert_allclose(noise_residual(impulse, "median"), impulse)  # a median removes an isolated spike


def test_source_means_and_signal_fingerprints():
    x = np.arange(4 * 1 * 2 * 2, dtype=np.float64).reshape(4, 1, 2, 2)
    means = source_means(lambda b: np.asarray(b), x, ["b", "a", "b", "a"])
    assert list(means) == ["a", "b"]
    np.testing.assert_allclose(means["a"], (x[1] + x[3]) / 2)
    images, labels = synthetic_sources(10)
    fps = signal_fingerprints(images_to_float(images), labels)
    assert set(fps) == {"residual", "fft", "dct"}
    assert all(m.shape == (1, 16, 16) for row in fps.values() for m in row.values())


def test_plot_source_maps(tmp_path):
    images, labels = synthetic_sources(10)
    plot_source_maps(signal_fingerprints(images_to_float(images), labels), "fingerprints", tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 2000


def test_correlation_attributor_fit_save_load(tmp_path):
    from ganprint.attribution.attributor import Preprocessing

    images, labels = synthetic_sources()
    model = ResidualCorrelationAttributor(preprocessing=Preprocessing((16, 16), 1))
    model.fit(images[:80], labels[:80], images[80:100], labels[80:100])
    assert model.score(images[100:], labels[100:]) >= 0.95
    proba = model.predict_proba(images[100:])
    assert proba.shape == (20, 2) and np.allclose(proba.sum(1), 1)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m", device="cpu")
    assert isinstance(loaded, ResidualCorrelationAttributor)
    np.testing.assert_allclose(loaded.predict_proba(images[100:]), proba, atol=1e-12)
    assert (tmp_path / "m" / "fingerprints.safetensors").is_file()
    with pytest.raises(ValueError, match="expected images"):
        model.predict(np.zeros((2, 8, 8, 1), np.uint8))


def test_cli_train_eval_predict_residual_correlation(tmp_path):
    images, labels = synthetic_sources()
    root = tmp_path / "data"
    for i, (img, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / ("train", "train", "val", "test")[i % 4] / label
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[..., 0]).save(folder / f"{i:03d}.png")
    runner = CliRunner()
    r = runner.invoke(cli, ["train", "--data", str(root), "--out", str(tmp_path / "m"), "--arch",
                            "residual-correlation", "--size", "16", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["eval", "--model", str(tmp_path / "m"), "--data", str(root), "--json", "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["accuracy"] >= 0.9
    r = runner.invoke(cli, ["predict", "--model", str(tmp_path / "m"), str(root / "test" / "gan_a")])
    assert r.exit_code == 0, r.output
    assert all(json.loads(line)["label"] in ("gan_a", "gan_b", "unknown") for line in r.stdout.splitlines())
    r = runner.invoke(cli, ["robustness", "--model", str(tmp_path / "m"), "--data", str(root), "--json", "-q",
                            "--perturb", "blur=1"])
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.stdout)["perturbations"]["blur"]) == {"1"}
