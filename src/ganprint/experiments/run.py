"""One run folder of an experiment: its configuration, its stages, their cache and timing, the data
each stage may read, and the results envelope.

A stage is a named step with settings (a JSON-able mapping). Its folder ``<run>/<name>`` holds what
it writes and ``stage.json``: a hash of its settings, whether it finished, its small JSON result,
and the kinds of data it read. On a rerun a finished stage whose settings hash matches is skipped
(its result read back); a stage whose settings changed starts again from an empty folder, so a
changed setting reruns exactly the stages whose settings include it. A stage that uses another's
output puts that stage's :meth:`Run.token` in its settings, so it reruns whenever the other ran again.

Data comes in two kinds. **Selection** data (training, validation and monitor images) may steer
anything: early stopping, snapshots, thresholds, which candidate wins. **Report** data (test images
from disjoint latents, photos or regions) is read only by stages opened with ``report=True``, the
final assessment: any other stage that asks for it (:meth:`Run.read`) gets :class:`DataUseError`.
``results.json`` records per stage what it read, so each figure says which data chose and which
reported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganprint.serialization import read_json, write_json

SELECTION = "selection"
REPORT = "report"
STAGE_FILE = "stage.json"


class DataUseError(RuntimeError):
    """A stage asked for report data it may not read."""


def settings_hash(settings: Any) -> str:
    """A stable hash of JSON-able ``settings`` (key order does not matter)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Stage:
    """An open stage: its folder, whether it had already finished and, then, its stored result."""

    name: str
    folder: Path
    key: str
    report: bool
    finished: bool = False
    result: Any = None
    token: str = ""
    reads: set[str] = field(default_factory=set)


@dataclass
class Run:
    """A run folder. ``config`` (the resolved configuration) is saved as ``config.json``."""

    out: Path
    config: dict[str, Any]
    stage_seconds: dict[str, float] = field(default_factory=dict)
    stage_reads: dict[str, list[str]] = field(default_factory=dict)
    _open: list[Stage] = field(default_factory=list, repr=False)
    _t0: float = field(default_factory=time.perf_counter, repr=False)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(self.out / "config.json", self.config)

    # -- stages ---------------------------------------------------------------------------------
    def open(self, name: str, settings: Any, *, report: bool = False) -> Stage:
        """Open stage ``name``: finished (result stored) when its settings match the stored ones;
        otherwise with an empty folder when they changed. Close it with :meth:`close`."""
        folder = self.out / name
        key = settings_hash(settings)
        stored = read_json(folder / STAGE_FILE) if (folder / STAGE_FILE).is_file() else None
        stage = Stage(name, folder, key, report)
        if stored is not None and stored.get("key") == key:
            stage.finished = stored.get("status") == "finished"
            stage.result = stored.get("result")
            stage.token = stored.get("token", "")
            stage.reads = set(stored.get("reads", ()))
            if stage.finished:
                self.stage_reads[name] = sorted(stage.reads)
            return stage  # its record is already on disk
        if stored is not None or (folder.is_dir() and any(folder.iterdir())):
            shutil.rmtree(folder)  # other settings (or none recorded): start this stage afresh
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / STAGE_FILE, {"key": key, "settings": json.loads(json.dumps(settings, default=str)),
                                         "status": "running", "result": None, "reads": [], "token": ""})
        return stage

    def close(self, stage: Stage, result: Any = None) -> Any:
        """Mark ``stage`` finished with its JSON-able ``result``; returns the result."""
        record = read_json(stage.folder / STAGE_FILE)
        stage.finished, stage.result, stage.token = True, result, f"{stage.key}-{time.time_ns()}"
        record.update(status="finished", result=result, reads=sorted(stage.reads), token=stage.token)
        write_json(stage.folder / STAGE_FILE, record)
        self.stage_reads[stage.name] = sorted(stage.reads)
        return result

    def token(self, name: str) -> str:
        """What identifies the output of finished stage ``name``: a stage that reads that output puts
        it in its settings, so it reruns whenever ``name`` ran again (even with the same settings)."""
        path = self.out / name / STAGE_FILE
        record = read_json(path) if path.is_file() else {}
        if record.get("status") != "finished":
            raise RuntimeError(f"stage {name!r} has not finished")
        return str(record["token"])

    def stage(self, name: str, settings: Any, compute: Callable[[Path], Any], *, report: bool = False,
              timer: str | None = None) -> Any:
        """Stage ``name``'s result: stored, or ``compute(folder)`` run inside the stage and stored
        (timed under ``timer``, default the stage's name)."""
        stage = self.open(name, settings, report=report)
        if stage.finished:
            return stage.result
        with self.timed(timer or name), self.inside(stage):
            result = compute(stage.folder)
        return self.close(stage, result)

    @contextlib.contextmanager
    def inside(self, stage: Stage) -> Iterator[Stage]:
        """Make ``stage`` the current one (the one :meth:`read` checks and records)."""
        self._open.append(stage)
        try:
            yield stage
        finally:
            self._open.pop()

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + time.perf_counter() - t

    # -- data -----------------------------------------------------------------------------------
    def read(self, kind: str, what: str = "") -> None:
        """Declare that the current stage reads ``kind`` data (:data:`SELECTION` or :data:`REPORT`);
        report data outside a report stage is refused."""
        if kind not in (SELECTION, REPORT):
            raise ValueError(f"data kind must be {SELECTION!r} or {REPORT!r}, not {kind!r}")
        stage = self._open[-1] if self._open else None
        if kind == REPORT and (stage is None or not stage.report):
            where = f"stage {stage.name!r}" if stage else "code outside any stage"
            raise DataUseError(f"{where} asked for report data{f' ({what})' if what else ''}; only the final "
                               "assessment may read it (choices are made on selection data)")
        if stage is not None:
            stage.reads.add(kind)

    # -- results --------------------------------------------------------------------------------
    def finish(self, results: dict[str, Any], *, figures: dict[str, dict[str, Any]] | None = None,
               device: str = "cpu") -> dict[str, Any]:
        """Add the envelope (stage seconds, wall time, threads, device, the data each stage read and
        ``figures``: per reported figure, the data that chose and the data that reported) and write
        ``results.json``; returns the results."""
        results = {**results,
                   "stage_seconds": {k: round(v, 2) for k, v in self.stage_seconds.items()},
                   "wall_seconds": round(time.perf_counter() - self._t0, 2),
                   "threads": torch.get_num_threads(), "device": device,
                   "data_use": {"stages": self.stage_reads, "figures": figures or {}}}
        write_json(self.out / "results.json", results)
        return results
