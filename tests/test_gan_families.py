"""The four GAN families of seed 004 (ProGAN, SNGAN, Cramér GAN, MMD GAN) and their objectives."""

import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganprint.cli.main import cli
from ganprint.data.photos import load_color_source
from ganprint.gans import create_gan
from ganprint.gans.config import GanTrainConfig
from ganprint.gans.families import FAMILIES, QUICK_TRAIN, quick_train_kwargs
from ganprint.gans.objectives import (
    cramer_generator_loss,
    create_objective,
    gradient_penalty,
    mmd2_unbiased,
)
from ganprint.gans.progan import minibatch_stddev, progan_stage
from ganprint.gans.sampling import load_generator
from ganprint.gans.trainer import GanTrainer
from ganprint.serialization import load_tensors

SMALL = {"progan": {"width": 0.0625}, "sngan": {"width": 0.0625}, "cramergan": {"width": 0.0625, "features": 8},
         "mmdgan": {"width": 0.0625, "features": 8}}


@pytest.fixture(scope="module")
def crops():
    return load_color_source("photos", "train", n=64, seed=0)


# -- families --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FAMILIES)
def test_family_trains_one_objective_step_at_32(name):
    torch.manual_seed(0)
    spec = create_gan(name, **SMALL[name])
    objective = create_objective(spec.objective, **spec.objective_options)
    G, D = spec.generator, spec.discriminator
    real = torch.rand(4, 3, 32, 32)
    fakes = G(torch.randn(objective.n_fakes * 4, spec.latent_dim)).split(4)
    assert fakes[0].shape == (4, 3, 32, 32) and 0 <= fakes[0].min().item() and fakes[0].max().item() <= 1
    gen = torch.Generator().manual_seed(0)
    loss_d = objective.critic_loss(D, real, [f.detach() for f in fakes], joint=True, gp_weight=1.0, gen=gen)
    loss_d.backward()
    assert math.isfinite(loss_d.item())
    # (a grown ProGAN critic no longer uses the from-RGB layers of lower resolutions)
    used = [p.grad for n, p in D.named_parameters() if not n.startswith("from_rgb.") or n.startswith("from_rgb.3")]
    assert all(g is not None and torch.isfinite(g).all() for g in used)
    objective.generator_loss(D, real, fakes, joint=True).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("size", [64, 128])
def test_family_builds_at_larger_sizes(name, size):
    spec = create_gan(name, image_size=size, **SMALL[name])
    assert spec.image_shape == (3, size, size)
    with torch.no_grad():
        x = spec.generator(torch.randn(2, spec.latent_dim))
        assert x.shape == (2, 3, size, size)
        assert spec.discriminator(x).shape[0] == 2


def test_resize_conv_kernel_is_upsampling_then_a_3x3_convolution():
    """The transposed kernel computes exactly nearest 2x upsampling followed by the 3x3 kernel."""
    import torch.nn.functional as F

    from ganprint.gans.standard_cnn import resize_conv_kernel

    gen = torch.Generator().manual_seed(0)
    k3 = torch.randn(4, 5, 3, 3, generator=gen)
    x = torch.randn(2, 5, 8, 8, generator=gen)
    out = F.conv_transpose2d(x, resize_conv_kernel(k3), stride=2, padding=1)
    expected = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), k3, padding=1)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        resize_conv_kernel(torch.randn(4, 5, 4, 4))


@pytest.mark.parametrize("name", ["sngan", "cramergan", "mmdgan"])
def test_resize_init_starts_without_a_checkerboard(name):
    """On a flat input, the four output phases (the pixels at even/odd rows and columns) of the
    first transposed convolution are equal with ``resize_init`` and differ with PyTorch's random
    4x4 kernel: that difference is the checkerboard. The parameter count is the same."""
    def phase_spread(spec) -> float:
        conv = next(m for m in spec.generator.body if isinstance(m, torch.nn.ConvTranspose2d))
        x = torch.ones(1, conv.in_channels, 6, 6)  # a flat input: any phase difference is the checkerboard
        with torch.no_grad():
            y = conv(x)[..., 2:-2, 2:-2] - conv.bias[:, None, None]
        phases = torch.stack([y[..., i::2, j::2] for i in (0, 1) for j in (0, 1)])
        return float(phases.std(0).mean() / phases.abs().mean())

    torch.manual_seed(0)
    plain = create_gan(name, **SMALL[name])
    torch.manual_seed(0)
    resized = create_gan(name, resize_init=True, **SMALL[name])
    assert resized.options["resize_init"] is True
    assert phase_spread(resized) < 1e-5 < 0.05 < phase_spread(plain)
    def count(spec) -> int:
        return sum(p.numel() for p in spec.generator.parameters())

    assert count(resized) == count(plain)


def test_unsupported_image_size_is_refused():
    for name in FAMILIES:
        with pytest.raises(ValueError, match="image_size"):
            create_gan(name, image_size=48)


def test_family_objectives_are_the_papers():
    assert {n: create_gan(n, **SMALL[n]).objective for n in FAMILIES} == {
        "progan": "wgan-gp", "sngan": "hinge", "cramergan": "cramer-gp", "mmdgan": "mmd-gp"}
    spec = create_gan("sngan", **SMALL["sngan"])
    parametrized = [m for m in spec.discriminator.modules() if hasattr(m, "parametrizations")]
    assert len(parametrized) == 8  # every conv and the dense layer are spectrally normalised


def test_quick_defaults_are_valid_configs():
    for name in FAMILIES:
        cfg = GanTrainConfig(seed=1, **quick_train_kwargs(name))
        assert cfg.arch == name and create_gan(name, **cfg.arch_options).name == name
    quick_train_kwargs("progan")["arch_options"]["width"] = 99.0
    assert QUICK_TRAIN["progan"]["arch_options"]["width"] != 99.0


# -- ProGAN ----------------------------------------------------------------------------------------
def test_progan_schedule_grows_then_fades_linearly():
    total, levels = 1200, 4
    stages = [progan_stage(s, total, levels) for s in range(total)]
    assert stages[0] == (0, 1.0) and stages[-1] == (3, 1.0)
    assert [lv for lv, _ in stages] == sorted(lv for lv, _ in stages)  # never shrinks
    phase = total * 0.5 / 6  # 6 phases in the growing half: stable, fade, stable, fade, stable, fade
    assert progan_stage(int(phase * 1.5), total, levels) == (1, pytest.approx(0.5))
    assert progan_stage(int(phase * 5.25), total, levels) == (3, pytest.approx(0.25))
    assert progan_stage(int(phase * 6), total, levels) == (3, 1.0)
    assert progan_stage(5, 10, 1) == (0, 1.0)


def _blocky(x, block):
    """True when x is constant on block x block tiles (a nearest-upsampled lower resolution)."""
    low = x[..., ::block, ::block]
    return torch.equal(x, low.repeat_interleave(block, -2).repeat_interleave(block, -1))


def test_progan_output_has_the_stage_resolution():
    torch.manual_seed(0)
    spec = create_gan("progan", width=0.0625)
    G, D = spec.generator, spec.discriminator
    z = torch.randn(4, spec.latent_dim)
    with torch.no_grad():
        for level in range(4):
            G.set_stage(level, 1.0)
            D.set_stage(level, 1.0)
            x = G(z)
            assert x.shape == (4, 3, 32, 32)
            block = 32 // (4 * 2**level)
            assert _blocky(x, block) and not _blocky(x, 2 * block)
            assert D(x).shape == (4, 1)


def test_progan_fade_in_starts_from_the_previous_level():
    torch.manual_seed(1)
    spec = create_gan("progan", width=0.0625)
    G, D = spec.generator, spec.discriminator
    z, x = torch.randn(4, spec.latent_dim), torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        for level in range(1, 4):
            G.set_stage(level - 1, 1.0)
            D.set_stage(level - 1, 1.0)
            before_g, before_d = G(z), D(x)
            G.set_stage(level, 0.0)
            D.set_stage(level, 0.0)
            torch.testing.assert_close(G(z), before_g, rtol=0, atol=0)
            torch.testing.assert_close(D(x), before_d)
            assert torch.allclose(D.prepare_real(x), F_up(F_down(x, 32 // (4 * 2**(level - 1)))), atol=1e-6)
            G.set_stage(level, 0.5)
            assert not torch.equal(G(z), before_g)


def F_down(x, k):
    return torch.nn.functional.avg_pool2d(x, k)


def F_up(x, k=None):
    return torch.nn.functional.interpolate(x, size=(32, 32), mode="nearest")


def test_minibatch_stddev_groups_consecutive_samples():
    x = torch.cat([torch.zeros(4, 2, 3, 3), torch.arange(4.0).view(4, 1, 1, 1).expand(4, 2, 3, 3)])
    out = minibatch_stddev(x)
    assert out.shape == (8, 3, 3, 3)
    assert out[:4, 2].abs().max() < 1e-3  # the real-like group is constant
    torch.testing.assert_close(out[4:, 2], torch.full((4, 3, 3), math.sqrt(1.25)), atol=1e-4, rtol=0)


# -- objectives ------------------------------------------------------------------------------------
class Const(torch.nn.Module):
    """A critic that returns fixed values for real (first half) and generated (second half) images."""

    def __init__(self, real, fake):
        super().__init__()
        self.real, self.fake = real, fake

    def forward(self, x):
        v = torch.full((len(x), 1), self.fake)
        v[x[:, 0, 0, 0] > 0.5] = self.real
        return v + 0 * x.flatten(1).sum(1, keepdim=True)


def test_hinge_and_bce_values_on_known_outputs():
    real, fake = torch.ones(4, 3, 2, 2), torch.zeros(4, 3, 2, 2)
    hinge = create_objective("hinge")
    gen = torch.Generator().manual_seed(0)
    for joint in (True, False):
        # real scored 0.5 -> relu(1 - 0.5) = 0.5; fake scored -3 -> relu(1 - 3) = 0
        assert hinge.critic_loss(Const(0.5, -3.0), real, [fake], joint=joint, gp_weight=0.0,
                                 gen=gen).item() == pytest.approx(0.5)
        assert hinge.critic_loss(Const(2.0, 0.25), real, [fake], joint=joint, gp_weight=0.0,
                                 gen=gen).item() == pytest.approx(1.25)
        assert hinge.generator_loss(Const(2.0, 0.25), real, [fake], joint=joint).item() == pytest.approx(-0.25)
        bce = create_objective("bce")
        assert bce.critic_loss(Const(0.0, 0.0), real, [fake], joint=joint, gp_weight=0.0,
                               gen=gen).item() == pytest.approx(math.log(2))
    wgan = create_objective("wgan-gp", drift=0.1)
    # E[D(g)] - E[D(x)] + drift E[D(x)^2] = -1 - 2 + 0.1 * 4, no gradient penalty
    assert wgan.critic_loss(Const(2.0, -1.0), real, [fake], joint=True, gp_weight=0.0,
                            gen=gen).item() == pytest.approx(-2.6)


def test_gradient_penalty_is_zero_for_a_unit_gradient_linear_critic():
    w = torch.randn(3, 4, 4)
    x = torch.rand(8, 3, 4, 4, requires_grad=True)
    unit = w / w.norm()
    assert gradient_penalty(lambda t: (t * unit).sum(dim=(1, 2, 3)), x).item() == pytest.approx(0.0, abs=1e-10)
    assert gradient_penalty(lambda t: (t * 3 * unit).sum(dim=(1, 2, 3)), x).item() == pytest.approx(4.0)
    # through the objective: a linear critic with unit gradient adds nothing to the WGAN loss
    critic = lambda t: (t * unit).sum(dim=(1, 2, 3)).unsqueeze(1)  # noqa: E731
    real, fake = torch.rand(8, 3, 4, 4), torch.rand(8, 3, 4, 4)
    wgan = create_objective("wgan-gp")
    gen = torch.Generator().manual_seed(0)
    with_gp = wgan.critic_loss(critic, real, [fake], joint=True, gp_weight=10.0, gen=gen)
    without = wgan.critic_loss(critic, real, [fake], joint=True, gp_weight=0.0, gen=gen)
    assert with_gp.item() == pytest.approx(without.item(), abs=1e-5)


def test_bce_r1_penalty_is_half_gamma_times_the_squared_real_gradient():
    # a linear critic with gradient 3 * unit everywhere: R1 = gamma / 2 * 9
    unit = torch.randn(3, 4, 4)
    unit = unit / unit.norm()
    critic = lambda t: (t * 3 * unit).sum(dim=(1, 2, 3)).unsqueeze(1)  # noqa: E731
    real, fake = torch.rand(8, 3, 4, 4), torch.rand(8, 3, 4, 4)
    bce = create_objective("bce")
    gen = torch.Generator().manual_seed(0)
    for joint in (True, False):
        plain = bce.critic_loss(critic, real, [fake], joint=joint, gp_weight=0.0, gen=gen)
        r1 = bce.critic_loss(critic, real, [fake], joint=joint, gp_weight=0.5, gen=gen)
        assert (r1 - plain).item() == pytest.approx(0.5 / 2 * 9, rel=1e-5)
        assert not real.requires_grad  # the caller's batch is left alone


def test_mmd_is_near_zero_for_one_distribution_and_large_for_two():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 4, generator=g), torch.randn(400, 4, generator=g)
    shifted = torch.randn(400, 4, generator=g) + 1.5
    same = mmd2_unbiased(a, b).item()
    assert abs(same) < 0.02
    assert mmd2_unbiased(a, shifted).item() > 50 * max(abs(same), 1e-3)
    x = torch.randn(10, 4, generator=g)
    assert mmd2_unbiased(x, x).item() < 0  # the unbiased estimate dips below zero for identical samples


def test_cramer_losses_on_known_features():
    zero, one = torch.zeros(4, 2), torch.tensor([[1.0, 0.0]]).repeat(4, 1)
    # ||h(x)-h(g)|| + ||h(x)-h(g')|| - ||h(g)-h(g')||
    assert cramer_generator_loss(one, zero, zero).item() == pytest.approx(2.0)
    assert cramer_generator_loss(one, one, one).item() == pytest.approx(0.0)
    real, fake = torch.ones(4, 3, 2, 2), torch.zeros(4, 3, 2, 2)
    critic = lambda t: t.flatten(1)[:, :2]  # noqa: E731  h = first two pixels
    cramer = create_objective("cramer-gp")
    gen = torch.Generator().manual_seed(0)
    # f(x) = ||h(x)-h(g')|| - ||h(x)||: f(real) = sqrt2 - sqrt2 = 0, f(fake) = 0 - 0 = 0 -> surrogate 0
    loss = cramer.critic_loss(critic, real, [fake, fake], joint=True, gp_weight=0.0, gen=gen)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    assert cramer.generator_loss(critic, real, [fake, fake], joint=True).item() == pytest.approx(2 * math.sqrt(2))


# -- training: exact resume, CLI -------------------------------------------------------------------
def _train_cfg(arch, **kw):
    base = dict(arch=arch, arch_options=SMALL[arch], steps=6, batch_size=4, checkpoint_every=2, seed=5,
                lr=1e-3, beta1=0.0, beta2=0.99)
    base.update(kw)
    return GanTrainConfig(**base)


@pytest.mark.parametrize("arch, extra", [("progan", {"ema": 0.9}), ("cramergan", {"n_critic": 2})])
def test_non_bce_family_resumes_exactly(tmp_path, crops, arch, extra):
    cfg = _train_cfg(arch, **extra)
    full = GanTrainer(cfg, tmp_path / "full").fit(crops, progress=False)

    class Killed(Exception):
        pass

    def kill_at_3(step):
        if step == 3:
            raise Killed

    with pytest.raises(Killed):
        GanTrainer(cfg, tmp_path / "resumed").fit(crops, progress=False, on_step=kill_at_3)
    GanTrainer(cfg, tmp_path / "resumed").fit(crops, progress=False)
    for part in ("generator", "discriminator"):
        a = load_tensors(full / f"{part}.safetensors")
        b = load_tensors(tmp_path / "resumed" / f"{part}.safetensors")
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_progan_grows_during_training_is_scored_grown_and_loads_grown(tmp_path, crops, monkeypatch):
    from ganprint.gans.progan import ProGenerator

    stages, scored = [], []
    original = ProGenerator.set_progress

    def recording(self, step, total):
        original(self, step, total)
        stages.append(self.level)

    monkeypatch.setattr(ProGenerator, "set_progress", recording)
    cfg = _train_cfg("progan", steps=8)
    GanTrainer(cfg, tmp_path / "g").fit(
        crops, progress=False, check_every=1,
        monitor=lambda G, step: scored.append((step, G.level, G.alpha)) or float(step))
    assert stages[0] == 0 and stages[-1] == 3 and stages == sorted(stages) and len(set(stages)) == 4
    assert scored and all((lv, a) == (3, 1.0) for _, lv, a in scored)  # a partly grown G is never kept
    assert scored[0][0] > 4  # growth ends after half the steps
    G, _ = load_generator(tmp_path / "g")
    assert (G.level, G.alpha) == (3, 1.0)


def test_cli_trains_sngan_on_a_folder(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "gan"
    r = CliRunner().invoke(cli, ["gan", "train", "--arch", "sngan", "--data", str(folder), "--out", str(out),
                                 "--steps", "2", "--batch-size", "4", "--width", "0.0625", "--device", "cpu",
                                 "--quiet"])
    assert r.exit_code == 0, r.output
    G, config = load_generator(out)
    assert config["arch"] == "sngan" and config["image_shape"] == [3, 32, 32]
    assert config["arch_options"]["width"] == 0.0625
