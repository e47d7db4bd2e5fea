"""Incremental sources and unseen generators, measured on a folder dataset with a real class.

1. Train the two-stage model (seed 003) on every source but ``--new``; record per-source test
   accuracy, and how well the primary detects the never-seen ``--new`` generator as fake
   (detection ROC-AUC on real + new test images: seed 002's generalisation test).
2. ``add_source(--new)``: train only the new secondary module; record per-source accuracy again.
   Issue 3's targets: earlier sources move by at most 1 point, the new one reaches >= 0.95.
3. The same generalisation test for a single-network attributor (``--arch``).

Example (group 1 of the quick MNIST study)::

    python benchmarks/add_source.py --data runs/mnist-groups/data/group_1 --new GAN_3 --out add_source.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ganprint.attribution.attributor import Attributor
from ganprint.attribution.evaluation import detection_report
from ganprint.attribution.two_stage import TwoStageAttributor
from ganprint.data.folder import load_images, scan_folder_dataset


def _load(data: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    ds = scan_folder_dataset(data)
    classes = np.asarray(ds.classes)
    out = {}
    for split in ("train", "val", "test"):
        loaded = load_images(ds.split(split), channels=1, size=(28, 28), workers=4, progress=False)
        out[split] = (loaded.images, classes[loaded.labels])
    return out


def _per_source(model, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    pred = model.predict(x)
    return {str(s): float((pred[y == s] == s).mean()) for s in np.unique(y) if s in set(model.classes_)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--new", required=True, help="the source added later (held out at first)")
    ap.add_argument("--real-class", default="real")
    ap.add_argument("--arch", default="seed-mnist-cnn", help="single-network attributor for the generalisation test")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = _load(args.data)
    (xtr, ytr), (xva, yva), (xte, yte) = data["train"], data["val"], data["test"]
    old_tr, old_va, old_te = ytr != args.new, yva != args.new, yte != args.new
    real_or_new = (yte == args.real_class) | (yte == args.new)
    results: dict = {"data": str(args.data), "new": args.new}

    t0 = time.perf_counter()
    two = TwoStageAttributor(device="cpu").fit(xtr[old_tr], ytr[old_tr], xva[old_va], yva[old_va], progress=False)
    results["two_stage_fit_seconds"] = round(time.perf_counter() - t0, 1)
    before = _per_source(two, xte[old_te], yte[old_te])
    p_fake = two.p_fake(two.predict_proba(xte[real_or_new]))
    results["two_stage_unseen_detection"] = detection_report(yte[real_or_new] == args.new, p_fake)
    t0 = time.perf_counter()
    two.add_source(args.new, xtr, ytr, xva, yva, progress=False)
    results["add_source_seconds"] = round(time.perf_counter() - t0, 1)
    after = _per_source(two, xte, yte)
    results["two_stage_before"] = before
    results["two_stage_after"] = after
    results["max_change_earlier_sources"] = max(abs(after[s] - before[s]) for s in before)
    results["new_source_accuracy"] = after[args.new]
    results["accuracy_after"] = float((two.predict(xte) == yte).mean())

    t0 = time.perf_counter()
    single = Attributor(arch=args.arch, device="cpu").fit(xtr[old_tr], ytr[old_tr], xva[old_va], yva[old_va],
                                                          progress=False)
    results["single_fit_seconds"] = round(time.perf_counter() - t0, 1)
    p_fake = single.p_fake(single.predict_proba(xte[real_or_new]))
    results[f"{args.arch}_unseen_detection"] = detection_report(yte[real_or_new] == args.new, p_fake)

    print(f"{'source':<10} {'before':>8} {'after':>8}")
    for s in after:
        print(f"{s:<10} {before.get(s, float('nan')):>8.4f} {after[s]:>8.4f}")
    print(f"largest change on earlier sources: {results['max_change_earlier_sources']:.4f}; "
          f"new source {args.new}: {results['new_source_accuracy']:.4f}; all: {results['accuracy_after']:.4f}")
    print(f"unseen {args.new} detected as fake (ROC-AUC): two-stage primary "
          f"{results['two_stage_unseen_detection']['detection_auc']:.4f}, {args.arch} "
          f"{results[f'{args.arch}_unseen_detection']['detection_auc']:.4f}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
