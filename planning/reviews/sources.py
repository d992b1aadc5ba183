"""What each step shows from the other modules, and the effects of review decisions on them.

Each function talks to one module through its public models/services and degrades to an
empty answer when that module has nothing for the team yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from planning.quarters import parse_quarter


@dataclass
class Subject:
    """Something a step decides about (an idea, a form factor, a stage)."""

    key: str
    label: str
    detail: str = ""
    url: str = ""
    badge: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _quarter(review):
    return parse_quarter(review.quarter, review.team.fiscal_year_start_month)


def look_back_lines(review) -> list[str]:
    return []


def prediction_lines(review) -> list[str]:
    return []


def bottleneck_lines(review) -> list[str]:
    return []


def saturation_lines(review) -> list[str]:
    return []


def step_subjects(review, step: int) -> list[Subject]:
    """The subjects a decision step (3, 4, 5) decides about."""
    return []


def step_context(review, step: int) -> dict[str, Any]:
    """Live data a step page shows beside the team's notes and decisions."""
    return {}


def apply_decision(review, decision, user) -> None:
    """Carry a decision into its module (e.g. promote an idea)."""


def schedule_follow_ups(review) -> int:
    """Turn each commitment into a reminder for its owner (the cadence machinery)."""
    return 0


def complete_review_cadence(review, user) -> None:
    """Closing the review completes the quarterly-review cadence occurrence."""
