"""Experiment ``cifar-gans`` (seed 000 §3.2-3.3): two color GANs, attribution among them and real
images, each GAN's quality figure, and verification by inversion.

Stages, each skipped on a rerun when its output exists:

1. real 32x32 crops (``photos``: split by photo; or CIFAR-10) for GAN training, classifier splits
   and the quality model, and the quality figure's feature network (``quality-model/``);
2. GAN 1 and GAN 2 (``cifar-gan1``/``cifar-gan2``) trained on the real training crops, side by side
   (one process per core, :mod:`ganprint.gans.pool`); with the profile's ``monitor``,
   each is scored by both quality figures every so many training images on real crops the report
   does not use, and the latest snapshot within a margin of both thresholds is kept
   (:mod:`ganprint.quality.monitor`);
3. per GAN, classifier images from three latent streams (train/val/test);
4. the quality figures of each GAN (Fréchet distance on a small network trained on real crops, and
   the network-free SWD figure);
5. the seed's classifier (``seed-cifar-cnn``) on GAN 1 / GAN 2 / real and on GAN 1 / GAN 2;
6. verification by inversion for each listed GAN: the seed's inverse model, latent search, the
   threshold chosen on validation (fresh own samples against the other GAN and real validation
   crops), accuracy and ROC-AUC on test (new latent streams, the test photos);
7. ``results.json`` and ``report.md`` with the seed's figures beside ours and the plots.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganprint.experiments.gan_studies import (
    SPLITS,
    GanEntry,
    attribute,
    cached,
    finished_gan_info,
    gan_config,
    gan_splits,
    quality_figures,
    sample_images,
    save_image_grid,
)
from ganprint.experiments.protocol import (
    attributor_representation,
    fit_config,
    load_protocol_dict,
    profile_settings,
    with_seed_offset,
)
from ganprint.gans.pool import GanJob, train_gan_jobs
from ganprint.quality.figures import describe, swd_cell
from ganprint.quality.frechet import cached_quality_model
from ganprint.quality.monitor import profile_monitor, quality_stops
from ganprint.serialization import write_json

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest

REAL = "real"
MONITOR_REAL_OFFSET = 9  # real crops of the training monitor: seed + 9 (the report's reference is seed + 8)
# latent streams of the verification images (validation positives use VALIDATION_SEED of fit_verifier)
OTHER_VAL_STREAM, OWN_TEST_STREAM, OTHER_TEST_STREAM = 101, 202, 303


@dataclasses.dataclass(frozen=True)
class CifarGansProfile:
    """One profile of the ``cifar-gans`` protocol (see ``protocols/cifar-gans.yaml``)."""

    name: str
    gan: dict[str, Any]
    gan_images: int
    images: dict[str, int]
    attributor: dict[str, Any]
    quality_real: int
    inversion: dict[str, Any]
    deviations: tuple[str, ...] = ()
    gan_by_name: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    monitor: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> CifarGansProfile:
        images = {s: int(d["images_per_class"][s]) for s in SPLITS}
        return cls(name, dict(d["gan"]), int(d["gan_images"]), images, dict(d["attributor"]),
                   int(d.get("quality_real", 2000)), dict(d.get("inversion", {})), tuple(d.get("deviations", ())),
                   {k: dict(v or {}) for k, v in (d.get("gans") or {}).items()}, profile_monitor(d))

    def gan_settings(self, name: str) -> dict[str, Any]:
        """The profile's ``gan`` settings with GAN ``name``'s own (``gans: {name: {...}}``) over them."""
        return {**self.gan, **self.gan_by_name.get(name, {})}

    def inversion_settings(self, name: str) -> dict[str, Any]:
        """The ``inversion`` settings for one GAN: the shared ones with its ``by_gan`` entry on top."""
        shared = {k: v for k, v in self.inversion.items() if k != "by_gan"}
        return {**shared, **dict((self.inversion.get("by_gan") or {}).get(name) or {})}


def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of the ``cifar-gans`` protocol (see :mod:`ganprint.experiments.runners`)."""
    return CifarGansRun(request.out_dir, request.profile, protocol=request.protocol, device=request.device,
                        real_source=request.real_source, progress=request.progress, seed=request.seed).run()


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The figures the report sets beside the seed's: both classifiers' accuracy, and per verified GAN
    the inverse model's cosine and the verification accuracy."""
    seed = results["seed_figures"]
    out = {title: {"value": results[key], "target": seed.get(key)}
           for key, title in (("three_class_accuracy", "three-class accuracy (GAN 1, GAN 2, real)"),
                              ("two_class_accuracy", "two-class accuracy (GAN 1, GAN 2)"))}
    for name, inv in results["inversion_by_gan"].items():
        out[f"inversion cosine {name}"] = {"value": inv["cosine"], "target": seed.get("inversion_cosine")}
        out[f"verification accuracy {name}"] = {"value": inv["verification_accuracy"],
                                                "target": seed.get("verification_accuracy")}
    return out


def quality_table(quality: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown rows: the Fréchet figure, the SWD figure (when computed) and the verdict per GAN."""
    lines = ["| GAN | FD | real floor | trivial failure | FD relative (threshold) | SWD relative (threshold) "
             "| passed |",
             "|---|---|---|---|---|---|---|"]
    for name, q in quality.items():
        lines.append(f"| {name} | {q['fd']:.3f} | {q['fd_real']:.3f} | {q['fd_trivial']:.3f} | "
                     f"{q['relative']:.3f} ({q['threshold']}) | {swd_cell(q)} | {'yes' if q['passed'] else 'no'} |")
    return lines


def summary_lines(results: dict[str, Any]) -> list[str]:
    seed = results["seed_figures"]
    lines = [f"three-class (GAN 1, GAN 2, real): {results['three_class_accuracy']:.4f} "
             f"(seed {seed['three_class_accuracy']})",
             f"two-class (GAN 1 vs GAN 2): {results['two_class_accuracy']:.4f} (seed {seed['two_class_accuracy']})"]
    for name, q in results["quality"].items():
        lines.append(f"quality {name}: FD {q['fd']:.2f} (real floor {q['fd_real']:.2f}), {describe(q)}")
    for name, inv in results["inversion_by_gan"].items():
        lines.append(f"inversion {name}: cosine {inv['cosine']:.3f}, verification accuracy "
                     f"{inv['verification_accuracy']:.4f}, ROC-AUC {inv['verification_auc']:.4f}")
    return lines


class CifarGansRun:
    """One run directory of ``cifar-gans``; ``run()`` executes or resumes it."""

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path = "cifar-gans",
                 device: str = "auto", real_source: str | None = None, progress: bool = True,
                 seed: int | None = None) -> None:
        from ganprint.device import resolve_device

        self.out = Path(out_dir)
        self.protocol = with_seed_offset(load_protocol_dict(protocol), seed)
        self.profile = CifarGansProfile.from_dict(profile, profile_settings(self.protocol, profile))
        self.seed = int(self.protocol.get("seed", 0))
        self.gans = {name: GanEntry.from_dict(name, d, self.seed + i)
                     for i, (name, d) in enumerate(self.protocol["gans"].items())}
        if len(self.gans) != 2:
            raise ValueError("cifar-gans compares exactly two GANs")
        self.real_source = real_source or self.protocol.get("real_source", "photos")
        self.device = str(resolve_device(device))
        self.progress = progress
        self.stage_seconds: dict[str, float] = {}

    def _timed(self, stage: str, fn):
        t = time.perf_counter()
        out = fn()
        self.stage_seconds[stage] = round(self.stage_seconds.get(stage, 0.0) + time.perf_counter() - t, 2)
        return out

    def real(self, split: str, n: int, seed: int) -> np.ndarray:
        from ganprint.data.photos import load_color_source

        return load_color_source(self.real_source, split, n=n, seed=seed)

    def gan_dir(self, name: str) -> Path:
        return self.out / "gans" / name

    def run(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        p = self.profile
        gan_train = self._timed("real data", lambda: self.real("train", p.gan_images, self.seed))
        real = self._timed("real data", lambda: {
            s: self.real(s, p.images[s], self.seed + 1 + i) for i, s in enumerate(SPLITS)})
        quality_model = self._timed("quality model", lambda: cached_quality_model(
            self.out / "quality-model", lambda: self.real("train", p.quality_real, self.seed + 7), seed=self.seed,
            device=self.device))
        configs = {name: gan_config(e, p.gan_settings(name)) for name, e in self.gans.items()}
        stops = quality_stops(self.profile.monitor, self.out / "quality-model",
                              lambda n: self.real("train", n, self.seed + MONITOR_REAL_OFFSET), configs, seed=self.seed)
        jobs = [GanJob(self.gan_dir(name), cfg, gan_train, {"source": self.real_source, "split": "train"},
                       stops[name]) for name, cfg in configs.items()]
        gan_seconds = self._timed("GAN training", lambda: train_gan_jobs(jobs, device=self.device,
                                                                         progress=self.progress))
        gan_info = {name: finished_gan_info(self.gan_dir(name), cfg) for name, cfg in configs.items()}
        samples = self._timed("generation", lambda: {
            name: gan_splits(self.gan_dir(name), p.images, device=self.device) for name in self.gans})
        for name, s in samples.items():
            save_image_grid(s["test"][:64], self.out / "report" / "samples" / f"{name}.png")
        save_image_grid(real["test"][:64], self.out / "report" / "samples" / f"{REAL}.png")
        quality = self._timed("quality", lambda: cached(self.out / "quality.json", lambda: quality_figures(
            None, self.real("train", p.quality_real, self.seed + 8),
            {name: np.concatenate([s[split] for split in SPLITS]) for name, s in samples.items()}, seed=self.seed,
            device=self.device, model=quality_model),
            settings=[{n: c.to_dict() for n, c in configs.items()}, p.images, p.quality_real, "all splits"]))
        fit = fit_config(p.attributor, self.seed)
        representation = attributor_representation(p.attributor)
        arch = self.protocol.get("attributor_arch", "seed-cifar-cnn")
        names = list(self.gans)
        gan_settings = {n: c.to_dict() for n, c in configs.items()}
        fit_settings = [arch, representation, gan_settings, p.images, fit.to_dict()]
        three = self._timed("three-class classifier", lambda: cached(
            self.out / "models" / "three_class.json",
            lambda: attribute(arch, {**samples, REAL: real}, fit, device=self.device, progress=self.progress,
                              representation=representation,
                              model_dir=self.out / "models" / "three_class"), fit_settings))
        two = self._timed("two-class classifier", lambda: cached(
            self.out / "models" / "two_class.json",
            lambda: attribute(arch, samples, fit, device=self.device, progress=self.progress,
                              representation=representation,
                              model_dir=self.out / "models" / "two_class"), fit_settings))
        inversion = {}
        for name in p.inversion.get("gans", names[:1]):
            other = next(n for n in names if n != name)
            inversion[name] = self._timed(f"inversion {name}", lambda n=name, o=other: cached(
                self.out / "inversion" / f"{n}.json", lambda: self._inversion(n, o),
                settings=[gan_settings[n], p.inversion_settings(n)]))
        first = inversion[next(iter(inversion))] if inversion else {}
        results = {
            "experiment": "cifar-gans", "profile": p.name, "real_source": self.real_source,
            "seed_figures": self.protocol.get("seed_figures", {}),
            "three_class_accuracy": three["accuracy"], "two_class_accuracy": two["accuracy"],
            "three_class": three, "two_class": two,
            "gans": {name: {**{k: info.get(k) for k in ("arch", "arch_options", "steps", "kept_step", "train",
                                                         "quality_history")},
                            "train_seconds": gan_seconds.get(name)} for name, info in gan_info.items()},
            "quality": quality,
            "all_gans_pass_quality": bool(quality) and all(bool(quality[n]["passed"]) for n in names),
            "inversion": {k: first.get(k) for k in ("gan", "cosine", "verification_accuracy", "verification_auc")},
            "inversion_by_gan": {n: {k: v for k, v in inv.items() if k != "test"} | {
                "test": {k: v for k, v in inv["test"].items() if k != "distances"}} for n, inv in inversion.items()},
            "deviations": list(p.deviations),
            "stage_seconds": self.stage_seconds,
            "wall_seconds": round(time.perf_counter() - t0, 2), "threads": torch.get_num_threads(),
            "device": self.device,
        }
        write_json(self.out / "results.json", results)
        self._report(results, inversion)
        return results

    # -- inversion -------------------------------------------------------------------------------
    def _inversion(self, name: str, other: str) -> dict[str, Any]:
        from ganprint.inversion import (
            FitInverterConfig,
            InverterTrainConfig,
            LatentSearchConfig,
            Verifier,
            assess_verifier,
            fit_verifier,
        )

        cfg = self.profile.inversion_settings(name)
        n_val, n_test = int(cfg.get("n_val", 150)), int(cfg.get("n_test", 300))
        val_negatives = np.concatenate([sample_images(self.gan_dir(other), n_val, OTHER_VAL_STREAM),
                                        self.real("val", n_val, self.seed + 11)])
        config = FitInverterConfig(
            train=InverterTrainConfig(**{k: cfg[k] for k in ("n_pairs", "epochs", "lr", "batch_size", "warm_start",
                                                              "precision") if k in cfg}),
            search=LatentSearchConfig(**{k.removeprefix("search_"): cfg[k] for k in ("search_steps", "search_lr",
                                                                                     "search_precision") if k in cfg}),
            n_validation=n_val)
        t0 = time.perf_counter()
        info = fit_verifier(self.gan_dir(name), val_negatives, config, device=self.device, progress=self.progress)
        fit_seconds = time.perf_counter() - t0
        verifier = Verifier.load(self.gan_dir(name), device=self.device)
        t0 = time.perf_counter()
        test = assess_verifier(verifier, sample_images(self.gan_dir(name), n_test, OWN_TEST_STREAM),
                               {f"other GAN ({other})": sample_images(self.gan_dir(other), n_test, OTHER_TEST_STREAM),
                                REAL: self.real("test", n_test, self.seed + 12)})
        from ganprint.gans.sampling import load_generator
        from ganprint.inversion.identifiability import identifiability_report

        G, gan_cfg = load_generator(self.gan_dir(name), self.device)
        spectrum = identifiability_report(G, int(gan_cfg["latent_dim"]), n=int(cfg.get("jacobian_latents", 4)),
                                          seed=self.seed)
        return {"gan": name, "negatives": [other, REAL], "cosine": info["cosine"], "identifiability": spectrum,
                "warm_started": info["warm_started"],
                "latent_regression": float(gan_cfg["train"].get("latent_regression", 0.0)),
                "train_cosine": info["train_cosine"], "threshold": info["threshold"],
                "validation_accuracy": info["validation"]["accuracy"],
                "verification_accuracy": test["accuracy"], "verification_auc": test["auc"], "test": test,
                "fit_seconds": round(fit_seconds, 2),
                "verify_seconds_per_image": round((time.perf_counter() - t0) / (3 * n_test), 4),
                "config": {"train": config.train.to_dict(), "search": config.search.to_dict(),
                           "n_val": n_val, "n_test": n_test}}

    # -- report ----------------------------------------------------------------------------------
    def _report(self, results: dict[str, Any], inversion: dict[str, dict[str, Any]]) -> None:
        from ganprint.experiments.gan_study_plots import plot_distance_histogram
        from ganprint.plots import plot_confusion

        fig = self.out / "report"
        fig.mkdir(parents=True, exist_ok=True)
        seed = results["seed_figures"]
        lines = [f"# {self.protocol.get('title', 'cifar-gans')}", "",
                 f"Profile **{results['profile']}**, real images: `{results['real_source']}`, wall time "
                 f"{results['wall_seconds']:.0f} s on {results['device']} ({results['threads']} thread(s)).", "",
                 "## Attribution with the seed's classifier", "",
                 f"`seed-cifar-cnn` (§3.2.3, layer for layer) on "
                 f"`{results['three_class'].get('representation', 'pixels')}` "
                 "input (`dct`: the log-scaled 2-D DCT spectrum of each channel, standardised on the training images, "
                 "Frank et al. 2020; `pixels`: the image itself).", "",
                 "| task | seed | ours | test images |", "|---|---|---|---|"]
        for key, title in (("three_class", "GAN 1 / GAN 2 / real"), ("two_class", "GAN 1 / GAN 2")):
            r = results[key]
            lines.append(f"| {title} | {seed.get(key + '_accuracy', '-')} | {r['accuracy']:.4f} | {r['n']} |")
            plot_confusion(r["confusion_matrix"], r["labels"], f"{title}: {r['accuracy']:.4f}", fig / f"{key}.png")
        lines += ["", "![three-class](report/three_class.png) ![two-class](report/two_class.png)", "",
                  "## GAN quality", "",
                  "Fréchet distance (FD) between features of real crops no GAN trained on and of each GAN's "
                  "test images (features of a rotation-prediction network trained on real crops, "
                  "`ganprint.quality.frechet`); beside it the real floor (two halves of real crops), the "
                  "nearest trivial failure (colour noise or blobs) and the relative figure "
                  "(FD - floor) / (trivial - floor). Beside it the network-free figure: the sliced Wasserstein "
                  "distance between Laplacian-pyramid patches (`ganprint.quality.swd`, ProGAN), normalised "
                  "the same way. A GAN passes when both relative figures are at most their thresholds.", "",
                  *quality_table(results["quality"])]
        lines += ["", "Samples: " + " ".join(f"{n} ![{n}](report/samples/{n}.png)" for n in [*self.gans, REAL]),
                  "", "## Verification by inversion", ""]
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
                                    inv["threshold"], fig / f"distances_{name}.png",
                                    title=f"reconstruction distances, verifying {name}")
        lines += ["", *(f"![{name}](report/distances_{name}.png)" for name in inversion), ""]
        spectra = {n: inv["identifiability"] for n, inv in inversion.items() if "identifiability" in inv}
        if spectra:
            lines += ["Why the cosine is what it is: singular values of the generator's Jacobian dG/dz (image "
                      "pixels in [0, 1]) at random latents, medians; a latent direction whose gain is below the "
                      "8-bit rounding noise cannot be recovered from an image file; the ceiling is the cosine of "
                      "the Bayes-optimal estimator for a generator linear around each latent "
                      "(`ganprint.inversion.identifiability`).", "",
                      "| GAN | largest | 10th | 50th | smallest | directions above rounding noise | "
                      "linearised cosine ceiling | inverse model's cosine (train pairs / held out) |",
                      "|---|---|---|---|---|---|---|---|"]
            for n, sp in spectra.items():
                lines.append(f"| {n} | {sp['singular_value_largest']:.3g} | {sp['singular_value_10th']:.3g} | "
                             f"{sp['singular_value_50th']:.3g} | {sp['singular_value_smallest']:.3g} | "
                             f"{sp['directions_above_rounding_noise']:.0f} | {sp['cosine_ceiling']:.4f} | "
                             f"{inversion[n]['train_cosine']:.3f} / {inversion[n]['cosine']:.3f} |")
            lines.append("")
        lines += ["## Deviations of this profile from the seed", ""]
        lines += [f"- {d}" for d in results["deviations"]] or ["- none"]
        lines += ["", "## Where the time goes", "", "| stage | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.1f} |" for k, v in results["stage_seconds"].items()]
        (self.out / "report.md").write_text("\n".join(lines) + "\n")
