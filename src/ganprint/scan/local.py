"""The local engine: decoding in worker processes ahead of the model, scoring in this process."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial

import pyarrow as pa

from ganprint.data.pool import DecodePlan, map_chunks
from ganprint.scan.files import read_and_decode
from ganprint.scan.score import make_scorer, score_rows


def scan_local(model, files: Sequence[bytes], shards: Sequence[int], shard_size: int, *,
               batch_size: int, workers: int | None = None) -> Iterator[tuple[int, pa.Table]]:
    """Yield ``(shard, table)`` for each of ``shards`` in order, as soon as each is scored."""
    pre = model.preprocessing
    scorer = make_scorer(model)
    bounds = [(s, s * shard_size, min(len(files), (s + 1) * shard_size)) for s in shards]
    items = ((i, files[i]) for _, start, stop in bounds for i in range(start, stop))
    decode = partial(_decode_indexed, channels=pre.channels, size=pre.size)
    parts: list[pa.Table] = []
    have = 0
    pending = iter(bounds)
    shard, start, stop = next(pending, (None, 0, 0))
    for chunk in map_chunks(decode, items, DecodePlan(workers=workers, chunk=batch_size)):
        offset = 0
        while offset < len(chunk):
            take = min(len(chunk) - offset, stop - start - have)
            part = chunk[offset:offset + take]
            parts.append(score_rows(scorer, [i for i, _ in part], [d for _, d in part]))
            offset += take
            have += take
            if have == stop - start:
                yield shard, pa.concat_tables(parts)
                parts, have = [], 0
                shard, start, stop = next(pending, (None, 0, 0))


def _decode_indexed(item: tuple[int, bytes], *, channels: int, size: tuple[int, int]):
    index, path = item
    return index, read_and_decode(path, channels, size)
