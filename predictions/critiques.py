"""The Claude critique on the prediction form, as operations (issue 19): start one (gated by the
team's facilitator setting and budget), and the worker's part. The prompt is in critique.py;
the outside view it quotes is the one the form always shows (outside_view.py)."""

from __future__ import annotations

from django.db import transaction

from planning.facilitator import assist
from planning.inputs import strip_unstorable
from planning.live import services as live
from planning.live.writer import run

from . import critique as pure
from .models import Critique, Kind, Metric

MAX_TOKENS = 700
LABEL = "Critiquing the rationale"


class Refused(Exception):
    """A critique that may not start: the message says why."""


def refusal(metric: Metric) -> str:
    return assist.refusal(metric.team, "critique this rationale")


def sent_for(metric: Metric, form, outside, track_record) -> str:
    """The user message for a valid prediction form, with its outside view (or None)."""
    data = form.cleaned_data
    return pure.user_prompt(
        metric=metric.name,
        unit=metric.unit,
        scale=metric.get_scale_display(),
        claim=data["title"],
        kind=Kind(data["kind"]).label,
        horizon=data["horizon"].isoformat(),
        line=outside.line_note if outside else "",
        history=outside.history_note if outside else "",
        comparison=(outside.sentence or "") if outside else "",
        track_record=track_record.sentence if track_record else "",
        rationale=data.get("rationale") or "",
    )


def start(metric: Metric, user, sent: str) -> Critique:
    """Create the critique and its live session and start the task; Refused says why not."""
    from .tasks import critique_rationale

    with transaction.atomic():
        Metric.objects.select_for_update().filter(pk=metric.pk).first()  # one start at a time
        reason = refusal(metric)
        if reason:
            raise Refused(reason)
        running = Critique.objects.filter(
            metric=metric,
            created_by=user,
            status=Critique.Status.RUNNING,
            session__status="active",
        )
        if running.exists():
            raise Refused("Claude is already critiquing your rationale: follow it here.")
        session = live.create_session(
            metric.team, kind="critique", title=f"Critique: {metric.name}"[:200], user=user
        )
        row = Critique.objects.create(
            team=metric.team,
            metric=metric,
            session=session,
            sent=sent,
            model=assist.model(metric.team),
            created_by=user,
        )
        live.start(session, critique_rationale, row.pk)
    return row


def generate(critique_id: int, task_id: str = "") -> str:
    """The worker's part (tasks.critique_rationale): stream the critique, record its cost."""
    row = Critique.objects.get(pk=critique_id)
    rows = Critique.objects.filter(pk=row.pk)
    with run(row.session_id, task_id=task_id) as w:
        called = assist.start_call(
            w, row, rows, system=pure.SYSTEM_PROMPT, max_tokens=MAX_TOKENS, label=LABEL
        )
        if isinstance(called, str):
            return called
        rows.update(
            status=Critique.Status.READY, text=strip_unstorable(called.result.text), **called.fields
        )
        w.emit(
            "result",
            {
                "critique": row.pk,
                **called.usage_event(),
            },
        )
    return "ready"
