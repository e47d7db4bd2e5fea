"""Scoring files: decode defensively, batch, classify, one record per file, in input order.

Decoding runs in a thread pool ahead of the model (PIL releases the GIL), so files stream through
at the model's speed. A file that cannot be decoded yields ``{"path", "error"}`` and the batch
goes on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from ganprint.attribution.attributor import Attributor
from ganprint.attribution.training import INFERENCE_BATCH
from ganprint.data.decode import ImageDecodeError, decode_image, iter_image_paths


def _decode(path: Path, channels: int, size: tuple[int, int]) -> tuple[Path, np.ndarray | None, str | None]:
    try:
        return path, decode_image(path, channels=channels, size=size), None
    except ImageDecodeError as exc:
        return path, None, str(exc)
    except Exception as exc:  # never let one file stop the batch
        return path, None, f"{type(exc).__name__}: {exc}"


def predict_paths(attributor: Attributor, paths: Iterable[str | os.PathLike], *, batch_size: int = INFERENCE_BATCH,
                  workers: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield one record per image file found under ``paths`` (files or folders), in order:
    ``{"path", "label", "probabilities": {source: p}}`` or ``{"path", "error"}``."""
    pre = attributor.preprocessing
    classes = [str(c) for c in attributor.classes_]
    workers = workers or min(4, os.cpu_count() or 1)
    files = iter_image_paths(paths)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        chunks = iter(lambda: list(islice(files, batch_size)), [])
        pending = None
        for chunk in chunks:
            # submit this chunk's decoding, then score the previous chunk while it runs
            futures = pool.map(lambda p: _decode(p, pre.channels, pre.size), chunk)
            if pending is not None:
                yield from _score(attributor, classes, pending)
            pending = futures
        if pending is not None:
            yield from _score(attributor, classes, pending)


def _score(attributor: Attributor, classes: list[str], decoded: Iterable) -> Iterator[dict[str, Any]]:
    decoded = list(decoded)
    good = [(p, a) for p, a, e in decoded if e is None]
    probs = attributor.predict_proba(np.stack([a for _, a in good])) if good else np.zeros((0, len(classes)))
    by_path = iter(probs)
    for path, _, error in decoded:
        if error is not None:
            yield {"path": str(path), "error": error}
            continue
        p = next(by_path)
        yield {"path": str(path), "label": classes[int(p.argmax())],
               "probabilities": {c: round(float(v), 6) for c, v in zip(classes, p, strict=False)}}
