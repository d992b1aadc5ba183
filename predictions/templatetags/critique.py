"""`{% critique_panel metric %}`: the Claude critique beside the outside view (issue 19)."""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from ..critique_views import PANEL, panel_context

register = template.Library()


@register.simple_tag(takes_context=True)
def critique_panel(context, metric) -> SafeString:
    request = context["request"]
    return render_to_string(PANEL, panel_context(request, metric), request=request)
