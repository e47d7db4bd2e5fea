"""`ganprint fingerprint`: pictures of fingerprints.

* ``ganprint fingerprint [images] --model MODEL PATH... --out DIR``: a visNet model's learned
  model fingerprints, and for each image its fingerprint, its response to every model
  fingerprint and a bar plot of the responses marking the prediction (the GANFingerprints demo);
  ``images`` is the default subcommand, so its name may be left out.
* ``ganprint fingerprint spectra --data DIR --out OUT``: per-source signal fingerprints of a
  folder dataset (mean noise residual, mean FFT and DCT log spectra, side by side).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ganprint.cli import options as opts
from ganprint.cli.common import exception_text, fail, open_model, report_skipped, set_threads

DEFAULT_SUBCOMMAND = "images"


class _DefaultGroup(click.Group):
    """A group whose arguments go to :data:`DEFAULT_SUBCOMMAND` when they do not start with a
    subcommand's name, so ``fingerprint --model M a.png`` means ``fingerprint images --model M a.png``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [DEFAULT_SUBCOMMAND, *args]
        return super().parse_args(ctx, args)


@click.group("fingerprint", cls=_DefaultGroup)
def fingerprint_group() -> None:
    """Fingerprint pictures: a visNet model's fingerprints and responses for images (default
    subcommand ``images``), or per-source signal fingerprints of a dataset (``spectra``)."""


def _true_label(path: Path, classes: list[str]) -> str | None:
    """The source an image's parent folder names, when it is one of the model's classes."""
    return path.parent.name if path.parent.name in classes else None


@fingerprint_group.command("images")
@opts.model_dir_option("A visNet model folder (ganprint train --arch visnet).")
@click.argument("paths", nargs=-1, required=True)
@opts.out_dir_option()
@click.option("--max-images", "limit", cls=opts.Option, aliases=["--limit"], type=click.IntRange(min=1), default=None,
              help="At most this many images (folders can be large).")
@opts.device_option
@opts.threads_option
def images_cmd(model_dir: Path, paths: tuple[str, ...], out_dir: Path, limit: int | None, device: str,
               threads: int | None) -> None:
    """Write OUT/model_fingerprints.png, one OUT/NNNNNN_<name>.png panel per image (input, image
    fingerprint, responses, bar plot of response intensities) and OUT/responses.jsonl:
    {"path", "label", "responses": {source: r}, "probabilities", "panel"} or {"path", "error"}.

    A file that cannot be decoded gets an error line and the rest go on; exit status 1 when any
    file failed. An image under a folder named like a source is marked with that true source.
    """
    from itertools import islice

    import numpy as np

    from ganprint.data.decode import decode_or_error, iter_image_paths
    from ganprint.fingerprints.pictures import plot_fingerprint_panel, plot_model_fingerprints
    from ganprint.fingerprints.visnet import VisNetAttributor

    set_threads(threads)
    model = open_model(model_dir, device)
    if not isinstance(model, VisNetAttributor):
        fail(f"{model_dir} is a {getattr(model, 'arch', type(model).__name__)} model; learned fingerprints need "
             "a visNet model (ganprint train --arch visnet)")
    out_dir.mkdir(parents=True, exist_ok=True)
    classes = [str(c) for c in model.classes_]
    model_fps = model.model_fingerprints
    plot_model_fingerprints(model_fps, classes, out_dir / "model_fingerprints.png")
    pre = model.preprocessing
    failed = 0
    with open(out_dir / "responses.jsonl", "w", encoding="utf-8") as log:
        for i, path in enumerate(islice(iter_image_paths(paths), limit)):
            path, image, error = decode_or_error(path, pre.channels, pre.size)
            if error is not None:
                failed += 1
                record = {"path": str(path), "error": error}
                click.echo(f"skipped {path}: {error}", err=True)
            else:
                fp = model.fingerprints(image[None].copy())  # decoded arrays are read-only
                logits = fp["logits"][0]
                truth = _true_label(Path(path), classes)
                stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(path).stem)[:80] or "image"
                panel = out_dir / f"{i:06d}_{stem}.png"
                plot_fingerprint_panel(image, fp["image_fingerprint"][0], model_fps, fp["responses"][0], logits,
                                       classes, panel, true_label=truth)
                record = {"path": str(path), "label": classes[int(np.argmax(logits))],
                          "responses": {c: round(float(v), 6) for c, v in zip(classes, logits, strict=True)},
                          "probabilities": {c: round(float(v), 6)
                                            for c, v in zip(classes, fp["probabilities"][0], strict=True)},
                          "panel": str(panel)}
                if truth is not None:
                    record["true_source"] = truth
            log.write(json.dumps(record) + "\n")
            sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
    if failed:
        click.echo(f"{failed} file(s) could not be read", err=True)
        sys.exit(1)


@fingerprint_group.command("spectra")
@opts.data_dir_option()
@opts.out_dir_option()
@opts.split_option("Split to use (default: train if present, else all images).")
@click.option("--image-size", "size", cls=opts.Option, aliases=["--size"], type=click.IntRange(min=1), default=28,
              show_default=True, help="Images are resized to this side.")
@click.option("--channels", type=click.Choice(["1", "3"]), default="1", show_default=True)
@click.option("--denoiser", type=click.Choice(["median", "gaussian"]), default="median", show_default=True,
              help="Denoiser of the noise residual (image minus its denoised copy).")
@click.option("--max-per-source", type=click.IntRange(min=1), default=None,
              help="Use at most this many images per source.")
@opts.threads_option
@opts.quiet_option
def spectra_cmd(data_dir: Path, out_dir: Path, split: str | None, size: int, channels: str, denoiser: str,
                max_per_source: int | None, threads: int | None, quiet: bool) -> None:
    """Write OUT/signal_fingerprints.png (rows: mean noise residual, mean FFT and DCT log spectra,
    and each spectrum minus the mean over sources, where generator traces stand out; one column per
    source) and OUT/signal_fingerprints.safetensors (the maps)."""
    from ganprint.data.folder import scan_folder_dataset
    from ganprint.fingerprints.spectra import save_signal_fingerprints, signal_fingerprint_rows

    set_threads(threads)
    try:
        dataset = scan_folder_dataset(data_dir)
        split = split or ("train" if "train" in dataset.splits else next(iter(dataset.splits)))
        files = dataset.split(split)
    except (ValueError, KeyError) as exc:
        fail(exception_text(exc))
    from ganprint.data.folder import load_images

    if max_per_source is not None:
        files = _cap_per_source(files, max_per_source)
    loaded = load_images(files, channels=int(channels), size=(size, size), progress=not quiet,
                         desc=f"decoding {split}", workers=4)
    report_skipped(loaded.errors)
    if not len(loaded.images):
        fail(f"no readable images in {data_dir} ({split})")
    import numpy as np

    labels = np.asarray(dataset.classes)[loaded.labels]
    rows = signal_fingerprint_rows(loaded.images, labels, denoiser=denoiser)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = save_signal_fingerprints(rows, out_dir, title=f"signal fingerprints ({data_dir.name}, {split})")
    click.echo(str(png))


def _cap_per_source(files, n: int):
    """The first ``n`` files of each source (files are ``(path, label)`` pairs)."""
    seen: dict[int, int] = {}
    out = []
    for path, label in files:
        if seen.get(label, 0) < n:
            seen[label] = seen.get(label, 0) + 1
            out.append((path, label))
    return out
