"""Reports: Markdown plus PNG plots, written from a results dictionary (no recomputation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganprint.plots import plot_confusion

QUALITY_TARGET = 0.75  # the share a GAN's samples must reach for its accuracy to count (the quality gate)

MET, NEAR, MISSED = "✅", "≈", "❌"

SEED_TOLERANCE = 0.005
"""How far below a paper's accuracy ours may fall and still count as reproduced (≈, not ✅): half a
percentage point. The paper's figure is itself one run on a finite test set, and groups of GANs that
differ only in their random seed or data half swing by about that much between runs of the same
profile (docs/lab/gan-training.md); 0.9993 against the paper's 1.0 is one test image in 1,500."""


def mark(value: float, target: float, tolerance: float = 0.0) -> str:
    """``MET`` (✅) when ``value >= target``, ``NEAR`` (≈) when below it by at most ``tolerance``,
    else ``MISSED`` (❌). The gap is rounded to 10 decimals, so 0.995 is within 0.005 of 1.0."""
    if value >= target:
        return MET
    return NEAR if round(target - value, 10) <= tolerance else MISSED


def marks_legend(tolerance: float = 0.0) -> str:
    """One line that says what the marks mean, with the tolerance when there is one."""
    if tolerance > 0:
        return (f"Marks: {MET} at or above the target; {NEAR} below it by at most {tolerance:g} (the tolerance: within "
                f"a run's noise, not a miss); {MISSED} more than {tolerance:g} below.")
    return f"Marks: {MET} target met; {MISSED} missed (no tolerance: the target is a threshold)."


def report_folders(out_dir: str | Path, figures: str) -> tuple[Path, Path]:
    """The run folder of a report and its figure folder ``out_dir/figures`` (created)."""
    out_dir = Path(out_dir)
    (out_dir / figures).mkdir(parents=True, exist_ok=True)
    return out_dir, out_dir / figures


def report_head(title: str, intro: str, section: str, columns: list[str]) -> list[str]:
    """The first lines of a report: its title, a paragraph, the first section's heading and the
    header of its table (``columns``)."""
    return [f"# {title}", "", intro, "", f"## {section}", "",
            "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def write_report(out_dir: Path, lines: list[str]) -> Path:
    """``out_dir/report.md``: the report's Markdown ``lines``."""
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


JUDGE_RECOGNISED_TARGET = 0.9
JUDGE_RECALL_TARGET = 0.5


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _judge_section(gans: dict[str, Any]) -> list[str]:
    """The quality figures of the judge, which steered no choice (the gate above stopped training)."""
    if not any(g.get("judge_recognised") is not None for g in gans.values()):
        return []
    lines = ["## Sample quality by an independent judge", "",
             "The gate above decided when each GAN stopped and which snapshot was kept, so its share says little "
             "on its own. The judge is a digit classifier of another architecture and seed that took part in no "
             "choice. Beside its share of samples it recognises (as a digit of the GAN's subset, confidence ≥ 0.9) "
             "are the k-nearest-neighbour precision and recall (Kynkäänniemi et al. 2019, k = 3) of the samples "
             "against held-out real digits of the subset, in the judge's features: precision is the share of "
             "samples that look like some real digit, recall the share of real digits' variety that the samples "
             "cover. 'Real floor' is the same figure for one half of the held-out real digits against the other "
             "(what a perfect generator scores at this sample size).", "",
             "| GAN | judge recognised | k-NN precision (real floor) | k-NN recall (real floor) |",
             "|---|---|---|---|"]
    for name, g in gans.items():
        if g.get("judge_recognised") is None:
            continue
        rec, recall = g["judge_recognised"], g.get("judge_knn_recall")
        lines.append(f"| {name} | {rec:.3f} {mark(rec, JUDGE_RECOGNISED_TARGET)} | "
                     f"{_fmt(g.get('judge_knn_precision'))} ({_fmt(g.get('judge_real_knn_precision'))}) | "
                     f"{_fmt(recall)}{'' if recall is None else ' ' + mark(recall, JUDGE_RECALL_TARGET)} "
                     f"({_fmt(g.get('judge_real_knn_recall'))}) |")
    lines += ["", marks_legend() + f" Targets: recognised ≥ {JUDGE_RECOGNISED_TARGET}, "
              f"k-NN recall ≥ {JUDGE_RECALL_TARGET}."]
    return lines


def write_mnist_groups_report(out_dir: Path, results: dict[str, Any], protocol) -> Path:
    """``report.md`` with the accuracy table beside the seed's, the quality gate per GAN,
    confusion-matrix heatmaps, sample grids, the profile's deviations and where the time went."""
    out_dir, fig_dir = report_folders(out_dir, "report")
    lines = report_head(protocol.title,
                        f"Profile **{results['profile']}**, wall time {results['wall_seconds']:.0f} s "
                        f"({results['wall_seconds'] / 60:.1f} min) on {results['device']} "
                        f"({results['workers']} GAN worker process(es)).",
                        "Attribution accuracy per group", ["group", "sources", "seed accuracy", "ours", "test images"])
    for name, g in results["groups"].items():
        seed = g.get("seed_accuracy")
        ok = "" if seed is None else " " + mark(g["accuracy"], seed, SEED_TOLERANCE)
        lines.append(f"| {name} | {', '.join(g['labels'])} | {seed if seed is not None else '-'} | "
                     f"{g['accuracy']:.4f}{ok} | {g['n']} |")
    lines += ["", marks_legend(SEED_TOLERANCE)
              + " The target is the accuracy the paper published (column 'seed accuracy')."]
    gc = results["gate_classifier"]
    lines += ["", "## GAN quality gate", "",
              "Share of 1,000-odd samples that a digit classifier (trained on real digits, with a 'not a digit' "
              "class for noise and blobs, calibrated by temperature scaling on validation digits) recognises with "
              "confidence ≥ 0.9 as a digit of the GAN's own training subset; beside it the same share for held-out "
              "real digits of that subset, and the mode coverage (share of the subset's digits that the GAN "
              "draws at least a quarter as often as a fair share), and the within-digit diversity of the samples "
              "that pass (per digit, the pixel-wise spread of the passing samples over that of the real digits of "
              "the class, averaged: 1 is as varied as real digits; near 0 is a generator that draws a few "
              "prototypes again and again, which the share alone would not catch; held-out real digits score "
              "about 1). Each GAN's saved generator is the snapshot "
              "with the best gate x coverage among its periodic checks (the step kept is shown).", "",
              f"Digit classifier: held-out real-digit accuracy {gc['test_accuracy']:.4f} "
              f"(n={gc['test_size']}), synthetic non-digits rejected {gc['non_digit_rejection']:.3f}"
              + (f", temperature {gc['temperature']:.3f} (expected calibration error "
                 f"{gc['test_ece_uncalibrated']:.3f} before, {gc['test_ece']:.3f} after)"
                 if "temperature" in gc else "")
              + ".", "",
              "| GAN | digits | training images | steps (kept) | quality gate | mode coverage | diversity "
              "| real digits' share | real digits' diversity |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, g in results["gans"].items():
        part = f" (part {g['partition'][0] + 1}/{g['partition'][1]})" if g.get("partition") else ""
        real = "-" if g.get("real_share") is None else f"{g['real_share']:.3f}"
        steps = f"{g['train_steps']} ({g.get('kept_step', g['train_steps'])})" + (
            ", reached the stop target" if g.get("stopped_early") else "")
        cover = "-" if g.get("mode_coverage") is None else f"{g['mode_coverage']:.2f}"
        ok = " " + mark(g["quality_gate"], QUALITY_TARGET)
        div, real_div = ("-" if g.get(k) is None else f"{g[k]:.2f}" for k in ("diversity", "real_diversity"))
        lines.append(f"| {name} | {g['digits']}{part} | {g['train_images']} | {steps} | "
                     f"{g['quality_gate']:.3f}{ok} | {cover} | {div} | {real} | {real_div} |")
    lines += ["", marks_legend() + f" The target is a quality gate of {QUALITY_TARGET}.", ""]
    lines += _judge_section(results["gans"])
    lines += ["", "## Confusion matrices", ""]
    for name, g in results["groups"].items():
        png = fig_dir / f"confusion_{name}.png"
        plot_confusion(g["confusion_matrix"], g["labels"], f"{name}: accuracy {g['accuracy']:.4f}", png)
        lines.append(f"![{name}](report/{png.name})")
    lines += ["", "## Samples", ""]
    for name in results["gans"]:
        lines.append(f"**{name}**  \n![{name}](report/samples/{name}.png)\n")
    lines += ["## Deviations of this profile from the seed", ""]
    lines += [f"- {d}" for d in results["profile_config"]["deviations"]] or ["- none"]
    lines += ["", "## Where the time goes", "", "| stage | seconds | share |", "|---|---|---|"]
    total = results["wall_seconds"] or 1
    for stage, sec in results["stage_seconds"].items():
        lines.append(f"| {stage} | {sec:.1f} | {sec / total:.0%} |")
    return write_report(out_dir, lines)
