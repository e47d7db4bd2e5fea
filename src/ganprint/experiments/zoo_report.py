"""The zoo experiment's report: one table and plots, written from ``results.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganprint.experiments.report import MET, MISSED, mark, marks_legend
from ganprint.models import default_representation
from ganprint.plots import plot_confusion, pyplot

_SPLIT_NAMES = {"val": "validation split", "train": "training split (the data has no validation split)"}
TARGETS = {"accuracy_each": 0.95, "accuracy_best": 0.995, "unknown_auroc": 0.95, "ece": 0.02, "wall_minutes": 30}


def _f(v: Any, digits: int = 4) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def architecture_rows(rows: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per architecture, its row at its defaults (its recommended input, recipe adam): the row the
    targets judge it by; other rows are variations."""
    return {r["arch"]: r for r in rows.values()
            if r["representation"] == default_representation(r["arch"]) and r["recipe"] == "adam"}


def write_zoo_report(out_dir: Path, results: dict[str, Any]) -> Path:
    out_dir = Path(out_dir)
    plots = out_dir / "report"
    plots.mkdir(parents=True, exist_ok=True)
    rows = results["models"]
    unknown_names = sorted({n for r in rows.values() for n in r["unknown"]})
    lines = [f"# Attributor zoo ({results['profile']} profile)", "",
             f"Data: `{results['data']}`; classes {', '.join(results['classes'])}; "
             f"{results['train_images']} training and {results['test_images']} test images; "
             f"wall time {results['wall_seconds'] / 60:.1f} min on {results['threads']} threads.", ""]
    head = ["model", "representation", "recipe", "parameters", "train s", "epochs", "accuracy", "balanced acc",
            "ECE (T=1)", "ECE", "detection AUC", *[f"unknown AUROC: {n}" for n in unknown_names], "img/s"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(rows.values(), key=lambda row: -row["accuracy"]):
        cells = [r["arch"], r["representation"], r["recipe"], f"{r['parameters']:,}", f"{r['fit_seconds']:.0f}",
                 str(r["epochs_run"]), _f(r["accuracy"]), _f(r["balanced_accuracy"]), _f(r["ece_uncalibrated"]),
                 _f(r["ece"]), _f(r["detection_auc"]),
                 *[_f(r["unknown"].get(n, {}).get("unknown_auroc")) for n in unknown_names],
                 f"{r['images_per_second']:.0f}" if r["images_per_second"] else "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    best = rows[results["best"]]
    arch_rows = architecture_rows(rows)
    each = TARGETS["accuracy_each"]
    below = sorted((r["accuracy"], a) for a, r in arch_rows.items() if r["accuracy"] < each)
    lowest = min((r["accuracy"], a) for a, r in arch_rows.items()) if arch_rows else None
    lines += ["", "## Targets", "", marks_legend(), "",
              f"- every architecture (recommended input, default recipe) >= {each}: {MISSED if below else MET} "
              + (f"(lowest {lowest[1]} {lowest[0]:.4f}" if lowest else "(none")
              + (f"; below: {', '.join(f'{a} {v:.4f}' for v, a in below)})" if below else ")"),
              f"- best >= {TARGETS['accuracy_best']}: {mark(best['accuracy'], TARGETS['accuracy_best'])} "
              f"({results['best']}: {best['accuracy']:.4f}; the best model is the one of highest accuracy on "
              f"the {_SPLIT_NAMES[results['best_chosen_on']]}, its accuracy here is on the test split)",
              f"- ECE after temperature scaling <= {TARGETS['ece']}: "
              f"{sum(r['ece'] is not None and r['ece'] <= 0.02 for r in rows.values())} of {len(rows)} models",
              f"- whole run <= {TARGETS['wall_minutes']} min: "
              f"{MET if results['wall_seconds'] <= 60 * TARGETS['wall_minutes'] else MISSED} "
              f"({results['wall_seconds'] / 60:.1f} min)"]
    for n in unknown_names:
        vals = [r["unknown"][n]["unknown_auroc"] for r in rows.values() if n in r["unknown"]]
        lines.append(f"- unknown-source AUROC, {n}: best model {best['unknown'][n]['unknown_auroc']:.4f}, "
                     f"{sum(v >= 0.95 for v in vals)} of {len(vals)} models >= 0.95")
    if results.get("gans"):
        lines += ["", "## Generators (quality gate: share of samples read as a digit of their subset)", "",
                  "| GAN | quality gate | mode coverage |", "|---|---|---|"]
        for name, g in results["gans"].items():
            lines.append(f"| {name} | {_f(g['quality_gate'], 3)} | {_f(g.get('mode_coverage'), 2)} |")
    _scatter(rows, plots / "accuracy_vs_time.png")
    plot_confusion(best["confusion_matrix"], best["labels"], f"{results['best']}: {best['accuracy']:.4f}",
                   plots / "best_confusion.png")
    lines += ["", "## Plots", "", "![accuracy against training time](report/accuracy_vs_time.png)",
              "", "![confusion matrix of the best model](report/best_confusion.png)", "",
              "## Where the time went", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.0f} |" for k, v in results["stage_seconds"].items()]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _scatter(rows: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for key, r in rows.items():
        ax.scatter(r["fit_seconds"], r["accuracy"], s=30)
        ax.annotate(key.replace("+pixels", "").replace("+adam", ""), (r["fit_seconds"], r["accuracy"]),
                    fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("training seconds (log)")
    ax.set_ylabel("test accuracy")
    ax.set_title("accuracy against training time")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
