"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

device_option = click.option("--device", default="auto", show_default=True,
                             help="auto (CUDA if available, else CPU), cpu, cuda, cuda:N, mps.")
threads_option = click.option("--threads", type=int, default=None,
                              help="CPU threads for PyTorch (default: PyTorch's choice).")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")


def set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


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
