"""Scanning collections: ``ganprint scan`` as a library.

Writes one Parquet row per file (:mod:`ganprint.scan.shards` has the schema), survives being killed
at any moment (rerun with the same arguments to finish, :mod:`ganprint.scan.manifest`), and runs
either here (:mod:`ganprint.scan.local`) or on Ray Data (:mod:`ganprint.scan.ray_engine`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from ganprint.scan.runner import ENGINES, ScanConfig, ScanError, ScanSummary, run_scan, summarise

__all__ = ["ENGINES", "ScanConfig", "ScanError", "ScanSummary", "read_results", "run_scan", "summarise"]


def read_results(out: str | os.PathLike[str]) -> pa.Table:
    """Every row a scan in ``out`` has written so far, in file-list order (column ``index``).

    An unfinished scan gives the rows of its finished shards; ``summarise(out)`` and the manifest
    say how many files there are in all.
    """
    from ganprint.scan.shards import read_shards

    out = Path(out)
    if not (out / "manifest.json").is_file():
        raise FileNotFoundError(f"{out} holds no scan results (no manifest.json)")
    table = read_shards(out)
    if table is None:
        from ganprint.scan.manifest import read_manifest
        from ganprint.scan.shards import result_schema

        manifest = read_manifest(out)
        classes = _classes(Path(manifest.settings["model"])) if manifest else []
        return result_schema(classes).empty_table()
    return table


def _classes(model_dir: Path) -> list[str]:
    from ganprint.serialization import CONFIG_NAME, read_json

    try:
        return [str(c) for c in read_json(model_dir / CONFIG_NAME).get("classes", [])]
    except (OSError, ValueError):
        return []
