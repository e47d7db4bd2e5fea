"""`ganprint gan ...` (also `ganprint generator ...`): train and sample the registered generative
models — GANs, and diffusion models, VAEs and flows (:mod:`ganprint.cli.generative`) — on any folder
of images or a named real source."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ganprint.cli import options as opts
from ganprint.cli.common import fail, first_sentence, join_processes, report_skipped, scan_or_fail, set_threads

GAN_CONFIG = "ganprint.gans.config:GanTrainConfig"
INVERTER_CONFIG = "ganprint.inversion.training:InverterTrainConfig"
REAL_SOURCES = {
    "photos": "bundled 32x32 photo crops (offline)",
    "cifar10": "CIFAR-10 through torchvision (needs internet)",
    "mnist5k": "5,000 bundled MNIST digits (offline)",
    "mnist": "full MNIST through torchvision (needs internet)",
}
"""The named real sources a GAN can train on, with a one-line description."""


def _gan_names() -> list[str]:
    from ganprint.gans import GANS
    from ganprint.generative.registry import generative_names

    return GANS.names() + generative_names()


def _precisions() -> tuple[str, ...]:
    from ganprint.device import PRECISIONS

    return PRECISIONS


def _config(field: str) -> opts.ConfigDefault:
    return opts.ConfigDefault(GAN_CONFIG, field)


@click.group("gan")
def gan_group() -> None:
    """Train generative models of the zoo (GANs, diffusion, VAE, flow) and sample images from them."""


@gan_group.command("list")
def list_cmd() -> None:
    """List the registered architectures with their family, one line each (the default of `gan train` marked *)."""
    from ganprint.gans import GANS
    from ganprint.generative.registry import GENERATIVE, generative_names

    default = _config("arch")()
    rows = [(name, "gan", GANS.get(name).__doc__ or "") for name in GANS.names()]
    rows += [(name, getattr(GENERATIVE.get(name), "family", "") or "other", GENERATIVE.get(name).__doc__ or "")
             for name in generative_names()]
    for name, family, doc in rows:
        text = first_sentence(doc, 90, before_colon=False)
        click.echo(f"{'*' if name == default else ' '} {name:<14} {family:<9} {text}")
    click.echo("(* = the default --arch of `ganprint gan train`)")


@gan_group.command("train")
@click.option("--arch", cls=opts.Option, type=opts.LazyChoice(_gan_names), metavar="NAME", default=_config("arch"),
              show_default=True, help="Registered GAN architecture (`ganprint gan list`).")
@opts.data_dir_option("Folder of training images (searched recursively).", required=False)
@click.option("--real-source", "source", cls=opts.Option, aliases=["--source"], default=None,
              type=click.Choice(list(REAL_SOURCES)),
              help="A named real source instead of --data: "
                   + "; ".join(f"{name}: {text}" for name, text in REAL_SOURCES.items()) + ".")
@click.option("--n-real", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Images drawn from --real-source photos.")
@opts.out_dir_option("GAN folder to write (safetensors + config.json); an unfinished one is resumed.")
@click.option("--epochs", cls=opts.Option, type=click.IntRange(min=1), default=_config("epochs"), show_default=True)
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Train this many steps instead of --epochs.")
@click.option("--batch-size", cls=opts.Option, type=click.IntRange(min=1), default=_config("batch_size"),
              show_default=True)
@click.option("--lr", cls=opts.Option, type=click.FloatRange(min=0, min_open=True), default=_config("lr"),
              show_default=True)
@click.option("--width", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Channel-width multiplier (default: the architecture's, 1).")
@click.option("--arch-option", "arch_option_items", multiple=True, metavar="KEY=VALUE",
              help="An architecture option (repeatable), e.g. norm=batch, disc_dropout=0, prior=mixture for "
                   "mnist-dcgan; numbers and true/false are read as such. conditional=true (with prior=mixture) "
                   "trains a class-conditional GAN: the classes are the subfolders of --data (or the digits "
                   "of --real-source mnist5k/mnist), one mixture component each.")
@click.option("--image-size", type=click.Choice(["32", "64", "128"]), default=None,
              help="Image side for the families that build at several sizes (progan, sngan, cramergan, mmdgan; "
                   "default 32).")
@click.option("--beta1", cls=opts.Option, type=click.FloatRange(min=0, max=1, max_open=True), default=_config("beta1"),
              show_default=True, help="Adam beta1 (ProGAN's own: 0).")
@click.option("--beta2", cls=opts.Option, type=click.FloatRange(min=0, max=1, max_open=True), default=_config("beta2"),
              show_default=True, help="Adam beta2 (ProGAN: 0.99; WGAN-GP: 0.9).")
@click.option("--n-critic", cls=opts.Option, type=click.IntRange(min=1), default=_config("n_critic"), show_default=True,
              help="Critic updates per generator update.")
@click.option("--gp-weight", type=click.FloatRange(min=0), default=None,
              help="Gradient-penalty weight of the family's objective (default: the objective's own).")
@click.option("--seed", cls=opts.Option, type=click.IntRange(min=0), default=_config("seed"), show_default=True,
              help="Random seed (same seed, same result).")
@click.option("--checkpoint-every", cls=opts.Option, type=click.IntRange(min=1), default=_config("checkpoint_every"),
              show_default=True, help="Steps between checkpoints.")
@click.option("--lr-d", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Discriminator learning rate (default: --lr).")
@click.option("--augment", multiple=True, help="DiffAugment policy for the discriminator's inputs (repeatable).")
@click.option("--ema", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=None,
              help="Keep an EMA of the generator with this decay (saved).")
@click.option("--mode-seeking", cls=opts.Option, type=click.FloatRange(min=0.0), default=_config("mode_seeking"),
              show_default=True,
              help="Weight of MSGAN's mode-seeking term in the generator's loss, against mode collapse "
                   "(0: none; 0.03 keeps MNIST samples about as varied as real digits).")
@click.option("--latent-regression", cls=opts.Option, type=click.FloatRange(min=0.0),
              default=_config("latent_regression"), show_default=True,
              help="Weight of the latent-reconstruction term (InfoGAN-style): the seed's inverse model trains "
                   "beside the GAN and the generator is penalised by its error, so that every latent stays "
                   "readable from the image; the encoder is saved in the GAN folder, where fit-inverter starts "
                   "from it (0: none).")
@click.option("--precise-bn", is_flag=True, default=False,
              help="Recompute the generator's batch-norm statistics exactly (over a fixed latent stream) before "
                   "each score and before saving, instead of keeping the running averages.")
@click.option("--lr-decay-start", type=click.FloatRange(min=0.0, max=1.0, max_open=True), default=None,
              help="Decay both learning rates linearly to 0 from this fraction of the steps on.")
@click.option("--precision", cls=opts.Option, type=opts.LazyChoice(_precisions), default=_config("precision"),
              show_default=True,
              help="Arithmetic of the training passes: bf16 autocast (fp32 weights and losses); auto = bf16 "
                   "where the device computes it natively (recent GPUs, CPUs with AVX512-BF16 or AMX).")
@opts.device_option
@opts.threads_option
@opts.quiet_option
@click.pass_context
def train_cmd(ctx: click.Context, arch: str, data_dir: Path | None, source: str | None, n_real: int, out_dir: Path,
              epochs: int, steps: int | None, batch_size: int, lr: float, width: float | None,
              arch_option_items: tuple[str, ...], image_size: str | None, beta1: float,
              beta2: float, n_critic: int, gp_weight: float | None, seed: int, checkpoint_every: int,
              lr_d: float | None, augment: tuple[str, ...], ema: float | None, mode_seeking: float,
              latent_regression: float, precise_bn: bool, lr_decay_start: float | None, precision: str,
              device: str, threads: int | None, quiet: bool) -> None:
    """Train a GAN, diffusion model, VAE or flow on a folder of images or a named real source (resumes an
    interrupted run).

    Each GAN architecture trains with its own objective (BCE, WGAN-GP, hinge, Cramér, MMD); the quick
    settings of the four families of seed 004 are in ``ganprint.gans.families.QUICK_TRAIN``.
    Defaults not shown are those of ``ganprint.gans.config.GanTrainConfig``.

    Under torchrun (`torchrun --nproc_per_node=N -m ganprint gan train ...`) the GAN trains in N
    processes, each on batch-size/N images of every batch; rank 0 alone prints and writes OUT
    (docs/distributed.md). Diffusion models, VAEs and flows (`gan list`) take the options both kinds
    share, with their own defaults (``ganprint.generative.config.GenerativeTrainConfig``), and run in
    one process (docs/generative.md).
    """
    from ganprint.data.decode import iter_image_paths
    from ganprint.data.folder import load_images
    from ganprint.gans import create_gan
    from ganprint.gans.config import GanTrainConfig
    from ganprint.gans.trainer import GanTrainer

    set_threads(threads)
    dist = join_processes(device)  # several processes under torchrun: rank 0 alone prints and writes
    quiet = quiet or not dist.is_main
    if (data_dir is None) == (source is None):
        fail("give exactly one of --data DIR and --real-source NAME")
    arch_options = parse_arch_options(arch_option_items)
    from ganprint.generative.registry import is_generative

    if is_generative(arch):
        if dist.distributed:
            fail(f"{arch} trains in one process; run it without torchrun")
        from ganprint.cli.generative import generative_config, train_generative

        cfg, (channels, height, width_px) = generative_config(ctx, arch, arch_options, image_size, source)
        images, data_info = _training_images(data_dir, source, n_real, seed, channels, (height, width_px), quiet)
        train_generative(cfg, out_dir, images[0], data_info, dist.device, quiet)
        return
    labelled = None  # a conditional GAN's folder dataset, scanned once
    classes: tuple[str, ...] = ()
    if arch_options.get("conditional"):
        if source in ("mnist5k", "mnist"):
            classes = tuple(str(d) for d in range(10))
        elif source is not None:
            fail(f"--real-source {source} has no classes; a class-conditional GAN needs --data DIR/<class>/...")
        else:
            labelled = scan_or_fail(data_dir)
            classes = labelled.classes
        if len(classes) < 2:
            fail(f"a class-conditional GAN needs at least 2 classes, found {len(classes)}")
        arch_options["prior_components"] = len(classes)
    try:
        build_options = {k: v for k, v in {"width": width, "image_size": None if image_size is None
                                           else int(image_size)}.items() if v is not None}
        spec = create_gan(arch, **build_options, **arch_options)
        cfg = GanTrainConfig(arch=arch, arch_options=spec.options, epochs=epochs, steps=steps,
                             batch_size=batch_size, lr=lr, beta1=beta1, beta2=beta2, seed=seed,
                             checkpoint_every=checkpoint_every, lr_d=lr_d, augment=augment, ema=ema,
                             n_critic=n_critic, gp_weight=gp_weight, precision=precision,
                             mode_seeking=mode_seeking, latent_regression=latent_regression, precise_bn=precise_bn,
                             lr_decay_start=lr_decay_start)
    except (KeyError, ValueError, TypeError) as exc:
        fail(str(exc))
    channels, height, width_px = spec.image_shape
    labels = None
    if source is not None:
        try:
            images, source_labels = _named_source_images(source, n_real, seed)
        except (RuntimeError, ValueError) as exc:
            fail(str(exc))
        labels = source_labels if classes else None
        data_info = {"source": source, "split": "train"}
    else:
        items = ([item for split in labelled.splits.values() for item in split] if labelled is not None
                 else [(p, 0) for p in iter_image_paths([data_dir])])
        loaded = load_images(items, channels=channels, size=(height, width_px), progress=not quiet)
        if dist.is_main:
            report_skipped(loaded.errors)
        if len(loaded.images) == 0:
            fail(f"no usable images under {data_dir}")
        images, data_info = loaded.images, {"source": str(data_dir)}
        labels = loaded.labels if classes else None
    if classes:
        data_info["classes"] = list(classes)  # mixture component k draws classes[k]
    if dist.is_main:
        click.echo(f"training {arch} on {len(images)} images from {source or data_dir}"
                   + (f" ({len(classes)} classes)" if classes else "")
                   + (f" in {dist.world_size} processes" if dist.distributed else ""), err=True)
    try:
        GanTrainer(cfg, out_dir, dist.device, data_info=data_info,
                   dist=dist).fit(images, labels, progress=not quiet)
    except ValueError as exc:
        fail(str(exc))
    if dist.is_main:
        click.echo(str(out_dir))


def parse_arch_options(items: tuple[str, ...] | list[str]) -> dict[str, object]:
    """``KEY=VALUE`` architecture options; a value that reads as JSON (a number, true/false, null)
    is taken as such, any other value as a string."""
    options: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--arch-option")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        options[key.strip()] = value
    return options


def _training_images(data_dir: Path | None, source: str | None, n_real: int, seed: int, channels: int,
                     size: tuple[int, int], quiet: bool) -> tuple[tuple[object, object], dict[str, object]]:
    """``((images, labels), data_info)`` of a named real source or a folder (decoded to ``channels``
    and ``size``, bad files reported and skipped)."""
    from ganprint.data.decode import iter_image_paths
    from ganprint.data.folder import load_images

    if source is not None:
        try:
            images, labels = _named_source_images(source, n_real, seed)
        except (RuntimeError, ValueError) as exc:
            fail(str(exc))
        if images.shape[1] != size[0] or (images.ndim == 4) != (channels == 3):
            fail(f"--real-source {source} has images of shape {images.shape[1:]}; the model expects "
                 f"{channels}x{size[0]}x{size[1]}")
        return (images, labels), {"source": source, "split": "train"}
    loaded = load_images([(p, 0) for p in iter_image_paths([data_dir])], channels=channels, size=size,
                         progress=not quiet)
    report_skipped(loaded.errors)
    if len(loaded.images) == 0:
        fail(f"no usable images under {data_dir}")
    return (loaded.images, None), {"source": str(data_dir)}


def _named_source_images(source: str, n: int, seed: int):
    """Training images of a named real source and their labels (None where it has none): uint8
    (N, H, W) digits with their digit, or (N, 32, 32, 3) color crops."""
    if source in ("mnist5k", "mnist"):
        from ganprint.data.mnist import load_digits_source

        digits = load_digits_source(source)
        return digits.images, digits.labels
    from ganprint.data.photos import load_color_source

    return load_color_source(source, "train", n=n, seed=seed), None


@gan_group.command("sample")
@opts.gan_dir_option()
@click.option("--n-images", "n", cls=opts.Option, aliases=["--n"], required=True, type=click.IntRange(min=1),
              help="Number of images.")
@opts.out_dir_option("Folder of NNNNNN.png images to write (existing files are kept).")
@opts.seed_option("Latent stream; same seed, same images.")
@click.option("--start", type=click.IntRange(min=0), default=0, show_default=True, help="Index of the first image.")
@click.option("--sampler", default=None, help="Diffusion models: ddpm (ancestral) or ddim (deterministic). "
              "Default: the model's own (ddpm).")
@click.option("--sampler-steps", type=click.IntRange(min=1), default=None,
              help="Diffusion models: denoising steps (default: all training steps for ddpm, 50 for ddim).")
@click.option("--eta", type=click.FloatRange(min=0.0, max=1.0), default=None, help="DDIM's eta (default 0).")
@click.option("--temperature", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="VAEs and flows: the prior's temperature (default: the model's own).")
@opts.device_option
@opts.quiet_option
def sample_cmd(gan_dir: Path, n: int, out_dir: Path, seed: int, start: int, sampler: str | None,
               sampler_steps: int | None, eta: float | None, temperature: float | None, device: str,
               quiet: bool) -> None:
    """Write N images NNNNNN.png from a trained GAN, diffusion model, VAE or flow (existing files are
    kept: resumable). The same folder, seed, index and sampler settings always give the same image."""
    from ganprint.cli.generative import sampler_settings
    from ganprint.device import resolve_device
    from ganprint.generative.sampling import is_generative_folder, sample_generative_to_folder

    settings = sampler_settings(sampler, sampler_steps, temperature, eta)
    try:
        if is_generative_folder(gan_dir):
            sample_generative_to_folder(gan_dir, n, out_dir, seed=seed, start_index=start,
                                        device=resolve_device(device), progress=not quiet, **settings)
        else:
            from ganprint.gans.sampling import sample_to_folder

            if settings:
                fail(f"--{next(iter(settings)).replace('_', '-')} applies to diffusion models, VAEs and flows, "
                     f"not to the GAN in {gan_dir}")
            sample_to_folder(gan_dir, n, out_dir, seed=seed, start_index=start, device=resolve_device(device),
                             progress=not quiet)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    click.echo(str(out_dir))


@gan_group.command("quality")
@opts.gan_dir_option()
@click.option("--real-source", "source", type=click.Choice(["mnist5k", "mnist", "photos", "cifar10"]), default=None,
              help="Real images to compare with (default: the named source the model trained on).")
@click.option("--n-images", "n", cls=opts.Option, aliases=["--n"], type=click.IntRange(min=10), default=1000,
              show_default=True, help="Samples to score.")
@opts.seed_option("Sample stream and the figures' own draws.")
@click.option("--sampler", default=None, help="Diffusion models: ddpm or ddim (default: the model's own).")
@click.option("--sampler-steps", type=click.IntRange(min=1), default=None, help="Diffusion models: denoising steps.")
@click.option("--eta", type=click.FloatRange(min=0.0, max=1.0), default=None, help="DDIM's eta.")
@click.option("--temperature", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="VAEs and flows: the prior's temperature.")
@click.option("--judge-epochs", type=click.IntRange(min=1), default=15, show_default=True,
              help="Digits: epochs of the judge (trained once per source and seed, then cached).")
@click.option("--networks", type=click.IntRange(min=1), default=5, show_default=True,
              help="Colour: feature networks of the Fréchet figure (trained once per source and seed, then cached).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the judge and feature networks are kept (default: $GANPRINT_CACHE or ~/.cache/ganprint).")
@opts.device_option
@opts.threads_option
@opts.quiet_option
def quality_cmd(gan_dir: Path, source: str | None, n: int, seed: int, sampler: str | None, sampler_steps: int | None,
                eta: float | None, temperature: float | None, judge_epochs: int, networks: int,
                cache_dir: Path | None, device: str, threads: int | None, quiet: bool) -> None:
    """Quality figures of a trained GAN, diffusion model, VAE or flow, printed as one JSON object.

    Digits (28x28): the independent judge's recognised share and k-NN precision and recall against
    real digits (targets in the studies: 0.9 and 0.5). Colour (32x32): the Fréchet figure (median over
    feature networks) and the SWD figure, each relative to real images, with their verdicts."""
    from ganprint.cli.generative import sampler_settings
    from ganprint.data.mnist import default_cache_dir
    from ganprint.device import resolve_device
    from ganprint.quality.model_quality import DIGIT_SOURCES, color_quality, digit_quality, sample_folder_images
    from ganprint.serialization import read_json

    set_threads(threads)
    config_path = gan_dir / "config.json"
    if not config_path.is_file():
        fail(f"{gan_dir} is not a model folder (no config.json)")
    trained_on = (read_json(config_path).get("data") or {}).get("source")
    source = source or (trained_on if trained_on in ("mnist5k", "mnist", "photos", "cifar10") else None)
    if source is None:
        fail(f"{gan_dir} trained on {trained_on!r}; name the real images to compare with (--real-source)")
    dev = resolve_device(device)
    cache = cache_dir or default_cache_dir()
    try:
        samples = sample_folder_images(gan_dir, n, seed=seed, device=dev,
                                       **sampler_settings(sampler, sampler_steps, temperature, eta))
        if source in DIGIT_SOURCES:
            if samples.shape[1:3] != (28, 28) or samples.shape[-1] != 1:
                fail(f"--real-source {source} holds 28x28 grey digits; the model makes {samples.shape[1:]} images")
            figures = digit_quality(samples, source, seed=seed, cache_dir=cache, device=dev,
                                    judge_epochs=judge_epochs, progress=not quiet)
        else:
            if samples.shape[1:] != (32, 32, 3):
                fail(f"--real-source {source} holds 32x32 colour images; the model makes {samples.shape[1:]} images")
            figures = color_quality(samples, source, seed=seed, cache_dir=cache, device=dev, networks=networks)
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        fail(str(exc))
    click.echo(json.dumps({"model": str(gan_dir), **figures}, default=float))


@gan_group.command("fit-inverter")
@opts.gan_dir_option("Trained GAN folder; the inverse model and threshold go to GAN_DIR/inverter.")
@click.option("--negatives", "negative_dirs", multiple=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of images NOT made by this generator (other generators, real images); repeatable.")
@click.option("--negative-source", "negative_sources", multiple=True, type=click.Choice(["photos", "cifar10"]),
              help="A named real source as negatives (its 'val' split); repeatable.")
@click.option("--n-negative-source", type=click.IntRange(min=1), default=200, show_default=True,
              help="Images taken from each --negative-source.")
@click.option("--n-pairs", "n_pairs", cls=opts.Option, aliases=["--n"], type=click.IntRange(min=1),
              default=opts.ConfigDefault(INVERTER_CONFIG, "n_pairs"), show_default=True,
              help="(z, G(z)) pairs the inverse model is trained on.")
@click.option("--epochs", cls=opts.Option, type=click.IntRange(min=1),
              default=opts.ConfigDefault(INVERTER_CONFIG, "epochs"),
              show_default=True)
@click.option("--search-steps", cls=opts.Option, type=click.IntRange(min=0),
              default=opts.ConfigDefault("ganprint.inversion.search:LatentSearchConfig", "steps"), show_default=True,
              help="Adam steps of latent optimisation per image.")
@click.option("--n-validation", cls=opts.Option, type=click.IntRange(min=1),
              default=opts.ConfigDefault("ganprint.inversion.verification:FitInverterConfig", "n_validation"),
              show_default=True, help="Fresh generator samples used as validation positives.")
@opts.seed_option()
@opts.device_option
@opts.threads_option
@opts.quiet_option
def fit_inverter_cmd(gan_dir: Path, negative_dirs: tuple[Path, ...], negative_sources: tuple[str, ...],
                     n_negative_source: int, n_pairs: int, epochs: int, search_steps: int, n_validation: int,
                     seed: int, device: str, threads: int | None, quiet: bool) -> None:
    """Fit the inverse model of a GAN (seed 000 §3.3) and choose the verification threshold.

    Prints the stored summary (cosine proximity, threshold, validation accuracy and ROC-AUC) as JSON.
    """
    import json

    import numpy as np

    from ganprint.data.decode import iter_image_paths
    from ganprint.data.folder import load_images
    from ganprint.device import resolve_device
    from ganprint.inversion import FitInverterConfig, InverterTrainConfig, LatentSearchConfig, fit_verifier
    from ganprint.serialization import read_json

    set_threads(threads)
    if not negative_dirs and not negative_sources:
        fail("give negatives: --negatives DIR and/or --negative-source NAME")
    try:
        channels, height, width = read_json(gan_dir / "config.json")["image_shape"]
        config = FitInverterConfig(
            train=InverterTrainConfig(n_pairs=n_pairs, epochs=epochs, seed=seed),
            search=LatentSearchConfig(steps=search_steps), n_validation=n_validation)
    except (KeyError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    parts = []
    if negative_dirs:
        loaded = load_images([(p, 0) for p in iter_image_paths(negative_dirs)], channels=channels,
                             size=(height, width), progress=not quiet)
        report_skipped(loaded.errors)
        parts.append(loaded.images)
    for source in negative_sources:
        from ganprint.data.photos import load_color_source

        try:
            parts.append(load_color_source(source, "val", n=n_negative_source, seed=seed))
        except (RuntimeError, ValueError) as exc:
            fail(str(exc))
    negatives = np.concatenate(parts) if parts else np.zeros((0, height, width, channels), np.uint8)
    if negatives.shape[-1] != channels:
        fail(f"the GAN draws {channels}-channel images; named sources give {negatives.shape[-1]}")
    if len(negatives) == 0:
        fail("no usable negative images")
    try:
        info = fit_verifier(gan_dir, negatives, config, device=resolve_device(device), progress=not quiet)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    summary = {k: info[k] for k in ("threshold", "cosine")}
    summary["validation"] = {k: v for k, v in info["validation"].items() if not isinstance(v, dict)}
    click.echo(json.dumps(summary))
