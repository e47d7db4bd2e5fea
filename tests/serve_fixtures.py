"""A tiny trained model and a set of good, odd and broken image files, shared by the serve tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from ganprint.attribution.assess import model_outputs
from ganprint.attribution.attributor import Attributor, Preprocessing
from ganprint.attribution.training import FitConfig

UNKNOWN_IMAGE = "odd.png"
"""The good image whose known-source score the saved model's threshold puts below it: answered unknown."""


def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


def sources(n: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """``n`` images of each of three easy sources: real (noise), gan_a (dark noise), gan_b (bright)."""
    rng = np.random.default_rng(seed)
    base = (rng.random((3 * n, 28, 28, 1)) * 255).astype(np.uint8)
    base[n:2 * n] //= 4
    base[2 * n:] = 255 - base[2 * n:] // 4
    return base, ["real"] * n + ["gan_a"] * n + ["gan_b"] * n


def good_images() -> dict[str, bytes]:
    images, _ = sources(2, seed=7)
    files = {f"good_{i}.png": png_bytes(Image.fromarray(a[..., 0])) for i, a in enumerate(images)}
    checker = (np.indices((28, 28)).sum(0) % 2 * 255).astype(np.uint8)  # like none of the sources
    files[UNKNOWN_IMAGE] = png_bytes(Image.fromarray(checker))
    return files


def bad_images() -> dict[str, bytes]:
    """One file per kind of input ``predict`` refuses or converts, by a name saying what it is."""
    rng = np.random.default_rng(0)
    full = png_bytes(Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)))
    return {
        "empty.png": b"",
        "not-an-image.png": b"this is not an image, just text\n" * 10,
        "random.bin": rng.bytes(2048),
        "truncated.png": full[: len(full) // 2],
        "bomb.png": png_bytes(Image.new("1", (20000, 20000))),          # decompression bomb header
        "huge.png": png_bytes(Image.new("L", (3000, 2000), 128)),       # large but allowed: resized
        "notes.txt": b"%PDF-1.4 pretending\n",                         # wrong type
        "cmyk.jpg": png_bytes(Image.new("CMYK", (40, 30), (0, 0, 0, 0)), format="JPEG"),
        "-odd näme with spaces.png": png_bytes(Image.fromarray(np.full((28, 28), 90, np.uint8))),
    }


def train_model(folder: Path) -> Path:
    """A 3-source attributor (1 epoch, seconds) saved in ``folder``, its unknown threshold set
    between the known-source scores of the good images and :data:`UNKNOWN_IMAGE`'s."""
    X, y = sources(30)
    att = Attributor(preprocessing=Preprocessing((28, 28), 1), device="cpu",
                     fit_config=FitConfig(epochs=1, batch_size=16, patience=None))
    att.fit(X[::2], y[::2], X[1::2], y[1::2], progress=False)
    from ganprint.data.decode import decode_image_bytes

    files = good_images()
    decoded = {n: decode_image_bytes(d, name=n, channels=1, size=(28, 28)) for n, d in files.items()}
    known = model_outputs(att, np.stack(list(decoded.values())))["known_scores"]
    scores = dict(zip(decoded, known, strict=True))
    others = [s for n, s in scores.items() if n != UNKNOWN_IMAGE]
    odd = scores[UNKNOWN_IMAGE]
    assert odd < min(others), f"the checkerboard should look least like a known source: {scores}"
    att.threshold_ = float((odd + min(others)) / 2)
    att.save(folder)
    return folder
