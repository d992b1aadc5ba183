"""Markdown, the one way: the `render_markdown` filter (a builtin in every template) and the
same function for views (the closed review's plan)."""

from __future__ import annotations

import markdown as md
import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

EXTENSIONS = ["extra", "sane_lists"]


@register.filter
def render_markdown(text: str) -> SafeString:
    """Markdown to HTML, sanitised (nh3 keeps only safe tags and attributes)."""
    html = md.markdown(text or "", extensions=EXTENSIONS)
    return mark_safe(nh3.clean(html))  # noqa: S308 - sanitised just above
