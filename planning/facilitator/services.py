"""Operations of the facilitator: the team setting, the budget, starting, accepting and
discarding a draft. Views call these; the Celery task is in tasks.py."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from planning.live import services as live
from planning.live import writer as live_writer
from planning.reviews import services as review_services
from planning.reviews.models import STEPS, Review, StepNote
from planning.teams import audit

from .citations import paragraphs_of
from .models import Draft, FacilitatorSetting


class Refused(Exception):
    """A generation that may not start (off, budget spent, review closed): says why."""


def settings_for(team) -> FacilitatorSetting:
    setting = FacilitatorSetting.objects.filter(team=team).first()
    return setting or FacilitatorSetting(team=team)


def model_choices() -> list[tuple[str, str]]:
    """The Models API list as cached in audits' Model table, newest first."""
    from audits.models import Model

    rows = Model.objects.filter(is_alias=False, retired=False).order_by("-released_at", "model_id")
    return [(m.model_id, m.display_name or m.model_id) for m in rows]


def model_for(setting: FacilitatorSetting) -> str:
    """The chosen model, else the newest listed one ("" when none is known)."""
    choices = [m for m, _ in model_choices()]
    if setting.model_id and setting.model_id in choices:
        return setting.model_id
    return choices[0] if choices else setting.model_id


def month_start(team, now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now(), team.tz)
    return datetime.combine(local.date().replace(day=1), time.min, tzinfo=team.tz)


def spending() -> tuple:
    """Every model whose rows are generations with a `cost_usd` and a `created_at`."""
    from .models import SideProposal

    return (Draft, SideProposal)


def spent_this_month(team, now: datetime | None = None) -> Decimal:
    """What the team's generations cost this month: review drafts, missing sides and the
    assists (probes from an idea, critiques of a rationale: planning.facilitator.assist)."""
    from .assist import spent_on_assists

    start = month_start(team, now)
    total = Decimal(0)
    for model in spending():
        spent = model.objects.filter(team=team, created_at__gte=start).aggregate(
            total=Sum("cost_usd")
        )["total"]
        total += spent or Decimal(0)
    return total + spent_on_assists(team, start)


def refusal(team, review: Review) -> str:
    """Why a new draft may not start now ("" when it may)."""
    setting = settings_for(team)
    if not setting.enabled:
        return (
            "The Claude facilitator is off for this team: an owner can turn it on in its settings."
        )
    if review.is_closed:
        return "This review is closed. Reopen it to draft notes."
    spent = spent_this_month(team)
    if spent >= setting.monthly_budget_usd:
        return (
            f"This month's facilitator budget is spent (${spent:.2f} of "
            f"${setting.monthly_budget_usd:.2f}). An owner can raise it in the settings; "
            "it renews on the 1st."
        )
    if not model_for(setting):
        return "No model is known yet: an owner can choose one in the facilitator settings."
    return ""


def start_draft(review: Review, step: int, user) -> Draft:
    """Create the draft and its live session and start the task; Refused says why not."""
    from .tasks import draft_step

    if not 1 <= step <= len(STEPS):
        raise Refused("No such step.")
    with transaction.atomic():
        Review.objects.select_for_update().filter(pk=review.pk).first()  # one start at a time
        reason = refusal(review.team, review)
        if reason:
            raise Refused(reason)
        running = Draft.objects.filter(
            review=review, step=step, status=Draft.Status.RUNNING, session__status="active"
        )
        if running.exists():
            raise Refused("Claude is already drafting this step: follow it here or stop it.")
        title = f"Draft of step {step} ({STEPS[step - 1][1]}), {review.quarter}"
        session = live.create_session(review.team, kind="review_draft", title=title, user=user)
        draft = Draft.objects.create(
            team=review.team,
            review=review,
            step=step,
            session=session,
            model=model_for(settings_for(review.team)),
            created_by=user,
        )
        live.start(session, draft_step, draft.pk)
    return draft


def revise(draft: Draft, instruction: str, user) -> Draft:
    """A follow-up turn after the end: a new draft of the same step, linked to `draft`, whose
    own live session opens with the instruction (a `steer` event every tab sees) and whose
    task rewrites the finished draft applying it. Refused says why not."""
    from .tasks import draft_step

    review = draft.review
    with transaction.atomic():
        Review.objects.select_for_update().filter(pk=review.pk).first()  # one start at a time
        if draft.status not in (Draft.Status.READY, Draft.Status.ACCEPTED) or not draft.text:
            raise Refused("Only a finished draft can be revised: draft the step again instead.")
        reason = refusal(review.team, review)
        if reason:
            raise Refused(reason)
        running = Draft.objects.filter(
            review=review, step=draft.step, status=Draft.Status.RUNNING, session__status="active"
        )
        if running.exists():
            raise Refused("Claude is already drafting this step: follow it here or stop it.")
        title = f"Revision of the step {draft.step} draft, {review.quarter}: “{instruction}”"
        session = live.create_session(
            review.team, kind="review_draft", title=title[:200], user=user
        )
        by = getattr(user, "display_name", "") or ""
        live_writer.append(
            session.pk, [("steer", {"text": instruction, "by": by, "revision": True})]
        )
        revision = Draft.objects.create(
            team=review.team,
            review=review,
            step=draft.step,
            session=session,
            model=model_for(settings_for(review.team)),
            created_by=user,
            follows=draft,
            evidence=draft.evidence,
            steers=[{"text": instruction, "by": by, "at": 0, "revision": True}],
        )
        live.start(session, draft_step, revision.pk)
    return revision


def steer_refusal(session) -> str:
    """The live layer's gate for a steer to a running draft: each one ends the running turn
    and makes a further model call, paid from the month's budget ("" when it may)."""
    from planning.teams.models import Team

    from .assist import spend_refusal

    return spend_refusal(Team.objects.get(pk=session.team_id), "take this instruction")


def follow_up(session, instruction: str, user) -> live.SteerOutcome:
    """The live layer's hook for a steer sent after a draft's session ended."""
    draft = Draft.objects.select_related("review__team").filter(session=session).first()
    if draft is None:
        raise live.SteerRefused("This generation has ended; it can no longer be steered.")
    try:
        revision = revise(draft, instruction, user)
    except Refused as refused:
        raise live.SteerRefused(str(refused)) from None
    return live.SteerOutcome(follow_up=revision.session, next_url=draft.review.step_url(draft.step))


class NotAvailable(Exception):
    pass


def accept(draft: Draft, user, paragraph: int | None = None) -> StepNote:
    """Append the draft (or one paragraph of it) to the step's notes, marked AI-drafted, and
    record it in the team's history. The notes are never overwritten."""
    if draft.status not in (Draft.Status.READY, Draft.Status.ACCEPTED):
        raise NotAvailable("This draft cannot be accepted.")
    parts = paragraphs_of(draft.text)
    if paragraph is not None:
        if not 0 <= paragraph < len(parts):
            raise NotAvailable("No such paragraph.")
        parts = [parts[paragraph]]
    chosen = "\n\n".join(parts)
    with transaction.atomic():
        note = StepNote.objects.filter(review=draft.review, step=draft.step).first()
        current = note.text if note else ""
        by = getattr(user, "display_name", "") or str(user)
        marked = f"{chosen}\n\n_(AI-drafted with {draft.model}, accepted by {by})_"
        text = f"{current.rstrip()}\n\n{marked}" if current.strip() else marked
        note = review_services.save_step_note(
            draft.review, draft.step, text, note.version if note else 0, user
        )
        Draft.objects.filter(pk=draft.pk).update(
            status=Draft.Status.ACCEPTED,
            accepted_text=(draft.accepted_text + "\n\n" + chosen).strip(),
            decided_by=user,
            decided_at=timezone.now(),
        )
        audit.record(
            draft.team,
            user,
            "review.ai_draft_accepted",
            f"Accepted AI-drafted text ({draft.model}) into step {draft.step} notes of the "
            f"{draft.review.quarter} review"
            + (f" (paragraph {paragraph + 1})" if paragraph is not None else ""),
        )
    return note


def discard(draft: Draft, user) -> None:
    if draft.status == Draft.Status.RUNNING and draft.session_id:
        live.request_cancel(draft.session_id, user)
    Draft.objects.filter(pk=draft.pk).update(
        status=Draft.Status.DISCARDED, decided_by=user, decided_at=timezone.now()
    )
