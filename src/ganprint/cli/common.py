"""Helpers of the CLI commands, written once: one-line errors and warnings, progress messages,
JSON output, thread settings, loading a model or a labelled split with a clear error."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

__all__ = [
    "emit_json",
    "exception_text",
    "fail",
    "first_sentence",
    "join_processes",
    "load_evaluation_or_fail",
    "load_train_val_or_fail",
    "open_model",
    "report_skipped",
    "say",
    "scan_or_fail",
    "set_threads",
    "warn",
]

# -------------------------------------------------------------------------------------------------
# helpers


def set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def exception_text(exc: BaseException) -> str:
    """An exception's message (a KeyError's without the quotes ``str`` adds)."""
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def warn(message: str) -> None:
    """A warning the user must see, on stderr whatever ``--quiet`` says."""
    click.echo(f"warning: {message}", err=True)


def say(message: str, quiet: bool) -> None:
    """A progress message on stderr, unless ``quiet``."""
    if not quiet:
        click.echo(message, err=True)


def report_skipped(errors) -> None:
    """One stderr line per file that could not be decoded."""
    for path, error in errors:
        click.echo(f"skipped {path}: {error}", err=True)


def scan_or_fail(data_dir: Path):
    """The folder dataset in ``data_dir``, or a one-line error saying why it is not one."""
    from ganprint.data.folder import scan_folder_dataset

    try:
        return scan_folder_dataset(data_dir)
    except ValueError as exc:
        fail(str(exc))


def load_train_val_or_fail(dataset, channels: int, size: tuple[int, int], seed: int, quiet: bool):
    """:func:`ganprint.data.splits.load_train_val`, its skipped files reported, a one-line error
    when the folder cannot train."""
    from ganprint.data.splits import load_train_val

    try:
        data = load_train_val(dataset, channels=channels, size=size, seed=seed, progress=not quiet)
    except ValueError as exc:
        fail(str(exc))
    report_skipped(data.errors)
    return data


def load_evaluation_or_fail(model, model_dir: Path, data_dir: Path, split: str | None, quiet: bool):
    """The split an evaluation scores (name, decoded images, source names, warnings); a loud
    warning when the model trained or was validated on any of those images."""
    from ganprint.data.folder import scan_folder_dataset
    from ganprint.data.provenance import overlap_warning, read_training_data
    from ganprint.data.splits import evaluation_split, load_labelled

    pre = model.preprocessing
    try:
        dataset = scan_folder_dataset(data_dir)
        split = evaluation_split(dataset, split)
        loaded, sources = load_labelled(dataset, split, channels=pre.channels, size=pre.size, progress=not quiet)
    except (ValueError, KeyError) as exc:
        fail(exception_text(exc))
    report_skipped(loaded.errors)
    warnings = []
    overlap = overlap_warning(read_training_data(model_dir), dataset, split, loaded.paths)
    if overlap is not None:
        warnings.append(overlap)
        warn(overlap)
    return split, loaded, sources, warnings


def join_processes(device: str):
    """This process's :class:`~ganprint.distributed.DistContext`: under torchrun it joins the
    others (left again when the command ends), alone it is a context that does nothing. A bad
    torchrun environment is a one-line error."""
    from ganprint.device import resolve_device
    from ganprint.distributed import init_from_env

    try:
        dist = init_from_env(resolve_device(device))
    except ValueError as exc:
        fail(str(exc))
    click.get_current_context().call_on_close(dist.destroy)
    return dist


def open_model(model_dir: Path, device: str):
    """The model in ``model_dir`` (any kind), or a one-line error when it cannot be loaded."""
    from ganprint.attribution.loading import load_model

    try:
        return load_model(model_dir, device=device)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))


def first_sentence(text: str, limit: int = 90, *, before_colon: bool = True) -> str:
    """The first sentence of ``text`` (up to its first colon with ``before_colon``) without reST
    markup, cut to ``limit`` characters."""
    plain = re.sub(r":\w+:", "", " ".join(text.split())).replace("`", "").replace("~", "")
    head = re.split(r"(?<!\bal)\.(?:\s|$)", plain)[0]
    if before_colon:
        head = head.split(": ")[0]
    head = head.rstrip(".")
    return head if len(head) <= limit else head[:limit - 1] + "…"
