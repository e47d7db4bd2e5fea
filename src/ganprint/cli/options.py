"""Option types and the options every command shares, declared once.

Every command takes its folders, device, threads, random seed, quiet and JSON switches from here,
so the same thing has the same name, type and check everywhere. A value that does not parse is a
one-line usage error naming the option (exit status 2), never a traceback. Option types check
syntax only and import nothing heavy (the CLI starts without importing torch); a requested device
that this machine lacks is also refused while parsing. Commands use them through the module
(``from ganprint.cli import options as opts``; ``@opts.device_option``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import click

__all__ = [
    "ConfigDefault",
    "DataDir",
    "DeviceType",
    "Duration",
    "LazyChoice",
    "ModelDir",
    "Option",
    "OutDir",
    "batch_size_option",
    "data_dir_option",
    "device_option",
    "gan_dir_option",
    "json_option",
    "model_dir_option",
    "out_dir_option",
    "quiet_option",
    "seed_option",
    "split_option",
    "threads_option",
]

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


# -------------------------------------------------------------------------------------------------
# option class and types


class Option(click.Option):
    """A click option that also answers to ``aliases``: older spellings kept so that existing
    scripts keep working, accepted on the command line but left out of ``--help``."""

    def __init__(self, param_decls: Sequence[str], *, aliases: Iterable[str] = (), **kwargs: Any) -> None:
        self.aliases = tuple(aliases)
        super().__init__([*param_decls, *self.aliases], **kwargs)

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        saved = self.opts, self.default
        self.opts = [o for o in self.opts if o not in self.aliases]
        if isinstance(self.default, ConfigDefault):  # show the value, not "(dynamic)"
            self.default = self.default()
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts, self.default = saved

    def get_error_hint(self, ctx: click.Context) -> str:
        return f"'{self.opts[0]}'"


class ConfigDefault:
    """The default of field ``field`` of the config dataclass ``config`` (``"module:Class"``), read
    when it is needed: an option whose ``default`` is one of these takes the library's default
    instead of restating it, and :class:`Option` shows its value in ``--help``."""

    def __init__(self, config: str, field: str) -> None:
        self.config, self.field = config, field

    def __call__(self) -> Any:
        import dataclasses
        import importlib

        module, _, name = self.config.partition(":")
        spec = getattr(importlib.import_module(module), name).__dataclass_fields__[self.field]
        return spec.default_factory() if spec.default is dataclasses.MISSING else spec.default


class DeviceType(click.ParamType):
    """``auto`` (CUDA if available, else MPS, else CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    The spelling is checked without importing torch; an explicit ``cuda``/``mps`` device is also
    checked against the machine, so that asking for a missing GPU is a usage error too."""

    name = "device"
    _SPEC = re.compile(r"(auto|cpu|mps|cuda)(?::(\d+))?")
    CHOICES = "auto, cpu, cuda, cuda:N, mps"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().lower()
        match = self._SPEC.fullmatch(text)
        if match is None or (match.group(2) is not None and match.group(1) != "cuda"):
            self.fail(f"{value!r} is not a device; use one of {self.CHOICES}", param, ctx)
        kind, index = match.group(1), match.group(2)
        if kind in ("cuda", "mps"):
            import torch

            if kind == "cuda" and not torch.cuda.is_available():
                self.fail(f"{value!r}: CUDA is not available on this machine (use auto or cpu)", param, ctx)
            if kind == "cuda" and index is not None and int(index) >= torch.cuda.device_count():
                self.fail(f"{value!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                          f"numbered from 0", param, ctx)
            mps = getattr(torch.backends, "mps", None)
            if kind == "mps" and not (mps is not None and mps.is_available()):
                self.fail(f"{value!r}: MPS is not available on this machine (use auto or cpu)", param, ctx)
        return text


class Duration(click.ParamType):
    """A duration: ``90`` or ``90s`` (seconds), ``10m``, ``1h``, ``1h30m``; converted to seconds."""

    name = "duration"
    _PART = re.compile(r"(\d+(?:\.\d+)?)\s*([hms]?)")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            seconds = float(value)
        else:
            text = str(value).strip().lower()
            parts = self._PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
                self.fail(f"{value!r} is not a duration (examples: 90s, 10m, 1h30m)", param, ctx)
            seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1, "": 1}[u] for n, u in parts)
        if not seconds > 0:
            self.fail(f"{value!r} must be longer than 0 seconds", param, ctx)
        return seconds


class LazyChoice(click.Choice):
    """A :class:`click.Choice` whose choices come from ``load()`` on first use (a registry, the
    shipped protocols), so that building the CLI imports nothing heavy."""

    def __init__(self, load: Callable[[], Iterable[str]], case_sensitive: bool = True) -> None:
        self._load = load
        self._choices: tuple[str, ...] | None = None
        self.case_sensitive = case_sensitive

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        if self._choices is None:
            self._choices = tuple(self._load())
        return self._choices


def ModelDir() -> click.Path:  # noqa: N802 - a type, spelled like one
    """An existing model folder."""
    return click.Path(exists=True, file_okay=False, path_type=Path)


def DataDir() -> click.Path:  # noqa: N802
    """An existing folder of images (a folder dataset, or a GAN folder)."""
    return click.Path(exists=True, file_okay=False, path_type=Path)


def OutDir() -> click.Path:  # noqa: N802
    """A folder to write; created when missing, never a file."""
    return click.Path(file_okay=False, path_type=Path)


# -------------------------------------------------------------------------------------------------
# shared options


def model_dir_option(help: str = "Model folder written by `ganprint train`.") -> Decorator:  # noqa: A002
    return click.option("--model", "model_dir", required=True, type=ModelDir(), help=help)


def data_dir_option(help: str = "Folder dataset: DIR/<source>/... or DIR/train|val|test/<source>/...",  # noqa: A002
                    required: bool = True) -> Decorator:
    return click.option("--data", "data_dir", required=required, type=DataDir(), default=None, help=help)


def out_dir_option(help: str = "Folder to write (created when missing).") -> Decorator:  # noqa: A002
    return click.option("--out", "out_dir", required=True, type=OutDir(), help=help)


def gan_dir_option(help: str = "Model folder written by `ganprint gan train` (a GAN, diffusion model, VAE or flow).",  # noqa: A002, E501
                   aliases: Iterable[str] = ()) -> Decorator:
    return click.option("--gan", "gan_dir", cls=Option, aliases=aliases, required=True, type=DataDir(), help=help)


def seed_option(help: str = "Random seed (same seed, same result).") -> Decorator:  # noqa: A002
    return click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help=help)


def batch_size_option(default: int | None, help: str = "Images per batch.") -> Decorator:  # noqa: A002
    return click.option("--batch-size", type=click.IntRange(min=1), default=default,
                        show_default=default is not None, help=help)


def _split_names() -> list[str]:
    from ganprint.data.folder import SPLIT_ALIASES

    return [*SPLIT_ALIASES, "all"]


def split_option(help: str = "Split to score (default: test if present, else all images).") -> Decorator:  # noqa: A002
    return click.option("--split", type=LazyChoice(_split_names, case_sensitive=False), default=None, help=help)


device_option = click.option("--device", type=DeviceType(), default="auto", show_default=True,
                             help=f"{DeviceType.CHOICES} (auto: CUDA if available, else MPS, else CPU).")
threads_option = click.option("--threads", type=click.IntRange(min=1), default=None,
                              help="CPU threads for PyTorch (default: PyTorch's choice).")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars or progress messages.")
json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
