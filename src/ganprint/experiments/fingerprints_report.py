"""The fingerprints study's report: ``report.md`` and the robustness plot, written from its results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

LABELS = {"seed_cnn": "seed CNN", "immunised": "seed CNN immunised", "visnet": "visNet",
          "residual_correlation": "residual correlation"}
"""The robustness reports' keys in the results, and their names in the report."""


def plot_robustness_report(out_dir: Path, robustness: dict[str, Any]) -> str:
    """The accuracy-under-perturbations plot of every model; returns its path under ``out_dir``."""
    from ganprint.plots import plot_robustness
    from ganprint.robustness.perturbations import PERTURBATIONS

    rel = "report/robustness.png"
    (Path(out_dir) / rel).parent.mkdir(parents=True, exist_ok=True)
    plot_robustness({label: robustness[key] for key, label in LABELS.items()},
                    "accuracy under perturbations (test split)", Path(out_dir) / rel,
                    target_ranges={n: s.immunise_range for n, s in PERTURBATIONS.items()})
    return rel


def _robustness_markdown(reports: dict[str, dict[str, Any]]) -> list[str]:
    labels = list(reports)
    lines = ["| perturbation | strength | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels),
             "| clean | | " + " | ".join(f"{reports[lb]['clean']:.4f}" for lb in labels) + " |"]
    for name, row in reports[labels[0]]["perturbations"].items():
        for key in row:
            cells = " | ".join(f"{reports[lb]['perturbations'][name][key]:.4f}" for lb in labels)
            lines.append(f"| {name} | {key} | {cells} |")
    return lines


def write_report(out_dir: Path, results: dict[str, Any], deviations: list[str]) -> Path:
    """``report.md``: accuracies, the pictures, robustness before/after immunisation, persistence."""
    from ganprint.robustness.persistence import format_persistence

    acc, fit = results["accuracy"], results["fit_seconds"]
    rob = results["robustness"]
    pics = results["visnet_pictures"]
    lines = [f"# Fingerprints ({results['profile']} profile)", "",
             f"Data: `{results['data']}`; sources {', '.join(results['classes'])}; {results['train_images']} "
             f"training and {results['test_images']} test images; wall time {results['wall_seconds'] / 60:.1f} min "
             f"on {results['threads']} thread(s).", "",
             "## Attributors (test accuracy)", "", "| attributor | test accuracy | fit s |", "|---|---|---|"]
    lines += [f"| {name} | {a:.4f} | {fit[name]:.0f} |" for name, a in acc.items()]
    lines += ["", "## Learned fingerprints (visNet)", "",
              "Model fingerprints (one per source, learned with the autoencoder; each tile scaled to its own range):",
              "", f"![model fingerprints]({pics['model_fingerprints']})", "",
              "Per source, the first test image: input and image fingerprint (autoencoder residual) on the left; "
              "model fingerprints (title green: true source; red: a wrong prediction), the image fingerprint's "
              "response to each, and the response intensities (bar plot; the largest is the prediction).", ""]
    lines += [f"![{source}]({rel})" for source, rel in pics["panels"].items()]
    lines += ["", "## Signal fingerprints", "",
              "Rows: mean noise residual (image minus 3x3 median), mean FFT and DCT log spectra, and the spectra "
              "minus their mean over sources; one column per source (train split).", "",
              f"![signal fingerprints]({results['signal']['picture']})", "",
              "## Robustness before and after immunisation", "",
              f"Targets (Yu et al. ranges) met by the immunised seed CNN: **{results['immunisation_targets_met']}** "
              f"(clean accuracy change {-results['immunisation_clean_drop']:+.4f}).", "",
              f"![robustness]({plot_robustness_report(out_dir, rob)})", ""]
    lines += _robustness_markdown({label: rob[key] for key, label in LABELS.items()})
    per = results["persistence"]
    lines += ["", f"## Persistence ({per['arch']} trained and tested on each variant)", "", format_persistence(per),
              "", "## Stage times (s)", "", *[f"- {k}: {v:.0f}" for k, v in results["stage_seconds"].items()]]
    if deviations:
        lines += ["", "## Deviations", "", *[f"- {d}" for d in deviations]]
    path = Path(out_dir) / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
