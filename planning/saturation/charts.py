"""Plotly figure dicts for a form factor: capability vs product, and the readings over time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from planning.charts import GRID, LOG_AXIS, MUTED, PALETTE, base_layout

from .analysis import Verdict
from .models import SaturationReading


def capability_product_figure(verdict: Verdict, readings: Sequence[SaturationReading]) -> dict:
    used = {p.model for p in verdict.points}
    series = verdict.points
    data: list[dict] = []
    left_out = [r for r in readings if r.model_name not in used]
    logistic = verdict.logistic
    uncertain = not logistic.supported
    if series:
        low = min(p.capability for p in series)
        high = max(p.capability for p in series)
        pad = (high - low) * 0.15 or abs(high) * 0.1 or 1.0
        x0, x1 = max(low - pad, 0.0) if low >= 0 else low - pad, high + pad
        if logistic.fitted:
            xs = [x0 + (x1 - x0) * i / 60 for i in range(61)]
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": "Fitted logistic (uncertain)" if uncertain else "Fitted logistic",
                    "x": xs,
                    "y": [logistic.curve(x) for x in xs],
                    "line": {
                        "color": PALETTE[0],
                        "width": 2,
                        "dash": "dot" if uncertain else "solid",
                    },
                    "hoverinfo": "skip",
                }
            )
        if logistic.supported and logistic.ceiling_low is not None:
            data += [
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": [x0, x1],
                    "y": [logistic.ceiling_low] * 2,
                    "line": {"width": 0},
                    "showlegend": False,
                    "hoverinfo": "skip",
                },
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": [x0, x1],
                    "y": [logistic.ceiling_high] * 2,
                    "line": {"width": 0},
                    "fill": "tonexty",
                    "fillcolor": "rgba(183,121,31,0.15)",
                    "name": "Ceiling, 95% interval",
                    "hoverinfo": "skip",
                },
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": [x0, x1],
                    "y": [logistic.ceiling] * 2,
                    "name": "Ceiling",
                    "line": {"color": PALETTE[1], "dash": "dash", "width": 2},
                },
            ]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Readings",
                "x": [p.capability for p in series],
                "y": [p.product for p in series],
                "text": [p.model for p in series],
                "marker": {"size": 10, "color": PALETTE[2]},
                "hovertemplate": "%{text}<br>capability %{x}<br>product %{y}<extra></extra>",
            }
        )
    plottable = [r for r in left_out if verdict.scale != "log" or r.product_value > 0]
    if plottable:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Left out",
                "x": [r.capability for r in plottable],
                "y": [r.product_value for r in plottable],
                "text": [r.model_name for r in plottable],
                "marker": {"size": 9, "color": "#ffffff", "line": {"color": MUTED, "width": 1.5}},
                "hovertemplate": "%{text} (left out)<extra></extra>",
            }
        )
    return {
        "data": data,
        "layout": base_layout(
            hovermode="closest",
            legend={"orientation": "h", "y": -0.3},
            margin={"l": 60, "r": 20, "t": 20, "b": 80},
            xaxis={"title": {"text": f"Capability ({verdict.source or 'benchmark'})"}},
            yaxis={
                "title": {"text": verdict.metric or "Product metric"},
                **(LOG_AXIS if verdict.scale == "log" else {"type": "linear"}),
            },
        ),
    }


def _date_axis(dates: Sequence[date]) -> dict:
    """A date axis; readings released within a few weeks of each other (or one reading) get
    a range of at least three months, or the ticks fall to hours and milliseconds."""
    axis: dict = {"title": {"text": "Model release"}, "type": "date"}
    if dates and (max(dates) - min(dates)).days < 90:
        middle = min(dates) + (max(dates) - min(dates)) / 2
        axis["range"] = [
            (middle - timedelta(days=45)).isoformat(),
            (middle + timedelta(days=45)).isoformat(),
        ]
    return axis


def timeline_figure(readings: Sequence[SaturationReading]) -> dict:
    dates = [r.release_date for r in readings]
    names = [r.model_name for r in readings]
    metric = readings[-1].product_metric if readings else "Product metric"
    source = readings[-1].capability_source if readings else "benchmark"
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers+text",
                "name": f"Capability ({source})",
                "x": dates,
                "y": [r.capability for r in readings],
                "text": names,
                "textposition": "top center",
                "textfont": {"size": 11, "color": MUTED},
                "line": {"color": PALETTE[0]},
                "marker": {"size": 8},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": metric,
                "x": dates,
                "y": [r.product_value for r in readings],
                "yaxis": "y2",
                "text": names,
                "line": {"color": PALETTE[2]},
                "marker": {"size": 8, "symbol": "diamond"},
            },
        ],
        "layout": base_layout(
            xaxis=_date_axis(dates),
            yaxis={"title": {"text": "Capability"}},
            yaxis2={
                "title": {"text": metric},
                "overlaying": "y",
                "side": "right",
                "gridcolor": GRID,
                "showgrid": False,
                "tickmode": "auto",
            },
            legend={"orientation": "h", "y": -0.3},
            margin={"l": 60, "r": 60, "t": 20, "b": 80},
        ),
    }
