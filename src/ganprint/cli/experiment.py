"""`ganprint experiment ...`: run the shipped study protocols."""

from __future__ import annotations

from pathlib import Path

import click

from ganprint.cli.common import device_option, fail, quiet_option, set_threads, threads_option


@click.group("experiment")
def experiment_group() -> None:
    """Reproduce published studies (protocols shipped as YAML in the package)."""


@experiment_group.command("list")
def list_cmd() -> None:
    """List the shipped experiment protocols."""
    from ganprint.experiments.protocol import list_protocols

    for name in list_protocols():
        click.echo(name)


@experiment_group.command("run")
@click.argument("name")
@click.option("--profile", default="quick", show_default=True, help="quick (CPU minutes), paper (seed exact), tiny.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--group", "groups", multiple=True, help="Run only these groups (repeatable).")
@click.option("--workers", type=int, default=None, help="Parallel GAN-training processes (default: CPU count).")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A folder dataset (DIR/train|val|test/<source>/) instead of the default data, where the "
                   "experiment supports it (zoo).")
@click.option("--unknown", "unknown_dirs", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="With --data: folders of images from sources no model sees (repeatable).")
@click.option("--only", multiple=True, help="Run only these parts (zoo: architectures or model keys; repeatable).")
@click.option("--real-source", type=click.Choice(["mnist5k", "mnist"]), default=None,
              help="Real digits: bundled 5k (offline) or full MNIST via torchvision (internet).")
@device_option
@threads_option
@quiet_option
def run_cmd(name: str, profile: str, out_dir: Path, groups: tuple[str, ...], workers: int | None,
            data_dir: Path | None, unknown_dirs: tuple[Path, ...], only: tuple[str, ...],
            real_source: str | None, device: str, threads: int | None, quiet: bool) -> None:
    """Run (or resume) experiment NAME into OUT: results.json and report.md."""
    from ganprint.experiments.runners import RunRequest, run_experiment, summary_lines

    set_threads(threads)
    request = RunRequest(protocol=name, out_dir=out_dir, profile=profile, groups=groups, only=only, workers=workers,
                         data_dir=data_dir, unknown_dirs={Path(d).name: Path(d) for d in unknown_dirs},
                         real_source=real_source, device=device, progress=not quiet)
    try:
        results = run_experiment(request)
    except (ValueError, RuntimeError) as exc:  # bad options; e.g. full MNIST requested without internet
        fail(str(exc))
    wall = results.get("wall_seconds")
    click.echo(f"wrote {out_dir / 'results.json'} and {out_dir / 'report.md'}"
               + (f" in {wall:.0f} s" if wall is not None else ""), err=True)
    for line in summary_lines(request, results):
        click.echo(line)
