"""Model cards: what a saved model is, what it was trained on, how well it did, and where it is weak.

A card is built from the model folder's ``config.json`` alone (plus, optionally, a recorded
evaluation): nothing is unpickled and no weights are loaded, so a card of any folder is instant.
:func:`model_card` is a pure function (config dict -> card dict) and :func:`format_card` renders a
card as text; :func:`read_model_card` reads a folder and adds what only the files know (their
sizes and when they were saved).

Every field is optional in the config: folders saved by older versions of ganprint (before the
training data was recorded) get a card that says what is missing instead of failing.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["MODEL_KINDS", "candidate_figures", "format_card", "model_card", "read_model_card"]

MODEL_KINDS: Mapping[str, str] = {
    "ganprint-attributor": "single-network attributor",
    "ganprint-two-stage": "two-stage model (a real/fake module plus one one-vs-rest module per source)",
    "ganprint-visnet": "visNet (learned model and image fingerprints)",
    "ganprint-residual-correlation": "residual correlation (training-free: each source's mean noise residual)",
}
"""Config kinds of the model folders a card describes, in words."""

MIN_IMAGES_PER_SOURCE = 20
"""A source with fewer training and validation images than this, or fewer validation images than this
per source on average, is a known limit (the thresholds of ``train``'s warnings)."""

WEAK_UNKNOWN_AUROC = 0.9
"""Below this leave-one-source-out AUROC the card warns that 'unknown' answers are unreliable."""

_FIT_KEYS = ("optimizer", "lr", "batch_size", "schedule", "augment", "hflip", "seed", "time_budget")


def model_card(config: Mapping[str, Any], *, evaluation: Mapping[str, Any] | None = None,
               arch_description: str | None = None) -> dict[str, Any]:
    """The card of a model folder's ``config`` (its ``config.json`` as a dict).

    Args:
        config: The saved config: kind, arch, classes, preprocessing, calibration, fit, history and,
            when ``train`` recorded it, ``training_data``.
        evaluation: An ``eval --json`` report to show as the test figures (default: the config's
            ``evaluation`` entry, when one was recorded).
        arch_description: One line on the architecture (the model registry's description).

    Returns:
        A JSON-ready dict with the sections ``model``, ``training_data``, ``input``, ``training``,
        ``validation``, ``selection``, ``unknown_score_selection``, ``calibration``, ``test`` and
        ``limits`` (a list of sentences); a section that the config does not record is None.
    """
    history = _mapping(config.get("history"))
    data = _mapping(config.get("training_data")) or None
    evaluation = evaluation if evaluation is not None else (_mapping(config.get("evaluation")) or None)
    classes = [str(c) for c in config.get("classes", [])]
    card: dict[str, Any] = {
        "model": {
            "kind": config.get("kind"),
            "kind_description": MODEL_KINDS.get(str(config.get("kind")), "unknown kind"),
            "arch": config.get("arch"),
            "arch_description": arch_description,
            "arch_options": dict(_mapping(config.get("arch_options"))),
            "parameters": _chosen_parameters(history),
            "classes": classes,
            "real_classes": _real_classes(config),
            "ganprint_version": (data or {}).get("ganprint_version"),
            "created": (data or {}).get("created"),
        },
        "training_data": dict(data) if data else None,
        "input": _input(config),
        "training": _training(config, history),
        "validation": _validation_of(history),
        "selection": _selection(history),
        "unknown_score_selection": _unknown_selection(history),
        "calibration": _calibration(config, history),
        "test": _test(evaluation),
    }
    card["limits"] = _limits(config, card)
    return card


def read_model_card(folder: str | Path, *, evaluation: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The card of the model folder ``folder``: :func:`model_card` of its ``config.json``, with the
    folder's path, its files and their sizes, and when the config was saved (the file's time, for
    folders that do not record their creation date). Raises ``ValueError`` for a folder that is not
    a ganprint model."""
    from ganprint.serialization import CONFIG_NAME, read_json

    folder = Path(folder)
    if not (folder / CONFIG_NAME).is_file():
        raise FileNotFoundError(f"{folder} is not a model folder (no {CONFIG_NAME})")
    config = read_json(folder / CONFIG_NAME)
    if config.get("kind") not in MODEL_KINDS:
        raise ValueError(f"{folder} is not a ganprint attributor (config kind {config.get('kind')!r}; known: "
                         f"{', '.join(sorted(MODEL_KINDS))})")
    card = model_card(config, evaluation=evaluation, arch_description=_arch_description(config.get("arch")))
    stamp = (folder / CONFIG_NAME).stat().st_mtime
    card["model"]["path"] = str(folder)
    card["model"]["saved"] = _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc).isoformat(timespec="seconds")
    card["model"]["files"] = {p.name: p.stat().st_size for p in sorted(folder.iterdir())
                              if p.is_file() and p.suffix in (".json", ".safetensors")}
    return card


def _arch_description(arch: Any) -> str | None:
    """The registry's one-line description of ``arch`` (None for names outside the registry)."""
    from ganprint.models import MODELS, arch_info

    if not isinstance(arch, str) or arch not in MODELS.names():
        return None
    return arch_info(arch).description.split("\n")[0] or None


# -- sections ------------------------------------------------------------------------------------

def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _real_classes(config: Mapping[str, Any]) -> list[str]:
    """The real classes (a two-stage model names its one real class ``real_class``)."""
    if "real_classes" in config:
        return [str(c) for c in config["real_classes"]]
    return [str(config["real_class"])] if config.get("real_class") is not None else []


def _chosen_parameters(history: Mapping[str, Any]) -> int | None:
    for row in _mapping(history.get("selection")).get("candidates", []):
        if row.get("chosen") and row.get("parameters") is not None:
            return int(row["parameters"])
    return None


def _input(config: Mapping[str, Any]) -> dict[str, Any] | None:
    pre = _mapping(config.get("preprocessing"))
    if not pre:
        return None
    rep = config.get("representation", "pixels")
    return {"size": list(pre.get("size", [])), "channels": pre.get("channels"), "scale": pre.get("scale"),
            "resize": pre.get("resize"),
            "representation": rep.get("name") if isinstance(rep, Mapping) else rep}


def _training(config: Mapping[str, Any], history: Mapping[str, Any]) -> dict[str, Any] | None:
    """The training run (None for a training-free model); a two-stage model's is its primary module's."""
    fit = _mapping(config.get("fit"))
    run = _mapping(history.get("primary")) or history
    if not fit and "epochs_run" not in run:
        return None
    return {"epochs_run": run.get("epochs_run"), "max_epochs": fit.get("epochs"),
            "stopped_by": run.get("stopped_by") or ("the epoch limit" if run.get("epochs_run") else None),
            "fit_seconds": history.get("fit_seconds"), **{k: fit[k] for k in _FIT_KEYS if k in fit}}


def _validation_of(history: Mapping[str, Any]) -> dict[str, Any] | None:
    """Validation figures of the kept weights; for a two-stage model, its primary (real vs fake)
    module's, with each one-vs-rest module's accuracy under ``secondary``."""
    if not isinstance(history.get("primary"), Mapping):
        return _validation(history)
    figures = _validation(history["primary"])
    if figures is None:
        return None
    secondary = {name: _validation(h) for name, h in _mapping(history.get("secondary")).items()}
    figures["module"] = "primary (real vs fake)"
    figures["secondary"] = {name: v["accuracy"] for name, v in secondary.items() if v is not None}
    return figures


def _validation(history: Mapping[str, Any]) -> dict[str, Any] | None:
    """Validation figures of the kept weights (those of the lowest validation loss)."""
    losses, accuracies = list(history.get("val_loss", [])), list(history.get("val_accuracy", []))
    if not losses or len(accuracies) != len(losses):
        return None
    best = history.get("best_val_loss")
    kept = losses.index(best) if best in losses else min(range(len(losses)), key=losses.__getitem__)
    return {"accuracy": accuracies[kept], "loss": losses[kept], "kept_epoch": kept + 1, "epochs": len(losses),
            "best_accuracy": max(accuracies)}


def candidate_figures(row: Mapping[str, Any]) -> str:
    """A selection-table row's validation figures: the race's when it paused, the finished winner's."""
    figures = (f"race: val accuracy {_num(row.get('race_val_accuracy'))}, val loss "
               f"{_num(row.get('race_val_loss'))} after {row.get('race_epochs')} epochs; "
               if "race_val_accuracy" in row else "")
    return figures + (f"final: val accuracy {_num(row.get('val_accuracy'))}, val loss {_num(row.get('val_loss'))}, "
                      if "val_accuracy" in row else "")


def _selection(history: Mapping[str, Any]) -> dict[str, Any] | None:
    selection = _mapping(history.get("selection"))
    if not selection.get("candidates"):
        return None
    keys = ("candidate", "arch", "representation", "augment", "parameters", "epochs", "seconds", "stopped_by",
            "race_epochs", "race_val_accuracy", "race_val_loss", "val_accuracy", "val_loss", "chosen")
    return {"rule": selection.get("rule"),
            "candidates": [{k: row[k] for k in keys if k in row} for row in selection["candidates"]]}


def _unknown_selection(history: Mapping[str, Any]) -> dict[str, Any] | None:
    chosen = _mapping(history.get("unknown_score_selection"))
    if "chosen" not in chosen:
        return None
    return {"chosen": chosen["chosen"], "estimated_auroc": chosen.get("estimated_auroc"),
            "mean_auroc": dict(_mapping(chosen.get("mean_auroc"))),
            "held_out": [f.get("held_out") for f in chosen.get("folds", [])]}


def _calibration(config: Mapping[str, Any], history: Mapping[str, Any]) -> dict[str, Any] | None:
    saved, measured = _mapping(config.get("calibration")), _mapping(history.get("calibration"))
    if not saved and not measured:
        return None
    keys = ("temperature", "val_ece_uncalibrated", "val_ece", "unknown_score", "threshold", "accept_rate",
            "fake_threshold", "target_fpr")
    merged = {k: measured.get(k, saved.get(k)) for k in keys}
    merged["calibrated"] = bool(measured) or saved.get("threshold") is not None
    return merged


def _test(evaluation: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not evaluation:
        return None
    keys = ("split", "n", "accuracy", "balanced_accuracy", "ece", "detection_auc", "unknown_auroc",
            "open_set_accuracy", "data")
    test = {k: evaluation[k] for k in keys if k in evaluation}
    operating = _mapping(evaluation.get("operating_point"))
    if operating:
        test["false_positive_rate"] = operating.get("false_positive_rate")
        test["detection_rate"] = operating.get("detection_rate")
    for warning in ("warning", "warnings"):
        if evaluation.get(warning):
            test[warning] = evaluation[warning]
    return test


def _limits(config: Mapping[str, Any], card: Mapping[str, Any]) -> list[str]:
    """Known limits, in words: the warnings ``train`` recorded (config key ``warnings``) first, then
    what the card's figures show (missing records, no test split, no calibration, weak unknown-source
    rejection). For folders without recorded warnings, the data warnings (few images of a source,
    few validation images) are derived from the training-data record with ``train``'s thresholds."""
    limits: list[str] = []
    recorded = config.get("warnings")
    if isinstance(recorded, Sequence) and not isinstance(recorded, str):
        limits += [str(w) for w in recorded]
    else:
        recorded = None  # a folder from before train recorded its warnings: derive them from the data record
    data, model = card["training_data"], card["model"]
    if data is None:
        limits.append("the folder does not record its training data (saved before ganprint recorded it): "
                      "`eval` cannot tell whether it scores images the model trained on")
    else:
        splits = _mapping(data.get("splits"))
        if "test" not in splits:
            limits.append("no test split was held out: evaluate on images the model never saw "
                          "(a DIR/test/<source>/ folder or another folder)")
        counts = _mapping(data.get("classes"))
        few = [f"{c} ({n})" for c, n in counts.items() if isinstance(n, int) and n < MIN_IMAGES_PER_SOURCE]
        if few and recorded is None:
            limits.append(f"few images for {', '.join(few)} (fewer than {MIN_IMAGES_PER_SOURCE}): the model learned "
                          "little about these sources")
        val = splits.get("val")
        if isinstance(val, int) and 0 < val < MIN_IMAGES_PER_SOURCE * max(len(counts), 1) and recorded is None:
            limits.append(f"calibration and the unknown-source threshold rest on only {val} validation images "
                          f"(fewer than {MIN_IMAGES_PER_SOURCE} per source)")
    cal = card["calibration"]
    if cal is None or cal.get("threshold") is None:
        limits.append("no validation images were available: probabilities are not calibrated and the model "
                      "never answers 'unknown'")
    if not model["real_classes"] or not set(model["real_classes"]) & set(model["classes"]):
        limits.append("no real class: the model attributes among generators only and gives no p_fake")
    elif cal is not None and cal.get("threshold") is not None and cal.get("fake_threshold") is None \
            and model["kind"] == "ganprint-attributor":
        limits.append("no p_fake operating threshold (no real validation images)")
    unknown = card["unknown_score_selection"]
    auroc = None if unknown is None else unknown.get("estimated_auroc")
    if isinstance(auroc, float) and math.isfinite(auroc) and auroc < WEAK_UNKNOWN_AUROC:
        limits.append(f"'unknown' answers are unreliable: leaving each source out, the chosen score "
                      f"({unknown['chosen']}) told the held-out source from the rest with AUROC {auroc:.3f} "
                      "(1 is perfect, 0.5 chance)")
    training = card["training"] or {}
    if training.get("stopped_by") == "time budget":
        limits.append("training was stopped by its time budget")
    rep = (card["input"] or {}).get("representation")
    if isinstance(rep, str) and "dct" in rep:
        limits.append("heatmaps of a DCT model are over frequencies (low frequencies top left), not pixels")
    if card["test"] is None:
        limits.append("no test figures recorded: run `ganprint eval --model MODEL --data DIR` on held-out images")
    return list(dict.fromkeys(limits))


# -- text ----------------------------------------------------------------------------------------

def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _plain(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.{digits}f}"


def _plain(value: Any) -> str:
    """A setting as written: 0.001, 64, yes / no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _counts(counts: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {_num(v)}" for k, v in counts.items())


def format_card(card: Mapping[str, Any]) -> str:
    """A card from :func:`model_card` as plain text, one section per heading."""
    m = card["model"]
    head = m.get("path") or m.get("arch") or "model"
    lines = [f"Model card: {head}", ""]
    params = f", {_num(m['parameters'])} parameters" if m.get("parameters") else ""
    lines.append(f"  {m['kind_description']}: {m.get('arch')}{params}")
    if m.get("arch_description"):
        lines.append(f"  {m['arch_description']}")
    if m.get("arch_options"):
        lines.append("  architecture options: " + ", ".join(f"{k}={v}" for k, v in m["arch_options"].items()))
    real = [c for c in m["classes"] if c in m["real_classes"]]
    lines.append(f"  sources ({len(m['classes'])}): {', '.join(m['classes'])}"
                 + (f"; real: {', '.join(real)}" if real else "; no real class"))
    version = f"ganprint {m['ganprint_version']}" if m.get("ganprint_version") else "ganprint (version not recorded)"
    when = m.get("created") or (f"{m['saved']} (file time)" if m.get("saved") else "date not recorded")
    lines.append(f"  trained with {version}, {when}")
    if m.get("files"):
        lines.append("  files: " + ", ".join(f"{k} ({_size(v)})" for k, v in m["files"].items()))

    lines += ["", "Trained on"]
    data = card["training_data"]
    if data is None:
        lines.append("  not recorded (the folder was saved before ganprint recorded its training data)")
    else:
        lines.append(f"  {data.get('path', 'n/a')} ({data.get('layout', 'n/a')} layout"
                     + (f"; created {data['created']}" if data.get("created") else "") + ")")
        if data.get("splits"):
            lines.append(f"  images per split: {_counts(data['splits'])}")
        if data.get("classes"):
            lines.append(f"  images per source: {_counts(data['classes'])}")
        if data.get("fingerprint"):
            lines.append(f"  fingerprint of the training files: {data['fingerprint']}")

    inp = card["input"]
    if inp is not None:
        size = "x".join(str(s) for s in inp["size"]) or "n/a"
        colour = {1: "grey", 3: "RGB"}.get(inp.get("channels"), f"{inp.get('channels')} channels")
        lines += ["", "Input", f"  {size} {colour}, representation {inp.get('representation')}; "
                  f"pixels scaled {inp.get('scale') or 'n/a'}, resized {inp.get('resize') or 'n/a'}"]

    tr = card["training"]
    if tr is not None:
        run = f"{_num(tr.get('epochs_run'))} epoch{'' if tr.get('epochs_run') == 1 else 's'}"
        run += f" of at most {tr['max_epochs']}" if tr.get("max_epochs") else ""
        stop = f", stopped by {tr['stopped_by']}" if tr.get("stopped_by") else ""
        took = f", {tr['fit_seconds']:.0f} s" if isinstance(tr.get("fit_seconds"), (int, float)) else ""
        recipe = ", ".join(f"{k.replace('_', ' ')} {_plain(tr[k])}" for k in _FIT_KEYS if tr.get(k) is not None)
        lines += ["", "Training", f"  {run}{stop}{took}"] + ([f"  {recipe}"] if recipe else [])

    lines += ["", "Validation"]
    val = card["validation"]
    if val is None:
        lines.append("  no validation figures recorded")
    else:
        module = f"{val['module']} module: " if val.get("module") else ""
        lines.append(f"  {module}accuracy {_num(val['accuracy'])}, loss {_num(val['loss'])} (kept weights: epoch "
                     f"{val['kept_epoch']} of {val['epochs']}, the lowest validation loss)")
        if val.get("secondary"):
            lines.append(f"  one-vs-rest modules' accuracy: {_counts(val['secondary'])}")
    sel = card["selection"]
    if sel is not None:
        lines.append(f"  candidates ({sel.get('rule') or 'chosen on validation'}):")
        for row in sel["candidates"]:
            figures = candidate_figures(row)
            seconds = f", {row['seconds']:.0f} s" if isinstance(row.get("seconds"), (int, float)) else ""
            lines.append(f"  {'*' if row.get('chosen') else ' '} {row.get('candidate', row.get('arch')):<22} "
                         f"{figures}{_num(row.get('parameters'))} parameters, {row.get('epochs')} epochs{seconds}")
    unk = card["unknown_score_selection"]
    if unk is not None:
        others = ", ".join(f"{k} {_num(v, 3)}" for k, v in unk["mean_auroc"].items())
        lines.append(f"  unknown-source score {unk['chosen']}: mean AUROC {_num(unk.get('estimated_auroc'), 3)} "
                     f"leaving each of {len(unk['held_out'])} sources out in turn ({others})")

    lines += ["", "Calibration (on validation images)"]
    cal = card["calibration"]
    if cal is None or not cal.get("calibrated"):
        lines.append("  none: no validation images (probabilities uncalibrated, never 'unknown')")
    else:
        if cal.get("temperature") is not None:
            ece = (f"; expected calibration error {_num(cal.get('val_ece_uncalibrated'))} before, "
                   f"{_num(cal.get('val_ece'))} after" if cal.get("val_ece") is not None else "")
            lines.append(f"  temperature {_num(cal['temperature'], 3)}{ece}")
        if cal.get("threshold") is not None:
            rate = f"{cal['accept_rate']:.0%}" if isinstance(cal.get("accept_rate"), (int, float)) else "n/a"
            lines.append(f"  'unknown' below {_num(cal['threshold'])} on the {cal.get('unknown_score')} score "
                         f"(accepts {rate} of known-source validation images)")
        if cal.get("fake_threshold") is not None:
            fpr = f"{cal['target_fpr']:.1%}" if isinstance(cal.get("target_fpr"), (int, float)) else "n/a"
            lines.append(f"  fake when p_fake > {_num(cal['fake_threshold'])} (fitted to call {fpr} of real "
                         "validation images fake)")

    lines += ["", "Test"]
    test = card["test"]
    if test is None:
        lines.append("  no evaluation recorded")
    else:
        where = f"split {test['split']}" if test.get("split") else "recorded evaluation"
        lines.append(f"  {where}, {_num(test.get('n'))} images: accuracy {_num(test.get('accuracy'))}, balanced "
                     f"accuracy {_num(test.get('balanced_accuracy'))}, ECE {_num(test.get('ece'))}")
        extra = [f"{label} {_num(test[k])}" for k, label in
                 (("detection_auc", "detection AUC"), ("unknown_auroc", "unknown-source AUROC"),
                  ("open_set_accuracy", "open-set accuracy"), ("false_positive_rate", "false-positive rate"),
                  ("detection_rate", "detection rate")) if test.get(k) is not None]
        if extra:
            lines.append("  " + ", ".join(extra))
        recorded = test.get("warnings") or test.get("warning") or []
        lines += [f"  warning: {text}" for text in ([recorded] if isinstance(recorded, str) else recorded)]

    lines += ["", "Known limits"]
    lines += [f"  - {text}" for text in card["limits"]] or ["  none found"]
    return "\n".join(lines)


def _size(n: Any) -> str:
    if not isinstance(n, int):
        return "n/a"
    for unit in ("B", "kB", "MB"):
        if n < 1000:
            return f"{n} {unit}" if unit == "B" else f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
