"""Verification by inversion (seed 000 §3.3): the seed's inverse model, latent search, threshold, CLI."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganprint.cli.main import cli
from ganprint.gans.config import GanTrainConfig
from ganprint.gans.sampling import load_generator, sample_to_folder
from ganprint.gans.trainer import GanTrainer
from ganprint.inversion import (
    FitInverterConfig,
    InverseModel,
    InverterTrainConfig,
    LatentSearchConfig,
    Verifier,
    choose_threshold,
    cosine_proximity,
    fit_verifier,
    l2_distance,
    search_latents,
    verification_metrics,
)


def test_inverse_model_matches_the_seed_table():
    model = InverseModel((3, 32, 32), 100)
    assert sum(p.numel() for p in model.parameters()) == 912_548
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 100)


def test_choose_threshold_separates_and_sits_in_the_widest_gap():
    pos, neg = np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0])
    t = choose_threshold(pos, neg)
    assert t == pytest.approx(0.65)
    m = verification_metrics(pos, neg, t)
    assert m["accuracy"] == 1.0 and m["auc"] == 1.0 and m["tpr"] == 1.0 and m["tnr"] == 1.0


def test_choose_threshold_with_overlap_maximises_balanced_accuracy():
    pos, neg = np.array([0.1, 0.2, 0.9]), np.array([0.5, 1.0, 2.0])
    t = choose_threshold(pos, neg)
    m = verification_metrics(pos, neg, t)
    assert m["balanced_accuracy"] == pytest.approx(5 / 6)
    assert 0 < m["auc"] < 1
    with pytest.raises(ValueError):
        choose_threshold(pos, np.array([]))


def test_cosine_proximity():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert cosine_proximity(a, a * 3) == pytest.approx(1.0)
    assert cosine_proximity(a, -a) == pytest.approx(-1.0)


@pytest.fixture(scope="module")
def tiny_gan(tmp_path_factory):
    """A small cifar-gan1 trained a few steps on a few colored images."""
    rng = np.random.default_rng(0)
    base = np.repeat(rng.integers(0, 256, size=(4, 1, 1, 3)), 8, axis=0)
    data = np.clip(base + rng.integers(-15, 16, size=(32, 32, 32, 3)), 0, 255).astype(np.uint8)
    cfg = GanTrainConfig(arch="cifar-gan1", arch_options={"width": 0.0625, "disc_width": 0.125},
                         steps=3, batch_size=8, seed=0)
    return GanTrainer(cfg, tmp_path_factory.mktemp("gan") / "gan").fit(data, progress=False)


def test_latent_search_lowers_the_distance_and_batching_changes_nothing(tiny_gan):
    G, _ = load_generator(tiny_gan)
    gen = torch.Generator().manual_seed(0)
    z_true = torch.randn(6, 100, generator=gen)
    with torch.no_grad():
        x = G(z_true)
    z0 = torch.randn(6, 100, generator=gen)
    _, d0 = search_latents(G, x, z0, LatentSearchConfig(steps=0, precision="fp32"))
    _, d_all = search_latents(G, x, z0, LatentSearchConfig(steps=10, batch_size=6, precision="fp32"))
    _, d_split = search_latents(G, x, z0, LatentSearchConfig(steps=10, batch_size=2, precision="fp32"))
    assert (d_all < d0).all()
    np.testing.assert_allclose(d_all, d_split, rtol=1e-4, atol=1e-6)
    assert all(p.requires_grad for p in G.parameters())  # restored
    # under bf16 autocast the search still descends, and reports the float32 distance of its latents
    z16, d16 = search_latents(G, x, z0, LatentSearchConfig(steps=10, precision="bf16"))
    assert (d16 < d0).all()
    with torch.no_grad():
        np.testing.assert_allclose(d16, l2_distance(G(z16), x).numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="precision"):
        LatentSearchConfig(precision="fp16")


def _noise_images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


FAST = FitInverterConfig(train=InverterTrainConfig(n_pairs=128, n_holdout=32, epochs=1, batch_size=64),
                         search=LatentSearchConfig(steps=3), n_validation=8)


def test_own_samples_are_closer_than_noise_images(tiny_gan, tmp_path):
    info = fit_verifier(tiny_gan, _noise_images(16, 1), FAST, progress=False)
    assert (tiny_gan / "inverter" / "model.safetensors").is_file()
    assert info["validation"]["accuracy"] == 1.0 and -1 <= info["cosine"] <= 1
    verifier = Verifier.load(tiny_gan)
    own = np.stack([np.asarray(Image.open(p)) for p in
                    sorted(sample_to_folder(tiny_gan, 8, tmp_path / "own", seed=5, progress=False).glob("*.png"))])
    match_own, d_own = verifier.verify(own)
    match_noise, d_noise = verifier.verify(_noise_images(8, 2))
    assert d_own.max() < d_noise.min()
    assert match_own.all() and not match_noise.any()


def test_fit_inverter_and_verify_cli_end_to_end(tiny_gan, tmp_path):
    runner = CliRunner()
    neg = tmp_path / "neg"
    neg.mkdir()
    for i, img in enumerate(_noise_images(8, 3)):
        Image.fromarray(img).save(neg / f"{i}.png")
    r = runner.invoke(cli, ["gan", "fit-inverter", "--gan", str(tiny_gan), "--negatives", str(neg), "--n", "128",
                            "--epochs", "1", "--search-steps", "3", "--n-validation", "8", "--device", "cpu",
                            "--quiet"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output.strip().splitlines()[-1])
    assert {"threshold", "cosine", "validation"} <= set(summary)
    config = json.loads((tiny_gan / "inverter" / "config.json").read_text())
    assert config["threshold"] == summary["threshold"]

    check = tmp_path / "check"
    sample_to_folder(tiny_gan, 4, check / "own", seed=9, progress=False)
    for i, img in enumerate(_noise_images(3, 4)):
        Image.fromarray(img).save(check / f"noise{i}.png")
    (check / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    r = runner.invoke(cli, ["verify", "--generator", str(tiny_gan), str(check), "--device", "cpu"])
    assert r.exit_code == 1  # one file failed
    records = [json.loads(line) for line in r.stdout.strip().splitlines()]
    assert len(records) == 8
    by_name = {rec["path"].rsplit("/", 1)[-1]: rec for rec in records}
    assert set(by_name["broken.png"]) == {"path", "error"}
    for name, rec in by_name.items():
        if name == "broken.png":
            continue
        assert set(rec) == {"path", "match", "distance", "threshold"}
        assert rec["match"] is name.startswith("0")  # own samples are NNNNNN.png
        assert rec["threshold"] == summary["threshold"]


def test_verify_refuses_a_gan_without_inverter_or_a_changed_generator(tiny_gan, tmp_path):
    import shutil

    other = tmp_path / "copy"
    shutil.copytree(tiny_gan, other)
    shutil.rmtree(other / "inverter", ignore_errors=True)
    r = CliRunner().invoke(cli, ["verify", "--generator", str(other), str(tmp_path)])
    assert r.exit_code == 2 and "fit-inverter" in r.output
    if not (tiny_gan / "inverter").is_dir():
        fit_verifier(tiny_gan, _noise_images(8, 1), FAST, progress=False)
    shutil.copytree(tiny_gan / "inverter", other / "inverter")
    G, _ = load_generator(other)
    from ganprint.serialization import save_tensors

    save_tensors(other / "generator.safetensors", {k: v + 1e-3 for k, v in G.state_dict().items()})
    with pytest.raises(ValueError, match="changed"):
        Verifier.load(other)


class _LinearGenerator(torch.nn.Module):
    """x = 0.5 + W z on 3x4x4 images; ``scale`` sets the gain of each latent direction."""

    def __init__(self, scale):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(48, len(scale), generator=torch.Generator().manual_seed(0)))
        self.fc = torch.nn.Linear(len(scale), 48)
        with torch.no_grad():
            self.fc.weight.copy_(q * torch.as_tensor(scale, dtype=torch.float32))
            self.fc.bias.fill_(0.5)

    def forward(self, z):
        return self.fc(z).view(-1, 3, 4, 4)


def test_identifiability_sees_latent_directions_the_generator_ignores():
    from ganprint.inversion.identifiability import ROUNDING_STD, identifiability_report, jacobian_singular_values

    strong = _LinearGenerator([0.05] * 10)
    sv = jacobian_singular_values(strong, torch.randn(2, 10))
    np.testing.assert_allclose(sv, 0.05, rtol=1e-4)
    full = identifiability_report(strong, 10, n=2)
    assert full["directions_above_rounding_noise"] == 10 and full["cosine_ceiling"] > 0.99
    half = identifiability_report(_LinearGenerator([0.05] * 5 + [ROUNDING_STD / 100] * 5), 10, n=2)
    assert half["directions_above_rounding_noise"] == 5
    assert abs(half["cosine_ceiling"] - np.sqrt(0.5)) < 0.05  # half the latent's energy is invisible
