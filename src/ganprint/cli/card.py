"""`ganprint card`: a model folder's summary (data, figures, calibration, known limits)."""

from __future__ import annotations

from pathlib import Path

import click

from ganprint.cli.common import emit_json, fail


@click.command("card")
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A model folder written by `ganprint train`.")
@click.option("--eval", "eval_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="An `ganprint eval --json` report (saved to a file) to show as the test figures.")
@click.option("--json", "as_json", is_flag=True, help="Print the card as one JSON object.")
def card_cmd(model_dir: Path, eval_path: Path | None, as_json: bool) -> None:
    """What a model is, what it was trained on, its validation and test figures, its calibration
    and its known limits. Reads config.json only: no weights are loaded."""
    from ganprint.attribution.card import format_card, read_model_card
    from ganprint.serialization import read_json

    try:
        evaluation = read_json(eval_path) if eval_path is not None else None
        card = read_model_card(model_dir, evaluation=evaluation)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        emit_json(card)
    else:
        click.echo(format_card(card))
