"""Format-bias audit: re-encoding, file signatures, format predictability, the audit and its text."""

import numpy as np
import pytest
from PIL import Image, features
from sklearn.datasets import load_digits

from ganprint.attribution.format_audit import (
    audit_format,
    file_format_signature,
    format_audit_text,
    format_predictability,
    jpeg_quality,
    reencode,
)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """Real digits 0 and 1 at 16x16 (8x8 upscaled), uint8."""
    data = load_digits()
    keep = data.target < 2
    images = np.kron(data.images[keep][:80], np.ones((2, 2))) * 15
    return images.astype(np.uint8), data.target[keep][:80]


def _jpeg_trace(batch: np.ndarray) -> np.ndarray:
    """How much a JPEG q75 round trip changes each image: small for images that already were JPEG q75."""
    return np.abs(reencode(batch, "jpeg", 75).astype(int) - batch).mean(axis=(1, 2))


def _shortcut_data(digits):
    """Class 0 arrives as JPEG q75 (its pixels carry the traces), class 1 as clean PNG."""
    images, labels = digits
    data = images.copy()
    data[labels == 0] = reencode(images[labels == 0], "jpeg", 75)
    return data, labels


def test_reencode_png_is_lossless_and_jpeg_is_not(digits):
    images, _ = digits
    for batch in (images[:8], images[:8, :, :, None], np.stack([images[:8], images[8:16], images[16:24]], axis=3)):
        png = reencode(batch, "png")
        assert png.shape == batch.shape and png.dtype == np.uint8
        np.testing.assert_array_equal(png, batch)
        q50, q95 = reencode(batch, "jpeg", 50), reencode(batch, "JPEG", 95)
        assert q50.shape == batch.shape and not np.array_equal(q50, batch)
        assert np.abs(q95.astype(int) - batch).mean() < np.abs(q50.astype(int) - batch).mean()
    for bad in [dict(fmt="gif"), dict(fmt="png", quality=90), dict(fmt="jpeg", quality=0)]:
        with pytest.raises(ValueError):
            reencode(images[:2], **bad)
    with pytest.raises(ValueError, match="uint8"):
        reencode(images[:2].astype(float), "png")
    with pytest.raises(ValueError, match="shape"):
        reencode(np.zeros((2, 8, 8, 4), np.uint8), "png")


def test_file_signatures(tmp_path, digits):
    images, _ = digits
    rgb = Image.fromarray(np.stack([images[0], images[1], images[2]], axis=2))
    for quality in (30, 50, 75, 90, 95):
        rgb.save(tmp_path / f"q{quality}.jpg", quality=quality)
        assert file_format_signature(tmp_path / f"q{quality}.jpg") == f"JPEG q~{quality}"
    Image.fromarray(images[0]).save(tmp_path / "grey.jpg", quality=60)
    assert file_format_signature(tmp_path / "grey.jpg") == "JPEG q~60"
    rgb.save(tmp_path / "a.png")
    rgb.save(tmp_path / "a.bmp")
    assert file_format_signature(tmp_path / "a.png") == "PNG"
    assert file_format_signature(tmp_path / "a.bmp") == "BMP"
    if features.check("webp"):
        rgb.save(tmp_path / "a.webp")
        assert file_format_signature(tmp_path / "a.webp") == "WEBP"
    with Image.open(tmp_path / "q75.jpg") as im:
        assert jpeg_quality(im.quantization) == 75


def test_bad_files_are_unreadable(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (tmp_path / "empty.png").write_bytes(b"")
    for name in ("truncated.jpg", "garbage.png", "empty.png", "missing.png", "."):
        assert file_format_signature(tmp_path / name) == "unreadable"


def test_format_predictability_warns_only_when_format_gives_the_source_away():
    labels = [0] * 10 + [1] * 10
    separated = format_predictability(["JPEG q~75"] * 10 + ["PNG"] * 10, labels)
    assert separated["accuracy"] == 1.0 and separated["chance"] == 0.5 and separated["warning"]
    assert separated["table"] == {"JPEG q~75": {0: 10}, "PNG": {1: 10}}
    mixed = format_predictability(["JPEG q~75", "PNG"] * 10, labels)
    assert not mixed["warning"] and mixed["accuracy"] <= mixed["chance"]
    # every file its own signature: a signature seen once predicts nothing (leave-one-out)
    unique = format_predictability([f"JPEG q~{q}" for q in range(20)], labels)
    assert not unique["warning"]
    imbalanced = format_predictability(["PNG"] * 20, [0] * 15 + [1] * 5)
    assert imbalanced["chance"] == 0.75 and imbalanced["accuracy"] == 0.75 and not imbalanced["warning"]


def test_audit_flags_a_compression_shortcut(tmp_path, digits):
    data, labels = _shortcut_data(digits)

    def shortcut(batch: np.ndarray) -> np.ndarray:  # "looks like JPEG q75 already" => class 0
        return np.where(_jpeg_trace(batch) < 2.4, 0, 1)

    paths = []
    for i, (image, label) in enumerate(zip(data, labels, strict=True)):
        paths.append(tmp_path / (f"{i}.jpg" if label == 0 else f"{i}.png"))
        Image.fromarray(image).save(paths[-1], **({"quality": 75} if label == 0 else {}))
    result = audit_format(shortcut, data, labels, paths=paths)
    acc = result["accuracy"]
    assert acc["original"] == 1.0 and acc["png"] == 1.0
    assert set(acc) == {"original", "png", "jpeg_95", "jpeg_75", "jpeg_50"}
    assert result["per_class"]["jpeg_75"] == {0: 1.0, 1: 0.0}  # everything now looks like class 0
    assert result["largest_drop"]["setting"].startswith("jpeg") and result["largest_drop"]["drop"] >= 0.4
    n0, n1 = int((labels == 0).sum()), int((labels == 1).sum())
    assert result["format"]["warning"] and result["format"]["table"] == {"JPEG q~75": {0: n0}, "PNG": {1: n1}}
    text = " ".join(result["warnings"])
    assert "JPEG quality 75" in text and "file format alone predicts" in text
    report = format_audit_text(result)
    assert "jpeg_75" in report and "PNG" in report and "Warnings:" in report


def test_audit_is_quiet_for_a_robust_model_and_for_noise(digits):
    data, labels = _shortcut_data(digits)
    templates = np.stack([data[labels == k].reshape(-1, 256).mean(0) for k in (0, 1)])

    def nearest_template(batch: np.ndarray) -> np.ndarray:
        return np.linalg.norm(batch.reshape(len(batch), 1, -1) - templates[None], axis=2).argmin(1)

    result = audit_format(nearest_template, data, labels)
    assert result["accuracy"]["original"] > 0.95 and result["warnings"] == [] and result["format"] is None
    assert "No warnings." in format_audit_text(result)

    # two of twenty predictions flip after any re-encoding: a 0.1 drop, but within noise for 20 images
    small, y = data[:20], labels[:20]

    def flaky(batch: np.ndarray) -> np.ndarray:
        pred = y.copy()
        if not np.array_equal(batch, small):
            pred[:2] = 1 - pred[:2]
        return pred

    result = audit_format(flaky, small, y, settings=(("jpeg", 50),))
    assert result["largest_drop"] == {"setting": "jpeg_50", "drop": pytest.approx(0.1)}
    assert result["warnings"] == []
