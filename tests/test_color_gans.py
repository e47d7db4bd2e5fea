"""The color GANs of seed 000 §3.2: exact layer tables, shapes, training, resume and sampling on RGB data."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganprint.cli.main import cli
from ganprint.gans import create_gan
from ganprint.gans.cifar_dcgan import keras_parameter_count
from ganprint.gans.config import GanTrainConfig
from ganprint.gans.sampling import load_generator, sample_to_folder
from ganprint.gans.trainer import GanTrainer
from ganprint.serialization import load_tensors

# (generator, discriminator) as the seed's Keras tables count them, and PyTorch's trainable count
SEED_COUNTS = {
    "cifar-gan1": ((1_466_115, 522_497), (1_466_115, 522_497)),
    "cifar-gan2": ((1_051_267, 396_609), (1_050_883, 395_713)),  # 384 / 896 BN moving statistics
}


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name", sorted(SEED_COUNTS))
def test_parameter_counts_match_the_seed_tables(name):
    spec = create_gan(name)
    (keras_g, keras_d), (torch_g, torch_d) = SEED_COUNTS[name]
    assert keras_parameter_count(spec.generator) == keras_g
    assert keras_parameter_count(spec.discriminator) == keras_d
    assert n_params(spec.generator) == torch_g
    assert n_params(spec.discriminator) == torch_d
    assert spec.image_shape == (3, 32, 32) and spec.latent_dim == 100


@pytest.mark.parametrize("name", sorted(SEED_COUNTS))
def test_outputs_are_rgb_images_in_unit_range(name):
    spec = create_gan(name)
    spec.generator.eval()
    spec.discriminator.eval()
    with torch.no_grad():
        x = spec.generator(torch.randn(5, 100) * 3)
        logits = spec.discriminator(x)
    assert x.shape == (5, 3, 32, 32)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert logits.shape == (5, 1)


def test_gan2_discriminator_intermediate_shapes_follow_the_table():
    D = create_gan("cifar-gan2").discriminator.eval()
    shapes = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: shapes.append(tuple(o.shape[1:])))
             for m in D.features if isinstance(m, torch.nn.BatchNorm2d)]
    D(torch.rand(2, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert shapes == [(64, 9, 9), (128, 5, 5), (256, 5, 5)]


@pytest.fixture(scope="module")
def tiny_rgb():
    rng = np.random.default_rng(0)
    base = np.repeat(rng.integers(0, 256, size=(4, 1, 1, 3)), 12, axis=0)  # 4 colors, 12 images each
    return np.clip(base + rng.integers(-20, 21, size=(48, 32, 32, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", sorted(SEED_COUNTS))
def test_trains_resumes_and_samples_on_rgb_data(tmp_path, tiny_rgb, name):
    cfg = GanTrainConfig(arch=name, arch_options={"width": 0.0625, "disc_width": 0.125}, steps=5, batch_size=4,
                         checkpoint_every=2, seed=1)
    full = GanTrainer(cfg, tmp_path / "full").fit(tiny_rgb, progress=False)

    class Killed(Exception):
        pass

    def kill_at_3(step):
        if step == 3:
            raise Killed

    with pytest.raises(Killed):
        GanTrainer(cfg, tmp_path / "resumed").fit(tiny_rgb, progress=False, on_step=kill_at_3)
    resumed = GanTrainer(cfg, tmp_path / "resumed").fit(tiny_rgb, progress=False)
    a, b = load_tensors(full / "generator.safetensors"), load_tensors(resumed / "generator.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    G, config = load_generator(full)
    assert config["image_shape"] == [3, 32, 32]
    assert G(torch.zeros(1, 100)).shape == (1, 3, 32, 32)
    files = sorted(sample_to_folder(full, 3, tmp_path / "samples", progress=False).glob("*.png"))
    assert len(files) == 3
    with Image.open(files[0]) as img:
        assert img.mode == "RGB" and img.size == (32, 32)


def test_cli_trains_a_color_gan_on_the_bundled_photos(tmp_path):
    runner = CliRunner()
    out = tmp_path / "gan"
    r = runner.invoke(cli, ["gan", "train", "--arch", "cifar-gan2", "--source", "photos", "--n-real", "32",
                            "--out", str(out), "--steps", "2", "--batch-size", "4", "--width", "0.0625",
                            "--device", "cpu", "--quiet"])
    assert r.exit_code == 0, r.output
    assert (out / "generator.safetensors").is_file()
    r = runner.invoke(cli, ["gan", "sample", "--gan", str(out), "--n", "2", "--out", str(tmp_path / "s"),
                            "--device", "cpu", "--quiet"])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "s").glob("*.png"))) == 2


def test_cli_needs_exactly_one_data_source(tmp_path):
    r = CliRunner().invoke(cli, ["gan", "train", "--arch", "cifar-gan1", "--out", str(tmp_path / "g")])
    assert r.exit_code == 2 and "exactly one" in r.output
