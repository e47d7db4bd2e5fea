"""How much a finished yu study's Fréchet verdicts hang on the one feature network it trained.

The Fréchet figure (:mod:`ganprint.quality.frechet`) measures distances in the features of a small
network trained, self-supervised, on the real crops; another training seed gives another network
and another figure. This script trains ``--nets`` such networks (seeds ``seed .. seed + nets - 1``,
the run's own recipe and real images; saved, so a rerun only scores) and scores every GAN of a
finished ``yu-sources`` / ``yu-seeds`` / ``seed001`` run directory under each, on the run's own test
images and reference crops. It prints, per GAN, the relative Fréchet figure under each network, their
median (the figure the experiments report since they use five networks) and how many networks pass
it, beside the network-free SWD figure (the same under every network).

Example::

    python benchmarks/quality_spread.py /tmp/ys3 --protocol yu-sources --nets 5 --out /tmp/ys3-spread.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ganprint.experiments.yu import YuRun
from ganprint.quality.figures import quality_scorer
from ganprint.quality.frechet import QualityConfig, cached_quality_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--protocol", default="yu-sources")
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--nets", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    ap.add_argument("--cache", type=Path, default=None,
                    help="where the networks are saved (default: RUN_DIR/quality-spread-NETS)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run = YuRun(args.run_dir, args.profile, protocol=args.protocol, device="cpu", progress=False)
    q = run.profile.quality
    x_te, y_te, _ = run.load_split("test")
    reference = run.real("train", q.get("reference_images", 1000), "reference")
    gans = [g.name for g in run.protocol.gans]
    t = time.perf_counter()
    cache = args.cache or args.run_dir / f"quality-spread-{args.nets}"
    ensemble = cached_quality_model(cache, lambda: run.real("train", q.get("train_images", 4000), "quality"),
                                    seed=run.seed, networks=args.nets,
                                    config=QualityConfig(epochs=q.get("epochs", 4), seed=run.seed))
    score = quality_scorer(ensemble, reference, seed=run.seed)
    figures = {g: score(x_te[y_te == g][:q.get("samples", 1000)]) for g in gans}
    print(f"{args.nets} networks trained (or loaded from {cache}) and scored in {time.perf_counter() - t:.0f} s",
          flush=True)
    summary = {}
    print(f"\n| GAN | Fréchet relative under {args.nets} networks | median | networks passing | SWD relative |")
    print("|---|---|---|---|---|")
    for g, f in figures.items():
        rel = np.array(f["networks"])
        summary[g] = {"fd_relative": rel.round(4).tolist(), "fd_median": f["relative"],
                      "fd_passing": f["networks_passing"],
                      "fd_passed": f["fd_passed"], "swd_relative": f["swd"]["relative"],
                      "fd_threshold": f["threshold"], "swd_threshold": f["swd"]["threshold"], "passed": f["passed"]}
        print(f"| {g} | {', '.join(f'{v:.3f}' for v in rel)} | {f['relative']:.3f} | "
              f"{f['networks_passing']} / {len(rel)} | {f['swd']['relative']:.3f} |")
    if args.out:
        args.out.write_text(json.dumps({"run": str(args.run_dir), "nets": args.nets, "gans": summary}, indent=2))


if __name__ == "__main__":
    main()
