"""Study reports: marks with a legend and a stated tolerance."""

from types import SimpleNamespace

import pytest

from ganprint.experiments.report import MET, MISSED, NEAR, SEED_TOLERANCE, mark, write_mnist_groups_report


@pytest.mark.parametrize(("value", "target", "tolerance", "expected"), [
    (0.99, 0.98, 0.0, MET), (0.98, 0.98, 0.0, MET), (0.9799, 0.98, 0.0, MISSED),
    (0.9993, 1.0, SEED_TOLERANCE, NEAR), (0.995, 1.0, SEED_TOLERANCE, NEAR), (0.9949, 1.0, SEED_TOLERANCE, MISSED),
    (1.0, 1.0, SEED_TOLERANCE, MET),
])
def test_mark(value, target, tolerance, expected):
    assert mark(value, target, tolerance) == expected


def test_mnist_groups_report_explains_its_marks(tmp_path):
    group = {"labels": ["GAN_12", "GAN_13"], "n": 1500, "confusion_matrix": [[749, 1], [0, 750]]}
    gan = {"digits": [6], "train_images": 500, "train_steps": 100, "quality_gate": 0.9}
    results = {
        "profile": "tiny", "wall_seconds": 60.0, "device": "cpu", "workers": 1,
        "groups": {"group_5": {**group, "accuracy": 0.9800, "seed_accuracy": 0.9906},
                   "group_6": {**group, "accuracy": 0.9993, "seed_accuracy": 1.0}},
        "gate_classifier": {"test_accuracy": 0.99, "test_size": 1000, "non_digit_rejection": 0.98},
        "gans": {"GAN_12": gan, "GAN_13": {**gan, "quality_gate": 0.5}},
        "profile_config": {"deviations": []}, "stage_seconds": {"attributors": 60.0},
    }
    text = write_mnist_groups_report(tmp_path, results, SimpleNamespace(title="MNIST groups")).read_text()
    assert f"0.9993 {NEAR}" in text and f"0.9800 {MISSED}" in text
    assert f"0.900 {MET}" in text and f"0.500 {MISSED}" in text
    # the legend states the rule and its tolerance, once for the seed's figures and once for the gate
    assert f"{NEAR} below it by at most {SEED_TOLERANCE:g}" in text
    assert text.count("Marks: ") == 2 and "no tolerance" in text
