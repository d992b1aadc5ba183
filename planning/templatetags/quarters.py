"""Quarter labels as people read them: "FY2027 Q4" (with the calendar months on hover) for a
team whose fiscal year does not start in January, "Q4 2026" otherwise. A built-in library:
templates use {% quarter value %} and {{ value|quarter_text }} without loading anything."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from planning.quarters import Quarter, quarter_label

register = template.Library()


def _start_month(context) -> int:
    team = context.get("team") or getattr(context.get("request"), "team", None)
    return getattr(team, "fiscal_year_start_month", 1) or 1


def _label(value, start_month: int) -> tuple[str, str]:
    if isinstance(value, Quarter):
        return value.label, value.months
    return quarter_label(str(value), start_month)


@register.simple_tag(takes_context=True)
def quarter(context, value) -> str:
    """<span title="Oct–Dec 2026">FY2027 Q3</span> for "2027-Q3" or a Quarter."""
    text, months = _label(value, _start_month(context))
    if not months:
        return text
    return format_html('<span class="quarter" title="{}">{}</span>', months, text)


@register.simple_tag(takes_context=True)
def quarter_text(context, value) -> str:
    """The label alone, for places that cannot hold markup (<title>, <option>, attributes)."""
    return _label(value, _start_month(context))[0]
