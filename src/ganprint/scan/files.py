"""The scan's file list (enumerated once, kept in ``OUT/files.parquet``) and the per-file work:
read once, hash, decode.

The list is written once, atomically, when a scan starts, and a rerun reads it back instead of
walking the folders again: files added or removed in between cannot shift which file belongs to
which shard. Paths are kept as raw bytes, so any name the filesystem allows survives.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ganprint.data.decode import (
    DecodeLimits,
    ImageDecodeError,
    decode_bytes_or_error,
    iter_image_paths,
    read_image_file,
)

FILES_NAME = "files.parquet"

Decoded = tuple[bytes, "np.ndarray | None", "str | None", "int | None", "str | None"]


def list_files(sources: Iterable[str | os.PathLike[str]]) -> list[bytes]:
    """Every image file under ``sources`` (folders walked sorted by name; files as given), as bytes."""
    return [os.fsencode(p) for p in iter_image_paths(sources)]


def save_file_list(out: Path, files: list[bytes]) -> None:
    tmp = out / f".{FILES_NAME}.{os.getpid()}.tmp"
    pq.write_table(pa.table({"path": pa.array(files, pa.binary())}), tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, out / FILES_NAME)


def load_file_list(out: Path) -> list[bytes] | None:
    path = out / FILES_NAME
    if not path.is_file():
        return None
    return pq.read_table(path).column("path").to_pylist()


def read_and_decode(path: bytes, channels: int, size: tuple[int, int]) -> Decoded:
    """``(path, image, error, bytes read, sha256)``: the file read once, its bytes hashed and decoded
    exactly as ``predict`` decodes a file (same conversion, limits and messages). Never raises."""
    name = os.fsdecode(path)
    try:
        data = read_image_file(Path(name), DecodeLimits())
    except ImageDecodeError as exc:
        return path, None, str(exc), None, None
    except Exception as exc:  # never let one file stop the scan
        return path, None, f"{type(exc).__name__}: {exc}", None, None
    _, image, error = decode_bytes_or_error(name, data, channels, size)
    return path, image, error, len(data), hashlib.sha256(data).hexdigest()
