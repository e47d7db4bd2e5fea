"""Every kind of hostile or broken file gets a documented conversion or a clear per-file error."""

import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganprint.attribution.attributor import Attributor, Preprocessing
from ganprint.cli.main import cli
from ganprint.data.decode import DecodeLimits, ImageDecodeError, decode_image, iter_image_paths
from ganprint.data.folder import load_images


def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(0)
    digit = Image.fromarray((rng.random((28, 28)) * 255).astype(np.uint8))
    f = {}

    def put(name, data):
        p = tmp_path / name
        p.write_bytes(data)
        f[name] = p

    put("good.png", png_bytes(digit))
    put("empty.png", b"")
    full = png_bytes(Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)))
    put("truncated.png", full[: len(full) // 2])
    jpg = png_bytes(Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)), format="JPEG")
    put("truncated.jpg", jpg[: len(jpg) // 2])
    put("text.png", b"this is not an image, just text\n" * 10)
    put("random.bin", rng.bytes(2048))
    put("bomb.png", png_bytes(Image.new("1", (20000, 20000))))
    put("cmyk.jpg", png_bytes(Image.new("CMYK", (40, 30), (0, 0, 0, 0)), format="JPEG"))
    put("sixteen.png", png_bytes(Image.fromarray(np.full((28, 28), 65535, np.uint16))))
    pal = Image.new("P", (28, 28))
    pal.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    pal.putpixel((0, 0), 1)
    put("palette.png", png_bytes(pal))
    put("palette_transparent.png", png_bytes(pal, transparency=1))
    rgba = Image.new("RGBA", (28, 28), (255, 255, 255, 0))
    put("alpha.png", png_bytes(rgba))
    frames = [Image.new("L", (28, 28), v) for v in (10, 200)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    put("animated.gif", buf.getvalue())
    put("huge.png", png_bytes(Image.new("L", (3000, 2000), 128)))
    put("tiny.png", png_bytes(Image.new("L", (1, 1), 255)))
    put("-odd näme\twith spaces.png", png_bytes(digit))
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "folder.png" / "inside.png").write_bytes(png_bytes(digit))
    f["folder.png"] = tmp_path / "folder.png"
    return f


@pytest.mark.parametrize("name,reason", [
    ("empty.png", "empty file"),
    ("truncated.png", "truncated or corrupt"),
    ("truncated.jpg", "truncated or corrupt"),
    ("text.png", "not an image"),
    ("random.bin", "not an image"),
    ("bomb.png", "too large"),
    ("folder.png", "directory"),
])
def test_bad_files_get_clear_errors(files, name, reason):
    with pytest.raises(ImageDecodeError, match=reason):
        decode_image(files[name], channels=1, size=(28, 28))


def test_missing_file(tmp_path):
    with pytest.raises(ImageDecodeError, match="no such file"):
        decode_image(tmp_path / "nope.png", channels=1)


def test_bomb_limit_is_configurable_and_checked_before_decoding(files):
    with pytest.raises(ImageDecodeError, match="limit of 1000"):
        decode_image(files["huge.png"], channels=1, limits=DecodeLimits(max_pixels=1000))


@pytest.mark.parametrize("name,channels,expected", [
    ("cmyk.jpg", 3, None),
    ("sixteen.png", 1, 255),           # 16-bit: 65535 -> 255
    ("alpha.png", 3, 0),               # transparent white composited on black
    ("animated.gif", 1, 10),           # first frame
    ("huge.png", 1, 128),              # resized
    ("tiny.png", 1, 255),              # upsampled
    ("palette.png", 1, None),
    ("palette_transparent.png", 3, None),
    ("-odd näme\twith spaces.png", 1, None),
])
def test_conversions(files, name, channels, expected):
    a = decode_image(files[name], channels=channels, size=(28, 28))
    assert a.shape == (28, 28, channels) and a.dtype == np.uint8
    if expected is not None:
        assert int(np.median(a)) == pytest.approx(expected, abs=2)


def test_palette_pixels_follow_the_palette(files):
    a = decode_image(files["palette.png"], channels=1)
    assert a[0, 0, 0] == 255 and a[5, 5, 0] == 0


def test_folder_named_like_an_image_is_walked(files):
    tmp_path = files["good.png"].parent
    found = list(iter_image_paths([files["folder.png"]]))
    assert found == [files["folder.png"] / "inside.png"]
    everything = list(iter_image_paths([tmp_path]))
    assert files["folder.png"] / "inside.png" in everything
    assert files["random.bin"] not in everything           # not an image extension
    assert list(iter_image_paths([files["random.bin"]])) == [files["random.bin"]]  # named: attempted


def test_load_images_never_raises_and_loses_nothing(files):
    items = [(p, 0) for p in files.values()]
    out = load_images(items, channels=1, size=(28, 28), progress=False, workers=3)
    assert len(out.images) + len(out.errors) == len(items)
    assert {p.name for p, _ in out.errors} == {"empty.png", "truncated.png", "truncated.jpg", "text.png",
                                                "random.bin", "bomb.png", "folder.png"}


def test_predict_cli_scores_every_file_and_reports_failures(files, tmp_path):
    att = Attributor(preprocessing=Preprocessing((28, 28), 1), device="cpu")
    rng = np.random.default_rng(0)
    X = (rng.random((40, 28, 28, 1)) * 255).astype(np.uint8)
    X[20:] //= 4
    att.fit_config = att.fit_config.__class__(epochs=1, batch_size=8, patience=None)
    att.fit(X, ["bright"] * 20 + ["dark"] * 20, progress=False).save(tmp_path / "model")
    args = ["predict", "--model", str(tmp_path / "model"), "--device", "cpu",
            *[str(p) for n, p in files.items() if n != "folder.png"], str(files["folder.png"]),
            str(tmp_path / "does-not-exist.png")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(lines) == len(files) + 1   # the folder expands to its one image, plus the missing file
    errors = [r for r in lines if "error" in r]
    scored = [r for r in lines if "label" in r]
    assert len(errors) == 7
    for r in scored:
        assert r["label"] in ("bright", "dark")
        assert sum(r["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    good = CliRunner().invoke(cli, ["predict", "--model", str(tmp_path / "model"), str(files["good.png"])])
    assert good.exit_code == 0


def test_predict_survives_a_file_name_that_is_not_utf8(files, tmp_path):
    import os

    att = Attributor(preprocessing=Preprocessing((28, 28), 1), device="cpu")
    att.fit_config = att.fit_config.__class__(epochs=1, batch_size=8, patience=None)
    rng = np.random.default_rng(1)
    att.fit((rng.random((8, 28, 28, 1)) * 255).astype(np.uint8), ["a", "b"] * 4, progress=False)
    att.save(tmp_path / "m2")
    folder = tmp_path / "latin1"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.png")
    (folder / name).write_bytes(files["good.png"].read_bytes())
    r = CliRunner().invoke(cli, ["predict", "--model", str(tmp_path / "m2"), str(folder)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["path"].endswith(name)
