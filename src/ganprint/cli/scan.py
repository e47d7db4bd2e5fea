"""`ganprint scan` (being built: issue 30)."""

from __future__ import annotations

import click


@click.command("scan")
def scan_cmd() -> None:
    """Not available yet."""
    raise click.ClickException("ganprint scan is not available in this build yet")
