"""Experiment ``seed001``: seed 001's three-way test (real / ProGAN / SNGAN) on 15 and on 150 test
images, without and with test-time augmentation voting (:mod:`ganprint.attribution.tta`), and the
images the vote fixed.

Seed 001 classified 5 + 5 + 5 images with Yu et al.'s pretrained visNet (14/15 = 0.9333; 138/150 =
0.92 on 150) and fixed its one error by voting over rotated and flipped copies. Here the GANs are
the ``progan`` and ``sngan`` families trained on the real photo crops (the same settings and seeds as
in ``yu-sources``: pass a finished ``yu-sources`` run directory as ``data_dir`` / ``--data`` to reuse
its GANs instead of training them again), the classifier is Yu et al.'s ``postpool`` trained with
left-right flips, and the views the vote uses are chosen on the validation split: a view is kept
when the classifier's validation accuracy on it is within ``view_tolerance`` of its accuracy on the
unchanged images (a view the classifier was never made invariant to would only add wrong votes).
The 15 and 150 test images are drawn at random, in equal numbers per source, from the test split
(crops of photos no model saw; latents no GAN was trained or validated on); the whole test split is
reported beside them.

Its stages are those of :class:`~ganprint.experiments.yu.YuRun` (a reused GAN's stage
``gans/<name>`` holds the other run's stage token, so this run follows when that GAN is trained
again), plus ``views`` (the views chosen on the validation split) and the report stage ``tests``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganprint.experiments.run import STAGE_FILE
from ganprint.experiments.runners import register_study
from ganprint.experiments.seed001_tta import choose_views, tta_tests
from ganprint.experiments.stages import load_stage_model
from ganprint.experiments.yu import TEST_DATA, YuRun, seed_figures
from ganprint.quality.figures import describe
from ganprint.serialization import read_json

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest
    from ganprint.experiments.yu_protocol import GanEntry

CHOSEN = "validation split (the primary attributor: best validation accuracy; the views voted over)"
FIGURES = {
    "accuracy": {"chosen_on": CHOSEN, "reported_on": "150 images of the " + TEST_DATA},
    "tests.*": {"chosen_on": CHOSEN, "reported_on": "random samples, and all, of the " + TEST_DATA},
    "attributors.*.accuracy": YuRun.FIGURES["attributors.*.accuracy"],
    "gans.*.quality": YuRun.FIGURES["gans.*.quality"],
    "unseen_photos": YuRun.FIGURES["unseen_photos"],
}


@register_study("seed001")
def run_experiment(request: RunRequest) -> dict[str, Any]:
    """Runner of ``seed001`` protocols (see :mod:`ganprint.experiments.runners`)."""
    return Seed001Run(request.out_dir, request.profile, protocol=request.protocol, reuse_from=request.data_dir,
                      real_source=request.real_source, device=request.device, progress=request.progress,
                      seed=request.seed).run()


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The accuracy with TTA on the largest test sample against the target, and seed 001's figures."""
    key = max((k for k in results["tests"] if k.isdigit()), key=int)
    return {f"accuracy, {key} test images (with TTA)": {"value": results["accuracy"], "target": results["target"]},
            f"accuracy, {key} test images (without TTA)": {"value": results["accuracy_plain"], "target": None},
            **seed_figures(results)}


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for name, t in results["tests"].items():
        lines.append(f"{name} test images: accuracy {t['accuracy_plain']:.4f} without TTA, {t['accuracy_tta']:.4f} "
                     f"with TTA (fixed {len(t['fixed'])}, broken {len(t['broken'])})")
    for name, g in results["gans"].items():
        q = g["quality"]
        lines.append(f"{name}: quality {describe(q)}")
    lines.append(f"views: {', '.join(results['tta']['views'])}; wall {results['wall_seconds']:.0f} s")
    return lines


class Seed001Run(YuRun):
    """A run directory of seed 001's test; ``run()`` executes or resumes it."""

    FIGURES = FIGURES

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path = "seed001",
                 reuse_from: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(out_dir, profile, protocol=protocol, **kwargs)
        self.reuse_from = Path(reuse_from) if reuse_from is not None else None
        extra = self.protocol.extra
        self.test_sizes = tuple(int(n) for n in extra.get("test_sizes", (15, 150)))
        self.views = tuple(extra.get("candidate_views", ("identity", "hflip", "vflip", "rot90", "rot180", "rot270")))
        self.view_tolerance = float(extra.get("view_tolerance", 0.01))

    def gan_stage_settings(self, gan: GanEntry) -> dict[str, Any]:
        """The ``reuse_from`` run's finished GAN (its stage's folder and token) when that stage was
        trained on the very same settings (config, real images, monitor), else our own GAN's."""
        own = super().gan_stage_settings(gan)
        record = self.reuse_from / "gans" / gan.name / STAGE_FILE if self.reuse_from is not None else None
        if record is not None and record.is_file():
            stored = read_json(record)
            if stored.get("status") == "finished" and (stored.get("settings") or {}).get("gan") == own["gan"]:
                return {"reused_from": str(record.parent), "token": stored["token"]}
        return own

    def run(self) -> dict[str, Any]:
        from ganprint.experiments.seed001_report import write_seed001_report

        run = self.start()
        self.prepare()
        name, attributors = self.attribute()
        model_token = run.token(f"models/{name}")

        def views(_: Path) -> dict[str, Any]:
            x_va, y_va, _ = self.splits("val")
            model = load_stage_model(run, f"models/{name}", self.device)
            return choose_views(model, x_va, y_va, self.views, self.view_tolerance)

        tta = run.stage("views", {"model": model_token, "val": self.data_tokens["val"], "candidates": self.views,
                                  "tolerance": self.view_tolerance}, views, timer="view choice")
        tests = run.stage("tests", {"model": model_token, "views": run.token("views"), "test": self.data_tokens["test"],
                                    "sizes": self.test_sizes, "seed": self.seed},
                          lambda _: tta_tests(load_stage_model(run, f"models/{name}", self.device), self.splits("test"),
                                              tta["views"], self.test_sizes, self.seed, self.out / "figures"),
                          report=True)
        reported = self.report_stages(list(attributors), attributors[name]["labels"])
        main = tests[str(max(self.test_sizes))]
        reused = any(Path(g["folder"]).parent != self.out / "gans" for g in self.gan_info.values())
        results = {**self.results(name, attributors, reported), "labels": attributors[name]["labels"],
                   "accuracy": main["accuracy_tta"], "accuracy_plain": main["accuracy_plain"],
                   "confusion_matrix": main["confusion_matrix_tta"], "target": self.protocol.target,
                   "target_met": bool(main["accuracy_tta"] >= self.protocol.target
                                      and main["accuracy_tta"] >= main["accuracy_plain"]),
                   "tests": tests, "tta": tta, "gans_reused_from": str(self.reuse_from) if reused else None}
        results = run.finish(results, figures=self.FIGURES, device=self.device)
        write_seed001_report(self.out, results, reported["grids"])
        return results
