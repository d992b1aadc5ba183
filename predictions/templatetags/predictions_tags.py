from __future__ import annotations

import math

import markdown as md
import nh3
from django import template
from django.utils.safestring import mark_safe

from predictions.trajectory import format_number, format_value

register = template.Library()


@register.filter
def render_markdown(text: str) -> str:
    """Markdown to HTML, sanitised (nh3 keeps only safe tags and attributes)."""
    html = md.markdown(text or "", extensions=["extra", "sane_lists"])
    return mark_safe(nh3.clean(html))  # noqa: S308 - sanitised just above


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
