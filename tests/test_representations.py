import json

import numpy as np
import pytest
import scipy.fft
import torch

from ganprint.data.representations import (
    DCT,
    DCT_EPS,
    REPRESENTATIONS,
    NotFittedError,
    Pixels,
    create_representation,
    dct2,
    dct2_log,
    dct_matrix,
)
from ganprint.registry import UnknownNameError
from ganprint.serialization import load_tensors, save_tensors


def _images(n=16, c=3, h=8, w=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w, generator=g)


@pytest.mark.parametrize("n", [1, 2, 7, 28])
def test_dct_matrix_is_orthonormal_and_matches_scipy(n):
    d = dct_matrix(n)
    assert torch.allclose(d @ d.T, torch.eye(n, dtype=torch.float64), atol=1e-12)
    v = np.random.default_rng(n).normal(size=n)
    np.testing.assert_allclose(d.numpy() @ v, scipy.fft.dct(v, type=2, norm="ortho"), atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 8, 8), (2, 3, 5, 7), (6, 1)])
def test_dct2_matches_scipy_dctn(shape):
    x = np.random.default_rng(0).random(shape)
    ref = scipy.fft.dctn(x, axes=(-2, -1), norm="ortho")
    np.testing.assert_allclose(dct2(x), ref, atol=1e-12)  # numpy in, numpy out
    np.testing.assert_allclose(dct2(torch.from_numpy(x)).numpy(), ref, atol=1e-12)
    y32 = dct2(torch.from_numpy(x).float())
    assert y32.dtype == torch.float32
    np.testing.assert_allclose(y32.numpy(), ref, atol=1e-5)


def test_dct2_log_matches_scipy_and_states_eps():
    x = np.random.default_rng(1).random((3, 2, 16, 16))
    ref = np.log(np.abs(scipy.fft.dctn(x, axes=(-2, -1), norm="ortho")) + DCT_EPS)
    np.testing.assert_allclose(dct2_log(x), ref, rtol=1e-9, atol=1e-9)
    assert DCT_EPS == 1e-12
    # a constant image has all its energy in the DC coefficient; the rest are log(eps)
    flat = dct2_log(np.full((4, 4), 0.5), eps=1e-3)
    assert flat[0, 0] == pytest.approx(np.log(2.0 + 1e-3))
    assert np.allclose(flat.ravel()[1:], np.log(1e-3), atol=1e-6)


def test_dct_representation_standardises_per_coefficient():
    x = _images(40)
    rep = DCT().fit(x)
    ref = np.log(np.abs(scipy.fft.dctn(x.double().numpy(), axes=(-2, -1), norm="ortho")) + DCT_EPS)
    mean, std = ref.mean(0), ref.std(0)
    np.testing.assert_allclose(rep.mean_.numpy(), mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rep.std_.numpy(), std, rtol=1e-5)
    y = rep.transform(x)
    assert y.shape == x.shape and y.dtype == torch.float32 and y.device == x.device
    np.testing.assert_allclose(y.numpy(), (ref - mean) / std, atol=1e-4)
    np.testing.assert_allclose(y.mean(0).numpy(), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(0, unbiased=False).numpy(), 1.0, atol=1e-4)


def test_dct_fit_in_chunks_equals_fit_at_once(monkeypatch):
    x = _images(50, c=1, h=6, w=6)
    whole = DCT().fit(x)
    monkeypatch.setattr("ganprint.data.representations.CHUNK_ELEMENTS", 7 * 36)  # chunks of 7 images
    chunked = DCT().fit(x)
    assert torch.allclose(whole.mean_, chunked.mean_, atol=1e-6)
    assert torch.allclose(whole.std_, chunked.std_, atol=1e-6)
    assert torch.allclose(whole.transform(x), chunked.transform(x), atol=1e-5)


def test_dct_constant_coefficient_is_not_scaled():
    x = torch.full((5, 1, 4, 4), 0.25)  # every training image identical: std 0 everywhere
    y = DCT().fit(x).transform(x)
    assert torch.isfinite(y).all() and y.abs().max() < 1e-4


def test_dct_is_deterministic():
    x = _images(8)
    a, b = DCT().fit(x), DCT().fit(x)
    assert torch.equal(a.mean_, b.mean_) and torch.equal(a.transform(x), b.transform(x))


def test_pixels_is_the_identity_in_float32():
    x = _images(4).double()
    rep = create_representation("pixels").fit(x)
    y = rep.transform(x)
    assert y.dtype == torch.float32 and torch.allclose(y, x.float())
    assert rep.fitted and rep.state_tensors() == {}
    assert rep.to_config() == {"name": "pixels", "shape": [3, 8, 12]}


def test_pixels_std_standardises_each_pixel_and_only_centres_constant_ones():
    x = _images(32)
    x[:, :, 0, :] = 0.25  # a constant row, like the black border of a digit
    rep = create_representation("pixels-std").fit(x)
    y = rep.transform(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert torch.allclose(y.mean(0), torch.zeros_like(y[0]), atol=1e-5)
    assert torch.allclose(y[:, :, 1:].std(0, unbiased=False), torch.ones_like(y[0, :, 1:]), atol=1e-4)
    assert torch.equal(y[:, :, 0], torch.zeros_like(y[:, :, 0]))
    shifted = x.clone()
    shifted[:, :, 0, :] = 0.25 + 1e-3  # faint noise where training images were constant stays faint
    assert rep.transform(shifted)[:, :, 0].abs().max() < 2e-3


def test_residual_drops_tone_and_keeps_local_detail():
    x = _images(4)
    rep = create_representation("residual").fit(x)
    y = rep.transform(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    # what an image shows at large scale (a brightness offset, a flat colour) leaves no trace
    assert torch.allclose(rep.transform(x * 0.5 + 0.2), y * 0.5, atol=1e-5)
    assert rep.transform(torch.full((1, 3, 8, 12), 0.7)).abs().max() < 1e-5
    # a single bright pixel stands out at its place, with the opposite sign around it
    dot = torch.zeros(1, 1, 9, 9)
    dot[0, 0, 4, 4] = 1.0
    r = create_representation("residual").transform(dot)[0, 0]
    assert r[4, 4] > 0 and (r[3:6, 3:6] < 0).sum() == 8 and r[0, 0] == 0


def test_pixels_and_dct_stacks_both_representations_as_channels():
    x = _images(16)
    rep = create_representation("pixels+dct").fit(x)
    y = rep.transform(x)
    assert rep.out_channels(3) == 6 and y.shape == (16, 6, 8, 12)
    assert torch.equal(y[:, :3], create_representation("pixels-std").fit(x).transform(x))
    assert torch.equal(y[:, 3:], DCT().fit(x).transform(x))
    assert create_representation("pixels").out_channels(3) == 3
    with pytest.raises(NotFittedError):
        create_representation("pixels+dct").transform(x)
    with pytest.raises(ValueError, match="unexpected tensor"):
        create_representation("pixels+dct").load_state_tensors({"fft.mean": torch.zeros(3, 8, 12)})


@pytest.mark.parametrize("name", REPRESENTATIONS.names())
def test_state_round_trips_through_safetensors_and_json(name, tmp_path):
    x = _images(12)
    rep = create_representation(name).fit(x)
    save_tensors(tmp_path / "model.safetensors", {f"representation.{k}": v for k, v in rep.state_tensors().items()})
    (tmp_path / "config.json").write_text(json.dumps({"representation": rep.to_config()}))

    config = json.loads((tmp_path / "config.json").read_text())["representation"]
    loaded = load_tensors(tmp_path / "model.safetensors")
    state = {k.removeprefix("representation."): v for k, v in loaded.items() if k.startswith("representation.")}
    again = create_representation(config).load_state_tensors(state)
    assert again.fitted and again.to_config() == rep.to_config()
    assert torch.equal(again.transform(x), rep.transform(x))


def test_create_from_config_keeps_options():
    rep = create_representation({"name": "dct", "eps": 1e-6, "shape": [1, 4, 4]})
    assert isinstance(rep, DCT) and rep.eps == 1e-6 and rep.shape == (1, 4, 4) and not rep.fitted
    assert isinstance(create_representation("pixels"), Pixels)


def test_clear_errors():
    x = _images(4)
    with pytest.raises(NotFittedError, match="not fitted"):
        DCT().transform(x)
    with pytest.raises(NotFittedError):
        DCT().state_tensors()
    with pytest.raises(UnknownNameError, match="known: dct, pixels"):
        create_representation("fft")
    with pytest.raises(ValueError, match="bad options"):
        create_representation({"name": "dct", "window": 3})
    with pytest.raises(ValueError, match="eps"):
        DCT(eps=0)
    with pytest.raises(TypeError, match="float images"):
        DCT().fit((x * 255).to(torch.uint8))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        DCT().fit(x[0])
    rep = DCT().fit(x)
    with pytest.raises(ValueError, match="set up for images"):
        rep.transform(_images(4, h=12, w=8))
    with pytest.raises(ValueError, match="missing"):
        DCT().load_state_tensors({"mean": rep.mean_})
    with pytest.raises(ValueError, match="do not match"):
        DCT(shape=(1, 8, 12)).load_state_tensors(rep.state_tensors())
    with pytest.raises(ValueError, match="positive"):
        DCT().load_state_tensors({"mean": rep.mean_, "std": torch.zeros_like(rep.std_)})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_dct_on_cuda_matches_cpu():
    x = _images(32)
    rep = DCT().fit(x)
    y_gpu = rep.transform(x.cuda())
    assert y_gpu.device.type == "cuda"
    assert torch.allclose(y_gpu.cpu(), rep.transform(x), atol=1e-5)
    fitted_on_gpu = DCT().fit(x.cuda())
    assert torch.allclose(fitted_on_gpu.mean_, rep.mean_, atol=1e-5)
