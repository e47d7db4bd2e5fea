"""The report of ``cifar-gans``: the seed's figures beside ours, the quality table, verification by
inversion with its distance histograms and the generators' Jacobian spectra (``report.md``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganprint.experiments.gan_study_data import REAL
from ganprint.quality.figures import swd_cell

if TYPE_CHECKING:
    from ganprint.experiments.cifar_gans import CifarGansRun

QUALITY_NOTE = (
    "Fréchet distance (FD) between features of real crops no GAN trained on and of each GAN's test images "
    "(features of a rotation-prediction network trained on real crops, `ganprint.quality.frechet`); beside it "
    "the real floor (two halves of real crops), the nearest trivial failure (colour noise or blobs) and the "
    "relative figure (FD - floor) / (trivial - floor). Beside it the network-free figure: the sliced Wasserstein "
    "distance between Laplacian-pyramid patches (`ganprint.quality.swd`, ProGAN), normalised the same way. A GAN "
    "passes when both relative figures are at most their thresholds.")
SPECTRUM_NOTE = (
    "Why the cosine is what it is: singular values of the generator's Jacobian dG/dz (image pixels in [0, 1]) at "
    "random latents, medians; a latent direction whose gain is below the 8-bit rounding noise cannot be recovered "
    "from an image file; the ceiling is the cosine of the Bayes-optimal estimator for a generator linear around "
    "each latent (`ganprint.inversion.identifiability`).")


def quality_table(quality: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown rows: the Fréchet figure, the SWD figure (when computed) and the verdict per GAN."""
    return ["| GAN | FD | real floor | trivial failure | FD relative (threshold) | SWD relative (threshold) | passed |",
            "|---|---|---|---|---|---|---|",
            *(f"| {name} | {q['fd']:.3f} | {q['fd_real']:.3f} | {q['fd_trivial']:.3f} | {q['relative']:.3f} "
              f"({q['threshold']}) | {swd_cell(q)} | {'yes' if q['passed'] else 'no'} |"
              for name, q in quality.items())]


def _attribution(study: CifarGansRun, results: dict[str, Any]) -> list[str]:
    from ganprint.plots import plot_confusion

    seed = results["seed_figures"]
    lines = ["## Attribution with the seed's classifier", "",
             "`seed-cifar-cnn` (§3.2.3, layer for layer) on "
             f"`{results['three_class'].get('representation', 'pixels')}` input (`dct`: the log-scaled 2-D DCT "
             "spectrum of each channel, standardised on the training images, "
             "Frank et al. 2020; `pixels`: the image itself).", "",
             "| task | seed | ours | test images |", "|---|---|---|---|"]
    for key, title in (("three_class", "GAN 1 / GAN 2 / real"), ("two_class", "GAN 1 / GAN 2")):
        r = results[key]
        lines.append(f"| {title} | {seed.get(key + '_accuracy', '-')} | {r['accuracy']:.4f} | {r['n']} |")
        plot_confusion(r["confusion_matrix"], r["labels"], f"{title}: {r['accuracy']:.4f}",
                       study.out / "report" / f"{key}.png")
    return [*lines, "", "![three-class](report/three_class.png) ![two-class](report/two_class.png)", ""]


def _inversion(study: CifarGansRun, inversion: dict[str, dict[str, Any]]) -> list[str]:
    from ganprint.experiments.gan_study_plots import plot_distance_histogram

    lines = ["## Verification by inversion", ""]
    for name, inv in inversion.items():
        if inv.get("warm_started"):
            lines += [f"{name} trained with a latent-regression term (weight {inv['latent_regression']:g}): the "
                      "seed's inverse model learned each step's (z, G(z)) pairs beside the GAN, and the "
                      "generator was penalised by its error, as InfoGAN does for its codes. The inverse "
                      "model starts from that encoder and is fine-tuned on pairs of the final generator.", ""]
    lines += ["| verified GAN | cosine (held-out pairs; seed 0.91) | threshold | val accuracy | "
              "**test accuracy** (seed 0.868) | test ROC-AUC | per negative set (accuracy / AUC) |",
              "|---|---|---|---|---|---|---|"]
    for name, inv in inversion.items():
        t = inv["test"]
        per = "; ".join(f"{k} {v['accuracy']:.3f} / {v['auc']:.4f}" for k, v in t["by_negative"].items())
        lines.append(f"| {name} | {inv['cosine']:.3f} | {inv['threshold']:.3f} | "
                     f"{inv['validation_accuracy']:.4f} | **{inv['verification_accuracy']:.4f}** | "
                     f"{inv['verification_auc']:.4f} | {per} |")
        plot_distance_histogram({f"own ({name})" if k == "own" else k: v for k, v in t["distances"].items()},
                                inv["threshold"], study.out / "report" / f"distances_{name}.png",
                                title=f"reconstruction distances, verifying {name}")
    lines += ["", *(f"![{name}](report/distances_{name}.png)" for name in inversion), ""]
    spectra = {n: inv["identifiability"] for n, inv in inversion.items() if "identifiability" in inv}
    if spectra:
        lines += [SPECTRUM_NOTE, "",
                  "| GAN | largest | 10th | 50th | smallest | directions above rounding noise | "
                  "linearised cosine ceiling | inverse model's cosine (train pairs / held out) |",
                  "|---|---|---|---|---|---|---|---|"]
        for n, sp in spectra.items():
            lines.append(f"| {n} | {sp['singular_value_largest']:.3g} | {sp['singular_value_10th']:.3g} | "
                         f"{sp['singular_value_50th']:.3g} | {sp['singular_value_smallest']:.3g} | "
                         f"{sp['directions_above_rounding_noise']:.0f} | {sp['cosine_ceiling']:.4f} | "
                         f"{inversion[n]['train_cosine']:.3f} / {inversion[n]['cosine']:.3f} |")
        lines.append("")
    return lines


def write_cifar_gans_report(study: CifarGansRun, results: dict[str, Any],
                            inversion: dict[str, dict[str, Any]]) -> None:
    """``report.md`` and its plots under ``report/``."""
    (study.out / "report").mkdir(parents=True, exist_ok=True)
    lines = [f"# {study.protocol.get('title', 'cifar-gans')}", "",
             f"Profile **{results['profile']}**, real images: `{results['real_source']}`, wall time "
             f"{results['wall_seconds']:.0f} s on {results['device']} ({results['threads']} thread(s)).", "",
             *_attribution(study, results), "## GAN quality", "", QUALITY_NOTE, "", *quality_table(results["quality"]),
             "", "Samples: " + " ".join(f"{n} ![{n}](report/samples/{n}.png)" for n in [*study.gans, REAL]), "",
             *_inversion(study, inversion)]
    study.write_report(lines, results)
