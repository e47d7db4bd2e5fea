"""Decoded files to result rows, shard by shard: what both engines run around the model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from ganprint.scan.files import Decoded
from ganprint.scan.shards import records_to_table

if TYPE_CHECKING:
    from ganprint.attribution.predict import Scorer


def make_scorer(model) -> Scorer:
    """``predict``'s scorer with ``predict``'s defaults (unknown answers on, no TTA, no heatmaps).
    Imported here, not at the top: a scan's main process never needs PyTorch when workers score."""
    from ganprint.attribution.predict import Scorer

    return Scorer(model, tta=False, unknown=True, heatmaps_dir=None)


def score_rows(scorer: Scorer, indices: Sequence[int], decoded: Sequence[Decoded]) -> pa.Table:
    """One table row per decoded file, in order."""
    records = list(scorer((path, image, error) for path, image, error, _, _ in decoded))
    return records_to_table(records, indices, [d[0] for d in decoded], [d[3] for d in decoded],
                            [d[4] for d in decoded], scorer.classes)
