"""Robustness before and after immunisation (Yu et al. 2019, seed 004): one Markdown table.

    OMP_NUM_THREADS=1 python benchmarks/robustness.py --model MODEL --data DIR --out OUT [--epochs 6]

Loads MODEL, measures accuracy on DIR's test split under every perturbation family at its default
strengths, immunises a copy (``ganprint.robustness.immunise``) on DIR's train/val splits, measures
again, and prints the table with the immunisation targets (accuracy under each perturbation inside
the target range >= 95 % of clean accuracy; clean accuracy down by at most 1 point). Writes
OUT/model (the immunised model), OUT/robustness.json and OUT/robustness.png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ganprint.attribution.loading import load_model
from ganprint.data.folder import load_images, scan_folder_dataset
from ganprint.plots import plot_robustness
from ganprint.robustness import (
    ImmuniseConfig,
    immunise,
    parse_family_ranges,
    parse_family_weights,
    robustness_report,
    target_check,
)
from ganprint.robustness.perturbations import get_spec


def load_split(dataset, split: str, model) -> tuple[np.ndarray, np.ndarray]:
    loaded = load_images(dataset.split(split), channels=model.preprocessing.channels, size=model.preprocessing.size,
                         progress=False, workers=2)
    return loaded.images, np.asarray(dataset.classes)[loaded.labels]


def markdown(before: dict, after: dict) -> str:
    targets = target_check(after)
    lines = ["| perturbation | strength | before | after | after / clean | target |",
             "|---|---|---|---|---|---|",
             f"| clean | | {before['clean']:.4f} | {after['clean']:.4f} | 1.000 | "
             f"drop <= 0.01: {'met' if before['clean'] - after['clean'] <= 0.01 else 'NOT met'} |"]
    for name, row in before["perturbations"].items():
        for key, acc in row.items():
            a = after["perturbations"][name][key]
            t = targets[name].get(key)
            mark = "" if t is None else ("met" if t else "NOT met")
            lines.append(f"| {name} | {key} | {acc:.4f} | {a:.4f} | {a / after['clean']:.3f} | {mark} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--epochs", type=int, default=ImmuniseConfig.epochs)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--clean-fraction", type=float, default=ImmuniseConfig.clean_fraction)
    ap.add_argument("--patience", type=int, default=ImmuniseConfig.patience)
    ap.add_argument("--weight", action="append", default=[], help="NAME=W: family weight (repeatable)")
    ap.add_argument("--range", action="append", default=[], help="NAME=LO:HI: training range (repeatable)")
    ap.add_argument("--schedule", default=ImmuniseConfig.schedule, choices=("constant", "cosine"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    model = load_model(args.model, device=args.device)
    dataset = scan_folder_dataset(args.data)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (load_split(dataset, s, model) for s in ("train", "val", "test"))
    t0 = time.perf_counter()
    before = robustness_report(model, x_te, y_te)
    t_eval = time.perf_counter() - t0
    config = ImmuniseConfig(epochs=args.epochs, lr=args.lr, clean_fraction=args.clean_fraction,
                            patience=args.patience, weights=parse_family_weights(args.weight),
                            schedule=args.schedule,
                            ranges=parse_family_ranges(args.range))
    t0 = time.perf_counter()
    immunise(model, x_tr, y_tr, x_va, y_va, config, progress=False)
    t_fit = time.perf_counter() - t0
    after = robustness_report(model, x_te, y_te)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "model")
    history = model.history_["immunisation"]
    result = {"model": str(args.model), "data": str(args.data), "n_test": len(x_te), "config": config.to_dict(),
              "epochs_run": history["epochs_run"], "val_accuracy": history["val_accuracy"],
              "immunise_seconds": t_fit, "table_seconds": t_eval, "before": before, "after": after,
              "targets_after": target_check(after),
              "target_ranges": {n: get_spec(n).immunise_range for n in before["perturbations"]}}
    (args.out / "robustness.json").write_text(json.dumps(result, indent=2) + "\n")
    plot_robustness({"before": before, "after": after}, "immunisation", args.out / "robustness.png",
                    target_ranges=result["target_ranges"])
    print(f"{len(x_te)} test images; immunisation {history['epochs_run']} epochs in {t_fit:.0f} s "
          f"({torch.get_num_threads()} threads); one robustness table {t_eval:.0f} s")
    print(markdown(before, after))


if __name__ == "__main__":
    main()
