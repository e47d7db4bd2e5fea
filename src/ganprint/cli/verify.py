"""`ganprint verify`: was each image made by this generator? (verification by inversion, seed 000 §3.3)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ganprint.cli import options as opts
from ganprint.cli.common import fail, set_threads


@click.command("verify")
@opts.gan_dir_option("GAN folder with an inverse model (`ganprint gan fit-inverter`).", aliases=["--generator"])
@click.argument("paths", nargs=-1, required=True)
@opts.batch_size_option(256, "Images checked per batch.")
@opts.device_option
@opts.threads_option
def verify_cmd(gan_dir: Path, paths: tuple[str, ...], batch_size: int, device: str, threads: int | None) -> None:
    """Check image files or folders: one JSON line per file on stdout,
    {"path", "match", "distance", "threshold"} or {"path", "error"}.

    "match" is true when the image's reconstruction distance (inverse model, then latent
    optimisation) is at most the threshold chosen on validation. Exit status 0 when every file was
    checked, 1 when any file failed (its line holds "error").
    """
    from ganprint.device import resolve_device
    from ganprint.inversion import Verifier, verify_paths

    set_threads(threads)
    try:
        verifier = Verifier.load(gan_dir, resolve_device(device))
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    failed = 0
    out = sys.stdout
    for record in verify_paths(verifier, paths, batch_size=batch_size):
        failed += "error" in record
        out.write(json.dumps(record) + "\n")
    out.flush()
    if failed:
        click.echo(f"{failed} file(s) could not be checked", err=True)
        sys.exit(1)
