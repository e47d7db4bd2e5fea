"""Per-source signal fingerprints and the training-free residual-correlation baseline on a folder dataset.

    OMP_NUM_THREADS=1 python benchmarks/signal_fingerprints.py --data DIR --out OUT

Writes OUT/signal_fingerprints.png (mean noise residual, mean FFT and DCT log spectra per source;
the spectra rows also as the difference from the mean over sources, where generator traces stand
out) and prints the test accuracy of ResidualCorrelationAttributor for each denoiser setting.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ganprint.attribution.attributor import Preprocessing
from ganprint.data.folder import load_images, scan_folder_dataset
from ganprint.fingerprints import ResidualCorrelationAttributor, images_to_float, signal_fingerprints
from ganprint.plots import plot_source_maps

SETTINGS = ({"denoiser": "median", "size": 3}, {"denoiser": "gaussian", "sigma": 0.7},
            {"denoiser": "gaussian", "sigma": 1.0})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--size", type=int, default=28)
    args = ap.parse_args()
    torch.set_num_threads(1)
    dataset = scan_folder_dataset(args.data)
    classes = np.asarray(dataset.classes)
    split = {s: load_images(dataset.split(s), channels=1, size=(args.size, args.size), progress=False, workers=2)
             for s in ("train", "val", "test")}
    x = {s: v.images for s, v in split.items()}
    y = {s: classes[v.labels] for s, v in split.items()}
    fps = signal_fingerprints(images_to_float(x["train"]), y["train"], denoiser="median")
    for kind in ("fft", "dct"):
        mean = np.mean(list(fps[kind].values()), axis=0)
        fps[f"{kind} - mean"] = {s: m - mean for s, m in fps[kind].items()}
    args.out.mkdir(parents=True, exist_ok=True)
    plot_source_maps(fps, f"signal fingerprints ({args.data.name}, train split)", args.out / "signal_fingerprints.png",
                     diverging=("residual", "fft - mean", "dct - mean"))
    print("| denoiser | test accuracy | fit seconds |\n|---|---|---|")
    for setting in SETTINGS:
        t0 = time.perf_counter()
        model = ResidualCorrelationAttributor(preprocessing=Preprocessing((args.size, args.size), 1), **setting)
        model.fit(x["train"], y["train"], x["val"], y["val"])
        fit = time.perf_counter() - t0
        label = ", ".join(f"{k} {v}" for k, v in setting.items())
        print(f"| {label} | {model.score(x['test'], y['test']):.4f} | {fit:.1f} |")


if __name__ == "__main__":
    main()
