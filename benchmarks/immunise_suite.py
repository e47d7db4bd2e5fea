"""Immunisation on the generalisation suite: does ``ganprint immunise`` with its defaults carry over?

    python benchmarks/defaults_suite.py --suite S --out R --configs default   # the models to harden
    python benchmarks/immunise_suite.py --suite S --models R --out R-imm [--configs default ...]

For every dataset of the suite (``S/<name>/train``, ``S/<name>/test``) it takes the model that
``defaults_suite.py`` trained with default ``train`` (``R/<name>/model-default``) and runs what a user
runs, as subprocesses timed on the wall clock:

    ganprint immunise   --model M --data S/<name>/train --out M' [options]
    ganprint robustness --model M  --data S/<name>/test --json     # before
    ganprint robustness --model M' --data S/<name>/test --json     # after

and prints, per dataset and family, the worst ratio of perturbed to clean accuracy over the
strengths inside the advertised range (noise sigma <= 0.05, blur sigma <= 1 px, JPEG quality >= 50,
crops keeping >= 80 %, brightness and gamma within +-30 %), before and after. The target is a
ratio of at least 0.95 everywhere. A configuration (``--configs``) names immunise options; the rule
for choosing a default honestly is the same as for ``train``: choose on some datasets (or on a
suite built with another ``--random-seed``), report on others. Results are cached per (dataset,
configuration) in ``--out``; a rerun resumes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CONFIGS: dict[str, list[str]] = {
    "default": [],
}
"""Immunise options per configuration name (``default``: none, what a user gets)."""


def _ganprint(*args: str) -> str:
    run = subprocess.run([sys.executable, "-m", "ganprint", *args], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"ganprint {' '.join(args)} failed:\n{run.stderr[-3000:]}")
    return run.stdout


def worst_ratios(report: dict) -> dict[str, float]:
    """Per family, the lowest perturbed/clean accuracy over the strengths inside its immunisation range."""
    from ganprint.robustness.perturbations import get_spec

    clean = report["clean"]
    out = {}
    for name, row in report["perturbations"].items():
        lo, hi = sorted(get_spec(name).immunise_range)
        inside = [acc for key, acc in row.items() if lo <= float(key) <= hi]
        if inside:
            out[name] = min(inside) / clean if clean else 0.0
    return out


def robustness(model: Path, test: Path, cache: Path, threads: list[str]) -> dict:
    if cache.is_file():
        return json.loads(cache.read_text())
    report = json.loads(_ganprint("robustness", "--model", str(model), "--data", str(test), "--json", "-q", *threads))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(report, indent=1))
    return report


def run(dataset: Path, base_model: Path, name: str, options: list[str], out: Path, threads: list[str]) -> dict:
    cache = out / dataset.name / f"{name}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    before = robustness(base_model, dataset / "test", out / dataset.name / "before.json", threads)
    model = out / dataset.name / f"model-{name}"
    t0 = time.perf_counter()
    _ganprint("immunise", "--model", str(base_model), "--data", str(dataset / "train"), "--out", str(model), "-q",
              *options, *threads)
    seconds = time.perf_counter() - t0
    after = robustness(model, dataset / "test", out / dataset.name / f"after-{name}.json", threads)
    row = {"dataset": dataset.name, "config": name, "options": options, "immunise_seconds": seconds,
           "clean_before": before["clean"], "clean_after": after["clean"],
           "worst_before": worst_ratios(before), "worst_after": worst_ratios(after)}
    row["passes"] = all(v >= 0.95 for v in row["worst_after"].values())
    cache.write_text(json.dumps(row, indent=1))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", type=Path, required=True, help="folder of suite datasets")
    parser.add_argument("--models", type=Path, required=True,
                        help="defaults_suite.py's --out (model-default per dataset)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--datasets", nargs="*", default=None)
    parser.add_argument("--configs", nargs="*", default=["default"], help="NAME or NAME='--opt v ...'")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    threads = ["--threads", str(args.threads)] if args.threads else []
    datasets = args.datasets or sorted(p.name for p in args.suite.iterdir() if (p / "train").is_dir())
    configs = {}
    for c in args.configs:
        name, _, opts = c.partition("=")
        configs[name] = opts.split() if opts else CONFIGS.get(name, [])
    rows = []
    for d in datasets:
        base = args.models / d / "model-default"
        if not (base / "config.json").is_file():
            print(f"{d}: no {base}; run defaults_suite.py first", file=sys.stderr)
            continue
        for name, opts in configs.items():
            row = run(args.suite / d, base, name, opts, args.out, threads)
            rows.append(row)
            fams = row["worst_after"]
            print(f"{d:<8} {name:<12} clean {row['clean_before']:.4f} -> {row['clean_after']:.4f}  "
                  f"{row['immunise_seconds']:5.0f}s  worst ratio after: "
                  + "  ".join(f"{k} {v:.3f}" for k, v in fams.items())
                  + f"  {'PASS' if row['passes'] else 'miss'}", flush=True)
    print("\n| dataset | config | clean before -> after | " + " | ".join(
        f"{f} before -> after" for f in (rows[0]["worst_after"] if rows else {})) + " |")
    for r in rows:
        print(f"| {r['dataset']} | {r['config']} | {r['clean_before']:.4f} -> {r['clean_after']:.4f} | "
              + " | ".join(f"{r['worst_before'][f]:.3f} -> {v:.3f}" for f, v in r["worst_after"].items()) + " |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
