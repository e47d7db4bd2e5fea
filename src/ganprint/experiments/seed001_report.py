"""The report of the ``seed001`` experiment: accuracy without and with test-time augmentation, the
images the vote fixed or broke, and the parts it shares with Yu et al.'s reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganprint.experiments.report import report_folders, report_head, write_report
from ganprint.experiments.yu_report import (
    QUALITY_NOTE,
    closing_lines,
    quality_table,
    seed_figure_lines,
    unseen_photo_lines,
)
from ganprint.plots import plot_confusion


def write_seed001_report(out_dir: Path, results: dict[str, Any], grids: dict[str, str]) -> Path:
    """``report.md`` of a ``seed001`` run: accuracy on 15 / 150 / all test images without and with
    TTA, seed 001's figures beside ours, the images the vote fixed (and any it broke); ``grids``: the
    sample grid of each source."""
    out_dir, fig = report_folders(out_dir, "figures")
    tta = results["tta"]
    reused = results.get("gans_reused_from")
    lines = report_head(f"{results['title']} (profile `{results['profile']}`)",
                        f"Classifier `{results['primary']}`; real source `{results['real_source']}`; "
                        f"GANs {'reused from ' + reused if reused else 'trained here'}."
                        f" Wall time {results['wall_seconds']:.0f} s on {results['threads']} thread(s).",
                        "Accuracy without and with test-time augmentation (majority vote over views)",
                        ["test images", "without TTA", "with TTA", "correct (without / with)", "fixed", "broken"])
    for key, t in results["tests"].items():
        lines.append(f"| {key} | {t['accuracy_plain']:.4f} | {t['accuracy_tta']:.4f} | "
                     f"{t['correct_plain']} / {t['correct_tta']} of {t['n']} | {len(t['fixed'])} | "
                     f"{len(t['broken'])} |")
        plot_confusion(t["confusion_matrix_tta"], results["labels"], f"{key} test images, with TTA",
                       fig / f"confusion_{key.replace(' ', '_')}_tta.png")
    lines += ["", f"Target: >= {results['target']} on 150 images with TTA no worse than without: "
              f"**{'met' if results['target_met'] else 'not met'}**.", ""]
    lines += seed_figure_lines(results)
    lines += unseen_photo_lines(results)
    acc = ", ".join(f"{v} {a:.4f}" for v, a in tta["val_accuracy_by_view"].items())
    lines += [f"Views voted over: {', '.join(tta['views'])} (chosen on the validation split: kept when within "
              f"{tta['tolerance']} of the accuracy on unchanged images; validation accuracy per view: {acc}).", ""]
    for key, t in results["tests"].items():
        for what in ("fixed", "broken"):
            items = t[what]
            if not items:
                continue
            png = f"figures/tta_{what}_{key.replace(' ', '_')}.png"
            lines += [f"### Images the vote {what} ({key} test images)", "", f"![{what}]({png})", "",
                      "| # | true | without TTA | with TTA | votes (" + ", ".join(results["labels"]) + ") |",
                      "|---|---|---|---|---|"]
            lines += [f"| {i + 1} | {f['true']} | {f['plain']} | {f['tta']} | {f['votes']} |"
                      for i, f in enumerate(items)]
            lines.append("")
    for key in results["tests"]:
        lines += [f"![confusion matrix, {key} with TTA](figures/confusion_{key.replace(' ', '_')}_tta.png)", ""]
    lines += ["## GAN quality", "", QUALITY_NOTE, "", *quality_table(results["gans"]), ""]
    return write_report(out_dir, [*lines, *closing_lines(results, grids)])
