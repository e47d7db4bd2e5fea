"""Reports of the ``yu-sources`` and ``yu-seeds`` experiments, and the parts ``seed001``'s report
shares: Markdown with sample grids, confusion matrices, the quality figures and the seeds' figures
beside ours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganprint.experiments.report import report_folders, report_head, write_report
from ganprint.plots import plot_confusion
from ganprint.quality.figures import swd_cell


def image_grid(images: np.ndarray, columns: int = 8, scale: int = 2, pad: int = 2) -> np.ndarray:
    """uint8 (N, H, W, 3) -> one uint8 image of the images in rows of ``columns``, each enlarged
    ``scale`` times (nearest neighbour, so pixel-level artefacts stay visible), on a white margin."""
    images = np.asarray(images)
    if len(images) == 0:
        return np.full((8, 8, 3), 255, np.uint8)
    n, h, w = images.shape[:3]
    rows = -(-n // columns)
    big = images.repeat(scale, 1).repeat(scale, 2)
    hh, ww = h * scale + pad, w * scale + pad
    out = np.full((rows * hh + pad, min(n, columns) * ww + pad, 3), 255, np.uint8)
    for i, img in enumerate(big):
        r, c = divmod(i, columns)
        out[pad + r * hh:pad + r * hh + h * scale, pad + c * ww:pad + c * ww + w * scale] = img[..., :3]
    return out


def save_grid(images: np.ndarray, path: Path, **kwargs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(images, **kwargs)).save(path)
    return path


def sample_grids(data_root: Path, split: str, sources: list[str], fig_dir: Path, n: int = 32) -> dict[str, str]:
    """One grid of the first ``n`` images of each source in ``data_root/split/<source>``; returns
    source -> file name (relative to the report)."""
    out = {}
    for source in sources:
        files = sorted((data_root / split / source).glob("*.png"))[:n]
        if not files:
            continue
        images = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
        out[source] = save_grid(images, fig_dir / f"samples_{source}.png").relative_to(fig_dir.parent).as_posix()
    return out


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def networks_cell(q: dict[str, Any]) -> str:
    """Every feature network's relative Fréchet figure and how many pass, or ``"–"`` for a figure
    computed under one network before ensembles."""
    if "networks" not in q:
        return "–"
    return f"{', '.join(f'{v:.2f}' for v in q['networks'])} ({q['networks_passing']}/{len(q['networks'])} pass)"


QUALITY_NOTE = ("`relative` = (FD - FD real/real) / (min(FD noise, FD blobs) - FD real/real): 0 is as close as "
                "held-out real images, 1 as far as a trivial failure; a GAN passes at <= the threshold "
                "(`ganprint.quality.frechet`). With several feature networks (trained alike, seeds apart) the "
                "FD columns are the median network's, whose figure decides; the last column lists every "
                "network's figure.")


def quality_table(gans: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| GAN | arch | train seed | FD | FD real/real | FD noise | FD blobs | FD relative (threshold) | "
             "SWD relative (threshold) | passed (both) | FD relative per network |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, g in gans.items():
        q = g["quality"]
        lines.append(f"| {name} | {g['arch']} | {g['seed']} | {q['fd']:.3f} | {q['fd_real']:.3f} | "
                     f"{q['fd_noise']:.2f} | {q['fd_blobs']:.2f} | {q['relative']:.3f} ({q['threshold']}) | "
                     f"{swd_cell(q)} | {'yes' if q['passed'] else '**no**'} | {networks_cell(q)} |")
    return lines


def write_yu_report(out_dir: Path, results: dict[str, Any], grids: dict[str, str]) -> Path:
    """``report.md`` of a ``yu-sources`` / ``yu-seeds`` run, with its figures in ``figures/`` (``grids``:
    the sample grid of each source, :func:`sample_grids`)."""
    out_dir, fig = report_folders(out_dir, "figures")
    lines = report_head(f"{results['title']} (profile `{results['profile']}`)",
                        f"Real source: `{results['real_source']}`; {results['gan_train_images']} real images train "
                        f"every GAN; images per source: {results['images_per_source']}. Wall time "
                        f"{results['wall_seconds']:.0f} s on {results['threads']} thread(s), "
                        f"device {results['device']}.",
                        "Attribution accuracy on the test split",
                        ["attributor", "accuracy", "balanced accuracy", "fit seconds", "test images"])
    for name, row in results["attributors"].items():
        lines.append(f"| {name}{' (primary)' if name == results['primary'] else ''} | {row['accuracy']:.4f} | "
                     f"{row['balanced_accuracy']:.4f} | {row['fit_seconds']:.0f} | {row['test_images']} |")
        png = fig / f"confusion_{name}.png"
        plot_confusion(row["confusion_matrix"], row["labels"], f"{name}: accuracy {row['accuracy']:.4f}", png)
    failed = [name for name, row in results["attributors"].items() if row.get("fit_failed")]
    if failed:
        lines += ["", f"**Did not train:** {', '.join(failed)} (final training loss within 10% of chance, "
                  "ln of the number of sources)."]
    lines += ["", f"Target: accuracy >= {results['target']} with the primary attributor: "
              f"**{'met' if results['target_met'] else 'not met'}** ({results['accuracy']:.4f}).", ""]
    lines += seed_figure_lines(results)
    lines += unseen_photo_lines(results)
    for name in results["attributors"]:
        lines += [f"![confusion matrix, {name}](figures/confusion_{name}.png)", ""]
    lines += ["## GAN quality (Fréchet distance on self-supervised real-image networks, and SWD)", "",
              QUALITY_NOTE, "", *quality_table(results["gans"]), "",
              f"All GANs pass: **{'yes' if results['all_gans_pass_quality'] else 'no'}**.", ""]
    return write_report(out_dir, [*lines, *closing_lines(results, grids)])


def closing_lines(results: dict[str, Any], grids: dict[str, str]) -> list[str]:
    """The last sections of a report: the sample grids, the profile's deviations, the stage times."""
    lines = ["## Samples (test split, 2x nearest-neighbour)", ""]
    for source, rel in grids.items():
        lines += [f"**{source}**", "", f"![{source}]({rel})", ""]
    if results.get("deviations"):
        lines += ["## Deviations from the seed", "", *[f"- {d}" for d in results["deviations"]], ""]
    return [*lines, "## Stage times (seconds)", "",
            *[f"- {k}: {v:.0f}" for k, v in results["stage_seconds"].items()], ""]


def unseen_photo_lines(results: dict[str, Any]) -> list[str]:
    """The attributors on real crops of photos that no split of the study shows (beyond the seed:
    a real image of unseen content should still be called real)."""
    unseen = results.get("unseen_photos") or {}
    if not unseen:
        return []
    first = next(iter(unseen.values()))
    lines = ["### Real crops of photos the study never shows", "",
             f"{first['images']} crops of {', '.join(first['photos'])}: the real test split comes from the same "
             "photos as the GANs' training images (as seed 004's CelebA test faces do); these photos test whether "
             "the real class carries over to unseen content.", "",
             "| attributor | called real | predicted sources |", "|---|---|---|"]
    for name, row in unseen.items():
        counts = ", ".join(f"{k} {v}" for k, v in row["predicted"].items())
        lines.append(f"| {name} | {row['real_accuracy']:.4f} | {counts} |")
    return [*lines, ""]


def seed_figure_lines(results: dict[str, Any]) -> list[str]:
    """The seed's figures beside ours, as a table (``seed_figures`` of the protocol: name -> value
    or note)."""
    figures = results.get("seed_figures") or {}
    if not figures:
        return []
    lines = ["### The seed's figures beside ours", "", "| figure | seed | ganprint |", "|---|---|---|"]
    for name, entry in figures.items():
        entry = entry if isinstance(entry, dict) else {"value": entry}
        ours = lookup(results, entry.get("ours"))
        lines.append(f"| {name} | {_fmt(entry.get('value'))} | {_fmt(ours)} |")
    notes = [f"- {name}: {entry['note']}" for name, entry in figures.items()
             if isinstance(entry, dict) and entry.get("note")]
    return [*lines, "", *notes, ""] if notes else [*lines, ""]


def lookup(results: dict[str, Any], dotted: str | None) -> Any:
    """``a.b.c`` -> results['a']['b']['c'] (None when absent)."""
    if not dotted:
        return None
    node: Any = results
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node
