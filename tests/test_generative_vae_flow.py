"""The VAE (``conv-vae``) and normalising-flow (``realnvp``) families through the public generative API."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ganprint.data.mnist import load_mnist_5k
from ganprint.generative.config import GenerativeTrainConfig
from ganprint.generative.registry import create_generative
from ganprint.generative.sampling import load_generative, sample_images
from ganprint.generative.trainer import GenerativeTrainer

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {
    "conv-vae": {"latent_dim": 4, "width": 8, "prior_components": 0},
    "conv-vae-mixture": {"latent_dim": 4, "width": 8, "prior_components": 3},
    "realnvp": {"hidden": 8, "blocks": 1, "scales": 2},
}
ARCHS = ("conv-vae", "conv-vae-mixture", "realnvp")


def tiny(key: str, **over) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_generative(key.removesuffix("-mixture"), **{**TINY[key], **over})


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_mnist_5k().images[:96]


@pytest.mark.parametrize("key", ARCHS)
def test_registered_and_rebuilt_from_stored_options(key):
    model = tiny(key)
    assert model.family == ("flow" if key == "realnvp" else "vae") and model.image_shape == (1, 28, 28)
    again = create_generative(key.removesuffix("-mixture"), **json.loads(json.dumps(model.options)))
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="likelihood"):
        create_generative("conv-vae", likelihood="poisson")
    with pytest.raises(ValueError, match="channels"):
        create_generative("conv-vae", channels=2)
    with pytest.raises(ValueError, match="divisible"):
        create_generative("realnvp", size=28, scales=4)


@pytest.mark.parametrize("key", ARCHS)
def test_loss_is_finite_and_falls_on_real_digits(key, digits):
    model = tiny(key).train()
    x = torch.from_numpy(digits[:32]).float()[:, None] / 255

    def fixed_loss() -> float:
        with torch.no_grad():
            return float(model.loss(x, torch.Generator().manual_seed(123)))

    before = fixed_loss()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(15):
        loss = model.loss(x, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = fixed_loss()
    assert math.isfinite(before) and math.isfinite(after)
    assert after < before - (0.05 if key == "realnvp" else 5.0)  # bits/dim for the flow, nats/image for the VAE


@pytest.mark.parametrize("key", ARCHS)
def test_shapes_grey_28_and_colour_32(key):
    cases = [(1, 28, {}), (3, 32, {})] + ([] if key == "realnvp" else [(3, 32, {"likelihood": "gaussian"})])
    for channels, size, extra in cases:
        model = tiny(key, channels=channels, size=size, **extra).train()
        x = torch.rand(5, channels, size, size)
        loss = model.loss(x, torch.Generator().manual_seed(0))
        assert loss.shape == () and torch.isfinite(loss)
        loss.backward()
        out = model.eval().sample(3, torch.Generator().manual_seed(0))
        assert out.shape == (3, channels, size, size) and 0 <= float(out.min()) and float(out.max()) <= 1


@pytest.mark.parametrize("key", ARCHS)
def test_temperature_changes_samples_and_unknown_setting_is_an_error(key):
    model = tiny(key).eval()
    with torch.no_grad():
        for p in model.parameters():  # away from the identity / zero start
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    a = sample_images(model, 8, seed=3, temperature=1.0)
    b = sample_images(model, 8, seed=3, temperature=0.5)
    assert not np.array_equal(a, b)
    assert np.array_equal(a, sample_images(model, 8, seed=3, temperature=1.0))
    with pytest.raises(ValueError, match="sampler settings"):
        sample_images(model, 2, seed=0, sampler="ddim")


@pytest.mark.parametrize("key", ARCHS)
def test_trainer_writes_a_folder_that_samples_deterministically(key, digits, tmp_path):
    cfg = GenerativeTrainConfig(arch=key.removesuffix("-mixture"), arch_options=TINY[key], steps=6, batch_size=16,
                                lr=1e-3, seed=1)
    GenerativeTrainer(cfg, tmp_path / "m").fit(digits, progress=False)
    model, config = load_generative(tmp_path / "m")
    assert config["status"] == "finished" and config["family"] == model.family
    first = sample_images(model, 5, seed=11)
    assert first.shape == (5, 28, 28, 1) and first.dtype == np.uint8
    assert np.array_equal(sample_images(model, 3, seed=11, start_index=2), first[2:])  # index i is always image i
    assert not np.array_equal(sample_images(model, 5, seed=12), first)


def _perturbed_flow(**options) -> torch.nn.Module:
    model = create_generative("realnvp", **options)
    model.train().loss(torch.rand(8, *model.image_shape), torch.Generator().manual_seed(0))  # actnorm's init
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return model.eval().double()


def test_flow_is_exactly_invertible_on_digits(digits):
    torch.manual_seed(0)
    model = _perturbed_flow(hidden=16, blocks=2, scales=3)
    x = torch.from_numpy(digits[:8]).double()[:, None] / 256 + 1 / 512  # dequantised pixels
    with torch.no_grad():
        z, _ = model.encode(x)
        assert z.shape == (8, 28 * 28)
        assert float((model.decode(z) - x).abs().max()) < 1e-4
        y = model.to_logit(x)[0]
        assert float((model.inverse_flow(model.forward_flow(y)[0]) - y).abs().max()) < 1e-4


@pytest.mark.parametrize("actnorm", [True, False])
def test_flow_log_determinant_matches_the_brute_force_jacobian(actnorm):
    torch.manual_seed(0)
    model = _perturbed_flow(channels=1, size=4, hidden=4, blocks=2, scales=2, actnorm=actnorm)
    x = torch.rand(1, 1, 4, 4, dtype=torch.float64) * 0.9 + 0.05
    with torch.no_grad():
        _, logdet = model.encode(x)
    jac = torch.autograd.functional.jacobian(lambda v: model.encode(v.view(1, 1, 4, 4))[0][0], x.flatten())
    assert jac.shape == (16, 16)
    assert float(logdet[0]) == pytest.approx(float(torch.linalg.slogdet(jac)[1]), abs=1e-6)
