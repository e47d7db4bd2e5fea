"""The local engine: decoding in worker processes ahead of the model, scoring in this process."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial

import pyarrow as pa

from ganprint.data.pool import DecodePlan, map_batches
from ganprint.scan.files import read_and_decode
from ganprint.scan.score import make_scorer, score_rows


def scan_local(model, files: Sequence[bytes], shards: Sequence[int], shard_size: int, *,
               batch_size: int, workers: int | None = None) -> Iterator[tuple[int, pa.Table]]:
    """Yield ``(shard, table)`` for each of ``shards`` in order, as soon as each is scored.

    Model batches start at each shard's first file (:func:`shard_batches`), so a resumed scan runs
    the model on exactly the batches an uninterrupted one would: the same rows to the last bit.
    """
    pre = model.preprocessing
    scorer = make_scorer(model)
    batches = shard_batches(len(files), shards, shard_size, batch_size)
    decode = partial(read_and_decode, channels=pre.channels, size=pre.size)
    items = ([files[i] for i in batch] for _, batch in batches)
    parts: dict[int, list[pa.Table]] = {}
    for (shard, batch), decoded in zip(batches, map_batches(decode, items, DecodePlan(workers=workers)), strict=True):
        parts.setdefault(shard, []).append(score_rows(scorer, batch, decoded))
        if batch[-1] == min(len(files), (shard + 1) * shard_size) - 1:
            yield shard, pa.concat_tables(parts.pop(shard))


def shard_batches(n_files: int, shards: Sequence[int], shard_size: int,
                  batch_size: int) -> list[tuple[int, list[int]]]:
    """``(shard, file indices)`` of every model batch: ``batch_size`` files from each shard's start,
    the last batch of a shard shorter. Both engines score exactly these batches."""
    out = []
    for shard in shards:
        stop = min(n_files, (shard + 1) * shard_size)
        out.extend((shard, list(range(start, min(stop, start + batch_size))))
                   for start in range(shard * shard_size, stop, batch_size))
    return out

