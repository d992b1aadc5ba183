import pytest

from planning.reviews.logic import (
    Bet,
    PlanData,
    closing_blockers,
    content_hash,
    ice_score,
    render_plan_markdown,
    reorder,
)
from planning.reviews.models import STEPS

TITLES = {n: t for n, t, _ in STEPS}


def test_ice_score():
    assert ice_score(8, 5, 4) == 10.0
    assert ice_score(None, 5, 4) is None
    assert ice_score(3, 3, 0) is None


@pytest.mark.parametrize(
    ("moved", "before", "expected"),
    [(3, 1, [3, 1, 2, 4]), (1, None, [2, 3, 4, 1]), (4, 2, [1, 4, 2, 3]), (2, 2, [1, 3, 4, 2])],
)
def test_reorder(moved, before, expected):
    assert reorder([1, 2, 3, 4], moved, before) == expected


def test_reorder_unknown():
    with pytest.raises(ValueError):
        reorder([1, 2], 9, None)


def test_closing_blockers_name_the_missing_side():
    bets = [
        Bet("Agentic QA", "both"),
        Bet("Ship copilot", "light-only"),
        Bet("Shift to agents", "shade-only"),
        Bet("Waived", "none", waived=True),
        Bet("Empty", "none"),
    ]
    assert closing_blockers(bets) == [
        "“Ship copilot” has no shade (risk)",
        "“Shift to agents” has no light (opportunity)",
        "“Empty” has neither light nor shade",
    ]


def test_plan_markdown_is_deterministic_and_complete():
    plan = PlanData(
        team="Acme",
        quarter="2026-Q4",
        closed_at="2026-11-25 12:00 UTC",
        closed_by="Olive",
        step_notes={1: "We under-predicted again."},
        decisions=[(3, "Idea A", "Promote", "passes on the new model")],
        bets=[("Build Idea A", ["faster support"], ["hallucinated refunds"], False)],
        backlog=[(1, "Build Idea A", "Lit-up idea", 10.0)],
        commitments=[("Weekly eval review", "Olive", "2027-01-15")],
    )
    md = render_plan_markdown(plan, TITLES)
    assert md == render_plan_markdown(plan, TITLES)
    assert md.startswith("# Acme — quarterly plan 2026-Q4")
    assert "Idea A: **Promote** — passes on the new model" in md
    assert "Light: faster support" in md and "Shade: hallucinated refunds" in md
    # The score says what it is: a bare "score 10.0" in an exported plan meant nothing.
    assert "1. Build Idea A (Lit-up idea) — score 10.0 (impact × confidence ÷ effort)" in md
    assert "- Weekly eval review — Olive, by 2027-01-15" in md
    assert "**Team notes.** We under-predicted again." in md
    assert len(content_hash(md)) == 64 and content_hash(md) == content_hash(md)


def test_plan_keeps_text_that_looks_like_html():
    """A title or note with "<…>" is shown as typed, not read as a tag and stripped away."""
    from planning.templatetags.text import render_markdown

    plan = PlanData(
        team="Acme",
        quarter="2026-Q4",
        closed_at="2026-11-25 12:00 UTC",
        closed_by="Olive",
        step_notes={7: "Rank <b>by impact</b>"},
        bets=[("<script>alert(1)</script>", ["a < b"], [], True, "x")],
        backlog=[(1, "<script>alert(1)</script>", "Other", None)],
    )
    html = render_markdown(render_plan_markdown(plan, TITLES))
    assert "<script>" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2  # the bet and the backlog
    assert "a &lt; b" in html and "Rank &lt;b&gt;by impact&lt;/b&gt;" in html


def test_a_follow_up_always_has_a_moment_to_be_sent():
    from datetime import date, datetime, time
    from zoneinfo import ZoneInfo

    from planning.reviews.logic import follow_up_start

    la = ZoneInfo("America/Los_Angeles")
    morning = datetime(2026, 12, 2, 8, 30, 20, tzinfo=la)
    later = datetime(2026, 12, 2, 9, 44, 20, tzinfo=la)
    assert follow_up_start(date(2026, 12, 20), later) == (date(2026, 12, 20), time(9))
    assert follow_up_start(date(2026, 12, 2), morning) == (date(2026, 12, 2), time(9))
    # Its 09:00 has passed (due today, or long ago): the next minute, never no date at all.
    assert follow_up_start(date(2026, 12, 2), later) == (date(2026, 12, 2), time(9, 45))
    assert follow_up_start(date(2020, 1, 1), later) == (date(2026, 12, 2), time(9, 45))
    midnight = datetime(2026, 12, 2, 23, 59, 30, tzinfo=la)
    assert follow_up_start(date(2026, 12, 2), midnight) == (date(2026, 12, 3), time(0, 0))


def test_the_closing_flash_says_what_happened_to_reminders():
    from planning.reviews.logic import follow_up_sentence

    assert follow_up_sentence(0, 0) == "No commitments, so no follow-up reminders."
    assert follow_up_sentence(1, 1) == "1 follow-up reminder scheduled."
    assert follow_up_sentence(2, 2) == "2 follow-up reminders scheduled."
    # Closed again after a reopening: "0 follow-up reminders scheduled" read as none at all.
    assert follow_up_sentence(0, 2) == "2 commitments already have their reminders."
    assert follow_up_sentence(1, 2) == (
        "1 follow-up reminder scheduled; 1 commitment already has its reminder."
    )
