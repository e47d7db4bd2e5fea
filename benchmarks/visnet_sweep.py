"""Train visNet (learned model and image fingerprints, Yu et al.) under named settings on one folder
dataset and print validation and test accuracy beside the seed CNN's.

    python benchmarks/visnet_sweep.py --data D/group_1 \
        --config base '{}' --config rec0.5 '{"rec_weight": 0.5}' --config w32 '{"width": 32}' \
        [--fit '{"epochs": 20}'] [--seed-cnn]

A configuration is a JSON object of :class:`~ganprint.fingerprints.visnet.VisNetConfig` fields
(width, depth, rec_weight) and :class:`~ganprint.attribution.training.FitConfig` fields (epochs,
lr, patience, ...), on top of the defaults (``VisNetConfig()``, ``VISNET_FIT``). Choose on the
``val acc`` column; ``test acc`` is for the record.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from ganprint.attribution.attributor import Attributor, Preprocessing
from ganprint.attribution.training import FitConfig
from ganprint.data.folder import load_images, scan_folder_dataset
from ganprint.fingerprints.visnet import VISNET_FIT, VisNetAttributor, VisNetConfig
from ganprint.models import default_fit_options


def load_split(dataset, split: str, pre: Preprocessing) -> tuple[np.ndarray, np.ndarray]:
    loaded = load_images(dataset.split(split), channels=pre.channels, size=pre.size, progress=False, workers=2)
    return loaded.images, np.asarray(dataset.classes)[loaded.labels]


def split_settings(settings: dict) -> tuple[VisNetConfig, FitConfig]:
    net_keys = {f.name for f in dataclasses.fields(VisNetConfig)}
    net = VisNetConfig(**{k: v for k, v in settings.items() if k in net_keys})
    fit = dataclasses.replace(VISNET_FIT, **{k: v for k, v in settings.items() if k not in net_keys})
    return net, fit


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float((model.predict(x) == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--config", nargs=2, action="append", metavar=("NAME", "JSON"), default=[])
    parser.add_argument("--seed-cnn", action="store_true", help="also train seed-mnist-cnn at its defaults")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    configs = [(name, json.loads(text)) for name, text in args.config] or [("default", {})]

    pre = Preprocessing((28, 28), 1)
    dataset = scan_folder_dataset(args.data)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (load_split(dataset, s, pre) for s in ("train", "val", "test"))
    print(f"{args.data}: train {len(x_tr)}, val {len(x_va)}, test {len(x_te)}; {args.threads} threads")
    print("| config | settings | epochs | fit s | val acc | test acc |")
    print("|---|---|---:|---:|---:|---:|")
    rows = []
    if args.seed_cnn:
        torch.manual_seed(0)
        cnn = Attributor(arch="seed-mnist-cnn", preprocessing=pre, device="cpu",
                         fit_config=FitConfig(**default_fit_options("seed-mnist-cnn")))
        t = time.perf_counter()
        cnn.fit(x_tr, y_tr, x_va, y_va, progress=False)
        rows.append({"config": "seed-mnist-cnn", "settings": {}, "epochs": cnn.history_["epochs_run"],
                     "fit_s": time.perf_counter() - t, "val_acc": accuracy(cnn, x_va, y_va),
                     "test_acc": accuracy(cnn, x_te, y_te)})
        print("| {config} | {settings} | {epochs} | {fit_s:.0f} | {val_acc:.4f} | {test_acc:.4f} |".format(**rows[-1]),
              flush=True)
    for name, settings in configs:
        net, fit = split_settings(settings)
        model = VisNetAttributor(preprocessing=pre, config=net, fit_config=fit, device="cpu")
        t = time.perf_counter()
        model.fit(x_tr, y_tr, x_va, y_va, progress=False)
        rows.append({"config": name, "settings": settings, "epochs": model.history_["epochs_run"],
                     "fit_s": time.perf_counter() - t, "val_acc": accuracy(model, x_va, y_va),
                     "test_acc": accuracy(model, x_te, y_te)})
        print("| {config} | {settings} | {epochs} | {fit_s:.0f} | {val_acc:.4f} | {test_acc:.4f} |".format(**rows[-1]),
              flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
