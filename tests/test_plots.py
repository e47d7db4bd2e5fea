"""Plots that explain themselves: the robustness plot's legend, units and target band."""

from PIL import Image

from ganprint.plots import plot_robustness
from ganprint.robustness.perturbations import PERTURBATIONS


def _report(clean: float, drop: float, names=("noise", "jpeg")) -> dict:
    return {"clean": clean, "perturbations": {
        n: {str(s): max(0.0, clean - drop * i) for i, s in enumerate(PERTURBATIONS[n].strengths)} for n in names}}


def test_robustness_plot_has_a_legend_units_and_the_target_band(tmp_path):
    path = tmp_path / "robustness.png"
    fig = plot_robustness({"before": _report(0.99, 0.1), "after": _report(0.98, 0.01)}, "immunisation", path,
                          target_ranges={n: s.immunise_range for n, s in PERTURBATIONS.items()})
    with Image.open(path) as png:
        assert png.format == "PNG" and png.width > 300
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[:2] == ["before", "after"]
    assert any("clean accuracy" in t and "95%" not in t for t in texts)
    assert any("95% of clean accuracy" in t and "target" in t for t in texts)
    assert any("strengths the target must hold over" in t for t in texts)
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}
    assert set(panels) == {"noise", "jpeg"}
    for name, ax in panels.items():
        assert PERTURBATIONS[name].unit.split()[0] in ax.get_xlabel() and ax.get_ylabel() == "accuracy"
    # the dotted line sits at 95 % of each model's clean accuracy
    dotted = sorted(line.get_ydata()[0] for line in panels["noise"].get_lines() if line.get_linestyle() == ":")
    assert dotted == [0.95 * 0.98, 0.95 * 0.99]


def test_robustness_plot_without_target_band_or_registered_family(tmp_path):
    report = {"clean": 0.9, "perturbations": {"my-filter": {"1": 0.8, "2": 0.7}}}
    fig = plot_robustness({"model": report}, "custom", tmp_path / "r.png", units={"my-filter": "radius, pixels"},
                          ratio=0.9)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "model" in texts and any("90% of clean accuracy" in t for t in texts)
    assert not any("strengths the target" in t for t in texts)  # nothing shaded, nothing to explain
    (ax,) = [a for a in fig.axes if a.get_title()]
    assert ax.get_xlabel() == "strength: radius, pixels"
    assert (tmp_path / "r.png").is_file()
