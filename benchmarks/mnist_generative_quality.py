"""Train one generative (non-GAN) model on MNIST digits 0..2999 and score its samples with the digit judge.

The measurement behind the quick settings of the VAE and flow families (docs/lab/vae-flow.md): the
model is trained by :class:`~ganprint.generative.trainer.GenerativeTrainer` on the first 3000 of
the bundled 5000 digits, 1000 images are sampled (stream seed 7) under each sampler setting given,
and the judge's figures are computed against digits 3000..4999 (never trained on): the share
recognised at confidence 0.9 and the k-NN precision and recall. The judge is trained once on
digits 0..2999 (seed 0) and kept in ``OUT/judge``. One JSON line per sampler setting is printed
and appended to ``OUT/results.jsonl``; a grid of the first 64 samples goes to ``OUT/grids``.

Example (one thread, as the figures in the log were measured)::

    OMP_NUM_THREADS=1 python benchmarks/mnist_generative_quality.py --out /tmp/q --name vae \\
        --config '{"arch": "conv-vae", "steps": 2500, "lr": 2e-3, "ema": 0.995, "lr_decay_start": 0.5}' \\
        --sampler '{"temperature": 0.9}' --sampler '{"temperature": 1.0}'

``--config`` holds :class:`~ganprint.generative.config.GenerativeTrainConfig` keys; a finished model
folder ``OUT/runs/NAME`` is not trained again (its training seconds then read 0).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ganprint.data.mnist import Digits, load_mnist_5k
from ganprint.experiments.yu_report import save_grid
from ganprint.generative.config import GenerativeTrainConfig
from ganprint.generative.sampling import load_generative, sample_images
from ganprint.generative.trainer import GenerativeTrainer
from ganprint.quality.judge import DigitJudge, judge_figures

TRAIN, N_SAMPLES, SAMPLE_SEED = 3000, 1000, 7


def judge_for(out: Path, digits: Digits) -> DigitJudge:
    folder = out / "judge"
    if not (folder / "config.json").is_file():
        DigitJudge.train(Digits(digits.images[:TRAIN], digits.labels[:TRAIN]), epochs=15, seed=0,
                         progress=False).save(folder)
    return DigitJudge.load(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--config", required=True, help="GenerativeTrainConfig as JSON")
    parser.add_argument("--sampler", action="append", default=None, help="sampler settings as JSON (repeatable)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    digits = load_mnist_5k()
    reference = Digits(digits.images[TRAIN:], digits.labels[TRAIN:])
    judge = judge_for(args.out, digits)
    config = json.loads(args.config)
    folder = args.out / "runs" / args.name
    started = time.perf_counter()
    GenerativeTrainer(GenerativeTrainConfig(**config), folder).fit(digits.images[:TRAIN], progress=False)
    train_s = time.perf_counter() - started
    model, saved = load_generative(folder)
    for sampler in [json.loads(s) for s in args.sampler or ["{}"]]:
        started = time.perf_counter()
        images = sample_images(model, N_SAMPLES, seed=SAMPLE_SEED, **sampler)[..., 0]
        sample_s = time.perf_counter() - started
        figures = judge_figures(judge, images, range(10), reference)
        tag = "_".join(f"{k}{v}" for k, v in sampler.items()) or "default"
        save_grid(np.repeat(images[:64, ..., None], 3, -1), args.out / "grids" / f"{args.name}_{tag}.png")
        row = {"name": args.name, "sampler": sampler, "train_s": round(train_s, 1),
               "images_per_s": round(N_SAMPLES / sample_s, 1), "loss": saved.get("final_losses"),
               **{k: round(v, 3) for k, v in figures.items()}, "config": config}
        print(json.dumps(row), flush=True)
        with open(args.out / "results.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
