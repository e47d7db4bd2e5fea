"""Unknown-source AUROC of the known-source scores (max probability, energy, Mahalanobis on
penultimate features, and the ensemble of energy, stem statistics and image statistics) for trained
single-network attributors, e.g. the models of a ``zoo`` run; also of the ensemble's parts alone
and of the ensemble without the image statistics (``energy+stem``). Densities and score scales are
refitted on the dataset's train and validation splits.

Example::

    python benchmarks/unknown_scores.py --data runs/zoo/data-run/data/group_1 \\
        --unknown different_architecture=runs/zoo/data-run/data/unknown/test/MLP_1 \\
        --unknown same_architecture_other_seed=runs/zoo/data-run/data/unknown/test/GAN_1_seed \\
        --models runs/zoo/models/* --out unknown_scores.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from ganprint.attribution.attributor import Attributor, images_to_tensor
from ganprint.attribution.loading import load_model
from ganprint.attribution.openset import ALL_SCORES, combine_scores
from ganprint.attribution.two_stage import TwoStageAttributor
from ganprint.data.decode import iter_image_paths
from ganprint.data.folder import load_images, scan_folder_dataset

SCORES = ALL_SCORES
PART_SETS = {"energy+stem": ("energy", "stem"), "stem": ("stem",), "signal": ("signal",)}


def two_stage_rows(model, name, train, val, test, classes, unknown, columns, results) -> None:
    """The two-stage model has one unknown-source score, its ensemble (maximum probability plus the
    image statistics); its max_probability column is the maximum probability alone."""
    model._fit_signal_density(images_to_tensor(train.images), classes[train.labels])
    model.calibrate(val.images, classes[val.labels])
    known_proba, known = model.predict_with_scores(test.images)
    results[name] = {}
    for source, images in unknown.items():
        proba, scores = model.predict_with_scores(images)
        y = np.r_[np.ones(len(known)), np.zeros(len(scores))]
        row = {c: float("nan") for c in columns}
        row["ensemble"] = float(roc_auc_score(y, np.r_[known, scores]))
        row["max_probability"] = float(roc_auc_score(y, np.r_[known_proba.max(1), proba.max(1)]))
        results[name][source] = row
        print(f"{name:<40} {source:<30} " + " ".join(f"{row[c]:>15.4f}" for c in columns), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="folder dataset with train/ and test/")
    ap.add_argument("--unknown", action="append", required=True, help="NAME=DIR of an unseen source")
    ap.add_argument("--models", nargs="+", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = scan_folder_dataset(args.data)
    classes = np.asarray(ds.classes)
    train = load_images(ds.split("train"), channels=1, size=(28, 28), workers=4, progress=False)
    val = load_images(ds.split("val"), channels=1, size=(28, 28), workers=4, progress=False)
    test = load_images(ds.split("test"), channels=1, size=(28, 28), workers=4, progress=False)
    unknown = {}
    for item in args.unknown:
        name, folder = item.split("=", 1)
        unknown[name] = load_images([(p, 0) for p in iter_image_paths([folder])], channels=1, size=(28, 28),
                                    workers=4, progress=False).images
    results = {}
    columns = [*SCORES, *PART_SETS]
    print(f"{'model':<40} {'unknown source':<30} " + " ".join(f"{s:>15}" for s in columns))
    for folder in args.models:
        if not (folder / "config.json").is_file():
            continue
        model = load_model(folder, device="cpu")
        if isinstance(model, TwoStageAttributor):
            two_stage_rows(model, folder.name, train, val, test, classes, unknown, columns, results)
            continue
        if not isinstance(model, Attributor):
            continue
        model.fit_density(train.images, classes[train.labels])
        model.calibrate(val.images, classes[val.labels])
        known = model.outputs(test.images)
        results[folder.name] = {}
        for name, images in unknown.items():
            out = model.outputs(images)
            row = {}
            for score in SCORES:
                s_known = model.unknown_scores(known, score)
                s_unknown = model.unknown_scores(out, score)
                y = np.r_[np.ones(len(s_known)), np.zeros(len(s_unknown))]
                row[score] = float(roc_auc_score(y, np.r_[s_known, s_unknown]))
            parts_known, parts_unknown = model._score_parts(known), model._score_parts(out)
            for label, names in PART_SETS.items():
                if not all(n in parts_known for n in names):
                    row[label] = float("nan")
                    continue
                scales = {n: model.score_scales_[n] for n in names}
                s = np.r_[combine_scores(parts_known, scales), combine_scores(parts_unknown, scales)]
                row[label] = float(roc_auc_score(y, s))
            results[folder.name][name] = row
            print(f"{folder.name:<40} {name:<30} " + " ".join(f"{row[s]:>15.4f}" for s in columns), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
