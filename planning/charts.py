"""One look for every chart: palette, typography and layout defaults for plotly figures.

Views build plain figure dicts (`{"data": [...], "layout": {...}}`) and render them with
`{% plotly_chart figure %}` (planning/templatetags/charts.py). The browser side
(static/js/charts.js) draws every `.plotly-chart` element, also after htmx swaps, without
inline scripts, so the CSP stays strict.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Okabe-Ito: distinguishable with the common colour-vision deficiencies (and in greyscale with
# the dash styles the charts add for drafts and superseded lines).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#4a5568"]
INK = "#1b2733"
MUTED = "#5b6b7a"
GRID = "#e3e8ee"
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif'


def base_layout(**overrides: Any) -> dict:
    layout: dict[str, Any] = {
        "font": {"family": FONT, "color": INK, "size": 13},
        "colorway": PALETTE,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {"gridcolor": GRID, "zerolinecolor": GRID, "automargin": True},
        "yaxis": {"gridcolor": GRID, "zerolinecolor": GRID, "automargin": True},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


# A horizontal legend under everything else (the whole figure's bottom, not the plot area's):
# it cannot ride up over the x-axis title and tick labels when a narrow screen makes the plot
# short, and the figure's bottom margin grows to fit its rows.
LEGEND_BELOW: dict[str, Any] = {
    "orientation": "h",
    "yref": "container",
    "y": 0,
    "yanchor": "bottom",
}


# A log axis labels its powers of ten only (0.1, 1, 10, 100, 1000, 10k…); the 2s and 5s in
# between are unlabelled minor grid lines.
LOG_AXIS: dict[str, Any] = {
    "type": "log",
    "dtick": 1,
    "minor": {"showgrid": True, "gridcolor": "#f2f4f7", "ticks": ""},
}


def _clean(value: Any) -> Any:
    """NaN and infinities are not JSON: they become null (a gap in the line)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return _clean(value.tolist())
    return value


def figure_json(figure: dict) -> str:
    return json.dumps(_clean(figure), separators=(",", ":"))
