"""`{% facilitator_panel review step %}`: the draft panel beside a review step's notes."""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from ..panel import context as panel_context

register = template.Library()


@register.simple_tag(takes_context=True)
def facilitator_panel(context, review, step: int) -> SafeString:
    request = context["request"]
    data = panel_context(review, step, context["membership"])
    return render_to_string("facilitator/panel.html#panel", data, request=request)


@register.simple_tag(takes_context=True)
def sides_panel(context, review) -> SafeString:
    """`{% sides_panel review %}`: "Find the missing side" on the light-and-shade step."""
    from ..missing_side import panel_context as sides_context

    data = sides_context(review, context["membership"])
    return render_to_string("facilitator/sides.html#panel", data, request=context["request"])
