from django import template

from planning.saturation.analysis import number, percent

register = template.Library()


@register.filter
def num(value) -> str:
    """A finite number, compactly; '—' for None or NaN (never 'nan' on screen)."""
    try:
        return number(None if value is None else float(value))
    except (TypeError, ValueError):
        return "—"


@register.filter
def pct(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "—"
    if value != value or value in (float("inf"), float("-inf")):
        return "—"
    return ("−" if value < 0 else "+" if value > 0 else "") + percent(value)


@register.filter
def share(value) -> str:
    """0.9 -> '90%' (no sign)."""
    try:
        return percent(float(value))
    except (TypeError, ValueError):
        return "—"


VOTE_BADGES = {True: ("badge-warn", "Saturating"), False: ("badge-good", "Growing")}


@register.inclusion_tag("saturation/vote_badge.html")
def vote_badge(vote):
    css, label = VOTE_BADGES.get(vote, ("", "Withheld"))
    return {"css": css, "label": label}


STATUS_CSS = {
    "growing": "badge-good",
    "saturating": "badge-warn",
    "saturated": "badge-bad",
    "retired": "badge-muted",
}
VERDICT_CSS = {
    "growing": "badge-good",
    "saturating": "badge-warn",
    "unclear": "",
    "insufficient": "badge-muted",
}


@register.filter
def status_css(status: str) -> str:
    return STATUS_CSS.get(status, "")


@register.filter
def verdict_css(verdict: str) -> str:
    return VERDICT_CSS.get(verdict, "")
