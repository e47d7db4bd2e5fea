"""The model side of the service: uploads decoded and scored exactly as ``ganprint predict`` does.

A worker is one replica: everything it does runs in that replica's own thread, and its model
object is used by no other thread (PyTorch releases the GIL while it computes, so the event loop
and the other replicas keep going). Decoding goes through
:func:`~ganprint.data.decode.decode_bytes_or_error` and scoring through
:class:`~ganprint.attribution.predict.Scorer`, the very code behind ``predict``: an upload gets
the record ``predict`` prints for the same file, its error messages included. Heatmaps are drawn
in memory; no uploaded name is ever used as a path.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

__all__ = ["ModelWorker", "NoHeatmaps"]

class NoHeatmaps(Exception):
    """The model has no single network to draw a heatmap from (two-stage, visNet, ...)."""


class ModelWorker:
    """Scores ``(name, bytes)`` uploads with ``model``; ``unknown`` as in ``predict`` (``--no-unknown``)."""

    def __init__(self, model, *, unknown: bool = True) -> None:
        from ganprint.attribution.predict import Scorer

        self.model = model
        self.channels = model.preprocessing.channels
        self.size = model.preprocessing.size
        self.scorer = Scorer(model, tta=False, unknown=unknown, heatmaps_dir=None)

    def decode(self, name: str, data: bytes) -> tuple[str, np.ndarray | None, str | None]:
        from ganprint.data.decode import decode_bytes_or_error

        return decode_bytes_or_error(name, data, self.channels, self.size)

    def predict(self, uploads: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
        """One ``predict`` record per upload, in order."""
        return self._score([self.decode(name, data) for name, data in uploads])

    def warm_up(self) -> None:
        """Score one blank image, so that the first request does not pay for the imports and
        allocations of a first model call (half a second and more)."""
        blank = np.zeros((*self.size, self.channels), np.uint8)
        self._score([("warm-up", blank, None)])

    def _score(self, decoded: list[tuple[str, np.ndarray | None, str | None]]) -> list[dict[str, Any]]:
        # the Scorer makes every model call of fixed shape: a record does not depend on the batch
        return list(self.scorer(decoded))

    def explain(self, name: str, data: bytes) -> tuple[dict[str, Any], bytes | None]:
        """The upload's record and, when it could be scored, its heatmap overlay as PNG bytes: the
        picture ``predict --heatmaps`` writes (the predicted class's CAM / Grad-CAM, captioned with
        that class and its probability, a note when the answer is unknown)."""
        if not hasattr(self.model, "model_"):
            raise NoHeatmaps("heatmaps need a single-network attributor")
        decoded = self.decode(name, data)
        (record,) = self._score([decoded])
        image = decoded[1]
        if image is None:
            return record, None
        return record, _overlay_png(self.model, image, record, self.scorer.classes)


def _overlay_png(model, image: np.ndarray, record: dict[str, Any], classes: list[str]) -> bytes:
    import torch
    from PIL import Image

    from ganprint.attribution.attributor import images_to_tensor
    from ganprint.attribution.heatmaps import class_activation_maps, overlay_picture
    from ganprint.attribution.predict import overlay_note, pad_rows

    proba = [record["probabilities"][c] for c in classes]
    k = int(np.argmax(proba))
    device = next(model.model_.parameters()).device
    # padded to SCORE_ROWS copies, as scoring is: the map then matches predict's to the pixel
    x = images_to_tensor(pad_rows(image[None])).float().div(255).to(device)
    maps, _ = class_activation_maps(model.model_, x, torch.full((len(x),), k), transform=model._transform)
    picture = overlay_picture(image, maps[0].cpu(), label=classes[k], probability=proba[k],
                              note=overlay_note(model, record["label"] == "unknown"))
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()
