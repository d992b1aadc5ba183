"""The dashboard explains the framework's parts and links to each one that exists."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.urls import NoReverseMatch, reverse

from .models import Team


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    idea: str
    action: str
    url_name: str

    def url(self, team: Team) -> str | None:
        try:
            return reverse(self.url_name, kwargs={"team": team.slug})
        except NoReverseMatch:
            return None


SECTIONS = [
    Section(
        "predictions",
        "Lines on Graphs",
        "Write down where a metric is going before the evidence arrives. Predictions freeze "
        "when committed and are scored against reality every quarter.",
        "Add your first metric",
        "predictions:metric_list",
    ),
    Section(
        "audits",
        "Capability Lighting-Up",
        "Keep the ideas that failed because the model was not good enough, and re-test them "
        "against today's models every quarter. Some will have lit up.",
        "Log a failed idea",
        "audits:idea_list",
    ),
    Section(
        "bottlenecks",
        "Bottleneck maps",
        "Map how work flows from idea to production. When AI speeds up one stage, the stages "
        "it did not touch become the critical path (Amdahl's law).",
        "Map your delivery workflow",
        "bottlenecks:map_list",
    ),
    Section(
        "saturation",
        "Saturation",
        "Notice when a product form factor stops showing model gains: that is the signal to "
        "move to the next form factor.",
        "Track a form factor",
        "saturation:formfactor_list",
    ),
    Section(
        "cadences",
        "Cadences",
        "Audits and prediction reviews every quarter, retrospectives more often: Exponent "
        "reminds the team so the rhythm holds.",
        "Review your cadences",
        "cadences:cadence_list",
    ),
    Section(
        "reviews",
        "Quarterly review",
        "Eight guided steps, from looking back at last quarter's predictions to commitments "
        "with owners, ending in a frozen, exportable plan.",
        "Start this quarter's review",
        "reviews:review_list",
    ),
]


SECTION_KEYS = {s.key for s in SECTIONS}


def _summaries(team: Team) -> dict[str, dict]:
    """`<app>/dashboard.py` may define `summary(team) -> dict | None` for its section.

    The dict must name a `template` (rendered with `summary` in its context); keys are app
    labels, which match the section keys.
    """
    found = {}
    for config in apps.get_app_configs():
        if config.label not in SECTION_KEYS:
            continue
        module_name = f"{config.name}.dashboard"
        if find_spec(module_name) is None:
            continue
        summary = import_module(module_name).summary(team)
        if summary:
            found[config.label] = summary
    return found


def dashboard_sections(team: Team) -> list[dict]:
    """Each section with its link (None until the feature exists) and an optional summary."""
    summaries = _summaries(team)
    return [{"section": s, "url": s.url(team), "summary": summaries.get(s.key)} for s in SECTIONS]
