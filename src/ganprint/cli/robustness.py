"""`ganprint robustness | immunise`: accuracy under perturbations, and fine-tuning against them (seed 004)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from ganprint.cli.common import device_option, emit_json, fail, quiet_option, set_threads, threads_option

PERTURB_HELP = ("NAME or NAME=S1,S2,... (repeatable): families noise, blur, jpeg, crop, brightness, gamma; "
                "default: every family at its default strengths.")


def _eval_split(dataset, split: str | None, model, quiet: bool):
    """The evaluation images and their source names: ``split``, else test when present, else everything."""
    from ganprint.cli.attribution import _load_split

    split = split or ("test" if "test" in dataset.splits else next(iter(dataset.splits)))
    loaded = _load_split(dataset, split, model.preprocessing.channels, model.preprocessing.size, quiet)
    return split, loaded.images, np.asarray(dataset.classes)[loaded.labels]


def _plot(reports: dict, path: Path, title: str) -> None:
    from ganprint.plots import plot_robustness
    from ganprint.robustness.perturbations import PERTURBATIONS

    path.parent.mkdir(parents=True, exist_ok=True)
    plot_robustness(reports, title, path, target_ranges={n: s.immunise_range for n, s in PERTURBATIONS.items()})


@click.command("robustness")
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default=None, help="Split to evaluate (default: test if present, else all images).")
@click.option("--perturb", "perturb", multiple=True, help=PERTURB_HELP)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write accuracy vs strength (one panel per perturbation) to this PNG.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random perturbations (noise).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"clean": acc, "perturbations": {name: {strength: acc}}} (strengths as strings).')
@device_option
@threads_option
@quiet_option
def robustness_cmd(model_dir: Path, data_dir: Path, split: str | None, perturb: tuple[str, ...],
                   plot_path: Path | None, seed: int, as_json: bool, device: str, threads: int | None,
                   quiet: bool) -> None:
    """Accuracy of a model under noise, blur, JPEG, crop-and-resize and relighting at several strengths."""
    from ganprint.cli.attribution import _load_model
    from ganprint.data.folder import scan_folder_dataset
    from ganprint.robustness import format_robustness, parse_perturb_options, robustness_report

    set_threads(threads)
    try:
        grid = parse_perturb_options(perturb)
    except (ValueError, KeyError) as exc:
        fail(str(exc))
    model = _load_model(model_dir, device)
    try:
        dataset = scan_folder_dataset(data_dir)
        split, images, sources = _eval_split(dataset, split, model, quiet)
        report = robustness_report(model, images, sources, perturbations=grid, seed=seed)
    except (ValueError, KeyError) as exc:
        fail(str(exc))
    if plot_path is not None:
        _plot({model_dir.name: report}, plot_path, f"{model_dir.name} on {data_dir.name} ({split})")
    if as_json:
        emit_json(report)
        return
    click.echo(f"{len(images)} images ({split} split)")
    click.echo(format_robustness({"accuracy": report}))


@click.command("immunise")
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The training folder dataset (train/val splits, or one folder split 85/15).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--epochs", type=int, default=25, show_default=True)
@click.option("--lr", type=float, default=None, help="Learning rate (default: half the model's training rate).")
@click.option("--clean-fraction", type=float, default=0.3, show_default=True,
              help="Share of each batch left unperturbed.")
@click.option("--weight", "weights", multiple=True,
              help="NAME=W (repeatable): draw family NAME W times as often as a family of weight 1 "
                   "(default crop=5, blur=2, others 1).")
@click.option("--range", "ranges", multiple=True,
              help="NAME=LOW:HIGH (repeatable): the strengths family NAME is trained at (default: the target "
                   "ranges, except crop=0.7:1 and blur=0:1.25, which reach beyond their targets).")
@click.option("--patience", type=int, default=4, show_default=True,
              help="Stop after this many epochs without a better perturbed-validation loss.")
@click.option("--perturb", "perturb", multiple=True,
              help="Families of the before/after table (as for `ganprint robustness`); default all.")
@click.option("--seed", type=int, default=0, show_default=True)
@device_option
@threads_option
@quiet_option
def immunise_cmd(model_dir: Path, data_dir: Path, out_dir: Path, epochs: int, lr: float | None,
                 clean_fraction: float, weights: tuple[str, ...], ranges: tuple[str, ...],
                 patience: int, perturb: tuple[str, ...], seed: int,
                 device: str, threads: int | None, quiet: bool) -> None:
    """Fine-tune an attributor on randomly perturbed images (Yu et al.'s immunisation) and save it to OUT,
    with the robustness table before and after in OUT/robustness.json and OUT/robustness.png.

    The table is measured on the test split (or, without one, on the validation part).
    """
    from ganprint.attribution.attributor import Attributor
    from ganprint.cli.attribution import _load_model, _load_split, _train_val
    from ganprint.data.folder import scan_folder_dataset
    from ganprint.robustness import (
        ImmuniseConfig,
        format_robustness,
        immunise,
        parse_family_ranges,
        parse_family_weights,
        parse_perturb_options,
        robustness_report,
        target_check,
    )
    from ganprint.serialization import write_json

    set_threads(threads)
    try:
        grid = parse_perturb_options(perturb)
        config = ImmuniseConfig(epochs=epochs, lr=lr, clean_fraction=clean_fraction, patience=patience,
                                weights=parse_family_weights(weights), ranges=parse_family_ranges(ranges), seed=seed)
    except (ValueError, KeyError) as exc:
        fail(str(exc))
    model = _load_model(model_dir, device)
    if not isinstance(model, Attributor):
        fail(f"{model_dir} is not a single-network attributor; immunise fine-tunes those only")
    try:
        dataset = scan_folder_dataset(data_dir)
    except ValueError as exc:
        fail(str(exc))
    pre = model.preprocessing
    x_tr, y_tr, x_va, y_va = _train_val(dataset, pre.channels, pre.size, seed, quiet)
    if x_va is None:
        fail(f"{data_dir} has train but no val split; immunise needs validation images")
    if "test" in dataset.splits:
        test = _load_split(dataset, "test", pre.channels, pre.size, quiet)
        x_te, y_te, where = test.images, np.asarray(dataset.classes)[test.labels], "test"
    else:
        x_te, y_te, where = x_va, y_va, "validation part"
    try:
        before = robustness_report(model, x_te, y_te, perturbations=grid, seed=seed)
        immunise(model, x_tr, y_tr, x_va, y_va, config, progress=not quiet)
        after = robustness_report(model, x_te, y_te, perturbations=grid, seed=seed)
    except (ValueError, TypeError) as exc:
        fail(str(exc))
    model.save(out_dir)
    write_json(out_dir / "robustness.json", {"evaluated_on": where, "n": len(x_te), "before": before,
                                             "after": after, "targets_after": target_check(after)})
    _plot({"before": before, "after": after}, out_dir / "robustness.png", f"immunisation ({where})")
    click.echo(format_robustness({"before": before, "after": after}))
    click.echo(str(out_dir))
