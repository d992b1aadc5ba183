"""Plotly figures for bottleneck maps (plain dicts, drawn by static/js/charts.js)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from planning.charts import GRID, LEGEND_BELOW, LOG_AXIS, MUTED, PALETTE, base_layout

from . import analysis
from .analysis import Analysis, Schedule

ACTIVE = PALETTE[0]
WAITING = PALETTE[6]
CRITICAL = PALETTE[3]


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "∞"
    return f"{x:.3g}"


def before_after(result: Analysis, after_phrase: str = "with AI") -> dict:
    """Hours per stage before and after, stacked active + waiting, side by side."""
    names = [r.stage.name for r in result.stages]
    a0 = [r.stage.active for r in result.stages]
    w0 = [r.stage.waiting for r in result.stages]
    a1 = [r.stage.active_after for r in result.stages]
    w1 = [r.stage.waiting_after for r in result.stages]

    def bar(name, y, base, group, color, opacity):
        # The faded "before" bars are faded by their colour, not marker.opacity, which the
        # legend ignores: its "before" and "after" swatches looked the same.
        red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
        trace = {
            "type": "bar",
            "name": name,
            "x": names,
            "y": y,
            "offsetgroup": group,
            "legendgroup": group,
            "marker": {"color": f"rgba({red}, {green}, {blue}, {opacity})"},
            "hovertemplate": "%{y:.3g} h<extra>" + name + "</extra>",
        }
        if base is not None:
            trace["base"] = base
        return trace

    return {
        "data": [
            bar("Active, before", a0, None, "before", ACTIVE, 0.4),
            bar("Waiting, before", w0, a0, "before", WAITING, 0.4),
            bar(f"Active, {after_phrase}", a1, None, "after", ACTIVE, 1),
            bar(f"Waiting, {after_phrase}", w1, a1, "after", WAITING, 1),
        ],
        "layout": base_layout(
            barmode="group",
            yaxis={"title": {"text": "hours per unit"}, "rangemode": "tozero"},
            hovermode="closest",
            legend=LEGEND_BELOW,
        ),
    }


def _levels(keys: Sequence, edges: Sequence[tuple]) -> dict:
    order = analysis.topological_order(keys, edges)
    preds: dict = {k: [] for k in keys}
    for a, b in edges:
        preds[b].append(a)
    level: dict = {}
    for k in order:
        level[k] = max((level[p] + 1 for p in preds[k]), default=0)
    return level


def dag(result: Analysis, schedule: Schedule, title: str) -> dict:
    """The workflow as a graph, left to right, with the critical path highlighted."""
    keys = [r.key for r in result.stages]
    level = _levels(keys, result.edges)
    rows: dict[int, int] = {}
    pos = {}
    for k in keys:
        x = level[k]
        pos[k] = (x, -rows.get(x, 0))
        rows[x] = rows.get(x, 0) + 1
    on_path = set(schedule.path)
    path_edges = set(zip(schedule.path, schedule.path[1:], strict=False))
    plain: dict[str, list] = {"x": [], "y": []}
    hot: dict[str, list] = {"x": [], "y": []}
    for a, b in result.edges:
        line = hot if (a, b) in path_edges else plain
        line["x"] += [pos[a][0], pos[b][0], None]
        line["y"] += [pos[a][1], pos[b][1], None]
    durations = {
        r.key: (r.timing_after if schedule is result.after else r.timing_before)
        for r in result.stages
    }
    text, hover, colors = [], [], []
    for r in result.stages:
        t = durations[r.key]
        hours = t.ef - t.es
        text.append(f"{r.stage.name}<br>{_fmt(hours)} h")
        hover.append(
            f"{r.stage.name}: {_fmt(hours)} h, starts at {_fmt(t.es)} h, "
            f"slack {_fmt(max(t.slack, 0))} h"
        )
        colors.append(CRITICAL if r.key in on_path else ACTIVE)
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "x": plain["x"],
                "y": plain["y"],
                "line": {"color": GRID, "width": 2},
                "hoverinfo": "skip",
                "showlegend": False,
            },
            {
                "type": "scatter",
                "mode": "lines",
                "x": hot["x"],
                "y": hot["y"],
                "line": {"color": CRITICAL, "width": 4},
                "hoverinfo": "skip",
                "name": "Critical path",
            },
            {
                "type": "scatter",
                "mode": "markers+text",
                "x": [pos[k][0] for k in keys],
                "y": [pos[k][1] for k in keys],
                "text": text,
                # Alternate labels above and below so neighbours do not overlap.
                "textposition": ["top center" if level[k] % 2 else "bottom center" for k in keys],
                "textfont": {"size": 11},
                "cliponaxis": False,
                "hovertext": hover,
                "hoverinfo": "text",
                "marker": {"size": 18, "color": colors, "line": {"color": "#fff", "width": 2}},
                "showlegend": False,
            },
        ],
        "layout": base_layout(
            title={"text": f"{title}: {_fmt(schedule.makespan)} h", "font": {"size": 14}},
            xaxis={"visible": False, "range": [-0.6, max(level.values(), default=0) + 0.6]},
            yaxis={"visible": False, "range": [-max(rows.values(), default=1) + 0.4, 0.6]},
            hovermode="closest",
            margin={"l": 30, "r": 30, "t": 40, "b": 40},
            showlegend=False,
        ),
    }


CURVE_POINTS = [0.5 * 2 ** (i / 3) for i in range(34)]  # 0.5× … ~1000×


def ceiling_curves(stages: Sequence[analysis.StageInput], result: Analysis, limit: int = 6) -> dict:
    """Overall speed-up as one stage's speed-up grows, for the stages that weigh most now."""
    heaviest = sorted(result.stages, key=lambda r: -r.stage.after)[:limit]
    data: list[dict[str, Any]] = []
    for i, r in enumerate(r for r in heaviest if r.stage.before > 0):
        color = PALETTE[i % len(PALETTE)]
        ys = analysis.ceiling_curve(stages, result.edges, r.key, CURVE_POINTS)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": r.stage.name,
                "x": CURVE_POINTS,
                "y": ys,
                "line": {"color": color, "width": 2},
                "hovertemplate": "stage %{x:.3g}× → overall %{y:.3g}×<extra>"
                + r.stage.name
                + "</extra>",
            }
        )
        if not math.isinf(r.stage.speedup):
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": [r.stage.speedup],
                    "y": [result.speedup],
                    "marker": {"color": color, "size": 9, "symbol": "circle-open-dot"},
                    "showlegend": False,
                    "hovertemplate": "now: stage %{x:.3g}×, overall %{y:.3g}×<extra></extra>",
                }
            )
    return {
        "data": data,
        "layout": base_layout(
            xaxis={**LOG_AXIS, "title": {"text": "speed-up of that stage (×)"}},
            yaxis={"title": {"text": "overall speed-up (×)"}, "rangemode": "tozero"},
            hovermode="closest",
            legend=LEGEND_BELOW,
            margin={"l": 60, "r": 20, "t": 20, "b": 40},
        ),
    }


def history(points: Sequence[tuple[str, Analysis]]) -> dict:
    """Overall speed-up per quarter, each bar labelled with that quarter's bottleneck."""
    quarters, speedups, labels, hovers = [], [], [], []
    for quarter, result in points:
        b = result.bottleneck
        quarters.append(quarter)
        speedups.append(result.speedup)
        labels.append(b.stage.name if b else "—")
        hovers.append(
            f"{quarter}: {_fmt(result.speedup)}× overall; bottleneck "
            + (f"{b.stage.name} ({b.share_after:.0%} of the time)" if b else "none")
        )
    return {
        "data": [
            {
                "type": "bar",
                "x": quarters,
                "y": speedups,
                "text": labels,
                "textposition": "outside",
                "hovertext": hovers,
                "hoverinfo": "text",
                "marker": {"color": ACTIVE},
                "name": "Overall speed-up",
            }
        ],
        "layout": base_layout(
            xaxis={"type": "category", "title": {"text": "quarter"}},
            yaxis={
                "title": {"text": "overall speed-up (×)"},
                "rangemode": "tozero",
                "tickfont": {"color": MUTED},
            },
            hovermode="closest",
            showlegend=False,
        ),
    }
