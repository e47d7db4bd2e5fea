"""Class activation heatmaps: CAM, Grad-CAM, fallbacks, hygiene (hooks, grads, modes), overlays."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits
from torch import nn

from ganprint.attribution.heatmaps import (
    class_activation_maps,
    explained_overlay,
    find_cam_target,
    overlay,
    save_overlay,
)
from ganprint.models import MODELS, create_model
from ganprint.models.registry import arch_info


class GapNet(nn.Module):
    """Conv features, global average pooling, one linear layer: the CAM contract."""

    def __init__(self, num_classes: int = 2) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(inplace=True))
        self.head = nn.Linear(8, num_classes)
        self.cam_target = self.features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))

    def cam_weights(self) -> torch.Tensor:
        return self.head.weight


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """These models are tiny: on a shared 2-core machine one thread is ~20x faster than two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def _planted(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Real digits (dimmed to <= 0.5) at 16x16; class 1 has one bright 2x2 spot at a random place."""
    rng = np.random.default_rng(seed)
    digits = load_digits().images[rng.integers(0, 1797, n)] / 16.0 * 0.5
    x = np.kron(digits, np.ones((2, 2)))[:, None].astype(np.float32)
    y = rng.integers(0, 2, n)
    spots = rng.integers(1, 14, (n, 2))
    for i in np.flatnonzero(y):
        r, c = spots[i]
        x[i, 0, r:r + 2, c:c + 2] = 1.0
    return torch.from_numpy(x), torch.from_numpy(y), spots


@pytest.fixture(scope="module")
def spot_model() -> GapNet:
    torch.manual_seed(0)
    model = GapNet()
    x, y, _ = _planted(512, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    for step in range(80):
        idx = torch.arange(step * 64, step * 64 + 64) % len(x)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    opt.zero_grad(set_to_none=True)
    return model.eval()


def test_cam_peaks_on_the_planted_spot(spot_model):
    x, y, spots = _planted(200, seed=1)
    pos = y == 1
    assert (spot_model(x).argmax(1) == y).float().mean() > 0.9
    maps, targets = class_activation_maps(spot_model, x[pos], target=1)
    assert maps.shape == (int(pos.sum()), 16, 16) and (targets == 1).all()
    assert maps.min() >= 0 and maps.max() <= 1
    peaks = np.array([np.unravel_index(int(m.argmax()), m.shape) for m in maps])
    # the spot covers rows r..r+1, cols c..c+1: allow one pixel around it
    near = np.all((peaks >= spots[pos.numpy()] - 1) & (peaks <= spots[pos.numpy()] + 2), axis=1)
    assert near.mean() > 0.9


def test_gradcam_equals_cam_for_gap_linear(spot_model):
    x, _, _ = _planted(16, seed=2)
    cam, t_cam = class_activation_maps(spot_model, x, method="cam")
    grad, t_grad = class_activation_maps(spot_model, x, method="gradcam")
    auto, _ = class_activation_maps(spot_model, x)
    assert torch.equal(t_cam, t_grad) and torch.equal(t_cam, spot_model(x).argmax(1))
    torch.testing.assert_close(grad, cam, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(auto, cam)


def test_cam_needs_no_gradients(spot_model):
    x, _, _ = _planted(4, seed=3)
    with torch.inference_mode():
        maps, _ = class_activation_maps(spot_model, x, method="cam")
    assert maps.shape == (4, 16, 16)


def _plain_net() -> nn.Sequential:
    """No cam_target, no cam_weights, BatchNorm and Dropout (behave differently in train mode)."""
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                         nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(inplace=True), nn.Dropout(0.5),
                         nn.Flatten(), nn.Linear(4 * 12 * 12, 3))


def test_fallback_to_gradcam_on_last_conv_leaves_the_model_as_it_was():
    model = _plain_net().train()
    model[5].eval()  # mixed modes must come back as they were
    assert find_cam_target(model) is model[3]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.from_numpy(np.kron(load_digits().images[:5], np.ones((2, 2)))[:, 2:14, 2:14] * 15).to(torch.uint8)
    maps, targets = class_activation_maps(model, x[:, None], target=[0, 1, 2, 0, 1])
    assert maps.shape == (5, 12, 12) and maps.dtype == torch.float32
    assert torch.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
    assert targets.tolist() == [0, 1, 2, 0, 1]
    assert model.training and not model[5].training and _hooks(model) == 0
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN statistics too
    again, _ = class_activation_maps(model, x[:, None], target=[0, 1, 2, 0, 1], batch_size=2)
    torch.testing.assert_close(again, maps, atol=1e-5, rtol=1e-4)  # eval mode: no dropout, batch-independent
    with pytest.raises(ValueError, match="cam_weights"):
        class_activation_maps(model, x[:, None], method="cam")


@pytest.mark.parametrize("arch", [n for n in MODELS.names() if "standard" not in arch_info(n).tags])
def test_registered_architectures_honour_the_heatmap_contract(arch):
    torch.manual_seed(0)
    model = create_model(arch, num_classes=3)
    x = torch.rand(2, 1, 28, 28)
    maps, _ = class_activation_maps(model, x)
    assert maps.shape == (2, 28, 28) and torch.isfinite(maps).all()
    if getattr(model, "cam_weights", lambda: None)() is not None:  # CAM must be what Grad-CAM computes
        cam, _ = class_activation_maps(model, x, target=[0, 2], method="cam")
        grad, _ = class_activation_maps(model, x, target=[0, 2], method="gradcam")
        torch.testing.assert_close(grad, cam, atol=1e-4, rtol=1e-3)


def test_transform_is_applied_and_hooks_are_removed_on_errors(spot_model):
    x, _, _ = _planted(3, seed=4)
    seen = []
    maps, _ = class_activation_maps(spot_model, x, transform=lambda t: seen.append(t.shape) or t * 0.5)
    assert seen == [(3, 1, 16, 16)] and maps.shape == (3, 16, 16)

    def broken(t: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        class_activation_maps(spot_model, x, transform=broken)
    with pytest.raises(ValueError, match="out of range"):
        class_activation_maps(spot_model, x, target=5)
    with pytest.raises(ValueError, match="method"):
        class_activation_maps(spot_model, x, method="lime")
    assert _hooks(spot_model) == 0 and not spot_model.training


def test_overlay_and_save(tmp_path):
    image = (np.arange(28 * 28).reshape(28, 28) % 256).astype(np.uint8)
    heat = np.zeros((28, 28), dtype=np.float32)
    heat[10, 10] = 1.0
    out = overlay(image, heat)
    assert out.shape == (28, 28, 3) and out.dtype == np.uint8
    assert np.array_equal(overlay(image, heat, alpha=0.0), np.repeat(image[..., None], 3, 2))
    red = overlay(image, heat, alpha=1.0)[10, 10]
    assert red[0] > 100 and red[2] < 50  # the top of "jet" is dark red
    assert overlay(np.zeros((8, 8, 3), np.uint8), torch.rand(4, 4)).shape == (8, 8, 3)  # map resized
    path = save_overlay(tmp_path / "cam.png", image, torch.from_numpy(heat), colorbar=False)
    with Image.open(path) as saved:
        assert saved.format == "PNG" and saved.size == (224, 224) and saved.mode == "RGB"
    with Image.open(save_overlay(tmp_path / "x2.png", image[..., None], heat, upscale=2, colorbar=False)) as saved:
        assert saved.size == (56, 56)
    # by default the picture explains itself: a colour bar beside the 224 px overlay, a caption above it
    with Image.open(save_overlay(tmp_path / "explained.png", image, heat, label="gan_a", probability=0.97)) as saved:
        assert saved.width > 224 and saved.height > 224


def test_explained_overlay_has_caption_and_colour_bar():
    image = np.full((64, 48), 128, np.uint8)
    heat = np.linspace(0, 1, 64 * 48, dtype=np.float32).reshape(64, 48)
    bare = overlay(image, heat)
    plain = explained_overlay(image, heat)
    captioned = explained_overlay(image, heat, label="gan-with-a-long-name", probability=0.973,
                                  note="map over DCT frequencies")
    assert plain.dtype == np.uint8 and plain.ndim == 3 and plain.shape[2] == 3
    assert plain.shape[1] > 48 + 12  # the bar and its tick labels to the right
    # the overlay itself is pasted unchanged below the caption (two lines higher when captioned)
    top = captioned.shape[0] - plain.shape[0]
    assert top > 0
    rows = np.flatnonzero((plain[:, :48] != 255).any((1, 2)))
    body_top = int(rows[0])
    np.testing.assert_array_equal(plain[body_top:body_top + 64, :48], bare)
    np.testing.assert_array_equal(captioned[body_top + top:body_top + top + 64, :48], bare)
    assert (captioned[:body_top + top] < 128).any()  # text in the caption band
    assert (plain[:body_top, :48] == 255).all()  # no caption without a label
    # the colour bar: "jet" runs from dark red (1, top) to dark blue (0, bottom)
    column = plain[body_top:body_top + 64, 48 + 4 + 6]
    assert column[1, 0] > 100 and column[1, 2] < 60
    assert column[-2, 2] > 100 and column[-2, 0] < 60


def test_predict_heatmaps_are_captioned_with_the_explained_class(tmp_path, monkeypatch):
    """``predict_paths(heatmaps_dir=...)`` writes one explained overlay per image, captioned with the
    class the map explains and that class's probability, and names it in the record."""
    from ganprint.attribution import heatmaps
    from ganprint.attribution.attributor import Attributor
    from ganprint.attribution.predict import predict_paths
    from ganprint.attribution.training import FitConfig
    from ganprint.data.mnist import load_mnist_5k

    d = load_mnist_5k().subset([0, 1])
    pick = np.random.default_rng(0).permutation(len(d))[:240]
    X, y = d.images[pick, :, :, None], np.where(d.labels[pick] == 0, "real", "ones")
    model = Attributor(fit_config=FitConfig(epochs=1, batch_size=64, patience=None), device="cpu")
    model.fit(X[:200], y[:200], X[200:], y[200:], progress=False)
    for i in range(4):
        Image.fromarray(X[i, ..., 0]).save(tmp_path / f"{i}.png")
    calls = []

    def spy(path, image, heatmap, **kwargs):
        calls.append(kwargs)
        return save_overlay(path, image, heatmap, **kwargs)

    monkeypatch.setattr(heatmaps, "save_overlay", spy)
    records = list(predict_paths(model, [tmp_path / f"{i}.png" for i in range(4)], heatmaps_dir=tmp_path / "maps"))
    assert len(calls) == len(records) == 4
    for record, kwargs in zip(records, calls, strict=True):
        assert Path(record["heatmap"]).parent == tmp_path / "maps" and Path(record["heatmap"]).is_file()
        top = max(record["probabilities"], key=record["probabilities"].get)
        assert kwargs["label"] == top
        assert kwargs["probability"] == pytest.approx(record["probabilities"][top], abs=1e-5)
        assert (record["label"] == "unknown") == ("unknown" in (kwargs["note"] or ""))
