"""The report of the ``families`` experiment (``report.md``) and its sample grid."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ganprint.experiments.report import mark, marks_legend, write_report


def save_sample_grid(images: Mapping[str, np.ndarray], path: Path) -> Path:
    """One row of images per source (uint8 (N, H, W)), the source's name at the left."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = max(len(v) for v in images.values())
    fig, axes = plt.subplots(len(images), cols, figsize=(cols * 0.8 + 1.2, len(images) * 0.85), squeeze=False)
    for r, (name, row) in enumerate(images.items()):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if c < len(row):
                ax.imshow(row[c], cmap="gray", vmin=0, vmax=255)
        axes[r][0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _f(v: float | None, digits: int = 4) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def _cell(c: Mapping[str, Any]) -> str:
    span = "" if c.get("auroc_low") is None else f" [{c['auroc_low']:.3f}, {min(1.0, c['auroc_high']):.3f}]"
    return f"{c['auroc']:.3f}{span} / {c['ap']:.3f}"


def write_families_report(out_dir: Path, results: dict[str, Any]) -> Path:
    """``report.md``: sources and their quality, attribution (DDPM vs DDIM), the cross-family table,
    seed-level attribution, the pictures, generator training, time and the profile's deviations."""
    t = results["targets"]
    src = results["source_entries"]
    lines = [f"# Attribution and detection across generator families ({results['profile']} profile)", "",
             "Every generator trains on the same real MNIST digits; the real class holds digits none of them saw. "
             "The judge (another architecture and seed than the gate that steers the GANs' stop, trained on the "
             "generators' digits only) reports each source's recognised share and k-NN precision and recall "
             "against held-out real digits.", "", marks_legend(), "",
             "## Sources and their quality (test images)", "",
             "| source | family | generator | sampler | recognised | k-NN precision | k-NN recall | mark |",
             "|---|---|---|---|---|---|---|---|"]
    for name, q in results["sources"].items():
        e = src.get(name, {"family": "real", "generator": "–", "sampler": {}})
        sampler = ", ".join(f"{k} {v}" for k, v in e.get("sampler", {}).items()) or "–"
        verdict = "(reference)" if name == "Real" else " ".join(
            [mark(q["judge_recognised"], t["judge_recognised"]), mark(q["knn_recall"], t["knn_recall"])])
        lines.append(f"| {name} | {e['family']} | {e.get('generator') or '–'} | {sampler} | "
                     f"{_f(q['judge_recognised'])} | {_f(q['knn_precision'])} | {_f(q['knn_recall'])} | {verdict} |")
    lines += ["", f"Targets: recognised at least {t['judge_recognised']}, k-NN recall at least {t['knn_recall']}. "
              "Real digits scored the same way (same sizes) reach the Real row.", ""]
    att = results["attribution"]
    labels = att["labels"]
    lines += ["## Attribution across families", "",
              f"Accuracy over {len(labels)} sources: **{att['accuracy']:.4f}** (target {t['attribution_accuracy']}) "
              f"{mark(att['accuracy'], t['attribution_accuracy'])}; {att['n']} test images.", "",
              "| source | recall | precision |", "|---|---|---|"]
    for name in labels:
        pc = att["per_class"][name]
        lines.append(f"| {name} | {pc['recall']:.4f} | {pc['precision']:.4f} |")
    if "DDPM" in labels and "DDIM" in labels:
        cm, i, j = att["confusion_matrix"], labels.index("DDPM"), labels.index("DDIM")
        lines += ["", f"DDPM vs DDIM sampling of the same model: {cm[i][j]} of {sum(cm[i])} DDPM images called DDIM, "
                  f"{cm[j][i]} of {sum(cm[j])} DDIM images called DDPM."]
    lines += ["", "Confusion matrix (rows: true source, columns: predicted):", "",
              "| | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for name, row in zip(labels, att["confusion_matrix"], strict=True):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    cross = results["cross_family"]
    fams = list(next(iter(cross.values())).keys()) if cross else []
    lines += ["", "## Cross-family detection (Ricker et al. 2024, Table 2)", "",
              f"Real-vs-fake detectors trained on the real train digits against the named families' images "
              f"(as many fakes as reals, equal shares per source), scored on the test digits against each family's "
              f"test images. Cells: AUROC [95% interval over {results['detector_seeds']} detector seeds] / AP (mean).",
              "", "| trained on \\ tested on | " + " | ".join(fams) + " |", "|---|" + "---|" * len(fams)]
    for trained, row in cross.items():
        lines.append(f"| {trained} | " + " | ".join(_cell(row[f]) for f in fams) + " |")
    per_source = results["cross_family_per_source"]
    names = list(next(iter(per_source.values())).keys()) if per_source else []
    lines += ["", "Per source (AUROC, mean over detector seeds):", "",
              "| trained on \\ tested on | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for trained, row in per_source.items():
        lines.append(f"| {trained} | " + " | ".join(f"{row[n]['auroc']:.3f}" for n in names) + " |")
    sl = results["seed_level"]
    a, b = results["seed_level_pair"]
    lines += ["", "## Seed-level attribution", "",
              f"{a} vs {b}: two diffusion models that differ only in their training seed, sampled alike: accuracy "
              f"**{sl['accuracy']:.4f}** on {sl['n']} test images (chance 0.5).", "",
              "## Pictures", "", f"- Spectra and noise residuals per source: `{results['pictures']['spectra']}`",
              f"- Samples per source: `{results['pictures']['samples']}`", "",
              "## Generators", "", "| generator | family | architecture | parameters | steps | train seconds |",
              "|---|---|---|---|---|---|"]
    for name, g in results["generators"].items():
        steps = g.get("steps")
        kept = g.get("kept_step")
        steps_cell = f"{steps}" + (f" (kept {kept})" if kept is not None and kept != steps else "")
        lines.append(f"| {name} | {g.get('family')} | {g.get('arch')} | {g.get('parameters') or '–'} | {steps_cell} | "
                     f"{_f(g.get('train_seconds'), 1)} |")
    lines += ["", "## Time", "", f"Wall time {results['wall_seconds']:.0f} s on {results['threads']} threads "
              f"({results['device']}).", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.0f} |" for k, v in results["stage_seconds"].items()]
    lines += ["", "## Deviations of this profile", ""] + [f"- {d}" for d in results["deviations"]]
    return write_report(out_dir, lines)
