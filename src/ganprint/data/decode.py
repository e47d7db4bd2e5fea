"""Defensive image decoding: any file a user hands us may be broken or hostile.

``decode_image`` either returns a uint8 array (H, W, C) or raises :class:`ImageDecodeError` with a
message naming the file and the reason. It never changes PIL's global settings, reads each file
once, checks sizes before decoding pixels, and catches everything PIL can throw.

Conversion policy (the documented conversion every scored file goes through):

==========================  ===============================================================
input                        what ganprint does
==========================  ===============================================================
animated (GIF, APNG, TIFF)   first frame only
EXIF orientation             ignored: pixels are scored as stored (forensics, not display)
1-bit                        to 8-bit gray (0 / 255)
palette (P), with or         expanded to RGBA through the palette, then as RGBA
without transparency
RGBA, LA, PA                 alpha dropped by compositing onto black
CMYK, YCbCr, LAB, HSV        converted to RGB by PIL
16-bit gray (I;16*, I)       divided by 257 (65535 -> 255), clipped to 0..65535 first
32-bit float (F)             values <= 1 taken as 0..1, otherwise as 0..255; clipped
channels=1                   ITU-R 601-2 luma (PIL's "L")
channels=3                   RGB (gray replicated to three channels)
size differs from ``size``   resized with bilinear filtering (aspect ratio not kept)
==========================  ===============================================================

Refused with a per-file error: missing file, directory, empty file, file larger than
``max_file_bytes``, unrecognised or corrupt or truncated data, more than ``max_pixels`` pixels
(decompression bombs), a side shorter than ``min_side``.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS: frozenset[str] = frozenset({
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm",
})


class ImageDecodeError(ValueError):
    """A file that cannot be scored, with the reason."""


@dataclass(frozen=True)
class DecodeLimits:
    max_file_bytes: int = 256 * 2**20
    max_pixels: int = 64 * 2**20
    min_side: int = 1


def _to_8bit(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(img, dtype=np.int64)
        return Image.fromarray((np.clip(a, 0, 65535) // 257).astype(np.uint8), "L")
    if mode == "F":
        a = np.asarray(img, dtype=np.float64)
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
        scale = 255.0 if a.size and a.max() <= 1.0 else 1.0
        return Image.fromarray(np.clip(a * scale + 0.5, 0, 255).astype(np.uint8), "L")
    if mode == "1":
        return img.convert("L")
    if mode in ("P", "PA"):
        return _drop_alpha(img.convert("RGBA"))
    if mode in ("RGBA", "LA", "RGBa", "La"):
        return _drop_alpha(img)
    if mode in ("L", "RGB"):
        return img
    return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX ...


def _drop_alpha(img: Image.Image) -> Image.Image:
    rgba = img.convert("RGBA")
    black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    return Image.alpha_composite(black, rgba).convert("RGB")


def decode_image(path: str | os.PathLike, *, channels: int, size: tuple[int, int] | None = None,
                 limits: DecodeLimits = DecodeLimits()) -> np.ndarray:
    """Decode ``path`` into uint8 (H, W, channels), following the module's conversion policy.

    ``size`` is (height, width). Raises :class:`ImageDecodeError` for anything that cannot be
    scored.
    """
    if channels not in (1, 3):
        raise ValueError("channels must be 1 or 3")
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageDecodeError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageDecodeError(f"{path}: cannot access ({exc.strerror or exc})") from None
    if path.is_dir():
        raise ImageDecodeError(f"{path}: is a directory")
    if st.st_size == 0:
        raise ImageDecodeError(f"{path}: empty file")
    if st.st_size > limits.max_file_bytes:
        raise ImageDecodeError(f"{path}: file too large ({st.st_size} bytes > {limits.max_file_bytes})")
    try:
        data = path.read_bytes()
    except PermissionError:
        raise ImageDecodeError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ImageDecodeError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
                if w * h > limits.max_pixels:
                    raise ImageDecodeError(f"{path}: image too large: {w}x{h} pixels exceeds the limit of "
                                           f"{limits.max_pixels} (possible decompression bomb)")
                if min(w, h) < limits.min_side:
                    raise ImageDecodeError(f"{path}: image too small: {w}x{h}")
                if getattr(img, "n_frames", 1) > 1:
                    img.seek(0)
                img.load()
                img = _to_8bit(img)
                img = img.convert("L" if channels == 1 else "RGB")
                if size is not None and img.size != (size[1], size[0]):
                    img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                array = np.asarray(img, dtype=np.uint8)
    except ImageDecodeError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageDecodeError(f"{path}: not an image (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"{path}: image too large ({exc})") from None
    except MemoryError:
        raise ImageDecodeError(f"{path}: image too large to decode in memory") from None
    except Exception as exc:  # OSError, SyntaxError, ValueError, EOFError, struct.error, ...
        raise ImageDecodeError(f"{path}: truncated or corrupt image data ({type(exc).__name__}: {exc})") from None
    if array.ndim == 2:
        array = array[..., None]
    return np.ascontiguousarray(array)


def iter_image_paths(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Expand arguments into files: folders (even one named ``x.png``) are walked recursively in
    sorted order for files with an image extension, skipping hidden entries; a named file is
    yielded whatever its extension, and a missing path is yielded too (its decode reports it)."""
    for arg in paths:
        p = Path(arg)
        if p.is_dir():
            yield from _walk(p, set())
        else:
            yield p


def _walk(folder: Path, seen: set[Path]) -> Iterator[Path]:
    try:
        real = folder.resolve()
    except OSError:
        return
    if real in seen:
        return
    seen.add(real)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if is_dir:
            yield from _walk(path, seen)
        elif path.suffix.lower() in IMAGE_EXTENSIONS:
            yield path
