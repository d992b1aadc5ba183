"""The bottleneck figures' layouts (pure functions, no DB)."""

from __future__ import annotations

from planning.bottlenecks import analysis, charts
from planning.charts import LEGEND_BELOW


def _result():
    stages = [
        analysis.StageInput(key=1, name="Code", active=8, waiting=0, speedup_active=10),
        analysis.StageInput(key=2, name="Review", active=2, waiting=6),
    ]
    return stages, analysis.analyse(stages, [])


def test_ceiling_axis_labels_powers_of_ten_only():
    # Plotly's own log ticks label 0.5 as "5", right next to "1": read as a 5× speed-up.
    stages, result = _result()
    xaxis = charts.ceiling_curves(stages, result)["layout"]["xaxis"]
    assert xaxis["type"] == "log" and xaxis["dtick"] == 1


def test_legends_sit_under_the_axis_title_at_any_width():
    stages, result = _result()
    for figure in (charts.ceiling_curves(stages, result), charts.before_after(result)):
        legend = figure["layout"]["legend"]
        assert legend == {**legend, **LEGEND_BELOW}
        assert legend["yref"] == "container"


def test_the_legend_tells_before_from_after():
    # marker.opacity fades the bars but not their legend swatches; a faded colour does both.
    _, result = _result()
    markers = {t["name"]: t["marker"] for t in charts.before_after(result)["data"]}
    assert all("opacity" not in m for m in markers.values())
    assert markers["Active, before"]["color"] == "rgba(0, 114, 178, 0.4)"
    assert markers["Active, with AI"]["color"] == "rgba(0, 114, 178, 1)"
