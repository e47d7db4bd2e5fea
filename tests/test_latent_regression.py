"""The trainer's latent-regression encoder (InfoGAN-style, for verification by inversion) and
precise batch-norm statistics, with exact resume."""

import numpy as np
import pytest
import torch
from torch import nn

from ganprint.data.mnist import load_mnist_5k
from ganprint.gans.batch_norm import recalibrate_batch_norm
from ganprint.gans.config import GanTrainConfig
from ganprint.gans.sampling import load_generator
from ganprint.gans.trainer import ENCODER_FILE, GanTrainer
from ganprint.inversion import FitInverterConfig, InverseModel, InverterTrainConfig, LatentSearchConfig, fit_verifier
from ganprint.inversion.training import cosine_proximity, predict_latents, sample_pairs
from ganprint.serialization import load_tensors


@pytest.fixture(scope="module")
def digits():
    return load_mnist_5k().subset([0, 1, 7]).images[:600]


def _cfg(**kw):
    base = dict(arch="mnist-dcgan", arch_options={"width": 0.125, "norm": "batch"}, steps=80, batch_size=32,
                lr=1e-3, checkpoint_every=15, seed=1, latent_regression=1.0, precise_bn=True, ema=0.9)
    base.update(kw)
    return GanTrainConfig(**base)


@pytest.fixture(scope="module")
def lr_gan(tmp_path_factory, digits):
    """A small MNIST GAN trained 80 steps with the latent-regression encoder."""
    return GanTrainer(_cfg(), tmp_path_factory.mktemp("lr") / "gan").fit(digits, progress=False)


def _encoder(gan_dir):
    E = InverseModel((1, 28, 28), 100)
    E.load_state_dict(load_tensors(gan_dir / ENCODER_FILE))
    return E.eval()


def test_the_encoder_learns_the_latents_and_a_plain_gan_leaves_none(tmp_path, digits, lr_gan):
    G, _ = load_generator(lr_gan)
    z, x = sample_pairs(G, 400, 100, seed=9)
    assert cosine_proximity(predict_latents(_encoder(lr_gan), x), z) > 0.15  # measured 0.23
    fresh = InverseModel((1, 28, 28), 100)
    assert abs(cosine_proximity(predict_latents(fresh, x), z)) < 0.2
    plain = GanTrainer(_cfg(latent_regression=0.0, steps=3), tmp_path / "plain").fit(digits, progress=False)
    assert not (plain / ENCODER_FILE).exists()


def test_latent_regression_training_resumes_exactly(tmp_path, digits):
    class Killed(Exception):
        pass

    def kill(step):
        if step == 12:
            raise Killed

    monitor = lambda G, step: -float(G(torch.zeros(1, 100)).mean())  # noqa: E731 - deterministic score
    cfg = _cfg(steps=24, checkpoint_every=5)
    full = GanTrainer(cfg, tmp_path / "full").fit(digits, progress=False, monitor=monitor, check_every=8)
    with pytest.raises(Killed):
        GanTrainer(cfg, tmp_path / "resumed").fit(digits, progress=False, on_step=kill, monitor=monitor,
                                                  check_every=8)
    resumed = GanTrainer(cfg, tmp_path / "resumed").fit(digits, progress=False, monitor=monitor, check_every=8)
    for name in ("generator.safetensors", ENCODER_FILE):
        a, b = load_tensors(full / name), load_tensors(resumed / name)
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_fit_inverter_starts_from_the_gans_encoder(lr_gan):
    gan = lr_gan
    negatives = np.random.default_rng(0).integers(0, 256, (16, 28, 28, 1), dtype=np.uint8)
    fast = dict(n_pairs=256, n_holdout=200, epochs=1, batch_size=64)
    cfg = FitInverterConfig(train=InverterTrainConfig(**fast), search=LatentSearchConfig(steps=2), n_validation=8)
    warm = fit_verifier(gan, negatives, cfg, progress=False)
    cold_cfg = FitInverterConfig(train=InverterTrainConfig(**fast, warm_start=False),
                                 search=LatentSearchConfig(steps=2), n_validation=8)
    cold = fit_verifier(gan, negatives, cold_cfg, progress=False)
    assert warm["warm_started"] and not cold["warm_started"]
    assert warm["cosine"] > cold["cosine"] + 0.1  # measured 0.25 and 0.04


def test_recalibrated_statistics_are_exact_averages_and_depend_on_the_weights_only():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    G.eval()
    bn = G[1]
    bn.running_mean.fill_(5.0)  # stale statistics, as after a weight EMA
    recalibrate_batch_norm(G, 8, seed=3, batches=4, batch_size=16)
    assert not G.training
    gen = torch.Generator().manual_seed(3)
    h = torch.cat([G[0](torch.randn(16, 8, generator=gen)) for _ in range(4)])
    torch.testing.assert_close(bn.running_mean, h.mean(0))
    first = bn.running_var.clone()
    bn.running_var.fill_(9.0)
    recalibrate_batch_norm(G, 8, seed=3, batches=4, batch_size=16)
    torch.testing.assert_close(bn.running_var, first, rtol=0, atol=0)
    plain = nn.Linear(8, 4)
    before = plain.weight.clone()
    recalibrate_batch_norm(plain, 8, seed=3)  # nothing to do
    torch.testing.assert_close(plain.weight, before, rtol=0, atol=0)


def test_config_refuses_bad_values():
    with pytest.raises(ValueError, match="latent_regression"):
        GanTrainConfig(latent_regression=-1.0)
    with pytest.raises(ValueError, match="encoder_lr"):
        GanTrainConfig(encoder_lr=0.0)


def test_learning_rate_decays_linearly_from_its_start_to_zero():
    cfg = GanTrainConfig(lr_decay_start=0.5)
    factors = [cfg.lr_factor(step, 100) for step in range(100)]
    assert factors[:50] == [1.0] * 50
    assert all(a > b for a, b in zip(factors[50:], factors[51:], strict=False))
    assert factors[-1] == pytest.approx(0.02)
    assert GanTrainConfig().lr_factor(99, 100) == 1.0
    with pytest.raises(ValueError, match="lr_decay_start"):
        GanTrainConfig(lr_decay_start=1.0)
