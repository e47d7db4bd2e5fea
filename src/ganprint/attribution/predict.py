"""Scoring files: decode defensively, batch, classify, one record per file, in input order.

Decoding runs ahead of the model in a pool (:func:`ganprint.data.pool.map_chunks`: worker
processes for long jobs, since decoding small images is GIL-bound Python work, threads for short
ones), so files stream through at the model's speed. A file that cannot be decoded yields
``{"path", "error"}`` and the batch goes on.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np

from ganprint.attribution.attributor import UNKNOWN
from ganprint.attribution.scoring_workers import default_workers
from ganprint.attribution.training import INFERENCE_BATCH
from ganprint.data.decode import decode_or_error, iter_image_paths
from ganprint.data.pool import DecodePlan, map_chunks


def predict_paths(model, paths: Iterable[str | os.PathLike], *, batch_size: int = INFERENCE_BATCH,
                  workers: int | None = None, tta: bool = False, unknown: bool = True,
                  heatmaps_dir: str | os.PathLike | None = None) -> Iterator[dict[str, Any]]:
    """Yield one record per image file found under ``paths`` (files or folders), in order:
    ``{"path", "label", "probabilities": {source: p}, "p_fake", "known_score"}`` or ``{"path", "error"}``.

    ``label`` is ``"unknown"`` when ``unknown`` is set and the known-source score is below the
    model's calibrated threshold. ``p_fake`` is present when the model has a real class. With
    ``tta`` the probabilities are averaged over flipped views and the label is their majority vote
    (seed 001). With ``heatmaps_dir`` a CAM / Grad-CAM overlay is written per image.

    Long jobs run in worker processes (forkserver or spawn): from :data:`WORKERS_MIN_FILES` files on
    a model on CPU scores in ``workers`` processes (default: one per CPU, at most 16), else decoding runs in
    ``workers`` processes ahead of the model from 2,048 files on. Either way the records are those
    of one process scoring the same batches, and a script that calls this on many files needs the
    usual ``if __name__ == "__main__":`` guard.
    """
    pre = model.preprocessing
    files = iter_image_paths(paths)
    head = list(islice(files, WORKERS_MIN_FILES))
    files = chain(head, files)
    if len(head) >= WORKERS_MIN_FILES and not tta and heatmaps_dir is None and _on_cpu(model):
        yield from _predict_in_workers(model, files, batch_size, workers or default_workers(), unknown)
        return
    scorer = Scorer(model, tta=tta, unknown=unknown, heatmaps_dir=heatmaps_dir)
    decode = partial(decode_or_error, channels=pre.channels, size=pre.size)
    for decoded in map_chunks(decode, files, DecodePlan(workers=workers, chunk=batch_size)):
        yield from scorer(decoded)


WORKERS_MIN_FILES = 4096
"""From this many files on, a model on CPU scores in worker processes (one per CPU, each with the
model and one PyTorch thread; :mod:`ganprint.attribution.scoring_workers`)."""


def _on_cpu(model) -> bool:
    network = getattr(model, "model_", None)
    try:
        return network is not None and next(network.parameters()).device.type == "cpu"
    except (AttributeError, StopIteration, TypeError):
        return False


def _predict_in_workers(model, files: Iterator[Path], batch_size: int, workers: int,
                        unknown: bool) -> Iterator[dict[str, Any]]:
    """The model saved to a temporary folder (safetensors + JSON, as any model folder), loaded once
    per worker; the same batches as in one process, hence the same records."""
    import tempfile

    from ganprint.attribution.scoring_workers import predict_in_workers

    with tempfile.TemporaryDirectory(prefix="ganprint-predict-") as tmp:
        model.save(Path(tmp) / "model")
        batches = iter(lambda: list(islice(files, batch_size)), [])
        yield from predict_in_workers(Path(tmp) / "model", batches, workers, unknown=unknown)


SCORE_ROWS = 16
"""Rows of every model call made while scoring. CPU kernels take other paths for some batch sizes
(on the seed CNN: 1 to 3 rows, 7 rows), which moves the last digits of a score; with every call of
a multiple of ``SCORE_ROWS`` rows, the network run in chunks of exactly that many (the last one
padded with copies of the batch's last image), an image's record does not depend on what it was
scored with: ``predict``, ``scan`` and ``serve`` give a file the same record however it is
batched. 16 costs the seed CNN about 8% of its throughput at 128 rows and a lone image about 6 ms
of CPU."""


def pad_rows(images: np.ndarray, multiple: int = SCORE_ROWS) -> np.ndarray:
    """``images`` with copies of its last row appended up to a multiple of ``multiple`` rows."""
    missing = -len(images) % multiple
    return np.concatenate([images, np.repeat(images[-1:], missing, axis=0)]) if missing else images


def _outputs(model, images: np.ndarray) -> dict[str, np.ndarray]:
    """``model_outputs`` of ``images`` in fixed-shape calls (see :data:`SCORE_ROWS`)."""
    from ganprint.attribution.assess import model_outputs

    n = len(images)
    padded = pad_rows(images, SCORE_ROWS)
    if _takes_batch_size(getattr(type(model), "outputs", None)):  # chunks of exactly SCORE_ROWS
        out = model.outputs(padded, batch_size=SCORE_ROWS)
    else:
        out = model_outputs(model, padded)
    return {key: value[:n] for key, value in out.items()}


@functools.cache
def _takes_batch_size(method) -> bool:
    """Whether a model class's ``outputs`` takes ``batch_size`` (looked up once per class)."""
    return method is not None and "batch_size" in inspect.signature(method).parameters


class Scorer:
    """Turns decoded images into ``predict``'s records, one per input, in order.

    Call it with an iterable of ``(name, image or None, error or None)`` triples (what
    :func:`~ganprint.data.decode.decode_or_error` and :func:`~ganprint.data.decode.decode_bytes_or_error`
    return); it yields ``{"path": name, ...}`` records as :func:`predict_paths` documents. The
    command line, the web service and the collection scanner all answer through this one class,
    so a file gets the same answer whichever way it comes in.
    """

    def __init__(self, model, *, tta: bool, unknown: bool, heatmaps_dir: str | os.PathLike | None) -> None:
        self.model = model
        self.classes = [str(c) for c in model.classes_]
        self.tta = tta
        self.threshold = getattr(model, "threshold_", None) if unknown else None
        self.fake_threshold = getattr(model, "fake_threshold_", None)
        self.heatmaps = Path(heatmaps_dir) if heatmaps_dir is not None else None
        if self.heatmaps is not None:
            self.heatmaps.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def __call__(self, decoded: Iterable) -> Iterator[dict[str, Any]]:
        decoded = list(decoded)
        good = [(p, a) for p, a, e in decoded if e is None]
        n_classes = len(self.classes)
        if good:
            images = np.stack([a for _, a in good])
            out = _outputs(self.model, images)
            proba, known = out["probabilities"], out["known_scores"]
            if self.tta:
                from ganprint.attribution.tta import tta_predict_proba

                voted = tta_predict_proba(self.model.predict_proba, pad_rows(images, SCORE_ROWS))
                proba, index = voted["probabilities"][:len(images)], voted["label_index"][:len(images)]
            else:
                index = proba.argmax(1)
            p_fake = self.model.p_fake(proba)
            heatmaps = (self._heatmaps(images, index, proba, known, [p for p, _ in good])
                        if self.heatmaps is not None else None)
        else:
            proba, known, index, p_fake, heatmaps = np.zeros((0, n_classes)), np.zeros(0), [], None, None
        # Python floats once per batch (``tolist`` converts exactly as ``float`` does, element-wise)
        proba_rows = np.asarray(proba).tolist()
        known_list = np.asarray(known).tolist()
        fake_list = np.asarray(p_fake).tolist() if p_fake is not None else None
        classes, threshold, fake_threshold = self.classes, self.threshold, self.fake_threshold
        row = 0
        for path, _, error in decoded:
            self.count += 1
            if error is not None:
                yield {"path": str(path), "error": error}
                continue
            label = classes[int(index[row])]
            # comparisons on the NumPy scalars, as before (their promotion rules, not Python's)
            if threshold is not None and known[row] < threshold:
                label = UNKNOWN
            record = {"path": str(path), "label": label,
                      "probabilities": {c: round(v, 6) for c, v in zip(classes, proba_rows[row], strict=True)},
                      "known_score": round(known_list[row], 6)}
            if fake_list is not None:
                record["p_fake"] = round(fake_list[row], 6)
                if fake_threshold is not None:  # the operating point fitted on validation reals
                    record["fake"] = bool(p_fake[row] > fake_threshold)
            if heatmaps is not None:
                record["heatmap"] = heatmaps[row]
            row += 1
            yield record

    def _heatmaps(self, images: np.ndarray, index, proba: np.ndarray, known: np.ndarray,
                  paths: list[Path]) -> list[str]:
        """One overlay per image, captioned with the class it explains and that class's probability."""
        import torch

        from ganprint.attribution.attributor import images_to_tensor
        from ganprint.attribution.heatmaps import class_activation_maps, save_overlay

        x = images_to_tensor(pad_rows(images, SCORE_ROWS))  # the fixed-shape calls of scoring, for the same maps
        device = next(self.model.model_.parameters()).device
        targets = torch.as_tensor(pad_rows(np.asarray(index), SCORE_ROWS))
        maps, _ = class_activation_maps(self.model.model_, x.float().div(255).to(device), targets,
                                        transform=self.model._transform)
        maps = maps[:len(images)]
        written = []
        for i, (heatmap, path) in enumerate(zip(maps.cpu().numpy(), paths, strict=True)):
            name = f"{self.count + i:06d}_{_safe_stem(path)}.png"
            k = int(index[i])
            note = overlay_note(self.model, self.threshold is not None and known[i] < self.threshold)
            written.append(str(save_overlay(self.heatmaps / name, images[i], heatmap, label=self.classes[k],
                                            probability=float(proba[i, k]), note=note)))
        return written


def overlay_note(model, unknown: bool) -> str | None:
    """The note under a heatmap overlay: whether the image was answered unknown, and whether the map
    is over DCT frequencies rather than pixels (``predict --heatmaps`` and ``serve``'s explain)."""
    dct = model._transform is not None and "dct" in model.representation_.name
    notes = ["answered unknown (known-source score below the threshold)" if unknown else "",
             "map over DCT frequencies, low ones top left" if dct else ""]
    return "; ".join(filter(None, notes)) or None


def _safe_stem(path: Path) -> str:
    """A file-name-safe version of the image's stem (odd names stay readable, never escape DIR)."""
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(path).stem)
    return stem[:80] or "image"
