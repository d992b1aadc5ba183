from __future__ import annotations

import math

from django import template

from predictions.trajectory import format_number, format_probability, format_value

register = template.Library()


@register.filter
def num(value, unit: str = "") -> str:
    try:
        return format_value(float(value), unit)
    except (TypeError, ValueError):
        return "–"


@register.filter
def pct(value, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value) * 100:.{digits}f}%"


@register.filter
def probability(value) -> str:
    """A stated probability as typed (0.007: '0.7%'), where `pct` would round it."""
    if value is None or not math.isfinite(float(value)):
        return "–"
    return format_probability(float(value))


@register.filter
def signed_pct(value, digits: int = 1) -> str:
    """A signed share as a percent: -0.016 is '-1.6%' (a relative error)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value) * 100:+.{digits}f}%"


@register.filter
def possessive(name) -> str:
    """'ARR's', but 'Weekly active users'' (not 'users's')."""
    name = str(name)
    return f"{name}'" if name.lower().endswith("s") else f"{name}'s"


@register.filter
def signed(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):+.{digits}f}"


@register.filter
def sig(value) -> str:
    try:
        return format_number(float(value))
    except (TypeError, ValueError):
        return "–"
