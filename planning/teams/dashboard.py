"""The dashboard explains the framework's parts and links to each one (planning/sections.py)."""

from __future__ import annotations

from typing import Any

from planning import sections

from .models import Team


def dashboard_sections(team: Team) -> list[dict[str, Any]]:
    """Each section with its link and its summary (None while it has nothing to show)."""
    return [
        {"section": s, "url": s.url(team), "summary": s.summary_for(team) or None}
        for s in sections.all_sections()
    ]
