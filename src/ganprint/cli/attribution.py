"""`ganprint train | eval | predict`: attributors on any folder dataset."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np

from ganprint.cli.common import device_option, emit_json, fail, quiet_option, set_threads, threads_option


def _load_split(dataset, split: str, channels: int, size: tuple[int, int], quiet: bool):
    from ganprint.data.folder import load_images

    loaded = load_images(dataset.split(split), channels=channels, size=size, progress=not quiet,
                         desc=f"decoding {split}", workers=4)
    for path, error in loaded.errors:
        click.echo(f"skipped {path}: {error}", err=True)
    return loaded


@click.command("train")
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="DIR/<source>/... or DIR/train|val|test/<source>/...")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--arch", default="seed-mnist-cnn", show_default=True)
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=128, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--patience", type=int, default=3, show_default=True, help="Early-stopping patience (epochs).")
@click.option("--size", type=int, default=28, show_default=True, help="Input side in pixels.")
@click.option("--channels", type=click.Choice(["1", "3"]), default="1", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@device_option
@threads_option
@quiet_option
def train_cmd(data_dir: Path, out_dir: Path, arch: str, epochs: int, batch_size: int, lr: float, patience: int,
              size: int, channels: str, seed: int, device: str, threads: int | None, quiet: bool) -> None:
    """Train an attributor on a folder dataset and save it as a model folder."""
    from ganprint.attribution.attributor import Attributor, Preprocessing
    from ganprint.attribution.training import FitConfig
    from ganprint.data.folder import scan_folder_dataset, split_indices
    from ganprint.models import MODELS

    set_threads(threads)
    if arch not in MODELS:
        fail(f"unknown attributor architecture {arch!r}; known: {', '.join(MODELS.names())}")
    try:
        dataset = scan_folder_dataset(data_dir)
    except ValueError as exc:
        fail(str(exc))
    pre = Preprocessing(size=(size, size), channels=int(channels))
    classes = np.asarray(dataset.classes)
    if dataset.has_splits and "train" in dataset.splits:
        train = _load_split(dataset, "train", pre.channels, pre.size, quiet)
        val = _load_split(dataset, "val", pre.channels, pre.size, quiet) if "val" in dataset.splits else None
        x_tr, y_tr = train.images, classes[train.labels]
        x_va, y_va = (val.images, classes[val.labels]) if val is not None else (None, None)
    else:
        split = next(iter(dataset.splits))
        everything = _load_split(dataset, split, pre.channels, pre.size, quiet)
        parts = split_indices(everything.labels, fractions=(0.85, 0.15, 0.0), seed=seed)
        x_tr, y_tr = everything.images[parts["train"]], classes[everything.labels[parts["train"]]]
        x_va, y_va = everything.images[parts["val"]], classes[everything.labels[parts["val"]]]
    attributor = Attributor(arch=arch, preprocessing=pre, device=device,
                            fit_config=FitConfig(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
                                                 seed=seed))
    try:
        attributor.fit(x_tr, y_tr, x_va, y_va, progress=not quiet)
    except ValueError as exc:
        fail(str(exc))
    attributor.save(out_dir)
    click.echo(str(out_dir))


@click.command("eval")
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default=None, help="Split to evaluate (default: test if present, else all images).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@device_option
@threads_option
@quiet_option
def eval_cmd(model_dir: Path, data_dir: Path, split: str | None, as_json: bool, device: str,
             threads: int | None, quiet: bool) -> None:
    """Accuracy, per-class precision/recall/F1 and confusion matrix on a folder dataset."""
    from ganprint.attribution.attributor import Attributor
    from ganprint.attribution.metrics import classification_report, format_report
    from ganprint.data.folder import scan_folder_dataset

    set_threads(threads)
    try:
        attributor = Attributor.load(model_dir, device=device)
        dataset = scan_folder_dataset(data_dir)
        split = split or ("test" if "test" in dataset.splits else next(iter(dataset.splits)))
        pre = attributor.preprocessing
        loaded = _load_split(dataset, split, pre.channels, pre.size, quiet)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        fail(str(exc))
    classes = [str(c) for c in attributor.classes_]
    unknown = sorted(set(dataset.classes) - set(classes))
    if unknown:
        fail(f"sources not known to the model: {unknown} (model knows {classes})")
    true = np.asarray([classes.index(dataset.classes[i]) for i in loaded.labels], dtype=int)
    pred = attributor.predict_proba(loaded.images).argmax(1) if len(loaded.images) else np.zeros(0, int)
    report = classification_report(true, pred, classes)
    report.update(split=split, skipped=[{"path": str(p), "error": e} for p, e in loaded.errors])
    if as_json:
        emit_json(report)
    else:
        click.echo(format_report(report))


@click.command("predict")
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("paths", nargs=-1, required=True)
@click.option("--batch-size", type=int, default=512, show_default=True)
@device_option
@threads_option
def predict_cmd(model_dir: Path, paths: tuple[str, ...], batch_size: int, device: str,
                threads: int | None) -> None:
    """Score image files or folders: one JSON line per file on stdout.

    Exit status 0 when every file was scored, 1 when any file failed (its line holds "error").
    """
    from ganprint.attribution.attributor import Attributor
    from ganprint.attribution.predict import predict_paths

    set_threads(threads)
    try:
        attributor = Attributor.load(model_dir, device=device)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    failed = 0
    out = sys.stdout
    for record in predict_paths(attributor, paths, batch_size=batch_size):
        failed += "error" in record
        out.write(_dumps(record) + "\n")
    out.flush()
    if failed:
        click.echo(f"{failed} file(s) could not be scored", err=True)
        sys.exit(1)


def _dumps(record: dict) -> str:
    """ASCII JSON: file names that are not valid UTF-8 (surrogate escapes) still print."""
    import json

    return json.dumps(record)
