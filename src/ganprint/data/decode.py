"""Defensive image decoding: every file a user hands us may be broken or hostile.

:func:`decode_image` either returns a ``uint8`` array of shape ``(H, W, channels)`` or raises
:class:`ImageDecodeError`, whose message names the file and says why it was refused. It checks
the file size before reading and the pixel count before decoding any pixel data, reads each file
exactly once (so a file that changes underneath cannot be half re-read), never changes PIL's
process-wide settings, and turns everything PIL can throw into :class:`ImageDecodeError`, so a
single bad file can never crash a batch.

Conversion policy
-----------------
Every decoded file goes through the same documented conversion, in this order:

==============================  ===========================================================
input                           what ganprint does
==============================  ===========================================================
animated / multi-page           first frame only (GIF, APNG, WebP, multi-page TIFF, MPO)
(GIF, APNG, WebP, TIFF, MPO)
EXIF orientation                **not** applied: pixels are used as stored (forensics looks
                                at the stored pixel grid, not at how a viewer displays it)
ICC colour profile              not applied (pixels as stored)
1-bit (``1``)                   8-bit gray, 0 -> 0 and 1 -> 255
palette (``P``, ``PA``), with   expanded through the palette to RGBA, then as RGBA below
or without transparency
alpha (``RGBA``, ``LA``,        alpha dropped by compositing onto black:
``PA``, ``RGBa``, ``La``)       ``value * alpha / 255`` (fully transparent -> 0)
``CMYK``, ``YCbCr``, ``LAB``,   converted to RGB by PIL's ``Image.convert("RGB")``
``HSV``, ``RGBX``
16-bit gray (``I;16``,          clipped to 0..65535, divided by 257 and rounded
``I;16B``, ``I;16L``, ``I``)    (0 -> 0, 65535 -> 255); ``I`` is read as 16-bit data
32-bit float (``F``)            NaN -> 0, +inf -> top of range, -inf -> 0; taken as 0..1 if
                                the largest finite value is <= 1, else as 0..255; then
                                scaled to 0..255, rounded and clipped
``channels=1``                  ITU-R 601-2 luma (PIL's ``convert("L")``)
``channels=3``                  RGB; gray images are replicated into three channels
``size`` given and different    resized to ``size`` = (height, width) with PIL's bilinear
                                filter (``Image.Resampling.BILINEAR``, ``reducing_gap=None``:
                                no draft-mode or box pre-reduction, so the result depends on
                                the pixels only, not on the file format); the aspect ratio
                                is not kept
==============================  ===========================================================

Refused with :class:`ImageDecodeError`: a missing path, a broken symbolic link, a directory, a
special file (FIFO, device, socket), an unreadable file, an empty file, a file larger than
``DecodeLimits.max_file_bytes``, data in a format other than those of :data:`IMAGE_EXTENSIONS`
(so that PIL never hands a hostile file to an external program such as Ghostscript), truncated
or corrupt data, an image with more than ``DecodeLimits.max_pixels`` pixels (decompression bombs,
checked from the header before any pixel is decoded), and an image with a side shorter than
``DecodeLimits.min_side``. PIL's own decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``) is
honoured as well and is never modified, so the effective pixel limit is the smaller of the two.
"""

from __future__ import annotations

import io
import os
import re
import stat
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "IMAGE_EXTENSIONS",
    "DecodeLimits",
    "ImageDecodeError",
    "decode_image",
    "iter_image_paths",
    "open_image_bytes",
    "read_image_file",
]

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
    | {".ppm", ".pgm", ".pbm", ".pnm"}
)
"""Lower-case suffixes of the files that :func:`iter_image_paths` picks up inside folders."""

# PIL openers matching IMAGE_EXTENSIONS (the JPEG opener also yields multi-picture MPO files,
# PPM covers PBM/PGM/PNM). Only these are ever tried, so a hostile file cannot reach e.g. the EPS
# plugin, which runs Ghostscript.
_PIL_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")

# ``warnings.catch_warnings`` swaps the process-wide filter list on enter and restores it on exit,
# so two threads overlapping inside it can leave a filter installed for good. Holding this lock
# while inside it keeps our own decoding threads from interleaving; it guards only header parsing
# (``Image.open``), which is cheap, so pixel decoding still runs in parallel.
_WARNINGS_LOCK = threading.Lock()

# Opening flags: never block on a FIFO, never acquire a controlling terminal, binary on Windows.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)
)

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
# Modes whose pixels may carry alpha (a palette may have a transparent entry): composite on black.
_COMPOSITE_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La", "P"})


class ImageDecodeError(ValueError):
    """A file that cannot be decoded into an image, with a human-readable reason.

    ``str(error)`` is ``"<path>: <reason>"``; the parts are available as :attr:`path` and
    :attr:`reason` so that callers which already print the path can print just the reason.
    """

    def __init__(self, path: str | os.PathLike[str] | None, reason: str) -> None:
        self.path: Path | None = None if path is None else Path(path)
        self.reason: str = reason
        message = reason if self.path is None else f"{_describe(self.path)}: {reason}"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[ImageDecodeError], tuple[Path | None, str]]:
        # The default pickling replays ``args`` (the one message) into ``__init__``, which
        # takes two arguments; process pools and multiprocessing need this instead.
        return (type(self), (self.path, self.reason))


@dataclass(frozen=True)
class DecodeLimits:
    """Resource limits applied to every decoded file.

    Attributes:
        max_file_bytes: Largest file accepted, in bytes (checked before reading it).
        max_pixels: Largest ``width * height`` accepted (checked from the header, before any
            pixel data is decoded, which is what stops decompression bombs).
        min_side: Smallest width or height accepted.
    """

    max_file_bytes: int = 256 * 2**20
    max_pixels: int = 64 * 2**20
    min_side: int = 1

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_pixels", "min_side"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DecodeLimits.{name} must be a positive integer, got {value!r}")


def decode_image(
    path: str | os.PathLike[str],
    *,
    channels: int,
    size: tuple[int, int] | None = None,
    limits: DecodeLimits = DecodeLimits(),  # noqa: B008 - frozen, hence a safe default
) -> np.ndarray:
    """Decode one image file into a ``uint8`` array of shape ``(H, W, channels)``.

    The conversion policy is the table in this module's docstring.

    Args:
        path: The file to decode. Any name is fine (unicode, spaces, leading dashes, newlines).
        channels: 1 for gray (ITU-R 601-2 luma) or 3 for RGB.
        size: ``(height, width)`` to resize to (bilinear), or None to keep the stored size.
        limits: Size limits; see :class:`DecodeLimits`.

    Returns:
        A C-contiguous ``uint8`` array of shape ``(H, W, channels)``.

    Raises:
        ImageDecodeError: If the file cannot be decoded, for whatever reason; the message names
            the file and the reason.
        ValueError: If ``channels`` or ``size`` are invalid (a programming error, not a file one).
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    if size is not None:
        size = _check_size(size)
    path = Path(path)
    data = read_image_file(path, limits)
    return _decode_bytes(path, data, channels=channels, size=size, limits=limits)


def iter_image_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    on_error: Callable[[OSError], object] | None = None,
) -> Iterator[Path]:
    """Expand command-line style arguments into the image files to process, in a stable order.

    * A directory (even one named like ``x.png``) is walked recursively, entries sorted by name,
      yielding the files whose suffix (case-insensitive) is in :data:`IMAGE_EXTENSIONS`. Entries
      whose name starts with ``.`` are skipped, and so is their content. Symbolic links to
      directories are followed, but each directory is walked at most once per argument, so
      symlink loops terminate.
    * Any other argument is yielded as given, whatever its extension and even if it does not
      exist: the caller decodes it and reports a per-file error (not an image, no such file...).

    Args:
        paths: Files and/or directories.
        on_error: Called with the :class:`OSError` of a directory that cannot be listed; by
            default such directories are skipped silently, like :func:`os.walk` does.

    Yields:
        One path per file to decode.
    """
    for arg in paths:
        path = Path(arg)
        if _is_dir(path):
            yield from _walk(path, on_error)
        else:
            yield path


# --------------------------------------------------------------------------------------------
# reading


def _describe(path: Path) -> str:
    """The path for a human message: as is, or quoted and escaped if it holds control characters
    or undecodable bytes (so a hostile name cannot forge extra log lines or crash a print)."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        height, width = size
    except (TypeError, ValueError):
        raise ValueError(f"size must be (height, width), got {size!r}") from None
    for side in (height, width):
        if isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < 1:
            raise ValueError(f"size must be two positive integers (height, width), got {size!r}")
    return int(height), int(width)


def read_image_file(path: Path, limits: DecodeLimits) -> bytes:
    """Read the whole file once, refusing anything that is not a regular file of sane size."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        reason = "broken symbolic link" if os.path.islink(path) else "no such file"
        raise ImageDecodeError(path, reason) from None
    except NotADirectoryError:
        raise ImageDecodeError(path, "no such file") from None
    except PermissionError:
        raise ImageDecodeError(path, "permission denied") from None
    except OSError as exc:
        raise ImageDecodeError(path, f"cannot access file ({exc.strerror or exc})") from None
    except ValueError:  # e.g. an embedded NUL character
        raise ImageDecodeError(path, "invalid file name") from None
    _check_stat(path, st, limits)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except PermissionError:
        reason = "is a directory" if os.path.isdir(path) else "permission denied"
        raise ImageDecodeError(path, reason) from None
    except FileNotFoundError:
        raise ImageDecodeError(path, "no such file") from None
    except OSError as exc:
        raise ImageDecodeError(path, f"cannot open file ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "rb") as fh:
            # Check again what was actually opened: the path may have been swapped since stat.
            st = os.fstat(fh.fileno())
            _check_stat(path, st, limits)
            # Ask for the size stat gave (plus one byte, to see growth): a request of the whole
            # limit would allocate it up front, which costs more than decoding a small image.
            data = fh.read(st.st_size + 1)
            if len(data) > st.st_size:  # it grew since: read on, up to the limit
                data += fh.read(limits.max_file_bytes + 1 - len(data))
    except OSError as exc:
        raise ImageDecodeError(path, f"cannot read file ({exc.strerror or exc})") from None
    if not data:
        raise ImageDecodeError(path, "empty file")
    if len(data) > limits.max_file_bytes:  # grew after the size check
        raise ImageDecodeError(
            path, f"file too large: exceeds the limit of {limits.max_file_bytes} bytes"
        )
    return data


def _check_stat(path: Path, st: os.stat_result, limits: DecodeLimits) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise ImageDecodeError(path, "is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise ImageDecodeError(path, "not a regular file (device, FIFO or socket)")
    if st.st_size == 0:
        raise ImageDecodeError(path, "empty file")
    if st.st_size > limits.max_file_bytes:
        raise ImageDecodeError(
            path,
            f"file too large: {st.st_size} bytes exceeds the limit of "
            f"{limits.max_file_bytes} bytes",
        )


# --------------------------------------------------------------------------------------------
# decoding


def _decode_bytes(
    path: Path,
    data: bytes,
    *,
    channels: int,
    size: tuple[int, int] | None,
    limits: DecodeLimits,
) -> np.ndarray:
    try:
        with open_image_bytes(data) as img:
            width, height = img.size
            if width * height > limits.max_pixels:
                raise ImageDecodeError(
                    path,
                    f"image too large: {width}x{height} pixels exceeds the limit of "
                    f"{limits.max_pixels} pixels (possible decompression bomb)",
                )
            if min(width, height) < limits.min_side:
                raise ImageDecodeError(
                    path,
                    f"image too small: {width}x{height} (each side must be at least "
                    f"{limits.min_side} pixels)",
                )
            # Image.open leaves multi-frame images on their first frame; we never seek.
            img.load()
            converted = _to_l_or_rgb(path, img)
            converted = converted.convert("L" if channels == 1 else "RGB")
            if size is not None and converted.size != (size[1], size[0]):
                converted = converted.resize(
                    (size[1], size[0]), Image.Resampling.BILINEAR, reducing_gap=None
                )
            array = np.asarray(converted, dtype=np.uint8)
    except ImageDecodeError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageDecodeError(path, "not an image (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # PIL refuses before its header is read out to us: say it in ganprint's words
        found = re.search(r"\((\d+) pixels\)", str(exc))
        count = f"{int(found.group(1))} pixels" if found else "its pixel count"
        limit = min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)
        raise ImageDecodeError(path, f"image too large: {count} exceeds the limit of {limit} pixels "
                                     "(possible decompression bomb)") from None
    except MemoryError:
        raise ImageDecodeError(path, "image too large: out of memory while decoding") from None
    except Exception as exc:  # OSError, SyntaxError, ValueError, EOFError, struct.error, ...
        raise ImageDecodeError(
            path, f"truncated or corrupt image data ({type(exc).__name__}: {exc})"
        ) from None
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    return np.ascontiguousarray(array)


def open_image_bytes(data: bytes) -> Image.Image:
    """Identify the image and parse its header (no pixel data yet), with PIL's bomb warning
    raised as an error; see ``_WARNINGS_LOCK`` for why this is serialised."""
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=_PIL_FORMATS)


def _to_l_or_rgb(path: Path, img: Image.Image) -> Image.Image:
    """Apply the conversion policy up to an 8-bit ``L`` or ``RGB`` image."""
    mode = img.mode
    if mode in ("L", "RGB"):
        return img
    if mode == "1":
        return img.convert("L")
    if mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(img).astype(np.int64)
        scaled = (np.clip(values, 0, 65535) + 128) // 257
        return Image.fromarray(scaled.astype(np.uint8), "L")
    if mode == "F":
        return Image.fromarray(_float_to_uint8(np.asarray(img, dtype=np.float64)), "L")
    if mode in _COMPOSITE_MODES:
        return _composite_on_black(img)
    try:
        return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...
    except ValueError:
        raise ImageDecodeError(path, f"unsupported pixel mode {mode!r}") from None


def _float_to_uint8(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    top = 1.0 if finite.size and finite.max() <= 1.0 else 255.0
    values = np.nan_to_num(values, nan=0.0, posinf=top, neginf=0.0)
    return np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)


def _composite_on_black(img: Image.Image) -> Image.Image:
    """Drop alpha by compositing onto black; gray stays gray (``LA`` -> ``L``)."""
    gray = img.mode in ("LA", "La")
    straight = img.convert("LA" if gray else "RGBA")  # also un-premultiplies RGBa / La
    pixels = np.asarray(straight).astype(np.uint16)
    colour, alpha = pixels[..., :-1], pixels[..., -1:]
    composited = ((colour * alpha + 127) // 255).astype(np.uint8)
    if gray:
        return Image.fromarray(composited[..., 0], "L")
    return Image.fromarray(composited, "RGB")


# --------------------------------------------------------------------------------------------
# walking folders


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _walk(top: Path, on_error: Callable[[OSError], object] | None) -> Iterator[Path]:
    """Depth-first, name-sorted walk without recursion (deep trees cannot overflow the stack)."""
    seen: set[tuple[int, int]] = set()
    first = _list_dir(top, seen, on_error)
    stack: list[Iterator[os.DirEntry[str]]] = [] if first is None else [iter(first)]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()  # follows symlinks
        except OSError:
            is_dir = False
        if is_dir:
            entries = _list_dir(Path(entry.path), seen, on_error)
            if entries is not None:
                stack.append(iter(entries))
        elif os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
            yield Path(entry.path)


def _list_dir(
    folder: Path, seen: set[tuple[int, int]], on_error: Callable[[OSError], object] | None
) -> list[os.DirEntry[str]] | None:
    """Sorted entries of ``folder``, or None if it was already walked or cannot be listed."""
    try:
        st = os.stat(folder)
        key = (st.st_dev, st.st_ino)
        if key in seen:
            return None
        seen.add(key)
        with os.scandir(folder) as it:
            return sorted(it, key=lambda entry: entry.name)
    except OSError as exc:
        if on_error is not None:
            on_error(exc)
        return None


def decode_image_bytes(
    data: bytes,
    *,
    name: str,
    channels: int,
    size: tuple[int, int] | None = None,
    limits: DecodeLimits = DecodeLimits(),  # noqa: B008 - frozen, hence a safe default
) -> np.ndarray:
    """Decode an image held in memory (an upload, a blob), exactly as :func:`decode_image` decodes
    a file: same conversion table, same limits, same error messages. ``name`` is only used in
    messages; it never touches the filesystem."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    if size is not None:
        size = _check_size(size)
    if len(data) > limits.max_file_bytes:
        raise ImageDecodeError(Path(name), f"file too large: {len(data)} bytes exceeds the limit of "
                                           f"{limits.max_file_bytes} bytes")
    if not data:
        raise ImageDecodeError(Path(name), "empty file")
    return _decode_bytes(Path(name), data, channels=channels, size=size, limits=limits)


def decode_bytes_or_error(name: str, data: bytes, channels: int,
                          size: tuple[int, int]) -> tuple[str, np.ndarray | None, str | None]:
    """``(name, image, None)`` or ``(name, None, message)``: :func:`decode_or_error` for bytes."""
    try:
        return name, decode_image_bytes(data, name=name, channels=channels, size=size), None
    except ImageDecodeError as exc:
        return name, None, str(exc)
    except Exception as exc:  # never let one upload stop the batch
        return name, None, f"{type(exc).__name__}: {exc}"


def decode_or_error(path: Path, channels: int, size: tuple[int, int]) -> tuple[Path, np.ndarray | None, str | None]:
    """``(path, image, None)``, or ``(path, None, message)`` for a file that cannot be decoded:
    one bad file never stops a batch (``predict``, ``verify``)."""
    try:
        return path, decode_image(path, channels=channels, size=size), None
    except ImageDecodeError as exc:
        return path, None, str(exc)
    except Exception as exc:  # never let one file stop the batch
        return path, None, f"{type(exc).__name__}: {exc}"
