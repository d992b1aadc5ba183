"""The facilitator settings page's part on "Find the missing side": what it sends and what
its recent runs cost (tokens written to and read from the prompt cache too)."""

from __future__ import annotations

from django import template
from django.db.models import Count, Sum

register = template.Library()


@register.inclusion_tag("facilitator/sides_sent.html")
def sides_sent(model: str) -> dict:
    from ..sides import SIDE_SYSTEM_PROMPT

    return {"model": model, "prompt": SIDE_SYSTEM_PROMPT}


@register.inclusion_tag("facilitator/sides_usage.html")
def sides_usage(team) -> dict:
    from ..models import SideRun

    runs = (
        SideRun.objects.filter(team=team)
        .select_related("review")
        .annotate(
            bets=Count("proposals"),
            input_tokens=Sum("proposals__input_tokens"),
            output_tokens=Sum("proposals__output_tokens"),
            cache_creation_tokens=Sum("proposals__cache_creation_tokens"),
            cache_read_tokens=Sum("proposals__cache_read_tokens"),
            cost_usd=Sum("proposals__cost_usd"),
        )
        .order_by("-created_at")[:10]
    )
    return {"runs": runs}
