"""The denoising-diffusion family (ganprint.generative.diffusion) through the public generative API."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganprint.data.mnist import load_mnist_5k
from ganprint.generative.config import GenerativeTrainConfig
from ganprint.generative.registry import create_generative
from ganprint.generative.sampling import load_generative, sample_images
from ganprint.generative.trainer import GenerativeTrainer
from ganprint.serialization import load_tensors

TINY = {"block_out_channels": (8, 16), "layers_per_block": 1, "norm_num_groups": 4, "num_train_timesteps": 20}


def tiny(**over) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_generative("ddpm-unet", **{**TINY, **over}).eval()


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_mnist_5k().images[:128]


def test_model_is_registered_and_rebuilt_from_its_options():
    model = tiny(beta_schedule="squaredcos_cap_v2")
    assert model.family == "diffusion" and model.image_shape == (1, 28, 28)
    options = json.loads(json.dumps(model.options))  # what a model folder stores
    again = create_generative("ddpm-unet", **options)
    assert again.options == model.options
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="beta_schedule"):
        tiny(beta_schedule="quadratic")
    with pytest.raises(ValueError, match="norm_num_groups"):
        tiny(norm_num_groups=3)
    with pytest.raises(ValueError, match="channels"):
        tiny(channels=2)


def test_loss_is_finite_and_falls_on_real_digits(digits):
    model = tiny().train()
    x = torch.from_numpy(digits[:32]).float()[:, None] / 255

    def fixed_loss() -> float:
        with torch.no_grad():
            return float(model.loss(x, torch.Generator().manual_seed(123)))

    before = fixed_loss()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(15):
        loss = model.loss(x, gen)
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert fixed_loss() < 0.7 * before


def test_every_draw_comes_from_the_given_generator():
    model = tiny()
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    outs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        outs.append((model.loss(x, torch.Generator().manual_seed(5)).item(),
                     model.sample(3, torch.Generator().manual_seed(5), steps=4),
                     model.sample(3, torch.Generator().manual_seed(5), sampler="ddim", steps=4, eta=1.0)))
    assert outs[0][0] == outs[1][0]
    assert torch.equal(outs[0][1], outs[1][1]) and torch.equal(outs[0][2], outs[1][2])


def test_trainer_resumes_exactly(tmp_path, digits):
    config = GenerativeTrainConfig(arch="ddpm-unet", arch_options=TINY, steps=6, batch_size=16, lr=1e-3,
                                   warmup_steps=2, ema=0.9, checkpoint_every=3, seed=3)
    GenerativeTrainer(config, tmp_path / "full").fit(digits, progress=False)

    class Interrupt(Exception):
        pass

    def stop_after_checkpoint(step: int) -> None:
        if step == 4:
            raise Interrupt

    resumed = GenerativeTrainer(config, tmp_path / "resumed")
    with pytest.raises(Interrupt):
        resumed.fit(digits, progress=False, on_step=stop_after_checkpoint)
    assert (tmp_path / "resumed" / "checkpoint" / "state.json").is_file()
    resumed.fit(digits, progress=False)
    full = load_tensors(tmp_path / "full" / "model.safetensors")
    again = load_tensors(tmp_path / "resumed" / "model.safetensors")
    assert full.keys() == again.keys()
    assert all(torch.equal(full[k], again[k]) for k in full)
    model, cfg = load_generative(tmp_path / "resumed")
    assert cfg["family"] == "diffusion"
    assert model.sample(2, torch.Generator().manual_seed(0), steps=2).shape == (2, 1, 28, 28)


def test_samples_are_deterministic_per_seed_and_index():
    model = tiny()
    whole = sample_images(model, 103, seed=4, steps=3)
    assert whole.shape == (103, 28, 28, 1) and whole.dtype == np.uint8
    np.testing.assert_array_equal(sample_images(model, 5, seed=4, start_index=98, steps=3), whole[98:103])
    np.testing.assert_array_equal(sample_images(model, 3, seed=4, steps=3), whole[:3])
    assert not np.array_equal(sample_images(model, 3, seed=5, steps=3), whole[:3])


def test_ddpm_and_ddim_are_two_sources_of_one_model():
    model = tiny()

    def draw(**sampler) -> torch.Tensor:
        return model.sample(4, torch.Generator().manual_seed(0), **sampler)

    ddpm, ddim = draw(sampler="ddpm", steps=5), draw(sampler="ddim", steps=5)
    assert not torch.equal(ddpm, ddim)
    assert torch.equal(ddim, draw(sampler="ddim", steps=5))
    assert not torch.equal(ddim, draw(sampler="ddim", steps=5, eta=1.0))  # eta > 0 draws noise per step
    assert draw().shape == (4, 1, 28, 28)  # the defaults: DDPM over every training timestep


def test_bad_sampler_settings_are_value_errors():
    model = tiny()
    with pytest.raises(ValueError, match="sampler"):
        sample_images(model, 2, sampler="euler")
    with pytest.raises(ValueError, match="temperature"):
        sample_images(model, 2, temperature=0.7)
    with pytest.raises(ValueError, match="steps"):
        model.sample(2, torch.Generator(), steps=21)


def test_colour_32_and_sizes_the_levels_do_not_divide():
    colour = tiny(channels=3, size=32)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(colour.loss(x, torch.Generator().manual_seed(0)))
    out = colour.sample(2, torch.Generator().manual_seed(0), sampler="ddim", steps=3)
    assert out.shape == (2, 3, 32, 32) and 0 <= out.min() and out.max() <= 1
    assert tiny(block_out_channels=(8, 16, 16)).inner_size == 28  # 28 -> 14 -> 7, no padding
    padded = tiny(block_out_channels=(8, 8, 16, 16))  # 28 -> 14 -> 7 -> 4 would not come back to 28
    assert padded.inner_size == 32
    assert padded.sample(2, torch.Generator().manual_seed(0), steps=2).shape == (2, 1, 28, 28)
