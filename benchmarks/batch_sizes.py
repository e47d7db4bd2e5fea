"""Inference speed of the seed CNN against the batch size, printed as a table.

    python benchmarks/batch_sizes.py [--threads N] [--rounds R]

Two figures per size: the model on decoded images (``Attributor.predict_proba`` and
``predict_with_scores``, the calibrated model with the ensemble unknown-source score that
``ganprint train`` saves), and PNG files streamed through ``predict_paths`` to JSON lines in chunks
of that size. The sizes are measured in interleaved rounds and the best round is kept, so that a
busy or throttled moment of the machine does not favour one size. This is what chose
``ganprint.attribution.training.INFERENCE_BATCH``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench import seed_cnn_attributors  # this folder is on sys.path when run as a script

from ganprint.attribution.predict import predict_paths
from ganprint.attribution.training import INFERENCE_BATCH
from ganprint.gans.sampling import save_png

SIZES = (32, 64, 128, 256, 512, 1024)


def seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--files", type=int, default=4000)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    images = (np.random.default_rng(0).random((8192, 28, 28, 1)) * 255).astype(np.uint8)
    _, model = seed_cnn_attributors(images)  # calibrated, with the ensemble unknown-source score

    best: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in range(args.files):
            save_png(images[i], folder / f"{i:06d}.png")

        def files_to_json(size: int) -> None:
            with open("/dev/null", "w") as sink:
                for rec in predict_paths(model, [folder], batch_size=size):
                    sink.write(json.dumps(rec) + "\n")

        files_to_json(INFERENCE_BATCH)  # warm-up
        for _ in range(args.rounds):
            for size in SIZES:
                rates = {
                    "model only": len(images) / seconds(lambda s=size: model.predict_proba(images, batch_size=s)),
                    "model + ensemble score":
                        len(images) / seconds(lambda s=size: model.predict_with_scores(images, batch_size=s)),
                    "files -> JSON lines": args.files / seconds(lambda s=size: files_to_json(s)),
                }
                for name, rate in rates.items():
                    best[name, size] = max(best.get((name, size), 0.0), rate)

    names = ("model only", "model + ensemble score", "files -> JSON lines")
    print(f"threads: {torch.get_num_threads()}, torch {torch.__version__}, best of {args.rounds} rounds, img/s")
    print("batch | " + " | ".join(names))
    for size in SIZES:
        mark = " (default)" if size == INFERENCE_BATCH else ""
        print(f"{size}{mark} | " + " | ".join(f"{best[n, size]:.0f}" for n in names))


if __name__ == "__main__":
    main()
