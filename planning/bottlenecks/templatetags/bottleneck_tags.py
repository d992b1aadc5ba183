"""Numbers with units for bottleneck maps: speed-ups (×), hours (h) and shares (%)."""

from __future__ import annotations

import math

from django import template

register = template.Library()


def _trim(value: float, decimals: int) -> str:
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _number(value: float) -> str:
    if abs(value) >= 100:
        return _trim(value, 0)
    if abs(value) >= 10:
        return _trim(value, 1)
    return _trim(value, 2)


@register.filter
def times(value) -> str:
    """1.8137 → "1.81×", 16.8067 → "16.81×", 250.4 → "250×", inf → "∞×", None → "—"."""
    if value is None or value == "":
        return "—"
    value = float(value)
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞×"
    return _trim(value, 0 if abs(value) >= 100 else 2) + "×"


@register.filter
def hours(value) -> str:
    if value is None or value == "":
        return "—"
    return f"{_number(float(value))} h"


@register.filter
def pct(value) -> str:
    if value is None or value == "" or math.isnan(float(value)):
        return "—"
    if math.isinf(float(value)):
        return "∞"
    return f"{float(value):.0%}"


@register.filter
def gain(value) -> str:
    """Relative gain: 0.139 → "+14%"."""
    if value is None or value == "" or math.isnan(float(value)):
        return "—"
    if math.isinf(float(value)):
        return "unbounded"
    return f"{float(value):+.0%}"
