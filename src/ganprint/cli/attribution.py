"""`ganprint train | eval | predict | add-source`: attributors on any folder dataset."""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from pathlib import Path

import click
import numpy as np

from ganprint.attribution.defaults import AUTO_ARCH, TARGET_FPR
from ganprint.attribution.openset import ALL_SCORES, AUTO_SCORE
from ganprint.cli.common import Duration, device_option, emit_json, fail, quiet_option, set_threads, threads_option

CHECKPOINT = ".checkpoint"


def _load_split(dataset, split: str, channels: int, size: tuple[int, int], quiet: bool):
    from ganprint.data.folder import load_images

    loaded = load_images(dataset.split(split), channels=channels, size=size, progress=not quiet,
                         desc=f"decoding {split}", workers=4)
    for path, error in loaded.errors:
        click.echo(f"skipped {path}: {error}", err=True)
    return loaded


def _train_val(dataset, channels: int, size: tuple[int, int], seed: int, quiet: bool):
    """(x_train, y_train, x_val, y_val) with source names as labels: the dataset's train/val splits,
    or a stratified 85/15 split of the training images when there is no val split (the test split,
    if any, is never read)."""
    from ganprint.data.folder import split_indices

    classes = np.asarray(dataset.classes)
    if dataset.has_splits and "train" in dataset.splits and "val" in dataset.splits:
        train = _load_split(dataset, "train", channels, size, quiet)
        val = _load_split(dataset, "val", channels, size, quiet)
        return train.images, classes[train.labels], val.images, classes[val.labels]
    if dataset.has_splits and "train" not in dataset.splits:
        fail(f"{dataset.root} has split folders ({', '.join(dataset.splits)}) but no train/ to train on")
    split = "train" if dataset.has_splits else next(iter(dataset.splits))
    everything = _load_split(dataset, split, channels, size, quiet)
    parts = split_indices(everything.labels, fractions=(0.85, 0.15, 0.0), seed=seed)
    return (everything.images[parts["train"]], classes[everything.labels[parts["train"]]],
            everything.images[parts["val"]], classes[everything.labels[parts["val"]]])


def _load_model(model_dir: Path, device: str):
    from ganprint.attribution.loading import load_model

    try:
        return load_model(model_dir, device=device)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))


@click.command("train")
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="DIR/<source>/... or DIR/train|val|test/<source>/...")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--arch", default=AUTO_ARCH, show_default=True,
              help="auto (a few candidates trained within the time budget, the best on validation kept), "
                   "a registered architecture (`ganprint models`), two-stage (seed 003), residual-correlation "
                   "(training-free mean-residual baseline), or visnet (learned fingerprints, Yu et al.).")
@click.option("--representation", default=None,
              help="Input representation: pixels, pixels-std, dct or pixels+dct; default: the architecture's "
                   "recommended one (`ganprint models`; pixels for most).")
@click.option("--time-budget", type=Duration(), default=None,
              help="Wall time for training, e.g. 90s, 10m, 1h30m (default: train to convergence); the schedule "
                   "is fitted to it and training stops within it.")
@click.option("--recipe", "recipe_name", default="adam", show_default=True,
              help="Training recipe: adam (each architecture's measured settings), or seed002 (SGD momentum, "
                   "small last-layer lr, flips).")
@click.option("--epochs", type=int, default=None, help="Maximum epochs (default: the recipe's).")
@click.option("--batch-size", type=int, default=None, help="Override the recipe's batch size.")
@click.option("--lr", type=float, default=None, help="Override the recipe's learning rate.")
@click.option("--patience", type=int, default=None, help="Early-stopping patience in epochs (recipe's default).")
@click.option("--augment", type=click.Choice(["none", "photometric"]), default=None,
              help="Training augmentation (recipe's default: none); photometric varies every image's exposure, "
                   "contrast, gamma and saturation so that tone and colour stop telling sources apart.")
@click.option("--size", type=int, default=None, help="Input side in pixels (default: the training images' size).")
@click.option("--channels", type=click.Choice(["1", "3"]), default=None,
              help="1 (grey) or 3 (RGB); default: 3 when any source is in colour.")
@click.option("--real-class", default="real", show_default=True, help="The source name of real images.")
@click.option("--accept-rate", type=float, default=0.95, show_default=True,
              help="Share of known-source validation images accepted; the rest of the score range answers unknown.")
@click.option("--unknown-score", type=click.Choice([AUTO_SCORE, *ALL_SCORES]), default=AUTO_SCORE,
              show_default=True, help="Known-source score behind the 'unknown' answer; auto chooses it by leaving "
              "each known source out in turn.")
@click.option("--target-fpr", type=float, default=TARGET_FPR, show_default=True,
              help="Share of real validation images the p_fake operating threshold may call fake.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--force", is_flag=True, help="Replace a model already in --out.")
@device_option
@threads_option
@quiet_option
def train_cmd(data_dir: Path, out_dir: Path, arch: str, representation: str | None, time_budget: float | None,
              recipe_name: str, epochs: int | None, batch_size: int | None, lr: float | None, patience: int | None,
              augment: str | None, size: int | None, channels: str | None, real_class: str, accept_rate: float,
              unknown_score: str, target_fpr: float, seed: int, force: bool, device: str, threads: int | None,
              quiet: bool) -> None:
    """Train an attributor on a folder dataset and save it as a model folder.

    By default (--arch auto) ganprint's general-purpose CNN and a linear DCT model are trained and
    the better on the validation split is kept; the unknown-source score is chosen by leaving each
    known source out in turn. Input size and channels come from the images unless given.

    With --arch two-stage, the recipe trains the primary (real vs fake) module; the secondary
    one-vs-rest modules use their own settings (15 epochs, lr 3e-3, early stopping).

    An interrupted run resumes from OUT/.checkpoint when the same command is run again.
    """
    from ganprint.attribution.auto import AutoConfig, Candidate, train_auto
    from ganprint.attribution.training import format_seconds, recipe
    from ganprint.attribution.two_stage import SECONDARY_FIT, TwoStageAttributor
    from ganprint.data.folder import scan_folder_dataset
    from ganprint.data.representations import REPRESENTATIONS
    from ganprint.fingerprints.correlation import ARCH as CORRELATION
    from ganprint.fingerprints.correlation import ResidualCorrelationAttributor
    from ganprint.fingerprints.visnet import ARCH as VISNET
    from ganprint.fingerprints.visnet import VISNET_FIT, VisNetAttributor
    from ganprint.models import MODELS, default_representation

    set_threads(threads)
    if (out_dir / "config.json").is_file() and not force:
        fail(f"{out_dir} already holds a model; pass --force to replace it, or choose another --out")
    special = ("two-stage", CORRELATION, VISNET)
    if arch != AUTO_ARCH and arch not in special and arch not in MODELS:
        fail(f"unknown attributor architecture {arch!r}; known: "
             f"{', '.join([AUTO_ARCH, *MODELS.names(), *special])}")
    if representation is not None and representation not in REPRESENTATIONS:
        fail(f"unknown representation {representation!r}; known: {', '.join(REPRESENTATIONS.names())}")
    if arch == AUTO_ARCH and representation is not None:
        fail("--representation needs a named --arch (auto chooses the representation per candidate)")
    if size is not None and size < 1:
        fail(f"--size must be >= 1, got {size}")
    if not 0.0 <= target_fpr < 1.0:
        fail(f"--target-fpr must be in [0, 1), got {target_fpr}")
    overrides = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "patience": patience, "augment": augment}
    try:
        config = recipe(recipe_name, arch=None if arch == AUTO_ARCH else arch, seed=seed, time_budget=time_budget,
                        **overrides)
        dataset = scan_folder_dataset(data_dir)
    except ValueError as exc:
        fail(str(exc))
    pre = _preprocessing(dataset, size, channels, quiet)
    x_tr, y_tr, x_va, y_va = _train_val(dataset, pre.channels, pre.size, seed, quiet)
    def log(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    t0 = time.perf_counter()
    try:
        if arch == CORRELATION:  # training-free: per-source mean noise residuals
            model = ResidualCorrelationAttributor(preprocessing=pre, real_classes=(real_class,),
                                                  accept_rate=accept_rate).fit(x_tr, y_tr, x_va, y_va)
        elif arch == VISNET:  # learned model and image fingerprints (Yu et al. 2019)
            if (representation or "pixels") != "pixels" or recipe_name != "adam":
                fail("visnet takes pixels and trains with its own Adam settings (--epochs, --lr, ... override them)")
            fit = dataclasses.replace(VISNET_FIT, seed=seed, **{k: v for k, v in {
                "epochs": epochs, "batch_size": batch_size, "lr": lr, "patience": patience}.items() if v is not None})
            model = VisNetAttributor(preprocessing=pre, fit_config=fit, real_classes=(real_class,),
                                     accept_rate=accept_rate, device=device)
            model.fit(x_tr, y_tr, x_va, y_va, progress=not quiet, checkpoint_dir=out_dir / CHECKPOINT)
        elif arch == "two-stage":
            if (representation or "pixels") != "pixels":
                fail("the two-stage model takes pixels")
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
                               progress=not quiet, checkpoint_dir=out_dir / CHECKPOINT, log=log)
    except ValueError as exc:
        fail(str(exc))
    for stale in [out_dir / "config.json", *out_dir.glob("*.safetensors")]:  # the replaced model's files
        stale.unlink(missing_ok=True)
    model.save(out_dir)
    shutil.rmtree(out_dir / CHECKPOINT, ignore_errors=True)
    log(f"trained {getattr(model, 'arch', arch)} in {format_seconds(time.perf_counter() - t0)}")
    click.echo(str(out_dir))


def _preprocessing(dataset, size: int | None, channels: str | None, quiet: bool):
    """The model's input: the given size and channels, else what the training images are (and say so);
    warnings about sources that differ in size, colour or format are printed either way."""
    from ganprint.attribution.attributor import Preprocessing
    from ganprint.data.inspect import profile_dataset

    split = "train" if dataset.has_splits and "train" in dataset.splits else next(iter(dataset.splits))
    try:
        profile = profile_dataset(dataset.split(split), dataset.classes)
    except ValueError as exc:
        fail(f"{dataset.root}: {exc}")
    for warning in profile.warnings:
        click.echo(f"warning: {warning}", err=True)
    h, w = (size, size) if size is not None else profile.size
    c = int(channels) if channels is not None else profile.channels
    if not quiet and (size is None or channels is None):
        click.echo(f"input {h}x{w}, {'RGB' if c == 3 else 'grey'} (from the training images; --size and "
                   "--channels override)", err=True)
    return Preprocessing(size=(h, w), channels=c)


@click.command("add-source")
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder dataset holding the new source NAME and other sources (the negatives).")
@click.option("--name", required=True, help="The new source's folder name in DATA.")
@click.option("--epochs", type=int, default=None, help="Override the model's secondary-module epochs.")
@device_option
@threads_option
@quiet_option
def add_source_cmd(model_dir: Path, data_dir: Path, name: str, epochs: int | None, device: str,
                   threads: int | None, quiet: bool) -> None:
    """Add a source to a two-stage model: trains only the new one-vs-rest module, in place."""
    from ganprint.attribution.two_stage import TwoStageAttributor
    from ganprint.data.folder import scan_folder_dataset

    set_threads(threads)
    model = _load_model(model_dir, device)
    if not isinstance(model, TwoStageAttributor):
        fail(f"{model_dir} is a single-network attributor; only two-stage models (train --arch two-stage) "
             "can take a new source without retraining")
    try:
        dataset = scan_folder_dataset(data_dir)
    except ValueError as exc:
        fail(str(exc))
    if name not in dataset.classes:
        fail(f"{data_dir} has no source folder {name!r} (it has {', '.join(dataset.classes)})")
    if epochs is not None:
        model.secondary_config = dataclasses.replace(model.secondary_config, epochs=epochs)
    pre = model.preprocessing
    x_tr, y_tr, x_va, y_va = _train_val(dataset, pre.channels, pre.size, model.secondary_config.seed, quiet)
    try:
        model.add_source(name, x_tr, y_tr, x_va, y_va, progress=not quiet)
    except ValueError as exc:
        fail(str(exc))
    model.save(model_dir)
    click.echo(f"{model_dir}: sources now {', '.join(model.classes_)}")


@click.command("eval")
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default=None, help="Split to evaluate (default: test if present, else all images).")
@click.option("--unknown", "unknown_dirs", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Images of sources the model never saw (repeatable): unknown-source AUROC, open-set accuracy.")
@click.option("--tta", is_flag=True, help="Also vote over flips (seed 001) and report what it changes.")
@click.option("--audit-format", is_flag=True, help="Re-encode the images (PNG, JPEG 95/75/50) and report how "
              "accuracy moves; warn when the source is predictable from the file format.")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write confusion_matrix.png and reliability.png here.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@device_option
@threads_option
@quiet_option
def eval_cmd(model_dir: Path, data_dir: Path, split: str | None, unknown_dirs: tuple[Path, ...], tta: bool,
             audit_format: bool, plots_dir: Path | None, as_json: bool, device: str, threads: int | None,
             quiet: bool) -> None:
    """Accuracy, balanced accuracy, per-class precision/recall/F1, confusion matrix, calibration (ECE)
    and detection metrics on a folder dataset.

    Sources in DATA that the model does not know are treated as unseen generators: they are scored
    for detection (real vs fake), not attribution.
    """
    from ganprint.attribution.assess import assess
    from ganprint.attribution.evaluation import format_evaluation
    from ganprint.data.decode import iter_image_paths
    from ganprint.data.folder import load_images, scan_folder_dataset

    set_threads(threads)
    model = _load_model(model_dir, device)
    pre = model.preprocessing
    try:
        dataset = scan_folder_dataset(data_dir)
        split = split or ("test" if "test" in dataset.splits else next(iter(dataset.splits)))
        loaded = _load_split(dataset, split, pre.channels, pre.size, quiet)
    except (ValueError, KeyError) as exc:
        fail(str(exc))
    classes = [str(c) for c in model.classes_]
    sources = [dataset.classes[i] for i in loaded.labels]
    unseen = sorted(set(sources) - set(classes))
    if unseen and not any(c in classes for c in model.real_classes):
        fail(f"sources not known to the model: {unseen} (model knows {classes})")
    unknown = None
    if unknown_dirs:
        files = [(p, 0) for p in iter_image_paths(unknown_dirs)]
        unknown_loaded = load_images(files, channels=pre.channels, size=pre.size, progress=not quiet,
                                     desc="decoding unknown", workers=4)
        for path, error in unknown_loaded.errors:
            click.echo(f"skipped {path}: {error}", err=True)
        unknown = unknown_loaded.images
    try:
        report = assess(model, loaded.images, sources, unknown_images=unknown, tta=tta, audit_format=audit_format,
                        paths=loaded.paths, plots_dir=plots_dir)
    except ValueError as exc:
        fail(str(exc))
    report.update(split=split, skipped=[{"path": str(p), "error": e} for p, e in loaded.errors])
    history = getattr(model, "history_", {}) or {}
    for key in ("selection", "unknown_score_selection"):
        if key in history:
            report[key] = history[key]
    if as_json:
        emit_json(_jsonable(report))
        return
    click.echo(format_evaluation(report))
    click.echo(_format_choices(history))
    if "operating_point" in report:
        o = report["operating_point"]
        fpr, tpr = (("n/a" if v is None else f"{v:.4f}") for v in (o["false_positive_rate"], o["detection_rate"]))
        click.echo(f"operating point p_fake > {o['threshold']:.4g} (fitted for {o['target_fpr']:.1%} false positives "
                   f"on validation reals): false-positive rate {fpr} on {o['n_real']} real, detection rate {tpr} "
                   f"on {o['n_fake']} fake")
    if "open_set" in report:
        o = report["open_set"]
        click.echo(f"unknown sources: AUROC {o['unknown_auroc']:.4f}, open-set accuracy {o['open_set_accuracy']:.4f} "
                   f"(known accepted {o['known_accept_rate']:.3f}, unknown rejected {o['unknown_reject_rate']:.3f})")
    if "unseen_detection" in report:
        d = report["unseen_detection"]
        click.echo(f"unseen generators {', '.join(report['unseen_sources'])}: detection AUC "
                   f"{d['detection_auc'] if d['detection_auc'] is None else round(d['detection_auc'], 4)}")
    if "tta" in report:
        t = report["tta"]
        click.echo(f"test-time augmentation: accuracy {t['accuracy_plain']:.4f} -> {t['accuracy_tta']:.4f} "
                   f"({len(t['fixed'])} fixed, {len(t['broken'])} broken)")
    if "format_audit" in report:
        from ganprint.attribution.format_audit import format_audit_text

        click.echo(format_audit_text(report["format_audit"]))


def _format_choices(history: dict) -> str:
    """What the model chose on validation data: the candidate table and the unknown-source score."""
    lines = []
    selection = history.get("selection")
    if selection and len(selection.get("candidates", [])) > 1:
        lines.append("candidates (chosen on validation; " + selection.get("rule", "") + "):")
        for row in selection["candidates"]:
            figures = (f"val accuracy {row['val_accuracy']:.4f}, val loss {row['val_loss']:.4f}, "
                       if "val_accuracy" in row else "")
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
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("paths", nargs=-1, required=True)
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--tta", is_flag=True, help="Average over flips and vote (seed 001).")
@click.option("--heatmaps", "heatmaps_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write a CAM / Grad-CAM overlay per image here (single-network models).")
@click.option("--no-unknown", is_flag=True, help="Always answer a known source, never 'unknown'.")
@device_option
@threads_option
def predict_cmd(model_dir: Path, paths: tuple[str, ...], batch_size: int, tta: bool, heatmaps_dir: Path | None,
                no_unknown: bool, device: str, threads: int | None) -> None:
    """Score image files or folders: one JSON line per file on stdout,
    {"path", "label", "probabilities", "p_fake", "known_score"} or {"path", "error"}.

    "label" is "unknown" when the model's known-source score is below its calibrated threshold.
    Exit status 0 when every file was scored, 1 when any file failed (its line holds "error").
    """
    from ganprint.attribution.predict import predict_paths

    set_threads(threads)
    model = _load_model(model_dir, device)
    if heatmaps_dir is not None and not hasattr(model, "model_"):
        fail("heatmaps need a single-network attributor")
    failed = 0
    out = sys.stdout
    for record in predict_paths(model, paths, batch_size=batch_size, tta=tta, unknown=not no_unknown,
                                heatmaps_dir=heatmaps_dir):
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


@click.command("models")
@click.option("--size", type=click.IntRange(min=8), default=28, show_default=True,
              help="Input side at which parameters and FLOPs are counted.")
@click.option("--channels", type=click.Choice(["1", "3"]), default="1", show_default=True)
@click.option("--all-costs", is_flag=True, help="Also count the timm families' small variants (slower to build).")
def models_cmd(size: int, channels: str, all_costs: bool) -> None:
    """List attributor architectures (parameters and FLOPs per image), input representations and recipes."""
    from ganprint.attribution.auto import DEFAULT_CANDIDATES
    from ganprint.attribution.training import RECIPES
    from ganprint.data.representations import REPRESENTATIONS
    from ganprint.models import MODELS, arch_info, default_fit_options, default_representation
    from ganprint.models.registry import model_cost

    defaults = {c.arch: c.representation for c in DEFAULT_CANDIDATES}
    click.echo(f"architectures (parameters and FLOPs for one {size}x{size} {'RGB' if channels == '3' else 'grey'} "
               "image and 5 sources; * = a candidate of the default --arch auto):")
    click.echo(f"  {'auto':<24} train the candidates marked * within the time budget, keep the best on validation")
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
        click.echo(f"{mark} {name:<24} {cost:<26} {_first_sentence(info.description)}")
    for name, text in (("two-stage", "seed 003's primary real/fake module plus one-vs-rest modules per source"),
                       ("residual-correlation", "training-free: correlation with each source's mean noise residual"),
                       ("visnet", "Yu et al.'s learned model and image fingerprints")):
        click.echo(f"  {name:<24} {'':<26} {text}")
    click.echo("representations: " + ", ".join(REPRESENTATIONS.names()))
    click.echo("measured training settings (recipe adam; architectures not listed: pixels, the recipe's settings):")
    for name in MODELS.names():
        fit, rep = default_fit_options(name), default_representation(name)
        if fit or rep != "pixels":
            click.echo(f"  {name}: {rep}" + "".join(f", {k} {v}" for k, v in fit.items()))
    click.echo("recipes:         " + ", ".join(sorted(RECIPES)) + " (default adam)")


def _first_sentence(text: str, limit: int = 90) -> str:
    """The first sentence of ``text`` without reST markup, cut to ``limit`` characters."""
    plain = text.replace("``", "").replace(":class:", "").replace("`", "").replace("~", "")
    head = plain.split(". ")[0].split(": ")[0].rstrip(".")
    return head if len(head) <= limit else head[:limit - 1] + "…"
