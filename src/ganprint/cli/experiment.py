"""`ganprint experiment ...`: run the shipped study protocols."""

from __future__ import annotations

from pathlib import Path

import click

from ganprint.cli import options as opts
from ganprint.cli.common import fail, set_threads

RUN_REQUEST = "ganprint.experiments.runners:RunRequest"
DEFAULT_PROFILE = opts.ConfigDefault(RUN_REQUEST, "profile")


def _protocol_profiles() -> dict[str, list[str]]:
    """Each shipped protocol's profiles, in file order."""
    from ganprint.experiments.protocol import list_protocols, load_protocol_dict

    return {name: list(load_protocol_dict(name).get("profiles") or {}) for name in list_protocols()}


def _all_profiles() -> list[str]:
    return sorted({p for profiles in _protocol_profiles().values() for p in profiles})


@click.group("experiment")
def experiment_group() -> None:
    """Reproduce published studies (protocols shipped as YAML in the package)."""


@experiment_group.command("list")
def list_cmd() -> None:
    """List the shipped studies, one line each: name, title and profiles (the default marked *)."""
    from ganprint.experiments.protocol import list_protocols, load_protocol_dict

    default = DEFAULT_PROFILE()
    for name in list_protocols():
        protocol = load_protocol_dict(name)
        profiles = ", ".join(p + ("*" if p == default else "") for p in protocol.get("profiles") or {})
        click.echo(f"{name:<14} {protocol.get('title', '')} (profiles: {profiles})")
    click.echo("(* = the default --profile of `ganprint experiment run`)")


@experiment_group.command("run")
@click.argument("name")
@click.option("--profile", cls=opts.Option, type=opts.LazyChoice(_all_profiles), default=DEFAULT_PROFILE,
              show_default=True,
              help="quick (CPU minutes), paper (the paper's settings exactly, where a study has them), tiny "
                   "(seconds, for tests); `ganprint experiment list` shows each study's.")
@opts.out_dir_option("Run folder: resolved config, checkpoints, results.json and report.md; a rerun resumes.")
@click.option("--group", "groups", multiple=True, help="Run only these groups (repeatable).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parallel GAN-training processes (default: CPU count).")
@opts.data_dir_option("A folder dataset (DIR/train|val|test/<source>/) instead of the default data, where the "
                 "experiment supports it (zoo).", required=False)
@click.option("--unknown", "unknown_dirs", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="With --data: folders of images from sources no model sees (repeatable).")
@click.option("--only", multiple=True, help="Run only these parts (zoo: architectures or model keys; repeatable).")
@click.option("--real-source", type=click.Choice(["mnist5k", "mnist"]), default=None,
              help="Real digits: bundled 5k (offline) or full MNIST via torchvision (internet).")
@click.option("--seeds", cls=opts.Option, type=click.IntRange(min=1), default=opts.ConfigDefault(RUN_REQUEST, "seeds"),
              show_default=True,
              help="Run the study N times, its random parts (GANs, data draws, model initialisation) seeded "
                   "differently each time, into OUT/seed-0 ... OUT/seed-<N-1> (a rerun resumes each), and report "
                   "each headline figure's mean, standard deviation and 95% interval in OUT/report.md, the "
                   "verdict against the target read from the interval. Multiplies the run time by N.")
@opts.device_option
@opts.threads_option
@opts.quiet_option
def run_cmd(name: str, profile: str, out_dir: Path, groups: tuple[str, ...], workers: int | None,
            data_dir: Path | None, unknown_dirs: tuple[Path, ...], only: tuple[str, ...],
            real_source: str | None, seeds: int, device: str, threads: int | None, quiet: bool) -> None:
    """Run (or resume) experiment NAME into OUT: results.json and report.md."""
    from ganprint.experiments.runners import RunRequest, run_experiment, summary_lines

    set_threads(threads)
    profiles = _protocol_profiles().get(name)
    if profiles is not None and profile not in profiles:
        raise click.BadParameter(f"{profile!r} is not a profile of {name}; its profiles: {', '.join(profiles)}",
                                 param_hint="'--profile'")
    request = RunRequest(protocol=name, out_dir=out_dir, profile=profile, groups=groups, only=only, workers=workers,
                         data_dir=data_dir, unknown_dirs={Path(d).name: Path(d) for d in unknown_dirs},
                         real_source=real_source, device=device, progress=not quiet, seeds=seeds)
    try:
        results = run_experiment(request)
    except (ValueError, RuntimeError) as exc:  # bad options; e.g. full MNIST requested without internet
        fail(str(exc))
    wall = results.get("wall_seconds")
    click.echo(f"wrote {out_dir / 'results.json'} and {out_dir / 'report.md'}"
               + (f" in {wall:.0f} s" if wall is not None else ""), err=True)
    for line in summary_lines(request, results):
        click.echo(line)
