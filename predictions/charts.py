"""Plotly figures for lines on graphs: medians with shaded bands, observations, today, quarters.

Figures are plain dicts (drawn by static/js/charts.js). Observations are downsampled for
display only (min and max per bucket keep the spikes); scores always use every point.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from planning.charts import LOG_AXIS, MUTED, PALETTE, base_layout
from planning.quarters import quarter_boundaries

from .trajectory import Band, Floats, Line, Trajectory, from_day, sample_line

MAX_MARKERS = 1000


def downsample(t: Floats, y: Floats, max_points: int = MAX_MARKERS) -> np.ndarray:
    """Indices of at most ~max_points points: the first, the last, and per bucket the minimum
    and maximum (in time order)."""
    n = len(t)
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, (max_points - 2) // 2)
    edges = np.linspace(1, n - 1, buckets + 1).astype(int)
    keep = [0, n - 1]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b <= a:
            continue
        seg = y[a:b]
        keep.extend((a + int(np.argmin(seg)), a + int(np.argmax(seg))))
    return np.unique(np.asarray(keep))


@dataclass(frozen=True)
class ChartLine:
    key: str
    label: str
    group: str  # legend group (the author): clicking it toggles all their lines
    line: Line
    color: str
    dimmed: bool = False  # superseded
    draft: bool = False


def line_for(
    traj: Trajectory, band: Band, horizon: date, *, until: date | None = None, **kwargs
) -> ChartLine:
    """A line sampled for drawing, up to its horizon (or `until`, when that comes first: a
    line stored with a horizon centuries away is drawn over the years a chart can show)."""
    end = horizon if until is None or until <= traj.start else min(horizon, until)
    return ChartLine(line=sample_line(traj, band, end), **kwargs)


def _dates(t: Floats) -> list[str]:
    return [from_day(x).isoformat() for x in t]


def _sig(values: Floats, digits: int = 4) -> list[float]:
    """Round to `digits` significant figures: plenty for a chart, and a much smaller page."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(v == 0, 0, np.floor(np.log10(np.abs(v))))
    scale = 10.0 ** (digits - 1 - np.nan_to_num(mag))
    return (np.round(v * scale) / scale).tolist()


def metric_figure(
    *,
    name: str,
    unit: str,
    log: bool,
    obs_t: Floats,
    obs_values: Floats,
    lines: list[ChartLine],
    today: date,
    fy_start_month: int = 1,
    thresholds: list[dict] | None = None,
) -> dict:
    data: list[dict] = []
    suffix = f" {unit}" if unit else ""
    for cl in lines:
        x = _dates(cl.line.t)
        opacity = 0.6 if cl.dimmed else 1.0
        fill_alpha = "14" if cl.dimmed else "2e"
        common = {"legendgroup": cl.group, "x": x, "mode": "lines", "hoverinfo": "skip"}
        data.append(
            {
                **common,
                "y": _sig(cl.line.low),
                "line": {"width": 0},
                "showlegend": False,
                "name": f"{cl.label} low",
            }
        )
        data.append(
            {
                **common,
                "y": _sig(cl.line.high),
                "line": {"width": 0},
                "fill": "tonexty",
                "fillcolor": cl.color + fill_alpha,
                "showlegend": False,
                "name": f"{cl.label} band",
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": _sig(cl.line.median),
                "mode": "lines",
                "name": cl.label
                + (" (draft)" if cl.draft else "")
                + (" (superseded)" if cl.dimmed else ""),
                "legendgroup": cl.group,
                "legendgrouptitle": {"text": cl.group},
                "opacity": opacity,
                # Drafts dotted, superseded lines dashed: told apart without relying on colour.
                "line": {
                    "color": cl.color,
                    "width": 2,
                    "dash": "dot" if cl.draft else "dash" if cl.dimmed else "solid",
                },
                "hovertemplate": "%{y:.3~s}" + suffix + "<extra>" + cl.label[:40] + "</extra>",
            }
        )
    for th in thresholds or []:
        data.append(
            {
                "type": "scatter",
                "x": [th["date"]],
                "y": [th["value"]],
                "mode": "markers",
                "name": th["label"],
                "legendgroup": th["group"],
                "marker": {"symbol": "diamond", "size": 11, "color": th["color"]},
                "hovertemplate": th["label"] + "<extra></extra>",
            }
        )
    if len(obs_t):
        keep = downsample(obs_t, obs_values)
        data.append(
            {
                "type": "scatter",
                "x": _dates(obs_t[keep]),
                "y": _sig(obs_values[keep], 6),
                "mode": "markers",
                "name": "Observed"
                + (f" ({len(keep)} of {len(obs_t)} shown)" if len(keep) < len(obs_t) else ""),
                "marker": {"color": "#1b2733", "size": 9, "line": {"color": "#ffffff", "width": 1}},
                "hovertemplate": "%{y:.4~s}" + suffix + "<extra>observed</extra>",
            }
        )
    starts = [cl.line.t[0] for cl in lines] + ([obs_t[0]] if len(obs_t) else [])
    ends = [cl.line.t[-1] for cl in lines] + ([obs_t[-1]] if len(obs_t) else [])
    shapes, annotations = [], []
    if starts:
        first, last = from_day(min(starts)), from_day(max(max(ends), today.toordinal()))
        for q in quarter_boundaries(first, last, fy_start_month):
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": q.isoformat(),
                    "x1": q.isoformat(),
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#e3e8ee", "width": 1, "dash": "dot"},
                }
            )
    shapes.append(
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": today.isoformat(),
            "x1": today.isoformat(),
            "y0": 0,
            "y1": 1,
            "line": {"color": MUTED, "width": 1.5},
        }
    )
    annotations.append(
        {
            "x": today.isoformat(),
            "y": 1,
            "xref": "x",
            "yref": "paper",
            "text": "today",
            "showarrow": False,
            "yanchor": "bottom",
            "font": {"color": MUTED, "size": 11},
        }
    )
    xaxis: dict = {"type": "date"}
    if not starts and not thresholds:
        # Nothing to draw yet: a year either side of today, not plotly's default of 2000.
        xaxis["range"] = [
            (today - timedelta(days=365)).isoformat(),
            (today + timedelta(days=365)).isoformat(),
        ]
    layout = base_layout(
        yaxis={**(LOG_AXIS if log else {"type": "linear"}), "title": {"text": unit or name}},
        xaxis=xaxis,
        shapes=shapes,
        annotations=annotations,
        legend={"orientation": "h", "y": -0.2, "groupclick": "togglegroup"},
        hovermode="closest",
    )
    return {"data": data, "layout": layout}


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def band_figure(bands) -> dict:
    return {
        "data": [
            {
                "type": "scatter",
                "x": [0, 1],
                "y": [0, 1],
                "mode": "lines",
                "name": "perfect",
                "line": {"color": MUTED, "dash": "dot"},
                "hoverinfo": "skip",
            },
            {
                "type": "scatter",
                "x": [b.coverage_stated for b in bands],
                "y": [b.coverage_observed for b in bands],
                "mode": "markers+text",
                "name": "your bands",
                "marker": {"size": 12, "color": PALETTE[0]},
                "text": [
                    f"{b.n_points} observation{'' if b.n_points == 1 else 's'}" for b in bands
                ],
                # Below a point near 100%, where a label above would be cut off by the frame.
                "textposition": [
                    "bottom center" if b.coverage_observed > 0.9 else "top center" for b in bands
                ],
            },
        ],
        "layout": base_layout(
            xaxis={"title": {"text": "stated coverage"}, "range": [0, 1], "tickformat": ".0%"},
            yaxis={"title": {"text": "observed coverage"}, "range": [0, 1.05], "tickformat": ".0%"},
            showlegend=False,
        ),
    }


def reliability_figure(bins) -> dict:
    used = [b for b in bins if b.n]
    return {
        "data": [
            {
                "type": "scatter",
                "x": [0, 1],
                "y": [0, 1],
                "mode": "lines",
                "name": "perfect",
                "line": {"color": MUTED, "dash": "dot"},
                "hoverinfo": "skip",
            },
            {
                "type": "scatter",
                "x": [b.mean_probability for b in used],
                "y": [b.observed_frequency for b in used],
                "mode": "markers+lines",
                "name": "observed",
                "marker": {"size": [8 + 2 * min(b.n, 10) for b in used], "color": PALETTE[1]},
                "text": [f"{b.n} prediction{'' if b.n == 1 else 's'}" for b in used],
            },
        ],
        "layout": base_layout(
            xaxis={"title": {"text": "stated probability"}, "range": [0, 1], "tickformat": ".0%"},
            yaxis={
                "title": {"text": "how often it happened"},
                "range": [0, 1.05],
                "tickformat": ".0%",
            },
            showlegend=False,
        ),
    }
