"""What a folder of images looks like: sizes, colour, file formats, per source.

``ganprint train`` reads the model's input size and channels from here unless told, and warns
when sources differ in size, colour or file format, since such a difference alone can tell
sources apart (a shortcut that breaks on the first image saved another way).

Only headers are read for the size and format (Pillow opens lazily); colour is decided on the
decoded pixels of a sample, because many grey images are stored as RGB.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SAMPLE_PER_SOURCE = 64
"""Files per source whose headers and pixels are read."""

_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})


@dataclass(frozen=True)
class SourceProfile:
    """What a sample of one source's files looks like."""

    files: int
    sizes: dict[str, int]
    formats: dict[str, int]
    colour: bool
    unreadable: int = 0

    @property
    def main_size(self) -> tuple[int, int] | None:
        """The most common (height, width), or None when no file could be read."""
        if not self.sizes:
            return None
        h, w = Counter(self.sizes).most_common(1)[0][0].split("x")
        return int(h), int(w)


@dataclass(frozen=True)
class DataProfile:
    """Per-source profiles, the input size and channels they suggest, and warnings."""

    sources: dict[str, SourceProfile]
    size: tuple[int, int]
    channels: int
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"size": list(self.size), "channels": self.channels, "warnings": list(self.warnings),
                "sources": {name: {"files": p.files, "sizes": p.sizes, "formats": p.formats, "colour": p.colour,
                                   "unreadable": p.unreadable} for name, p in self.sources.items()}}


def _header(path: Path) -> tuple[str, str, str] | None:
    """("HxW", format, mode) from the file's header, or None when Pillow cannot open it."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            w, h = img.size
            return f"{h}x{w}", str(img.format or path.suffix.lstrip(".").upper()), str(img.mode)
    except Exception:  # noqa: BLE001 - any unreadable file is counted, never raised
        return None


def _is_colour(path: Path) -> bool:
    """Whether the decoded image has channels that differ (RGB stored grey is not colour)."""
    from ganprint.data.decode import decode_image

    try:
        rgb = decode_image(path, channels=3)
    except Exception:  # noqa: BLE001
        return False
    return bool(np.any(rgb[..., 0] != rgb[..., 1]) or np.any(rgb[..., 1] != rgb[..., 2]))


def profile_source(paths: Sequence[Path], sample: int = SAMPLE_PER_SOURCE, seed: int = 0) -> SourceProfile:
    """Sizes, formats and colour of an evenly drawn sample of ``paths``."""
    paths = list(paths)
    if len(paths) > sample:
        idx = np.sort(np.random.default_rng(seed).choice(len(paths), sample, replace=False))
        paths = [paths[i] for i in idx]
    sizes: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    colour, unreadable = False, 0
    for path in paths:
        header = _header(path)
        if header is None:
            unreadable += 1
            continue
        size, fmt, mode = header
        sizes[size] += 1
        formats[fmt] += 1
        if not colour and mode not in _GREY_MODES:
            colour = _is_colour(path)
    return SourceProfile(files=len(paths), sizes=dict(sizes), formats=dict(formats), colour=colour,
                         unreadable=unreadable)


def profile_dataset(files: Sequence[tuple[Path, int]], classes: Sequence[str],
                    sample: int = SAMPLE_PER_SOURCE) -> DataProfile:
    """Profile each source of ``files`` ((path, class index) pairs), choose the input size (the most
    common size over all sampled files) and channels (3 when any source is in colour), and list
    what a forensic user should know: sources that differ in size, colour or file format, mixed
    sizes that will be resized."""
    by_source: dict[str, list[Path]] = {name: [] for name in classes}
    for path, label in files:
        by_source[classes[label]].append(Path(path))
    profiles = {name: profile_source(paths, sample) for name, paths in by_source.items() if paths}
    all_sizes: Counter[str] = Counter()
    for p in profiles.values():
        all_sizes.update(p.sizes)
    if not all_sizes:
        raise ValueError("none of the sampled images could be read")
    h, w = (int(v) for v in all_sizes.most_common(1)[0][0].split("x"))
    channels = 3 if any(p.colour for p in profiles.values()) else 1
    warnings = []
    main_sizes = {name: p.main_size for name, p in profiles.items()}
    if len(set(main_sizes.values())) > 1:
        described = ", ".join(f"{n} {s[0]}x{s[1]}" for n, s in main_sizes.items() if s)
        warnings.append(f"sources differ in image size ({described}): the size alone can tell them apart, and "
                        f"every image is resized to {h}x{w}, which blurs the traces a generator leaves")
    elif len(all_sizes) > 1:
        warnings.append(f"images come in {len(all_sizes)} sizes; those not {h}x{w} are resized, which blurs "
                        "the traces a generator leaves")
    colours = {name: p.colour for name, p in profiles.items()}
    if len(set(colours.values())) > 1:
        grey = sorted(n for n, c in colours.items() if not c)
        warnings.append(f"some sources are grey ({', '.join(grey)}) and others in colour: colour alone can tell "
                        "them apart")
    main_formats = {name: Counter(p.formats).most_common(1)[0][0] for name, p in profiles.items() if p.formats}
    if len(set(main_formats.values())) > 1:
        described = ", ".join(f"{n} {f}" for n, f in main_formats.items())
        warnings.append(f"sources are stored in different file formats ({described}): compression traces alone "
                        "can tell them apart (`ganprint eval --audit-format` measures it)")
    return DataProfile(sources=profiles, size=(h, w), channels=channels, warnings=warnings)
