"""A file's record does not depend on what it is scored with: predict, scan and serve batch files
differently, and must still give the same file the same record, to the last printed digit."""

from __future__ import annotations

import numpy as np
import pytest
from serve_fixtures import sources, train_model

from ganprint.attribution import predict
from ganprint.attribution.assess import model_outputs
from ganprint.attribution.loading import load_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model(train_model(tmp_path_factory.mktemp("model")), device="cpu")


@pytest.fixture(scope="module")
def images():
    x, _ = sources(14, seed=3)
    return x


def _records(model, images, group: int) -> list[dict]:
    scorer = predict.Scorer(model, tta=False, unknown=True, heatmaps_dir=None)
    out = []
    for start in range(0, len(images), group):
        chunk = images[start:start + group]
        out += scorer([(f"{start + i}.png", a, None) for i, a in enumerate(chunk)])
    for i, record in enumerate(out):
        record["path"] = f"{i}.png"
    return out


def _differing(model, images, groups) -> int:
    together = _records(model, images, len(images))
    return sum(sum(a != b for a, b in zip(together, _records(model, images, g), strict=True)) for g in groups)


def test_a_record_is_the_same_alone_in_a_small_batch_and_among_many(model, images):
    assert _differing(model, images, (1, 3, 7, 16, 25)) == 0


def test_without_fixed_shape_calls_batches_would_change_records(model, images, monkeypatch):
    """The check above can fail: scored in calls of whatever size comes, some records move."""
    monkeypatch.setattr(predict, "SCORE_ROWS", 1)
    monkeypatch.setattr(predict, "_outputs", model_outputs)
    assert _differing(model, images, (1, 3, 7)) > 0


def test_padding_appends_copies_of_the_last_row():
    x = np.arange(5)[:, None]
    assert predict.pad_rows(x, 4)[:, 0].tolist() == [0, 1, 2, 3, 4, 4, 4, 4]
    assert predict.pad_rows(x[:4], 4)[:, 0].tolist() == [0, 1, 2, 3]
