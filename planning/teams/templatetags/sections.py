"""`{% section_nav team request.path as nav %}`: the navigation, from planning/sections.py."""

from __future__ import annotations

from typing import Any

from django import template

from planning import sections
from planning.teams.models import Team

register = template.Library()


@register.simple_tag
def section_nav(team: Team, path: str) -> list[dict[str, Any]]:
    return [
        {"label": s.nav_label, "url": s.url(team), "current": s.is_current(path)}
        for s in sections.all_sections()
    ]
