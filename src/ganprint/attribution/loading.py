"""Open any ganprint model folder (single attributor or two-stage model) by its config kind."""

from __future__ import annotations

from pathlib import Path

from ganprint.attribution import attributor, two_stage
from ganprint.fingerprints import correlation, visnet
from ganprint.serialization import CONFIG_NAME, read_json

_LOADERS = {
    attributor.MODEL_KIND: attributor.Attributor.load,
    two_stage.MODEL_KIND: two_stage.TwoStageAttributor.load,
    correlation.MODEL_KIND: correlation.ResidualCorrelationAttributor.load,
    visnet.MODEL_KIND: visnet.VisNetAttributor.load,
}


def load_model(folder: str | Path, device: str = "auto") -> attributor.Attributor | two_stage.TwoStageAttributor:
    """Load the model in ``folder``; never unpickles (see :mod:`ganprint.serialization`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a model folder (expected a directory with {CONFIG_NAME})")
    kind = read_json(folder / CONFIG_NAME).get("kind")
    try:
        loader = _LOADERS[kind]
    except KeyError:
        raise ValueError(f"{folder} is not a ganprint model (config kind {kind!r}; known: "
                         f"{', '.join(sorted(_LOADERS))})") from None
    return loader(folder, device=device)
