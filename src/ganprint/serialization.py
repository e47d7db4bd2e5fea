"""Model folders: safetensors weights plus a JSON config. Nothing here ever unpickles.

A folder holds ``config.json`` and one or more ``<name>.safetensors`` files. Loading checks that a
weights file really is safetensors (8-byte little-endian header length, then a JSON header) before
handing it to the safetensors library, and refuses pickles (including ``torch.save`` zip files)
with a clear message.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

CONFIG_NAME = "config.json"


class UnsafeModelFileError(ValueError):
    """The file is not a safetensors file (a pickle, a zip archive, or garbage)."""


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically (a crash never leaves a half-written config)."""
    _atomic_write_bytes(Path(path), (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def read_json(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path} must hold a JSON object")
    return obj


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Save tensors as safetensors, atomically (write to a temporary name, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    save_file(contiguous, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def _check_safetensors_header(path: Path) -> None:
    with path.open("rb") as fh:
        head = fh.read(9)
    if len(head) < 9:
        raise UnsafeModelFileError(f"{path}: too short to be a safetensors file")
    # A safetensors file starts with its JSON header's length (8 bytes, little-endian) and then '{'.
    # That length may well begin with the byte 0x80 of a pickle, so the header is judged first.
    (n,) = struct.unpack("<Q", head[:8])
    if 0 < n <= path.stat().st_size - 8 and head[8:9] == b"{":
        return
    if head[:1] == b"\x80" or head[:2] == b"PK":
        raise UnsafeModelFileError(
            f"{path}: this is a pickle / torch.save file; ganprint only loads safetensors "
            "(pickles can run arbitrary code when loaded)"
        )
    raise UnsafeModelFileError(f"{path}: not a safetensors file (bad header)")


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file onto the CPU, refusing anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    _check_safetensors_header(path)
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, ValueError, OSError) as exc:
        raise UnsafeModelFileError(f"{path}: not a valid safetensors file ({exc})") from None


def save_folder(folder: str | Path, config: dict[str, Any], weights: dict[str, dict[str, torch.Tensor]]) -> Path:
    """Write ``config.json`` and ``<name>.safetensors`` for each entry of ``weights``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, tensors in weights.items():
        save_tensors(folder / f"{name}.safetensors", tensors)
    write_json(folder / CONFIG_NAME, config)
    return folder


def load_folder(folder: str | Path, names: list[str], *, kind: str | None = None,
                what: str = "") -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    """Read a folder written by :func:`save_folder`. With ``kind``, a folder whose config names
    another kind is a ValueError (saying it is not ``what``) before any weights are read."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a model folder (expected a directory with {CONFIG_NAME})")
    config = read_json(folder / CONFIG_NAME)
    if kind is not None and config.get("kind") != kind:
        raise ValueError(f"{folder} holds a {config.get('kind')!r}, not {what or 'a ' + repr(kind)} ({kind!r})")
    return config, {name: load_tensors(folder / f"{name}.safetensors") for name in names}
