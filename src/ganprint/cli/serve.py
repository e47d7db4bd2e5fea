"""`ganprint serve` (being built: issue 30)."""

from __future__ import annotations

import click


@click.command("serve")
def serve_cmd() -> None:
    """Not available yet."""
    raise click.ClickException("ganprint serve is not available in this build yet")
