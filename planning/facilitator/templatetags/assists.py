"""The facilitator settings page's part on the assists (issue 19): what probes from an idea
and a critique of a rationale send, and what they cost lately."""

from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("facilitator/assists_sent.html")
def assists_sent(model: str) -> dict:
    from audits.proposals import SYSTEM_PROMPT as PROBES
    from predictions.critique import SYSTEM_PROMPT as CRITIQUE

    return {"model": model, "probes_prompt": PROBES, "critique_prompt": CRITIQUE}


@register.inclusion_tag("facilitator/assists_usage.html")
def assists_usage(team) -> dict:
    from audits.models import ProbeProposal
    from predictions.models import Critique

    proposals = ProbeProposal.objects.filter(team=team).select_related("idea", "created_by")[:10]
    critiques = Critique.objects.filter(team=team).select_related("metric", "created_by")[:10]
    rows = sorted(
        [("Probes for", p.idea.title, p) for p in proposals]
        + [("Critique on", c.metric.name, c) for c in critiques],
        key=lambda r: r[2].created_at,
        reverse=True,
    )[:10]
    return {"rows": rows}
