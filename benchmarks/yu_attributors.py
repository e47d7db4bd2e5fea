"""Compare attributors on a finished yu study without training its GANs again.

Loads a finished ``yu-sources`` / ``yu-seeds`` / ``seed001`` run directory, optionally draws more
training images per source (the GANs' own training latent stream, so the run's images are the
first ones; the real class from the run's own real role), and trains each ``--spec`` (a profile
attributor entry as JSON: ``{"kind": "postpool", "representation": "dct", "options": {"width": 2}}``).
It prints one JSON line per attributor: validation and test accuracy, the test accuracy on GAN
images alone and on real images alone.

``--holdout PHOTO`` measures how the real class carries over to content it never saw *without
touching the test split*: the real training crops come from the other training photos only, and
crops of PHOTO are scored (``holdout_real``: the share called real). This is how the choice between
attributors was checked on 2026-12-07 (``docs/lab/yu-studies.md``).

Example::

    python benchmarks/yu_attributors.py /tmp/ys3 --per-source 3000 \\
        --spec '{"kind": "postpool", "representation": "dct"}' \\
        --spec '{"kind": "postpool", "representation": "dct", "augment": "photometric"}'
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ganprint.data.photos import PhotoCropConfig, load_photo, photo_crops, photo_split
from ganprint.experiments.yu import REAL, REAL_ROLES, SAMPLING_SEEDS, YuRun, make_attributor
from ganprint.gans.sampling import chunk_latents, generate, load_generator


def training_set(run: YuRun, per_source: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_source`` training images of every source of ``run`` (GAN images from the training
    latent stream, real crops of the attributor's role)."""
    xs, ys = [], []
    for gan in run.protocol.gans:
        G, cfg = load_generator(run.gan_dir(gan.name), device="cpu")
        xs.append(generate(G, chunk_latents(SAMPLING_SEEDS["train"], 0, cfg["latent_dim"], per_source)))
        ys += [gan.name] * per_source
    xs.append(run.real("train", per_source, "attr"))
    ys += [REAL] * per_source
    return np.concatenate(xs), np.asarray(ys, dtype=object)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--protocol", default="yu-sources")
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--per-source", type=int, default=0, help="training images per source (0: the run's own)")
    ap.add_argument("--spec", action="append", required=True, help="an attributor entry as JSON (repeatable)")
    ap.add_argument("--holdout", default=None, help="a training photo left out of the real class and scored")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run = YuRun(args.run_dir, args.profile, protocol=args.protocol, device="cpu", progress=False)
    x_tr, y_tr, _ = run.load_split("train")
    if args.per_source:
        x_tr, y_tr = training_set(run, args.per_source)
    x_va, y_va, _ = run.load_split("val")
    x_te, y_te, _ = run.load_split("test")
    held = None
    if args.holdout:
        names, box = photo_split(run.protocol.photo_splits["train"])
        if args.holdout not in names:
            ap.error(f"--holdout must be one of the training photos: {', '.join(names)}")
        keep = [load_photo(n) for n in names if n != args.holdout]
        seed = run.seed + REAL_ROLES["attr"]
        x_tr = x_tr.copy()
        x_tr[y_tr == REAL] = photo_crops(keep, PhotoCropConfig(n=int((y_tr == REAL).sum()), seed=seed, box=box))
        held = photo_crops([load_photo(args.holdout)], PhotoCropConfig(n=500, seed=seed + 100))
    for text in args.spec:
        spec = json.loads(text)
        t = time.perf_counter()
        model = make_attributor(spec, device="cpu", seed=run.seed)
        model.fit(x_tr, y_tr, x_va, y_va, progress=False)
        predicted = np.asarray(model.predict(x_te))
        gan = y_te != REAL
        row = {"spec": spec, "train_images": int(len(y_tr)), "fit_seconds": round(time.perf_counter() - t),
               "val": round(float(model.score(x_va, y_va)), 4), "test": round(float(np.mean(predicted == y_te)), 4),
               "test_gan_only": round(float(np.mean(predicted[gan] == y_te[gan])), 4),
               "test_real_only": round(float(np.mean(predicted[~gan] == REAL)), 4)}
        if held is not None:
            row["holdout_real"] = round(float(np.mean(np.asarray(model.predict(held)) == REAL)), 4)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
