"""`ganprint robustness | immunise`: accuracy under perturbations, and fine-tuning against them (seed 004)."""

from __future__ import annotations

from pathlib import Path

import click

from ganprint.cli import options as opts
from ganprint.cli.common import (
    emit_json,
    fail,
    load_evaluation_or_fail,
    load_train_val_or_fail,
    open_model,
    report_skipped,
    scan_or_fail,
    set_threads,
)

PERTURB_HELP = ("NAME or NAME=S1,S2,... (repeatable): families noise, blur, jpeg, crop, brightness, gamma; "
                "default: every family at its default strengths.")
ROBUSTNESS_PNG = "robustness.png"


def _plot(reports: dict, path: Path, title: str) -> None:
    from ganprint.plots import plot_robustness
    from ganprint.robustness.perturbations import PERTURBATIONS

    path.parent.mkdir(parents=True, exist_ok=True)
    plot_robustness(reports, title, path, target_ranges={n: s.immunise_range for n, s in PERTURBATIONS.items()})


@click.command("robustness")
@opts.model_dir_option()
@opts.data_dir_option()
@opts.split_option()
@click.option("--perturb", "perturb", multiple=True, help=PERTURB_HELP)
@click.option("--plots", "plots_dir", type=opts.OutDir(), default=None,
              help=f"Write {ROBUSTNESS_PNG} (accuracy vs strength, one panel per perturbation) here.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None, hidden=True,
              help="Write the plot to this PNG file (older spelling of --plots).")
@opts.seed_option("Seed of the random perturbations (noise).")
@opts.json_option
@opts.device_option
@opts.threads_option
@opts.quiet_option
def robustness_cmd(model_dir: Path, data_dir: Path, split: str | None, perturb: tuple[str, ...],
                   plots_dir: Path | None, plot_path: Path | None, seed: int, as_json: bool, device: str,
                   threads: int | None, quiet: bool) -> None:
    """Accuracy of a model under noise, blur, JPEG, crop-and-resize and relighting at several strengths.

    Scores the test split when DATA has one, else every image; a loud warning (and "warnings" in
    the JSON: {"clean", "perturbations": {name: {strength: accuracy}}, "warnings"}) says when any
    of them trained or validated the model.
    """
    from ganprint.robustness import format_robustness, parse_perturb_options, robustness_report

    set_threads(threads)
    try:
        grid = parse_perturb_options(perturb)
    except (ValueError, KeyError) as exc:
        raise click.BadParameter(str(exc), param_hint="'--perturb'") from None
    model = open_model(model_dir, device)
    split, loaded, sources, warnings = load_evaluation_or_fail(model, model_dir, data_dir, split, quiet)
    try:
        report = robustness_report(model, loaded.images, sources, perturbations=grid, seed=seed)
    except (ValueError, KeyError) as exc:
        fail(str(exc))
    title = f"{model_dir.name} on {data_dir.name} ({split})"
    for path in (plot_path, None if plots_dir is None else plots_dir / ROBUSTNESS_PNG):
        if path is not None:
            _plot({model_dir.name: report}, path, title)
    if as_json:
        emit_json({**report, "warnings": warnings})
        return
    click.echo(f"{len(loaded.images)} images ({split} split)")
    click.echo(format_robustness({"accuracy": report}))
    for warning in warnings:  # again below the table it concerns
        click.echo(f"warning: {warning}", err=True)


IMMUNISE_CONFIG = "ganprint.robustness.immunise:ImmuniseConfig"


@click.command("immunise")
@opts.model_dir_option("A single-network model folder to fine-tune (it is not changed).")
@opts.data_dir_option("The training folder dataset (train/val splits, or one folder split 85/15).")
@opts.out_dir_option("Folder for the immunised model, robustness.json and robustness.png.")
@click.option("--epochs", cls=opts.Option, type=click.IntRange(min=1),
              default=opts.ConfigDefault(IMMUNISE_CONFIG, "epochs"),
              show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Learning rate (default: half the model's training rate).")
@click.option("--clean-fraction", cls=opts.Option, type=click.FloatRange(min=0, max=1),
              default=opts.ConfigDefault(IMMUNISE_CONFIG, "clean_fraction"), show_default=True,
              help="Share of each batch left unperturbed.")
@click.option("--weight", "weights", multiple=True,
              help="NAME=W (repeatable): draw family NAME W times as often as a family of weight 1 "
                   "(default crop=5, blur=2, others 1).")
@click.option("--range", "ranges", multiple=True,
              help="NAME=LOW:HIGH (repeatable): the strengths family NAME is trained at (default: the target "
                   "ranges, except crop=0.7:1 and blur=0:1.25, which reach beyond their targets).")
@click.option("--patience", cls=opts.Option, type=click.IntRange(min=1),
              default=opts.ConfigDefault(IMMUNISE_CONFIG, "patience"), show_default=True,
              help="Stop after this many epochs without a better perturbed-validation loss.")
@click.option("--perturb", "perturb", multiple=True,
              help="Families of the before/after table (as for `ganprint robustness`); default all.")
@opts.seed_option()
@opts.device_option
@opts.threads_option
@opts.quiet_option
def immunise_cmd(model_dir: Path, data_dir: Path, out_dir: Path, epochs: int, lr: float | None,
                 clean_fraction: float, weights: tuple[str, ...], ranges: tuple[str, ...],
                 patience: int, perturb: tuple[str, ...], seed: int,
                 device: str, threads: int | None, quiet: bool) -> None:
    """Fine-tune an attributor on randomly perturbed images (Yu et al.'s immunisation) and save it to OUT,
    with the robustness table before and after in OUT/robustness.json and OUT/robustness.png.

    The table is measured on the test split (or, without one, on the validation part). OUT records
    DATA as the data the model was trained on.
    """
    from ganprint.attribution.attributor import Attributor
    from ganprint.data.provenance import training_data_record, training_warnings, write_training_data
    from ganprint.data.splits import load_labelled
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
    model = open_model(model_dir, device)
    if not isinstance(model, Attributor):
        fail(f"{model_dir} is not a single-network attributor; immunise fine-tunes those only")
    dataset = scan_or_fail(data_dir)
    pre = model.preprocessing
    data = load_train_val_or_fail(dataset, pre.channels, pre.size, seed, quiet)
    x_tr, y_tr, x_va, y_va = data.x_train, data.y_train, data.x_val, data.y_val
    if not len(x_va):
        fail(f"{data_dir} gave no validation images; immunise needs them")
    if "test" in dataset.splits:
        test, y_te = load_labelled(dataset, "test", channels=pre.channels, size=pre.size, progress=not quiet)
        report_skipped(test.errors)
        x_te, where = test.images, "test"
    else:
        x_te, y_te, where = x_va, y_va, "validation part"
    try:
        before = robustness_report(model, x_te, y_te, perturbations=grid, seed=seed)
        immunise(model, x_tr, y_tr, x_va, y_va, config, progress=not quiet)
        after = robustness_report(model, x_te, y_te, perturbations=grid, seed=seed)
    except (ValueError, TypeError) as exc:
        fail(str(exc))
    model.save(out_dir)
    write_training_data(out_dir, training_data_record(dataset, data), training_warnings(data))
    write_json(out_dir / "robustness.json", {"evaluated_on": where, "n": len(x_te), "before": before,
                                             "after": after, "targets_after": target_check(after)})
    _plot({"before": before, "after": after}, out_dir / "robustness.png", f"immunisation ({where})")
    click.echo(format_robustness({"before": before, "after": after}))
    click.echo(str(out_dir))
