"""`{% probe_proposals idea %}`: Claude's proposed probes on an idea's page (issue 19)."""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from ..propose_views import PANEL, panel_context

register = template.Library()


@register.simple_tag(takes_context=True)
def probe_proposals(context, idea) -> SafeString:
    request = context["request"]
    return render_to_string(PANEL, panel_context(request, idea), request=request)
