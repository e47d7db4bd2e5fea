"""`ganprint gan ...`: train and sample registered GANs on any folder of images."""

from __future__ import annotations

from pathlib import Path

import click

from ganprint.cli.common import device_option, fail, quiet_option, set_threads, threads_option


@click.group("gan")
def gan_group() -> None:
    """Train GANs of the zoo and sample images from them."""


@gan_group.command("list")
def list_cmd() -> None:
    """List the registered GAN architectures."""
    from ganprint.gans import GANS

    for name in GANS.names():
        click.echo(name)


@gan_group.command("train")
@click.option("--arch", default="mnist-dcgan", show_default=True, help="Registered GAN architecture.")
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of training images (searched recursively).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="GAN folder to write (safetensors + config.json); an unfinished one is resumed.")
@click.option("--epochs", type=int, default=200, show_default=True)
@click.option("--steps", type=int, default=None, help="Train this many steps instead of --epochs.")
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--lr", type=float, default=2e-4, show_default=True)
@click.option("--width", type=float, default=1.0, show_default=True, help="Channel-width multiplier.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--checkpoint-every", type=int, default=250, show_default=True, help="Steps between checkpoints.")
@device_option
@threads_option
@quiet_option
def train_cmd(arch: str, data_dir: Path, out_dir: Path, epochs: int, steps: int | None, batch_size: int,
              lr: float, width: float, seed: int, checkpoint_every: int, device: str, threads: int | None,
              quiet: bool) -> None:
    """Train a GAN on a folder of images (resumes an interrupted run)."""
    from ganprint.data.decode import iter_image_paths
    from ganprint.data.folder import load_images
    from ganprint.device import resolve_device
    from ganprint.gans import create_gan
    from ganprint.gans.config import GanTrainConfig
    from ganprint.gans.trainer import GanTrainer

    set_threads(threads)
    try:
        spec = create_gan(arch, width=width)
        cfg = GanTrainConfig(arch=arch, arch_options=spec.options, epochs=epochs, steps=steps,
                             batch_size=batch_size, lr=lr, seed=seed, checkpoint_every=checkpoint_every)
    except (KeyError, ValueError, TypeError) as exc:
        fail(str(exc))
    channels, height, width_px = spec.image_shape
    loaded = load_images([(p, 0) for p in iter_image_paths([data_dir])], channels=channels,
                         size=(height, width_px), progress=not quiet)
    for path, error in loaded.errors:
        click.echo(f"skipped {path}: {error}", err=True)
    if len(loaded.images) == 0:
        fail(f"no usable images under {data_dir}")
    click.echo(f"training {arch} on {len(loaded.images)} images from {data_dir}", err=True)
    GanTrainer(cfg, out_dir, resolve_device(device), data_info={"source": str(data_dir)}).fit(
        loaded.images, progress=not quiet)
    click.echo(str(out_dir))


@gan_group.command("sample")
@click.option("--gan", "gan_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--n", "n", required=True, type=click.IntRange(min=1), help="Number of images.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True, help="Latent stream; same seed, same images.")
@click.option("--start", type=int, default=0, show_default=True, help="Index of the first image.")
@device_option
@quiet_option
def sample_cmd(gan_dir: Path, n: int, out_dir: Path, seed: int, start: int, device: str, quiet: bool) -> None:
    """Write N images NNNNNN.png from a trained GAN (existing files are kept: resumable)."""
    from ganprint.device import resolve_device
    from ganprint.gans.sampling import sample_to_folder

    try:
        sample_to_folder(gan_dir, n, out_dir, seed=seed, start_index=start, device=resolve_device(device),
                         progress=not quiet)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    click.echo(str(out_dir))
