"""Test-time augmentation: views, layouts handed to the predictor, averaging, voting, effect."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from ganprint.attribution.tta import DEFAULT_VIEWS, VIEWS, apply_view, tta_effect, tta_predict_proba


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    keep = data.target < 3
    return (data.images[keep][:60] * 15).astype(np.uint8), data.target[keep][:60]


def _templates(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.stack([images[labels == k].reshape(-1, 64).mean(0) for k in range(3)])


def _nearest_template_proba(templates: np.ndarray):
    """An orientation-sensitive classifier: softmax of minus the distance to each class's mean digit."""
    def predict_proba(images: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(images.reshape(len(images), 1, -1).astype(float) - templates[None], axis=2)
        e = np.exp(-(d - d.min(1, keepdims=True)) / 50.0)
        return e / e.sum(1, keepdims=True)
    return predict_proba


def _histogram_proba(images: np.ndarray) -> np.ndarray:
    """Depends on the multiset of pixel values only, hence invariant to every view."""
    x = images.reshape(len(images), -1).astype(float)
    logits = np.stack([x.mean(1) / 40.0, (x > 100).mean(1) * 4.0, x.std(1) / 40.0], axis=1)
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_views_are_the_grid_symmetries():
    x = torch.arange(6).reshape(1, 1, 2, 3)
    assert torch.equal(apply_view("identity", x), x)
    assert apply_view("hflip", x)[0, 0].tolist() == [[2, 1, 0], [5, 4, 3]]
    assert apply_view("vflip", x)[0, 0].tolist() == [[3, 4, 5], [0, 1, 2]]
    assert apply_view("rot180", x)[0, 0].tolist() == [[5, 4, 3], [2, 1, 0]]
    assert apply_view("rot90", x).shape == (1, 1, 3, 2)
    assert torch.equal(apply_view("rot270", apply_view("rot90", x)), x)
    assert set(DEFAULT_VIEWS) <= set(VIEWS)
    with pytest.raises(ValueError, match="known views"):
        apply_view("shear", x)


def test_invariant_predictor_is_unchanged(digits):
    images, _ = digits
    plain = _histogram_proba(images)
    out = tta_predict_proba(_histogram_proba, images, views=tuple(VIEWS))
    assert out["views"] == list(VIEWS) and out["skipped"] == []
    assert out["per_view"].shape == (6, len(images), 3)
    np.testing.assert_allclose(out["probabilities"], plain, atol=1e-12)
    np.testing.assert_array_equal(out["label_index"], plain.argmax(1))
    assert (out["votes"].max(1) == 6).all() and (out["votes"].sum(1) == 6).all()


def test_layouts_handed_to_the_predictor(digits):
    images, _ = digits
    seen = []

    def record(batch: np.ndarray) -> np.ndarray:
        seen.append((batch.shape, batch.dtype, batch.copy()))
        return _histogram_proba(batch)

    tta_predict_proba(record, images[:4], views=("identity", "hflip"))
    assert [s[0] for s in seen] == [(4, 8, 8)] * 2 and seen[0][1] == np.uint8
    np.testing.assert_array_equal(seen[0][2], images[:4])
    np.testing.assert_array_equal(seen[1][2], images[:4, :, ::-1])
    seen.clear()
    rgb = np.repeat(images[:4, :, :, None], 3, axis=3)
    tta_predict_proba(record, rgb, views=("vflip",))
    assert seen[0][0] == (4, 8, 8, 3)
    np.testing.assert_array_equal(seen[0][2], rgb[:, ::-1])
    seen.clear()
    tta_predict_proba(record, torch.from_numpy(rgb).permute(0, 3, 1, 2), views=("rot90",))
    assert seen[0][0] == (4, 8, 8, 3)
    np.testing.assert_array_equal(seen[0][2], np.rot90(rgb, 1, axes=(1, 2)))


def test_quarter_turns_only_for_square_images():
    wide = np.zeros((2, 4, 6), dtype=np.uint8)
    out = tta_predict_proba(_histogram_proba, wide, views=("identity", "rot90", "rot180", "rot270"))
    assert out["views"] == ["identity", "rot180"] and out["skipped"] == ["rot90", "rot270"]
    assert out["per_view"].shape == (2, 2, 3)


def test_majority_vote_and_tie_break():
    """A crafted predictor: class 1 (p=0.6) when the marker pixel is in the left half, else class 0 (p=0.9)."""
    image = np.zeros((1, 4, 4), dtype=np.uint8)
    image[0, 0, 0] = 255

    def marker(batch: np.ndarray) -> np.ndarray:
        left = batch[:, :, :2].max((1, 2)) > 0
        return np.where(left[:, None], [[0.4, 0.6]], [[0.9, 0.1]])

    # identity and vflip keep the marker on the left (2 votes for 1), hflip moves it right (1 vote for 0):
    # the majority wins although the mean probability favours class 0
    out = tta_predict_proba(marker, image, views=("identity", "vflip", "hflip"))
    assert out["votes"].tolist() == [[1, 2]] and out["label_index"].tolist() == [1]
    assert out["probabilities"][0, 0] > out["probabilities"][0, 1]
    # the default views split 2-2: the tie goes to the higher mean probability, class 0
    out = tta_predict_proba(marker, image)
    assert out["votes"].tolist() == [[2, 2]] and out["label_index"].tolist() == [0]


def test_tta_on_a_real_classifier_and_its_effect(digits):
    images, labels = digits
    predict_proba = _nearest_template_proba(_templates(images, labels))
    plain = predict_proba(images).argmax(1)
    out = tta_predict_proba(predict_proba, images, views=("identity",))
    np.testing.assert_array_equal(out["label_index"], plain)
    # digits are not flip-invariant, so flipping views hurt this classifier; tta_effect says by how much
    flipped = tta_predict_proba(predict_proba, images)["label_index"]
    effect = tta_effect(labels, plain, flipped)
    assert effect["accuracy_plain"] == pytest.approx((plain == labels).mean())
    assert effect["accuracy_tta"] == pytest.approx((flipped == labels).mean())
    assert effect["accuracy_plain"] - effect["accuracy_tta"] == pytest.approx(
        (len(effect["broken"]) - len(effect["fixed"])) / len(labels))
    assert all(plain[i] == labels[i] != flipped[i] for i in effect["broken"])


def test_tta_effect_lists_fixed_and_broken():
    effect = tta_effect([0, 1, 1, 0], [0, 0, 1, 1], [1, 1, 1, 1])
    assert effect == {"n": 4, "accuracy_plain": 0.5, "accuracy_tta": 0.5, "fixed": [1], "broken": [0],
                      "changed": 2}
    with pytest.raises(ValueError, match="lengths"):
        tta_effect([0], [0, 1], [0, 1])
