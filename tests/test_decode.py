"""Defensive decoding: every broken or hostile input gets the documented conversion or a clear
per-file :class:`ImageDecodeError`; nothing here depends on how the decoder is written."""

from __future__ import annotations

import io
import os
import pickle
import stat
import struct
import sys
import warnings
import zlib
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganprint.data.decode import (
    IMAGE_EXTENSIONS,
    DecodeLimits,
    ImageDecodeError,
    decode_image,
    iter_image_paths,
)
from ganprint.data.folder import load_images

# --------------------------------------------------------------------------------------------
# helpers


def encode(img: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width x height`` but carries no pixel data: decoding it would fail,
    so an error about its size proves the size was checked before decoding."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def noise(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def decode_error(path: Path, **kwargs: object) -> ImageDecodeError:
    kwargs.setdefault("channels", 1)
    with pytest.raises(ImageDecodeError) as info:
        decode_image(path, **kwargs)  # type: ignore[arg-type]
    return info.value


# --------------------------------------------------------------------------------------------
# broken and hostile files


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.png", b"")
    err = decode_error(path)
    assert "empty file" in str(err) and str(path) in str(err)


@pytest.mark.parametrize("fmt,name", [("PNG", "cut.png"), ("JPEG", "cut.jpg")])
def test_truncated_image(tmp_path: Path, fmt: str, name: str) -> None:
    whole = encode(Image.fromarray(noise((64, 64, 3))), fmt)
    path = write(tmp_path / name, whole[: len(whole) // 2])
    assert "truncated or corrupt" in str(decode_error(path, channels=3))


@pytest.mark.parametrize(
    "name,data",
    [
        ("text.png", b"this is not an image, just some text\n" * 20),
        ("random.png", np.random.default_rng(1).bytes(4096)),
        ("random.bin", np.random.default_rng(2).bytes(4096)),
        # formats outside IMAGE_EXTENSIONS are never tried (EPS would run Ghostscript)
        ("hostile.png", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"),
    ],
)
def test_not_an_image(tmp_path: Path, name: str, data: bytes) -> None:
    assert "not an image" in str(decode_error(write(tmp_path / name, data)))


def test_size_is_checked_before_any_pixel_is_decoded(tmp_path: Path) -> None:
    path = write(tmp_path / "claims_big.png", png_header_only(3000, 2000))
    err = decode_error(path, limits=DecodeLimits(max_pixels=1000))
    assert "image too large: 3000x2000 pixels exceeds the limit of 1000" in str(err)


def test_decompression_bomb_with_default_limits(tmp_path: Path) -> None:
    # 20000x20000 1-bit pixels: 400 million pixels, a few tens of kilobytes on disk
    path = write(tmp_path / "bomb.png", encode(Image.new("1", (20000, 20000))))
    assert path.stat().st_size < 1_000_000
    err = decode_error(path, size=(28, 28))
    # ganprint's words, as for an image just over ganprint's own limit (not PIL's message)
    assert "image too large: 400000000 pixels exceeds the limit of" in str(err)
    assert "possible decompression bomb" in str(err) and "DOS" not in str(err)


def test_decompression_bomb_with_a_low_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "bomb.png", encode(Image.new("1", (5000, 4000))))
    err = decode_error(path, limits=DecodeLimits(max_pixels=1_000_000))
    assert "5000x4000 pixels exceeds the limit of 1000000" in str(err)


def test_pil_bomb_warning_becomes_an_error_not_a_warning(tmp_path: Path) -> None:
    # Between PIL's warning and error thresholds; our own limit is set higher than PIL's.
    pixels = Image.MAX_IMAGE_PIXELS
    assert pixels is not None
    side = int((1.2 * pixels) ** 0.5)
    path = write(tmp_path / "warns.png", png_header_only(side, side))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        err = decode_error(path, limits=DecodeLimits(max_pixels=4 * pixels))
    assert "image too large" in str(err)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_concurrent_decoding_leaves_global_state_alone(tmp_path: Path) -> None:
    """Threads decoding at once must not leak warning filters or change PIL's limits.

    A tiny thread switch interval makes threads interleave inside the decoder; without
    serialising ``warnings.catch_warnings`` this reliably leaves filters behind."""
    filters_before = list(warnings.filters)
    max_pixels_before = Image.MAX_IMAGE_PIXELS
    good = encode(Image.new("L", (3, 3), 7))
    items = [(write(tmp_path / f"g{i}.png", good), 0) for i in range(60)]
    items += [(write(tmp_path / f"b{i}.png", png_header_only(400, 400)), 1) for i in range(20)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(3):
            out = load_images(items, channels=1, size=(3, 3), workers=8, progress=False)
            assert len(out.images) == 60 and len(out.errors) == 20
    finally:
        sys.setswitchinterval(interval)
    assert warnings.filters == filters_before
    assert Image.MAX_IMAGE_PIXELS == max_pixels_before


def test_file_too_large(tmp_path: Path) -> None:
    path = write(tmp_path / "big.png", encode(Image.fromarray(noise((64, 64)))))
    err = decode_error(path, limits=DecodeLimits(max_file_bytes=100))
    assert "file too large" in str(err) and "100" in str(err)


def _report_sizes_of_at_most(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """Make ``stat`` and ``fstat`` report regular files as at most ``size`` bytes: files that grow
    between the size check and the read."""
    real = {"stat": os.stat, "fstat": os.fstat}

    def shrunk(name: str):
        def call(*args, **kwargs) -> os.stat_result:
            st = real[name](*args, **kwargs)
            if not stat.S_ISREG(st.st_mode) or st.st_size <= size:
                return st
            fields = list(st)
            fields[6] = size  # st_size
            return os.stat_result(fields)
        return call

    monkeypatch.setattr(os, "stat", shrunk("stat"))
    monkeypatch.setattr(os, "fstat", shrunk("fstat"))


def test_file_that_grew_after_the_size_check_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = noise((40, 30))
    path = write(tmp_path / "grows.png", encode(Image.fromarray(pixels)))
    _report_sizes_of_at_most(monkeypatch, 60)
    np.testing.assert_array_equal(decode_image(path, channels=1)[..., 0], pixels)


def test_file_that_grew_past_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "grows.png", encode(Image.fromarray(noise((64, 64)))))
    _report_sizes_of_at_most(monkeypatch, 60)
    err = decode_error(path, limits=DecodeLimits(max_file_bytes=100))
    assert "file too large" in str(err) and "100" in str(err)


def test_image_too_small(tmp_path: Path) -> None:
    path = write(tmp_path / "small.png", encode(Image.new("L", (4, 3))))
    assert "image too small: 4x3" in str(decode_error(path, limits=DecodeLimits(min_side=8)))


def test_missing_file_and_broken_link(tmp_path: Path) -> None:
    assert "no such file" in str(decode_error(tmp_path / "nope.png"))
    assert "no such file" in str(decode_error(tmp_path / "not_a_dir.png" / "x.png"))
    link = tmp_path / "dangling.png"
    try:
        link.symlink_to(tmp_path / "gone.png")
    except (OSError, NotImplementedError):
        pytest.skip("symbolic links not available")
    assert "broken symbolic link" in str(decode_error(link))


def test_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "folder.png").mkdir()
    assert "is a directory" in str(decode_error(tmp_path / "folder.png"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert "not a regular file" in str(decode_error(fifo))


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="needs POSIX permissions, not root"
)
def test_permission_denied(tmp_path: Path) -> None:
    path = write(tmp_path / "locked.png", encode(Image.new("L", (4, 4))))
    path.chmod(0)
    try:
        assert "permission denied" in str(decode_error(path))
    finally:
        path.chmod(0o600)


def test_invalid_arguments_are_programming_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.png", encode(Image.new("L", (4, 4))))
    for kwargs in ({"channels": 2}, {"channels": 1, "size": (0, 5)}, {"channels": 1, "size": (5,)}):
        with pytest.raises(ValueError) as info:
            decode_image(path, **kwargs)  # type: ignore[arg-type]
        assert not isinstance(info.value, ImageDecodeError)
    with pytest.raises(ValueError):
        DecodeLimits(max_pixels=0)
    with pytest.raises(FrozenInstanceError):
        DecodeLimits().max_pixels = 1  # type: ignore[misc]


def test_error_carries_path_and_reason_and_pickles(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.png", b"")
    err = decode_error(path)
    assert err.path == path and err.reason == "empty file"
    assert str(err) == f"{path}: empty file"
    again = pickle.loads(pickle.dumps(err))
    assert isinstance(again, ImageDecodeError) and str(again) == str(err)


# --------------------------------------------------------------------------------------------
# documented conversions


def test_cmyk_jpeg_to_rgb(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (40, 30), (0, 0, 0, 0))  # no ink: white
    cmyk.paste((0, 0, 0, 255), (0, 0, 20, 30))  # left half full black ink
    path = write(tmp_path / "cmyk.jpg", encode(cmyk, "JPEG", quality=95))
    a = decode_image(path, channels=3)
    assert a.shape == (30, 40, 3) and a.dtype == np.uint8
    assert np.abs(a[:, 30:].astype(int) - 255).max() <= 3
    assert a[:, :10].max() <= 3


def test_sixteen_bit_png_scales_to_eight_bits(tmp_path: Path) -> None:
    values = np.array([[0, 257, 100 * 257, 65535]], dtype=np.uint16)
    source = Image.fromarray(values)
    assert source.mode.startswith("I;16")
    path = write(tmp_path / "sixteen.png", encode(source))
    assert decode_image(path, channels=1)[0, :, 0].tolist() == [0, 1, 100, 255]
    assert decode_image(path, channels=3)[0, 3].tolist() == [255, 255, 255]


@pytest.mark.parametrize(
    "values,expected",
    [([0.0, 0.5, 1.0, np.nan], [0, 128, 255, 0]), ([0.0, 100.0, 255.0, 300.0], [0, 100, 255, 255])],
)
def test_float_tiff(tmp_path: Path, values: list[float], expected: list[int]) -> None:
    path = write(
        tmp_path / "float.tif", encode(Image.fromarray(np.array([values], np.float32)), "TIFF")
    )
    assert decode_image(path, channels=1)[0, :, 0].tolist() == expected


def test_one_bit_image(tmp_path: Path) -> None:
    img = Image.new("1", (4, 2), 0)
    img.putpixel((1, 0), 1)
    a = decode_image(write(tmp_path / "bits.png", encode(img)), channels=1)
    assert a[..., 0].tolist() == [[0, 255, 0, 0], [0, 0, 0, 0]]


def _palette_image() -> Image.Image:
    pal = Image.new("P", (6, 6), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0, 255, 255, 255] + [0] * (768 - 9))
    pal.putpixel((0, 0), 1)  # red
    pal.putpixel((1, 0), 2)  # white
    return pal


def test_palette_follows_the_palette(tmp_path: Path) -> None:
    path = write(tmp_path / "palette.png", encode(_palette_image()))
    rgb = decode_image(path, channels=3)
    assert rgb[0, 0].tolist() == [255, 0, 0] and rgb[0, 1].tolist() == [255, 255, 255]
    assert rgb[3, 3].tolist() == [0, 0, 0]
    gray = decode_image(path, channels=1)
    assert gray[0, 1, 0] == 255 and gray[0, 0, 0] == 76  # ITU-R 601-2 luma of pure red


def test_palette_with_transparency_is_composited_on_black(tmp_path: Path) -> None:
    path = write(tmp_path / "palette_t.png", encode(_palette_image(), transparency=2))
    rgb = decode_image(path, channels=3)
    assert rgb[0, 1].tolist() == [0, 0, 0]  # transparent white -> black
    assert rgb[0, 0].tolist() == [255, 0, 0]  # opaque red stays red


def test_rgba_alpha_is_composited_on_black(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (28, 28), (255, 255, 255, 0))  # fully transparent white
    rgba.putpixel((0, 0), (255, 255, 255, 255))
    rgba.putpixel((1, 0), (200, 100, 50, 128))
    a = decode_image(write(tmp_path / "alpha.png", encode(rgba)), channels=3)
    assert a[5, 5].tolist() == [0, 0, 0]
    assert a[0, 0].tolist() == [255, 255, 255]
    assert np.abs(a[0, 1].astype(int) - [100, 50, 25]).max() <= 1


def test_gray_with_alpha(tmp_path: Path) -> None:
    la = Image.new("LA", (3, 1), (200, 0))
    la.putpixel((0, 0), (200, 255))
    a = decode_image(write(tmp_path / "la.png", encode(la)), channels=1)
    assert a[0, :, 0].tolist() == [200, 0, 0]


@pytest.mark.parametrize(
    "fmt,name", [("GIF", "anim.gif"), ("PNG", "anim.png"), ("TIFF", "pages.tif")]
)
def test_animated_and_multipage_use_the_first_frame(tmp_path: Path, fmt: str, name: str) -> None:
    frames = [Image.new("L", (28, 28), v) for v in (10, 200, 90)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:])
    with Image.open(io.BytesIO(data)) as check:
        assert getattr(check, "n_frames", 1) == 3
    a = decode_image(write(tmp_path / name, data), channels=1)
    assert np.all(a == 10)


def test_exif_orientation_is_not_applied(tmp_path: Path) -> None:
    img = Image.new("L", (40, 20), 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise" when displayed
    path = write(tmp_path / "rotated.jpg", encode(img, "JPEG", exif=exif.tobytes()))
    assert decode_image(path, channels=1).shape == (20, 40, 1)  # stored grid, not displayed


def test_large_allowed_image_is_resized_down(tmp_path: Path) -> None:
    path = write(tmp_path / "large.png", encode(Image.new("L", (3000, 2000), 128)))
    a = decode_image(path, channels=1, size=(28, 28))
    assert a.shape == (28, 28, 1) and np.all(a == 128)


def test_tiny_image_is_resized_up(tmp_path: Path) -> None:
    path = write(tmp_path / "tiny.png", encode(Image.new("L", (1, 1), 255)))
    a = decode_image(path, channels=3, size=(28, 28))
    assert a.shape == (28, 28, 3) and np.all(a == 255)


def test_size_is_height_then_width(tmp_path: Path) -> None:
    path = write(tmp_path / "wide.png", encode(Image.fromarray(noise((10, 30, 3)))))
    assert decode_image(path, channels=3).shape == (10, 30, 3)
    assert decode_image(path, channels=3, size=(12, 7)).shape == (12, 7, 3)
    assert decode_image(path, channels=1, size=(10, 30)).flags.c_contiguous


def test_gray_replicated_to_rgb_and_rgb_to_luma(tmp_path: Path) -> None:
    gray = write(tmp_path / "gray.png", encode(Image.fromarray(noise((8, 8)))))
    a = decode_image(gray, channels=3)
    assert np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2])
    red = write(tmp_path / "red.bmp", encode(Image.new("RGB", (2, 2), (255, 0, 0)), "BMP"))
    assert np.all(decode_image(red, channels=1) == 76)


@pytest.mark.parametrize(
    "fmt,ext", [("WEBP", ".webp"), ("PPM", ".ppm"), ("BMP", ".bmp"), ("TIFF", ".tiff")]
)
def test_other_formats(tmp_path: Path, fmt: str, ext: str) -> None:
    pixels = noise((6, 5, 3))
    options: dict[str, object] = {"lossless": True} if fmt == "WEBP" else {}
    path = write(tmp_path / f"img{ext}", encode(Image.fromarray(pixels), fmt, **options))
    assert np.array_equal(decode_image(path, channels=3), pixels)


# --------------------------------------------------------------------------------------------
# odd names


@pytest.mark.parametrize(
    "name", ["-leading dash.png", "näme with spaces ✓.png", "tab\tand\nnewline.png", "--.png"]
)
def test_odd_file_names(tmp_path: Path, name: str) -> None:
    pixels = noise((5, 5))
    path = write(tmp_path / name, encode(Image.fromarray(pixels)))
    assert np.array_equal(decode_image(path, channels=1)[..., 0], pixels)
    assert np.array_equal(decode_image(str(path), channels=1)[..., 0], pixels)


def test_error_message_for_a_hostile_name_stays_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path / "evil\nFAKE LOG LINE.png", b"")
    message = str(decode_error(path))
    assert "\n" not in message and "empty file" in message


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="needs byte file names")
def test_non_utf8_file_name(tmp_path: Path) -> None:
    path = tmp_path / os.fsdecode(b"caf\xe9.png")
    path.write_bytes(b"")
    message = str(decode_error(path))
    message.encode("utf-8")  # printable: no lone surrogates
    assert "empty file" in message
    write(path, encode(Image.new("L", (3, 3), 9)))
    assert np.all(decode_image(path, channels=1) == 9)


# --------------------------------------------------------------------------------------------
# iter_image_paths


def test_extensions_are_lower_case_suffixes() -> None:
    assert {".png", ".jpg", ".jpeg", ".tif", ".webp", ".pnm"} <= IMAGE_EXTENSIONS
    assert all(e.startswith(".") and e == e.lower() for e in IMAGE_EXTENSIONS)


def test_walk_is_recursive_sorted_filtered_and_skips_hidden(tmp_path: Path) -> None:
    for rel in [
        "b.png",
        "a.JPG",
        "c/z.jpeg",
        "c/a.TIFF",
        "notes.txt",
        "noext",
        ".hidden.png",
        ".git/inside.png",
        "d.png/e.webp",
    ]:
        write(tmp_path / rel, b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_image_paths([tmp_path])]
    assert found == ["a.JPG", "b.png", "c/a.TIFF", "c/z.jpeg", "d.png/e.webp"]
    assert list(iter_image_paths([tmp_path])) == list(iter_image_paths([str(tmp_path)]))


def test_folder_named_like_an_image_is_expanded_not_decoded(tmp_path: Path) -> None:
    inside = write(tmp_path / "folder.png" / "inside.png", b"x")
    assert list(iter_image_paths([tmp_path / "folder.png"])) == [inside]
    assert list(iter_image_paths([f"{tmp_path / 'folder.png'}{os.sep}"])) == [inside]


def test_named_files_and_missing_paths_are_yielded_as_given(tmp_path: Path) -> None:
    notes = write(tmp_path / "notes.txt", b"hello")
    hidden = write(tmp_path / ".hidden.png", b"x")
    missing = tmp_path / "missing.png"
    assert list(iter_image_paths([notes, hidden, missing, "-dash.png"])) == [
        notes,
        hidden,
        missing,
        Path("-dash.png"),
    ]
    assert "no such file" in str(decode_error(missing))
    assert "not an image" in str(decode_error(notes))


def test_symlink_loops_terminate(tmp_path: Path) -> None:
    write(tmp_path / "root" / "sub" / "img.png", b"x")
    try:
        (tmp_path / "root" / "sub" / "loop").symlink_to(tmp_path / "root", target_is_directory=True)
        (tmp_path / "root" / "self").symlink_to(tmp_path / "root", target_is_directory=True)
    except (OSError, NotImplementedError):
        pytest.skip("symbolic links not available")
    found = list(iter_image_paths([tmp_path / "root"]))
    assert found == [tmp_path / "root" / "sub" / "img.png"]


def test_deep_trees_do_not_recurse(tmp_path: Path) -> None:
    deep = tmp_path / "deep"
    path = deep
    for _ in range(60):
        path = path / "d"
    try:
        write(path / "x.png", b"x")
    except OSError:
        pytest.skip("path too long for this file system")
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(50)  # a recursive walk would hit this limit
    try:
        found = list(iter_image_paths([deep]))
    finally:
        sys.setrecursionlimit(old)
    assert found == [path / "x.png"]


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="needs POSIX permissions, not root"
)
def test_unlistable_folder_is_reported_to_on_error(tmp_path: Path) -> None:
    write(tmp_path / "locked" / "a.png", b"x")
    good = write(tmp_path / "open" / "b.png", b"x")
    (tmp_path / "locked").chmod(0)
    errors: list[OSError] = []
    try:
        assert list(iter_image_paths([tmp_path], on_error=errors.append)) == [good]
    finally:
        (tmp_path / "locked").chmod(0o700)
    assert len(errors) == 1 and isinstance(errors[0], PermissionError)


# --------------------------------------------------------------------------------------------
# load_images over a mixed batch


@pytest.fixture
def mixed(tmp_path: Path) -> list[tuple[Path, int]]:
    good = [
        write(tmp_path / "g0.png", encode(Image.new("L", (28, 28), 10))),
        write(tmp_path / "g1.jpg", encode(Image.new("RGB", (50, 40), (90, 90, 90)), "JPEG")),
        write(tmp_path / "-g 2 ✓.gif", encode(Image.new("L", (3, 3), 200), "GIF")),
    ]
    whole = encode(Image.fromarray(noise((64, 64))))
    (tmp_path / "dir.png").mkdir()
    bad = [
        write(tmp_path / "empty.png", b""),
        write(tmp_path / "cut.png", whole[: len(whole) // 2]),
        write(tmp_path / "text.png", b"not an image"),
        write(tmp_path / "bomb.png", png_header_only(100_000, 100_000)),
        tmp_path / "dir.png",
        tmp_path / "missing.png",
    ]
    order = [good[0], bad[0], bad[1], good[1], bad[2], bad[3], bad[4], good[2], bad[5]]
    return [(p, i) for i, p in enumerate(order)]


@pytest.mark.parametrize("workers", [0, 1, 4])
def test_load_images_keeps_good_files_and_reports_bad_ones(
    mixed: list[tuple[Path, int]], workers: int
) -> None:
    out = load_images(mixed, channels=1, size=(28, 28), workers=workers, progress=False)
    assert out.images.shape == (3, 28, 28, 1) and out.images.dtype == np.uint8
    assert out.labels.dtype == np.int64 and out.labels.tolist() == [0, 3, 7]
    assert out.paths == [mixed[0][0], mixed[3][0], mixed[7][0]]
    assert [int(np.median(a)) for a in out.images] == [10, 90, 200]
    assert [p for p, _ in out.errors] == [mixed[i][0] for i in (1, 2, 4, 5, 6, 8)]
    reasons = [reason for _, reason in out.errors]
    for expected, reason in zip(
        [
            "empty file",
            "truncated or corrupt",
            "not an image",
            "image too large",
            "is a directory",
            "no such file",
        ],
        reasons,
        strict=True,
    ):
        assert expected in reason


def test_load_images_all_bad_or_nothing_still_gives_arrays(mixed: list[tuple[Path, int]]) -> None:
    out = load_images(mixed[1:3], channels=3, size=(5, 7), progress=False)
    assert out.images.shape == (0, 5, 7, 3) and out.labels.shape == (0,) and len(out.errors) == 2
    empty = load_images([], channels=1, size=(4, 4), workers=3, progress=False)
    assert empty.images.shape == (0, 4, 4, 1) and empty.paths == [] and empty.errors == []


def test_load_images_progress_goes_to_stderr(
    mixed: list[tuple[Path, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    load_images(mixed, channels=1, size=(8, 8), progress=True, desc="checking")
    captured = capsys.readouterr()
    assert captured.out == ""


def test_load_images_rejects_bad_arguments(mixed: list[tuple[Path, int]]) -> None:
    with pytest.raises(ValueError):
        load_images(mixed, channels=4, size=(8, 8), progress=False)
    with pytest.raises(ValueError):
        load_images(mixed, channels=1, size=(8, -1), progress=False)
    with pytest.raises(ValueError):
        load_images(mixed, channels=1, size=(8, 8), workers=-2, progress=False)
