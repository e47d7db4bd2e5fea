"""`ganprint scan`: score a whole collection into Parquet shards, resumably (:mod:`ganprint.scan`)."""

from __future__ import annotations

import json
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import click

from ganprint.cli import options as opts
from ganprint.cli.common import fail, set_threads


@click.command("scan")
@opts.model_dir_option()
@click.argument("sources", nargs=-1, required=True)
@opts.out_dir_option("Results folder: manifest.json, files.parquet and shards/part-NNNNNN.parquet (one row per file).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this machine (one scoring process per CPU); ray: Ray Data, here or on "
                   "the cluster of --ray-address.")
@click.option("--ray-address", default=None, metavar="ADDR",
              help="Ray cluster to join (e.g. 10.0.0.5:6379, what `ray start --head` prints); "
                   "default: start a Ray instance on this machine.")
@opts.batch_size_option(512, "Images per model call (part of the scan's settings: it fixes the model's batches).")
@click.option("--shard-size", type=click.IntRange(min=1), default=4096, show_default=True,
              help="Files per result shard (the unit a resumed scan skips).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Scoring processes (local, on CPU; default: one per CPU, at most 16) or model actors "
                   "(ray; default: one per CPU of the cluster).")
@click.option("--force", is_flag=True, help="Replace the results of a scan with other arguments in --out.")
@opts.device_option
@opts.threads_option
@opts.quiet_option
@opts.json_option
def scan_cmd(model_dir: Path, sources: tuple[str, ...], out_dir: Path, engine: str, ray_address: str | None,
             batch_size: int, shard_size: int, workers: int | None, force: bool, device: str,
             threads: int | None, quiet: bool, as_json: bool) -> None:
    """Score every image under SOURCE... (files or folders, walked sorted by name) with the model and
    write one Parquet row per file to --out: path, size, sha256, label, probabilities, p_fake,
    unknown, known_score, or the file's error.

    Killed at any moment, the same command run again finishes the scan: finished shards are kept,
    nothing is scored twice. Run with other arguments into the same --out, it refuses (or, with
    --force, starts over). Read the results with `ganprint.scan.read_results(OUT)`, pandas, pyarrow
    or DuckDB (docs/scan.md). Exit status 0 when the scan finished, whatever the files held.
    """
    from ganprint.scan import ScanConfig, ScanError, run_scan

    set_threads(threads)
    try:
        config = ScanConfig(model_dir=model_dir, sources=sources, out=out_dir, engine=engine,
                            ray_address=ray_address, batch_size=batch_size, shard_size=shard_size,
                            device=device, workers=workers, force=force)
        with _progress_bar(quiet) as progress:
            summary = run_scan(config, progress=progress)
    except (ScanError, FileNotFoundError, ValueError, ConnectionError) as exc:
        fail(str(exc))
    except BrokenProcessPool:
        fail("a scoring worker process died (out of memory, or killed); the finished shards are kept: "
             "run the same command again to resume")
    if as_json:
        sys.stdout.write(json.dumps(summary.to_dict()) + "\n")
        return
    rate = summary.files_per_second
    click.echo(f"{summary.files} files in {summary.shards} shard(s) under {summary.out}; "
               f"{summary.scanned_now} scored now in {summary.seconds:.1f} s"
               + (f" ({rate:,.0f} files/s)" if rate else ""))
    labels = ", ".join(f"{k} {v}" for k, v in summary.labels.items()) or "none"
    click.echo(f"labels: {labels}; errors: {summary.errors}")


class _progress_bar:  # noqa: N801 - used as a context manager, like a function
    """A tqdm bar over files (rate and time left), fed by run_scan's progress callback."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = None

    def __enter__(self):
        return None if self.quiet else self.update

    def update(self, done: int, total: int, _scanned_now: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="file", file=sys.stderr,
                            dynamic_ncols=True, smoothing=0.1)
        else:
            self.bar.update(done - self.bar.n)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
