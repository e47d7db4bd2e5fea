"""`ganprint train | eval | predict | add-source`: attributors on any folder dataset."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import click
import numpy as np

from ganprint.attribution.defaults import AUTO_ARCH, TARGET_FPR
from ganprint.attribution.openset import ALL_SCORES, AUTO_SCORE
from ganprint.cli import options as opts
from ganprint.cli.common import (
    emit_json,
    fail,
    first_sentence,
    join_processes,
    load_evaluation_or_fail,
    load_train_val_or_fail,
    open_model,
    report_skipped,
    say,
    scan_or_fail,
    set_threads,
    warn,
)

CHECKPOINT = ".checkpoint"
SPECIAL_ARCHS = {
    "two-stage": "seed 003's primary real/fake module plus one-vs-rest modules per source",
    "residual-correlation": "training-free: correlation with each source's mean noise residual",
    "visnet": "Yu et al.'s learned model and image fingerprints",
}
"""Attributor kinds other than one registered network, with their one-line description."""


def _arch_names() -> list[str]:
    from ganprint.models import MODELS

    return [AUTO_ARCH, *MODELS.names(), *SPECIAL_ARCHS]


def _representation_names() -> list[str]:
    from ganprint.data.representations import REPRESENTATIONS

    return REPRESENTATIONS.names()


def _recipe_names() -> list[str]:
    from ganprint.attribution.training import RECIPES

    return sorted(RECIPES)


@click.command("train")
@opts.data_dir_option()
@opts.out_dir_option("Model folder to write (config.json and safetensors weights).")
@click.option("--arch", type=opts.LazyChoice(_arch_names), metavar="NAME", default=AUTO_ARCH, show_default=True,
              help="auto (a few candidates trained within the time budget, the best on validation kept), "
                   "a registered architecture (`ganprint models`), two-stage (seed 003), residual-correlation "
                   "(training-free mean-residual baseline), or visnet (learned fingerprints, Yu et al.).")
@click.option("--representation", type=opts.LazyChoice(_representation_names), metavar="NAME", default=None,
              help="Input representation: pixels, pixels-std, dct or pixels+dct; default: the architecture's "
                   "recommended one (`ganprint models`; pixels for most).")
@click.option("--time-budget", type=opts.Duration(), default=None,
              help="Wall time for training, e.g. 90s, 10m, 1h30m (default: train to convergence); the schedule "
                   "is fitted to it and training stops within it.")
@click.option("--recipe", "recipe_name", type=opts.LazyChoice(_recipe_names), metavar="NAME", default="adam",
              show_default=True, help="Training recipe: adam (each architecture's measured settings), or seed002 "
              "(SGD momentum, small last-layer lr, flips).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Maximum epochs (default: the recipe's).")
@opts.batch_size_option(None, "Override the recipe's batch size.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Override the recipe's learning rate.")
@click.option("--patience", type=click.IntRange(min=1), default=None,
              help="Early-stopping patience in epochs (recipe's default).")
@click.option("--augment", type=click.Choice(["none", "photometric"]), default=None,
              help="Training augmentation (recipe's default: none); photometric varies every image's exposure, "
                   "contrast, gamma and saturation so that tone and colour stop telling sources apart.")
@click.option("--image-size", cls=opts.Option, aliases=["--size"], type=click.IntRange(min=1), default=None,
              help="Input side in pixels (default: the training images' size).")
@click.option("--channels", type=click.Choice(["1", "3"]), default=None,
              help="1 (grey) or 3 (RGB); default: 3 when any source is in colour.")
@click.option("--real-class", default="real", show_default=True, help="The source name of real images.")
@click.option("--accept-rate", type=click.FloatRange(min=0, max=1, min_open=True), default=0.95, show_default=True,
              help="Share of known-source validation images accepted; the rest of the score range answers unknown.")
@click.option("--unknown-score", type=click.Choice([AUTO_SCORE, *ALL_SCORES]), default=AUTO_SCORE,
              show_default=True, help="Known-source score behind the 'unknown' answer; auto chooses it by leaving "
              "each known source out in turn.")
@click.option("--target-fpr", type=click.FloatRange(min=0, max=1, max_open=True), default=TARGET_FPR,
              show_default=True, help="Share of real validation images the p_fake operating threshold may call fake.")
@opts.seed_option()
@click.option("--force", is_flag=True, help="Replace a model already in --out.")
@opts.device_option
@opts.threads_option
@opts.quiet_option
def train_cmd(data_dir: Path, out_dir: Path, arch: str, representation: str | None, time_budget: float | None,
              recipe_name: str, epochs: int | None, batch_size: int | None, lr: float | None, patience: int | None,
              augment: str | None, image_size: int | None, channels: str | None, real_class: str,
              accept_rate: float, unknown_score: str, target_fpr: float, seed: int, force: bool, device: str,
              threads: int | None, quiet: bool) -> None:
    """Train an attributor on a folder dataset and save it as a model folder.

    By default (--arch auto) ganprint's general-purpose CNN and a linear DCT model are trained and
    the better on the validation split is kept; the unknown-source score is chosen by leaving each
    known source out in turn. Input size and channels come from the images unless given.

    Folders: DATA/train|val|test/<source>/ trains on train, validates on val and leaves test for
    `ganprint eval`; DATA/<source>/ holds out 15% of each source for validation and leaves nothing
    for a test. The model folder records which data it was trained on, so that `eval` and
    `robustness` warn when they score those images.

    With --arch two-stage, the recipe trains the primary (real vs fake) module; the secondary
    one-vs-rest modules use their own settings (15 epochs, lr 3e-3, early stopping).

    An interrupted run resumes from OUT/.checkpoint when the same command is run again.

    Under torchrun (`torchrun --nproc_per_node=N -m ganprint train ...`) the network trains in N
    processes with DistributedDataParallel on the same recipe (--batch-size is the global batch);
    rank 0 alone prints and writes OUT (docs/distributed.md).
    """
    from ganprint.attribution.auto import AutoConfig, Candidate, train_auto
    from ganprint.attribution.training import format_seconds, recipe
    from ganprint.attribution.two_stage import SECONDARY_FIT, TwoStageAttributor
    from ganprint.data.provenance import training_data_record, training_warnings, write_training_data
    from ganprint.fingerprints.correlation import ARCH as CORRELATION
    from ganprint.fingerprints.correlation import ResidualCorrelationAttributor
    from ganprint.fingerprints.visnet import ARCH as VISNET
    from ganprint.fingerprints.visnet import VISNET_FIT, VisNetAttributor
    from ganprint.models import default_representation

    set_threads(threads)
    dist = join_processes(device)  # several processes under torchrun: rank 0 alone prints and writes
    if dist.distributed:
        device, quiet = str(dist.device), quiet or not dist.is_main
    if (out_dir / "config.json").is_file() and not force:
        fail(f"{out_dir} already holds a model; pass --force to replace it, or choose another --out")
    if dist.distributed and arch in SPECIAL_ARCHS:
        fail(f"--arch {arch} trains in one process; run it without torchrun")
    if arch == AUTO_ARCH and representation is not None:
        raise click.BadParameter("needs a named --arch (auto chooses the representation per candidate)",
                                 param_hint="'--representation'")
    if arch in (VISNET, "two-stage") and (representation or "pixels") != "pixels":
        raise click.BadParameter(f"--arch {arch} takes pixels", param_hint="'--representation'")
    if arch == VISNET and recipe_name != "adam":
        raise click.BadParameter("visnet trains with its own Adam settings (--epochs, --lr, ... override them)",
                                 param_hint="'--recipe'")
    overrides = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "patience": patience, "augment": augment}
    try:
        config = recipe(recipe_name, arch=None if arch == AUTO_ARCH else arch, seed=seed, time_budget=time_budget,
                        **overrides)
    except ValueError as exc:
        fail(str(exc))
    dataset = scan_or_fail(data_dir)
    pre, warnings = _preprocessing(dataset, image_size, channels, quiet)
    data = load_train_val_or_fail(dataset, pre.channels, pre.size, seed, quiet)
    warnings += training_warnings(data)
    for warning in warnings if dist.is_main else ():
        warn(warning)
    present = sorted({str(c) for c in data.y_train})
    if len(present) < 2:
        fail(f"training needs images of at least two sources; {data_dir} has training images of "
             f"{len(present)}: {', '.join(present) or 'none'}")
    x_tr, y_tr, x_va, y_va = data.x_train, data.y_train, data.x_val, data.y_val

    def log(message: str) -> None:
        say(message, quiet)

    t0 = time.perf_counter()
    try:
        if arch == CORRELATION:  # training-free: per-source mean noise residuals
            model = ResidualCorrelationAttributor(preprocessing=pre, real_classes=(real_class,),
                                                  accept_rate=accept_rate).fit(x_tr, y_tr, x_va, y_va)
        elif arch == VISNET:  # learned model and image fingerprints (Yu et al. 2019)
            fit = dataclasses.replace(VISNET_FIT, seed=seed, **{k: v for k, v in {
                "epochs": epochs, "batch_size": batch_size, "lr": lr, "patience": patience}.items() if v is not None})
            model = VisNetAttributor(preprocessing=pre, fit_config=fit, real_classes=(real_class,),
                                     accept_rate=accept_rate, device=device)
            model.fit(x_tr, y_tr, x_va, y_va, progress=not quiet, checkpoint_dir=out_dir / CHECKPOINT)
        elif arch == "two-stage":
            model = TwoStageAttributor(preprocessing=pre, fit_config=config,
                                       secondary_config=dataclasses.replace(SECONDARY_FIT, seed=seed),
                                       real_class=real_class, device=device, accept_rate=accept_rate)
            model.fit(x_tr, y_tr, x_va, y_va, progress=not quiet)
        else:
            candidates = (AutoConfig.candidates if arch == AUTO_ARCH else
                          (Candidate(arch, representation or default_representation(arch)),))
            auto = AutoConfig(candidates=candidates, time_budget=time_budget, recipe=recipe_name,
                              fit_overrides=overrides, unknown_score=unknown_score, seed=seed)
            if time_budget is not None:
                log(f"time budget {format_seconds(time_budget)}")
            model = train_auto(x_tr, y_tr, x_va, y_va, preprocessing=pre, config=auto, device=device,
                               real_classes=(real_class,), accept_rate=accept_rate, target_fpr=target_fpr,
                               progress=not quiet, checkpoint_dir=out_dir / CHECKPOINT, log=log, dist=dist)
    except ValueError as exc:
        fail(str(exc))
    if not dist.is_main:
        return
    for stale in [out_dir / "config.json", *out_dir.glob("*.safetensors")]:  # the replaced model's files
        stale.unlink(missing_ok=True)
    model.save(out_dir)
    write_training_data(out_dir, training_data_record(dataset, data), warnings)
    shutil.rmtree(out_dir / CHECKPOINT, ignore_errors=True)
    log(f"trained {getattr(model, 'arch', arch)} in {format_seconds(time.perf_counter() - t0)}")
    click.echo(str(out_dir))


def _preprocessing(dataset, size: int | None, channels: str | None, quiet: bool):
    """The model's input (the given size and channels, else what the training images are, and say
    so) and the warnings about sources that differ in size, colour or format."""
    from ganprint.attribution.attributor import Preprocessing
    from ganprint.data.inspect import profile_dataset
    from ganprint.data.splits import training_files

    try:
        profile = profile_dataset(training_files(dataset), dataset.classes)
    except ValueError as exc:
        fail(f"{dataset.root}: {exc}")
    h, w = (size, size) if size is not None else profile.size
    c = int(channels) if channels is not None else profile.channels
    if size is None or channels is None:
        say(f"input {h}x{w}, {'RGB' if c == 3 else 'grey'} (from the training images; --image-size and "
            "--channels override)", quiet)
    return Preprocessing(size=(h, w), channels=c), list(profile.warnings)


@click.command("add-source")
@opts.model_dir_option("A two-stage model folder (train --arch two-stage); updated in place.")
@opts.data_dir_option("A folder dataset holding the new source NAME and other sources (the negatives).")
@click.option("--name", required=True, help="The new source's folder name in DATA.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Override the model's secondary-module epochs.")
@opts.device_option
@opts.threads_option
@opts.quiet_option
def add_source_cmd(model_dir: Path, data_dir: Path, name: str, epochs: int | None, device: str,
                   threads: int | None, quiet: bool) -> None:
    """Add a source to a two-stage model: trains only the new one-vs-rest module, in place."""
    from ganprint.attribution.two_stage import TwoStageAttributor
    from ganprint.data.provenance import read_training_data, read_warnings, write_training_data

    set_threads(threads)
    model = open_model(model_dir, device)
    if not isinstance(model, TwoStageAttributor):
        fail(f"{model_dir} is a single-network attributor; only two-stage models (train --arch two-stage) "
             "can take a new source without retraining")
    dataset = scan_or_fail(data_dir)
    if name not in dataset.classes:
        raise click.BadParameter(f"{data_dir} has no source folder {name!r} (it has {', '.join(dataset.classes)})",
                                 param_hint="'--name'")
    if epochs is not None:
        model.secondary_config = dataclasses.replace(model.secondary_config, epochs=epochs)
    pre = model.preprocessing
    data = load_train_val_or_fail(dataset, pre.channels, pre.size, model.secondary_config.seed, quiet)
    record, warnings = read_training_data(model_dir), read_warnings(model_dir)
    try:
        model.add_source(name, data.x_train, data.y_train, data.x_val, data.y_val, progress=not quiet)
    except ValueError as exc:
        fail(str(exc))
    model.save(model_dir)
    write_training_data(model_dir, record, warnings)  # the record of the data the model was trained on stays
    click.echo(f"{model_dir}: sources now {', '.join(model.classes_)}")


@click.command("eval")
@opts.model_dir_option()
@opts.data_dir_option()
@opts.split_option()
@click.option("--unknown", "unknown_dirs", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Images of sources the model never saw (repeatable): unknown-source AUROC, open-set accuracy.")
@click.option("--tta", is_flag=True, help="Also vote over flips (seed 001) and report what it changes.")
@click.option("--audit-format", is_flag=True, help="Re-encode the images (PNG, JPEG 95/75/50) and report how "
              "accuracy moves; warn when the source is predictable from the file format.")
@click.option("--plots", "plots_dir", type=opts.OutDir(), default=None,
              help="Write confusion_matrix.png and reliability.png here.")
@opts.json_option
@opts.device_option
@opts.threads_option
@opts.quiet_option
def eval_cmd(model_dir: Path, data_dir: Path, split: str | None, unknown_dirs: tuple[Path, ...], tta: bool,
             audit_format: bool, plots_dir: Path | None, as_json: bool, device: str, threads: int | None,
             quiet: bool) -> None:
    """Accuracy, balanced accuracy, per-class precision/recall/F1, confusion matrix, calibration (ECE)
    and detection metrics on a folder dataset.

    Scores the test split when DATA has one, else every image; a loud warning (and "warnings" in
    the JSON) says when any of them trained or validated the model.

    Sources in DATA that the model does not know are treated as unseen generators: they are scored
    for detection (real vs fake), not attribution.
    """
    from ganprint.attribution.assess import assess
    from ganprint.attribution.evaluation import format_evaluation
    from ganprint.data.decode import iter_image_paths
    from ganprint.data.folder import load_images

    set_threads(threads)
    model = open_model(model_dir, device)
    pre = model.preprocessing
    split, loaded, sources, warnings = load_evaluation_or_fail(model, model_dir, data_dir, split, quiet)
    sources = [str(s) for s in sources]
    classes = [str(c) for c in model.classes_]
    unseen = sorted(set(sources) - set(classes))
    if unseen and not any(c in classes for c in model.real_classes):
        fail(f"sources not known to the model: {unseen} (model knows {classes})")
    unknown = None
    if unknown_dirs:
        files = [(p, 0) for p in iter_image_paths(unknown_dirs)]
        unknown_loaded = load_images(files, channels=pre.channels, size=pre.size, progress=not quiet,
                                     desc="decoding unknown", workers=4)
        report_skipped(unknown_loaded.errors)
        unknown = unknown_loaded.images
    try:
        report = assess(model, loaded.images, sources, unknown_images=unknown, tta=tta, audit_format=audit_format,
                        paths=loaded.paths, plots_dir=plots_dir)
    except ValueError as exc:
        fail(str(exc))
    report.update(split=split, skipped=[{"path": str(p), "error": e} for p, e in loaded.errors],
                  warnings=warnings)
    history = getattr(model, "history_", {}) or {}
    for key in ("selection", "unknown_score_selection"):
        if key in history:
            report[key] = history[key]
    if as_json:
        emit_json(_jsonable(report))
        return
    click.echo(format_evaluation(report))
    for warning in warnings:  # again below the figures it concerns, where it is read
        warn(warning)
    click.echo(_format_choices(history))
    for key, line in _REPORT_LINES:
        if key in report:
            click.echo(line(report))
    if "format_audit" in report:
        from ganprint.attribution.format_audit import format_audit_text

        click.echo(format_audit_text(report["format_audit"]))



def _operating_point_line(report: dict) -> str:
    o = report["operating_point"]
    fpr, tpr = (("n/a" if v is None else f"{v:.4f}") for v in (o["false_positive_rate"], o["detection_rate"]))
    return (f"operating point p_fake > {o['threshold']:.4g} (fitted for {o['target_fpr']:.1%} false positives "
            f"on validation reals): false-positive rate {fpr} on {o['n_real']} real, detection rate {tpr} "
            f"on {o['n_fake']} fake")


def _open_set_line(report: dict) -> str:
    o = report["open_set"]
    return (f"unknown sources: AUROC {o['unknown_auroc']:.4f}, open-set accuracy {o['open_set_accuracy']:.4f} "
            f"(known accepted {o['known_accept_rate']:.3f}, unknown rejected {o['unknown_reject_rate']:.3f})")


def _unseen_line(report: dict) -> str:
    auc = report["unseen_detection"]["detection_auc"]
    return (f"unseen generators {', '.join(report['unseen_sources'])}: detection AUC "
            f"{auc if auc is None else round(auc, 4)}")


def _tta_line(report: dict) -> str:
    t = report["tta"]
    return (f"test-time augmentation: accuracy {t['accuracy_plain']:.4f} -> {t['accuracy_tta']:.4f} "
            f"({len(t['fixed'])} fixed, {len(t['broken'])} broken)")


_REPORT_LINES = (("operating_point", _operating_point_line), ("open_set", _open_set_line),
                 ("unseen_detection", _unseen_line), ("tta", _tta_line))
"""The optional lines of ``eval``'s text report, in order: the report key each needs and its line."""

def _format_choices(history: dict) -> str:
    """What the model chose on validation data: the candidate table and the unknown-source score."""
    from ganprint.attribution.card import candidate_figures

    lines = []
    selection = history.get("selection")
    if selection and len(selection.get("candidates", [])) > 1:
        lines.append("candidates (chosen on validation; " + selection.get("rule", "") + "):")
        for row in selection["candidates"]:
            figures = candidate_figures(row)
            lines.append(f"  {'*' if row.get('chosen') else ' '} {row['candidate']:<22} {figures}"
                         f"{row['epochs']} epochs, {row['seconds']:.0f}s")
    unknown = history.get("unknown_score_selection")
    if unknown and "chosen" in unknown:
        others = ", ".join(f"{k} {v:.3f}" for k, v in unknown["mean_auroc"].items())
        lines.append(f"unknown-source score {unknown['chosen']}: leave-one-source-out AUROC "
                     f"{unknown['estimated_auroc']:.3f} over {len(unknown['folds'])} held-out sources ({others})")
    return "\n".join(lines)


def _jsonable(obj):
    """numpy scalars/arrays and paths -> JSON types; NaN -> null."""
    import math

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


@click.command("predict")
@opts.model_dir_option()
@click.argument("paths", nargs=-1, required=True)
@opts.batch_size_option(256, "Images scored per batch.")
@click.option("--tta", is_flag=True, help="Average over flips and vote (seed 001).")
@click.option("--heatmaps", "heatmaps_dir", type=opts.OutDir(), default=None,
              help="Write a CAM / Grad-CAM overlay per image here (single-network models); its path is the "
                   "\"heatmap\" of the image's JSON line.")
@click.option("--no-unknown", is_flag=True, help="Always answer a known source, never 'unknown'.")
@opts.device_option
@opts.threads_option
def predict_cmd(model_dir: Path, paths: tuple[str, ...], batch_size: int, tta: bool, heatmaps_dir: Path | None,
                no_unknown: bool, device: str, threads: int | None) -> None:
    """Score image files or folders: one JSON line per file on stdout,
    {"path", "label", "probabilities", "p_fake", "known_score"} (with --heatmaps also "heatmap",
    the overlay's path) or {"path", "error"}.

    "label" is "unknown" when the model's known-source score is below its calibrated threshold.
    Exit status 0 when every file was scored, 1 when any file failed (its line holds "error").
    """
    from ganprint.attribution.predict import predict_paths

    set_threads(threads)
    model = open_model(model_dir, device)
    if heatmaps_dir is not None and not hasattr(model, "model_"):
        fail("heatmaps need a single-network attributor")
    failed = heatmaps = 0
    out = sys.stdout
    for record in predict_paths(model, paths, batch_size=batch_size, tta=tta, unknown=not no_unknown,
                                heatmaps_dir=heatmaps_dir):
        failed += "error" in record
        heatmaps += "heatmap" in record
        out.write(json.dumps(record) + "\n")
    out.flush()
    if heatmaps_dir is not None:
        click.echo(f"{heatmaps} heatmap overlay(s) in {heatmaps_dir} (each JSON line's \"heatmap\")", err=True)
    if failed:
        click.echo(f"{failed} file(s) could not be scored", err=True)
        sys.exit(1)


@click.command("models")
@click.option("--image-size", cls=opts.Option, aliases=["--size"], type=click.IntRange(min=8), default=28,
              show_default=True, help="Input side at which parameters and FLOPs are counted.")
@click.option("--channels", type=click.Choice(["1", "3"]), default="1", show_default=True)
@click.option("--all-costs", is_flag=True, help="Also count the timm families' small variants (slower to build).")
def models_cmd(image_size: int, channels: str, all_costs: bool) -> None:
    """List attributor architectures (parameters and FLOPs per image), input representations and
    recipes, one line each, defaults marked."""
    from ganprint.attribution.auto import DEFAULT_CANDIDATES
    from ganprint.attribution.training import RECIPES
    from ganprint.data.representations import REPRESENTATIONS
    from ganprint.models import MODELS, arch_info, default_fit_options, default_representation
    from ganprint.models.registry import model_cost

    size = image_size
    defaults = {c.arch: c.representation for c in DEFAULT_CANDIDATES}
    click.echo(f"architectures (parameters and FLOPs for one {size}x{size} {'RGB' if channels == '3' else 'grey'} "
               "image and 5 sources; * = a candidate of the default --arch auto):")
    click.echo(f"  {'auto (default)':<24} {'':<26} train the candidates marked * within the time budget, keep the "
               "best on validation")
    for name in MODELS.names():
        info = arch_info(name)
        if "standard" in info.tags:  # ImageNet-size networks: counting builds them, which takes long
            cost = "full size (GPU)"
        elif "small" in info.tags and not all_costs:
            cost = "(--all-costs)"
        else:
            try:
                params, flops = model_cost(name, in_chans=int(channels), input_size=size)
                cost = f"{params / 1e6:5.2f} M, {flops / 1e9:6.3f} GFLOP"
            except (ValueError, RuntimeError) as exc:
                cost = f"n/a at this size ({str(exc).splitlines()[0][:40]})"
        mark = "*" if name in defaults else " "
        click.echo(f"{mark} {name:<24} {cost:<26} {first_sentence(info.description)}")
    for name, text in SPECIAL_ARCHS.items():
        click.echo(f"  {name:<24} {'':<26} {text}")
    click.echo("representations (default: the architecture's own, below):")
    for name in REPRESENTATIONS.names():
        doc = first_sentence(REPRESENTATIONS.get(name).__doc__ or "", before_colon=False)
        click.echo(f"  {name:<24} {doc}")
    click.echo("measured training settings (recipe adam; architectures not listed: pixels, the recipe's settings):")
    for name in MODELS.names():
        fit, rep = default_fit_options(name), default_representation(name)
        if fit or rep != "pixels":
            click.echo(f"  {name}: {rep}" + "".join(f", {k} {_setting(k, v)}" for k, v in fit.items()))
    click.echo("recipes:")
    for name in sorted(RECIPES):
        doc = RECIPE_DESCRIPTIONS.get(name, "")
        click.echo(f"  {name + (' (default)' if name == 'adam' else ''):<24} {doc}")


RECIPE_DESCRIPTIONS = {
    "adam": "Adam, with each architecture's measured settings (above) on top",
    "seed002": "seed 002's SGD with momentum, a 20x smaller learning rate for the last layer, flips",
}


def _setting(key: str, value) -> str:
    """A training setting as a person reads it (``patience None`` means no early stopping)."""
    if value is None:
        return "off" if key == "patience" else "none"
    return str(value)
