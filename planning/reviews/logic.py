"""Pure functions of the quarterly review: scores, ranking, closing rules and the plan text."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import IntEnum


class Step(IntEnum):
    """The eight steps of a review, in order (notes and decisions store the number)."""

    LOOK_BACK = 1
    NEW_LINES = 2
    AUDIT = 3
    SATURATION = 4
    BOTTLENECKS = 5
    LIGHT_AND_SHADE = 6
    BACKLOG = 7
    COMMITMENTS = 8


def ice_score(impact: int | None, confidence: int | None, effort: int | None) -> float | None:
    """Impact × confidence ÷ effort (each 1–10); None until all three are given."""
    if impact is None or confidence is None or not effort:
        return None
    return round(impact * confidence / effort, 1)


def reorder(ids: Sequence[int], moved: int, before: int | None) -> list[int]:
    """The order after moving `moved` just before `before` (None: to the end)."""
    order = [i for i in ids if i != moved]
    if moved not in ids:
        raise ValueError("unknown item")
    if before is None or before not in order:
        order.append(moved)
    else:
        order.insert(order.index(before), moved)
    return order


FOLLOW_UP_TIME = time(9)


def follow_up_start(due: date, now_local: datetime) -> tuple[date, time]:
    """When a commitment's follow-up reminder first falls due: 09:00 on its date; for one whose
    09:00 has passed already (due today, or closed after its date), the next minute, so every
    follow-up the plan announces really is sent."""
    moment = datetime.combine(max(due, now_local.date()), FOLLOW_UP_TIME, now_local.tzinfo)
    if moment > now_local:
        return moment.date(), FOLLOW_UP_TIME
    soon = now_local.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return soon.date(), soon.time().replace(tzinfo=None)


def follow_up_sentence(new: int, commitments: int) -> str:
    """What closing did about reminders, true after a reopening too (the commitments closed
    before keep the reminders they have: only new ones get one)."""
    if commitments == 0:
        return "No commitments, so no follow-up reminders."
    already = commitments - new
    parts = []
    if new:
        parts.append(f"{new} follow-up reminder{'' if new == 1 else 's'} scheduled")
    if already:
        parts.append(
            f"{already} commitment{' already has its' if already == 1 else 's already have their'}"
            f" reminder{'' if already == 1 else 's'}"
        )
    return "; ".join(parts) + "."


@dataclass(frozen=True)
class Bet:
    title: str
    balance: str  # both | light-only | shade-only | none
    waived: bool = False

    @property
    def blocks_closing(self) -> bool:
        return self.balance != "both" and not self.waived


def closing_blockers(bets: Iterable[Bet]) -> list[str]:
    """Why the review cannot close yet, in words (empty: it can)."""
    missing = {
        "none": "has neither light nor shade",
        "light-only": "has no shade (risk)",
        "shade-only": "has no light (opportunity)",
    }
    return [f"“{b.title}” {missing[b.balance]}" for b in bets if b.blocks_closing]


@dataclass
class PlanData:
    """Everything the frozen plan says, gathered from the review and the modules."""

    team: str
    quarter: str
    closed_at: str
    closed_by: str
    summary: str = ""
    step_notes: dict[int, str] = field(default_factory=dict)
    predictions: list[str] = field(default_factory=list)
    look_back: list[str] = field(default_factory=list)
    decisions: list[tuple[int, str, str, str]] = field(default_factory=list)
    bottleneck: list[str] = field(default_factory=list)
    saturation: list[str] = field(default_factory=list)
    # (title, light, shade, waived, the reason for waiving; older plans carry no reason)
    bets: list[tuple] = field(default_factory=list)
    backlog: list[tuple[int, str, str, float | None]] = field(default_factory=list)
    commitments: list[tuple[str, str, str]] = field(default_factory=list)


def waiver_sentence(has_light: bool, has_shade: bool, waived: bool, reason: str = "") -> str:
    """What the plan says about a bet closed with a side missing: which side(s), and why."""
    if not waived or (has_light and has_shade):
        return ""
    if not has_light and not has_shade:
        what = "Both sides were explicitly waived (no light, no shade)"
    elif not has_light:
        what = "The light (opportunity) was explicitly waived"
    else:
        what = "The shade (risk) was explicitly waived"
    reason = reason.strip().rstrip(".")
    return f"{what}: {reason}." if reason else f"{what}."


def _bullets(lines: Iterable[str], empty: str) -> list[str]:
    lines = [line for line in lines if line]
    return [f"- {line}" for line in lines] if lines else [f"_{empty}_"]


def render_plan_markdown(plan: PlanData, step_titles: dict[int, str]) -> str:
    out: list[str] = [
        f"# {plan.team} — quarterly plan {plan.quarter}",
        "",
        f"Closed {plan.closed_at} by {plan.closed_by}.",
        "",
    ]

    def section(number: int, body: list[str]) -> None:
        out.extend([f"## {number}. {step_titles[number]}", "", *body])
        note = plan.step_notes.get(number, "").strip()
        if note:
            out.extend(["", "**Team notes.** " + note])
        out.append("")

    section(Step.LOOK_BACK, _bullets(plan.look_back, "No predictions were due this quarter."))
    section(Step.NEW_LINES, _bullets(plan.predictions, "No new predictions were committed."))
    by_step: dict[int, list[str]] = {}
    for step, label, choice, note in plan.decisions:
        by_step.setdefault(step, []).append(
            f"{label}: **{choice}**" + (f" — {note}" if note else "")
        )
    section(Step.AUDIT, _bullets(by_step.get(Step.AUDIT, []), "No audit decisions."))
    section(
        Step.SATURATION,
        _bullets(by_step.get(Step.SATURATION, []) + plan.saturation, "No form factors tracked."),
    )
    section(
        Step.BOTTLENECKS,
        _bullets(by_step.get(Step.BOTTLENECKS, []) + plan.bottleneck, "No bottleneck map."),
    )
    bets: list[str] = []
    for title, light, shade, waived, *rest in plan.bets:
        bets.append(f"### {title}")
        bets.append("")
        bets.append("Light: " + ("; ".join(light) if light else "—"))
        bets.append("")
        bets.append("Shade: " + ("; ".join(shade) if shade else "—"))
        note = waiver_sentence(bool(light), bool(shade), waived, rest[0] if rest else "")
        if note:
            bets.append("")
            bets.append(f"_{note}_")
        bets.append("")
    section(Step.LIGHT_AND_SHADE, bets or ["_No bets._"])
    backlog = [
        f"{rank}. {title} ({source})"
        + (f" — score {score} (impact × confidence ÷ effort)" if score is not None else "")
        for rank, title, source, score in plan.backlog
    ]
    section(Step.BACKLOG, backlog or ["_The backlog is empty._"])
    section(
        Step.COMMITMENTS,
        _bullets(
            (f"{what} — {owner}, by {due}" for what, owner, due in plan.commitments),
            "No commitments.",
        ),
    )
    # Nothing above writes HTML, so every "<" comes from the team's text: as an entity it shows
    # as typed (a bet called "<script>…" keeps its title) instead of being read as a tag and
    # stripped by the sanitiser, in the plan page and in any Markdown viewer.
    return "\n".join(out).rstrip().replace("<", "&lt;") + "\n"


def content_hash(markdown: str) -> str:
    return hashlib.sha256(markdown.encode("utf-8")).hexdigest()
