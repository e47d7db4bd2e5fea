"""The Ray engine: the same rows as the local engine, computed by Ray Data.

The driver (the ``ganprint scan`` process) keeps the file list, the manifest and the shard files;
Ray workers read the image files and the model folder by path, so on a cluster those must be on
storage every node sees at the same path. Each actor of :class:`ScoreFiles` loads the model once
and then reads, hashes, decodes and scores batch after batch; with several actors one decodes
while another runs the model. Results come back in file order (``preserve_order``) and the driver
writes each shard as soon as its last row arrives.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa


class ScoreFiles:
    """Ray Data ``map_batches`` callable: loads the model once per actor, scores batches of files."""

    def __init__(self, model_dir: str, device: str = "cpu", threads: int = 1) -> None:
        import torch

        from ganprint.attribution.loading import load_model
        from ganprint.scan.score import make_scorer

        torch.set_num_threads(threads)
        self.model = load_model(model_dir, device=device)
        self.scorer = make_scorer(self.model)

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Each row of ``batch`` is one model batch (``indices``, ``paths``): scored as one call, as
        the local engine does, so both engines give the same rows to the last bit."""
        from ganprint.scan.files import read_and_decode
        from ganprint.scan.score import score_rows

        pre = self.model.preprocessing
        tables = []
        for item in batch.to_pylist():
            decoded = [read_and_decode(p, pre.channels, pre.size) for p in item["paths"]]
            tables.append(score_rows(self.scorer, item["indices"], decoded))
        return pa.concat_tables(tables)


def scan_ray(model_dir: str | os.PathLike[str], files: Sequence[bytes], shards: Sequence[int], shard_size: int, *,
             batch_size: int, device: str = "auto", address: str | None = None,
             actors: int | None = None) -> Iterator[tuple[int, pa.Table]]:
    """Yield ``(shard, table)`` for each of ``shards`` in order, scored on Ray Data.

    Joins the cluster at ``address`` or, without one, uses the Ray instance already started in this
    process or starts a local one with this machine's CPUs. ``actors`` defaults to the cluster's
    CPU count (one model per CPU, one PyTorch thread each).
    """
    import ray

    if not ray.is_initialized():
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    actors = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
    if device == "auto":  # one GPU per actor where the cluster has them (reserved, not just visible)
        device = "cuda" if ray.cluster_resources().get("GPU", 0) > 0 else "cpu"
    from ganprint.scan.local import shard_batches

    items = [{"indices": batch, "paths": [files[i] for i in batch]}
             for _, batch in shard_batches(len(files), shards, shard_size, batch_size)]
    context = ray.data.DataContext.get_current()
    keep_order, keep_progress = context.execution_options.preserve_order, context.enable_progress_bars
    context.execution_options.preserve_order = True  # rows come back in file order: shards close in turn
    context.enable_progress_bars = False  # ganprint's own bar counts files
    try:
        dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
        scored = dataset.map_batches(ScoreFiles, fn_constructor_kwargs={"model_dir": str(Path(model_dir).resolve()),
                                                                       "device": device},
                                     batch_size=1, batch_format="pyarrow",
                                     compute=ray.data.ActorPoolStrategy(size=actors),
                                     num_cpus=1, num_gpus=1 if device.startswith("cuda") else 0)
        yield from _group_by_shard(scored.iter_batches(batch_size=None, batch_format="pyarrow"), shards, shard_size,
                                   len(files))
    finally:
        context.execution_options.preserve_order = keep_order
        context.enable_progress_bars = keep_progress


def _group_by_shard(batches: Iterator[pa.Table], shards: Sequence[int], shard_size: int,
                    n_files: int) -> Iterator[tuple[int, pa.Table]]:
    """Cut the ordered stream of rows into the shards it covers (checking each shard's indices)."""
    import pyarrow.compute as pc

    pending = iter(shards)
    shard = next(pending, None)
    parts: list[pa.Table] = []
    have = 0
    for batch in batches:
        offset = 0
        while offset < batch.num_rows and shard is not None:
            start, stop = shard * shard_size, min(n_files, (shard + 1) * shard_size)
            take = min(batch.num_rows - offset, stop - start - have)
            parts.append(batch.slice(offset, take))
            offset += take
            have += take
            if have == stop - start:
                table = pa.concat_tables(parts).combine_chunks()
                index = table.column("index")
                if pc.min(index).as_py() != start or pc.max(index).as_py() != stop - 1:
                    raise RuntimeError(f"Ray returned rows out of order for shard {shard}")
                yield shard, table.sort_by("index")
                parts, have = [], 0
                shard = next(pending, None)
