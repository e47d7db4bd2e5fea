"""Training a study's GANs side by side, and scoring a colour GAN by its quality figures as it trains."""

import json
import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from ganprint.data.mnist import load_mnist_5k
from ganprint.data.photos import PhotoCropConfig, load_photo_crops
from ganprint.gans.config import GanTrainConfig
from ganprint.gans.pool import REBALANCE_EVERY, CoreShare, GanJob, train_gan_jobs
from ganprint.quality.frechet import QualityConfig, fit_quality_model
from ganprint.quality.monitor import QualityStop, quality_monitor
from ganprint.serialization import load_tensors


def _jobs(root, digits):
    return [GanJob(root / f"g{seed}", GanTrainConfig(arch="mnist-dcgan", arch_options={"width": 0.125}, steps=6,
                                                     batch_size=16, seed=seed, checkpoint_every=3), digits)
            for seed in (0, 1)]


def test_the_pool_trains_each_gan_as_it_would_train_alone(tmp_path):
    digits = load_mnist_5k().subset([3]).images[:64]
    seconds = train_gan_jobs(_jobs(tmp_path / "pool", digits), workers=2, progress=False,
                             rebalance=False)  # one thread each throughout
    assert set(seconds) == {"g0", "g1"}
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_gan_jobs(_jobs(tmp_path / "alone", digits), workers=1, progress=False)
    finally:
        torch.set_num_threads(before)
    for name in ("g0", "g1"):
        a = load_tensors(tmp_path / "pool" / name / "generator.safetensors")
        b = load_tensors(tmp_path / "alone" / name / "generator.safetensors")
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    assert train_gan_jobs(_jobs(tmp_path / "pool", digits), workers=2, progress=False) == {}  # all finished


def test_jobs_still_running_take_over_the_cores_of_finished_ones(tmp_path):
    digits = load_mnist_5k().subset([3]).images[:64]
    jobs = [GanJob(tmp_path / f"g{steps}", GanTrainConfig(arch="mnist-dcgan", arch_options={"width": 0.125},
                                                          steps=steps, batch_size=16, seed=0), digits)
            for steps in (4, 60)]
    seconds = train_gan_jobs(jobs, workers=2, progress=False)  # rebalancing: the long job ends on all cores
    assert set(seconds) == {"g4", "g60"}
    for job in jobs:
        assert GanTrainConfig.from_dict(json.loads((job.out_dir / "config.json").read_text())["train"]) == job.config


def test_a_workers_share_of_the_cores_grows_as_jobs_end():
    remaining = SimpleNamespace(value=5)
    share = CoreShare(remaining, threading.Lock(), cores=4, workers=2)
    before = torch.get_num_threads()
    try:
        share(REBALANCE_EVERY)
        assert torch.get_num_threads() == 2  # five jobs left for two workers: half the cores each
        share.done(), share.done(), share.done(), share.done()
        share(REBALANCE_EVERY + 1)
        assert torch.get_num_threads() == 2  # only looks every REBALANCE_EVERY steps
        share(2 * REBALANCE_EVERY)
        assert remaining.value == 1 and torch.get_num_threads() == 4  # the last job takes every core
    finally:
        torch.set_num_threads(before)


class _Bank(nn.Module):
    """A 'generator' that draws the images of a bank (in order), whatever the latents."""

    def __init__(self, images: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("bank", torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255)
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.bank[: len(z)] + 0 * self.dummy


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    return load_photo_crops("train", PhotoCropConfig(n=600, seed=0), tmp_path_factory.mktemp("photo-cache"))


def test_the_monitor_keeps_the_latest_passing_snapshot_and_scores_noise_below(tmp_path, crops):
    model = fit_quality_model(crops[:300], seed=0, config=QualityConfig(epochs=2, width=16))
    model.save(tmp_path / "qm")
    stop = QualityStop(str(tmp_path / "qm"), crops[300:500], samples=100, pass_fraction=0.9)
    score = quality_monitor(stop, latent_dim=4)
    real = _Bank(crops[500:600])
    noise = _Bank(np.random.default_rng(0).integers(0, 256, (100, 32, 32, 3), dtype=np.uint8))
    assert score(real, 300) == 300.0 and score(real, 700) == 700.0  # real crops pass: a later step is kept
    assert score(noise, 800) < -1.0  # noise fails: minus how far its worse figure is past the threshold
    assert stop.stop_at is None and QualityStop("qm", crops[:20], stop=True).stop_at == 1.0
    with pytest.raises(ValueError, match="pass_fraction"):
        QualityStop("qm", crops[:20], pass_fraction=1.5)


_POOL_SCRIPT = """
import sys
from pathlib import Path
from ganprint.data.mnist import load_mnist_5k
from ganprint.gans.config import GanTrainConfig
from ganprint.gans.pool import GanJob, train_gan_jobs
root, steps = Path(sys.argv[1]), int(sys.argv[2])
digits = load_mnist_5k().subset([3]).images[:64]
jobs = [GanJob(root / f"g{seed}", GanTrainConfig(arch="mnist-dcgan", arch_options={"width": 0.125}, steps=steps,
                                                 batch_size=16, seed=seed, checkpoint_every=5), digits)
        for seed in (0, 1)]
train_gan_jobs(jobs, workers=2, progress=False)
"""


def _descendants(pid: int) -> set[int]:
    """Live processes below ``pid`` (from /proc)."""
    import os

    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(entry)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="reads /proc")
def test_killing_the_main_process_ends_the_pool_and_a_rerun_resumes(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    main = subprocess.Popen([sys.executable, "-c", _POOL_SCRIPT, str(tmp_path), "400"])
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not all((tmp_path / g / "checkpoint").is_dir() for g in ("g0", "g1")):
            time.sleep(0.1)
        children = _descendants(main.pid)
        assert len(children) >= 2  # the workers (and the manager) are running
        os.kill(main.pid, signal.SIGKILL)
        main.wait()
        deadline = time.time() + 10
        while time.time() < deadline and {p for p in children if os.path.exists(f"/proc/{p}")
                                          and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"}:
            time.sleep(0.2)
        alive = {p for p in children if os.path.exists(f"/proc/{p}")
                 and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"}
        assert not alive, f"processes left running after the main one was killed: {sorted(alive)}"
    finally:
        if main.poll() is None:
            main.kill()
    # the rerun resumes from the checkpoints the killed run left, and finishes
    assert all((tmp_path / g / "checkpoint").is_dir() for g in ("g0", "g1"))
    rerun = subprocess.run([sys.executable, "-c", _POOL_SCRIPT, str(tmp_path), "400"], timeout=300)
    assert rerun.returncode == 0
    for g in ("g0", "g1"):
        assert json.loads((tmp_path / g / "config.json").read_text())["status"] == "finished"
