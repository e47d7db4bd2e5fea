"""Result shards: one Parquet file per fixed-size run of files, one row per file.

Shard ``i`` holds the files ``i * shard_size`` to ``(i + 1) * shard_size - 1`` of the scan's file
list, in that order. It is written to a temporary name and renamed into place, so a shard file
under its final name is always complete; partial temporary files left by a killed scan are removed
when the scan starts again.

Schema (one row per file; a file that could not be read or decoded has ``error`` set and nulls in
the answer columns):

==============  ==========================  ===================================================
column          type                        meaning
==============  ==========================  ===================================================
index           int64                       position in the scan's file list (sorted walk)
path            string                      the file's path (undecodable bytes as ``\\xNN``)
size            int64, null                 bytes read (null when the file could not be read)
sha256          string, null                hex SHA-256 of the bytes read and decoded
label           string, null                the answer: a class name or ``"unknown"``
unknown         bool, null                  the known-source score is below the threshold
probabilities   struct<class: double, ...>  calibrated probability per class (field = class name)
p_fake          double, null                P(made by a generator); null when no class is real
fake            bool, null                  ``p_fake`` above the model's operating threshold
known_score     double, null                known-source score (higher: more like a known one)
error           string, null                why the file could not be scored
==============  ==========================  ===================================================

Probabilities are one struct column, not one column per class: class names stay names (no
clashes with the other columns, any characters allowed), the column reads like ``predict``'s
``"probabilities"`` object, and ``table.flatten()`` (pyarrow), ``probabilities.real`` (DuckDB) or
``pd.json_normalize`` give one column per class when wanted. Values are ``predict``'s, rounded to
six decimals, so a file gets the same answer from ``predict``, ``serve`` and ``scan``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

SHARDS_DIR = "shards"
_SHARD = re.compile(r"^part-(\d{6})\.parquet$")


def result_schema(classes: Sequence[str]) -> pa.Schema:
    return pa.schema([
        ("index", pa.int64()), ("path", pa.string()), ("size", pa.int64()), ("sha256", pa.string()),
        ("label", pa.string()), ("unknown", pa.bool_()),
        ("probabilities", pa.struct([(c, pa.float64()) for c in classes])),
        ("p_fake", pa.float64()), ("fake", pa.bool_()), ("known_score", pa.float64()), ("error", pa.string()),
    ])


def display_path(path: str | os.PathLike[str] | bytes) -> str:
    """The path as text that Parquet can hold: bytes that are not UTF-8 become ``\\xNN``."""
    raw = path if isinstance(path, bytes) else os.fsencode(path)
    return raw.decode("utf-8", "backslashreplace")


def records_to_table(records: Sequence[dict[str, Any]], indices: Sequence[int], paths: Sequence[bytes],
                     sizes: Sequence[int | None], hashes: Sequence[str | None], classes: Sequence[str]) -> pa.Table:
    """Rows from ``predict``'s records (:class:`~ganprint.attribution.predict.Scorer`) and the files'
    sizes and hashes, all in the same order."""
    scored = [r if "error" not in r else {} for r in records]
    columns = {
        "index": list(indices),
        "path": [display_path(p) for p in paths],
        "size": list(sizes),
        "sha256": list(hashes),
        "label": [r.get("label") for r in scored],
        "unknown": [r["label"] == "unknown" if r else None for r in scored],
        "probabilities": [r.get("probabilities") for r in scored],
        "p_fake": [r.get("p_fake") for r in scored],
        "fake": [r.get("fake") for r in scored],
        "known_score": [r.get("known_score") for r in scored],
        "error": [r.get("error") for r in records],
    }
    return pa.table(columns, schema=result_schema(classes))


def shard_path(out: Path, shard: int) -> Path:
    return out / SHARDS_DIR / f"part-{shard:06d}.parquet"


def write_shard(out: Path, shard: int, table: pa.Table) -> Path:
    """Write shard ``shard`` atomically (temp name, fsync, rename)."""
    final = shard_path(out, shard)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    return final


def finished_shards(out: Path) -> set[int]:
    folder = out / SHARDS_DIR
    if not folder.is_dir():
        return set()
    return {int(m.group(1)) for name in os.listdir(folder) if (m := _SHARD.match(name))}


def remove_partials(out: Path) -> int:
    """Delete temporary files a killed scan left behind; how many."""
    removed = 0
    for folder in (out, out / SHARDS_DIR):
        if folder.is_dir():
            for name in os.listdir(folder):
                if name.startswith(".") and name.endswith(".tmp"):
                    (folder / name).unlink(missing_ok=True)
                    removed += 1
    return removed


def read_shards(out: Path, columns: Sequence[str] | None = None) -> pa.Table | None:
    """All finished shards, in file-list order, as one table (None when there are none)."""
    shards = sorted(finished_shards(out))
    if not shards:
        return None
    return pa.concat_tables([pq.read_table(shard_path(out, s), columns=columns) for s in shards])
