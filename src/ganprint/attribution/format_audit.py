"""Format-bias audit: did the attributor learn the source, or the file format it came in?

A classic shortcut (DESIGN.md §1): real photos arrive as JPEG, generated images as PNG, and a
model learns "JPEG traces => real". Two checks catch it:

* **Re-encoding.** Every image is re-encoded in memory, all alike (PNG, then JPEG at falling
  qualities), and scored again. PNG is lossless, so it is the control: the pixels do not change.
  After a JPEG re-encoding every source carries JPEG traces; a model that relied on them loses
  accuracy, typically with one class absorbing the others. (A drop also happens when the source
  fingerprint itself does not survive JPEG: either way the model is not robust to it.)
* **Format predictability** (needs the files). How well does the file's format signature
  (``"PNG"``, ``"JPEG q~75"``, ...) alone predict its source? If it does clearly better than
  always guessing the largest class, the data set invites the shortcut.

The images are re-encoded at the size they are given in, normally the model's input size after
decoding and resizing, so JPEG's 8x8 blocks fall on the model's pixel grid.
"""

from __future__ import annotations

import io
import math
import os
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganprint.data.decode import DecodeLimits, open_image_bytes, read_image_file

__all__ = [
    "DEFAULT_SETTINGS",
    "audit_format",
    "file_format_signature",
    "format_audit_text",
    "format_predictability",
    "jpeg_quality",
    "reencode",
    "setting_name",
]

Setting = tuple[str, int | None]

DEFAULT_SETTINGS: tuple[Setting, ...] = (("png", None), ("jpeg", 95), ("jpeg", 75), ("jpeg", 50))

PREDICTABILITY_MARGIN = 0.1
"""Format predictability warns when it beats chance by more than this. Under a source-independent
format the leave-one-out accuracy is at or below chance in expectation; the standard error of an
accuracy near 0.5 on 100 images is 0.05, so 0.1 is two standard errors there and conservative for
larger sets, and a 10-point gain from the format alone is a shortcut worth acting on."""

DROP_MARGIN = 0.05
"""Re-encoding warns when accuracy drops by more than this (and by more than two standard errors of
the paired difference, so that a handful of flipped images in a small test set do not warn)."""

_FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG"}

# IJG (libjpeg) standard quantisation tables, natural (row-major) order: Annex K of ITU-T T.81.
_IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
])
_IJG_CHROMA = np.full(64, 99)
_IJG_CHROMA[[0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 24, 25]] = [17, 18, 24, 47, 18, 21, 26, 66, 24, 26, 56, 47, 66]


# -- re-encoding ---------------------------------------------------------------------------------

def setting_name(fmt: str, quality: int | None = None) -> str:
    """``("jpeg", 75)`` -> ``"jpeg_75"``, ``("png", None)`` -> ``"png"``."""
    return fmt.lower() if quality is None else f"{fmt.lower()}_{quality}"


def reencode(images: np.ndarray, fmt: str, quality: int | None = None) -> np.ndarray:
    """Encode each uint8 image (N, H, W) or (N, H, W, C), C in {1, 3}, to ``fmt`` in memory and
    decode it again: same shape and dtype. ``fmt`` is ``"png"`` (lossless, no quality) or
    ``"jpeg"`` (``quality`` 1..100, Pillow's default 75 when None; colour is subsampled 4:2:0,
    Pillow's default). Gray stays gray."""
    images = np.asarray(images)
    key = fmt.lower()
    if key not in _FORMATS:
        raise ValueError(f"fmt must be one of {sorted(set(_FORMATS) - {'jpg'})}, got {fmt!r}")
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {images.dtype}")
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] not in (1, 3)):
        raise ValueError(f"expected images (N, H, W) or (N, H, W, 1|3), got shape {images.shape}")
    options: dict[str, Any] = {}
    if _FORMATS[key] == "PNG":
        if quality is not None:
            raise ValueError("PNG is lossless and takes no quality")
    elif quality is not None:
        if isinstance(quality, bool) or not 1 <= int(quality) <= 100:
            raise ValueError(f"JPEG quality must be in 1..100, got {quality!r}")
        options["quality"] = int(quality)
    out = np.empty_like(images)
    for i, image in enumerate(images):
        plane = image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(plane)).save(buffer, format=_FORMATS[key], **options)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            out[i] = np.asarray(decoded.convert("L" if plane.ndim == 2 else "RGB")).reshape(image.shape)
    return out


# -- file signatures -----------------------------------------------------------------------------

def _ijg_table(base: np.ndarray, quality: int) -> np.ndarray:
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((base * scale + 50) // 100, 1, 255)


def jpeg_quality(quantization: dict[int, Sequence[int]]) -> int:
    """The IJG quality (1..100) whose standard tables are closest (mean absolute log ratio) to a
    JPEG's quantisation tables (Pillow's ``image.quantization``, natural order). Exact for files
    written by libjpeg-based encoders (Pillow, most cameras' software); the nearest match otherwise."""
    tables = [np.asarray(quantization[k], dtype=np.float64) for k in sorted(quantization)[:2]]
    if not tables or any(t.size != 64 for t in tables):
        raise ValueError("expected one or two 64-entry quantisation tables")
    bases = (_IJG_LUMA, _IJG_CHROMA)[:len(tables)]
    best, best_cost = 75, math.inf
    for quality in range(1, 101):
        cost = sum(np.abs(np.log(np.maximum(t, 1)) - np.log(_ijg_table(b, quality))).mean()
                   for t, b in zip(tables, bases, strict=True))
        if cost < best_cost:
            best, best_cost = quality, cost
    return best


def file_format_signature(path: str | os.PathLike[str]) -> str:
    """A short description of how a file is encoded: ``"PNG"``, ``"JPEG q~75"`` (estimated IJG
    quality), ``"WEBP"``, ``"GIF"``, ``"BMP"``, ``"TIFF"``, ``"PPM"``; ``"unreadable"`` for anything
    ganprint's decoder would refuse (missing, not a regular file, too large, unknown format,
    truncated or corrupt data). Never raises."""
    try:
        limits = DecodeLimits()
        data = read_image_file(Path(path), limits)  # the decoder's safe reading: regular files, size limit
        with open_image_bytes(data) as image:
            width, height = image.size
            if width * height > limits.max_pixels:
                return "unreadable"
            image.load()  # truncated or corrupt pixel data fails here
            fmt = "JPEG" if image.format == "MPO" else str(image.format)
            quantization = getattr(image, "quantization", None)
            if fmt == "JPEG" and quantization:
                return f"JPEG q~{jpeg_quality(quantization)}"
            return fmt
    except Exception:  # a signature is a statistic: one bad file must not stop the audit
        return "unreadable"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _sort_key(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


def format_predictability(signatures: Sequence[str], labels: Sequence[Hashable], *,
                          margin: float = PREDICTABILITY_MARGIN) -> dict[str, Any]:
    """How well the format signature alone predicts the source.

    Each image is predicted as the majority source among the *other* images of its signature
    (leave-one-out, so a signature seen once cannot predict itself; with no other image of its
    signature, the majority source overall). Ties go to the larger source overall.

    Returns ``accuracy`` (share predicted right), ``chance`` (share of the largest source),
    ``table`` ``{signature: {label: count}}``, ``warning`` (accuracy > chance + ``margin``),
    ``margin`` and ``n``.
    """
    labels = [_plain(label) for label in labels]
    signatures = [str(s) for s in signatures]
    if len(signatures) != len(labels):
        raise ValueError(f"{len(signatures)} signatures but {len(labels)} labels")
    n = len(labels)
    overall = Counter(labels)
    order = sorted(overall, key=lambda c: (-overall[c], _sort_key(c)))  # tie-break: larger source first
    table: dict[str, Counter] = {}
    for signature, label in zip(signatures, labels, strict=True):
        table.setdefault(signature, Counter())[label] += 1
    correct = 0
    for signature, label in zip(signatures, labels, strict=True):
        counts = table[signature].copy()
        counts[label] -= 1
        if sum(counts.values()) == 0:
            counts = overall.copy()
            counts[label] -= 1
        top = max(counts.values()) if counts else 0
        guess = next((c for c in order if counts.get(c, 0) == top), None)
        correct += guess == label
    accuracy = correct / n if n else float("nan")
    chance = max(overall.values()) / n if n else float("nan")
    return {
        "accuracy": accuracy,
        "chance": chance,
        "warning": bool(n and accuracy > chance + margin),
        "margin": margin,
        "n": n,
        "table": {s: {c: table[s][c] for c in sorted(table[s], key=_sort_key)}
                  for s in sorted(table, key=lambda s: -sum(table[s].values()))},
    }


# -- the audit -----------------------------------------------------------------------------------

def _mean(ok: np.ndarray) -> float:
    return float(ok.mean()) if len(ok) else float("nan")


def _paired_se(before: np.ndarray, after: np.ndarray) -> float:
    """Standard error of ``mean(after) - mean(before)`` for paired 0/1 outcomes."""
    d = after.astype(np.float64) - before.astype(np.float64)
    return float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.inf


def _describe(setting: str) -> str:
    fmt, _, quality = setting.partition("_")
    return f"{fmt.upper()} quality {quality}" if quality else fmt.upper()


def audit_format(predict_fn: Callable[[np.ndarray], np.ndarray], images: np.ndarray,
                 labels: Sequence[Hashable] | np.ndarray, *, paths: Sequence[str | os.PathLike[str]] | None = None,
                 settings: Sequence[Setting] = DEFAULT_SETTINGS, drop_margin: float = DROP_MARGIN,
                 margin: float = PREDICTABILITY_MARGIN) -> dict[str, Any]:
    """Accuracy of ``predict_fn`` on ``images`` as given and after each re-encoding ``settings``,
    and (with ``paths``, one file per image) how predictable the source is from the file format.

    Args:
        predict_fn: uint8 images (N, H, W[, C]) -> predicted labels (N,), e.g. ``Attributor.predict``.
        images: uint8 (N, H, W) or (N, H, W, C), C in {1, 3}: the decoded, model-sized images.
        labels: The true labels (N,), comparable with ``predict_fn``'s output.
        paths: The files the images were decoded from, for the format-predictability check.
        settings: ``(format, quality)`` pairs for :func:`reencode`.

    Returns:
        ``accuracy`` ``{"original": a, "png": a, "jpeg_95": a, ...}``; ``per_class``
        ``{setting: {label: accuracy}}``; ``largest_drop`` ``{"setting", "drop"}`` (None without
        settings); ``format`` (:func:`format_predictability`, None without paths); ``warnings``
        (plain sentences); ``n``.
    """
    images = np.asarray(images)
    y = np.asarray(labels)
    if len(images) != len(y):
        raise ValueError(f"{len(images)} images but {len(y)} labels")
    classes = sorted({_plain(c) for c in y}, key=_sort_key)
    variants = {"original": images}
    for fmt, quality in settings:
        variants[setting_name(fmt, quality)] = reencode(images, fmt, quality)
    accuracy, per_class, hits = {}, {}, {}
    for name, data in variants.items():
        ok = np.asarray(predict_fn(data)) == y
        hits[name] = ok
        accuracy[name] = _mean(ok)
        per_class[name] = {c: _mean(ok[y == c]) for c in classes}
    warnings: list[str] = []
    largest = None
    for name in list(variants)[1:]:
        drop = accuracy["original"] - accuracy[name]
        if largest is None or drop > largest["drop"]:
            largest = {"setting": name, "drop": drop}
        if drop > drop_margin and drop > 2 * _paired_se(hits["original"], hits[name]):
            worst = max(classes, key=lambda c, name=name: per_class["original"][c] - per_class[name][c])
            warnings.append(
                f"Accuracy falls from {accuracy['original']:.3f} to {accuracy[name]:.3f} when the images are "
                f"re-encoded as {_describe(name)}; the most affected source is {worst!r} "
                f"({per_class['original'][worst]:.3f} -> {per_class[name][worst]:.3f}).")
    if warnings:
        warnings.append("The model may rely on compression traces rather than the sources' fingerprints (a file-format "
                        "shortcut when sources come in different formats); train on data re-encoded alike or with "
                        "JPEG augmentation.")
    fmt_result = None
    if paths is not None:
        if len(paths) != len(y):
            raise ValueError(f"{len(paths)} paths but {len(y)} labels")
        fmt_result = format_predictability([file_format_signature(p) for p in paths], list(y), margin=margin)
        if fmt_result["warning"]:
            majority = "; ".join(f"{s} mostly {max(c, key=c.get)!r}" for s, c in list(fmt_result["table"].items())[:4])
            warnings.append(
                f"The file format alone predicts the source of {fmt_result['accuracy']:.1%} of the images "
                f"(chance {fmt_result['chance']:.1%}): {majority}. A model can learn this shortcut; make every "
                "source's files the same format and quality, or check the re-encoding accuracies above.")
    return {"n": len(y), "accuracy": accuracy, "per_class": per_class, "largest_drop": largest,
            "format": fmt_result, "warnings": warnings}


def format_audit_text(result: dict[str, Any]) -> str:
    """The audit as a plain-text table for terminals."""
    acc = result["accuracy"]
    lines = [f"Format-bias audit ({result['n']} images)", f"  {'setting':<12} {'accuracy':>8}  {'change':>7}"]
    for name, value in acc.items():
        change = "" if name == "original" else f"{value - acc['original']:+.3f}"
        lines.append(f"  {name:<12} {value:>8.3f}  {change:>7}")
    fmt = result.get("format")
    if fmt is not None:
        lines.append(f"File format predicts the source of {fmt['accuracy']:.1%} of the images "
                     f"(chance {fmt['chance']:.1%}, leave-one-out)")
        width = max([len("signature")] + [len(s) for s in fmt["table"]])
        lines.append(f"  {'signature':<{width}}  images by source")
        for signature, counts in fmt["table"].items():
            lines.append(f"  {signature:<{width}}  " + ", ".join(f"{c}: {k}" for c, k in counts.items()))
    if result["warnings"]:
        lines.append("Warnings:")
        lines.extend(f"  - {w}" for w in result["warnings"])
    else:
        lines.append("No warnings.")
    return "\n".join(lines)
