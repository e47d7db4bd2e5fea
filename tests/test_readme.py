"""The README's five-minute walkthrough works: every ``ganprint`` command in its ``bash`` blocks
is run, as written, on a tiny folder of real digits laid out the way the README describes.

The commands run in a temporary working directory, so their relative paths (``my-images``,
``my-model``, ...) need no rewriting; the only change is ``--epochs 1`` on ``train``, for speed.
A renamed command or option, a changed default that breaks a command, or a traceback fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganprint.cli.main import cli
from ganprint.data.mnist import load_mnist_5k

pytestmark = pytest.mark.usefixtures("one_thread")

README = Path(__file__).resolve().parents[1] / "README.md"
WALKTHROUGH = "## Five minutes on your own folder"
SPEED = {"train": ["--epochs", "1"]}  # added to the README's command, for speed only


def walkthrough_commands(text: str) -> list[list[str]]:
    """The ``ganprint`` commands of the ``bash`` blocks between the walkthrough heading and the next
    ``## `` heading, as argument lists (comments dropped, ``\\`` continuations joined)."""
    start = text.index(WALKTHROUGH)
    end = text.find("\n## ", start + len(WALKTHROUGH))
    section = text[start:end if end >= 0 else len(text)]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if not words:
                continue
            assert words[0] == "ganprint", f"the walkthrough's bash blocks hold ganprint commands only: {line!r}"
            commands.append(words[1:])
    return commands


def _write(folder: Path, images: np.ndarray, start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images, start):
        Image.fromarray(img).save(folder / f"{i:06d}.png")


def _sources(n: int) -> dict[str, np.ndarray]:
    """Three small 'sources' of 28x28 grey digits: real, and two made different by a trace."""
    digits = load_mnist_5k().images
    rng = np.random.default_rng(0)
    real = digits[:n]
    noisy = np.clip(digits[n:2 * n] + rng.normal(0, 12, (n, 28, 28)), 0, 255).astype(np.uint8)
    checker = (np.indices((28, 28)).sum(axis=0) % 2 * 24).astype(np.uint8)
    tiled = np.clip(digits[2 * n:3 * n].astype(int) + checker, 0, 255).astype(np.uint8)
    return {"real": real, "gan-noisy": noisy, "gan-checker": tiled}


def _make_paths(args: list[str], cwd: Path, images: np.ndarray) -> None:
    """Create the image files and folders a command names that the dataset did not: a ``.png``
    path becomes one digit, a path ending in ``/`` a folder of three."""
    for word in args:
        path = cwd / word
        if word.startswith("-") or path.exists():
            continue
        if path.suffix.lower() == ".png":
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[0]).save(path)
        elif word.endswith("/"):
            _write(path, images[:3])


def test_the_walkthrough_names_the_four_commands():
    names = [c[0] for c in walkthrough_commands(README.read_text(encoding="utf-8"))]
    assert names[:1] == ["train"] and {"train", "eval", "predict", "card"} <= set(names), names


def test_the_walkthrough_extraction_sees_a_bad_option():
    text = f"{WALKTHROUGH}\n\n```bash\nganprint train --data my-images \\\n  --out m  # note\n```\n\n## Next\n"
    assert walkthrough_commands(text) == [["train", "--data", "my-images", "--out", "m"]]
    with pytest.raises(AssertionError):
        walkthrough_commands(f"{WALKTHROUGH}\n\n```bash\nls my-model\n```\n")


def test_every_walkthrough_command_runs(tmp_path, monkeypatch):
    commands = walkthrough_commands(README.read_text(encoding="utf-8"))
    train = next(c for c in commands if c[0] == "train")
    data = Path(train[train.index("--data") + 1])
    monkeypatch.chdir(tmp_path)
    sources = _sources(50)
    for name, images in sources.items():
        _write(tmp_path / data / name, images[:40])  # the training folder: flat, split 85/15
    for c in commands:
        if c[0] == "eval":  # the separate test folder the README evaluates on
            test = Path(c[c.index("--data") + 1])
            for name, images in sources.items():
                _write(tmp_path / test / name, images[40:])
    runner = CliRunner()
    for c in commands:
        _make_paths(c, tmp_path, sources["gan-noisy"][40:])
        args = [*c, *SPEED.get(c[0], [])]
        result = runner.invoke(cli, args)
        shown = f"ganprint {shlex.join(args)}\n{result.output}"
        assert result.exception is None or isinstance(result.exception, SystemExit), shown
        assert result.exit_code == 0, shown
        assert "Traceback" not in result.output, shown
