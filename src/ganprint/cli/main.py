"""The `ganprint` command."""

from __future__ import annotations

import click

from ganprint import __version__
from ganprint.cli.attribution import add_source_cmd, eval_cmd, models_cmd, predict_cmd, train_cmd
from ganprint.cli.card import card_cmd
from ganprint.cli.experiment import experiment_group
from ganprint.cli.fingerprint import fingerprint_group
from ganprint.cli.gan import gan_group
from ganprint.cli.robustness import immunise_cmd, robustness_cmd
from ganprint.cli.scan import scan_cmd
from ganprint.cli.serve import serve_cmd
from ganprint.cli.verify import verify_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganprint")
def cli() -> None:
    """ganprint: was an image made by a generative model, and by which one?"""


cli.add_command(gan_group)
cli.add_command(gan_group, "generator")  # the family-neutral name
cli.add_command(train_cmd)
cli.add_command(eval_cmd)
cli.add_command(predict_cmd)
cli.add_command(add_source_cmd)
cli.add_command(models_cmd)
cli.add_command(card_cmd)
cli.add_command(experiment_group)
cli.add_command(verify_cmd)
cli.add_command(robustness_cmd)
cli.add_command(immunise_cmd)
cli.add_command(fingerprint_group)
cli.add_command(serve_cmd)
cli.add_command(scan_cmd)


def main() -> None:
    cli()
