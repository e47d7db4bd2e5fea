"""`ganprint gan` / `ganprint generator` with the non-GAN families: list, train on a named source or a
folder (bad files reported, not fatal), sample deterministically with sampler settings, and the
options that only apply to GANs refused."""

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganprint.cli.main import cli
from ganprint.data.mnist import load_mnist_5k
from ganprint.serialization import read_json

VAE = ["--arch", "conv-vae", "--arch-option", "width=8", "--arch-option", "latent_dim=4", "--steps", "3",
       "--batch-size", "16", "-q"]


def _ok(args):
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return res


def _fails(args, *needles):
    res = CliRunner().invoke(cli, args)
    assert res.exit_code != 0
    for needle in needles:
        assert needle in res.output, res.output
    return res


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "vae"
    _ok(["generator", "train", "--real-source", "mnist5k", "--out", str(out), *VAE])
    return out


def test_list_shows_every_family():
    out = _ok(["gan", "list"]).output
    for name, family in (("mnist-dcgan", "gan"), ("ddpm-unet", "diffusion"), ("conv-vae", "vae"),
                         ("realnvp", "flow")):
        line = next(x for x in out.splitlines() if f" {name} " in x)
        assert f" {family} " in line


def test_train_takes_the_generative_defaults(vae_dir):
    cfg = read_json(vae_dir / "config.json")
    assert cfg["kind"] == "ganprint-generative" and cfg["status"] == "finished" and cfg["family"] == "vae"
    assert cfg["steps"] == 3 and cfg["train"]["batch_size"] == 16
    assert cfg["train"]["beta1"] == 0.9  # the generative config's default, not the GAN's 0.5
    assert cfg["arch_options"]["channels"] == 1 and cfg["arch_options"]["size"] == 28
    assert (vae_dir / "model.safetensors").is_file() and not (vae_dir / "checkpoint").exists()


def test_sample_is_deterministic_per_index(vae_dir, tmp_path):
    _ok(["gan", "sample", "--gan", str(vae_dir), "--n", "5", "--out", str(tmp_path / "a"), "--temperature", "0.5",
         "-q"])
    _ok(["gan", "sample", "--gan", str(vae_dir), "--n", "3", "--start", "2", "--out", str(tmp_path / "b"),
         "--temperature", "0.5", "-q"])
    _ok(["gan", "sample", "--gan", str(vae_dir), "--n", "5", "--out", str(tmp_path / "c"), "-q"])
    read = lambda p: np.asarray(Image.open(p))  # noqa: E731
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [f"{i:06d}.png" for i in range(5)]
    for i in range(2, 5):
        assert np.array_equal(read(tmp_path / "a" / f"{i:06d}.png"), read(tmp_path / "b" / f"{i:06d}.png"))
    assert not all(np.array_equal(read(tmp_path / "a" / f"{i:06d}.png"), read(tmp_path / "c" / f"{i:06d}.png"))
                   for i in range(5))  # another temperature, other images


def test_sampler_settings_a_model_lacks_are_refused(vae_dir, tmp_path):
    _fails(["gan", "sample", "--gan", str(vae_dir), "--n", "2", "--out", str(tmp_path / "x"), "--sampler", "ddim"],
           "sampler")


def test_gan_only_options_are_refused(tmp_path):
    _fails(["gan", "train", "--real-source", "mnist5k", "--out", str(tmp_path / "v"), *VAE, "--n-critic", "2"],
           "--n-critic", "only apply to GANs")
    assert not (tmp_path / "v").exists()


def test_trains_on_a_folder_with_a_broken_file(tmp_path):
    digits = load_mnist_5k()
    data = tmp_path / "data"
    data.mkdir()
    for i in range(24):
        Image.fromarray(digits.images[i]).save(data / f"{i:03d}.png")
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    res = _ok(["gan", "train", "--data", str(data), "--out", str(tmp_path / "vae"), *VAE])
    assert "broken.png" in res.output
    assert read_json(tmp_path / "vae" / "config.json")["data"]["n_images"] == 24


def test_sampler_options_are_refused_for_a_gan(tmp_path):
    gan = tmp_path / "gan"
    _ok(["gan", "train", "--real-source", "mnist5k", "--out", str(gan), "--steps", "1", "--batch-size", "8",
         "--width", "0.125", "-q"])
    _fails(["gan", "sample", "--gan", str(gan), "--n", "2", "--out", str(tmp_path / "s"), "--temperature", "0.7"],
           "--temperature")


def test_quality_of_a_digit_model(vae_dir, tmp_path):
    res = _ok(["gan", "quality", "--gan", str(vae_dir), "--n", "60", "--judge-epochs", "1",
               "--cache-dir", str(tmp_path / "cache"), "-q"])
    import json

    figures = json.loads(res.output.strip().splitlines()[-1])
    assert figures["kind"] == "digits" and figures["source"] == "mnist5k" and figures["samples"] == 60
    for key in ("judge_recognised", "knn_precision", "knn_recall", "real_knn_recall"):
        assert 0 <= figures[key] <= 1
    assert figures["real_knn_recall"] > figures["knn_recall"]  # three training steps draw no digits
    assert (tmp_path / "cache" / "judge-mnist5k-0-1" / "config.json").is_file()
    _fails(["gan", "quality", "--gan", str(vae_dir), "--real-source", "photos", "--n", "20",
            "--cache-dir", str(tmp_path / "cache")], "32x32 colour")
