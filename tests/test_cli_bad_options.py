"""Every option of every command refuses a bad value with a one-line usage error naming the
option (exit status 2), never a traceback. Bad values fail while parsing: nothing runs."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from ganprint.cli.main import cli
from ganprint.cli.options import DeviceType, Duration, LazyChoice

UNBOUNDED_NUMBERS: set[tuple[str, str]] = set()
"""(command path, option) pairs whose number may take any value; none so far."""


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, path)
        else:
            yield path, command


COMMANDS = list(_commands(cli))


def _bad_values(param: click.Parameter) -> list[str]:
    """Values that ``param``'s type must refuse."""
    kind = param.type
    if isinstance(kind, (click.IntRange, click.FloatRange)):
        bad = ["not-a-number"]
        step = 1 if isinstance(kind, click.IntRange) else 0.5
        if kind.min is not None:
            bad.append(str(kind.min if kind.min_open else kind.min - step))
        if kind.max is not None:
            bad.append(str(kind.max if kind.max_open else kind.max + step))
        return bad
    if isinstance(kind, click.Choice):  # LazyChoice included
        return ["no-such-choice"]
    if isinstance(kind, DeviceType):
        return ["gpu", "cuda:x", "cpu:1"]
    if isinstance(kind, Duration):
        return ["soon", "0s"]
    if isinstance(kind, click.Path) and kind.exists:
        return ["/no/such/path/anywhere"]
    if kind in (click.INT, click.FLOAT):
        return ["not-a-number"]
    return []


CASES = [
    pytest.param(path, opt, value, id=f"{' '.join(path)} {opt.opts[0]}={value}")
    for path, command in COMMANDS
    for opt in command.params
    if isinstance(opt, click.Option) and not opt.is_flag
    for value in _bad_values(opt)
]


def test_commands_found():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"train", "eval", "predict", "robustness", "gan train", "experiment run", "verify"} <= names
    assert len(CASES) > 100


@pytest.mark.parametrize(("path", "option", "value"), CASES)
def test_bad_option_value_is_a_usage_error(path, option, value):
    for name in option.opts:  # the option and each of its older spellings
        result = CliRunner().invoke(cli, [*path, name, value])
        assert result.exit_code == 2, (name, value, result.output)
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert option.opts[0] in result.output, result.output  # the error names the option


def test_numbers_are_bounded():
    """Every number option says which values it takes (a range), so a bad one is refused while parsing."""
    plain = [(" ".join(path), opt.opts[0]) for path, command in COMMANDS for opt in command.params
             if isinstance(opt, click.Option) and opt.type in (click.INT, click.FLOAT)]
    assert set(plain) <= UNBOUNDED_NUMBERS, plain


@pytest.mark.parametrize("device", ["auto", "cpu", "CPU"])
def test_device_accepts_valid_names(device):
    assert DeviceType().convert(device, None, None) == device.lower()


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cpu:0", "tpu", ""])
def test_device_refuses_others_naming_the_valid_ones(device):
    with pytest.raises(click.BadParameter, match="auto, cpu, cuda, cuda:N, mps"):
        DeviceType().convert(device, None, None)


def test_lazy_choice_loads_on_first_use():
    calls = []

    def load():
        calls.append(1)
        return ["a", "b"]

    choice = LazyChoice(load)
    assert not calls
    assert choice.convert("a", None, None) == "a"
    with pytest.raises(click.BadParameter):
        choice.convert("c", None, None)
    assert len(calls) == 1


def test_aliases_work_but_stay_out_of_help():
    runner = CliRunner()
    help_text = runner.invoke(cli, ["gan", "sample", "--help"]).output
    assert "--n-images" in help_text and "--n " not in help_text
    result = runner.invoke(cli, ["gan", "sample", "--n", "0"])
    assert result.exit_code == 2 and "--n-images" in result.output


def test_defaults_shown_from_the_config():
    from ganprint.gans.config import GanTrainConfig

    help_text = CliRunner().invoke(cli, ["gan", "train", "--help"], terminal_width=200).output
    assert f"default: {GanTrainConfig.epochs};" in help_text
    assert "dynamic" not in help_text


def test_profile_must_belong_to_the_study(tmp_path):
    result = CliRunner().invoke(cli, ["experiment", "run", "zoo", "--profile", "paper", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--profile" in result.output and "quick" in result.output
