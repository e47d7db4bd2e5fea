"""Train every attributor architecture on one folder dataset and print accuracy and speed.

    python benchmarks/zoo_archs.py --data /work/runs/g1/data/group_1 [--arch NAME ...] [--threads 2]

Default architectures: the small variants of seed 002's families plus the seed and baseline CNNs.
Each is trained with :class:`~ganprint.attribution.attributor.Attributor` and the architecture's
recommended settings (``ganprint.models.default_fit_options``; ``--epochs`` etc. override them),
then scored on the ``test`` split. Columns: parameters, epochs run, training seconds (including the
per-epoch validation pass), the process CPU seconds of that training (with ``--threads 1`` on a
busy machine this is what the wall time would be on an idle core), best validation and test
accuracy, and inference images per second (``predict_proba`` on the test split, batches of 256,
best of two passes).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ganprint.attribution.attributor import Attributor, Preprocessing
from ganprint.attribution.training import FitConfig
from ganprint.data.folder import load_images, scan_folder_dataset
from ganprint.models import MODELS, default_fit_options, names_with_tag

DEFAULT_ARCHS = ["seed-mnist-cnn", "seed-cifar-cnn", "digit-cnn", "gandct-conv", "postpool", "logreg",
                 *names_with_tag("small")]


def load_split(dataset, split: str, pre: Preprocessing) -> tuple[np.ndarray, np.ndarray]:
    loaded = load_images(dataset.split(split), channels=pre.channels, size=pre.size, progress=False, workers=2)
    for path, error in loaded.errors:
        print(f"skipped {path}: {error}")
    return loaded.images, np.asarray(dataset.classes)[loaded.labels]


def run(arch: str, data: dict[str, tuple[np.ndarray, np.ndarray]], pre: Preprocessing,
        overrides: dict, arch_options: dict) -> dict:
    options = {**default_fit_options(arch), **overrides}
    config = FitConfig(**options)
    att = Attributor(arch=arch, preprocessing=pre, fit_config=config, device="cpu", arch_options=arch_options)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = data["train"], data["val"], data["test"]
    cpu = time.process_time()
    att.fit(x_tr, y_tr, x_va, y_va, progress=False)
    cpu = time.process_time() - cpu
    hist = att.history_
    speeds = []
    for _ in range(2):
        t = time.perf_counter()
        proba = att.predict_proba(x_te)
        speeds.append(len(x_te) / (time.perf_counter() - t))
    test_acc = float((att.classes_[proba.argmax(1)] == y_te).mean())
    params = sum(p.numel() for p in att.model_.parameters())
    return {"arch": arch, "params": params, "epochs": hist["epochs_run"], "train_s": hist["fit_seconds"], "cpu_s": cpu,
            "val_acc": max(hist["val_accuracy"]) if hist["val_accuracy"] else float("nan"),
            "test_acc": test_acc, "img_s": max(speeds), "fit": config.to_dict(),
            "val_curve": list(hist["val_accuracy"]), "epoch_s": list(hist.get("epoch_seconds", []))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/work/runs/g1/data/group_1"))
    parser.add_argument("--arch", nargs="*", default=None, help=f"default: {' '.join(DEFAULT_ARCHS)}")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--channels", type=int, choices=(1, 3), default=1)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--patience", type=int, default=None)
    parser.add_argument("--schedule", choices=("constant", "cosine"), default=None)
    parser.add_argument("--max-train", type=int, default=None, help="use only this many training images")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=JSON",
                        help="architecture option, e.g. --option init='\"glorot\"' (repeatable)")
    parser.add_argument("--curves", action="store_true", help="also print validation accuracy by epoch")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    archs = args.arch or DEFAULT_ARCHS
    for arch in archs:
        MODELS.get(arch)  # fail early on a typo, listing the known names
    overrides = {k: v for k, v in {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
                                   "patience": args.patience, "schedule": args.schedule}.items() if v is not None}
    arch_options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.option)}
    pre = Preprocessing(size=(args.size, args.size), channels=args.channels)
    dataset = scan_folder_dataset(args.data)
    t = time.perf_counter()
    data = {split: load_split(dataset, split, pre) for split in ("train", "val", "test")}
    if args.max_train:
        keep = np.random.default_rng(0).permutation(len(data["train"][0]))[:args.max_train]
        data["train"] = (data["train"][0][keep], data["train"][1][keep])
    print(f"{args.data}: " + ", ".join(f"{k} {len(v[0])}" for k, v in data.items())
          + f" images, {len(dataset.classes)} sources (decoded in {time.perf_counter() - t:.1f}s); "
          f"{args.threads} threads, torch {torch.__version__}")

    rows = []
    print("| arch | params | epochs | train s | train CPU s | val acc | test acc | infer img/s | lr | schedule |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for arch in archs:
        torch.manual_seed(0)
        row = run(arch, data, pre, overrides, arch_options)
        rows.append(row)
        print(f"| {arch} | {row['params']:,} | {row['epochs']} | {row['train_s']:.1f} | {row['cpu_s']:.1f} "
              f"| {row['val_acc']:.4f} "
              f"| {row['test_acc']:.4f} | {row['img_s']:,.0f} | {row['fit']['lr']:g} | {row['fit']['schedule']} |",
              flush=True)
        if args.curves:
            print("  val acc by epoch: " + " ".join(f"{a:.4f}" for a in row["val_curve"])
                  + "; s/epoch: " + " ".join(f"{e:.1f}" for e in row["epoch_s"]), flush=True)
    total = sum(r["train_s"] for r in rows)
    cpu_total = sum(r["cpu_s"] for r in rows)
    print(f"total training time {total:.0f} s ({cpu_total:.0f} CPU s) for {len(rows)} architectures")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
