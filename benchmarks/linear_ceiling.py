"""How far can a linear model go on a folder dataset, and which input representation lifts it?

    python benchmarks/linear_ceiling.py --data /work/runs/zoo2/data-run/data/group_1 [--threads 1]

Fits scikit-learn's L2 logistic regression (L-BFGS, converged) on standardised pixels and on
standardised pixels plus the standardised log-DCT, with ``C`` chosen on the validation split, as
the reference optimum of a linear model; then ganprint's ``logreg`` attributor with its registered
training settings on each input representation. Prints validation and test accuracy per row.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from ganprint.attribution.attributor import Attributor, Preprocessing
from ganprint.attribution.training import FitConfig
from ganprint.data.folder import load_images, scan_folder_dataset
from ganprint.data.representations import create_representation
from ganprint.models import default_fit_options

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)


def load_split(dataset, split: str, pre: Preprocessing) -> tuple[np.ndarray, np.ndarray]:
    loaded = load_images(dataset.split(split), channels=pre.channels, size=pre.size, progress=False)
    return loaded.images, np.asarray(dataset.classes)[loaded.labels]


def features(rep_name: str, train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """The representation fitted on ``train`` and applied to every array, flattened to (N, D)."""
    to_t = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255  # noqa: E731
    rep = create_representation(rep_name).fit(to_t(train))
    return [rep.transform(to_t(a)).reshape(len(a), -1).numpy() for a in (train, *others)]


def sklearn_row(name: str, Xtr, ytr, Xva, yva, Xte, yte) -> dict:
    from sklearn.linear_model import LogisticRegression

    best = None
    for C in C_GRID:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LogisticRegression(C=C, max_iter=3000).fit(Xtr, ytr)
        val = model.score(Xva, yva)
        if best is None or val > best[0]:
            best = (val, C, model.score(Xte, yte))
    return {"row": f"sklearn L2 logistic regression, {name}", "C": best[1], "val": best[0], "test": best[2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pre = Preprocessing(size=(args.size, args.size), channels=args.channels)
    ds = scan_folder_dataset(args.data)
    (xtr, ytr), (xva, yva), (xte, yte) = (load_split(ds, s, pre) for s in ("train", "val", "test"))
    rows = []
    for rep in ("pixels-std", "pixels+dct"):
        t0 = time.perf_counter()
        row = sklearn_row(rep, *sum(([f, y] for f, y in zip(features(rep, xtr, xva, xte), (ytr, yva, yte),
                                                                  strict=True)), []))
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        print(f"{row['row']:<52} C={row['C']:<5} val {row['val']:.4f} test {row['test']:.4f} "
              f"{row['seconds']:.0f} s", flush=True)
    fit = FitConfig(**{**default_fit_options("logreg"), "seed": 0})
    for rep in ("pixels", "pixels-std", "dct", "pixels+dct"):
        t0 = time.perf_counter()
        model = Attributor(arch="logreg", representation=rep, preprocessing=pre, fit_config=fit, device="cpu")
        model.fit(xtr, ytr, xva, yva, progress=False)
        val, test = model.score(xva, yva), model.score(xte, yte)
        print(f"{'ganprint logreg, ' + rep:<52} {'':7} val {val:.4f} test {test:.4f} "
              f"{time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
