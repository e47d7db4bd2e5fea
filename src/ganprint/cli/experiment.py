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
              help="zoo: a folder dataset (DIR/train|val|test/<source>/) instead of the default MNIST group.")
@click.option("--unknown", "unknown_dirs", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="zoo with --data: folders of images from sources no model sees (repeatable).")
@click.option("--only", multiple=True, help="zoo: run only these architectures or model keys (repeatable).")
@click.option("--real-source", type=click.Choice(["mnist5k", "mnist"]), default=None,
              help="Real digits: bundled 5k (offline) or full MNIST via torchvision (internet).")
@device_option
@threads_option
@quiet_option
def run_cmd(name: str, profile: str, out_dir: Path, groups: tuple[str, ...], workers: int | None,
            data_dir: Path | None, unknown_dirs: tuple[Path, ...], only: tuple[str, ...],
            real_source: str | None, device: str, threads: int | None, quiet: bool) -> None:
    """Run (or resume) experiment NAME into OUT: results.json and report.md."""
    from ganprint.experiments.mnist_groups import MnistGroupsRun
    from ganprint.experiments.protocol import load_protocol_dict

    set_threads(threads)
    try:
        kind = load_protocol_dict(name).get("name")
        if kind == "zoo":
            _run_zoo(name, profile, out_dir, data_dir, unknown_dirs, only, workers, device, quiet)
            return
        if kind != "mnist-groups":
            fail(f"experiment {name!r} has no runner yet")
        run = MnistGroupsRun(out_dir, profile, protocol=name, groups=list(groups) or None, workers=workers,
                             device=device, progress=not quiet, real_source=real_source)
    except ValueError as exc:
        fail(str(exc))
    try:
        results = run.run()
    except RuntimeError as exc:  # e.g. full MNIST requested without internet
        fail(str(exc))
    click.echo(f"wrote {out_dir / 'results.json'} and {out_dir / 'report.md'} "
               f"in {results['wall_seconds']:.0f} s", err=True)
    for gname, g in results["groups"].items():
        click.echo(f"{gname}: accuracy {g['accuracy']:.4f} (seed {g['seed_accuracy']})")


def _run_zoo(name: str, profile: str, out_dir: Path, data_dir: Path | None, unknown_dirs: tuple[Path, ...],
             only: tuple[str, ...], workers: int | None, device: str, quiet: bool) -> None:
    from ganprint.experiments.zoo import ZooRun

    unknown = {Path(d).name: d for d in unknown_dirs}
    try:
        run = ZooRun(out_dir, profile, protocol=name, data_dir=data_dir, unknown_dirs=unknown, only=list(only) or None,
                     workers=workers, device=device, progress=not quiet)
        results = run.run()
    except ValueError as exc:
        fail(str(exc))
    click.echo(f"wrote {out_dir / 'results.json'} and {out_dir / 'report.md'} in {results['wall_seconds']:.0f} s",
               err=True)
    for key, row in sorted(results["models"].items(), key=lambda kv: -kv[1]["accuracy"]):
        auroc = ", ".join(f"{k} {v['unknown_auroc']:.3f}" for k, v in row["unknown"].items())
        click.echo(f"{key}: accuracy {row['accuracy']:.4f}, ECE {row['ece']:.4f}, {row['fit_seconds']:.0f} s"
                   + (f", unknown AUROC {auroc}" if auroc else ""))
