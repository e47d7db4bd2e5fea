import numpy as np
import pytest
import torch

from ganprint.data.mnist import load_mnist_5k
from ganprint.gans import GANS, create_gan
from ganprint.gans.config import GanTrainConfig
from ganprint.gans.sampling import load_generator, sample_to_folder
from ganprint.gans.trainer import GanTrainer
from ganprint.registry import UnknownNameError
from ganprint.serialization import load_tensors


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_seed_mnist_gan_parameter_counts():
    spec = create_gan("mnist-dcgan")
    assert n_params(spec.generator) == 1_164_289
    assert n_params(spec.discriminator) == 40_705


@pytest.mark.parametrize("name", GANS.names())
def test_every_gan_forward_backward(name):
    spec = create_gan(name)
    z = torch.randn(3, spec.latent_dim)
    x = spec.generator(z)
    assert x.shape == (3, *spec.image_shape)
    assert float(x.detach().min()) >= 0 and float(x.detach().max()) <= 1
    spec.discriminator(x).sum().backward()
    idle = [n for n, p in spec.generator.named_parameters() if p.grad is None]
    # a growing generator (ProGAN) no longer uses the to-RGB layers of the resolutions it grew through
    assert not idle or (hasattr(spec.generator, "set_progress") and all(n.startswith("to_rgb.") for n in idle))


def test_mnist_dcgan_discriminator_dropout_and_loss_are_options():
    """The seed's discriminator drops 40% of its features while training; ``disc_dropout=0`` makes it
    deterministic with the same weights, and ``objective`` picks the loss the trainer uses."""
    x = torch.rand(8, 1, 28, 28)
    seed_d = create_gan("mnist-dcgan").discriminator.train()
    assert not torch.equal(seed_d(x), seed_d(x))
    spec = create_gan("mnist-dcgan", disc_dropout=0.0, objective="hinge")
    assert n_params(spec.discriminator) == 40_705
    spec.discriminator.train()
    assert torch.equal(spec.discriminator(x), spec.discriminator(x))
    assert spec.objective == "hinge" and create_gan("mnist-dcgan").objective == "bce"
    with pytest.raises(ValueError, match="dropout"):
        create_gan("mnist-dcgan", disc_dropout=1.0)
    with pytest.raises(ValueError, match="objective"):
        create_gan("mnist-dcgan", objective="wgan")


def test_packing_discriminator_judges_sets_of_images():
    """With ``disc_pack=2`` (PacGAN) the discriminator scores pairs: both images of a pair get the
    same logit, that logit depends on both, real and generated halves of one batch never share a
    pack, and a batch that cannot be packed is refused."""
    torch.manual_seed(0)
    D = create_gan("mnist-dcgan", disc_dropout=0.0, disc_pack=2).discriminator.eval()
    x = torch.rand(6, 1, 28, 28)
    out = D(x)
    assert out.shape == (6, 1)
    assert torch.equal(out[0::2], out[1::2])
    changed = x.clone()
    changed[1] = torch.rand(1, 28, 28)
    assert not torch.equal(D(changed)[0], out[0]) and torch.equal(D(changed)[2:], out[2:])
    real, fake = x[:4], torch.rand(4, 1, 28, 28)
    joint = D(torch.cat([real, fake]))
    assert torch.allclose(joint[:4], D(real)) and torch.allclose(joint[4:], D(fake))
    assert n_params(D) == 40_705 + 64 * 9  # one more input channel in the first convolution
    with pytest.raises(ValueError, match="multiple of 2"):
        D(torch.rand(5, 1, 28, 28))
    with pytest.raises(ValueError, match="pack"):
        create_gan("mnist-dcgan", disc_pack=0)


def test_cli_trains_the_quick_recipe_with_architecture_options(tmp_path, ones):
    from click.testing import CliRunner
    from PIL import Image

    from ganprint.cli.main import cli

    folder = tmp_path / "ones"
    folder.mkdir()
    for i, img in enumerate(ones[:16]):
        Image.fromarray(img.squeeze()).save(folder / f"{i}.png")
    out = tmp_path / "gan"
    args = ["gan", "train", "--data", str(folder), "--out", str(out), "--steps", "2", "--batch-size", "8",
            "--width", "0.125", "--arch-option", "norm=batch", "--arch-option", "disc_dropout=0",
            "--arch-option", "prior=mixture", "--mode-seeking", "0.03", "--latent-regression", "0.5", "--precise-bn",
            "--lr-decay-start", "0.5", "--device", "cpu", "--quiet"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    G, config = load_generator(out)
    assert {k: config["arch_options"][k] for k in ("norm", "disc_dropout", "prior")} == {
        "norm": "batch", "disc_dropout": 0, "prior": "mixture"}
    assert hasattr(G, "prior") and G.prior.mu.shape == (10, 100)
    assert config["train"]["mode_seeking"] == 0.03
    assert (config["train"]["latent_regression"], config["train"]["precise_bn"], config["train"]["lr_decay_start"]) \
        == (0.5, True, 0.5)
    assert (out / "encoder.safetensors").is_file()
    bad = CliRunner().invoke(cli, [*args[:-3], "--arch-option", "prior", "--quiet"])
    assert bad.exit_code != 0 and "KEY=VALUE" in bad.output


def test_unknown_gan_lists_known_ones():
    with pytest.raises(UnknownNameError, match="mnist-dcgan"):
        create_gan("no-such-gan")


@pytest.fixture(scope="module")
def ones():
    return load_mnist_5k().subset([1]).images[:200]


def _cfg(**kw):
    base = dict(arch_options={"width": 0.125}, steps=12, batch_size=16, checkpoint_every=5, seed=3)
    base.update(kw)
    return GanTrainConfig(**base)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_resume_after_interruption_gives_identical_weights(tmp_path, ones, precision):
    full = GanTrainer(_cfg(precision=precision), tmp_path / "full").fit(ones, progress=False)

    class Killed(Exception):
        pass

    def kill_at_7(step):
        if step == 7:
            raise Killed

    with pytest.raises(Killed):
        GanTrainer(_cfg(precision=precision), tmp_path / "resumed").fit(ones, progress=False, on_step=kill_at_7)
    assert (tmp_path / "resumed" / "checkpoint" / "state.json").is_file()
    GanTrainer(_cfg(precision=precision), tmp_path / "resumed").fit(ones, progress=False)
    a = load_tensors(full / "generator.safetensors")
    b = load_tensors(tmp_path / "resumed" / "generator.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    assert not (tmp_path / "resumed" / "checkpoint").exists()


def test_snapshots_are_kept_every_k_steps_and_survive_a_resume(tmp_path, ones):
    from ganprint.gans.trainer import list_snapshots

    with pytest.raises(RuntimeError):
        GanTrainer(_cfg(snapshot_every=4), tmp_path / "g").fit(ones, progress=False, on_step=_stop_at_6)
    out = GanTrainer(_cfg(snapshot_every=4), tmp_path / "g").fit(ones, progress=False)
    assert sorted(list_snapshots(out)) == [4, 8, 12]
    last, _ = load_generator(out, step=12)
    final, _ = load_generator(out)
    for a, b in zip(last.state_dict().values(), final.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    early, _ = load_generator(out, step=4)
    assert any(not torch.equal(a, b) for a, b in zip(early.state_dict().values(), final.state_dict().values(),
                                                     strict=True))
    with pytest.raises(ValueError, match="no snapshot at step 5"):
        load_generator(out, step=5)


def _stop_at_6(step):
    if step == 6:
        raise RuntimeError("interrupted")


def test_resume_refuses_a_different_config(tmp_path, ones):
    with pytest.raises(RuntimeError):
        GanTrainer(_cfg(), tmp_path / "g").fit(ones, progress=False, on_step=_stop_at_6)
    with pytest.raises(ValueError, match="different training config"):
        GanTrainer(_cfg(lr=1e-3), tmp_path / "g").fit(ones, progress=False)


def test_resume_accepts_a_checkpoint_written_before_a_field_existed(tmp_path, ones):
    """A checkpoint whose config lacks a later field (here ``mode_seeking``) holds its default."""
    import json

    with pytest.raises(RuntimeError):
        GanTrainer(_cfg(), tmp_path / "g").fit(ones, progress=False, on_step=_stop_at_6)
    state = tmp_path / "g" / "checkpoint" / "state.json"
    meta = json.loads(state.read_text())
    del meta["train"]["mode_seeking"]
    state.write_text(json.dumps(meta))
    GanTrainer(_cfg(), tmp_path / "g").fit(ones, progress=False)
    assert GanTrainer(_cfg(), tmp_path / "g").is_finished()


def test_sampling_is_deterministic_and_resumable(tmp_path, ones):
    gan = GanTrainer(_cfg(steps=3), tmp_path / "g").fit(ones, progress=False)
    a = sample_to_folder(gan, 12, tmp_path / "a", seed=5, progress=False)
    b = tmp_path / "b"
    sample_to_folder(gan, 5, b, seed=5, progress=False)
    sample_to_folder(gan, 12, b, seed=5, progress=False)  # resumes: keeps 0..4, writes 5..11
    names = sorted(p.name for p in a.iterdir())
    assert names == [f"{i:06d}.png" for i in range(12)]
    assert names == sorted(p.name for p in b.iterdir())
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes()
    # a later slice of the stream equals the same indices of the full stream
    c = sample_to_folder(gan, 4, tmp_path / "c", seed=5, start_index=8, progress=False)
    assert sorted(p.name for p in c.iterdir()) == names[8:]
    assert (c / names[9]).read_bytes() == (a / names[9]).read_bytes()
    G, config = load_generator(gan)
    assert config["status"] == "finished" and not G.training


def test_unfinished_gan_cannot_be_sampled(tmp_path, ones):
    with pytest.raises(RuntimeError):
        GanTrainer(_cfg(), tmp_path / "g").fit(ones, progress=False, on_step=_stop_at_6)
    with pytest.raises((ValueError, FileNotFoundError)):
        load_generator(tmp_path / "g")


def test_training_moves_samples_towards_the_data(tmp_path, ones):
    """A few dozen steps already pull the mean image towards the mean '1' (behaviour, not noise)."""
    gan = GanTrainer(_cfg(steps=60, batch_size=32, lr=1e-3, checkpoint_every=1000), tmp_path / "g").fit(
        ones, progress=False)
    G, _ = load_generator(gan)
    with torch.no_grad():
        x = G(torch.randn(256, 100)).numpy()[:, 0]
    target = ones.astype(np.float32).mean(0) / 255
    untrained = create_gan("mnist-dcgan", width=0.125).generator
    with torch.no_grad():
        x0 = untrained(torch.randn(256, 100)).numpy()[:, 0]
    assert np.abs(x.mean(0) - target).mean() < np.abs(x0.mean(0) - target).mean()


def test_bf16_training_learns_like_fp32_and_records_its_precision(tmp_path, ones):
    """bfloat16 autocast (the quick profiles' choice where it is native) still pulls the samples
    towards the data and ends near the fp32 weights (its exact resume: the resume test above)."""
    from ganprint.serialization import read_json

    cfg = dict(steps=60, batch_size=32, lr=1e-3, checkpoint_every=1000)
    fp32 = GanTrainer(_cfg(**cfg), tmp_path / "fp32").fit(ones, progress=False)
    bf16 = GanTrainer(_cfg(precision="bf16", **cfg), tmp_path / "bf16").fit(ones, progress=False)
    assert read_json(fp32 / "config.json")["precision"] == "fp32"
    assert read_json(bf16 / "config.json")["precision"] == "bf16"
    z = torch.randn(256, 100, generator=torch.Generator().manual_seed(0))
    target = ones.astype(np.float32).mean(0) / 255
    with torch.no_grad():
        x32, x16 = (load_generator(g)[0](z).numpy()[:, 0] for g in (fp32, bf16))
        x0 = create_gan("mnist-dcgan", width=0.125).generator(z).numpy()[:, 0]
    untrained_error = np.abs(x0.mean(0) - target).mean()
    assert np.abs(x16.mean(0) - target).mean() < 0.5 * untrained_error
    assert np.abs(x16 - x32).mean() < 0.5 * np.abs(x0 - x32).mean()
    with pytest.raises(ValueError, match="precision"):
        _cfg(precision="fp16")


def test_monitor_stops_training_at_the_first_good_check(tmp_path, ones):
    seen = []

    def monitor(G, step):
        seen.append(step)
        return 0.9 if step >= 8 else 0.1

    gan = GanTrainer(_cfg(steps=20), tmp_path / "g").fit(ones, progress=False, monitor=monitor,
                                                         check_every=4, stop_at=0.85)
    _, config = load_generator(gan)
    assert seen == [4, 8]
    assert config["steps"] == 8 and config["stopped_early"]
    assert config["quality_history"] == [[4, 0.1], [8, 0.9]]


def test_monitor_checks_from_a_given_step_and_always_at_the_end(tmp_path, ones):
    seen = []

    def monitor(G, step):
        seen.append(step)
        return float(step)

    gan = GanTrainer(_cfg(steps=14), tmp_path / "g").fit(ones, progress=False, monitor=monitor, check_every=4,
                                                         check_from=6)
    assert seen == [8, 12, 14]
    assert load_generator(gan)[1]["kept_step"] == 14


def test_monitor_keeps_the_best_snapshot_not_the_last(tmp_path, ones):
    snapshots = {}

    def monitor(G, step):
        snapshots[step] = {k: v.clone() for k, v in G.state_dict().items()}
        return {4: 0.2, 8: 0.7, 12: 0.3}[step]

    gan = GanTrainer(_cfg(steps=12), tmp_path / "g").fit(ones, progress=False, monitor=monitor, check_every=4)
    G, config = load_generator(gan)
    assert config["kept_step"] == 8 and config["steps"] == 12
    for k, v in G.state_dict().items():
        assert torch.equal(v, snapshots[8][k]), k


def test_resume_keeps_the_best_snapshot_and_history(tmp_path, ones):
    scores = {2: 0.5, 4: 0.9, 6: 0.1, 8: 0.2}

    def monitor(G, step):
        return scores[step]

    cfg = _cfg(steps=8, checkpoint_every=5)
    straight = GanTrainer(cfg, tmp_path / "a").fit(ones, progress=False, monitor=monitor, check_every=2)

    def crash(step):
        if step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        GanTrainer(cfg, tmp_path / "b").fit(ones, progress=False, on_step=crash, monitor=monitor, check_every=2)
    resumed = GanTrainer(cfg, tmp_path / "b").fit(ones, progress=False, monitor=monitor, check_every=2)
    (Ga, ca), (Gb, cb) = load_generator(straight), load_generator(resumed)
    assert ca["quality_history"] == cb["quality_history"] == [[2, 0.5], [4, 0.9], [6, 0.1], [8, 0.2]]
    assert ca["kept_step"] == cb["kept_step"] == 4
    for k, v in Ga.state_dict().items():
        assert torch.equal(v, Gb.state_dict()[k]), k


def test_augmented_training_resumes_exactly(tmp_path, ones):
    cfg = _cfg(steps=6, checkpoint_every=3, augment=["translation", "cutout"], lr_d=1e-4, ema=0.9)

    def crash(step):
        if step == 5:
            raise KeyboardInterrupt

    straight = GanTrainer(cfg, tmp_path / "a").fit(ones, progress=False)
    with pytest.raises(KeyboardInterrupt):
        GanTrainer(cfg, tmp_path / "b").fit(ones, progress=False, on_step=crash)
    resumed = GanTrainer(cfg, tmp_path / "b").fit(ones, progress=False)
    (Ga, ca), (Gb, _) = load_generator(straight), load_generator(resumed)
    assert ca["train"]["augment"] == ["translation", "cutout"]
    for k, v in Ga.state_dict().items():
        assert torch.equal(v, Gb.state_dict()[k]), k


def test_unknown_augmentation_is_refused_with_the_known_ones():
    with pytest.raises(KeyError, match="translation"):
        _cfg(augment=["flip-everything"])


def test_mode_seeking_keeps_the_samples_varied_and_resumes_exactly(tmp_path, ones):
    """The MSGAN term makes the generator's samples spread further than the same run without it,
    and a run that carries it still resumes to identical weights."""
    from ganprint.gans.regularizers import mode_seeking_penalty

    cfg = dict(arch_options={"width": 0.125, "norm": "batch", "disc_dropout": 0.0, "prior": "mixture"},
               steps=40, batch_size=32, lr=1e-3, checkpoint_every=1000)
    z = torch.randn(256, 100, generator=torch.Generator().manual_seed(5))
    penalty = {}
    for weight in (0.0, 1.0):
        gan = GanTrainer(_cfg(**cfg, mode_seeking=weight), tmp_path / f"ms{weight}").fit(ones, progress=False)
        G, config = load_generator(gan)
        assert config["train"]["mode_seeking"] == weight
        with torch.no_grad():
            penalty[weight] = float(mode_seeking_penalty(G(z), z))
    assert penalty[1.0] < 0.8 * penalty[0.0]

    resumed = dict(cfg, steps=12, checkpoint_every=5, mode_seeking=1.0)
    full = GanTrainer(_cfg(**resumed), tmp_path / "full").fit(ones, progress=False)
    with pytest.raises(RuntimeError):
        GanTrainer(_cfg(**resumed), tmp_path / "cut").fit(ones, progress=False, on_step=_stop_at_6)
    cut = GanTrainer(_cfg(**resumed), tmp_path / "cut").fit(ones, progress=False)
    a, b = load_tensors(full / "generator.safetensors"), load_tensors(cut / "generator.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def _zeros_and_ones():
    digits = load_mnist_5k().subset([0, 1])
    keep = np.concatenate([np.flatnonzero(digits.labels == d)[:150] for d in (0, 1)])
    return digits.images[keep], digits.labels[keep]  # labels 0 and 1 are the class indices


def test_conditional_gan_draws_each_class_from_its_component_and_resumes_exactly(tmp_path):
    """A class-conditional GAN (mixture component k = class k, projection discriminator) learns
    which component draws which digit: the samples of component 0 look like the real zeros and
    those of component 1 like the real ones. Its training resumes to identical weights."""
    images, labels = _zeros_and_ones()
    options = {"width": 0.125, "norm": "batch", "disc_dropout": 0.0, "prior": "mixture",
               "prior_components": 2, "conditional": True}
    gan = GanTrainer(_cfg(arch_options=options, steps=300, batch_size=32, lr=2e-3, checkpoint_every=1000),
                     tmp_path / "c").fit(images, labels, progress=False)
    G, config = load_generator(gan)
    assert config["arch_options"]["conditional"] is True
    z = torch.randn(512, 100, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x, k = G(z).numpy()[:, 0], G.label_of(z).numpy()
    means = [images[labels == c].astype(np.float32).mean(0) / 255 for c in (0, 1)]
    for c in (0, 1):
        drawn = x[k == c].mean(0)
        assert np.abs(drawn - means[c]).mean() < np.abs(drawn - means[1 - c]).mean()

    cfg = dict(arch_options=options, steps=12, checkpoint_every=5, augment=["translation"])
    full = GanTrainer(_cfg(**cfg), tmp_path / "full").fit(images, labels, progress=False)
    with pytest.raises(RuntimeError):
        GanTrainer(_cfg(**cfg), tmp_path / "cut").fit(images, labels, progress=False, on_step=_stop_at_6)
    cut = GanTrainer(_cfg(**cfg), tmp_path / "cut").fit(images, labels, progress=False)
    a, b = load_tensors(full / "generator.safetensors"), load_tensors(cut / "generator.safetensors")
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_conditional_gan_needs_labels_and_an_unconditional_one_refuses_them(tmp_path):
    images, labels = _zeros_and_ones()
    conditional = {"width": 0.125, "prior": "mixture", "prior_components": 2, "conditional": True}
    with pytest.raises(ValueError, match="needs labels"):
        GanTrainer(_cfg(arch_options=conditional), tmp_path / "a").fit(images, progress=False)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        GanTrainer(_cfg(arch_options=conditional), tmp_path / "b").fit(images, labels + 1, progress=False)
    with pytest.raises(ValueError, match="takes no labels"):
        GanTrainer(_cfg(), tmp_path / "c").fit(images, labels, progress=False)
    with pytest.raises(ValueError, match="mixture"):
        create_gan("mnist-dcgan", conditional=True)


def test_cli_trains_a_conditional_gan_on_the_class_folders(tmp_path):
    """With conditional=true the classes are the subfolders of --data: one mixture component each."""
    from click.testing import CliRunner
    from PIL import Image

    from ganprint.cli.main import cli

    images, labels = _zeros_and_ones()
    for name, c in (("zero", 0), ("one", 1)):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i, img in enumerate(images[labels == c][:12]):
            Image.fromarray(img).save(tmp_path / "data" / name / f"{i}.png")
    out = tmp_path / "gan"
    args = ["gan", "train", "--data", str(tmp_path / "data"), "--out", str(out), "--steps", "3",
            "--batch-size", "8", "--width", "0.125", "--arch-option", "prior=mixture",
            "--arch-option", "conditional=true", "--device", "cpu", "--quiet"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    G, config = load_generator(out)
    assert config["arch_options"]["prior_components"] == 2 and config["arch_options"]["conditional"] is True
    assert config["data"]["classes"] == ["one", "zero"]
    assert G.prior.mu.shape == (2, 100)

    (tmp_path / "flat").mkdir()
    Image.fromarray(images[0]).save(tmp_path / "flat" / "0.png")
    bad = CliRunner().invoke(cli, [*args[:3], str(tmp_path / "flat"), *args[4:]])
    assert bad.exit_code != 0 and "no source folders" in bad.output
