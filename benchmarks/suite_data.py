"""Build the datasets of the generalisation suite (issue 28) and time them.

Each dataset of :data:`ganprint.suite.datasets.SUITE_DATASETS` is written to ``OUT/<name>/``
(``train|test/<source>/*.png``, ``unknown/<family>/*.png``, ``dataset.json``), with a grid of test
images per source in ``OUT/<name>/samples.png`` (one labelled row per source, unknown last). A rerun resumes:
finished sources are skipped, trained generators reused. The table printed at the end gives each
source's generator family, training steps and seconds.

Example (single thread, leaving a core free on a shared machine)::

    python benchmarks/suite_data.py --out /work/scratch/suite --datasets grey-a rgb-a --threads 1
    python benchmarks/suite_data.py --out /tmp/suite-small --datasets grey-a --n-train 200 --n-test 100
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ganprint.suite.datasets import SUITE_DATASETS, build_dataset, sample_grid, with_counts


def save_labelled_grid(grid: np.ndarray, names: list[str], path: Path, zoom: int = 3, label_width: int = 230) -> None:
    """Save ``grid`` (one row per source) enlarged ``zoom`` times, each row's name written on its left."""
    rows = len(names)
    image = Image.fromarray(grid).resize((grid.shape[1] * zoom, grid.shape[0] * zoom), Image.Resampling.NEAREST)
    canvas = Image.new("RGB", (image.width + label_width, image.height), "white")
    canvas.paste(image, (label_width, 0))
    draw = ImageDraw.Draw(canvas)
    row_height = image.height / rows
    for r, name in enumerate(names):
        draw.text((6, int((r + 0.5) * row_height) - 6), name, fill="black")
    canvas.save(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="parent folder; each dataset goes to OUT/<name>")
    parser.add_argument("--datasets", nargs="+", default=list(SUITE_DATASETS), choices=list(SUITE_DATASETS))
    parser.add_argument("--n-train", type=int, default=None, help="images per source in train/ (default 1000)")
    parser.add_argument("--n-test", type=int, default=None, help="images per source in test/ (default 500)")
    parser.add_argument("--n-unknown", type=int, default=None, help="images of the unknown family (default 500)")
    parser.add_argument("--random-seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    rows = []
    for name in args.datasets:
        spec = with_counts(SUITE_DATASETS[name], args.n_train, args.n_test, args.n_unknown)
        start = time.perf_counter()
        result = build_dataset(spec, args.out / name, seed=args.random_seed, device=args.device,
                               progress=not args.quiet)
        save_labelled_grid(*sample_grid(result.path), result.path / "samples.png")
        seconds = time.perf_counter() - start
        files = sum(1 for _ in result.path.glob("*/*/*.png"))
        print(f"{name}: {result.path} ({files} PNG files, {seconds:.0f} s this call, "
              f"trained {len(result.trained)} generators, wrote {sum(result.written.values())} files)", flush=True)
        for role in ("sources", "unknown"):
            for source, record in result.info[role].items():
                train = record["train"]
                rows.append((name, source, record["settings"]["family"], train["steps"], train["batch_size"],
                             record["train_seconds"], role == "unknown"))

    print(f"\n{'dataset':8s} {'source':32s} {'family':24s} {'steps':>6s} {'batch':>5s} {'train s':>8s}")
    for name, source, family, steps, batch, secs, unknown in rows:
        print(f"{name:8s} {source + (' (unknown)' if unknown else ''):32s} {family:24s} {steps:6d} {batch:5d} "
              f"{secs:8.1f}")


if __name__ == "__main__":
    main()
