"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import json
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
