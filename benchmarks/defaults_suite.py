"""The generalisation suite: how ganprint's defaults do on datasets nobody tuned them for.

    python benchmarks/suite_data.py --out /work/scratch/suite            # build the datasets first
    python benchmarks/defaults_suite.py --suite /work/scratch/suite --out /work/scratch/suite-results \\
        [--datasets grey-a rgb-a ...] [--configs default gpnet-s logreg ...] [--threads 2]

Each dataset is a user-shaped folder: ``train/<source>/``, ``test/<source>/`` and
``unknown/<family>/`` (a generator family that is not among the sources). For every dataset and
every configuration (``default`` is ``ganprint train`` with no option; the others name an
architecture, as a sweep), it runs what a user runs, as subprocesses timed on the wall clock:

    ganprint train --data D/train --out M [options]
    ganprint eval  --model M --data D/test --unknown D/unknown/* --json

and trains a **plain BN-CNN baseline** for the same wall time as default ``train`` (five 3x3
conv-BN-ReLU layers 32-32-64-64-128, max pooling after the second and fourth, global average
pooling, a linear head; Adam 1e-3 with a cosine decay over the epochs that fit in that time;
written here in plain PyTorch, independent of ganprint's training loop).

The **rule** for choosing a default honestly is leave-one-dataset-out: for each dataset, the
configuration with the best mean accuracy over the *other* datasets is taken and its accuracy on
this one reported (``lodo``), so no figure comes from a dataset that took part in choosing it.
Results are cached per (dataset, configuration) in ``--out`` and a rerun resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

CONFIGS: dict[str, list[str]] = {
    "default": [],
    "gpnet-s": ["--arch", "gpnet-s"],
    "gpnet-m": ["--arch", "gpnet-m"],
    "logreg": ["--arch", "logreg"],
    "seed-mnist-cnn": ["--arch", "seed-mnist-cnn"],
    "gpnet-s-pixels": ["--arch", "gpnet-s", "--representation", "pixels", "--augment", "none"],
    "gpnet-s-pixels-photometric": ["--arch", "gpnet-s", "--representation", "pixels", "--augment", "photometric"],
    "gpnet-s-residual": ["--arch", "gpnet-s", "--representation", "residual", "--augment", "none"],
    "gpnet-s-residual-photometric": ["--arch", "gpnet-s", "--representation", "residual", "--augment", "photometric"],
}


def run_config(dataset: Path, name: str, options: list[str], out: Path, threads: int | None) -> dict:
    """Train and evaluate one configuration on one dataset (cached in ``out/<dataset>/<name>.json``)."""
    cache = out / dataset.name / f"{name}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    model = out / dataset.name / f"model-{name}"
    common = ["--threads", str(threads)] if threads else []
    t0 = time.perf_counter()
    train = subprocess.run([sys.executable, "-m", "ganprint", "train", "--data", str(dataset / "train"),
                            "--out", str(model), "-q", "--force", *options, *common],
                           capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if train.returncode != 0:
        raise RuntimeError(f"train failed on {dataset.name} / {name}:\n{train.stderr[-3000:]}")
    unknown = sorted(p for p in (dataset / "unknown").iterdir() if p.is_dir()) if (dataset / "unknown").is_dir() else []
    args = [sys.executable, "-m", "ganprint", "eval", "--model", str(model), "--data", str(dataset / "test"),
            "--json", "-q", *common]
    for u in unknown:
        args += ["--unknown", str(u)]
    ev = subprocess.run(args, capture_output=True, text=True)
    if ev.returncode != 0:
        raise RuntimeError(f"eval failed on {dataset.name} / {name}:\n{ev.stderr[-3000:]}")
    report = json.loads(ev.stdout)
    config = json.loads((model / "config.json").read_text())
    op = report.get("operating_point") or {}
    row = {"dataset": dataset.name, "config": name, "options": options, "train_seconds": seconds,
           "arch": config.get("arch"), "accuracy": report["accuracy"], "ece": report.get("ece"),
           "unknown_auroc": report.get("unknown_auroc"),
           "unknown_score": config.get("calibration", {}).get("unknown_score"),
           "loso_auroc": (config.get("history", {}).get("unknown_score_selection") or {}).get("estimated_auroc"),
           "real_fpr": op.get("false_positive_rate"), "detection_rate": op.get("detection_rate"),
           "real_recall": (report.get("per_class", {}).get("real") or {}).get("recall")}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(row, indent=1))
    return row


class PlainBNCNN(nn.Module):
    """The baseline: five 3x3 conv-BN-ReLU layers (32-32-64-64-128), max pooling after the second and
    fourth, global average pooling, a linear head."""

    def __init__(self, in_chans: int, num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_chans
        for i, cout in enumerate((32, 32, 64, 64, 128)):
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            if i in (1, 3):
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean((2, 3)))


def load_folder(folder: Path, channels: int, size: tuple[int, int], classes: list[str] | None = None):
    from ganprint.data.folder import load_images, scan_folder_dataset

    ds = scan_folder_dataset(folder)
    split = next(iter(ds.splits))
    loaded = load_images(ds.split(split), channels=channels, size=size, progress=False, workers=2)
    names = np.asarray(ds.classes)[loaded.labels]
    classes = classes or list(ds.classes)
    x = torch.from_numpy(loaded.images).permute(0, 3, 1, 2).float().div(255)
    return x, torch.as_tensor([classes.index(n) for n in names]), classes


def run_baseline(dataset: Path, wall_seconds: float, out: Path, seed: int = 0) -> dict:
    """The plain BN-CNN, trained on all of ``train/`` for ``wall_seconds``, scored on ``test/``."""
    cache = out / dataset.name / "baseline.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    meta = json.loads((dataset / "dataset.json").read_text()) if (dataset / "dataset.json").is_file() else {}
    c, h, w = meta.get("image_shape", [1, 28, 28])
    x, y, classes = load_folder(dataset / "train", c, (h, w))
    xt, yt, _ = load_folder(dataset / "test", c, (h, w), classes)
    torch.manual_seed(seed)
    model = PlainBNCNN(c, len(classes))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    # one epoch to measure, then a cosine decay over the epochs that fit in the rest of the time
    epochs, epoch, base_lr = None, 0, 1e-3
    while True:
        model.train()
        for idx in torch.randperm(len(x), generator=gen).split(64):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        epoch += 1
        spent = time.perf_counter() - t0
        if epochs is None:
            epochs = max(1, int(wall_seconds // spent))
        if epoch >= epochs:
            break
        for g in opt.param_groups:
            g["lr"] = base_lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(xt[i:i + 256]).argmax(1) for i in range(0, len(xt), 256)])
    row = {"dataset": dataset.name, "config": "baseline", "epochs": epochs, "train_seconds": time.perf_counter() - t0,
           "accuracy": float((pred == yt).float().mean())}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(row, indent=1))
    return row


def lodo(rows: dict[tuple[str, str], dict], datasets: list[str], configs: list[str]) -> dict[str, dict]:
    """For each dataset: the configuration with the best mean accuracy on the other datasets, and
    its accuracy here."""
    out = {}
    for d in datasets:
        others = [o for o in datasets if o != d]
        if not others:
            continue
        means = {c: np.mean([rows[o, c]["accuracy"] for o in others]) for c in configs
                 if all((o, c) in rows for o in others) and (d, c) in rows}
        if means:
            chosen = max(means, key=means.get)
            out[d] = {"chosen": chosen, "accuracy": rows[d, chosen]["accuracy"]}
    return out


def fmt(v, digits=4):
    return "-" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", type=Path, required=True, help="folder of suite datasets")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--datasets", nargs="*", default=None)
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    datasets = args.datasets or sorted(p.name for p in args.suite.iterdir() if (p / "train").is_dir())
    rows: dict[tuple[str, str], dict] = {}
    baselines = {}
    for d in datasets:
        for c in args.configs:
            rows[d, c] = run_config(args.suite / d, c, CONFIGS[c], args.out, args.threads)
            r = rows[d, c]
            print(f"{d:<10} {c:<16} acc {r['accuracy']:.4f}  {r['train_seconds']:6.0f}s  arch {r['arch']}  "
                  f"unknown AUROC {fmt(r['unknown_auroc'], 3)} ({r['unknown_score']}, LOSO {fmt(r['loso_auroc'], 3)})  "
                  f"ECE {fmt(r['ece'])}  real FPR {fmt(r['real_fpr'])}  detection {fmt(r['detection_rate'])}",
                  flush=True)
        if "default" in args.configs and not args.no_baseline:
            baselines[d] = run_baseline(args.suite / d, rows[d, "default"]["train_seconds"], args.out)
            print(f"{d:<10} {'baseline':<16} acc {baselines[d]['accuracy']:.4f}  "
                  f"{baselines[d]['train_seconds']:6.0f}s  ({baselines[d]['epochs']} epochs)", flush=True)
    sweep = [c for c in args.configs if c != "default"]
    chosen = lodo(rows, datasets, args.configs)
    print("\n| dataset | default train | time | best of sweep | plain BN-CNN, same time | LODO-chosen config | "
          "unknown AUROC | ECE | real FPR | detection |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in datasets:
        r = rows.get((d, "default"))
        best = max(sweep, key=lambda c: rows[d, c]["accuracy"]) if sweep else None
        print(f"| {d} | {fmt(r['accuracy']) if r else '-'} | {r['train_seconds']:.0f} s | "
              f"{fmt(rows[d, best]['accuracy']) + ' (' + best + ')' if best else '-'} | "
              f"{fmt(baselines[d]['accuracy']) if d in baselines else '-'} | "
              f"{chosen[d]['chosen'] + ' ' + fmt(chosen[d]['accuracy']) if d in chosen else '-'} | "
              f"{fmt(r['unknown_auroc'], 3) if r else '-'} | {fmt(r['ece']) if r else '-'} | "
              f"{fmt(r['real_fpr']) if r else '-'} | {fmt(r['detection_rate']) if r else '-'} |")
    (args.out / "summary.json").write_text(json.dumps({"rows": [rows[k] for k in rows], "baselines": baselines,
                                                       "lodo": chosen}, indent=1))


if __name__ == "__main__":
    main()
