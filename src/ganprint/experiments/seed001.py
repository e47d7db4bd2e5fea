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
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganprint.experiments.yu import YuRun, seed_figures
from ganprint.quality.figures import describe
from ganprint.serialization import read_json, write_json

if TYPE_CHECKING:
    from ganprint.experiments.runners import RunRequest


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

    def __init__(self, out_dir: str | Path, profile: str = "quick", *, protocol: str | Path = "seed001",
                 reuse_from: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(out_dir, profile, protocol=protocol, **kwargs)
        self.reuse_from = Path(reuse_from) if reuse_from is not None else None
        extra = self.protocol.extra
        self.test_sizes = tuple(int(n) for n in extra.get("test_sizes", (15, 150)))
        self.views = tuple(extra.get("candidate_views", ("identity", "hflip", "vflip", "rot90", "rot180", "rot270")))
        self.view_tolerance = float(extra.get("view_tolerance", 0.01))

    def gan_dir(self, name: str) -> Path:
        """A finished GAN of the ``reuse_from`` run with the very same training config and real images,
        else our own."""
        if self.reuse_from is not None:
            other = self.reuse_from / "gans" / name
            gan = next(g for g in self.protocol.gans if g.name == name)
            if (other / "config.json").is_file():
                cfg = read_json(other / "config.json")
                wanted = self.profile.gan_config(gan)
                from dataclasses import asdict

                same = {k: v for k, v in asdict(wanted).items() if k != "checkpoint_every"} == \
                    {k: (tuple(v) if isinstance(v, list) else v) for k, v in cfg.get("train", {}).items()
                     if k != "checkpoint_every"}
                # the same real images too (a GAN written before photo splits were recorded trained on "train")
                same_data = {"split": "train", **cfg.get("data", {})} == {"split": "train", **self.gan_data_info()}
                if cfg.get("status") == "finished" and same and same_data:
                    return other
        return super().gan_dir(name)

    def choose_views(self, model, x_val: np.ndarray, y_val: np.ndarray) -> dict[str, Any]:
        """Validation accuracy per candidate view; the views within ``view_tolerance`` of identity."""
        from ganprint.attribution.attributor import images_to_tensor
        from ganprint.attribution.tta import apply_view

        x = images_to_tensor(x_val)
        acc = {}
        for view in self.views:
            xv = apply_view(view, x).permute(0, 2, 3, 1).contiguous().numpy()
            acc[view] = float((model.predict(xv) == y_val).mean())
        base = acc.get("identity", max(acc.values()))
        kept = [v for v in self.views if acc[v] >= base - self.view_tolerance]
        if "identity" not in kept:
            kept.insert(0, "identity")
        return {"val_accuracy_by_view": acc, "views": kept, "tolerance": self.view_tolerance}

    def run(self) -> dict[str, Any]:
        from ganprint.attribution.metrics import classification_report
        from ganprint.attribution.tta import tta_effect, tta_predict_proba

        t0 = time.perf_counter()
        prepared = self.prepare()
        data = prepared["data"]
        from ganprint.experiments.yu import choose_primary

        rows = {n: self._timed(f"attributor {n}", self.fit_attributor, n, spec, data)
                for n, spec in self.profile.attributors.items()}
        name = choose_primary(self.protocol.primary, rows)
        from ganprint.attribution.loading import load_model

        model = load_model(self.out / "models" / name, device=self.device)
        x_va, y_va, _ = data["val"]
        tta_path = self.out / f"tta_{name}.json"
        if tta_path.is_file():
            tta = read_json(tta_path)
        else:
            tta = self._timed("view choice", self.choose_views, model, x_va, y_va)
            write_json(tta_path, tta)
        x_te, y_te, paths = data["test"]
        classes = [str(c) for c in model.classes_]
        rng = np.random.default_rng(self.seed)
        tests: dict[str, Any] = {}
        fig = self.out / "figures"
        t = time.perf_counter()
        for size in (*self.test_sizes, None):
            if size is None:
                idx = np.arange(len(y_te))
                key = f"all {len(y_te)}"
            else:
                per = size // len(classes)
                idx = np.sort(np.concatenate([rng.choice(np.flatnonzero(y_te == c), per, replace=False)
                                              for c in classes]))
                key = str(size)
            x, y = x_te[idx], y_te[idx]
            plain = np.asarray(classes)[model.predict_proba(x).argmax(1)]
            voted = tta_predict_proba(model.predict_proba, x, views=tta["views"])
            tta_pred = np.asarray(classes)[voted["label_index"]]
            effect = tta_effect(y, plain, tta_pred)
            y_idx = [classes.index(v) for v in y]
            report_tta = classification_report(y_idx, [classes.index(v) for v in tta_pred], classes)
            report_plain = classification_report(y_idx, [classes.index(v) for v in plain], classes)
            fixed = [{"index": int(idx[i]), "path": paths[idx[i]], "true": str(y[i]), "plain": str(plain[i]),
                      "tta": str(tta_pred[i]), "votes": voted["votes"][i].tolist()} for i in effect["fixed"]]
            broken = [{"index": int(idx[i]), "path": paths[idx[i]], "true": str(y[i]), "plain": str(plain[i]),
                       "tta": str(tta_pred[i]), "votes": voted["votes"][i].tolist()} for i in effect["broken"]]
            tests[key] = {"n": int(len(y)), "accuracy_plain": effect["accuracy_plain"],
                          "accuracy_tta": effect["accuracy_tta"], "changed": effect["changed"],
                          "correct_plain": int((plain == y).sum()), "correct_tta": int((tta_pred == y).sum()),
                          "confusion_matrix_plain": report_plain["confusion_matrix"],
                          "confusion_matrix_tta": report_tta["confusion_matrix"],
                          "fixed": fixed, "broken": broken, "indices": idx.tolist()}
            if fixed or broken:
                from ganprint.experiments.yu_report import save_grid

                for what, items in (("fixed", fixed), ("broken", broken)):
                    if items:
                        save_grid(x_te[[f["index"] for f in items]], fig / f"tta_{what}_{key.replace(' ', '_')}.png",
                                  scale=4)
        self.stage_seconds["tests"] = round(time.perf_counter() - t, 2)
        quality = self._timed("quality", self.quality, data)
        unseen = self._timed("unseen photos", self.unseen_photo_figures, list(rows))
        gans = {n: {**g, "quality": quality[n]} for n, g in prepared["gans"].items()}
        main = tests[str(max(self.test_sizes))]
        results = {
            "experiment": self.protocol.name, "title": self.protocol.title, "profile": self.profile.name,
            "real_source": self.real_source, "primary": name, "labels": classes,
            "accuracy": main["accuracy_tta"], "accuracy_plain": main["accuracy_plain"],
            "confusion_matrix": main["confusion_matrix_tta"],
            "target": self.protocol.target,
            "target_met": bool(main["accuracy_tta"] >= self.protocol.target
                               and main["accuracy_tta"] >= main["accuracy_plain"]),
            "tests": tests, "tta": tta, "attributors": rows, "gans": gans,
            "unseen_photos": unseen,
            "gans_reused_from": str(self.reuse_from) if any(
                self.gan_dir(g.name) != self.out / "gans" / g.name for g in self.protocol.gans) else None,
            "all_gans_pass_quality": all(g["quality"]["passed"] for g in gans.values()),
            "images_per_source": self.profile.images_per_source, "gan_train_images": self.profile.gan_train_images,
            "seed_figures": self.protocol.seed_figures, "deviations": list(self.profile.deviations),
            "stage_seconds": self.stage_seconds, "wall_seconds": round(time.perf_counter() - t0, 2),
            "threads": torch.get_num_threads(), "device": self.device,
        }
        write_json(self.out / "results.json", results)
        from ganprint.experiments.yu_report import write_seed001_report

        write_seed001_report(self.out, results)
        return results
